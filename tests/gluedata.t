#!/bin/bash
# GLUE's files as nys-eval glue reads them (nys_glue.h), through the unit
# test program's dump, encode and predict modes: every split of the real
# tasks in ../shared/data/glue and of the layouts in glue-excerpts (and
# tests/data/glue for AX) read row for row as awk reads the same files
# (counts, indices, labels, texts; the BOM and the missing final newline),
# damaged copies refused with file and line, pairs encoded as spm_encode
# encodes each side (then longest-first truncation done here in awk), and
# the prediction files in GLUE's layout.  TAP.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
G=${NYS_TESTBIN:?}/glue

if [ ! -x "$G" ]; then
	echo "1..0 # SKIP $G not built"
	exit 0
fi
if ! have_shared || [ ! -d "$SHARED/glue" ]; then
	echo "1..0 # SKIP no shared GLUE data (NYS_SHARED)"
	exit 0
fi

# expect FILE HEADER INDEX A B LABEL LABELS: what `glue dump` must print,
# made by awk from the file: columns from 1 (0: none), LABELS the label
# strings in id order, comma-separated, or "score"; no CSV quoting.
expect() {
	awk -F'\t' -v hdr="$2" -v ci="$3" -v ca="$4" -v cb="$5" -v cl="$6" -v labels="$7" '
	BEGIN { n = split(labels, L, ","); for (i = 1; i <= n; i++) id[L[i]] = i - 1 }
	NR == 1 { sub(/^\xef\xbb\xbf/, "") }
	$0 == "" { next }
	hdr && !seen { seen = 1; next }
	{
		idx = ci ? $ci : row + 0
		row++
		if (!cl) lab = -1
		else if (labels == "score") lab = sprintf("%.17g", $cl)
		else lab = id[$cl]
		printf "%s\t%s\t%s\t%s\n", idx, lab, $ca, cb ? $cb : "-"
	}' "$1"
}

# data rows of a file, counted apart from the above: lines (the last one
# without a newline too) less the header
rows() { # FILE HEADER
	echo $(($(awk 'END { print NR }' "$1") - $2))
}

# check FILE TASK SPLIT HEADER INDEX A B LABEL LABELS
check() {
	local f=$1 task=$2 split=$3 name
	name="$task $split ($(basename "$(dirname "$f")")/$(basename "$f"))"
	if ! "$G" dump "$f" "$task" "$split" >"$T/got" 2>"$T/err"; then
		ok 1 "$name reads"
		sed 's/^/#   /' "$T/err"
		return
	fi
	is "$(wc -l <"$T/got")" "$(rows "$f" "$4")" "$name: every data row"
	expect "$f" "$4" "$5" "$6" "$7" "$8" "$9" >"$T/want"
	cmp -s "$T/got" "$T/want"
	ok $? "$name: indices, labels and texts as awk reads them"
}

B01=0,1
NLI2=entailment,not_entailment
NLI3=entailment,neutral,contradiction
R=$SHARED/glue
X=$SHARED/glue-excerpts

# ---- the real tasks -----------------------------------------------------------

check "$R/CoLA/train.tsv" CoLA train 0 0 4 0 2 $B01
check "$R/CoLA/dev.tsv" CoLA dev 0 0 4 0 2 $B01
check "$R/CoLA/test.tsv" CoLA test 1 1 2 0 0 -
check "$R/SST-2/train.tsv" SST-2 train 1 0 1 0 2 $B01
check "$R/SST-2/dev.tsv" SST-2 dev 1 0 1 0 2 $B01
check "$R/SST-2/test.tsv" SST-2 test 1 1 2 0 0 -
check "$R/MRPC/train.tsv" MRPC train 1 0 4 5 1 $B01
check "$R/MRPC/dev.tsv" MRPC dev 1 0 4 5 1 $B01
check "$R/MRPC/test.tsv" MRPC test 1 1 4 5 0 -
for t in RTE WNLI; do
	L=$NLI2
	[ $t = WNLI ] && L=$B01
	check "$R/$t/train.tsv" $t train 1 1 2 3 4 $L
	check "$R/$t/dev.tsv" $t dev 1 1 2 3 4 $L
	check "$R/$t/test.tsv" $t test 1 1 2 3 0 -
done
# the quirks, seen in the files themselves
[ "$(head -c 3 "$R/MRPC/dev.tsv" | od -An -tx1 | tr -d ' ')" = efbbbf ]
ok $? "MRPC dev starts with a BOM (read above)"
[ -n "$(tail -c 1 "$R/CoLA/dev.tsv")" ]
ok $? "CoLA dev has no final newline (its last row read above)"
"$G" dump "$R/CoLA/dev.tsv" CoLA dev | tail -n 1 | grep -q 'himself\.	-$'
ok $? "CoLA dev's last row whole"

# ---- the layouts of the others ------------------------------------------------

check "$X/MNLI/train.tsv" MNLI train 1 1 9 10 12 $NLI3
check "$X/MNLI/dev_matched.tsv" MNLI dev_matched 1 1 9 10 16 $NLI3
check "$X/MNLI/dev_mismatched.tsv" MNLI dev_mismatched 1 1 9 10 16 $NLI3
check "$X/MNLI/test_matched.tsv" MNLI test_matched 1 1 9 10 0 -
check "$X/MNLI/test_mismatched.tsv" MNLI test_mismatched 1 1 9 10 0 -
check "$X/QNLI/train.tsv" QNLI train 1 1 2 3 4 $NLI2
check "$X/QNLI/dev.tsv" QNLI dev 1 1 2 3 4 $NLI2
check "$X/QNLI/test.tsv" QNLI test 1 1 2 3 0 -
check "$X/QQP/train.tsv" QQP train 1 1 4 5 6 $B01
check "$X/QQP/dev.tsv" QQP dev 1 1 4 5 6 $B01
check "$X/QQP/test.tsv" QQP test 1 1 2 3 0 -
check "$X/STS-B/train.tsv" STS-B train 1 1 8 9 10 score
check "$X/STS-B/dev.tsv" STS-B dev 1 1 8 9 10 score
check "$X/STS-B/test.tsv" STS-B test 1 1 8 9 0 -
check "$TOP/tests/data/glue/diagnostic/diagnostic.tsv" AX test 1 1 2 3 0 -

# ---- damaged files ------------------------------------------------------------

# refused FILE TASK SPLIT WANT DESC: dump fails with exactly that message
refused() {
	"$G" dump "$1" "$2" "$3" >/dev/null 2>"$T/err"
	local r=$?
	is "$r:$(cat "$T/err")" "1:glue: $4" "$5"
}
awk -F'\t' -v OFS='\t' 'NR == 5 { NF = 3 } 1' "$R/RTE/dev.tsv" >"$T/cols.tsv"
refused "$T/cols.tsv" RTE dev "$T/cols.tsv:5: 3 columns, RTE's dev rows have 4" \
	"RTE dev with a column missing in line 5"
awk -F'\t' -v OFS='\t' 'NR == 7 { $3 = $3 "\textra" } 1' "$R/CoLA/train.tsv" >"$T/cols2.tsv"
refused "$T/cols2.tsv" CoLA train "$T/cols2.tsv:7: 5 columns, CoLA's train rows have 4" \
	"CoLA train with a column too many in line 7"
awk -F'\t' -v OFS='\t' 'NR == 9 { $4 = "maybe" } 1' "$R/RTE/train.tsv" >"$T/label.tsv"
refused "$T/label.tsv" RTE train \
	"$T/label.tsv:9: label 'maybe' is not one of RTE's (entailment, not_entailment)" \
	"RTE train with a label outside the set"
awk -F'\t' -v OFS='\t' 'NR == 3 { $1 = "2" } 1' "$R/MRPC/dev.tsv" >"$T/label2.tsv"
refused "$T/label2.tsv" MRPC dev "$T/label2.tsv:3: label '2' is not one of MRPC's (0, 1)" \
	"MRPC dev (with its BOM) with a label 2"
awk -F'\t' -v OFS='\t' 'NR == 3 { $10 = "n/a" } 1' "$X/STS-B/dev.tsv" >"$T/score.tsv"
refused "$T/score.tsv" STS-B dev "$T/score.tsv:3: score 'n/a' is not a number" \
	"STS-B with a score that is not a number"
"$G" dump "$R/RTE/dev.tsv" SQuAD dev >/dev/null 2>"$T/err"
grep -q "unknown GLUE task 'SQuAD' (tasks: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, AX)" "$T/err"
ok $? "an unknown task, the tasks listed"
# CRLF line ends read as LF ones
sed 's/$/\r/' "$R/WNLI/dev.tsv" >"$T/crlf.tsv"
"$G" dump "$T/crlf.tsv" WNLI dev >"$T/a" && "$G" dump "$R/WNLI/dev.tsv" WNLI dev >"$T/b" &&
	cmp -s "$T/a" "$T/b"
ok $? "CRLF line ends read as LF ones"

# ---- pairs to ids against spm_encode ------------------------------------------

M=$SHARED/spm/albert-layout-30k-de.model
# want_ids FILE ACOL BCOL MAXLEN LOWER: [CLS] a [SEP] (b [SEP]), each side
# through spm_encode, cut longest first (ties off b) one token at a time
want_ids() {
	local f=$1 ca=$2 cb=$3 max=$4 lower=$5 low=cat
	[ "$lower" = 1 ] && low="$NYS_TESTBIN/spm lower"
	awk -F'\t' 'NR > 1' "$f" | cut -f"$ca" | $low | spm_encode --model "$M" --output_format=id >"$T/ia"
	if [ "$cb" = 0 ]; then
		sed 's/.*//' "$T/ia" >"$T/ib"
	else
		awk -F'\t' 'NR > 1' "$f" | cut -f"$cb" | $low |
			spm_encode --model "$M" --output_format=id >"$T/ib"
	fi
	paste -d '|' "$T/ia" "$T/ib" | awk -F'|' -v max="$max" -v pair="$cb" '{
		na = split($1, a, " "); nb = split($2, b, " ")
		room = max - (pair ? 3 : 2)
		while (na + nb > room) { if (na > nb) na--; else nb-- }
		s = "2"; for (i = 1; i <= na; i++) s = s " " a[i]; s = s " 3"
		if (pair) { for (i = 1; i <= nb; i++) s = s " " b[i]; s = s " 3" }
		print s "\t" na + 2 }'
}
if command -v spm_encode >/dev/null && [ -f "$M" ]; then
	for max in 512 40 21; do
		want_ids "$R/MRPC/dev.tsv" 4 5 $max 0 >"$T/want"
		"$G" encode "$M" $max 0 "$R/MRPC/dev.tsv" MRPC dev >"$T/got"
		cmp -s "$T/got" "$T/want"
		ok $? "MRPC dev pairs at max_seq_len $max: spm_encode's ids, longest first"
	done
	want_ids "$R/RTE/dev.tsv" 2 3 64 1 >"$T/want"
	"$G" encode "$M" 64 1 "$R/RTE/dev.tsv" RTE dev >"$T/got"
	cmp -s "$T/got" "$T/want"
	ok $? "RTE dev pairs lower-cased (spm lower, as tokenize --lower) at 64"
	# CoLA dev has no header: put one on for want_ids' NR > 1
	{ echo; cat "$R/CoLA/dev.tsv"; echo; } >"$T/cola.tsv"
	want_ids "$T/cola.tsv" 4 0 12 1 | head -n 1043 >"$T/want"
	"$G" encode "$M" 12 1 "$R/CoLA/dev.tsv" CoLA dev >"$T/got"
	cmp -s "$T/got" "$T/want"
	ok $? "CoLA dev single sentences lower-cased, cut to 12"
else
	skip "spm_encode or the ALBERT-layout model missing"
fi

# ---- prediction files ---------------------------------------------------------

P=$T/pred
"$G" predict "$R/RTE/dev.tsv" RTE dev "$P" && "$G" predict "$R/RTE/test.tsv" RTE test "$P"
ok $? "RTE predictions written"
is "$(head -n 1 "$P/RTE.tsv")" "$(printf 'index\tprediction')" "RTE.tsv: GLUE's header"
is "$(cut -f1 "$P/RTE.tsv" | sed 1d | md5sum)" "$(cut -f1 "$R/RTE/test.tsv" | sed 1d | md5sum)" \
	"RTE.tsv: the test file's indices in order"
is "$(cut -f2 "$P/RTE.tsv" | sed 1d | sort -u | tr '\n' ' ')" "entailment not_entailment " \
	"RTE.tsv: string labels"
is "$(head -n 1 "$P/RTE.dev.tsv")" "$(printf 'index\tprediction\tgold')" "RTE.dev.tsv: its header"
is "$(cut -f1,3 "$P/RTE.dev.tsv" | sed 1d | md5sum)" \
	"$(cut -f1,4 "$R/RTE/dev.tsv" | sed 1d | md5sum)" "RTE.dev.tsv: index and gold as in the file"
"$G" predict "$R/CoLA/dev.tsv" CoLA dev "$P" &&
	is "$(awk -F'\t' 'NR > 1 { print NR - 2 "\t" $2 }' "$P/CoLA.dev.tsv" | md5sum)" \
		"$(awk -F'\t' '{ print NR - 1 "\t" $2 }' "$R/CoLA/dev.tsv" | md5sum)" \
		"CoLA.dev.tsv: row numbers as indices, 0/1 labels"
"$G" predict "$X/MNLI/test_matched.tsv" MNLI test_matched "$P" &&
	"$G" predict "$X/MNLI/dev_mismatched.tsv" MNLI dev_mismatched "$P" &&
	"$G" predict "$TOP/tests/data/glue/diagnostic/diagnostic.tsv" AX test "$P" &&
	"$G" predict "$X/STS-B/test.tsv" STS-B test "$P"
ok $? "MNLI, AX and STS-B predictions written"
is "$(ls "$P" | tr '\n' ' ')" \
	"AX.tsv CoLA.dev.tsv MNLI-m.tsv MNLI-mm.dev.tsv RTE.dev.tsv RTE.tsv STS-B.tsv " \
	"GLUE's file names"
is "$(sed 1d "$P/AX.tsv" | cut -f2 | tr '\n' ' ')" "entailment neutral contradiction entailment " \
	"AX.tsv: MNLI's labels"
is "$(sed -n 2p "$P/STS-B.tsv")" "$(printf '0\t0.000')" "STS-B.tsv: scores with three decimals"

done_testing
