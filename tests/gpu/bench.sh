#!/bin/bash
# tests/gpu/bench.sh (make bench-gpu): nys-train on the GPU, tokens per
# second and model FLOP utilisation for the authors' nystrom-512 (BERT-base
# size) and nystrom-4096 configs, on random token shards (mktok, shard: no
# data needed), a few steps each; then the attention benchmark's rows
# where it is built (build/bench/attn_gpu).  Without a GPU it says so and
# skips (exit 0).
#
# MFU = tokens/s x F / peak, with F the model's FLOPs per token for the
# forward and backward (3 x the forward's 2 FLOPs per multiply-add):
#   F = 6 (L (3 C A + A C + 2 C I) + C^2 + r C V)           the products
#     + 6 L H (3 m D + m^2 + k D + (4 n m^3 + m^2 D) / T)  Nystrom attention
#     (softmax attention: + 6 L H 2 T D instead)
# L layers, C width, A = H D heads x head size, I the hidden size, V the
# vocabulary, r = 0.15 the masked rows the sparse MLM head scores, m
# landmarks, k the conv kernel, n the pseudo-inverse's iterations, T the
# sequence length; peak = 989 TFLOP/s, H100/H200 SXM's dense bf16 (the
# runs here are float32, whose peak is far lower: the column says how far
# from the bf16 target they are).
#
# Environment: BENCH_GPU_STEPS (default 6), BENCH_GPU_BATCH512 (32),
# BENCH_GPU_BATCH4096 (4), NYS_BIN, NYS_TESTBIN, NYS_BENCHBIN;
# BENCH_GPU_DEVICE=cpu runs the script itself on the CPU (no probe).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=${NYS_TOP:-$(cd "$HERE/../.." && pwd)}
BIN=${NYS_BIN:-$TOP/bin}
TB=${NYS_TESTBIN:-$TOP/build/tests}
BB=${NYS_BENCHBIN:-$TOP/build/bench}
STEPS=${BENCH_GPU_STEPS:-6}
DEV=${BENCH_GPU_DEVICE:-cuda}
if [ "$DEV" = cpu ]; then
	probe="the CPU (BENCH_GPU_DEVICE=cpu: the script's own check)"
elif ! probe=$("$TB/gpu_step" --probe); then
	echo "bench-gpu: $probe: skipped"
	exit 0
fi
echo "bench-gpu: $probe"
D=$(mktemp -d "${TMPDIR:-/tmp}/nys-bench-gpu.XXXXXX")
trap 'rm -rf "$D"' EXIT
echo "MFU = tokens/s x F / 989 TFLOP/s (dense bf16, H100/H200 SXM), F = 6 (L (3CA + AC + 2CI) + C^2 + 0.15 C V)"
echo "    + 6 L H (3 m D + m^2 + k D + (4 n m^3 + m^2 D) / T) per token (tests/gpu/bench.sh)"
printf '%-14s %6s %6s %10s %12s %10s %8s\n' config batch T tokens/s GFLOP/token TFLOP/s MFU
for spec in nystrom-512:${BENCH_GPU_BATCH512:-32} nystrom-4096:${BENCH_GPU_BATCH4096:-4}; do
	name=${spec%%:*} batch=${spec##*:}
	cfg=$TOP/pipeline/configs/$name/config.json
	read -r T V < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["model"]; print(m["max_seq_len"], m["vocab_size"])' "$cfg")
	"$TB/mktok" -r $((T * batch * (STEPS + 2) * 2)) -z -v "$V" -o "$D/$name.tok" &&
		"$BIN/shard" -n "$T" -q -k 4 -o "$D/$name" "$D/$name.tok" || { echo "$name: no data"; continue; }
	python3 - "$cfg" "$D/$name.json" "$D/$name" "$batch" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"], c["model_checkpoints"] = sys.argv[3], sys.argv[3] + ".ck"
c.pop("from_cp", None)  # nystrom-4096 warm-starts from nystrom-512's run: not here
b = int(sys.argv[4])
c["pretraining_setting"].update(batch_size=b, batches_per_report=1, batches_per_epoch=1000,
                                validate_batches_per_epoch=1)
c["gpu_setting"] = {"inst_per_gpu": b}
json.dump(c, open(sys.argv[2], "w"))
PY
	if ! "$BIN/nys-train" -q --device "$DEV" --config "$D/$name.json" --steps "$STEPS" 2> "$D/$name.err"; then
		printf '%-14s %6s %6s %s\n' "$name" "$batch" "$T" "failed: $(tail -n 1 "$D/$name.err")"
		continue
	fi
	python3 - "$cfg" "$D/$name.ck/pretrain_output.log" "$batch" "$name" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["model"]
L, C, H, D = m["num_layers"], m["transformer_dim"], m["num_head"], m["head_dim"]
I, V, T = m["transformer_hidden_dim"], m["vocab_size"], m["max_seq_len"]
A = H * D
dense = L * (3 * C * A + A * C + 2 * C * I) + C * C + 0.15 * C * V
if m.get("attn_type") == "softmax":
    attn = L * H * 2 * T * D
else:
    # the published nystrom-512 config has num_landmarks and seq_len
    # swapped (512 and 64), which nys_config takes back (nys_config.h)
    mm, sl = m.get("num_landmarks", 64), m.get("seq_len", T)
    mm = min(mm, sl, T)
    k = m.get("conv_kernel_size", 0) or 0
    n = m.get("inv_iterations", 6)
    attn = L * H * (3 * mm * D + mm * mm + k * D + (4 * n * mm ** 3 + mm * mm * D) / T)
F = 6 * (dense + attn)
rates = [json.loads(l).get("tokens_per_s") for l in open(sys.argv[2])]
rates = [r for r in rates if r][1:] or [0]  # the first step warms up
tps = sorted(rates)[len(rates) // 2]
print("%-14s %6s %6d %10.0f %12.3f %10.1f %7.1f%%" % (sys.argv[4], sys.argv[3], T, tps, F / 1e9,
      tps * F / 1e12, 100 * tps * F / 989e12))
PY
done
# the attention rows (kernels/attn.cu's benchmark), where it is built
if [ -x "$BB/attn_gpu" ]; then
	"$BB/attn_gpu"
else
	echo "attention: no build/bench/attn_gpu in this build: its rows skipped"
fi
