#!/bin/bash
# The reproduction targets of pipeline/study.mk.  On the shared data, end to
# end with a tiny model: make corpus (a Wikipedia excerpt, a book, RealNews,
# Stories missing and skipped), shards (the sampling rates), pretrain,
# validate, glue and glue-summary, each stage's output checked, then make
# again doing nothing.  For the full-size study, make -n: the command lines
# (sampling rates, sequence lengths, the nystrom-4096 warm start from
# nystrom-512's last checkpoint, the GLUE runs with the authors' settings).
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
# a make of its own, not the one running the tests (its -j, its variables);
# the programs are the ones under test (BIN), not rebuilt from here
unset MAKEFLAGS MFLAGS MAKELEVEL
MK=(make --no-print-directory -C "$TOP" BIN="$BIN" STUDY_PROGS= NYS_EVAL="$BIN/nys-eval")

# ---- the full-size study, as make -n prints it --------------------------
# every source present (empty stand-ins: make -n reads none of them)
R=$T/raw
mkdir -p "$R/wiki" "$R/bookcorpus/bookcorpus" "$R/realnews" "$R/stories/stories" "$T/glue"
: > "$R/wiki/enwiki-latest-pages-articles.xml.bz2"
: > "$R/realnews/realnews.jsonl"
for t in CoLA SST-2 MRPC STS-B QQP MNLI QNLI RTE WNLI; do mkdir -p "$T/glue/$t"; : > "$T/glue/$t/train.tsv"; done
F=$T/full
run_cmd "${MK[@]}" -n pretrain MODEL=nystrom-4096 STUDY="$F" RAW="$R"
cp "$T/out" "$T/n4096"
is "$rc" 0 "make -n pretrain MODEL=nystrom-4096: exit 0"
for n in 512 4096; do
	for s in english_wiki:1 bookcorpus:1 realnews:0.3333333333333333 stories:0.3333333333333333; do
		grep -q "^if .*/shard -n $n -o $F/data/shards-$n --name ${s%%:*} --keep ${s#*:} --seed 0 " "$T/n4096"
		ok $? "shards-$n: ${s%%:*} kept at ${s#*:}"
	done
done
grep -q "/wikiextract $R/wiki/enwiki-latest-pages-articles.xml.bz2 | .*/preprocess -f wiki  *-o $F/data/corpus --name english_wiki" "$T/n4096"
ok $? "the dump goes through wikiextract | preprocess -f wiki into the corpus"
grep -q "/preprocess -f bookcorpus  *-o $F/data/corpus --name bookcorpus $R/bookcorpus/bookcorpus" "$T/n4096"
ok $? "BookCorpus: preprocess -f bookcorpus"
grep -q "/preprocess -f realnews  *-o $F/data/corpus --name realnews $R/realnews/realnews.jsonl" "$T/n4096" &&
	grep -q "/preprocess -f stories  *-o $F/data/corpus --name stories $R/stories/stories" "$T/n4096"
ok $? "RealNews and Stories: their formats (preprocess's own minimum words)"
grep -q "/tokenize train -o $F/data/spm-30000 --vocab-size 30000 " "$T/n4096"
ok $? "a 30,000-piece sentencepiece model, on the whole corpus"
grep -q "/shard verify $F/data/shards-512 " "$T/n4096" && grep -q "/shard verify $F/data/shards-4096 " "$T/n4096"
ok $? "both shard directories verified"
l512=$(grep -n "^cd $F/nystrom-512 && .*/nys-train --data $(realpath -m "$F")/data/shards-512" "$T/n4096" | cut -d: -f1)
l4096=$(grep -n "^cd $F/nystrom-4096 && .*/nys-train --data $(realpath -m "$F")/data/shards-4096" "$T/n4096" | cut -d: -f1)
[ -n "$l512" ] && [ -n "$l4096" ] && [ "$l512" -lt "$l4096" ]
ok $? "nystrom-512 trains on shards-512 before nystrom-4096 on shards-4096"
grep -q '"from_cp": "../nystrom-512/model/cp-0099.model"' "$TOP/pipeline/configs/nystrom-4096/config.json" &&
	grep -q "^cp pipeline/configs/nystrom-4096/config.json $F/nystrom-4096/config.json" "$T/n4096" &&
	sed -n "$l512,${l4096}p" "$T/n4096" | grep -q "test -e $F/nystrom-512/model/cp-0099.model "
ok $? "nystrom-4096 warm-starts from its from_cp, nystrom-512's last checkpoint, which its training waits for"
! grep -q "softmax-512/" "$T/n4096"; ok $? "... and nothing of softmax-512"

run_cmd "${MK[@]}" -n glue-all MODEL=nystrom-512 STUDY="$F" RAW="$R" GLUE_DATA="$T/glue"
is "$rc" 0 "make -n glue-all MODEL=nystrom-512: exit 0"
grep -q "TASK=\"CoLA SST-2 MRPC STS-B QQP MNLI QNLI RTE WNLI\" GLUE_LRS=3e-5 GLUE_BATCHES=32 GLUE_CHECKPOINT=99 GLUE_FLAGS=\"-m $(realpath -m "$F")/data/spm-30000.model --glue $T/glue" "$T/out"
ok $? "glue-all: every task, lr 3e-5, batch 32, checkpoint 99, the study's tokenizer and GLUE folder"
is "$(grep -c "^cd $F/nystrom-512 && .*/nys-eval glue --task [A-Za-z0-9-]* --lr 3e-5 --batch_size 32 --epoch 5 --checkpoint 99 " "$T/out")" 9 \
	"... nine runs of nys-eval glue, as the authors' README runs MRPC"
run_cmd "${MK[@]}" -n glue MODEL=softmax-512 TASK=RTE CHECKPOINT=49 STUDY="$F" RAW="$R" GLUE_DATA="$T/glue"
grep -q "^cd $F/softmax-512 && .*/nys-eval glue --task RTE --lr 3e-5 --batch_size 32 --epoch 5 --checkpoint 49 " "$T/out"
ok $? "glue MODEL=softmax-512 TASK=RTE CHECKPOINT=49: that run"
run_cmd "${MK[@]}" -n study STUDY="$F" RAW="$R" GLUE_DATA="$T/glue"
is "$rc $(grep -c "/nys-train --data" "$T/out") $(grep -c "nys-eval mlm --checkpoint all" "$T/out") $(grep -c "nys-eval glue --task" "$T/out")" "0 3 3 27" \
	"make -n study: three models pretrained, validated, and fine-tuned on nine tasks each"

# usage errors
run_cmd "${MK[@]}" pretrain STUDY="$F"
[ "$rc" -ne 0 ] && grep -q "give MODEL=NAME" "$T/err"; ok $? "pretrain without MODEL: an error saying so"
run_cmd "${MK[@]}" glue MODEL=nystrom-512 STUDY="$F"
[ "$rc" -ne 0 ] && grep -q "give TASK=NAME" "$T/err"; ok $? "glue without TASK: an error saying so"
run_cmd "${MK[@]}" corpus STUDY="$T/none"
[ "$rc" -ne 0 ] && grep -q "none of the sources is there" "$T/err" && [ ! -e "$T/none" ]
ok $? "corpus without any source: an error naming the variables, nothing made"

if ! have_shared; then
	skip "shared data not found (NYS_SHARED): the tiny study"
	done_testing
	exit
fi

# ---- a tiny study, end to end ------------------------------------------
# a tiny variant of tiny-nystrom as a study folder of its own: 2 epochs of 10 steps
S=$T/study
mkdir -p "$S/tiny" "$T/books"
sed -e 's/"batches_per_epoch": 50/"batches_per_epoch": 10/' -e 's/"validate_batches_per_epoch": 5/"validate_batches_per_epoch": 2/' \
	"$TOP/pipeline/configs/tiny-nystrom/config.json" > "$S/tiny/config.json"
ln -s "$SHARED/books/botchan.txt" "$T/books/"
V=(STUDY="$S" WIKI_DUMP="$SHARED/wiki/enwiki-2017-tables-5pages.xml.bz2" BOOKCORPUS="$T/books" BOOKCORPUS_FORMAT=text
   REALNEWS="$SHARED/realnews/realnews_tiny.jsonl" SPM_VOCAB=1000 SHARD_FLAGS="-k 32" GLUE_DATA="$SHARED/glue"
   GLUE_EPOCHS=2 TRAIN_FLAGS=-q)

run_cmd "${MK[@]}" -j2 corpus "${V[@]}"
is "$rc" 0 "make -j2 corpus: exit 0"
grep -q "corpus: no stories at $S/data-preprocessing/stories/stories (set STORIES=...): skipped" "$T/out"
ok $? "Stories missing: skipped, saying where it was looked for"
grep -q "preprocess: 5 documents read, 0 kept, 5 dropped (under 1000 words)" "$T/err" &&
	grep -q "corpus: realnews: no document kept, left out" "$T/err" && [ ! -s "$S/data/corpus/realnews.parts" ]
ok $? "RealNews: none of the 5 has 1,000 words: preprocess says so, and it is left out"
is "$(cat "$S/data/corpus/english_wiki.parts")" "$S/data/corpus/english_wiki-partition-0000.txt.zst" "the Wikipedia partitions listed"
is "$(zstdcat "$S/data/corpus/bookcorpus-partition-0000.txt.zst" | grep -c '^$')" 1 "the book: one document of unified text"

# a dataset is made again when its list is removed: RealNews, down to 300 words
rm "$S/data/corpus/realnews.parts"
run_cmd "${MK[@]}" -j2 shards-64 "${V[@]}" REALNEWS_FLAGS="--min-words 300"
is "$rc" 0 "make -j2 shards-64 (RealNews made again, down to 300 words): exit 0"
grep -q "preprocess: 5 documents read, 4 kept" "$T/err" && ! grep -q "preprocess -f wiki" "$T/out"
ok $? "... RealNews made again with its new flags, Wikipedia not"
tail -n 1 "$S/data/shards-64.verify" | grep -q "^$S/data/shards-64: ok, [0-9]* shards"
ok $? "shard verify passes ($(tail -n 1 "$S/data/shards-64.verify"))"
kept=$(grep "blocks of 62" "$T/err" | sed -n 's/.*; \([0-9]*\) blocks of 62, \([0-9]*\) kept.*/\1 \2/p' | tr '\n' ' ')
read -r wb wk bb bk nb nk <<< "$kept"
[ "$wb" = "$wk" ] && [ "$bb" = "$bk" ] && [ "$nk" -lt "$nb" ] && [ "$nk" -gt 0 ]
ok $? "Wikipedia and the book kept whole, RealNews in part ($nk of $nb blocks)"
"$BIN/shard" -n 64 -o "$T/rn" --name realnews --keep 0.3333333333333333 -q "$S/data/tokens/realnews.tok" 2>/dev/null
is "$("$BIN/shard" info "$T/rn" | grep -o '[0-9]* sequences' | head -1)" "$nk sequences" "... exactly the blocks shard --keep 1/3 keeps"
ls "$S/data/shards-64" | grep -q "^english_wiki-00000.shard$" && ls "$S/data/shards-64" | grep -q "^bookcorpus-00000.shard$" &&
	[ -s "$S/data/shards-64/train.json" ] && [ -s "$S/data/shards-64/dev.json" ]
ok $? "one directory: the datasets' shards by the authors' names, train.json and dev.json"

run_cmd "${MK[@]}" -j2 pretrain MODEL=tiny "${V[@]}"
is "$rc" 0 "make pretrain MODEL=tiny (a study folder with its own config): exit 0"
ck=$S/tiny/model_checkpoints
[ -s "$ck/cp-0001.model" ] && [ -s "$ck/cp-0000.model" ]; ok $? "its epoch checkpoints"
is "$(grep -c '"loss"' "$ck/pretrain_output.log")" 20 "the log: 20 steps"
is "$(grep -c '"valid_loss"' "$ck/pretrain_output.log")" 2 "... and a validation an epoch"

run_cmd "${MK[@]}" validate MODEL=tiny "${V[@]}"
is "$rc $(grep -c '"valid_mlm_accu"' "$S/tiny/valid.jsonl")" "0 2" "make validate: valid.jsonl, a line a checkpoint"

run_cmd "${MK[@]}" glue MODEL=tiny TASK=WNLI "${V[@]}"
is "$rc" 0 "make glue MODEL=tiny TASK=WNLI: exit 0"
res=$S/tiny/glue-results/glue-WNLI-1-3e-5-32-2.json
grep -q '"task":"WNLI"' "$res" 2>/dev/null; ok $? "the run's summary line in glue-results ($(head -c 80 "$res" 2>/dev/null))"
run_cmd "${MK[@]}" glue-summary MODEL=tiny "${V[@]}"
[ "$rc" -eq 0 ] && grep -q "^WNLI " "$T/out"; ok $? "make glue-summary MODEL=tiny takes the study's name: its WNLI row"

# done: make again does nothing
before=$(find "$S" -type f -newer "$res" | wc -l)
run_cmd "${MK[@]}" glue MODEL=tiny TASK=WNLI "${V[@]}"
[ "$rc" -eq 0 ] && ! grep -q "nys-train\|nys-eval glue\|tokenize\|preprocess -f" "$T/out"
ok $? "a second make glue runs nothing again"
is "$(find "$S" -type f -newer "$res" | wc -l)" "$before" "... and writes nothing"
run_cmd "${MK[@]}" -q "$ck/cp-0001.model" "$S/tiny/valid.jsonl" "$S/data/shards-64.verify" "${V[@]}" REALNEWS_FLAGS="--min-words 300"
is "$rc" 0 "make -q: the checkpoint, the validation and the shards are up to date"
done_testing
