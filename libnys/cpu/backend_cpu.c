/* The CPU backend (nys_cpu.h): host memory aligned for the vector units,
 * the op templates of nys_ops.h over float or double (backend_cpu.inc, the
 * wrappers that backend_ops.def generates), OpenBLAS set to one thread
 * while the model runs (its products run on OpenMP's threads, see
 * dense_gemm in ops_dense.inc, and OpenBLAS's own pool then sleeps instead
 * of spinning against OpenMP's).  The ops never fail: the error path is
 * there for the interface's sake, and for a dtype an op does not have.
 * The matmul precision (nys_backend_set_matmul: a config's mixed_precision)
 * is accepted and not used: the CPU's products are always in full precision,
 * so a mixed-precision config trains here exactly as one without. */
#include "nys_cpu.h"
#include "nys_ops.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The instance's context. */
typedef struct cpu_ctx {
	int blas_threads; /* OpenBLAS's count before begin, to restore; 0: none */
} cpu_ctx;

static void cpu_destroy(nys_backend *be)
{
	free(be->ctx);
	free(be);
}

static void *cpu_alloc(nys_backend *be, size_t bytes)
{
	size_t n = (bytes + 63) / 64 * 64;
	return aligned_alloc(64, n ? n : 64);
}

static void cpu_release(nys_backend *be, void *p) { free(p); }

static int cpu_zero(nys_backend *be, void *p, size_t bytes)
{
	if (bytes)
		memset(p, 0, bytes);
	return 0;
}

static int cpu_set(nys_backend *be, void *dst, const void *host, size_t bytes)
{
	if (bytes)
		memcpy(dst, host, bytes);
	return 0;
}

static int cpu_get(nys_backend *be, void *host, const void *src, size_t bytes)
{
	if (bytes)
		memcpy(host, src, bytes);
	return 0;
}

static void cpu_begin(nys_backend *be)
{
	cpu_ctx *c = be->ctx;
	int nb = openblas_get_num_threads();
	if (nb > 1)
		openblas_set_num_threads(1);
	c->blas_threads = nb;
}

static int cpu_sync(nys_backend *be)
{
	cpu_ctx *c = be->ctx;
	if (c->blas_threads > 1)
		openblas_set_num_threads(c->blas_threads);
	c->blas_threads = 0;
	return be->failed ? -1 : 0;
}

/* NYS_OVERWRITE: the input gradient p zeroed before the template adds to it. */
static void cpu_clear(nys_acc acc, void *p, size_t bytes)
{
	if (acc == NYS_OVERWRITE && p && bytes)
		memset(p, 0, bytes);
}

/* A loss's stats: the loss, and the rows whose prediction is their label. */
static void cpu_stats(double *stats, double loss, const int32_t *pred, const int32_t *labels,
                      int N)
{
	if (!stats)
		return;
	double correct = 0;
	for (int i = 0; pred && i < N; i++)
		correct += labels[i] >= 0 && pred[i] == labels[i];
	stats[0] = loss;
	stats[1] = correct;
}

#define R float
#define NYS_FN(name) name##_f32
#define CPU_F32 1
#include "backend_cpu.inc"
#undef R
#undef NYS_FN
#undef CPU_F32

#define R double
#define NYS_FN(name) name##_f64
#define CPU_F32 0
#include "backend_cpu.inc"
#undef R
#undef NYS_FN
#undef CPU_F32

nys_backend *nys_backend_cpu_new(nys_dtype dtype, nys_err *e)
{
	if (dtype != NYS_F32 && dtype != NYS_F64) {
		nys_err_set(e, "cpu: the dtype must be F32 or F64");
		return NULL;
	}
	nys_backend *be = calloc(1, sizeof *be);
	cpu_ctx *c = calloc(1, sizeof *c);
	if (!be || !c) {
		free(be);
		free(c);
		nys_err_sys(e, "cpu backend");
		return NULL;
	}
	be->ops = dtype == NYS_F32 ? &cpu_ops_f32 : &cpu_ops_f64;
	be->ctx = c;
	be->name = "cpu";
	be->device = NYS_DEVICE_CPU;
	be->dtype = be->act_dtype = dtype;
	be->esize = be->act_esize = nys_dtype_size(dtype);
	return be;
}
