/* The dense ops (ops_dense.inc): every backward against central finite
 * differences in double precision, float against double, the dropout mask,
 * the embeddings' position offset, the losses against hand values, and
 * bitwise independence of the thread count.
 *
 * Finite differences.  Each op is checked through a scalar
 *     L = sum(out * G)          (G random, fixed)
 * so that backward, given dout = G, must produce dL/dx for every input and
 * parameter x.  Every element of x is perturbed by h = 1e-6 both ways and
 *     num = (L(x + h) - L(x - h)) / 2h
 * compared with backward's gradient.  Gradient buffers start from random
 * values, which are subtracted afterwards, so the check also proves that
 * backward accumulates rather than overwrites.
 *
 * The criterion is norm-wise: max |num - ana| <= 1e-6 * max |ana|.
 * Central differences err by h^2 |L'''| / 6 (about 1e-13 here, inputs and
 * derivatives being O(1)) plus rounding of about eps |L| / h = 2.2e-16 * |L|
 * / 1e-6, and |L| stays below about 10 in these small cases: some 1e-9
 * absolute against gradients of order 0.1 to 1, i.e. 1e-8 relative at
 * worst; the bound 1e-6 leaves two orders of margin for that, while a wrong
 * term in a backward (a missing factor, a sign, an index) errs by 1e-2 or
 * more.  A per-element relative test would be unsound where a gradient is
 * near zero, hence the norm-wise one.  The observed errors are printed as
 * TAP comments.
 */
#include "nys_ops.h"
#include "check.h"
#include "tap.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#define FD_H 1e-6
#define FD_TOL 1e-6
#define F32_TOL 1e-5

static uint64_t rs = 0x243F6A8885A308D3u;

/* ---- the finite-difference harness ------------------------------------ */

/* Check the gradient backward accumulated into grad (started from base)
 * against central differences of f over every element of x. */
static void fd_check(const char *name, double *x, size_t n, const double *grad,
                     const double *base, chk_loss_fn f)
{
	double *ana = CHK_DALLOC(n), *num = CHK_DALLOC(n);
	for (size_t i = 0; i < n; i++)
		ana[i] = grad[i] - base[i]; /* what backward added */
	chk_central_each(num, x, n, FD_H, f, NULL);
	double err = chk_maxdiff(num, ana, n);
	double scale = chk_maxabs(ana, n);
	double rel = scale > 0 ? err / scale : err;
	char msg[160];
	snprintf(msg, sizeof msg, "%s: backward = finite differences (rel err %.1e, max|grad| %.2g)",
	         name, rel, scale);
	tap_ok(scale > 0 && rel <= FD_TOL, msg);
	free(ana);
	free(num);
}

static void f32_check(const char *name, const float *a, const double *b, size_t n)
{
	double r = chk_relmax(a, CHK_F32, b, n, 0, NULL);
	char msg[160];
	snprintf(msg, sizeof msg, "%s: f32 = f64 (rel diff %.1e)", name, r);
	tap_ok(r <= F32_TOL, msg);
}

/* ---- linear ------------------------------------------------------------ */

enum { LN = 5, LC = 7, LOC = 4 };
static double *l_inp, *l_w, *l_b, *l_G;

static double linear_loss(void *ctx)
{
	double out[LN * LOC];
	nys_linear_forward_f64(out, l_inp, l_w, l_b, LN, LC, LOC);
	return chk_dot(out, l_G, LN * LOC);
}

static void test_linear(void)
{
	l_inp = chk_rnd(&rs, LN * LC, -1, 1);
	l_w = chk_rnd(&rs, LOC * LC, -1, 1);
	l_b = chk_rnd(&rs, LOC, -1, 1);
	l_G = chk_rnd(&rs, LN * LOC, -1, 1);

	// forward against the definition
	double out[LN * LOC], want[LN * LOC], nob[LN * LOC];
	nys_linear_forward_f64(out, l_inp, l_w, l_b, LN, LC, LOC);
	nys_linear_forward_f64(nob, l_inp, l_w, NULL, LN, LC, LOC);
	double e = 0, enob = 0;
	for (int i = 0; i < LN; i++)
		for (int o = 0; o < LOC; o++) {
			double s = 0;
			for (int c = 0; c < LC; c++)
				s += l_inp[i * LC + c] * l_w[o * LC + c];
			want[i * LOC + o] = s + l_b[o];
			e = fmax(e, fabs(out[i * LOC + o] - want[i * LOC + o]));
			enob = fmax(enob, fabs(nob[i * LOC + o] - s));
		}
	tap_ok(e < 1e-14, "linear: forward = inp @ W^T + b");
	tap_ok(enob < 1e-14, "linear: forward without bias = inp @ W^T");

	double *b_inp = chk_rnd(&rs, LN * LC, -1, 1), *b_w = chk_rnd(&rs, LOC * LC, -1, 1), *b_b = chk_rnd(&rs, LOC, -1, 1);
	double *d_inp = chk_dup(b_inp, LN * LC), *d_w = chk_dup(b_w, LOC * LC), *d_b = chk_dup(b_b, LOC);
	nys_linear_backward_f64(d_inp, d_w, d_b, l_G, l_inp, l_w, LN, LC, LOC);
	fd_check("linear dinp", l_inp, LN * LC, d_inp, b_inp, linear_loss);
	fd_check("linear dweight", l_w, LOC * LC, d_w, b_w, linear_loss);
	fd_check("linear dbias", l_b, LOC, d_b, b_b, linear_loss);

	// NULL gradients are skipped, the others unchanged
	double *d_w2 = chk_dup(b_w, LOC * LC);
	nys_linear_backward_f64(NULL, d_w2, NULL, l_G, l_inp, l_w, LN, LC, LOC);
	tap_ok(memcmp(d_w2, d_w, sizeof(double) * LOC * LC) == 0, "linear: NULL dinp and dbias");
	free(d_w2);

	free(b_inp), free(b_w), free(b_b), free(d_inp), free(d_w), free(d_b);
	free(l_inp), free(l_w), free(l_b), free(l_G);
}

/* ---- layernorm --------------------------------------------------------- */

enum { NN = 4, NC = 9 };
static double *n_inp, *n_w, *n_b, *n_G;

static double layernorm_loss(void *ctx)
{
	double out[NN * NC], mean[NN], rstd[NN];
	nys_layernorm_forward_f64(out, mean, rstd, n_inp, n_w, n_b, NN, NC, 1e-5);
	return chk_dot(out, n_G, NN * NC);
}

static void test_layernorm(void)
{
	n_inp = chk_rnd(&rs, NN * NC, -2, 2);
	n_w = chk_rnd(&rs, NC, 0.5, 1.5);
	n_b = chk_rnd(&rs, NC, -1, 1);
	n_G = chk_rnd(&rs, NN * NC, -1, 1);

	// with weight 1 and bias 0 every row has mean 0 and variance 1 - eps-ish
	double one[NC], zero[NC], out[NN * NC], mean[NN], rstd[NN];
	for (int c = 0; c < NC; c++)
		one[c] = 1, zero[c] = 0;
	nys_layernorm_forward_f64(out, mean, rstd, n_inp, one, zero, NN, NC, 1e-5);
	int ok = 1;
	for (int i = 0; i < NN; i++) {
		double m = 0, v = 0, xm = 0, xv = 0;
		for (int c = 0; c < NC; c++)
			m += out[i * NC + c], xm += n_inp[i * NC + c];
		m /= NC, xm /= NC;
		for (int c = 0; c < NC; c++) {
			v += (out[i * NC + c] - m) * (out[i * NC + c] - m);
			xv += (n_inp[i * NC + c] - xm) * (n_inp[i * NC + c] - xm);
		}
		v /= NC, xv /= NC;
		ok &= fabs(m) < 1e-14 && fabs(v - xv / (xv + 1e-5)) < 1e-13;
		ok &= fabs(mean[i] - xm) < 1e-14 && fabs(rstd[i] - 1 / sqrt(xv + 1e-5)) < 1e-12;
	}
	tap_ok(ok, "layernorm: normalised rows, biased variance, eps inside the sqrt; mean, rstd saved");

	nys_layernorm_forward_f64(out, mean, rstd, n_inp, n_w, n_b, NN, NC, 1e-5);
	double *b_inp = chk_rnd(&rs, NN * NC, -1, 1), *b_w = chk_rnd(&rs, NC, -1, 1), *b_b = chk_rnd(&rs, NC, -1, 1);
	double *d_inp = chk_dup(b_inp, NN * NC), *d_w = chk_dup(b_w, NC), *d_b = chk_dup(b_b, NC);
	nys_layernorm_backward_f64(d_inp, d_w, d_b, n_G, n_inp, n_w, mean, rstd, NN, NC);
	fd_check("layernorm dinp", n_inp, NN * NC, d_inp, b_inp, layernorm_loss);
	fd_check("layernorm dweight", n_w, NC, d_w, b_w, layernorm_loss);
	fd_check("layernorm dbias", n_b, NC, d_b, b_b, layernorm_loss);

	free(b_inp), free(b_w), free(b_b), free(d_inp), free(d_w), free(d_b);
	free(n_inp), free(n_w), free(n_b), free(n_G);
}

/* ---- element-wise ------------------------------------------------------ */

enum { EN = 64 };
static double *e_inp, *e_inp2, *e_G;
static void (*e_fwd)(double *, const double *, size_t);

static double unary_loss(void *ctx)
{
	double out[EN];
	e_fwd(out, e_inp, EN);
	return chk_dot(out, e_G, EN);
}

static double add_loss(void *ctx)
{
	double out[EN];
	nys_add_forward_f64(out, e_inp, e_inp2, EN);
	return chk_dot(out, e_G, EN);
}

static void test_elementwise(void)
{
	e_inp = chk_rnd(&rs, EN, -4, 4);
	e_inp2 = chk_rnd(&rs, EN, -4, 4);
	e_G = chk_rnd(&rs, EN, -1, 1);

	// values from python3: math.tanh, math.erf
	double x[2] = {1.0, -0.5}, y[2];
	nys_gelu_forward_f64(y, x, 2);
	tap_ok(fabs(y[0] - 0.8411919906082768) < 1e-15 && fabs(y[1] - -0.15428599017485606) < 1e-15,
	       "gelu (tanh): known values");
	nys_gelu_erf_forward_f64(y, x, 2);
	tap_ok(fabs(y[0] - 0.8413447460685429) < 1e-15 && fabs(y[1] - -0.15426876936299344) < 1e-15,
	       "gelu (erf): known values");

	// the op computes x / (1 + e^(-2u)): the same as the authors' formula
	// over the whole range, in double and in float, and finite far out
	enum { GR = 2401 };
	double *gx = malloc(GR * sizeof *gx), *gy = malloc(GR * sizeof *gy);
	float *fgx = malloc(GR * sizeof *fgx), *fgy = malloc(GR * sizeof *fgy);
	for (int i = 0; i < GR; i++)
		gx[i] = -24 + 0.02 * i, fgx[i] = (float)gx[i];
	nys_gelu_forward_f64(gy, gx, GR);
	nys_gelu_forward_f32(fgy, fgx, GR);
	double e64 = 0, e32 = 0;
	for (int i = 0; i < GR; i++) {
		double xf = fgx[i];
		double w = 0.5 * gx[i] * (1 + tanh(sqrt(2 / M_PI) * (gx[i] + 0.044715 * gx[i] * gx[i] * gx[i])));
		double wf = 0.5 * xf * (1 + tanh(sqrt(2 / M_PI) * (xf + 0.044715 * xf * xf * xf)));
		e64 = fmax(e64, fabs(gy[i] - w) / fmax(1, fabs(w)));
		e32 = fmax(e32, fabs(fgy[i] - wf) / fmax(1, fabs(wf)));
	}
	char msg[160];
	snprintf(msg, sizeof msg, "gelu (tanh): = 0.5 x (1 + tanh(...)) on [-24, 24], f64 err %.1e, f32 err %.1e",
	         e64, e32);
	tap_ok(e64 < 1e-15 && e32 < 1e-6, msg);
	float far[4] = {-1e4f, 1e4f, -1e30f, 1e30f}, fo[4], fd[4] = {0};
	float ones[4] = {1, 1, 1, 1};
	nys_gelu_forward_f32(fo, far, 4);
	nys_gelu_backward_f32(fd, ones, far, 4);
	tap_ok(fabsf(fo[0]) < 1e-30f && fo[1] == 1e4f && fabsf(fo[2]) < 1e-30f && fo[3] == 1e30f &&
	       fabsf(fd[0]) < 1e-20f && fd[1] == 1 && fabsf(fd[2]) < 1e-20f && fd[3] == 1,
	       "gelu (tanh): f32 finite and right far out (+-1e4, +-1e30)");
	free(gx), free(gy), free(fgx), free(fgy);

	double *base = chk_rnd(&rs, EN, -1, 1), *d = chk_dup(base, EN), out[EN];

	e_fwd = nys_gelu_forward_f64;
	nys_gelu_backward_f64(d, e_G, e_inp, EN);
	fd_check("gelu (tanh) dinp", e_inp, EN, d, base, unary_loss);

	memcpy(d, base, sizeof out);
	e_fwd = nys_gelu_erf_forward_f64;
	nys_gelu_erf_backward_f64(d, e_G, e_inp, EN);
	fd_check("gelu (erf) dinp", e_inp, EN, d, base, unary_loss);

	memcpy(d, base, sizeof out);
	e_fwd = nys_tanh_forward_f64;
	nys_tanh_forward_f64(out, e_inp, EN);
	nys_tanh_backward_f64(d, e_G, out, EN);
	fd_check("tanh dinp", e_inp, EN, d, base, unary_loss);

	double *base2 = chk_rnd(&rs, EN, -1, 1), *d2 = chk_dup(base2, EN);
	memcpy(d, base, sizeof out);
	nys_add_backward_f64(d, d2, e_G, EN);
	fd_check("add da", e_inp, EN, d, base, add_loss);
	fd_check("add db", e_inp2, EN, d2, base2, add_loss);

	// in place
	double *a = chk_dup(e_inp, EN);
	nys_gelu_forward_f64(out, e_inp, EN);
	nys_gelu_forward_f64(a, a, EN);
	tap_ok(memcmp(a, out, sizeof out) == 0, "gelu: in place");

	free(a), free(base), free(base2), free(d), free(d2);
	free(e_inp), free(e_inp2), free(e_G);
}

/* ---- dropout ----------------------------------------------------------- */

static double *o_inp, *o_G;
enum { ON = 200 };

static double dropout_loss(void *ctx)
{
	double out[ON];
	nys_dropout_forward_f64(out, o_inp, ON, 0.3, 77);
	return chk_dot(out, o_G, ON);
}

static void test_dropout(void)
{
	size_t n = (size_t)1 << 20;
	double p = 0.1;
	double *ones = malloc(n * sizeof *ones), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
	for (size_t i = 0; i < n; i++)
		ones[i] = 1;

	nys_dropout_forward_f64(a, ones, n, p, 42);
	size_t kept = 0;
	int values = 1;
	for (size_t i = 0; i < n; i++) {
		kept += a[i] != 0;
		values &= a[i] == 0 || a[i] == 1 / (1 - p);
	}
	double rate = (double)kept / (double)n, sd = sqrt(p * (1 - p) / (double)n);
	char msg[160];
	snprintf(msg, sizeof msg, "dropout: keep rate %.5f = 0.9 within 5 sd (%.1e)", rate, sd);
	tap_ok(fabs(rate - (1 - p)) <= 5 * sd, msg);
	tap_ok(values, "dropout: kept elements scaled by 1/(1-p), others 0");

	nys_dropout_forward_f64(b, ones, n, p, 42);
	tap_ok(memcmp(a, b, n * sizeof *a) == 0, "dropout: same seed, same mask");

	// another seed: an independent mask, both dropped in about p^2 of places
	nys_dropout_forward_f64(b, ones, n, p, 43);
	size_t both = 0, differ = 0;
	for (size_t i = 0; i < n; i++) {
		both += a[i] == 0 && b[i] == 0;
		differ += (a[i] == 0) != (b[i] == 0);
	}
	double fb = (double)both / (double)n, sb = sqrt(p * p * (1 - p * p) / (double)n);
	snprintf(msg, sizeof msg,
	         "dropout: seed 43 differs from 42 (%zu of %zu), both drop %.5f = p^2 within 5 sd",
	         differ, n, fb);
	tap_ok(differ > n / 10 && fabs(fb - p * p) <= 5 * sb, msg);

	// the thread count changes nothing
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	nys_dropout_forward_f64(b, ones, n, p, 42);
	omp_set_num_threads(nt > 1 ? nt : 2);
	tap_ok(memcmp(a, b, n * sizeof *a) == 0, "dropout: same mask on 1 thread and on several");
	omp_set_num_threads(nt);

	// f32 draws the same mask
	float *fo = malloc(n * sizeof *fo), *fi = malloc(n * sizeof *fi);
	for (size_t i = 0; i < n; i++)
		fi[i] = 1;
	nys_dropout_forward_f32(fo, fi, n, (float)p, 42);
	int same = 1;
	for (size_t i = 0; i < n; i++)
		same &= (fo[i] != 0) == (a[i] != 0);
	tap_ok(same, "dropout: f32 and f64 masks agree");

	// eval and p = 1
	nys_dropout_forward_f64(b, a, n, 0, 42);
	tap_ok(memcmp(a, b, n * sizeof *a) == 0, "dropout: p = 0 is the identity");
	nys_dropout_forward_f64(b, ones, n, 1, 42);
	tap_ok(chk_maxabs(b, n) == 0, "dropout: p = 1 zeroes");

	// in place = out of place
	memcpy(b, ones, n * sizeof *b);
	nys_dropout_forward_f64(b, b, n, p, 42);
	tap_ok(memcmp(a, b, n * sizeof *a) == 0, "dropout: in place");

	o_inp = chk_rnd(&rs, ON, -1, 1);
	o_G = chk_rnd(&rs, ON, -1, 1);
	double *base = chk_rnd(&rs, ON, -1, 1), *d = chk_dup(base, ON);
	nys_dropout_backward_f64(d, o_G, ON, 0.3, 77);
	fd_check("dropout dinp", o_inp, ON, d, base, dropout_loss);

	free(base), free(d), free(o_inp), free(o_G);
	free(fo), free(fi), free(ones), free(a), free(b);
}

/* ---- embeddings -------------------------------------------------------- */

enum { MB = 2, MT = 5, MC = 6, MV = 7, MTY = 2 };
static double *m_wte, *m_wpe, *m_wtt, *m_G;
static int32_t m_ids[MB * MT] = {3, 1, 4, 1, 5, 6, 2, 6, 5, 3};
static int32_t m_tt[MB * MT] = {0, 0, 0, 1, 1, 0, 0, 1, 1, 1};

static double embedding_loss(void *ctx)
{
	double out[MB * MT * MC];
	nys_embedding_forward_f64(out, m_ids, m_tt, m_wte, m_wpe, m_wtt, MB, MT, MC);
	return chk_dot(out, m_G, MB * MT * MC);
}

static void test_embedding(void)
{
	// position offset: wpe row r holds r, the other tables 0
	size_t npos = MT + NYS_POS_OFFSET;
	double *wte = calloc(MV * MC, sizeof *wte), *wtt = calloc(MTY * MC, sizeof *wtt);
	double *wpe = malloc(npos * MC * sizeof *wpe), out[MB * MT * MC];
	for (size_t r = 0; r < npos; r++)
		for (int c = 0; c < MC; c++)
			wpe[r * MC + c] = (double)r;
	nys_embedding_forward_f64(out, m_ids, NULL, wte, wpe, wtt, MB, MT, MC);
	int ok = 1;
	for (int b = 0; b < MB; b++)
		for (int t = 0; t < MT; t++)
			for (int c = 0; c < MC; c++)
				ok &= out[(b * MT + t) * MC + c] == t + 2;
	tap_ok(ok && NYS_POS_OFFSET == 2, "embedding: position t uses row t + 2 in every sequence");

	// the sum, type_ids NULL = all type 0
	m_wte = chk_rnd(&rs, MV * MC, -1, 1);
	m_wpe = chk_rnd(&rs, npos * MC, -1, 1);
	m_wtt = chk_rnd(&rs, MTY * MC, -1, 1);
	m_G = chk_rnd(&rs, MB * MT * MC, -1, 1);
	int32_t zeros[MB * MT] = {0};
	double out2[MB * MT * MC];
	nys_embedding_forward_f64(out, m_ids, NULL, m_wte, m_wpe, m_wtt, MB, MT, MC);
	nys_embedding_forward_f64(out2, m_ids, zeros, m_wte, m_wpe, m_wtt, MB, MT, MC);
	ok = memcmp(out, out2, sizeof out) == 0;
	for (int bt = 0; bt < MB * MT; bt++)
		for (int c = 0; c < MC; c++)
			ok &= out[bt * MC + c] ==
			      m_wte[m_ids[bt] * MC + c] + m_wpe[(bt % MT + 2) * MC + c] + m_wtt[c];
	tap_ok(ok, "embedding: word + position + type; NULL type ids are type 0");

	// backward never touches position rows 0, 1 or past T + 1
	double *zpe = calloc((npos + 3) * MC, sizeof *zpe);
	nys_embedding_backward_f64(NULL, zpe, NULL, m_G, m_ids, NULL, MB, MT, MC);
	ok = 1;
	for (size_t r = 0; r < npos + 3; r++)
		for (int c = 0; c < MC; c++)
			ok &= (zpe[r * MC + c] != 0) == (r >= 2 && r < npos);
	tap_ok(ok, "embedding: backward scatters into position rows 2..T+1 only");

	double *b_te = chk_rnd(&rs, MV * MC, -1, 1), *b_pe = chk_rnd(&rs, npos * MC, -1, 1), *b_tt = chk_rnd(&rs, MTY * MC, -1, 1);
	double *d_te = chk_dup(b_te, MV * MC), *d_pe = chk_dup(b_pe, npos * MC), *d_tt = chk_dup(b_tt, MTY * MC);
	nys_embedding_backward_f64(d_te, d_pe, d_tt, m_G, m_ids, m_tt, MB, MT, MC);
	fd_check("embedding dwte", m_wte, MV * MC, d_te, b_te, embedding_loss);
	fd_check("embedding dwpe", m_wpe, npos * MC, d_pe, b_pe, embedding_loss);
	fd_check("embedding dwtt", m_wtt, MTY * MC, d_tt, b_tt, embedding_loss);

	// a bigger case (parallel), many repeated ids: bitwise the same on 1 thread
	// and on several, and the same as a plain serial scatter
	int B = 4, T = 64, C = 200, V = 10;
	size_t nt_ = (size_t)B * T * C;
	double *G = chk_rnd(&rs, nt_, -1, 1);
	int32_t *ids = malloc((size_t)B * T * sizeof *ids);
	for (int i = 0; i < B * T; i++)
		ids[i] = (int32_t)(chk_next(&rs) % (uint64_t)V);
	double *g1 = calloc((size_t)V * C, sizeof *g1), *g2 = calloc((size_t)V * C, sizeof *g2);
	double *g3 = calloc((size_t)V * C, sizeof *g3);
	double *p1 = calloc((size_t)(T + 2) * C, sizeof *p1), *p2 = calloc((size_t)(T + 2) * C, sizeof *p2);
	double *t1 = calloc(C, sizeof *t1), *t2 = calloc(C, sizeof *t2);
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	nys_embedding_backward_f64(g1, p1, t1, G, ids, NULL, B, T, C);
	omp_set_num_threads(nt > 1 ? nt : 2);
	nys_embedding_backward_f64(g2, p2, t2, G, ids, NULL, B, T, C);
	omp_set_num_threads(nt);
	for (int bt = 0; bt < B * T; bt++)
		for (int c = 0; c < C; c++)
			g3[(size_t)ids[bt] * C + c] += G[(size_t)bt * C + c];
	tap_ok(memcmp(g1, g2, (size_t)V * C * sizeof *g1) == 0 &&
	       memcmp(p1, p2, (size_t)(T + 2) * C * sizeof *p1) == 0 &&
	       memcmp(t1, t2, (size_t)C * sizeof *t1) == 0,
	       "embedding: backward bitwise the same on 1 thread and on several");
	tap_ok(memcmp(g1, g3, (size_t)V * C * sizeof *g1) == 0,
	       "embedding: backward bitwise the serial scatter in token order");

	free(G), free(ids), free(g1), free(g2), free(g3), free(p1), free(p2), free(t1), free(t2);
	free(b_te), free(b_pe), free(b_tt), free(d_te), free(d_pe), free(d_tt), free(zpe);
	free(wte), free(wtt), free(wpe), free(m_wte), free(m_wpe), free(m_wtt), free(m_G);
}

/* ---- gather ------------------------------------------------------------ */

enum { GN = 8, GC = 5, GM = 6 };
static double *g_inp, *g_G;
static const int32_t g_rows[GM] = {3, 0, 7, 3, 5, 3}; /* with repeats */

static double gather_loss(void *ctx)
{
	double out[GM * GC];
	nys_gather_forward_f64(out, g_inp, g_rows, GM, GC);
	return chk_dot(out, g_G, GM * GC);
}

static void test_gather(void)
{
	g_inp = chk_rnd(&rs, GN * GC, -1, 1);
	g_G = chk_rnd(&rs, GM * GC, -1, 1);
	double out[GM * GC];
	nys_gather_forward_f64(out, g_inp, g_rows, GM, GC);
	int ok = 1;
	for (int m = 0; m < GM; m++)
		ok &= memcmp(out + m * GC, g_inp + g_rows[m] * GC, GC * sizeof *out) == 0;
	tap_ok(ok, "gather: picks the rows");
	double *base = chk_rnd(&rs, GN * GC, -1, 1), *d = chk_dup(base, GN * GC);
	nys_gather_backward_f64(d, g_G, g_rows, GM, GC);
	fd_check("gather dinp (repeated rows)", g_inp, GN * GC, d, base, gather_loss);
	free(base), free(d), free(g_inp), free(g_G);
}

/* ---- losses ------------------------------------------------------------ */

enum { XN = 6, XV = 11 };
static double *x_logits;
static int32_t x_labels[XN] = {3, 0, -100, 10, 5, 3};

static double ce_loss(void *ctx)
{
	double probs[XN * XV], losses[XN];
	return nys_crossentropy_forward_f64(probs, losses, NULL, x_logits, x_labels, XN, XV, 0.2);
}

static double *s_pred, *s_tgt;
enum { SN = 7 };

static double mse_loss(void *ctx)
{
	return nys_mse_forward_f64(s_pred, s_tgt, SN, 1.0 / SN);
}

static void test_losses(void)
{
	// by hand: rows [1 2 3] label 2 and [0 0] ... as a (3, 3) case with a
	// third ignored row; values from python3 math.log/exp
	double logits[9] = {1, 2, 3, 0, 0, -1e30, 5, 6, 7}, probs[9], losses[3];
	int32_t labels[3] = {2, 0, -100}, pred[3];
	// row 1: logits (0, 0, -1e30) is softmax over two equal values, loss log 2
	double L = nys_crossentropy_forward_f64(probs, losses, pred, logits, labels, 3, 3, 0.5);
	tap_ok(fabs(losses[0] - 0.40760596444438013) < 1e-15 &&
	       fabs(losses[1] - 0.6931471805599453) < 1e-15 && losses[2] == 0,
	       "cross-entropy: per-row losses by hand, ignored row 0");
	tap_ok(fabs(L - 0.5503765725021628) < 1e-15, "cross-entropy: mean over labelled rows by hand");
	tap_ok(pred[0] == 2 && pred[1] == 0 && pred[2] == 2, "cross-entropy: argmax, first on ties");
	double s = 0;
	for (int v = 0; v < 3; v++)
		s += probs[v];
	tap_ok(fabs(s - 1) < 1e-15 && fabs(probs[1] - exp(2 - 3 - 0.40760596444438013)) < 1e-15,
	       "cross-entropy: probs are the softmax");

	// huge logits stay finite; in place gives the same
	double big[2] = {1000, 0}, bp[2], bl[1];
	int32_t by[1] = {1};
	double Lb = nys_crossentropy_forward_f64(bp, bl, NULL, big, by, 1, 2, 1);
	tap_ok(fabs(Lb - 1000) < 1e-12, "cross-entropy: loss 1000 for a logit gap of 1000");
	double inpl[9];
	memcpy(inpl, logits, sizeof inpl);
	nys_crossentropy_forward_f64(inpl, losses, NULL, inpl, labels, 3, 3, 0.5);
	tap_ok(memcmp(inpl, probs, sizeof inpl) == 0, "cross-entropy: softmax in place");

	// backward vs finite differences, with an ignored row and repeated labels
	x_logits = chk_rnd(&rs, XN * XV, -3, 3);
	double xp[XN * XV], xl[XN];
	nys_crossentropy_forward_f64(xp, xl, NULL, x_logits, x_labels, XN, XV, 0.2);
	double *base = chk_rnd(&rs, XN * XV, -1, 1), *d = chk_dup(base, XN * XV);
	nys_crossentropy_backward_f64(d, xp, x_labels, XN, XV, 0.2, 1.0);
	fd_check("cross-entropy dlogits", x_logits, XN * XV, d, base, ce_loss);
	tap_ok(memcmp(d + 2 * XV, base + 2 * XV, XV * sizeof *d) == 0,
	       "cross-entropy: ignored row gets no gradient");
	free(base), free(d), free(x_logits);

	// squared error
	double sp[2] = {1, 2}, st[2] = {0, 4};
	tap_ok(nys_mse_forward_f64(sp, st, 2, 0.5) == 2.5, "mse: mean of (1, 4) is 2.5");
	s_pred = chk_rnd(&rs, SN, -2, 2);
	s_tgt = chk_rnd(&rs, SN, -2, 2);
	base = chk_rnd(&rs, SN, -1, 1);
	d = chk_dup(base, SN);
	nys_mse_backward_f64(d, s_pred, s_tgt, SN, 1.0 / SN, 1.0);
	fd_check("mse dpred", s_pred, SN, d, base, mse_loss);
	free(base), free(d), free(s_pred), free(s_tgt);
}

/* ---- float against double --------------------------------------------- */

/* Realistic sizes, inputs rounded to float so that both see the same
 * numbers; the criterion 1e-5 is ~100 float epsilons, room for sums over
 * a few hundred terms. */
static void test_f32(void)
{
	int N = 96, C = 192, OC = 160, V = 300;
	size_t nc = (size_t)N * C, no = (size_t)N * OC;
	double *inp = chk_rnd(&rs, nc, -1, 1), *w = chk_rnd(&rs, (size_t)OC * C, -0.1, 0.1), *b = chk_rnd(&rs, OC, -0.1, 0.1);
	double *g = chk_rnd(&rs, no, -1, 1);
	chk_round_f32(inp, nc), chk_round_f32(w, (size_t)OC * C), chk_round_f32(b, OC), chk_round_f32(g, no);
	float *finp = chk_to_f32(inp, nc), *fw = chk_to_f32(w, (size_t)OC * C), *fb = chk_to_f32(b, OC), *fg = chk_to_f32(g, no);

	double *out = malloc(no * sizeof *out);
	float *fout = malloc(no * sizeof *fout);
	nys_linear_forward_f64(out, inp, w, b, N, C, OC);
	nys_linear_forward_f32(fout, finp, fw, fb, N, C, OC);
	f32_check("linear forward", fout, out, no);
	double *di = calloc(nc, sizeof *di), *dw = calloc((size_t)OC * C, sizeof *dw);
	double *db = calloc(OC, sizeof *db);
	float *fdi = calloc(nc, sizeof *fdi), *fdw = calloc((size_t)OC * C, sizeof *fdw);
	float *fdb = calloc(OC, sizeof *fdb);
	nys_linear_backward_f64(di, dw, db, g, inp, w, N, C, OC);
	nys_linear_backward_f32(fdi, fdw, fdb, fg, finp, fw, N, C, OC);
	f32_check("linear backward dinp", fdi, di, nc);
	f32_check("linear backward dweight", fdw, dw, (size_t)OC * C);
	f32_check("linear backward dbias", fdb, db, OC);

	// layernorm on (N, C)
	double *lw = chk_rnd(&rs, C, 0.5, 1.5), *lb = chk_rnd(&rs, C, -0.5, 0.5), *lg = chk_rnd(&rs, nc, -1, 1);
	chk_round_f32(lw, C), chk_round_f32(lb, C), chk_round_f32(lg, nc);
	float *flw = chk_to_f32(lw, C), *flb = chk_to_f32(lb, C), *flg = chk_to_f32(lg, nc);
	double *lo = malloc(nc * sizeof *lo), mean[96], rstd[96];
	float *flo = malloc(nc * sizeof *flo), fmean[96], frstd[96];
	nys_layernorm_forward_f64(lo, mean, rstd, inp, lw, lb, N, C, 1e-5);
	nys_layernorm_forward_f32(flo, fmean, frstd, finp, flw, flb, N, C, 1e-5f);
	f32_check("layernorm forward", flo, lo, nc);
	memset(di, 0, nc * sizeof *di), memset(fdi, 0, nc * sizeof *fdi);
	double *ldw = calloc(C, sizeof *ldw), *ldb = calloc(C, sizeof *ldb);
	float *fldw = calloc(C, sizeof *fldw), *fldb = calloc(C, sizeof *fldb);
	nys_layernorm_backward_f64(di, ldw, ldb, lg, inp, lw, mean, rstd, N, C);
	nys_layernorm_backward_f32(fdi, fldw, fldb, flg, finp, flw, fmean, frstd, N, C);
	f32_check("layernorm backward dinp", fdi, di, nc);
	f32_check("layernorm backward dweight", fldw, ldw, C);
	f32_check("layernorm backward dbias", fldb, ldb, C);

	// element-wise on (N, C), scaled to [-4, 4]
	double *x4 = malloc(nc * sizeof *x4);
	for (size_t i = 0; i < nc; i++)
		x4[i] = 4 * inp[i];
	float *fx4 = chk_to_f32(x4, nc);
	double *eo = malloc(nc * sizeof *eo);
	float *feo = malloc(nc * sizeof *feo);
	nys_gelu_forward_f64(eo, x4, nc);
	nys_gelu_forward_f32(feo, fx4, nc);
	f32_check("gelu (tanh) forward", feo, eo, nc);
	memset(di, 0, nc * sizeof *di), memset(fdi, 0, nc * sizeof *fdi);
	nys_gelu_backward_f64(di, lg, x4, nc);
	nys_gelu_backward_f32(fdi, flg, fx4, nc);
	f32_check("gelu (tanh) backward", fdi, di, nc);
	nys_gelu_erf_forward_f64(eo, x4, nc);
	nys_gelu_erf_forward_f32(feo, fx4, nc);
	f32_check("gelu (erf) forward", feo, eo, nc);
	nys_tanh_forward_f64(eo, x4, nc);
	nys_tanh_forward_f32(feo, fx4, nc);
	f32_check("tanh forward", feo, eo, nc);
	nys_dropout_forward_f64(eo, x4, nc, 0.1, 5);
	nys_dropout_forward_f32(feo, fx4, nc, 0.1f, 5);
	f32_check("dropout forward", feo, eo, nc);

	// cross-entropy on (N, V), all rows labelled but one
	size_t nv = (size_t)N * V;
	double *z = chk_rnd(&rs, nv, -5, 5), *pr = malloc(nv * sizeof *pr), *ls = malloc(N * sizeof *ls);
	chk_round_f32(z, nv);
	float *fz = chk_to_f32(z, nv), *fpr = malloc(nv * sizeof *fpr), *fls = malloc(N * sizeof *fls);
	int32_t *y = malloc(N * sizeof *y);
	for (int i = 0; i < N; i++)
		y[i] = i == 7 ? -100 : (int32_t)(chk_next(&rs) % (uint64_t)V);
	double Ld = nys_crossentropy_forward_f64(pr, ls, NULL, z, y, N, V, 1.0 / (N - 1 + 1e-6));
	float Lf = nys_crossentropy_forward_f32(fpr, fls, NULL, fz, y, N, V, 1.0f / (N - 1 + 1e-6f));
	f32_check("cross-entropy probs", fpr, pr, nv);
	f32_check("cross-entropy loss", &Lf, &Ld, 1);
	double *dz = calloc(nv, sizeof *dz);
	float *fdz = calloc(nv, sizeof *fdz);
	nys_crossentropy_backward_f64(dz, pr, y, N, V, 1.0 / (N - 1 + 1e-6), 1);
	nys_crossentropy_backward_f32(fdz, fpr, y, N, V, 1.0f / (N - 1 + 1e-6f), 1);
	f32_check("cross-entropy backward", fdz, dz, nv);

	free(z), free(pr), free(ls), free(fz), free(fpr), free(fls), free(y), free(dz), free(fdz);
	free(x4), free(fx4), free(eo), free(feo);
	free(lw), free(lb), free(lg), free(flw), free(flb), free(flg), free(lo), free(flo);
	free(ldw), free(ldb), free(fldw), free(fldb);
	free(inp), free(w), free(b), free(g), free(finp), free(fw), free(fb), free(fg);
	free(out), free(fout), free(di), free(dw), free(db), free(fdi), free(fdw), free(fdb);
}

/* ---- thread-count independence of the column-block reductions --------- */

static void test_threads(void)
{
	int N = 300, C = 260;
	size_t nc = (size_t)N * C;
	double *x = chk_rnd(&rs, nc, -1, 1), *g = chk_rnd(&rs, nc, -1, 1), *w = chk_rnd(&rs, C, 0.5, 1.5), *b = chk_rnd(&rs, C, -1, 1);
	double *out = malloc(nc * sizeof *out), *mean = malloc(N * sizeof *mean);
	double *rstd = malloc(N * sizeof *rstd);
	double *d1 = calloc(nc, sizeof *d1), *d2 = calloc(nc, sizeof *d2);
	double *w1 = calloc(C, sizeof *w1), *w2 = calloc(C, sizeof *w2);
	double *b1 = calloc(C, sizeof *b1), *b2 = calloc(C, sizeof *b2);
	double *lb1 = calloc(C, sizeof *lb1), *lb2 = calloc(C, sizeof *lb2);
	int32_t rows[100];
	for (int m = 0; m < 100; m++)
		rows[m] = (int32_t)(chk_next(&rs) % 20);
	double *gi1 = calloc((size_t)20 * C, sizeof *gi1), *gi2 = calloc((size_t)20 * C, sizeof *gi2);
	int nt = omp_get_max_threads();
	for (int k = 0; k < 2; k++) {
		omp_set_num_threads(k == 0 ? 1 : (nt > 1 ? nt : 2));
		nys_layernorm_forward_f64(out, mean, rstd, x, w, b, N, C, 1e-5);
		nys_layernorm_backward_f64(k ? d2 : d1, k ? w2 : w1, k ? b2 : b1, g, x, w, mean, rstd, N, C);
		nys_linear_backward_f64(NULL, NULL, k ? lb2 : lb1, g, NULL, NULL, N, 0, C);
		nys_gather_backward_f64(k ? gi2 : gi1, g, rows, 100, C);
	}
	omp_set_num_threads(nt);
	tap_ok(memcmp(d1, d2, nc * sizeof *d1) == 0 && memcmp(w1, w2, C * sizeof *w1) == 0 &&
	       memcmp(b1, b2, C * sizeof *b1) == 0,
	       "layernorm: backward bitwise the same on 1 thread and on several");
	tap_ok(memcmp(lb1, lb2, C * sizeof *lb1) == 0, "linear: dbias bitwise the same on 1 thread and on several");
	tap_ok(memcmp(gi1, gi2, (size_t)20 * C * sizeof *gi1) == 0,
	       "gather: backward bitwise the same on 1 thread and on several");
	free(x), free(g), free(w), free(b), free(out), free(mean), free(rstd), free(d1), free(d2);
	free(w1), free(w2), free(b1), free(b2), free(lb1), free(lb2), free(gi1), free(gi2);
}

/* The head permutations: each backward is the adjoint of its forward
 * (<f(x), y> = <x, f*(y)> for every x, y: the exact derivative of a linear
 * map), split's pieces land where the rows say, and merge undoes split. */
static void test_heads(void)
{
	enum { B = 2, T = 5, H = 3, D = 4, A = H * D };
	size_t n = (size_t)B * T * A;
	double *qkv = chk_rnd(&rs, 3 * n, -1, 1), *q = calloc(n, sizeof *q), *k = calloc(n, sizeof *k),
	       *v = calloc(n, sizeof *v);
	nys_split_heads_forward_f64(q, k, v, qkv, B, T, H, D);
	/* element (b, t, j, h, d) of qkv is element (b, h, t, d) of q, k or v */
	int placed = 1;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int h = 0; h < H; h++)
				for (int d = 0; d < D; d++) {
					size_t src = ((size_t)b * T + t) * 3 * A + (size_t)h * D + d;
					size_t dst = (((size_t)b * H + h) * T + t) * D + d;
					placed &= q[dst] == qkv[src] && k[dst] == qkv[src + A] &&
					          v[dst] == qkv[src + 2 * A];
				}
	tap_ok(placed, "split_heads: Q, K, V of each row go to (b, h, t, d)");
	double *gq = chk_rnd(&rs, n, -1, 1), *gk = chk_rnd(&rs, n, -1, 1), *gv = chk_rnd(&rs, n, -1, 1);
	double *g = calloc(3 * n, sizeof *g);
	nys_split_heads_backward_f64(g, gq, gk, gv, B, T, H, D);
	double lhs = chk_dot(q, gq, n) + chk_dot(k, gk, n) + chk_dot(v, gv, n), rhs = chk_dot(qkv, g, 3 * n);
	tap_ok(fabs(lhs - rhs) < 1e-12 * fabs(lhs), "split_heads backward is its forward's adjoint");
	nys_split_heads_backward_f64(g, gq, gk, gv, B, T, H, D);
	tap_ok(fabs(chk_dot(qkv, g, 3 * n) - 2 * rhs) < 1e-12 * fabs(rhs),
	       "split_heads backward accumulates");

	double *m = calloc(n, sizeof *m), *back = calloc(n, sizeof *back);
	nys_merge_heads_forward_f64(m, q, B, T, H, D);
	int undone = 1;
	for (int r = 0; r < B * T; r++)
		for (int j = 0; j < A; j++)
			undone &= m[(size_t)r * A + j] == qkv[(size_t)r * 3 * A + j];
	tap_ok(undone, "merge_heads undoes split_heads");
	double *gm = chk_rnd(&rs, n, -1, 1);
	nys_merge_heads_backward_f64(back, gm, B, T, H, D);
	tap_ok(fabs(chk_dot(m, gm, n) - chk_dot(q, back, n)) < 1e-12 * fabs(chk_dot(m, gm, n)),
	       "merge_heads backward is its forward's adjoint");
	free(qkv), free(q), free(k), free(v), free(gq), free(gk), free(gv), free(g), free(m);
	free(back), free(gm);
}

/* The AVX-512 GELU (libnys/cpu/gelu_avx512.c) against the portable loops'
 * formula, written out here in float: the same bits, on a million inputs
 * across [-30, 30] and the special values. */
int nys_gelu_avx512_usable(void);
void nys_gelu_forward_avx512(float *out, const float *inp, size_t n);
void nys_gelu_backward_avx512(float *dinp, const float *dout, const float *inp, size_t n);

static float ref_expf(float x0)
{
	uint32_t ux, lim = 0xC2AE999Au;
	memcpy(&ux, &x0, sizeof ux);
	uint32_t over = ux > lim, uc = over ? lim : ux;
	float x;
	memcpy(&x, &uc, sizeof x);
	float t = x * 1.44269504088896341f;
	int k = (int)(t - 0.5f);
	float fn = (float)k;
	float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1;
	uint32_t sbits = (uint32_t)(k + 127) << 23, ybits;
	float scale, y;
	memcpy(&scale, &sbits, sizeof scale);
	y = p * scale;
	memcpy(&ybits, &y, sizeof ybits);
	ybits &= over - 1;
	memcpy(&y, &ybits, sizeof y);
	return y;
}

static float ref_clamp(float x) { return x < -16.0f ? -16.0f : x > 16.0f ? 16.0f : x; }

static float ref_gelu_e(float x)
{
	float m = -2.0f * 0.79788456080286535588f * (x + 0.044715f * x * x * x);
	return ref_expf(m < 80.0f ? m : 80.0f);
}

static void test_gelu_avx512(void)
{
	if (!nys_gelu_avx512_usable()) {
		printf("ok %d # SKIP no AVX-512 on this CPU\n", ++tap_n);
		return;
	}
	size_t n = 1000003;
	float *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g), *a = malloc(n * sizeof *a);
	float *da = calloc(n, sizeof *da);
	for (size_t i = 0; i < n; i++) {
		x[i] = (float)chk_unif(&rs, -30, 30);
		g[i] = (float)chk_unif(&rs, -1, 1);
		da[i] = (float)chk_unif(&rs, -1, 1);
	}
	x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e30f, x[3] = -1e30f, x[4] = 16.0f, x[5] = -16.0f;
	nys_gelu_forward_avx512(a, x, n);
	size_t bad = 0, badb = 0;
	for (size_t i = 0; i < n; i++) {
		float xc = ref_clamp(x[i]), want = (x[i] > 0 ? x[i] : xc) / (1.0f + ref_gelu_e(xc));
		bad += memcmp(&want, &a[i], sizeof want) != 0;
	}
	float *db = malloc(n * sizeof *db);
	memcpy(db, da, n * sizeof *db);
	nys_gelu_backward_avx512(da, g, x, n);
	for (size_t i = 0; i < n; i++) {
		float xc = ref_clamp(x[i]), e = ref_gelu_e(xc), s = 1.0f / (1.0f + e);
		float du = 0.79788456080286535588f * (1.0f + 3.0f * 0.044715f * xc * xc);
		float want = db[i] + (s + 2.0f * xc * s * (e * s) * du) * g[i];
		badb += memcmp(&want, &da[i], sizeof want) != 0;
	}
	printf("# AVX-512 GELU: %zu forward, %zu backward mismatches in %zu\n", bad, badb, n);
	tap_ok(bad == 0 && badb == 0, "AVX-512 GELU forward and backward: the portable formula's bits");
	free(x), free(g), free(a), free(da), free(db);
}

int main(void)
{
	test_heads();
	test_gelu_avx512();
	test_linear();
	test_layernorm();
	test_elementwise();
	test_dropout();
	test_embedding();
	test_gather();
	test_losses();
	test_f32();
	test_threads();
	return tap_done();
}
