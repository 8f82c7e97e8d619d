/* GLUE fine-tuning (nys_finetune.h): the driver beside pretrain.c.  The
 * settings getters (nys_settings.h) find the folders, the shared step
 * (nys_loop.h) trains, the GLUE layer (nys_glue.h, nys_metrics.h) reads,
 * encodes, scores and writes predictions; what is here is the run itself:
 * the checkpoint and its tokenizer, the model with a fresh head, the
 * batches (padded to max_seq_len or to their longest), the epochs, the log
 * and the summary.
 *
 * Data-parallel (nys_ft_opts.world): the loop splits each step's
 * micro-batches over the ranks, scoring splits a split's batches the same
 * way and sums the predictions (each row's from the one rank that made it,
 * zeros from the others: exact), so every rank scores the whole split as
 * one process does and the best epoch is the same everywhere.
 */
#include "nys_ckpt.h"
#include "nys_config.h"
#include "nys_eval.h"
#include "nys_finetune.h"
#include "nys_glue.h"
#include "nys_loop.h"
#include "nys_metrics.h"
#include "nys_model.h"
#include "nys_rng.h"
#include "nys_settings.h"
#include "nys_spm.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the authors' run_glue.py gives OneCycleLR: pct_start 0.05. */
#define FT_WARMUP 0.05

/* A split read and encoded. */
typedef struct split {
	nys_glue_data d;
	nys_glue_enc enc;
	bool loaded;
} split;

typedef struct ft {
	const nys_ft_opts *o;
	nys_info info;
	nys_config *cfg;
	const nys_glue_task *task;
	char *glue;                  /* the GLUE root */
	char *ckpt;                  /* the checkpoint file */
	char *log_path;
	nys_spm *spm;
	nys_glue_tok tok;
	char tokfp[17];              /* the tokenizer's fingerprint, for --save */
	nys_model *m;
	nys_loop loop;
	uint64_t micro;              /* the most rows a forward (NYS_MAX_BATCH_TOKENS) */
	int L;                       /* the head's outputs: 1 (regression) or the classes */
	unsigned T;                  /* max_seq_len */
	split train, dev[2], test[2], ax;
	size_t ndev, ntest;
	size_t *perm, pos;           /* the epoch's order of the training rows */
	nys_rng rng;
	size_t *rows;                /* one batch's rows */
	int32_t *ids, *types, *labels;
	float *mask, *targets, *scores;
	uint64_t tokens;             /* the epoch's tokens (unpadded), for the rate */
	FILE *log;
	/* the best epoch so far: its number (0: none yet), combined score and
	 * its dev scores as logged */
	uint64_t best_epoch;
	double best;
	json_t *best_dev;
} ft;

/* ---- settings ------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

void nys_ft_log_name(const nys_ft_opts *o, char *buf, size_t n)
{
	const nys_glue_task *t = nys_glue_task_find(o->task, &(nys_err){0});
	const char *task = t ? t->name : o->task, *c = o->checkpoint;
	char cp[256];
	if (all_digits(c)) {
		snprintf(cp, sizeof cp, "%llu", strtoull(c, NULL, 10));
	} else {
		const char *base = strrchr(c, '/') ? strrchr(c, '/') + 1 : c;
		const char *dot = strrchr(base, '.');
		snprintf(cp, sizeof cp, "%.*s", dot && dot != base ? (int)(dot - base) : (int)strlen(base),
		         base);
	}
	snprintf(buf, n, "glue-%s-%s-%g-%llu-%llu.log", task, cp, o->lr,
	         (unsigned long long)o->batch_size, (unsigned long long)o->epochs);
}

/* The checkpoint file (an epoch number: cp-EEEE.model of the config's
 * model_checkpoints folder) and the GLUE root. */
static int find_files(ft *f, nys_err *e)
{
	const nys_ft_opts *o = f->o;
	if (all_digits(o->checkpoint)) {
		char *dir = NULL;
		if (nys_settings_path(f->cfg, "model_checkpoints", NULL, "model_checkpoints", &dir, e))
			return -1;
		size_t len = strlen(dir) + 32;
		if ((f->ckpt = malloc(len)))
			snprintf(f->ckpt, len, "%s/cp-%04llu.model", dir, strtoull(o->checkpoint, NULL, 10));
		free(dir);
	} else {
		f->ckpt = strdup(o->checkpoint);
	}
	if (!f->ckpt)
		return nys_err_set(e, "out of memory");
	if (nys_settings_path(f->cfg, "glue_dataset_folder", o->glue, "../glue", &f->glue, e))
		return -1;
	struct stat sb;
	if (stat(f->glue, &sb) || !S_ISDIR(sb.st_mode))
		return nys_err_set(e, "%s: no such folder (glue_dataset_folder of %s, or --glue DIR)",
		                   f->glue, f->cfg->name);
	return 0;
}

/* The tokenizer the checkpoint was pretrained with (its nys_tokenizer
 * metadata, else the config's "tokenizer" key, which import-hf writes from
 * a transformers folder's spiece.model) against -m's. */
static int check_tokenizer(ft *f, const nys_st *st, nys_err *e)
{
	uint64_t mine = nys_spm_fingerprint(f->spm), theirs = 0;
	nys_tokenizer_meta(mine, f->tokfp);
	int r = nys_tokenizer_of(st, f->ckpt, &theirs, e);
	if (r < 0)
		return -1;
	const char *whose = f->ckpt;
	if (r == 0) {
		const json_t *v = json_object_get(f->cfg->root, "tokenizer");
		if (json_is_string(v)) {
			char *end;
			theirs = strtoull(json_string_value(v), &end, 16);
			if (*end || strlen(json_string_value(v)) != 16)
				return nys_err_set(e, "%s: tokenizer: expected 16 hex digits", f->cfg->name);
			whose = f->cfg->name;
			r = 1;
		}
	}
	if (r == 0) {
		nys_info_say(&f->info, "warning: %s does not say which sentencepiece model it was "
		             "trained with (no %s metadata): make sure %s is that one",
		             f->ckpt, NYS_TOKENIZER_META, nys_spm_name(f->spm));
		return 0;
	}
	if (theirs != mine)
		return nys_err_set(e, "%s: tokenizer fingerprint %016llx, but %s was trained with "
		                   "another sentencepiece model (fingerprint %016llx)",
		                   nys_spm_name(f->spm), (unsigned long long)mine, whose,
		                   (unsigned long long)theirs);
	return 0;
}

/* ---- data ------------------------------------------------------------------------ */

static int load_split(ft *f, const nys_glue_task *t, const nys_glue_split *s, split *sp,
                      nys_err *e)
{
	nys_buf path = {0};
	int rc = -1;
	if (nys_glue_split_path(f->glue, t, s, &path, e) || nys_glue_read(path.p, t, s, &sp->d, e) ||
	    nys_glue_encode(&sp->d, &f->tok, &sp->enc, e))
		goto out;
	sp->loaded = true;
	if (sp->enc.truncated)
		nys_info_say(&f->info, "%s: %zu of %zu rows truncated to %u tokens", sp->d.file,
		             sp->enc.truncated, sp->d.n, f->T);
	rc = 0;
out:
	nys_buf_free(&path);
	return rc;
}

static void free_split(split *sp)
{
	nys_glue_data_free(&sp->d);
	nys_glue_enc_free(&sp->enc);
}

/* The task's splits of one role (dev or test: two for MNLI's matched and
 * mismatched, one otherwise) into sp[0..2), their number into *n. */
static int load_splits(ft *f, nys_glue_role role, split sp[2], size_t *n, nys_err *e)
{
	const nys_glue_split *s[2];
	*n = nys_glue_splits_of(f->task, role, s, 2);
	if (*n > 2)
		*n = 2;
	for (size_t i = 0; i < *n; i++)
		if (load_split(f, f->task, s[i], &sp[i], e))
			return -1;
	return 0;
}

static int load_data(ft *f, nys_err *e)
{
	const nys_glue_split *s[2];
	if (!f->o->eval_only) {
		if (nys_glue_splits_of(f->task, NYS_GLUE_TRAIN, s, 1) < 1)
			return nys_err_set(e, "%s has no training split (%s is predicted with a %s model)",
			                   f->task->name, f->task->name,
			                   f->task->model_task ? f->task->model_task : "another");
		if (load_split(f, f->task, s[0], &f->train, e))
			return -1;
	}
	if (load_splits(f, NYS_GLUE_DEV, f->dev, &f->ndev, e))
		return -1;
	if (!f->ndev)
		return nys_err_set(e, "%s has no dev split to score", f->task->name);
	if (!f->o->predict)
		return 0;
	if (load_splits(f, NYS_GLUE_TEST, f->test, &f->ntest, e))
		return -1;
	/* the diagnostic set, predicted with the MNLI model */
	for (size_t k = 0; k < nys_glue_ntasks(); k++) {
		const nys_glue_task *ax = nys_glue_task_at(k);
		if (!ax->model_task || strcmp(ax->model_task, f->task->name) ||
		    nys_glue_splits_of(ax, NYS_GLUE_TEST, s, 1) < 1)
			continue;
		nys_buf path = {0};
		struct stat sb;
		if (nys_glue_split_path(f->glue, ax, s[0], &path, e)) {
			nys_buf_free(&path);
			return -1;
		}
		bool there = !stat(path.p, &sb);
		if (!there)
			nys_info_say(&f->info, "%s: no such file: no %s predictions", path.p, ax->name);
		nys_buf_free(&path);
		if (there && load_split(f, ax, s[0], &f->ax, e))
			return -1;
		break;
	}
	return 0;
}

/* The padded width of a batch of rows. */
static unsigned batch_width(const ft *f, const split *sp, const size_t *rows, size_t nb)
{
	if (f->o->pad == NYS_FT_PAD_MAX)
		return f->T;
	const nys_model_config *c = nys_model_cfg(f->m);
	unsigned w = nys_glue_enc_longest(&sp->enc, rows, nb);
	if (w < 1)
		w = 1;
	if (nys_config_uses_landmarks(c) && w < c->num_landmarks)
		w = f->T;
	return w;
}

/* rows[0..nb) of a split as the model's batch; labels when the split has
 * them (not a test split). */
static int make_batch(ft *f, const split *sp, const size_t *rows, size_t nb, nys_batch *b,
                      nys_err *e)
{
	unsigned w = batch_width(f, sp, rows, nb);
	bool types = nys_model_cfg(f->m)->num_sen_type >= 2;
	if (nys_glue_enc_batch(&sp->enc, rows, nb, w, f->ids, types ? f->types : NULL, f->mask, e))
		return -1;
	bool gold = sp->d.split->role != NYS_GLUE_TEST;
	for (size_t i = 0; i < nb; i++) {
		f->labels[i] = gold && f->L > 1 ? sp->d.label[rows[i]] : 0;
		f->targets[i] = gold && f->L == 1 ? (float)sp->d.score[rows[i]] : 0;
		f->tokens += nys_glue_enc_len(&sp->enc, rows[i]);
	}
	*b = (nys_batch){
		.B = (int)nb, .T = (int)w, .ids = f->ids, .type_ids = types ? f->types : NULL,
		.mask = f->mask, .labels = gold && f->L > 1 ? f->labels : NULL,
		.targets = gold && f->L == 1 ? f->targets : NULL,
	};
	return 0;
}

/* In a world of many ranks: rank 0 alone writes the log, --save and
 * --predict. */
static bool writer(const ft *f)
{
	return !nys_world_many(f->o->world) || f->o->world->rank == 0;
}

/* The loop's next micro-batch: the next nb rows of the epoch's order. */
static int next_batch(void *ctx, int nb, nys_batch *b, nys_err *e)
{
	ft *f = ctx;
	if (f->pos + (size_t)nb > f->train.d.n)
		return nys_err_set(e, "%s: the epoch's rows ran out", f->train.d.file);
	const size_t *rows = f->perm + f->pos;
	f->pos += (size_t)nb;
	return make_batch(f, &f->train, rows, (size_t)nb, b, e);
}

/* Another rank's micro-batch: its nb rows passed over. */
static int skip_batch(void *ctx, int nb, nys_err *e)
{
	ft *f = ctx;
	if (f->pos + (size_t)nb > f->train.d.n)
		return nys_err_set(e, "%s: the epoch's rows ran out", f->train.d.file);
	f->pos += (size_t)nb;
	return 0;
}

/* ---- scoring --------------------------------------------------------------------- */

/* Predict every row of a split in eval mode, batch_size rows a forward in
 * file order: class ids into pred or scores into spred ([d.n] each).  In a
 * world, rank r runs the batches j = r, r + W, ... and the sum over the
 * ranks of spred (and of the ids, as doubles: small integers, exact) gives
 * every rank all of them. */
static int predict(ft *f, const split *sp, int32_t *pred, double *spred, nys_err *e)
{
	const nys_world *w = f->o->world;
	bool many = nys_world_many(w);
	size_t n = sp->d.n, B = f->o->batch_size;
	double *ids = NULL;
	if (many && f->L > 1 && !(ids = calloc(n ? n : 1, sizeof *ids)))
		return nys_err_set(e, "out of memory");
	for (size_t i = 0; i < n; i += B) {
		size_t nb = n - i < B ? n - i : B;
		if (many && i / B % w->world != w->rank) {
			if (f->L == 1)
				memset(spred + i, 0, nb * sizeof *spred);
			else
				memset(pred + i, 0, nb * sizeof *pred);
			continue;
		}
		for (size_t k = 0; k < nb; k++)
			f->rows[k] = i + k;
		nys_batch b;
		if (make_batch(f, sp, f->rows, nb, &b, e) ||
		    nys_model_forward(f->m, &b, false, 0, NULL, e) ||
		    nys_model_output(f->m, NYS_OUT_SCORES, f->scores, e)) {
			free(ids);
			return -1;
		}
		for (size_t k = 0; k < nb; k++) {
			const float *s = f->scores + k * (size_t)f->L;
			if (f->L == 1) {
				spred[i + k] = s[0];
				continue;
			}
			int best = 0;
			for (int c = 1; c < f->L; c++)
				if (s[c] > s[best])
					best = c;
			pred[i + k] = best;
		}
	}
	if (!many)
		return 0;
	int rc = -1;
	if (f->L == 1) {
		rc = w->sum(w->ctx, spred, n, e);
	} else {
		for (size_t i = 0; i < n; i++)
			ids[i] = pred[i];
		if (!(rc = w->sum(w->ctx, ids, n, e)))
			for (size_t i = 0; i < n; i++)
				pred[i] = (int32_t)ids[i];
	}
	free(ids);
	return rc;
}

/* The scores as a JSON object by HuggingFace's names (null for NaN). */
static json_t *scores_json(const nys_glue_scores *sc)
{
	json_t *o = json_object();
	for (unsigned i = 0; o && i < sc->n; i++)
		json_object_set_new(o, sc->v[i].name,
		                    isfinite(sc->v[i].value) ? json_real(sc->v[i].value) : json_null());
	return o;
}

/* Score a split with gold labels: *out its scores (JSON), *combined what
 * the best epoch compares; with dir, its prediction file written there. */
static int score(ft *f, const split *sp, const char *dir, json_t **out, double *combined,
                 nys_err *e)
{
	size_t n = sp->d.n;
	int32_t *pred = calloc(n ? n : 1, sizeof *pred);
	double *spred = calloc(n ? n : 1, sizeof *spred);
	int rc = -1;
	nys_glue_scores sc;
	if (!pred || !spred) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	if (predict(f, sp, pred, spred, e))
		goto out;
	if (dir && writer(f) && nys_glue_write_predictions(dir, &sp->d, f->L > 1 ? pred : NULL,
	                                      f->L == 1 ? spred : NULL, NULL, e))
		goto out;
	if (sp->d.split->role == NYS_GLUE_TEST) {
		rc = 0;
		goto out;
	}
	if (nys_metric_glue(f->task->metric, f->task->nlabels, pred, sp->d.label, spred,
	                    sp->d.score, n, &sc, e))
		goto out;
	*combined = sc.combined;
	if (!(*out = scores_json(&sc))) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(pred);
	free(spred);
	return rc;
}

/* Every dev split scored into obj (by split name), the first one's
 * combined score in *combined; with dir, the dev and test predictions. */
static int score_dev(ft *f, json_t *obj, const char *dir, double *combined, nys_err *e)
{
	for (size_t i = 0; i < f->ndev; i++) {
		json_t *s = NULL;
		double c;
		if (score(f, &f->dev[i], dir, &s, &c, e))
			return -1;
		json_object_set_new(obj, f->dev[i].d.split->name, s);
		if (i == 0)
			*combined = c;
	}
	if (!dir)
		return 0;
	for (size_t i = 0; i < f->ntest; i++)
		if (score(f, &f->test[i], dir, NULL, NULL, e))
			return -1;
	if (f->ax.loaded && score(f, &f->ax, dir, NULL, NULL, e))
		return -1;
	return 0;
}

/* ---- setup ------------------------------------------------------------------------- */

static const char *head_name(nys_cls_act a)
{
	return a == NYS_CLS_GELU ? "hf" : "authors";
}

/* The head a --save checkpoint was fine-tuned with (its nys_glue
 * metadata), for --eval-only. */
static nys_cls_act saved_head(const nys_st *st, nys_cls_act dflt)
{
	const char *s = nys_st_meta(st, "nys_glue");
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	const char *h = json_string_value(json_object_get(j, "head"));
	nys_cls_act a = !h ? dflt : !strcmp(h, "hf") ? NYS_CLS_GELU : NYS_CLS_TANH;
	json_decref(j);
	return a;
}

static int setup(ft *f, nys_err *e)
{
	const nys_ft_opts *o = f->o;
	if (o->threads > 0) {
		omp_set_num_threads(o->threads);
		openblas_set_num_threads(o->threads);
	}
	if (!(f->task = nys_glue_task_find(o->task, e)))
		return -1;
	if (f->task->model_task)
		return nys_err_set(e, "%s is predicted with a %s model: fine-tune %s with --predict",
		                   f->task->name, f->task->model_task, f->task->model_task);
	if (!o->spm)
		return nys_err_set(e, "no sentencepiece model (-m MODEL): the one the pretraining "
		                   "data was encoded with");
	if (find_files(f, e) || !(f->spm = nys_spm_load(o->spm, e)))
		return -1;
	nys_st *st = nys_st_load(f->ckpt, e);
	if (!st)
		return -1;
	nys_model_config *mc = &f->cfg->model;
	uint32_t v = nys_eval_saved_vocab(st);
	if (v)
		mc->vocab_size = v;
	f->T = mc->max_seq_len;
	f->L = f->task->nlabels ? (int)f->task->nlabels : 1;
	nys_cls_act head = o->eval_only ? saved_head(st, o->head) : o->head;
	/* the config's mixed_precision: bf16 products on CUDA (nys_backend.h) */
	nys_model_opts mo = {.dtype = NYS_F32, .num_labels = f->L, .cls_act = head,
	                     .device = o->device,
	                     .matmul = mc->mixed_precision ? NYS_MATMUL_BF16 : NYS_MATMUL_F32};
	int rc = -1;
	if (check_tokenizer(f, st, e))
		goto out;
	if (nys_spm_vocab_size(f->spm) > mc->vocab_size) {
		nys_err_set(e, "%s: %u pieces, more than the model's vocabulary of %u (%s)",
		            nys_spm_name(f->spm), nys_spm_vocab_size(f->spm), mc->vocab_size, f->ckpt);
		goto out;
	}
	if (nys_glue_tok_init(&f->tok, f->spm, o->lower, f->T, e) ||
	    !(f->m = nys_model_new(mc, &mo, e)) || nys_model_init(f->m, o->seed, e))
		goto out;
	if (mo.matmul == NYS_MATMUL_BF16 && nys_model_backend(f->m)->device == NYS_DEVICE_CUDA)
		nys_info_say(&f->info, "mixed precision: the dense layers' products in bf16 "
		             "(fp32 accumulation, weights and attention)");
	/* the encoder from the checkpoint, the head fresh (from the seed) unless
	 * scoring a fine-tuned one */
	if (nys_model_load_st(f->m, st, o->eval_only ? 0 : NYS_LOAD_HEADS_OPTIONAL, e))
		goto out;
	nys_info_say(&f->info, "%s: %s, %s head (%d %s)", f->ckpt,
	             o->eval_only ? "fine-tuned" : "encoder loaded", head_name(head), f->L,
	             f->L == 1 ? "output, regression" : "classes");
	rc = 0;
out:
	nys_st_free(st);
	if (rc || load_data(f, e))
		return -1;
	size_t B = o->batch_size, N = B * f->T;
	f->rows = malloc(B * sizeof *f->rows);
	f->ids = malloc(N * sizeof *f->ids);
	f->types = malloc(N * sizeof *f->types);
	f->mask = malloc(N * sizeof *f->mask);
	f->labels = malloc(B * sizeof *f->labels);
	f->targets = malloc(B * sizeof *f->targets);
	f->scores = malloc(B * (size_t)f->L * sizeof *f->scores);
	f->perm = malloc((f->train.d.n ? f->train.d.n : 1) * sizeof *f->perm);
	if (!f->rows || !f->ids || !f->types || !f->mask || !f->labels || !f->targets ||
	    !f->scores || !f->perm)
		return nys_err_set(e, "out of memory");
	return 0;
}

static void teardown(ft *f)
{
	if (f->log)
		fclose(f->log);
	free_split(&f->train);
	for (size_t i = 0; i < 2; i++) {
		free_split(&f->dev[i]);
		free_split(&f->test[i]);
	}
	free_split(&f->ax);
	nys_model_free(f->m);
	nys_spm_free(f->spm);
	nys_config_free(f->cfg);
	json_decref(f->best_dev);
	free(f->glue);
	free(f->ckpt);
	free(f->log_path);
	free(f->rows);
	free(f->ids);
	free(f->types);
	free(f->mask);
	free(f->labels);
	free(f->targets);
	free(f->scores);
	free(f->perm);
}

/* ---- the run ----------------------------------------------------------------------- */

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	json_decref(j);
	return s;
}

/* The fine-tuned model as a checkpoint: the tokenizer and the task with it. */
static int save_model(ft *f, uint64_t epoch, nys_err *e)
{
	json_t *names = json_array();
	for (unsigned i = 0; names && i < f->task->nlabels; i++)
		json_array_append_new(names, json_string(f->task->names[i]));
	char *g = dump(json_pack("{s:s, s:s, s:I, s:o}", "task", f->task->name, "head",
	                         head_name(nys_model_options(f->m)->cls_act), "epoch",
	                         (json_int_t)epoch, "labels", names));
	if (!g)
		return nys_err_set(e, "out of memory");
	const char *meta[] = {NYS_TOKENIZER_META, f->tokfp, "nys_glue", g, NULL};
	if (!writer(f)) {
		free(g);
		return 0;
	}
	int rc = nys_model_save(f->m, f->o->save, meta, e);
	free(g);
	return rc;
}

static void progress(const ft *f, uint64_t epoch, uint64_t total, double rate, double loss)
{
	uint64_t step = f->loop.step;
	double left = rate > 0 ? (double)(total - step) * (double)f->o->batch_size / rate : 0;
	unsigned long s = (unsigned long)left;
	fprintf(stderr, "\r%s epoch %llu/%llu  step %llu/%llu  loss %.4f  %.1f examples/s  "
	        "ETA %lu:%02lu:%02lu ", f->task->name, (unsigned long long)epoch,
	        (unsigned long long)f->o->epochs, (unsigned long long)step,
	        (unsigned long long)total, loss, rate, s / 3600, s / 60 % 60, s % 60);
}

static int log_line(ft *f, json_t *j, nys_err *e)
{
	if (!f->log) { /* not the writer of a world */
		json_decref(j);
		return 0;
	}
	char *s = dump(j);
	if (!s || fprintf(f->log, "%s\n", s) < 0 || fflush(f->log)) {
		free(s);
		return nys_err_sys(e, "%s: write", f->log_path);
	}
	free(s);
	return 0;
}

/* One epoch's training steps: the mean loss (and accuracy) in *loss, *accu. */
static int train_epoch(ft *f, uint64_t spe, uint64_t epoch, uint64_t total, double *loss,
                       double *accu, nys_err *e)
{
	const nys_ft_opts *o = f->o;
	size_t n = f->train.d.n;
	for (size_t i = 0; i < n; i++)
		f->perm[i] = i;
	nys_rng_shuffle(&f->rng, f->perm, n, sizeof *f->perm);
	f->pos = 0;
	double sl = 0, sa = 0, t0 = nys_now();
	for (uint64_t s = 0; s < spe; s++) {
		uint64_t nb = n - f->pos < o->batch_size ? n - f->pos : o->batch_size;
		/* the epoch's last step takes the rows that are left */
		f->loop.o.batch = nb;
		f->loop.o.micro = nb < f->micro ? nb : f->micro;
		nys_loop_sums sum;
		if (nys_loop_step(&f->loop, &sum, e))
			return -1;
		sl += sum.loss * (double)nb;
		sa += sum.accu * (double)nb;
		if (o->progress)
			progress(f, epoch, total, (double)f->pos / (nys_now() - t0), sl / (double)f->pos);
	}
	if (o->progress)
		fputc('\n', stderr);
	*loss = sl / (double)n;
	*accu = sa / (double)n;
	return 0;
}

/* The best epoch so far: its number and its dev scores, by split. */
static json_t *best_json(const ft *f)
{
	json_t *b = json_deep_copy(f->best_dev);
	if (b)
		json_object_set_new(b, "epoch", json_integer((json_int_t)f->best_epoch));
	return b;
}

/* One epoch: train, score dev, keep the best (--save, --predict), log.
 * *last: the epoch's dev scores. */
static int epoch(ft *f, uint64_t ep, uint64_t spe, uint64_t total, json_t **last, nys_err *e)
{
	const nys_ft_opts *o = f->o;
	double t0 = nys_now(), loss, accu, combined = NAN;
	f->tokens = 0;
	if (train_epoch(f, spe, ep, total, &loss, &accu, e))
		return -1;
	double dt = nys_now() - t0, tokens = (double)f->tokens;
	/* a world's tokens: each rank counted its own */
	if (nys_world_many(o->world) && o->world->sum(o->world->ctx, &tokens, 1, e))
		return -1;
	int rc = -1;
	json_t *dev = json_object(), *line = json_object(), *again = json_object();
	if (!dev || !line || !again) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	if (score_dev(f, dev, NULL, &combined, e))
		goto out;
	json_object_update(line, dev);
	if (isfinite(combined) ? combined > f->best : !f->best_epoch) {
		f->best_epoch = ep;
		f->best = isfinite(combined) ? combined : -INFINITY;
		json_decref(f->best_dev);
		f->best_dev = json_deep_copy(dev);
		/* the best epoch's model and predictions (scored again: the same
		 * numbers, now with the files) */
		if ((o->save && save_model(f, ep, e)) ||
		    (o->predict && score_dev(f, again, o->predict, &combined, e)))
			goto out;
	}
	if (o->score_train) {
		json_t *tr = NULL;
		double c;
		if (score(f, &f->train, NULL, &tr, &c, e))
			goto out;
		json_object_set_new(line, "train", tr);
	}
	json_object_set_new(line, "epoch", json_integer((json_int_t)ep));
	json_object_set_new(line, "step", json_integer((json_int_t)f->loop.step));
	json_object_set_new(line, "train_loss", json_real(loss));
	if (f->L > 1)
		json_object_set_new(line, "train_accu", json_real(accu));
	/* the learning rate and beta1 of the epoch's last step */
	json_object_set_new(line, "learning_rate", json_real(f->loop.adam.lr));
	json_object_set_new(line, "beta1", json_real(f->loop.adam.beta1));
	json_object_set_new(line, "best", best_json(f));
	json_object_set_new(line, "time", json_real(round(dt * 1e4) / 1e4));
	json_object_set_new(line, "tokens_per_s", json_real(round(tokens / dt)));
	nys_info_say(&f->info, "epoch %llu: train loss %.4f, dev %.4f (best: epoch %llu, %.4f)",
	             (unsigned long long)ep, loss, combined, (unsigned long long)f->best_epoch,
	             f->best);
	rc = log_line(f, line, e);
	line = NULL;
	json_decref(*last);
	*last = dev;
	dev = NULL;
out:
	json_decref(dev);
	json_decref(line);
	json_decref(again);
	return rc;
}

static int run_train(ft *f, json_t **summary, nys_err *e)
{
	const nys_ft_opts *o = f->o;
	size_t n = f->train.d.n;
	uint64_t spe = (n + o->batch_size - 1) / o->batch_size, total = spe * o->epochs;
	nys_onecycle sched;
	nys_onecycle_init(&sched, o->lr, total, FT_WARMUP);
	if (nys_onecycle_check(&sched, e)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		return nys_err_set(e, "%s: %llu rows in batches of %llu for %llu epochs: %s",
		                   f->train.d.file, (unsigned long long)n,
		                   (unsigned long long)o->batch_size, (unsigned long long)o->epochs,
		                   msg);
	}
	uint64_t micro = NYS_MAX_BATCH_TOKENS / f->T, want = o->batch_size;
	if (o->micro)
		want = o->micro;
	else if (nys_world_many(o->world))
		want = (o->batch_size + o->world->world - 1) / o->world->world;
	if (want > o->batch_size)
		want = o->batch_size;
	f->micro = want < micro ? want : micro;
	nys_loop_opts lp = {
		.batch = o->batch_size, .micro = f->micro,
		.seed = o->seed, .max_lr = o->lr, .sched = sched, .next = next_batch, .next_ctx = f,
		.world = o->world, .skip = skip_batch, .exact = o->exact,
	};
	if (nys_loop_init(&f->loop, f->m, &lp, e))
		return -1;
	nys_rng_seed(&f->rng, o->seed);

	char name[512];
	nys_ft_log_name(o, name, sizeof name);
	const char *slash = strrchr(f->ckpt, '/');
	size_t len = (slash ? (size_t)(slash - f->ckpt) : 1) + strlen(name) + 2;
	if (!(f->log_path = malloc(len)))
		return nys_err_set(e, "out of memory");
	snprintf(f->log_path, len, "%.*s/%s", slash ? (int)(slash - f->ckpt) : 1,
	         slash ? f->ckpt : ".", name);
	if (writer(f) && !(f->log = fopen(f->log_path, "w")))
		return nys_err_sys(e, "%s", f->log_path);
	nys_info_say(&f->info, "%s: %zu training rows, %llu steps an epoch, %llu epochs; log %s",
	             f->task->name, n, (unsigned long long)spe, (unsigned long long)o->epochs,
	             f->log_path);
	f->best = -INFINITY;
	json_t *last = NULL;
	for (uint64_t ep = 1; ep <= o->epochs; ep++)
		if (epoch(f, ep, spe, total, &last, e)) {
			json_decref(last);
			return -1;
		}
	json_object_set_new(last, "epoch", json_integer((json_int_t)o->epochs));
	*summary = json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:s, s:s, s:s, s:o, s:o}",
	                     "task", f->task->name, "checkpoint", f->ckpt, "lr", o->lr,
	                     "batch_size", (json_int_t)o->batch_size, "epochs",
	                     (json_int_t)o->epochs, "seed", (json_int_t)o->seed, "head",
	                     head_name(o->head), "pad", o->pad == NYS_FT_PAD_MAX ? "max" : "longest",
	                     "log", f->log_path, "last", last, "best", best_json(f));
	return *summary ? 0 : nys_err_set(e, "out of memory");
}

static int run_eval(ft *f, json_t **summary, nys_err *e)
{
	json_t *dev = json_object();
	double combined;
	if (!dev)
		return nys_err_set(e, "out of memory");
	if (score_dev(f, dev, f->o->predict, &combined, e)) {
		json_decref(dev);
		return -1;
	}
	*summary = json_pack("{s:s, s:s, s:b}", "task", f->task->name, "checkpoint", f->ckpt,
	                     "eval_only", 1);
	if (*summary)
		json_object_update(*summary, dev);
	json_decref(dev);
	return *summary ? 0 : nys_err_set(e, "out of memory");
}

int nys_ft_run(const nys_ft_opts *o, void (*info)(void *ctx, const char *line), void *ctx,
               char **summary, nys_err *e)
{
	ft f = {.o = o, .info = {.fn = info, .ctx = ctx}};
	*summary = NULL;
	json_t *sum = NULL;
	int rc = -1;
	if (!o->batch_size || !o->epochs || !(o->lr > 0)) {
		nys_err_set(e, "batch size, epochs and learning rate must be positive");
		goto out;
	}
	if (!(f.cfg = nys_config_load(o->config ? o->config : "config.json", NULL, NULL, e)) ||
	    setup(&f, e))
		goto out;
	if (o->predict && writer(&f) && nys_mkdirs(o->predict, e))
		goto out;
	if (o->eval_only ? run_eval(&f, &sum, e) : run_train(&f, &sum, e))
		goto out;
	if (!(*summary = dump(sum))) {
		sum = NULL;
		nys_err_set(e, "out of memory");
		goto out;
	}
	sum = NULL;
	rc = 0;
	if (f.log) {
		if (fclose(f.log))
			rc = nys_err_sys(e, "%s: close", f.log_path);
		f.log = NULL;
	}
out:
	json_decref(sum);
	teardown(&f);
	return rc;
}
