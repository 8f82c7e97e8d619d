#!/bin/bash
# nys-eval glue (nys-eval(1)): a tiny model pretrained by nys-train on the
# shared wiki dump, fine-tuned on small real GLUE subsets: it overfits
# them (training accuracy 100%); the prediction files have GLUE's layout
# and the dev scores recomputed from TASK.dev.tsv equal the logged ones;
# --save then --eval-only gives the saved score again; the same seed gives
# the same log; the checkpoints' tokenizer fingerprint is checked; MNLI
# (both dev splits, AX predicted with its model) and STS-B (regression) run
# on the excerpts' layouts; a damaged TSV, an unknown task, a mismatched
# tokenizer and bad options fail as promised.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
EV=$BIN/nys-eval
export PATH="$BIN:$PATH"

if ! have_shared || [ ! -d "$SHARED/glue/MRPC" ]; then
	skip "shared data (wiki dump, GLUE) not found"
	done_testing
	exit
fi

# ---- options --------------------------------------------------------------------
run_cmd "$EV" glue --help
ok $rc "glue --help exits 0"
grep -q '^usage: nys-eval glue' "$T/out"; ok $? "glue --help prints its usage"
missing=""
for opt in $(grep -oE -- '--[a-z][a-z0-9_-]*' "$T/out" | sort -u); do
	grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/nys-eval.1" || missing="$missing $opt"
done
is "$missing" "" "every option of glue --help is in nys-eval.1"
for bad in "--task MRPC" "--task MRPC --checkpoint 0 -m x --batch_size 8 --head tanh" \
	"--task MRPC --checkpoint 0 -m x --batch_size 8 --lr 1e-3 --epoch 1 --pad short" \
	"--task MRPC --checkpoint 0 -m x --batch_size 8 --epoch 1" \
	"--task MRPC --checkpoint 0 -m x --batch_size 8 --lr x --epoch 1" \
	"--task MRPC --checkpoint 0 -m x --batch_size 0 --lr 1 --epoch 1" \
	"--task MRPC --checkpoint 0 -m x --batch_size 8 --eval-only --save f"; do
	# shellcheck disable=SC2086
	run_cmd "$EV" glue $bad
	is "$rc" 2 "usage error exits 2: $bad"
done

# ---- a pretrained tiny model: spm, shards, one short nys-train epoch -------------
wikiextract "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | preprocess -q -f wiki |
	head -c 400000 > "$T/head.txt"
tokenize train -o "$T/spm" -n 1000 "$T/head.txt" 2> /dev/null
tokenize encode -m "$T/spm.model" "$T/head.txt" > "$T/head.tok"
shard -n 64 -q -k 32 -o "$T/data" "$T/head.tok"
python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/config.json" "$T/glue" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"] = "data"
c["model_checkpoints"] = "ck"
c["glue_dataset_folder"] = "glue"
c["pretraining_setting"].update(batch_size=8, batches_per_epoch=20, epoch=1,
                                validate_batches_per_epoch=0)
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
nys-train -q --config "$T/config.json"
ok $? "nys-train: a tiny pretrained checkpoint ($(ls "$T/ck" | tr '\n' ' '))"

# small real subsets: the first rows of the shared tasks, quirks kept (MRPC's
# byte-order mark is on its first line); the excerpts' layouts; an AX file
# of MNLI's sentences
mkdir -p "$T/glue"
for task in MRPC SST-2; do
	mkdir -p "$T/glue/$task"
	head -n 33 "$SHARED/glue/$task/train.tsv" > "$T/glue/$task/train.tsv"
	head -n 25 "$SHARED/glue/$task/dev.tsv" > "$T/glue/$task/dev.tsv"
	head -n 13 "$SHARED/glue/$task/test.tsv" > "$T/glue/$task/test.tsv"
done
cp -r "$SHARED/glue-excerpts/MNLI" "$SHARED/glue-excerpts/STS-B" "$T/glue/"
mkdir -p "$T/glue/diagnostic"
{
	printf 'index\tsentence1\tsentence2\n'
	awk -F'\t' 'NR > 1 { printf "%d\t%s\t%s\n", NR - 2, $9, $10 }' "$T/glue/MNLI/train.tsv"
} > "$T/glue/diagnostic/diagnostic.tsv"

G="$EV glue --config $T/config.json -m $T/spm.model -j 2"

# ---- overfitting 32 real SST-2 sentences ----------------------------------------------
# shellcheck disable=SC2086
run_cmd $G --task SST-2 --checkpoint 0 --batch_size 8 --lr 1e-3 --epoch 20 --pad longest \
	--score-train
ok $rc "SST-2: 20 epochs of 32 rows (--pad longest) exit 0"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
LOG=$T/ck/glue-SST-2-0-0.001-8-20.log
is "$(wc -l < "$LOG" | tr -d ' ')" 20 "the log beside the checkpoint: a line an epoch"
is "$(tail -n 1 "$LOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["train"]["accuracy"])')" \
	1.0 "the training split is learnt: accuracy 100%"
python3 - "$T/out" "$LOG" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read())
L = [json.loads(l) for l in open(sys.argv[2])]
best = max(L, key=lambda l: l["dev"]["accuracy"])
assert s["best"]["dev"] == best["dev"], (s["best"], best)
assert s["best"]["epoch"] == min(l["epoch"] for l in L if l["dev"] == best["dev"])
assert s["last"]["dev"] == L[-1]["dev"] and s["last"]["epoch"] == 20
assert L[-1]["best"]["epoch"] == s["best"]["epoch"]
assert all(set(l) >= {"epoch", "step", "train_loss", "train_accu", "learning_rate", "beta1",
                      "dev", "best", "time", "tokens_per_s"} for l in L)
assert [l["step"] for l in L] == [4 * (i + 1) for i in range(20)]
PY
ok $? "the summary on stdout: the best epoch's and the last epoch's dev scores, as logged"

# ---- MRPC: predictions, --save, the same seed again -------------------------------------
# shellcheck disable=SC2086
run_cmd $G --task mrpc --checkpoint 0 --batch_size 8 --lr 1e-3 --epoch 3 --seed 7 \
	--predict "$T/pred" --save "$T/mrpc.model"
ok $rc "MRPC: 3 epochs with --predict and --save exit 0"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
cp "$T/out" "$T/mrpc.summary"
LOG=$T/ck/glue-MRPC-0-0.001-8-3.log
cp "$LOG" "$T/mrpc.log"
is "$(head -n 1 "$T/pred/MRPC.tsv")" "$(printf 'index\tprediction')" "MRPC.tsv: GLUE's header"
is "$(($(wc -l < "$T/pred/MRPC.tsv") - 1))" 12 "MRPC.tsv: a line per test row"
awk -F'\t' 'NR > 1 && (NF != 2 || $2 !~ /^[01]$/) { bad = 1 } END { exit bad }' "$T/pred/MRPC.tsv"
ok $? "MRPC.tsv: index and a label, as MRPC's files spell them"
is "$(head -n 1 "$T/pred/MRPC.dev.tsv")" "$(printf 'index\tprediction\tgold')" \
	"MRPC.dev.tsv: index, prediction, gold"
# accuracy and F1 from the dev predictions, against the best epoch's logged scores
awk -F'\t' 'NR > 1 { n++; c += $2 == $3; tp += $2 == 1 && $3 == 1; fp += $2 == 1 && $3 == 0;
	fn += $2 == 0 && $3 == 1 }
	END { printf "%.8f %.8f\n", c / n, 2 * tp + fp + fn ? 2 * tp / (2 * tp + fp + fn) : 0 }' \
	"$T/pred/MRPC.dev.tsv" > "$T/recomputed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["best"]["dev"]; print("%.8f %.8f" % (d["accuracy"], d["f1"]))' \
	"$T/mrpc.summary" > "$T/logged"
is "$(cat "$T/recomputed")" "$(cat "$T/logged")" "dev accuracy and F1 recomputed from MRPC.dev.tsv equal the logged ones"
is "$(($(wc -l < "$T/pred/MRPC.dev.tsv") - 1))" 24 "MRPC.dev.tsv: a line per dev row"

# shellcheck disable=SC2086
run_cmd $G --task MRPC --checkpoint "$T/mrpc.model" --batch_size 8 --eval-only
ok $rc "--eval-only of the --save checkpoint exits 0"
python3 - "$T/out" "$T/mrpc.summary" <<'PY'
import json, sys
e, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert e["eval_only"] and e["dev"] == s["best"]["dev"], (e, s)
PY
ok $? "--eval-only reproduces the saved (best) dev score"

# shellcheck disable=SC2086
run_cmd $G --task MRPC --checkpoint 0 --batch_size 8 --lr 1e-3 --epoch 3 --seed 7
strip() { sed -E 's/"time":[^,}]*//; s/"tokens_per_s":[^,}]*//' "$1"; }
is "$(strip "$LOG" | md5sum)" "$(strip "$T/mrpc.log" | md5sum)" \
	"the same seed and threads give the same log, timing fields apart"
# shellcheck disable=SC2086
run_cmd $G --task MRPC --checkpoint 0 --batch_size 8 --lr 1e-3 --epoch 3 --seed 8
[ "$(strip "$LOG" | md5sum)" != "$(strip "$T/mrpc.log" | md5sum)" ]
ok $? "another seed gives another log"

# ---- MNLI (two dev splits, AX), STS-B (regression) on the excerpts -----------------------
# shellcheck disable=SC2086
run_cmd $G --task MNLI --checkpoint 0 --batch_size 2 --lr 1e-3 --epoch 1 --predict "$T/pred"
ok $rc "MNLI on the excerpts exits 0"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
python3 -c 'import json,sys; b=json.load(sys.stdin)["best"]; print(sorted(k for k in b if k != "epoch"))' \
	< "$T/out" > "$T/keys"
is "$(cat "$T/keys")" "['dev_matched', 'dev_mismatched']" "MNLI: matched and mismatched dev scores"
ls "$T/pred" | grep -E '^(MNLI|AX)' | tr '\n' ' ' > "$T/files"
is "$(cat "$T/files")" "AX.tsv MNLI-m.dev.tsv MNLI-m.tsv MNLI-mm.dev.tsv MNLI-mm.tsv " \
	"MNLI: test and dev predictions of both splits, AX predicted with the MNLI model"
awk -F'\t' 'NR > 1 && $2 !~ /^(entailment|neutral|contradiction)$/ { bad = 1 } END { exit bad }' \
	"$T/pred/AX.tsv"
ok $? "AX.tsv: MNLI's string labels"
# shellcheck disable=SC2086
run_cmd $G --task STS-B --checkpoint 0 --batch_size 2 --lr 1e-3 --epoch 1 --predict "$T/pred" \
	--head hf
ok $rc "STS-B (regression, --head hf) on the excerpts exits 0"
grep -q '"pearson"' "$T/out" && grep -q '"spearmanr"' "$T/out"
ok $? "STS-B: Pearson and Spearman"
awk -F'\t' 'NR > 1 && $2 !~ /^-?[0-9]+\.[0-9][0-9][0-9]$/ { bad = 1 } END { exit bad }' \
	"$T/pred/STS-B.tsv"
ok $? "STS-B.tsv: scores with three decimals"

# ---- errors --------------------------------------------------------------------------------
# shellcheck disable=SC2086
run_cmd $G --task MRPCX --checkpoint 0 --batch_size 8 --lr 1e-3 --epoch 1
is "$rc" 1 "an unknown task exits 1"
grep -q "unknown GLUE task 'MRPCX'" "$T/err"; ok $? "an unknown task is named: $(head -n 1 "$T/err")"
mkdir -p "$T/glue/RTE"
head -n 20 "$SHARED/glue/RTE/train.tsv" > "$T/glue/RTE/train.tsv"
printf '20\tonly one sentence\tentailment\n' >> "$T/glue/RTE/train.tsv"
head -n 9 "$SHARED/glue/RTE/dev.tsv" > "$T/glue/RTE/dev.tsv"
# shellcheck disable=SC2086
run_cmd $G --task RTE --checkpoint 0 --batch_size 8 --lr 1e-3 --epoch 1
is "$rc" 1 "a damaged TSV exits 1"
grep -q "glue/RTE/train.tsv:21: " "$T/err"; ok $? "a damaged TSV is named with its line: $(tail -n 1 "$T/err")"
tokenize train -o "$T/other" -n 900 "$T/head.txt" 2> /dev/null
# shellcheck disable=SC2086
run_cmd $EV glue --config "$T/config.json" -m "$T/other.model" --task MRPC --checkpoint 0 \
	--batch_size 8 --lr 1e-3 --epoch 1
is "$rc" 1 "another tokenizer than the checkpoint's exits 1"
grep -q "other.model: tokenizer fingerprint [0-9a-f]*, but .*cp-0000.model was trained with another sentencepiece model" "$T/err"
ok $? "a mismatched tokenizer names both: $(tail -n 1 "$T/err")"
nys-eval init --config "$T/config.json" -o "$T/ck/cp-0005.model" 2> /dev/null
# shellcheck disable=SC2086
run_cmd $G --task MRPC --checkpoint 5 --batch_size 8 --lr 1e-3 --epoch 1
ok $rc "a checkpoint without a fingerprint (nys-eval init) fine-tunes"
grep -q "warning: .*cp-0005.model does not say which sentencepiece model" "$T/err"
ok $? "... with a warning"
# shellcheck disable=SC2086
run_cmd $G --task MRPC --checkpoint 9 --batch_size 8 --lr 1e-3 --epoch 1
is "$rc" 1 "a missing epoch's checkpoint exits 1"
grep -q "ck/cp-0009.model" "$T/err"; ok $? "... naming cp-0009.model in the config's folder"

if grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/err.* > /dev/null 2>&1; then
	ok 1 "no sanitizer reports"
else
	ok 0 "no sanitizer reports"
fi
done_testing
