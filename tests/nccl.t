#!/bin/bash
# The gradients' sum of data-parallel runs and NCCL (nys_dist.h,
# nys_nccl.h, nys-train(1) "DATA-PARALLEL TRAINING"): NCCL is loaded at
# run time (a missing file and a library without NCCL's functions are
# named); under mpirun rank 0 says once which sum it uses (the host copy on
# the CPU, the exact sums with --exact-reduce, nothing alone); NYS_NCCL=1
# where NCCL cannot sum (the CPU, no GPU, a build without CUDA) is an error
# that says why, and a bad NYS_NCCL is refused.  The NCCL path itself needs
# a GPU: tests/gpu/run's steps phase runs it on one rank.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
TR=$BIN/nys-train
NC=${NYS_TESTBIN:?}/nccl
export PATH="$BIN:$PATH"

# ---- the loader ------------------------------------------------------------------
"$NC" load > "$T/load"
st=$?
if grep -q '^version ' "$T/load"; then
	ok $st "NCCL loads: $(cat "$T/load")"
	"$NC" id > "$T/id"
	is "$(cat "$T/id")" "id: 128 bytes, not all zero" "rank 0's ncclUniqueId: 128 bytes"
else
	is "$st" 1 "no NCCL here: nys_nccl_load fails"
	grep -qE '^error: (cannot load NCCL \(libnccl\.so\.2\)|this build has no CUDA backend)' "$T/load"
	ok $? "... saying why: $(cat "$T/load")"
fi
NYS_NCCL_LIB=$T/none.so "$NC" load > "$T/load"
is "$?" 1 "NYS_NCCL_LIB, a missing file: fails"
grep -qE "^error: (cannot load NCCL \($T/none\.so\)|this build has no CUDA backend)" "$T/load"
ok $? "... naming it: $(cat "$T/load")"
libm=$(ls /lib/*/libm.so.6 /usr/lib/*/libm.so.6 2> /dev/null | head -n 1)
NYS_NCCL_LIB=$libm "$NC" load > "$T/load"
is "$?" 1 "a library without NCCL's functions: fails"
grep -qE '^error: (NCCL lacks ncclGetVersion|this build has no CUDA backend)' "$T/load"
ok $? "... naming the first missing function: $(cat "$T/load")"
is "$("$NC" pick 3)" picked "picking GPU local rank % count: nothing without a GPU, no failure"

if ! command -v mpirun > /dev/null; then
	skip "mpirun not found (make deps installs openmpi-bin)"
	done_testing
	exit
fi
mpi_env

# ---- a small model on arithmetic sequences: 2 steps of 4 in micro-batches of 2 --------
arith_ids 5 300 30 > "$T/ar.ids"
"${NYS_TESTBIN:?}/mktok" -v 200 -o "$T/ar.tok" "$T/ar.ids" &&
	shard -n 32 -q -k 64 -o "$T/ar" "$T/ar.tok"
ok $? "arithmetic sequences in 32-token shards"
config() {
	python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/$1.json" "$T/ar" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"].update(max_seq_len=32, seq_len=32, embedding_dim=32, transformer_dim=32,
                  transformer_hidden_dim=64, num_head=2, head_dim=16, num_landmarks=4)
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=4, learning_rate=2e-3, warmup=0.3,
                                batches_per_epoch=2, epoch=1, batches_per_report=1,
                                validate_batches_per_epoch=0)
c["gpu_setting"] = {"inst_per_gpu": 2}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
}
HOST='gradients: summed on the host over MPI, a copy reduced to rank 0 and broadcast'
EXACT='gradients: summed exactly on the host over MPI (--exact-reduce: 128-bit fixed point, on any device'

# ---- which sum, said once by rank 0 ---------------------------------------------------
config a
run_cmd "$TR" --device cpu --config "$T/a.json"
ok $rc "one process: trains"
is "$(grep -c 'gradients: ' "$T/err")" 0 "... and says nothing of a sum (there is none)"
config b
run_cmd mpi 2 "$TR" --device cpu --config "$T/b.json"
ok $rc "mpirun -np 2 on the CPU: trains"
is "$(grep -cF "nys-train: $HOST" "$T/err")" 1 "... rank 0 says once: $HOST"
config c
NYS_NCCL=0 run_cmd mpi 2 "$TR" --device cpu --config "$T/c.json"
is "$(grep -cF "$HOST" "$T/err")" 1 "NYS_NCCL=0: the host sum too"
cmp -s "$T/b.ck/cp-0000.model" "$T/c.ck/cp-0000.model"
ok $? "... bitwise the same weights"
config x
run_cmd mpi 2 "$TR" --device cpu --exact-reduce --config "$T/x.json"
is "$(grep -cF "$EXACT)" "$T/err")" 1 "--exact-reduce: $EXACT)"
config m
run_cmd mpi 1 "$TR" --device cpu --config "$T/m.json"
is "$(grep -c 'gradients: ' "$T/err")" 0 "mpirun -np 1: no sum, nothing said"

# ---- NYS_NCCL=1 where NCCL cannot sum ---------------------------------------------------
config f
NYS_NCCL=1 run_cmd mpi 1 "$TR" --device cpu --config "$T/f.json"
is "$rc" 1 "NYS_NCCL=1 with the model on the CPU: exit 1"
grep -q "nys-train: NYS_NCCL=1: NCCL sums the gradients on GPUs, but the model runs on the cpu (--device cuda)" "$T/err"
ok $? "... saying why: $(grep -m1 NYS_NCCL "$T/err")"
NYS_NCCL=1 run_cmd mpi 1 "$TR" --device cuda --config "$T/f.json"
is "$rc" 1 "NYS_NCCL=1 --device cuda without a usable GPU: exit 1"
grep -qE "nys-train: cuda: (no usable GPU|this build has no CUDA backend)" "$T/err"
ok $? "... saying why: $(grep -m1 cuda "$T/err")"
NYS_NCCL=yes run_cmd mpi 1 "$TR" --device cpu --config "$T/f.json"
is "$rc" 1 "NYS_NCCL=yes: refused"
grep -q "NYS_NCCL: expected 0 or 1, got 'yes'" "$T/err"; ok $? "... saying so"
# with --exact-reduce NCCL has nothing to do; the world of one still sums
config e1
"$TR" -q --device cpu --exact-reduce --config "$T/e1.json"
config e2
NYS_NCCL=1 run_cmd mpi 1 "$TR" --device cpu --exact-reduce --config "$T/e2.json"
ok $rc "NYS_NCCL=1 --exact-reduce on one rank: trains"
is "$(grep -cF "$EXACT; NYS_NCCL=1 has no effect)" "$T/err")" 1 "... saying NYS_NCCL=1 has no effect"
cmp -s "$T/e1.ck/cp-0000.model" "$T/e2.ck/cp-0000.model" && cmp_cp "$T/e1.ck/cp-0000.cp" "$T/e2.ck/cp-0000.cp"
ok $? "... its world of one summed over itself: bitwise a plain run"

done_testing
