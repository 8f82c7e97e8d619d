#!/bin/bash
# make fresh-check: the README's two commands on a machine with nothing
# installed, a check that a CI machine with every package already there
# cannot fake.  It builds a minimal Debian 12 root file system
# (debootstrap --variant=minbase, from the mirror this machine's apt uses) in
# a temporary directory, puts a clean clone of the repository's HEAD in it
# (committed work only) with the shared test data read-only beside it
# (../shared/data, where the tests look), and in a chroot runs what a
# newcomer runs: the one prerequisite line (apt-get install make), then
# `make demo` and `make check`.  Anything missing on a fresh system fails it.
#
# Root only (debootstrap, chroot, mounts).  Everything runs in a mount
# namespace of its own, so no mount it made outlives it, and a trap
# unmounts them and removes the directory on exit or interrupt.  A budget
# (FRESH_BUDGET seconds, 2100) bounds the whole run; a failed package
# download is retried once.  It prints the time of each stage at the end.
#
# Environment: FRESH_BUDGET (s), FRESH_MIRROR (default: from
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), FRESH_SUITE
# (bookworm), FRESH_SHARED (the shared data; none: the tests that need it
# skip), FRESH_TMP (where the root goes: /var/tmp), FRESH_LOG (a copy of
# the output with each line's time: build/fresh-check.log, and
# FRESH_LOG.debootstrap debootstrap's), FRESH_APT_ETC (/etc/apt, for the mirror), FRESH_KEEP=1
# (keep the root for a look; mounts still go), FRESH_DEMO=auto|1|0 (auto: run make demo only where the target exists).
# `fresh-check.sh --mirror` prints the mirror it would use and exits.
set -u
# The whole script is one block, read in full before it runs, so that
# editing the file while a run takes its half hour cannot change that run.
{
prog=fresh-check
top=$(cd "$(dirname "$0")/.." && pwd)
budget=${FRESH_BUDGET:-2100}
suite=${FRESH_SUITE:-bookworm}
demo=${FRESH_DEMO:-auto}
apt_etc=${FRESH_APT_ETC:-/etc/apt}
flog=${FRESH_LOG:-$top/build/fresh-check.log}

die() {
	echo "$prog: $*" >&2
	exit 1
}

# The mirror apt uses here: the first deb URI serving $suite itself (not
# -updates or -security), deb822 files first, then the one-line format.
mirror() {
	local f uri
	for f in "$apt_etc"/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk -v suite="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "")
					{ split(uris, u, " "); print u[1]; found = 1; exit }
				types = suites = uris = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:"  { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:"   { $1 = ""; uris = $0 }
			END { if (!found) flush() }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in "$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk -v suite="$suite" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) {	# [options], perhaps with blanks inside
					while (i < NF && $i !~ /\]$/) i++
					i++
				}
				if ($(i + 1) == suite) { print $i; exit }
			}' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	echo http://deb.debian.org/debian
}
# --mirror: only say which mirror it would use
if [ "${1:-}" = --mirror ]; then
	mirror
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	die "needs root (debootstrap, chroot and mounts); try: sudo make fresh-check"
fi
for c in debootstrap chroot unshare mount umount git timeout; do
	command -v "$c" > /dev/null || die "$c not found (apt-get install debootstrap)"
done

# A mount namespace of our own: the mounts vanish with this process even
# when it is killed outright.
if [ -z "${NYS_FRESH_NS:-}" ]; then
	NYS_FRESH_T0=$(date +%s)
	export NYS_FRESH_NS=1 NYS_FRESH_T0
	exec unshare --mount --propagation private "$0" "$@"
fi
t0=$NYS_FRESH_T0

left() { # seconds of the budget left (at least 1: timeout's argument)
	local n=$((budget - ($(date +%s) - t0)))
	echo $((n > 0 ? n : 1))
}

MIRROR=${FRESH_MIRROR:-$(mirror)}

tmp=$(mktemp -d "${FRESH_TMP:-/var/tmp}/nys-fresh.XXXXXX") || die "cannot make a temporary directory"
root=$tmp/root

bg=	# the timeout process of the stage that runs (debootstrap, the chroot)

# The processes whose root is our root: the newcomer's session and what
# debootstrap runs in it (and nothing else of this machine).
killroot() { # SIGNAL
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2> /dev/null) || continue
		[ "$r" = "$root" ] && kill "-$1" "${p#/proc/}" 2> /dev/null
	done
}

cleanup() {
	local st=$? m
	trap - EXIT INT TERM HUP
	if [ -n "$bg" ]; then
		kill -TERM "$bg" 2> /dev/null
		killroot TERM
		sleep 2
		killroot KILL
		wait 2> /dev/null
	fi
	# every mount under the directory, ours and those debootstrap made,
	# innermost first
	for m in $(awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null ||
			echo "$prog: could not unmount $m" >&2
	done
	# never remove a tree something is still mounted in
	if grep -qF " $tmp/" /proc/self/mountinfo; then
		echo "$prog: something is still mounted under $tmp: left in place" >&2
	elif [ "${FRESH_KEEP:-0}" = 1 ]; then
		echo "$prog: root kept in $root"
	else
		rm -rf --one-file-system "$tmp"
	fi
	exit "$st"
}
trap cleanup EXIT
trap 'echo "$prog: interrupted" >&2; exit 130' INT TERM HUP
trap '' PIPE	# a reader gone is an error to see, not the end of the cleanup

domount() { # MOUNTPOINT MOUNT-ARGS...
	local mp=$1
	shift
	mkdir -p "$mp"
	mount "$@" "$mp" || die "mount $* $mp failed"
}

# A stage runs in the background and the script waits for it, so that a
# signal is handled at once (bash runs traps only between commands).
# The output goes to a file given apart: a redirection of the call would
# hold in this shell too, and the trap would write there.
stage() { # OUTPUT COMMAND...: run it under the rest of the budget; its status
	local out=$1
	shift
	timeout -k 30 "$(left)" "$@" > "$out" 2>&1 &
	bg=$!
	wait "$bg"
	local st=$?
	bg=
	return $st
}

stamp() { date +%s; }
t_boot0=$(stamp)

echo "$prog: debootstrap --variant=minbase $suite from $MIRROR into $root (budget ${budget} s)"
boot() {
	rm -rf --one-file-system "$root"
	mkdir -p "$root"
	stage "$tmp/debootstrap.log" debootstrap --variant=minbase "$suite" "$root" "$MIRROR"
}
if ! boot; then
	tail -n 5 "$tmp/debootstrap.log" >&2
	mkdir -p "$(dirname "$flog")" && cp "$tmp/debootstrap.log" "$flog.debootstrap"
	[ "$(left)" -gt 60 ] || die "debootstrap failed and the budget is spent"
	echo "$prog: debootstrap failed; trying once more" >&2
	sleep 5
	boot || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed twice"; }
fi
t_boot=$(($(stamp) - t_boot0))

# the clean clone: HEAD as committed, as a newcomer's git clone has it,
# in the newcomer's home inside the root (in_home: that home as the root
# sees it)
in_home=/root
home=$root$in_home
rev=$(git -C "$top" rev-parse HEAD) || die "$top is not a git checkout"
git clone -q --no-hardlinks "$top" "$home/nys" || die "git clone failed"
git -C "$home/nys" checkout -q --detach "$rev" || die "cannot check out $rev"
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no 2> /dev/null)" ]; then
	echo "$prog: note: uncommitted changes in $top are not in the clone (HEAD $rev)"
fi

# the shared data, read-only where the tests look for it
if [ -n "${FRESH_SHARED:-}" ] && [ -d "$FRESH_SHARED" ]; then
	domount "$home/shared/data" --bind "$FRESH_SHARED"
	mount -o remount,bind,ro "$home/shared/data" || die "cannot make the shared data read-only"
	echo "$prog: shared data: $FRESH_SHARED (read-only) at ../shared/data"
else
	echo "$prog: no shared data (FRESH_SHARED): the tests that need it skip"
fi

# what a running system has: proc, sys, devices (ptys for script(1),
# /dev/full for the tests), a tmpfs /dev/shm; the name server
domount "$root/proc" -t proc proc
domount "$root/sys" -t sysfs sysfs
domount "$root/dev" --bind /dev
domount "$root/dev/pts" --bind /dev/pts
domount "$root/dev/shm" -t tmpfs tmpfs
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2> /dev/null || true

# The newcomer's session: the one prerequisite line, then the README's
# two commands.  Each stage prints a marker line the times are taken from.
cat > "$home/newcomer.sh" <<'SH'
#!/bin/bash
set -u
cd "$1" || exit 1
mark() { echo "@@fresh $1 $(date +%s)"; }
mark prereq
if ! apt-get update -qq || ! apt-get install -y -qq make; then
	echo "fresh-check: apt-get install make failed; trying once more"
	sleep 5
	apt-get update -qq && apt-get install -y -qq --fix-missing make || exit 1
fi
command -v nvcc > /dev/null && echo "fresh-check: nvcc is here (not a fresh root?)"
case $FRESH_DEMO in
auto)
	if make -n demo > /dev/null 2>&1; then FRESH_DEMO=1
	else echo "fresh-check: no demo target yet (make -n demo fails): make demo not run"; FRESH_DEMO=0; fi ;;
esac
if [ "$FRESH_DEMO" = 1 ]; then
	mark demo
	make demo || { echo "fresh-check: make demo failed"; exit 1; }
fi
mark check
make check || { echo "fresh-check: make check failed"; exit 1; }
mark end
SH
chmod +x "$home/newcomer.sh"

echo "$prog: in the chroot: apt-get install -y make; make demo; make check ($(left) s of the budget left)"
log=$tmp/newcomer.log
# the output as it comes, and a copy in which each line has its time
mkfifo "$tmp/out" || die "mkfifo failed"
while IFS= read -r line; do
	printf '%s\n' "$line"
	printf '%(%s)T %s\n' -1 "$line" >> "$log"
done < "$tmp/out" &
reader=$!
stage "$tmp/out" chroot "$root" /usr/bin/env -i \
	HOME="$in_home" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	TERM=dumb DEBIAN_FRONTEND=noninteractive FRESH_DEMO="$demo" \
	/bin/bash "$in_home/newcomer.sh" "$in_home/nys"
st=$?
wait "$reader"
t_end=$(stamp)
mkdir -p "$(dirname "$flog")" && cp "$log" "$flog" && cp "$tmp/debootstrap.log" "$flog.debootstrap"

# The times, from the stamped lines: debootstrap; packages (the
# prerequisite line and the package step of the first make, to
# "deps: installed"); build (to the last compiler or linker line); the
# demo's run; make check's own build and its tests (from prove's line).
awk -v boot="$t_boot" -v all=$((t_end - t0)) '
	$2 == "@@fresh" { at[$3] = $4; stage = $3; next }
	$2 == "deps:" && $3 == "installed" && !dep { dep = $1 }
	$2 ~ /^(cc|gcc|g\+\+|c\+\+|ar|ln|nvcc)$/ { built[stage] = $1 }
	/prove -j/ && !prove { prove = $1 }
	{ last = $1 }
	END {
		from = dep ? dep : at["prereq"]
		printf "fresh-check: times: debootstrap %d s, packages %d s", boot, from - at["prereq"]
		if (at["demo"]) {
			b = built["demo"] ? built["demo"] : from
			printf ", build %d s, demo %d s", b - from, at["check"] - b
			from = at["check"]
		}
		if (prove)
			printf ", %s %d s, tests %d s", at["demo"] ? "check build" : "build", prove - from, (at["end"] ? at["end"] : last) - prove
		printf "; all %d s\n", all
	}' "$log" || true
# what the build said about CUDA (there is none in a fresh root)
grep -m 1 -i 'cuda' "$log" | sed 's/^[0-9]* /fresh-check: the build said: /'

if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
	die "the budget of ${budget} s ran out"
fi
[ "$st" -eq 0 ] || die "failed (exit $st): above; the whole log: $flog"
echo "$prog: passed: a fresh Debian $suite root ran the README's commands"
exit 0
}
