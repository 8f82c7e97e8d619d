#include "emu.h"
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

static cublasStatus_t emu_gemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                               int n, int k, const float *alpha, const float *A, int lda,
                               long long sa, const float *B, int ldb, long long sb,
                               const float *beta, float *C, int ldc, long long sc, int batch)
{
	// column major: C (m, n) = alpha op(A) (m, k) op(B) (k, n) + beta C
	if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m || lda < 1 || ldb < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	for (int b = 0; b < batch; b++) {
		const float *a = A + b * sa, *bb = B + b * sb;
		float *c = C + b * sc;
		for (int j = 0; j < n; j++)
			for (int i = 0; i < m; i++) {
				double s = 0;
				for (int l = 0; l < k; l++) {
					double x = ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda];
					double y = tb ? bb[j + (size_t)l * ldb] : bb[l + (size_t)j * ldb];
					s += x * y;
				}
				float *o = c + i + (size_t)j * ldc;
				*o = (float)(*alpha * s + (*beta == 0 ? 0.0 : (double)*beta * *o));
			}
	}
	return CUBLAS_STATUS_SUCCESS;
}

static nys_cuda the_ctx = {0, 0, {emu_gemm}};
nys_cuda *emu_ctx(void) { return &the_ctx; }

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
