#!/bin/bash
# The package step (pipeline/deps.sh, make deps, the step make check and
# make demo take first: pipeline/setup.mk) against a fake dpkg-query,
# apt-get, id and sudo on a PATH of their own: several missing packages
# reach apt-get as separate arguments (the bug of a list with newlines in
# it, run by sh -c as commands), root or sudo or a clear refusal, one
# update, one retry of a failed install, DEPS=0 runs no apt-get, and a
# make that installed something reads its makefiles again.  Also
# fresh-check.sh's choice of mirror and its refusal without root.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
TOP=$(cd "$TOP" && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL DEPS
export DEPS_PAUSE=0

# the PATH: the fakes first, then links to just the real tools the
# scripts and make need (so no real sudo or apt-get can be reached)
F=$T/fake
R=$T/real
mkdir -p "$F" "$R"
for c in sh bash env awk sleep cat grep mkdir rm make date dirname tr sed touch; do
	p=$(command -v "$c") && ln -s "$p" "$R/$c"
done
FPATH=$F:$R

# dpkg-query -W -f=FMT PKG...: the packages named in $FAKE_DB ("NAME
# STATUS" lines, the last one counts), as dpkg-query prints
# ${Package} ${Status}
cat > "$F/dpkg-query" <<'SH'
#!/bin/sh
printf 'dpkg-query %s\n' "$*" >> "$FAKE_LOG.dpkg"
shift 2
rc=0
for p in "$@"; do
	st=$(awk -v p="$p" '$1 == p { st = $2 } END { print st }' "$FAKE_DB")
	case $st in
	installed) echo "$p install ok installed" ;;
	config-files) echo "$p deinstall ok config-files" ;;
	*) echo "dpkg-query: no packages found matching $p" >&2; rc=1 ;;
	esac
done
exit $rc
SH
# apt-get: one line per call and one line per argument; install adds its
# packages to the database, or fails $FAKE_FAIL times first
cat > "$F/apt-get" <<'SH'
#!/bin/sh
{ echo "CALL apt-get (DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-})"; for a in "$@"; do echo "ARG [$a]"; done; } >> "$FAKE_LOG"
for a in "$@"; do [ "$a" = install ] && inst=1; done
[ -n "${inst:-}" ] || exit 0
n=$(cat "$FAKE_LOG.fails" 2> /dev/null || echo "${FAKE_FAIL:-0}")
if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$FAKE_LOG.fails"; echo "E: fake download failure" >&2; exit 100; fi
for a in "$@"; do case $a in -*|install) ;; *) echo "$a installed" >> "$FAKE_DB" ;; esac; done
SH
cat > "$F/id" <<'SH'
#!/bin/sh
[ "$1" = -u ] && echo "${FAKE_UID:-0}"
SH
chmod +x "$F"/*
sudo_on() { printf '#!/bin/sh\necho "CALL sudo" >> "$FAKE_LOG"\nexec "$@"\n' > "$F/sudo"; chmod +x "$F/sudo"; }
sudo_off() { rm -f "$F/sudo"; }

# fresh STATE...: a new database ("NAME STATUS" words in pairs) and log
fresh() {
	export FAKE_DB=$T/db FAKE_LOG=$T/log
	rm -f "$FAKE_DB" "$FAKE_LOG" "$FAKE_LOG.dpkg" "$FAKE_LOG.fails"
	: > "$FAKE_DB"
	: > "$FAKE_LOG"
	while [ $# -gt 1 ]; do echo "$1 $2" >> "$FAKE_DB"; shift 2; done
}
calls() { grep -c '^CALL apt-get' "$FAKE_LOG"; }
# the arguments of apt-get's install call(s), one a line
install_args() { awk '/^CALL/ { c = 0 } /^ARG \[install\]/ { c = 1; next } c && /^ARG/' "$FAKE_LOG"; }
deps() { PATH=$FPATH "$TOP/pipeline/deps.sh" "$@" > "$T/out" 2> "$T/err"; rc=$?; }
MK=(make --no-print-directory -C "$TOP" O="$T/o")
mk() { PATH=$FPATH "${MK[@]}" "$@" > "$T/out" 2> "$T/err"; rc=$?; }

# ---- deps.sh ------------------------------------------------------------
fresh pa installed pb installed pc installed
deps pa pb pc
is "$rc $(cat "$T/out") $(calls)" "0 deps: all 3 Debian packages present 0" \
	"all installed: says so, no apt-get"
is "$(wc -l < "$FAKE_LOG.dpkg")" 1 "... with one dpkg-query for all of them"

fresh pb installed pd config-files
deps pa pb pc pd libzstd-dev
is "$rc" 0 "three missing (one known only by its config files): exit 0"
is "$(install_args | tr '\n' ' ')" "ARG [-y] ARG [-qq] ARG [--no-install-recommends] ARG [pa] ARG [pc] ARG [pd] ARG [libzstd-dev] " \
	"... apt-get install gets each missing package as an argument of its own"
is "$(grep -c '^ARG \[update\]' "$FAKE_LOG") $(calls)" "1 2" "... after one apt-get update"
grep -q 'CALL apt-get (DEBIAN_FRONTEND=noninteractive)' "$FAKE_LOG"
ok $? "... non-interactively"
grep -q 'CALL sudo' "$FAKE_LOG"
[ $? -ne 0 ]; ok $? "... and as root without sudo"
deps pa pb pc pd libzstd-dev
is "$rc $(calls)" "0 2" "a second run finds them installed"

fresh
FAKE_UID=1000 sudo_on
FAKE_UID=1000 deps pa pb
is "$rc $(grep -c 'CALL sudo' "$FAKE_LOG") $(install_args | tr '\n' ' ')" \
	"0 2 ARG [-y] ARG [-qq] ARG [--no-install-recommends] ARG [pa] ARG [pb] " \
	"not root: apt-get through sudo"
sudo_off
fresh
FAKE_UID=1000 deps pa pb
is "$rc $(calls)" "1 0" "not root and no sudo: exit 1, no apt-get"
grep -q 'not root and no sudo' "$T/err" && grep -q 'missing packages: pa pb' "$T/err" && grep -q 'DEPS=0' "$T/err"
ok $? "... saying so, naming the packages and DEPS=0"

fresh
FAKE_FAIL=1 deps pa pb
is "$rc $(grep -c '^ARG \[update\]' "$FAKE_LOG") $(grep -c '^ARG \[install\]' "$FAKE_LOG")" "0 2 2" \
	"a failed install: lists updated again, installed again, exit 0"
grep -q 'ARG \[--fix-missing\]' "$FAKE_LOG" && grep -q 'trying once more' "$T/err"
ok $? "... the retry with --fix-missing, said on stderr"
fresh
FAKE_FAIL=2 deps pa pb
is "$rc $(grep -c '^ARG \[install\]' "$FAKE_LOG")" "1 2" "failing twice: exit 1 after one retry"
grep -q 'apt-get install failed for: pa pb' "$T/err"
ok $? "... naming the packages"

fresh
deps -n pa pb
is "$rc $(cat "$T/out") $(calls)" "0 deps: installing 2: pa pb 0" "-n: only says what it would install"
DEPS=0 deps pa pb
is "$rc $(cat "$T/out") $(calls)" "0 deps: DEPS=0: package step skipped 0" "DEPS=0: no apt-get"
deps
is "$rc" 2 "no package named: usage, exit 2"
mv "$F/dpkg-query" "$F/dpkg-query.off"
deps pa
mv "$F/dpkg-query.off" "$F/dpkg-query"
is "$rc $(calls)" "1 0" "no dpkg-query (not Debian): exit 1"
grep -q 'not a Debian or Ubuntu system' "$T/err"
ok $? "... saying so"

# ---- through make -----------------------------------------------------------
fresh pb installed
mk deps DEB_PKGS="pa pb pc"
is "$rc $(install_args | tr '\n' ' ')" "0 ARG [-y] ARG [-qq] ARG [--no-install-recommends] ARG [pa] ARG [pc] " \
	"make deps: two missing reach apt-get as two arguments"
fresh
mk deps DEB_PKGS="pa pb" DEPS=0
is "$rc $(calls)" "0 0" "make deps DEPS=0: no apt-get"
fresh
mk fuzz-deps FUZZ_DEB_PKGS="clang libclang-rt-dev"
is "$rc $(install_args | tr '\n' ' ')" "0 ARG [-y] ARG [-qq] ARG [--no-install-recommends] ARG [clang] ARG [libclang-rt-dev] " \
	"make fuzz-deps installs clang the same way"

# the step before check and demo: at parse time; when it installed
# something make reads its makefiles again (MAKE_RESTARTS), and the make
# after it (and what it runs) has DEPS=0
cat > "$T/probe.mk" <<'MK'
$(info probe: restarts=$(MAKE_RESTARTS) DEPS=$(DEPS))
probe-env: ; @echo "probe: env DEPS=$$DEPS"
MK
MKP=(-f GNUmakefile -f "$T/probe.mk")
fresh pb installed
mk "${MKP[@]}" deps-auto probe-env DEB_PKGS="pa pb pc"
is "$rc $(install_args | tr '\n' ' ')" "0 ARG [-y] ARG [-qq] ARG [--no-install-recommends] ARG [pa] ARG [pc] " \
	"make deps-auto (check's and demo's first step): installs what is missing"
is "$(grep '^probe:' "$T/out" | tr '\n' ' ')" "probe: restarts= DEPS=0 probe: restarts=1 DEPS=0 probe: env DEPS=0 " \
	"... then make reads its makefiles again, and passes DEPS=0 on"
mk "${MKP[@]}" deps-auto DEB_PKGS="pa pb pc"
is "$rc $(calls) $(grep '^probe:' "$T/out" | tr '\n' ' ')" "0 2 probe: restarts= DEPS=0 " \
	"all installed: one dpkg-query, no second reading"
fresh
mk -n check DEB_PKGS="pa pb"
is "$(calls)" 0 "make -n check installs nothing"
mk -q deps-auto DEB_PKGS="pa pb"
is "$(calls)" 0 "... nor make -q"
mk deps-auto DEB_PKGS="pa pb" DEPS=0
is "$rc $(calls)" "0 0" "make deps-auto DEPS=0: no apt-get"
mk "${MKP[@]}" probe-env DEB_PKGS="pa pb"
is "$(calls) $(grep -c 'env DEPS=0' "$T/out")" "0 0" "other goals (make, make install) install nothing"
FAKE_UID=1000 mk deps-auto DEB_PKGS="pa pb"
is "$rc $(calls)" "2 0" "make check with packages it cannot install: stops before building"
grep -q 'package step failed' "$T/err"
ok $? "... saying why"

# ---- fresh-check.sh -----------------------------------------------------------
A=$T/apt
mkdir -p "$A/sources.list.d"
cat > "$A/sources.list.d/debian.sources" <<'EOF'
Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src deb
URIs: http://mirror.example/debian http://other.example/debian
Suites: bookworm bookworm-updates
Components: main
EOF
is "$(FRESH_APT_ETC=$A "$TOP/pipeline/fresh-check.sh" --mirror)" http://mirror.example/debian \
	"fresh-check: the mirror of the deb822 entry for bookworm itself"
rm "$A/sources.list.d/debian.sources"
printf '%s\n' '# deb http://old.example/debian bookworm main' \
	'deb http://security.example/debian-security bookworm-security main' \
	'deb [arch=amd64 signed-by=/k.gpg] http://line.example/debian bookworm main contrib' > "$A/sources.list"
is "$(FRESH_APT_ETC=$A "$TOP/pipeline/fresh-check.sh" --mirror)" http://line.example/debian \
	"... or of the one-line entry (options skipped)"
rm "$A/sources.list"
is "$(FRESH_APT_ETC=$A "$TOP/pipeline/fresh-check.sh" --mirror)" http://deb.debian.org/debian \
	"... or deb.debian.org"
FAKE_UID=1000 PATH=$FPATH "$TOP/pipeline/fresh-check.sh" > "$T/out" 2> "$T/err"
is "$? $(grep -c 'needs root' "$T/err")" "1 1" "fresh-check without root: exit 1, says it needs root"
done_testing
