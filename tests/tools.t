#!/bin/bash
# What every program shares: --help and --version that cannot be written
# (a full disk) are an error with a message, never a silent exit 1; -o
# naming a directory where a file is written is an error naming it.
. "$(dirname "$0")/lib.sh"

progs=$(cd "$BIN" && for p in *; do [ -f "$p" ] && [ -x "$p" ] && echo "$p"; done)
if [ -z "$progs" ]; then
	echo "1..0 # SKIP no programs in $BIN"
	exit 0
fi
if [ ! -w /dev/full ]; then
	echo "1..0 # SKIP no /dev/full"
	exit 0
fi

check_full() { # DESC PROG ARGS...: exit 1, "PROG: write (stdout): No space left on device"
	local desc=$1 prog=$2
	shift 2
	"$BIN/$prog" "$@" > /dev/full 2> "$T/err"
	local st=$?
	is "$st $(head -1 "$T/err")" "1 $prog: write (stdout): No space left on device" "$desc > /dev/full: exit 1, says why"
}

for p in $progs; do
	check_full "$p --help" "$p" --help
	check_full "$p --version" "$p" --version
	"$BIN/$p" --help > /dev/null 2> "$T/err"; st=$?
	[ "$st" = 0 ] && [ ! -s "$T/err" ]; ok $? "$p --help to a working stdout: exit 0, nothing on stderr"
done

# the subcommands' own --help
for sub in "tokenize train" "tokenize encode" "tokenize decode" "tokenize info" \
	"shard cat" "shard info" "shard verify" "nys-eval forward" "nys-eval init" "nys-eval hf-config"; do
	set -- $sub
	if [ -x "$BIN/$1" ]; then
		check_full "$sub --help" "$1" "$2" --help
	else
		skip "$1 not built"
	fi
done

# -o DIR where a file is written
TOP=${NYS_TOP:-$(dirname "$0")/..}
mkdir "$T/adir"
if [ -x "$BIN/nys-eval" ] && [ -f "$TOP/pipeline/configs/tiny-nystrom/config.json" ]; then
	"$BIN/nys-eval" hf-config --config "$TOP/pipeline/configs/tiny-nystrom/config.json" -o "$T/adir" 2> "$T/err"
	is "$? $(cat "$T/err")" "1 nys-eval: $T/adir: is a directory" "nys-eval hf-config -o DIR: exit 1, names it"
else
	skip "nys-eval or the tiny config missing"
fi
M=${SHARED:+$SHARED/spm/sentencepiece-test-1k.model}
if [ -x "$BIN/tokenize" ] && [ -n "$M" ] && [ -f "$M" ]; then
	"$BIN/tokenize" encode -m "$M" -o "$T/adir" /dev/null 2> "$T/err"
	is "$? $(cat "$T/err")" "1 tokenize: $T/adir: is a directory" "tokenize encode -o DIR: exit 1, names it"
else
	skip "tokenize or the shared model missing"
fi
is "$(ls -A "$T" | grep -c tmp)" 0 "-o DIR: no temporary file beside it"

done_testing
