#!/bin/bash
# The model, training and resume on the guarded CPU backend
# (libnys/cpu/guard.c: every backend buffer PROT_NONE outside the backend's
# calls), chosen by NYS_DEVICE=cpu-guarded: code outside the backend that
# reads or writes its memory directly faults there.  The model's unit tests
# and its golden tests print exactly what they print on the CPU backend;
# nys-train trains, and stops and resumes, to checkpoints bitwise equal to
# the plain CPU backend's.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TB=${NYS_TESTBIN:?}
TOP=${NYS_TOP:-$(dirname "$0")/..}
export PATH="$BIN:$PATH"
# the plain runs on the CPU backend even on a machine with a GPU (auto
# would take it); each guarded run names its own device
export NYS_DEVICE=cpu

# ---- the model's unit tests -----------------------------------------------------
# same_tap PROG: PROG's TAP on the guard is its TAP on the CPU (scratch
# directory names aside), every line ok
same_tap() {
	local scratch='s|/nys-[a-z_]*-[A-Za-z0-9]*/|/SCRATCH/|g' rc
	"$TB/$1" 2>&1 | sed "$scratch" > "$T/$1.cpu"
	NYS_DEVICE=cpu-guarded "$TB/$1" > "$T/$1.raw" 2>&1
	rc=$?
	sed "$scratch" "$T/$1.raw" > "$T/$1.guarded"
	n=$(grep -c '^ok' "$T/$1.guarded")
	if [ $rc -eq 0 ] && ! grep -q '^not ok' "$T/$1.guarded" && [ "$n" -gt 0 ] &&
		cmp -s "$T/$1.cpu" "$T/$1.guarded"; then
		return 0
	fi
	diff "$T/$1.cpu" "$T/$1.guarded" | head -20 | sed 's/^/# /'
	return 1
}
NYS_DEVICE=none "$TB/model" > "$T/none" 2>&1
grep -q '^not ok.*' "$T/none"; ok $? "model: NYS_DEVICE=none fails it (its models are made for the device the variable names)"
same_tap model; ok $? "model: the unit tests on cpu-guarded, the same $n results as on cpu"
same_tap model_golden; ok $? "model_golden: on cpu-guarded, the same $n results as on cpu"

# ---- training, stopping, resuming --------------------------------------------------
if ! have_shared; then
	skip "shared data not found: no training on cpu-guarded"
	done_testing
	exit
fi

wikiextract "$SHARED/wiki/enwiki-2014-export08-180pages.xml.bz2" | preprocess -q -f wiki |
	tokenize encode -m "$SHARED/spm/sentencepiece-test-1k.model" |
	shard -n 64 -q -k 32 -o "$T/data"
ok $? "shards of 64 tokens: $(ls "$T/data" | grep -c shard)"

# run NAME [nys-train options]: the tiny Nystrom config, 2 epochs of 12
# steps in micro-batches, checkpoints in $T/NAME.ck
run() {
	local name=$1
	shift
	[ -f "$T/$name.json" ] ||
		python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/$name.json" "$T/data" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=8, batches_per_epoch=12, epoch=2,
                                batches_per_report=4, validate_batches_per_epoch=1)
c["gpu_setting"] = {"inst_per_gpu": 4}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
	run_cmd nys-train --config "$T/$name.json" "$@"
	[ $rc -eq 0 ] || sed 's/^/# /' "$T/err"
}

# same NAME: run NAME ended with run a's weights, training state and log
same() {
	cmp -s "$T/a.ck/cp-0001.model" "$T/$1.ck/cp-0001.model" &&
		cmp_cp "$T/a.ck/cp-0001.cp" "$T/$1.ck/cp-0001.cp" &&
		cmp_log "$T/a.ck/pretrain_output.log" "$T/$1.ck/pretrain_output.log"
}

run a --device cpu
ok $rc "nys-train on cpu: 2 epochs of 12 steps"
NYS_DEVICE=none run z
is "$rc" 1 "NYS_DEVICE=none: refused (the variable reaches the backend)"
grep -q 'NYS_DEVICE=none: expected cpu or cpu-guarded' "$T/err"; ok $? "... with a message"
NYS_DEVICE=cpu-guarded run b
ok $rc "nys-train on cpu-guarded"
same b; ok $? "cpu-guarded: the same weights, moments and log as cpu, bit for bit"

NYS_DEVICE=cpu-guarded run c --steps 7
ok $rc "cpu-guarded: stopped by --steps 7"
ls "$T/c.ck" | grep -q '^stop-00000007.cp$'; ok $? "... with stop-00000007.cp"
NYS_DEVICE=cpu-guarded run c
ok $rc "cpu-guarded: resumed"
grep -q "resumed from $T/c.ck/stop-00000007.cp (step 7 of 24)" "$T/err"; ok $? "... at step 7"
same c; ok $? "cpu-guarded, stopped and resumed: bitwise equal to the uninterrupted run on cpu"
cat "$T"/err.* "$T"/*.raw | grep -q 'Sanitizer\|runtime error'; is $? 1 "no sanitizer reports"

done_testing
