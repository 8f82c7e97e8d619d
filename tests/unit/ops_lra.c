/* The LRA model's ops (ops_lra_decl.inc): every backward against central
 * finite differences in double precision (loss = sum(out * g) for a
 * random g), every float op against its double version, and the
 * properties that the formulas promise: padding makes no difference to
 * the real tokens' outputs of Linformer and linear attention, Linformer
 * with an identity projection is softmax attention, LSH attention with
 * every token in reach is softmax attention with the shared-QK rules, its
 * chunks reach exactly the tokens they should, and the backward
 * accumulates.
 *
 * Each op is described once as a case: its inputs (real arrays, those the
 * gradient is checked for marked), its output size, and a forward and a
 * backward over double or float arrays through the templates of nys_ops.h. */
#include "nys_ops.h"
#include "check.h"
#include "tap.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXIN = 6 };

typedef struct lcase lcase;
typedef struct inputs inputs;
/* in[i] (double or float by f32), out; the backward adds to grad[i] (NULL
 * for an input that has none) from g. */
typedef void (*fwd_fn)(const lcase *c, void *const *in, void *out, int f32);
typedef void (*bwd_fn)(const lcase *c, void *const *in, const void *g, void *const *grad,
                       int f32);

struct lcase {
	const char *name;
	int nin;
	size_t n[MAXIN];     /* elements of each input */
	int diff[MAXIN];     /* checked against finite differences */
	int mask_in;         /* the input that is the mask (-1: none) */
	int len1;            /* length of the mask's second sequence (padding) */
	double lo, hi;       /* inputs uniform in [lo, hi) */
	size_t nout;
	fwd_fn fwd;
	bwd_fn bwd;
	int B, H, T, D, C, K, N; /* shapes, per op */
	struct nys_linattn_opts la;
	struct nys_lsh_opts lsh;
	int (*accept)(const lcase *c, const inputs *in); /* NULL, or 0 to draw again */
	double tol32;
};

static uint64_t rs = 0x1A2B3C4D5E6Full;

/* ---- the ops as cases ----------------------------------------------------- */

#define D64(p) ((double *)(p))
#define F32(p) ((float *)(p))
#define CD64(p) ((const double *)(p))
#define CF32(p) ((const float *)(p))

static void relu_f(const lcase *c, void *const *in, void *out, int f32)
{
	if (f32)
		nys_relu_forward_f32(out, in[0], c->n[0]);
	else
		nys_relu_forward_f64(out, in[0], c->n[0]);
}
static void relu_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	if (f32)
		nys_relu_backward_f32(gr[0], g, in[0], c->n[0]);
	else
		nys_relu_backward_f64(gr[0], g, in[0], c->n[0]);
}

/* posembed: in 0 wte (V, C), 1 wpe (T, C); the ids are fixed */
static int32_t pe_ids[64];
static void pe_f(const lcase *c, void *const *in, void *out, int f32)
{
	if (f32)
		nys_posembed_forward_f32(out, pe_ids, in[0], in[1], c->B, c->T, c->C);
	else
		nys_posembed_forward_f64(out, pe_ids, in[0], in[1], c->B, c->T, c->C);
}
static void pe_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	if (f32)
		nys_posembed_backward_f32(gr[0], gr[1], g, pe_ids, c->B, c->T, c->C);
	else
		nys_posembed_backward_f64(gr[0], gr[1], g, pe_ids, c->B, c->T, c->C);
}

/* meanpool: in 0 x (B, T, C), 1 mask */
static void mp_f(const lcase *c, void *const *in, void *out, int f32)
{
	if (f32)
		nys_meanpool_forward_f32(out, in[0], in[1], c->B, c->T, c->C);
	else
		nys_meanpool_forward_f64(out, in[0], in[1], c->B, c->T, c->C);
}
static void mp_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	if (f32)
		nys_meanpool_backward_f32(gr[0], g, in[1], c->B, c->T, c->C);
	else
		nys_meanpool_backward_f64(gr[0], g, in[1], c->B, c->T, c->C);
}

static void pf_f(const lcase *c, void *const *in, void *out, int f32)
{
	if (f32)
		nys_pairfeat_forward_f32(out, in[0], c->B, c->C);
	else
		nys_pairfeat_forward_f64(out, in[0], c->B, c->C);
}
static void pf_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	if (f32)
		nys_pairfeat_backward_f32(gr[0], g, in[0], c->B, c->C);
	else
		nys_pairfeat_backward_f64(gr[0], g, in[0], c->B, c->C);
}

/* Linformer: in 0 q, 1 k, 2 v, 3 mask, 4 E (H, K, N) */
static int nslots = 2;
static void *scratch_of(size_t n, int f32)
{
	return chk_alloc((n ? n : 1) * (f32 ? sizeof(float) : sizeof(double)));
}
static void *lin_saved[2];
static void lf_f(const lcase *c, void *const *in, void *out, int f32)
{
	size_t sv = nys_linformer_saved_size_f64(c->B, c->H, c->T, c->D, c->K);
	size_t sn = nys_linformer_scratch_size_f64(c->T, c->D, c->K, nslots);
	free(lin_saved[f32]);
	lin_saved[f32] = scratch_of(sv, f32);
	void *s = scratch_of(sn, f32);
	if (f32)
		nys_linformer_forward_f32(out, lin_saved[1], s, sn, in[0], in[1], in[2], in[3], in[4],
		                          c->B, c->H, c->T, c->D, c->K, c->N);
	else
		nys_linformer_forward_f64(out, lin_saved[0], s, sn, in[0], in[1], in[2], in[3], in[4],
		                          c->B, c->H, c->T, c->D, c->K, c->N);
	free(s);
}
static void lf_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	size_t sn = nys_linformer_scratch_size_f64(c->T, c->D, c->K, nslots);
	void *s = scratch_of(sn, f32), *out = scratch_of((size_t)c->B * c->H * c->T * c->D, f32);
	lf_f(c, in, out, f32);
	if (f32)
		nys_linformer_backward_f32(gr[0], gr[1], gr[2], gr[4], s, sn, g, lin_saved[1], in[0],
		                           in[1], in[2], in[3], in[4], c->B, c->H, c->T, c->D, c->K,
		                           c->N);
	else
		nys_linformer_backward_f64(gr[0], gr[1], gr[2], gr[4], s, sn, g, lin_saved[0], in[0],
		                           in[1], in[2], in[3], in[4], c->B, c->H, c->T, c->D, c->K,
		                           c->N);
	free(s);
	free(out);
}

/* linear attention: in 0 q, 1 k, 2 v, 3 mask, 4 W (F, D) (ReLU kind) */
static void la_f(const lcase *c, void *const *in, void *out, int f32)
{
	size_t sv = nys_linattn_saved_size_f64(&c->la);
	size_t sn = nys_linattn_scratch_size_f64(&c->la, nslots);
	free(lin_saved[f32]);
	lin_saved[f32] = scratch_of(sv, f32);
	void *s = scratch_of(sn, f32);
	if (f32)
		nys_linattn_forward_f32(out, lin_saved[1], s, sn, in[0], in[1], in[2], in[3],
		                        c->nin > 4 ? in[4] : NULL, &c->la);
	else
		nys_linattn_forward_f64(out, lin_saved[0], s, sn, in[0], in[1], in[2], in[3],
		                        c->nin > 4 ? in[4] : NULL, &c->la);
	free(s);
}
static void la_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	size_t sn = nys_linattn_scratch_size_f64(&c->la, nslots);
	void *s = scratch_of(sn, f32), *out = scratch_of((size_t)c->B * c->H * c->T * c->D, f32);
	la_f(c, in, out, f32);
	if (f32)
		nys_linattn_backward_f32(gr[0], gr[1], gr[2], s, sn, g, lin_saved[1], in[0], in[1],
		                         in[2], in[3], c->nin > 4 ? in[4] : NULL, &c->la);
	else
		nys_linattn_backward_f64(gr[0], gr[1], gr[2], s, sn, g, lin_saved[0], in[0], in[1],
		                         in[2], in[3], c->nin > 4 ? in[4] : NULL, &c->la);
	free(s);
	free(out);
}

/* LSH attention: in 0 qk, 1 v, 2 mask, 3 the rotations (H, D, hashes,
 * buckets / 2) */
static void lsh_f(const lcase *c, void *const *in, void *out, int f32)
{
	size_t sv = nys_lsh_saved_size_f64(&c->lsh);
	size_t sn = nys_lsh_scratch_size_f64(&c->lsh, nslots);
	free(lin_saved[f32]);
	lin_saved[f32] = scratch_of(sv, f32);
	void *s = scratch_of(sn, f32);
	if (f32)
		nys_lsh_forward_f32(out, lin_saved[1], s, sn, in[0], in[1], in[2], in[3], &c->lsh);
	else
		nys_lsh_forward_f64(out, lin_saved[0], s, sn, in[0], in[1], in[2], in[3], &c->lsh);
	free(s);
}
static void lsh_b(const lcase *c, void *const *in, const void *g, void *const *gr, int f32)
{
	size_t sn = nys_lsh_scratch_size_f64(&c->lsh, nslots);
	void *s = scratch_of(sn, f32), *out = scratch_of((size_t)c->B * c->H * c->T * c->D, f32);
	lsh_f(c, in, out, f32);
	if (f32)
		nys_lsh_backward_f32(gr[0], gr[1], s, sn, g, lin_saved[1], in[0], in[1], in[2], in[3],
		                     &c->lsh);
	else
		nys_lsh_backward_f64(gr[0], gr[1], s, sn, g, lin_saved[0], in[0], in[1], in[2], in[3],
		                     &c->lsh);
	free(s);
	free(out);
}

/* ---- running a case --------------------------------------------------------- */

struct inputs {
	double *x[MAXIN];
	double *g; /* the output's weights */
};

static void inputs_free(const lcase *c, inputs *in);

static void draw(const lcase *c, inputs *in)
{
redraw:
	for (int i = 0; i < c->nin; i++) {
		in->x[i] = chk_rnd(&rs, c->n[i], c->lo, c->hi);
		if (i == c->mask_in) {
			int T = c->T;
			for (int b = 0; b < c->B; b++)
				for (int t = 0; t < T; t++)
					in->x[i][(size_t)b * T + t] = b == 1 && t >= c->len1 ? 0.0 : 1.0;
		}
		chk_round_f32(in->x[i], c->n[i]);
	}
	in->g = chk_rnd(&rs, c->nout, -1, 1);
	chk_round_f32(in->g, c->nout);
	if (c->accept && !c->accept(c, in)) {
		inputs_free(c, in);
		goto redraw;
	}
}

static void inputs_free(const lcase *c, inputs *in)
{
	for (int i = 0; i < c->nin; i++)
		free(in->x[i]);
	free(in->g);
}

struct fd_ctx {
	const lcase *c;
	inputs *in;
	double *out;
};

static double loss(void *ctx)
{
	struct fd_ctx *f = ctx;
	f->c->fwd(f->c, (void *const *)f->in->x, f->out, 0);
	return chk_dot(f->out, f->in->g, f->c->nout);
}

static double worst_fd;

static void fd_case(const lcase *c)
{
	inputs in;
	draw(c, &in);
	double *gr[MAXIN] = {0};
	for (int i = 0; i < c->nin; i++)
		if (c->diff[i])
			gr[i] = calloc(c->n[i], sizeof(double));
	c->bwd(c, (void *const *)in.x, in.g, (void *const *)gr, 0);
	double *out = CHK_DALLOC(c->nout);
	struct fd_ctx ctx = {c, &in, out};
	for (int i = 0; i < c->nin; i++) {
		if (!c->diff[i])
			continue;
		double *nu = CHK_DALLOC(c->n[i]);
		chk_central_each(nu, in.x[i], c->n[i], 1e-6, loss, &ctx);
		double r = chk_rel2(gr[i], nu, c->n[i]);
		worst_fd = fmax(worst_fd, r);
		char name[200];
		snprintf(name, sizeof name, "%s: input %d vs finite differences (%.1e, |grad| %.2g)",
		         c->name, i, r, chk_norm(gr[i], c->n[i]));
		tap_ok(r <= 1e-6 && chk_norm(gr[i], c->n[i]) > 0, name);
		free(nu);
	}
	/* accumulation: a second backward adds the same again */
	double *gr2[MAXIN] = {0};
	for (int i = 0; i < c->nin; i++)
		if (c->diff[i])
			gr2[i] = chk_dup(gr[i], c->n[i]);
	c->bwd(c, (void *const *)in.x, in.g, (void *const *)gr2, 0);
	double worst = 0;
	for (int i = 0; i < c->nin; i++)
		if (gr[i]) {
			for (size_t j = 0; j < c->n[i]; j++)
				gr[i][j] *= 2;
			worst = fmax(worst, chk_rel2(gr2[i], gr[i], c->n[i]));
		}
	char name[200];
	snprintf(name, sizeof name, "%s: the backward accumulates (%.1e)", c->name, worst);
	tap_ok(worst <= 1e-14, name);

	/* float against double */
	float *xf[MAXIN] = {0}, *gf[MAXIN] = {0};
	for (int i = 0; i < c->nin; i++) {
		xf[i] = chk_to_f32(in.x[i], c->n[i]);
		if (c->diff[i])
			gf[i] = calloc(c->n[i], sizeof(float));
	}
	float *of = CHK_FALLOC(c->nout), *g32 = chk_to_f32(in.g, c->nout);
	c->fwd(c, (void *const *)xf, of, 1);
	c->fwd(c, (void *const *)in.x, out, 0);
	double *o64 = CHK_DALLOC(c->nout);
	chk_from_f32(o64, of, c->nout);
	double rf = chk_rel2(o64, out, c->nout);
	c->bwd(c, (void *const *)xf, g32, (void *const *)gf, 1);
	double rb = 0;
	for (int i = 0; i < c->nin; i++)
		if (gf[i]) {
			double *g64 = CHK_DALLOC(c->n[i]);
			chk_from_f32(g64, gf[i], c->n[i]);
			for (size_t j = 0; j < c->n[i]; j++)
				gr2[i][j] /= 2;
			rb = fmax(rb, chk_rel2(g64, gr2[i], c->n[i]));
			free(g64);
		}
	snprintf(name, sizeof name, "%s: float against double (forward %.1e, backward %.1e)",
	         c->name, rf, rb);
	tap_ok(rf <= c->tol32 && rb <= 10 * c->tol32, name);
	for (int i = 0; i < c->nin; i++) {
		free(gr[i]);
		free(gr2[i]);
		free(xf[i]);
		free(gf[i]);
	}
	free(of);
	free(g32);
	free(o64);
	free(out);
	inputs_free(c, &in);
}

/* ---- the cases ------------------------------------------------------------------ */

static lcase relu_case(size_t n)
{
	return (lcase){.name = "relu", .nin = 1, .n = {n}, .diff = {1}, .mask_in = -1, .lo = -2,
	               .hi = 2, .nout = n, .fwd = relu_f, .bwd = relu_b, .tol32 = 1e-7};
}

static lcase pe_case(int B, int T, int C, int V)
{
	for (int i = 0; i < B * T; i++)
		pe_ids[i] = (int32_t)(chk_next(&rs) % (uint64_t)V);
	return (lcase){.name = "posembed", .nin = 2, .n = {(size_t)V * C, (size_t)(T + 3) * C},
	               .diff = {1, 1}, .mask_in = -1, .lo = -1, .hi = 1,
	               .nout = (size_t)B * T * C, .fwd = pe_f, .bwd = pe_b, .B = B, .T = T,
	               .C = C, .tol32 = 1e-7};
}

static lcase mp_case(int B, int T, int C, int len1)
{
	return (lcase){.name = "meanpool", .nin = 2, .n = {(size_t)B * T * C, (size_t)B * T},
	               .diff = {1, 0}, .mask_in = 1, .len1 = len1, .lo = -1, .hi = 1,
	               .nout = (size_t)B * C, .fwd = mp_f, .bwd = mp_b, .B = B, .T = T, .C = C,
	               .tol32 = 1e-6};
}

static lcase pf_case(int B, int C)
{
	return (lcase){.name = "pairfeat", .nin = 1, .n = {(size_t)2 * B * C}, .diff = {1},
	               .mask_in = -1, .lo = -1, .hi = 1, .nout = (size_t)4 * B * C, .fwd = pf_f,
	               .bwd = pf_b, .B = B, .C = C, .tol32 = 1e-6};
}

static lcase lf_case(const char *name, int B, int H, int T, int D, int K, int N, int len1)
{
	size_t nq = (size_t)B * H * T * D;
	return (lcase){.name = name, .nin = 5,
	               .n = {nq, nq, nq, (size_t)B * T, (size_t)H * K * N},
	               .diff = {1, 1, 1, 0, 1}, .mask_in = 3, .len1 = len1, .lo = -1, .hi = 1,
	               .nout = nq, .fwd = lf_f, .bwd = lf_b, .B = B, .H = H, .T = T, .D = D,
	               .K = K, .N = N, .tol32 = 1e-5};
}

static lcase la_case(const char *name, int kind, int B, int H, int T, int D, int F, int len1)
{
	size_t nq = (size_t)B * H * T * D;
	lcase c = {.name = name, .nin = kind == NYS_LINATTN_ELU ? 4 : 5,
	           .n = {nq, nq, nq, (size_t)B * T, (size_t)F * D},
	           .diff = {1, 1, 1, 0, 0}, .mask_in = 3, .len1 = len1, .lo = -1, .hi = 1,
	           .nout = nq, .fwd = la_f, .bwd = la_b, .B = B, .H = H, .T = T, .D = D,
	           .tol32 = 1e-5};
	c.la = (struct nys_linattn_opts){.B = B, .H = H, .T = T, .D = D, .kind = kind, .F = F};
	return c;
}

/* The smallest gap, over every real token and round, between the largest
 * of its hashing's values [x R, -x R] and the next: the finite differences
 * (steps of 1e-6) and float against double must not move a token to
 * another bucket, so inputs whose gap is under 1e-4 are drawn again (the
 * draws are seeded: this only makes the cases independent of luck). */
static double lsh_margin(const lcase *c, const inputs *in)
{
	const struct nys_lsh_opts *o = &c->lsh;
	int half = o->buckets / 2, T = o->T, D = o->D, nh = o->hashes;
	double worst = INFINITY;
	for (int b = 0; b < o->B; b++)
		for (int h = 0; h < o->H; h++)
			for (int t = 0; t < T; t++) {
				if (in->x[2][(size_t)b * T + t] == 0)
					continue;
				const double *x = in->x[0] + ((size_t)(b * o->H + h) * T + t) * D;
				for (int r = 0; r < nh; r++) {
					double top = -INFINITY, next = -INFINITY;
					for (int j = 0; j < o->buckets; j++) {
						double u = 0;
						for (int d = 0; d < D; d++)
							u += x[d] * in->x[3][(((size_t)h * D + d) * nh + r) * half + j % half];
						u = j < half ? u : -u;
						if (u > top)
							next = top, top = u;
						else if (u > next)
							next = u;
					}
					worst = fmin(worst, top - next);
				}
			}
	return worst;
}
static int lsh_accept(const lcase *c, const inputs *in) { return lsh_margin(c, in) > 1e-4; }

static lcase lsh_case(const char *name, int B, int H, int T, int D, int hashes, int buckets,
                      int chunk, int len1)
{
	size_t nq = (size_t)B * H * T * D;
	lcase c = {.name = name, .nin = 4,
	           .n = {nq, nq, (size_t)B * T, (size_t)H * D * hashes * (buckets / 2)},
	           .diff = {1, 1, 0, 0}, .mask_in = 2, .len1 = len1, .lo = -1, .hi = 1,
	           .nout = nq, .fwd = lsh_f, .bwd = lsh_b, .B = B, .H = H, .T = T, .D = D,
	           .accept = lsh_accept, .tol32 = 1e-5};
	c.lsh = (struct nys_lsh_opts){.B = B, .H = H, .T = T, .D = D, .hashes = hashes,
	                              .buckets = buckets, .chunk = chunk};
	return c;
}

/* With chunks of T entries, each round's chunk and the one before it hold
 * every token (the first round's twice when there is one round), so
 * whatever the buckets LSH attention is softmax attention over all the
 * tokens with Reformer's rules: logits q . k^ with k^ = qk / sqrt(|qk|^2 +
 * D 1e-6), -1e9 for keys of padding, -1e5 for a token's own key; and the
 * rounds, equal, combine to the same. */
static void test_lsh_full(int hashes)
{
	int B = 2, H = 2, T = 9, D = 4;
	lcase c = lsh_case("lsh full", B, H, T, D, hashes, 4, T, 6);
	inputs in;
	draw(&c, &in);
	double *out = CHK_DALLOC(c.nout), *ref = CHK_DALLOC(c.nout), *kh = CHK_DALLOC(c.nout);
	c.fwd(&c, (void *const *)in.x, out, 0);
	const double *x = in.x[0], *v = in.x[1], *mk = in.x[2];
	for (size_t t = 0; t < (size_t)B * H * T; t++) {
		double ss = 0;
		for (int d = 0; d < D; d++)
			ss += x[t * D + d] * x[t * D + d];
		for (int d = 0; d < D; d++)
			kh[t * D + d] = x[t * D + d] / sqrt(ss + D * 1e-6);
	}
	for (int bh = 0; bh < B * H; bh++)
		for (int i = 0; i < T; i++) {
			double lg[16], mx = -INFINITY, s = 0;
			const double *q = x + ((size_t)bh * T + i) * D;
			for (int j = 0; j < T; j++) {
				lg[j] = chk_dot(q, kh + ((size_t)bh * T + j) * D, (size_t)D);
				if (mk[(size_t)(bh / H) * T + j] == 0)
					lg[j] = -1e9;
				if (j == i)
					lg[j] = -1e5;
				mx = fmax(mx, lg[j]);
			}
			for (int j = 0; j < T; j++)
				s += lg[j] = exp(lg[j] - mx);
			for (int d = 0; d < D; d++) {
				double o = 0;
				for (int j = 0; j < T; j++)
					o += lg[j] / s * v[((size_t)bh * T + j) * D + d];
				ref[((size_t)bh * T + i) * D + d] = o;
			}
		}
	double r = chk_rel2(out, ref, c.nout);
	char name[200];
	snprintf(name, sizeof name, "lsh, %d hash%s, chunks of T: softmax attention with shared QK, "
	         "the self mask and padding (%.1e)", hashes, hashes > 1 ? "es" : "", r);
	tap_ok(r <= 1e-12, name);
	free(out);
	free(ref);
	free(kh);
	inputs_free(&c, &in);
}

/* The sort and the chunks.  B = H = 1, T = 8, D = 2, one round of 2
 * buckets: the sign of qk[t] . (1, 0), the tokens 0, 2, 4, 6 positive and
 * first, then 1, 3, 5, 7; chunks of 2: {0, 2} {4, 6} {1, 3} {5, 7}.  Token
 * 0's output depends on the values of 2 (its chunk) and 5 and 7 (the chunk
 * before, circularly) and of no other token, not its own; token 4's on 6,
 * 0 and 2; token 3's on 1, 4 and 6. */
static void test_lsh_reach(void)
{
	int T = 8, D = 2;
	lcase c = lsh_case("lsh reach", 1, 1, T, D, 1, 2, 2, T);
	c.accept = NULL;
	inputs in;
	draw(&c, &in);
	for (int t = 0; t < T; t++) {
		in.x[0][t * D] = (t % 2 ? -1 : 1) * (1 + 0.1 * t);
		in.x[2][t] = 1;
	}
	in.x[3][0] = 1, in.x[3][1] = 0; /* R (D, 1) = (1, 0) */
	double *o0 = CHK_DALLOC(c.nout), *o1 = CHK_DALLOC(c.nout);
	c.fwd(&c, (void *const *)in.x, o0, 0);
	static const struct { int tok; unsigned reach; } want[] = {
		{0, 1u << 2 | 1u << 5 | 1u << 7}, {4, 1u << 6 | 1u << 0 | 1u << 2},
		{3, 1u << 1 | 1u << 4 | 1u << 6},
	};
	int bad = 0;
	for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
		unsigned got = 0;
		for (int s = 0; s < T; s++) {
			in.x[1][s * D] += 1;
			c.fwd(&c, (void *const *)in.x, o1, 0);
			in.x[1][s * D] -= 1;
			if (o1[want[w].tok * D] != o0[want[w].tok * D])
				got |= 1u << s;
		}
		if (got != want[w].reach) {
			printf("# token %d reaches the values of %#x, not %#x\n", want[w].tok, got,
			       want[w].reach);
			bad++;
		}
	}
	tap_ok(!bad, "lsh: each token reaches its chunk and the one before, sorted by bucket and "
	       "position, not itself");
	free(o0);
	free(o1);
	inputs_free(&c, &in);
}

/* nys_lsh_check: the authors' ListOps shape passes, what the op cannot
 * do does not. */
static void test_lsh_check(void)
{
	struct nys_lsh_opts o = {.B = 32, .H = 2, .T = 2048, .D = 32, .hashes = 2, .buckets = 64,
	                         .chunk = 64};
	tap_ok(nys_lsh_check(&o) == NULL, "lsh check: ListOps' 32 x 2048, 2 hashes of 64 buckets");
	struct nys_lsh_opts odd = o, none = o, nochunk = o;
	odd.buckets = 5;
	none.hashes = 0;
	nochunk.chunk = 0;
	tap_ok(nys_lsh_check(&odd) && nys_lsh_check(&none) && nys_lsh_check(&nochunk),
	       "lsh check: odd buckets, no hash round, chunks of 0 are refused");
}

/* Padding changes nothing of the real tokens' outputs: sequence 1 of a
 * batch padded to T against the same tokens alone at length len1. */
static void test_padding(lcase c, const char *what)
{
	inputs in;
	draw(&c, &in);
	double *out = CHK_DALLOC(c.nout);
	c.fwd(&c, (void *const *)in.x, out, 0);
	/* sequence 1 alone, its first len1 tokens */
	lcase s = c;
	int L = c.len1, B = c.B, H = c.H, T = c.T, D = c.D;
	s.B = 1;
	s.T = L;
	s.la.B = 1;
	s.la.T = L;
	double *x1[MAXIN] = {0};
	for (int i = 0; i < 3; i++) {
		x1[i] = CHK_DALLOC((size_t)H * L * D);
		for (int h = 0; h < H; h++)
			memcpy(x1[i] + (size_t)h * L * D, in.x[i] + ((size_t)(1 * H + h) * T) * D,
			       (size_t)L * D * sizeof(double));
	}
	x1[3] = CHK_DALLOC((size_t)L);
	for (int t = 0; t < L; t++)
		x1[3][t] = 1;
	x1[4] = in.x[4];
	double *o1 = CHK_DALLOC((size_t)H * L * D);
	s.fwd(&s, (void *const *)x1, o1, 0);
	double worst = 0;
	for (int h = 0; h < H; h++)
		for (size_t j = 0; j < (size_t)L * D; j++)
			worst = fmax(worst, fabs(o1[(size_t)h * L * D + j] -
			                         out[((size_t)(1 * H + h) * T) * D + j]));
	char name[200];
	snprintf(name, sizeof name, "%s: padding does not change the real tokens' outputs (%.1e)",
	         what, worst);
	tap_ok(worst <= 1e-12, name);
	(void)B;
	for (int i = 0; i < 4; i++)
		free(x1[i]);
	free(o1);
	free(out);
	inputs_free(&c, &in);
}

/* Linformer with E the identity (k = n = T) is softmax attention. */
static void test_linformer_identity(void)
{
	int B = 2, H = 2, T = 7, D = 4;
	lcase c = lf_case("linformer identity", B, H, T, D, T, T, T);
	inputs in;
	draw(&c, &in);
	for (int h = 0; h < H; h++)
		for (int i = 0; i < T; i++)
			for (int j = 0; j < T; j++)
				in.x[4][((size_t)h * T + i) * T + j] = i == j;
	double *out = CHK_DALLOC(c.nout), *ref = CHK_DALLOC(c.nout);
	c.fwd(&c, (void *const *)in.x, out, 0);
	size_t sv = nys_attn_softmax_saved_size_f64(B, H, T);
	size_t sn = nys_attn_softmax_scratch_size_f64(T, 1);
	double *sa = CHK_DALLOC(sv), *sc = CHK_DALLOC(sn);
	nys_attn_softmax_forward_f64(ref, sa, sc, sn, in.x[0], in.x[1], in.x[2], in.x[3], B, H, T,
	                             D, 0.0f, 0);
	double r = chk_rel2(out, ref, c.nout);
	char name[160];
	snprintf(name, sizeof name, "linformer: E = I is softmax attention (%.1e)", r);
	tap_ok(r <= 1e-13, name);
	free(sa);
	free(sc);
	free(out);
	free(ref);
	inputs_free(&c, &in);
}

/* The linear attention's output is a convex combination of the values
 * (each row's weights positive, summing to 1): with v all ones, out is 1.
 * Without padding for Performer, whose keys of padding keep a weight of
 * 0.001 a feature in the denominator (as performer-pytorch's do). */
static void test_linattn_normalised(int kind, const char *what)
{
	lcase c = la_case(what, kind, 2, 2, 9, 4, 16, kind == NYS_LINATTN_ELU ? 5 : 9);
	inputs in;
	draw(&c, &in);
	for (size_t j = 0; j < c.n[2]; j++)
		in.x[2][j] = 1;
	double *out = CHK_DALLOC(c.nout);
	c.fwd(&c, (void *const *)in.x, out, 0);
	double worst = 0;
	for (size_t j = 0; j < c.nout; j++)
		worst = fmax(worst, fabs(out[j] - 1));
	char name[160];
	snprintf(name, sizeof name, "%s: the weights are normalised (v = 1 gives 1, %.1e)", what,
	         worst);
	tap_ok(worst <= 1e-13, name);
	free(out);
	inputs_free(&c, &in);
}

static int test_all(void)
{
	lcase cases[] = {
		relu_case(37),
		pe_case(2, 5, 6, 7),
		mp_case(2, 6, 5, 3),
		mp_case(3, 4, 3, 1),
		pf_case(3, 5),
		lf_case("linformer B 2 H 2 T 9 D 4 k 5 n 11", 2, 2, 9, 4, 5, 11, 6),
		lf_case("linformer B 1 H 3 T 6 D 3 k 8 n 6", 1, 3, 6, 3, 8, 6, 6),
		la_case("linear (elu+1) B 2 H 2 T 8 D 4", NYS_LINATTN_ELU, 2, 2, 8, 4, 0, 5),
		la_case("performer (relu features) B 2 H 2 T 8 D 4 F 12",
		        NYS_LINATTN_RELU_FEATURES, 2, 2, 8, 4, 12, 3),
		la_case("performer B 1 H 1 T 5 D 3 F 7", NYS_LINATTN_RELU_FEATURES, 1, 1, 5, 3, 7,
		        5),
		lsh_case("lsh B 2 H 2 T 10 D 4, 2 hashes of 4 buckets, chunks of 3", 2, 2, 10, 4, 2, 4,
		         3, 6),
		lsh_case("lsh B 1 H 1 T 8 D 3, 1 hash of 2 buckets, chunks of 4", 1, 1, 8, 3, 1, 2, 4,
		         8),
		lsh_case("lsh B 2 H 1 T 7 D 5, 3 hashes of 6 buckets, chunks of 5", 2, 1, 7, 5, 3, 6, 5,
		         2),
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		fd_case(&cases[i]);
	printf("# worst finite-difference error: %.2e\n", worst_fd);
	/* padding (linear attention; Linformer's projection mixes the
	 * positions, and Performer's keys of padding weigh 0.001, as theirs) */
	test_padding(la_case("linear", NYS_LINATTN_ELU, 2, 2, 9, 4, 0, 5), "linear (elu+1)");
	test_linformer_identity();
	test_linattn_normalised(NYS_LINATTN_ELU, "linear (elu+1)");
	test_linattn_normalised(NYS_LINATTN_RELU_FEATURES, "performer");
	test_lsh_full(1);
	test_lsh_full(2);
	test_lsh_reach();
	test_lsh_check();
	/* one slot: the (b, h) one after the other give the same to the bit */
	nslots = 1;
	lcase c = lf_case("linformer one slot", 2, 2, 9, 4, 5, 11, 6);
	fd_case(&c);
	free(lin_saved[0]);
	free(lin_saved[1]);
	return tap_done();
}

int main(void)
{
	return test_all();
}
