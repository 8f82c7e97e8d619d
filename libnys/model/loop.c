/* The training step of every driver (nys_loop.h): gradient accumulation
 * over micro-batches, the non-finite checks, AdamW under OneCycleLR, and
 * the hook where an all-reduce will go. */
#include "nys_loop.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	t->o = *o;
	t->m = m;
	t->np = nys_model_nparams(t->m);
	/* the gradients made now, the moments on the first step or resume */
	if (nys_model_zero_grad(t->m, e))
		return -1;
	nys_adamw_init(&t->adam, o->max_lr);
	return 0;
}

int nys_loop_schedule(const nys_loop *t, double *lr, double *beta1, nys_err *e)
{
	return nys_onecycle_eval(&t->o.sched, t->step, lr, beta1, e);
}

int nys_loop_step(nys_loop *t, nys_loop_sums *sum, nys_err *e)
{
	uint64_t B = t->o.batch, inst = t->o.micro;
	memset(sum, 0, sizeof *sum);
	if (nys_model_zero_grad(t->m, e))
		return -1;
	for (uint64_t done = 0, k = 0; done < B; done += inst, k++) {
		int nb = (int)(B - done < inst ? B - done : inst);
		nys_batch b;
		if (t->o.next(t->o.next_ctx, nb, &b, e))
			return -1;
		nys_model_stats st;
		double pct = (double)nb / (double)B;
		uint64_t seed = nys_mix64(t->o.seed ^ nys_mix64((t->step << 16) + k + 1));
		if (nys_model_forward(t->m, &b, true, seed, &st, e))
			return -1;
		if (!isfinite(st.loss))
			return nys_err_set(e, "step %llu: the loss is not finite (%g)",
			                   (unsigned long long)t->step + 1, st.loss);
		if (nys_model_backward(t->m, pct, e))
			return -1;
		double vc = st.count + 1e-6;
		sum->loss += pct * st.loss;
		sum->accu += pct * st.correct / vc;
		sum->count += pct * vc;
		sum->batch += pct * nb;
	}
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
