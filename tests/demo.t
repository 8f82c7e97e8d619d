#!/bin/bash
# make demo (pipeline/demo.mk) in a short form: the shipped sample through
# every stage, with a far smaller model than pipeline/configs/demo-nystrom
# (derived from it here: width 32, one layer, 2 epochs of 10 steps), a
# vocabulary of 1,000 and one GLUE epoch, into a scratch folder.  Every
# stage's output is checked (documents, tokens, shards and lists, the
# loss falling, the masked-LM lines, nys-eval glue's summary, the summary
# table, the PNG), then that make -q says up to date, that a second make
# demo rewrites nothing, that a changed config is seen, and make plot.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
# a make of its own, not the one running the tests (its -j, its variables)
unset MAKEFLAGS MFLAGS MAKELEVEL
D=$T/demo
C=$T/config.json

python3 - "$TOP/pipeline/configs/demo-nystrom/config.json" "$C" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"].update(embedding_dim=32, transformer_dim=32, transformer_hidden_dim=64,
                  num_layers=1, num_head=2, head_dim=16, num_landmarks=8,
                  conv_kernel_size=5, vocab_size=1000)
c["pretraining_setting"].update(batch_size=8, learning_rate=0.01, batches_per_epoch=10,
                                epoch=2, validate_batches_per_epoch=2)
c["gpu_setting"]["inst_per_gpu"] = 8
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
ok $? "a short demo config derived from demo-nystrom"

if command -v gnuplot > /dev/null 2>&1; then plot=1; else plot=0; fi
MK=(make --no-print-directory -C "$TOP" DEPS=0 DEMO_DIR="$D" DEMO_BIN="$BIN" DEMO_CONFIG="$C"
    DEMO_VOCAB=1000 DEMO_GLUE_EPOCHS=1 DEMO_GLUE_BATCH=16 DEMO_THREADS=2 DEMO_PLOT=$plot)

"${MK[@]}" demo > "$T/demo.out" 2>&1
rc=$?
ok $rc "make demo (short form) exits 0"
[ $rc = 0 ] || sed 's/^/# /' "$T/demo.out"

# a line a stage, and nys-train's line an epoch, as it went
n=$(grep -c '^demo: ' "$T/demo.out")
[ "$n" -ge 9 ]
ok $? "a line a stage on the way ($n)"
grep -q '^demo:   epoch 1: validation loss' "$T/demo.out"
ok $? "nys-train's line for each epoch is shown"

# 1-2. documents
docs() { awk 'BEGIN { RS = ""; n = 0 } { n++ } END { print n }' "$1"; }
is "$(docs "$D/wiki.txt")" 30 "wiki.txt: the sample's 30 articles as documents"
grep -q '30 documents read, 30 kept' "$D/wiki.txt.log"
ok $? "preprocess kept all 30"
is "$(docs "$D/book.txt")" 1 "book.txt: the book as one document"

# 3-4. the vocabulary and the token streams
[ -s "$D/spm.model" ] && [ -s "$D/spm.vocab" ] && [ "$(wc -l < "$D/spm.vocab")" = 1000 ]
ok $? "tokenize train: spm.model and a vocabulary of 1,000 pieces"
"$BIN/tokenize" info "$D/wiki.tok" > "$T/winfo" && "$BIN/tokenize" info "$D/book.tok" > "$T/binfo"
ok $? "tokenize info reads both token streams"
wt=$(sed -n 's/^tokens: //p' "$T/winfo")
bt=$(sed -n 's/^tokens: //p' "$T/binfo")
is "$(sed -n 's/^documents: //p' "$T/winfo") $(sed -n 's/^vocab_size: //p' "$T/winfo")" "30 1000" \
	"wiki.tok: 30 documents in the vocabulary of 1,000"
[ "${wt:-0}" -gt 100000 ] && [ "${bt:-0}" -gt 30000 ]
ok $? "the streams hold the sample's tokens (wiki $wt, book $bt)"

# 5. shards of 128 with both lists
"$BIN/shard" verify "$D/shards" > "$T/verify" 2>&1
ok $? "shard verify: the demo's shards and lists are whole"
grep -q '128 tokens a sequence' "$D/shards.txt"
ok $? "the shards hold 128-token sequences"
ns=$(ls "$D"/shards/*.shard | wc -l)
seqs=$(sed -n 's/.*: ok, [0-9]* shards, \([0-9]*\) sequences.*/\1/p' "$D/shards.txt")
[ "$ns" -ge 10 ] && [ "$seqs" = $(((wt / 126) + (bt / 126))) ]
ok $? "$ns shards (wiki and book), $seqs sequences: every whole block of 126 tokens"
dev=$(sed -n 's/.*dev\.json \([0-9]*\).*/\1/p' "$D/shards.txt" | head -n 1)
[ "${dev:-0}" -ge 1 ]
ok $? "dev.json lists shards for validation ($dev)"

# 7. pretraining: every step logged, the loss fell
L=$D/nystrom/model/pretrain_output.log
python3 - "$L" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = [r for r in rows if "loss" in r]
valid = [r for r in rows if "valid_loss" in r]
assert len(steps) == 20, len(steps)
assert len(valid) == 2, len(valid)
first = steps[0]["loss"]
last = sum(r["loss"] for r in steps[-5:]) / 5
assert last < first - 0.5, (first, last)
assert valid[1]["valid_loss"] < valid[0]["valid_loss"], valid
PY
ok $? "pretraining: 20 steps, 2 validations, the loss fell"
is "$(cat "$D/nystrom/pretrained")" "$D/nystrom/model/cp-0001.model" "pretrained names the last epoch's checkpoint"

# 8. masked-LM validation: a line an epoch, the numbers nys-train logged
python3 - "$D/mlm.jsonl" "$L" <<'PY'
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
v = [r for r in map(json.loads, open(sys.argv[2])) if "valid_loss" in r]
assert [r["epoch"] for r in m] == [0, 1], m
for a, b in zip(m, v):
    assert abs(a["valid_loss"] - b["valid_loss"]) < 1e-4, (a, b)
    assert a["valid_count"] > 0
assert m[1]["valid_mlm_accu"] > 1 / 1000, m      # above chance: 1 of 1000
PY
ok $? "nys-eval mlm: epochs 0 and 1, as nys-train validated them, accuracy above chance"

# 9. GLUE
python3 - "$D/glue-WNLI.json" <<'PY'
import json, sys
g = json.loads(open(sys.argv[1]).read())
assert g["task"] == "WNLI" and g["epochs"] == 1, g
acc = g["best"]["dev"]["accuracy"]
assert 0 <= acc <= 1, acc
PY
ok $? "nys-eval glue: WNLI's summary line with its dev accuracy"

# 11. the summary's numbers are the files'
S=$D/summary.txt
grep -q "^wiki documents: 30 kept of 30 articles$" "$S" && grep -q "^tokens: $((wt + bt)) (wiki $wt, book $bt)$" "$S" \
	&& grep -q "^shards: $ns of 128 tokens, $seqs sequences" "$S" && grep -q '^pretraining: 20 steps, 2 epochs' "$S" \
	&& grep -q '^mlm: epoch 0 loss .* epoch 1 loss' "$S" && grep -q '^glue WNLI: best epoch 1: accuracy 0\.' "$S"
ok $? "summary.txt: documents, tokens, shards, pretraining, mlm and GLUE lines"
tail -n "$(wc -l < "$S")" "$T/demo.out" | cmp -s - "$S"
ok $? "make demo ends by printing the summary"

# 10. the curve
if [ $plot = 1 ]; then
	[ "$(head -c 8 "$D/curve.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
	ok $? "curve.png is a PNG"
	grep -q "^curve: $D/curve.png$" "$S"
	ok $? "the summary names the curve"
else
	skip "gnuplot not installed: no curve.png to check (apt-get install gnuplot-nox)"
	skip "gnuplot not installed"
fi

# up to date afterwards; a second run rewrites nothing
"${MK[@]}" -q demo
ok $? "make -q demo: up to date after the run"
env -u DEPS make --no-print-directory -C "$TOP" -q demo DEMO_DIR="$D" DEMO_BIN="$BIN" DEMO_CONFIG="$C" "${MK[@]:8}"
ok $? "and without DEPS=0 too"
find "$D" -type f -printf '%p %T@\n' | sort > "$T/before"
"${MK[@]}" demo > "$T/demo2.out" 2>&1
ok $? "a second make demo exits 0"
find "$D" -type f -printf '%p %T@\n' | sort | cmp -s - "$T/before"
ok $? "and rewrites nothing"
grep -q '^demo: ' "$T/demo2.out"
is $? 1 "no stage runs again"
tail -n "$(wc -l < "$S")" "$T/demo2.out" | cmp -s - "$S"
ok $? "it prints the summary again"
"${MK[@]}" -n demo > "$T/dry" 2>&1
ok $? "make -n demo after a run exits 0"

# without DEPS=0 the package step comes first: demo is one of setup.mk's
# goals for it (make -n runs it not); -n writes nothing
env -u DEPS make --no-print-directory -C "$TOP" -n demo DEMO_DIR="$T/fresh" DEMO_BIN="$BIN" > "$T/dry2" 2>&1
ok $? "make -n demo on a fresh folder exits 0"
env -u DEPS make --no-print-directory -C "$TOP" -pn demo DEMO_DIR="$T/fresh" DEMO_BIN="$BIN" 2> /dev/null |
	grep -Eq '^DEPS_GOALS = (.* )?demo( |$)'
ok $? "and the package step runs first for the demo goal (setup.mk's DEPS_GOALS)"
[ ! -e "$T/fresh" ]
ok $? "and writes nothing"

# a changed config makes the run stale (and only what follows it)
touch "$C"
"${MK[@]}" -q demo
is $? 1 "make -q demo: not up to date once the config changed"
"${MK[@]}" -q "$D/shards.txt"
ok $? "the shards still are"

# make plot on the demo's run folder
if [ $plot = 1 ]; then
	"${MK[@]}" plot MODEL="$D/nystrom" > "$T/plot.out" 2>&1
	ok $? "make plot MODEL=DIR exits 0"
	[ "$(head -c 4 "$D/nystrom/curves.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ]
	ok $? "DIR/curves.png is a PNG"
	"${MK[@]}" -q plot MODEL="$D/nystrom"
	is $? 1 "make -q plot: plot is a command (phony), the PNG a file target"
	"${MK[@]}" -q "$D/nystrom/curves.png" MODEL="$D/nystrom"
	ok $? "and the PNG is up to date"
else
	for i in 1 2 3 4; do skip "gnuplot not installed: make plot"; done
fi
"${MK[@]}" plot > "$T/out" 2> "$T/err"
is $? 2 "make plot without MODEL: a usage error"
grep -q 'give MODEL=DIR' "$T/err"
ok $? "which says what to give"
printf '{"epoch":0,"idx":10,"valid_loss":5.0,"valid_mlm_accu":0.1}\n' > "$T/nosteps.log"
sh "$TOP/pipeline/plot.sh" "$T/nosteps.log" "$T/x.png" 2> "$T/err"
is $? 1 "plot.sh: a log without steps is an error"
[ ! -e "$T/x.png" ]
ok $? "and writes no picture"
sh "$TOP/pipeline/plot.sh" > /dev/null 2>&1
is $? 2 "plot.sh without operands: a usage error"
done_testing
