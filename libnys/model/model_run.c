/* The model's forward and backward, as backend ops (nys_backend.h), written
 * once for every dtype: the arrays are the backend's memory (void
 * pointers, element sizes from the instance), the scalars double, and the
 * backend runs each op in its precision.  See nys_model.h for the network;
 * model.c holds the tensor table this reads the parameters from.
 *
 * Activations live in two arenas: the body's, sized per (B, T) (the
 * embeddings, every layer's saved tensors, the classifier and the
 * backward's temporaries), and the MLM head's, sized per number of rows
 * (labelled positions), which changes from batch to batch and grows by a
 * quarter when it must.  What a layer saves for its backward:
 *
 *   q, k, v (B, H, T, D)   the attention's inputs
 *   asaved                 what the attention op keeps (linear in T for Nystrom)
 *   attp (B, T, H D)       the heads merged: the output projection's input
 *   res1, res2 (B, T, C)   the LayerNorms' inputs; ln1 (B, T, C) and their
 *                          mean and rstd (B, T)
 *   ff1, gel (B, T, F)     the feed-forward's hidden layer, before and after GELU
 *   ln2 (B, T, C)          the layer's output, the next layer's input
 *
 * Dropout masks are not kept: each dropout site draws from its own seed,
 * mixed from the step's seed and the site's number, and the backward draws
 * the same mask again.
 *
 * Nothing goes back to the host inside a forward or backward: the batch's
 * ids, types, labelled rows and labels go up (the mask only when the batch
 * has one: otherwise the arena's mask is filled with ones once), the losses
 * and correct predictions are counted by the backend into two doubles that
 * come down once at the end.  The ops' failures are recorded in the backend
 * and collected by the nys_backend_sync that ends each run.
 */
#include "model_impl.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct layer_acts {
	void *q, *k, *v, *asaved, *attp, *res1, *ln1, *m1, *r1, *ff1, *gel, *res2, *ln2, *m2, *r2;
} layer_acts;

typedef struct nys_model_run {
	int B, T;             /* the body arena's shape */
	size_t body_bytes;    /* the body arena's size (a smaller shape reuses it) */
	size_t host_n;        /* elements the host staging holds */
	void *body;
	size_t head_cap;      /* rows the head arena holds */
	void *head;

	/* host staging */
	void *hmask;          /* (B, T) of the activations' dtype: mask, targets */
	int32_t *hrows, *hlab; /* (B T) */

	/* body */
	int32_t *ids, *types; /* (B, T); types NULL when all 0 */
	void *mask;           /* (B, T) */
	bool mask_ones;       /* mask holds ones (from fill) */
	double *stats;        /* the loss and the correct predictions */
	void *emb, *proj, *ln0, *m0, *r0, *x0;
	layer_acts *L;
	void *tqkv, *tatt, *tc, *scratch;
	size_t scratch_n;
	void *dX, *dR, *dT, *dF1, *dF2, *dq, *dk, *dv, *dattp, *demb, *dproj;
	/* classifier */
	int32_t *crows, *clab;
	void *cx, *cd0, *cdense, *cact, *cd1, *scores, *cprobs, *closs, *ctgt;
	int32_t *cpred;
	void *dc1, *dc2, *dc3, *dc4;

	/* MLM head, M rows */
	int32_t *rows, *lab, *pred;
	void *hx, *hd, *hg, *hln, *hm, *hr, *logits, *probs, *losses;
	void *dhx, *dhd, *dhg, *dhln;

	/* the last forward */
	int M;                /* head rows (0: head not run) */
	bool have_hidden, mlm_run, cls_run, has_loss, train, types_given;
	uint64_t seed;
	double p_drop, loss_scale;
	struct nys_nystrom_opts nopt;
} run_t;

/* ---- arenas ---------------------------------------------------------------- */

static struct nys_nystrom_opts nystrom_opts(const nys_model_config *c, int B, int T)
{
	struct nys_nystrom_opts o = {
		.B = B,
		.H = (int)c->num_head,
		.T = T,
		.D = (int)c->head_dim,
		.landmarks = nys_config_uses_landmarks(c) ? (int)c->num_landmarks : T,
		.pinv_iters = (int)c->inv_iterations,
		.pinv_init = c->inv_init == NYS_INV_INIT_NEW ? NYS_PINV_PER_MATRIX : NYS_PINV_ORIGINAL,
		.conv_k = (int)c->conv_kernel_size,
		.unpadded_means = c->landmarks_skip_padding,
	};
	return o;
}

/* The arenas' layouts as tables: each slot is a pointer in run_t or
 * layer_acts, the number of elements it gets (an index into the counts of
 * one layout) and their type.  The arena hands out the slots in order, each
 * at a 64-byte aligned offset; with no base it only counts the bytes (and
 * sets the pointers to NULL). */
enum {
	/* the body, N = B T positions */
	K_N, K_NE, K_NC, K_NA, K_N3A, K_NF, K_ASAVED, K_SCRATCH, K_STATS,
	K_B, K_BC, K_BL, /* the classifier, one row a sequence */
	K_M, K_MC, K_ME, K_MV, /* the MLM head, M rows */
	K_COUNTS
};
enum { T_ACT, T_I32, T_F64, T_PROJ /* an activation only when E != C */ };
typedef struct slot {
	size_t at;          /* offsetof the pointer */
	unsigned char n;    /* K_* */
	unsigned char type; /* T_* */
} slot;

#define RUN(f, n, t) {offsetof(run_t, f), n, t}
#define LAYER(f, n) {offsetof(layer_acts, f), n, T_ACT}
static const slot body_head[] = {
	RUN(ids, K_N, T_I32), RUN(types, K_N, T_I32), RUN(mask, K_N, T_ACT),
	RUN(stats, K_STATS, T_F64), RUN(emb, K_NE, T_ACT), RUN(proj, K_NC, T_PROJ),
	RUN(ln0, K_NC, T_ACT), RUN(m0, K_N, T_ACT), RUN(r0, K_N, T_ACT), RUN(x0, K_NC, T_ACT),
};
static const slot body_layer[] = {
	LAYER(q, K_NA), LAYER(k, K_NA), LAYER(v, K_NA), LAYER(asaved, K_ASAVED),
	LAYER(attp, K_NA), LAYER(res1, K_NC), LAYER(ln1, K_NC), LAYER(m1, K_N), LAYER(r1, K_N),
	LAYER(ff1, K_NF), LAYER(gel, K_NF), LAYER(res2, K_NC), LAYER(ln2, K_NC), LAYER(m2, K_N),
	LAYER(r2, K_N),
};
static const slot body_tail[] = {
	RUN(tqkv, K_N3A, T_ACT), RUN(tatt, K_NA, T_ACT), RUN(tc, K_NC, T_ACT),
	RUN(scratch, K_SCRATCH, T_ACT), RUN(dX, K_NC, T_ACT), RUN(dR, K_NC, T_ACT),
	RUN(dT, K_NC, T_ACT), RUN(dF1, K_NF, T_ACT), RUN(dF2, K_NF, T_ACT), RUN(dq, K_NA, T_ACT),
	RUN(dk, K_NA, T_ACT), RUN(dv, K_NA, T_ACT), RUN(dattp, K_NA, T_ACT),
	RUN(demb, K_NE, T_ACT), RUN(dproj, K_NC, T_PROJ),
	/* the classifier */
	RUN(crows, K_B, T_I32), RUN(clab, K_B, T_I32), RUN(cpred, K_B, T_I32),
	RUN(cx, K_BC, T_ACT), RUN(cd0, K_BC, T_ACT), RUN(cdense, K_BC, T_ACT),
	RUN(cact, K_BC, T_ACT), RUN(cd1, K_BC, T_ACT), RUN(scores, K_BL, T_ACT),
	RUN(cprobs, K_BL, T_ACT), RUN(closs, K_B, T_ACT), RUN(ctgt, K_B, T_ACT),
	RUN(dc1, K_BC, T_ACT), RUN(dc2, K_BC, T_ACT), RUN(dc3, K_BC, T_ACT), RUN(dc4, K_BL, T_ACT),
};
static const slot head_slots[] = {
	RUN(rows, K_M, T_I32), RUN(lab, K_M, T_I32), RUN(pred, K_M, T_I32),
	RUN(hx, K_MC, T_ACT), RUN(hd, K_ME, T_ACT), RUN(hg, K_ME, T_ACT), RUN(hln, K_ME, T_ACT),
	RUN(hm, K_M, T_ACT), RUN(hr, K_M, T_ACT), RUN(logits, K_MV, T_ACT),
	RUN(probs, K_MV, T_ACT), RUN(losses, K_M, T_ACT), RUN(dhx, K_MC, T_ACT),
	RUN(dhd, K_ME, T_ACT), RUN(dhg, K_ME, T_ACT), RUN(dhln, K_ME, T_ACT),
};
#undef RUN
#undef LAYER

typedef struct arena {
	char *base;         /* NULL: count only */
	size_t off;         /* bytes handed out so far */
	size_t es;          /* an activation's bytes */
	bool proj;          /* the T_PROJ slots are there (E != C) */
	size_t n[K_COUNTS]; /* elements of each count */
} arena;

/* Hand out the slots of `obj` in order. */
static void arena_take(arena *a, void *obj, const slot *s, size_t ns)
{
	for (size_t i = 0; i < ns; i++) {
		char *at = (char *)obj + s[i].at;
		size_t size = s[i].type == T_I32 ? sizeof(int32_t)
		              : s[i].type == T_F64 ? sizeof(double) : a->es;
		void *p = NULL;
		if (s[i].type != T_PROJ || a->proj) {
			p = a->base ? a->base + a->off : NULL;
			a->off += (a->n[s[i].n] * size + 63) / 64 * 64;
		}
		if (s[i].type == T_I32)
			*(int32_t **)at = p;
		else if (s[i].type == T_F64)
			*(double **)at = p;
		else
			*(void **)at = p;
	}
}
#define COUNT(t) (sizeof(t) / sizeof *(t))

/* Lay out the body arena for (B, T) at base; the bytes it needs. */
static size_t body_layout(run_t *r, const nys_model *m, void *base, int B, int T)
{
	const nys_model_config *c = &m->cfg;
	size_t N = (size_t)B * T, E = c->embedding_dim, C = c->transformer_dim;
	size_t F = c->transformer_hidden_dim, A = (size_t)c->num_head * c->head_dim;
	size_t asaved = 0, scratch = 0;
	size_t L = m->o.num_labels > 0 ? (size_t)m->o.num_labels : 1;
	if (c->attn_type == NYS_ATTN_NYSTROM) {
		struct nys_nystrom_opts o = nystrom_opts(c, B, T);
		nys_backend_nystrom_size(m->be, &o, &asaved, &scratch);
	} else {
		nys_backend_attn_softmax_size(m->be, B, (int)c->num_head, T, &asaved, &scratch);
	}
	arena a = {.base = base, .es = m->be->act_esize, .proj = E != C,
	           .n = {[K_N] = N, [K_NE] = N * E, [K_NC] = N * C, [K_NA] = N * A,
	                 [K_N3A] = N * 3 * A, [K_NF] = N * F, [K_ASAVED] = asaved,
	                 [K_SCRATCH] = scratch, [K_STATS] = 2, [K_B] = (size_t)B,
	                 [K_BC] = B * C, [K_BL] = B * L}};
	arena_take(&a, r, body_head, COUNT(body_head));
	for (uint32_t l = 0; l < c->num_layers; l++)
		arena_take(&a, &r->L[l], body_layer, COUNT(body_layer));
	arena_take(&a, r, body_tail, COUNT(body_tail));
	r->scratch_n = scratch;
	return a.off;
}

static size_t head_layout(run_t *r, const nys_model *m, void *base, size_t M)
{
	const nys_model_config *c = &m->cfg;
	size_t E = c->embedding_dim, C = c->transformer_dim, V = c->vocab_size;
	arena a = {.base = base, .es = m->be->act_esize,
	           .n = {[K_M] = M, [K_MC] = M * C, [K_ME] = M * E, [K_MV] = M * V}};
	arena_take(&a, r, head_slots, COUNT(head_slots));
	return a.off;
}
#undef COUNT

size_t nys_model_act_bytes(const nys_model *m, int B, int T, size_t rows)
{
	run_t r = {0};
	r.L = calloc(m->cfg.num_layers ? m->cfg.num_layers : 1, sizeof *r.L);
	if (!r.L)
		return SIZE_MAX;
	size_t cap = rows + rows / 4 + 16; /* as head_reserve grows it */
	size_t bytes = body_layout(&r, m, NULL, B, T) + head_layout(&r, m, NULL, cap);
	free(r.L);
	/* the host copies of mask, rows and labels that run_get makes */
	return bytes + (size_t)B * T * (m->be->act_esize + sizeof *r.hrows + sizeof *r.hlab);
}

void nys_model_run_free(nys_model *m)
{
	run_t *r = m->run;
	if (!r)
		return;
	nys_backend_release(m->be, r->body);
	nys_backend_release(m->be, r->head);
	free(r->hmask);
	free(r->hrows);
	free(r->hlab);
	free(r->L);
	free(r);
	m->run = NULL;
}

static run_t *run_get(nys_model *m, int B, int T, nys_err *e)
{
	run_t *r = m->run;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r || !(r->L = calloc(m->cfg.num_layers ? m->cfg.num_layers : 1, sizeof *r->L))) {
			free(r);
			nys_err_set(e, "model: out of memory");
			return NULL;
		}
		m->run = r;
	}
	if (r->body && r->B == B && r->T == T)
		return r;
	size_t N = (size_t)B * T, bytes = body_layout(r, m, NULL, B, T);
	r->mask_ones = false;
	r->have_hidden = false;
	if (r->body && bytes <= r->body_bytes && N <= r->host_n) {
		/* a shape that fits the arena it has (batches padded to their
		 * longest row, a shorter last batch): laid out again there, not
		 * allocated anew, which would cost more than the smaller batch
		 * saves */
		body_layout(r, m, r->body, B, T);
		r->B = B;
		r->T = T;
		return r;
	}
	nys_backend_release(m->be, r->body);
	free(r->hmask);
	free(r->hrows);
	free(r->hlab);
	r->body = NULL;
	r->B = r->T = 0;
	r->body_bytes = r->host_n = 0;
	r->hmask = malloc(N * m->be->act_esize);
	r->hrows = malloc(N * sizeof *r->hrows);
	r->hlab = malloc(N * sizeof *r->hlab);
	if (!r->hmask || !r->hrows || !r->hlab || !(r->body = nys_backend_alloc(m->be, bytes))) {
		nys_err_set(e, "model: out of memory for the activations of batch %d x %d (%.1f MB)",
		            B, T, (double)bytes / 1e6);
		return NULL;
	}
	body_layout(r, m, r->body, B, T);
	r->B = B;
	r->T = T;
	r->body_bytes = bytes;
	r->host_n = N;
	return r;
}

static int head_reserve(run_t *r, const nys_model *m, size_t M, nys_err *e)
{
	if (r->head && M <= r->head_cap) {
		head_layout(r, m, r->head, r->head_cap);
		return 0;
	}
	size_t cap = M + M / 4 + 16;
	nys_backend_release(m->be, r->head);
	size_t bytes = head_layout(r, m, NULL, cap);
	if (!(r->head = nys_backend_alloc(m->be, bytes))) {
		r->head_cap = 0;
		return nys_err_set(e, "model: out of memory for the MLM head of %zu rows (%.1f MB)",
		                   M, (double)bytes / 1e6);
	}
	r->head_cap = cap;
	head_layout(r, m, r->head, cap);
	return 0;
}

/* Host values (float) in the activations' dtype (F32 or F64): as they are,
 * or converted into the staging buffer. */
static const void *stage_reals(const nys_model *m, run_t *r, const float *x, size_t n)
{
	if (m->be->act_dtype == NYS_F32)
		return x;
	double *d = r->hmask;
	for (size_t i = 0; i < n; i++)
		d[i] = x[i];
	return d;
}

/* ---- forward ------------------------------------------------------------------ */

/* The seed of dropout site k in a step. */
static uint64_t site(uint64_t seed, unsigned k)
{
	return nys_splitmix64_at(seed, k);
}
/* Sites: 0 the embeddings; 1 + 3 l, 2 + 3 l, 3 + 3 l layer l's attention
 * probabilities (softmax), after-attention and after-feed-forward dropouts;
 * then the classifier's two. */
#define SITE_LAYER(l, j) (1u + 3u * (unsigned)(l) + (unsigned)(j))
#define SITE_CLS(c, j) (1u + 3u * (c)->num_layers + (unsigned)(j))

/* A parameter and its gradient by offset. */
#define P(off) nys_model_at(m, m->buf[NYS_BUF_PARAMS], (off))
#define G(off) nys_model_at(m, m->buf[NYS_BUF_GRADS], (off))

static int check_batch(const nys_model *m, const nys_batch *b, nys_err *e)
{
	const nys_model_config *c = &m->cfg;
	if (b->B < 1 || b->T < 1)
		return nys_err_set(e, "batch: %d x %d is empty", b->B, b->T);
	if ((uint64_t)b->B * (uint64_t)b->T > NYS_MAX_BATCH_TOKENS)
		return nys_err_set(e, "batch: %d x %d is more than the %llu tokens one forward takes",
		                   b->B, b->T, (unsigned long long)NYS_MAX_BATCH_TOKENS);
	if ((uint32_t)b->T > c->max_seq_len)
		return nys_err_set(e, "batch: length %d is longer than max_seq_len %u", b->T,
		                   c->max_seq_len);
	if (nys_config_uses_landmarks(c) && (uint32_t)b->T < c->num_landmarks)
		return nys_err_set(e, "batch: length %d is shorter than num_landmarks %u", b->T,
		                   c->num_landmarks);
	for (int i = 0; i < b->B; i++)
		for (int t = 0; t < b->T; t++) {
			size_t j = (size_t)i * b->T + t;
			if (b->ids[j] < 0 || (uint32_t)b->ids[j] >= c->vocab_size)
				return nys_err_set(e, "batch: sequence %d, position %d: token id %d is "
				                   "outside the vocabulary (0..%u)", i + 1, t + 1,
				                   b->ids[j], c->vocab_size - 1);
			if (b->type_ids && (b->type_ids[j] < 0 ||
			                    (uint32_t)b->type_ids[j] >= c->num_sen_type))
				return nys_err_set(e, "batch: sequence %d, position %d: token type %d is "
				                   "outside 0..%u", i + 1, t + 1, b->type_ids[j],
				                   c->num_sen_type - 1);
			if (m->o.num_labels == 0 && m->o.mlm && b->labels && b->labels[j] >= 0 &&
			    (uint32_t)b->labels[j] >= c->vocab_size)
				return nys_err_set(e, "batch: sequence %d, position %d: label %d is outside "
				                   "the vocabulary", i + 1, t + 1, b->labels[j]);
		}
	if (m->o.num_labels >= 2 && b->labels)
		for (int i = 0; i < b->B; i++)
			if (b->labels[i] < 0 || b->labels[i] >= m->o.num_labels)
				return nys_err_set(e, "batch: sequence %d: label %d is outside 0..%d", i + 1,
				                   b->labels[i], m->o.num_labels - 1);
	return 0;
}

/* The encoder's sizes for a run: batch B of T tokens (N in all), embedding
 * E, width C, feed-forward F, H heads of D (A = H D); NC and NF elements of
 * the (N, C) and (N, F) activations.  The forward and the backward read
 * them from one place. */
typedef struct dims {
	int B, T, E, C, F, H, D, A, N;
	size_t NC, NF;
} dims;

static dims dims_of(const run_t *r, const nys_model_config *c)
{
	dims d = {.B = r->B, .T = r->T, .E = (int)c->embedding_dim, .C = (int)c->transformer_dim,
	          .F = (int)c->transformer_hidden_dim, .H = (int)c->num_head,
	          .D = (int)c->head_dim};
	d.A = d.H * d.D;
	d.N = d.B * d.T;
	d.NC = (size_t)d.N * d.C;
	d.NF = (size_t)d.N * d.F;
	return d;
}

/* The encoder: embeddings and layers; the output is ln2 of the last layer
 * (x0 with no layers). */
static void encoder_forward(run_t *r, const nys_model *m)
{
	nys_backend *be = m->be;
	const nys_model_config *c = &m->cfg;
	const nys_model_off *o = &m->off;
	const dims d = dims_of(r, c);

	nys_backend_embedding_forward(be, r->emb, r->ids, r->types_given ? r->types : NULL,
	                              P(o->wte), P(o->wpe), P(o->wtt), d.B, d.T, d.E);
	const void *lnin = r->emb;
	if (r->proj) {
		nys_backend_linear_forward(be, r->proj, r->emb, P(o->pw), P(o->pb), d.N, d.E, d.C);
		lnin = r->proj;
	}
	nys_backend_layernorm_forward(be, r->ln0, r->m0, r->r0, lnin, P(o->lnw), P(o->lnb), d.N, d.C,
	                              1e-5);
	nys_backend_dropout_forward(be, r->x0, r->ln0, d.NC, r->p_drop, site(r->seed, 0));

	const void *x = r->x0;
	for (uint32_t l = 0; l < c->num_layers; l++) {
		layer_acts *L = &r->L[l];
		const nys_layer_off *w = &o->layer[l];
		nys_backend_linear_forward(be, r->tqkv, x, P(w->wqkv), P(w->bqkv), d.N, d.C, 3 * d.A);
		nys_backend_split_heads_forward(be, L->q, L->k, L->v, r->tqkv, d.B, d.T, d.H, d.D);
		if (c->attn_type == NYS_ATTN_NYSTROM)
			nys_backend_nystrom_forward(be, r->tatt, L->asaved, r->scratch, r->scratch_n, L->q,
			                            L->k, L->v, r->mask,
			                            w->conv == NYS_NO_TENSOR ? NULL : P(w->conv), &r->nopt);
		else
			nys_backend_attn_softmax_forward(be, r->tatt, L->asaved, r->scratch, r->scratch_n,
			                                 L->q, L->k, L->v, r->mask, d.B, d.H, d.T, d.D, r->p_drop,
			                                 site(r->seed, SITE_LAYER(l, 0)));
		nys_backend_merge_heads_forward(be, L->attp, r->tatt, d.B, d.T, d.H, d.D);
		nys_backend_linear_forward(be, r->tc, L->attp, P(w->wo), P(w->bo), d.N, d.A, d.C);
		nys_backend_dropout_forward(be, r->tc, r->tc, d.NC, r->p_drop,
		                            site(r->seed, SITE_LAYER(l, 1)));
		nys_backend_add_forward(be, L->res1, x, r->tc, d.NC);
		nys_backend_layernorm_forward(be, L->ln1, L->m1, L->r1, L->res1, P(w->ln1w),
		                              P(w->ln1b), d.N, d.C, 1e-5);
		/* ff1 = ln1 W1 + b1, gel = GELU(ff1): one op (a fused product on CUDA) */
		nys_backend_linear_gelu_forward(be, L->gel, L->ff1, L->ln1, P(w->w1), P(w->b1), d.N,
		                                d.C, d.F);
		nys_backend_linear_forward(be, r->tc, L->gel, P(w->w2), P(w->b2), d.N, d.F, d.C);
		nys_backend_dropout_forward(be, r->tc, r->tc, d.NC, r->p_drop,
		                            site(r->seed, SITE_LAYER(l, 2)));
		nys_backend_add_forward(be, L->res2, L->ln1, r->tc, d.NC);
		nys_backend_layernorm_forward(be, L->ln2, L->m2, L->r2, L->res2, P(w->ln2w),
		                              P(w->ln2b), d.N, d.C, 1e-5);
		x = L->ln2;
	}
}

static void *hidden(const run_t *r, const nys_model *m)
{
	return m->cfg.num_layers ? r->L[m->cfg.num_layers - 1].ln2 : r->x0;
}

static int mlm_forward(run_t *r, const nys_model *m, const nys_batch *b, nys_model_stats *st,
                       nys_err *e)
{
	nys_backend *be = m->be;
	const nys_model_config *c = &m->cfg;
	const nys_model_off *o = &m->off;
	int N = r->B * r->T, E = (int)c->embedding_dim, C = (int)c->transformer_dim;
	int V = (int)c->vocab_size, M = 0;
	for (int i = 0; i < N; i++)
		if (!b->labels || b->labels[i] >= 0) {
			r->hrows[M] = i;
			r->hlab[M] = b->labels ? b->labels[i] : NYS_IGNORE_LABEL;
			M++;
		}
	if (head_reserve(r, m, (size_t)M, e))
		return -1;
	r->M = M;
	r->mlm_run = true;
	r->has_loss = b->labels != NULL;
	r->loss_scale = 1.0 / ((double)M + 1e-6);
	if (st)
		st->count = M;
	if (!M)
		return 0;
	nys_backend_set(be, r->rows, r->hrows, (size_t)M * sizeof *r->rows);
	nys_backend_set(be, r->lab, r->hlab, (size_t)M * sizeof *r->lab);
	nys_backend_gather_forward(be, r->hx, hidden(r, m), r->rows, M, C);
	nys_backend_linear_forward(be, r->hd, r->hx, P(o->hw), P(o->hb), M, C, E);
	if (c->head_gelu == NYS_GELU_ERF)
		nys_backend_gelu_erf_forward(be, r->hg, r->hd, (size_t)M * E);
	else
		nys_backend_gelu_forward(be, r->hg, r->hd, (size_t)M * E);
	nys_backend_layernorm_forward(be, r->hln, r->hm, r->hr, r->hg, P(o->hlnw), P(o->hlnb), M,
	                              E, 1e-5);
	nys_backend_linear_forward(be, r->logits, r->hln, P(o->wte), P(o->hbias), M, E, V);
	if (b->labels)
		nys_backend_crossentropy_forward(be, r->probs, r->losses, r->pred, r->logits, r->lab, M,
		                                 V, r->loss_scale, st ? r->stats : NULL);
	return 0;
}

static void cls_forward(run_t *r, const nys_model *m, const nys_batch *b, nys_model_stats *st)
{
	nys_backend *be = m->be;
	const nys_model_config *c = &m->cfg;
	const nys_model_off *o = &m->off;
	int B = r->B, C = (int)c->transformer_dim, L = m->o.num_labels;
	size_t BC = (size_t)B * C;
	for (int i = 0; i < B; i++)
		r->hrows[i] = i * r->T;
	nys_backend_set(be, r->crows, r->hrows, (size_t)B * sizeof *r->crows);
	nys_backend_gather_forward(be, r->cx, hidden(r, m), r->crows, B, C);
	unsigned s0 = SITE_CLS(c, 0), s1 = SITE_CLS(c, 1);
	nys_backend_dropout_forward(be, r->cd0, r->cx, BC, r->p_drop, site(r->seed, s0));
	nys_backend_linear_forward(be, r->cdense, r->cd0, P(o->cw), P(o->cb), B, C, C);
	if (m->o.cls_act == NYS_CLS_GELU)
		nys_backend_gelu_forward(be, r->cact, r->cdense, BC);
	else
		nys_backend_tanh_forward(be, r->cact, r->cdense, BC);
	nys_backend_dropout_forward(be, r->cd1, r->cact, BC, r->p_drop, site(r->seed, s1));
	nys_backend_linear_forward(be, r->scores, r->cd1, P(o->ow), P(o->ob), B, C, L);
	r->cls_run = true;
	r->loss_scale = 1.0 / B;
	if (L == 1 && b->targets) {
		nys_backend_set(be, r->ctgt, stage_reals(m, r, b->targets, (size_t)B),
		                (size_t)B * be->act_esize);
		nys_backend_mse_forward(be, r->scores, r->ctgt, B, r->loss_scale,
		                        st ? r->stats : NULL);
		r->has_loss = true;
	} else if (L >= 2 && b->labels) {
		nys_backend_set(be, r->clab, b->labels, (size_t)B * sizeof *r->clab);
		nys_backend_crossentropy_forward(be, r->cprobs, r->closs, r->cpred, r->scores, r->clab,
		                                 B, L, r->loss_scale, st ? r->stats : NULL);
		r->has_loss = true;
	}
	if (st && r->has_loss)
		st->count = B;
}

static int forward(nys_model *m, run_t *r, const nys_batch *b, nys_model_stats *st,
                   nys_err *e)
{
	nys_backend *be = m->be;
	size_t N = (size_t)b->B * b->T;
	nys_backend_set(be, r->ids, b->ids, N * sizeof *r->ids);
	if (b->type_ids)
		nys_backend_set(be, r->types, b->type_ids, N * sizeof *r->types);
	if (b->mask) {
		nys_backend_set(be, r->mask, stage_reals(m, r, b->mask, N), N * be->act_esize);
		r->mask_ones = false;
	} else if (!r->mask_ones) {
		nys_backend_fill(be, r->mask, N, 1.0);
		r->mask_ones = true;
	}
	r->types_given = b->type_ids != NULL;
	encoder_forward(r, m);
	r->have_hidden = true;
	if (m->o.num_labels > 0) {
		cls_forward(r, m, b, st);
		return 0;
	}
	if (m->o.mlm)
		return mlm_forward(r, m, b, st, e);
	return 0;
}

int nys_model_forward(nys_model *m, const nys_batch *b, bool train, uint64_t seed,
                      nys_model_stats *st, nys_err *e)
{
	if (m->arch)
		return m->arch->forward(m, b, train, seed, st, e);
	if (check_batch(m, b, e))
		return -1;
	run_t *r = run_get(m, b->B, b->T, e);
	if (!r)
		return -1;
	r->have_hidden = r->mlm_run = r->cls_run = r->has_loss = false;
	r->M = 0;
	r->train = train;
	r->seed = seed;
	r->p_drop = train ? m->cfg.dropout_prob : 0.0;
	r->nopt = nystrom_opts(&m->cfg, b->B, b->T);
	if (st)
		st->loss = st->count = st->correct = 0;
	nys_backend_begin(m->be);
	if (forward(m, r, b, st, e)) {
		nys_backend_sync(m->be, &(nys_err){{0}});
		return -1;
	}
	double s[2];
	bool stats = st && r->has_loss && (r->cls_run || r->M > 0);
	if (nys_backend_sync(m->be, e) ||
	    (stats && (nys_backend_get(m->be, s, r->stats, sizeof s) || nys_backend_sync(m->be, e)))) {
		/* a failed op: nothing of this forward is usable */
		r->have_hidden = r->mlm_run = r->cls_run = r->has_loss = false;
		return -1;
	}
	if (stats) {
		st->loss = s[0];
		st->correct = s[1];
	}
	return 0;
}

/* ---- backward ------------------------------------------------------------------ */

/* The backward of the close of a sublayer, out = LN(res), res = x +
 * drop(in W + b) with in of K columns: from dout, dres gets the gradient
 * of res (which is also x's share, the residual's), and din that of in;
 * the gradients of the norm's weights (lnw, lnb) and of the linear's (wt,
 * bias) are written.  dsite: the dropout's site. */
static void close_backward(run_t *r, const nys_model *m, const dims *d, void *dres,
                           const void *dout, const void *res, const void *mean,
                           const void *rstd, size_t lnw, size_t lnb, void *din, const void *in,
                           size_t wt, size_t bias, int K, uint64_t dsite)
{
	nys_backend *be = m->be;
	nys_backend_layernorm_backward(be, NYS_OVERWRITE, dres, G(lnw), G(lnb), dout, res, P(lnw),
	                               mean, rstd, d->N, d->C);
	nys_backend_dropout_backward(be, NYS_OVERWRITE, r->dT, dres, d->NC, r->p_drop, dsite);
	nys_backend_linear_backward(be, NYS_OVERWRITE, din, G(wt), G(bias), r->dT, in, P(wt), d->N,
	                            K, d->C);
}

static void encoder_backward(run_t *r, nys_model *m)
{
	nys_backend *be = m->be;
	const nys_model_config *c = &m->cfg;
	const nys_model_off *o = &m->off;
	const dims d = dims_of(r, c);
	const nys_acc W = NYS_OVERWRITE, ACC = NYS_ACCUMULATE;

	/* dX: the gradient of the current layer's output */
	for (uint32_t l = c->num_layers; l-- > 0;) {
		layer_acts *L = &r->L[l];
		const nys_layer_off *w = &o->layer[l];
		const void *x = l ? r->L[l - 1].ln2 : r->x0;
		/* x2 = LN2(res2), res2 = ln1 + drop(ff2), ff2 = gel W2 + b2 */
		close_backward(r, m, &d, r->dR, r->dX, L->res2, L->m2, L->r2, w->ln2w, w->ln2b,
		               r->dF2, L->gel, w->w2, w->b2, d.F, site(r->seed, SITE_LAYER(l, 2)));
		nys_backend_gelu_backward(be, W, r->dF1, r->dF2, L->ff1, d.NF);
		/* dR becomes the gradient of ln1: the residual's share plus ff1's */
		nys_backend_linear_backward(be, ACC, r->dR, G(w->w1), G(w->b1), r->dF1, L->ln1,
		                            P(w->w1), d.N, d.C, d.F);
		/* ln1 = LN1(res1), res1 = x + drop(attn), attn = attp Wo + bo */
		close_backward(r, m, &d, r->dX, r->dR, L->res1, L->m1, L->r1, w->ln1w, w->ln1b,
		               r->dattp, L->attp, w->wo, w->bo, d.A, site(r->seed, SITE_LAYER(l, 1)));
		nys_backend_merge_heads_backward(be, W, r->tatt, r->dattp, d.B, d.T, d.H, d.D);
		if (c->attn_type == NYS_ATTN_NYSTROM)
			nys_backend_nystrom_backward(be, W, r->dq, r->dk, r->dv,
			                             w->conv == NYS_NO_TENSOR ? NULL : G(w->conv),
			                             r->scratch, r->scratch_n, r->tatt, L->asaved, L->q,
			                             L->k, L->v, r->mask,
			                             w->conv == NYS_NO_TENSOR ? NULL : P(w->conv),
			                             &r->nopt);
		else
			nys_backend_attn_softmax_backward(be, W, r->dq, r->dk, r->dv, r->scratch,
			                                  r->scratch_n, r->tatt, L->asaved, L->q, L->k,
			                                  L->v, r->mask, d.B, d.H, d.T, d.D, r->p_drop,
			                                  site(r->seed, SITE_LAYER(l, 0)));
		nys_backend_split_heads_backward(be, W, r->tqkv, r->dq, r->dk, r->dv, d.B, d.T, d.H, d.D);
		/* dX (the residual's share, already there) += through Q, K, V */
		nys_backend_linear_backward(be, ACC, r->dX, G(w->wqkv), G(w->bqkv), r->tqkv, x,
		                            P(w->wqkv), d.N, d.C, 3 * d.A);
	}
	/* x0 = drop(LN(emb [projected])) */
	nys_backend_dropout_backward(be, W, r->dR, r->dX, d.NC, r->p_drop, site(r->seed, 0));
	void *dlnin = r->dproj ? r->dproj : r->demb;
	nys_backend_layernorm_backward(be, W, dlnin, G(o->lnw), G(o->lnb), r->dR,
	                               r->proj ? r->proj : r->emb, P(o->lnw), r->m0, r->r0, d.N, d.C);
	if (r->dproj)
		nys_backend_linear_backward(be, W, r->demb, G(o->pw), G(o->pb), r->dproj, r->emb,
		                            P(o->pw), d.N, d.E, d.C);
	nys_backend_embedding_backward(be, G(o->wte), G(o->wpe), G(o->wtt), r->demb, r->ids,
	                               r->types_given ? r->types : NULL, d.B, d.T, d.E);
}

static void backward(nys_model *m, run_t *r, double dloss)
{
	nys_backend *be = m->be;
	const nys_model_config *c = &m->cfg;
	const nys_model_off *o = &m->off;
	int N = r->B * r->T, B = r->B, E = (int)c->embedding_dim, C = (int)c->transformer_dim;
	int V = (int)c->vocab_size, M = r->M, L = m->o.num_labels;
	size_t BC = (size_t)B * C;
	const nys_acc W = NYS_OVERWRITE;

	if (r->cls_run) {
		if (L == 1)
			nys_backend_mse_backward(be, W, r->dc4, r->scores, r->ctgt, B, r->loss_scale, dloss);
		else
			nys_backend_crossentropy_backward(be, W, r->dc4, r->cprobs, r->clab, B, L,
			                                  r->loss_scale, dloss);
		unsigned s0 = SITE_CLS(c, 0), s1 = SITE_CLS(c, 1);
		nys_backend_linear_backward(be, W, r->dc1, G(o->ow), G(o->ob), r->dc4, r->cd1,
		                            P(o->ow), B, C, L);
		nys_backend_dropout_backward(be, W, r->dc2, r->dc1, BC, r->p_drop, site(r->seed, s1));
		if (m->o.cls_act == NYS_CLS_GELU)
			nys_backend_gelu_backward(be, W, r->dc3, r->dc2, r->cdense, BC);
		else
			nys_backend_tanh_backward(be, W, r->dc3, r->dc2, r->cact, BC);
		nys_backend_linear_backward(be, W, r->dc1, G(o->cw), G(o->cb), r->dc3, r->cd0,
		                            P(o->cw), B, C, C);
		nys_backend_dropout_backward(be, W, r->dc2, r->dc1, BC, r->p_drop, site(r->seed, s0));
		nys_backend_gather_backward(be, W, r->dX, r->dc2, r->crows, N, B, C);
	} else if (M > 0) {
		size_t ME = (size_t)M * E;
		/* the logits are not needed any more: their buffer takes their gradient */
		nys_backend_crossentropy_backward(be, W, r->logits, r->probs, r->lab, M, V,
		                                  r->loss_scale, dloss);
		nys_backend_linear_backward(be, W, r->dhln, G(o->wte), G(o->hbias), r->logits, r->hln,
		                            P(o->wte), M, E, V);
		nys_backend_layernorm_backward(be, W, r->dhg, G(o->hlnw), G(o->hlnb), r->dhln, r->hg,
		                               P(o->hlnw), r->hm, r->hr, M, E);
		if (c->head_gelu == NYS_GELU_ERF)
			nys_backend_gelu_erf_backward(be, W, r->dhd, r->dhg, r->hd, ME);
		else
			nys_backend_gelu_backward(be, W, r->dhd, r->dhg, r->hd, ME);
		nys_backend_linear_backward(be, W, r->dhx, G(o->hw), G(o->hb), r->dhd, r->hx, P(o->hw),
		                            M, C, E);
		nys_backend_gather_backward(be, W, r->dX, r->dhx, r->rows, N, M, C);
		r->M = 0; /* the logits are gone */
	} else {
		nys_backend_zero(be, r->dX, (size_t)N * C * be->act_esize);
	}
	encoder_backward(r, m);
}

int nys_model_backward(nys_model *m, double dloss, nys_err *e)
{
	if (m->arch)
		return m->arch->backward(m, dloss, e);
	run_t *r = m->run;
	if (!r || !r->has_loss)
		return nys_err_set(e, "model: backward without a forward that computed a loss");
	if (!m->buf[NYS_BUF_GRADS] && nys_model_zero_grad(m, e))
		return -1;
	nys_backend_begin(m->be);
	backward(m, r, dloss);
	r->has_loss = false;
	return nys_backend_sync(m->be, e);
}

/* ---- outputs ------------------------------------------------------------------ */

/* The output's backend memory and element count; NULL when absent. */
static const void *output(const nys_model *m, nys_output which, size_t *n)
{
	if (m->arch)
		return m->arch->output(m, which, n);
	const run_t *r = m->run;
	*n = 0;
	if (!r)
		return NULL;
	switch (which) {
	case NYS_OUT_HIDDEN:
		if (!r->have_hidden)
			return NULL;
		*n = (size_t)r->B * r->T * m->cfg.transformer_dim;
		return hidden(r, m);
	case NYS_OUT_LOGITS:
		if (!r->mlm_run || !r->M)
			return NULL;
		*n = (size_t)r->M * m->cfg.vocab_size;
		return r->logits;
	case NYS_OUT_SCORES:
		if (!r->cls_run)
			return NULL;
		*n = (size_t)r->B * (size_t)m->o.num_labels;
		return r->scores;
	}
	return NULL;
}

size_t nys_model_output_size(const nys_model *m, nys_output which)
{
	size_t n;
	output(m, which, &n);
	return n;
}

int nys_model_output(nys_model *m, nys_output which, void *host, nys_err *e)
{
	size_t n;
	const void *src = output(m, which, &n);
	if (!src)
		return nys_err_set(e, "model: the last forward made no such output");
	if (nys_backend_get(m->be, host, src, n * m->be->act_esize))
		return nys_backend_sync(m->be, e) ? -1 : nys_err_set(e, "model: copy failed");
	return nys_backend_sync(m->be, e);
}
