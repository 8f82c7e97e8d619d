/* The linear op on CUDA (the dense layers: Q, K, V, the output projection,
 * the feed-forward, the heads), with the CPU op's contract
 * (libnys/cpu/ops_dense_decl.inc): out = inp weight^T + bias, the input
 * gradient overwritten or accumulated as acc says, the weight and bias
 * gradients added to; and the feed-forward's fused linear + GELU
 * (linear_gelu_forward, below).
 *
 * - Precision: the instance's matmul (nys_backend.h).  NYS_MATMUL_F32 is
 *   true float32 (cuBLAS's default math, no TF32); NYS_MATMUL_BF16, a
 *   config's mixed_precision, runs the three products on tensor cores with
 *   CUBLAS_COMPUTE_32F_FAST_16BF: the factors are float32 in memory and
 *   rounded to bf16 inside cuBLAS, the products summed in float32 into
 *   float32 results, so parameters, gradients and activations stay float32
 *   (fp32 master weights) and nothing else changes.  The bias gradient is
 *   a float32 column sum in both.
 * - The forward with a bias is one cublasLtMatmul with the bias in its
 *   epilogue (CUBLASLT_EPILOGUE_BIAS, as llm.c's matmul), so no separate
 *   pass writes the bias first.  The preference states the operands' real
 *   alignment (the model's tensors are sub-buffers).  Where cuBLASLt did not
 *   load, or has no algorithm for the case, the forward writes the bias in
 *   a pass and adds the product to it through cuBLAS (beta = 1): the same
 *   sums, one more pass over out.
 * - linear_gelu_forward is one cublasLtMatmul with the GELU epilogue
 *   (CUBLASLT_EPILOGUE_GELU_AUX_BIAS, as llm.c's matmul): the sum with the
 *   bias goes to pre (the aux matrix, which gelu_backward reads later) and
 *   its GELU to out, so no pass reads pre back to apply GELU.  cuBLASLt
 *   documents its GELU only as the tanh approximation; the conformance test
 *   holds it to the CPU's (1e-5), which only a GPU run can confirm.  The
 *   fallback, where cuBLASLt or an algorithm is missing or the aux leading
 *   dimension (OC) is not a multiple of 8: the linear op, then the GELU
 *   kernel.
 * - The products are row-major through the transposes: the row-major
 *   (N, OC) out is column-major (OC, N), so out^T = weight inp^T with
 *   weight (OC, C) read transposed.
 * Every launch and cuBLAS call is checked. */
#include "cuda_ops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

namespace {

#include "colsum.cuh"

__global__ void k_bias_rows(float *out, const float *bias, int N, int OC)
{
	GRID_STRIDE(i, (size_t)N * OC)
	out[i] = bias[i % (size_t)OC];
}

/* Column-major C (m, n) = op(A) op(B) + beta C, in the instance's
 * precision. */
int gemm(nys_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
         const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	nys_cuda *c = nys_cuda_ctx(be);
	float one = 1;
	if (be->matmul == NYS_MATMUL_BF16)
		NYS_CUBLAS_TRY(be, c->blas.gemm_ex(c->blas_handle, ta, tb, m, n, k, &one, A, CUDA_R_32F,
		                                   lda, B, CUDA_R_32F, ldb, &beta, C, CUDA_R_32F, ldc,
		                                   CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
	else
		NYS_CUBLAS_TRY(be, c->blas.sgemm(c->blas_handle, ta, tb, m, n, k, &one, A, lda, B, ldb,
		                                 &beta, C, ldc));
	return 0;
}

/* The largest power of two (up to 256) that divides p's address: what the
 * cuBLASLt preference says of an operand. */
uint32_t align_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	uint32_t al = 256;
	while (al > 1 && a % al)
		al /= 2;
	return al;
}

/* out (N, OC) = inp (N, C) weight^T + bias as one cublasLtMatmul with the
 * bias in its epilogue; with pre, the GELU epilogue too: pre = the sum
 * with the bias (cuBLASLt's aux output, leading dimension OC), out = its
 * GELU (CUBLASLT_EPILOGUE_GELU_AUX_BIAS, or GELU_AUX without a bias).
 * 0 done, -1 failed (recorded), 1 not possible here (no cuBLASLt, or no
 * algorithm for it): the caller takes the cuBLAS path. */
int lt_linear(nys_backend *be, float *out, float *pre, const float *inp, const float *weight,
              const float *bias, int N, int C, int OC)
{
	nys_cuda *c = nys_cuda_ctx(be);
	const nys_cublas *b = &c->blas;
	if (!c->lt_handle || !b->lt_matmul)
		return 1;
	/* cuBLASLt wants the aux matrix's leading dimension a multiple of 8 */
	if (pre && OC % 8)
		return 1;
	cublasComputeType_t compute = be->matmul == NYS_MATMUL_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
	                                                            : CUBLAS_COMPUTE_32F;
	cublasLtMatmulDesc_t desc = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t res;
	int32_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
	uint32_t epi = !pre ? CUBLASLT_EPILOGUE_BIAS
	               : bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
	void *aux_p = pre;
	int64_t aux_ld = OC;
	uint64_t ws = NYS_CUDA_WORKSPACE;
	uint32_t al_a = align_of(weight), al_b = align_of(inp), al_c = align_of(out);
	const void *bias_p = bias;
	float one = 1, zero = 0;
	int got = 0, rc = -1;
	cublasStatus_t st;
	memset(&res, 0, sizeof res);
	/* A = weight stored (C, OC) column-major, used transposed; B = inp
	 * stored (C, N); C = D = out (OC, N); the bias runs along D's rows */
	if ((st = b->lt_desc_create(&desc, compute, CUDA_R_32F)) ||
	    (st = b->lt_desc_set(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta)) ||
	    (st = b->lt_desc_set(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb)) ||
	    (st = b->lt_desc_set(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)) ||
	    (bias && (st = b->lt_desc_set(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_p,
	                                  sizeof bias_p))) ||
	    (pre && (st = b->lt_desc_set(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux_p,
	                                 sizeof aux_p))) ||
	    (pre && (st = b->lt_desc_set(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld,
	                                 sizeof aux_ld))) ||
	    (st = b->lt_layout_create(&la, CUDA_R_32F, (uint64_t)C, (uint64_t)OC, C)) ||
	    (st = b->lt_layout_create(&lb, CUDA_R_32F, (uint64_t)C, (uint64_t)N, C)) ||
	    (st = b->lt_layout_create(&lc, CUDA_R_32F, (uint64_t)OC, (uint64_t)N, OC)) ||
	    (st = b->lt_pref_create(&pref)) ||
	    (st = b->lt_pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws)) ||
	    (st = b->lt_pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
	                         sizeof al_a)) ||
	    (st = b->lt_pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
	                         sizeof al_b)) ||
	    (st = b->lt_pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c,
	                         sizeof al_c)) ||
	    (st = b->lt_pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c,
	                         sizeof al_c))) {
		nys_backend_fail(be, "cuda: %s:%d: cuBLASLt set-up: status %d", __FILE__, __LINE__,
		                 (int)st);
		goto out;
	}
	/* no algorithm (NOT_SUPPORTED, or none returned): the cuBLAS path */
	if (b->lt_heuristic(c->lt_handle, desc, la, lb, lc, lc, pref, 1, &res, &got) ||
	    got < 1 || res.state != CUBLAS_STATUS_SUCCESS) {
		rc = 1;
		goto out;
	}
	if ((st = b->lt_matmul(c->lt_handle, desc, &one, weight, la, inp, lb, &zero, out, lc, out,
	                       lc, &res.algo, c->workspace, NYS_CUDA_WORKSPACE, c->stream))) {
		nys_backend_fail(be, "cuda: %s:%d: cublasLtMatmul: status %d", __FILE__, __LINE__,
		                 (int)st);
		goto out;
	}
	rc = 0;
out:
	if (pref)
		b->lt_pref_destroy(pref);
	if (lc)
		b->lt_layout_destroy(lc);
	if (lb)
		b->lt_layout_destroy(lb);
	if (la)
		b->lt_layout_destroy(la);
	if (desc)
		b->lt_desc_destroy(desc);
	return rc;
}

} // namespace

extern "C" {

int nys_cuda_linear_forward(nys_backend *be, void *out, const void *inp, const void *weight,
                            const void *bias, int N, int C, int OC)
{
	if (N <= 0 || OC <= 0)
		return 0;
	float *o = (float *)out;
	const float *x = (const float *)inp, *w = (const float *)weight, *bs = (const float *)bias;
	if (bias && C > 0) {
		int r = lt_linear(be, o, NULL, x, w, bs, N, C, OC);
		if (r <= 0)
			return r;
	}
	if (bias) {
		k_bias_rows<<<grid_for(be, (size_t)N * OC), THREADS, 0, stream_of(be)>>>(o, bs, N, OC);
		NYS_CUDA_LAUNCHED(be);
	}
	/* out^T (OC, N) = weight (OC, C) @ inp^T, column-major */
	return gemm(be, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, w, C, x, C, bias ? 1.0f : 0.0f, o, OC);
}

/* pre = inp weight^T + bias, out = GELU(pre) (the tanh form): one
 * cublasLtMatmul with the GELU epilogue where cuBLASLt has it for the case,
 * otherwise the linear op and the GELU kernel of dense.cu (through the
 * table, so that the emulator runs its own). */
int nys_cuda_linear_gelu_forward(nys_backend *be, void *out, void *pre, const void *inp,
                                 const void *weight, const void *bias, int N, int C, int OC)
{
	if (N <= 0 || OC <= 0)
		return 0;
	if (C > 0) {
		int r = lt_linear(be, (float *)out, (float *)pre, (const float *)inp,
		                  (const float *)weight, (const float *)bias, N, C, OC);
		if (r <= 0)
			return r;
	}
	if (nys_cuda_linear_forward(be, pre, inp, weight, bias, N, C, OC))
		return -1;
	return nys_backend_gelu_forward(be, out, pre, (size_t)N * OC);
}

int nys_cuda_linear_backward(nys_backend *be, nys_acc acc, void *dinp, void *dweight,
                             void *dbias, const void *dout, const void *inp, const void *weight,
                             int N, int C, int OC)
{
	if (N <= 0)
		return 0;
	const float *d = (const float *)dout, *x = (const float *)inp, *w = (const float *)weight;
	/* dinp^T (C, N) = weight^T (C, OC) @ dout^T (OC, N) */
	if (dinp && gemm(be, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, w, C, d, OC,
	                 acc == NYS_ACCUMULATE ? 1.0f : 0.0f, (float *)dinp, C))
		return -1;
	/* dweight^T (C, OC) += inp^T (C, N) @ dout (N, OC) */
	if (dweight && gemm(be, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, x, C, d, OC, 1.0f,
	                    (float *)dweight, C))
		return -1;
	if (dbias && col_sum_add(be, (float *)dbias, col_plain{d}, N, OC))
		return -1;
	return 0;
}

} // extern "C"
