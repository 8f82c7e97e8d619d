#!/bin/bash
# tests/gpu/bench.sh (make bench-gpu): the GPU benchmarks, as tables in the
# columns of tests/gpu/table.py, nys's rows and PyTorch's side by side:
#   nys      nys-train tokens/s and model FLOP utilisation for the authors'
#            nystrom-512 (BERT-base size, batch 32) and nystrom-4096 (batch
#            4), in fp32 (mixed_precision false) and bf16 (the config's
#            mixed_precision: true: bf16 products on cuda), a few steps each
#            on random token shards (mktok, shard: no data needed).  A bf16
#            run whose losses are fp32's bit for bit says "not active"
#            instead of numbers: mixed precision did nothing there.
#   attn     the attention table (build/bench/attn_gpu: Nystrom and softmax
#            forward+backward ms and memory, n = 512 ... 65536)
#   torch    the same training steps and attention in PyTorch eager
#            (tests/gpu/torch_step.py), where BENCH_PYTHON (default python3)
#            has torch with a GPU; else one "pytorch: skipped" line
# MFU = tokens/s x F / 989 TFLOP/s (H100/H200 SXM dense bf16), F the FLOPs a
# token of table.py's formula, printed with the table with the issue's
# targets (nystrom-512 bf16 at 35% MFU; attention at n = 8192 under 2 ms),
# shown beside the measured rows (reported, not gates).  Without a GPU it
# says so and skips (exit 0).
#
# Environment: BENCH_GPU_PARTS (default "nys attn torch"), BENCH_GPU_STEPS
# (6), BENCH_GPU_BATCH512 (32), BENCH_GPU_BATCH4096 (4), BENCH_PYTHON,
# BENCH_GPU_TORCH_BUDGET (seconds after which torch_step.py starts no row;
# 0: none), NYS_BIN, NYS_TESTBIN, NYS_BENCHBIN; BENCH_GPU_DEVICE=cpu runs the
# script itself on the CPU (no probe), and BENCH_GPU_TINY=1 with tiny models
# (2 layers of 64; tests/gpu.t runs both so).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=${NYS_TOP:-$(cd "$HERE/../.." && pwd)}
BIN=${NYS_BIN:-$TOP/bin}
TB=${NYS_TESTBIN:-$TOP/build/tests}
BB=${NYS_BENCHBIN:-$TOP/build/bench}
STEPS=${BENCH_GPU_STEPS:-6}
DEV=${BENCH_GPU_DEVICE:-cuda}
TINY=${BENCH_GPU_TINY:-0}
PARTS=${BENCH_GPU_PARTS:-nys attn torch}
PY=${BENCH_PYTHON:-python3}
if [ "$DEV" = cpu ]; then
	probe="the CPU (BENCH_GPU_DEVICE=cpu: the script's own check)"
elif ! probe=$("$TB/gpu_step" --probe); then
	echo "bench-gpu: $probe: skipped"
	exit 0
fi
echo "bench-gpu: $probe"
D=$(mktemp -d "${TMPDIR:-/tmp}/nys-bench-gpu.XXXXXX")
trap 'rm -rf "$D"' EXIT
status=0

# config NAME BATCH MIXED OUT: the published config NAME for a few steps on
# the shards in $D/NAME, with mixed_precision MIXED (true or false)
config() {
	python3 - "$TOP/pipeline/configs/$1/config.json" "$4" "$D/$1" "$2" "$3" "$TINY" <<'PY'
import json, sys
import table
c = json.load(open(sys.argv[1]))
out, data, b, mixed, tiny = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
c["data_folder"], c["model_checkpoints"] = data, out[:-5] + ".ck"
c.pop("from_cp", None)  # nystrom-4096 warm-starts from nystrom-512's run: not here
if tiny == "1":  # torch_step.py --tiny's sizes
    c["model"] = table.tiny(c["model"])
c["model"]["mixed_precision"] = mixed == "true"
c["pretraining_setting"].update(batch_size=b, batches_per_report=1, batches_per_epoch=1000,
                                validate_batches_per_epoch=1)
c["gpu_setting"] = {"inst_per_gpu": b}
json.dump(c, open(out, "w"))
PY
}

part_nys() {
	echo
	echo "Training steps, nys-train on $DEV (median of $STEPS steps after the first)"
	echo
	python3 "$HERE/table.py" header
	local spec name batch T V prec
	for spec in nystrom-512:${BENCH_GPU_BATCH512:-32} nystrom-4096:${BENCH_GPU_BATCH4096:-4}; do
		name=${spec%%:*} batch=${spec##*:}
		[ "$TINY" = 1 ] && batch=2
		config "$name" "$batch" false "$D/$name-fp32.json" &&
			read -r T V < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["model"]; print(m["max_seq_len"], m["vocab_size"])' "$D/$name-fp32.json") &&
			config "$name" "$batch" true "$D/$name-bf16.json" &&
			"$TB/mktok" -r $((T * batch * (STEPS + 2) * 2)) -z -v "$V" -o "$D/$name.tok" &&
			"$BIN/shard" -n "$T" -q -k 4 -o "$D/$name" "$D/$name.tok" || {
			echo "| nys     | $name: no data"
			status=1
			continue
		}
		for prec in fp32 bf16; do
			if ! "$BIN/nys-train" -q --device "$DEV" --config "$D/$name-$prec.json" \
				--steps "$STEPS" 2> "$D/$name-$prec.err"; then
				python3 -c 'import sys, table; print(table.note_row("nys", *sys.argv[1:]))' \
					"$name" "$prec" "$batch" "$T" "failed: $(tail -n 1 "$D/$name-$prec.err")" 2>&1
				status=1
				continue
			fi
			local ref=""
			[ "$prec" = bf16 ] && [ -s "$D/$name-fp32.ck/pretrain_output.log" ] &&
				ref=$D/$name-fp32.ck/pretrain_output.log
			python3 "$HERE/table.py" row "$D/$name-$prec.json" "$batch" "$name" "$prec" \
				"$D/$name-$prec.ck/pretrain_output.log" $ref || status=1
		done
	done
}

part_attn() {
	# the attention rows (kernels/attn.cu's benchmark), where it is built
	if [ -x "$BB/attn_gpu" ]; then
		if [ "$TINY" = 1 ]; then "$BB/attn_gpu" 2 1024 1024; else "$BB/attn_gpu"; fi || status=1
	else
		echo "attention: no $BB/attn_gpu in this build: its rows skipped"
	fi
}

part_torch() {
	echo
	local args=(--device "$DEV" --steps "$STEPS" --budget "${BENCH_GPU_TORCH_BUDGET:-0}")
	[ "$TINY" = 1 ] && args+=(--tiny --reps 2)
	if ! command -v "$PY" > /dev/null; then
		echo "pytorch: skipped, no $PY"
	else
		PYTHONUNBUFFERED=1 "$PY" "$HERE/torch_step.py" "${args[@]}" || status=1
	fi
}

export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
for p in $PARTS; do
	case $p in
	nys) part_nys ;;
	attn) part_attn ;;
	torch) part_torch ;;
	*) echo "bench-gpu: unknown part $p (nys, attn, torch)"; status=2 ;;
	esac
done
exit $status
