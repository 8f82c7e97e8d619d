/* The attention ops (libnys/cpu/ops_attn.inc): softmax and Nystrom attention.
 *
 *  - every backward against central finite differences of
 *    loss = sum(out * G) in double precision, every input element perturbed;
 *  - the forward and backward against values autograd printed (GOLDEN below);
 *  - float against double;
 *  - properties: landmarks == T is softmax attention, padding leaves softmax
 *    attention's real rows alone, K Z -> I over the iterations, dropout's
 *    mask and scale, backward accumulates, scratch contents do not matter.
 */
#include "nys_ops.h"
#include "check.h"
#include "tap.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a test case and its inputs ---- */

enum { SOFTMAX, NYSTROM };

struct tcase {
	const char *name;
	int kind;
	struct nys_nystrom_opts o; // B, H, T, D serve softmax attention too
	int len1;                  // real tokens of batch 1 (batch 0 is full)
	float p_drop;
	uint64_t seed;
};

struct inputs {
	size_t n, nw;                   // B H T D, H conv_k
	double *q, *k, *v, *mask, *w, *g; // g: the loss weights, like out
};

/* Inputs (the golden script below makes the same ones): uniform in
 * (-2, 2) for q and k (streams 1, 2), (-1, 1) for v, g (3, 5) and conv
 * weights (4); padded positions of q, k, v are filled like the others (they
 * must not matter where the model says so). */
static struct inputs make_inputs(const struct tcase *c)
{
	const struct nys_nystrom_opts *o = &c->o;
	struct inputs x;
	x.n = (size_t)o->B * o->H * o->T * o->D;
	x.nw = (size_t)o->H * (o->conv_k ? o->conv_k : 1);
	x.q = CHK_DALLOC(x.n);
	x.k = CHK_DALLOC(x.n);
	x.v = CHK_DALLOC(x.n);
	x.g = CHK_DALLOC(x.n);
	x.w = CHK_DALLOC(x.nw);
	x.mask = CHK_DALLOC((size_t)o->B * o->T);
	chk_fill_stream(x.q, x.n, 1, 2);
	chk_fill_stream(x.k, x.n, 2, 2);
	chk_fill_stream(x.v, x.n, 3, 1);
	chk_fill_stream(x.w, x.nw, 4, 1);
	chk_fill_stream(x.g, x.n, 5, 1);
	for (int b = 0; b < o->B; b++)
		for (int t = 0; t < o->T; t++)
			x.mask[(size_t)b * o->T + t] = b == 1 && t >= c->len1 ? 0 : 1;
	return x;
}

static void free_inputs(struct inputs *x)
{
	free(x->q);
	free(x->k);
	free(x->v);
	free(x->g);
	free(x->w);
	free(x->mask);
}

static size_t saved_size(const struct tcase *c)
{
	const struct nys_nystrom_opts *o = &c->o;
	return c->kind == SOFTMAX
		? nys_attn_softmax_saved_size_f64(o->B, o->H, o->T)
		: nys_nystrom_saved_size_f64(o);
}

// scratch slots: (b, h) in flight when BLAS is single-threaded
static int nslots = 2;

static size_t scratch_size(const struct tcase *c)
{
	const struct nys_nystrom_opts *o = &c->o;
	return c->kind == SOFTMAX
		? nys_attn_softmax_scratch_size_f64(o->T, nslots)
		: nys_nystrom_scratch_size_f64(o, nslots);
}

/* The forward into out, then (when dq) the backward of sum(out * g),
 * accumulated into dq, dk, dv, dw.  saved and scratch are exactly sized
 * (the sanitizer build sees any overrun) and start as NaN. */
static void run64(const struct tcase *c, const struct inputs *x, double *out,
	double *dq, double *dk, double *dv, double *dw)
{
	const struct nys_nystrom_opts *o = &c->o;
	size_t ns = saved_size(c), nx = scratch_size(c);
	double *saved = CHK_DALLOC(ns), *scr = CHK_DALLOC(nx);
	const double *w = o->conv_k ? x->w : NULL;
	chk_nan_f64(saved, ns);
	chk_nan_f64(scr, nx);
	if (c->kind == SOFTMAX)
		nys_attn_softmax_forward_f64(out, saved, scr, nx, x->q, x->k, x->v,
			x->mask, o->B, o->H, o->T, o->D, c->p_drop, c->seed);
	else
		nys_nystrom_forward_f64(out, saved, scr, nx, x->q, x->k, x->v,
			x->mask, w, o);
	if (dq) {
		chk_nan_f64(scr, nx);
		if (c->kind == SOFTMAX)
			nys_attn_softmax_backward_f64(dq, dk, dv, scr, nx, x->g, saved,
				x->q, x->k, x->v, x->mask, o->B, o->H, o->T, o->D,
				c->p_drop, c->seed);
		else
			nys_nystrom_backward_f64(dq, dk, dv, o->conv_k ? dw : NULL,
				scr, nx, x->g, saved, x->q, x->k, x->v, x->mask, w, o);
	}
	free(saved);
	free(scr);
}

// run64 over float (outputs converted back to double; grads overwritten)
static void run32(const struct tcase *c, const struct inputs *x, double *out,
	double *dq, double *dk, double *dv, double *dw)
{
	const struct nys_nystrom_opts *o = &c->o;
	size_t n = x->n, ns = saved_size(c), nx = scratch_size(c);
	float *q = chk_to_f32(x->q, n), *k = chk_to_f32(x->k, n), *v = chk_to_f32(x->v, n),
	      *g = chk_to_f32(x->g, n), *mask = chk_to_f32(x->mask, (size_t)o->B * o->T),
	      *w = chk_to_f32(x->w, x->nw);
	float *out32 = CHK_FALLOC(n), *saved = CHK_FALLOC(ns), *scr = CHK_FALLOC(nx);
	chk_nan_f32(saved, ns);
	chk_nan_f32(scr, nx);
	if (c->kind == SOFTMAX)
		nys_attn_softmax_forward_f32(out32, saved, scr, nx, q, k, v, mask,
			o->B, o->H, o->T, o->D, c->p_drop, c->seed);
	else
		nys_nystrom_forward_f32(out32, saved, scr, nx, q, k, v, mask,
			o->conv_k ? w : NULL, o);
	chk_from_f32(out, out32, n);
	if (dq) {
		float *gq = CHK_FALLOC(n), *gk = CHK_FALLOC(n), *gv = CHK_FALLOC(n),
		      *gw = CHK_FALLOC(x->nw);
		memset(gq, 0, n * sizeof *gq);
		memset(gk, 0, n * sizeof *gk);
		memset(gv, 0, n * sizeof *gv);
		memset(gw, 0, x->nw * sizeof *gw);
		chk_nan_f32(scr, nx);
		if (c->kind == SOFTMAX)
			nys_attn_softmax_backward_f32(gq, gk, gv, scr, nx, g, saved, q,
				k, v, mask, o->B, o->H, o->T, o->D, c->p_drop, c->seed);
		else
			nys_nystrom_backward_f32(gq, gk, gv, o->conv_k ? gw : NULL,
				scr, nx, g, saved, q, k, v, mask, o->conv_k ? w : NULL, o);
		chk_from_f32(dq, gq, n);
		chk_from_f32(dk, gk, n);
		chk_from_f32(dv, gv, n);
		chk_from_f32(dw, gw, x->nw);
		free(gq);
		free(gk);
		free(gv);
		free(gw);
	}
	free(q);
	free(k);
	free(v);
	free(g);
	free(mask);
	free(w);
	free(out32);
	free(saved);
	free(scr);
}

static double loss64(const struct tcase *c, const struct inputs *x,
	double *out)
{
	run64(c, x, out, NULL, NULL, NULL, NULL);
	return chk_dot(out, x->g, x->n);
}

/* ---- finite differences ----
 *
 * Central differences with eps = 1e-6 carry a truncation error of about
 * eps^2 |f'''| / 6 ~ 1e-13 and a rounding error of about
 * 1e-16 |loss| / eps ~ 1e-9 absolute: the error is absolute, so the
 * check is norm-wise per gradient, ||a - n|| / max(||a||, ||n||) <= 1e-6,
 * and element-wise |a - n| / (|a| + |n|) <= 1e-5 over the elements that
 * are not tiny against their tensor (|a| + |n| >= 1e-3 max|a|); the rest
 * must be within 1e-7 absolutely.  Elements the output does not depend on
 * (padding) give exactly 0 both ways. */

struct fd_ctx {
	const struct tcase *c;
	struct inputs *x;
	double *out;
};

static double fd_loss(void *ctx)
{
	struct fd_ctx *f = ctx;
	return loss64(f->c, f->x, f->out);
}

static double worst_fd = 0, worst_fd_elem = 0;

static void fd_one(const struct tcase *c, struct inputs *x, double *param,
	size_t n, const double *an, const char *what)
{
	const double eps = 1e-6;
	double *out = CHK_DALLOC(x->n), *nu = CHK_DALLOC(n);
	struct fd_ctx ctx = {c, x, out};
	chk_central_each(nu, param, n, eps, fd_loss, &ctx);
	double amax = 0;
	for (size_t i = 0; i < n; i++)
		amax = fmax(amax, fabs(an[i]));
	double elem = 0, tiny_abs = 0;
	for (size_t i = 0; i < n; i++) {
		double s = fabs(an[i]) + fabs(nu[i]), d = fabs(an[i] - nu[i]);
		if (s >= 1e-3 * amax)
			elem = fmax(elem, d / s);
		else
			tiny_abs = fmax(tiny_abs, d);
	}
	double r = chk_rel2(an, nu, n);
	worst_fd = fmax(worst_fd, r);
	worst_fd_elem = fmax(worst_fd_elem, elem);
	char name[200];
	snprintf(name, sizeof name,
		"%s: d%s vs finite differences (norm %.1e, element %.1e, tiny %.1e, |grad| %.2g)",
		c->name, what, r, elem, tiny_abs, chk_norm(an, n));
	tap_ok(r <= 1e-6 && elem <= 1e-5 && tiny_abs <= 1e-7 && chk_norm(an, n) > 0,
		name);
	free(out);
	free(nu);
}

static void fd_case(const struct tcase *c)
{
	struct inputs x = make_inputs(c);
	size_t n = x.n;
	double *out = CHK_DALLOC(n), *dq = CHK_DALLOC(n), *dk = CHK_DALLOC(n),
	       *dv = CHK_DALLOC(n), *dw = CHK_DALLOC(x.nw);
	memset(dq, 0, n * sizeof *dq);
	memset(dk, 0, n * sizeof *dk);
	memset(dv, 0, n * sizeof *dv);
	memset(dw, 0, x.nw * sizeof *dw);
	run64(c, &x, out, dq, dk, dv, dw);
	fd_one(c, &x, x.q, n, dq, "q");
	fd_one(c, &x, x.k, n, dk, "k");
	fd_one(c, &x, x.v, n, dv, "v");
	if (c->o.conv_k)
		fd_one(c, &x, x.w, x.nw, dw, "convw");
	free(out);
	free(dq);
	free(dk);
	free(dv);
	free(dw);
	free_inputs(&x);
}

#define NYS(B_, H_, T_, D_, m_, it_, init_, k_, unp_) \
	{ .B = B_, .H = H_, .T = T_, .D = D_, .landmarks = m_, \
	  .pinv_iters = it_, .pinv_init = init_, .conv_k = k_, \
	  .unpadded_means = unp_ }
#define ORIG NYS_PINV_ORIGINAL
#define PERM NYS_PINV_PER_MATRIX

static const struct tcase fd_cases[] = {
	{"softmax T=8", SOFTMAX, NYS(2, 2, 8, 4, 8, 0, 0, 0, 0), 8, 0, 0},
	{"softmax T=13 padded", SOFTMAX, NYS(2, 2, 13, 4, 13, 0, 0, 0, 0), 9, 0, 0},
	{"softmax T=12 padded dropout 0.25", SOFTMAX,
	 NYS(2, 2, 12, 4, 12, 0, 0, 0, 0), 7, 0.25f, 12345},
	{"nystrom T=12 m=4 original conv padded", NYSTROM,
	 NYS(2, 2, 12, 4, 4, 6, ORIG, 3, 0), 9, 0, 0},
	{"nystrom T=12 m=4 per-matrix conv padded", NYSTROM,
	 NYS(2, 2, 12, 4, 4, 6, PERM, 3, 0), 9, 0, 0},
	{"nystrom T=12 m=3 original", NYSTROM,
	 NYS(2, 2, 12, 4, 3, 6, ORIG, 0, 0), 12, 0, 0},
	{"nystrom T=13 m=4 original conv padded", NYSTROM,
	 NYS(2, 2, 13, 4, 4, 6, ORIG, 3, 0), 10, 0, 0},
	{"nystrom T=13 m=3 per-matrix", NYSTROM,
	 NYS(2, 2, 13, 4, 3, 6, PERM, 0, 0), 13, 0, 0},
	{"nystrom T=13 m=4 unpadded means original conv padded", NYSTROM,
	 NYS(2, 2, 13, 4, 4, 6, ORIG, 3, 1), 8, 0, 0},
	{"nystrom T=12 m=3 unpadded means per-matrix padded", NYSTROM,
	 NYS(2, 2, 12, 4, 3, 6, PERM, 0, 1), 5, 0, 0},
	{"nystrom T=8 m=4 no iterations", NYSTROM,
	 NYS(2, 2, 8, 4, 4, 0, ORIG, 3, 0), 6, 0, 0},
	{"nystrom T=8 m=4 10 iterations", NYSTROM,
	 NYS(2, 2, 8, 4, 4, 10, PERM, 3, 0), 6, 0, 0},
	{"nystrom m=T=8 exact conv padded", NYSTROM,
	 NYS(2, 2, 8, 4, 8, 6, ORIG, 3, 0), 5, 0, 0},
	{"nystrom m=T=13 exact", NYSTROM,
	 NYS(2, 2, 13, 4, 13, 6, PERM, 0, 0), 13, 0, 0},
	{"nystrom T=13 D=20 m=4 per-matrix conv 5 padded", NYSTROM,
	 NYS(2, 2, 13, 20, 4, 6, PERM, 5, 0), 7, 0, 0},
	{"softmax T=9 D=20 padded dropout 0.1", SOFTMAX,
	 NYS(2, 2, 9, 20, 9, 0, 0, 0, 0), 6, 0.1f, 7},
};

/* ---- against autograd ----
 *
 * GOLDEN[i] is, for fd_cases[golden_case[i]], loss = sum(out * g) and the
 * sums of dq, dk, dv, dconvw times the uniform (-1, 1) streams 6, 7, 8, 9,
 * as torch 2 autograd (float64) printed them with this script (the spec
 * written in torch, the pseudo-inverse as the authors'):
 *
 * import math, torch
 * torch.set_default_dtype(torch.float64)
 * M = 2**64 - 1
 * def rnd(n, stream, amp):
 *     out = []
 *     for i in range(n):
 *         z = ((stream << 32) + i + 0x9E3779B97F4A7C15) & M
 *         z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
 *         z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
 *         z ^= z >> 31
 *         out.append(amp * (2 * ((z >> 11) * 2.0**-53) - 1))
 *     return torch.tensor(out)
 * def pinv(K, iters, per_matrix):
 *     I = torch.eye(K.size(-1))
 *     cs = torch.sum(K, dim=-2)
 *     c = torch.max(cs, dim=-1).values[:, :, None, None] if per_matrix else torch.max(cs)
 *     V = 1 / c * K.transpose(-1, -2)
 *     for _ in range(iters):
 *         KV = K @ V
 *         V = (0.25 * V) @ (13 * I - KV @ (15 * I - KV @ (7 * I - KV)))
 *     return V
 * def attend(kind, q, k, v, w, mask, D, m, iters, per_matrix, kc, unpadded):
 *     B, H, T, _ = q.shape
 *     if kind == 'softmax':
 *         s = q @ k.transpose(-1, -2) / math.sqrt(D) - 1e6 * (1 - mask[:, None, None, :])
 *         return torch.softmax(s, -1) @ v
 *     Qs = q * mask[:, None, :, None] / math.sqrt(math.sqrt(D))
 *     Ks = k * mask[:, None, :, None] / math.sqrt(math.sqrt(D))
 *     neg = 1e9 * (1 - mask[:, None, None, :])
 *     if m == T:
 *         X = torch.softmax(Qs @ Ks.transpose(-1, -2) - neg, -1) @ v
 *     else:
 *         s = T // m
 *         nsmall = (s + 1) * m - T
 *         A = torch.zeros(B, m, T)
 *         st = 0
 *         for i in range(m):
 *             ln = s if i < nsmall else s + 1
 *             for b in range(B):
 *                 cnt = float(mask[b, st:st + ln].sum()) if unpadded else ln
 *                 if cnt > 0:
 *                     A[b, i, st:st + ln] = 1 / cnt
 *             st += ln
 *         Ql = A[:, None] @ Qs
 *         Kl = A[:, None] @ Ks
 *         k1 = torch.softmax(Qs @ Kl.transpose(-1, -2), -1)
 *         k2 = torch.softmax(Ql @ Kl.transpose(-1, -2), -1)
 *         k3 = torch.softmax(Ql @ Ks.transpose(-1, -2) - neg, -1)
 *         X = (k1 @ pinv(k2, iters, per_matrix)) @ (k3 @ v)
 *     if kc:
 *         X = X + torch.nn.functional.conv2d(v * mask[:, None, :, None], w,
 *                 padding=(kc // 2, 0), groups=H)
 *     return X
 * # every case of fd_cases but the dropout ones, in order:
 * # (kind, B, H, T, D, m, iters, per_matrix, conv_k, unpadded_means, len1)
 * cases = [...]
 * for (kind, B, H, T, D, m, iters, pm, kc, unp, len1) in cases:
 *     n = B * H * T * D
 *     nw = H * (kc if kc else 1)
 *     q = rnd(n, 1, 2).reshape(B, H, T, D).requires_grad_()
 *     k = rnd(n, 2, 2).reshape(B, H, T, D).requires_grad_()
 *     v = rnd(n, 3, 1).reshape(B, H, T, D).requires_grad_()
 *     w = rnd(nw, 4, 1).reshape(H, 1, -1, 1).requires_grad_()
 *     g = rnd(n, 5, 1).reshape(B, H, T, D)
 *     mask = torch.ones(B, T)
 *     mask[1, len1:] = 0
 *     out = attend(kind, q, k, v, w, mask, D, m, iters, pm, kc, unp)
 *     L = (out * g).sum()
 *     L.backward()
 *     r = [float(L.detach())]
 *     for t, st in ((q, 6), (k, 7), (v, 8)):
 *         r.append(float((t.grad.reshape(-1) * rnd(n, st, 1)).sum()))
 *     r.append(float((w.grad.reshape(-1) * rnd(nw, 9, 1)).sum()) if kc else 0.0)
 *     print('\t{' + ', '.join('%.17g' % x for x in r) + '},')
 */
static const int golden_case[] = {0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	14};
static const double GOLDEN[][5] = {
	{3.3995180882344496, -0.40551561826624477, 0.13937002908001528, 0.24361283016808527, 0},
	{0.51554419316728417, -0.28806868168946209, 0.093809742555132164, 4.1063906422979635, 0},
	{1.1218469461842937, -1.56013218083603, -1.2958268855972388, -1.495348311441155, 1.1369446405423069},
	{1.1186138207160576, -1.6035979077525908, -1.3797540129617238, -1.487950870766797, 1.1369446405423069},
	{0.80560367268734256, 0.011071900566809956, -1.60969933101403, 2.8687638731450043, 0},
	{-0.59461973775087817, -2.8595634953300428, -1.6271401873629188, -3.4195918489590467, 1.3980617726792217},
	{-2.1846105870514854, 6.8086231611777954, -6.5659965568670282, 5.3191070282354742, 0},
	{5.675938722520538, 0.86473730176870789, -4.6191690491281605, -2.2498519944097408, 0.46406147840937573},
	{0.58926965473767989, 0.33565935173468731, -2.9266877229532624, 3.2536194184858331, 0},
	{1.7899143348195738, 0.031247321320415217, -0.26763501881310464, -6.3191157517499015, 0.8477337684619578},
	{3.3062728456495876, -0.44193167912924297, 0.92401451123458123, -3.3095718424110911, 0.8477337684619578},
	{3.5955923754920569, -1.1663569919678296, -0.28284860848232057, -6.9826547671335586, 1.1657307857939954},
	{0.82844340706640685, 0.75341488750207508, 0.070233194255147291, 4.0891539228439475, 0},
	{14.500738682021483, 0.909445265894818, 8.6471466909915904, -2.5729231141391509, 10.035386105935871},
};

static void test_golden(void)
{
	for (size_t gi = 0; gi < sizeof GOLDEN / sizeof *GOLDEN; gi++) {
		const struct tcase *c = &fd_cases[golden_case[gi]];
		struct inputs x = make_inputs(c);
		size_t n = x.n;
		double *out = CHK_DALLOC(n), *g[4], got[5];
		size_t gn[4] = {n, n, n, x.nw};
		for (int i = 0; i < 4; i++)
			g[i] = CHK_DALLOC(gn[i]);
		run64(c, &x, out, g[0], g[1], g[2], g[3]);
		got[0] = chk_dot(out, x.g, n);
		for (int i = 0; i < 4; i++) {
			double *r = CHK_DALLOC(gn[i]);
			chk_fill_stream(r, gn[i], 6 + (uint64_t)i, 1);
			got[1 + i] = chk_dot(g[i], r, gn[i]);
			free(r);
		}
		double worst = 0;
		for (int i = 0; i < 5; i++)
			worst = fmax(worst, fabs(got[i] - GOLDEN[gi][i]) /
				fmax(1, fabs(GOLDEN[gi][i])));
		char name[200];
		snprintf(name, sizeof name,
			"%s: forward and backward agree with autograd (%.1e)",
			c->name, worst);
		tap_ok(worst <= 1e-12, name);
		for (int i = 0; i < 4; i++)
			free(g[i]);
		free(out);
		free_inputs(&x);
	}
}

/* ---- float against double ---- */

static void f32_case(const struct tcase *c)
{
	struct inputs x = make_inputs(c);
	size_t n = x.n;
	double *o64 = CHK_DALLOC(n), *o32 = CHK_DALLOC(n);
	double *g64[4], *g32[4];
	size_t gn[4] = {n, n, n, x.nw};
	for (int i = 0; i < 4; i++) {
		g64[i] = CHK_DALLOC(gn[i]);
		g32[i] = CHK_DALLOC(gn[i]);
		memset(g64[i], 0, gn[i] * sizeof(double));
	}
	run64(c, &x, o64, g64[0], g64[1], g64[2], g64[3]);
	run32(c, &x, o32, g32[0], g32[1], g32[2], g32[3]);
	double r = chk_rel2(o64, o32, n), rg = 0;
	for (int i = 0; i < (c->o.conv_k ? 4 : 3); i++)
		rg = fmax(rg, chk_rel2(g64[i], g32[i], gn[i]));
	char name[200];
	snprintf(name, sizeof name, "%s: float forward agrees with double (%.1e)",
		c->name, r);
	tap_ok(r <= 1e-5, name);
	snprintf(name, sizeof name,
		"%s: float backward agrees with double (worst %.1e)", c->name, rg);
	tap_ok(rg <= 1e-4, name);
	for (int i = 0; i < 4; i++) {
		free(g64[i]);
		free(g32[i]);
	}
	free(o64);
	free(o32);
	free_inputs(&x);
}

static const struct tcase f32_cases[] = {
	{"softmax T=64 D=16 padded", SOFTMAX, NYS(2, 2, 64, 16, 64, 0, 0, 0, 0),
	 40, 0, 0},
	{"softmax T=64 D=16 padded dropout 0.1", SOFTMAX,
	 NYS(2, 2, 64, 16, 64, 0, 0, 0, 0), 40, 0.1f, 99},
	{"nystrom T=64 D=16 m=8 original conv 5", NYSTROM,
	 NYS(2, 2, 64, 16, 8, 6, ORIG, 5, 0), 40, 0, 0},
	{"nystrom T=67 D=16 m=8 per-matrix unpadded", NYSTROM,
	 NYS(2, 2, 67, 16, 8, 6, PERM, 0, 1), 30, 0, 0},
	{"nystrom m=T=32 D=16 exact conv 5", NYSTROM,
	 NYS(2, 2, 32, 16, 32, 6, ORIG, 5, 0), 20, 0, 0},
};

/* ---- properties ---- */

// Nystrom with landmarks == T is softmax attention (same 1/sqrt(D)).
static void test_exact_is_softmax(void)
{
	for (int pad = 0; pad < 2; pad++) {
		struct tcase cs = {"", SOFTMAX, NYS(2, 3, 11, 5, 11, 6, ORIG, 0, 0),
			pad ? 6 : 11, 0, 0};
		struct tcase cn = cs;
		cn.kind = NYSTROM;
		struct inputs x = make_inputs(&cs);
		double *a = CHK_DALLOC(x.n), *b = CHK_DALLOC(x.n);
		run64(&cs, &x, a, NULL, NULL, NULL, NULL);
		run64(&cn, &x, b, NULL, NULL, NULL, NULL);
		// with padding, softmax attention does not mask the queries:
		// compare the real rows only
		double worst = 0;
		const struct nys_nystrom_opts *o = &cs.o;
		for (int bh = 0; bh < o->B * o->H; bh++)
			for (int t = 0; t < o->T; t++) {
				if (x.mask[(size_t)(bh / o->H) * o->T + t] == 0)
					continue;
				for (int d = 0; d < o->D; d++) {
					size_t i = ((size_t)bh * o->T + t) * o->D + d;
					worst = fmax(worst, fabs(a[i] - b[i]));
				}
			}
		char name[160];
		snprintf(name, sizeof name,
			"nystrom with landmarks = length is softmax attention%s (%.1e)",
			pad ? ", real rows of a padded batch" : "", worst);
		tap_ok(worst <= 1e-13, name);
		free(a);
		free(b);
		free_inputs(&x);
	}
}

// Padding a sequence (with junk in the padding) leaves its real rows.
static void test_padding_invariance(void)
{
	int B = 2, H = 2, T = 13, D = 4, len = 8;
	struct tcase cp = {"", SOFTMAX, NYS(B, H, T, D, T, 0, 0, 0, 0), len, 0, 0};
	struct tcase cu = {"", SOFTMAX, NYS(1, H, len, D, len, 0, 0, 0, 0), len,
		0, 0};
	struct inputs xp = make_inputs(&cp), xu = make_inputs(&cu);
	// junk in batch 1's padding, then batch 1's real tokens alone
	for (int h = 0; h < H; h++)
		for (int t = 0; t < T; t++)
			for (int d = 0; d < D; d++) {
				size_t ip = (((size_t)1 * H + h) * T + t) * D + d;
				size_t iu = ((size_t)h * len + t) * D + d;
				if (t >= len) {
					xp.q[ip] = 50 * sin((double)ip);
					xp.k[ip] = 80 * cos((double)ip);
					xp.v[ip] = 1e3;
				} else {
					xu.q[iu] = xp.q[ip];
					xu.k[iu] = xp.k[ip];
					xu.v[iu] = xp.v[ip];
				}
			}
	double *op = CHK_DALLOC(xp.n), *ou = CHK_DALLOC(xu.n);
	run64(&cp, &xp, op, NULL, NULL, NULL, NULL);
	run64(&cu, &xu, ou, NULL, NULL, NULL, NULL);
	double worst = 0;
	for (int h = 0; h < H; h++)
		for (int t = 0; t < len; t++)
			for (int d = 0; d < D; d++)
				worst = fmax(worst,
					fabs(op[(((size_t)H + h) * T + t) * D + d] -
					     ou[((size_t)h * len + t) * D + d]));
	char name[120];
	snprintf(name, sizeof name,
		"softmax attention: padding leaves the real rows unchanged (%.1e)",
		worst);
	tap_ok(worst <= 1e-14, name);
	free(op);
	free(ou);
	free_inputs(&xp);
	free_inputs(&xu);
}

/* K Z -> I: softmax kernels of m = 16 landmarks from rows of norm 2 in 16
 * dimensions (a softmax kernel like kernel_2, its diagonal about 0.6 of each
 * row); residual ||I - K Z_i||_F (worst of 3 matrices) after each
 * iteration, for both inits. */
static void test_pinv_converges(void)
{
	int m = 16, dd = 16, nmat = 3, maxit = 12;
	size_t mm = (size_t)m * m;
	double *K = CHK_DALLOC(nmat * mm), *Z = CHK_DALLOC(nmat * mm);
	double *X = CHK_DALLOC((size_t)m * dd);
	for (int b = 0; b < nmat; b++) {
		chk_fill_stream(X, (size_t)m * dd, 10 + (uint64_t)b, 1);
		for (int i = 0; i < m; i++) {
			double *r = X + (size_t)i * dd, s = 2 / chk_norm(r, dd);
			for (int d = 0; d < dd; d++)
				r[d] *= s;
		}
		double *Kb = K + b * mm;
		for (int i = 0; i < m; i++) {
			double sum = 0;
			for (int j = 0; j < m; j++) {
				Kb[i * m + j] = exp(chk_dot(X + (size_t)i * dd, X + (size_t)j * dd, dd));
				sum += Kb[i * m + j];
			}
			for (int j = 0; j < m; j++)
				Kb[i * m + j] /= sum;
		}
	}
	double diag = 1;
	for (int b = 0; b < nmat; b++)
		for (int i = 0; i < m; i++)
			diag = fmin(diag, K[b * mm + i * m + i]);
	printf("#   kernels: smallest diagonal entry %.2f\n", diag);
	double *scr = CHK_DALLOC(nys_attn_pinv_scratch_size_f64(m, maxit));
	for (int init = 0; init < 2; init++) {
		double res[13];
		int dec = 1;
		char line[400];
		int at = snprintf(line, sizeof line, "#   %s:",
			init == NYS_PINV_ORIGINAL ? "original  " : "per-matrix");
		for (int it = 0; it <= maxit; it++) {
			nys_attn_pinv_f64(Z, scr, K, nmat, m, it, init);
			double worst = 0;
			for (int b = 0; b < nmat; b++) {
				double r2 = 0;
				for (int i = 0; i < m; i++)
					for (int j = 0; j < m; j++) {
						double s = 0;
						for (int l = 0; l < m; l++)
							s += K[b * mm + i * m + l] * Z[b * mm + l * m + j];
						s = (i == j) - s;
						r2 += s * s;
					}
				worst = fmax(worst, sqrt(r2));
			}
			res[it] = worst;
			if (it > 0 && !(res[it] < res[it - 1] || res[it] < 1e-13))
				dec = 0;
			at += snprintf(line + at, sizeof line - (size_t)at, " %.1e", worst);
		}
		puts(line);
		int first = -1;
		for (int it = 0; it <= maxit && first < 0; it++)
			if (res[it] < 1e-3)
				first = it;
		char name[160];
		snprintf(name, sizeof name,
			"pinv %s: ||I - KZ|| decreases each iteration, < 1e-3 after %d",
			init == NYS_PINV_ORIGINAL ? "original" : "per-matrix", first);
		tap_ok(dec && first >= 0 && first <= 10, name);
	}
	free(K);
	free(Z);
	free(X);
	free(scr);
}

/* Dropout: with V = I, out is drop(P): each element 0 or P / (1 - p), about
 * p of them 0, the same for the same seed, others for another. */
static void test_dropout(void)
{
	int T = 64;
	struct tcase c0 = {"", SOFTMAX, NYS(1, 2, T, T, T, 0, 0, 0, 0), T, 0, 0};
	struct tcase c1 = c0, c2 = c0;
	c1.p_drop = c2.p_drop = 0.3f;
	c1.seed = 42;
	c2.seed = 43;
	struct inputs x = make_inputs(&c0);
	for (int h = 0; h < 2; h++)
		for (int t = 0; t < T; t++)
			for (int d = 0; d < T; d++)
				x.v[((size_t)h * T + t) * T + d] = t == d;
	double *p = CHK_DALLOC(x.n), *a = CHK_DALLOC(x.n), *a2 = CHK_DALLOC(x.n),
	       *b = CHK_DALLOC(x.n);
	run64(&c0, &x, p, NULL, NULL, NULL, NULL);
	run64(&c1, &x, a, NULL, NULL, NULL, NULL);
	run64(&c1, &x, a2, NULL, NULL, NULL, NULL);
	run64(&c2, &x, b, NULL, NULL, NULL, NULL);
	size_t zeros = 0, bad = 0;
	double scale = 1 / (1 - (double)0.3f);
	for (size_t i = 0; i < x.n; i++) {
		if (a[i] == 0)
			zeros++;
		else if (fabs(a[i] - p[i] * scale) > 1e-15)
			bad++;
	}
	double frac = (double)zeros / (double)x.n;
	double sd = sqrt(0.3 * 0.7 / (double)x.n);
	char name[160];
	snprintf(name, sizeof name,
		"dropout: kept probabilities scaled by 1/(1-p), %.4f dropped for p=0.3",
		frac);
	tap_ok(bad == 0 && fabs(frac - 0.3) < 4 * sd, name);
	tap_ok(memcmp(a, a2, x.n * sizeof *a) == 0, "dropout: same seed, same mask");
	tap_ok(memcmp(a, b, x.n * sizeof *a) != 0, "dropout: other seed, other mask");
	free(p);
	free(a);
	free(a2);
	free(b);
	free_inputs(&x);
}

/* The backward accumulates: gradients that start at 1 end at 1 + the
 * gradients from 0 (to rounding: the op adds several terms). */
static void test_accumulates(void)
{
	const struct tcase *cases[] = {&fd_cases[1], &fd_cases[6], &fd_cases[12]};
	for (int ci = 0; ci < 3; ci++) {
		const struct tcase *c = cases[ci];
		struct inputs x = make_inputs(c);
		size_t n = x.n;
		double *out = CHK_DALLOC(n), *g1[4], *g2[4];
		size_t gn[4] = {n, n, n, x.nw};
		for (int i = 0; i < 4; i++) {
			g1[i] = CHK_DALLOC(gn[i]);
			g2[i] = CHK_DALLOC(gn[i]);
			for (size_t j = 0; j < gn[i]; j++)
				g2[i][j] = 1;
		}
		run64(c, &x, out, g1[0], g1[1], g1[2], g1[3]);
		run64(c, &x, out, g2[0], g2[1], g2[2], g2[3]);
		double worst = 0;
		for (int i = 0; i < 4; i++)
			for (size_t j = 0; j < gn[i]; j++)
				worst = fmax(worst, fabs(g2[i][j] - 1 - g1[i][j]));
		char name[160];
		snprintf(name, sizeof name,
			"%s: backward accumulates into the gradients (%.1e)",
			c->name, worst);
		tap_ok(worst <= 1e-14, name);
		for (int i = 0; i < 4; i++) {
			free(g1[i]);
			free(g2[i]);
		}
		free(out);
		free_inputs(&x);
	}
}

/* The ways of running the heads (see the decl) compute the same numbers:
 * one after the other with BLAS threaded (1 slot), in parallel with BLAS
 * set to one thread meanwhile (2 slots, BLAS on 2 threads), in parallel
 * with BLAS on one thread already; and the ops give BLAS its threads back. */
static void test_thread_modes(void)
{
	const struct tcase *cases[] = {&fd_cases[2], &fd_cases[6], &fd_cases[7],
		&fd_cases[12], &fd_cases[14]};
	int blas = openblas_get_num_threads();
	for (int ci = 0; ci < 5; ci++) {
		const struct tcase *c = cases[ci];
		struct inputs x = make_inputs(c);
		size_t gn[5] = {x.n, x.n, x.n, x.n, x.nw};
		double *r[3][5], worst = 0;
		int restored = 1;
		omp_set_num_threads(2);
		for (int mode = 0; mode < 3; mode++) {
			for (int i = 0; i < 5; i++)
				r[mode][i] = CHK_DALLOC(gn[i]);
			int nb = mode == 2 ? 1 : 2;
			openblas_set_num_threads(nb);
			nslots = mode == 0 ? 1 : 2;
			run64(c, &x, r[mode][0], r[mode][1], r[mode][2], r[mode][3],
				r[mode][4]);
			restored &= openblas_get_num_threads() == nb;
		}
		for (int mode = 1; mode < 3; mode++)
			for (int i = 0; i < 5; i++)
				for (size_t j = 0; j < gn[i]; j++)
					worst = fmax(worst, fabs(r[mode][i][j] - r[0][i][j]));
		char name[200];
		snprintf(name, sizeof name,
			"%s: heads in parallel or in turn agree (%.1e), BLAS threads restored",
			c->name, worst);
		tap_ok(worst <= 1e-14 && restored, name);
		for (int mode = 0; mode < 3; mode++)
			for (int i = 0; i < 5; i++)
				free(r[mode][i]);
		free_inputs(&x);
	}
	openblas_set_num_threads(blas);
	nslots = 2;
}

static void test_check(void)
{
	struct nys_nystrom_opts o = NYS(1, 4, 4096, 64, 64, 6, ORIG, 33, 0);
	tap_ok(nys_nystrom_check(&o) == NULL, "check: the 4096 model's options pass");
	o.landmarks = 4097;
	tap_ok(nys_nystrom_check(&o) != NULL, "check: more landmarks than tokens");
	o.landmarks = 64;
	o.conv_k = 32;
	tap_ok(nys_nystrom_check(&o) != NULL, "check: even conv kernel");
	o.conv_k = 0;
	o.pinv_init = 2;
	tap_ok(nys_nystrom_check(&o) != NULL, "check: unknown init");
}

int main(void)
{
	test_check();
	for (size_t i = 0; i < sizeof fd_cases / sizeof *fd_cases; i++)
		fd_case(&fd_cases[i]);
	test_golden();
	printf("# worst finite-difference error: norm-wise %.2e, element-wise %.2e\n",
		worst_fd, worst_fd_elem);
	for (size_t i = 0; i < sizeof f32_cases / sizeof *f32_cases; i++)
		f32_case(&f32_cases[i]);
	test_exact_is_softmax();
	test_padding_invariance();
	test_pinv_converges();
	test_dropout();
	test_accumulates();
	test_thread_modes();
	// and the autograd values again with the heads one after the other
	nslots = 1;
	test_golden();
	return tap_done();
}
