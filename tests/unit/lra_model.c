/* The LRA model (nys_lra_model.h) as a whole: the gradient of the loss
 * against central finite differences in double precision for every
 * attention, single and dual (Retrieval's two documents); Nystrom
 * attention with as many landmarks as tokens and no conv is softmax
 * attention in this model too (the existing op's promise, through the
 * model); padding makes no difference; the float model against the
 * double one; Reformer's bucket counts; and a device without the model's
 * ops is a clear error. */
#include "nys_lra_model.h"
#include "check.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0xC0FFEE1234ull;

static nys_lra_model_config tiny(const char *attn, bool dual)
{
	nys_lra_model_config c = {.vocab_size = 11, .max_seq_len = 12, .num_classes = 3, .dim = 8,
	                          .hidden_dim = 12, .num_head = 2, .head_dim = 4, .num_layers = 2,
	                          .dropout_prob = 0.1, .attention_dropout = 0.1, .dual = dual};
	nys_err e;
	if (nys_lra_attn_parse(attn, &c, &e))
		abort();
	if (c.attn == NYS_LRA_NYSTROM)
		c.conv_kernel_size = 3;
	if (c.attn == NYS_LRA_REFORMER) /* several chunks and buckets in 10 tokens */
		c.lsh_chunk = 4, c.lsh_buckets = 4;
	return c;
}

typedef struct batch {
	int B, T, P;
	int32_t ids[64 * 12], labels[64];
	float mask[64 * 12];
} batch;

/* P records (2P documents when dual), documents of lengths T or shorter */
static void make_batch(batch *b, int P, int T, bool dual, int V, int L)
{
	b->P = P;
	b->T = T;
	b->B = dual ? 2 * P : P;
	for (int i = 0; i < b->B; i++) {
		int len = i % 3 == 1 ? T / 2 + 1 : T;
		for (int t = 0; t < T; t++) {
			b->ids[i * T + t] = t < len ? (int32_t)(chk_next(&rs) % (uint64_t)V) : 0;
			b->mask[i * T + t] = t < len;
		}
	}
	for (int i = 0; i < P; i++)
		b->labels[i] = (int32_t)(chk_next(&rs) % (uint64_t)L);
}

static nys_batch nb(const batch *b)
{
	return (nys_batch){.B = b->B, .T = b->T, .ids = b->ids, .mask = b->mask,
	                   .labels = b->labels};
}

struct fd {
	nys_model *m;
	const batch *b;
	double *p;
	size_t np;
};

static double loss_of(void *ctx)
{
	struct fd *f = ctx;
	nys_err e;
	nys_model_stats st;
	nys_batch x = nb(f->b);
	if (nys_model_set(f->m, NYS_BUF_PARAMS, 0, f->np, f->p, &e) ||
	    nys_model_forward(f->m, &x, false, 0, &st, &e)) {
		printf("# %s\n", e.msg);
		return NAN;
	}
	return st.loss;
}

static void fd_check(const char *attn, bool dual)
{
	nys_lra_model_config c = tiny(attn, dual);
	nys_err e;
	nys_model *m = nys_lra_model_new(&c, NYS_F64, NYS_DEVICE_CPU, NULL, &e);
	char name[200];
	if (!m || nys_lra_model_init(m, 7, &e)) {
		snprintf(name, sizeof name, "%s%s: model: %.100s", attn, dual ? " dual" : "", e.msg);
		tap_ok(0, name);
		nys_model_free(m);
		return;
	}
	size_t np = nys_model_nparams(m);
	/* perturb the LayerNorms and biases off their starting values, so that
	 * every parameter has a gradient */
	double *p = nys_model_copy(m, NYS_BUF_PARAMS, &e);
	for (size_t i = 0; i < np; i++)
		p[i] += 0.05 * chk_unif(&rs, -1, 1);
	batch b;
	make_batch(&b, 3, 10, dual, (int)c.vocab_size, (int)c.num_classes);
	struct fd f = {m, &b, p, np};
	double l0 = loss_of(&f);
	nys_model_zero_grad(m, &e);
	int rc = nys_model_backward(m, 1.0, &e);
	double *g = nys_model_copy(m, NYS_BUF_GRADS, &e);
	double worst = 0;
	for (int k = 0; k < 3; k++) {
		double *u = chk_rnd(&rs, np, -1, 1);
		/* Performer's features and Reformer's rotations are drawn, not
		 * trained: no gradient (the buckets are piecewise constant; the
		 * steps of 1e-6 are far too small to move a token across, with
		 * these seeds and with nearly all others) */
		for (size_t i = 0; i < nys_model_ntensors(m); i++) {
			const nys_tensor_info *t = nys_model_tensor(m, i);
			if (strstr(t->name, "projection_matrix") || strstr(t->name, "random_rotations"))
				memset(u + t->offset, 0, t->numel * sizeof *u);
		}
		double an = chk_dot(g, u, np);
		double nu = chk_central(p, u, np, 1e-6, loss_of, &f);
		worst = fmax(worst, fabs(an - nu) / fmax(fabs(an), 1e-3));
		free(u);
	}
	/* the tensors that have a gradient: all but Performer's features (and
	 * W_q, W_k without attention, which uses the values only; Reformer's
	 * rotations, W_k and the biases of W_q, W_k, W_v, which it does not use) */
	size_t zero = 0;
	for (size_t i = 0; i < nys_model_ntensors(m); i++) {
		const nys_tensor_info *t = nys_model_tensor(m, i);
		double s = 0;
		for (size_t j = 0; j < t->numel; j++)
			s += fabs(g[t->offset + j]);
		bool unused = strstr(t->name, "projection_matrix") ||
		              (c.attn == NYS_LRA_NONE && (strstr(t->name, "W_q") || strstr(t->name, "W_k"))) ||
		              (c.attn == NYS_LRA_REFORMER &&
		               (strstr(t->name, "random_rotations") || strstr(t->name, "W_k") ||
		                strstr(t->name, "_q.bias") || strstr(t->name, "_v.bias")));
		if (s != 0 && c.attn == NYS_LRA_REFORMER && unused) {
			printf("# %s: a gradient, but Reformer does not use it\n", t->name);
			zero++;
		}
		if (s == 0 && !unused) {
			printf("# %s: no gradient\n", t->name);
			zero++;
		}
	}
	snprintf(name, sizeof name, "%s%s: loss %.4f, gradient against finite differences along "
	         "random directions (%.1e), every trained tensor has one",
	         attn, dual ? " (dual)" : "", l0, worst);
	tap_ok(rc == 0 && isfinite(l0) && worst <= 1e-6 && zero == 0, name);
	free(p);
	free(g);
	nys_model_free(m);
}

/* Copy the tensors of `from` that `to` has by name. */
static void copy_params(nys_model *to, nys_model *from)
{
	nys_err e;
	double *src = nys_model_copy(from, NYS_BUF_PARAMS, &e);
	for (size_t i = 0; i < nys_model_ntensors(to); i++) {
		const nys_tensor_info *t = nys_model_tensor(to, i);
		const nys_tensor_info *s = nys_model_find(from, t->name);
		if (s && s->numel == t->numel)
			nys_model_set(to, NYS_BUF_PARAMS, t->offset, t->numel, src + s->offset, &e);
	}
	free(src);
}

static double *scores_of(nys_model *m, const batch *b, nys_err *e)
{
	nys_batch x = nb(b);
	if (nys_model_forward(m, &x, false, 0, NULL, e))
		return NULL;
	double *s = CHK_DALLOC(nys_model_output_size(m, NYS_OUT_SCORES));
	nys_model_output(m, NYS_OUT_SCORES, s, e);
	return s;
}

/* Nystrom with landmarks = T and no conv is softmax attention. */
static void test_nystrom_exact(void)
{
	nys_lra_model_config cs = tiny("softmax", false), cn = tiny("nystrom-10", false);
	cn.conv_kernel_size = 0;
	nys_err e;
	nys_model *ms = nys_lra_model_new(&cs, NYS_F64, NYS_DEVICE_CPU, NULL, &e);
	nys_model *mn = nys_lra_model_new(&cn, NYS_F64, NYS_DEVICE_CPU, NULL, &e);
	nys_lra_model_init(ms, 3, &e);
	copy_params(mn, ms);
	batch b;
	make_batch(&b, 4, 10, false, 11, 3);
	double *a = scores_of(ms, &b, &e), *n = scores_of(mn, &b, &e);
	double r = a && n ? chk_rel2(n, a, (size_t)4 * 3) : 1;
	char name[160];
	snprintf(name, sizeof name, "nystrom-T without conv in the LRA model is softmax attention "
	         "(%.1e)", r);
	tap_ok(r <= 1e-12, name);
	/* and with 4 landmarks it is not */
	nys_lra_model_config c4 = tiny("nystrom-4", false);
	c4.conv_kernel_size = 0;
	nys_model *m4 = nys_lra_model_new(&c4, NYS_F64, NYS_DEVICE_CPU, NULL, &e);
	copy_params(m4, ms);
	double *f = scores_of(m4, &b, &e);
	double r4 = f ? chk_rel2(f, a, (size_t)4 * 3) : 0;
	snprintf(name, sizeof name, "nystrom-4 differs from softmax (%.1e)", r4);
	tap_ok(r4 > 1e-6, name);
	free(a);
	free(n);
	free(f);
	nys_model_free(ms);
	nys_model_free(mn);
	nys_model_free(m4);
}

/* A record alone gives the scores it gets in a padded batch, for the
 * attentions whose real tokens ignore the padding. */
static void test_padding(const char *attn)
{
	nys_lra_model_config c = tiny(attn, false);
	nys_err e;
	nys_model *m = nys_lra_model_new(&c, NYS_F64, NYS_DEVICE_CPU, NULL, &e);
	nys_lra_model_init(m, 5, &e);
	batch b;
	make_batch(&b, 3, 10, false, 11, 3); /* record 1 has 6 real tokens */
	double *all = scores_of(m, &b, &e);
	batch one = {.B = 1, .P = 1, .T = 6};
	memcpy(one.ids, b.ids + 10, 6 * sizeof *one.ids);
	for (int t = 0; t < 6; t++)
		one.mask[t] = 1;
	one.labels[0] = b.labels[1];
	double *s1 = scores_of(m, &one, &e);
	double d = 0;
	for (int j = 0; j < 3; j++)
		d = fmax(d, fabs(s1[j] - all[3 + j]));
	char name[160];
	snprintf(name, sizeof name, "%s: a record's scores do not depend on its padding (%.1e)",
	         attn, d);
	tap_ok(d <= 1e-12, name);
	free(all);
	free(s1);
	nys_model_free(m);
}

/* The float model is the double one, to float's precision. */
static void test_f32(const char *attn)
{
	nys_lra_model_config c = tiny(attn, true);
	nys_err e;
	nys_model *m64 = nys_lra_model_new(&c, NYS_F64, NYS_DEVICE_CPU, NULL, &e);
	nys_model *m32 = nys_lra_model_new(&c, NYS_F32, NYS_DEVICE_CPU, NULL, &e);
	nys_lra_model_init(m64, 9, &e);
	nys_lra_model_init(m32, 9, &e);
	batch b;
	make_batch(&b, 3, 10, true, 11, 3);
	nys_batch x = nb(&b);
	nys_model_stats s64, s32;
	nys_model_forward(m64, &x, true, 42, &s64, &e);
	nys_model_forward(m32, &x, true, 42, &s32, &e);
	char name[160];
	snprintf(name, sizeof name, "%s (dual, dropout on): float loss %.6f, double %.6f", attn,
	         s32.loss, s64.loss);
	tap_ok(fabs(s32.loss - s64.loss) <= 1e-5 * fmax(1, fabs(s64.loss)), name);
	nys_model_free(m64);
	nys_model_free(m32);
}

static void test_device(const char *attn)
{
	nys_lra_model_config c = tiny(attn, false);
	nys_err e = {{0}};
	nys_model *m = nys_lra_model_new(&c, NYS_F32, NYS_DEVICE_CUDA, NULL, &e);
	char name[300];
	snprintf(name, sizeof name, "%s: --device cuda is a clear error where it cannot run: %.200s",
	         attn, m ? "(made)" : e.msg);
	/* this build: no CUDA backend; with one, an op it lacks fails when run */
	if (m) {
		nys_lra_model_init(m, 1, &e);
		batch b;
		make_batch(&b, 2, 8, false, 11, 3);
		nys_batch x = nb(&b);
		int rc = nys_model_forward(m, &x, false, 0, NULL, &e);
		snprintf(name, sizeof name, "%s: --device cuda: %.200s", attn, rc ? e.msg : "ran");
		/* Reformer's op has no CUDA kernel: it must fail, and say so */
		tap_ok(c.attn != NYS_LRA_REFORMER || (rc && strstr(e.msg, "no CUDA kernel")), name);
		nys_model_free(m);
		return;
	}
	tap_ok(strstr(e.msg, "cuda") != NULL, name);
}

static void test_parse(void)
{
	nys_lra_model_config c = {0};
	nys_err e;
	char buf[32];
	tap_ok(!nys_lra_attn_parse("nystrom-64", &c, &e) && c.attn == NYS_LRA_NYSTROM &&
	       c.attn_size == 64 && c.conv_kernel_size == 35 &&
	       !strcmp(nys_lra_attn_name(&c, buf), "nystrom-64"),
	       "attn: nystrom-64 is 64 landmarks, conv 35");
	tap_ok(!nys_lra_attn_parse("performer-256", &c, &e) && c.attn_size == 256,
	       "attn: performer-256");
	tap_ok(nys_lra_attn_parse("nystrom-", &c, &e) && nys_lra_attn_parse("reformer-0", &c, &e) &&
	       nys_lra_attn_parse("linformer-0", &c, &e) && nys_lra_attn_parse("softmax2", &c, &e),
	       "attn: nystrom-, reformer-0, linformer-0, softmax2 are refused");
	tap_ok(!nys_lra_attn_parse("reformer-2", &c, &e) && c.attn == NYS_LRA_REFORMER &&
	       c.attn_size == 2 && c.lsh_chunk == 64 && c.lsh_buckets == 0 &&
	       !strcmp(nys_lra_attn_name(&c, buf), "reformer-2"),
	       "attn: reformer-2 is 2 hash rounds in chunks of 64");
	/* transformers' rule for each task's length, chunks of 64 */
	tap_ok(nys_lra_lsh_buckets(2048, 64) == 64 && nys_lra_lsh_buckets(4000, 64) == 64 &&
	       nys_lra_lsh_buckets(1024, 64) == 32 && nys_lra_lsh_buckets(2000, 64) == 32 &&
	       nys_lra_lsh_buckets(128, 64) == 4 && nys_lra_lsh_buckets(64, 64) == 2 &&
	       nys_lra_lsh_buckets(12, 64) == 2 && nys_lra_lsh_buckets(8191, 64) == 128 &&
	       nys_lra_lsh_buckets(8192, 64) == 0,
	       "reformer buckets: ListOps 2048 and Text 4000 64, Image 1024 32, 2 at least, "
	       "0 where transformers factorises (8192)");
	nys_lra_model_config r = tiny("reformer-2", false);
	r.lsh_buckets = 0;
	r.max_seq_len = 8192;
	tap_ok(nys_lra_model_check(&r) != NULL, "reformer: factorised buckets are refused");
}

int main(void)
{
	test_parse();
	static const char *const attns[] = {"softmax", "nystrom-4", "linformer-5", "performer-8",
	                                    "linear", "none", "reformer-2"};
	for (size_t i = 0; i < sizeof attns / sizeof *attns; i++) {
		fd_check(attns[i], false);
		fd_check(attns[i], true);
	}
	test_nystrom_exact();
	test_padding("softmax");
	test_padding("linear");
	test_padding("none");
	test_f32("nystrom-4");
	test_f32("performer-8");
	test_f32("reformer-2");
	test_device("linformer-4");
	test_device("reformer-2");
	return tap_done();
}
