/* The backend conformance test, in the manner of ggml's test-backend-ops:
 * every op of the backend interface (backend_ops.def) on small cases
 * (shapes, options, padding, uneven Nystrom segments, NULL arguments), run
 * forward and backward on every backend this build has and compared, in
 * double precision, with the CPU backend over double.  A new backend (the
 * CUDA core) is proven by adding it to `backends` below.
 *
 * For each case and backend:
 *  - the inputs are drawn once, rounded to float so that every precision
 *    sees the same numbers, and set into the backend's memory;
 *  - every output, saved tensor and scratch buffer is poisoned with NaN
 *    (int32 outputs with INT32_MIN) before the forward, so an op that
 *    leaves part of an output unwritten, or reads what it did not write,
 *    fails; the scratch is poisoned again before the backward;
 *  - the backward runs twice: NYS_OVERWRITE with the input gradients
 *    poisoned, and NYS_ACCUMULATE with them holding random values (the
 *    parameter gradients always hold random values: they are always added
 *    to); each is compared with the reference in the same mode, and the
 *    reference's two modes with each other (accumulate = base + overwrite);
 *  - results are read back through nys_backend_get only.
 * The criterion is max |got - want| / max |want| per tensor, with a bound
 * per case for float (the float ops against the double ones, as
 * ops_dense.c and ops_attn.c bound them) and 1e-12 for double backends.
 * The optimizer ops (adamw_step, grad_norm, nonfinite) run on float32 as
 * training does and are compared bit for bit with nys_optim.h on the host.
 *
 * The CUDA backend (kernels/) is one of the backends under test when this
 * machine has a usable GPU (nys_cuda_available); without one its tests are
 * a visible TAP skip, "no GPU: CUDA conformance skipped".  It is there
 * twice: "cuda f32", and "cuda bf16" with the matmul precision of mixed
 * precision (nys_backend_set_matmul), which runs the linear and linear + GELU
 * cases only: within 1e-2 of the double reference, and further from it than
 * 1e-5, so that a bf16 path that silently computes in float32 fails.  kernels/emu/run.sh runs both
 * here, on a CPU emulator of the kernels and of cuBLAS.
 */
#include "nys_backend.h"
#include "nys_cuda.h"
#include "nys_optim.h"
#include "check.h"
#include "tap.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the backends -------------------------------------------------------------- */

/* The reference, and every backend under test. */
static const struct {
	const char *name;
	nys_device device;
	nys_dtype dtype;
	nys_matmul matmul;
} backends[] = {
	{"cpu f32", NYS_DEVICE_CPU, NYS_F32, NYS_MATMUL_F32},
	{"cpu-guarded f32", NYS_DEVICE_CPU_GUARDED, NYS_F32, NYS_MATMUL_F32},
	{"cpu-guarded f64", NYS_DEVICE_CPU_GUARDED, NYS_F64, NYS_MATMUL_F32},
	/* only where there is a GPU */
	{"cuda f32", NYS_DEVICE_CUDA, NYS_F32, NYS_MATMUL_F32},
	{"cuda bf16", NYS_DEVICE_CUDA, NYS_F32, NYS_MATMUL_BF16}, /* the linear cases */
};
/* The bounds of the bf16 products (the linear ops with NYS_MATMUL_BF16):
 * at most BF16_TOL from the double reference, and at least BF16_FLOOR (a
 * float32 product is within about 1e-6). */
#define BF16_TOL 1e-2
#define BF16_FLOOR 1e-5
enum { NBACKENDS = sizeof backends / sizeof backends[0] };

/* ---- cases ------------------------------------------------------------------------ */

/* What a tensor of a case is to the op. */
enum kind {
	IN,      /* a real input, uniform in [lo, hi) */
	IDX,     /* an int32 input, the case's values */
	DOUT,    /* the gradient given to the backward, uniform in [-1, 1) */
	OUT,     /* a real output of the forward: poisoned, compared */
	OUTI,    /* an int32 output of the forward: poisoned, compared exactly */
	STATS,   /* the losses' two doubles (loss, correct count): poisoned, compared */
	SAVED,   /* what the forward keeps for the backward: poisoned, not compared */
	SCRATCH, /* poisoned before each call, not compared */
	DIN,     /* an input gradient: overwritten or accumulated, compared */
	DPAR,    /* a parameter gradient: always accumulated, compared */
};

enum { MAXT = 16 };

typedef struct tensor {
	const char *name;
	int kind;
	size_t n;       /* elements; 0: the op gets NULL */
	double lo, hi;  /* IN */
	int32_t *idx;   /* IDX: n values */
	double *vals;   /* IN: n given values instead of random ones (a mask) */
} tensor;

typedef struct bcase bcase;
/* The forward and the backward, on the backend's pointers p (one per
 * tensor, NULL where n is 0) and the element counts n. */
typedef int (*fwd_fn)(nys_backend *be, void *const *p, const size_t *n, const bcase *c);
typedef int (*bwd_fn)(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                      const bcase *c);

struct bcase {
	char name[160];
	tensor t[MAXT];
	int nt;
	fwd_fn fwd;
	bwd_fn bwd; /* NULL: forward only */
	/* the sizes of SAVED and SCRATCH on this backend (attention); NULL:
	 * as in t */
	int (*sizes)(nys_backend *be, const bcase *c, size_t *n);
	int B, T, C, N, V, M, H, D;
	double x, y;         /* eps, p, scale, dloss: per op */
	uint64_t seed;
	struct nys_nystrom_opts o;
	double tol32;        /* the bound for float backends */
	int bf16;            /* a case of the bf16 matmul backends too (the linear op) */
};

static uint64_t rs = 0x5EED0F0B5C0DEull;

static void add(bcase *c, const char *name, int kind, size_t n, double lo, double hi)
{
	c->t[c->nt++] = (tensor){.name = name, .kind = kind, .n = n, .lo = lo, .hi = hi};
}

static void add_idx(bcase *c, const char *name, size_t n, int32_t *v)
{
	c->t[c->nt++] = (tensor){.name = name, .kind = IDX, .n = n, .idx = v};
}

/* n int32 values in [0, k), from the case stream; a few set to `ignored`
 * every `every` values when every > 0. */
static int32_t *rnd_idx(size_t n, int32_t k, int every, int32_t ignored)
{
	int32_t *v = chk_alloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = every > 0 && i % (size_t)every == 1 ? ignored
		                                           : (int32_t)(chk_next(&rs) % (uint64_t)k);
	return v;
}

/* ---- running a case on a backend --------------------------------------------------- */

/* What a run leaves: every compared tensor as double (NULL where not). */
typedef struct result {
	double *v[MAXT];
	int ok; /* every call returned 0 and sync reported nothing */
	char err[200];
} result;

static void result_free(result *r)
{
	for (int i = 0; i < MAXT; i++)
		free(r->v[i]);
	memset(r, 0, sizeof *r);
}

static size_t elem_size(const nys_backend *be, int kind)
{
	if (kind == IDX || kind == OUTI)
		return sizeof(int32_t);
	if (kind == STATS)
		return sizeof(double);
	return be->esize;
}

/* x (n doubles) into the backend at dst, in its dtype. */
static int put_real(nys_backend *be, void *dst, const double *x, size_t n)
{
	if (be->dtype == NYS_F64)
		return nys_backend_set(be, dst, x, n * sizeof *x);
	float *f = chk_to_f32(x, n);
	int r = nys_backend_set(be, dst, f, n * sizeof *f);
	free(f);
	return r;
}

static int get_real(nys_backend *be, double *x, const void *src, size_t n)
{
	if (be->dtype == NYS_F64)
		return nys_backend_get(be, x, src, n * sizeof *x);
	float *f = CHK_FALLOC(n);
	int r = nys_backend_get(be, f, src, n * sizeof *f);
	chk_from_f32(x, f, n);
	free(f);
	return r;
}

static int poison(nys_backend *be, void *dst, int kind, size_t n)
{
	if (kind == OUTI) {
		int32_t *v = chk_alloc(n * sizeof *v);
		for (size_t i = 0; i < n; i++)
			v[i] = INT32_MIN;
		int r = nys_backend_set(be, dst, v, n * sizeof *v);
		free(v);
		return r;
	}
	double *x = CHK_DALLOC(n);
	chk_nan_f64(x, n);
	int r = kind == STATS ? nys_backend_set(be, dst, x, n * sizeof *x) : put_real(be, dst, x, n);
	free(x);
	return r;
}

/* The inputs of a case, drawn once for all backends: in[i] for IN and
 * DOUT, base[i] (the starting values of the gradients) for DIN and DPAR. */
typedef struct draw {
	double *in[MAXT], *base[MAXT];
} draw;

static void draw_inputs(const bcase *c, draw *d)
{
	memset(d, 0, sizeof *d);
	for (int i = 0; i < c->nt; i++) {
		const tensor *t = &c->t[i];
		if (t->vals) {
			d->in[i] = chk_dup(t->vals, t->n);
		} else if (t->kind == IN || t->kind == DOUT) {
			d->in[i] = chk_rnd(&rs, t->n, t->kind == IN ? t->lo : -1, t->kind == IN ? t->hi : 1);
			chk_round_f32(d->in[i], t->n);
		} else if (t->kind == DIN || t->kind == DPAR) {
			d->base[i] = chk_rnd(&rs, t->n, -1, 1);
			chk_round_f32(d->base[i], t->n);
		}
	}
}

static void draw_free(draw *d)
{
	for (int i = 0; i < MAXT; i++)
		free(d->in[i]), free(d->base[i]);
}

#define TRY(call)                                                                           \
	do {                                                                                    \
		if ((call) && !r->err[0])                                                           \
			snprintf(r->err, sizeof r->err, "%s failed", #call);                            \
	} while (0)

/* Forward, then (with a backward) the backward in mode acc; the
 * compared tensors into r. */
static void run(nys_backend *be, const bcase *c, const draw *d, nys_acc acc, result *r)
{
	void *p[MAXT] = {0};
	size_t n[MAXT];
	memset(r, 0, sizeof *r);
	for (int i = 0; i < c->nt; i++)
		n[i] = c->t[i].n;
	if (c->sizes && c->sizes(be, c, n)) {
		snprintf(r->err, sizeof r->err, "size query failed");
		return;
	}
	for (int i = 0; i < c->nt; i++)
		if (n[i] && !(p[i] = nys_backend_alloc(be, n[i] * elem_size(be, c->t[i].kind)))) {
			snprintf(r->err, sizeof r->err, "no memory for %s", c->t[i].name);
			goto out;
		}
	for (int i = 0; i < c->nt; i++) {
		const tensor *t = &c->t[i];
		if (!n[i])
			continue;
		if (t->kind == IN || t->kind == DOUT)
			TRY(put_real(be, p[i], d->in[i], n[i]));
		else if (t->kind == IDX)
			TRY(nys_backend_set(be, p[i], t->idx, n[i] * sizeof *t->idx));
		else if (t->kind != DIN && t->kind != DPAR)
			TRY(poison(be, p[i], t->kind, n[i]));
	}
	nys_err e = {{0}};
	nys_backend_begin(be);
	TRY(c->fwd(be, p, n, c));
	if (nys_backend_sync(be, &e) && !r->err[0])
		snprintf(r->err, sizeof r->err, "forward: %.150s", e.msg);
	if (c->bwd && !r->err[0]) {
		for (int i = 0; i < c->nt; i++) {
			const tensor *t = &c->t[i];
			if (!n[i])
				continue;
			if (t->kind == SCRATCH || (t->kind == DIN && acc == NYS_OVERWRITE))
				TRY(poison(be, p[i], t->kind, n[i]));
			else if (t->kind == DIN || t->kind == DPAR)
				TRY(put_real(be, p[i], d->base[i], n[i]));
		}
		nys_backend_begin(be);
		TRY(c->bwd(be, acc, p, n, c));
		if (nys_backend_sync(be, &e) && !r->err[0])
			snprintf(r->err, sizeof r->err, "backward: %.150s", e.msg);
	}
	for (int i = 0; i < c->nt && !r->err[0]; i++) {
		const tensor *t = &c->t[i];
		int k = t->kind;
		if (!n[i] || !(k == OUT || k == OUTI || k == STATS || k == DIN || k == DPAR))
			continue;
		if ((k == DIN || k == DPAR) && !c->bwd)
			continue;
		r->v[i] = CHK_DALLOC(n[i]);
		if (k == OUTI) {
			int32_t *v = chk_alloc(n[i] * sizeof *v);
			TRY(nys_backend_get(be, v, p[i], n[i] * sizeof *v));
			for (size_t j = 0; j < n[i]; j++)
				r->v[i][j] = v[j];
			free(v);
		} else if (k == STATS) {
			TRY(nys_backend_get(be, r->v[i], p[i], n[i] * sizeof(double)));
		} else {
			TRY(get_real(be, r->v[i], p[i], n[i]));
		}
	}
out:
	for (int i = 0; i < c->nt; i++)
		nys_backend_release(be, p[i]);
	r->ok = !r->err[0];
}
#undef TRY

/* The worst error of got against want over the compared tensors (those of
 * the forward, or the gradients), described in what. */
static double compare(const bcase *c, const result *got, const result *want, int grads,
                      char *what, size_t nwhat)
{
	double worst = 0;
	snprintf(what, nwhat, "-");
	for (int i = 0; i < c->nt; i++) {
		int k = c->t[i].kind;
		if (!want->v[i] || grads != (k == DIN || k == DPAR))
			continue;
		size_t n = c->t[i].n, at = 0;
		const double *w = want->v[i], *g = got->v[i];
		/* the reference must have written everything too */
		for (size_t j = 0; j < n; j++)
			if (!isfinite(w[j]) || (k == OUTI && w[j] == INT32_MIN)) {
				snprintf(what, nwhat, "%s[%zu] of the reference is %g", c->t[i].name, j, w[j]);
				return INFINITY;
			}
		double err;
		if (k == OUTI) {
			err = 0;
			for (size_t j = n; j-- > 0;)
				if (g[j] != w[j])
					err = INFINITY, at = j;
		} else {
			err = chk_relmax(g, CHK_F64, w, n, 1e-6, &at);
		}
		if (!(err <= worst)) {
			worst = err;
			snprintf(what, nwhat, "%s[%zu] %.9g, want %.9g", c->t[i].name, at, g[at], w[at]);
		}
	}
	return worst;
}

static nys_backend *ref_be;
static nys_backend *test_be[NBACKENDS];

/* A case on every backend against the reference. */
static void check_case(bcase *c)
{
	draw d;
	draw_inputs(c, &d);
	result ref[2], got;
	static const nys_acc modes[2] = {NYS_OVERWRITE, NYS_ACCUMULATE};
	int nmodes = c->bwd ? 2 : 1;
	char what[256], msg[512];
	for (int m = 0; m < nmodes; m++)
		run(ref_be, c, &d, modes[m], &ref[m]);
	if (c->bwd) {
		/* the reference: accumulate adds to what overwrite writes */
		double worst = ref[0].ok && ref[1].ok ? 0 : INFINITY;
		for (int i = 0; i < c->nt && ref[0].ok && ref[1].ok; i++) {
			if (c->t[i].kind != DIN || !c->t[i].n)
				continue;
			size_t n = c->t[i].n;
			double *sum = CHK_DALLOC(n);
			for (size_t j = 0; j < n; j++)
				sum[j] = d.base[i][j] + ref[0].v[i][j];
			worst = fmax(worst, chk_relmax(ref[1].v[i], CHK_F64, sum, n, 1e-6, NULL));
			free(sum);
		}
		snprintf(msg, sizeof msg, "reference: %s: accumulate = overwrite + base (%.1e)%s%s",
		         c->name, worst, ref[0].err[0] ? "; " : "", ref[0].err);
		tap_ok(worst <= 1e-12, msg);
	}
	for (int b = 0; b < NBACKENDS; b++) {
		int bf16 = backends[b].matmul == NYS_MATMUL_BF16;
		if (!test_be[b] || (bf16 && !c->bf16))
			continue;
		double tol = bf16 ? BF16_TOL : backends[b].dtype == NYS_F32 ? c->tol32 : 1e-12;
		double floor = bf16 ? BF16_FLOOR : -1;
		for (int m = 0; m < nmodes; m++) {
			run(test_be[b], c, &d, modes[m], &got);
			/* the forward once, the backward in each mode */
			for (int grads = m == 0 ? 0 : 1; grads <= (c->bwd ? 1 : 0); grads++) {
				double err = got.ok && ref[m].ok
				                 ? compare(c, &got, &ref[m], grads, what, sizeof what)
				                 : INFINITY;
				if (!got.ok || !ref[m].ok)
					snprintf(what, sizeof what, "%s", got.ok ? ref[m].err : got.err);
				snprintf(msg, sizeof msg, "%s: %s: %s (%.1e, bound %.0e%s; worst %s)",
				         backends[b].name, c->name,
				         grads ? (m ? "backward, accumulate" : "backward, overwrite")
				               : "forward",
				         err, tol, bf16 ? ", and above 1e-5: not float32" : "", what);
				tap_ok(err <= tol && err > floor, msg);
			}
			result_free(&got);
		}
	}
	for (int m = 0; m < nmodes; m++)
		result_free(&ref[m]);
	draw_free(&d);
	for (int i = 0; i < c->nt; i++)
		free(c->t[i].idx), free(c->t[i].vals);
}

/* ---- the dense ops ------------------------------------------------------------------- */

static int linear_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* inp, weight, bias, out */
	return nys_backend_linear_forward(be, p[3], p[0], p[1], p[2], c->N, c->C, c->M);
}
static int linear_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                    const bcase *c)
{
	/* dout, dinp, dweight, dbias */
	return nys_backend_linear_backward(be, acc, p[5], p[6], p[7], p[4], p[0], p[1], c->N,
	                                   c->C, c->M);
}
static void case_linear(int N, int C, int OC, int bias, int want_dinp)
{
	bcase c = {.fwd = linear_f, .bwd = linear_b, .N = N, .C = C, .M = OC, .tol32 = 1e-5,
	           .bf16 = 1};
	snprintf(c.name, sizeof c.name, "linear N %d C %d OC %d%s%s", N, C, OC,
	         bias ? "" : ", no bias", want_dinp ? "" : ", no dinp");
	add(&c, "inp", IN, (size_t)N * C, -1, 1);
	add(&c, "weight", IN, (size_t)OC * C, -0.5, 0.5);
	add(&c, "bias", IN, bias ? (size_t)OC : 0, -0.5, 0.5);
	add(&c, "out", OUT, (size_t)N * OC, 0, 0);
	add(&c, "dout", DOUT, (size_t)N * OC, 0, 0);
	add(&c, "dinp", DIN, want_dinp ? (size_t)N * C : 0, 0, 0);
	add(&c, "dweight", DPAR, (size_t)OC * C, 0, 0);
	add(&c, "dbias", DPAR, bias ? (size_t)OC : 0, 0, 0);
	check_case(&c);
}

/* The fused linear + GELU of the feed-forward: pre and out both compared,
 * against the double reference's composition of linear and GELU.  Forward
 * only: the backward is linear_backward and gelu_backward on pre.  On CUDA
 * an OC that is a multiple of 8 takes cuBLASLt's GELU epilogue, any other
 * the fallback (the linear op, then the GELU kernel). */
static int linear_gelu_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* inp, weight, bias, pre, out */
	return nys_backend_linear_gelu_forward(be, p[4], p[3], p[0], p[1], p[2], c->N, c->C,
	                                       c->M);
}
static void case_linear_gelu(int N, int C, int OC, int bias)
{
	bcase c = {.fwd = linear_gelu_f, .N = N, .C = C, .M = OC, .tol32 = 1e-5, .bf16 = 1};
	snprintf(c.name, sizeof c.name, "linear_gelu N %d C %d OC %d%s", N, C, OC,
	         bias ? "" : ", no bias");
	/* inputs wide enough that pre spans GELU's curve, both signs */
	add(&c, "inp", IN, (size_t)N * C, -1, 1);
	add(&c, "weight", IN, (size_t)OC * C, -1, 1);
	add(&c, "bias", IN, bias ? (size_t)OC : 0, -1, 1);
	add(&c, "pre", OUT, (size_t)N * OC, 0, 0);
	add(&c, "out", OUT, (size_t)N * OC, 0, 0);
	check_case(&c);
}

static int layernorm_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* inp, weight, bias, out, mean, rstd */
	return nys_backend_layernorm_forward(be, p[3], p[4], p[5], p[0], p[1], p[2], c->N, c->C,
	                                     c->x);
}
static int layernorm_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                       const bcase *c)
{
	/* dout, dinp, dweight, dbias */
	return nys_backend_layernorm_backward(be, acc, p[7], p[8], p[9], p[6], p[0], p[1], p[4],
	                                      p[5], c->N, c->C);
}
static void case_layernorm(int N, int C)
{
	bcase c = {.fwd = layernorm_f, .bwd = layernorm_b, .N = N, .C = C, .x = 1e-5,
	           .tol32 = 1e-5};
	snprintf(c.name, sizeof c.name, "layernorm N %d C %d", N, C);
	add(&c, "inp", IN, (size_t)N * C, -2, 2);
	add(&c, "weight", IN, (size_t)C, 0.5, 1.5);
	add(&c, "bias", IN, (size_t)C, -1, 1);
	add(&c, "out", OUT, (size_t)N * C, 0, 0);
	add(&c, "mean", OUT, (size_t)N, 0, 0);
	add(&c, "rstd", OUT, (size_t)N, 0, 0);
	add(&c, "dout", DOUT, (size_t)N * C, 0, 0);
	add(&c, "dinp", DIN, (size_t)N * C, 0, 0);
	add(&c, "dweight", DPAR, (size_t)C, 0, 0);
	add(&c, "dbias", DPAR, (size_t)C, 0, 0);
	check_case(&c);
}

/* The element-wise ops: inp, out, dout, dinp (tanh's backward takes the
 * forward's out). */
enum { E_GELU, E_GELU_ERF, E_TANH, E_DROPOUT };
static int unary_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	switch (c->M) {
	case E_GELU: return nys_backend_gelu_forward(be, p[1], p[0], n[0]);
	case E_GELU_ERF: return nys_backend_gelu_erf_forward(be, p[1], p[0], n[0]);
	case E_TANH: return nys_backend_tanh_forward(be, p[1], p[0], n[0]);
	default: return nys_backend_dropout_forward(be, p[1], p[0], n[0], c->x, c->seed);
	}
}
static int unary_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                   const bcase *c)
{
	switch (c->M) {
	case E_GELU: return nys_backend_gelu_backward(be, acc, p[3], p[2], p[0], n[0]);
	case E_GELU_ERF: return nys_backend_gelu_erf_backward(be, acc, p[3], p[2], p[0], n[0]);
	case E_TANH: return nys_backend_tanh_backward(be, acc, p[3], p[2], p[1], n[0]);
	default: return nys_backend_dropout_backward(be, acc, p[3], p[2], n[0], c->x, c->seed);
	}
}
static void case_unary(int op, const char *what, size_t n, double lo, double hi, double pdrop)
{
	bcase c = {.fwd = unary_f, .bwd = unary_b, .M = op, .x = pdrop, .seed = 1234,
	           .tol32 = 1e-5};
	snprintf(c.name, sizeof c.name, "%s n %zu", what, n);
	add(&c, "inp", IN, n, lo, hi);
	add(&c, "out", OUT, n, 0, 0);
	add(&c, "dout", DOUT, n, 0, 0);
	add(&c, "dinp", DIN, n, 0, 0);
	check_case(&c);
}

static int add_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_add_forward(be, p[2], p[0], p[1], n[0]);
}
static int add_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_add_backward(be, acc, p[4], p[5], p[3], n[0]);
}
static void case_add(size_t n)
{
	bcase c = {.fwd = add_f, .bwd = add_b, .tol32 = 1e-6};
	snprintf(c.name, sizeof c.name, "add n %zu", n);
	add(&c, "a", IN, n, -2, 2);
	add(&c, "b", IN, n, -2, 2);
	add(&c, "out", OUT, n, 0, 0);
	add(&c, "dout", DOUT, n, 0, 0);
	add(&c, "da", DIN, n, 0, 0);
	add(&c, "db", DIN, n, 0, 0);
	check_case(&c);
}

static int fill_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_fill(be, p[0], n[0], c->x);
}
static void case_fill(size_t n, double value)
{
	bcase c = {.fwd = fill_f, .x = value, .tol32 = 0};
	snprintf(c.name, sizeof c.name, "fill n %zu with %g", n, value);
	add(&c, "x", OUT, n, 0, 0);
	check_case(&c);
}

/* The harness catches an op that leaves its output unwritten: a "fill"
 * that writes only the first half of x differs from the reference's. */
static int half_fill_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_fill(be, p[0], n[0] / 2, c->x);
}
static void check_poison_catches(void)
{
	bcase c = {.fwd = fill_f, .x = 1};
	snprintf(c.name, sizeof c.name, "fill n 10");
	add(&c, "x", OUT, 10, 0, 0);
	draw d;
	draw_inputs(&c, &d);
	result want, got;
	char what[256];
	run(ref_be, &c, &d, NYS_OVERWRITE, &want);
	c.fwd = half_fill_f;
	run(test_be[0] ? test_be[0] : ref_be, &c, &d, NYS_OVERWRITE, &got);
	double err = compare(&c, &got, &want, 0, what, sizeof what);
	snprintf(what + strlen(what), sizeof what - strlen(what), ": error %g", err);
	char msg[400];
	snprintf(msg, sizeof msg, "the poison shows an output left half unwritten (%s)", what);
	tap_ok(want.ok && got.ok && isinf(err), msg);
	result_free(&want);
	result_free(&got);
	draw_free(&d);
}

/* ---- embeddings and rows ----------------------------------------------------------------- */

static int embedding_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* ids, type_ids, wte, wpe, wtt, out */
	return nys_backend_embedding_forward(be, p[5], p[0], p[1], p[2], p[3], p[4], c->B, c->T,
	                                     c->C);
}
static int embedding_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                       const bcase *c)
{
	/* dout, dwte, dwpe, dwtt: parameter gradients, always added to */
	return nys_backend_embedding_backward(be, p[7], p[8], p[9], p[6], p[0], p[1], c->B, c->T,
	                                      c->C);
}
static void case_embedding(int B, int T, int C, int V, int types)
{
	bcase c = {.fwd = embedding_f, .bwd = embedding_b, .B = B, .T = T, .C = C,
	           .tol32 = 1e-6};
	size_t N = (size_t)B * T;
	snprintf(c.name, sizeof c.name, "embedding B %d T %d C %d V %d, %s", B, T, C, V,
	         types ? "2 types" : "no type ids");
	add_idx(&c, "ids", N, rnd_idx(N, V, 0, 0));
	add_idx(&c, "type_ids", types ? N : 0, types ? rnd_idx(N, 2, 0, 0) : NULL);
	add(&c, "wte", IN, (size_t)V * C, -1, 1);
	add(&c, "wpe", IN, (size_t)(T + NYS_POS_OFFSET) * C, -1, 1);
	add(&c, "wtt", IN, (size_t)2 * C, -1, 1);
	add(&c, "out", OUT, N * C, 0, 0);
	add(&c, "dout", DOUT, N * C, 0, 0);
	add(&c, "dwte", DPAR, (size_t)V * C, 0, 0);
	add(&c, "dwpe", DPAR, (size_t)(T + NYS_POS_OFFSET) * C, 0, 0);
	add(&c, "dwtt", DPAR, (size_t)2 * C, 0, 0);
	check_case(&c);
}

static int gather_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* inp, rows, out */
	return nys_backend_gather_forward(be, p[2], p[0], p[1], c->M, c->C);
}
static int gather_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                    const bcase *c)
{
	/* dout, dinp */
	return nys_backend_gather_backward(be, acc, p[4], p[3], p[1], c->N, c->M, c->C);
}
static void case_gather(int N, int M, int C)
{
	bcase c = {.fwd = gather_f, .bwd = gather_b, .N = N, .M = M, .C = C, .tol32 = 1e-6};
	snprintf(c.name, sizeof c.name, "gather N %d M %d C %d (rows repeat, some not taken)", N,
	         M, C);
	int32_t *rows = rnd_idx((size_t)M, N / 2 + 1, 0, 0); /* rows past N/2 are never taken */
	rows[M - 1] = rows[0];
	add(&c, "inp", IN, (size_t)N * C, -1, 1);
	add_idx(&c, "rows", (size_t)M, rows);
	add(&c, "out", OUT, (size_t)M * C, 0, 0);
	add(&c, "dout", DOUT, (size_t)M * C, 0, 0);
	add(&c, "dinp", DIN, (size_t)N * C, 0, 0);
	check_case(&c);
}

/* ---- losses ------------------------------------------------------------------------------- */

static int ce_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* logits, labels, probs, losses, pred, stats */
	return nys_backend_crossentropy_forward(be, p[2], p[3], p[4], p[0], p[1], c->N, c->V,
	                                        c->x, p[5]);
}
static int ce_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n, const bcase *c)
{
	/* dlogits */
	return nys_backend_crossentropy_backward(be, acc, p[6], p[2], p[1], c->N, c->V, c->x,
	                                         c->y);
}
static void case_crossentropy(int N, int V, int pred)
{
	bcase c = {.fwd = ce_f, .bwd = ce_b, .N = N, .V = V, .x = 1.0 / (N - N / 3 + 1e-6),
	           .y = 0.75, .tol32 = 1e-5};
	snprintf(c.name, sizeof c.name, "cross-entropy N %d V %d, ignored rows%s", N, V,
	         pred ? ", predictions" : ", no predictions");
	add(&c, "logits", IN, (size_t)N * V, -3, 3);
	add_idx(&c, "labels", (size_t)N, rnd_idx((size_t)N, V, 3, NYS_IGNORE_LABEL));
	add(&c, "probs", OUT, (size_t)N * V, 0, 0);
	add(&c, "losses", OUT, (size_t)N, 0, 0);
	c.t[c.nt++] = (tensor){.name = "pred", .kind = OUTI, .n = pred ? (size_t)N : 0};
	c.t[c.nt++] = (tensor){.name = "stats", .kind = STATS, .n = 2};
	add(&c, "dlogits", DIN, (size_t)N * V, 0, 0);
	check_case(&c);
}

static int mse_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* pred, target, stats */
	return nys_backend_mse_forward(be, p[0], p[1], c->N, c->x, p[2]);
}
static int mse_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_mse_backward(be, acc, p[3], p[0], p[1], c->N, c->x, c->y);
}
static void case_mse(int N)
{
	bcase c = {.fwd = mse_f, .bwd = mse_b, .N = N, .x = 1.0 / N, .y = 1.5, .tol32 = 1e-5};
	snprintf(c.name, sizeof c.name, "mse N %d", N);
	add(&c, "pred", IN, (size_t)N, -2, 2);
	add(&c, "target", IN, (size_t)N, -2, 2);
	c.t[c.nt++] = (tensor){.name = "stats", .kind = STATS, .n = 2};
	add(&c, "dpred", DIN, (size_t)N, 0, 0);
	check_case(&c);
}

/* ---- heads ---------------------------------------------------------------------------------- */

static int split_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	/* qkv, q, k, v */
	return nys_backend_split_heads_forward(be, p[1], p[2], p[3], p[0], c->B, c->T, c->H, c->D);
}
static int split_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                   const bcase *c)
{
	/* dq, dk, dv, dqkv */
	return nys_backend_split_heads_backward(be, acc, p[7], p[4], p[5], p[6], c->B, c->T, c->H,
	                                        c->D);
}
static void case_split(int B, int T, int H, int D)
{
	bcase c = {.fwd = split_f, .bwd = split_b, .B = B, .T = T, .H = H, .D = D, .tol32 = 1e-6};
	size_t n = (size_t)B * T * H * D;
	snprintf(c.name, sizeof c.name, "split heads B %d T %d H %d D %d", B, T, H, D);
	add(&c, "qkv", IN, 3 * n, -1, 1);
	add(&c, "q", OUT, n, 0, 0);
	add(&c, "k", OUT, n, 0, 0);
	add(&c, "v", OUT, n, 0, 0);
	add(&c, "dq", DOUT, n, 0, 0);
	add(&c, "dk", DOUT, n, 0, 0);
	add(&c, "dv", DOUT, n, 0, 0);
	add(&c, "dqkv", DIN, 3 * n, 0, 0);
	check_case(&c);
}

static int merge_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_merge_heads_forward(be, p[1], p[0], c->B, c->T, c->H, c->D);
}
static int merge_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                   const bcase *c)
{
	return nys_backend_merge_heads_backward(be, acc, p[3], p[2], c->B, c->T, c->H, c->D);
}
static void case_merge(int B, int T, int H, int D)
{
	bcase c = {.fwd = merge_f, .bwd = merge_b, .B = B, .T = T, .H = H, .D = D, .tol32 = 1e-6};
	size_t n = (size_t)B * T * H * D;
	snprintf(c.name, sizeof c.name, "merge heads B %d T %d H %d D %d", B, T, H, D);
	add(&c, "inp", IN, n, -1, 1);
	add(&c, "out", OUT, n, 0, 0);
	add(&c, "dout", DOUT, n, 0, 0);
	add(&c, "dinp", DIN, n, 0, 0);
	check_case(&c);
}

/* ---- attention ------------------------------------------------------------------------------- */

/* The tensors, in this order (softmax attention has no conv weights). */
enum {
	A_Q, A_K, A_V, A_MASK, A_OUT, A_SAVED, A_SCRATCH, A_DOUT, A_DQ, A_DK, A_DV,
	A_CONVW, A_DCONVW,
};

static int softmax_sizes(nys_backend *be, const bcase *c, size_t *n)
{
	return nys_backend_attn_softmax_size(be, c->B, c->H, c->T, &n[A_SAVED], &n[A_SCRATCH]);
}
static int softmax_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_attn_softmax_forward(be, p[A_OUT], p[A_SAVED], p[A_SCRATCH],
	                                        n[A_SCRATCH], p[A_Q], p[A_K], p[A_V], p[A_MASK],
	                                        c->B, c->H, c->T, c->D, c->x, c->seed);
}
static int softmax_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                     const bcase *c)
{
	return nys_backend_attn_softmax_backward(be, acc, p[A_DQ], p[A_DK], p[A_DV], p[A_SCRATCH],
	                                         n[A_SCRATCH], p[A_DOUT], p[A_SAVED], p[A_Q],
	                                         p[A_K], p[A_V], p[A_MASK], c->B, c->H, c->T, c->D,
	                                         c->x, c->seed);
}

static int nystrom_sizes(nys_backend *be, const bcase *c, size_t *n)
{
	return nys_backend_nystrom_size(be, &c->o, &n[A_SAVED], &n[A_SCRATCH]);
}
static int nystrom_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_nystrom_forward(be, p[A_OUT], p[A_SAVED], p[A_SCRATCH], n[A_SCRATCH],
	                                   p[A_Q], p[A_K], p[A_V], p[A_MASK], p[A_CONVW], &c->o);
}
static int nystrom_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                     const bcase *c)
{
	return nys_backend_nystrom_backward(be, acc, p[A_DQ], p[A_DK], p[A_DV], p[A_DCONVW],
	                                    p[A_SCRATCH], n[A_SCRATCH], p[A_DOUT], p[A_SAVED],
	                                    p[A_Q], p[A_K], p[A_V], p[A_MASK], p[A_CONVW], &c->o);
}

/* q, k, v (B, H, T, D); the mask: sequence 1 has len1 real tokens, the
 * others T (with no padding at all when len1 is T or B is 1: the mask is
 * all ones, as the model passes it for unpadded batches). */
static void attn_tensors(bcase *c, int len1)
{
	size_t n = (size_t)c->B * c->H * c->T * c->D, nm = (size_t)c->B * c->T;
	add(c, "q", IN, n, -2, 2);
	add(c, "k", IN, n, -2, 2);
	add(c, "v", IN, n, -1, 1);
	add(c, "mask", IN, nm, 0, 0);
	double *mask = c->t[A_MASK].vals = CHK_DALLOC(nm);
	for (int b = 0; b < c->B; b++)
		for (int t = 0; t < c->T; t++)
			mask[(size_t)b * c->T + t] = b == 1 && t >= len1 ? 0 : 1;
	add(c, "out", OUT, n, 0, 0);
	add(c, "saved", SAVED, 0, 0, 0);
	add(c, "scratch", SCRATCH, 0, 0, 0);
	add(c, "dout", DOUT, n, 0, 0);
	add(c, "dq", DIN, n, 0, 0);
	add(c, "dk", DIN, n, 0, 0);
	add(c, "dv", DIN, n, 0, 0);
}

static void case_softmax(int B, int H, int T, int D, int len1, double pdrop)
{
	bcase c = {.fwd = softmax_f, .bwd = softmax_b, .sizes = softmax_sizes, .B = B, .H = H,
	           .T = T, .D = D, .x = pdrop, .seed = 99, .tol32 = 1e-4};
	snprintf(c.name, sizeof c.name, "softmax attention B %d H %d T %d D %d, %d real in "
	         "sequence 1, dropout %g", B, H, T, D, len1, pdrop);
	attn_tensors(&c, len1);
	check_case(&c);
}

static void case_nystrom(int B, int H, int T, int D, int m, int iters, int init, int conv_k,
                         int unpadded, int len1)
{
	bcase c = {.fwd = nystrom_f, .bwd = nystrom_b, .sizes = nystrom_sizes, .B = B, .H = H,
	           .T = T, .D = D, .tol32 = 1e-4};
	c.o = (struct nys_nystrom_opts){
		.B = B, .H = H, .T = T, .D = D, .landmarks = m, .pinv_iters = iters,
		.pinv_init = init, .conv_k = conv_k, .unpadded_means = unpadded,
	};
	snprintf(c.name, sizeof c.name, "nystrom B %d H %d T %d D %d, %d landmarks%s, %d iters, "
	         "%s init, conv %d%s, %d real in sequence 1", B, H, T, D, m,
	         T % m ? " (uneven segments)" : m == T ? " (exact)" : "", iters,
	         init == NYS_PINV_ORIGINAL ? "original" : "per-matrix", conv_k,
	         unpadded ? ", unpadded means" : "", len1);
	attn_tensors(&c, len1);
	add(&c, "convw", IN, conv_k ? (size_t)H * conv_k : 0, -1, 1);
	add(&c, "dconvw", DPAR, conv_k ? (size_t)H * conv_k : 0, 0, 0);
	check_case(&c);
}

/* ---- the LRA model's ops (ops_lra_decl.inc) ----------------------------------------------------- */

/* Linformer: E (H, k, n) in the conv weights' place; linear attention:
 * the random features there (none for elu+1). */
static int linformer_sizes(nys_backend *be, const bcase *c, size_t *n)
{
	return nys_backend_linformer_size(be, c->B, c->H, c->T, c->D, c->M, &n[A_SAVED],
	                                  &n[A_SCRATCH]);
}
static int linformer_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	return nys_backend_linformer_forward(be, p[A_OUT], p[A_SAVED], p[A_SCRATCH], n[A_SCRATCH],
	                                     p[A_Q], p[A_K], p[A_V], p[A_MASK], p[A_CONVW], c->B,
	                                     c->H, c->T, c->D, c->M, c->N);
}
static int linformer_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                       const bcase *c)
{
	return nys_backend_linformer_backward(be, acc, p[A_DQ], p[A_DK], p[A_DV], p[A_DCONVW],
	                                      p[A_SCRATCH], n[A_SCRATCH], p[A_DOUT], p[A_SAVED],
	                                      p[A_Q], p[A_K], p[A_V], p[A_MASK], p[A_CONVW], c->B,
	                                      c->H, c->T, c->D, c->M, c->N);
}
static void case_linformer(int B, int H, int T, int D, int k, int n, int len1)
{
	bcase c = {.fwd = linformer_f, .bwd = linformer_b, .sizes = linformer_sizes, .B = B,
	           .H = H, .T = T, .D = D, .M = k, .N = n, .tol32 = 1e-4};
	snprintf(c.name, sizeof c.name, "linformer B %d H %d T %d D %d, k %d of n %d, %d real in "
	         "sequence 1", B, H, T, D, k, n, len1);
	attn_tensors(&c, len1);
	add(&c, "E", IN, (size_t)H * k * n, -0.5, 0.5);
	add(&c, "dE", DPAR, (size_t)H * k * n, 0, 0);
	check_case(&c);
}

static struct nys_linattn_opts linattn_opts(const bcase *c)
{
	return (struct nys_linattn_opts){.B = c->B, .H = c->H, .T = c->T, .D = c->D,
	                                 .kind = c->M, .F = c->N};
}
static int linattn_sizes(nys_backend *be, const bcase *c, size_t *n)
{
	struct nys_linattn_opts o = linattn_opts(c);
	return nys_backend_linattn_size(be, &o, &n[A_SAVED], &n[A_SCRATCH]);
}
static int linattn_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	struct nys_linattn_opts o = linattn_opts(c);
	return nys_backend_linattn_forward(be, p[A_OUT], p[A_SAVED], p[A_SCRATCH], n[A_SCRATCH],
	                                   p[A_Q], p[A_K], p[A_V], p[A_MASK], p[A_CONVW], &o);
}
static int linattn_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n,
                     const bcase *c)
{
	struct nys_linattn_opts o = linattn_opts(c);
	return nys_backend_linattn_backward(be, acc, p[A_DQ], p[A_DK], p[A_DV], p[A_SCRATCH],
	                                    n[A_SCRATCH], p[A_DOUT], p[A_SAVED], p[A_Q], p[A_K],
	                                    p[A_V], p[A_MASK], p[A_CONVW], &o);
}
static void case_linattn(int kind, int B, int H, int T, int D, int F, int len1)
{
	bcase c = {.fwd = linattn_f, .bwd = linattn_b, .sizes = linattn_sizes, .B = B, .H = H,
	           .T = T, .D = D, .M = kind, .N = F, .tol32 = 1e-4};
	snprintf(c.name, sizeof c.name, "%s B %d H %d T %d D %d, %d features, %d real in "
	         "sequence 1", kind == NYS_LINATTN_ELU ? "linear attention" : "performer", B, H, T,
	         D, F, len1);
	attn_tensors(&c, len1);
	add(&c, "feat", IN, kind == NYS_LINATTN_ELU ? 0 : (size_t)F * D, -1, 1);
	check_case(&c);
}

/* Reformer's LSH attention: qk, v, mask, the rotations (H, D, hashes,
 * buckets / 2), out, saved, scratch, dout, dqk, dv; hashes in M, buckets
 * in N, the chunk length in C. */
enum { L_QK, L_V, L_MASK, L_ROT, L_OUT, L_SAVED, L_SCRATCH, L_DOUT, L_DQK, L_DV };
static struct nys_lsh_opts lsh_opts(const bcase *c)
{
	return (struct nys_lsh_opts){.B = c->B, .H = c->H, .T = c->T, .D = c->D, .hashes = c->M,
	                             .buckets = c->N, .chunk = c->C};
}
static int lsh_sizes(nys_backend *be, const bcase *c, size_t *n)
{
	struct nys_lsh_opts o = lsh_opts(c);
	return nys_backend_lsh_size(be, &o, &n[L_SAVED], &n[L_SCRATCH]);
}
static int lsh_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	struct nys_lsh_opts o = lsh_opts(c);
	return nys_backend_lsh_forward(be, p[L_OUT], p[L_SAVED], p[L_SCRATCH], n[L_SCRATCH],
	                               p[L_QK], p[L_V], p[L_MASK], p[L_ROT], &o);
}
static int lsh_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n, const bcase *c)
{
	struct nys_lsh_opts o = lsh_opts(c);
	return nys_backend_lsh_backward(be, acc, p[L_DQK], p[L_DV], p[L_SCRATCH], n[L_SCRATCH],
	                                p[L_DOUT], p[L_SAVED], p[L_QK], p[L_V], p[L_MASK],
	                                p[L_ROT], &o);
}
static void case_lsh(int B, int H, int T, int D, int hashes, int buckets, int chunk, int len1)
{
	bcase c = {.fwd = lsh_f, .bwd = lsh_b, .sizes = lsh_sizes, .B = B, .H = H, .T = T, .D = D,
	           .M = hashes, .N = buckets, .C = chunk, .tol32 = 1e-4};
	snprintf(c.name, sizeof c.name, "lsh B %d H %d T %d D %d, %d hashes of %d buckets, chunks "
	         "of %d, %d real in sequence 1", B, H, T, D, hashes, buckets, chunk, len1);
	size_t n = (size_t)B * H * T * D, nm = (size_t)B * T;
	add(&c, "qk", IN, n, -2, 2);
	add(&c, "v", IN, n, -1, 1);
	add(&c, "mask", IN, nm, 0, 0);
	double *mask = c.t[L_MASK].vals = CHK_DALLOC(nm);
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			mask[(size_t)b * T + t] = b == 1 && t >= len1 ? 0 : 1;
	add(&c, "rot", IN, (size_t)H * D * hashes * (buckets / 2), -1, 1);
	add(&c, "out", OUT, n, 0, 0);
	add(&c, "saved", SAVED, 0, 0, 0);
	add(&c, "scratch", SCRATCH, 0, 0, 0);
	add(&c, "dout", DOUT, n, 0, 0);
	add(&c, "dqk", DIN, n, 0, 0);
	add(&c, "dv", DIN, n, 0, 0);
	check_case(&c);
}

/* relu (inp, out, dout, dinp); posembed (wte, wpe, ids, out, dout,
 * dwte, dwpe); meanpool (x, mask, out, dout, dx); pairfeat (x, out, dout,
 * dx) */
static int lra_f(nys_backend *be, void *const *p, const size_t *n, const bcase *c)
{
	switch (c->V) {
	case 0: return nys_backend_relu_forward(be, p[1], p[0], n[0]);
	case 1: return nys_backend_posembed_forward(be, p[3], p[2], p[0], p[1], c->B, c->T, c->C);
	case 2: return nys_backend_meanpool_forward(be, p[2], p[0], p[1], c->B, c->T, c->C);
	default: return nys_backend_pairfeat_forward(be, p[1], p[0], c->B, c->C);
	}
}
static int lra_b(nys_backend *be, nys_acc acc, void *const *p, const size_t *n, const bcase *c)
{
	switch (c->V) {
	case 0: return nys_backend_relu_backward(be, acc, p[3], p[2], p[0], n[0]);
	case 1: return nys_backend_posembed_backward(be, p[5], p[6], p[4], p[2], c->B, c->T, c->C);
	case 2: return nys_backend_meanpool_backward(be, acc, p[4], p[3], p[1], c->B, c->T, c->C);
	default: return nys_backend_pairfeat_backward(be, acc, p[3], p[2], p[0], c->B, c->C);
	}
}
static void case_lra_rows(int B, int T, int C, int V)
{
	size_t N = (size_t)B * T;
	bcase r = {.fwd = lra_f, .bwd = lra_b, .V = 0, .tol32 = 1e-6};
	snprintf(r.name, sizeof r.name, "relu n %zu", N * C);
	add(&r, "inp", IN, N * C, -2, 2);
	add(&r, "out", OUT, N * C, 0, 0);
	add(&r, "dout", DOUT, N * C, 0, 0);
	add(&r, "dinp", DIN, N * C, 0, 0);
	check_case(&r);

	bcase e = {.fwd = lra_f, .bwd = lra_b, .V = 1, .B = B, .T = T, .C = C, .tol32 = 1e-6};
	snprintf(e.name, sizeof e.name, "posembed B %d T %d C %d V %d", B, T, C, V);
	add(&e, "wte", IN, (size_t)V * C, -1, 1);
	add(&e, "wpe", IN, (size_t)(T + 2) * C, -1, 1);
	add_idx(&e, "ids", N, rnd_idx(N, V, 0, 0));
	add(&e, "out", OUT, N * C, 0, 0);
	add(&e, "dout", DOUT, N * C, 0, 0);
	add(&e, "dwte", DPAR, (size_t)V * C, 0, 0);
	add(&e, "dwpe", DPAR, (size_t)(T + 2) * C, 0, 0);
	check_case(&e);

	bcase m = {.fwd = lra_f, .bwd = lra_b, .V = 2, .B = B, .T = T, .C = C, .tol32 = 1e-6};
	snprintf(m.name, sizeof m.name, "meanpool B %d T %d C %d", B, T, C);
	add(&m, "x", IN, N * C, -1, 1);
	add(&m, "mask", IN, N, 0, 0);
	double *mask = m.t[1].vals = CHK_DALLOC(N);
	for (size_t i = 0; i < N; i++)
		mask[i] = i / (size_t)T == 1 && i % (size_t)T >= (size_t)T / 2 ? 0 : 1;
	add(&m, "out", OUT, (size_t)B * C, 0, 0);
	add(&m, "dout", DOUT, (size_t)B * C, 0, 0);
	add(&m, "dx", DIN, N * C, 0, 0);
	check_case(&m);

	bcase f = {.fwd = lra_f, .bwd = lra_b, .V = 3, .B = B, .C = C, .tol32 = 1e-6};
	snprintf(f.name, sizeof f.name, "pairfeat B %d C %d", B, C);
	add(&f, "x", IN, (size_t)2 * B * C, -1, 1);
	add(&f, "out", OUT, (size_t)4 * B * C, 0, 0);
	add(&f, "dout", DOUT, (size_t)4 * B * C, 0, 0);
	add(&f, "dx", DIN, (size_t)2 * B * C, 0, 0);
	check_case(&f);
}

/* ---- attention: the CUDA kernels' edge cases -----------------------------------------------
 * Cases that take the paths the CUDA kernels (kernels/attn.cu) have and
 * the small cases above do not: rows of 512 or more (a block per row
 * instead of a warp) in kernel_3, in softmax attention with dropout and in
 * the exact fallback; several conv tiles of 64 rows and of 32 channels,
 * the last ones partial, with the halo of a 65-tap conv; a conv longer than
 * the sequence; segments of padding only with unpadded means; one
 * landmark, where every column sum of the batch ties for the original
 * initialisation's maximum. */
static void cuda_attn_cases(void)
{
	case_nystrom(2, 2, 600, 40, 8, 6, NYS_PINV_ORIGINAL, 65, 1, 350);
	case_nystrom(1, 2, 600, 8, 7, 3, NYS_PINV_PER_MATRIX, 9, 0, 600);
	case_softmax(2, 1, 520, 8, 300, 0.1);
	case_nystrom(2, 1, 520, 4, 520, 6, NYS_PINV_ORIGINAL, 65, 0, 300);
	case_nystrom(2, 2, 16, 4, 4, 6, NYS_PINV_PER_MATRIX, 65, 1, 10);
	case_nystrom(2, 1, 16, 4, 4, 6, NYS_PINV_ORIGINAL, 0, 1, 3);
	case_nystrom(2, 2, 7, 4, 1, 3, NYS_PINV_ORIGINAL, 3, 0, 5);
	case_nystrom(2, 2, 7, 4, 1, 3, NYS_PINV_PER_MATRIX, 0, 1, 5);
	case_nystrom(1, 2, 9, 4, 3, 0, NYS_PINV_PER_MATRIX, 3, 0, 9);
}

/* The CPU accepts the bf16 matmul setting and computes in full precision
 * all the same: the linear op forward and backward bit for bit as without
 * it (a mixed-precision config trains on the CPU exactly as today). */
static void check_cpu_matmul(void)
{
	enum { N = 13, C = 11, OC = 7 };
	nys_err e = {{0}};
	float *got[2][4];
	int ok = 1;
	for (int k = 0; k < 2; k++) {
		nys_backend *be = nys_backend_new(NYS_DEVICE_CPU, NYS_F32, &e);
		if (!be) {
			tap_ok(0, "cpu f32 with the bf16 matmul setting: backend made");
			return;
		}
		nys_backend_set_matmul(be, k ? NYS_MATMUL_BF16 : NYS_MATMUL_F32);
		ok = ok && be->matmul == (k ? NYS_MATMUL_BF16 : NYS_MATMUL_F32);
		uint64_t r = 0xB16Fu;
		size_t sz[7] = {N * C, OC * C, OC, N * OC, N * C, OC * C, OC};
		void *p[7];
		for (int i = 0; i < 7; i++) {
			double *x = chk_rnd(&r, sz[i], -1, 1);
			p[i] = nys_backend_alloc(be, sz[i] * sizeof(float));
			ok = ok && p[i] && !put_real(be, p[i], x, sz[i]);
			free(x);
		}
		/* inp weight bias dout | dinp dweight dbias; out overwrites dout's copy */
		void *out = nys_backend_alloc(be, (size_t)N * OC * sizeof(float));
		nys_backend_begin(be);
		ok = ok && out && !nys_backend_linear_forward(be, out, p[0], p[1], p[2], N, C, OC) &&
		     !nys_backend_linear_backward(be, NYS_ACCUMULATE, p[4], p[5], p[6], p[3], p[0],
		                                  p[1], N, C, OC) &&
		     !nys_backend_sync(be, &e);
		void *res[4] = {out, p[4], p[5], p[6]};
		size_t rsz[4] = {N * OC, N * C, OC * C, OC};
		for (int i = 0; i < 4; i++) {
			got[k][i] = chk_alloc(rsz[i] * sizeof(float));
			ok = ok && res[i] && !nys_backend_get(be, got[k][i], res[i], rsz[i] * sizeof(float));
		}
		for (int i = 0; i < 4 && k; i++)
			ok = ok && !memcmp(got[0][i], got[1][i], rsz[i] * sizeof(float));
		for (int i = 0; i < 7; i++)
			nys_backend_release(be, p[i]);
		nys_backend_release(be, out);
		nys_backend_free(be);
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 4; i++)
			free(got[k][i]);
	tap_ok(ok, "cpu f32 with the bf16 matmul setting: linear forward and backward bit for "
	           "bit as in float32 (the CPU computes in full precision)");
}

/* ---- the optimizer ops, on float32 against nys_optim.h ------------------------------------------ */

static void check_optim(nys_backend *be, const char *bname)
{
	enum { N = 1000 };
	char msg[256];
	nys_err e = {{0}};
	float p[N], g[N], m[N], v[N];
	for (int i = 0; i < N; i++) {
		p[i] = (float)chk_unif(&rs, -1, 1);
		g[i] = (float)chk_unif(&rs, -1, 1);
		m[i] = (float)chk_unif(&rs, -0.1, 0.1);
		v[i] = (float)chk_unif(&rs, 0, 0.01);
	}
	size_t bytes = sizeof p;
	void *bp = nys_backend_alloc(be, bytes), *bg = nys_backend_alloc(be, bytes);
	void *bm = nys_backend_alloc(be, bytes), *bv = nys_backend_alloc(be, bytes);
	void *bn = nys_backend_alloc(be, sizeof(double));
	int fail = !bp || !bg || !bm || !bv || !bn;
	fail = fail || nys_backend_set(be, bp, p, bytes) || nys_backend_set(be, bg, g, bytes) ||
	       nys_backend_set(be, bm, m, bytes) || nys_backend_set(be, bv, v, bytes);

	/* AdamW: two steps, the second with other hyper-parameters */
	nys_adamw oh, ob;
	nys_adamw_init(&oh, 1e-3);
	ob = oh;
	int same = !fail;
	for (int step = 0; step < 2 && same; step++) {
		if (step)
			oh.lr = ob.lr = 3e-4, oh.beta1 = ob.beta1 = 0.87;
		nys_backend_begin(be);
		same = nys_backend_adamw_step(be, bp, bg, bm, bv, N, &ob) == 0 &&
		       nys_backend_sync(be, &e) == 0 && nys_adamw_step(&oh, p, g, m, v, N, &e) == 0;
		float gp[N], gm[N], gv[N];
		same = same && nys_backend_get(be, gp, bp, bytes) == 0 &&
		       nys_backend_get(be, gm, bm, bytes) == 0 && nys_backend_get(be, gv, bv, bytes) == 0;
		same = same && chk_max_ulp_f32(gp, p, N, NULL) == 0 &&
		       chk_max_ulp_f32(gm, m, N, NULL) == 0 && chk_max_ulp_f32(gv, v, N, NULL) == 0 &&
		       ob.step == oh.step;
	}
	snprintf(msg, sizeof msg, "%s: adamw_step n %d, two steps: parameters and moments bit for "
	         "bit nys_adamw_step's%s%.150s", bname, N, e.msg[0] ? ": " : "", e.msg);
	tap_ok(same, msg);

	/* the gradient norm, into poisoned backend memory */
	double nan = NAN, norm = 0;
	int ok = !fail && nys_backend_set(be, bn, &nan, sizeof nan) == 0;
	nys_backend_begin(be);
	ok = ok && nys_backend_grad_norm(be, bg, N, bn) == 0 && nys_backend_sync(be, &e) == 0 &&
	     nys_backend_get(be, &norm, bn, sizeof norm) == 0;
	double want = nys_grad_norm(g, N);
	snprintf(msg, sizeof msg, "%s: grad_norm n %d = nys_grad_norm bit for bit (%.17g, want "
	         "%.17g)", bname, N, norm, want);
	tap_ok(ok && memcmp(&norm, &want, sizeof norm) == 0, msg);

	/* the non-finite check: finite, then a NaN, then an infinity */
	static const float bad_vals[2] = {NAN, INFINITY};
	int res[3] = {-1, -1, -1};
	ok = !fail;
	for (int k = 0; k < 3 && ok; k++) {
		if (k) {
			float x = bad_vals[k - 1];
			ok = nys_backend_set(be, (char *)bg + 777 * sizeof(float), &x, sizeof x) == 0;
		}
		nys_backend_begin(be);
		ok = ok && nys_backend_nonfinite(be, bg, N, &res[k]) == 0 && nys_backend_sync(be, &e) == 0;
	}
	snprintf(msg, sizeof msg, "%s: nonfinite: %d for finite gradients, %d with a NaN, %d with an "
	         "infinity", bname, res[0], res[1], res[2]);
	tap_ok(ok && res[0] == 0 && res[1] == 1 && res[2] == 1, msg);

	nys_backend_release(be, bp);
	nys_backend_release(be, bg);
	nys_backend_release(be, bm);
	nys_backend_release(be, bv);
	nys_backend_release(be, bn);
}

/* ---- the backend itself ---------------------------------------------------------------------- */

/* set and get move bytes unchanged; zero zeroes; an unknown device is an
 * error with a message, not a crash. */
static void check_memory(nys_backend *be, const char *bname)
{
	enum { N = 300 };
	unsigned char a[N], b[N];
	for (int i = 0; i < N; i++)
		a[i] = (unsigned char)(chk_next(&rs) >> 56);
	void *p = nys_backend_alloc(be, N);
	nys_err e = {{0}};
	int ok = p && nys_backend_set(be, p, a, N) == 0 && nys_backend_get(be, b, p, N) == 0 &&
	         memcmp(a, b, N) == 0;
	ok = ok && nys_backend_zero(be, (char *)p + 10, 100) == 0 &&
	     nys_backend_get(be, b, p, N) == 0 && nys_backend_sync(be, &e) == 0;
	for (int i = 0; i < N && ok; i++)
		ok = b[i] == (i >= 10 && i < 110 ? 0 : a[i]);
	char msg[200];
	snprintf(msg, sizeof msg, "%s: set, get and zero move the bytes (%s)", bname,
	         be->name ? be->name : "?");
	tap_ok(ok, msg);
	nys_backend_release(be, p);
}

/* The guard guards: after a set and an op, reading a guarded buffer
 * directly (as code outside the backend must not) faults.  In a child
 * process, whose report (AddressSanitizer's, under the sanitizers) goes to
 * /dev/null. */
static void check_guard_faults(void)
{
	nys_err e = {{0}};
	nys_backend *be = nys_backend_new(NYS_DEVICE_CPU_GUARDED, NYS_F32, &e);
	float x[16] = {1, 2, 3}, y[16];
	void *p = be ? nys_backend_alloc(be, sizeof x) : NULL;
	int ok = p && nys_backend_set(be, p, x, sizeof x) == 0 &&
	         nys_backend_fill(be, p, 8, 4.0) == 0 && nys_backend_sync(be, &e) == 0 &&
	         nys_backend_get(be, y, p, sizeof y) == 0 && y[7] == 4 && y[8] == 0;
	tap_ok(ok, "cpu-guarded: set, an op and get work on a guarded buffer");
	fflush(stdout);
	pid_t pid = ok ? fork() : -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		volatile float v = *(volatile float *)p;
		(void)v;
		_exit(0);
	}
	int st = 0;
	ok = pid > 0 && waitpid(pid, &st, 0) == pid &&
	     ((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) || (WIFEXITED(st) && WEXITSTATUS(st) == 1));
	char msg[200];
	snprintf(msg, sizeof msg, "cpu-guarded: reading its memory directly faults (%s %d)",
	         WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	tap_ok(ok, msg);
	if (be)
		nys_backend_release(be, p);
	nys_backend_free(be);
}

int main(void)
{
	nys_err e = {{0}};
	ref_be = nys_backend_new(NYS_DEVICE_CPU, NYS_F64, &e);
	tap_ok(ref_be != NULL, "the reference: the CPU backend over double");
	if (!ref_be) {
		printf("# %s\n", e.msg);
		return tap_done();
	}
	for (int b = 0; b < NBACKENDS; b++) {
		char msg[200];
		if (backends[b].device == NYS_DEVICE_CUDA && !nys_cuda_probe(&e)) {
			snprintf(msg, sizeof msg, "no GPU: CUDA conformance skipped (%s: %.150s)",
			         backends[b].name, e.msg);
			tap_skip(msg);
			fprintf(stderr, "backend_ops: %s\n", msg); /* shown by prove */
			continue;
		}
		test_be[b] = nys_backend_new(backends[b].device, backends[b].dtype, &e);
		snprintf(msg, sizeof msg, "backend %s made%s%.150s", backends[b].name,
		         test_be[b] ? "" : ": ", test_be[b] ? "" : e.msg);
		tap_ok(test_be[b] != NULL, msg);
		if (test_be[b])
			nys_backend_set_matmul(test_be[b], backends[b].matmul);
		if (test_be[b])
			check_memory(test_be[b], backends[b].name);
	}

	check_guard_faults();
	check_poison_catches();

	/* dense */
	case_linear(5, 7, 4, 1, 1);
	case_linear(33, 20, 17, 0, 1);
	case_linear(6, 9, 3, 1, 0);
	case_linear_gelu(5, 7, 8, 1);
	case_linear_gelu(9, 12, 16, 0);
	case_linear_gelu(6, 9, 5, 1);
	case_layernorm(4, 9);
	case_layernorm(37, 64);
	case_unary(E_GELU, "gelu (tanh)", 300, -6, 6, 0);
	case_unary(E_GELU_ERF, "gelu (erf)", 300, -6, 6, 0);
	case_unary(E_TANH, "tanh", 257, -3, 3, 0);
	case_unary(E_DROPOUT, "dropout p 0.1", 1001, -1, 1, 0.1);
	case_unary(E_DROPOUT, "dropout p 0 (eval)", 64, -1, 1, 0);
	case_add(515);
	case_fill(77, 1);
	case_fill(5, -2.5);
	/* embeddings, rows */
	case_embedding(2, 5, 6, 7, 1);
	case_embedding(3, 9, 16, 11, 0);
	case_gather(12, 9, 5);
	/* losses */
	case_crossentropy(9, 13, 1);
	case_crossentropy(6, 30, 0);
	case_mse(7);
	/* heads */
	case_split(2, 5, 3, 4);
	case_merge(2, 5, 3, 4);
	/* attention: padding, dropout, uneven segments, conv on and off, both
	 * pseudo-inverse inits, unpadded means, exact (landmarks = T) */
	case_softmax(2, 2, 12, 4, 12, 0);
	case_softmax(2, 2, 13, 4, 7, 0);
	case_softmax(2, 3, 16, 8, 10, 0.1);
	case_nystrom(2, 2, 16, 4, 4, 6, NYS_PINV_ORIGINAL, 3, 0, 16);
	case_nystrom(2, 2, 16, 4, 4, 6, NYS_PINV_ORIGINAL, 0, 0, 11);
	case_nystrom(2, 2, 13, 4, 4, 6, NYS_PINV_PER_MATRIX, 5, 0, 9);
	case_nystrom(2, 2, 13, 4, 4, 4, NYS_PINV_ORIGINAL, 3, 1, 6);
	case_nystrom(2, 2, 19, 8, 5, 6, NYS_PINV_PER_MATRIX, 0, 1, 12);
	case_nystrom(2, 2, 10, 4, 10, 6, NYS_PINV_ORIGINAL, 3, 0, 7);
	case_nystrom(1, 3, 11, 4, 3, 0, NYS_PINV_ORIGINAL, 0, 0, 11);
	/* the LRA model's ops */
	case_lra_rows(3, 7, 5, 9);
	case_linformer(2, 2, 12, 4, 5, 16, 7);
	case_linformer(1, 3, 9, 8, 12, 9, 9);
	case_linattn(NYS_LINATTN_ELU, 2, 2, 11, 4, 0, 6);
	case_linattn(NYS_LINATTN_RELU_FEATURES, 2, 2, 10, 4, 16, 5);
	case_lsh(2, 2, 12, 4, 2, 4, 5, 7);
	/* ---- larger cases, for the GPU's kernels (several blocks, grid-stride
	 * loops, block partials of column sums over more than 256 rows, long
	 * runs of repeated keys in the scatters, vocabulary-sized rows) ---- */
	case_linear(300, 70, 33, 1, 1);
	case_linear_gelu(300, 70, 64, 1);
	case_linear_gelu(300, 70, 33, 1);
	case_layernorm(600, 100);
	case_unary(E_GELU, "gelu (tanh)", 1500000, -8, 8, 0);
	case_unary(E_DROPOUT, "dropout p 0.25", 1500000, -1, 1, 0.25);
	case_add(70001);
	case_embedding(4, 80, 40, 5, 1);
	case_embedding(5, 70, 33, 9, 0);
	case_gather(300, 700, 9);
	case_crossentropy(40, 1000, 1);
	case_mse(3000);

	/* the CUDA kernels' edge cases (kernels/attn.cu) */
	cuda_attn_cases();
	check_cpu_matmul();
	/* the optimizer ops, on the float backends (bf16 changes none of them) */
	for (int b = 0; b < NBACKENDS; b++)
		if (test_be[b] && backends[b].dtype == NYS_F32 && backends[b].matmul == NYS_MATMUL_F32)
			check_optim(test_be[b], backends[b].name);

	for (int b = 0; b < NBACKENDS; b++)
		nys_backend_free(test_be[b]);
	nys_backend_free(ref_be);
	return tap_done();
}
