/* The model's tensor table, its buffers in the backend's memory (and the
 * copies in and out of them), initialisation, the optimizer step and
 * checkpoints; model_run.c has the forward and backward.  See nys_model.h
 * and nys-checkpoint(5). */
#include "model_impl.h"
#include "nys_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tensor table ------------------------------------------------- */

typedef struct nys_model_table {
	nys_model *m;
	size_t cap;
	int failed; /* 1: out of memory, 2: a size does not fit size_t, 3: the arch's build */
} table;

/* Append a tensor (or an alias of the tensor at offset `alias_of`) and
 * return its offset. */
static size_t add(table *tb, const char *name, int ndim, const int64_t *shape, bool head,
                  size_t alias_of)
{
	nys_model *m = tb->m;
	if (m->nt == tb->cap) {
		size_t cap = tb->cap ? 2 * tb->cap : 64;
		nys_tensor_info *t = realloc(m->t, cap * sizeof *t);
		if (!t) {
			tb->failed = 1;
			return NYS_NO_TENSOR;
		}
		m->t = t;
		tb->cap = cap;
	}
	nys_tensor_info *t = &m->t[m->nt++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->ndim = ndim;
	t->numel = 1;
	for (int d = 0; d < ndim; d++) {
		t->shape[d] = shape[d];
		if (shape[d] < 0 || __builtin_mul_overflow(t->numel, (size_t)shape[d], &t->numel))
			tb->failed = 2;
	}
	t->head = head;
	if (alias_of != NYS_NO_TENSOR) {
		t->alias = true;
		t->offset = alias_of;
		return alias_of;
	}
	t->offset = m->np;
	if (__builtin_add_overflow(m->np, t->numel, &m->np))
		tb->failed = 2;
	return t->offset;
}

size_t nys_model_table_add(nys_model_table *tb, const char *name, int ndim,
                           const int64_t *shape)
{
	return add(tb, name, ndim, shape, false, NYS_NO_TENSOR);
}

static size_t add1(table *tb, const char *name, int64_t n0, bool head)
{
	int64_t s[1] = {n0};
	return add(tb, name, 1, s, head, NYS_NO_TENSOR);
}

static size_t add2(table *tb, const char *name, int64_t n0, int64_t n1, bool head)
{
	int64_t s[2] = {n0, n1};
	return add(tb, name, 2, s, head, NYS_NO_TENSOR);
}

static void build_table(table *tb)
{
	nys_model *m = tb->m;
	const nys_model_config *c = &m->cfg;
	int64_t V = c->vocab_size, E = c->embedding_dim, C = c->transformer_dim;
	int64_t F = c->transformer_hidden_dim, H = c->num_head, A = H * c->head_dim;
	nys_model_off *o = &m->off;
	char name[96];

	o->wte = add2(tb, "nystromformer.embeddings.word_embeddings.weight", V, E, false);
	o->wpe = add2(tb, "nystromformer.embeddings.position_embeddings.weight",
	              (int64_t)c->max_seq_len + 2, E, false);
	o->wtt = add2(tb, "nystromformer.embeddings.token_type_embeddings.weight",
	              c->num_sen_type, E, false);
	o->pw = o->pb = NYS_NO_TENSOR;
	if (E != C) {
		o->pw = add2(tb, "nystromformer.embeddings.projection.weight", C, E, false);
		o->pb = add1(tb, "nystromformer.embeddings.projection.bias", C, false);
	}
	o->lnw = add1(tb, "nystromformer.embeddings.LayerNorm.weight", C, false);
	o->lnb = add1(tb, "nystromformer.embeddings.LayerNorm.bias", C, false);

	static const char *const qkv[3] = {"query", "key", "value"};
	for (uint32_t l = 0; l < c->num_layers; l++) {
		nys_layer_off *L = &o->layer[l];
#define LNAME(fmt) (snprintf(name, sizeof name, "nystromformer.encoder.layer.%u." fmt, l), name)
		for (int j = 0; j < 3; j++) {
			snprintf(name, sizeof name, "nystromformer.encoder.layer.%u.attention.self.%s.weight",
			         l, qkv[j]);
			size_t off = add2(tb, name, A, C, false);
			if (j == 0)
				L->wqkv = off;
		}
		for (int j = 0; j < 3; j++) {
			snprintf(name, sizeof name, "nystromformer.encoder.layer.%u.attention.self.%s.bias",
			         l, qkv[j]);
			size_t off = add1(tb, name, A, false);
			if (j == 0)
				L->bqkv = off;
		}
		L->conv = NYS_NO_TENSOR;
		if (c->attn_type == NYS_ATTN_NYSTROM && c->conv_kernel_size) {
			int64_t s[4] = {H, 1, c->conv_kernel_size, 1};
			L->conv = add(tb, LNAME("attention.self.conv.weight"), 4, s, false,
			              NYS_NO_TENSOR);
		}
		L->wo = add2(tb, LNAME("attention.output.dense.weight"), C, A, false);
		L->bo = add1(tb, LNAME("attention.output.dense.bias"), C, false);
		L->ln1w = add1(tb, LNAME("attention.output.LayerNorm.weight"), C, false);
		L->ln1b = add1(tb, LNAME("attention.output.LayerNorm.bias"), C, false);
		L->w1 = add2(tb, LNAME("intermediate.dense.weight"), F, C, false);
		L->b1 = add1(tb, LNAME("intermediate.dense.bias"), F, false);
		L->w2 = add2(tb, LNAME("output.dense.weight"), C, F, false);
		L->b2 = add1(tb, LNAME("output.dense.bias"), C, false);
		L->ln2w = add1(tb, LNAME("output.LayerNorm.weight"), C, false);
		L->ln2b = add1(tb, LNAME("output.LayerNorm.bias"), C, false);
#undef LNAME
	}

	o->hw = o->hb = o->hlnw = o->hlnb = o->hbias = NYS_NO_TENSOR;
	if (m->o.mlm) {
		o->hw = add2(tb, "cls.predictions.transform.dense.weight", E, C, true);
		o->hb = add1(tb, "cls.predictions.transform.dense.bias", E, true);
		o->hlnw = add1(tb, "cls.predictions.transform.LayerNorm.weight", E, true);
		o->hlnb = add1(tb, "cls.predictions.transform.LayerNorm.bias", E, true);
		o->hbias = add1(tb, "cls.predictions.bias", V, true);
		int64_t s[2] = {V, E}, sb[1] = {V};
		add(tb, "cls.predictions.decoder.weight", 2, s, true, o->wte);
		add(tb, "cls.predictions.decoder.bias", 1, sb, true, o->hbias);
	}
	o->cw = o->cb = o->ow = o->ob = NYS_NO_TENSOR;
	if (m->o.num_labels > 0) {
		o->cw = add2(tb, "classifier.dense.weight", C, C, true);
		o->cb = add1(tb, "classifier.dense.bias", C, true);
		o->ow = add2(tb, "classifier.out_proj.weight", m->o.num_labels, C, true);
		o->ob = add1(tb, "classifier.out_proj.bias", m->o.num_labels, true);
	}
}

nys_model *nys_model_new(const nys_model_config *cfg, const nys_model_opts *o, nys_err *e)
{
	return nys_model_new_arch(cfg, o, NULL, NULL, e);
}

nys_model *nys_model_new_arch(const nys_model_config *cfg, const nys_model_opts *o,
                              const nys_model_arch *arch, void *ctx, nys_err *e)
{
	nys_model *m = NULL;
	if (o->dtype != NYS_F32 && o->dtype != NYS_F64)
		nys_err_set(e, "model: the dtype must be F32 or F64");
	else if (o->num_labels < 0 || o->num_labels > 1 << 20)
		nys_err_set(e, "model: %d labels is out of range", o->num_labels);
	else if (!(m = calloc(1, sizeof *m)))
		nys_err_sys(e, "model");
	if (!m) {
		if (arch)
			arch->free(&(nys_model){.arch = arch, .arch_ctx = ctx});
		return NULL;
	}
	m->arch = arch;
	m->arch_ctx = ctx;
	m->cfg = *cfg;
	m->o = *o;
	m->esize = nys_dtype_size(o->dtype);
	for (int i = 0; i < 4; i++)
		m->src[i] = (struct nys_model_src){.m = m, .which = (nys_buffer)i};
	m->be = o->backend;
	if (!m->be) {
		if (!(m->be = nys_backend_new(o->device, o->dtype, e))) {
			nys_model_free(m);
			return NULL;
		}
		nys_backend_set_matmul(m->be, o->matmul);
		m->own_be = true;
	} else if (m->be->dtype != o->dtype) {
		nys_err_set(e, "model: the backend's dtype is %s, not %s", nys_dtype_name(m->be->dtype),
		            nys_dtype_name(o->dtype));
		m->be = NULL;
		nys_model_free(m);
		return NULL;
	}
	m->off.layer = calloc(cfg->num_layers ? cfg->num_layers : 1, sizeof *m->off.layer);
	table tb = {.m = m};
	nys_err be = {{0}};
	if (m->off.layer && arch) {
		if (arch->build(m, &tb, &be) && !tb.failed)
			tb.failed = 3;
	} else if (m->off.layer) {
		build_table(&tb);
	}
	uint64_t bytes = 0, have = nys_mem_total();
	if (tb.failed == 3) {
		*e = be;
	} else if (tb.failed == 2 || __builtin_mul_overflow((uint64_t)m->np, (uint64_t)m->esize, &bytes)) {
		nys_err_set(e, "model: the parameter count does not fit this machine's sizes");
	} else if (have && bytes > have) {
		nys_err_set(e, "model: %zu parameters need %llu bytes (%.1f GB); this machine has "
		            "%llu (%.1f GB)", m->np, (unsigned long long)bytes, (double)bytes / 1e9,
		            (unsigned long long)have, (double)have / 1e9);
	} else if (!m->off.layer || tb.failed ||
	           !(m->buf[NYS_BUF_PARAMS] = nys_backend_alloc(m->be, m->np * m->esize))) {
		nys_err_set(e, "model: out of memory for %zu parameters", m->np);
	} else if (!nys_backend_zero(m->be, m->buf[NYS_BUF_PARAMS], m->np * m->esize) &&
	           !nys_backend_sync(m->be, e)) {
		return m;
	}
	nys_model_free(m);
	return NULL;
}

void nys_model_free(nys_model *m)
{
	if (!m)
		return;
	if (m->arch)
		m->arch->free(m);
	nys_model_run_free(m);
	for (int i = 0; i < 4; i++)
		nys_backend_release(m->be, m->buf[i]);
	if (m->own_be)
		nys_backend_free(m->be);
	free(m->off.layer);
	free(m->t);
	free(m);
}

const nys_model_config *nys_model_cfg(const nys_model *m) { return &m->cfg; }
const nys_model_opts *nys_model_options(const nys_model *m) { return &m->o; }
size_t nys_model_ntensors(const nys_model *m) { return m->nt; }
const nys_tensor_info *nys_model_tensor(const nys_model *m, size_t i) { return &m->t[i]; }
size_t nys_model_nparams(const nys_model *m) { return m->np; }
nys_backend *nys_model_backend(const nys_model *m) { return m->be; }

const nys_tensor_info *nys_model_find(const nys_model *m, const char *name)
{
	for (size_t i = 0; i < m->nt; i++)
		if (!strcmp(m->t[i].name, name))
			return &m->t[i];
	return NULL;
}

/* ---- buffers ----------------------------------------------------------- */

/* The buffer `which`, made (zeroed) on first use; NULL with e set. */
static void *buffer(nys_model *m, nys_buffer which, nys_err *e)
{
	static const char *const what[4] = {"parameters", "gradients", "AdamW moments",
	                                    "AdamW moments"};
	if (which < NYS_BUF_PARAMS || which > NYS_BUF_EXP_AVG_SQ) {
		nys_err_set(e, "model: no buffer %d", (int)which);
		return NULL;
	}
	if (!m->buf[which]) {
		void *p = nys_backend_alloc(m->be, m->np * m->esize);
		if (!p) {
			nys_err_set(e, "model: out of memory for the %s of %zu parameters", what[which],
			            m->np);
			return NULL;
		}
		if (nys_backend_zero(m->be, p, m->np * m->esize) || nys_backend_sync(m->be, e)) {
			nys_backend_release(m->be, p);
			return NULL;
		}
		m->buf[which] = p;
	}
	return m->buf[which];
}

static int check_range(const nys_model *m, size_t offset, size_t n, nys_err *e)
{
	if (offset > m->np || n > m->np - offset)
		return nys_err_set(e, "model: elements %zu..%zu are outside the %zu parameters",
		                   offset, offset + n, m->np);
	return 0;
}

int nys_model_get(nys_model *m, nys_buffer which, size_t offset, size_t n, void *host,
                  nys_err *e)
{
	void *b = buffer(m, which, e);
	if (!b || check_range(m, offset, n, e))
		return -1;
	if (nys_backend_get(m->be, host, nys_model_at(m, b, offset), n * m->esize))
		return nys_backend_sync(m->be, e) ? -1 : nys_err_set(e, "model: copy failed");
	return nys_backend_sync(m->be, e);
}

int nys_model_set(nys_model *m, nys_buffer which, size_t offset, size_t n, const void *host,
                  nys_err *e)
{
	void *b = buffer(m, which, e);
	if (!b || check_range(m, offset, n, e))
		return -1;
	if (nys_backend_set(m->be, nys_model_at(m, b, offset), host, n * m->esize))
		return nys_backend_sync(m->be, e) ? -1 : nys_err_set(e, "model: copy failed");
	return nys_backend_sync(m->be, e);
}

void *nys_model_buffer(nys_model *m, nys_buffer which, nys_err *e)
{
	return buffer(m, which, e);
}

void *nys_model_copy(nys_model *m, nys_buffer which, nys_err *e)
{
	void *h = malloc(m->np ? m->np * m->esize : 1);
	if (!h) {
		nys_err_set(e, "model: out of memory for a copy of %zu parameters", m->np);
		return NULL;
	}
	if (nys_model_get(m, which, 0, m->np, h, e)) {
		free(h);
		return NULL;
	}
	return h;
}

int nys_model_zero_grad(nys_model *m, nys_err *e)
{
	void *g = buffer(m, NYS_BUF_GRADS, e);
	if (!g)
		return -1;
	nys_backend_zero(m->be, g, m->np * m->esize);
	return nys_backend_sync(m->be, e);
}

int nys_model_adamw_step(nys_model *m, nys_adamw *o, nys_err *e)
{
	void *g = buffer(m, NYS_BUF_GRADS, e), *mo = g ? buffer(m, NYS_BUF_EXP_AVG, e) : NULL;
	void *v = mo ? buffer(m, NYS_BUF_EXP_AVG_SQ, e) : NULL;
	if (!v)
		return -1;
	nys_backend_adamw_step(m->be, m->buf[NYS_BUF_PARAMS], g, mo, v, m->np, o);
	return nys_backend_sync(m->be, e);
}

int nys_model_grad_norm(nys_model *m, double *norm, nys_err *e)
{
	void *g = buffer(m, NYS_BUF_GRADS, e);
	if (!g)
		return -1;
	/* the op writes backend memory (a device address on a GPU) */
	double *bn = nys_backend_alloc(m->be, sizeof *bn);
	if (!bn)
		return nys_err_set(e, "model: out of memory for the gradient norm");
	nys_backend_grad_norm(m->be, g, m->np, bn);
	nys_backend_get(m->be, norm, bn, sizeof *norm);
	int rc = nys_backend_sync(m->be, e);
	nys_backend_release(m->be, bn);
	return rc;
}

int nys_model_grad_nonfinite(nys_model *m, bool *bad, nys_err *e)
{
	void *g = buffer(m, NYS_BUF_GRADS, e);
	int b = 0;
	if (!g)
		return -1;
	nys_backend_nonfinite(m->be, g, m->np, &b);
	*bad = b != 0;
	return nys_backend_sync(m->be, e);
}

/* ---- initialisation ---------------------------------------------------- */

void nys_model_put(const nys_model *m, void *host, size_t j, double v)
{
	if (m->o.dtype == NYS_F32)
		((float *)host)[j] = (float)v;
	else
		((double *)host)[j] = v;
}

/* A host array for one tensor of the table: the largest one's size. */
static void *tensor_host(const nys_model *m, nys_err *e)
{
	size_t most = 1;
	for (size_t i = 0; i < m->nt; i++)
		if (m->t[i].numel > most)
			most = m->t[i].numel;
	void *h = malloc(most * m->esize);
	if (!h)
		nys_err_set(e, "model: out of memory for a tensor of %zu elements", most);
	return h;
}

double nys_model_normal(nys_rng *r)
{
	double u = nys_rng_random(r), v = nys_rng_random(r);
	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

void nys_model_fill_fan_in(const nys_model *m, void *host, size_t n, const nys_tensor_info *w,
                           nys_rng *r)
{
	double fan_in = 1;
	for (int d = 1; d < w->ndim; d++)
		fan_in *= (double)w->shape[d];
	double bound = 1.0 / sqrt(fan_in);
	for (size_t j = 0; j < n; j++)
		nys_model_put(m, host, j, bound * (2.0 * nys_rng_random(r) - 1.0));
}

int nys_model_init(nys_model *m, uint64_t seed, nys_err *e)
{
	nys_rng r;
	nys_rng_seed(&r, seed);
	void *h = tensor_host(m, e);
	if (!h)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < m->nt && !rc; i++) {
		const nys_tensor_info *t = &m->t[i];
		if (t->alias)
			continue;
		const char *n = t->name;
		size_t len = strlen(n);
		bool is_bias = len > 5 && !strcmp(n + len - 5, ".bias");
		if (strstr(n, "LayerNorm")) {
			for (size_t j = 0; j < t->numel; j++)
				nys_model_put(m, h, j, is_bias ? 0.0 : 1.0);
		} else if (strstr(n, "_embeddings.")) {
			for (size_t j = 0; j < t->numel; j++)
				nys_model_put(m, h, j, 0.02 * nys_model_normal(&r));
		} else if (!strcmp(n, "cls.predictions.bias")) {
			for (size_t j = 0; j < t->numel; j++)
				nys_model_put(m, h, j, 0.0);
		} else {
			/* PyTorch's default for Linear and Conv2d: U(-1/sqrt(fan_in),
			 * 1/sqrt(fan_in)); a bias takes the fan-in of its weight, the
			 * tensor just before it in the table. */
			const nys_tensor_info *w = is_bias && i > 0 ? &m->t[i - 1] : t;
			if (is_bias && strstr(n, ".attention.self.")) /* q, k, v weights come first */
				w = &m->t[i - 3];
			nys_model_fill_fan_in(m, h, t->numel, w, &r);
		}
		rc = nys_model_set(m, NYS_BUF_PARAMS, t->offset, t->numel, h, e);
	}
	free(h);
	return rc;
}

/* ---- checkpoints --------------------------------------------------------- */

/* nys_st_entry.read over a buffer of the model's (ctx: its m->src). */
static int read_buffer(void *ctx, uint64_t off, void *host, size_t n, nys_err *e)
{
	const struct nys_model_src *s = ctx;
	nys_model *m = s->m;
	size_t bytes = m->np * m->esize;
	void *b = buffer(m, s->which, e);
	if (!b)
		return -1;
	if (off > bytes || n > bytes - off)
		return nys_err_set(e, "model: bytes %llu..%llu are outside the buffer",
		                   (unsigned long long)off, (unsigned long long)(off + n));
	nys_backend_get(m->be, host, (char *)b + off, n);
	return nys_backend_sync(m->be, e);
}

void nys_model_st_entries(nys_model *m, nys_st_entry *out)
{
	for (size_t i = 0; i < m->nt; i++) {
		const nys_tensor_info *t = &m->t[i];
		out[i] = (nys_st_entry){
			.name = t->name, .dtype = m->o.dtype, .ndim = t->ndim,
			.read = read_buffer, .ctx = &m->src[NYS_BUF_PARAMS],
			.at = (uint64_t)t->offset * m->esize,
		};
		memcpy(out[i].shape, t->shape, sizeof t->shape);
	}
}

nys_st_entry nys_model_st_buffer(nys_model *m, nys_buffer which, const char *name)
{
	return (nys_st_entry){
		.name = name, .dtype = m->o.dtype, .ndim = 1, .shape = {(int64_t)m->np},
		.read = read_buffer, .ctx = &m->src[which],
	};
}

char *nys_model_config_str(const nys_model *m)
{
	if (m->arch)
		return m->arch->config_str(m);
	json_t *mj = nys_model_config_to_json(&m->cfg);
	char *s = mj ? json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(mj);
	return s;
}

int nys_model_save(nys_model *m, const char *path, const char *const *meta, nys_err *e)
{
	nys_st_entry *ent = calloc(m->nt ? m->nt : 1, sizeof *ent);
	char *cfg = nys_model_config_str(m);
	size_t nmeta = 0;
	while (meta && meta[nmeta])
		nmeta++;
	const char **all = calloc(nmeta + 5, sizeof *all);
	int rc = -1;
	if (!ent || !cfg || !all) {
		nys_err_set(e, "%s: out of memory", path);
		goto out;
	}
	all[0] = "nys_model";
	all[1] = cfg;
	size_t k = 2;
	/* which classifier head: the config does not say, and export-hf
	 * (nys_hf.h) can express only transformers' */
	if (m->o.num_labels > 0) {
		all[k++] = "nys_cls_act";
		all[k++] = m->o.cls_act == NYS_CLS_GELU ? "gelu" : "tanh";
	}
	for (size_t i = 0; i < nmeta; i++)
		all[k + i] = meta[i];
	nys_model_st_entries(m, ent);
	rc = nys_st_write(path, ent, m->nt, all, e);
out:
	free(all);
	free(cfg);
	free(ent);
	return rc;
}

/* The position table of a shorter model, tiled into ours (h: a host
 * array for the tensor). */
static int load_tiled_positions(nys_model *m, const nys_st *st, const nys_tensor_info *t,
                                void *h, nys_err *e)
{
	int64_t shape[NYS_ST_MAX_DIMS];
	int nd = nys_st_shape(st, t->name, shape);
	int dt = nys_st_dtype(st, t->name);
	int64_t rows = t->shape[0], P = nd == 2 ? shape[0] : 0;
	if (nd != 2 || shape[1] != t->shape[1] || P < 3 || (rows - 2) % (P - 2))
		return nys_err_set(e, "tensor %s: %lld rows cannot be tiled into %lld", t->name,
		                   (long long)P, (long long)rows);
	const unsigned char *src = nys_st_get(st, t->name, dt == NYS_F64 ? NYS_F64 : NYS_F32, 2,
	                                      shape, e);
	if (!src)
		return -1;
	size_t C = (size_t)t->shape[1], es = dt == NYS_F64 ? 8 : 4;
	for (int64_t r = 0; r < rows; r++) {
		int64_t from = r < 2 ? r : 2 + (r - 2) % (P - 2);
		for (size_t c = 0; c < C; c++) {
			double v;
			if (es == 8) {
				memcpy(&v, src + ((size_t)from * C + c) * 8, 8);
			} else {
				float f;
				memcpy(&f, src + ((size_t)from * C + c) * 4, 4);
				v = f;
			}
			nys_model_put(m, h, (size_t)r * C + c, v);
		}
	}
	return nys_model_set(m, NYS_BUF_PARAMS, t->offset, t->numel, h, e);
}

/* One tensor of the file, converted to the model's dtype, into the
 * parameters (h: a host array for the tensor). */
static int load_tensor(nys_model *m, const nys_st *st, const nys_tensor_info *t, void *h,
                       nys_err *e)
{
	nys_dtype want = nys_st_dtype(st, t->name) == NYS_F64 ? NYS_F64 : NYS_F32;
	const unsigned char *src = nys_st_get(st, t->name, want, t->ndim, t->shape, e);
	if (!src)
		return -1;
	if (want == m->o.dtype) {
		memcpy(h, src, t->numel * m->esize);
	} else if (want == NYS_F32) { /* into a double model */
		for (size_t j = 0; j < t->numel; j++) {
			float f;
			memcpy(&f, src + 4 * j, 4);
			((double *)h)[j] = f;
		}
	} else {
		for (size_t j = 0; j < t->numel; j++) {
			double d;
			memcpy(&d, src + 8 * j, 8);
			((float *)h)[j] = (float)d;
		}
	}
	return nys_model_set(m, NYS_BUF_PARAMS, t->offset, t->numel, h, e);
}

int nys_model_load_st(nys_model *m, const nys_st *st, unsigned flags, nys_err *e)
{
	void *h = tensor_host(m, e);
	int rc = h ? 0 : -1;
	for (size_t i = 0; i < m->nt && !rc; i++) {
		const nys_tensor_info *t = &m->t[i];
		if (t->alias)
			continue;
		if (nys_st_dtype(st, t->name) < 0 && t->head && (flags & NYS_LOAD_HEADS_OPTIONAL))
			continue;
		int64_t shape[NYS_ST_MAX_DIMS];
		if (t->offset == m->off.wpe && (flags & NYS_LOAD_TILE_POSITIONS) &&
		    nys_st_shape(st, t->name, shape) == 2 && shape[0] != t->shape[0])
			rc = load_tiled_positions(m, st, t, h, e);
		else
			rc = load_tensor(m, st, t, h, e);
	}
	free(h);
	return rc;
}

int nys_model_load(nys_model *m, const char *path, unsigned flags, nys_err *e)
{
	nys_st *st = nys_st_load(path, e);
	if (!st)
		return -1;
	int rc = nys_model_load_st(m, st, flags, e);
	nys_st_free(st);
	return rc;
}
