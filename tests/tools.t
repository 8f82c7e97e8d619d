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

# --version: one format, "PROG (nys) VERSION" (shard-N is shard), but
# nys-train's "nys-train VERSION", which tests/nys-train.t asserts
TOP=${NYS_TOP:-$(dirname "$0")/..}
V=$(cat "$TOP/VERSION")
for p in $progs; do
	case $p in
	nys-train) want="nys-train $V" ;;
	shard-*) want="shard (nys) $V" ;;
	*) want="$p (nys) $V" ;;
	esac
	"$BIN/$p" --version > "$T/out" 2> "$T/err"; st=$?
	is "$st $(cat "$T/out")$(cat "$T/err")" "0 $want" "$p --version: '$want' on stdout"
	# an unknown option: exit 2, getopt's message, the usage and the pointer
	# to --help on stderr, nothing on stdout
	"$BIN/$p" --no-such-option > "$T/out" 2> "$T/err"; st=$?
	[ "$st" = 2 ] && [ ! -s "$T/out" ] && grep -q "unrecognized option '--no-such-option'" "$T/err" &&
		grep -q '^usage: ' "$T/err" && [ "$(tail -1 "$T/err")" = "Try '$p --help' for more information." ]
	ok $? "$p --no-such-option: exit 2, the usage on stderr"
done
for sub in "tokenize train" "tokenize encode" "tokenize decode" "tokenize info" \
	"nys-eval forward" "nys-eval init" "nys-eval hf-config"; do
	set -- $sub
	if [ -x "$BIN/$1" ]; then
		"$BIN/$1" "$2" --version > "$T/out" 2> "$T/err"
		is "$? $(cat "$T/out")$(cat "$T/err")" "0 $1 (nys) $V" "$sub --version: the program's"
		"$BIN/$1" "$2" --no-such-option > "$T/out" 2> "$T/err"; st=$?
		[ "$st" = 2 ] && [ ! -s "$T/out" ] && grep -q "^usage: $1 $2" "$T/err"
		ok $? "$sub --no-such-option: exit 2, the subcommand's usage on stderr"
	else
		skip "$1 not built"
		skip "$1 not built"
	fi
done
# the shared -j N, range-checked once for every program that has it
for cmd in "wikiextract" "tokenize encode -m x"; do
	set -- $cmd
	if [ -x "$BIN/$1" ]; then
		for j in 0 257 x; do
			"$BIN/$@" -j $j > "$T/out" 2> "$T/err"; st=$?
			[ "$st" = 2 ] && [ ! -s "$T/out" ] && grep -q "^$1: -j: " "$T/err" && grep -q '^usage: ' "$T/err"
			ok $? "$cmd -j $j: exit 2, says why, the usage"
		done
	else
		skip "$1 not built"; skip "$1 not built"; skip "$1 not built"
	fi
done
# a command that needs a subcommand: none, or an unknown one
if [ -x "$BIN/nys-eval" ] && [ -x "$BIN/tokenize" ]; then
	for c in "nys-eval|no subcommand (see nys-eval --help)" "tokenize|no command" \
		"nys-eval frob|unknown subcommand 'frob'" "tokenize frob|unknown command 'frob'"; do
		"$BIN/"${c%%|*} > "$T/out" 2> "$T/err"; st=$?
		p=${c%%|*}; p=${p%% *}
		is "$st $(head -1 "$T/err")" "2 $p: ${c#*|}" "${c%%|*}: exit 2, '${c#*|}'"
	done
else
	skip "nys-eval or tokenize not built"; skip "-"; skip "-"; skip "-"
fi

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
