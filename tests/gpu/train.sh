#!/bin/bash
# tests/gpu/train.sh DIR: nys-train on cuda against cpu, from the programs'
# side, on random token shards made in DIR (mktok and shard: no data
# needed): the tiny Nystrom config, 4 steps on each device; prints a table
# and exits 1 if a row fails:
#   cpu vs cuda        the stop checkpoints' tensors within 1e-3 (float32
#                      on both; AdamW moves a weight by about lr when a
#                      gradient near 0 rounds to the other sign)
#   cuda vs cuda       a second cuda run: bitwise (the kernels have fixed
#                      reduction orders)
#   cuda -> cpu        2 steps on cuda, resumed on cpu to 4: within 1e-3 of
#                      the cpu run (checkpoints move between devices)
# Needs NYS_BIN and NYS_TESTBIN (tests/lib.sh's variables) and a GPU.
set -u
D=${1:?usage: train.sh DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=${NYS_TOP:-$HERE/../..}
BIN=${NYS_BIN:?}
TB=${NYS_TESTBIN:?}
# the device under test: cuda (NYS_GPU_DEVICE=cpu runs the script itself on a machine without one)
GPU=${NYS_GPU_DEVICE:-cuda}
mkdir -p "$D"
"$TB/mktok" -r 120000 -z -v 1000 -o "$D/r.tok" &&
	"$BIN/shard" -n 64 -q -k 32 -o "$D/data" "$D/r.tok" || { echo "train.sh: no data"; exit 1; }
# config NAME: the tiny config, its checkpoints in DIR/NAME.ck
config() {
	python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$D/$1.json" "$D/data" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=8, learning_rate=2e-3, warmup=0.1,
                                batches_per_epoch=40, epoch=3, batches_per_report=1,
                                validate_batches_per_epoch=2)
c["gpu_setting"] = {"inst_per_gpu": 4}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
}
fails=0
row() { # NAME STATUS WHAT
	printf '%-14s %-5s %s\n' "$1" "$([ "$2" -eq 0 ] && echo ok || echo FAIL)" "$3"
	[ "$2" -eq 0 ] || fails=$((fails + 1))
}
train() { # NAME DEVICE STEPS
	"$BIN/nys-train" -q --config "$D/$1.json" --device "$2" --steps "$3" 2> "$D/$1.err"
}
printf '%-14s %-5s %s\n' "run" "" "result"
for n in cpu gpu gpu2 mixed; do config $n; done
train cpu cpu 4; row "cpu 4 steps" $? "$(tail -n 1 "$D/cpu.err")"
train gpu "$GPU" 4; row "cuda 4 steps" $? "$(tail -n 1 "$D/gpu.err")"
train gpu2 "$GPU" 4; row "cuda again" $? "$(tail -n 1 "$D/gpu2.err")"
train mixed "$GPU" 2 && train mixed cpu 4; row "cuda 2 + cpu 2" $? "$(tail -n 1 "$D/mixed.err")"
S=stop-00000004.cp
r=$(python3 "$HERE/cmp_st.py" "$D/gpu.ck/$S" "$D/cpu.ck/$S" 1e-3 2>&1); row "cpu vs cuda" $? "$r"
r=$(python3 "$HERE/cmp_st.py" "$D/gpu2.ck/$S" "$D/gpu.ck/$S" 0 2>&1); row "cuda vs cuda" $? "$r"
r=$(python3 "$HERE/cmp_st.py" "$D/mixed.ck/$S" "$D/cpu.ck/$S" 1e-3 2>&1); row "cuda -> cpu" $? "$r"
for n in cpu gpu; do
	l=$(python3 -c 'import json,sys; print(" ".join("%.5f" % json.loads(l)["loss"] for l in open(sys.argv[1]) if "loss" in json.loads(l)))' "$D/$n.ck/pretrain_output.log" 2>/dev/null)
	printf '%-14s %-5s %s\n' "losses $n" "" "$l"
done
exit $((fails > 0))
