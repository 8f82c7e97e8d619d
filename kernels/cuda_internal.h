/* What the files of the CUDA backend share (C and CUDA): the instance's
 * context (device, stream, cuBLAS and cuBLASLt handles and the entry points
 * loaded from them at run time, scratch), and the checks every CUDA call,
 * launch and cuBLAS call goes through.
 *
 * cuBLAS is not linked: backend_cuda.c dlopen()s libcublas.so.13 (or .12)
 * and libcublasLt, so that a program built with CUDA starts on a machine
 * without the CUDA libraries (the runtime, cudart, is linked statically
 * and needs only the driver, and only once a GPU is used).  Call cuBLAS
 * through nys_cuda_ctx(be)->blas.NAME. */
#ifndef NYS_CUDA_INTERNAL_H
#define NYS_CUDA_INTERNAL_H

#ifdef __cplusplus
/* The library's headers are C11: restrict is C++'s __restrict__. */
#define restrict __restrict__
extern "C" {
#endif
#include "nys_backend.h"
#ifdef __cplusplus
}
#undef restrict
#endif

#include <cublasLt.h>
#include <cublas_api.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The cuBLAS and cuBLASLt entry points the backend uses. */
typedef struct nys_cublas {
	cublasStatus_t (*create)(cublasHandle_t *h);
	cublasStatus_t (*destroy)(cublasHandle_t h);
	cublasStatus_t (*set_stream)(cublasHandle_t h, cudaStream_t s);
	cublasStatus_t (*set_math_mode)(cublasHandle_t h, cublasMath_t mode);
	cublasStatus_t (*set_workspace)(cublasHandle_t h, void *ws, size_t bytes);
	cublasStatus_t (*sgemm)(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
	                        int m, int n, int k, const float *alpha, const float *A, int lda,
	                        const float *B, int ldb, const float *beta, float *C, int ldc);
	cublasStatus_t (*sgemm_strided_batched)(cublasHandle_t h, cublasOperation_t ta,
	                                        cublasOperation_t tb, int m, int n, int k,
	                                        const float *alpha, const float *A, int lda,
	                                        long long sa, const float *B, int ldb,
	                                        long long sb, const float *beta, float *C,
	                                        int ldc, long long sc, int batch);
	cublasStatus_t (*gemm_ex)(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
	                          int m, int n, int k, const void *alpha, const void *A,
	                          cudaDataType Atype, int lda, const void *B, cudaDataType Btype,
	                          int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
	                          cublasComputeType_t compute, cublasGemmAlgo_t algo);
	cublasStatus_t (*gemm_strided_batched_ex)(
		cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
		const void *alpha, const void *A, cudaDataType Atype, int lda, long long sa,
		const void *B, cudaDataType Btype, int ldb, long long sb, const void *beta, void *C,
		cudaDataType Ctype, int ldc, long long sc, int batch, cublasComputeType_t compute,
		cublasGemmAlgo_t algo);
	/* cuBLASLt (all NULL when libcublasLt did not load or lacks one of
	 * them: the linear op then takes the cuBLAS path, linear.cu) */
	cublasStatus_t (*lt_create)(cublasLtHandle_t *h);
	cublasStatus_t (*lt_destroy)(cublasLtHandle_t h);
	cublasStatus_t (*lt_desc_create)(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
	                                 cudaDataType_t scale);
	cublasStatus_t (*lt_desc_destroy)(cublasLtMatmulDesc_t d);
	cublasStatus_t (*lt_desc_set)(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
	                              const void *buf, size_t bytes);
	cublasStatus_t (*lt_layout_create)(cublasLtMatrixLayout_t *l, cudaDataType type,
	                                   uint64_t rows, uint64_t cols, int64_t ld);
	cublasStatus_t (*lt_layout_destroy)(cublasLtMatrixLayout_t l);
	cublasStatus_t (*lt_pref_create)(cublasLtMatmulPreference_t *p);
	cublasStatus_t (*lt_pref_destroy)(cublasLtMatmulPreference_t p);
	cublasStatus_t (*lt_pref_set)(cublasLtMatmulPreference_t p,
	                              cublasLtMatmulPreferenceAttributes_t a, const void *buf,
	                              size_t bytes);
	cublasStatus_t (*lt_heuristic)(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
	                               cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
	                               cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dl,
	                               cublasLtMatmulPreference_t p, int want,
	                               cublasLtMatmulHeuristicResult_t *res, int *got);
	cublasStatus_t (*lt_matmul)(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha,
	                            const void *A, cublasLtMatrixLayout_t al, const void *B,
	                            cublasLtMatrixLayout_t bl, const void *beta, const void *C,
	                            cublasLtMatrixLayout_t cl, void *D, cublasLtMatrixLayout_t dl,
	                            const cublasLtMatmulAlgo_t *algo, void *ws, size_t ws_bytes,
	                            cudaStream_t s);
} nys_cublas;

/* The instance's context. */
typedef struct nys_cuda {
	int device;            /* the CUDA device number */
	char name[256];        /* its name, "NVIDIA H200" */
	int sm_count;          /* multiprocessors, for grid sizes */
	cudaStream_t stream;   /* every op runs on it, in order */
	void *blas_lib;        /* dlopen handles */
	void *lt_lib;
	cublasHandle_t blas_handle;
	cublasLtHandle_t lt_handle; /* NULL without cuBLASLt (or with NYS_CUDA_NO_LT=1) */
	nys_cublas blas;
	/* device scratch for the ops' reductions and sorts (block partial
	 * sums, sort keys), scratch_bytes, grown by nys_cuda_scratch; used by
	 * one op at a time, in stream order */
	void *scratch;
	size_t scratch_bytes;
	/* cuBLAS's workspace, NYS_CUDA_WORKSPACE bytes; cuBLASLt's too (the
	 * two run in stream order, never at once) */
	void *workspace;
} nys_cuda;

#define NYS_CUDA_SCRATCH ((size_t)1 << 20) /* the scratch to start with */
#define NYS_CUDA_WORKSPACE ((size_t)32 << 20)

static inline nys_cuda *nys_cuda_ctx(nys_backend *be) { return (nys_cuda *)be->ctx; }

/* The context's scratch, at least bytes of it: grown (cudaFree waits for
 * the device: the first steps only) when too small; NULL with the failure
 * recorded when the device has no memory for it. */
void *nys_cuda_scratch(nys_backend *be, size_t bytes);

/* A failed CUDA call records "cuda: file:line: what" in the instance and
 * makes the enclosing op return -1. */
#define NYS_CUDA_TRY(be, call)                                                              \
	do {                                                                                    \
		cudaError_t nys_ce_ = (call);                                                       \
		if (nys_ce_ != cudaSuccess)                                                         \
			return nys_backend_fail((be), "cuda: %s:%d: %s", __FILE__, __LINE__,            \
			                        cudaGetErrorString(nys_ce_));                          \
	} while (0)
/* After each kernel launch: a bad configuration shows here, a fault in the
 * kernel at the next sync (cudaStreamSynchronize), reported the same way. */
#define NYS_CUDA_LAUNCHED(be) NYS_CUDA_TRY(be, cudaGetLastError())
#define NYS_CUBLAS_TRY(be, call)                                                            \
	do {                                                                                    \
		cublasStatus_t nys_bs_ = (call);                                                    \
		if (nys_bs_ != CUBLAS_STATUS_SUCCESS)                                               \
			return nys_backend_fail((be), "cuda: %s:%d: cuBLAS status %d", __FILE__,        \
			                        __LINE__, (int)nys_bs_);                               \
	} while (0)

#ifdef __cplusplus
}
#endif

#endif
