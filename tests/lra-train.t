#!/bin/bash
# nys-lra train (nys-lra(1)): a seeded tiny run on short generated ListOps
# beats the majority class by at least 5 points; a run stopped by
# --stop-at (and one stopped by SIGTERM) and resumed ends bitwise equal to
# one that never stopped; every test record is scored; Reformer runs, with
# its hashing from the config, and has its row; --device cuda and bad
# options fail clearly; `make lra-table` on fake results and `make
# lra`'s commands.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
L=$BIN/nys-lra
export OMP_WAIT_POLICY=passive

# ---- options ---------------------------------------------------------------------
run_cmd "$L" train --help
ok $rc "train --help exits 0"
grep -q '^usage: nys-lra train' "$T/out"; ok $? "train --help prints its usage"
missing=""
for opt in $("$L" train --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
	grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/nys-lra.1" || missing="$missing $opt"
done
is "$missing" "" "nys-lra train: every option in --help is in nys-lra.1"
for bad in "listops" "listops --attn reformer-0" "listops --attn nystrom-0" "chess --attn linear" \
	"listops --attn linear --device gpu" "listops text --attn linear" "listops --attn linear --batch 0"; do
	# shellcheck disable=SC2086
	run_cmd "$L" train $bad
	is "$rc" 2 "train $bad: a usage error"
done

# ---- data: short generated ListOps -------------------------------------------------------
run_cmd "$L" gen listops -o "$T/src" --seed 1 --train 3000 --dev 300 --test 301 --min-len 10 \
	--max-len 60 --max-depth 3 --max-args 4
ok $rc "gen listops: 3000/300/301 short trees"
run_cmd "$L" prepare listops "$T/src" -o "$T/lo"
ok $rc "prepare listops"
cat > "$T/tiny.json" <<'JSON'
{"task": "listops",
 "model": {"embedding_dim": 64, "transformer_dim": 64, "transformer_hidden_dim": 128, "head_dim": 32,
           "num_head": 2, "num_layers": 2, "max_seq_len": 64, "dropout_prob": 0.1,
           "attention_dropout": 0.1, "pooling_mode": "MEAN"},
 "training": {"batch_size": 32, "learning_rate": 0.001, "warmup": 20, "lr_decay": "linear",
              "weight_decay": 0, "eval_frequency": 50, "num_train_steps": 150}}
JSON
# the majority class of test
maj=$(tail -n +2 "$T/src/basic_test.tsv" | tr -d '\r' | cut -f2 | sort | uniq -c | sort -rn |
	awk 'NR == 1 { print $1 }')
field() { sed -n "s/.*\"$2\": *\\([-0-9.e]*\\).*/\\1/p" "$1" | head -1; }

# ---- a tiny run learns ------------------------------------------------------------------
run_cmd "$L" train listops --attn nystrom-8 --data "$T/lo" --config "$T/tiny.json" -o "$T/run" --seed 3
ok $rc "train listops --attn nystrom-8: 150 steps of 32 (exit $rc: $(tail -1 "$T/err"))"
acc=$(field "$T/run/result.json" test_accuracy)
cnt=$(field "$T/run/result.json" test_count)
is "$cnt" 301 "every test record is scored (301, a partial last batch of 13)"
margin=$(echo "$acc * 100 - $maj * 100 / 301" | bc -l)
echo "# test accuracy $acc, majority class $maj/301, margin $(printf %.1f "$margin") points"
[ "$(echo "$margin >= 5" | bc)" = 1 ]; ok $? "beats the majority class by at least 5 points ($(printf %.1f "$margin"))"
n=$(grep -c '"valid_loss"' "$T/run/lra.log")
is "$n" 3 "dev scored every 50 steps"
[ -s "$T/run/best.model" ]; ok $? "best.model kept"

# ---- the best model compares dev accuracies, not counts: a resume with another --dev-max -------
run_cmd "$L" train listops --attn nystrom-8 --data "$T/lo" --config "$T/tiny.json" -o "$T/dm" --seed 3 \
	--stop-at 50 -q
ok $rc "dev on all 300 records, stopped at step 50"
run_cmd "$L" train listops --attn nystrom-8 --data "$T/lo" --config "$T/tiny.json" -o "$T/dm" --seed 3 \
	--dev-max 100 -q
ok $rc "resumed with --dev-max 100 to the end"
b50=$(grep '"valid_count":300' "$T/dm/lra.log" | sed -n 's/.*"valid_accuracy":\([0-9.e-]*\).*/\1/p' | head -1)
late=$(grep '"valid_count":100' "$T/dm/lra.log" | grep '"best":true' | tail -1 |
	sed -n 's/.*"valid_accuracy":\([0-9.e-]*\).*/\1/p')
top=$(grep '"valid_count":100' "$T/dm/lra.log" | sed -n 's/.*"valid_accuracy":\([0-9.e-]*\).*/\1/p' | sort -g | tail -1)
echo "# dev accuracy at step 50 (300 records) $b50; after the resume (100 records) at most $top"
if [ "$(echo "$top > $b50" | bc -l)" = 1 ]; then
	is "$late" "$top" "a better accuracy on fewer records becomes the best model"
	is "$(field "$T/dm/result.json" dev_accuracy)" "$top" "result.json's dev accuracy is the best one's"
else
	ok 1 "no accuracy after the resume beat step 50's: nothing to check # SKIP"
	ok 1 "# SKIP"
fi

# ---- resume equals uninterrupted ------------------------------------------------------------
args=(train listops --attn linear --data "$T/lo" --config "$T/tiny.json" --batch 8 --steps 40
	--eval-every 20 --seed 5 -q)
run_cmd "$L" "${args[@]}" -o "$T/full"
ok $rc "uninterrupted run of 40 steps"
run_cmd "$L" "${args[@]}" -o "$T/part" --stop-at 30
ok $rc "the same stopped at step 30 (exit 0, a checkpoint)"
[ ! -e "$T/part/result.json" ] && ls "$T/part"/stop-*.cp > /dev/null 2>&1
ok $? "a stop checkpoint and no result yet"
run_cmd "$L" "${args[@]}" -o "$T/part"
ok $rc "resumed to the end"
cmp -s "$T/full/best.model" "$T/part/best.model"; ok $? "best.model bitwise equal"
strip() { sed 's/"time":[0-9.e-]*,//; s/"tokens_per_s":[0-9.e]*//; s/"train_seconds":[0-9.e]*//' "$1"; }
diff <(strip "$T/full/lra.log") <(strip "$T/part/lra.log") > /dev/null
ok $? "the logs equal but for times"
# a SIGTERM mid-run resumes the same
"$L" "${args[@]}" -o "$T/sig" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
	[ -s "$T/sig/lra.log" ] && break
	sleep 0.02
done
kill -TERM "$pid" 2> /dev/null
wait "$pid"
is "$?" 0 "SIGTERM: exit 0"
run_cmd "$L" "${args[@]}" -o "$T/sig"
ok $rc "resumed after SIGTERM"
cmp -s "$T/full/best.model" "$T/sig/best.model"; ok $? "after SIGTERM: best.model bitwise equal"

# a resume with another --eval-every (the checkpoints' period) is refused, and the run's
# files stay as they were; so is a folder whose only checkpoint is damaged
cp -r "$T/part" "$T/period"
rm -f "$T/period/result.json" "$T/period"/stop-*.cp
before=$(cksum "$T/period/lra.log")
run_cmd "$L" train listops --attn linear --data "$T/lo" --config "$T/tiny.json" --batch 8 --steps 40 \
	--eval-every 10 --seed 5 -q -o "$T/period"
is "$rc" 1 "resume with another --eval-every: exit 1"
grep -q 'another checkpoint period' "$T/err"; ok $? "... saying why ($(tail -1 "$T/err"))"
is "$(cksum "$T/period/lra.log")" "$before" "... and the log is left as it was"
mkdir -p "$T/junk"
head -c 3000 "$(ls "$T/full"/cp-*.cp | head -1)" > "$T/junk/cp-0000.cp"
echo '{"idx":0}' > "$T/junk/lra.log"
run_cmd "$L" "${args[@]}" -o "$T/junk"
is "$rc" 1 "a folder whose only checkpoint is damaged: exit 1, no fresh start over it"
grep -q 'none of its 1 checkpoint can be resumed' "$T/err"; ok $? "... saying so ($(tail -1 "$T/err"))"
is "$(cat "$T/junk/lra.log")" '{"idx":0}' "... and its log is left as it was"

# ---- Reformer: LSH attention, 2 hash rounds, its hashing from the config ---------------------
sed 's/"pooling_mode": "MEAN"/"pooling_mode": "MEAN", "lsh_attn_chunk_length": 16, "num_buckets": 4/' \
	"$T/tiny.json" > "$T/tiny-lsh.json"
run_cmd "$L" train listops --attn reformer-2 --data "$T/lo" --config "$T/tiny-lsh.json" -o "$T/lsh" \
	--steps 20 --batch 8 --eval-every 10 --seed 2 -q
ok $rc "train listops --attn reformer-2: 20 steps of 8 (exit $rc: $(tail -1 "$T/err"))"
grep -q '"attn": *"reformer-2"' "$T/lsh/result.json" && [ "$(field "$T/lsh/result.json" test_count)" = 301 ]
ok $? "reformer-2: a result for every test record"
grep -aqF 'num_buckets\":4' "$T/lsh/best.model" && grep -aqF 'lsh_attn_chunk_length\":16' "$T/lsh/best.model"
ok $? "reformer-2: the config's buckets and chunk length are the model's"
run_cmd "$L" train listops --attn reformer-2 --data "$T/lo" --config "$T/tiny-lsh.json" -o "$T/lsh2" \
	--steps 20 --batch 8 --eval-every 10 --seed 2 -q --stop-at 15
run_cmd "$L" train listops --attn reformer-2 --data "$T/lo" --config "$T/tiny-lsh.json" -o "$T/lsh2" \
	--steps 20 --batch 8 --eval-every 10 --seed 2 -q
cmp -s "$T/lsh/best.model" "$T/lsh2/best.model" && cmp -s "$T/lsh/cp-0001.model" "$T/lsh2/cp-0001.model"
ok $? "reformer-2: stopped at 15 and resumed, bitwise the uninterrupted run"
mkdir -p "$T/fake-lsh/listops-reformer-2"
cp "$T/lsh/result.json" "$T/fake-lsh/listops-reformer-2/"
run_cmd make -s -C "$TOP" lra-table LRA_RUNS="$T/fake-lsh"
grep -qE '^\| Reformer \(2 hashes\) \| [0-9]+\.[0-9]{2} \| — \|' "$T/out"
ok $? "lra-table: a Reformer run fills its row"
run_cmd "$L" train listops --attn reformer-2 --data "$T/lo" --config "$T/tiny.json" -o "$T/lsh-cuda" --device cuda
is "$rc" 1 "reformer-2 --device cuda: exit 1"
grep -q 'cuda' "$T/err"; ok $? "reformer-2 --device cuda: says why ($(tail -1 "$T/err"))"

# ---- errors ------------------------------------------------------------------------------
run_cmd "$L" train listops --attn linformer-16 --data "$T/lo" --config "$T/tiny.json" -o "$T/cuda" --device cuda
is "$rc" 1 "--device cuda: exit 1"
grep -q 'cuda' "$T/err"; ok $? "--device cuda: says why ($(tail -1 "$T/err"))"
run_cmd "$L" train text --attn linear --data "$T/lo" --config "$T/tiny.json" -o "$T/x" --stop-at 1
is "$rc" 1 "a config of another task: exit 1"
run_cmd "$L" train listops --attn nystrom-128 --data "$T/lo" --config "$T/tiny.json" -o "$T/x2"
is "$rc" 1 "more landmarks than max_seq_len: exit 1"

# ---- make ---------------------------------------------------------------------------------
for r in listops-nystrom-64:0.3715 text-softmax:0.6502 listops-linear:0.2; do
	mkdir -p "$T/fake/${r%%:*}"
	t=${r%%-*} rest=${r#*-}
	printf '{"task": "%s", "attn": "%s", "test_accuracy": %s}\n' "$t" "${rest%%:*}" "${r##*:}" \
		> "$T/fake/${r%%:*}/result.json"
done
run_cmd make -s -C "$TOP" lra-table LRA_RUNS="$T/fake"
ok $rc "make lra-table on fake results"
grep -q '^| Nyströmformer (64) | 37.15 | — | — | — | — | — |$' "$T/out"; ok $? "lra-table: Nystrom's ListOps, — for the missing"
grep -q '^| standard (softmax) | — | 65.02 | — | — | — | — |$' "$T/out"; ok $? "lra-table: softmax's Text"
grep -q '^| linear | 20.00 |' "$T/out"; ok $? "lra-table: a row for another attention"
grep -q '^| Reformer (2 hashes) | — | — | — | — | — | — |$' "$T/out"; ok $? "lra-table: Reformer's row, — where it was not run"
is "$(wc -l < "$T/out")" 8 "lra-table: header, rule and six rows"
run_cmd make -s -n -C "$TOP" lra TASK=listops ATTN=linear LRA_RUNS="$T/runs" NYS_LRA=nys-lra
grep -q 'nys-lra train $task --attn $attn' "$T/out"; ok $? "make lra runs nys-lra train"
run_cmd make -s -C "$TOP" lra TASK=listops
is "$rc" 2 "make lra without ATTN: a usage error"
done_testing
