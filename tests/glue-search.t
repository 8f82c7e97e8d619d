#!/bin/bash
# make glue-search and glue-summary (pipeline/glue.mk) with a stub in place
# of nys-eval glue: the grid's runs, each a file target, run in the model
# folder with the flags of the authors' sweep; a run that fails leaves no
# result and the next sweep runs only it; a finished sweep does nothing;
# -j runs them in parallel; the summary table has the best run per task.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
# a make of its own, not the one running the tests (its -j, its variables)
unset MAKEFLAGS MFLAGS MAKELEVEL
MK=(make --no-print-directory -C "$TOP")

# the stub: records its folder and flags, fails for STUB_FAIL (an lr), and
# prints nys-eval glue's summary line (a score from lr and batch size)
cat > "$T/stub" <<'SH'
#!/bin/bash
echo "$PWD $*" >> "$STUB_CALLS"
[ "$1" = glue ] || exit 2
shift
while [ $# -gt 0 ]; do
	case $1 in
	--task) task=$2 ;; --lr) lr=$2 ;; --batch_size) bs=$2 ;; --epoch) ep=$2 ;;
	--checkpoint) ck=$2 ;; *) shift; continue ;;
	esac
	shift 2
done
if [ "$lr" = "${STUB_FAIL:-none}" ]; then echo "stub: failing" >&2; exit 1; fi
sleep "${STUB_SLEEP:-0}"
echo "epoch 0 of $ep" >&2
score=$(awk -v l="$lr" -v b="$bs" -v t="$task" 'BEGIN { s = l * 1e4 + b / 1000; if (t == "RTE") s = 1 - s / 10; printf "%.4f", s }')
echo "some text first"
printf '{"task":"%s","checkpoint":"%s","best_score":%s,"best_epoch":%d,"last_score":%s}\n' \
	"$task" "$ck" "$score" $((ep - 1)) "$score"
SH
chmod +x "$T/stub"
mkdir "$T/model"
echo '{}' > "$T/model/config.json"
export STUB_CALLS=$T/calls
R=$T/model/glue-results

run_make() { run_cmd "${MK[@]}" "$@" NYS_EVAL="$T/stub" MODEL="$T/model"; }

# usage: MODEL and TASK are needed
run_cmd "${MK[@]}" glue-search TASK=MRPC NYS_EVAL="$T/stub"
[ $rc -ne 0 ] && grep -q "give MODEL=DIR" "$T/err"; ok $? "glue-search without MODEL: an error saying so"
run_make glue-search
[ $rc -ne 0 ] && grep -q "give TASK=NAME" "$T/err"; ok $? "glue-search without TASK: an error saying so"
[ ! -e "$T/calls" ]; ok $? "... and nothing ran"

# a sweep of two tasks in which the lr 4e-5 runs fail
STUB_FAIL=4e-5 run_make -k -j4 glue-search TASK="MRPC RTE"
[ $rc -ne 0 ]; ok $? "a sweep with failing runs fails"
is "$(wc -l < "$T/calls")" 16 "2 tasks x the authors' 4 learning rates x 2 batch sizes: 16 runs"
is "$(ls "$R" | tr '\n' ' ')" "glue-MRPC-99-2e-5-16-5.json glue-MRPC-99-2e-5-32-5.json glue-MRPC-99-3e-5-16-5.json glue-MRPC-99-3e-5-32-5.json glue-MRPC-99-5e-5-16-5.json glue-MRPC-99-5e-5-32-5.json glue-RTE-99-2e-5-16-5.json glue-RTE-99-2e-5-32-5.json glue-RTE-99-3e-5-16-5.json glue-RTE-99-3e-5-32-5.json glue-RTE-99-5e-5-16-5.json glue-RTE-99-5e-5-32-5.json " \
	"a result file for each run that ended well, none (nor a temporary) for those that failed"
grep -q "^$T/model glue --task MRPC --lr 3e-5 --batch_size 32 --epoch 5 --checkpoint 99\$" "$T/calls"
ok $? "runs in the model folder with run_glue.py's flags"
is "$(cat "$R/glue-MRPC-99-3e-5-32-5.json")" '{"task":"MRPC","checkpoint":"99","best_score":0.3320,"best_epoch":4,"last_score":0.3320}' \
	"the result is the summary line, the last of the run's stdout"

# resume: only the four failed runs, then nothing
: > "$T/calls"
run_make -j2 glue-search TASK="MRPC RTE"
ok $rc "the sweep again"
is "$(sort "$T/calls" | sed "s|^$T/model glue ||" | tr '\n' ';')" \
	"--task MRPC --lr 4e-5 --batch_size 16 --epoch 5 --checkpoint 99;--task MRPC --lr 4e-5 --batch_size 32 --epoch 5 --checkpoint 99;--task RTE --lr 4e-5 --batch_size 16 --epoch 5 --checkpoint 99;--task RTE --lr 4e-5 --batch_size 32 --epoch 5 --checkpoint 99;" \
	"... runs only the runs not done"
: > "$T/calls"
run_make -j2 glue-search TASK="MRPC RTE"
ok $rc "a third time"
[ ! -s "$T/calls" ]; ok $? "... runs nothing: every run's file is there"

# -j: the runs overlap (each sleeps 1 s: 4 runs in about 1 s with -j4, not 4)
t0=$(date +%s.%N)
STUB_SLEEP=1 run_make -j4 glue-search TASK=CoLA GLUE_LRS="1e-5 3e-5" GLUE_EPOCHS=3
t1=$(date +%s.%N)
ok $rc "a grid overridden: GLUE_LRS, GLUE_EPOCHS"
is "$(ls "$R" | grep -c '^glue-CoLA-99-[13]e-5-\(16\|32\)-3.json$')" 4 "... 2 lr x 2 batch sizes, 3 epochs in the names"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3.5) }'; ok $? "make -j4 runs them in parallel ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s for 4 runs of 1 s)"

# flags, another checkpoint (a path: its base name in the file name)
: > "$T/calls"
run_make glue-search TASK=WNLI GLUE_LRS=2e-5 GLUE_BATCHES=8 GLUE_CHECKPOINT=/x/ft.model GLUE_FLAGS="--seed 3 --pad longest"
grep -q -- "--checkpoint /x/ft.model --seed 3 --pad longest\$" "$T/calls" && [ -e "$R/glue-WNLI-ft-2e-5-8-5.json" ]
ok $? "GLUE_FLAGS are passed on; a checkpoint path is named by its base name"

# no JSON on stdout: an error, no result
cat > "$T/quiet" <<'SH'
#!/bin/sh
echo done
SH
chmod +x "$T/quiet"
run_cmd "${MK[@]}" glue-search NYS_EVAL="$T/quiet" MODEL="$T/model" TASK=QQP GLUE_LRS=1e-5 GLUE_BATCHES=32
[ $rc -ne 0 ] && grep -q "no JSON summary" "$T/err" && ! ls "$R" | grep -q QQP; ok $? "a run without a summary line fails and leaves no result"

# ---- the summary ------------------------------------------------------------
run_make glue-summary
ok $rc "glue-summary"
cat > "$T/want" <<'TXT'
task        score       lr  batch  epochs checkpoint   best_epoch     last  runs
CoLA       0.3320     3e-5     32       3 99                    2   0.3320     4
MRPC       0.5320     5e-5     32       5 99                    4   0.5320     8
RTE        0.9784     2e-5     16       5 99                    4   0.9784     8
WNLI       0.2080     2e-5      8       5 ft                    4   0.2080     1
TXT
diff "$T/want" "$T/out" > "$T/diff"; ok $? "one row a task, its best run, tasks sorted"
[ -s "$T/diff" ] && sed 's/^/# /' "$T/diff"
run_cmd perl "$TOP/pipeline/glue-summary.pl" --all "$R"
is "$(grep -c '^MRPC' "$T/out") $(grep '^MRPC' "$T/out" | head -1 | awk '{print $3, $4}') $(grep '^MRPC' "$T/out" | tail -1 | awk '{print $3, $4}')" \
	"8 5e-5 32 2e-5 16" "--all: every run, best first"
# a summary with a "best" object of metrics (F1 and accuracy: their mean)
mkdir "$T/r2"
echo '{"task":"MRPC","best":{"epoch":2,"f1":0.9,"accuracy":0.8},"last":{"f1":0.5,"accuracy":0.5}}' > "$T/r2/glue-MRPC-9-1e-5-32-3.json"
run_cmd perl "$TOP/pipeline/glue-summary.pl" "$T/r2"
is "$(sed -n 2p "$T/out" | awk '{print $1, $2, $7, $8}')" "MRPC 0.8500 2 0.5000" "a best object: the mean of its metrics, its epoch"
# nys-eval glue's own shape: the scores by split (MNLI: matched first)
mkdir "$T/r4"
echo '{"task":"MNLI","checkpoint":"9","last":{"dev_matched":{"accuracy":0.5},"dev_mismatched":{"accuracy":0.4}},"best":{"dev_matched":{"accuracy":0.6},"dev_mismatched":{"accuracy":0.1},"epoch":2}}' > "$T/r4/glue-MNLI-9-1e-5-32-3.json"
echo '{"task":"MRPC","checkpoint":"9","last":{"dev":{"accuracy":0.7,"f1":0.8}},"best":{"dev":{"accuracy":0.7,"f1":0.9},"epoch":3}}' > "$T/r4/glue-MRPC-9-1e-5-32-3.json"
run_cmd perl "$TOP/pipeline/glue-summary.pl" "$T/r4"
is "$(sed -n '2,3p' "$T/out" | awk '{print $1, $2, $7, $8}' | tr '\n' ';')" "MNLI 0.6000 2 0.5000;MRPC 0.8000 3 0.7500;" \
	"scores by split, as nys-eval glue writes them: the first split's metrics"
echo 'not json' > "$T/r2/glue-RTE-9-1e-5-32-3.json"
run_cmd perl "$TOP/pipeline/glue-summary.pl" "$T/r2"
[ $rc -ne 0 ] && grep -q "glue-RTE-9-1e-5-32-3.json: not a JSON summary" "$T/err"; ok $? "a damaged result file is named"
mkdir "$T/r3"
run_cmd perl "$TOP/pipeline/glue-summary.pl" "$T/r3"
[ $rc -ne 0 ] && grep -q "no runs" "$T/err"; ok $? "an empty results folder: no runs"

done_testing
