/* The model's tensor table, parameter buffers, initialisation and
 * checkpoints, and the dispatch to the float or double forward/backward
 * (model.inc).  See nys_model.h and nys-checkpoint(5). */
#include "model_impl.h"
#include "nys_rng.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tensor table ------------------------------------------------- */

typedef struct table {
	nys_model *m;
	size_t cap;
	int failed; /* 1: out of memory, 2: a size does not fit size_t */
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
	if (o->dtype != NYS_F32 && o->dtype != NYS_F64) {
		nys_err_set(e, "model: the dtype must be F32 or F64");
		return NULL;
	}
	if (o->num_labels < 0 || o->num_labels > 1 << 20) {
		nys_err_set(e, "model: %d labels is out of range", o->num_labels);
		return NULL;
	}
	nys_model *m = calloc(1, sizeof *m);
	if (!m) {
		nys_err_sys(e, "model");
		return NULL;
	}
	m->cfg = *cfg;
	m->o = *o;
	m->esize = nys_dtype_size(o->dtype);
	m->off.layer = calloc(cfg->num_layers ? cfg->num_layers : 1, sizeof *m->off.layer);
	table tb = {.m = m};
	if (m->off.layer)
		build_table(&tb);
	uint64_t bytes = 0, have = nys_mem_total();
	if (tb.failed == 2 || __builtin_mul_overflow((uint64_t)m->np, (uint64_t)m->esize, &bytes)) {
		nys_err_set(e, "model: the parameter count does not fit this machine's sizes");
	} else if (have && bytes > have) {
		nys_err_set(e, "model: %zu parameters need %llu bytes (%.1f GB); this machine has "
		            "%llu (%.1f GB)", m->np, (unsigned long long)bytes, (double)bytes / 1e9,
		            (unsigned long long)have, (double)have / 1e9);
	} else if (!m->off.layer || tb.failed || !(m->params = calloc(m->np ? m->np : 1, m->esize))) {
		nys_err_set(e, "model: out of memory for %zu parameters", m->np);
	} else {
		return m;
	}
	nys_model_free(m);
	return NULL;
}

void nys_model_free(nys_model *m)
{
	if (!m)
		return;
	if (m->run) {
		if (m->o.dtype == NYS_F32)
			nys_model_run_free_f32(m->run);
		else
			nys_model_run_free_f64(m->run);
	}
	free(m->params);
	free(m->grads);
	free(m->off.layer);
	free(m->t);
	free(m);
}

const nys_model_config *nys_model_cfg(const nys_model *m) { return &m->cfg; }
const nys_model_opts *nys_model_options(const nys_model *m) { return &m->o; }
size_t nys_model_ntensors(const nys_model *m) { return m->nt; }
const nys_tensor_info *nys_model_tensor(const nys_model *m, size_t i) { return &m->t[i]; }
size_t nys_model_nparams(const nys_model *m) { return m->np; }
void *nys_model_params(nys_model *m) { return m->params; }

const nys_tensor_info *nys_model_find(const nys_model *m, const char *name)
{
	for (size_t i = 0; i < m->nt; i++)
		if (!strcmp(m->t[i].name, name))
			return &m->t[i];
	return NULL;
}

void *nys_model_grads(nys_model *m)
{
	if (!m->grads)
		m->grads = calloc(m->np ? m->np : 1, m->esize);
	return m->grads;
}

int nys_model_zero_grad(nys_model *m, nys_err *e)
{
	if (!nys_model_grads(m))
		return nys_err_set(e, "model: out of memory for the gradients");
	memset(m->grads, 0, m->np * m->esize);
	return 0;
}

/* ---- initialisation ---------------------------------------------------- */

static void put(nys_model *m, size_t i, double v)
{
	if (m->o.dtype == NYS_F32)
		((float *)m->params)[i] = (float)v;
	else
		((double *)m->params)[i] = v;
}

/* A standard normal from two uniforms (Box-Muller). */
static double normal(nys_rng *r)
{
	double u = nys_rng_random(r), v = nys_rng_random(r);
	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

void nys_model_init(nys_model *m, uint64_t seed)
{
	nys_rng r;
	nys_rng_seed(&r, seed);
	for (size_t i = 0; i < m->nt; i++) {
		const nys_tensor_info *t = &m->t[i];
		if (t->alias)
			continue;
		const char *n = t->name;
		size_t len = strlen(n);
		bool is_bias = len > 5 && !strcmp(n + len - 5, ".bias");
		if (strstr(n, "LayerNorm")) {
			for (size_t j = 0; j < t->numel; j++)
				put(m, t->offset + j, is_bias ? 0.0 : 1.0);
		} else if (strstr(n, "_embeddings.")) {
			for (size_t j = 0; j < t->numel; j++)
				put(m, t->offset + j, 0.02 * normal(&r));
		} else if (!strcmp(n, "cls.predictions.bias")) {
			for (size_t j = 0; j < t->numel; j++)
				put(m, t->offset + j, 0.0);
		} else {
			/* PyTorch's default for Linear and Conv2d: U(-1/sqrt(fan_in),
			 * 1/sqrt(fan_in)); a bias takes the fan-in of its weight, the
			 * tensor just before it in the table. */
			const nys_tensor_info *w = is_bias && i > 0 ? &m->t[i - 1] : t;
			if (is_bias && strstr(n, ".attention.self.")) /* q, k, v weights come first */
				w = &m->t[i - 3];
			double fan_in = 1;
			for (int d = 1; d < w->ndim; d++)
				fan_in *= (double)w->shape[d];
			double bound = 1.0 / sqrt(fan_in);
			for (size_t j = 0; j < t->numel; j++)
				put(m, t->offset + j, bound * (2.0 * nys_rng_random(&r) - 1.0));
		}
	}
}

/* ---- forward, backward, outputs: by dtype -------------------------------- */

/* The model runs every product on OpenMP's threads (see dense_gemm in
 * ops_dense.inc), OpenBLAS on one: its own pool of threads then stays
 * asleep instead of spinning against OpenMP's. */
static int blas_serial(void)
{
	int nb = openblas_get_num_threads();
	if (nb > 1)
		openblas_set_num_threads(1);
	return nb;
}

static void blas_restore(int nb)
{
	if (nb > 1)
		openblas_set_num_threads(nb);
}

int nys_model_forward(nys_model *m, const nys_batch *b, bool train, uint64_t seed,
                      nys_model_stats *st, nys_err *e)
{
	int nb = blas_serial();
	int rc = m->o.dtype == NYS_F32 ? nys_model_forward_f32(m, b, train, seed, st, e)
	                               : nys_model_forward_f64(m, b, train, seed, st, e);
	blas_restore(nb);
	return rc;
}

int nys_model_backward(nys_model *m, double dloss, nys_err *e)
{
	if (!nys_model_grads(m))
		return nys_err_set(e, "model: out of memory for the gradients");
	int nb = blas_serial();
	int rc = m->o.dtype == NYS_F32 ? nys_model_backward_f32(m, dloss, e)
	                               : nys_model_backward_f64(m, dloss, e);
	blas_restore(nb);
	return rc;
}

size_t nys_model_act_bytes(const nys_model *m, int B, int T, size_t rows)
{
	return m->o.dtype == NYS_F32 ? nys_model_act_bytes_f32(m, B, T, rows)
	                             : nys_model_act_bytes_f64(m, B, T, rows);
}

const void *nys_model_output(const nys_model *m, nys_output which, size_t *n)
{
	*n = 0;
	if (!m->run)
		return NULL;
	return m->o.dtype == NYS_F32 ? nys_model_output_f32(m, which, n)
	                             : nys_model_output_f64(m, which, n);
}

/* ---- checkpoints --------------------------------------------------------- */

void nys_model_st_entries(const nys_model *m, nys_st_entry *out)
{
	for (size_t i = 0; i < m->nt; i++) {
		const nys_tensor_info *t = &m->t[i];
		out[i] = (nys_st_entry){
			.name = t->name, .dtype = m->o.dtype, .ndim = t->ndim,
			.data = (const char *)m->params + t->offset * m->esize,
		};
		memcpy(out[i].shape, t->shape, sizeof t->shape);
	}
}

char *nys_model_config_str(const nys_model *m)
{
	json_t *mj = nys_model_config_to_json(&m->cfg);
	char *s = mj ? json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(mj);
	return s;
}

int nys_model_save(const nys_model *m, const char *path, const char *const *meta, nys_err *e)
{
	nys_st_entry *ent = calloc(m->nt ? m->nt : 1, sizeof *ent);
	char *cfg = nys_model_config_str(m);
	size_t nmeta = 0;
	while (meta && meta[nmeta])
		nmeta++;
	const char **all = calloc(nmeta + 3, sizeof *all);
	int rc = -1;
	if (!ent || !cfg || !all) {
		nys_err_set(e, "%s: out of memory", path);
		goto out;
	}
	all[0] = "nys_model";
	all[1] = cfg;
	for (size_t i = 0; i < nmeta; i++)
		all[2 + i] = meta[i];
	nys_model_st_entries(m, ent);
	rc = nys_st_write(path, ent, m->nt, all, e);
out:
	free(all);
	free(cfg);
	free(ent);
	return rc;
}

/* The position table of a shorter model, tiled into ours. */
static int load_tiled_positions(nys_model *m, const nys_st *st, const nys_tensor_info *t,
                                nys_err *e)
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
			put(m, t->offset + (size_t)r * C + c, v);
		}
	}
	return 0;
}

int nys_model_load_st(nys_model *m, const nys_st *st, unsigned flags, nys_err *e)
{
	for (size_t i = 0; i < m->nt; i++) {
		const nys_tensor_info *t = &m->t[i];
		if (t->alias)
			continue;
		int dt = nys_st_dtype(st, t->name);
		if (dt < 0 && t->head && (flags & NYS_LOAD_HEADS_OPTIONAL))
			continue;
		if (t->offset == m->off.wpe && (flags & NYS_LOAD_TILE_POSITIONS)) {
			int64_t shape[NYS_ST_MAX_DIMS];
			if (nys_st_shape(st, t->name, shape) == 2 && shape[0] != t->shape[0]) {
				if (load_tiled_positions(m, st, t, e))
					return -1;
				continue;
			}
		}
		nys_dtype want = dt == NYS_F64 ? NYS_F64 : NYS_F32;
		const unsigned char *src = nys_st_get(st, t->name, want, t->ndim, t->shape, e);
		if (!src)
			return -1;
		void *dst = (char *)m->params + t->offset * m->esize;
		if (want == m->o.dtype) {
			memcpy(dst, src, t->numel * m->esize);
		} else if (want == NYS_F32) { /* into a double model */
			for (size_t j = 0; j < t->numel; j++) {
				float f;
				memcpy(&f, src + 4 * j, 4);
				((double *)dst)[j] = f;
			}
		} else {
			for (size_t j = 0; j < t->numel; j++) {
				double d;
				memcpy(&d, src + 8 * j, 8);
				((float *)dst)[j] = (float)d;
			}
		}
	}
	return 0;
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
