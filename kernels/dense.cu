/* The dense ops on CUDA: everything of backend_ops.def but attention (heads,
 * softmax and Nystrom attention are kernels/attn.cu's) and the linear op
 * (kernels/linear.cu, registered here with the rest), in float32, each
 * with its CPU op's contract (libnys/cpu/ops_dense_decl.inc and the
 * wrappers of backend_cpu.inc):
 *
 * - NYS_OVERWRITE writes every element of an input gradient without reading
 *   it (the CPU zeroes it and adds: a row the op skips is written 0), and
 *   NYS_ACCUMULATE adds; parameter gradients are always added to;
 * - every reduction is done in a fixed order (no atomics), so a run on one
 *   GPU repeats to the bit: sums across rows go through block partials
 *   summed in order; the scatters (embedding and gather backward, where
 *   rows repeat) sort their row keys with CUB's stable radix sort and sum
 *   each key's rows in their original order, as the CPU does;
 * - dropout draws the CPU's counter-based mask, splitmix64 of (seed, index),
 *   as a __device__ copy of nys_splitmix64_at: the masks agree bit for bit;
 * - AdamW is the CPU's arithmetic with every rounding explicit (no fused
 *   multiply-add but the two fmaf of the CPU), and the gradient norm the
 *   CPU's fixed partition in double: both bit for bit nys_optim.h's.
 * Every launch is checked (NYS_CUDA_LAUNCHED), every cuBLAS call too. */
#include "cuda_ops.h"

#include <cub/device/device_radix_sort.cuh>

#include <math.h>
#include <stdint.h>

namespace {

#include "colsum.cuh"

/* ---- reductions within a block -------------------------------------------- */

__device__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

__device__ int warp_min_int(int v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

/* The sum over the block (blockDim.x a multiple of 32, <= 1024), the same
 * on every thread; sh holds 32 floats.  Fixed order: deterministic. */
__device__ float block_sum(float v, float *sh)
{
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0)
		sh[w] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : 0.0f;
	return warp_sum(v);
}

__device__ float block_max(float v, float *sh)
{
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0)
		sh[w] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : -INFINITY;
	return warp_max(v);
}

__device__ int block_min_int(int v, int *sh)
{
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_min_int(v);
	__syncthreads();
	if (lane == 0)
		sh[w] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : INT32_MAX;
	return warp_min_int(v);
}

/* ---- scatters: dst[keys[m]] += src[m], keys repeating, in m order ----------- */

/* Sorted (key, m) pairs: a run of one key is its rows in increasing m
 * (the radix sort is stable); the thread of a run's first position sums
 * the run's rows for its column, in order, and adds to dst. */
__global__ void scatter_runs(float *dst, const float *src, const int32_t *skey,
                             const int32_t *sidx, int M, int C)
{
	int i = blockIdx.x;
	if (i >= M || (i > 0 && skey[i] == skey[i - 1]))
		return;
	int32_t key = skey[i];
	for (int c = blockIdx.y * blockDim.x + threadIdx.x; c < C; c += gridDim.y * blockDim.x) {
		float s = 0;
		for (int j = i; j < M && skey[j] == key; j++)
			s += src[(size_t)sidx[j] * C + c];
		dst[(size_t)key * C + c] += s;
	}
}

__global__ void iota_i32(int32_t *x, int n)
{
	GRID_STRIDE(i, (size_t)n)
	x[i] = (int32_t)i;
}

/* keys (M), device memory. */
int scatter_add(nys_backend *be, float *dst, const int32_t *keys, const float *src, int M,
                int C)
{
	if (M <= 0 || C <= 0)
		return 0;
	cudaStream_t s = stream_of(be);
	size_t tmp = 0;
	NYS_CUDA_TRY(be, cub::DeviceRadixSort::SortPairs(nullptr, tmp, (const int32_t *)nullptr,
	                                                 (int32_t *)nullptr,
	                                                 (const int32_t *)nullptr,
	                                                 (int32_t *)nullptr, M, 0, 32, s));
	size_t pairs = ((size_t)M * sizeof(int32_t) + 255) / 256 * 256;
	char *base = (char *)nys_cuda_scratch(be, 4 * pairs + tmp);
	if (!base)
		return -1;
	int32_t *kin = (int32_t *)base, *idx = (int32_t *)(base + pairs);
	int32_t *skey = (int32_t *)(base + 2 * pairs), *sidx = (int32_t *)(base + 3 * pairs);
	void *work = base + 4 * pairs;
	unsigned g = grid_for(be, (size_t)M);
	NYS_CUDA_TRY(be, cudaMemcpyAsync(kin, keys, (size_t)M * sizeof *kin,
	                                 cudaMemcpyDeviceToDevice, s));
	iota_i32<<<g, THREADS, 0, s>>>(idx, M);
	NYS_CUDA_LAUNCHED(be);
	NYS_CUDA_TRY(be, cub::DeviceRadixSort::SortPairs(work, tmp, kin, skey, idx, sidx, M, 0, 32,
	                                                 s));
	dim3 grid(M, (C + THREADS - 1) / THREADS);
	scatter_runs<<<grid, THREADS, 0, s>>>(dst, src, skey, sidx, M, C);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

/* ---- element-wise ------------------------------------------------------------ */

/* The GELU of the CPU (ops_dense.inc): x s with s the logistic function of
 * 2u, u = k (x + a x^3), taken at x clamped to [-16, 16], e^(-2u) capped at
 * e^80. */
#define GELU_K 0.79788456080286535588f
#define GELU_A 0.044715f

__device__ float gelu_clamp(float x) { return x < -16.0f ? -16.0f : x > 16.0f ? 16.0f : x; }

__device__ float gelu_e(float x)
{
	float m = -2.0f * GELU_K * (x + GELU_A * x * x * x);
	return expf(m < 80.0f ? m : 80.0f);
}

__global__ void k_gelu_fwd(float *out, const float *inp, size_t n)
{
	GRID_STRIDE(i, n)
	{
		float x = inp[i], xc = gelu_clamp(x);
		out[i] = (x > 0 ? x : xc) / (1.0f + gelu_e(xc));
	}
}

__global__ void k_gelu_bwd(int acc, float *dinp, const float *dout, const float *inp, size_t n)
{
	GRID_STRIDE(i, n)
	{
		float x = gelu_clamp(inp[i]);
		float e = gelu_e(x);
		float s = 1.0f / (1.0f + e);
		float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		float g = s + 2.0f * x * s * (e * s) * du;
		float d = g * dout[i];
		dinp[i] = acc ? dinp[i] + d : d;
	}
}

#define RSQRT2 0.70710678118654752440f
#define RSQRT2PI 0.39894228040143267794f

__global__ void k_gelu_erf_fwd(float *out, const float *inp, size_t n)
{
	GRID_STRIDE(i, n)
	{
		float x = inp[i];
		out[i] = 0.5f * x * (1.0f + erff(x * RSQRT2));
	}
}

__global__ void k_gelu_erf_bwd(int acc, float *dinp, const float *dout, const float *inp,
                               size_t n)
{
	GRID_STRIDE(i, n)
	{
		float x = inp[i];
		float g = 0.5f * (1.0f + erff(x * RSQRT2)) + x * RSQRT2PI * expf(-0.5f * x * x);
		float d = g * dout[i];
		dinp[i] = acc ? dinp[i] + d : d;
	}
}

__global__ void k_tanh_fwd(float *out, const float *inp, size_t n)
{
	GRID_STRIDE(i, n)
	out[i] = tanhf(inp[i]);
}

__global__ void k_tanh_bwd(int acc, float *dinp, const float *dout, const float *out, size_t n)
{
	GRID_STRIDE(i, n)
	{
		float d = (1.0f - out[i] * out[i]) * dout[i];
		dinp[i] = acc ? dinp[i] + d : d;
	}
}

__global__ void k_add_fwd(float *out, const float *a, const float *b, size_t n)
{
	GRID_STRIDE(i, n)
	out[i] = a[i] + b[i];
}

/* dx = dout (overwrite) or dx += dout */
__global__ void k_pass_grad(int acc, float *dx, const float *dout, size_t n)
{
	GRID_STRIDE(i, n)
	dx[i] = acc ? dx[i] + dout[i] : dout[i];
}

__global__ void k_fill(float *x, size_t n, float v)
{
	GRID_STRIDE(i, n)
	x[i] = v;
}

/* nys_mix64 and nys_splitmix64_at of nys.h, on the device. */
__device__ uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

__device__ bool drop_keep(uint64_t key, size_t i, uint64_t thr)
{
	return mix64(key + ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull) >> 11 >= thr;
}

__global__ void k_dropout_fwd(float *out, const float *inp, size_t n, uint64_t key,
                              uint64_t thr, float scale)
{
	GRID_STRIDE(i, n)
	out[i] = drop_keep(key, i, thr) ? inp[i] * scale : 0.0f;
}

__global__ void k_dropout_bwd(int acc, float *dinp, const float *dout, size_t n, uint64_t key,
                              uint64_t thr, float scale)
{
	GRID_STRIDE(i, n)
	{
		float d = drop_keep(key, i, thr) ? dout[i] * scale : 0.0f;
		dinp[i] = acc ? dinp[i] + d : d;
	}
}

/* what layernorm's weight gradient sums: dout * xhat */
struct col_xhat {
	const float *d, *x, *mean, *rstd;
	__device__ float operator()(int i, int c, int C) const
	{
		size_t k = (size_t)i * C + c;
		return d[k] * (x[k] - mean[i]) * rstd[i];
	}
};

/* ---- layernorm: a warp per row --------------------------------------------- */

__global__ void k_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                                const float *weight, const float *bias, int N, int C, float eps)
{
	int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
	if (row >= N)
		return;
	const float *x = inp + (size_t)row * C;
	float *o = out + (size_t)row * C;
	float s = 0;
	for (int c = lane; c < C; c += 32)
		s += x[c];
	float m = warp_sum(s) / (float)C;
	float v = 0;
	for (int c = lane; c < C; c += 32) {
		float d = x[c] - m;
		v += d * d;
	}
	float r = 1.0f / sqrtf(warp_sum(v) / (float)C + eps);
	for (int c = lane; c < C; c += 32)
		o[c] = (x[c] - m) * r * weight[c] + bias[c];
	if (lane == 0) {
		mean[row] = m;
		rstd[row] = r;
	}
}

__global__ void k_layernorm_bwd(int acc, float *dinp, const float *dout, const float *inp,
                                const float *weight, const float *mean, const float *rstd,
                                int N, int C)
{
	int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
	if (row >= N)
		return;
	const float *x = inp + (size_t)row * C, *d = dout + (size_t)row * C;
	float *dx = dinp + (size_t)row * C;
	float m = mean[row], r = rstd[row];
	float sg = 0, sgx = 0;
	for (int c = lane; c < C; c += 32) {
		float g = d[c] * weight[c];
		sg += g;
		sgx += g * (x[c] - m) * r;
	}
	sg = warp_sum(sg) / (float)C;
	sgx = warp_sum(sgx) / (float)C;
	for (int c = lane; c < C; c += 32) {
		float xhat = (x[c] - m) * r;
		float g = r * (d[c] * weight[c] - sg - xhat * sgx);
		dx[c] = acc ? dx[c] + g : g;
	}
}

/* ---- embeddings and rows ----------------------------------------------------- */

__global__ void k_embedding_fwd(float *out, const int32_t *ids, const int32_t *types,
                                const float *wte, const float *wpe, const float *wtt, int B,
                                int T, int C)
{
	GRID_STRIDE(i, (size_t)B * T * C)
	{
		size_t bt = i / (size_t)C;
		int c = (int)(i % (size_t)C);
		int t = (int)(bt % (size_t)T);
		out[i] = wte[(size_t)ids[bt] * C + c] + wpe[(size_t)(t + NYS_POS_OFFSET) * C + c] +
		         wtt[(size_t)(types ? types[bt] : 0) * C + c];
	}
}

/* dwpe[t + 2] += the sum over b, in b order */
__global__ void k_embedding_dpos(float *dwpe, const float *dout, int B, int T, int C)
{
	GRID_STRIDE(i, (size_t)T * C)
	{
		size_t t = i / (size_t)C, c = i % (size_t)C;
		float s = 0;
		for (int b = 0; b < B; b++)
			s += dout[((size_t)b * T + t) * C + c];
		dwpe[(t + NYS_POS_OFFSET) * C + c] += s;
	}
}

__global__ void k_gather_fwd(float *out, const float *inp, const int32_t *rows, int M, int C)
{
	GRID_STRIDE(i, (size_t)M * C)
	{
		size_t m = i / (size_t)C, c = i % (size_t)C;
		out[i] = inp[(size_t)rows[m] * C + c];
	}
}

/* ---- losses ------------------------------------------------------------------ */

/* One block per row: probs, losses, pred as the CPU's (the max, the first
 * index of it, the sum of exponentials; the label's logit read before probs,
 * perhaps the logits, are written). */
__global__ void k_crossentropy_fwd(float *probs, float *losses, int32_t *pred,
                                   const float *logits, const int32_t *labels, int V)
{
	__shared__ float shf[32];
	__shared__ int shi[32];
	size_t row = blockIdx.x;
	const float *z = logits + row * V;
	float *pr = probs + row * V;
	float mx = -INFINITY;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		mx = fmaxf(mx, z[v]);
	mx = block_max(mx, shf);
	int arg = INT32_MAX;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		if (z[v] == mx) {
			arg = v;
			break;
		}
	arg = block_min_int(arg, shi);
	int32_t y = labels[row];
	float zy = y >= 0 ? z[y] - mx : 0.0f;
	__syncthreads(); /* every read of z above is done before probs is written */
	float s = 0;
	for (int v = threadIdx.x; v < V; v += blockDim.x) {
		float e = expf(z[v] - mx);
		pr[v] = e;
		s += e;
	}
	s = block_sum(s, shf);
	float inv = 1.0f / s;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		pr[v] *= inv;
	if (threadIdx.x == 0) {
		losses[row] = y >= 0 ? logf(s) - zy : 0.0f;
		if (pred)
			pred[row] = arg == INT32_MAX ? V - 1 : arg;
	}
}

/* stats[0] = scale * the sum of losses, stats[1] = the rows whose pred is
 * their label; one block, fixed order. */
__global__ void k_loss_stats(double *stats, const float *losses, const int32_t *pred,
                             const int32_t *labels, int N, float scale)
{
	__shared__ float sh[32];
	float s = 0, k = 0;
	for (int i = threadIdx.x; i < N; i += blockDim.x) {
		s += losses[i];
		if (pred)
			k += labels[i] >= 0 && pred[i] == labels[i];
	}
	s = block_sum(s, sh);
	k = block_sum(k, sh);
	if (threadIdx.x == 0) {
		stats[0] = (double)(scale * s);
		stats[1] = (double)k;
	}
}

__global__ void k_crossentropy_bwd(int acc, float *dlogits, const float *probs,
                                   const int32_t *labels, int N, int V, float g)
{
	GRID_STRIDE(i, (size_t)N * V)
	{
		size_t row = i / (size_t)V;
		int v = (int)(i % (size_t)V);
		int32_t y = labels[row];
		float old = acc ? dlogits[i] : 0.0f;
		if (y < 0) {
			dlogits[i] = old;
			continue;
		}
		float d = old + g * probs[i];
		dlogits[i] = v == y ? d - g : d;
	}
}

__global__ void k_mse_stats(double *stats, const float *pred, const float *target, int N,
                            float scale)
{
	__shared__ float sh[32];
	float s = 0;
	for (int i = threadIdx.x; i < N; i += blockDim.x) {
		float d = pred[i] - target[i];
		s += d * d;
	}
	s = block_sum(s, sh);
	if (threadIdx.x == 0) {
		stats[0] = (double)(scale * s);
		stats[1] = 0;
	}
}

__global__ void k_mse_bwd(int acc, float *dpred, const float *pred, const float *target, int N,
                          float g)
{
	GRID_STRIDE(i, (size_t)N)
	{
		float d = g * (pred[i] - target[i]);
		dpred[i] = acc ? dpred[i] + d : d;
	}
}

/* ---- optimizer and gradient checks -------------------------------------------- */

/* nys_adamw_prepare's constants, by value */
struct adamw_k {
	float k[8];
};

/* nys_adamw_step's element update (optim.c), every rounding as there: the
 * two fmaf, the rest single operations (no contraction). */
__global__ void k_adamw(float *p, const float *g, float *m, float *v, size_t n, adamw_k kk)
{
	struct {
		float decay, b1, one_b1, b2, one_b2, bc2s, eps, neg_step;
	} k = {kk.k[0], kk.k[1], kk.k[2], kk.k[3], kk.k[4], kk.k[5], kk.k[6], kk.k[7]};
	GRID_STRIDE(i, n)
	{
		float gi = g[i];
		float pi = __fmul_rn(p[i], k.decay);
		float mi = __fmaf_rn(gi, k.one_b1, __fmul_rn(m[i], k.b1));
		float vi = __fmaf_rn(__fmul_rn(k.one_b2, gi), gi, __fmul_rn(v[i], k.b2));
		float d = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.bc2s), k.eps);
		p[i] = __fadd_rn(pi, __fdiv_rn(__fmul_rn(k.neg_step, mi), d));
		m[i] = mi;
		v[i] = vi;
	}
}

/* nys_grad_norm's partition: NORM_CHUNKS chunks, NORM_LANES lanes each
 * summing the chunk's elements j with j % NORM_LANES its own, in order;
 * thread (chunk, lane) does one lane, then the lanes and the chunks are
 * added in index order by one thread. */
enum { NORM_CHUNKS = 1024, NORM_LANES = 8 };

__global__ void k_norm_lanes(double *lanes, const float *x, size_t n, size_t per)
{
	size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (id >= (size_t)NORM_CHUNKS * NORM_LANES)
		return;
	size_t c = id / NORM_LANES, k = id % NORM_LANES;
	size_t lo = c * per, hi = lo + per;
	if (lo > n)
		lo = n;
	if (hi > n)
		hi = n;
	double acc = 0;
	/* unrolled so that the loads of several elements are in flight at once
	 * (the additions stay in order) */
#pragma unroll 8
	for (size_t i = lo + k; i < hi; i += NORM_LANES) {
		double xi = x[i];
		acc = __dadd_rn(acc, __dmul_rn(xi, xi));
	}
	lanes[id] = acc;
}

__global__ void k_norm_finish(double *norm, const double *lanes)
{
	double sum = 0;
	for (int c = 0; c < NORM_CHUNKS; c++) {
		double s = 0;
		for (int k = 0; k < NORM_LANES; k++)
			s = __dadd_rn(s, lanes[c * NORM_LANES + k]);
		sum = __dadd_rn(sum, s);
	}
	*norm = sqrt(sum);
}

__global__ void k_nonfinite(int *bad, const float *x, size_t n)
{
	int b = 0;
	GRID_STRIDE(i, n)
	b |= !isfinite(x[i]);
	if (__syncthreads_or(b) && threadIdx.x == 0)
		*bad = 1;
}

} // namespace

/* ---- the ops ---------------------------------------------------------------------- */

#define F(p) ((float *)(p))
#define CF(p) ((const float *)(p))
#define ACC (acc == NYS_ACCUMULATE)
#define LAUNCH(n, kernel, ...)                                                              \
	do {                                                                                    \
		if ((n) > 0) {                                                                      \
			kernel<<<grid_for(be, (size_t)(n)), THREADS, 0, stream_of(be)>>>(__VA_ARGS__);   \
			NYS_CUDA_LAUNCHED(be);                                                          \
		}                                                                                   \
	} while (0)

extern "C" {

int nys_cuda_layernorm_forward(nys_backend *be, void *out, void *mean, void *rstd,
                               const void *inp, const void *weight, const void *bias, int N,
                               int C, double eps)
{
	if (N <= 0)
		return 0;
	int rows = THREADS / 32;
	k_layernorm_fwd<<<(N + rows - 1) / rows, THREADS, 0, stream_of(be)>>>(
		F(out), F(mean), F(rstd), CF(inp), CF(weight), CF(bias), N, C, (float)eps);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

int nys_cuda_layernorm_backward(nys_backend *be, nys_acc acc, void *dinp, void *dweight,
                                void *dbias, const void *dout, const void *inp,
                                const void *weight, const void *mean, const void *rstd, int N,
                                int C)
{
	if (N <= 0)
		return 0;
	if (dinp) {
		int rows = THREADS / 32;
		k_layernorm_bwd<<<(N + rows - 1) / rows, THREADS, 0, stream_of(be)>>>(
			ACC, F(dinp), CF(dout), CF(inp), CF(weight), CF(mean), CF(rstd), N, C);
		NYS_CUDA_LAUNCHED(be);
	}
	if (dweight &&
	    col_sum_add(be, F(dweight), col_xhat{CF(dout), CF(inp), CF(mean), CF(rstd)}, N, C))
		return -1;
	if (dbias && col_sum_add(be, F(dbias), col_plain{CF(dout)}, N, C))
		return -1;
	return 0;
}

int nys_cuda_gelu_forward(nys_backend *be, void *out, const void *inp, size_t n)
{
	LAUNCH(n, k_gelu_fwd, F(out), CF(inp), n);
	return 0;
}

int nys_cuda_gelu_backward(nys_backend *be, nys_acc acc, void *dinp, const void *dout,
                           const void *inp, size_t n)
{
	LAUNCH(n, k_gelu_bwd, ACC, F(dinp), CF(dout), CF(inp), n);
	return 0;
}

int nys_cuda_gelu_erf_forward(nys_backend *be, void *out, const void *inp, size_t n)
{
	LAUNCH(n, k_gelu_erf_fwd, F(out), CF(inp), n);
	return 0;
}

int nys_cuda_gelu_erf_backward(nys_backend *be, nys_acc acc, void *dinp, const void *dout,
                               const void *inp, size_t n)
{
	LAUNCH(n, k_gelu_erf_bwd, ACC, F(dinp), CF(dout), CF(inp), n);
	return 0;
}

int nys_cuda_tanh_forward(nys_backend *be, void *out, const void *inp, size_t n)
{
	LAUNCH(n, k_tanh_fwd, F(out), CF(inp), n);
	return 0;
}

int nys_cuda_tanh_backward(nys_backend *be, nys_acc acc, void *dinp, const void *dout,
                           const void *out, size_t n)
{
	LAUNCH(n, k_tanh_bwd, ACC, F(dinp), CF(dout), CF(out), n);
	return 0;
}

int nys_cuda_add_forward(nys_backend *be, void *out, const void *a, const void *b, size_t n)
{
	LAUNCH(n, k_add_fwd, F(out), CF(a), CF(b), n);
	return 0;
}

int nys_cuda_add_backward(nys_backend *be, nys_acc acc, void *da, void *db, const void *dout,
                          size_t n)
{
	if (da)
		LAUNCH(n, k_pass_grad, ACC, F(da), CF(dout), n);
	if (db)
		LAUNCH(n, k_pass_grad, ACC, F(db), CF(dout), n);
	return 0;
}

/* The CPU wrapper rounds p to float; the threshold is floor(p 2^53) of
 * that float, in double, as dense_drop_threshold. */
int nys_cuda_dropout_forward(nys_backend *be, void *out, const void *inp, size_t n, double p,
                             uint64_t seed)
{
	float pf = (float)p;
	if (!n)
		return 0;
	if (pf <= 0) {
		if (out != inp)
			NYS_CUDA_TRY(be, cudaMemcpyAsync(out, inp, n * sizeof(float),
			                                 cudaMemcpyDeviceToDevice, stream_of(be)));
		return 0;
	}
	if (pf >= 1)
		return nys_cuda_fill(be, out, n, 0.0);
	uint64_t key = nys_mix64(seed), thr = (uint64_t)((double)pf * 9007199254740992.0);
	float scale = 1.0f / (1.0f - pf);
	LAUNCH(n, k_dropout_fwd, F(out), CF(inp), n, key, thr, scale);
	return 0;
}

int nys_cuda_dropout_backward(nys_backend *be, nys_acc acc, void *dinp, const void *dout,
                              size_t n, double p, uint64_t seed)
{
	float pf = (float)p;
	if (pf <= 0) {
		LAUNCH(n, k_pass_grad, ACC, F(dinp), CF(dout), n);
		return 0;
	}
	if (pf >= 1)
		return ACC ? 0 : nys_cuda_fill(be, dinp, n, 0.0);
	uint64_t key = nys_mix64(seed), thr = (uint64_t)((double)pf * 9007199254740992.0);
	float scale = 1.0f / (1.0f - pf);
	LAUNCH(n, k_dropout_bwd, ACC, F(dinp), CF(dout), n, key, thr, scale);
	return 0;
}

int nys_cuda_fill(nys_backend *be, void *x, size_t n, double value)
{
	LAUNCH(n, k_fill, F(x), n, (float)value);
	return 0;
}

int nys_cuda_embedding_forward(nys_backend *be, void *out, const int32_t *ids,
                               const int32_t *type_ids, const void *wte, const void *wpe,
                               const void *wtt, int B, int T, int C)
{
	LAUNCH((size_t)B * T * C, k_embedding_fwd, F(out), ids, type_ids, CF(wte), CF(wpe),
	       CF(wtt), B, T, C);
	return 0;
}

int nys_cuda_embedding_backward(nys_backend *be, void *dwte, void *dwpe, void *dwtt,
                                const void *dout, const int32_t *ids, const int32_t *type_ids,
                                int B, int T, int C)
{
	int N = B * T;
	if (N <= 0 || C <= 0)
		return 0;
	if (dwte && scatter_add(be, F(dwte), ids, CF(dout), N, C))
		return -1;
	if (dwpe)
		LAUNCH((size_t)T * C, k_embedding_dpos, F(dwpe), CF(dout), B, T, C);
	if (dwtt) {
		/* every token of type 0 (no type ids): one column sum */
		if (type_ids ? scatter_add(be, F(dwtt), type_ids, CF(dout), N, C)
		             : col_sum_add(be, F(dwtt), col_plain{CF(dout)}, N, C))
			return -1;
	}
	return 0;
}

int nys_cuda_gather_forward(nys_backend *be, void *out, const void *inp, const int32_t *rows,
                            int M, int C)
{
	LAUNCH((size_t)M * C, k_gather_fwd, F(out), CF(inp), rows, M, C);
	return 0;
}

int nys_cuda_gather_backward(nys_backend *be, nys_acc acc, void *dinp, const void *dout,
                             const int32_t *rows, int N, int M, int C)
{
	if (!ACC && N > 0 && C > 0)
		NYS_CUDA_TRY(be, cudaMemsetAsync(dinp, 0, (size_t)N * C * sizeof(float),
		                                 stream_of(be)));
	return scatter_add(be, F(dinp), rows, CF(dout), M, C);
}

int nys_cuda_crossentropy_forward(nys_backend *be, void *probs, void *losses, int32_t *pred,
                                  const void *logits, const int32_t *labels, int N, int V,
                                  double scale, double *stats)
{
	if (N > 0 && V > 0) {
		k_crossentropy_fwd<<<N, 512, 0, stream_of(be)>>>(F(probs), F(losses), pred, CF(logits),
		                                                labels, V);
		NYS_CUDA_LAUNCHED(be);
	}
	if (stats) {
		k_loss_stats<<<1, 1024, 0, stream_of(be)>>>(stats, CF(losses), pred, labels, N,
		                                           (float)scale);
		NYS_CUDA_LAUNCHED(be);
	}
	return 0;
}

int nys_cuda_crossentropy_backward(nys_backend *be, nys_acc acc, void *dlogits,
                                   const void *probs, const int32_t *labels, int N, int V,
                                   double scale, double dloss)
{
	float g = (float)dloss * (float)scale;
	LAUNCH((size_t)N * V, k_crossentropy_bwd, ACC, F(dlogits), CF(probs), labels, N, V, g);
	return 0;
}

int nys_cuda_mse_forward(nys_backend *be, const void *pred, const void *target, int N,
                         double scale, double *stats)
{
	if (stats) {
		k_mse_stats<<<1, 1024, 0, stream_of(be)>>>(stats, CF(pred), CF(target), N,
		                                          (float)scale);
		NYS_CUDA_LAUNCHED(be);
	}
	return 0;
}

int nys_cuda_mse_backward(nys_backend *be, nys_acc acc, void *dpred, const void *pred,
                          const void *target, int N, double scale, double dloss)
{
	float g = 2.0f * (float)scale * (float)dloss;
	LAUNCH((size_t)N, k_mse_bwd, ACC, F(dpred), CF(pred), CF(target), N, g);
	return 0;
}

/* nys_adamw_step (optim.c): its checks and its scalars in double on the
 * host (nys_adamw_prepare), the element update on the device. */
int nys_cuda_adamw_step(nys_backend *be, void *p, const void *g, void *m, void *v, size_t n,
                        nys_adamw *o)
{
	adamw_k k;
	nys_err e;
	if (nys_adamw_prepare(o, k.k, &e))
		return nys_backend_fail(be, "%s", e.msg);
	LAUNCH(n, k_adamw, F(p), CF(g), F(m), F(v), n, k);
	return 0;
}

int nys_cuda_grad_norm(nys_backend *be, const void *x, size_t n, double *norm)
{
	size_t per = n / NORM_CHUNKS + (n % NORM_CHUNKS != 0);
	if (per == 0) {
		double z = 0;
		NYS_CUDA_TRY(be, cudaMemcpyAsync(norm, &z, sizeof z, cudaMemcpyHostToDevice,
		                                 stream_of(be)));
		return 0;
	}
	double *lanes = (double *)nys_cuda_scratch(be, NORM_CHUNKS * NORM_LANES * sizeof(double));
	if (!lanes)
		return -1;
	int nt = NORM_CHUNKS * NORM_LANES;
	k_norm_lanes<<<(nt + THREADS - 1) / THREADS, THREADS, 0, stream_of(be)>>>(lanes, CF(x), n,
	                                                                        per);
	NYS_CUDA_LAUNCHED(be);
	k_norm_finish<<<1, 1, 0, stream_of(be)>>>(norm, lanes);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

/* bad is host memory: the flag is copied back and waited for. */
int nys_cuda_nonfinite(nys_backend *be, const void *x, size_t n, int *bad)
{
	int *flag = (int *)nys_cuda_scratch(be, sizeof(int));
	if (!flag)
		return -1;
	cudaStream_t s = stream_of(be);
	NYS_CUDA_TRY(be, cudaMemsetAsync(flag, 0, sizeof *flag, s));
	LAUNCH(n, k_nonfinite, flag, CF(x), n);
	NYS_CUDA_TRY(be, cudaMemcpyAsync(bad, flag, sizeof *flag, cudaMemcpyDeviceToHost, s));
	NYS_CUDA_TRY(be, cudaStreamSynchronize(s));
	return 0;
}

void nys_cuda_ops_dense(nys_backend_ops *t)
{
	t->linear_forward = nys_cuda_linear_forward;
	t->linear_backward = nys_cuda_linear_backward;
	t->linear_gelu_forward = nys_cuda_linear_gelu_forward;
	t->layernorm_forward = nys_cuda_layernorm_forward;
	t->layernorm_backward = nys_cuda_layernorm_backward;
	t->gelu_forward = nys_cuda_gelu_forward;
	t->gelu_backward = nys_cuda_gelu_backward;
	t->gelu_erf_forward = nys_cuda_gelu_erf_forward;
	t->gelu_erf_backward = nys_cuda_gelu_erf_backward;
	t->tanh_forward = nys_cuda_tanh_forward;
	t->tanh_backward = nys_cuda_tanh_backward;
	t->add_forward = nys_cuda_add_forward;
	t->add_backward = nys_cuda_add_backward;
	t->dropout_forward = nys_cuda_dropout_forward;
	t->dropout_backward = nys_cuda_dropout_backward;
	t->fill = nys_cuda_fill;
	t->embedding_forward = nys_cuda_embedding_forward;
	t->embedding_backward = nys_cuda_embedding_backward;
	t->gather_forward = nys_cuda_gather_forward;
	t->gather_backward = nys_cuda_gather_backward;
	t->crossentropy_forward = nys_cuda_crossentropy_forward;
	t->crossentropy_backward = nys_cuda_crossentropy_backward;
	t->mse_forward = nys_cuda_mse_forward;
	t->mse_backward = nys_cuda_mse_backward;
	t->adamw_step = nys_cuda_adamw_step;
	t->grad_norm = nys_cuda_grad_norm;
	t->nonfinite = nys_cuda_nonfinite;
}

} // extern "C"
