#!/bin/bash
# The CUDA backend from the programs' side (kernels/README.md): without a
# GPU, --device cuda is a clear error (exit 1, "cuda: ..."), never a crash,
# and auto trains on the CPU without a word about CUDA; with one, auto says
# it uses it and tests/gpu/train.sh compares nys-train on cuda with cpu
# (within float32 rounding, bitwise on cuda twice, resumed across devices).
# nys-eval forward and mlm take --device as glue does: cuda without a GPU
# is the same clear error, cpu runs; with a GPU, cuda's outputs are cpu's
# within float32 rounding.  The script itself is proven here on the CPU
# (NYS_GPU_DEVICE=cpu), tests/gpu/run --dry-run checks that the GPU
# machine's script has what it needs, its --self-test runs the benchmark
# phases with the CPU for the GPU (bench.sh's rows and the targets), and
# make gpu-pack's pack.sh is unpacked and run.  Random token shards
# (mktok, shard): no shared data needed.
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

gpu=0
if probe=$("$TB/gpu_step" --probe); then
	gpu=1
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

# ---- nys-eval forward and mlm: --device ---------------------------------------
EV=$BIN/nys-eval
"$EV" init --config "$T/c.json" -o "$T/init.model" &&
	"$BIN/shard" cat -n 3 "$T/data/data-00000.shard" > "$T/ids.txt"
ok $? "a fresh checkpoint and 3 id lines for nys-eval"
for sub in forward mlm; do
	if [ $sub = forward ]; then
		args=(forward --config "$T/c.json" --checkpoint "$T/init.model" --ids "$T/ids.txt")
	else
		args=(mlm --config "$T/c.json" --checkpoint "$T/init.model" --batches 1 -q)
	fi
	run_cmd "$EV" "${args[@]}" --device gpu -o "$T/$sub-x.out"
	is "$rc" 2 "nys-eval $sub --device gpu: a usage error"
	grep -q "^nys-eval: --device: expected cpu, cuda or auto, got 'gpu'" "$T/err"
	ok $? "... naming the three"
	run_cmd "$EV" "${args[@]}" --device cpu -o "$T/$sub-cpu.out"
	ok $rc "nys-eval $sub --device cpu runs"
	if [ $gpu -eq 1 ]; then
		run_cmd "$EV" "${args[@]}" --device cuda -o "$T/$sub-cuda.out"
		ok $rc "a GPU: nys-eval $sub --device cuda runs"
		python3 - "$T/$sub-cpu.out" "$T/$sub-cuda.out" <<'PY'
import array, json, sys
def values(p):
    raw = open(p, "rb").read()
    if raw[:6] == b"\x93NUMPY":  # forward's .npy: its float32 data after the header
        n = int.from_bytes(raw[8:10], "little")
        a = array.array("f")
        a.frombytes(raw[10 + n:])
        return list(a)
    return [json.loads(l)["valid_loss"] for l in raw.decode().splitlines()]
a, b = values(sys.argv[1]), values(sys.argv[2])
big = max(abs(x) for x in a) or 1
worst = max(abs(x - y) for x, y in zip(a, b)) / big
print("# %d values, worst relative difference %.2e" % (len(a), worst))
sys.exit(0 if len(a) == len(b) and worst <= 1e-3 else 1)
PY
		ok $? "... within 1e-3 of the CPU's"
	else
		run_cmd "$EV" "${args[@]}" --device cuda -o "$T/$sub-cuda.out"
		is "$rc" 1 "no GPU: nys-eval $sub --device cuda exits 1"
		grep -q "^nys-eval: cuda: no usable GPU (.*)\|^nys-eval: cuda: this build has no CUDA backend" "$T/err"
		ok $? "... saying there is no usable GPU ($(head -n 1 "$T/err"))"
		[ ! -e "$T/$sub-cuda.out" ]; ok $? "... and writing no output"
	fi
done
grep -q '"valid_loss"' "$T/mlm-cpu.out"; ok $? "nys-eval mlm --device cpu: a validation line"
run_cmd "$EV" init --config "$T/c.json" --device cpu -o "$T/x.model"
is "$rc" 2 "nys-eval init takes no --device"

# ---- tests/gpu/run --self-test: the benchmark phases with the CPU for the GPU ----
run_cmd env BENCH_PYTHON=/nonexistent/python3 bash "$TOP/tests/gpu/run" --self-test \
	--phases "probe attn bench torch" --log "$T/runlog"
ok $rc "tests/gpu/run --self-test: probe, attn, bench and torch phases pass on the CPU"
sed 's/^/# /' "$T/out"
grep -q "^MFU = tokens/s x F / 989 TFLOP/s" "$T/out" && grep -q "^  F = 6 (L (3 C A" "$T/out"
ok $? "... the table says the MFU formula"
grep -q "^| nys     | nystrom-512  | fp32 |     2 |   128 | *[1-9][0-9]* | *0.00[0-9] |" "$T/out"
ok $? "... an fp32 row of nystrom-512 with tokens/s and FLOPs"
grep -q "^| nys     | nystrom-4096 | bf16 |     2 |   256 | not active: mixed_precision: true gave fp32's losses" "$T/out"
ok $? "... a bf16 run with fp32's losses (the CPU) says bf16 is not active"
grep -q "nystrom-512 in bf16 at 35% MFU" "$T/out"; ok $? "... the MFU target beside the table"
grep -q "^pytorch: skipped, no /nonexistent/python3" "$T/out"; ok $? "... the torch rows skip visibly without torch"
grep -q "^==== summary ====" "$T/out" && grep -q "^tests/gpu/run: all phases passed" "$T/out"
ok $? "... and a summary"
n=$(ls "$T/runlog" | wc -l)
[ "$n" -le 8 ]; ok $? "... at most 8 log files in --log ($n), as the device tool returns"
python3 "$TOP/tests/gpu/table.py" row "$T/c.json" 4 tiny-nystrom bf16 /dev/null /dev/null > "$T/row" 2>&1
grep -q "| tiny-nystrom | bf16 |     4 |    64 |         0 |" "$T/row"
ok $? "table.py: a bf16 row without losses to compare is measured, not called inactive"
python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import table
print(table.attn_row("nys", "nystrom", 8192, 0.5, 1.2, 10)); print(table.attn_row("nys", "nystrom", 8192, 1, 1.5, 10))' \
	"$TOP/tests/gpu" > "$T/attn"
grep -q "| < 2 ms: met |" "$T/attn" && grep -q "| < 2 ms: no  |" "$T/attn"
ok $? "table.py: the 2 ms target beside the n = 8192 row, met and not"

# ---- make gpu-pack's pack: the programs and their libraries, wrapped -----------
run_cmd bash "$TOP/tests/gpu/pack.sh" "$T/pack/nys-gpu.tar.gz" "$BIN" "$TB" "${NYS_BENCHBIN:-$TOP/build/bench}"
ok $rc "tests/gpu/pack.sh: $(cat "$T/out")"
mkdir -p "$T/unpack" && tar -C "$T/unpack" -xzf "$T/pack/nys-gpu.tar.gz"
P=$T/unpack/nys-gpu
ls "$P/lib/libopenblas.so.0" "$P/lib/libjansson.so.4" > /dev/null && [ ! -e "$P/lib/libc.so.6" ]
ok $? "... with OpenBLAS and jansson, without the C library"
"$P/bin/nys-train" --version | grep -q "^nys-train " && "$P/tests/mktok" -r 100 -v 50 -o "$T/p.tok"
ok $? "... whose wrappers run the programs"
missing=$(LD_LIBRARY_PATH=$P/lib ldd "$P/libexec/nys-train" | awk '/=>/ && $3 !~ /^\/(lib|usr)/ && $3 !~ /unpack/ { print $1 }')
is "$missing" "" "... every library of nys-train from the pack or the system"
run_cmd bash "$TOP/tests/gpu/run" --dry-run --pack "$T/pack/nys-gpu.tar.gz"
ok $rc "tests/gpu/run --dry-run --pack: the packed programs start ($(tail -n 2 "$T/out" | head -n 1))"

run_cmd env NYS_GPU_DEVICE=cpu bash "$TOP/tests/gpu/train.sh" "$T/selftest"
ok $rc "tests/gpu/train.sh itself, on the CPU for both devices: every row ok"
grep -q "^cpu vs cuda *ok *48 tensors, worst relative difference 0.00e+00" "$T/out"
ok $? "... comparing the 48 tensors of the stop checkpoints"
done_testing
