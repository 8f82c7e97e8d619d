#!/bin/bash
# nys-eval mlm: masked-LM validation of a run's checkpoints.  A tiny model
# trained by nys-train for 3 epochs; `--checkpoint all` gives one line per
# epoch checkpoint in step order, equal to the validation nys-train logged
# for the same checkpoint (one code, nys_mlm_eval, with the same masks and
# micro-batches); an epoch number and a path name the same file; --batches
# and --batch_size limit what is scored; missing checkpoints and data fail
# cleanly.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
EV=$BIN/nys-eval
export PATH="$BIN:$PATH"

run() { run_cmd "$EV" mlm "$@"; }

# ---- the command line ------------------------------------------------------------
run --help
ok $rc "mlm --help exits 0"
grep -q '^usage: nys-eval mlm' "$T/out" && [ ! -s "$T/err" ]; ok $? "... the usage on stdout"
missing=
for opt in $(grep -oE -- '--[a-z][a-z0-9_-]*' "$T/out" | sort -u); do
	grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/nys-eval.1" || missing="$missing $opt"
done
is "$missing" "" "every option of mlm --help is in nys-eval.1"
for bad in "" "--batches 0" "--checkpoint all --batches x" "--checkpoint all --batch_size 0" \
	"--checkpoint all extra" "--checkpoint all --logits"; do
	# shellcheck disable=SC2086
	run $bad
	is "$rc" 2 "usage error: mlm $bad"
done

if ! have_shared; then
	skip "shared data not found"
	done_testing
	exit
fi

# ---- a run of 3 epochs -------------------------------------------------------------
wikiextract "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | preprocess -q -f wiki > "$T/wiki.txt"
head -c 400000 "$T/wiki.txt" > "$T/head.txt"
tokenize train -o "$T/spm" -n 1000 "$T/head.txt" 2> /dev/null
tokenize encode -m "$T/spm.model" "$T/wiki.txt" > "$T/wiki.tok"
shard -n 64 -q -k 32 -o "$T/data" "$T/wiki.tok"
ok $? "shards of 64 tokens with a dev list"

python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/c.json" "$T/data" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = "ck"
c["pretraining_setting"].update(batch_size=8, learning_rate=2e-3, warmup=0.1,
                                batches_per_epoch=15, epoch=3, batches_per_report=5,
                                validate_batches_per_epoch=3)
c["gpu_setting"] = {"inst_per_gpu": 4}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
run_cmd nys-train --config "$T/c.json"
ok $rc "nys-train: 3 epochs of 15 steps"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
LOG=$T/ck/pretrain_output.log

run --config "$T/c.json" --checkpoint all -o "$T/all.jsonl"
ok $rc "mlm --checkpoint all exits 0"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
is "$(grep -c . "$T/all.jsonl")" 3 "one line per epoch checkpoint"
is "$(grep -c "cp-000[0-9].model: loss" "$T/err")" 3 "a line on stderr for each"

# the lines in step order, and each equal to nys-train's validation of that
# epoch, key for key (the same definitions: the loss weighted by labels +
# 1e-6 over the micro-batches, correct over labels + 1e-6, 3 batches of 8)
python3 - "$T/all.jsonl" "$LOG" "$T/ck" <<'PY' > "$T/cmp"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
logged = [json.loads(l) for l in open(sys.argv[2]) if "valid_loss" in l]
print("order", [g["epoch"] for g in got], [g["idx"] for g in got])
print("paths", all(g["checkpoint"] == "%s/cp-%04d.model" % (sys.argv[3], g["epoch"]) for g in got))
same = []
for g, v in zip(got, logged):
    g = dict(g)
    del g["checkpoint"]
    same.append(g == v)
print("same", same, len(logged))
print("inst", [g["valid_inst"] for g in got])
print("fall", got[0]["valid_loss"] > got[2]["valid_loss"])
PY
is "$(sed -n 1p "$T/cmp")" "order [0, 1, 2] [15, 30, 45]" "in step order: epochs 0, 1, 2 at steps 15, 30, 45"
is "$(sed -n 2p "$T/cmp")" "paths True" "each line names its checkpoint"
is "$(sed -n 3p "$T/cmp")" "same [True, True, True] 3" "each line equals nys-train's logged validation of that epoch"
is "$(sed -n 4p "$T/cmp")" "inst [24, 24, 24]" "validate_batches_per_epoch x batch_size sequences by default"
is "$(sed -n 5p "$T/cmp")" "fall True" "the validation loss falls over the epochs"

# an epoch number, its path, stdout, -q
run -q --config "$T/c.json" --checkpoint 1
ok $rc "mlm --checkpoint 1"
is "$(cat "$T/out")" "$(sed -n 2p "$T/all.jsonl")" "... the epoch-1 line of all's"
[ ! -s "$T/err" ]; ok $? "... -q: nothing on stderr"
cp "$T/ck/cp-0002.model" "$T/renamed.safetensors"
run -q --config "$T/c.json" --checkpoint "$T/renamed.safetensors"
python3 - "$T/out" "$T/all.jsonl" <<'PY'
import json, sys
a = json.loads(open(sys.argv[1]).read())
b = json.loads(open(sys.argv[2]).read().splitlines()[2])
for k in ("checkpoint", "epoch", "idx"):
    b.pop(k)
sys.exit(0 if a.pop("checkpoint").endswith("renamed.safetensors") and a == b else 1)
PY
ok $? "a checkpoint by its path: the same numbers, no epoch or step for a name not cp-EEEE"
(cd "$T" && "$EV" mlm -q --config c.json --checkpoint 0) > "$T/rel" 2> "$T/err"
is "$(sed 's/"checkpoint":"[^"]*"//' "$T/rel")" "$(sed -n 1p "$T/all.jsonl" | sed 's/"checkpoint":"[^"]*"//')" \
	"model_checkpoints relative to the config's folder, from anywhere"

# --batches, --batch_size
run -q --config "$T/c.json" --checkpoint 0 --batches 1
grep -q '"valid_inst":8[,}]' "$T/out"; ok $? "--batches 1: one batch of batch_size 8"
run -q --config "$T/c.json" --checkpoint 0 --batches 2 --batch_size 3
grep -q '"valid_inst":6[,}]' "$T/out"; ok $? "--batches 2 --batch_size 3: 6 sequences"
run -q --config "$T/c.json" --checkpoint 0 --batches 100000
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["valid_inst"])' "$T/out")
want=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/data/dev.json")
[ "$got" -gt 24 ]; ok $? "--batches past the end: the whole dev list ($got sequences in $want shards)"

# ---- errors --------------------------------------------------------------------------
run --config "$T/c.json" --checkpoint 7
is "$rc" 1 "a missing epoch checkpoint: exit 1"
grep -q "ck/cp-0007.model: No such file" "$T/err"; ok $? "... naming the file ($(head -1 "$T/err"))"
run --config "$T/c.json" --checkpoint "$T/nothing.model"
is "$rc" 1 "a missing checkpoint file: exit 1"
mkdir "$T/empty"
run --config "$T/c.json" --checkpoint all --data "$T/data" -o "$T/x.jsonl"
ok $rc "--data names the shard folder"
sed 's/"model_checkpoints": "ck"/"model_checkpoints": "empty"/' "$T/c.json" > "$T/e.json"
run --config "$T/e.json" --checkpoint all -o "$T/none.jsonl"
is "$rc" 1 "a folder without epoch checkpoints: exit 1"
grep -q "empty: no epoch checkpoints" "$T/err"; ok $? "... says so"
[ ! -e "$T/none.jsonl" ]; ok $? "... and writes no output"
mkdir "$T/nodev" && cp "$T/data"/shard* "$T/data/train.json" "$T/nodev/" 2> /dev/null
run --config "$T/c.json" --checkpoint 0 --data "$T/nodev"
is "$rc" 1 "a data folder without dev.json: exit 1"
grep -q "nodev/dev.json" "$T/err"; ok $? "... naming it"
echo "[]" > "$T/nodev/dev.json"
run --config "$T/c.json" --checkpoint 0 --data "$T/nodev"
grep -q "lists no sequences" "$T/err" && [ $rc -eq 1 ]; ok $? "an empty dev.json: nothing to score"
run --config "$T/nothere.json" --checkpoint 0
is "$rc" 1 "a missing config: exit 1"

done_testing
