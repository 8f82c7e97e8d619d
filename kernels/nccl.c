/* NCCL, loaded at run time, for the gradients' all-reduce of data-parallel
 * runs on GPUs (nys_nccl.h).  Compiled by the C compiler with the CUDA
 * runtime's headers, like backend_cuda.c, in builds with nvcc only.
 *
 * NCCL's types and entry points are declared here, not taken from nccl.h,
 * so the build needs no NCCL headers; where nccl.h is found the sizes and
 * enum values used are checked against it at compile time. */
#include "nys_nccl.h"
#include "cuda_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What of nccl.h is used: ncclResult_t, ncclDataType_t and ncclRedOp_t are
 * C enums (ints); ncclUniqueId is passed by value to ncclCommInitRank. */
typedef int nccl_result;
typedef struct nccl_comm *nccl_comm;
typedef struct {
	char internal[NYS_NCCL_ID_BYTES];
} nccl_uid;
enum { NCCL_OK = 0, NCCL_IN_PROGRESS = 7, NCCL_F32 = 7, NCCL_F64 = 8, NCCL_SUM = 0 };

#if defined(__has_include)
#if __has_include(<nccl.h>)
#include <nccl.h>
_Static_assert(sizeof(ncclUniqueId) == sizeof(nccl_uid), "ncclUniqueId is 128 bytes");
_Static_assert(NCCL_UNIQUE_ID_BYTES == NYS_NCCL_ID_BYTES, "NCCL_UNIQUE_ID_BYTES");
_Static_assert((int)ncclSuccess == NCCL_OK && (int)ncclInProgress == NCCL_IN_PROGRESS,
               "ncclResult_t");
_Static_assert((int)ncclFloat32 == NCCL_F32 && (int)ncclFloat64 == NCCL_F64, "ncclDataType_t");
_Static_assert((int)ncclSum == NCCL_SUM, "ncclRedOp_t");
#endif
#endif

static struct {
	pthread_once_t once;
	void *lib;
	char why[512]; /* why it did not load */
	nccl_result (*get_version)(int *version);
	nccl_result (*get_unique_id)(nccl_uid *id);
	nccl_result (*comm_init_rank)(nccl_comm *comm, int nranks, nccl_uid id, int rank);
	nccl_result (*all_reduce)(const void *send, void *recv, size_t count, int dtype, int op,
	                          nccl_comm comm, cudaStream_t stream);
	nccl_result (*comm_get_async_error)(nccl_comm comm, nccl_result *err);
	nccl_result (*comm_abort)(nccl_comm comm);
	nccl_result (*comm_destroy)(nccl_comm comm);
	const char *(*error_string)(nccl_result r);
} N = {.once = PTHREAD_ONCE_INIT};

struct nys_nccl {
	nccl_comm comm;
};

void nys_nccl_pick_device(unsigned local_rank)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
		cudaGetLastError(); /* no driver, no GPU: not sticky */
		return;
	}
	cudaSetDevice((int)(local_rank % (unsigned)n));
}

/* NYS_NCCL_LIB alone when set; else libnccl.so.2 by name (the loader's
 * path), then in $CUDA_HOME/lib64 and /usr/local/cuda/lib64. */
static void *open_lib(void)
{
	const char *file = getenv("NYS_NCCL_LIB");
	if (file && *file)
		return dlopen(file, RTLD_NOW | RTLD_LOCAL);
	void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
	const char *home = getenv("CUDA_HOME");
	char path[1024];
	if (!h && home && *home) {
		snprintf(path, sizeof path, "%s/lib64/libnccl.so.2", home);
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	}
	if (!h)
		h = dlopen("/usr/local/cuda/lib64/libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
	return h;
}

/* A symbol into a function pointer (through memcpy, as ISO C allows). */
static bool sym(const char *name, void *fnp, size_t size)
{
	void *s = dlsym(N.lib, name);
	if (!s) {
		snprintf(N.why, sizeof N.why, "NCCL lacks %s", name);
		return false;
	}
	memcpy(fnp, &s, size);
	return true;
}

#define SYM(field, name) sym(name, &N.field, sizeof N.field)

static void load_once(void)
{
	if (!(N.lib = open_lib())) {
		const char *file = getenv("NYS_NCCL_LIB");
		snprintf(N.why, sizeof N.why, "cannot load NCCL (%s): %s",
		         file && *file ? file : "libnccl.so.2", dlerror());
		return;
	}
	if (!SYM(get_version, "ncclGetVersion") || !SYM(get_unique_id, "ncclGetUniqueId") ||
	    !SYM(comm_init_rank, "ncclCommInitRank") || !SYM(all_reduce, "ncclAllReduce") ||
	    !SYM(comm_get_async_error, "ncclCommGetAsyncError") ||
	    !SYM(comm_abort, "ncclCommAbort") || !SYM(comm_destroy, "ncclCommDestroy") ||
	    !SYM(error_string, "ncclGetErrorString")) {
		dlclose(N.lib);
		N.lib = NULL;
	}
}

int nys_nccl_load(int *version, nys_err *e)
{
	pthread_once(&N.once, load_once);
	if (!N.lib)
		return nys_err_set(e, "%s", N.why);
	int v = 0;
	nccl_result r = N.get_version(&v);
	if (r != NCCL_OK)
		return nys_err_set(e, "NCCL: ncclGetVersion: %s", N.error_string(r));
	if (version)
		*version = v;
	return 0;
}

int nys_nccl_unique_id(unsigned char id[NYS_NCCL_ID_BYTES], nys_err *e)
{
	if (nys_nccl_load(NULL, e))
		return -1;
	nccl_uid u;
	nccl_result r = N.get_unique_id(&u);
	if (r != NCCL_OK)
		return nys_err_set(e, "NCCL: ncclGetUniqueId: %s", N.error_string(r));
	memcpy(id, u.internal, sizeof u.internal);
	return 0;
}

nys_nccl *nys_nccl_comm(nys_backend *be, const unsigned char id[NYS_NCCL_ID_BYTES],
                        int nranks, int rank, nys_err *e)
{
	if (nys_nccl_load(NULL, e))
		return NULL;
	if (be->device != NYS_DEVICE_CUDA) {
		nys_err_set(e, "NCCL: the model runs on %s, not on a GPU", be->name);
		return NULL;
	}
	nys_nccl *c = calloc(1, sizeof *c);
	if (!c) {
		nys_err_set(e, "out of memory");
		return NULL;
	}
	nccl_uid u;
	memcpy(u.internal, id, sizeof u.internal);
	cudaSetDevice(nys_cuda_ctx(be)->device);
	nccl_result r = N.comm_init_rank(&c->comm, nranks, u, rank);
	if (r != NCCL_OK) {
		nys_err_set(e, "NCCL: ncclCommInitRank (rank %d of %d): %s", rank, nranks,
		            N.error_string(r));
		free(c);
		return NULL;
	}
	return c;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int nys_nccl_allreduce(nys_nccl *c, nys_backend *be, void *buf, size_t n, nys_dtype dtype,
                       double timeout, nys_err *e)
{
	if (!c->comm)
		return nys_err_set(e, "NCCL: the communicator was aborted");
	nys_cuda *cu = nys_cuda_ctx(be);
	cudaSetDevice(cu->device);
	nccl_result r = N.all_reduce(buf, buf, n, dtype == NYS_F64 ? NCCL_F64 : NCCL_F32, NCCL_SUM,
	                             c->comm, cu->stream);
	if (r != NCCL_OK && r != NCCL_IN_PROGRESS)
		return nys_err_set(e, "NCCL: ncclAllReduce of %zu gradients: %s", n,
		                   N.error_string(r));
	/* queued: poll, as dist.c polls MPI, against the deadline */
	double t0 = seconds();
	for (long polls = 0;; polls++) {
		cudaError_t q = cudaStreamQuery(cu->stream);
		if (q == cudaSuccess)
			return 0;
		if (q != cudaErrorNotReady)
			return nys_err_set(e, "cuda: the gradients' all-reduce: %s", cudaGetErrorString(q));
		nccl_result a = NCCL_OK;
		if (N.comm_get_async_error(c->comm, &a) == NCCL_OK && a != NCCL_OK &&
		    a != NCCL_IN_PROGRESS) {
			N.comm_abort(c->comm);
			c->comm = NULL;
			return nys_err_set(e, "NCCL: the gradients' all-reduce: %s", N.error_string(a));
		}
		if (seconds() - t0 > timeout) {
			N.comm_abort(c->comm);
			c->comm = NULL;
			nys_err_set(e, "NCCL: the gradients' all-reduce did not finish in %g s", timeout);
			return 1;
		}
		if (polls > 1000)
			nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
	}
}

void nys_nccl_free(nys_nccl *c)
{
	if (!c)
		return;
	if (c->comm)
		N.comm_destroy(c->comm);
	free(c);
}
