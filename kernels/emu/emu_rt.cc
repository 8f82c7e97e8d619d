#include "emu.h"
#include "nys_bf16.h"
std::vector<emu_fiber> emu_f;
int emu_cur;
ucontext_t emu_sched;
dim3 blockIdx, blockDim, gridDim;
void *emu_smem;
float emu_shfl[1024];
static std::function<void()> *emu_body;
static std::vector<char *> emu_stacks;
enum { STACK = 256 * 1024 };

static void emu_entry(void)
{
	(*emu_body)();
	emu_f[emu_cur].alive = false;
	swapcontext(&emu_f[emu_cur].ctx, &emu_sched);
}

// ---- cuBLAS and cuBLASLt, as loops
//
// Column major: C (m, n) = alpha op(A) (m, k) op(B) (k, n) + beta C (+ bias
// along the rows), the leading dimensions checked as cuBLAS does.  In fp32
// (CUBLAS_COMPUTE_32F) the sums are in double; with
// CUBLAS_COMPUTE_32F_FAST_16BF the way the tensor cores do it: each element
// of A and B rounded to bf16 (nearest, ties to even: nys_bf16.h), the
// products exact (8 bits times 8 fit a float), summed in float.
static cublasStatus_t emu_mm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             float alpha, const float *a, int lda, const float *bb, int ldb,
                             float beta, const float *cin, float *c, int ldc, const float *bias,
                             bool bf16)
{
	if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m ||
	    lda < 1 || ldb < 1 || ldc < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			double s = 0;
			float sf = 0;
			for (int l = 0; l < k; l++) {
				float x = ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda];
				float y = tb ? bb[j + (size_t)l * ldb] : bb[l + (size_t)j * ldb];
				if (bf16)
					sf += nys_bf16_round(x) * nys_bf16_round(y);
				else
					s += (double)x * y;
			}
			if (bf16)
				s = sf;
			double v = alpha * s + (beta == 0 ? 0.0 : (double)beta * cin[i + (size_t)j * ldc]);
			if (bias)
				v += bias[i];
			c[i + (size_t)j * ldc] = (float)v;
		}
	return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t emu_sgemm_batched(cublasHandle_t, cublasOperation_t ta,
                                        cublasOperation_t tb, int m, int n, int k,
                                        const float *alpha, const float *A, int lda,
                                        long long sa, const float *B, int ldb, long long sb,
                                        const float *beta, float *C, int ldc, long long sc,
                                        int batch)
{
	for (int b = 0; b < batch; b++) {
		cublasStatus_t st = emu_mm(ta, tb, m, n, k, *alpha, A + b * sa, lda, B + b * sb, ldb,
		                           *beta, C + b * sc, C + b * sc, ldc, nullptr, false);
		if (st)
			return st;
	}
	return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t emu_sgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                int m, int n, int k, const float *alpha, const float *A, int lda,
                                const float *B, int ldb, const float *beta, float *C, int ldc)
{
	return emu_mm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, C, ldc, nullptr, false);
}

static cublasStatus_t emu_gemm_ex(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb,
                                  int m, int n, int k, const void *alpha, const void *A,
                                  cudaDataType at, int lda, const void *B, cudaDataType bt,
                                  int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                                  cublasComputeType_t compute, cublasGemmAlgo_t algo)
{
	// what linear.cu asks for: float32 everywhere, in fp32 or bf16
	if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F ||
	    (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_16BF) ||
	    algo != CUBLAS_GEMM_DEFAULT)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	return emu_mm(ta, tb, m, n, k, *(const float *)alpha, (const float *)A, lda,
	              (const float *)B, ldb, *(const float *)beta, (float *)C, (float *)C, ldc,
	              nullptr, compute == CUBLAS_COMPUTE_32F_FAST_16BF);
}

struct emu_lt_desc {
	cublasComputeType_t compute;
	int32_t ta, tb;
	uint32_t epilogue;
	const void *bias;
	void *aux;      // the GELU epilogues' input matrix, written
	int64_t aux_ld; // its leading dimension
};
struct emu_lt_layout {
	cudaDataType type;
	uint64_t rows, cols;
	int64_t ld;
};
struct emu_lt_pref {
	uint64_t ws;
	uint32_t align[4]; // A, B, C, D
};
enum { EMU_ALGO = 0x4C54 }; // an algorithm of this emulator's heuristic

static int emu_live; // descriptors made and not destroyed
static int emu_lt_runs, emu_lt_gelu_runs; // cublasLtMatmul calls, those with a GELU epilogue

template <class T> static cublasStatus_t emu_new(T **p)
{
	*p = new T();
	emu_live++;
	return CUBLAS_STATUS_SUCCESS;
}
template <class T> static cublasStatus_t emu_del(T *p)
{
	if (!p)
		return CUBLAS_STATUS_INVALID_VALUE;
	delete p;
	emu_live--;
	return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t emu_desc_create(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
                                      cudaDataType_t scale)
{
	if ((compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_16BF) ||
	    scale != CUDA_R_32F)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	emu_new(d);
	**d = emu_lt_desc{compute, CUBLAS_OP_N, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, nullptr,
	                  nullptr, 0};
	return CUBLAS_STATUS_SUCCESS;
}
static cublasStatus_t emu_desc_destroy(cublasLtMatmulDesc_t d) { return emu_del(d); }
static cublasStatus_t emu_desc_set(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                   const void *buf, size_t bytes)
{
	// where each attribute goes, and its size, which must be the caller's
	void *dst;
	size_t want;
	switch (a) {
	case CUBLASLT_MATMUL_DESC_TRANSA: dst = &d->ta, want = sizeof d->ta; break;
	case CUBLASLT_MATMUL_DESC_TRANSB: dst = &d->tb, want = sizeof d->tb; break;
	case CUBLASLT_MATMUL_DESC_EPILOGUE: dst = &d->epilogue, want = sizeof d->epilogue; break;
	case CUBLASLT_MATMUL_DESC_BIAS_POINTER: dst = &d->bias, want = sizeof d->bias; break;
	case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER: dst = &d->aux, want = sizeof d->aux; break;
	case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD: dst = &d->aux_ld, want = sizeof d->aux_ld; break;
	default: return CUBLAS_STATUS_INVALID_VALUE;
	}
	if (bytes != want)
		return CUBLAS_STATUS_INVALID_VALUE;
	memcpy(dst, buf, bytes);
	return CUBLAS_STATUS_SUCCESS;
}
static cublasStatus_t emu_layout_create(cublasLtMatrixLayout_t *l, cudaDataType type,
                                        uint64_t rows, uint64_t cols, int64_t ld)
{
	if (ld < (int64_t)rows || ld < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	emu_new(l);
	**l = emu_lt_layout{type, rows, cols, ld};
	return CUBLAS_STATUS_SUCCESS;
}
static cublasStatus_t emu_layout_destroy(cublasLtMatrixLayout_t l) { return emu_del(l); }
static cublasStatus_t emu_pref_create(cublasLtMatmulPreference_t *p)
{
	emu_new(p);
	**p = emu_lt_pref{0, {256, 256, 256, 256}}; // cuBLASLt's defaults
	return CUBLAS_STATUS_SUCCESS;
}
static cublasStatus_t emu_pref_destroy(cublasLtMatmulPreference_t p) { return emu_del(p); }
static cublasStatus_t emu_pref_set(cublasLtMatmulPreference_t p,
                                   cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                   size_t bytes)
{
	if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && bytes == sizeof(uint64_t)) {
		memcpy(&p->ws, buf, bytes);
		return CUBLAS_STATUS_SUCCESS;
	}
	if (a >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES &&
	    a <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES && bytes == sizeof(uint32_t)) {
		memcpy(&p->align[a - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, bytes);
		return CUBLAS_STATUS_SUCCESS;
	}
	return CUBLAS_STATUS_INVALID_VALUE;
}

// The shapes the descriptor and layouts say: m, n, k, or false when they do
// not fit together (as cuBLASLt refuses them).
static bool emu_shapes(cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                       cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                       cublasLtMatrixLayout_t dl, int *m, int *n, int *k)
{
	uint64_t am = d->ta ? a->cols : a->rows, ak = d->ta ? a->rows : a->cols;
	uint64_t bk = d->tb ? b->cols : b->rows, bn = d->tb ? b->rows : b->cols;
	*m = (int)c->rows, *n = (int)c->cols, *k = (int)ak;
	return am == c->rows && bn == c->cols && ak == bk && dl->rows == c->rows &&
	       dl->cols == c->cols && a->type == CUDA_R_32F && b->type == CUDA_R_32F &&
	       c->type == CUDA_R_32F && dl->type == CUDA_R_32F;
}

// The epilogues linear.cu uses, with what each needs set: the bias pointer
// for the _BIAS ones; for the GELU ones the aux matrix (GELU's input, which
// cuBLASLt writes) with a leading dimension of at least C's rows and a
// multiple of 8, as cublasLt.h requires.
static bool emu_epi_gelu(uint32_t e)
{
	return e == CUBLASLT_EPILOGUE_GELU_AUX || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
}
static bool emu_epi_bias(uint32_t e)
{
	return e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
}
static bool emu_epilogue_ok(cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t c)
{
	uint32_t e = d->epilogue;
	bool gelu = emu_epi_gelu(e), bias = emu_epi_bias(e);
	if (e != CUBLASLT_EPILOGUE_DEFAULT && !gelu && !bias)
		return false;
	if (bias && !d->bias)
		return false;
	return !gelu || (d->aux && d->aux_ld >= (int64_t)c->rows && d->aux_ld % 8 == 0);
}

// The GELU of the CPU (ops_dense.inc, the tanh form through the logistic
// function) in float: what the emulated GELU epilogue computes, so the
// emulator checks linear.cu's plumbing, not cuBLASLt's own GELU.
static float emu_gelu(float x)
{
	const float k = 0.79788456080286535588f, a = 0.044715f;
	float xc = x < -16.0f ? -16.0f : x > 16.0f ? 16.0f : x;
	float m = -2.0f * k * (xc + a * xc * xc * xc);
	return (x > 0 ? x : xc) / (1.0f + expf(m < 80.0f ? m : 80.0f));
}

static cublasStatus_t emu_heuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                    cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                    cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dl,
                                    cublasLtMatmulPreference_t p, int want,
                                    cublasLtMatmulHeuristicResult_t *res, int *got)
{
	int m, n, k;
	*got = 0;
	if (!h || want < 1 || !emu_shapes(d, a, b, c, dl, &m, &n, &k))
		return CUBLAS_STATUS_INVALID_VALUE;
	if (!emu_epilogue_ok(d, c))
		return CUBLAS_STATUS_NOT_SUPPORTED;
	memset(res, 0, sizeof *res);
	res->algo.data[0] = EMU_ALGO;
	for (int i = 0; i < 4; i++) // the algorithm needs what the preference allowed
		res->algo.data[1 + i] = p->align[i];
	res->algo.data[5] = p->ws;
	res->state = CUBLAS_STATUS_SUCCESS;
	*got = 1;
	return CUBLAS_STATUS_SUCCESS;
}

static bool emu_aligned(const void *p, uint64_t al) { return (uintptr_t)p % al == 0; }

static cublasStatus_t emu_lt_matmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                    const void *alpha, const void *A, cublasLtMatrixLayout_t al,
                                    const void *B, cublasLtMatrixLayout_t bl, const void *beta,
                                    const void *C, cublasLtMatrixLayout_t cl, void *D,
                                    cublasLtMatrixLayout_t dl, const cublasLtMatmulAlgo_t *algo,
                                    void *ws, size_t ws_bytes, cudaStream_t)
{
	int m, n, k;
	if (!h || !algo || algo->data[0] != EMU_ALGO || !emu_shapes(d, al, bl, cl, dl, &m, &n, &k))
		return CUBLAS_STATUS_INVALID_VALUE;
	// an operand less aligned than the algorithm was chosen for, or less
	// workspace than it was: cuBLASLt would fail (or fault)
	if (!emu_aligned(A, algo->data[1]) || !emu_aligned(B, algo->data[2]) ||
	    !emu_aligned(C, algo->data[3]) || !emu_aligned(D, algo->data[4]) ||
	    ws_bytes < algo->data[5] || (algo->data[5] && !ws))
		return CUBLAS_STATUS_INVALID_VALUE;
	if (cl->ld != dl->ld || (C != D && *(const float *)beta != 0))
		return CUBLAS_STATUS_NOT_SUPPORTED; // not what linear.cu needs
	if (!emu_epilogue_ok(d, cl))
		return CUBLAS_STATUS_INVALID_VALUE;
	uint32_t e = d->epilogue;
	bool gelu = emu_epi_gelu(e), bias = emu_epi_bias(e);
	cublasStatus_t st = emu_mm((cublasOperation_t)d->ta, (cublasOperation_t)d->tb, m, n, k,
	                           *(const float *)alpha, (const float *)A, (int)al->ld,
	                           (const float *)B, (int)bl->ld, *(const float *)beta,
	                           (const float *)C, (float *)D, (int)dl->ld,
	                           bias ? (const float *)d->bias : nullptr,
	                           d->compute == CUBLAS_COMPUTE_32F_FAST_16BF);
	if (st)
		return st;
	emu_lt_runs++;
	if (!gelu)
		return st;
	emu_lt_gelu_runs++;
	// GELU_AUX: the sum (with the bias) into aux, its GELU into D
	float *aux = (float *)d->aux, *out = (float *)D;
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			float v = out[i + (size_t)j * dl->ld];
			aux[i + (size_t)j * d->aux_ld] = v;
			out[i + (size_t)j * dl->ld] = emu_gelu(v);
		}
	return CUBLAS_STATUS_SUCCESS;
}

// descriptors left at exit: a leak in linear.cu (run.sh looks for "emu:")
static struct emu_leak_check {
	~emu_leak_check()
	{
		if (emu_live)
			fprintf(stderr, "emu: %d cuBLASLt descriptors never destroyed\n", emu_live);
		// what ran through cuBLASLt, for run.sh: the bias and GELU epilogues
		// are taken where they should be, and never with NYS_CUDA_NO_LT=1
		fprintf(stderr, "emu-lt: %d cublasLtMatmul, %d with the GELU epilogue\n", emu_lt_runs,
		        emu_lt_gelu_runs);
	}
} emu_leaks;

static int emu_lt_handle;
static nys_cuda the_ctx;
nys_cuda *emu_ctx(void)
{
	if (!the_ctx.blas.sgemm) {
		// few "multiprocessors", so that the grid-stride loops go round
		the_ctx.sm_count = 2;
		const char *no_lt = getenv("NYS_CUDA_NO_LT");
		the_ctx.lt_handle = no_lt && !strcmp(no_lt, "1") ? nullptr : &emu_lt_handle;
		static char ws[256];
		the_ctx.workspace = ws; // unused by the loops
		nys_cublas *b = &the_ctx.blas;
		b->sgemm = emu_sgemm;
		b->sgemm_strided_batched = emu_sgemm_batched;
		b->gemm_ex = emu_gemm_ex;
		b->lt_desc_create = emu_desc_create;
		b->lt_desc_destroy = emu_desc_destroy;
		b->lt_desc_set = emu_desc_set;
		b->lt_layout_create = emu_layout_create;
		b->lt_layout_destroy = emu_layout_destroy;
		b->lt_pref_create = emu_pref_create;
		b->lt_pref_destroy = emu_pref_destroy;
		b->lt_pref_set = emu_pref_set;
		b->lt_heuristic = emu_heuristic;
		b->lt_matmul = emu_lt_matmul;
	}
	return &the_ctx;
}

// the context's scratch: grown as backend_cuda.c grows it, NaN when new
void *nys_cuda_scratch(nys_backend *, size_t bytes)
{
	static std::vector<float> sc;
	size_t n = (bytes + sizeof(float) - 1) / sizeof(float);
	if (n > sc.size())
		sc.assign(n, NAN);
	return sc.data();
}

void emu_run(dim3 grid, dim3 block, size_t smem, std::function<void()> body)
{
	int nt = (int)(block.x * block.y * block.z);
	if (nt > 1024 || nt < 1 || smem > 48 * 1024 || grid.x < 1) {
		fprintf(stderr, "emu: bad launch %u threads %d smem %zu\n", grid.x, nt, smem);
		abort();
	}
	blockDim = block, gridDim = grid;
	emu_body = &body;
	emu_f.resize(nt);
	while ((int)emu_stacks.size() < nt)
		emu_stacks.push_back((char *)malloc(STACK));
	std::vector<unsigned char> sm(smem ? smem : 1, 0xFF); // NaN
	emu_smem = sm.data();
	for (unsigned bz = 0; bz < grid.z; bz++)
		for (unsigned by = 0; by < grid.y; by++)
			for (unsigned bx = 0; bx < grid.x; bx++) {
				blockIdx = dim3(bx, by, bz);
				memset(sm.data(), 0xFF, sm.size());
				for (int i = 0; i < nt; i++) {
					emu_fiber &f = emu_f[i];
					f.tid = dim3(i % block.x, i / block.x % block.y, i / (block.x * block.y));
					f.wait = 0, f.alive = true;
					getcontext(&f.ctx);
					f.ctx.uc_stack.ss_sp = emu_stacks[i];
					f.ctx.uc_stack.ss_size = STACK;
					f.ctx.uc_link = NULL;
					makecontext(&f.ctx, emu_entry, 0);
				}
				for (;;) {
					bool any = false;
					for (int i = 0; i < nt; i++)
						if (emu_f[i].alive && emu_f[i].wait == 0) {
							emu_cur = i;
							swapcontext(&emu_sched, &emu_f[i].ctx);
							any = true;
						}
					int nalive = 0, nblock = 0;
					bool released = false;
					for (int w = 0; w < (nt + 31) / 32; w++) {
						int a = 0, at = 0;
						for (int i = w * 32; i < nt && i < w * 32 + 32; i++)
							if (emu_f[i].alive)
								a++, at += emu_f[i].wait == 2;
						if (a && at == a) {
							if (a != 32 && a != nt) {
								fprintf(stderr, "emu: shuffle in a partial warp\n");
								abort();
							}
							for (int i = w * 32; i < nt && i < w * 32 + 32; i++)
								emu_f[i].wait = 0;
							released = true;
						}
					}
					for (int i = 0; i < nt; i++)
						if (emu_f[i].alive)
							nalive++, nblock += emu_f[i].wait == 1;
					if (!nalive)
						break;
					if (!released && nblock == nalive) {
						if (nalive != nt) {
							fprintf(stderr, "emu: __syncthreads after some threads returned\n");
							abort();
						}
						for (int i = 0; i < nt; i++)
							emu_f[i].wait = 0;
						released = true;
					}
					if (!released && !any) {
						fprintf(stderr, "emu: deadlock\n");
						abort();
					}
				}
			}
}
