/* The whole model (libnys/model/model.c, model_run.c) on the CPU backend:
 *
 *  - the gradient of the loss with respect to every parameter tensor
 *    against central finite differences in double precision, on tiny
 *    configs: both attention types, with and without padding, lengths
 *    divisible by the landmark count and not, both pseudo-inverse
 *    initialisations, conv on and off, the embedding projection, token
 *    types, dropout on (its masks are functions of the seed), the MLM
 *    head and the classifier (cross-entropy and regression);
 *  - properties: Nystrom with num_landmarks = seq_len is softmax attention;
 *    padding leaves softmax attention's real positions unchanged; float
 *    agrees with double; eval ignores the seed, training does not;
 *    backward accumulates;
 *  - checkpoints: save and load round trip, missing and mis-shaped
 *    tensors named, optional heads; bad batches refused, named.
 */
#include "nys_model.h"
#include "check.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 42;
static uint64_t next(void) { return chk_next(&rng_state); }
static double unif(void) { return chk_unif01(&rng_state); }

static nys_model_config base_cfg(void)
{
	nys_model_config c = {
		.vocab_size = 23, .num_sen_type = 1, .max_seq_len = 20,
		.embedding_dim = 8, .transformer_dim = 8, .transformer_hidden_dim = 12,
		.num_layers = 2, .num_head = 2, .head_dim = 4, .dropout_prob = 0.1,
		.attn_type = NYS_ATTN_NYSTROM, .num_landmarks = 4, .seq_len = 16,
		.conv_kernel_size = 3, .inv_init = NYS_INV_INIT_ORIGINAL,
		.inv_iterations = 6,
	};
	return c;
}

typedef struct batchbuf {
	int32_t ids[4 * 20], types[4 * 20], labels[4 * 20];
	float mask[4 * 20], targets[4];
	nys_batch b;
} batchbuf;

/* B sequences of T tokens; pad_last: the last sequence's final pad_last
 * positions are padding; every third position labelled (MLM) or per
 * sequence labels (classifier). */
static void make_batch(batchbuf *bb, const nys_model_config *c, const nys_model_opts *o, int B,
                       int T, int pad_last, bool types)
{
	memset(bb, 0, sizeof *bb);
	for (int i = 0; i < B * T; i++) {
		bb->ids[i] = (int32_t)(next() % c->vocab_size);
		bb->types[i] = (int32_t)(next() % c->num_sen_type);
		bb->mask[i] = 1;
		bb->labels[i] = i % 3 == 1 ? (int32_t)(next() % c->vocab_size) : NYS_IGNORE_LABEL;
	}
	for (int t = T - pad_last; t < T; t++) {
		bb->mask[(B - 1) * T + t] = 0;
		bb->ids[(B - 1) * T + t] = 0;
		bb->labels[(B - 1) * T + t] = NYS_IGNORE_LABEL;
	}
	if (o->num_labels >= 2)
		for (int b = 0; b < B; b++)
			bb->labels[b] = (int32_t)(next() % (uint64_t)o->num_labels);
	for (int b = 0; b < B; b++)
		bb->targets[b] = (float)(2 * unif() - 1);
	bb->b = (nys_batch){
		.B = B, .T = T, .ids = bb->ids, .type_ids = types ? bb->types : NULL,
		.mask = pad_last ? bb->mask : NULL, .labels = bb->labels,
		.targets = o->num_labels == 1 ? bb->targets : NULL,
	};
}

/* Perturb the initial weights so that LayerNorm weights, biases and the
 * MLM bias are not at their special values (1, 0) and every gradient path
 * is exercised. */
static void jitter(nys_model *m)
{
	nys_err e = {0};
	double *p = nys_model_copy(m, NYS_BUF_PARAMS, &e);
	for (size_t i = 0; i < nys_model_nparams(m); i++)
		p[i] += 0.1 * (2 * unif() - 1);
	nys_model_set(m, NYS_BUF_PARAMS, 0, nys_model_nparams(m), p, &e);
	free(p);
}

/* The host copy p of the parameters into the model. */
static void put_params(nys_model *m, const void *p)
{
	nys_err e = {0};
	if (nys_model_set(m, NYS_BUF_PARAMS, 0, nys_model_nparams(m), p, &e))
		printf("# %s\n", e.msg);
}

static double loss_of(nys_model *m, const nys_batch *b, bool train, uint64_t seed)
{
	nys_err e = {0};
	nys_model_stats st;
	if (nys_model_forward(m, b, train, seed, &st, &e)) {
		printf("# forward: %s\n", e.msg);
		return NAN;
	}
	return st.loss;
}

/* The loss with the host parameters p put into the model: a chk_loss_fn. */
struct fd_ctx {
	nys_model *m;
	const double *p;
	const nys_batch *b;
	bool train;
	uint64_t seed;
};

static double fd_loss(void *ctx)
{
	struct fd_ctx *f = ctx;
	put_params(f->m, f->p);
	return loss_of(f->m, f->b, f->train, f->seed);
}

/* Every tensor: the directional derivative along a random direction
 * restricted to the tensor, and three single elements, against central
 * differences.  Returns the worst relative error. */
static double grad_check(nys_model *m, const nys_batch *b, bool train, const char *name)
{
	nys_err e = {0};
	uint64_t seed = 777;
	double *p = nys_model_copy(m, NYS_BUF_PARAMS, &e), *g = NULL;
	if (!p || nys_model_zero_grad(m, &e) || nys_model_forward(m, b, train, seed, NULL, &e) ||
	    nys_model_backward(m, 1.0, &e) || !(g = nys_model_copy(m, NYS_BUF_GRADS, &e))) {
		printf("# %s: %s\n", name, e.msg);
		free(p);
		return INFINITY;
	}
	double worst = 0, h = 1e-5, gmax = 0;
	struct fd_ctx ctx = {m, p, b, train, seed};
	/* Central differences of a loss near 3 carry rounding noise near
	 * 1e-16 * 3 / h = 3e-11: single elements are compared relative to
	 * their own size, but not below a thousandth of the largest gradient
	 * (some are exactly 0, such as the key bias's under softmax). */
	for (size_t j = 0; j < nys_model_nparams(m); j++)
		gmax = fmax(gmax, fabs(g[j]));
	char what[160] = "";
	for (size_t ti = 0; ti < nys_model_ntensors(m); ti++) {
		const nys_tensor_info *t = nys_model_tensor(m, ti);
		if (t->alias)
			continue;
		double *u = malloc(t->numel * sizeof *u);
		double gu = 0, un = 0;
		for (size_t j = 0; j < t->numel; j++) {
			u[j] = 2 * unif() - 1;
			gu += g[t->offset + j] * u[j];
			un += fabs(g[t->offset + j] * u[j]);
		}
		double fd = chk_central(p + t->offset, u, t->numel, h, fd_loss, &ctx);
		put_params(m, p);
		free(u);
		double err = fabs(fd - gu) / fmax(un, 1e-3 * gmax);
		if (!(err <= worst)) {
			worst = err;
			snprintf(what, sizeof what, "%s (fd %.12g, backward %.12g)", t->name, fd, gu);
		}
		for (int k = 0; k < 3; k++) {
			size_t j = t->offset + next() % t->numel;
			fd = chk_central(p + j, NULL, 1, h, fd_loss, &ctx);
			put_params(m, p);
			err = fabs(fd - g[j]) / fmax(fabs(fd) + fabs(g[j]), 1e-3 * gmax);
			if (!(err <= worst)) {
				worst = err;
				snprintf(what, sizeof what, "%s[%zu] (fd %.12g, backward %.12g)", t->name,
				         j - t->offset, fd, g[j]);
			}
		}
	}
	printf("# %s: worst relative error %.3g at %s\n", name, worst, what);
	free(p);
	free(g);
	return worst;
}

static nys_model *make_model(const nys_model_config *c, const nys_model_opts *o)
{
	nys_err e = {0};
	nys_model *m = nys_model_new(c, o, &e);
	if (!m) {
		printf("# nys_model_new: %s\n", e.msg);
		exit(1);
	}
	if (nys_model_init(m, 5, &e)) {
		printf("# nys_model_init: %s\n", e.msg);
		exit(1);
	}
	return m;
}

typedef struct gcase {
	const char *name;
	void (*edit)(nys_model_config *c, nys_model_opts *o);
	int B, T, pad;
	bool types, train;
} gcase;

static void e_plain(nys_model_config *c, nys_model_opts *o) { (void)c, (void)o; }
static void e_uneven(nys_model_config *c, nys_model_opts *o)
{
	(void)o;
	c->landmarks_skip_padding = true;
	c->inv_init = NYS_INV_INIT_NEW;
	c->conv_kernel_size = 0;
}
static void e_proj(nys_model_config *c, nys_model_opts *o)
{
	(void)o;
	c->embedding_dim = 6;
	c->head_gelu = NYS_GELU_ERF;
	c->num_sen_type = 2;
}
static void e_softmax(nys_model_config *c, nys_model_opts *o)
{
	(void)o;
	c->attn_type = NYS_ATTN_SOFTMAX;
	c->num_landmarks = c->seq_len = 0;
	c->conv_kernel_size = 0;
}
static void e_exact(nys_model_config *c, nys_model_opts *o)
{
	(void)o;
	c->num_landmarks = c->seq_len = 16;
}
static void e_cls(nys_model_config *c, nys_model_opts *o)
{
	(void)c;
	o->mlm = false;
	o->num_labels = 3;
}
static void e_reg(nys_model_config *c, nys_model_opts *o)
{
	(void)c;
	o->num_labels = 1;
	o->cls_act = NYS_CLS_GELU;
	o->mlm = false;
}
static void e_iters(nys_model_config *c, nys_model_opts *o)
{
	(void)o;
	c->inv_iterations = 2;
	c->num_layers = 1;
	c->conv_kernel_size = 5;
}

static void test_gradients(void)
{
	static const gcase cases[] = {
		{"nystrom, conv, T = 16 = 4 m, dropout", e_plain, 2, 16, 0, false, true},
		{"nystrom, conv, eval, padding", e_plain, 2, 16, 5, false, false},
		{"nystrom, T = 14 (uneven), padding, unpadded means, per-matrix init, no conv",
		 e_uneven, 2, 14, 4, false, true},
		{"nystrom, projection E != C, erf head, token types", e_proj, 2, 13, 3, true, true},
		{"softmax, padding, dropout", e_softmax, 3, 11, 4, false, true},
		{"nystrom, num_landmarks = seq_len (exact), padding", e_exact, 2, 12, 3, false, true},
		{"classifier, 3 classes, tanh, dropout", e_cls, 3, 9, 2, false, true},
		{"regression, gelu head", e_reg, 3, 9, 0, false, true},
		{"nystrom, 1 layer, 2 iterations, conv 5", e_iters, 2, 10, 0, false, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const gcase *k = &cases[i];
		nys_model_config c = base_cfg();
		nys_model_opts o = {.dtype = NYS_F64, .mlm = true};
		k->edit(&c, &o);
		nys_model *m = make_model(&c, &o);
		jitter(m);
		batchbuf bb;
		make_batch(&bb, &c, &o, k->B, k->T, k->pad, k->types);
		double worst = grad_check(m, &bb.b, k->train, k->name);
		char name[200];
		snprintf(name, sizeof name, "gradient of every tensor = finite differences: %s",
		         k->name);
		tap_ok(worst < 1e-6, name);
		nys_model_free(m);
	}
}

/* ---- properties ---------------------------------------------------------- */

/* The hidden states of an eval forward, a host copy (free() it). */
static double *hidden(nys_model *m, const nys_batch *b, size_t *n)
{
	nys_err e = {0};
	*n = 0;
	if (nys_model_forward(m, b, false, 1, NULL, &e)) {
		printf("# %s\n", e.msg);
		return NULL;
	}
	*n = nys_model_output_size(m, NYS_OUT_HIDDEN);
	double *h = malloc(*n * sizeof *h);
	if (h && nys_model_output(m, NYS_OUT_HIDDEN, h, &e)) {
		printf("# %s\n", e.msg);
		free(h);
		return NULL;
	}
	return h;
}

static void test_properties(void)
{
	/* Nystrom with num_landmarks = seq_len against softmax, same weights */
	nys_model_config cn = base_cfg(), cs = base_cfg();
	e_exact(&cn, NULL);
	cn.conv_kernel_size = 0;
	e_softmax(&cs, NULL);
	nys_model_opts o = {.dtype = NYS_F64, .mlm = true};
	nys_model *mn = make_model(&cn, &o), *ms = make_model(&cs, &o);
	jitter(mn);
	double *pn = nys_model_copy(mn, NYS_BUF_PARAMS, &(nys_err){{0}});
	put_params(ms, pn);
	free(pn);
	batchbuf bb;
	make_batch(&bb, &cn, &o, 2, 16, 0, false);
	size_t n1, n2;
	double *h1 = hidden(mn, &bb.b, &n1);
	double *keep = malloc(n1 * sizeof *keep);
	memcpy(keep, h1, n1 * sizeof *keep);
	double *h2 = hidden(ms, &bb.b, &n2);
	double d = n1 == n2 ? chk_maxdiff(keep, h2, n1) : INFINITY;
	free(h1);
	free(h2);
	printf("# nystrom(m = n) - softmax: %.3g\n", d);
	tap_ok(d < 1e-12, "Nystrom with num_landmarks = seq_len equals softmax attention");
	free(keep);

	/* softmax: padding appended leaves the real positions unchanged */
	batchbuf short_b, long_b;
	make_batch(&short_b, &cs, &o, 1, 9, 0, false);
	long_b = short_b;
	for (int t = 9; t < 14; t++) {
		long_b.ids[t] = 0;
		long_b.mask[t] = 0;
	}
	for (int t = 0; t < 9; t++)
		long_b.mask[t] = 1;
	long_b.b = short_b.b;
	long_b.b.ids = long_b.ids;
	long_b.b.mask = long_b.mask;
	long_b.b.labels = NULL;
	long_b.b.T = 14;
	short_b.b.labels = NULL;
	double *hs = hidden(ms, &short_b.b, &n1);
	keep = malloc(n1 * sizeof *keep);
	memcpy(keep, hs, n1 * sizeof *keep);
	double *hl = hidden(ms, &long_b.b, &n2);
	d = chk_maxdiff(keep, hl, n1); /* the first 9 rows of the padded batch */
	free(hs);
	free(hl);
	printf("# softmax padded - unpadded: %.3g\n", d);
	tap_ok(d < 1e-12, "padding leaves softmax attention's real positions unchanged");
	free(keep);
	nys_model_free(mn);
	nys_model_free(ms);

	/* float against double, same weights, every output */
	nys_model_config c = base_cfg();
	nys_model_opts o32 = {.dtype = NYS_F32, .mlm = true};
	nys_model *m64 = make_model(&c, &o), *m32 = make_model(&c, &o32);
	jitter(m64);
	double *p64 = nys_model_copy(m64, NYS_BUF_PARAMS, &(nys_err){{0}});
	float *p32 = nys_model_copy(m32, NYS_BUF_PARAMS, &(nys_err){{0}});
	for (size_t i = 0; i < nys_model_nparams(m64); i++)
		p32[i] = (float)p64[i];
	put_params(m32, p32);
	free(p64);
	free(p32);
	make_batch(&bb, &c, &o, 2, 15, 3, false);
	nys_err e = {0};
	nys_model_stats s64, s32;
	int rc = nys_model_forward(m64, &bb.b, true, 9, &s64, &e) ||
	         nys_model_forward(m32, &bb.b, true, 9, &s32, &e) || nys_model_zero_grad(m64, &e) ||
	         nys_model_zero_grad(m32, &e) || nys_model_backward(m64, 1, &e) ||
	         nys_model_backward(m32, 1, &e);
	tap_ok(!rc, "float and double models run");
	printf("# loss f64 %.10f f32 %.10f\n", s64.loss, s32.loss);
	tap_ok(fabs(s64.loss - s32.loss) < 1e-5 * fabs(s64.loss), "float loss = double loss (1e-5)");
	tap_ok(s64.count == s32.count && s64.correct == s32.correct, "same counts");
	double *g64 = nys_model_copy(m64, NYS_BUF_GRADS, &e);
	float *g32 = nys_model_copy(m32, NYS_BUF_GRADS, &e);
	double gd = 0, gm = 0;
	for (size_t i = 0; i < nys_model_nparams(m64); i++) {
		gd = fmax(gd, fabs(g64[i] - g32[i]));
		gm = fmax(gm, fabs(g64[i]));
	}
	free(g64);
	free(g32);
	printf("# gradients: max |f32 - f64| %.3g, max |f64| %.3g\n", gd, gm);
	tap_ok(gd < 1e-4 * gm, "float gradients = double gradients (1e-4 of the largest)");

	/* eval ignores the seed, training does not; backward accumulates */
	double a = loss_of(m64, &bb.b, false, 1), b = loss_of(m64, &bb.b, false, 2);
	tap_ok(a == b, "eval mode: no dropout, the seed does not matter");
	a = loss_of(m64, &bb.b, true, 1);
	b = loss_of(m64, &bb.b, true, 2);
	double a2 = loss_of(m64, &bb.b, true, 1);
	tap_ok(a != b && a == a2, "train mode: dropout masks follow the seed, reproducibly");
	double *g1 = malloc(nys_model_nparams(m64) * sizeof *g1);
	nys_model_zero_grad(m64, &e);
	nys_model_forward(m64, &bb.b, true, 3, NULL, &e);
	nys_model_backward(m64, 1, &e);
	nys_model_get(m64, NYS_BUF_GRADS, 0, nys_model_nparams(m64), g1, &e);
	nys_model_forward(m64, &bb.b, true, 3, NULL, &e);
	nys_model_backward(m64, 0.5, &e);
	g64 = nys_model_copy(m64, NYS_BUF_GRADS, &e);
	double acc = 0;
	for (size_t i = 0; i < nys_model_nparams(m64); i++)
		acc = fmax(acc, fabs(g64[i] - 1.5 * g1[i]));
	free(g64);
	tap_ok(acc < 1e-12, "backward adds dloss times the gradient to the buffer");
	rc = nys_model_backward(m64, 1, &e);
	tap_ok(rc == -1 && strstr(e.msg, "backward without"),
	       "a second backward without a forward is refused");
	free(g1);

	/* the MLM accuracy counts */
	nys_model_stats st;
	nys_model_forward(m64, &bb.b, false, 0, &st, &e);
	int labelled = 0;
	for (int i = 0; i < bb.b.B * bb.b.T; i++)
		labelled += bb.b.labels[i] >= 0;
	tap_ok(st.count == labelled, "MLM count = labelled positions");
	size_t nl = nys_model_output_size(m64, NYS_OUT_LOGITS);
	double *lg = malloc(nl * sizeof *lg);
	nys_model_output(m64, NYS_OUT_LOGITS, lg, &e);
	int correct = 0, row = 0;
	for (int i = 0; i < bb.b.B * bb.b.T; i++) {
		if (bb.b.labels[i] < 0)
			continue;
		const double *l = lg + (size_t)row++ * c.vocab_size;
		int best = 0;
		for (int v = 1; v < (int)c.vocab_size; v++)
			if (l[v] > l[best])
				best = v;
		correct += best == bb.b.labels[i];
	}
	tap_ok(nl == (size_t)labelled * c.vocab_size && st.correct == correct,
	       "logits at the labelled rows; correct = arg-max hits");
	free(lg);
	nys_model_free(m64);
	nys_model_free(m32);
}

/* ---- checkpoints and refusals ------------------------------------------------- */

static void test_checkpoints(void)
{
	char dir[256];
	if (!tap_scratch(dir, sizeof dir, "model")) {
		tap_ok(0, "scratch directory");
		return;
	}
	nys_err e = {0};
	nys_model_config c = base_cfg();
	nys_model_opts o = {.dtype = NYS_F32, .mlm = true};
	nys_model *m = make_model(&c, &o), *m2 = make_model(&c, &o);
	const char *path = tap_path(dir, "a.safetensors");
	tap_ok(!nys_model_save(m, path, NULL, &e), "save");
	nys_model_init(m2, 99, &e);
	tap_ok(!nys_model_load(m2, path, 0, &e), "load");
	float *pa = nys_model_copy(m, NYS_BUF_PARAMS, &e), *pb = nys_model_copy(m2, NYS_BUF_PARAMS, &e);
	tap_ok(pa && pb && !memcmp(pa, pb, nys_model_nparams(m) * sizeof(float)),
	       "load gives back the saved parameters bit for bit");
	nys_st *st = nys_st_load(path, &e);
	tap_ok(st && nys_st_has(st, "cls.predictions.decoder.weight") &&
	       nys_st_has(st, "nystromformer.encoder.layer.1.attention.self.conv.weight") &&
	       nys_st_meta(st, "nys_model") && strstr(nys_st_meta(st, "nys_model"), "num_landmarks"),
	       "HF names, the tied decoder and the config in the metadata");
	nys_st_free(st);

	/* a double model reads the float file */
	nys_model_opts o64 = {.dtype = NYS_F64, .mlm = true};
	nys_model *m64 = make_model(&c, &o64);
	double p7 = 0;
	tap_ok(!nys_model_load(m64, path, 0, &e) &&
	       !nys_model_get(m64, NYS_BUF_PARAMS, 7, 1, &p7, &e) && p7 == pa[7],
	       "F32 checkpoint into a double model");
	free(pa);
	free(pb);
	nys_model_free(m64);

	/* a classifier model from the pretrained file: heads optional */
	nys_model_opts oc = {.dtype = NYS_F32, .num_labels = 2};
	nys_model *mc = make_model(&c, &oc);
	tap_ok(nys_model_load(mc, path, 0, &e) == -1 && strstr(e.msg, "classifier.dense.weight") &&
	       strstr(e.msg, "missing"),
	       "a missing tensor is named");
	tap_ok(!nys_model_load(mc, path, NYS_LOAD_HEADS_OPTIONAL, &e),
	       "with NYS_LOAD_HEADS_OPTIONAL the classifier keeps its fresh weights");
	nys_model_free(mc);

	/* another shape */
	nys_model_config c2 = c;
	c2.transformer_hidden_dim = 16;
	nys_model *m3 = make_model(&c2, &o);
	tap_ok(nys_model_load(m3, path, 0, &e) == -1 &&
	       strstr(e.msg, "layer.0.intermediate.dense.weight has shape (12, 8), expected (16, 8)"),
	       "a mis-shaped tensor is named with both shapes");
	printf("# %s\n", e.msg);
	nys_model_free(m3);

	/* a shorter model's position table, tiled (from_cp) */
	nys_model_config cs = c, cl = c;
	cs.max_seq_len = 6;
	cl.max_seq_len = 18;
	nys_model *ms = make_model(&cs, &o), *ml = make_model(&cl, &o);
	const char *spath = tap_path(dir, "short.safetensors");
	int trc = nys_model_save(ms, spath, NULL, &e);
	tap_ok(!trc && nys_model_load(ml, spath, 0, &e) == -1 &&
	       strstr(e.msg, "position_embeddings.weight has shape (8, 8), expected (20, 8)"),
	       "a position table of another length is refused without tiling");
	tap_ok(!nys_model_load(ml, spath, NYS_LOAD_TILE_POSITIONS, &e),
	       "NYS_LOAD_TILE_POSITIONS loads it");
	const nys_tensor_info *ws = nys_model_find(ms, "nystromformer.embeddings.position_embeddings.weight");
	const nys_tensor_info *wl = nys_model_find(ml, "nystromformer.embeddings.position_embeddings.weight");
	float *ps = malloc(ws->numel * sizeof *ps), *pl = malloc(wl->numel * sizeof *pl);
	nys_model_get(ms, NYS_BUF_PARAMS, ws->offset, ws->numel, ps, &e);
	nys_model_get(ml, NYS_BUF_PARAMS, wl->offset, wl->numel, pl, &e);
	int tiled = 1;
	for (int r = 0; r < 20; r++)
		for (int k = 0; k < 8; k++)
			tiled &= pl[r * 8 + k] == ps[(r < 2 ? r : 2 + (r - 2) % 6) * 8 + k];
	tap_ok(tiled, "rows 0 and 1 kept, rows 2..7 repeated three times");
	free(ps);
	free(pl);
	nys_model_free(ms);
	nys_model_free(ml);

	/* bad batches */
	batchbuf bb;
	make_batch(&bb, &c, &o, 2, 16, 0, false);
	bb.ids[16 + 3] = 23;
	tap_ok(nys_model_forward(m, &bb.b, false, 0, NULL, &e) == -1 &&
	       strstr(e.msg, "sequence 2, position 4: token id 23"),
	       "an id outside the vocabulary is named by sequence and position");
	bb.ids[16 + 3] = 1;
	bb.b.T = 21;
	tap_ok(nys_model_forward(m, &bb.b, false, 0, NULL, &e) == -1 &&
	       strstr(e.msg, "longer than max_seq_len"),
	       "a length over max_seq_len is refused");
	bb.b.T = 3;
	tap_ok(nys_model_forward(m, &bb.b, false, 0, NULL, &e) == -1 &&
	       strstr(e.msg, "shorter than num_landmarks"),
	       "a length under num_landmarks is refused");
	bb.b.T = 16;
	bb.labels[5] = 40;
	tap_ok(nys_model_forward(m, &bb.b, false, 0, NULL, &e) == -1 && strstr(e.msg, "label 40"),
	       "a label outside the vocabulary is refused");
	nys_model_free(m);
	nys_model_free(m2);
	tap_sh(dir, "rm -rf @");
}

/* Sizes: a model too large for this machine is refused with the bytes it
 * needs before anything is allocated, and a batch past the tokens one
 * forward takes is refused by name. */
static void test_sizes(void)
{
	nys_model_config c = base_cfg();
	nys_model_opts o = {.dtype = NYS_F32, .mlm = true};
	c.vocab_size = 1u << 24;
	c.embedding_dim = 1u << 18; /* 2^42 embedding weights: 16 TiB */
	nys_err e = {""};
	nys_model *m = nys_model_new(&c, &o, &e);
	unsigned long long need = 0;
	const char *at = strstr(e.msg, "parameters need ");
	if (at)
		need = strtoull(at + strlen("parameters need "), NULL, 10);
	tap_ok(!m && need > 4ull << 42 && strstr(e.msg, "this machine has"),
	       "a 2^42-parameter model is refused with the bytes it needs");
	printf("#   %s\n", e.msg);
	nys_model_free(m);

	c = base_cfg();
	m = make_model(&c, &o);
	size_t small = m ? nys_model_act_bytes(m, 2, 16, 8) : 0;
	size_t twice = m ? nys_model_act_bytes(m, 4, 16, 16) : 0;
	tap_ok(small > 0 && twice > small && twice < 3 * small,
	       "activation bytes grow with the batch");
	int32_t ids[1] = {5};
	nys_batch b = {.B = (1 << 22) + 1, .T = 16, .ids = ids};
	tap_ok(m && nys_model_forward(m, &b, false, 0, NULL, &e) < 0 &&
	       strstr(e.msg, "more than the 67108864 tokens one forward takes"),
	       "a batch of 2^26 tokens and more is refused before any allocation");
	printf("#   %s\n", e.msg);
	nys_model_free(m);
}

int main(void)
{
	test_sizes();
	test_gradients();
	test_properties();
	test_checkpoints();
	return tap_done();
}
