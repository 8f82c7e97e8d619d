/* The attention ops on CUDA: the heads' layout changes, softmax attention
 * and Nystrom attention, forward and backward, with the CPU ops' semantics
 * (libnys/cpu/ops_attn_decl.inc says what each computes; this file follows
 * ops_attn.inc step by step, so that the two can be read side by side).
 *
 * Attention runs in float32 whatever the backend's activations: the
 * pseudo-inverse's Newton iterations lose their accuracy in 16 bits (the
 * authors keep them in fp32 too).
 *
 * How the work is laid out (kernels/README.md, "The attention kernels"):
 *  - every per-head matrix product is one cuBLAS strided-batched SGEMM over
 *    all (b, h) at once (attn_mm: row-major products on column-major
 *    cuBLAS by swapping the operands);
 *  - the scaling, the masking and the softmax of a kernel matrix are one
 *    kernel (attn_rows_softmax, attn_sdpa_rows), and so are the softmax
 *    backward's row dot product and product (attn_rows_softmax_bwd);
 *  - the landmarks (segment means) of Q and K are one kernel that also
 *    applies the D^-1/4 scaling and the mask (attn_landmarks);
 *  - the pseudo-inverse iterates all (b, h) together; the max column sum
 *    over the batch (NYS_PINV_ORIGINAL) is a reduction over the per-matrix
 *    maxima, on the device, with no host round-trip;
 *  - the depthwise conv is a tiled kernel over (b, h, rows, channels)
 *    with the taps and a halo of V in shared memory; its weight gradient
 *    is block partial sums reduced in a fixed order (no atomics), so every
 *    result is the same from run to run.
 * `saved` has the CPU backend's layout (the same sizes); `scratch` has this
 * file's (attn_nys_scratch), sized by the _size ops. */
#include "cuda_ops.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

typedef float R;

enum {
	ATTN_BLOCK = 256,   /* threads of the element-wise and row kernels */
	ATTN_WIDE = 512,    /* rows this long get a block each, shorter a warp */
	ATTN_CT_R = 64,     /* conv tile: rows */
	ATTN_CT_D = 32,     /* conv tile: channels (one warp across) */
	ATTN_CONV_MAX = 255 /* the largest conv kernel the tiles' shared memory takes */
};

/* The largest scratch for softmax products (elements) the size queries
 * ask for: (b, h) beyond what fits run in turn, as the CPU's slots. */
static const size_t attn_slot_cap = (size_t)1 << 28;

/* ---- checks and launches ---------------------------------------------------- */

#define ATTN_F32(be, what)                                                                  \
	do {                                                                                    \
		if ((be)->act_dtype != NYS_F32 || (be)->dtype != NYS_F32)                           \
			return nys_backend_fail((be), "cuda: %s runs on float32 only", (what));         \
	} while (0)

static unsigned attn_grid(size_t n)
{
	size_t b = (n + ATTN_BLOCK - 1) / ATTN_BLOCK;
	if (b > ((size_t)1 << 20))
		b = (size_t)1 << 20; /* the kernels loop over the rest */
	return b ? (unsigned)b : 1;
}

#define ATTN_FOR(e, n)                                                                      \
	for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < (n);                \
	     e += (size_t)gridDim.x * blockDim.x)

/* C (M, N) = alpha op(A) op(B) + beta C for `batch` row-major matrices at
 * strides sa, sb, sc (elements), as the CPU's attn_mm: cuBLAS is column
 * major, so it computes C^T = op(B)^T op(A)^T.  beta 0 ignores C's
 * contents (NaN included). */
static int attn_mm(nys_backend *be, int ta, int tb, int M, int N, int K, float alpha,
                   const R *A, long long sa, const R *B, long long sb, float beta, R *C,
                   long long sc, int batch)
{
	nys_cuda *c = nys_cuda_ctx(be);
	NYS_CUBLAS_TRY(be, c->blas.sgemm_strided_batched(
	                       c->blas_handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
	                       ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, tb ? K : N, sb, A,
	                       ta ? M : K, sa, &beta, C, N, sc, batch));
	return 0;
}

static cudaStream_t attn_stream(nys_backend *be) { return nys_cuda_ctx(be)->stream; }

/* ---- reductions over a row's threads -------------------------------------------- */

#define ATTN_FULL 0xffffffffu

__device__ static inline float attn_warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(ATTN_FULL, v, o);
	return v;
}

/* a running softmax: the largest score mx so far and sum exp(x - mx) */
__device__ static inline void attn_ms_add(float &mx, float &s, float x)
{
	if (x > mx) {
		s = s * expf(mx - x) + 1;
		mx = x;
	} else {
		s += expf(x - mx);
	}
}

__device__ static inline void attn_ms_merge(float &mx, float &s, float mx2, float s2)
{
	float m = fmaxf(mx, mx2);
	if (m == -INFINITY)
		return; /* both empty */
	s = (mx == -INFINITY ? 0 : s * expf(mx - m)) + (mx2 == -INFINITY ? 0 : s2 * expf(mx2 - m));
	mx = m;
}

/* W threads own a row: W = 32 a warp (8 rows a block), W = 256 the block.
 * sh: 2 W/32 floats of shared memory (W = 256). */
template <int W> __device__ static inline float attn_team_sum(float v, float *sh)
{
	v = attn_warp_sum(v);
	if (W == 32)
		return v;
	int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
	if (lane == 0)
		sh[wid] = v;
	__syncthreads();
	v = lane < W / 32 ? sh[lane] : 0;
	v = attn_warp_sum(v);
	__syncthreads();
	return v;
}

template <int W> __device__ static inline void attn_team_ms(float &mx, float &s, float *sh)
{
	for (int o = 16; o > 0; o >>= 1) {
		float m2 = __shfl_xor_sync(ATTN_FULL, mx, o), s2 = __shfl_xor_sync(ATTN_FULL, s, o);
		attn_ms_merge(mx, s, m2, s2);
	}
	if (W == 32)
		return;
	int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
	if (lane == 0)
		sh[wid] = mx, sh[W / 32 + wid] = s;
	__syncthreads();
	mx = -INFINITY, s = 0;
	for (int w = 0; w < W / 32; w++)
		attn_ms_merge(mx, s, sh[w], sh[W / 32 + w]);
	__syncthreads();
}

/* The row r of this thread's team and its lane, for nrows rows; false when
 * the team has no row (only W = 32: the block's last warps). */
template <int W> __device__ static inline bool attn_team_row(long long nrows, long long *r, int *lane)
{
	if (W == 32) {
		*r = (long long)blockIdx.x * (ATTN_BLOCK / 32) + (threadIdx.x >> 5);
		*lane = threadIdx.x & 31;
	} else {
		*r = blockIdx.x;
		*lane = threadIdx.x;
	}
	return *r < nrows;
}

static unsigned attn_row_grid(long long nrows, int wide)
{
	return (unsigned)(wide ? nrows : (nrows + ATTN_BLOCK / 32 - 1) / (ATTN_BLOCK / 32));
}

/* ---- heads: (B, T, 3, H, D) <-> (B, H, T, D) ----------------------------------- */

__global__ static void attn_split_fwd(R *q, R *k, R *v, const R *qkv, int B, int T, int H, int D)
{
	size_t n = (size_t)B * H * T * D, A = (size_t)H * D;
	ATTN_FOR(e, n)
	{
		size_t d = e % D, r = e / D, t = r % T;
		r /= T;
		size_t h = r % H, b = r / H;
		const R *row = qkv + ((size_t)b * T + t) * 3 * A + h * D + d;
		q[e] = row[0];
		k[e] = row[A];
		v[e] = row[2 * A];
	}
}

__global__ static void attn_split_bwd(int acc, R *dqkv, const R *dq, const R *dk, const R *dv,
                                      int B, int T, int H, int D)
{
	size_t n = (size_t)B * T * 3 * H * D;
	ATTN_FOR(e, n)
	{
		size_t d = e % D, r = e / D, h = r % H;
		r /= H;
		size_t which = r % 3;
		r /= 3;
		size_t t = r % T, b = r / T;
		size_t o = (((size_t)b * H + h) * T + t) * D + d;
		R g = which == 0 ? dq[o] : which == 1 ? dk[o] : dv[o];
		dqkv[e] = acc ? dqkv[e] + g : g;
	}
}

__global__ static void attn_merge_fwd(R *out, const R *inp, int B, int T, int H, int D)
{
	size_t n = (size_t)B * T * H * D;
	ATTN_FOR(e, n)
	{
		size_t d = e % D, r = e / D, h = r % H;
		r /= H;
		size_t t = r % T, b = r / T;
		out[e] = inp[(((size_t)b * H + h) * T + t) * D + d];
	}
}

__global__ static void attn_merge_bwd(int acc, R *dinp, const R *dout, int B, int T, int H, int D)
{
	size_t n = (size_t)B * H * T * D;
	ATTN_FOR(e, n)
	{
		size_t d = e % D, r = e / D, t = r % T;
		r /= T;
		size_t h = r % H, b = r / H;
		R g = dout[((size_t)b * T + t) * H * D + h * D + d];
		dinp[e] = acc ? dinp[e] + g : g;
	}
}

extern "C" int nys_cuda_split_heads_forward(nys_backend *be, void *q, void *k, void *v,
                                            const void *qkv, int B, int T, int H, int D)
{
	ATTN_F32(be, "split_heads");
	size_t n = (size_t)B * H * T * D;
	attn_split_fwd<<<attn_grid(n), ATTN_BLOCK, 0, attn_stream(be)>>>(
		(R *)q, (R *)k, (R *)v, (const R *)qkv, B, T, H, D);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

extern "C" int nys_cuda_split_heads_backward(nys_backend *be, nys_acc acc, void *dqkv,
                                             const void *dq, const void *dk, const void *dv,
                                             int B, int T, int H, int D)
{
	ATTN_F32(be, "split_heads");
	size_t n = (size_t)B * T * 3 * H * D;
	attn_split_bwd<<<attn_grid(n), ATTN_BLOCK, 0, attn_stream(be)>>>(
		acc == NYS_ACCUMULATE, (R *)dqkv, (const R *)dq, (const R *)dk, (const R *)dv, B, T, H,
		D);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

extern "C" int nys_cuda_merge_heads_forward(nys_backend *be, void *out, const void *inp, int B,
                                            int T, int H, int D)
{
	ATTN_F32(be, "merge_heads");
	size_t n = (size_t)B * T * H * D;
	attn_merge_fwd<<<attn_grid(n), ATTN_BLOCK, 0, attn_stream(be)>>>((R *)out, (const R *)inp,
	                                                                  B, T, H, D);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

extern "C" int nys_cuda_merge_heads_backward(nys_backend *be, nys_acc acc, void *dinp,
                                             const void *dout, int B, int T, int H, int D)
{
	ATTN_F32(be, "merge_heads");
	size_t n = (size_t)B * H * T * D;
	attn_merge_bwd<<<attn_grid(n), ATTN_BLOCK, 0, attn_stream(be)>>>(
		acc == NYS_ACCUMULATE, (R *)dinp, (const R *)dout, B, T, H, D);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

/* ---- dropout: the CPU's counter hash (ops_attn_decl.inc) ------------------------------ */

__device__ static inline uint64_t attn_row_key(uint64_t seed, uint64_t row)
{
	uint64_t z = seed + (row + 1) * 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

__device__ static inline uint32_t attn_elem_hash(uint64_t key, uint32_t j)
{
	uint32_t h = (uint32_t)key + j * 0x9E3779B9u;
	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	return h ^ (uint32_t)(key >> 32);
}

/* the CPU's attn_drop_threshold, of the rate rounded to float as it takes it */
static uint32_t attn_drop_threshold(float p)
{
	double t = (double)p * 4294967296.0;
	if (!(t > 0))
		return 0;
	return t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
}

/* ---- scaled dot-product attention over a group of (b, h) --------------------------
 * S_ij = alpha q_i.k_j [* mk_i mk_j when qkmask] - neg (1 - mk_j), P = softmax_j(S),
 * out = drop(P) v: softmax attention (qkmask 0, neg 1e6, dropout) and
 * Nystrom attention with landmarks == T (qkmask 1, neg 1e9). */
struct attn_sdpa {
	int T, D, H, qkmask;
	float alpha, neg, dscale;
	uint32_t thr;
	uint64_t seed;
};

/* the scores of row i from its products p (alpha applied) */
__device__ static inline float attn_sdpa_score(const attn_sdpa &a, float p, float mi, float mj)
{
	return a.qkmask ? mi * mj * p - a.neg * (1 - mj) : p - a.neg * (1 - mj);
}

/* The row of P (nb, T, T) a team of W threads owns: its index i, its (b, h),
 * the mask of its sequence, its offset in P and its dropout key; false when
 * the team has none. */
struct attn_sdpa_row {
	int i, bh;
	const R *mk;
	size_t off;
	uint64_t key;
};

template <int W>
__device__ static inline bool attn_sdpa_row_at(const attn_sdpa &a, const R *mask, int bh0, int nb,
                                               attn_sdpa_row *w, int *lane)
{
	long long r;
	int T = a.T;
	if (!attn_team_row<W>((long long)nb * T, &r, lane))
		return false;
	int bl = (int)(r / T);
	w->i = (int)(r % T);
	w->bh = bh0 + bl;
	w->mk = mask + (size_t)(w->bh / a.H) * T;
	w->off = (size_t)bl * T * T + (size_t)w->i * T;
	w->key = attn_row_key(a.seed, (uint64_t)w->bh * T + w->i);
	return true;
}

/* x, dropped or scaled as element j of the row with this key */
__device__ static inline float attn_sdpa_drop(const attn_sdpa &a, uint64_t key, int j, float x)
{
	return a.thr ? x * a.dscale * (float)(attn_elem_hash(key, (uint32_t)j) >= a.thr) : x;
}

/* forward rows: P (nb, T, T) of (b, h) = bh0.. in place to drop(softmax),
 * lse (B H T) of the group */
template <int W>
__global__ static void attn_sdpa_rows(attn_sdpa a, R *P, R *lse, const R *mask, int bh0, int nb)
{
	__shared__ float sh[2 * (W / 32)];
	attn_sdpa_row w;
	int lane, T = a.T;
	if (!attn_sdpa_row_at<W>(a, mask, bh0, nb, &w, &lane))
		return;
	R *p = P + w.off;
	float mi = w.mk[w.i], mx = -INFINITY, s = 0;
	for (int j = lane; j < T; j += W)
		attn_ms_add(mx, s, attn_sdpa_score(a, p[j], mi, w.mk[j]));
	attn_team_ms<W>(mx, s, sh);
	float inv = 1 / s;
	for (int j = lane; j < T; j += W)
		p[j] = attn_sdpa_drop(a, w.key, j, expf(attn_sdpa_score(a, p[j], mi, w.mk[j]) - mx) * inv);
	if (lane == 0)
		lse[(size_t)w.bh * T + w.i] = mx + logf(s);
}

/* backward rows, part 1: P from S and the lse; dP = drop(P) when dropping */
template <int W>
__global__ static void attn_sdpa_rows_p(attn_sdpa a, R *P, R *dP, const R *lse, const R *mask,
                                        int bh0, int nb)
{
	attn_sdpa_row w;
	int lane, T = a.T;
	if (!attn_sdpa_row_at<W>(a, mask, bh0, nb, &w, &lane))
		return;
	R *p = P + w.off;
	float mi = w.mk[w.i], li = lse[(size_t)w.bh * T + w.i];
	for (int j = lane; j < T; j += W) {
		float x = expf(attn_sdpa_score(a, p[j], mi, w.mk[j]) - li);
		p[j] = x;
		if (a.thr)
			dP[w.off + j] = attn_sdpa_drop(a, w.key, j, x);
	}
}

/* backward rows, part 2: dP (the gradient of drop(P)) -> dS into P */
template <int W>
__global__ static void attn_sdpa_rows_ds(attn_sdpa a, R *P, const R *dP, const R *mask, int bh0,
                                         int nb)
{
	__shared__ float sh[2 * (W / 32)];
	attn_sdpa_row w;
	int lane, T = a.T;
	if (!attn_sdpa_row_at<W>(a, mask, bh0, nb, &w, &lane))
		return;
	R *p = P + w.off;
	const R *g = dP + w.off;
	float dot = 0;
	for (int j = lane; j < T; j += W)
		dot += p[j] * attn_sdpa_drop(a, w.key, j, g[j]);
	dot = attn_team_sum<W>(dot, sh);
	float ai = w.mk[w.i];
	for (int j = lane; j < T; j += W) {
		float gj = attn_sdpa_drop(a, w.key, j, g[j]);
		p[j] = a.qkmask ? p[j] * (gj - dot) * ai * w.mk[j] : p[j] * (gj - dot);
	}
}

/* How many (b, h) the softmax products of one pass hold at once. */
static int attn_sdpa_slots_want(int nbh, int T)
{
	size_t per = 2 * (size_t)T * (size_t)T, n = attn_slot_cap / per;
	if (n < 1)
		n = 1;
	return n < (size_t)nbh ? (int)n : nbh;
}

#define ATTN_ROWS(kern, wide, nrows, ...)                                                   \
	do {                                                                                    \
		if (wide)                                                                           \
			kern<ATTN_BLOCK><<<attn_row_grid(nrows, 1), ATTN_BLOCK, 0, attn_stream(be)>>>(  \
				__VA_ARGS__);                                                               \
		else                                                                                \
			kern<32><<<attn_row_grid(nrows, 0), ATTN_BLOCK, 0, attn_stream(be)>>>(          \
				__VA_ARGS__);                                                               \
		NYS_CUDA_LAUNCHED(be);                                                              \
	} while (0)

/* Every (b, h), forward (dout NULL) or backward, in groups of the slots
 * that scratch (2 T^2 each) holds.  The backward overwrites dq, dk, dv
 * with acc 0 (its first products have beta 0) and adds to them with 1. */
static int attn_sdpa_all(nys_backend *be, attn_sdpa a, R *out, R *lse, R *dq, R *dk, R *dv,
                         const R *lse_in, R *scratch, size_t scratch_n, const R *dout,
                         const R *q, const R *k, const R *v, const R *mask, int nbh, int acc)
{
	int T = a.T, D = a.D, wide = T >= ATTN_WIDE;
	size_t td = (size_t)T * D, tt = (size_t)T * T;
	size_t fit = scratch_n / (2 * tt);
	if (fit < 1)
		return nys_backend_fail(be, "cuda: attention scratch of %zu elements holds no slot",
		                        scratch_n);
	int slots = fit < (size_t)nbh ? (int)fit : nbh;
	float beta = acc ? 1.0f : 0.0f;
	R *P = scratch, *dP = scratch + (size_t)slots * tt;
	for (int bh0 = 0; bh0 < nbh; bh0 += slots) {
		int nb = nbh - bh0 < slots ? nbh - bh0 : slots;
		size_t o = (size_t)bh0 * td;
		if (attn_mm(be, 0, 1, T, T, D, a.alpha, q + o, td, k + o, td, 0, P, tt, nb))
			return -1;
		if (!dout) {
			ATTN_ROWS(attn_sdpa_rows, wide, (long long)nb * T, a, P, lse, mask, bh0, nb);
			if (attn_mm(be, 0, 0, T, D, T, 1, P, tt, v + o, td, 0, out + o, td, nb))
				return -1;
			continue;
		}
		ATTN_ROWS(attn_sdpa_rows_p, wide, (long long)nb * T, a, P, dP, lse_in, mask, bh0, nb);
		/* dv += drop(P)^T dout; then dP = d drop(P) = dout v^T */
		if (attn_mm(be, 1, 0, T, D, T, 1, a.thr ? dP : P, tt, dout + o, td, beta, dv + o, td,
		            nb) ||
		    attn_mm(be, 0, 1, T, T, D, 1, dout + o, td, v + o, td, 0, dP, tt, nb))
			return -1;
		ATTN_ROWS(attn_sdpa_rows_ds, wide, (long long)nb * T, a, P, dP, mask, bh0, nb);
		/* dq += alpha dS k, dk += alpha dS^T q */
		if (attn_mm(be, 0, 0, T, D, T, a.alpha, P, tt, k + o, td, beta, dq + o, td, nb) ||
		    attn_mm(be, 1, 0, T, D, T, a.alpha, P, tt, q + o, td, beta, dk + o, td, nb))
			return -1;
	}
	return 0;
}

static attn_sdpa attn_softmax_setup(int T, int D, int H, double p_drop, uint64_t seed)
{
	float p = (float)p_drop; /* the CPU templates take the rate as float */
	attn_sdpa a;
	a.T = T, a.D = D, a.H = H, a.qkmask = 0;
	a.alpha = (float)(1 / sqrt((double)D));
	a.neg = 1e6f;
	a.dscale = (float)(1 / (1 - (double)p));
	a.thr = attn_drop_threshold(p);
	a.seed = seed;
	return a;
}

extern "C" int nys_cuda_attn_softmax_size(nys_backend *be, int B, int H, int T, size_t *saved,
                                          size_t *scratch)
{
	ATTN_F32(be, "softmax attention");
	*saved = (size_t)B * H * T;
	*scratch = (size_t)attn_sdpa_slots_want(B * H, T) * 2 * (size_t)T * T;
	return 0;
}

extern "C" int nys_cuda_attn_softmax_forward(nys_backend *be, void *out, void *saved,
                                             void *scratch, size_t scratch_n, const void *q,
                                             const void *k, const void *v, const void *mask,
                                             int B, int H, int T, int D, double p_drop,
                                             uint64_t seed)
{
	ATTN_F32(be, "softmax attention");
	return attn_sdpa_all(be, attn_softmax_setup(T, D, H, p_drop, seed), (R *)out, (R *)saved,
	                     NULL, NULL, NULL, NULL, (R *)scratch, scratch_n, NULL, (const R *)q,
	                     (const R *)k, (const R *)v, (const R *)mask, B * H, 0);
}

extern "C" int nys_cuda_attn_softmax_backward(nys_backend *be, nys_acc acc, void *dq, void *dk,
                                              void *dv, void *scratch, size_t scratch_n,
                                              const void *dout, const void *saved,
                                              const void *q, const void *k, const void *v,
                                              const void *mask, int B, int H, int T, int D,
                                              double p_drop, uint64_t seed)
{
	ATTN_F32(be, "softmax attention");
	return attn_sdpa_all(be, attn_softmax_setup(T, D, H, p_drop, seed), NULL, NULL, (R *)dq,
	                     (R *)dk, (R *)dv, (const R *)saved, (R *)scratch, scratch_n,
	                     (const R *)dout, (const R *)q, (const R *)k, (const R *)v,
	                     (const R *)mask, B * H, acc == NYS_ACCUMULATE);
}

/* ---- Nystrom attention: the layouts ---------------------------------------------------- */

/* saved: the CPU's layout (ops_attn.inc, attn_nys_layout): per (b, h) a block
 * of per_head elements, then c (B H). */
struct attn_nys_saved {
	size_t k1, k3, ql, kl, k2, vs, ps, bs, cs, y, w, per_head, c, total;
};

static attn_nys_saved attn_nys_saved_layout(const struct nys_nystrom_opts *o)
{
	attn_nys_saved l = {};
	size_t T = (size_t)o->T, m = (size_t)o->landmarks, D = (size_t)o->D;
	size_t L = (size_t)o->pinv_iters, mm = m * m, bh = (size_t)o->B * o->H;
	if (o->landmarks == o->T) { /* the exact fallback keeps the lse */
		l.per_head = T;
		l.total = bh * T;
		return l;
	}
	l.k1 = 0;
	l.k3 = l.k1 + T * m;
	l.ql = l.k3 + m * T;
	l.kl = l.ql + m * D;
	l.k2 = l.kl + m * D;
	l.vs = l.k2 + mm;
	l.ps = l.vs + (L + 1) * mm;
	l.bs = l.ps + L * mm;
	l.cs = l.bs + L * mm;
	l.y = l.cs + L * mm;
	l.w = l.y + m * D;
	l.per_head = l.w + m * D;
	l.c = bh * l.per_head;
	l.total = l.c + bh;
	return l;
}

/* scratch: each piece over all (b, h), 64-element aligned.  The forward
 * uses segw and tmp; the backward everything but tmp; conv the partial
 * sums of its weight gradient.  With landmarks == T: the sdpa slots, then
 * the conv's. */
struct attn_nys_scratch {
	size_t segw, tmp, G, dW, dY, ga, gb, dC, dP, dB, dA, dk2, dql, dkl, dc, colsum, arg, nties,
		part, slots, slots_n, total;
	int nch, ndc; /* conv tiles: row chunks, channel chunks */
};

static size_t attn_up64(size_t n) { return (n + 63) / 64 * 64; }

static attn_nys_scratch attn_nys_scratch_layout(const struct nys_nystrom_opts *o, int nslots)
{
	attn_nys_scratch l = {};
	size_t T = (size_t)o->T, m = (size_t)o->landmarks, D = (size_t)o->D;
	size_t nbh = (size_t)o->B * o->H, mm = m * m, md = m * D, at = 0;
	l.nch = (o->T + ATTN_CT_R - 1) / ATTN_CT_R;
	l.ndc = (o->D + ATTN_CT_D - 1) / ATTN_CT_D;
#define ATTN_PIECE(f, n) (l.f = at, at += attn_up64(n))
	if (o->landmarks == o->T) {
		l.slots_n = (size_t)nslots * 2 * T * T;
		ATTN_PIECE(slots, l.slots_n);
	} else {
		ATTN_PIECE(segw, (size_t)o->B * m);
		ATTN_PIECE(tmp, nbh * mm);
		ATTN_PIECE(G, nbh * T * m);
		ATTN_PIECE(dW, nbh * md);
		ATTN_PIECE(dY, nbh * md);
		ATTN_PIECE(ga, nbh * mm);
		ATTN_PIECE(gb, nbh * mm);
		ATTN_PIECE(dC, nbh * mm);
		ATTN_PIECE(dP, nbh * mm);
		ATTN_PIECE(dB, nbh * mm);
		ATTN_PIECE(dA, nbh * mm);
		ATTN_PIECE(dk2, nbh * mm);
		ATTN_PIECE(dql, nbh * md);
		ATTN_PIECE(dkl, nbh * md);
		ATTN_PIECE(dc, nbh);
		ATTN_PIECE(colsum, nbh * m);
		ATTN_PIECE(arg, nbh);   /* int32 */
		ATTN_PIECE(nties, nbh); /* int32 */
	}
	if (o->conv_k)
		ATTN_PIECE(part, nbh * (size_t)l.nch * l.ndc * o->conv_k);
#undef ATTN_PIECE
	l.total = at;
	return l;
}

extern "C" int nys_cuda_nystrom_size(nys_backend *be, const struct nys_nystrom_opts *o,
                                     size_t *saved, size_t *scratch)
{
	ATTN_F32(be, "Nystrom attention");
	const char *why = nys_nystrom_check(o);
	if (why)
		return nys_backend_fail(be, "cuda: Nystrom attention: %s", why);
	if (o->conv_k > ATTN_CONV_MAX)
		return nys_backend_fail(be, "cuda: Nystrom attention: conv kernel size %d is above %d",
		                        o->conv_k, ATTN_CONV_MAX);
	*saved = attn_nys_saved_layout(o).total;
	int slots = o->landmarks == o->T ? attn_sdpa_slots_want(o->B * o->H, o->T) : 0;
	*scratch = attn_nys_scratch_layout(o, slots).total;
	return 0;
}

/* ---- Nystrom attention: pieces ------------------------------------------------------------ */

/* segment i of m over T tokens: the first m - T%m hold T/m, the rest one more */
__host__ __device__ static inline void attn_segment(int i, int T, int m, int *start, int *len)
{
	int s = T / m, nsmall = m - (T - s * m);
	if (i < nsmall) {
		*start = i * s;
		*len = s;
	} else {
		*start = nsmall * s + (i - nsmall) * (s + 1);
		*len = s + 1;
	}
}

/* the segment of token t (the inverse of attn_segment) */
__device__ static inline int attn_segment_of(int t, int T, int m)
{
	int s = T / m, nsmall = m - (T - s * m), edge = nsmall * s;
	return t < edge ? t / s : nsmall + (t - edge) / (s + 1);
}

/* segw (B, m): the weight of each token of segment i in its landmark,
 * scale / count (0 for a segment of padding with unpadded means) */
__global__ static void attn_seg_weights(R *segw, const R *mask, int B, int T, int m,
                                        int unpadded, R scale)
{
	ATTN_FOR(e, (size_t)B * m)
	{
		int b = (int)(e / m), i = (int)(e % m), st, len;
		attn_segment(i, T, m, &st, &len);
		const R *mk = mask + (size_t)b * T;
		int den = len;
		if (unpadded) {
			den = 0;
			for (int t = st; t < st + len; t++)
				den += mk[t] != 0;
		}
		segw[e] = den ? scale / (R)den : 0;
	}
}

/* Q~ and K~ of one landmark of one (b, h) per block (32 x 8 threads: the
 * channels across, the segment's tokens among the 8 rows, summed in a
 * fixed order): the means of q mask s and k mask s. */
__global__ static void attn_landmarks(R *ql, R *kl, long long sph, const R *q, const R *k,
                                      const R *segw, const R *mask, int H, int T, int D, int m)
{
	__shared__ R sq[8][33], sk[8][33];
	int bh = blockIdx.x / m, i = blockIdx.x % m, b = bh / H, st, len;
	int tx = threadIdx.x, ty = threadIdx.y;
	attn_segment(i, T, m, &st, &len);
	R wt = segw[(size_t)b * m + i];
	const R *mk = mask + (size_t)b * T;
	const R *qb = q + (size_t)bh * T * D, *kb = k + (size_t)bh * T * D;
	for (int d0 = 0; d0 < D; d0 += 32) {
		int d = d0 + tx;
		R aq = 0, ak = 0;
		if (d < D)
			for (int t = st + ty; t < st + len; t += 8) {
				R c = wt * mk[t];
				aq += c * qb[(size_t)t * D + d];
				ak += c * kb[(size_t)t * D + d];
			}
		sq[ty][tx] = aq;
		sk[ty][tx] = ak;
		__syncthreads();
		if (ty == 0 && d < D) {
			R s1 = 0, s2 = 0;
			for (int y = 0; y < 8; y++)
				s1 += sq[y][tx], s2 += sk[y][tx];
			ql[(size_t)bh * sph + (size_t)i * D + d] = s1;
			kl[(size_t)bh * sph + (size_t)i * D + d] = s2;
		}
		__syncthreads();
	}
}

/* the backward of attn_landmarks: dq, dk (B H, T, D) += dql, dkl spread back */
__global__ static void attn_landmarks_bwd(R *dq, R *dk, const R *dql, const R *dkl,
                                          const R *segw, const R *mask, int nbh, int H, int T,
                                          int D, int m)
{
	ATTN_FOR(e, (size_t)nbh * T * D)
	{
		int d = (int)(e % D), t = (int)(e / D % T), bh = (int)(e / ((size_t)T * D));
		int b = bh / H, i = attn_segment_of(t, T, m);
		R c = segw[(size_t)b * m + i] * mask[(size_t)b * T + t];
		size_t g = ((size_t)bh * m + i) * D + d;
		dq[e] += c * dql[g];
		dk[e] += c * dkl[g];
	}
}

/* Softmax over each row of the (rows, cols) matrices at P + bh sp, in place,
 * of x_ij a_i b_j - neg (1 - colmk_j), a_i = scale rowmk_i (1 without
 * rowmk), b_j = scale colmk_j (1 without colmk, and then no neg term): the
 * CPU's attn_softmax_rows; masks are the (b, .) rows of mask (B, T). */
/* attn_rows_softmax's logit of x = p_ij (its row factor ai given) */
__device__ static inline R attn_rows_logit(R x, R ai, int colmk, R scale, R mkj, R neg)
{
	return colmk ? x * ai * scale * mkj - neg * (1 - mkj) : x * ai;
}

template <int W>
__global__ static void attn_rows_softmax(R *P, long long sp, int rows, int cols, long long nrows,
                                         const R *mask, int T, int H, int rowmk, int colmk,
                                         R scale, R neg)
{
	__shared__ float sh[2 * (W / 32)];
	long long r;
	int lane;
	if (!attn_team_row<W>(nrows, &r, &lane))
		return;
	int bh = (int)(r / rows), i = (int)(r % rows);
	const R *mk = mask + (size_t)(bh / H) * T;
	R *p = P + (size_t)bh * sp + (size_t)i * cols;
	R ai = rowmk ? scale * mk[i] : 1;
	float mx = -INFINITY, s = 0;
	for (int j = lane; j < cols; j += W)
		attn_ms_add(mx, s, attn_rows_logit(p[j], ai, colmk, scale, mk[j], neg));
	attn_team_ms<W>(mx, s, sh);
	float inv = 1 / s;
	for (int j = lane; j < cols; j += W) {
		p[j] = expf(attn_rows_logit(p[j], ai, colmk, scale, mk[j], neg) - mx) * inv;
	}
}

/* The backward of attn_rows_softmax: G (at stride sg) holds d(probabilities)
 * and becomes d(x) in place; P (at stride sp) the probabilities. */
template <int W>
__global__ static void attn_rows_softmax_bwd(R *G, long long sg, const R *P, long long sp,
                                             int rows, int cols, long long nrows, const R *mask,
                                             int T, int H, int rowmk, int colmk, R scale)
{
	__shared__ float sh[2 * (W / 32)];
	long long r;
	int lane;
	if (!attn_team_row<W>(nrows, &r, &lane))
		return;
	int bh = (int)(r / rows), i = (int)(r % rows);
	const R *mk = mask + (size_t)(bh / H) * T;
	R *g = G + (size_t)bh * sg + (size_t)i * cols;
	const R *p = P + (size_t)bh * sp + (size_t)i * cols;
	float dot = 0;
	for (int j = lane; j < cols; j += W)
		dot += p[j] * g[j];
	dot = attn_team_sum<W>(dot, sh);
	R ai = rowmk ? scale * mk[i] : 1;
	for (int j = lane; j < cols; j += W)
		g[j] = colmk ? p[j] * (g[j] - dot) * ai * scale * mk[j] : p[j] * (g[j] - dot) * ai;
}

/* The column sums of each kernel_2 (m, m) at K + bh sk, one block per (b, h):
 * the largest and (first) its column, the CPU's attn_colsum_max, each sum
 * over i in order; optionally all sums, and how many equal best[bh]. */
__global__ static void attn_colsum(const R *K, long long sk, int m, R *cmax, R *colsum,
                                   int *arg, int *nties, const R *best)
{
	__shared__ R sv[ATTN_BLOCK];
	__shared__ int si[ATTN_BLOCK], sn[ATTN_BLOCK];
	int bh = blockIdx.x, tid = threadIdx.x;
	const R *Kb = K + (size_t)bh * sk;
	R bv = 0, target = best ? best[bh] : 0;
	int bi = -1, cnt = 0;
	for (int j = tid; j < m; j += ATTN_BLOCK) {
		R s = 0;
		for (int i = 0; i < m; i++)
			s += Kb[(size_t)i * m + j];
		if (colsum)
			colsum[(size_t)bh * m + j] = s;
		if (bi < 0 || s > bv)
			bv = s, bi = j;
		cnt += best && s == target;
	}
	sv[tid] = bv, si[tid] = bi, sn[tid] = cnt;
	__syncthreads();
	for (int h = ATTN_BLOCK / 2; h > 0; h >>= 1) {
		if (tid < h) {
			R v2 = sv[tid + h];
			int i2 = si[tid + h];
			if (i2 >= 0 && (si[tid] < 0 || v2 > sv[tid] || (v2 == sv[tid] && i2 < si[tid])))
				sv[tid] = v2, si[tid] = i2;
			sn[tid] += sn[tid + h];
		}
		__syncthreads();
	}
	if (tid == 0) {
		if (cmax)
			cmax[bh] = sv[0];
		if (arg)
			arg[bh] = si[0];
		if (nties)
			nties[bh] = sn[0];
	}
}

/* NYS_PINV_ORIGINAL: c = the largest of the per-matrix maxima, for every (b, h) */
__global__ static void attn_cmax_all(R *c, int nbh)
{
	R best = c[0];
	for (int i = 1; i < nbh; i++)
		best = c[i] > best ? c[i] : best;
	for (int i = 0; i < nbh; i++)
		c[i] = best;
}

/* V_0 = K^T / c per (b, h) */
__global__ static void attn_pinv_init(R *V, const R *K, long long s, const R *c, int m, int nbh)
{
	size_t mm = (size_t)m * m;
	ATTN_FOR(e, (size_t)nbh * mm)
	{
		size_t bh = e / mm, ij = e % mm, i = ij / m, j = ij % m;
		R ic = 1 / c[bh];
		V[bh * s + ij] = K[bh * s + j * m + i] * ic;
	}
}

/* out = -X + diag I per (b, h) (out at stride so, X at sx) */
__global__ static void attn_neg_plus_diag(R *out, long long so, const R *X, long long sx, int m,
                                          int nbh, R diag)
{
	size_t mm = (size_t)m * m;
	ATTN_FOR(e, (size_t)nbh * mm)
	{
		size_t bh = e / mm, ij = e % mm;
		R x = -X[bh * sx + ij];
		out[bh * so + ij] = ij / m == ij % m ? x + diag : x;
	}
}

/* X += diag I per (b, h) */
__global__ static void attn_add_diag(R *X, long long s, int m, int nbh, R diag)
{
	ATTN_FOR(e, (size_t)nbh * m)
	{
		size_t bh = e / m, i = e % m;
		X[bh * s + i * m + i] += diag;
	}
}

/* dP -= 7 dB + dA (the pseudo-inverse backward's A = 7I - P and P terms) */
__global__ static void attn_pinv_dp(R *dP, const R *dB, const R *dA, size_t n)
{
	ATTN_FOR(e, n)
	dP[e] -= 7 * dB[e] + dA[e];
}

/* V_0 = kernel_2^T / c, backward, one block per (b, h): dk2 (+)= G^T / c
 * (overwriting when first), dc = -sum G^T . kernel_2 / c^2. */
__global__ static void attn_v0_bwd(R *dk2, const R *G, const R *K2, long long sk, const R *c,
                                   R *dc, int m, int first)
{
	__shared__ float sh[ATTN_BLOCK / 32 * 2];
	int bh = blockIdx.x;
	size_t mm = (size_t)m * m;
	R ic = 1 / c[bh], acc = 0;
	R *d = dk2 + bh * mm;
	const R *g = G + bh * mm, *k2 = K2 + (size_t)bh * sk;
	for (size_t e = threadIdx.x; e < mm; e += ATTN_BLOCK) {
		size_t i = e / m, j = e % m;
		R gv = g[j * m + i];
		d[e] = (first ? 0 : d[e]) + gv * ic;
		acc += gv * k2[e];
	}
	acc = attn_team_sum<ATTN_BLOCK>(acc, sh);
	if (threadIdx.x == 0)
		dc[bh] = -acc * ic * ic;
}

/* The max in c passes its gradient to the arg-max column sum(s), one block
 * per (b, h): NYS_PINV_ORIGINAL shares the sum of dc evenly among every
 * column of the batch whose sum is c; per matrix, dc goes to the first
 * arg-max column. */
__global__ static void attn_cgrad(R *dk2, const R *colsum, const R *c, const R *dc,
                                  const int *arg, const int *nties, int nbh, int m, int original)
{
	__shared__ R share;
	int bh = blockIdx.x;
	size_t mm = (size_t)m * m;
	if (threadIdx.x == 0) {
		if (original) {
			R tot = 0;
			int n = 0;
			for (int b = 0; b < nbh; b++)
				tot += dc[b], n += nties[b];
			share = tot / (R)n;
		} else {
			share = dc[bh];
		}
	}
	__syncthreads();
	R best = c[bh], a = share;
	int ja = arg[bh];
	for (size_t e = threadIdx.x; e < mm; e += ATTN_BLOCK) {
		int j = (int)(e % m);
		if (original ? colsum[(size_t)bh * m + j] == best : j == ja)
			dk2[bh * mm + e] += a;
	}
}

/* ---- the depthwise conv along the sequence ----------------------------------------------
 * One block per (b, h, 64 rows, 32 channels); the rows it reads, with a
 * halo of kc/2 each side (zero outside [0, T)), and the taps in shared
 * memory.  Forward: out[t] += sum_j w[j] mask[t'] v[t'], t' = t + j - kc/2. */
static size_t attn_conv_smem(int kc) { return ((size_t)kc + (ATTN_CT_R + kc - 1) * ATTN_CT_D) * sizeof(R); }

/* fwd (dir 1): y[t] += sum_j w[j] (x mask)[t + j - half];
 * bwd for dv (dir -1): y[t] += mask[t] sum_j w[kc-1-j] x[t + j - half] */
__global__ static void attn_conv(R *y, const R *x, const R *mask, const R *w, int H, int T,
                                 int D, int kc, int nch, int ndc, int dir)
{
	extern __shared__ R sm[];
	R *ws = sm, *xs = sm + kc;
	int blk = blockIdx.x, dc = blk % ndc;
	blk /= ndc;
	int tc = blk % nch, bh = blk / nch, h = bh % H, b = bh / H, half = kc / 2;
	int t0 = tc * ATTN_CT_R, d0 = dc * ATTN_CT_D;
	const R *xb = x + (size_t)bh * T * D, *mk = mask + (size_t)b * T;
	for (int e = threadIdx.x; e < kc; e += blockDim.x)
		ws[e] = w[(size_t)h * kc + (dir > 0 ? e : kc - 1 - e)];
	int nrow = ATTN_CT_R + kc - 1;
	for (int e = threadIdx.x; e < nrow * ATTN_CT_D; e += blockDim.x) {
		int t = t0 - half + e / ATTN_CT_D, d = d0 + e % ATTN_CT_D;
		R v = 0;
		if (t >= 0 && t < T && d < D)
			v = dir > 0 ? xb[(size_t)t * D + d] * mk[t] : xb[(size_t)t * D + d];
		xs[e] = v;
	}
	__syncthreads();
	for (int e = threadIdx.x; e < ATTN_CT_R * ATTN_CT_D; e += blockDim.x) {
		int tl = e / ATTN_CT_D, dl = e % ATTN_CT_D, t = t0 + tl, d = d0 + dl;
		if (t >= T || d >= D)
			continue;
		R sc = dir > 0 ? 1 : mk[t];
		if (sc == 0)
			continue;
		R acc = 0;
		for (int j = 0; j < kc; j++)
			acc += ws[j] * xs[(tl + j) * ATTN_CT_D + dl];
		y[(size_t)bh * T * D + (size_t)t * D + d] += sc * acc;
	}
}

/* dw's partial sums, one block per tile: part[tile, j] = sum over the tile's
 * rows t and channels of dout[t] (mask v)[t + j - half]; each of 8 warps
 * takes every 8th tap, a lane a channel. */
static size_t attn_convw_smem(int kc) { return (size_t)(2 * ATTN_CT_R + kc - 1) * ATTN_CT_D * sizeof(R); }

__global__ static void attn_convw_part(R *part, const R *dout, const R *v, const R *mask, int H,
                                       int T, int D, int kc, int nch, int ndc)
{
	extern __shared__ R sm[];
	R *gs = sm, *xs = sm + ATTN_CT_R * ATTN_CT_D;
	int blk = blockIdx.x, dc = blk % ndc;
	blk /= ndc;
	int tc = blk % nch, bh = blk / nch, b = bh / H, half = kc / 2;
	int t0 = tc * ATTN_CT_R, d0 = dc * ATTN_CT_D;
	const R *gb = dout + (size_t)bh * T * D, *vb = v + (size_t)bh * T * D;
	const R *mk = mask + (size_t)b * T;
	for (int e = threadIdx.x; e < ATTN_CT_R * ATTN_CT_D; e += blockDim.x) {
		int t = t0 + e / ATTN_CT_D, d = d0 + e % ATTN_CT_D;
		gs[e] = t < T && d < D ? gb[(size_t)t * D + d] : 0;
	}
	int nrow = ATTN_CT_R + kc - 1;
	for (int e = threadIdx.x; e < nrow * ATTN_CT_D; e += blockDim.x) {
		int t = t0 - half + e / ATTN_CT_D, d = d0 + e % ATTN_CT_D;
		xs[e] = t >= 0 && t < T && d < D ? vb[(size_t)t * D + d] * mk[t] : 0;
	}
	__syncthreads();
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
	R *out = part + (size_t)blockIdx.x * kc;
	for (int j = warp; j < kc; j += nwarps) {
		R acc = 0;
		for (int tl = 0; tl < ATTN_CT_R; tl++)
			acc += gs[tl * ATTN_CT_D + lane] * xs[(tl + j) * ATTN_CT_D + lane];
		acc = attn_warp_sum(acc);
		if (lane == 0)
			out[j] = acc;
	}
}

/* dw[h, j] += the partial sums of (b, h) over b and the tiles, in order */
__global__ static void attn_convw_sum(R *dw, const R *part, int B, int H, int kc, int ntile)
{
	ATTN_FOR(e, (size_t)H * kc)
	{
		int h = (int)(e / kc), j = (int)(e % kc);
		R s = 0;
		for (int b = 0; b < B; b++) {
			const R *p = part + ((size_t)b * H + h) * ntile * kc + j;
			for (int t = 0; t < ntile; t++)
				s += p[(size_t)t * kc];
		}
		dw[e] += s;
	}
}

static int attn_conv_fwd(nys_backend *be, R *out, const R *v, const R *mask, const R *w,
                         const struct nys_nystrom_opts *o, const attn_nys_scratch *sl)
{
	int kc = o->conv_k;
	unsigned nblk = (unsigned)((size_t)o->B * o->H * sl->nch * sl->ndc);
	attn_conv<<<nblk, ATTN_BLOCK, attn_conv_smem(kc), attn_stream(be)>>>(
		out, v, mask, w, o->H, o->T, o->D, kc, sl->nch, sl->ndc, 1);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

static int attn_conv_bwd(nys_backend *be, R *dv, R *dw, R *part, const R *dout, const R *v,
                         const R *mask, const R *w, const struct nys_nystrom_opts *o,
                         const attn_nys_scratch *sl)
{
	int kc = o->conv_k;
	unsigned nblk = (unsigned)((size_t)o->B * o->H * sl->nch * sl->ndc);
	attn_conv<<<nblk, ATTN_BLOCK, attn_conv_smem(kc), attn_stream(be)>>>(
		dv, dout, mask, w, o->H, o->T, o->D, kc, sl->nch, sl->ndc, -1);
	NYS_CUDA_LAUNCHED(be);
	attn_convw_part<<<nblk, ATTN_BLOCK, attn_convw_smem(kc), attn_stream(be)>>>(
		part, dout, v, mask, o->H, o->T, o->D, kc, sl->nch, sl->ndc);
	NYS_CUDA_LAUNCHED(be);
	attn_convw_sum<<<attn_grid((size_t)o->H * kc), ATTN_BLOCK, 0, attn_stream(be)>>>(
		dw, part, o->B, o->H, kc, sl->nch * sl->ndc);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

/* ---- Nystrom attention -------------------------------------------------------------------- */

static R attn_qk_scale(int D) { return (R)(1 / sqrt(sqrt((double)D))); }

static attn_sdpa attn_nys_exact_setup(const struct nys_nystrom_opts *o)
{
	R s = attn_qk_scale(o->D);
	attn_sdpa a;
	a.T = o->T, a.D = o->D, a.H = o->H, a.qkmask = 1;
	a.alpha = s * s;
	a.neg = 1e9f;
	a.dscale = 1;
	a.thr = 0;
	a.seed = 0;
	return a;
}

/* The checks every Nystrom call makes, and the scratch layout for the
 * slots scratch_n holds. */
static int attn_nys_begin(nys_backend *be, const struct nys_nystrom_opts *o, size_t scratch_n,
                          const R *convw, attn_nys_scratch *sl)
{
	ATTN_F32(be, "Nystrom attention");
	const char *why = nys_nystrom_check(o);
	if (why)
		return nys_backend_fail(be, "cuda: Nystrom attention: %s", why);
	if (o->conv_k > ATTN_CONV_MAX)
		return nys_backend_fail(be, "cuda: Nystrom attention: conv kernel size %d is above %d",
		                        o->conv_k, ATTN_CONV_MAX);
	if (o->conv_k && !convw)
		return nys_backend_fail(be, "cuda: Nystrom attention: conv %d without weights",
		                        o->conv_k);
	*sl = attn_nys_scratch_layout(o, 1);
	if (scratch_n < sl->total)
		return nys_backend_fail(be, "cuda: Nystrom attention: scratch of %zu elements, "
		                        "needs %zu", scratch_n, sl->total);
	if (o->landmarks == o->T) {
		/* as many slots as fit, the conv's partial sums after them */
		size_t tt2 = 2 * (size_t)o->T * o->T, fixed = sl->total - attn_up64(tt2);
		size_t n = (scratch_n - fixed) / tt2;
		n = n < (size_t)o->B * o->H ? n : (size_t)o->B * o->H;
		*sl = attn_nys_scratch_layout(o, (int)n);
	}
	return 0;
}

extern "C" int nys_cuda_nystrom_forward(nys_backend *be, void *out_, void *saved_, void *scr_,
                                        size_t scratch_n, const void *q_, const void *k_,
                                        const void *v_, const void *mask_, const void *convw_,
                                        const struct nys_nystrom_opts *o)
{
	R *out = (R *)out_, *saved = (R *)saved_, *scr = (R *)scr_;
	const R *q = (const R *)q_, *k = (const R *)k_, *v = (const R *)v_;
	const R *mask = (const R *)mask_, *convw = (const R *)convw_;
	attn_nys_scratch sl;
	if (attn_nys_begin(be, o, scratch_n, convw, &sl))
		return -1;
	int B = o->B, H = o->H, T = o->T, D = o->D, m = o->landmarks, L = o->pinv_iters;
	int nbh = B * H;
	cudaStream_t st = attn_stream(be);

	if (m == T) {
		if (attn_sdpa_all(be, attn_nys_exact_setup(o), out, saved, NULL, NULL, NULL, NULL,
		                  scr + sl.slots, sl.slots_n, NULL, q, k, v, mask, nbh, 0))
			return -1;
		return o->conv_k ? attn_conv_fwd(be, out, v, mask, convw, o, &sl) : 0;
	}

	attn_nys_saved l = attn_nys_saved_layout(o);
	long long ph = (long long)l.per_head, td = (long long)T * D, mm = (long long)m * m;
	R s = attn_qk_scale(D);
	R *segw = scr + sl.segw, *tmp = scr + sl.tmp, *c = saved + l.c;

	/* the landmarks, kernel_2 = softmax(Q~ K~^T) and its largest column sum */
	attn_seg_weights<<<attn_grid((size_t)B * m), ATTN_BLOCK, 0, st>>>(segw, mask, B, T, m,
	                                                                  o->unpadded_means, s);
	NYS_CUDA_LAUNCHED(be);
	attn_landmarks<<<(unsigned)nbh * m, dim3(32, 8), 0, st>>>(saved + l.ql, saved + l.kl, ph, q, k,
	                                                          segw, mask, H, T, D, m);
	NYS_CUDA_LAUNCHED(be);
	if (attn_mm(be, 0, 1, m, m, D, 1, saved + l.ql, ph, saved + l.kl, ph, 0, saved + l.k2, ph,
	            nbh))
		return -1;
	ATTN_ROWS(attn_rows_softmax, m >= ATTN_WIDE, (long long)nbh * m, saved + l.k2, ph, m, m,
	          (long long)nbh * m, mask, T, H, 0, 0, (R)1, (R)0);
	attn_colsum<<<nbh, ATTN_BLOCK, 0, st>>>(saved + l.k2, ph, m, c, NULL, NULL, NULL, NULL);
	NYS_CUDA_LAUNCHED(be);
	if (o->pinv_init == NYS_PINV_ORIGINAL) {
		attn_cmax_all<<<1, 1, 0, st>>>(c, nbh);
		NYS_CUDA_LAUNCHED(be);
	}

	/* Z: V_0 = kernel_2^T / c, V <- V/4 (13I - KV(15I - KV(7I - KV))) */
	attn_pinv_init<<<attn_grid((size_t)nbh * mm), ATTN_BLOCK, 0, st>>>(saved + l.vs,
	                                                                   saved + l.k2, ph, c, m,
	                                                                   nbh);
	NYS_CUDA_LAUNCHED(be);
	for (int it = 0; it < L; it++) {
		R *V = saved + l.vs + it * mm, *P = saved + l.ps + it * mm;
		R *Bm = saved + l.bs + it * mm, *C = saved + l.cs + it * mm;
		if (attn_mm(be, 0, 0, m, m, m, 1, saved + l.k2, ph, V, ph, 0, P, ph, nbh))
			return -1;
		attn_neg_plus_diag<<<attn_grid((size_t)nbh * mm), ATTN_BLOCK, 0, st>>>(tmp, mm, P, ph,
		                                                                       m, nbh, 7);
		NYS_CUDA_LAUNCHED(be);
		if (attn_mm(be, 0, 0, m, m, m, -1, P, ph, tmp, mm, 0, Bm, ph, nbh))
			return -1;
		attn_add_diag<<<attn_grid((size_t)nbh * m), ATTN_BLOCK, 0, st>>>(Bm, ph, m, nbh, 15);
		NYS_CUDA_LAUNCHED(be);
		if (attn_mm(be, 0, 0, m, m, m, -1, P, ph, Bm, ph, 0, C, ph, nbh))
			return -1;
		attn_add_diag<<<attn_grid((size_t)nbh * m), ATTN_BLOCK, 0, st>>>(C, ph, m, nbh, 13);
		NYS_CUDA_LAUNCHED(be);
		if (attn_mm(be, 0, 0, m, m, m, 0.25f, V, ph, C, ph, 0, V + mm, ph, nbh))
			return -1;
	}

	/* kernel_1 = softmax(Qs K~^T), kernel_3 = softmax(Q~ Ks^T - 1e9 (1 - mask)) */
	if (attn_mm(be, 0, 1, T, m, D, 1, q, td, saved + l.kl, ph, 0, saved + l.k1, ph, nbh))
		return -1;
	ATTN_ROWS(attn_rows_softmax, m >= ATTN_WIDE, (long long)nbh * T, saved + l.k1, ph, T, m,
	          (long long)nbh * T, mask, T, H, 1, 0, s, (R)0);
	if (attn_mm(be, 0, 1, m, T, D, 1, saved + l.ql, ph, k, td, 0, saved + l.k3, ph, nbh))
		return -1;
	ATTN_ROWS(attn_rows_softmax, T >= ATTN_WIDE, (long long)nbh * m, saved + l.k3, ph, m, T,
	          (long long)nbh * m, mask, T, H, 0, 1, s, (R)1e9);

	/* out = kernel_1 (Z (kernel_3 v)) */
	if (attn_mm(be, 0, 0, m, D, T, 1, saved + l.k3, ph, v, td, 0, saved + l.y, ph, nbh) ||
	    attn_mm(be, 0, 0, m, D, m, 1, saved + l.vs + L * mm, ph, saved + l.y, ph, 0,
	            saved + l.w, ph, nbh) ||
	    attn_mm(be, 0, 0, T, D, m, 1, saved + l.k1, ph, saved + l.w, ph, 0, out, td, nbh))
		return -1;
	return o->conv_k ? attn_conv_fwd(be, out, v, mask, convw, o, &sl) : 0;
}

extern "C" int nys_cuda_nystrom_backward(nys_backend *be, nys_acc acc_mode, void *dq_, void *dk_,
                                         void *dv_, void *dconvw_, void *scr_, size_t scratch_n,
                                         const void *dout_, const void *saved_, const void *q_,
                                         const void *k_, const void *v_, const void *mask_,
                                         const void *convw_, const struct nys_nystrom_opts *o)
{
	R *dq = (R *)dq_, *dk = (R *)dk_, *dv = (R *)dv_, *dconvw = (R *)dconvw_, *scr = (R *)scr_;
	const R *dout = (const R *)dout_, *saved = (const R *)saved_;
	const R *q = (const R *)q_, *k = (const R *)k_, *v = (const R *)v_;
	const R *mask = (const R *)mask_, *convw = (const R *)convw_;
	attn_nys_scratch sl;
	if (attn_nys_begin(be, o, scratch_n, convw, &sl))
		return -1;
	if (o->conv_k && !dconvw)
		return nys_backend_fail(be, "cuda: Nystrom attention: conv %d without dconvw",
		                        o->conv_k);
	int B = o->B, H = o->H, T = o->T, D = o->D, m = o->landmarks, L = o->pinv_iters;
	int nbh = B * H, acc = acc_mode == NYS_ACCUMULATE;
	float beta = acc ? 1.0f : 0.0f;
	cudaStream_t st = attn_stream(be);

	/* the attention's first products write dq, dk and dv (beta 0 when
	 * overwriting); the conv adds to dv after them */
	if (m == T) {
		if (attn_sdpa_all(be, attn_nys_exact_setup(o), NULL, NULL, dq, dk, dv, saved,
		                  scr + sl.slots, sl.slots_n, dout, q, k, v, mask, nbh, acc))
			return -1;
		return o->conv_k ? attn_conv_bwd(be, dv, dconvw, scr + sl.part, dout, v, mask, convw, o,
		                                 &sl)
		                 : 0;
	}

	attn_nys_saved l = attn_nys_saved_layout(o);
	long long ph = (long long)l.per_head, td = (long long)T * D, mm = (long long)m * m;
	long long md = (long long)m * D, tm = (long long)T * m;
	R s = attn_qk_scale(D);
	R *segw = scr + sl.segw, *G = scr + sl.G, *dW = scr + sl.dW, *dY = scr + sl.dY;
	R *dk2 = scr + sl.dk2, *dql = scr + sl.dql, *dkl = scr + sl.dkl, *dc = scr + sl.dc;
	const R *k1 = saved + l.k1, *k3 = saved + l.k3, *k2 = saved + l.k2;
	const R *ql = saved + l.ql, *kl = saved + l.kl, *c = saved + l.c;
	const R *Z = saved + l.vs + L * mm;
	int wide_m = m >= ATTN_WIDE, wide_t = T >= ATTN_WIDE;

	attn_seg_weights<<<attn_grid((size_t)B * m), ATTN_BLOCK, 0, st>>>(segw, mask, B, T, m,
	                                                                  o->unpadded_means, s);
	NYS_CUDA_LAUNCHED(be);

	/* out = kernel_1 W, W = Z Y, Y = kernel_3 v (the CPU's attn_nys_bwd1) */
	if (attn_mm(be, 1, 0, m, D, T, 1, k1, ph, dout, td, 0, dW, md, nbh) ||
	    attn_mm(be, 0, 1, T, m, D, 1, dout, td, saved + l.w, ph, 0, G, tm, nbh))
		return -1;
	ATTN_ROWS(attn_rows_softmax_bwd, wide_m, (long long)nbh * T, G, tm, k1, ph, T, m,
	          (long long)nbh * T, mask, T, H, 1, 0, s);
	if (attn_mm(be, 0, 0, T, D, m, 1, G, tm, kl, ph, beta, dq, td, nbh) ||
	    attn_mm(be, 1, 0, m, D, T, 1, G, tm, q, td, 0, dkl, md, nbh) ||
	    attn_mm(be, 0, 1, m, m, D, 1, dW, md, saved + l.y, ph, 0, scr + sl.ga, mm, nbh) ||
	    attn_mm(be, 1, 0, m, D, m, 1, Z, ph, dW, md, 0, dY, md, nbh) ||
	    attn_mm(be, 0, 1, m, T, D, 1, dY, md, v, td, 0, G, tm, nbh) ||
	    attn_mm(be, 1, 0, T, D, m, 1, k3, ph, dY, md, beta, dv, td, nbh))
		return -1;
	ATTN_ROWS(attn_rows_softmax_bwd, wide_t, (long long)nbh * m, G, tm, k3, ph, m, T,
	          (long long)nbh * m, mask, T, H, 0, 1, s);
	if (attn_mm(be, 0, 0, m, D, T, 1, G, tm, k, td, 0, dql, md, nbh) ||
	    attn_mm(be, 1, 0, T, D, m, 1, G, tm, ql, ph, beta, dk, td, nbh))
		return -1;

	/* the pseudo-inverse iterations backward (the CPU's attn_pinv_bwd): cur
	 * is dV_{it+1} coming in, nxt becomes dV_it */
	R *cur = scr + sl.ga, *nxt = scr + sl.gb;
	R *dC = scr + sl.dC, *dP = scr + sl.dP, *dB = scr + sl.dB, *dA = scr + sl.dA;
	for (int it = L - 1; it >= 0; it--) {
		const R *V = saved + l.vs + it * mm, *P = saved + l.ps + it * mm;
		const R *Bm = saved + l.bs + it * mm, *C = saved + l.cs + it * mm;
		if (attn_mm(be, 0, 1, m, m, m, 0.25f, cur, mm, C, ph, 0, nxt, mm, nbh) ||
		    attn_mm(be, 1, 0, m, m, m, 0.25f, V, ph, cur, mm, 0, dC, mm, nbh) ||
		    attn_mm(be, 0, 1, m, m, m, -1, dC, mm, Bm, ph, 0, dP, mm, nbh) ||
		    attn_mm(be, 1, 0, m, m, m, -1, P, ph, dC, mm, 0, dB, mm, nbh) ||
		    attn_mm(be, 0, 1, m, m, m, 1, dB, mm, P, ph, 1, dP, mm, nbh) ||
		    attn_mm(be, 1, 0, m, m, m, -1, P, ph, dB, mm, 0, dA, mm, nbh))
			return -1;
		attn_pinv_dp<<<attn_grid((size_t)nbh * mm), ATTN_BLOCK, 0, st>>>(dP, dB, dA,
		                                                                 (size_t)nbh * mm);
		NYS_CUDA_LAUNCHED(be);
		if (attn_mm(be, 0, 1, m, m, m, 1, dP, mm, V, ph, it == L - 1 ? 0 : 1, dk2, mm, nbh) ||
		    attn_mm(be, 1, 0, m, m, m, 1, k2, ph, dP, mm, 1, nxt, mm, nbh))
			return -1;
		R *t = cur;
		cur = nxt, nxt = t;
	}

	/* V_0 = kernel_2^T / c, then the max in c (the CPU's backward, after
	 * attn_nys_bwd1) */
	attn_v0_bwd<<<nbh, ATTN_BLOCK, 0, st>>>(dk2, cur, k2, ph, c, dc, m, L == 0);
	NYS_CUDA_LAUNCHED(be);
	int original = o->pinv_init == NYS_PINV_ORIGINAL;
	R *colsum = scr + sl.colsum;
	int *arg = (int *)(scr + sl.arg), *nties = (int *)(scr + sl.nties);
	attn_colsum<<<nbh, ATTN_BLOCK, 0, st>>>(k2, ph, m, NULL, colsum, arg, nties, c);
	NYS_CUDA_LAUNCHED(be);
	attn_cgrad<<<nbh, ATTN_BLOCK, 0, st>>>(dk2, colsum, c, dc, arg, nties, nbh, m, original);
	NYS_CUDA_LAUNCHED(be);

	/* kernel_2 = softmax(Q~ K~^T), then the segment means (attn_nys_bwd2) */
	ATTN_ROWS(attn_rows_softmax_bwd, wide_m, (long long)nbh * m, dk2, mm, k2, ph, m, m,
	          (long long)nbh * m, mask, T, H, 0, 0, (R)1);
	if (attn_mm(be, 0, 0, m, D, m, 1, dk2, mm, kl, ph, 1, dql, md, nbh) ||
	    attn_mm(be, 1, 0, m, D, m, 1, dk2, mm, ql, ph, 1, dkl, md, nbh))
		return -1;
	attn_landmarks_bwd<<<attn_grid((size_t)nbh * T * D), ATTN_BLOCK, 0, st>>>(
		dq, dk, dql, dkl, segw, mask, nbh, H, T, D, m);
	NYS_CUDA_LAUNCHED(be);
	return o->conv_k ? attn_conv_bwd(be, dv, dconvw, scr + sl.part, dout, v, mask, convw, o, &sl)
	                 : 0;
}

/* ---- the table -------------------------------------------------------------------------- */

extern "C" void nys_cuda_ops_attn(nys_backend_ops *t)
{
	t->split_heads_forward = nys_cuda_split_heads_forward;
	t->split_heads_backward = nys_cuda_split_heads_backward;
	t->merge_heads_forward = nys_cuda_merge_heads_forward;
	t->merge_heads_backward = nys_cuda_merge_heads_backward;
	t->attn_softmax_size = nys_cuda_attn_softmax_size;
	t->attn_softmax_forward = nys_cuda_attn_softmax_forward;
	t->attn_softmax_backward = nys_cuda_attn_softmax_backward;
	t->nystrom_size = nys_cuda_nystrom_size;
	t->nystrom_forward = nys_cuda_nystrom_forward;
	t->nystrom_backward = nys_cuda_nystrom_backward;
}
