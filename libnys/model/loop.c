/* The training step of every driver (nys_loop.h): gradient accumulation
 * over micro-batches, the non-finite checks, AdamW under OneCycleLR, and
 * the data-parallel split of a step's micro-batches over a world of
 * ranks (nys_world). */
#include "nys_loop.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exact sums' integers (GCC and clang have them on 64-bit targets). */
__extension__ typedef __int128 i128;
#define UNIT 0x1p64 /* units a 1 of gradient */
#define LIMIT 0x1p40 /* the largest gradient element the sums take */

void nys_info_say(const nys_info *in, const char *fmt, ...)
{
	if (!in->fn)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	in->fn(in->ctx, line);
}

int nys_loop_init(nys_loop *t, nys_model *m, const nys_loop_opts *o, nys_err *e)
{
	memset(t, 0, sizeof *t);
	if (nys_world_many(o->world) &&
	    (!o->skip || !o->world->sum || !o->world->grads || !o->world->sum_exact ||
	     o->world->rank >= o->world->world))
		return nys_err_set(e, "loop: a world of %u ranks needs skip, its sums, and a rank "
		                   "below it", o->world->world);
	t->o = *o;
	t->m = m;
	t->np = nys_model_nparams(t->m);
	if (o->exact) {
		size_t es = nys_dtype_size(nys_model_options(m)->dtype);
		t->xg = malloc(t->np * es);
		t->xacc = malloc(t->np * sizeof(i128));
		if (!t->xg || !t->xacc) {
			nys_loop_free(t);
			return nys_err_set(e, "out of memory");
		}
	}
	/* the gradients made now, the moments on the first step or resume */
	if (nys_model_zero_grad(t->m, e))
		return -1;
	nys_adamw_init(&t->adam, o->max_lr);
	return 0;
}

void nys_loop_free(nys_loop *t)
{
	free(t->xg);
	free(t->xacc);
	t->xg = t->xacc = NULL;
}

int nys_loop_schedule(const nys_loop *t, double *lr, double *beta1, nys_err *e)
{
	return nys_onecycle_eval(&t->o.sched, t->step, lr, beta1, e);
}

/* One micro-batch of nb sequences, k-th of the step: forward, backward
 * weighted nb / batch, and its measurements (each weighted the same) into
 * v[4]. */
static int micro_step(nys_loop *t, uint64_t k, int nb, double v[4], nys_err *e)
{
	nys_batch b;
	if (t->o.next(t->o.next_ctx, nb, &b, e))
		return -1;
	nys_model_stats st;
	double pct = (double)nb / (double)t->o.batch;
	uint64_t seed = nys_mix64(t->o.seed ^ nys_mix64((t->step << 16) + k + 1));
	if (nys_model_forward(t->m, &b, true, seed, &st, e))
		return -1;
	if (!isfinite(st.loss))
		return nys_err_set(e, "step %llu: the loss is not finite (%g)",
		                   (unsigned long long)t->step + 1, st.loss);
	if (nys_model_backward(t->m, pct, e))
		return -1;
	double vc = st.count + 1e-6;
	v[0] = pct * st.loss;
	v[1] = pct * st.correct / vc;
	v[2] = pct * vc;
	v[3] = pct * nb;
	return 0;
}

/* exact: the gradient of the micro-batch just run, added to the 128-bit
 * sums in fixed point (x * 2^64 is exact, the conversion truncates). */
static int exact_add(nys_loop *t, nys_err *e)
{
	if (nys_model_get(t->m, NYS_BUF_GRADS, 0, t->np, t->xg, e))
		return -1;
	i128 *acc = t->xacc;
	bool f32 = nys_model_options(t->m)->dtype == NYS_F32, bad = false;
	const float *gf = t->xg;
	const double *gd = t->xg;
	for (size_t i = 0; i < t->np; i++) {
		double x = f32 ? gf[i] : gd[i];
		if (!(fabs(x) < LIMIT))
			bad = true;
		else
			acc[i] += (i128)(x * UNIT);
	}
	if (bad)
		return nys_err_set(e, "step %llu: a gradient is not finite or too large (2^40 or "
		                   "more) for the exact sum", (unsigned long long)t->step + 1);
	return nys_model_zero_grad(t->m, e);
}

/* exact: the sums rounded once to the model's float, as its gradients. */
static int exact_set(nys_loop *t, nys_err *e)
{
	const i128 *acc = t->xacc;
	if (nys_model_options(t->m)->dtype == NYS_F32) {
		float *g = t->xg;
		for (size_t i = 0; i < t->np; i++)
			g[i] = (float)acc[i] / (float)UNIT;
	} else {
		double *g = t->xg;
		for (size_t i = 0; i < t->np; i++)
			g[i] = (double)acc[i] / UNIT;
	}
	return nys_model_set(t->m, NYS_BUF_GRADS, 0, t->np, t->xg, e);
}

/* The micro-batches of a step (nys_loop.h): this rank's trained, the
 * others' skipped; the measurements (and stop flags) of a world summed
 * over the ranks (a value of each micro-batch comes from one rank, the
 * others add zeros, so the sums are exact) and added up in micro-batch
 * order as one process does; then the gradients summed. */
static int micro_batches(nys_loop *t, nys_loop_sums *sum, nys_err *e)
{
	const nys_world *w = t->o.world;
	bool many = nys_world_many(w);
	/* a world of one with its functions sums too (over itself: the same
	 * values), so that NYS_NCCL=1's one-rank smoke test reaches NCCL */
	bool joined = many || (w && w->sum && w->grads && w->sum_exact);
	unsigned W = many ? w->world : 1, rank = many ? w->rank : 0;
	uint64_t B = t->o.batch, inst = t->o.micro, K = (B + inst - 1) / inst;
	double *v = calloc(4 * K + 1, sizeof *v);
	if (!v)
		return nys_err_set(e, "out of memory");
	if (t->o.exact)
		memset(t->xacc, 0, t->np * sizeof(i128));
	int rc = -1;
	for (uint64_t done = 0, k = 0; done < B; done += inst, k++) {
		int nb = (int)(B - done < inst ? B - done : inst);
		if (k % W != rank) {
			if (t->o.skip(t->o.next_ctx, nb, e))
				goto out;
		} else if (micro_step(t, k, nb, v + 4 * k, e) || (t->o.exact && exact_add(t, e))) {
			goto out;
		}
	}
	if (joined) {
		v[4 * K] = t->o.stop && *t->o.stop ? 1 : 0;
		if (w->sum(w->ctx, v, 4 * K + 1, e))
			goto out;
		if (t->o.exact ? w->sum_exact(w->ctx, t->xacc, t->np, e) : w->grads(w->ctx, t->m, e))
			goto out;
		sum->stop = v[4 * K] > 0;
	}
	if (t->o.exact && exact_set(t, e))
		goto out;
	for (uint64_t k = 0; k < K; k++) {
		sum->loss += v[4 * k];
		sum->accu += v[4 * k + 1];
		sum->count += v[4 * k + 2];
		sum->batch += v[4 * k + 3];
	}
	rc = 0;
out:
	free(v);
	return rc;
}

int nys_loop_step(nys_loop *t, nys_loop_sums *sum, nys_err *e)
{
	uint64_t B = t->o.batch;
	memset(sum, 0, sizeof *sum);
	if (nys_model_zero_grad(t->m, e) || micro_batches(t, sum, e))
		return -1;
	if (t->o.reduce && t->o.reduce(t->o.reduce_ctx, t->m, e))
		return -1;
	bool bad;
	if (nys_model_grad_nonfinite(t->m, &bad, e))
		return -1;
	if (bad)
		return nys_err_set(e, "step %llu: a gradient is not finite",
		                   (unsigned long long)t->step + 1);
	double lr, beta1;
	if (nys_loop_schedule(t, &lr, &beta1, e))
		return -1;
	t->adam.lr = lr;
	t->adam.beta1 = beta1;
	if (nys_model_adamw_step(t->m, &t->adam, e))
		return -1;
	t->step++;
	t->inst_pass += B;
	return 0;
}
