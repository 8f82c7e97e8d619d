#!/bin/bash
# The CUDA backend from the programs' side (kernels/README.md): without a
# GPU, --device cuda is a clear error (exit 1, "cuda: ..."), never a crash,
# and auto trains on the CPU without a word about CUDA; with one, auto says
# it uses it and tests/gpu/train.sh compares nys-train on cuda with cpu
# (within float32 rounding, bitwise on cuda twice, resumed across devices).
# The script itself is proven here on the CPU (NYS_GPU_DEVICE=cpu), and
# tests/gpu/run --dry-run checks that the GPU machine's script has what it
# needs.  Random token shards (mktok, shard): no shared data needed.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
TB=${NYS_TESTBIN:?}
TR=$BIN/nys-train

run_cmd bash "$TOP/tests/gpu/run" --dry-run
ok $rc "tests/gpu/run --dry-run: binaries and scripts present, phases parse"
grep -q "GPU phases skipped" "$T/out"; ok $? "... and it says the GPU phases were skipped"
sed 's/^/# /' "$T/out"
# on stderr, which prove shows: make check says so without -v
echo "tests/gpu.t: tests/gpu/run's GPU phases skipped here (dry run; run it on a GPU machine)" >&2

"$TB/mktok" -r 40000 -z -v 1000 -o "$T/r.tok" && "$BIN/shard" -n 64 -q -k 32 -o "$T/data" "$T/r.tok"
ok $? "random token shards (mktok, shard-64)"
python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/c.json" "$T/data" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"], c["model_checkpoints"] = sys.argv[3], sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=4, batches_per_epoch=20, epoch=1,
                                validate_batches_per_epoch=1)
c["gpu_setting"] = {"inst_per_gpu": 4}
json.dump(c, open(sys.argv[2], "w"))
PY

if probe=$("$TB/gpu_step" --probe); then
	run_cmd env -u NYS_DEVICE "$TR" --config "$T/c.json" --steps 1
	ok $rc "a GPU ($probe): --device auto trains"
	grep -q "^nys-train: using cuda: " "$T/err"; ok $? "... and says it uses the GPU"
	run_cmd bash "$TOP/tests/gpu/train.sh" "$T/train"
	ok $rc "tests/gpu/train.sh: nys-train on cuda against cpu"
	sed 's/^/# /' "$T/out"
else
	echo "# $probe"
	echo "tests/gpu.t: $probe: the cuda runs of nys-train skipped" >&2
	run_cmd "$TR" --config "$T/c.json" --device cuda --steps 1
	is "$rc" 1 "no GPU: --device cuda exits 1"
	grep -q "^nys-train: cuda: no usable GPU (.*)\|^nys-train: cuda: this build has no CUDA backend" "$T/err"
	ok $? "... saying there is no usable GPU, and why ($(head -n 1 "$T/err"))"
	run_cmd env NYS_DEVICE=cuda "$TR" --config "$T/c.json" --steps 1
	is "$rc" 1 "no GPU: NYS_DEVICE=cuda exits 1 too"
	grep -q "^nys-train: cuda: " "$T/err"; ok $? "... with the same message"
	run_cmd env -u NYS_DEVICE "$TR" --config "$T/c.json" --steps 1
	ok $rc "no GPU: --device auto trains on the CPU"
	grep -q "cuda" "$T/err"; is "$?" 1 "... without a word about CUDA"
	skip "no GPU: nys-train on cuda against cpu (tests/gpu/train.sh) skipped"
fi
run_cmd env NYS_GPU_DEVICE=cpu bash "$TOP/tests/gpu/train.sh" "$T/selftest"
ok $rc "tests/gpu/train.sh itself, on the CPU for both devices: every row ok"
grep -q "^cpu vs cuda *ok *48 tensors, worst relative difference 0.00e+00" "$T/out"
ok $? "... comparing the 48 tensors of the stop checkpoints"
done_testing
