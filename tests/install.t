#!/bin/bash
# make install / make uninstall (pipeline/setup.mk) into a DESTDIR: every
# program and man page lands under PREFIX, the installed programs run
# (--version), shard-512 and shard-4096 are shard under their names (and
# their pages shard's), and uninstall removes every file install made.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
# a make of its own, not the one running the tests; the build it installs
# from is the one under test (SAN=1's when the programs are build-san's)
unset MAKEFLAGS MFLAGS MAKELEVEL
MK=(make --no-print-directory -C "$TOP" DEPS=0)
case $BIN in */build-san/bin) MK+=(SAN=1) ;; esac
D=$T/stage
P=/opt/nys

# the build must be complete (make check made it): install builds nothing
if ! "${MK[@]}" -q all 2> /dev/null; then
	echo "1..0 # SKIP the build is not up to date (run from make check)"
	exit 0
fi

"${MK[@]}" install DESTDIR="$D" PREFIX=$P > "$T/out" 2>&1
ok $? "make install DESTDIR=... PREFIX=$P"
grep -E '^(cc|g\+\+|ar) ' "$T/out" > /dev/null
[ $? -ne 0 ]; ok $? "... compiles nothing"

progs=$(cd "$BIN" && for p in *; do [ -f "$p" ] && [ -x "$p" ] && echo "$p"; done)
missing=
bad=
V=$(cat "$TOP/VERSION")
for p in $progs; do
	f=$D$P/bin/$p
	if [ ! -x "$f" ]; then
		missing="$missing $p"
		continue
	fi
	"$f" --version 2> /dev/null | grep -qF "$V" || bad="$bad $p"
done
is "$missing" "" "every program of $BIN is in PREFIX/bin"
is "$bad" "" "each installed program runs: --version says $V"
is "$(readlink "$D$P/bin/shard-512") $(readlink "$D$P/bin/shard-4096")" "shard shard" \
	"shard-512 and shard-4096 are links to shard"
"$D$P/bin/shard-512" --help 2>&1 | grep -q 'shard-N'
ok $? "... and run as shard"

cmp "$TOP/man/man1/shard.1" "$D$P/share/man/man1/shard.1"
ok $? "man1 pages installed as they are"
missing=
for m in "$TOP"/man/man1/*.1 "$TOP"/man/man5/*.5; do
	s=${m##*/man/}
	[ -f "$D$P/share/man/$s" ] || missing="$missing $s"
done
is "$missing" "" "every page of man/man1 and man/man5 is in PREFIX/share/man"
is "$(readlink "$D$P/share/man/man1/shard-512.1")" shard.1 "shard-512.1 is shard's page"
[ "$(stat -c %a "$D$P/share/man/man5/nys-shard.5")" = 644 ] && [ "$(stat -c %a "$D$P/bin/shard")" = 755 ]
ok $? "pages 644, programs 755"
if command -v man > /dev/null; then
	MANPATH=$D$P/share/man man -w nys-shard 2> /dev/null | grep -q "nys-shard.5"
	ok $? "man finds the installed pages (MANPATH)"
else
	skip "man is not installed (man-db)"
fi

# a file of someone else's in the same directories stays
echo mine > "$D$P/bin/other-tool"
"${MK[@]}" uninstall DESTDIR="$D" PREFIX=$P > "$T/out" 2>&1
ok $? "make uninstall"
is "$(cd "$D" && find . ! -type d | sort | tr '\n' ' ')" "./opt/nys/bin/other-tool " \
	"uninstall removes every file install made, and no other"
"${MK[@]}" uninstall DESTDIR="$D" PREFIX=$P > "$T/out" 2>&1
ok $? "make uninstall of nothing installed succeeds"

# PREFIX's default and BINDIR/MANDIR
"${MK[@]}" -n install DESTDIR="$D" > "$T/out" 2>&1
grep -qF "$D/usr/local/bin" "$T/out" && grep -qF "$D/usr/local/share/man/man1" "$T/out"
ok $? "PREFIX defaults to /usr/local"
"${MK[@]}" install DESTDIR="$D" BINDIR=/b MANDIR=/m > /dev/null 2>&1
[ -x "$D/b/nys-train" ] && [ -f "$D/m/man1/nys-train.1" ]
ok $? "BINDIR and MANDIR move them"
done_testing
