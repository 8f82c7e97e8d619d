#!/bin/bash
# The README's commands, as written.  The shell blocks after a
# `<!-- readme.t: run -->` line run one command at a time, in one shell, in a
# scratch folder laid out as the top of the repository (bin/, pipeline/, and
# the test data at ../shared/data); each must exit 0, and what they made is
# checked.  The blocks after `<!-- readme.t: make -n -->` (the full-size
# study) run with make -n against a study folder whose sources are empty
# stand-ins.  Also the errors the Troubleshooting section quotes.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
README=$TOP/README.md
unset MAKEFLAGS MFLAGS MAKELEVEL

# the shell block after each marker line: its lines, comments and blank lines left out
block() {
	awk -v tag="<!-- readme.t: $1 -->" '
		$0 == tag { want = 1; next }
		want && /^```/ { if (inside) { inside = 0; want = 0 } else inside = 1; next }
		inside && !/^[ \t]*(#|$)/ { print }' "$README"
}
block run > "$T/run.txt"
block "make -n" > "$T/maken.txt"
[ -s "$T/run.txt" ] && [ -s "$T/maken.txt" ]; ok $? "README: a block to run and a block for make -n"

# ---- the commands on the test data -----------------------------------------
if ! have_shared; then
	skip "shared data not found (NYS_SHARED): the README's commands"
else
	W=$T/top
	mkdir -p "$W" "$T/shared"
	ln -s "$(realpath "$BIN")" "$W/bin"
	ln -s "$(realpath "$TOP/pipeline")" "$W/pipeline"
	ln -s "$(realpath "$SHARED")" "$T/shared/data"
	# one shell: each command, then its TAP line (output kept for a failure)
	{
		echo 'set -o pipefail'
		n=0
		while IFS= read -r line; do
			n=$((n + 1))
			printf '{ %s\n} > "$T/cmd%d.out" 2> "$T/cmd%d.err"; r=$?\n' "$line" "$n" "$n"
			printf 'ok $r %q; [ $r -eq 0 ] || sed "s/^/#   /" "$T/cmd%d.err" | tail -n 5\n' "README: ${line:0:100}" "$n"
		done < "$T/run.txt"
	} > "$T/run.sh"
	# in this shell (the TAP count goes on), with the programs only from
	# the README's own PATH line
	cd "$W" || exit 1
	PATH=/usr/local/bin:/usr/bin:/bin
	. "$T/run.sh"
	cd - > /dev/null || exit 1

	ls "$W"/corpus/wiki-partition-0000.txt.zst "$W"/corpus/books-partition-0000.txt.zst \
	   "$W"/corpus/news-partition-0000.txt.zst > /dev/null 2>&1
	ok $? "corpus/: the partitions of Wikipedia, the books and the news"
	ls "$W"/extracted/AA/wiki_00.zst > /dev/null 2>&1; ok $? "extracted/: WikiExtractor's layout, zstd"
	"$BIN/shard" verify "$W/shards" 2>/dev/null | tail -n 1 | grep -q "shards: ok"; ok $? "shards/: verified"
	[ -s "$W/tiny/model_checkpoints/cp-0001.model" ] && [ "$(grep -c '"loss"' "$W/tiny/model_checkpoints/pretrain_output.log")" = 100 ]
	ok $? "tiny/: the checkpoint of the last epoch, 100 steps in the log"
	python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); assert b[:6] == b"\x93NUMPY" and b"(4, 64, 64)" in b[:128]' "$W/hidden.npy"
	ok $? "hidden.npy: the hidden states of the 4 sequences"
	[ -s "$W/hf/tiny/config.json" ] && [ -s "$W/hf/tiny/model.safetensors" ] && [ -s "$W/hf/tiny/spiece.model" ] &&
		grep -q '"from_cp"' "$W/tiny/from-hf.json" && grep -q '"vocab_size": *2000' "$W/tiny/hf-config.json"
	ok $? "hf/tiny/: a transformers folder; its import and the hf config"
fi

# ---- the full-size study, with make -n -------------------------------------
S=$T/study
R=$S/data-preprocessing
mkdir -p "$R/wiki" "$R/bookcorpus/bookcorpus" "$R/realnews" "$R/stories/stories"
: > "$R/wiki/enwiki-latest-pages-articles.xml.bz2"
: > "$R/realnews/realnews.jsonl"
for t in CoLA SST-2 MRPC STS-B QQP MNLI QNLI RTE WNLI; do mkdir -p "$S/glue/$t"; : > "$S/glue/$t/train.tsv"; done
while IFS= read -r line; do
	args=${line%%#*}
	args=${args#make }
	eval "set -- $args"
	run_cmd make --no-print-directory -C "$TOP" -n BIN="$BIN" STUDY_PROGS= NYS_EVAL="$BIN/nys-eval" STUDY="$S" "$@"
	[ "$rc" -eq 0 ] && [ -s "$T/out" ]; ok $? "README: ${line%%  *} (make -n)"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/err" | tail -n 3
	case $args in
	*"pretrain MODEL=nystrom-4096"*)
		grep -q "cd $S/nystrom-4096 && .*/nys-train --data .*/shards-4096" "$T/out"
		ok $? "... nystrom-4096 trains on shards-4096" ;;
	*glue-all*)
		is "$(grep -c "nys-eval glue --task [A-Za-z0-9-]* --lr 3e-5 --batch_size 32 --epoch 5 --checkpoint 99 " "$T/out")" 9 "... nine tasks" ;;
	*"-n study"*)
		is "$(grep -c "/nys-train --data" "$T/out")" 3 "... three models pretrained" ;;
	esac
done < "$T/maken.txt"

# ---- the errors Troubleshooting quotes ---------------------------------------
run_cmd "$BIN/nys-eval" hf-config --config "$TOP/pipeline/configs/tiny-nystrom/config.json" -o "$T/hf/config.json"
is "$rc $(cat "$T/err")" "1 nys-eval: cannot create $T/hf/config.json: the directory $T/hf does not exist" \
	"hf-config -o into a missing folder: exit 1, naming the path given and the folder"
if have_shared; then
	run_cmd "$BIN/tokenize" encode -m "$SHARED/spm/sentencepiece-test-1k.model" -o "$T/no/dir/a.tok" /dev/null
	is "$rc $(cat "$T/err")" "1 tokenize: cannot create $T/no/dir/a.tok: the directory $T/no/dir does not exist" \
		"tokenize encode -o into a missing folder: the same message"
fi
run_cmd "$BIN/wikiextract" -o "$T/no/x.txt" /dev/null
is "$rc $(cat "$T/err")" "1 wikiextract: cannot create $T/no/x.txt: the directory $T/no does not exist" \
	"wikiextract -o into a missing folder: the same message"
! ls -a "$T" | grep -q '\.tmp\.'; ok $? "... and no temporary file left"
if have_shared; then
	mkdir -p "$T/books"
	"$BIN/preprocess" -q -f text "$SHARED/books" > "$T/books/all.txt"
	run_cmd "$BIN/tokenize" train -o "$T/spm30k" --vocab-size 30000 "$T/books/all.txt"
	is "$rc $(cat "$T/err")" "1 tokenize: training failed: Vocabulary size too high (30000). Please set it to a value <= 7628." \
		"tokenize train --vocab-size 30000 on the test books: the message Troubleshooting quotes"
	run_cmd "$BIN/preprocess" -f realnews "$SHARED/realnews/realnews_tiny.jsonl"
	is "$(cat "$T/err")" "preprocess: 5 documents read, 0 kept, 5 dropped (under 1000 words), 0 skipped" \
		"preprocess -f realnews on the 5 test documents: none kept, saying why"
fi
done_testing
