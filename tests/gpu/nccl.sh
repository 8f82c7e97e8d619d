#!/bin/bash
# tests/gpu/nccl.sh DIR TRAINDIR: the NCCL path of data-parallel training on one
# GPU (nys_nccl.h, nys-train(1) "DATA-PARALLEL TRAINING"), for the steps
# phase of tests/gpu/run: mpirun -np 1 nys-train --device cuda for 2 steps
# with NYS_NCCL=1 (the gradients through ncclAllReduce on the device, in a
# world of one) against the same run without it; prints a table and exits 1
# if a row fails (the data and config are those train.sh made in
# TRAINDIR):
#   nccl 2 steps     exit 0, and rank 0 says the gradients go through NCCL
#   plain 2 steps    exit 0 (no sum: a world of one)
#   nccl vs plain    the stop checkpoints within 1e-6 (cmp_st.py)
# Skipped, saying so, where mpirun or NCCL (libnccl.so.2) is missing.
# Multi-GPU runs have not been tried: no machine with more than one GPU was
# lent to this work.  Needs NYS_BIN and NYS_TESTBIN and a GPU.
set -u
D=${1:?usage: nccl.sh DIR TRAINDIR}
TD=${2:?usage: nccl.sh DIR TRAINDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${NYS_BIN:?}
TB=${NYS_TESTBIN:?}
if ! command -v mpirun > /dev/null; then
	echo "nccl: skipped: mpirun not found (make deps installs openmpi-bin)"
	exit 0
fi
if ! v=$("$TB/nccl" load); then
	echo "nccl: skipped: $v"
	exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mkdir -p "$D"
# config NAME: train.sh's config (its data), the checkpoints in DIR/NAME.ck
config() {
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1])); c["model_checkpoints"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"))' "$TD/cpu.json" "$D/$1.json" "$D/$1.ck"
}
fails=0
row() { # NAME STATUS WHAT
	printf '%-14s %-5s %s\n' "$1" "$([ "$2" -eq 0 ] && echo ok || echo FAIL)" "$3"
	[ "$2" -eq 0 ] || fails=$((fails + 1))
}
printf '%-14s %-5s %s\n' "run" "" "result ($v)"
config nccl
config plain
NYS_NCCL=1 timeout 60 mpirun -np 1 --bind-to none "$BIN/nys-train" --config "$D/nccl.json" \
	--device cuda --steps 2 > /dev/null 2> "$D/nccl.err"
st=$?
grep -q 'gradients: summed on the GPUs by NCCL' "$D/nccl.err" || st=1
row "nccl 2 steps" $st "$(grep -m1 'gradients:\|rror\|cuda:' "$D/nccl.err")"
timeout 60 mpirun -np 1 --bind-to none "$BIN/nys-train" -q --config "$D/plain.json" \
	--device cuda --steps 2 2> "$D/plain.err"
row "plain 2 steps" $? "$(grep -m1 'nys-train' "$D/plain.err")"
S=stop-00000002.cp
r=$(python3 "$HERE/cmp_st.py" "$D/nccl.ck/$S" "$D/plain.ck/$S" 1e-6 2>&1)
row "nccl vs plain" $? "$(echo "$r" | tail -n 1)"
exit $((fails > 0))
