# Shared helpers for the shell tests: TAP output, a scratch directory and
# the locations of the programs and the shared data.
# shellcheck shell=bash
set -u
BIN=${NYS_BIN:?NYS_BIN must name the directory of the built programs}
SHARED=${NYS_SHARED:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/nys-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
_n=0
_failed=0

# ok COND-EXIT-STATUS DESCRIPTION: use as `cmd; ok $? "what"`
ok() {
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}

# is GOT WANT DESCRIPTION
is() {
	_n=$((_n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $_n - $3"
	else
		echo "not ok $_n - $3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
		_failed=$((_failed + 1))
	fi
}

skip() {
	_n=$((_n + 1))
	echo "ok $_n # SKIP $1"
}

done_testing() {
	echo "1..$_n"
	[ "$_failed" -eq 0 ]
}

# run_cmd CMD ARGS...: stdout in $T/out, stderr in $T/err, status in $rc.
# Every stderr is also kept as $T/err.N, so a test can look for sanitizer
# reports at its end.
_nrun=0
run_cmd() {
	"$@" > "$T/out" 2> "$T/err"
	rc=$?
	_nrun=$((_nrun + 1))
	cp "$T/err" "$T/err.$_nrun"
}

have_shared() {
	[ -n "$SHARED" ] && [ -d "$SHARED" ]
}

# Every long option in PROG --help must appear in its man page.
check_man_options() {
	local prog=$1 page=$2 opt missing=""
	for opt in $("$BIN/$prog" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		local roff=${opt//-/\\-}
		grep -qF -- "$opt" "$page" || grep -qF -- "$roff" "$page" || missing="$missing $opt"
	done
	is "$missing" "" "$prog: every option in --help is in $(basename "$page")"
}

# arith_ids SEED N LEN: N lines of LEN token ids, each an arithmetic
# sequence (a random start, step 1 to 3, ids 5..199 taken mod 195): a masked
# id is determined by its neighbours
arith_ids() {
	python3 -c "
import random, sys
r = random.Random(int(sys.argv[1]))
for d in range(int(sys.argv[2])):
    s, k = r.randrange(195), r.choice([1, 2, 3])
    print(' '.join(str(5 + (s + k * i) % 195) for i in range(int(sys.argv[3]))))
" "$@"
}

# cmp_cp A B: two training checkpoints (nys-train's .cp) with the same
# tensors, byte for byte (their metadata differ in the time trained)
cmp_cp() {
	python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__")
    st = json.loads(meta["nys_train"])
    st.pop("time_since_start")
    return h, b[8 + n:], st
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
}


# cmp_log A B: two training logs (pretrain_output.log) with the same
# numbers in every line, the timings aside
cmp_log() {
	python3 - "$1" "$2" <<'PY'
import json, sys
def nums(p):
    out = []
    for l in open(p):
        d = json.loads(l)
        for k in ("time", "time_since_start", "tokens_per_s"):
            d.pop(k, None)
        out.append(d)
    return out
sys.exit(0 if nums(sys.argv[1]) == nums(sys.argv[2]) else 1)
PY
}

# mpi_env: the environment of the tests that run mpirun (mpi.t, nccl.t,
# mpi-glue.t): CI runs as root, containers may lack the kernel's
# cross-memory attach, more ranks than cores, one thread a rank; Open
# MPI's own allocations at exit are not ours to find (the plain, MPI-free
# runs of the other tests keep the leak check).  Then `mpi N CMD...` runs
# mpirun -np N, bounded, so that a hang fails instead of stopping the test
# run (MPI_LIMIT seconds, default 120).
mpi_env() {
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
	export OMP_NUM_THREADS=1
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}
mpi() {
	local n=$1
	shift
	timeout "${MPI_LIMIT:-120}" mpirun -np "$n" --oversubscribe --bind-to none "$@"
}
