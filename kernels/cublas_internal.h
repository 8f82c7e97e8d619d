/* The table of the cuBLAS and cuBLASLt entry points the CUDA backend
 * uses, loaded at run time (backend_cuda.c), in one place for the backend
 * (cuda_internal.h, with cuBLAS's headers) and the CPU emulator of the
 * kernels (emu/emu.h, with its own declarations of the same types), so
 * that the kernel files call the same table on both.  Included after the
 * types are declared. */
#ifndef NYS_CUBLAS_INTERNAL_H
#define NYS_CUBLAS_INTERNAL_H

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

#endif
