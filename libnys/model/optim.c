/* AdamW and OneCycleLR as PyTorch computes them (see nys_optim.h).
 *
 * Bit-exactness rests on doing the same operations in the same order and
 * precision as torch: the schedule and AdamW's scalars in double, as its
 * Python code does, and the element-wise update in float with the fused
 * multiply-adds of torch's AVX2 kernels written out as fmaf().  Nothing may
 * be contracted or reassociated behind our back: -std=c11 keeps GCC's
 * -ffp-contract at "off", and nothing here is built with -ffast-math.
 */
#include "nys_optim.h"

#include <math.h>
#include <string.h>

/* ---- OneCycleLR --------------------------------------------------------- */

void nys_onecycle_init(nys_onecycle *s, double max_lr, uint64_t total_steps,
                       double pct_start)
{
	s->max_lr = max_lr;
	s->total_steps = total_steps;
	s->pct_start = pct_start;
	s->div_factor = 25.0;
	s->final_div_factor = 1e4;
	s->base_momentum = 0.85;
	s->max_momentum = 0.95;
}

int nys_onecycle_check(const nys_onecycle *s, nys_err *e)
{
	if (s->total_steps == 0 || s->total_steps > (UINT64_C(1) << 53))
		return nys_err_set(e, "OneCycleLR: total_steps %llu: expected 1 to 2^53",
		                   (unsigned long long)s->total_steps);
	if (!(s->pct_start >= 0 && s->pct_start <= 1))
		return nys_err_set(e, "OneCycleLR: pct_start %g: expected a number in [0, 1]",
		                   s->pct_start);
	if (!(isfinite(s->max_lr) && s->max_lr > 0))
		return nys_err_set(e, "OneCycleLR: max_lr %g: expected a positive number",
		                   s->max_lr);
	if (!(isfinite(s->div_factor) && s->div_factor > 0 &&
	      isfinite(s->final_div_factor) && s->final_div_factor > 0))
		return nys_err_set(e, "OneCycleLR: div_factor %g, final_div_factor %g: "
		                   "expected positive numbers", s->div_factor, s->final_div_factor);
	if (!(s->base_momentum >= 0 && s->base_momentum <= 1 && s->max_momentum >= 0 &&
	      s->max_momentum <= 1))
		return nys_err_set(e, "OneCycleLR: base_momentum %g, max_momentum %g: "
		                   "expected numbers in [0, 1]", s->base_momentum, s->max_momentum);
	/* torch evaluates step 0 while constructing; with the first phase
	 * ending at step 0 that is 0 / 0.0, a ZeroDivisionError. */
	if (s->pct_start * (double)s->total_steps - 1.0 == 0.0)
		return nys_err_set(e, "OneCycleLR: pct_start * total_steps is 1 "
		                   "(a warmup ending at step 0: torch divides 0 by 0)");
	return 0;
}

int nys_onecycle_eval(const nys_onecycle *s, uint64_t step, double *lr,
                      double *beta1, nys_err *e)
{
	if (nys_onecycle_check(s, e))
		return -1;
	if (step > s->total_steps)
		return nys_err_set(e, "OneCycleLR: step %llu is past the schedule's "
		                   "total_steps %llu", (unsigned long long)step,
		                   (unsigned long long)s->total_steps);
	/* torch's group values: initial_lr, min_lr, and the phase ends
	 * float(pct_start * total_steps) - 1 and total_steps - 1. */
	double initial = s->max_lr / s->div_factor;
	double min_lr = initial / s->final_div_factor;
	double end1 = s->pct_start * (double)s->total_steps - 1.0;
	double end2 = (double)(s->total_steps - 1);
	double x = (double)step, pct;
	if (x <= end1) {
		/* (step - 0) / (end1 - 0): end1 == 0 was refused above */
		pct = x / end1;
		*lr = (s->max_lr - initial) * pct + initial;
		*beta1 = (s->base_momentum - s->max_momentum) * pct + s->max_momentum;
		return 0;
	}
	double span = end2 - end1;
	if (span == 0.0)
		return nys_err_set(e, "OneCycleLR: step %llu with pct_start 1: the "
		                   "annealing phase has no length (torch divides by zero)",
		                   (unsigned long long)step);
	pct = (x - end1) / span;
	*lr = (min_lr - s->max_lr) * pct + s->max_lr;
	*beta1 = (s->max_momentum - s->base_momentum) * pct + s->base_momentum;
	return 0;
}

/* ---- AdamW -------------------------------------------------------------- */

void nys_adamw_init(nys_adamw *o, double max_lr)
{
	o->lr = max_lr;
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-6;
	o->weight_decay = 0.01;
	o->step = 0;
}

/* Elements per call of the kernel: the parallel loop's grain. */
#define ADAMW_CHUNK 4096

/* The element-wise update over one chunk, k = {decay, beta1, 1 - beta1,
 * beta2, 1 - beta2, sqrt(bc2), eps, -step_size} as floats.  Compiled for
 * AVX-512, for AVX2 with FMA and plainly, the CPU picking at load time:
 * with hardware FMA, fmaf is one instruction and the loop vectorises;
 * fmaf rounds once everywhere, so every version gives the same bits. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void adamw_kernel(float *restrict p, const float *restrict g, float *restrict m,
                         float *restrict v, size_t n, const float k[8])
{
	const float decay = k[0], b1 = k[1], one_b1 = k[2], b2 = k[3], one_b2 = k[4];
	const float bc2s = k[5], eps = k[6], neg_step = k[7];
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float gi = g[i];
		/* param.mul_(1 - lr * weight_decay) */
		float pi = p[i] * decay;
		/* exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1): add is
		 * vec::fmadd(grad, alpha, self) */
		float mi = fmaf(gi, one_b1, m[i] * b1);
		/* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2):
		 * self + value * g * g, whose last multiply-add the compiler
		 * fused in torch's AVX2 build */
		float vi = fmaf(one_b2 * gi, gi, v[i] * b2);
		/* (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps) */
		float d = sqrtf(vi) / bc2s + eps;
		/* param.addcdiv_(exp_avg, denom, value=-step_size):
		 * self + value * t1 / t2 */
		p[i] = pi + (neg_step * mi) / d;
		m[i] = mi;
		v[i] = vi;
	}
}

int nys_adamw_prepare(nys_adamw *o, float k[8], nys_err *e)
{
	/* torch.optim.AdamW's constructor checks; the comparisons are written
	 * so that NaN fails them. */
	if (!(isfinite(o->lr) && o->lr >= 0) || !(isfinite(o->eps) && o->eps >= 0) ||
	    !(isfinite(o->weight_decay) && o->weight_decay >= 0))
		return nys_err_set(e, "AdamW: lr %g, eps %g, weight_decay %g: expected "
		                   "non-negative numbers", o->lr, o->eps, o->weight_decay);
	if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1))
		return nys_err_set(e, "AdamW: betas (%g, %g): expected numbers in [0, 1)",
		                   o->beta1, o->beta2);
	o->step++;
	/* The Python-side scalars, in double: torch's state["step"] is a float
	 * tensor read back with .item(), and beta ** step is C's pow. */
	double t = (double)o->step;
	double bc1 = 1.0 - pow(o->beta1, t);
	double bc2 = 1.0 - pow(o->beta2, t);
	double step_size = o->lr / bc1;
	double bc2_sqrt = sqrt(bc2);
	/* The kernels see each Python float rounded to the tensor's float. */
	const float decay = (float)(1.0 - o->lr * o->weight_decay);
	const float b1 = (float)o->beta1, one_b1 = (float)(1.0 - o->beta1);
	const float b2 = (float)o->beta2, one_b2 = (float)(1.0 - o->beta2);
	const float bc2s = (float)bc2_sqrt, eps = (float)o->eps;
	const float neg_step = (float)-step_size;
	const float kk[8] = {decay, b1, one_b1, b2, one_b2, bc2s, eps, neg_step};
	memcpy(k, kk, sizeof kk);
	return 0;
}

int nys_adamw_step(nys_adamw *o, float *restrict p, const float *restrict g,
                   float *restrict m, float *restrict v, size_t n, nys_err *e)
{
	float k[8];
	if (nys_adamw_prepare(o, k, e))
		return -1;
	size_t nchunks = (n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
#pragma omp parallel for schedule(static) if (n > 32768)
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = c * ADAMW_CHUNK, hi = lo + ADAMW_CHUNK < n ? lo + ADAMW_CHUNK : n;
		adamw_kernel(p + lo, g + lo, m + lo, v + lo, hi - lo, k);
	}
	return 0;
}

/* ---- gradients ---------------------------------------------------------- */

/* The norm's fixed partition: NORM_CHUNKS contiguous chunks whatever the
 * thread count, each summed by one thread with NORM_LANES interleaved
 * accumulators (the chunk's j-th element goes to lane j % NORM_LANES: eight
 * independent additions in flight), the lanes and then the chunks added in
 * index order.  Each square of a float is exact in double. */
#define NORM_CHUNKS 1024
#define NORM_LANES 8

double nys_grad_norm(const float *x, size_t n)
{
	double part[NORM_CHUNKS];
	size_t per = n / NORM_CHUNKS + (n % NORM_CHUNKS != 0);
	if (per == 0)
		return 0.0;
#pragma omp parallel for schedule(static) if (n > 65536)
	for (int c = 0; c < NORM_CHUNKS; c++) {
		size_t lo = (size_t)c * per, hi = lo + per;
		if (lo > n)
			lo = n;
		if (hi > n)
			hi = n;
		double acc[NORM_LANES] = {0};
		size_t i = lo;
		for (; i + NORM_LANES <= hi; i += NORM_LANES)
			for (int k = 0; k < NORM_LANES; k++) {
				double xi = x[i + (size_t)k];
				acc[k] += xi * xi;
			}
		for (int k = 0; i < hi; i++, k++) {
			double xi = x[i];
			acc[k] += xi * xi;
		}
		double s = 0;
		for (int k = 0; k < NORM_LANES; k++)
			s += acc[k];
		part[c] = s;
	}
	double sum = 0;
	for (int c = 0; c < NORM_CHUNKS; c++)
		sum += part[c];
	return sqrt(sum);
}

bool nys_grad_nonfinite(const float *x, size_t n)
{
	int bad = 0;
	ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) reduction(| : bad) if (nn > 65536)
	for (ptrdiff_t i = 0; i < nn; i++)
		bad |= !isfinite(x[i]);
	return bad != 0;
}
