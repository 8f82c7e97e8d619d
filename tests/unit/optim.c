/* OneCycleLR and AdamW (nys_optim.h) against PyTorch 1.13, whose values
 * tests/gen/optim_ref.py stored in tests/data/optim_ref.{json,bin} (CI needs
 * no Python), and properties of the schedule, the step and the gradient
 * helpers.
 *
 * The schedule must agree to the bit (the same double operations in the same
 * order).  So must the AdamW trajectories: the float32 kernels are matched
 * operation for operation, fused multiply-adds included, and on Debian 12
 * x86-64 we measured 0 ulp over every parameter after every step, and over
 * the final exp_avg and exp_avg_sq.  MAX_ULP is that bound. */
#include "nys_optim.h"
#include "check.h"
#include "tap.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ULP 0

static float *blob;
static size_t nblob;

/* A double stored as float.hex() (or NaN if absent). */
static double hex(json_t *j)
{
	const char *s = json_string_value(j);
	return s ? strtod(s, NULL) : NAN;
}

static uint64_t u64(json_t *j)
{
	return (uint64_t)json_integer_value(j);
}

/* The tensor [offset, length] of the blob, of `want` floats, or NULL. */
static const float *tensor(json_t *a, size_t want)
{
	if (!a)
		return NULL;
	size_t off = (size_t)json_integer_value(json_array_get(a, 0));
	size_t n = (size_t)json_integer_value(json_array_get(a, 1));
	return n == want && off + n <= nblob ? blob + off : NULL;
}

static uint64_t dbits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

static void sched_from_json(json_t *c, nys_onecycle *s)
{
	nys_onecycle_init(s, hex(json_object_get(c, "max_lr")), u64(json_object_get(c, "total_steps")),
	                  hex(json_object_get(c, "pct_start")));
	if (json_object_get(c, "div_factor"))
		s->div_factor = hex(json_object_get(c, "div_factor"));
	if (json_object_get(c, "final_div_factor"))
		s->final_div_factor = hex(json_object_get(c, "final_div_factor"));
	if (json_object_get(c, "base_momentum"))
		s->base_momentum = hex(json_object_get(c, "base_momentum"));
	if (json_object_get(c, "max_momentum"))
		s->max_momentum = hex(json_object_get(c, "max_momentum"));
}

/* (a) every stored schedule point to the bit, and torch's errors as ours */
static void schedule_ref(json_t *cases)
{
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c) {
		nys_onecycle s;
		nys_err e = {{0}};
		char name[256];
		sched_from_json(c, &s);
		snprintf(name, sizeof name, "OneCycleLR max_lr %g, %llu steps, pct_start %g", s.max_lr,
		         (unsigned long long)s.total_steps, s.pct_start);
		size_t k, npts = 0, nbad = 0;
		double worst = 0;
		json_t *pt;
		json_array_foreach(json_object_get(c, "points"), k, pt) {
			uint64_t step = u64(json_array_get(pt, 0));
			double want_lr = hex(json_array_get(pt, 1)), want_b1 = hex(json_array_get(pt, 2));
			double lr = NAN, b1 = NAN;
			npts++;
			if (nys_onecycle_eval(&s, step, &lr, &b1, &e)) {
				printf("#   step %llu: %s\n", (unsigned long long)step, e.msg);
				nbad++;
				continue;
			}
			worst = fmax(worst, fabs(lr - want_lr) / fabs(want_lr));
			worst = fmax(worst, fabs(b1 - want_b1) / fabs(want_b1));
			if (dbits(lr) != dbits(want_lr) || dbits(b1) != dbits(want_b1)) {
				printf("#   step %llu: lr %a beta1 %a, torch %a %a\n", (unsigned long long)step,
				       lr, b1, want_lr, want_b1);
				nbad++;
			}
		}
		char msg[sizeof e.msg + 600];
		snprintf(msg, sizeof msg, "%s: lr and beta1 at %zu steps, every bit (max rel. diff %.1e)",
		         name, npts, worst);
		tap_ok(nbad == 0 && (npts > 0 || json_array_size(json_object_get(c, "raises"))), msg);

		json_t *r;
		json_array_foreach(json_object_get(c, "raises"), k, r) {
			uint64_t step = u64(r);
			double lr = 1234, b1 = 5678;
			e.msg[0] = 0;
			int rc = nys_onecycle_eval(&s, step, &lr, &b1, &e);
			/* torch raising at step 0 means its constructor did */
			if (step == 0 && nys_onecycle_check(&s, &e) != -1)
				rc = 0;
			snprintf(msg, sizeof msg, "%s: step %llu refused, as torch raises (%s)", name,
			         (unsigned long long)step, e.msg);
			tap_ok(rc == -1 && e.msg[0] && lr == 1234 && b1 == 5678, msg);
		}
	}
}

/* (b) AdamW + OneCycleLR trajectories, with lr and beta1 from our schedule */
static void adamw_ref(json_t *ad)
{
	size_t n = (size_t)u64(json_object_get(ad, "n"));
	size_t steps = (size_t)u64(json_object_get(ad, "steps"));
	const float *p0 = tensor(json_object_get(ad, "p0"), n);
	const float *grads = tensor(json_object_get(ad, "grads"), n * steps);
	tap_ok(n > 0 && steps > 0 && p0 && grads, "AdamW reference: initial parameters and gradients");
	if (!p0 || !grads)
		return;
	size_t ci;
	json_t *c;
	json_array_foreach(json_object_get(ad, "cases"), ci, c) {
		nys_onecycle s;
		nys_adamw o;
		nys_err e = {{0}};
		sched_from_json(c, &s);
		nys_adamw_init(&o, s.max_lr);
		o.beta2 = hex(json_object_get(c, "beta2"));
		o.eps = hex(json_object_get(c, "eps"));
		o.weight_decay = hex(json_object_get(c, "weight_decay"));
		float *p = malloc(n * sizeof *p), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
		memcpy(p, p0, n * sizeof *p);
		const float *each = tensor(json_object_get(c, "p_each_step"), n * steps);
		int sched_ok = 1, rc = 0;
		int64_t worst_each = 0;
		size_t bad_each = 0;
		for (size_t t = 0; t < steps; t++) {
			rc |= nys_onecycle_eval(&s, t, &o.lr, &o.beta1, &e);
			sched_ok &= dbits(o.lr) == dbits(hex(json_array_get(json_object_get(c, "lr_used"), t))) &&
			            dbits(o.beta1) ==
			                dbits(hex(json_array_get(json_object_get(c, "beta1_used"), t)));
			rc |= nys_adamw_step(&o, p, grads + t * n, m, v, n, &e);
			if (each) {
				int64_t d = chk_max_ulp_f32(p, each + t * n, n, &bad_each);
				if (d > worst_each)
					worst_each = d;
			}
		}
		char msg[300];
		snprintf(msg, sizeof msg, "AdamW case %zu: the schedule gives torch's lr and beta1 at all %zu steps",
		         ci, steps);
		tap_ok(rc == 0 && sched_ok && o.step == steps, msg);
		if (each) {
			snprintf(msg, sizeof msg, "AdamW case %zu: parameters after each of %zu steps: max %lld ulp "
			         "from torch (%zu of %zu differ)", ci, steps, (long long)worst_each, bad_each,
			         n * steps);
			tap_ok(worst_each <= MAX_ULP, msg);
		}
		static const char *const what[] = {"p", "m", "v"};
		float *mine[] = {p, m, v};
		for (int k = 0; k < 3; k++) {
			const float *want = tensor(json_object_get(c, what[k]), n);
			size_t bad = 0;
			int64_t d = want ? chk_max_ulp_f32(mine[k], want, n, &bad) : INT64_MAX;
			snprintf(msg, sizeof msg, "AdamW case %zu: final %s (%s) after %zu steps: max %lld ulp from "
			         "torch (%zu of %zu differ)", ci, what[k],
			         k == 0 ? "param" : k == 1 ? "exp_avg" : "exp_avg_sq", steps, (long long)d, bad, n);
			tap_ok(want && d <= MAX_ULP, msg);
		}
		free(p), free(m), free(v);
	}
}

/* Properties of the schedule, on the authors' 500000 steps and others. */
static void schedule_props(void)
{
	nys_onecycle s;
	nys_err e = {{0}};
	double lr, b1;
	/* the example: peak 1e-4, warmup 0.01 of 100 x 5000 steps */
	nys_onecycle_init(&s, 1e-4, 100 * 5000, 0.01);
	tap_ok(nys_onecycle_eval(&s, 0, &lr, &b1, &e) == 0 && lr == 4e-6 && b1 == 0.95,
	       "peak 1e-4: step 0 has lr 4e-6 (max_lr / div_factor) and beta1 0.95");
	tap_ok(nys_onecycle_eval(&s, 4999, &lr, &b1, &e) == 0 && lr == 1e-4 && b1 == 0.85,
	       "end of warmup (step 4999): lr is max_lr, beta1 0.85");
	tap_ok(nys_onecycle_eval(&s, 499999, &lr, &b1, &e) == 0 &&
	           fabs(lr - 4e-10) <= 4 * DBL_EPSILON * 1e-4 && b1 == 0.95,
	       "last step (499999): lr is initial / final_div_factor (to rounding), beta1 0.95");

	/* over every step: lr rises then falls, beta1 the other way, all
	 * within [min, max] (to the rounding of the anneal formula) */
	int mono = 1, bounds = 1, ok = 1;
	double plr = 0, pb1 = 1, slack = 4 * DBL_EPSILON * 1e-4;
	for (uint64_t t = 0; t < s.total_steps; t++) {
		ok &= nys_onecycle_eval(&s, t, &lr, &b1, &e) == 0;
		if (t > 0 && t <= 4999)
			mono &= lr > plr && b1 < pb1;
		else if (t > 4999)
			mono &= lr < plr && b1 > pb1;
		bounds &= lr >= 4e-10 - slack && lr <= 1e-4 && b1 >= 0.85 && b1 <= 0.95;
		plr = lr, pb1 = b1;
	}
	tap_ok(ok && mono, "500000 steps: lr up then down, beta1 down then up, strictly");
	tap_ok(bounds, "500000 steps: lr in [max_lr / 25 / 1e4, max_lr], beta1 in [0.85, 0.95]");

	/* the last valid step and the first refused one */
	lr = b1 = -1;
	tap_ok(nys_onecycle_eval(&s, 500000, &lr, &b1, &e) == 0 && lr < 4e-10 && b1 > 0.95,
	       "step total_steps (after the last optimizer step): torch's extrapolated values");
	lr = b1 = -1;
	e.msg[0] = 0;
	tap_ok(nys_onecycle_eval(&s, 500001, &lr, &b1, &e) == -1 && lr == -1 && b1 == -1 &&
	           strstr(e.msg, "500001"),
	       "step total_steps + 1 refused, lr and beta1 untouched, the step named");
	printf("#   %s\n", e.msg);

	/* parameters torch (or we) refuse */
	static const struct {
		double max_lr, pct;
		uint64_t total;
		const char *what;
	} badp[] = {
		{1e-4, 0.01, 0, "total_steps 0"},
		{1e-4, -0.1, 10, "pct_start < 0"},
		{1e-4, 1.5, 10, "pct_start > 1"},
		{1e-4, NAN, 10, "pct_start NaN"},
		{0, 0.3, 10, "max_lr 0"},
		{INFINITY, 0.3, 10, "max_lr Inf"},
		{1e-4, 0.01, 100, "pct_start * total_steps == 1"},
		{1e-4, 0.3, (UINT64_C(1) << 53) + 1, "total_steps > 2^53"},
	};
	for (size_t i = 0; i < sizeof badp / sizeof *badp; i++) {
		char msg[sizeof e.msg + 200];
		nys_onecycle_init(&s, badp[i].max_lr, badp[i].total, badp[i].pct);
		e.msg[0] = 0;
		int rc1 = nys_onecycle_check(&s, &e);
		int rc2 = nys_onecycle_eval(&s, 1, &lr, &b1, &e);
		snprintf(msg, sizeof msg, "refused: %s (%s)", badp[i].what, e.msg);
		tap_ok(rc1 == -1 && rc2 == -1 && e.msg[0], msg);
	}
	nys_onecycle_init(&s, 1e-4, 10, 0.3);
	s.div_factor = 0;
	tap_ok(nys_onecycle_check(&s, &e) == -1, "refused: div_factor 0");
	nys_onecycle_init(&s, 1e-4, 10, 0.3);
	s.base_momentum = 1.5;
	tap_ok(nys_onecycle_check(&s, &e) == -1, "refused: base_momentum 1.5");

	/* pct_start 1: warmup to the last step, then torch's 0 divisor */
	nys_onecycle_init(&s, 1.0, 10, 1.0);
	tap_ok(nys_onecycle_eval(&s, 9, &lr, &b1, &e) == 0 && lr == 1.0 && b1 == 0.85 &&
	           nys_onecycle_eval(&s, 10, &lr, &b1, &e) == -1,
	       "pct_start 1: lr max_lr at the last step, step total_steps refused");
	/* pct_start 0: no warmup, the anneal starts at step -1 */
	nys_onecycle_init(&s, 1e-2, 5, 0.0);
	tap_ok(nys_onecycle_eval(&s, 0, &lr, &b1, &e) == 0 && lr < 1e-2 && lr > 4e-4 && b1 > 0.85,
	       "pct_start 0: step 0 already annealing from max_lr");
	/* the defaults */
	nys_onecycle_init(&s, 1, 1, 0.5);
	tap_ok(s.div_factor == 25 && s.final_div_factor == 1e4 && s.base_momentum == 0.85 &&
	           s.max_momentum == 0.95,
	       "defaults: div_factor 25, final_div_factor 1e4, momenta 0.85 and 0.95");
}

static float frand(uint64_t *x)
{
	*x = *x * 6364136223846793005u + 1442695040888963407u;
	return (float)((double)(*x >> 11) / 9007199254740992.0 * 2 - 1);
}

/* Properties of AdamW and of the gradient helpers. */
static void adamw_props(void)
{
	nys_adamw o;
	nys_err e = {{0}};
	nys_adamw_init(&o, 1e-4);
	tap_ok(o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-6 && o.weight_decay == 0.01 &&
	           o.step == 0 && o.lr == 1e-4,
	       "AdamW init: the authors' betas (0.9, 0.999), eps 1e-6, weight_decay 0.01");

	/* a zero gradient on fresh state: only the decay, exactly */
	float p[3] = {1.5f, -2.0f, 0.0f}, g[3] = {0}, m[3] = {0}, v[3] = {0};
	o.lr = 0.5;
	tap_ok(nys_adamw_step(&o, p, g, m, v, 3, &e) == 0 && p[0] == 1.5f * (float)(1 - 0.5 * 0.01) &&
	           p[1] == -2.0f * (float)(1 - 0.5 * 0.01) && p[2] == 0 && m[0] == 0 && v[1] == 0 &&
	           o.step == 1,
	       "AdamW: zero gradient, zero state: p * (1 - lr * weight_decay) only");

	/* first step, no decay: the bias corrections undo the betas, so p
	 * moves by lr * g / (|g| + eps), to float rounding (p near 1 moves in
	 * steps of 6e-8) */
	float q = 1, gq = 0.25f, mq = 0, vq = 0;
	nys_adamw_init(&o, 1e-3);
	o.weight_decay = 0;
	tap_ok(nys_adamw_step(&o, &q, &gq, &mq, &vq, 1, &e) == 0 &&
	           fabs((1 - (double)q) - 1e-3 * 0.25 / (0.25 + 1e-6)) < 1.2e-7,
	       "AdamW: the first step moves by lr * g / (|g| + eps)");

	/* refused hyper-parameters change nothing */
	static const struct {
		double lr, b1, b2, eps, wd;
		const char *what;
	} bad[] = {
		{-1e-3, 0.9, 0.999, 1e-6, 0.01, "lr < 0"},
		{NAN, 0.9, 0.999, 1e-6, 0.01, "lr NaN"},
		{1e-3, 1.0, 0.999, 1e-6, 0.01, "beta1 1"},
		{1e-3, 0.9, -0.1, 1e-6, 0.01, "beta2 < 0"},
		{1e-3, 0.9, 0.999, -1e-6, 0.01, "eps < 0"},
		{1e-3, 0.9, 0.999, 1e-6, -0.01, "weight_decay < 0"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char msg[sizeof e.msg + 200];
		float pp = 1, gg = 1, mm = 0, vv = 0;
		o = (nys_adamw){bad[i].lr, bad[i].b1, bad[i].b2, bad[i].eps, bad[i].wd, 7};
		e.msg[0] = 0;
		int rc = nys_adamw_step(&o, &pp, &gg, &mm, &vv, 1, &e);
		snprintf(msg, sizeof msg, "AdamW refuses %s, changing nothing (%s)", bad[i].what, e.msg);
		tap_ok(rc == -1 && o.step == 7 && pp == 1 && mm == 0 && vv == 0 && e.msg[0], msg);
	}

	/* thread count: the same bits with 1 thread and with several */
	size_t n = 300007;
	float *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb), *gr = malloc(n * sizeof *gr);
	float *ma = calloc(n, sizeof *ma), *mb = calloc(n, sizeof *mb);
	float *va = calloc(n, sizeof *va), *vb = calloc(n, sizeof *vb);
	uint64_t seed = 42;
	for (size_t i = 0; i < n; i++)
		pa[i] = pb[i] = frand(&seed);
	nys_adamw oa, ob;
	nys_adamw_init(&oa, 1e-3);
	nys_adamw_init(&ob, 1e-3);
	int saved = omp_get_max_threads(), rc = 0;
	double na = 0, nb = 0;
	for (int t = 0; t < 3; t++) {
		for (size_t i = 0; i < n; i++)
			gr[i] = frand(&seed) * 1e-2f;
		omp_set_num_threads(1);
		rc |= nys_adamw_step(&oa, pa, gr, ma, va, n, &e);
		na = nys_grad_norm(gr, n);
		omp_set_num_threads(5);
		rc |= nys_adamw_step(&ob, pb, gr, mb, vb, n, &e);
		nb = nys_grad_norm(gr, n);
	}
	omp_set_num_threads(saved);
	tap_ok(rc == 0 && !memcmp(pa, pb, n * sizeof *pa) && !memcmp(ma, mb, n * sizeof *ma) &&
	           !memcmp(va, vb, n * sizeof *va),
	       "AdamW: 1 thread and 5 threads give the same bits (300007 parameters, 3 steps)");
	tap_ok(dbits(na) == dbits(nb), "grad norm: 1 thread and 5 threads give the same bits");

	/* the norm against a plain long double sum */
	long double ref = 0;
	for (size_t i = 0; i < n; i++)
		ref += (long double)gr[i] * gr[i];
	double rel = fabs(na - (double)sqrtl(ref)) / (double)sqrtl(ref);
	char msg[sizeof e.msg + 200];
	snprintf(msg, sizeof msg, "grad norm = sqrt(sum g^2) (rel. diff %.1e from long double)", rel);
	tap_ok(rel < 1e-14, msg);
	float three[] = {3, 4, 0};
	tap_ok(nys_grad_norm(three, 3) == 5 && nys_grad_norm(three, 0) == 0,
	       "grad norm: (3, 4, 0) gives 5, no elements 0");

	tap_ok(!nys_grad_nonfinite(gr, n) && !nys_grad_nonfinite(gr, 0),
	       "nonfinite: false on finite gradients and on none");
	static const size_t at[] = {0, 150000, 300006};
	const float bad_v[] = {NAN, INFINITY, -INFINITY};
	int all = 1;
	for (int k = 0; k < 3; k++) {
		float keep = gr[at[k]];
		gr[at[k]] = bad_v[k];
		all &= nys_grad_nonfinite(gr, n);
		double nn = nys_grad_norm(gr, n);
		all &= k == 0 ? isnan(nn) : isinf(nn);
		gr[at[k]] = keep;
	}
	tap_ok(all, "nonfinite: NaN first, Inf in the middle, -Inf last are found; norm NaN / Inf");
	tap_ok(!nys_grad_nonfinite(gr, n), "nonfinite: false again once restored");
	free(pa), free(pb), free(gr), free(ma), free(mb), free(va), free(vb);
}

int main(void)
{
	json_t *ref;
	size_t bytes;
	/* float32, little-endian, as this host stores them */
	blob = chk_load_ref("optim_ref", &ref, &bytes);
	nblob = bytes / sizeof *blob;
	tap_ok(ref && nblob > 0, "reference data tests/data/optim_ref.{json,bin} read");
	if (ref && nblob > 0) {
		schedule_ref(json_object_get(ref, "schedule"));
		adamw_ref(json_object_get(ref, "adamw"));
	}
	json_decref(ref);
	free(blob);
	schedule_props();
	adamw_props();
	return tap_done();
}
