/* The CUDA backend (nys_cuda.h): the instance, its device memory and
 * stream, cuBLAS loaded at run time, and the op table.  Compiled by the C
 * compiler; the kernels are in the .cu files, which register their ops
 * into the table (cuda_ops.h).
 *
 * - Memory is cudaMalloc'd (256-byte aligned); zero and set are queued on
 *   the instance's stream, get waits for it (the contract of tensor_get), so
 *   a step issues no host round-trip but the ones the model asks for.
 * - sync waits for the stream and turns a kernel's failure (sticky in the
 *   CUDA context) into the instance's recorded failure, which
 *   nys_backend_sync reports as a nys_err.
 * - The programs link cudart statically and load cuBLAS with dlopen, so a
 *   binary built here starts, and runs on the CPU, on a machine without a
 *   driver or without the CUDA libraries. */
#include "nys_cuda.h"
#include "cuda_ops.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cuBLAS, loaded ---------------------------------------------------- */

/* The first of names that loads: by name (the loader's path: the ld.so
 * cache, LD_LIBRARY_PATH), then from NYS_CUBLAS_DIR, $CUDA_HOME/lib64 and
 * /usr/local/cuda/lib64, where the toolkit puts them without registering
 * them with the loader. */
static void *cuda_dlopen_first(const char *const *names)
{
	for (const char *const *n = names; *n; n++) {
		void *h = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
		if (h)
			return h;
	}
	const char *home = getenv("CUDA_HOME");
	char homelib[512] = "";
	if (home && *home)
		snprintf(homelib, sizeof homelib, "%s/lib64", home);
	const char *dirs[] = {getenv("NYS_CUBLAS_DIR"), homelib, "/usr/local/cuda/lib64"};
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		if (!dirs[d] || !*dirs[d])
			continue;
		for (const char *const *n = names; *n; n++) {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", dirs[d], *n);
			void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (h)
				return h;
		}
	}
	return NULL;
}

/* A symbol into a function pointer of the table (a void * to a function
 * pointer through memcpy, which ISO C allows where a cast is not). */
static int cuda_sym(void *lib, const char *name, void *fnp, size_t fn_size)
{
	void *s = dlsym(lib, name);
	if (!s)
		return -1;
	memcpy(fnp, &s, fn_size);
	return 0;
}

#define CUDA_SYM(lib, field, name) cuda_sym(lib, name, &(field), sizeof(field))

static const char *const blas_names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                                         NULL};
static const char *const lt_names[] = {"libcublasLt.so.13", "libcublasLt.so.12",
                                       "libcublasLt.so", NULL};

static int cuda_load_blas(nys_cuda *c, nys_err *e)
{
	/* libcublas needs libcublasLt: loaded first, globally, so it resolves */
	c->lt_lib = cuda_dlopen_first(lt_names);
	if (!(c->blas_lib = cuda_dlopen_first(blas_names)))
		return nys_err_set(e, "cuda: cannot load cuBLAS (libcublas.so.13 or .12): %s",
		                   dlerror());
	nys_cublas *b = &c->blas;
	if (CUDA_SYM(c->blas_lib, b->create, "cublasCreate_v2") ||
	    CUDA_SYM(c->blas_lib, b->destroy, "cublasDestroy_v2") ||
	    CUDA_SYM(c->blas_lib, b->set_stream, "cublasSetStream_v2") ||
	    CUDA_SYM(c->blas_lib, b->set_math_mode, "cublasSetMathMode") ||
	    CUDA_SYM(c->blas_lib, b->set_workspace, "cublasSetWorkspace_v2") ||
	    CUDA_SYM(c->blas_lib, b->sgemm, "cublasSgemm_v2") ||
	    CUDA_SYM(c->blas_lib, b->sgemm_strided_batched, "cublasSgemmStridedBatched") ||
	    CUDA_SYM(c->blas_lib, b->gemm_ex, "cublasGemmEx") ||
	    CUDA_SYM(c->blas_lib, b->gemm_strided_batched_ex, "cublasGemmStridedBatchedEx"))
		return nys_err_set(e, "cuda: cuBLAS lacks a function: %s", dlerror());
	/* cuBLASLt is optional: without all of these the linear op uses cuBLAS
	 * alone (a separate bias pass); NYS_CUDA_NO_LT=1 forces that, to test it */
	const char *no_lt = getenv("NYS_CUDA_NO_LT");
	if (!c->lt_lib || (no_lt && !strcmp(no_lt, "1")) ||
	    CUDA_SYM(c->lt_lib, b->lt_create, "cublasLtCreate") ||
	    CUDA_SYM(c->lt_lib, b->lt_destroy, "cublasLtDestroy") ||
	    CUDA_SYM(c->lt_lib, b->lt_desc_create, "cublasLtMatmulDescCreate") ||
	    CUDA_SYM(c->lt_lib, b->lt_desc_destroy, "cublasLtMatmulDescDestroy") ||
	    CUDA_SYM(c->lt_lib, b->lt_desc_set, "cublasLtMatmulDescSetAttribute") ||
	    CUDA_SYM(c->lt_lib, b->lt_layout_create, "cublasLtMatrixLayoutCreate") ||
	    CUDA_SYM(c->lt_lib, b->lt_layout_destroy, "cublasLtMatrixLayoutDestroy") ||
	    CUDA_SYM(c->lt_lib, b->lt_pref_create, "cublasLtMatmulPreferenceCreate") ||
	    CUDA_SYM(c->lt_lib, b->lt_pref_destroy, "cublasLtMatmulPreferenceDestroy") ||
	    CUDA_SYM(c->lt_lib, b->lt_pref_set, "cublasLtMatmulPreferenceSetAttribute") ||
	    CUDA_SYM(c->lt_lib, b->lt_heuristic, "cublasLtMatmulAlgoGetHeuristic") ||
	    CUDA_SYM(c->lt_lib, b->lt_matmul, "cublasLtMatmul"))
		b->lt_create = NULL, b->lt_destroy = NULL, b->lt_matmul = NULL;
	return 0;
}

/* ---- the GPU ------------------------------------------------------------ */

int nys_cuda_probe(nys_err *why)
{
	nys_err dummy;
	if (!why)
		why = &dummy;
	int n = 0;
	cudaError_t ce = cudaGetDeviceCount(&n);
	if (ce != cudaSuccess) {
		if (ce == cudaErrorInsufficientDriver)
			nys_err_set(why, "no NVIDIA driver, or one older than this build's CUDA %d.%d: %s",
			            CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10,
			            cudaGetErrorString(ce));
		else
			nys_err_set(why, "%s", cudaGetErrorString(ce));
		cudaGetLastError(); /* not sticky: clear it */
		return 0;
	}
	if (n < 1)
		return nys_err_set(why, "no CUDA device"), 0;
	int dev = 0, major = 0;
	if (cudaGetDevice(&dev) != cudaSuccess ||
	    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
		return nys_err_set(why, "cannot query the device"), 0;
	if (major < 8)
		return nys_err_set(why, "compute capability %d.x: nys needs 8.0 or more", major), 0;
	void *lib = cuda_dlopen_first(blas_names);
	if (!lib)
		return nys_err_set(why, "cannot load cuBLAS (libcublas.so.13 or .12)"), 0;
	dlclose(lib);
	return 1;
}

int nys_cuda_available(void) { return nys_cuda_probe(NULL); }

const char *nys_cuda_device_name(const nys_backend *be)
{
	return ((const nys_cuda *)be->ctx)->name;
}

/* ---- memory and control ------------------------------------------------ */

static void cuda_destroy(nys_backend *be)
{
	nys_cuda *c = be->ctx;
	if (c) {
		if (c->stream)
			cudaStreamSynchronize(c->stream);
		if (c->blas_handle)
			c->blas.destroy(c->blas_handle);
		if (c->lt_handle && c->blas.lt_destroy)
			c->blas.lt_destroy(c->lt_handle);
		cudaFree(c->scratch);
		cudaFree(c->workspace);
		if (c->stream)
			cudaStreamDestroy(c->stream);
		if (c->blas_lib)
			dlclose(c->blas_lib);
		if (c->lt_lib)
			dlclose(c->lt_lib);
		free(c);
	}
	free(be);
}

static void *cuda_alloc(nys_backend *be, size_t bytes)
{
	void *p = NULL;
	size_t n = (bytes + 255) / 256 * 256;
	if (cudaMalloc(&p, n ? n : 256) != cudaSuccess) {
		cudaGetLastError(); /* out of memory is not sticky */
		return NULL;
	}
	return p;
}

static void cuda_release(nys_backend *be, void *p)
{
	/* cudaFree waits for the device; the buffer's last users are done */
	cudaFree(p);
}

static int cuda_zero(nys_backend *be, void *p, size_t bytes)
{
	if (bytes)
		NYS_CUDA_TRY(be, cudaMemsetAsync(p, 0, bytes, nys_cuda_ctx(be)->stream));
	return 0;
}

static int cuda_set(nys_backend *be, void *dst, const void *host, size_t bytes)
{
	/* From pageable host memory the copy is staged before the call returns,
	 * so host may be reused at once. */
	if (bytes)
		NYS_CUDA_TRY(be, cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice,
		                                 nys_cuda_ctx(be)->stream));
	return 0;
}

static int cuda_get(nys_backend *be, void *host, const void *src, size_t bytes)
{
	nys_cuda *c = nys_cuda_ctx(be);
	if (bytes)
		NYS_CUDA_TRY(be, cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, c->stream));
	NYS_CUDA_TRY(be, cudaStreamSynchronize(c->stream));
	return 0;
}

void *nys_cuda_scratch(nys_backend *be, size_t bytes)
{
	nys_cuda *c = nys_cuda_ctx(be);
	if (bytes <= c->scratch_bytes)
		return c->scratch;
	size_t n = c->scratch_bytes * 2 > bytes ? c->scratch_bytes * 2 : bytes;
	n = (n + 255) / 256 * 256;
	cudaFree(c->scratch);
	c->scratch = NULL;
	c->scratch_bytes = 0;
	cudaError_t ce = cudaMalloc(&c->scratch, n);
	if (ce != cudaSuccess) {
		cudaGetLastError();
		c->scratch = NULL;
		nys_backend_fail(be, "cuda: no device memory for %zu bytes of scratch: %s", n,
		                 cudaGetErrorString(ce));
		return NULL;
	}
	c->scratch_bytes = n;
	return c->scratch;
}

static void cuda_begin(nys_backend *be) { cudaSetDevice(nys_cuda_ctx(be)->device); }

static int cuda_sync(nys_backend *be)
{
	NYS_CUDA_TRY(be, cudaStreamSynchronize(nys_cuda_ctx(be)->stream));
	NYS_CUDA_TRY(be, cudaGetLastError());
	return be->failed ? -1 : 0;
}

/* ---- the table ------------------------------------------------------------ */

/* Every op first fails plainly; the kernel files then put in theirs. */
#define NYS_R void
#define NYS_REAL double
#define NYS_OP(name, params, args)                                                          \
	static int cuda_stub_##name(nys_backend *be, NYS_EXPAND params)                          \
	{                                                                                       \
		return nys_backend_fail(be, "cuda: " #name " has no CUDA kernel");                 \
	}
#include "backend_ops.def"
#undef NYS_OP

static nys_backend_ops cuda_ops = {
	.destroy = cuda_destroy,
	.alloc = cuda_alloc,
	.release = cuda_release,
	.zero = cuda_zero,
	.set = cuda_set,
	.get = cuda_get,
	.begin = cuda_begin,
	.sync = cuda_sync,
#define NYS_OP(name, params, args) .name = cuda_stub_##name,
#include "backend_ops.def"
#undef NYS_OP
};
#undef NYS_R
#undef NYS_REAL

static pthread_once_t cuda_ops_once = PTHREAD_ONCE_INIT;

static void cuda_ops_init(void)
{
	nys_cuda_ops_dense(&cuda_ops);
	nys_cuda_ops_attn(&cuda_ops);
}

/* ---- the instance ------------------------------------------------------- */

static int cuda_ctx_init(nys_cuda *c, nys_err *e)
{
	nys_err why;
	if (!nys_cuda_probe(&why))
		return nys_err_set(e, "cuda: no usable GPU (%s), so no CUDA backend", why.msg);
	cudaError_t ce;
	struct cudaDeviceProp prop;
	if ((ce = cudaGetDevice(&c->device)) != cudaSuccess ||
	    (ce = cudaGetDeviceProperties(&prop, c->device)) != cudaSuccess ||
	    (ce = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess ||
	    (ce = cudaMalloc(&c->scratch, NYS_CUDA_SCRATCH)) != cudaSuccess ||
	    (ce = cudaMalloc(&c->workspace, NYS_CUDA_WORKSPACE)) != cudaSuccess)
		return nys_err_set(e, "cuda: %s", cudaGetErrorString(ce));
	c->scratch_bytes = NYS_CUDA_SCRATCH;
	snprintf(c->name, sizeof c->name, "%s", prop.name);
	c->sm_count = prop.multiProcessorCount;
	if (cuda_load_blas(c, e))
		return -1;
	cublasStatus_t bs;
	if ((bs = c->blas.create(&c->blas_handle)) != CUBLAS_STATUS_SUCCESS) {
		c->blas_handle = NULL;
		return nys_err_set(e, "cuda: cublasCreate: status %d", (int)bs);
	}
	/* fp32 products in fp32 (no TF32): the ops match the CPU's to ~1e-5 */
	if ((bs = c->blas.set_stream(c->blas_handle, c->stream)) != CUBLAS_STATUS_SUCCESS ||
	    (bs = c->blas.set_math_mode(c->blas_handle, CUBLAS_DEFAULT_MATH)) !=
	        CUBLAS_STATUS_SUCCESS ||
	    (bs = c->blas.set_workspace(c->blas_handle, c->workspace, NYS_CUDA_WORKSPACE)) !=
	        CUBLAS_STATUS_SUCCESS)
		return nys_err_set(e, "cuda: cuBLAS set-up: status %d", (int)bs);
	if (c->blas.lt_create && c->blas.lt_create(&c->lt_handle) != CUBLAS_STATUS_SUCCESS)
		c->lt_handle = NULL;
	return 0;
}

nys_backend *nys_backend_cuda_new(nys_dtype dtype, nys_err *e)
{
	if (dtype != NYS_F32) {
		nys_err_set(e, "cuda: the dtype must be F32 (float64 runs on the CPU only)");
		return NULL;
	}
	nys_backend *be = calloc(1, sizeof *be);
	nys_cuda *c = calloc(1, sizeof *c);
	if (!be || !c) {
		free(be);
		free(c);
		nys_err_sys(e, "cuda backend");
		return NULL;
	}
	be->ctx = c;
	if (cuda_ctx_init(c, e)) {
		cuda_destroy(be);
		return NULL;
	}
	pthread_once(&cuda_ops_once, cuda_ops_init);
	be->ops = &cuda_ops;
	be->name = "cuda";
	be->device = NYS_DEVICE_CUDA;
	be->dtype = be->act_dtype = dtype;
	be->esize = be->act_esize = nys_dtype_size(dtype);
	return be;
}
