/* The data-parallel world over MPI (nys_dist.h): rank discovery, the sums
 * the training loop asks for (its measurements and stop flags, the
 * gradients), each polled against a deadline, and the abort that brings
 * every rank down.  Built with mpicc's flags when the build has MPI
 * (NYS_MPI, set by libnys/dist/dist.mk); without, a world of one that
 * refuses to run under a launcher.
 *
 * This is the one place of libnys that may end the process and print:
 * MPI_Abort when a collective misses its deadline (a rank died or hangs)
 * has no caller to return to, so it says why on stderr first.
 *
 * On GPUs the gradients are summed by NCCL through nys_nccl.h (kernels/,
 * plain C: no CUDA header is seen here), the id exchanged over MPI. */
#include "nys_dist.h"
#include "nys_nccl.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool nys_dist_launched(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
	                                   "PMI_SIZE"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
		if (getenv(vars[i]))
			return true;
	return false;
}

int nys_dist_threads(unsigned local)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int n = online > 0 && local ? (int)(online / (long)local) : 1;
	cpu_set_t set;
	if (!sched_getaffinity(0, sizeof set, &set) && CPU_COUNT(&set) < n)
		n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

#if NYS_MPI

#include <limits.h>
#include <mpi.h>
#include <time.h>

static struct {
	bool on;
	int rank, size;
	double timeout;     /* seconds a collective may take */
	void *host;         /* the gradients' host copy */
	size_t host_bytes;
	MPI_Datatype i128;  /* a 128-bit integer: two 64-bit words, the low first */
	MPI_Op add128;      /* their sum modulo 2^128 */
	int nccl_mode;      /* NYS_NCCL: -1 unset (NCCL on GPUs with many ranks), 0, 1 */
	bool chosen;        /* the gradients' sum chosen (at the first step) */
	bool said_exact;
	nys_nccl *nccl;     /* NCCL's communicator, when it sums the gradients */
	nys_info info;      /* rank 0's lines */
} S;

bool nys_dist_built(void)
{
	return true;
}

static int mpi_fail(int rc, const char *what, nys_err *e)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
		snprintf(msg, sizeof msg, "error %d", rc);
	return nys_err_set(e, "MPI: %s: %s", what, msg);
}

/* Poll a non-blocking collective until it completes; past the deadline,
 * abort the job.  Open MPI moves a collective's data only inside MPI_Test,
 * so for its first YIELD_S seconds a wait polls without sleeping, yielding
 * the core to whatever else is runnable (sleeping there made the sum of
 * 3.5M float gradients, 14 MB, take 540 ms instead of 50 to 90 ms on 2
 * busy cores); after that it is waiting for
 * a slower rank (validating, writing a checkpoint) and sleeps between
 * polls, giving its core back. */
#define YIELD_S 0.5
static int wait_req(MPI_Request *r, const char *what, nys_err *e)
{
	double t0 = MPI_Wtime();
	for (;;) {
		int done = 0, rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
		if (rc != MPI_SUCCESS)
			return mpi_fail(rc, what, e);
		if (done)
			return 0;
		double waited = MPI_Wtime() - t0;
		if (waited < YIELD_S)
			sched_yield();
		else
			nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
		if (waited > S.timeout) {
			fprintf(stderr, "rank %d of %d: %s: no answer from the other ranks in %g s "
			        "(one died or hangs; NYS_DIST_TIMEOUT sets the limit): aborting the "
			        "job\n", S.rank, S.size, what, S.timeout);
			fflush(stderr);
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
	}
}

/* MPI counts are ints: a buffer goes in pieces of at most this many. */
#define PIECE (1 << 28)

/* buf[0..n) of elements of `size` bytes all-reduced in place, in pieces. */
static int allreduce(void *buf, size_t n, size_t size, MPI_Datatype type, MPI_Op op,
                     const char *what, nys_err *e)
{
	for (size_t i = 0; i < n; i += PIECE) {
		int c = (int)(n - i < PIECE ? n - i : PIECE);
		MPI_Request r;
		int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + i * size, c, type, op,
		                        MPI_COMM_WORLD, &r);
		if (rc != MPI_SUCCESS)
			return mpi_fail(rc, what, e);
		if (wait_req(&r, what, e))
			return -1;
	}
	return 0;
}

static int world_sum(void *ctx, double *buf, size_t n, nys_err *e)
{
	(void)ctx;
	return allreduce(buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM,
	                 "the sum of the step's measurements", e);
}

/* Rank 0's line on the gradients' sum. */
#define SAY(...) (S.rank == 0 ? nys_info_say(&S.info, __VA_ARGS__) : (void)0)

/* The gradients' sum, chosen at the first step by every rank together
 * (nys_dist.h): NCCL when the model is on a GPU, every rank loaded NCCL
 * and the world has many ranks (or NYS_NCCL=1), else the host copy. */
static int choose_reduce(nys_model *m, nys_err *e)
{
	S.chosen = true;
	nys_backend *be = nys_model_backend(m);
	bool gpu = be->device == NYS_DEVICE_CUDA;
	if (S.nccl_mode == 1 && !gpu)
		return nys_err_set(e, "NYS_NCCL=1: NCCL sums the gradients on GPUs, but the model "
		                   "runs on the %s (--device cuda)", be->name);
	char why[sizeof e->msg + 32] = "";
	if (gpu && S.nccl_mode != 0 && (S.size > 1 || S.nccl_mode == 1)) {
		nys_err le = {0};
		int version = 0, ok = !nys_nccl_load(&version, &le), all = ok;
		MPI_Request r;
		int rc = MPI_Iallreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &r);
		if (rc != MPI_SUCCESS)
			return mpi_fail(rc, "the ranks' NCCL", e);
		if (wait_req(&r, "the ranks' NCCL", e))
			return -1;
		if (all) {
			unsigned char id[NYS_NCCL_ID_BYTES] = {0};
			if (S.rank == 0 && nys_nccl_unique_id(id, e))
				return -1;
			if ((rc = MPI_Ibcast(id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD, &r)) !=
			    MPI_SUCCESS)
				return mpi_fail(rc, "NCCL's id", e);
			if (wait_req(&r, "NCCL's id", e) ||
			    !(S.nccl = nys_nccl_comm(be, id, S.size, S.rank, e)))
				return -1;
			SAY("gradients: summed on the GPUs by NCCL %d.%d.%d (ncclAllReduce in place, "
			    "%d rank%s)", version / 10000, version / 100 % 100, version % 100, S.size,
			    S.size == 1 ? "" : "s");
			return 0;
		}
		if (S.nccl_mode == 1)
			return nys_err_set(e, "NYS_NCCL=1: %s", ok ? "NCCL did not load on another rank"
			                                          : le.msg);
		snprintf(why, sizeof why, " (no NCCL: %s)", ok ? "not on every rank" : le.msg);
	}
	SAY("gradients: summed on the host over MPI, a copy reduced to rank 0 and "
	    "broadcast%s", why);
	return 0;
}

/* NCCL's in-place sum of the device gradients; past the deadline the
 * communicator is aborted and the job brought down as wait_req does. */
static int nccl_grads(nys_model *m, nys_err *e)
{
	void *g = nys_model_buffer(m, NYS_BUF_GRADS, e);
	if (!g)
		return -1;
	int rc = nys_nccl_allreduce(S.nccl, nys_model_backend(m), g, nys_model_nparams(m),
	                            nys_model_options(m)->dtype, S.timeout, e);
	if (rc > 0) {
		fprintf(stderr, "rank %d of %d: the gradients' all-reduce (NCCL): no answer from the "
		        "other ranks in %g s (one died or hangs; NYS_DIST_TIMEOUT sets the limit): "
		        "aborting the job\n", S.rank, S.size, S.timeout);
		fflush(stderr);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	return rc ? -1 : 0;
}

/* The gradients summed over the ranks: by NCCL on GPUs (every rank gets
 * the same result: the ring's or tree's sums are broadcast), else a host
 * copy reduced to rank 0 and broadcast from it, so that every rank steps
 * with bitwise the same gradients (an MPI all-reduce need not give every
 * rank the same rounding). */
static int world_grads(void *ctx, nys_model *m, nys_err *e)
{
	(void)ctx;
	if (!S.chosen && choose_reduce(m, e))
		return -1;
	if (S.nccl)
		return nccl_grads(m, e);
	nys_dtype dt = nys_model_options(m)->dtype;
	MPI_Datatype mt = dt == NYS_F64 ? MPI_DOUBLE : MPI_FLOAT;
	size_t es = dt == NYS_F64 ? sizeof(double) : sizeof(float), n = nys_model_nparams(m);
	if (S.host_bytes < n * es) {
		free(S.host);
		S.host_bytes = 0;
		if (!(S.host = malloc(n * es)))
			return nys_err_set(e, "out of memory");
		S.host_bytes = n * es;
	}
	if (nys_model_get(m, NYS_BUF_GRADS, 0, n, S.host, e))
		return -1;
	for (size_t i = 0; i < n; i += PIECE) {
		int c = (int)(n - i < PIECE ? n - i : PIECE);
		char *p = (char *)S.host + i * es;
		MPI_Request r;
		int rc = MPI_Ireduce(S.rank ? p : MPI_IN_PLACE, p, c, mt, MPI_SUM, 0,
		                     MPI_COMM_WORLD, &r);
		if (rc != MPI_SUCCESS)
			return mpi_fail(rc, "the gradients' reduce", e);
		if (wait_req(&r, "the gradients' reduce", e))
			return -1;
		if ((rc = MPI_Ibcast(p, c, mt, 0, MPI_COMM_WORLD, &r)) != MPI_SUCCESS)
			return mpi_fail(rc, "the gradients' broadcast", e);
		if (wait_req(&r, "the gradients' broadcast", e))
			return -1;
	}
	return nys_model_set(m, NYS_BUF_GRADS, 0, n, S.host, e);
}

/* inout += in, element by element, as 128-bit two's complement integers
 * (which is the sum whatever their signs). */
static void add128(void *in, void *inout, int *len, MPI_Datatype *dt)
{
	(void)dt;
	const uint64_t *a = in;
	uint64_t *b = inout;
	for (int i = 0; i < *len; i++) {
		uint64_t lo = a[2 * i] + b[2 * i];
		b[2 * i + 1] += a[2 * i + 1] + (lo < b[2 * i]);
		b[2 * i] = lo;
	}
}

/* The exact gradient sums (nys_loop.h): integers, so any order of the
 * additions gives the same result on every rank. */
static int world_sum_exact(void *ctx, void *buf, size_t n, nys_err *e)
{
	(void)ctx;
	if (!S.said_exact)
		SAY("gradients: summed exactly on the host over MPI (--exact-reduce: 128-bit fixed "
		    "point, on any device%s)", S.nccl_mode == 1 ? "; NYS_NCCL=1 has no effect" : "");
	S.said_exact = true;
	return allreduce(buf, n, 16, S.i128, S.add128, "the gradients' exact sum", e);
}

int nys_dist_start(int *argc, char ***argv, nys_world *w, unsigned *local, nys_err *e)
{
	*w = (nys_world){.rank = 0, .world = 1};
	*local = 1;
	if (!nys_dist_launched())
		return 0;
	const char *nc = getenv("NYS_NCCL");
	S.nccl_mode = !nc || !*nc ? -1 : !strcmp(nc, "0") ? 0 : !strcmp(nc, "1") ? 1 : -2;
	if (S.nccl_mode == -2)
		return nys_err_set(e, "NYS_NCCL: expected 0 or 1, got '%s'", nc);
	const char *to = getenv("NYS_DIST_TIMEOUT");
	char *end;
	S.timeout = to && *to ? strtod(to, &end) : 600;
	if (to && *to && (*end || !(S.timeout > 0)))
		return nys_err_set(e, "NYS_DIST_TIMEOUT: expected a number of seconds, got '%s'", to);
	int prov, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov);
	if (rc != MPI_SUCCESS)
		return nys_err_set(e, "MPI_Init failed (error %d)", rc);
	S.on = true;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &S.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &S.size);
	MPI_Comm node;
	int nl = 1, lr = 0;
	if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
	                              &node)) != MPI_SUCCESS)
		return mpi_fail(rc, "the ranks of this machine", e);
	MPI_Comm_size(node, &nl);
	MPI_Comm_rank(node, &lr);
	MPI_Comm_free(&node);
	*local = (unsigned)nl;
	/* one GPU a rank of this machine, chosen before any backend is made */
	nys_nccl_pick_device((unsigned)lr);
	if ((rc = MPI_Type_contiguous(2, MPI_UINT64_T, &S.i128)) != MPI_SUCCESS ||
	    (rc = MPI_Type_commit(&S.i128)) != MPI_SUCCESS ||
	    (rc = MPI_Op_create(add128, 1, &S.add128)) != MPI_SUCCESS)
		return mpi_fail(rc, "the exact sum's type", e);
	*w = (nys_world){.rank = (unsigned)S.rank, .world = (unsigned)S.size, .sum = world_sum,
	                 .grads = world_grads, .sum_exact = world_sum_exact};
	return 0;
}

void nys_dist_info(const nys_info *info)
{
	S.info = info ? *info : (nys_info){0};
}

bool nys_dist_reduce_alone(void)
{
	return S.on && S.size == 1 && S.nccl_mode == 1;
}

void nys_dist_end(void)
{
	nys_nccl_free(S.nccl);
	S.nccl = NULL;
	free(S.host);
	S.host = NULL;
	S.host_bytes = 0;
	if (S.on) {
		MPI_Op_free(&S.add128);
		MPI_Type_free(&S.i128);
		MPI_Finalize();
	}
	S.on = false;
}

void nys_dist_abort(int code)
{
	if (S.on && S.size > 1)
		MPI_Abort(MPI_COMM_WORLD, code);
}

#else /* no MPI in this build */

bool nys_dist_built(void)
{
	return false;
}

int nys_dist_start(int *argc, char ***argv, nys_world *w, unsigned *local, nys_err *e)
{
	(void)argc;
	(void)argv;
	*w = (nys_world){.rank = 0, .world = 1};
	*local = 1;
	if (nys_dist_launched())
		return nys_err_set(e, "started by an MPI launcher, but this build has no MPI "
		                   "(it was made with MPI=0 or without mpicc)");
	return 0;
}

void nys_dist_end(void)
{
}

void nys_dist_info(const nys_info *info)
{
	(void)info;
}

bool nys_dist_reduce_alone(void)
{
	return false;
}

void nys_dist_abort(int code)
{
	(void)code;
}

#endif
