/* The LRA model (nys_lra_model.h): its tensor table, initialisation, and
 * forward and backward as backend ops, written once for every dtype as
 * model_run.c is; it plugs into nys_model as an arch (model_impl.h), so
 * buffers, AdamW, checkpoints and the training loop are shared.
 *
 * Activations are one backend buffer each, made for the largest batch
 * seen and kept.  What a layer keeps for its backward: its input x, LN1's
 * output and statistics, q, k, v and what the attention op saves, the
 * merged heads, res1 (the attention block's output), LN2's, the FFN's
 * hidden layer before GELU and after GELU and dropout, and res2.  Dropout
 * masks are drawn again from their sites' seeds in the backward. */
#include "model_impl.h"
#include "nys_lra_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- config ---------------------------------------------------------------- */

int nys_lra_attn_parse(const char *s, nys_lra_model_config *c, nys_err *e)
{
	static const struct {
		const char *prefix;
		nys_lra_attn a;
		bool sized;
	} kinds[] = {
		{"softmax", NYS_LRA_SOFTMAX, false}, {"nystrom-", NYS_LRA_NYSTROM, true},
		{"linformer-", NYS_LRA_LINFORMER, true}, {"performer-", NYS_LRA_PERFORMER, true},
		{"linear", NYS_LRA_LINEAR, false}, {"none", NYS_LRA_NONE, false},
		{"reformer-", NYS_LRA_REFORMER, true},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		size_t n = strlen(kinds[i].prefix);
		if (kinds[i].sized ? strncmp(s, kinds[i].prefix, n) : strcmp(s, kinds[i].prefix))
			continue;
		uint32_t size = 0;
		if (kinds[i].sized) {
			char *end;
			unsigned long v = s[n] >= '1' && s[n] <= '9' ? strtoul(s + n, &end, 10) : 0;
			if (!v || *end || v > 65536)
				return nys_err_set(e, "attention %s: expected %sN with N 1 to 65536", s,
				                   kinds[i].prefix);
			size = (uint32_t)v;
		}
		c->attn = kinds[i].a;
		c->attn_size = size;
		c->conv_kernel_size = kinds[i].a == NYS_LRA_NYSTROM ? 35 : 0;
		c->inv_iterations = 6;
		/* ReformerConfig's defaults, which the authors keep: chunks of 64,
		 * the buckets from the length */
		c->lsh_chunk = kinds[i].a == NYS_LRA_REFORMER ? 64 : 0;
		c->lsh_buckets = 0;
		return 0;
	}
	return nys_err_set(e, "attention %s: expected softmax, nystrom-M, linformer-K, "
	                   "performer-F, linear, none or reformer-H", s);
}

uint32_t nys_lra_lsh_buckets(uint32_t n, uint32_t c)
{
	uint32_t k = 2 * (n / c), p = 0;
	while (k >> (p + 1))
		p++;
	uint32_t nb = k ? 1u << p : 0, lim = 0;
	while ((lim + 1) * (lim + 1) <= n / c)
		lim++;
	lim = 2 * (lim > c ? lim : c);
	if (nb > lim)
		return 0;
	return nb < 2 ? 2 : nb;
}

const char *nys_lra_attn_name(const nys_lra_model_config *c, char buf[32])
{
	static const char *const names[] = {"softmax", "nystrom", "linformer", "performer",
	                                    "linear", "none", "reformer"};
	if (c->attn == NYS_LRA_NYSTROM || c->attn == NYS_LRA_LINFORMER ||
	    c->attn == NYS_LRA_PERFORMER || c->attn == NYS_LRA_REFORMER)
		snprintf(buf, 32, "%s-%u", names[c->attn], c->attn_size);
	else
		snprintf(buf, 32, "%s", names[c->attn]);
	return buf;
}

const char *nys_lra_model_check(const nys_lra_model_config *c)
{
	if (c->vocab_size < 1 || c->vocab_size > 1u << 24)
		return "vocab_size must be 1 to 2^24";
	if (c->max_seq_len < 1 || c->max_seq_len > 1u << 20)
		return "max_seq_len must be 1 to 2^20";
	if (c->num_classes < 2 || c->num_classes > 1u << 16)
		return "num_classes must be 2 to 65536";
	if (c->dim < 1 || c->hidden_dim < 1 || c->num_head < 1 || c->head_dim < 1 ||
	    c->dim > 1u << 14 || c->hidden_dim > 1u << 16 || c->num_head > 256 ||
	    c->head_dim > 1u << 12 || c->num_layers > 256)
		return "the model's sizes are out of range";
	if (!(c->dropout_prob >= 0 && c->dropout_prob < 1) ||
	    !(c->attention_dropout >= 0 && c->attention_dropout < 1))
		return "the dropout rates must be in [0, 1)";
	if (c->attn == NYS_LRA_NYSTROM && c->attn_size > c->max_seq_len)
		return "more landmarks than max_seq_len";
	if (c->attn == NYS_LRA_REFORMER) {
		if (c->attn_size > 64)
			return "Reformer: at most 64 hash rounds";
		if (c->lsh_chunk < 1 || c->lsh_chunk > 1u << 16)
			return "Reformer: the chunk length must be 1 to 65536";
		if (c->lsh_buckets % 2 || c->lsh_buckets > 1u << 16)
			return "Reformer: the buckets must be even, 2 to 65536";
		if (!c->lsh_buckets && !nys_lra_lsh_buckets(c->max_seq_len, c->lsh_chunk))
			return "Reformer: max_seq_len needs factorised buckets (not built); give "
			       "num_buckets";
	}
	return NULL;
}

json_t *nys_lra_model_config_json(const nys_lra_model_config *c)
{
	char a[32];
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:b, s:s, s:I, s:I}",
	                 "arch", "lra", "vocab_size", (json_int_t)c->vocab_size, "max_seq_len",
	                 (json_int_t)c->max_seq_len, "num_classes", (json_int_t)c->num_classes,
	                 "transformer_dim", (json_int_t)c->dim, "transformer_hidden_dim",
	                 (json_int_t)c->hidden_dim, "num_head", (json_int_t)c->num_head,
	                 "head_dim", (json_int_t)c->head_dim, "num_layers",
	                 (json_int_t)c->num_layers, "dropout_prob", c->dropout_prob,
	                 "attention_dropout", c->attention_dropout, "dual", c->dual, "attn",
	                 nys_lra_attn_name(c, a), "conv_kernel_size",
	                 (json_int_t)c->conv_kernel_size, "inv_iterations",
	                 (json_int_t)c->inv_iterations);
	/* Reformer's hashing: only in its configs, so the others' stay as they were */
	if (j && c->attn == NYS_LRA_REFORMER &&
	    (json_object_set_new(j, "lsh_attn_chunk_length", json_integer(c->lsh_chunk)) ||
	     json_object_set_new(j, "num_buckets", json_integer(c->lsh_buckets)))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* ---- the arch's state ---------------------------------------------------------- */

typedef struct lra_layer {
	size_t ln1w, ln1b, wqkv, bqkv, conv, feat, rot, wo, bo, ln2w, ln2b, w1, b1, w2, b2;
} lra_layer;

typedef struct lra_acts {
	void *ln1, *m1, *r1, *q, *k, *v, *asaved, *attp, *res1, *ln2, *m2, *r2, *ff1, *gel, *gd,
	     *res2;
} lra_acts;

/* One buffer of the activations: where its pointer is and its size. */
typedef struct lra_buf {
	void **p;
	size_t bytes;
} lra_buf;

typedef struct lra {
	nys_lra_model_config c;
	size_t wte, wpe, E, lnw, lnb, c1w, c1b, c2w, c2b;
	lra_layer *L;
	/* activations */
	int B, T;             /* the shape laid out (B documents) */
	lra_acts *A;
	int32_t *ids, *labels, *pred;
	void *mask, *x0, *lnf, *mf, *rf, *pool, *feat, *h1, *hr, *scores, *probs, *losses;
	double *stats;
	void *tqkv, *tatt, *tc, *scratch, *dX, *dT, *dF1, *dF2, *dq, *dk, *dv, *dattp, *dpool,
	     *dfeat, *dh, *dh2, *dscores, *dlnf;
	size_t scratch_n;
	lra_buf *bufs;
	size_t nbufs;
	void *hmask;          /* host staging of the mask in the activations' dtype */
	size_t hmask_n;
	/* the last forward */
	bool has_loss, have_scores, train;
	uint64_t seed;
	double p_drop, a_drop;
	int P;                /* labelled rows (records) */
} lra;

static lra *ctx_of(const nys_model *m) { return m->arch_ctx; }

#define P_(off) nys_model_at(m, m->buf[NYS_BUF_PARAMS], (off))
#define G_(off) nys_model_at(m, m->buf[NYS_BUF_GRADS], (off))

static void acts_release(nys_model *m, lra *a)
{
	for (size_t i = 0; i < a->nbufs; i++) {
		if (m->be)
			nys_backend_release(m->be, *a->bufs[i].p);
		*a->bufs[i].p = NULL;
	}
	free(a->bufs);
	a->bufs = NULL;
	a->nbufs = 0;
	a->B = a->T = 0;
}

static void lra_free(nys_model *m)
{
	lra *a = ctx_of(m);
	if (!a)
		return;
	acts_release(m, a);
	free(a->A);
	free(a->L);
	free(a->hmask);
	free(a);
	m->arch_ctx = NULL;
}

static char *lra_config_str(const nys_model *m)
{
	json_t *j = nys_lra_model_config_json(&ctx_of(m)->c);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return s;
}

/* ---- the tensor table -------------------------------------------------------------- */

static int lra_build(nys_model *m, nys_model_table *tb, nys_err *e)
{
	lra *a = ctx_of(m);
	const nys_lra_model_config *c = &a->c;
	int64_t V = c->vocab_size, C = c->dim, F = c->hidden_dim, H = c->num_head;
	int64_t D = c->head_dim, A = H * D, n = c->max_seq_len;
	char name[96];
#define T1(nm, n0) nys_model_table_add(tb, nm, 1, (int64_t[]){n0})
#define T2(nm, n0, n1) nys_model_table_add(tb, nm, 2, (int64_t[]){n0, n1})
	a->wte = T2("model.embeddings.word_embeddings.weight", V, C);
	a->wpe = T2("model.embeddings.position_embeddings.weight", n, C);
	a->E = NYS_NO_TENSOR;
	if (c->attn == NYS_LRA_LINFORMER)
		a->E = nys_model_table_add(tb, "model.linformer.E", 3,
		                           (int64_t[]){H, c->attn_size, n});
	for (uint32_t l = 0; l < c->num_layers; l++) {
		lra_layer *L = &a->L[l];
#define NM(fmt) (snprintf(name, sizeof name, "model.transformer_%u." fmt, l), name)
		L->ln1w = T1(NM("norm1.weight"), C);
		L->ln1b = T1(NM("norm1.bias"), C);
		L->wqkv = T2(NM("mha.W_q.weight"), A, C);
		T2(NM("mha.W_k.weight"), A, C);
		T2(NM("mha.W_v.weight"), A, C);
		L->bqkv = T1(NM("mha.W_q.bias"), A);
		T1(NM("mha.W_k.bias"), A);
		T1(NM("mha.W_v.bias"), A);
		L->conv = L->feat = L->rot = NYS_NO_TENSOR;
		if (c->attn == NYS_LRA_NYSTROM && c->conv_kernel_size)
			L->conv = nys_model_table_add(tb, NM("mha.attn.conv.weight"), 4,
			                              (int64_t[]){H, 1, c->conv_kernel_size, 1});
		if (c->attn == NYS_LRA_PERFORMER)
			L->feat = T2(NM("mha.attn.attn_fn.projection_matrix"), c->attn_size, D);
		if (c->attn == NYS_LRA_REFORMER)
			L->rot = nys_model_table_add(tb, NM("mha.attn.random_rotations"), 4,
			                             (int64_t[]){H, D, c->attn_size, c->lsh_buckets / 2});
		L->wo = T2(NM("mha.ff.weight"), C, A);
		L->bo = T1(NM("mha.ff.bias"), C);
		L->ln2w = T1(NM("norm2.weight"), C);
		L->ln2b = T1(NM("norm2.bias"), C);
		L->w1 = T2(NM("mlpblock.0.weight"), F, C);
		L->b1 = T1(NM("mlpblock.0.bias"), F);
		L->w2 = T2(NM("mlpblock.3.weight"), C, F);
		L->b2 = T1(NM("mlpblock.3.bias"), C);
#undef NM
	}
	a->lnw = T1("model.norm.weight", C);
	a->lnb = T1("model.norm.bias", C);
	int64_t in = c->dual ? 4 * C : C;
	a->c1w = T2("seq_classifer.mlpblock.0.weight", F, in);
	a->c1b = T1("seq_classifer.mlpblock.0.bias", F);
	a->c2w = T2("seq_classifer.mlpblock.2.weight", c->num_classes, F);
	a->c2b = T1("seq_classifer.mlpblock.2.bias", c->num_classes);
#undef T1
#undef T2
	(void)e;
	return 0;
}

/* ---- initialisation -------------------------------------------------------------------- */

/* performer-pytorch's gaussian_orthogonal_random_matrix(F, D, scaling 0):
 * F rows in blocks of D, each block the orthonormal rows of a Gaussian
 * D x D matrix (Gram-Schmidt here, QR there), each row then scaled by the
 * norm of another Gaussian D-vector. */
static void orthogonal_features(const nys_model *m, void *h, int F, int D, nys_rng *r,
                                double *blk)
{
	for (int f0 = 0; f0 < F; f0 += D) {
		for (int i = 0; i < D * D; i++)
			blk[i] = nys_model_normal(r);
		for (int i = 0; i < D; i++) {
			double *q = blk + (size_t)i * D;
			for (int j = 0; j < i; j++) {
				const double *p = blk + (size_t)j * D;
				double dot = 0;
				for (int d = 0; d < D; d++)
					dot += q[d] * p[d];
				for (int d = 0; d < D; d++)
					q[d] -= dot * p[d];
			}
			double nn = 0;
			for (int d = 0; d < D; d++)
				nn += q[d] * q[d];
			nn = sqrt(nn);
			for (int d = 0; d < D; d++)
				q[d] /= nn > 0 ? nn : 1;
		}
		for (int i = 0; i < D && f0 + i < F; i++)
			for (int d = 0; d < D; d++)
				nys_model_put(m, h, (size_t)(f0 + i) * D + d, blk[(size_t)i * D + d]);
	}
	for (int f = 0; f < F; f++) {
		double nn = 0;
		for (int d = 0; d < D; d++) {
			double g = nys_model_normal(r);
			nn += g * g;
		}
		nn = sqrt(nn);
		for (int d = 0; d < D; d++) {
			size_t j = (size_t)f * D + d;
			double v = m->o.dtype == NYS_F32 ? ((float *)h)[j] : ((double *)h)[j];
			nys_model_put(m, h, j, v * nn);
		}
	}
}

int nys_lra_model_init(nys_model *m, uint64_t seed, nys_err *e)
{
	const lra *a = ctx_of(m);
	nys_rng r;
	nys_rng_seed(&r, seed);
	size_t most = 1;
	for (size_t i = 0; i < m->nt; i++)
		most = m->t[i].numel > most ? m->t[i].numel : most;
	void *h = malloc(most * m->esize);
	double *blk = malloc((size_t)a->c.head_dim * a->c.head_dim * sizeof *blk);
	int rc = h && blk ? 0 : nys_err_set(e, "model: out of memory");
	for (size_t i = 0; i < m->nt && !rc; i++) {
		const nys_tensor_info *t = &m->t[i];
		const char *n = t->name;
		size_t len = strlen(n);
		bool bias = len > 5 && !strcmp(n + len - 5, ".bias");
		if (strstr(n, "norm")) {
			for (size_t j = 0; j < t->numel; j++)
				nys_model_put(m, h, j, bias ? 0.0 : 1.0);
		} else if (strstr(n, "_embeddings.") || t->offset == a->E) {
			for (size_t j = 0; j < t->numel; j++)
				nys_model_put(m, h, j, 0.02 * nys_model_normal(&r));
		} else if (strstr(n, "projection_matrix")) {
			orthogonal_features(m, h, (int)t->shape[0], (int)t->shape[1], &r, blk);
		} else if (strstr(n, "random_rotations")) {
			for (size_t j = 0; j < t->numel; j++)
				nys_model_put(m, h, j, nys_model_normal(&r));
		} else {
			/* a bias takes its weight's fan-in: the tensor before it,
			 * three before for W_q, W_k, W_v's */
			const nys_tensor_info *w = t;
			if (bias)
				w = strstr(n, ".mha.W_") ? &m->t[i - 3] : &m->t[i - 1];
			nys_model_fill_fan_in(m, h, t->numel, w, &r);
		}
		rc = nys_model_set(m, NYS_BUF_PARAMS, t->offset, t->numel, h, e);
	}
	free(h);
	free(blk);
	return rc;
}

/* ---- activations ---------------------------------------------------------------------- */

static struct nys_nystrom_opts nystrom_opts(const nys_lra_model_config *c, int B, int T)
{
	return (struct nys_nystrom_opts){
		.B = B, .H = (int)c->num_head, .T = T, .D = (int)c->head_dim,
		.landmarks = (int)c->attn_size, .pinv_iters = (int)c->inv_iterations,
		.pinv_init = NYS_PINV_ORIGINAL, .conv_k = (int)c->conv_kernel_size,
	};
}

static struct nys_linattn_opts linattn_opts(const nys_lra_model_config *c, int B, int T)
{
	return (struct nys_linattn_opts){
		.B = B, .H = (int)c->num_head, .T = T, .D = (int)c->head_dim,
		.kind = c->attn == NYS_LRA_PERFORMER ? NYS_LINATTN_RELU_FEATURES : NYS_LINATTN_ELU,
		.F = c->attn == NYS_LRA_PERFORMER ? (int)c->attn_size : 0,
	};
}

static struct nys_lsh_opts lsh_opts(const nys_lra_model_config *c, int B, int T)
{
	return (struct nys_lsh_opts){
		.B = B, .H = (int)c->num_head, .T = T, .D = (int)c->head_dim,
		.hashes = (int)c->attn_size, .buckets = (int)c->lsh_buckets, .chunk = (int)c->lsh_chunk,
	};
}

/* The attention op's saved and scratch elements for B x T. */
static void attn_sizes(nys_model *m, const nys_lra_model_config *c, int B, int T, size_t *sv,
                       size_t *sc)
{
	int H = (int)c->num_head, D = (int)c->head_dim;
	*sv = *sc = 0;
	switch (c->attn) {
	case NYS_LRA_SOFTMAX: nys_backend_attn_softmax_size(m->be, B, H, T, sv, sc); break;
	case NYS_LRA_NYSTROM: {
		struct nys_nystrom_opts o = nystrom_opts(c, B, T);
		nys_backend_nystrom_size(m->be, &o, sv, sc);
		break;
	}
	case NYS_LRA_LINFORMER:
		nys_backend_linformer_size(m->be, B, H, T, D, (int)c->attn_size, sv, sc);
		break;
	case NYS_LRA_PERFORMER:
	case NYS_LRA_LINEAR: {
		struct nys_linattn_opts o = linattn_opts(c, B, T);
		nys_backend_linattn_size(m->be, &o, sv, sc);
		break;
	}
	case NYS_LRA_REFORMER: {
		struct nys_lsh_opts o = lsh_opts(c, B, T);
		nys_backend_lsh_size(m->be, &o, sv, sc);
		break;
	}
	case NYS_LRA_NONE: break;
	}
}

/* Lay out (count, with base NULL; else allocate) every buffer for B
 * documents of T tokens. */
static int acts_make(nys_model *m, lra *a, int B, int T, nys_err *e)
{
	const nys_lra_model_config *c = &a->c;
	size_t N = (size_t)B * T, C = c->dim, F = c->hidden_dim;
	size_t A = (size_t)c->num_head * c->head_dim, es = m->be->act_esize;
	size_t P = c->dual ? (size_t)B / 2 : (size_t)B, L = c->num_classes;
	size_t CI = c->dual ? 4 * C : C, sv, sc;
	attn_sizes(m, c, B, T, &sv, &sc);
	acts_release(m, a);
	size_t cap = 64 + 16 * c->num_layers, n = 0;
	a->bufs = calloc(cap, sizeof *a->bufs);
	if (!a->bufs)
		return nys_err_set(e, "model: out of memory");
#define ADD(ptr, elems, size) (a->bufs[n++] = (lra_buf){(void **)&(ptr), (elems) * (size)})
	ADD(a->ids, N, sizeof(int32_t));
	ADD(a->labels, P, sizeof(int32_t));
	ADD(a->pred, P, sizeof(int32_t));
	ADD(a->stats, 2, sizeof(double));
	ADD(a->mask, N, es);
	ADD(a->x0, N * C, es);
	for (uint32_t l = 0; l < c->num_layers; l++) {
		lra_acts *X = &a->A[l];
		ADD(X->ln1, N * C, es);
		ADD(X->m1, N, es);
		ADD(X->r1, N, es);
		ADD(X->q, N * A, es);
		ADD(X->k, N * A, es);
		ADD(X->v, N * A, es);
		ADD(X->asaved, sv, es);
		ADD(X->attp, N * A, es);
		ADD(X->res1, N * C, es);
		ADD(X->ln2, N * C, es);
		ADD(X->m2, N, es);
		ADD(X->r2, N, es);
		ADD(X->ff1, N * F, es);
		ADD(X->gel, N * F, es);
		ADD(X->gd, N * F, es);
		ADD(X->res2, N * C, es);
	}
	ADD(a->lnf, N * C, es);
	ADD(a->mf, N, es);
	ADD(a->rf, N, es);
	ADD(a->pool, (size_t)B * C, es);
	ADD(a->feat, P * CI, es);
	ADD(a->h1, P * F, es);
	ADD(a->hr, P * F, es);
	ADD(a->scores, P * L, es);
	ADD(a->probs, P * L, es);
	ADD(a->losses, P, es);
	ADD(a->tqkv, N * 3 * A, es);
	ADD(a->tatt, N * A, es);
	ADD(a->tc, N * C, es);
	ADD(a->scratch, sc, es);
	ADD(a->dX, N * C, es);
	ADD(a->dT, N * C, es);
	ADD(a->dF1, N * F, es);
	ADD(a->dF2, N * F, es);
	ADD(a->dq, N * A, es);
	ADD(a->dk, N * A, es);
	ADD(a->dv, N * A, es);
	ADD(a->dattp, N * A, es);
	ADD(a->dpool, (size_t)B * C, es);
	ADD(a->dfeat, P * CI, es);
	ADD(a->dh, P * F, es);
	ADD(a->dh2, P * F, es);
	ADD(a->dscores, P * L, es);
	ADD(a->dlnf, N * C, es);
#undef ADD
	a->nbufs = n;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += a->bufs[i].bytes;
		if (!(*a->bufs[i].p = nys_backend_alloc(m->be, a->bufs[i].bytes ? a->bufs[i].bytes : 64))) {
			acts_release(m, a);
			return nys_err_set(e, "model: out of memory for the activations of %d x %d "
			                   "(%.1f MB)", B, T, (double)total / 1e6);
		}
	}
	if (N > a->hmask_n) {
		free(a->hmask);
		a->hmask_n = 0;
		if (!(a->hmask = malloc(N * es)))
			return nys_err_set(e, "model: out of memory");
		a->hmask_n = N;
	}
	a->scratch_n = sc;
	a->B = B;
	a->T = T;
	return 0;
}

/* ---- forward ---------------------------------------------------------------------------- */

/* dropout sites: 0 the embeddings; per layer 1 + 4 l the attention
 * probabilities (softmax), 2 + 4 l after the attention block, 3 + 4 l the
 * FFN's hidden layer, 4 + 4 l after the FFN */
static uint64_t site(const lra *a, unsigned k) { return nys_splitmix64_at(a->seed, k); }
#define SITE(l, j) (1u + 4u * (unsigned)(l) + (unsigned)(j))

static int check_batch(const lra *a, const nys_batch *b, nys_err *e)
{
	const nys_lra_model_config *c = &a->c;
	if (b->B < 1 || b->T < 1 || (c->dual && b->B % 2))
		return nys_err_set(e, "batch: %d x %d is %s", b->B, b->T,
		                   c->dual ? "not an even number of documents" : "empty");
	if ((uint64_t)b->B * (uint64_t)b->T > NYS_MAX_BATCH_TOKENS)
		return nys_err_set(e, "batch: %d x %d is more than one forward takes", b->B, b->T);
	if ((uint32_t)b->T > c->max_seq_len)
		return nys_err_set(e, "batch: length %d is longer than max_seq_len %u", b->T,
		                   c->max_seq_len);
	if (c->attn == NYS_LRA_NYSTROM && (uint32_t)b->T < c->attn_size)
		return nys_err_set(e, "batch: length %d is shorter than the %u landmarks", b->T,
		                   c->attn_size);
	if (c->attn == NYS_LRA_REFORMER) {
		struct nys_lsh_opts o = lsh_opts(c, b->B, b->T);
		const char *bad = nys_lsh_check(&o);
		if (bad)
			return nys_err_set(e, "batch: Reformer: %s", bad);
	}
	for (size_t j = 0; j < (size_t)b->B * b->T; j++)
		if (b->ids[j] < 0 || (uint32_t)b->ids[j] >= c->vocab_size)
			return nys_err_set(e, "batch: document %zu, position %zu: token id %d is outside "
			                   "the vocabulary (0..%u)", j / (size_t)b->T + 1,
			                   j % (size_t)b->T + 1, b->ids[j], c->vocab_size - 1);
	int P = c->dual ? b->B / 2 : b->B;
	for (int i = 0; b->labels && i < P; i++)
		if (b->labels[i] < 0 || (uint32_t)b->labels[i] >= c->num_classes)
			return nys_err_set(e, "batch: record %d: label %d is outside 0..%u", i + 1,
			                   b->labels[i], c->num_classes - 1);
	return 0;
}

static void attention_forward(nys_model *m, lra *a, lra_acts *X, const lra_layer *w, int l)
{
	nys_backend *be = m->be;
	const nys_lra_model_config *c = &a->c;
	int B = a->B, T = a->T, H = (int)c->num_head, D = (int)c->head_dim;
	switch (c->attn) {
	case NYS_LRA_SOFTMAX:
		nys_backend_attn_softmax_forward(be, a->tatt, X->asaved, a->scratch, a->scratch_n, X->q,
		                                 X->k, X->v, a->mask, B, H, T, D, a->a_drop,
		                                 site(a, SITE(l, 0)));
		break;
	case NYS_LRA_NYSTROM: {
		struct nys_nystrom_opts o = nystrom_opts(c, B, T);
		nys_backend_nystrom_forward(be, a->tatt, X->asaved, a->scratch, a->scratch_n, X->q,
		                            X->k, X->v, a->mask,
		                            w->conv == NYS_NO_TENSOR ? NULL : P_(w->conv), &o);
		break;
	}
	case NYS_LRA_LINFORMER:
		nys_backend_linformer_forward(be, a->tatt, X->asaved, a->scratch, a->scratch_n, X->q,
		                              X->k, X->v, a->mask, P_(a->E), B, H, T, D,
		                              (int)c->attn_size, (int)c->max_seq_len);
		break;
	case NYS_LRA_PERFORMER:
	case NYS_LRA_LINEAR: {
		struct nys_linattn_opts o = linattn_opts(c, B, T);
		nys_backend_linattn_forward(be, a->tatt, X->asaved, a->scratch, a->scratch_n, X->q,
		                            X->k, X->v, a->mask,
		                            w->feat == NYS_NO_TENSOR ? NULL : P_(w->feat), &o);
		break;
	}
	case NYS_LRA_REFORMER: {
		struct nys_lsh_opts o = lsh_opts(c, B, T);
		nys_backend_lsh_forward(be, a->tatt, X->asaved, a->scratch, a->scratch_n, X->q, X->v,
		                        a->mask, P_(w->rot), &o);
		break;
	}
	case NYS_LRA_NONE: break;
	}
}

static void encoder_forward(nys_model *m, lra *a)
{
	nys_backend *be = m->be;
	const nys_lra_model_config *c = &a->c;
	int B = a->B, T = a->T, N = B * T, C = (int)c->dim, F = (int)c->hidden_dim;
	int H = (int)c->num_head, D = (int)c->head_dim, A = H * D;
	size_t NC = (size_t)N * C, NF = (size_t)N * F;
	nys_backend_posembed_forward(be, a->tc, a->ids, P_(a->wte), P_(a->wpe), B, T, C);
	nys_backend_dropout_forward(be, a->x0, a->tc, NC, a->p_drop, site(a, 0));
	const void *x = a->x0;
	for (uint32_t l = 0; l < c->num_layers; l++) {
		lra_acts *X = &a->A[l];
		const lra_layer *w = &a->L[l];
		nys_backend_layernorm_forward(be, X->ln1, X->m1, X->r1, x, P_(w->ln1w), P_(w->ln1b), N,
		                              C, 1e-5);
		/* Reformer: the weights alone, as transformers' query_key and value */
		nys_backend_linear_forward(be, a->tqkv, X->ln1, P_(w->wqkv),
		                           c->attn == NYS_LRA_REFORMER ? NULL : P_(w->bqkv), N, C, 3 * A);
		nys_backend_split_heads_forward(be, X->q, X->k, X->v, a->tqkv, B, T, H, D);
		attention_forward(m, a, X, w, (int)l);
		nys_backend_merge_heads_forward(be, X->attp, c->attn == NYS_LRA_NONE ? X->v : a->tatt,
		                                B, T, H, D);
		nys_backend_linear_forward(be, a->tc, X->attp, P_(w->wo), P_(w->bo), N, A, C);
		nys_backend_dropout_forward(be, a->tc, a->tc, NC, a->p_drop, site(a, SITE(l, 1)));
		nys_backend_add_forward(be, X->res1, x, a->tc, NC);
		nys_backend_layernorm_forward(be, X->ln2, X->m2, X->r2, X->res1, P_(w->ln2w),
		                              P_(w->ln2b), N, C, 1e-5);
		nys_backend_linear_forward(be, X->ff1, X->ln2, P_(w->w1), P_(w->b1), N, C, F);
		nys_backend_gelu_erf_forward(be, X->gel, X->ff1, NF);
		nys_backend_dropout_forward(be, X->gd, X->gel, NF, a->p_drop, site(a, SITE(l, 2)));
		nys_backend_linear_forward(be, a->tc, X->gd, P_(w->w2), P_(w->b2), N, F, C);
		nys_backend_dropout_forward(be, a->tc, a->tc, NC, a->p_drop, site(a, SITE(l, 3)));
		nys_backend_add_forward(be, X->res2, X->res1, a->tc, NC);
		x = X->res2;
	}
	nys_backend_layernorm_forward(be, a->lnf, a->mf, a->rf, x, P_(a->lnw), P_(a->lnb), N, C,
	                              1e-5);
}

static void head_forward(nys_model *m, lra *a, const nys_batch *b, bool stats)
{
	nys_backend *be = m->be;
	const nys_lra_model_config *c = &a->c;
	int C = (int)c->dim, F = (int)c->hidden_dim, L = (int)c->num_classes, P = a->P;
	nys_backend_meanpool_forward(be, a->pool, a->lnf, a->mask, a->B, a->T, C);
	const void *in = a->pool;
	int CI = C;
	if (c->dual) {
		nys_backend_pairfeat_forward(be, a->feat, a->pool, P, C);
		in = a->feat;
		CI = 4 * C;
	}
	nys_backend_linear_forward(be, a->h1, in, P_(a->c1w), P_(a->c1b), P, CI, F);
	nys_backend_relu_forward(be, a->hr, a->h1, (size_t)P * F);
	nys_backend_linear_forward(be, a->scores, a->hr, P_(a->c2w), P_(a->c2b), P, F, L);
	if (b->labels) {
		nys_backend_set(be, a->labels, b->labels, (size_t)P * sizeof *a->labels);
		nys_backend_crossentropy_forward(be, a->probs, a->losses, a->pred, a->scores, a->labels,
		                                 P, L, 1.0 / P, stats ? a->stats : NULL);
	}
}

static int lra_forward(nys_model *m, const nys_batch *b, bool train, uint64_t seed,
                       nys_model_stats *st, nys_err *e)
{
	lra *a = ctx_of(m);
	if (check_batch(a, b, e))
		return -1;
	a->has_loss = a->have_scores = false;
	if ((a->B != b->B || a->T != b->T) && acts_make(m, a, b->B, b->T, e))
		return -1;
	a->train = train;
	a->seed = seed;
	a->p_drop = train ? a->c.dropout_prob : 0.0;
	a->a_drop = train ? a->c.attention_dropout : 0.0;
	a->P = a->c.dual ? b->B / 2 : b->B;
	nys_backend *be = m->be;
	size_t N = (size_t)b->B * b->T;
	nys_backend_begin(be);
	nys_backend_set(be, a->ids, b->ids, N * sizeof *a->ids);
	if (b->mask) {
		const void *src = b->mask;
		if (be->act_dtype == NYS_F64) {
			double *d = a->hmask;
			for (size_t i = 0; i < N; i++)
				d[i] = b->mask[i];
			src = d;
		}
		nys_backend_set(be, a->mask, src, N * be->act_esize);
	} else {
		nys_backend_fill(be, a->mask, N, 1.0);
	}
	encoder_forward(m, a);
	head_forward(m, a, b, st != NULL);
	if (st)
		*st = (nys_model_stats){0};
	double s[2];
	if (nys_backend_sync(be, e) ||
	    (st && b->labels && (nys_backend_get(be, s, a->stats, sizeof s) || nys_backend_sync(be, e))))
		return -1;
	a->have_scores = true;
	a->has_loss = b->labels != NULL;
	if (st && b->labels)
		*st = (nys_model_stats){.loss = s[0], .count = a->P, .correct = s[1]};
	return 0;
}

/* ---- backward ---------------------------------------------------------------------------- */

static void attention_backward(nys_model *m, lra *a, lra_acts *X, const lra_layer *w, int l)
{
	nys_backend *be = m->be;
	const nys_lra_model_config *c = &a->c;
	const nys_acc W = NYS_OVERWRITE;
	int B = a->B, T = a->T, H = (int)c->num_head, D = (int)c->head_dim;
	switch (c->attn) {
	case NYS_LRA_SOFTMAX:
		nys_backend_attn_softmax_backward(be, W, a->dq, a->dk, a->dv, a->scratch, a->scratch_n,
		                                  a->tatt, X->asaved, X->q, X->k, X->v, a->mask, B, H,
		                                  T, D, a->a_drop, site(a, SITE(l, 0)));
		break;
	case NYS_LRA_NYSTROM: {
		struct nys_nystrom_opts o = nystrom_opts(c, B, T);
		bool cv = w->conv != NYS_NO_TENSOR;
		nys_backend_nystrom_backward(be, W, a->dq, a->dk, a->dv, cv ? G_(w->conv) : NULL,
		                             a->scratch, a->scratch_n, a->tatt, X->asaved, X->q, X->k,
		                             X->v, a->mask, cv ? P_(w->conv) : NULL, &o);
		break;
	}
	case NYS_LRA_LINFORMER:
		nys_backend_linformer_backward(be, W, a->dq, a->dk, a->dv, G_(a->E), a->scratch,
		                               a->scratch_n, a->tatt, X->asaved, X->q, X->k, X->v,
		                               a->mask, P_(a->E), B, H, T, D, (int)c->attn_size,
		                               (int)c->max_seq_len);
		break;
	case NYS_LRA_PERFORMER:
	case NYS_LRA_LINEAR: {
		struct nys_linattn_opts o = linattn_opts(c, B, T);
		nys_backend_linattn_backward(be, W, a->dq, a->dk, a->dv, a->scratch, a->scratch_n,
		                             a->tatt, X->asaved, X->q, X->k, X->v, a->mask,
		                             w->feat == NYS_NO_TENSOR ? NULL : P_(w->feat), &o);
		break;
	}
	case NYS_LRA_REFORMER: {
		/* the shared query-key array is q; k is not used */
		struct nys_lsh_opts o = lsh_opts(c, B, T);
		nys_backend_lsh_backward(be, W, a->dq, a->dv, a->scratch, a->scratch_n, a->tatt,
		                         X->asaved, X->q, X->v, a->mask, P_(w->rot), &o);
		nys_backend_zero(be, a->dk, (size_t)B * T * H * D * be->act_esize);
		break;
	}
	case NYS_LRA_NONE: break;
	}
}

static void lra_backward_ops(nys_model *m, lra *a, double dloss)
{
	nys_backend *be = m->be;
	const nys_lra_model_config *c = &a->c;
	const nys_acc W = NYS_OVERWRITE, ACC = NYS_ACCUMULATE;
	int B = a->B, T = a->T, N = B * T, C = (int)c->dim, F = (int)c->hidden_dim;
	int H = (int)c->num_head, D = (int)c->head_dim, A = H * D, L = (int)c->num_classes;
	int P = a->P, CI = c->dual ? 4 * C : C;
	size_t NC = (size_t)N * C, NF = (size_t)N * F, NA = (size_t)N * A;

	nys_backend_crossentropy_backward(be, W, a->dscores, a->probs, a->labels, P, L, 1.0 / P,
	                                  dloss);
	nys_backend_linear_backward(be, W, a->dh, G_(a->c2w), G_(a->c2b), a->dscores, a->hr,
	                            P_(a->c2w), P, F, L);
	nys_backend_relu_backward(be, W, a->dh2, a->dh, a->h1, (size_t)P * F);
	nys_backend_linear_backward(be, W, c->dual ? a->dfeat : a->dpool, G_(a->c1w), G_(a->c1b),
	                            a->dh2, c->dual ? a->feat : a->pool, P_(a->c1w), P, CI, F);
	if (c->dual)
		nys_backend_pairfeat_backward(be, W, a->dpool, a->dfeat, a->pool, P, C);
	nys_backend_meanpool_backward(be, W, a->dlnf, a->dpool, a->mask, B, T, C);
	const void *xl = c->num_layers ? a->A[c->num_layers - 1].res2 : a->x0;
	nys_backend_layernorm_backward(be, W, a->dX, G_(a->lnw), G_(a->lnb), a->dlnf, xl,
	                               P_(a->lnw), a->mf, a->rf, N, C);
	/* dX: the gradient of the current layer's output */
	for (uint32_t l = c->num_layers; l-- > 0;) {
		lra_acts *X = &a->A[l];
		const lra_layer *w = &a->L[l];
		const void *x = l ? a->A[l - 1].res2 : a->x0;
		/* res2 = res1 + drop(drop(gelu(LN2(res1) W1 + b1)) W2 + b2) */
		nys_backend_dropout_backward(be, W, a->dT, a->dX, NC, a->p_drop, site(a, SITE(l, 3)));
		nys_backend_linear_backward(be, W, a->dF2, G_(w->w2), G_(w->b2), a->dT, X->gd,
		                            P_(w->w2), N, F, C);
		nys_backend_dropout_backward(be, W, a->dF1, a->dF2, NF, a->p_drop, site(a, SITE(l, 2)));
		nys_backend_gelu_erf_backward(be, W, a->dF2, a->dF1, X->ff1, NF);
		nys_backend_linear_backward(be, W, a->dT, G_(w->w1), G_(w->b1), a->dF2, X->ln2,
		                            P_(w->w1), N, C, F);
		nys_backend_layernorm_backward(be, ACC, a->dX, G_(w->ln2w), G_(w->ln2b), a->dT,
		                               X->res1, P_(w->ln2w), X->m2, X->r2, N, C);
		/* res1 = x + drop(attention(LN1(x)) Wo + bo) */
		nys_backend_dropout_backward(be, W, a->dT, a->dX, NC, a->p_drop, site(a, SITE(l, 1)));
		nys_backend_linear_backward(be, W, a->dattp, G_(w->wo), G_(w->bo), a->dT, X->attp,
		                            P_(w->wo), N, A, C);
		if (c->attn == NYS_LRA_NONE) {
			nys_backend_merge_heads_backward(be, W, a->dv, a->dattp, B, T, H, D);
			nys_backend_zero(be, a->dq, NA * be->act_esize);
			nys_backend_zero(be, a->dk, NA * be->act_esize);
		} else {
			nys_backend_merge_heads_backward(be, W, a->tatt, a->dattp, B, T, H, D);
			attention_backward(m, a, X, w, (int)l);
		}
		nys_backend_split_heads_backward(be, W, a->tqkv, a->dq, a->dk, a->dv, B, T, H, D);
		nys_backend_linear_backward(be, W, a->dT, G_(w->wqkv),
		                            c->attn == NYS_LRA_REFORMER ? NULL : G_(w->bqkv), a->tqkv,
		                            X->ln1, P_(w->wqkv), N, C, 3 * A);
		nys_backend_layernorm_backward(be, ACC, a->dX, G_(w->ln1w), G_(w->ln1b), a->dT, x,
		                               P_(w->ln1w), X->m1, X->r1, N, C);
	}
	nys_backend_dropout_backward(be, W, a->dT, a->dX, NC, a->p_drop, site(a, 0));
	nys_backend_posembed_backward(be, G_(a->wte), G_(a->wpe), a->dT, a->ids, B, T, C);
}

static int lra_backward(nys_model *m, double dloss, nys_err *e)
{
	lra *a = ctx_of(m);
	if (!a->has_loss)
		return nys_err_set(e, "model: backward without a forward that computed a loss");
	if (!m->buf[NYS_BUF_GRADS] && nys_model_zero_grad(m, e))
		return -1;
	nys_backend_begin(m->be);
	lra_backward_ops(m, a, dloss);
	a->has_loss = false;
	return nys_backend_sync(m->be, e);
}

static const void *lra_output(const nys_model *m, nys_output which, size_t *n)
{
	const lra *a = ctx_of(m);
	*n = 0;
	if (!a->have_scores)
		return NULL;
	if (which == NYS_OUT_SCORES) {
		*n = (size_t)a->P * a->c.num_classes;
		return a->scores;
	}
	if (which == NYS_OUT_HIDDEN) {
		*n = (size_t)a->B * a->T * a->c.dim;
		return a->lnf;
	}
	return NULL;
}

static const nys_model_arch lra_arch = {
	.build = lra_build, .forward = lra_forward, .backward = lra_backward,
	.output = lra_output, .config_str = lra_config_str, .free = lra_free,
};

nys_model *nys_lra_model_new(const nys_lra_model_config *c, nys_dtype dtype, nys_device device,
                             nys_backend *backend, nys_err *e)
{
	const char *bad = nys_lra_model_check(c);
	if (bad)
		return nys_err_set(e, "model: %s", bad), NULL;
	lra *a = calloc(1, sizeof *a);
	if (a) {
		a->c = *c;
		if (c->attn == NYS_LRA_REFORMER && !c->lsh_buckets)
			a->c.lsh_buckets = nys_lra_lsh_buckets(c->max_seq_len, c->lsh_chunk);
		a->L = calloc(c->num_layers ? c->num_layers : 1, sizeof *a->L);
		a->A = calloc(c->num_layers ? c->num_layers : 1, sizeof *a->A);
	}
	if (!a || !a->L || !a->A) {
		if (a) {
			free(a->L);
			free(a->A);
		}
		free(a);
		return nys_err_set(e, "model: out of memory"), NULL;
	}
	/* the base config: what nys_model's own code reads of it */
	nys_model_config mc = {
		.vocab_size = c->vocab_size, .num_sen_type = 1, .max_seq_len = c->max_seq_len,
		.embedding_dim = c->dim, .transformer_dim = c->dim,
		.transformer_hidden_dim = c->hidden_dim, .num_layers = c->num_layers,
		.num_head = c->num_head, .head_dim = c->head_dim, .dropout_prob = c->dropout_prob,
	};
	nys_model_opts mo = {.dtype = dtype, .device = device,
	                     .backend = backend};
	return nys_model_new_arch(&mc, &mo, &lra_arch, a, e);
}
