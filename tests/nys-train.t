#!/bin/bash
# nys-train(1) on shards built from the shared wiki dump: a tiny model
# trains and its loss falls; runs killed with SIGKILL, stopped with SIGTERM
# or by --steps and then resumed end bitwise equal to one that never
# stopped; the learning rate and beta1 follow OneCycleLR; masking chooses
# 15% of the positions; a model that can use its context learns to (a
# bound that a broken gradient fails); from_cp warm starts a longer model;
# damaged data, a diverging run and bad options fail cleanly.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
TR=$BIN/nys-train
export PATH="$BIN:$PATH"

if ! have_shared; then
	skip "shared data not found"
	done_testing
	exit
fi

# ---- options ------------------------------------------------------------------
run_cmd "$TR" --help
ok $rc "--help exits 0"
grep -q '^usage: nys-train' "$T/out"; ok $? "--help prints the usage to stdout"
check_man_options nys-train "$TOP/man/man1/nys-train.1"
run_cmd "$TR" --version
is "$rc $(cat "$T/out")" "0 nys-train $(cat "$TOP/VERSION")" "--version"
for bad in "--device gpu" "--threads 0" "--steps x" "--keep -1" "extra"; do
	# shellcheck disable=SC2086
	run_cmd "$TR" $bad
	is "$rc" 2 "usage error exits 2: $bad"
done
grep -q "Try 'nys-train --help'" "$T/err"; ok $? "a usage error points at --help"

# ---- data: the wiki dump through the pipe, 64-token shards ---------------------
wikiextract "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | preprocess -q -f wiki > "$T/wiki.txt"
head -c 400000 "$T/wiki.txt" > "$T/head.txt"
tokenize train -o "$T/spm" -n 1000 "$T/head.txt" 2> /dev/null
tokenize encode -m "$T/spm.model" "$T/wiki.txt" > "$T/wiki.tok"
shard -n 64 -q -k 32 -o "$T/data" "$T/wiki.tok"
ok $? "wikiextract | preprocess | tokenize | shard-64: $(ls "$T/data" | grep -c shard) shards"

# config NAME DATA [KEY=VALUE ...]: the tiny Nystrom config with the
# pretraining settings of these tests, written to $T/NAME.json
config() {
	local name=$1 data=$2
	shift 2
	python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/$name.json" "$data" "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=8, learning_rate=2e-3, warmup=0.1,
                                batches_per_epoch=40, epoch=3, batches_per_report=10,
                                validate_batches_per_epoch=2)
c["gpu_setting"] = {"inst_per_gpu": 4}
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    sec, key = k.split(".") if "." in k else (None, k)
    (c[sec] if sec else c)[key] = json.loads(v)
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
}

# ---- a whole run ----------------------------------------------------------------
config a data
run_cmd "$TR" --config "$T/a.json"
ok $rc "a run of 3 epochs x 40 steps (batch 8 in micro-batches of 4) exits 0"
[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
ls "$T/a.ck" | tr '\n' ' ' > "$T/files"
is "$(cat "$T/files")" "cp-0000.cp cp-0000.model cp-0001.cp cp-0001.model cp-0002.cp cp-0002.model pretrain_output.log " \
	"a checkpoint pair per epoch and the log"
grep -q "checkpoint $T/a.ck/cp-0002.cp" "$T/err"; ok $? "the checkpoints are reported on stderr"
# every checkpoint names the shards' sentencepiece model (nys-checkpoint(5))
fp=$(tokenize info "$T/wiki.tok" | sed -n 's/^fingerprint: //p')
for f in "$T"/a.ck/cp-0000.model "$T"/a.ck/cp-0002.cp; do
	python3 - "$f" <<'PY' > "$T/tokfp"
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
print(json.loads(f.read(n))["__metadata__"].get("nys_tokenizer", "none"))
PY
	is "$(cat "$T/tokfp")" "$fp" "$(basename "$f") carries the tokenizer fingerprint"
done

# The log: its keys, the loss falling, the schedule, the masking rate.
python3 - "$T/a.ck/pretrain_output.log" <<'PY' > "$T/logcheck"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
steps = [l for l in L if "loss" in l]
valid = [l for l in L if "valid_loss" in l]
keys = sorted(steps[0])
print("keys", " ".join(keys))
print("steps", len(steps), [s["idx"] for s in steps] == list(range(120)))
print("valid", len(valid), [v["epoch"] for v in valid])
first = sum(s["loss"] for s in steps[:10]) / 10
last = sum(s["loss"] for s in steps[-10:]) / 10
print("fall %.3f %.3f %d" % (first, last, first - last > 0.7))
# OneCycleLR, linear annealing, as torch computes it: the rate logged after
# step k is the schedule at k + 1 (rounded to 8 decimals, as the original
# logs it); beta1 is the one step k used (10 digits in the log); the
# optimizer's own test matches torch to the bit
total, peak, pct = 120, 2e-3, 0.1
init, low = peak / 25, peak / 25 / 1e4
end1, end2 = float(pct * total) - 1, total - 1
def sched(k):
    if k <= end1:
        p = k / end1
        return (peak - init) * p + init, (0.85 - 0.95) * p + 0.95
    p = (k - end1) / (end2 - end1)
    return (low - peak) * p + peak, (0.95 - 0.85) * p + 0.85
bad = []
for k in (0, 1, 5, 10, 11, 12, 60, 118, 119):
    lr, _ = sched(k + 1)
    _, b1 = sched(k)
    s = steps[k]
    if abs(s["learning_rate"] - round(lr, 8)) > 1e-12 or abs(s["beta1"] - b1) > 1e-9:
        bad.append((k, s["learning_rate"], lr, s["beta1"], b1))
print("sched", "ok" if not bad else bad)
print("beta1 %.9f %.9f %.9f" % (steps[0]["beta1"], steps[11]["beta1"], steps[119]["beta1"]))
# masking: 15% of the 62 ordinary positions of each sequence; the original
# logs valid_count (and batch_size_per_device) as the mean over the
# micro-batches, here two of 4 sequences
n = 4 * 62
mean = sum(s["valid_count"] for s in steps) / len(steps)
sd = (2 * n * 0.15 * 0.85) ** 0.5 / 2 / len(steps) ** 0.5
print("mask %.2f %.2f %d" % (mean, n * 0.15, abs(mean - n * 0.15) < 4 * sd))
print("inst", steps[-1]["inst_pass"], steps[0]["batch_size_per_device"])
PY
is "$(sed -n 1p "$T/logcheck")" "keys batch_idx batch_size_per_device beta1 epoch idx inst_pass learning_rate loss mlm_accu time time_since_start tokens_per_s valid_count" \
	"log lines carry the original's keys and tokens_per_s, beta1"
is "$(sed -n 2p "$T/logcheck")" "steps 120 True" "one log line per step, idx 0..119"
is "$(sed -n 3p "$T/logcheck")" "valid 3 [0, 1, 2]" "a validation line per epoch"
grep -q '^fall .* 1$' "$T/logcheck"; ok $? "the loss falls by more than 0.7 ($(sed -n 4p "$T/logcheck"))"
is "$(sed -n 5p "$T/logcheck")" "sched ok" "learning rate and beta1 are OneCycleLR's at chosen steps"
is "$(sed -n 6p "$T/logcheck")" "beta1 0.950000000 0.850000000 0.950000000" "beta1: 0.95 at step 0, 0.85 at the peak, back to 0.95"
grep -q '^mask .* 1$' "$T/logcheck"; ok $? "15% of the positions are chosen ($(sed -n 7p "$T/logcheck"))"
is "$(sed -n 8p "$T/logcheck")" "inst 960 4.0" "instances seen; batch_size_per_device is the micro-batch, as the original logs it"

run_cmd "$TR" --config "$T/a.json"
ok $rc "run again when all is done: exit 0"
grep -q "all 120 steps are done" "$T/err"; ok $? "... and says so"

# cmp_runs DIR: the final weights and the log's numbers equal run a's
cmp_runs() {
	cmp -s "$T/a.ck/cp-0002.model" "$1/cp-0002.model" || return 1
	cmp_cp "$T/a.ck/cp-0002.cp" "$1/cp-0002.cp" || return 1
	cmp_log "$T/a.ck/pretrain_output.log" "$1/pretrain_output.log"
}

# signal_at NAME LINES SIGNAL: run config NAME in the background and send
# it SIGNAL once its log has LINES lines (waiting at most a minute; polled
# often, so that on a loaded machine the signal still lands within the epoch)
signal_at() {
	"$TR" -q --config "$T/$1.json" &
	pid=$!
	for _ in $(seq 3000); do
		[ -f "$T/$1.ck/pretrain_output.log" ] && [ "$(wc -l < "$T/$1.ck/pretrain_output.log")" -ge "$2" ] && break
		sleep 0.02
	done
	kill "-$3" $pid 2> /dev/null
}

# ---- SIGKILL mid-epoch, resume ---------------------------------------------------
config b data
signal_at b 55 KILL 2> /dev/null
wait $pid 2> /dev/null
steps_before=$(grep -c '"loss"' "$T/b.ck/pretrain_output.log")
ls "$T/b.ck" | grep -q cp-0000.cp; ok $? "killed with SIGKILL after $steps_before steps (epoch 1), cp-0000 exists"
run_cmd "$TR" --config "$T/b.json"
ok $rc "the next run resumes and finishes"
# (the kill lands in epoch 1, or on a fast machine perhaps in epoch 2)
grep -qE "resumed from $T/b.ck/cp-000(0.cp \(step 40|1.cp \(step 80) of 120\)" "$T/err"
ok $? "it resumed from the last epoch checkpoint: $(grep resumed "$T/err")"
cmp_runs "$T/b.ck"; ok $? "the resumed run ends bitwise equal to the uninterrupted one (weights, moments, log)"

# ---- SIGTERM: finish the step, checkpoint, exit 0 --------------------------------
config c data
signal_at c 12 TERM
wait $pid
is "$?" 0 "SIGTERM: exit 0"
stop=$(ls "$T/c.ck" | grep '^stop-')
n=$(grep -c '"loss"' "$T/c.ck/pretrain_output.log")
is "$stop" "$(printf 'stop-%08d.cp' "$n")" "SIGTERM: a stop checkpoint after the last logged step ($n)"
run_cmd "$TR" --config "$T/c.json"
ok $rc "resume after SIGTERM"
ls "$T/c.ck" | grep -q '^stop-'; ok $((!$?)) "the stop checkpoint is gone once an epoch checkpoint supersedes it"
cmp_runs "$T/c.ck"; ok $? "stopped by SIGTERM and resumed: bitwise equal"

# ---- --steps, --keep ---------------------------------------------------------------
config d data
run_cmd "$TR" --config "$T/d.json" --steps 50 --keep 1
ok $rc "--steps 50: exit 0"
is "$(ls "$T/d.ck" | tr '\n' ' ')" "cp-0000.cp cp-0000.model pretrain_output.log stop-00000050.cp " "--steps 50: cp-0000 and stop-00000050.cp"
run_cmd "$TR" --config "$T/d.json" --keep 1
ok $rc "resume from stop-00000050.cp"
grep -q "resumed from $T/d.ck/stop-00000050.cp (step 50 of 120)" "$T/err"; ok $? "it resumed at step 50"
is "$(ls "$T/d.ck" | tr '\n' ' ')" "cp-0002.cp cp-0002.model pretrain_output.log " "--keep 1 keeps the newest epoch checkpoint"
cmp_runs "$T/d.ck"; ok $? "--steps then resumed: bitwise equal"

# ---- the progress line: on a terminal only --------------------------------------
grep -q "tokens/s" "$T/err.$(( _nrun ))"; ok $((!$?)) "no progress line when stderr is not a terminal"
if command -v script > /dev/null; then
	config p data
	script -qc "'$TR' --config '$T/p.json' --steps 3" /dev/null > "$T/tty" 2>&1
	tr '\r' '\n' < "$T/tty" | grep -q "^step 3/120  epoch 0  loss [0-9.]*  [0-9]* tokens/s  ETA [0-9]*:[0-9][0-9]:[0-9][0-9]"
	ok $? "on a terminal: a progress line with step, loss, tokens/s and ETA"
else
	skip "script (util-linux) not found: no terminal for the progress line"
fi

# ---- the model uses its context -------------------------------------------------------
# Arithmetic sequences (start s, step 1 to 3, ids 5..199): a masked id is
# determined by its neighbours, while the ids alone (their unigram
# distribution) leave ln 195 = 5.27 nats.  A model whose attention, conv or
# embedding gradients were wrong stays near 5.27.
arith_ids 5 3000 62 > "$T/ar.ids"
"${NYS_TESTBIN:?}/mktok" -v 1000 -o "$T/ar.tok" "$T/ar.ids" &&
	shard -n 64 -q -k 64 -o "$T/ar" "$T/ar.tok"
config e ar pretraining_setting.batch_size=16 pretraining_setting.learning_rate=5e-3 \
	pretraining_setting.batches_per_epoch=50 pretraining_setting.epoch=4 \
	pretraining_setting.validate_batches_per_epoch=4 gpu_setting.inst_per_gpu=16
run_cmd "$TR" --config "$T/e.json"
ok $rc "200 steps on arithmetic sequences"
vl=$(grep valid_loss "$T/e.ck/pretrain_output.log" | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["valid_loss"])')
python3 -c "import sys; sys.exit(0 if $vl < 4.3 else 1)"
ok $? "validation loss $vl < 4.3, far below the 5.27 of the ids alone"

# ---- from_cp: a 128-token model from the 64-token one ---------------------------------
shard -n 128 -q -k 32 -o "$T/data128" "$T/wiki.tok"
config f data128 model.max_seq_len=128 model.seq_len=128 "from_cp=\"$T/a.ck/cp-0002.model\""
run_cmd "$TR" --config "$T/f.json" --steps 1
ok $rc "from_cp: a max_seq_len 128 model starts from the 64-token checkpoint"
grep -q "warm start from $T/a.ck/cp-0002.model" "$T/err"; ok $? "... and says so"
config g data128 model.max_seq_len=128 model.seq_len=128
run_cmd "$TR" --config "$T/g.json" --steps 1
warm=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["loss"])' "$T/f.ck/pretrain_output.log")
cold=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["loss"])' "$T/g.ck/pretrain_output.log")
python3 -c "import sys; sys.exit(0 if $warm < $cold - 0.5 else 1)"
ok $? "the warm start's first loss ($warm) is well below a fresh model's ($cold)"
shard -n 96 -q -k 32 -o "$T/data96" "$T/wiki.tok"
config h data96 model.max_seq_len=96 model.seq_len=96 "from_cp=\"$T/a.ck/cp-0002.model\""
run_cmd "$TR" --config "$T/h.json" --steps 1
grep -q "66 rows cannot be tiled into 98" "$T/err"
ok $? "from_cp: a position table that does not tile is refused ($?: $(cat "$T/err"))"

# ---- failures ---------------------------------------------------------------------------
config i data
run_cmd "$TR" --config "$T/i.json" --device cuda
is "$rc" 1 "--device cuda without CUDA: exit 1"
grep -q "no CUDA backend" "$T/err"; ok $? "... saying there is no CUDA backend"

cp -r "$T/data" "$T/broken"
victim=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0])' "$T/broken/train.json")
head -c 300 "$T/broken/$victim" > "$T/cut" && mv "$T/cut" "$T/broken/$victim"
config j broken
run_cmd "$TR" --config "$T/j.json"
is "$rc" 1 "a truncated shard: exit 1"
grep -q "$victim" "$T/err"; ok $? "the truncated shard is named: $(head -c 200 "$T/err")"
rm "$T/broken/$victim"
run_cmd "$TR" --config "$T/j.json"
is "$rc" 1 "a missing shard: exit 1"
grep -q "$victim" "$T/err"; ok $? "the missing shard is named"

config k data pretraining_setting.learning_rate=900
run_cmd "$TR" --config "$T/k.json"
is "$rc" 1 "a diverging run (lr 900) stops with exit 1"
grep -q "not finite" "$T/err"; ok $? "... saying the loss or a gradient is not finite: $(tail -n 1 "$T/err")"

config l data model.transformer_hidden_dim=128 "model_checkpoints=\"$T/a.ck\""
run_cmd "$TR" --config "$T/l.json"
is "$rc" 1 "resuming a folder of another model config: exit 1"
grep -q "another model config" "$T/err"; ok $? "... naming the reason"

echo '{"model": {}}' > "$T/m.json"
run_cmd "$TR" --config "$T/m.json"
is "$rc" 1 "a config without the model's keys: exit 1"
grep -q "m.json: model" "$T/err"; ok $? "... naming the file and key: $(head -n 1 "$T/err")"

# ---- sizes from the config: refused before any allocation --------------------------------
# The tester's config: num_head x head_dim wrapped the parameter count to 59
# and nys_model_init wrote past the buffer.
config n data model.num_layers=1 model.num_head=59223231 model.head_dim=1202618447
run_cmd "$TR" --config "$T/n.json"
is "$rc" 1 "num_head 59223231, head_dim 1202618447: exit 1, no crash"
grep -q "n.json: model.num_head: 59223231 is too large" "$T/err"; ok $? "... naming the key: $(head -n 1 "$T/err")"
config n2 data model.num_head=4096 model.head_dim=65536
run_cmd "$TR" --config "$T/n2.json"
grep -q "model.num_head x model.head_dim: 4096 x 65536 = 268435456 is too large" "$T/err"
ok $? "a product of two keys past its limit names both: $(head -n 1 "$T/err")"
# Valid keys, but the feed-forward activations of 2048 x 64 tokens at width
# 2^18 alone take 2^39 bytes.
config n3 data model.transformer_hidden_dim=262144 model.num_layers=1 \
	pretraining_setting.batch_size=2048 gpu_setting.inst_per_gpu=2048
run_cmd "$TR" --config "$T/n3.json"
is "$rc" 1 "a model too large for this machine: exit 1"
grep -qE "n3.json: training this model needs [0-9]+ bytes .* this machine has [0-9]+" "$T/err"
ok $? "... with the bytes it would need: $(head -c 300 "$T/err")"
ls "$T/n3.ck" > /dev/null 2>&1; ok $((!$?)) "... refused before the checkpoint folder is made"

# ---- the vocabulary comes from the shards ------------------------------------------------
config v data model.vocab_size=50265 pretraining_setting.epoch=1 pretraining_setting.batches_per_epoch=2
run_cmd "$TR" --config "$T/v.json"
ok $rc "vocab_size 50265 on shards of a 1000-piece model: exit 0"
grep -q "the shards' vocabulary has 1000 pieces: using vocab_size 1000 instead of the config's 50265" "$T/err"
ok $? "... with a note on stderr"
python3 - "$T/v.ck/cp-0000.model" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
h = json.loads(b[8:8 + n])
sys.exit(0 if h["nystromformer.embeddings.word_embeddings.weight"]["shape"] == [1000, 64] else 1)
PY
ok $? "... and a word embedding table of 1000 rows"
"${NYS_TESTBIN:?}/mktok" -v 500 -o "$T/v500.tok" "$T/ar.ids" && shard -n 64 -q -k 64 -o "$T/v500" "$T/v500.tok"
config v2 v500 model.vocab_size=50265 pretraining_setting.epoch=2 pretraining_setting.batches_per_epoch=2 \
	"model_checkpoints=\"$T/v.ck\""
run_cmd "$TR" --config "$T/v2.json"
is "$rc" 1 "resuming a checkpoint of another vocabulary: exit 1"
grep -q "cp-0000.cp: made for another model config than .*: a vocabulary of 1000 pieces, the shards' has 500" "$T/err"
ok $? "... naming both vocabularies: $(tail -n 1 "$T/err")"

# ---- --keep counts only checkpoints that load --------------------------------------------
config q data "model_checkpoints=\"$T/q.ck\""
mkdir -p "$T/q.ck"
cp "$T/a.ck/cp-0000.cp" "$T/a.ck/cp-0000.model" "$T/a.ck/cp-0001.cp" "$T/a.ck/cp-0001.model" "$T/q.ck/"
head -c 5000 "$T/a.ck/cp-0001.cp" > "$T/q.ck/cp-0009.cp"
run_cmd "$TR" --config "$T/q.json" --keep 1
ok $rc "--keep 1 beside a junk cp-0009.cp: exit 0"
grep -q "skipping $T/q.ck/cp-0009.cp" "$T/err"; ok $? "resume skips the junk file"
is "$(ls "$T/q.ck" | tr '\n' ' ')" "cp-0002.cp cp-0002.model cp-0009.cp pretrain_output.log " \
	"the newest valid checkpoint is kept, the older pruned, the junk left alone"
run_cmd "$TR" --config "$T/q.json" --keep 1
grep -q "all 120 steps are done already" "$T/err"; ok $? "the next run finds the finished run, not a fresh start"

# ---- validation without dev shards; the checkpoint before validation ------------------
cp -r "$T/data" "$T/nodev"
echo '[]' > "$T/nodev/dev.json"
config w nodev pretraining_setting.epoch=1 pretraining_setting.batches_per_epoch=3
run_cmd "$TR" --config "$T/w.json"
ok $rc "an empty dev.json: exit 0 (the README's own pipeline makes one)"
grep -q "nodev/dev.json lists no sequences .*: no validation" "$T/err"; ok $? "... saying so at the start: $(grep dev.json "$T/err")"
[ -f "$T/w.ck/cp-0000.cp" ] && ! grep -q valid_loss "$T/w.ck/pretrain_output.log"
ok $? "... the epoch's checkpoint written, no validation logged"
rm "$T/nodev/dev.json"
config w2 nodev pretraining_setting.epoch=1 pretraining_setting.batches_per_epoch=3
run_cmd "$TR" --config "$T/w2.json"
ok $rc "no dev.json: exit 0"
grep -q "nodev/dev.json: no such file: no validation" "$T/err"; ok $? "... saying so, not silently"

# The epoch's checkpoint comes before its validation, so that nothing that
# fails in validation loses the epoch.
config x data pretraining_setting.epoch=2 pretraining_setting.batches_per_epoch=3
run_cmd "$TR" --config "$T/x.json" --steps 3
ok $rc "--steps 3: one epoch of 3 steps"
lc=$(grep -n "checkpoint $T/x.ck/cp-0000.cp" "$T/err" | cut -d: -f1)
lv=$(grep -n "epoch 0: validation loss" "$T/err" | cut -d: -f1)
[ -n "$lc" ] && [ -n "$lv" ] && [ "$lc" -lt "$lv" ]
ok $? "the checkpoint is written before the validation runs (stderr lines $lc, $lv)"
# A run killed after the checkpoint, in its validation: the log lacks it.
grep -v valid_loss "$T/x.ck/pretrain_output.log" > "$T/log.cut" && mv "$T/log.cut" "$T/x.ck/pretrain_output.log"
run_cmd "$TR" --config "$T/x.json"
ok $rc "resumed after a validation that did not finish: exit 0"
grep -q "resumed from $T/x.ck/cp-0000.cp" "$T/err"; ok $? "... from the epoch's checkpoint"
is "$(grep valid_loss "$T/x.ck/pretrain_output.log" | python3 -c 'import json,sys; print([json.loads(l)["epoch"] for l in sys.stdin])')" \
	"[0, 1]" "the validation of epoch 0 ran on resume, once, then epoch 1's"
run_cmd "$TR" --config "$T/x.json"
is "$(grep -c valid_loss "$T/x.ck/pretrain_output.log")" 2 "a run after the end validates nothing again"

done_testing
