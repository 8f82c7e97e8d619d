/* The LRA training driver (nys_lra_train.h): the task's config, the
 * prepared records, the data order, evaluation on dev, the best model,
 * the test score and the log.  The step is nys_loop.h's and the
 * checkpoints nys_ckpt.h's, as for pretraining.
 *
 * Everything random is a function of the seed and a counter (the data
 * order: the number of records delivered; dropout: the step), so a
 * checkpoint's parameters, AdamW moments, step and the best dev score so
 * far resume a run bit for bit. */
#include "nys_ckpt.h"
#include "nys_json.h"
#include "nys_lra_data.h"
#include "nys_lra_model.h"
#include "nys_lra_train.h"
#include "nys_loop.h"
#include "nys_rng.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct settings {
	uint64_t batch, warmup, eval_every, steps, eval_steps;
	double lr, weight_decay;
} settings;

typedef struct run {
	const nys_lra_train_opts *o;
	nys_info info;
	nys_lra_model_config mc;
	settings s;
	nys_lra_set *train, *dev, *test;
	nys_model *m;
	nys_loop loop;
	nys_ckpt ck;
	uint64_t delivered, resume_delivered;
	uint64_t *perm, perm_pass; /* the order of the pass perm_pass (UINT64_MAX: none) */
	/* the best dev score as correct of count records (so that dev scored on
	 * another number of records, --dev-max changed, still compares) */
	uint64_t best_step, best_correct, best_count, resume_best_step, resume_best_correct,
	    resume_best_count;
	int32_t *ids, *labels, *tmp; /* tmp: one document as stored */
	float *mask;
	size_t rows;               /* documents the host batch holds */
	FILE *log;
	char *log_path, *best_path, *result_path;
	bool validated;
} run;

/* ---- the config ------------------------------------------------------------------ */

static int get_u32(const json_t *o, const char *key, uint32_t *v, bool need, const char *name,
                   nys_err *e)
{
	const json_t *j = json_object_get(o, key);
	if (!j)
		return need ? nys_err_set(e, "%s: %s is missing", name, key) : 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > 1 << 30)
		return nys_err_set(e, "%s: %s must be an integer 0 to 2^30", name, key);
	*v = (uint32_t)json_integer_value(j);
	return 0;
}

static int get_real(const json_t *o, const char *key, double *v, const char *name, nys_err *e)
{
	const json_t *j = json_object_get(o, key);
	if (!j)
		return nys_err_set(e, "%s: %s is missing", name, key);
	if (!json_is_number(j) || !isfinite(json_number_value(j)) || json_number_value(j) < 0)
		return nys_err_set(e, "%s: %s must be a number >= 0", name, key);
	*v = json_number_value(j);
	return 0;
}

static int read_config(run *r, const nys_lra_header *h, nys_err *e)
{
	const nys_lra_train_opts *o = r->o;
	const char *name = o->config;
	json_t *root = nys_json_load(name, 0, e);
	if (!root)
		return -1;
	int rc = -1;
	const json_t *model = json_object_get(root, "model");
	const json_t *tr = json_object_get(root, "training");
	const json_t *task = json_object_get(root, "task");
	nys_lra_model_config *c = &r->mc;
	uint32_t emb = 0, batch = 0, warmup = 0, evalf = 0, steps = 0, evals = 0;
	if (!json_is_object(model) || !json_is_object(tr)) {
		nys_err_set(e, "%s: expected the objects \"model\" and \"training\"", name);
		goto out;
	}
	if (json_is_string(task) && strcmp(json_string_value(task), nys_lra_task_name(h->task))) {
		nys_err_set(e, "%s: a config for %s, the data is %s", name, json_string_value(task),
		            nys_lra_task_name(h->task));
		goto out;
	}
	if (get_u32(model, "embedding_dim", &emb, true, name, e) ||
	    get_u32(model, "transformer_dim", &c->dim, true, name, e) ||
	    get_u32(model, "transformer_hidden_dim", &c->hidden_dim, true, name, e) ||
	    get_u32(model, "head_dim", &c->head_dim, true, name, e) ||
	    get_u32(model, "num_head", &c->num_head, true, name, e) ||
	    get_u32(model, "num_layers", &c->num_layers, true, name, e) ||
	    get_u32(model, "max_seq_len", &c->max_seq_len, true, name, e) ||
	    get_real(model, "dropout_prob", &c->dropout_prob, name, e) ||
	    get_real(model, "attention_dropout", &c->attention_dropout, name, e) ||
	    get_u32(tr, "batch_size", &batch, true, name, e) ||
	    get_real(tr, "learning_rate", &r->s.lr, name, e) ||
	    get_u32(tr, "warmup", &warmup, true, name, e) ||
	    get_real(tr, "weight_decay", &r->s.weight_decay, name, e) ||
	    get_u32(tr, "eval_frequency", &evalf, true, name, e) ||
	    get_u32(tr, "num_train_steps", &steps, true, name, e) ||
	    get_u32(tr, "num_eval_steps", &evals, false, name, e))
		goto out;
	if (emb != c->dim) {
		nys_err_set(e, "%s: embedding_dim %u differs from transformer_dim %u (the LRA model "
		            "has no projection)", name, emb, c->dim);
		goto out;
	}
	const json_t *pool = json_object_get(model, "pooling_mode");
	if (pool && (!json_is_string(pool) || strcmp(json_string_value(pool), "MEAN"))) {
		nys_err_set(e, "%s: pooling_mode: only MEAN is built", name);
		goto out;
	}
	if (nys_lra_attn_parse(o->attn ? o->attn : "softmax", c, e))
		goto out;
	if (o->max_len)
		c->max_seq_len = o->max_len;
	/* Reformer's hashing, when a config sets it (transformers' names) */
	if (c->attn == NYS_LRA_REFORMER &&
	    (get_u32(model, "lsh_attn_chunk_length", &c->lsh_chunk, false, name, e) ||
	     get_u32(model, "num_buckets", &c->lsh_buckets, false, name, e)))
		goto out;
	c->vocab_size = h->vocab_size;
	c->num_classes = h->classes;
	c->dual = h->docs == 2;
	r->s.batch = o->batch ? o->batch : batch;
	r->s.steps = o->steps ? o->steps : steps;
	r->s.warmup = o->warmup ? o->warmup
	              : o->steps ? (uint64_t)((double)warmup * (double)r->s.steps / steps + 0.5)
	                         : warmup;
	r->s.eval_every = o->eval_every ? o->eval_every : evalf;
	r->s.eval_steps = evals;
	const char *bad = nys_lra_model_check(c);
	if (bad) {
		nys_err_set(e, "%s: %s", name, bad);
		goto out;
	}
	if (!r->s.batch || !r->s.steps || !r->s.eval_every || r->s.warmup >= r->s.steps) {
		nys_err_set(e, "%s: batch_size, num_train_steps and eval_frequency must be positive "
		            "and warmup below num_train_steps", name);
		goto out;
	}
	if ((uint64_t)c->max_seq_len * r->s.batch * (c->dual ? 2 : 1) > NYS_MAX_BATCH_TOKENS) {
		nys_err_set(e, "%s: %llu records of %u tokens are more than one forward takes", name,
		            (unsigned long long)r->s.batch, c->max_seq_len);
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* ---- batches ---------------------------------------------------------------------- */

/* Record i of set s as row(s) j of a batch of P records (document d in
 * row d P + j), cut at max_seq_len and padded. */
static void put_record(run *r, const nys_lra_set *s, uint64_t i, int j, int P)
{
	int T = (int)r->mc.max_seq_len, docs = r->mc.dual ? 2 : 1;
	int32_t *tmp = r->tmp;
	for (int d = 0; d < docs; d++) {
		size_t row = (size_t)d * P + j;
		uint32_t n = nys_lra_set_ids(s, i, (unsigned)d, tmp);
		if (n > (uint32_t)T)
			n = (uint32_t)T;
		for (int t = 0; t < T; t++) {
			r->ids[row * T + t] = t < (int)n ? tmp[t] : 0;
			r->mask[row * T + t] = t < (int)n ? 1.0f : 0.0f;
		}
	}
	r->labels[j] = (int32_t)nys_lra_set_label(s, i);
}

static nys_batch batch_of(const run *r, int P, bool labels)
{
	return (nys_batch){.B = P * (r->mc.dual ? 2 : 1), .T = (int)r->mc.max_seq_len,
	                   .ids = r->ids, .mask = r->mask, .labels = labels ? r->labels : NULL};
}

/* The training record at place k of the data order: pass k / n is a
 * permutation of its own, drawn from the seed and the pass. */
static int order_at(run *r, uint64_t k, uint64_t *rec, nys_err *e)
{
	uint64_t n = nys_lra_set_count(r->train), pass = k / n;
	if (pass != r->perm_pass) {
		nys_rng g;
		nys_rng_seed(&g, nys_splitmix64_at(r->o->seed ^ 0x4C5241ull, pass));
		for (uint64_t i = 0; i < n; i++)
			r->perm[i] = i;
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = (uint64_t)(nys_rng_random(&g) * (double)(i + 1));
			if (j > i)
				j = i;
			uint64_t t = r->perm[i];
			r->perm[i] = r->perm[j];
			r->perm[j] = t;
		}
		r->perm_pass = pass;
	}
	*rec = r->perm[k % n];
	(void)e;
	return 0;
}

static int next_batch(void *ctx, int nb, nys_batch *b, nys_err *e)
{
	run *r = ctx;
	for (int j = 0; j < nb; j++) {
		uint64_t rec;
		if (order_at(r, r->delivered++, &rec, e))
			return -1;
		put_record(r, r->train, rec, j, nb);
	}
	*b = batch_of(r, nb, true);
	return 0;
}

/* ---- scoring ------------------------------------------------------------------------- */

typedef struct score {
	double loss, correct;
	uint64_t count;
} score;

/* The first n records of s (all of them when n is 0 or more), in order,
 * batch records at a time, the last batch as long as what is left. */
static int evaluate(run *r, const nys_lra_set *s, uint64_t n, score *sc, nys_err *e)
{
	uint64_t all = nys_lra_set_count(s);
	if (!n || n > all)
		n = all;
	*sc = (score){0};
	uint64_t B = r->o->micro ? r->o->micro : r->s.batch;
	for (uint64_t i = 0; i < n; i += B) {
		int P = (int)(n - i < B ? n - i : B);
		for (int j = 0; j < P; j++)
			put_record(r, s, i + (uint64_t)j, j, P);
		nys_batch b = batch_of(r, P, true);
		nys_model_stats st;
		if (nys_model_forward(r->m, &b, false, 0, &st, e))
			return -1;
		sc->loss += st.loss * P;
		sc->correct += st.correct;
		sc->count += (uint64_t)P;
	}
	if (sc->count)
		sc->loss /= (double)sc->count;
	return 0;
}

/* ---- the log ------------------------------------------------------------------------ */

static int log_json(run *r, json_t *j, nys_err *e)
{
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	json_decref(j);
	if (!s)
		return nys_err_set(e, "out of memory");
	int bad = fprintf(r->log, "%s\n", s) < 0 || fflush(r->log);
	free(s);
	return bad ? nys_err_sys(e, "%s: write", r->log_path) : 0;
}

/* ---- the training state beyond the loop's ---------------------------------------------- */

static void data_save(void *ctx, char *buf, size_t n)
{
	const run *r = ctx;
	snprintf(buf, n, "\"delivered\": %llu, \"best_step\": %llu, \"best_correct\": %llu, "
	         "\"best_count\": %llu", (unsigned long long)r->delivered,
	         (unsigned long long)r->best_step, (unsigned long long)r->best_correct,
	         (unsigned long long)r->best_count);
}

static bool data_parse(void *ctx, const json_t *js)
{
	run *r = ctx;
	bool ok = true;
	r->resume_delivered = nys_ckpt_u64(js, "delivered", &ok);
	r->resume_best_step = nys_ckpt_u64(js, "best_step", &ok);
	r->resume_best_correct = nys_ckpt_u64(js, "best_correct", &ok);
	/* absent from the checkpoints of earlier versions: their dev count was
	 * today's (validate takes it from its first score) */
	r->resume_best_count = 0;
	if (json_object_get(js, "best_count"))
		r->resume_best_count = nys_ckpt_u64(js, "best_count", &ok);
	return ok;
}

static int data_seek(void *ctx, nys_err *e)
{
	run *r = ctx;
	r->delivered = r->resume_delivered;
	r->best_step = r->resume_best_step;
	r->best_correct = r->resume_best_correct;
	r->best_count = r->resume_best_count;
	return 0;
}

/* ---- setup ---------------------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name, nys_err *e)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (!p)
		nys_err_set(e, "out of memory");
	else
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int setup(run *r, nys_err *e)
{
	const nys_lra_train_opts *o = r->o;
	if (o->threads > 0) {
		omp_set_num_threads(o->threads);
		openblas_set_num_threads(o->threads);
	}
	if (!(r->train = nys_lra_set_open(o->data, "train", e)) ||
	    !(r->dev = nys_lra_set_open(o->data, "dev", e)) ||
	    !(r->test = nys_lra_set_open(o->data, "test", e)))
		return -1;
	const nys_lra_header *h = nys_lra_set_header(r->train);
	if (!nys_lra_set_count(r->train) || !nys_lra_set_count(r->dev) || !nys_lra_set_count(r->test))
		return nys_err_set(e, "%s: train, dev and test must each hold records", o->data);
	if (o->task && strcmp(o->task, nys_lra_task_name(h->task)))
		return nys_err_set(e, "%s: the data is %s, not %s", o->data, nys_lra_task_name(h->task),
		                   o->task);
	if (read_config(r, h, e))
		return -1;
	const nys_lra_header *hd = nys_lra_set_header(r->dev), *ht = nys_lra_set_header(r->test);
	if (hd->task != h->task || ht->task != h->task || hd->vocab_size != h->vocab_size ||
	    ht->vocab_size != h->vocab_size || hd->docs != h->docs || ht->docs != h->docs ||
	    hd->classes != h->classes || ht->classes != h->classes)
		return nys_err_set(e, "%s: train, dev and test are not of one kind", o->data);
	uint64_t B = r->s.batch, micro = o->micro ? o->micro : B;
	if (micro > B)
		micro = B;
	if (!(r->m = nys_lra_model_new(&r->mc, NYS_F32, o->device, NULL, e)))
		return -1;
	nys_onecycle sched;
	nys_onecycle_init(&sched, r->s.lr, r->s.steps, (double)r->s.warmup / (double)r->s.steps);
	nys_loop_opts lp = {.batch = B, .micro = micro, .seed = o->seed, .max_lr = r->s.lr,
	                    .sched = sched, .next = next_batch, .next_ctx = r};
	if (nys_onecycle_check(&sched, e) || nys_loop_init(&r->loop, r->m, &lp, e))
		return -1;
	/* the authors' AdamW: eps 1e-6 as pretraining's, the task's weight decay (0) */
	r->loop.adam.weight_decay = r->s.weight_decay;
	size_t docs = r->mc.dual ? 2 : 1, T = r->mc.max_seq_len;
	r->rows = (size_t)(micro > B ? micro : B) * docs;
	uint64_t n = nys_lra_set_count(r->train);
	r->ids = malloc(r->rows * T * sizeof *r->ids);
	r->tmp = malloc(((size_t)h->max_len + 1) * sizeof *r->tmp);
	r->mask = malloc(r->rows * T * sizeof *r->mask);
	r->labels = malloc(r->rows * sizeof *r->labels);
	r->perm = malloc(n * sizeof *r->perm);
	r->perm_pass = UINT64_MAX;
	if (!r->ids || !r->tmp || !r->mask || !r->labels || !r->perm)
		return nys_err_set(e, "out of memory");
	if (nys_mkdirs(o->out, e) || !(r->log_path = path_in(o->out, "lra.log", e)) ||
	    !(r->best_path = path_in(o->out, "best.model", e)) ||
	    !(r->result_path = path_in(o->out, "result.json", e)))
		return -1;
	r->ck = (nys_ckpt){
		.dir = o->out, .config = o->config, .vocab_of = "the task's",
		.per_epoch = r->s.eval_every, .total_steps = r->s.steps, .seed = o->seed, .keep = 1,
		.loop = &r->loop,
		.data = {.save = data_save, .parse = data_parse, .seek = data_seek, .ctx = r},
		.info = r->info,
	};
	int rs = nys_ckpt_resume(&r->ck, e);
	if (rs < 0)
		return -1;
	if (rs == 0) {
		if (nys_lra_model_init(r->m, o->seed, e))
			return -1;
		char a[32];
		nys_info_say(&r->info, "%s, %s: %zu parameters from seed %llu; %llu train, %llu dev, "
		             "%llu test records", nys_lra_task_name(h->task),
		             nys_lra_attn_name(&r->mc, a), r->loop.np, (unsigned long long)o->seed,
		             (unsigned long long)n, (unsigned long long)nys_lra_set_count(r->dev),
		             (unsigned long long)nys_lra_set_count(r->test));
	}
	if (nys_ckpt_trim_log(r->log_path, r->loop.step, &r->validated, e))
		return -1;
	if (!(r->log = fopen(r->log_path, "a")))
		return nys_err_sys(e, "%s", r->log_path);
	return 0;
}

static void teardown(run *r)
{
	if (r->log)
		fclose(r->log);
	nys_model_free(r->m);
	nys_lra_set_close(r->train);
	nys_lra_set_close(r->dev);
	nys_lra_set_close(r->test);
	free(r->ids);
	free(r->tmp);
	free(r->mask);
	free(r->labels);
	free(r->perm);
	free(r->log_path);
	free(r->best_path);
	free(r->result_path);
}

/* Score dev; keep the parameters when they are the best so far. */
static int validate(run *r, nys_err *e)
{
	score sc;
	double t0 = nys_now();
	if (evaluate(r, r->dev, r->o->dev_max, &sc, e))
		return -1;
	uint64_t correct = (uint64_t)llround(sc.correct);
	if (r->best_step && !r->best_count)
		r->best_count = sc.count;
	/* correct / count > best_correct / best_count, in integers */
	bool best = !r->best_step || correct * r->best_count > r->best_correct * sc.count;
	if (best) {
		char step[32];
		snprintf(step, sizeof step, "%llu", (unsigned long long)r->loop.step);
		const char *meta[] = {"nys_lra_step", step, NULL};
		if (nys_model_save(r->m, r->best_path, meta, e))
			return -1;
		r->best_step = r->loop.step;
		r->best_correct = correct;
		r->best_count = sc.count;
	}
	nys_info_say(&r->info, "step %llu: dev loss %.4f, accuracy %.4f (%llu records)%s",
	             (unsigned long long)r->loop.step, sc.loss, sc.correct / (double)sc.count,
	             (unsigned long long)sc.count, best ? ", the best so far" : "");
	return log_json(r, json_pack("{s:I, s:f, s:f, s:I, s:b, s:f}", "idx",
	                             (json_int_t)r->loop.step, "valid_loss", sc.loss,
	                             "valid_accuracy", sc.correct / (double)sc.count, "valid_count",
	                             (json_int_t)sc.count, "best", best, "time",
	                             round((nys_now() - t0) * 1e4) / 1e4),
	                e);
}

/* The test score with the best parameters, into the log and result.json. */
static int finish(run *r, double tps, nys_err *e)
{
	if (r->best_step && nys_model_load(r->m, r->best_path, 0, e))
		return -1;
	score sc;
	if (evaluate(r, r->test, 0, &sc, e))
		return -1;
	double acc = sc.correct / (double)sc.count;
	char a[32];
	const char *task = nys_lra_task_name(nys_lra_set_header(r->train)->task);
	nys_lra_attn_name(&r->mc, a);
	double dev = r->best_step && r->best_count
	                 ? (double)r->best_correct / (double)r->best_count : 0;
	nys_info_say(&r->info, "%s, %s: test accuracy %.4f (%llu records), the parameters of step "
	             "%llu (dev %.4f)", task, a, acc, (unsigned long long)sc.count,
	             (unsigned long long)r->best_step, dev);
	double wall = r->loop.elapsed + (nys_now() - r->loop.t_start);
	json_t *res = json_pack("{s:s, s:s, s:f, s:f, s:I, s:f, s:I, s:I, s:f, s:f}", "task", task,
	                        "attn", a, "test_accuracy", acc, "test_loss", sc.loss, "test_count",
	                        (json_int_t)sc.count, "dev_accuracy", dev, "best_step",
	                        (json_int_t)r->best_step, "steps", (json_int_t)r->loop.step,
	                        "train_seconds", round(wall * 10) / 10, "tokens_per_s", round(tps));
	if (!res)
		return nys_err_set(e, "out of memory");
	if (log_json(r, json_deep_copy(res), e)) {
		json_decref(res);
		return -1;
	}
	char *s = json_dumps(res, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(res);
	nys_out *out = s ? nys_out_open(r->result_path, 0, e) : NULL;
	int rc = out && !nys_out_puts(out, s, e) && !nys_out_puts(out, "\n", e) ? 0 : -1;
	if (out)
		rc = rc ? (nys_out_abort(out), -1) : nys_out_commit(out, e);
	else if (!s)
		rc = nys_err_set(e, "out of memory");
	free(s);
	return rc;
}

int nys_lra_train_run(const nys_lra_train_opts *o, void (*info)(void *ctx, const char *line),
                      void *ctx, nys_train_end *end, nys_err *e)
{
	run r = {.o = o, .info = {.fn = info, .ctx = ctx}};
	int rc = -1;
	*end = NYS_TRAIN_DONE;
	if (setup(&r, e))
		goto out;
	nys_loop *L = &r.loop;
	L->t_start = nys_now();
	uint64_t ev = r.s.eval_every;
	if (L->step && L->step % ev == 0 && !r.validated && validate(&r, e))
		goto out;
	double tps = 0, ntok = (double)r.s.batch * r.mc.max_seq_len * (r.mc.dual ? 2 : 1);
	while (L->step < r.s.steps) {
		double t0 = nys_now();
		nys_loop_sums sum;
		if (nys_loop_step(L, &sum, e))
			goto out;
		double dt = nys_now() - t0, lr, beta1;
		if (nys_loop_schedule(L, &lr, &beta1, e))
			goto out;
		tps = tps ? 0.9 * tps + 0.1 * ntok / dt : ntok / dt;
		if (log_json(&r, json_pack("{s:I, s:f, s:f, s:f, s:f, s:I}", "idx",
		                           (json_int_t)(L->step - 1), "loss", sum.loss, "accuracy",
		                           sum.accu, "learning_rate", lr, "time",
		                           round(dt * 1e4) / 1e4, "tokens_per_s", (json_int_t)round(ntok / dt)),
		             e))
			goto out;
		if (o->progress)
			fprintf(stderr, "\rstep %llu/%llu  loss %.4f  %.0f tokens/s ",
			        (unsigned long long)L->step, (unsigned long long)r.s.steps, sum.loss, tps);
		if (L->step % ev == 0 || L->step == r.s.steps) {
			if (o->progress)
				fputc('\n', stderr);
			if ((L->step % ev == 0 || !r.best_step) && validate(&r, e))
				goto out;
			if (nys_ckpt_save(&r.ck, e))
				goto out;
		}
		if (L->step < r.s.steps &&
		    ((o->stop && *o->stop) || (o->max_steps && L->step >= o->max_steps))) {
			if (o->progress)
				fputc('\n', stderr);
			if (L->step % ev && nys_ckpt_save(&r.ck, e))
				goto out;
			*end = NYS_TRAIN_STOPPED;
			break;
		}
	}
	if (*end == NYS_TRAIN_DONE && finish(&r, tps, e))
		goto out;
	rc = 0;
out:
	teardown(&r);
	return rc;
}
