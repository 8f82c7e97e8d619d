#!/bin/bash
# The libFuzzer targets (tests/fuzz/NAME_fuzz.c) replayed without libFuzzer:
# every committed seed (tests/fuzz/seeds/NAME) and every input that once
# broke a parser (tests/fuzz/crashes/NAME) goes through the real parser
# once, under the sanitizers in a SAN=1 build.  One line per target.
. "$(dirname "$0")/lib.sh"
TOP=${NYS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
TESTBIN=${NYS_TESTBIN:?NYS_TESTBIN must name the unit-test directory}
# As the replay driver's address-space limit, for AddressSanitizer builds.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=256:allocator_may_return_null=1"

targets=0
for src in "$TOP"/tests/fuzz/*_fuzz.c; do
	t=$(basename "$src" _fuzz.c)
	targets=$((targets + 1))
	files=()
	for f in "$TOP/tests/fuzz/seeds/$t"/* "$TOP/tests/fuzz/crashes/$t"/*; do
		[ -f "$f" ] && files+=("$f")
	done
	nseeds=$(find "$TOP/tests/fuzz/seeds/$t" -maxdepth 1 -type f 2>/dev/null | wc -l)
	if [ "$nseeds" -eq 0 ]; then
		ok 1 "fuzz-$t: no seeds in tests/fuzz/seeds/$t"
		continue
	fi
	run_cmd "$TESTBIN/fuzz-$t" "${files[@]}"
	last=$(tail -n 1 "$T/out")
	if [ "$rc" -eq 0 ] && [ "$last" = "replayed ${#files[@]} inputs" ]; then
		ok 0 "fuzz-$t: ${#files[@]} inputs replayed"
	else
		ok 1 "fuzz-$t: ${#files[@]} inputs replayed"
		echo "#   exit $rc, last line: $last"
		sed 's/^/#   /' "$T/err" | tail -n 20
	fi
done
is "$((targets >= 8))" 1 "every parser has a target ($targets)"

done_testing
