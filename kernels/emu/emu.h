// A tiny CUDA emulator for checking kernels/attn.cu and kernels/linear.cu on
// the CPU: blocks run one after another, the threads of a block as
// cooperative fibers (ucontext), so __syncthreads and warp shuffles are real
// barriers; cuBLAS and the cuBLASLt calls linear.cu makes are loops in
// emu_rt.cc.  Not part of the project.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ucontext.h>
#include <vector>

#define restrict __restrict__
extern "C" {
#include "nys_backend.h"
}
#undef restrict

struct dim3 {
	unsigned x, y, z;
	dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
typedef int *cudaStream_t;
typedef enum { cudaSuccess = 0 } cudaError_t;
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t) { return "ok"; }
typedef enum {
	CUBLAS_STATUS_SUCCESS = 0,
	CUBLAS_STATUS_INVALID_VALUE = 7,
	CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef void *cublasHandle_t;
// the names the kernel files use of cuBLAS's and cuBLASLt's types (the
// values are cuBLAS's own, though nothing depends on them)
typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType;
typedef cudaDataType cudaDataType_t;
typedef enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_16BF = 75 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
typedef enum {
	CUBLASLT_MATMUL_DESC_TRANSA = 3,
	CUBLASLT_MATMUL_DESC_TRANSB = 4,
	CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
	CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
	CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER = 11,
	CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD = 12,
} cublasLtMatmulDescAttributes_t;
typedef enum {
	CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
	CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
	CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
	CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
	CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
} cublasLtMatmulPreferenceAttributes_t;
typedef enum {
	CUBLASLT_EPILOGUE_DEFAULT = 1,
	CUBLASLT_EPILOGUE_BIAS = 4,
	CUBLASLT_EPILOGUE_GELU_AUX = 160,
	CUBLASLT_EPILOGUE_GELU_AUX_BIAS = 164,
} cublasLtEpilogue_t;
typedef struct emu_lt_desc *cublasLtMatmulDesc_t;
typedef struct emu_lt_layout *cublasLtMatrixLayout_t;
typedef struct emu_lt_pref *cublasLtMatmulPreference_t;
typedef void *cublasLtHandle_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
	cublasLtMatmulAlgo_t algo;
	size_t workspaceSize;
	cublasStatus_t state;
	float wavesCount;
	int reserved[4];
} cublasLtMatmulHeuristicResult_t;

typedef enum { CUBLAS_DEFAULT_MATH = 0 } cublasMath_t;
// the table of kernels/cuda_internal.h, which emu_rt.cc fills with its loops
#include "cublas_internal.h"
typedef struct {
	int sm_count;
	cudaStream_t stream;
	cublasHandle_t blas_handle;
	cublasLtHandle_t lt_handle; // NULL with NYS_CUDA_NO_LT=1: the cuBLAS path
	void *workspace;
	nys_cublas blas;
} nys_cuda;
#define NYS_CUDA_WORKSPACE ((size_t)32 << 20)
nys_cuda *emu_ctx(void);
static inline nys_cuda *nys_cuda_ctx(nys_backend *) { return emu_ctx(); }
// the context's scratch (backend_cuda.c's), here host memory filled with NaN
void *nys_cuda_scratch(nys_backend *be, size_t bytes);
static inline int min(int a, int b) { return a < b ? a : b; }

#define NYS_CUDA_TRY(be, call)                                                              \
	do {                                                                                    \
		cudaError_t nys_ce_ = (call);                                                       \
		if (nys_ce_ != cudaSuccess)                                                         \
			return nys_backend_fail((be), "cuda: %s:%d: %s", __FILE__, __LINE__,            \
			                        cudaGetErrorString(nys_ce_));                          \
	} while (0)
#define NYS_CUDA_LAUNCHED(be) NYS_CUDA_TRY(be, cudaGetLastError())
#define NYS_CUBLAS_TRY(be, call)                                                            \
	do {                                                                                    \
		cublasStatus_t nys_bs_ = (call);                                                    \
		if (nys_bs_ != CUBLAS_STATUS_SUCCESS)                                               \
			return nys_backend_fail((be), "cuda: %s:%d: cuBLAS status %d", __FILE__,        \
			                        __LINE__, (int)nys_bs_);                               \
	} while (0)

#define __global__
#define __device__
#define __host__

// ---- the fibers
struct emu_fiber {
	ucontext_t ctx;
	dim3 tid;
	int wait; // 0 running, 1 block barrier, 2 warp barrier
	bool alive;
};
extern std::vector<emu_fiber> emu_f;
extern int emu_cur;
extern ucontext_t emu_sched;
extern dim3 blockIdx, blockDim, gridDim;
extern void *emu_smem;
extern float emu_shfl[1024];
static inline dim3 emu_tid(void) { return emu_f[emu_cur].tid; }
#define threadIdx (emu_tid())
static inline void emu_wait(int kind)
{
	emu_f[emu_cur].wait = kind;
	swapcontext(&emu_f[emu_cur].ctx, &emu_sched);
}
static inline void __syncthreads(void) { emu_wait(1); }
static inline float __shfl_xor_sync(unsigned, float v, int o)
{
	int me = emu_cur;
	emu_shfl[me] = v;
	emu_wait(2);
	float r = emu_shfl[(me & ~31) | ((me & 31) ^ o)];
	emu_wait(2);
	return r;
}
static inline void *emu_dyn_smem(void) { return emu_smem; }
void emu_run(dim3 grid, dim3 block, size_t smem, std::function<void()> body);

struct emu_launcher {
	dim3 g, b;
	size_t smem;
	template <class F, class... A> void operator()(F f, A... a)
	{
		emu_run(g, b, smem, [=] { f(a...); });
	}
};
static inline emu_launcher emu_launch(dim3 g, dim3 b, size_t smem = 0, cudaStream_t = 0)
{
	return emu_launcher{g, b, smem};
}
