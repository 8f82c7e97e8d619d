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

#include "cublas_internal.h" /* nys_cublas: the entry points loaded */

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
