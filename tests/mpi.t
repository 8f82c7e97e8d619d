#!/bin/bash
# Data-parallel training over MPI (nys_dist.h, nys-train(1) "DATA-PARALLEL
# TRAINING"): with mpirun -np 2 and -np 3 (oversubscribed on a small
# machine) the same config trains to the same weights as one process, in
# double precision (the loop through tests/unit/dist.c) within 1e-12 of
# each tensor's scale, in float (nys-train) within a measured bound; a
# fixed rank count is bitwise equal run to run; rank 0 alone writes; a
# SIGTERM to one rank stops all after the same step with a checkpoint; a
# SIGKILLed rank brings the job down (no hang) and a rerun with another
# rank count resumes; a damaged shard stops every rank with its message; a
# plain run never starts MPI; nys-eval mlm scores data-parallel.  Where mpirun exists these tests run: a build
# without MPI fails them.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
TR=$BIN/nys-train
DIST=${NYS_TESTBIN:?}/dist
export PATH="$BIN:$PATH"

if ! command -v mpirun > /dev/null; then
	skip "mpirun not found (make deps installs openmpi-bin)"
	done_testing
	exit
fi
# root, oversubscribed, one thread a rank; mpi N CMD... (lib.sh)
mpi_env

# ---- the double-precision loop: 1, 2, 3 ranks ---------------------------------
CFG=$TOP/pipeline/configs/tiny-nystrom/config.json
"$DIST" train "$CFG" 4 "$T/d1.st" > "$T/d1.out"
ok $? "double: 4 steps of 7 sequences in micro-batches of 2, one process"
for n in 2 3; do
	mpi $n "$DIST" train "$CFG" 4 "$T/d$n.st" > "$T/d$n.out"
	ok $? "double: the same on mpirun -np $n"
	r=$("$DIST" cmp "$T/d1.st" "$T/d$n.st")
	trel=$(echo "$r" | awk '{print $4}')
	awk -v x="$trel" 'BEGIN { exit !(x <= 1e-12) }'
	ok $? "double, $n ranks against 1: every weight within 1e-12 of its tensor's scale ($r)"
	cmp -s "$T/d1.out" "$T/d$n.out"
	ok $? "double, $n ranks: the step losses are bitwise those of one process"
done
mpi 3 "$DIST" train "$CFG" 4 "$T/d3b.st" > /dev/null && cmp -s "$T/d3.st" "$T/d3b.st"
ok $? "double, 3 ranks: bitwise equal run to run"

# the exact sums (nys_loop.h): bitwise the same on any number of ranks
"$DIST" train "$CFG" 4 "$T/e1.st" exact > /dev/null
ok $? "double, exact sums: one process"
for n in 2 3; do
	mpi $n "$DIST" train "$CFG" 4 "$T/e$n.st" exact > /dev/null && cmp -s "$T/e1.st" "$T/e$n.st"
	ok $? "double, exact sums: $n ranks bitwise equal to one process"
done
r=$("$DIST" cmp "$T/d1.st" "$T/e1.st")
awk -v x="$(echo "$r" | awk '{print $4}')" 'BEGIN { exit !(x <= 1e-12) }'
ok $? "double: the exact sums within 1e-12 of the plain ones ($r)"

# ---- data and configs -----------------------------------------------------------
arith_ids 3 1200 30 > "$T/ar.ids"
"${NYS_TESTBIN:?}/mktok" -v 200 -o "$T/ar.tok" "$T/ar.ids" &&
	shard -n 32 -q -k 64 -o "$T/ar" "$T/ar.tok"
ok $? "arithmetic sequences in 32-token shards"

# config NAME [KEY=VALUE ...]: a small Nystrom model, batch 10 in
# micro-batches of 2 (5 a step: 3 ranks get 2, 2 and 1), 3 epochs of 6 steps
config() {
	local name=$1
	shift
	python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/$name.json" "$T/ar" "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"].update(max_seq_len=32, seq_len=32, embedding_dim=32, transformer_dim=32,
                  transformer_hidden_dim=64, num_head=2, head_dim=16, num_landmarks=4)
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=10, learning_rate=2e-3, warmup=0.3,
                                batches_per_epoch=6, epoch=3, batches_per_report=1,
                                validate_batches_per_epoch=1)
c["gpu_setting"] = {"inst_per_gpu": 2}
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    sec, key = k.split(".")
    c[sec][key] = json.loads(v)
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
}

# within REF DIR: the final weights of DIR within the float bound of those of
# run REF, one process (the bound: 1e-4 of each tensor's scale; measured 2e-6
# to 4e-6 after 18 steps, as the ranks' gradients are summed in another order)
FLOAT_BOUND=1e-4
within() {
	local last
	last=$(ls "$T/$1.ck" | grep 'cp-.*\.model' | tail -n 1)
	r=$("$DIST" cmp "$T/$1.ck/$last" "$2/$last") || return 1
	trel=$(echo "$r" | awk '{print $4}')
	awk -v x="$trel" -v b=$FLOAT_BOUND 'BEGIN { exit !(x <= b) }'
}

# ---- a plain run starts no MPI ----------------------------------------------------
config a
mkdir -p "$T/tmp"
TMPDIR=$T/tmp run_cmd "$TR" --config "$T/a.json"
ok $rc "one process, no launcher: trains"
is "$(ls "$T/tmp" | grep -c '^ompi\.')" 0 "... without starting Open MPI (no session directory)"
files=$(ls "$T/a.ck" | tr '\n' ' ')

# ---- nys-eval mlm, data-parallel: the same scores -----------------------------------
"$BIN/nys-eval" mlm -q --config "$T/a.json" --checkpoint all --batches 3 > "$T/mlm1"
ok $? "nys-eval mlm: run a's checkpoints scored by one process"
for n in 2 3; do
	mpi $n "$BIN/nys-eval" mlm -q --config "$T/a.json" --checkpoint all --batches 3 -o "$T/mlm$n"
	ok $? "nys-eval mlm on mpirun -np $n"
	cmp -s "$T/mlm1" "$T/mlm$n"
	ok $? "... the same lines, bitwise ($(wc -l < "$T/mlm$n") checkpoints)"
done

# ---- 2 and 3 ranks ---------------------------------------------------------------
for n in 2 3; do
	config r$n
	mpi $n "$TR" --config "$T/r$n.json" > "$T/out" 2> "$T/r$n.err"
	ok $? "mpirun -np $n nys-train: exit 0"
	is "$(ls "$T/r$n.ck" | tr '\n' ' ')" "$files" "$n ranks: the checkpoints and the log of one process"
	is "$(grep -c 'checkpoint .*cp-0002.cp' "$T/r$n.err")" 1 "$n ranks: rank 0 alone reports (and writes)"
	is "$(grep -c '"loss"' "$T/r$n.ck/pretrain_output.log")" 18 "$n ranks: one log line a step"
	within a "$T/r$n.ck"
	ok $? "$n ranks against 1, float: every weight within $FLOAT_BOUND of its tensor's scale ($r)"
	# the first step starts from the same weights and data: the same loss
	is "$(head -n 1 "$T/r$n.ck/pretrain_output.log" | grep -o '"loss":[^,]*')" \
		"$(head -n 1 "$T/a.ck/pretrain_output.log" | grep -o '"loss":[^,]*')" \
		"$n ranks: the first step's loss is bitwise one process's"
done
config r1
mpi 1 "$TR" -q --config "$T/r1.json"
cmp -s "$T/a.ck/cp-0002.model" "$T/r1.ck/cp-0002.model" && cmp_cp "$T/a.ck/cp-0002.cp" "$T/r1.ck/cp-0002.cp"
ok $? "mpirun -np 1: bitwise the run of a plain start"
config r2b
mpi 2 "$TR" -q --config "$T/r2b.json"
cmp -s "$T/r2.ck/cp-0002.model" "$T/r2b.ck/cp-0002.model" && cmp_cp "$T/r2.ck/cp-0002.cp" "$T/r2b.ck/cp-0002.cp"
ok $? "2 ranks: bitwise equal run to run (weights and moments)"

# --exact-reduce: 1, 2 and 3 ranks bitwise equal, a resume on another count too
config x1
"$TR" -q --config "$T/x1.json" --exact-reduce
ok $? "--exact-reduce, one process"
for n in 2 3; do
	config x$n
	mpi $n "$TR" -q --config "$T/x$n.json" --exact-reduce &&
		cmp -s "$T/x1.ck/cp-0002.model" "$T/x$n.ck/cp-0002.model" &&
		cmp_cp "$T/x1.ck/cp-0002.cp" "$T/x$n.ck/cp-0002.cp" &&
		cmp_log "$T/x1.ck/pretrain_output.log" "$T/x$n.ck/pretrain_output.log"
	ok $? "--exact-reduce, $n ranks: bitwise equal to one process (weights, moments, log)"
done
config xr
mpi 2 "$TR" -q --config "$T/xr.json" --exact-reduce --steps 8 &&
	mpi 3 "$TR" -q --config "$T/xr.json" --exact-reduce &&
	cmp -s "$T/x1.ck/cp-0002.model" "$T/xr.ck/cp-0002.model" &&
	cmp_cp "$T/x1.ck/cp-0002.cp" "$T/xr.ck/cp-0002.cp"
ok $? "--exact-reduce: 8 steps on 2 ranks, resumed on 3: bitwise equal to one process"
within a "$T/x1.ck"; ok $? "--exact-reduce against the plain sum, float: within the bound ($r)"

# rank_pid PID RANK: the pid of that rank among the descendants of PID
# (the children read from /proc, not pgrep: a minimal Debian has no procps)
child_pids() {
	local parent=$1 f line
	for f in /proc/[0-9]*/stat; do
		{ read -r line < "$f"; } 2> /dev/null || continue
		set -- ${line##*) }
		[ "$2" = "$parent" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
	done
}
rank_pid() {
	local c
	for c in $(child_pids "$1"); do
		if tr '\0' '\n' < "/proc/$c/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
			echo "$c"
			return 0
		fi
		rank_pid "$c" "$2" && return 0
	done
	return 1
}
# launch_until N NAME LINES: mpirun -np N on config NAME in the background
# ($mpid) until its log has LINES lines; $victim is rank 1's pid
launch_until() {
	NYS_DIST_TIMEOUT=${NYS_DIST_TIMEOUT:-600} mpi "$1" "$TR" -q --config "$T/$2.json" 2> "$T/$2.err" &
	mpid=$!
	victim=
	for _ in $(seq 3000); do
		[ -n "$victim" ] || victim=$(rank_pid $mpid 1)
		[ -n "$victim" ] && [ -f "$T/$2.ck/pretrain_output.log" ] &&
			[ "$(wc -l < "$T/$2.ck/pretrain_output.log")" -ge "$3" ] && break
		sleep 0.02
	done
}

# ---- SIGTERM to one rank: all stop after the same step ------------------------------
# long enough a run (20 epochs) to be signalled in the middle
long=pretraining_setting.epoch=20
config l $long
"$TR" -q --config "$T/l.json"
ok $? "one process, 20 epochs: the reference of the runs below"
config s $long
launch_until 2 s 9
kill -TERM "$victim"
wait $mpid
is "$?" 0 "SIGTERM to rank 1 of 2: the job exits 0"
stop=$(ls "$T/s.ck" | grep '^stop-')
n=$(grep -c '"loss"' "$T/s.ck/pretrain_output.log")
# (a stop at an epoch's end is its epoch checkpoint)
want=$(if [ $((n % 6)) -eq 0 ]; then printf 'cp-%04d.cp' $((n / 6 - 1)); else printf 'stop-%08d.cp' "$n"; fi)
[ $((n % 6)) -eq 0 ] && stop=$(ls "$T/s.ck" | grep -x "$want")
is "$stop" "$want" "rank 0 wrote the stop checkpoint after the last logged step ($n)"
mpi 3 "$TR" --config "$T/s.json" > /dev/null 2> "$T/err"
ok $? "resumed with 3 ranks"
grep -q "resumed from $T/s.ck/$want" "$T/err"; ok $? "... from the stop checkpoint"
within l "$T/s.ck"; ok $? "stopped on 2 ranks, resumed on 3: within the bound of one process ($r)"

# ---- SIGKILL of one rank: the job comes down, a rerun resumes ---------------------------
config k $long
launch_until 2 k 9
t0=$(date +%s)
kill -KILL "$victim"
wait $mpid
st=$?
ok $((st == 0 || st == 124)) "SIGKILL of rank 1: the job fails (exit $st) and does not hang ($(($(date +%s) - t0)) s)"
grep -qiE "signal 9|killed" "$T/k.err"; ok $? "... saying a rank was killed: $(grep -iE -m1 'signal 9|killed' "$T/k.err")"
mpi 3 "$TR" --config "$T/k.json" > /dev/null 2> "$T/err"
ok $? "the rerun on 3 ranks finishes"
grep -q "resumed from $T/k.ck/cp-000" "$T/err"; ok $? "... from the last epoch checkpoint: $(grep resumed "$T/err")"
within l "$T/k.ck"; ok $? "killed on 2 ranks, resumed on 3: within the bound of one process ($r)"
"$TR" -q --config "$T/k.json" --checkpoints "$T/k1.ck" --steps 8 && mpi 2 "$TR" -q --config "$T/k.json" --checkpoints "$T/k1.ck"
within l "$T/k1.ck"; ok $? "8 steps alone, the rest on 2 ranks: within the bound ($r)"

# ---- a rank that stops answering: the others give up at the deadline ---------------------
config h $long
NYS_DIST_TIMEOUT=2 launch_until 2 h 9
kill -STOP "$victim"
wait $mpid
st=$?
kill -KILL "$victim" 2> /dev/null
ok $((st == 0 || st == 124)) "rank 1 stopped (SIGSTOP): the job fails (exit $st) at the deadline, no hang"
grep -q "no answer from the other ranks in 2 s" "$T/h.err"; ok $? "... saying so: $(grep -m1 'no answer' "$T/h.err")"

# ---- a damaged shard stops every rank ---------------------------------------------------
cp -r "$T/ar" "$T/bad"
f=$(ls "$T/bad" | grep shard | sed -n 2p)
python3 -c "
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 2] ^= 0xff; open(p, 'wb').write(b)
" "$T/bad/$f"
config b
python3 -c "
import json, sys; c = json.load(open(sys.argv[1])); c['data_folder'] = sys.argv[2]; json.dump(c, open(sys.argv[1], 'w'))
" "$T/b.json" "$T/bad"
mpi 3 "$TR" -q --config "$T/b.json" > /dev/null 2> "$T/err"
st=$?
ok $((st == 0 || st == 124)) "a damaged shard on 3 ranks: the job fails (exit $st), no hang"
grep -q "rank [0-9] of 3: .*$f" "$T/err"; ok $? "... with the shard named: $(grep -m1 "$f" "$T/err")"

done_testing
