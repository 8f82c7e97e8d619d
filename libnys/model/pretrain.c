/* Masked-LM pretraining: the loop of the authors' run_pretrain.py with
 * exact resumption.  See nys_train.h and nys-train(1).  This is the driver:
 * the settings (nys_settings.h), the step (nys_loop.h) and the checkpoint
 * folder (nys_ckpt.h) are shared with the drivers to come; what is
 * pretraining's is here: the shards, the masks, validation, the log.
 *
 * Everything random is a function of the seed and a counter (dropout: the
 * step and micro-batch; the data order: the loader's position; masks: the
 * number of sequences delivered), so the state of a run is its parameters,
 * AdamW moments and a few integers, and a checkpoint of them resumes the
 * run bit for bit.
 */
#include "nys_ckpt.h"
#include "nys_config.h"
#include "nys_data.h"
#include "nys_loop.h"
#include "nys_mlm_eval.h"
#include "nys_model.h"
#include "nys_settings.h"
#include "nys_train.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct trainer {
	const nys_train_opts *o;
	nys_info info;
	nys_config *cfg;
	nys_pretrain_settings s;
	nys_model *m;
	nys_loop loop;
	nys_ckpt ck;
	nys_loader *train, *dev;
	nys_loader_pos resume_pos;   /* read from a checkpoint, for the seek */
	nys_mlm_opts mlm;
	int32_t special[5];
	uint32_t T;
	int32_t *ids, *labels;       /* one micro-batch */
	bool validated;              /* the log holds the validation at the step */
	char tokenizer[17];          /* the shards' fingerprint, for the checkpoints */
	FILE *log;
	char *log_path;
} trainer;

/* ---- the data ----------------------------------------------------------------- */

/* The next training sequence, masked with the counter of its place in the
 * data order. */
static int next_masked(trainer *t, nys_loader *l, int32_t *ids, int32_t *labels,
                       uint64_t mask_seed, nys_err *e)
{
	uint64_t c = nys_loader_tell(l).delivered;
	int r = nys_loader_next(l, ids, e);
	if (r <= 0)
		return r;
	nys_mlm_mask(ids, labels, t->T, &t->mlm, mask_seed, c);
	return 1;
}

/* The loop's next micro-batch: nb masked training sequences. */
static int next_batch(void *ctx, int nb, nys_batch *b, nys_err *e)
{
	trainer *t = ctx;
	for (int i = 0; i < nb; i++) {
		int r = next_masked(t, t->train, t->ids + (size_t)i * t->T,
		                    t->labels + (size_t)i * t->T, t->s.seed, e);
		if (r < 0)
			return -1;
		if (r == 0)
			return nys_err_set(e, "%s: the training data ran out", t->s.data);
	}
	*b = (nys_batch){.B = nb, .T = (int)t->T, .ids = t->ids, .labels = t->labels};
	return 0;
}

/* Another rank's micro-batch of nb sequences: read past them (their
 * masks, which only their counters fix, are that rank's to draw). */
static int skip_batch(void *ctx, int nb, nys_err *e)
{
	trainer *t = ctx;
	for (int i = 0; i < nb; i++) {
		int r = nys_loader_next(t->train, t->ids, e);
		if (r < 0)
			return -1;
		if (r == 0)
			return nys_err_set(e, "%s: the training data ran out", t->s.data);
	}
	return 0;
}

/* Rank 0 of a world writes the checkpoints and the log (every rank when
 * alone). */
static bool writer(const trainer *t)
{
	return !nys_world_many(t->o->world) || t->o->world->rank == 0;
}

/* Every rank of a world must stand at the same step and data position
 * after resuming (they read the same checkpoint folder): each rank's
 * values, in its own slots of a sum (below 2^53, so exact as doubles),
 * are seen by all. */
static int check_agree(trainer *t, nys_err *e)
{
	const nys_world *w = t->o->world;
	if (!nys_world_many(w))
		return 0;
	nys_loader_pos p = nys_loader_tell(t->train);
	double mine[3] = {(double)t->loop.step, (double)p.delivered, (double)(p.data_id >> 11)};
	double *v = calloc(3 * (size_t)w->world, sizeof *v);
	if (!v)
		return nys_err_set(e, "out of memory");
	memcpy(v + 3 * (size_t)w->rank, mine, sizeof mine);
	int rc = w->sum(w->ctx, v, 3 * (size_t)w->world, e);
	for (unsigned r = 0; !rc && r < w->world; r++)
		if (memcmp(v + 3 * (size_t)r, mine, sizeof mine))
			rc = nys_err_set(e, "%s: rank %u resumed at step %llu, rank %u at step %.0f: the "
			                 "ranks must read the same checkpoint folder and data",
			                 t->s.ckpt, w->rank, (unsigned long long)t->loop.step, r,
			                 v[3 * (size_t)r]);
	free(v);
	return rc;
}

/* The loader's position in a checkpoint's training state. */
static void data_save(void *ctx, char *buf, size_t n)
{
	trainer *t = ctx;
	nys_loader_pos p = nys_loader_tell(t->train);
	snprintf(buf, n,
	         "\"pass\": %llu, \"shard\": %llu, \"seq\": %llu, \"delivered\": %llu, "
	         "\"data_id\": \"%llu\"",
	         (unsigned long long)p.pass, (unsigned long long)p.shard,
	         (unsigned long long)p.seq, (unsigned long long)p.delivered,
	         (unsigned long long)p.data_id);
}

static bool data_parse(void *ctx, const json_t *js)
{
	trainer *t = ctx;
	bool ok = true;
	t->resume_pos = (nys_loader_pos){
		.pass = nys_ckpt_u64(js, "pass", &ok), .shard = nys_ckpt_u64(js, "shard", &ok),
		.seq = nys_ckpt_u64(js, "seq", &ok), .delivered = nys_ckpt_u64(js, "delivered", &ok),
		.data_id = nys_ckpt_u64(js, "data_id", &ok),
	};
	return ok;
}

static int data_seek(void *ctx, nys_err *e)
{
	trainer *t = ctx;
	return nys_loader_seek(t->train, &t->resume_pos, e);
}

/* ---- the log ------------------------------------------------------------------ */

static int log_line(trainer *t, json_t *j, bool flush, nys_err *e)
{
	if (!t->log) { /* not the writer of a world */
		json_decref(j);
		return 0;
	}
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(j);
	if (!s || fprintf(t->log, "%s\n", s) < 0 || (flush && fflush(t->log))) {
		free(s);
		return nys_err_sys(e, "%s: write", t->log_path);
	}
	free(s);
	return 0;
}

/* ---- validation and progress ---------------------------------------------------- */

/* Masked-LM loss and accuracy on the first validate_batches_per_epoch
 * batches of dev.json, the same sequences and masks every epoch
 * (nys_mlm_eval.h, which `nys-eval mlm` shares). */
static int validate(trainer *t, uint64_t epoch, nys_err *e)
{
	if (!t->dev || !t->s.validate_batches || !writer(t))
		return 0;
	nys_mlm_eval_opts vo = {.sequences = t->s.validate_batches * t->s.batch_size,
	                        .micro = (int)t->s.inst_per_gpu, .seed = t->s.seed, .mlm = t->mlm};
	nys_mlm_score sc;
	if (nys_mlm_eval(t->m, t->dev, &vo, &sc, e))
		return -1;
	if (!sc.sequences)
		return 0;
	json_t *j = json_pack("{s:I, s:I, s:f, s:f, s:f, s:I}", "epoch", (json_int_t)epoch, "idx",
	                      (json_int_t)t->loop.step, "valid_loss", sc.loss, "valid_mlm_accu",
	                      sc.accuracy, "valid_count", sc.count, "valid_inst",
	                      (json_int_t)sc.sequences);
	nys_info_say(&t->info,
	             "epoch %llu: validation loss %.4f, accuracy %.4f (%llu sequences, %.0f labels)",
	             (unsigned long long)epoch, sc.loss, sc.accuracy,
	             (unsigned long long)sc.sequences, sc.count);
	return j ? log_line(t, j, true, e) : nys_err_set(e, "out of memory");
}

static void progress(const trainer *t, double loss, double tps)
{
	uint64_t step = t->loop.step;
	double left = tps > 0 ? (double)(t->s.total_steps - step) * (double)t->s.batch_size *
	                            t->T / tps
	                      : 0;
	unsigned long s = (unsigned long)left;
	fprintf(stderr, "\rstep %llu/%llu  epoch %llu  loss %.4f  %.0f tokens/s  ETA %lu:%02lu:%02lu ",
	        (unsigned long long)step, (unsigned long long)t->s.total_steps,
	        (unsigned long long)(step / t->s.batches_per_epoch), loss, tps, s / 3600,
	        s / 60 % 60, s % 60);
}

/* ---- setup --------------------------------------------------------------------------- */

/* Refuse, before the first step, a run whose parameters, gradients, AdamW
 * moments and activations do not fit this machine's memory. */
static int check_memory(trainer *t, nys_err *e)
{
	uint64_t have = nys_mem_total(), np = nys_model_nparams(t->m);
	size_t N = (size_t)t->s.inst_per_gpu * t->T;
	size_t rows = (size_t)((double)N * t->mlm.prob) + 1;
	uint64_t act = nys_model_act_bytes(t->m, (int)t->s.inst_per_gpu, (int)t->T, rows);
	/* np and act are far below 2^60 under the config's limits */
	uint64_t need = np * (2 * sizeof(float) + 2 * sizeof(float)) + act;
	if (have && need > have)
		return nys_err_set(e, "%s: training this model needs %llu bytes (%.1f GB: %llu "
		                   "parameters with their gradients and AdamW moments, and %.1f GB "
		                   "of activations for %llu x %u tokens); this machine has %llu "
		                   "(%.1f GB)", t->cfg->name, (unsigned long long)need,
		                   (double)need / 1e9, (unsigned long long)np, (double)act / 1e9,
		                   (unsigned long long)t->s.inst_per_gpu, t->T,
		                   (unsigned long long)have, (double)have / 1e9);
	return 0;
}

/* The validation data, decided before any step: dev.json when it lists
 * shards; a run without it says so once and does not validate. */
static int open_dev(trainer *t, nys_err *e)
{
	if (!t->s.validate_batches)
		return 0;
	char devpath[4096];
	struct stat sb;
	snprintf(devpath, sizeof devpath, "%s/dev.json", t->s.data);
	if (stat(devpath, &sb)) {
		nys_info_say(&t->info, "%s: no such file: no validation", devpath);
		return 0;
	}
	nys_loader_opts dlo = {.seed = 0, .shuffle = false, .cycle = false};
	if (!(t->dev = nys_loader_open(t->s.data, "dev.json", &dlo, e)))
		return -1;
	const nys_loader_info *di = nys_loader_header(t->dev), *li = nys_loader_header(t->train);
	if (!di->shards || !di->sequences) {
		nys_info_say(&t->info, "%s lists no sequences (shard puts a tenth of the shards "
		             "there, none of fewer than 10): no validation", devpath);
		nys_loader_close(t->dev);
		t->dev = NULL;
		return 0;
	}
	if (di->seq_len != t->T)
		return nys_err_set(e, "%s: sequences of %u tokens, train.json's have %u", devpath,
		                   di->seq_len, t->T);
	if (di->fingerprint != li->fingerprint || di->vocab_size != li->vocab_size)
		return nys_err_set(e, "%s: made with another sentencepiece model than train.json's "
		                   "shards", devpath);
	return 0;
}

static int setup(trainer *t, nys_err *e)
{
	const nys_model_config *mc = &t->cfg->model;
	if (t->o->threads > 0) {
		omp_set_num_threads(t->o->threads);
		openblas_set_num_threads(t->o->threads);
	}
	nys_loader_opts lo = {.seed = t->s.seed, .shuffle = true, .cycle = true};
	if (!(t->train = nys_loader_open(t->s.data, "train.json", &lo, e)))
		return -1;
	const nys_loader_info *li = nys_loader_header(t->train);
	t->T = li->seq_len;
	/* The vocabulary is the tokenizer's, as the authors' code takes it:
	 * a config's vocab_size (50265, RoBERTa's, in the published one) only
	 * stands for it. */
	if (li->vocab_size < 1 || li->vocab_size > NYS_MAX_VOCAB)
		return nys_err_set(e, "%s: the shards' vocabulary of %u pieces is out of range "
		                   "(1 to %u)", t->s.data, li->vocab_size, NYS_MAX_VOCAB);
	if (li->vocab_size != t->cfg->model.vocab_size) {
		nys_info_say(&t->info, "%s: the shards' vocabulary has %u pieces: using vocab_size "
		             "%u instead of the config's %u", t->s.data, li->vocab_size,
		             li->vocab_size, t->cfg->model.vocab_size);
		t->cfg->model.vocab_size = li->vocab_size;
	}
	if (t->T > mc->max_seq_len)
		return nys_err_set(e, "%s: the shards' sequences (%u tokens) are longer than "
		                   "max_seq_len (%u)", t->s.data, t->T, mc->max_seq_len);
	if (nys_config_uses_landmarks(mc) && t->T < mc->num_landmarks)
		return nys_err_set(e, "%s: the shards' sequences (%u tokens) are shorter than "
		                   "num_landmarks (%u)", t->s.data, t->T, mc->num_landmarks);
	if ((uint64_t)t->s.inst_per_gpu * t->T > NYS_MAX_BATCH_TOKENS)
		return nys_err_set(e, "%s: gpu_setting.inst_per_gpu: %llu sequences of %u tokens are "
		                   "more than the %llu tokens one forward takes", t->cfg->name,
		                   (unsigned long long)t->s.inst_per_gpu, t->T,
		                   (unsigned long long)NYS_MAX_BATCH_TOKENS);

	nys_tokenizer_meta(li->fingerprint, t->tokenizer);
	if (nys_mlm_setup(li, &t->s, t->special, &t->mlm, e))
		return -1;

	/* mixed_precision: the dense products in bf16 where the device has them
	 * (CUDA); the CPU computes in float32 either way, and says nothing */
	nys_matmul mm = t->o->matmul_set ? t->o->matmul
	                : mc->mixed_precision ? NYS_MATMUL_BF16 : NYS_MATMUL_F32;
	nys_model_opts mo = {.dtype = NYS_F32, .mlm = true, .device = t->o->device, .matmul = mm};
	if (!(t->m = nys_model_new(mc, &mo, e)) || check_memory(t, e))
		return -1;
	if (mm == NYS_MATMUL_BF16 && nys_model_backend(t->m)->device == NYS_DEVICE_CUDA)
		nys_info_say(&t->info, "mixed precision: the dense layers' products in bf16 "
		             "(fp32 accumulation, weights and attention)");
	nys_loop_opts lp = {
		.batch = t->s.batch_size, .micro = t->s.inst_per_gpu, .seed = t->s.seed,
		.max_lr = t->s.learning_rate, .sched = t->s.sched, .next = next_batch, .next_ctx = t,
		.world = t->o->world, .skip = skip_batch, .stop = t->o->stop, .exact = t->o->exact,
	};
	if (nys_loop_init(&t->loop, t->m, &lp, e))
		return -1;

	if (open_dev(t, e))
		return -1;
	size_t n = (size_t)t->s.inst_per_gpu * t->T;
	t->ids = malloc(n * sizeof *t->ids);
	t->labels = malloc(n * sizeof *t->labels);
	if (!t->ids || !t->labels)
		return nys_err_set(e, "out of memory");
	if (writer(t) && nys_mkdirs(t->s.ckpt, e))
		return -1;

	t->ck = (nys_ckpt){
		.dir = t->s.ckpt, .config = t->cfg->name, .vocab_of = "the shards'",
		.per_epoch = t->s.batches_per_epoch, .total_steps = t->s.total_steps,
		.seed = t->s.seed, .keep = t->o->keep, .loop = &t->loop, .tokenizer = t->tokenizer,
		.data = {.save = data_save, .parse = data_parse, .seek = data_seek, .ctx = t},
		.info = t->info,
	};
	int r = nys_ckpt_resume(&t->ck, e);
	if (r < 0 || check_agree(t, e))
		return -1;
	if (r == 0) {
		if (nys_model_init(t->m, t->s.seed, e))
			return -1;
		if (t->s.from_cp) {
			if (nys_model_load(t->m, t->s.from_cp,
			                   NYS_LOAD_HEADS_OPTIONAL | NYS_LOAD_TILE_POSITIONS, e))
				return -1;
			nys_info_say(&t->info, "warm start from %s", t->s.from_cp);
		} else {
			nys_info_say(&t->info, "model randomly initialised (seed %llu), %zu parameters",
			             (unsigned long long)t->s.seed, t->loop.np);
		}
	}
	size_t len = strlen(t->s.ckpt) + 32;
	if (!(t->log_path = malloc(len)))
		return nys_err_set(e, "out of memory");
	snprintf(t->log_path, len, "%s/pretrain_output.log", t->s.ckpt);
	if (!writer(t))
		return 0;
	if (nys_ckpt_trim_log(t->log_path, t->loop.step, &t->validated, e))
		return -1;
	if (!(t->log = fopen(t->log_path, "a")))
		return nys_err_sys(e, "%s", t->log_path);
	return 0;
}

static void teardown(trainer *t)
{
	if (t->log)
		fclose(t->log);
	nys_loader_close(t->train);
	nys_loader_close(t->dev);
	nys_loop_free(&t->loop);
	nys_model_free(t->m);
	nys_config_free(t->cfg);
	free(t->ids);
	free(t->labels);
	free(t->log_path);
	nys_pretrain_settings_free(&t->s);
}

/* Write the end-of-epoch pair or a stop checkpoint for the current step. */
static int checkpoint(trainer *t, nys_err *e)
{
	if (!writer(t))
		return 0;
	if (fflush(t->log))
		return nys_err_sys(e, "%s: write", t->log_path);
	return nys_ckpt_save(&t->ck, e);
}

int nys_train_run(const nys_train_opts *o, void (*info)(void *ctx, const char *line),
                  void *ctx, nys_train_end *end, nys_err *e)
{
	trainer t = {.o = o, .info = {.fn = info, .ctx = ctx}};
	int rc = -1;
	*end = NYS_TRAIN_DONE;
	if (!(t.cfg = nys_config_load(o->config ? o->config : "config.json", NULL, NULL, e)) ||
	    nys_pretrain_settings_read(&t.s, t.cfg, o, e) || setup(&t, e))
		goto out;
	nys_loop *L = &t.loop;
	L->t_start = nys_now();
	uint64_t bpe = t.s.batches_per_epoch;
	/* resumed from an epoch's checkpoint whose validation did not finish */
	if (L->step && L->step % bpe == 0 && !t.validated && validate(&t, L->step / bpe - 1, e))
		goto out;
	if (L->step >= t.s.total_steps)
		nys_info_say(&t.info, "all %llu steps are done already",
		             (unsigned long long)t.s.total_steps);
	double tps = 0;
	while (L->step < t.s.total_steps) {
		double t0 = nys_now();
		nys_loop_sums sum;
		if (nys_loop_step(L, &sum, e))
			goto out;
		double t1 = nys_now(), lr_next = 0, beta1_next;
		if (nys_loop_schedule(L, &lr_next, &beta1_next, e))
			goto out;
		double dt = t1 - t0, ntok = (double)t.s.batch_size * t.T;
		tps = tps ? 0.9 * tps + 0.1 * ntok / dt : ntok / dt;
		uint64_t idx = L->step - 1;
		json_t *j = json_pack(
			"{s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:I, s:f, s:f, s:f, s:f}", "loss", sum.loss,
			"mlm_accu", sum.accu, "valid_count", sum.count, "batch_size_per_device", sum.batch,
			"idx", (json_int_t)idx, "batch_idx", (json_int_t)(idx % bpe), "epoch",
			(json_int_t)(idx / bpe), "time", round(dt * 1e4) / 1e4, "inst_pass",
			(json_int_t)L->inst_pass, "learning_rate", round(lr_next * 1e8) / 1e8,
			"time_since_start", round((L->elapsed + t1 - L->t_start) * 1e4) / 1e4,
			"tokens_per_s", round(ntok / dt), "beta1", L->adam.beta1);
		if (!j) {
			nys_err_set(e, "out of memory");
			goto out;
		}
		if (log_line(&t, j, idx % t.s.batches_per_report == 0, e))
			goto out;
		if (o->progress)
			progress(&t, sum.loss, tps);
		if (L->step % bpe == 0) {
			if (o->progress)
				fputc('\n', stderr);
			/* the checkpoint first: nothing that fails in validation
			 * loses the epoch */
			if (checkpoint(&t, e) || validate(&t, L->step / bpe - 1, e))
				goto out;
		}
		if (L->step < t.s.total_steps &&
		    ((nys_world_many(o->world) ? sum.stop : o->stop && *o->stop) ||
		     (o->max_steps && L->step >= o->max_steps))) {
			if (o->progress)
				fputc('\n', stderr);
			if (L->step % bpe && checkpoint(&t, e))
				goto out;
			*end = NYS_TRAIN_STOPPED;
			break;
		}
	}
	if (o->progress && *end == NYS_TRAIN_DONE)
		fflush(stderr);
	if (t.log && (fflush(t.log) || ferror(t.log))) {
		nys_err_sys(e, "%s: write", t.log_path);
		goto out;
	}
	rc = 0;
out:
	if (t.log && fclose(t.log) && !rc)
		rc = nys_err_sys(e, "%s: close", t.log_path);
	t.log = NULL;
	teardown(&t);
	return rc;
}
