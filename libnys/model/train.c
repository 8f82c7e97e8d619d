/* Masked-LM pretraining: the loop of the authors' run_pretrain.py with
 * exact resumption.  See nys_train.h and nys-train(1).
 *
 * Everything random is a function of the seed and a counter (dropout: the
 * step and micro-batch; the data order: the loader's position; masks: the
 * number of sequences delivered), so the state of a run is its parameters,
 * AdamW moments and a few integers, and a checkpoint of them resumes the
 * run bit for bit.
 */
#include "nys_train.h"
#include "nys_config.h"
#include "nys_data.h"
#include "nys_model.h"
#include "nys_optim.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* pretraining_setting and friends, checked */
typedef struct tsettings {
	uint64_t batch_size, inst_per_gpu, batches_per_report, batches_per_epoch, epochs;
	uint64_t validate_batches, total_steps, seed;
	double learning_rate, warmup;
	int32_t pad_id, unk_id, mask_id;
	char *data, *ckpt, *from_cp; /* resolved paths, owned */
} tsettings;

typedef struct trainer {
	const nys_train_opts *o;
	void (*info)(void *, const char *);
	void *ctx;
	nys_config *cfg;
	tsettings s;
	nys_model *m;                /* with the AdamW moments, on the backend */
	size_t np;
	nys_adamw adam;
	nys_onecycle sched;
	nys_loader *train, *dev;
	nys_mlm_opts mlm;
	int32_t special[5];
	uint32_t T;
	int32_t *ids, *labels;       /* one micro-batch */
	uint64_t step, inst_pass;
	double elapsed;              /* seconds of training before this run */
	double t_start;
	bool validated;              /* the log holds the validation at `step` */
	FILE *log;
	char *log_path;
} trainer;

static void say(trainer *t, const char *fmt, ...) NYS_PRINTF(2, 3);
static void say(trainer *t, const char *fmt, ...)
{
	if (!t->info)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	t->info(t->ctx, line);
}

/* ---- settings -------------------------------------------------------------- */

static int get_uint(const json_t *obj, const char *sec, const char *key, uint64_t lo,
                    uint64_t hi, bool required, uint64_t dflt, uint64_t *out, const char *file,
                    nys_err *e)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return nys_err_set(e, "%s: %s.%s: missing", file, sec, key);
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi)
		return nys_err_set(e, "%s: %s.%s: expected an integer in %llu..%llu", file, sec, key,
		                   (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_num(const json_t *obj, const char *sec, const char *key, double lo, double hi,
                   double *out, const char *file, nys_err *e)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (!v)
		return nys_err_set(e, "%s: %s.%s: missing", file, sec, key);
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return nys_err_set(e, "%s: %s.%s: expected a number in [%g, %g]", file, sec, key, lo, hi);
	*out = json_number_value(v);
	return 0;
}

/* path relative to the config's directory, unless absolute */
static char *resolve(const char *config, const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	const char *slash = strrchr(config, '/');
	if (!slash)
		return strdup(path);
	int n = (int)(slash - config);
	size_t len = (size_t)n + strlen(path) + 2;
	char *s = malloc(len);
	if (s)
		snprintf(s, len, "%.*s/%s", n, config, path);
	return s;
}

static int get_path(trainer *t, const char *key, const char *override, const char *dflt,
                    char **out, nys_err *e)
{
	const char *file = t->cfg->name;
	if (override) {
		*out = strdup(override);
	} else {
		const json_t *v = json_object_get(t->cfg->root, key);
		if (v && !json_is_string(v))
			return nys_err_set(e, "%s: %s: expected a string", file, key);
		const char *p = v ? json_string_value(v) : dflt;
		if (!p) {
			*out = NULL;
			return 0;
		}
		*out = resolve(file, p);
	}
	if (!*out)
		return nys_err_set(e, "out of memory");
	return 0;
}

static int read_settings(trainer *t, nys_err *e)
{
	const json_t *root = t->cfg->root, *ps = json_object_get(root, "pretraining_setting");
	const json_t *gs = json_object_get(root, "gpu_setting");
	const char *f = t->cfg->name;
	tsettings *s = &t->s;
	uint64_t u;
	if (!json_is_object(ps))
		return nys_err_set(e, "%s: pretraining_setting: missing (an object)", f);
	if (get_uint(ps, "pretraining_setting", "batch_size", 1, 1 << 20, true, 0, &s->batch_size, f,
	             e) ||
	    get_num(ps, "pretraining_setting", "learning_rate", 0, 1e3, &s->learning_rate, f, e) ||
	    get_num(ps, "pretraining_setting", "warmup", 0, 1, &s->warmup, f, e) ||
	    get_uint(ps, "pretraining_setting", "batches_per_report", 1, UINT32_MAX, false, 10,
	             &s->batches_per_report, f, e) ||
	    get_uint(ps, "pretraining_setting", "batches_per_epoch", 1, UINT32_MAX, true, 0,
	             &s->batches_per_epoch, f, e) ||
	    get_uint(ps, "pretraining_setting", "epoch", 1, 1 << 20, true, 0, &s->epochs, f, e) ||
	    get_uint(ps, "pretraining_setting", "validate_batches_per_epoch", 0, UINT32_MAX, false,
	             0, &s->validate_batches, f, e) ||
	    get_uint(ps, "pretraining_setting", "seed", 0, UINT64_MAX, false, 0, &s->seed, f, e))
		return -1;
	if (gs && !json_is_object(gs))
		return nys_err_set(e, "%s: gpu_setting: expected an object", f);
	if (get_uint(gs, "gpu_setting", "inst_per_gpu", 1, 1 << 20, false, s->batch_size,
	             &s->inst_per_gpu, f, e))
		return -1;
	if (s->inst_per_gpu > s->batch_size)
		s->inst_per_gpu = s->batch_size;
	if (get_uint(ps, "pretraining_setting", "pad_id", 0, INT32_MAX, false, 0, &u, f, e))
		return -1;
	s->pad_id = (int32_t)u;
	if (get_uint(ps, "pretraining_setting", "unk_id", 0, INT32_MAX, false, 1, &u, f, e))
		return -1;
	s->unk_id = (int32_t)u;
	if (get_uint(ps, "pretraining_setting", "mask_id", 0, INT32_MAX, false, 4, &u, f, e))
		return -1;
	s->mask_id = (int32_t)u;
	if (t->o->seed_set)
		s->seed = t->o->seed;
	s->total_steps = s->epochs * s->batches_per_epoch;
	if (get_path(t, "data_folder", t->o->data, NULL, &s->data, e) ||
	    get_path(t, "model_checkpoints", t->o->checkpoints, "model_checkpoints", &s->ckpt, e) ||
	    get_path(t, "from_cp", NULL, NULL, &s->from_cp, e))
		return -1;
	if (!s->data)
		return nys_err_set(e, "%s: data_folder: missing (or give --data DIR)", f);
	nys_onecycle_init(&t->sched, s->learning_rate, s->total_steps, s->warmup);
	if (nys_onecycle_check(&t->sched, e)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		return nys_err_set(e, "%s: pretraining_setting: %s", f, msg);
	}
	return 0;
}

/* ---- checkpoints ----------------------------------------------------------------- */

typedef struct ckpt {
	char *path;
	uint64_t step;
} ckpt;

static int by_step_desc(const void *a, const void *b)
{
	const ckpt *x = a, *y = b;
	return x->step < y->step ? 1 : x->step > y->step ? -1 : 0;
}

/* The checkpoints of the folder, newest (most steps) first: cp-EEEE.cp
 * (the end of epoch EEEE) and stop-SSSSSSSS.cp (a run stopped after step
 * SSSSSSSS). */
static ckpt *list_checkpoints(const trainer *t, size_t *n)
{
	*n = 0;
	DIR *d = opendir(t->s.ckpt);
	if (!d)
		return NULL;
	ckpt *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned long long k;
		char tail[8];
		uint64_t step;
		if (sscanf(de->d_name, "cp-%llu.c%1[p]%1s", &k, tail, tail + 1) == 2 &&
		    strlen(de->d_name) == 10)
			step = (k + 1) * t->s.batches_per_epoch;
		else if (sscanf(de->d_name, "stop-%llu.c%1[p]%1s", &k, tail, tail + 1) == 2 &&
		         strlen(de->d_name) == 16)
			step = k;
		else
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			ckpt *nv = realloc(v, cap * sizeof *nv);
			if (!nv)
				break;
			v = nv;
		}
		size_t len = strlen(t->s.ckpt) + strlen(de->d_name) + 2;
		v[*n].path = malloc(len);
		if (!v[*n].path)
			break;
		snprintf(v[*n].path, len, "%s/%s", t->s.ckpt, de->d_name);
		v[*n].step = step;
		(*n)++;
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof *v, by_step_desc);
	return v;
}

static void free_checkpoints(ckpt *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

static int write_checkpoint(trainer *t, const char *path, bool with_state, nys_err *e)
{
	size_t nt = nys_model_ntensors(t->m);
	nys_st_entry *ent = calloc(nt + 2, sizeof *ent);
	char *cfg = nys_model_config_str(t->m);
	char state[1024];
	nys_loader_pos p = nys_loader_tell(t->train);
	snprintf(state, sizeof state,
	         "{\"step\": %llu, \"epoch\": %llu, \"inst_pass\": %llu, \"adam_step\": %llu, "
	         "\"seed\": \"%llu\", \"pass\": %llu, \"shard\": %llu, \"seq\": %llu, "
	         "\"delivered\": %llu, \"data_id\": \"%llu\", \"time_since_start\": %.4f}",
	         (unsigned long long)t->step, (unsigned long long)(t->step / t->s.batches_per_epoch),
	         (unsigned long long)t->inst_pass, (unsigned long long)t->adam.step,
	         (unsigned long long)t->s.seed, (unsigned long long)p.pass,
	         (unsigned long long)p.shard, (unsigned long long)p.seq,
	         (unsigned long long)p.delivered, (unsigned long long)p.data_id,
	         t->elapsed + (nys_now() - t->t_start));
	const char *meta[] = {"nys_model", cfg, "nys_train", state, NULL};
	void *params = NULL, *mom = NULL, *vel = NULL;
	int rc = -1;
	if (!ent || !cfg) {
		nys_err_set(e, "%s: out of memory", path);
		goto out;
	}
	/* host copies of the backend's buffers */
	if (!(params = nys_model_copy(t->m, NYS_BUF_PARAMS, e)) ||
	    (with_state && (!(mom = nys_model_copy(t->m, NYS_BUF_EXP_AVG, e)) ||
	                    !(vel = nys_model_copy(t->m, NYS_BUF_EXP_AVG_SQ, e)))))
		goto out;
	nys_model_st_entries(t->m, params, ent);
	size_t n = nt;
	if (with_state) {
		ent[n++] = (nys_st_entry){.name = "nys.adamw.exp_avg", .dtype = NYS_F32, .ndim = 1,
		                          .shape = {(int64_t)t->np}, .data = mom};
		ent[n++] = (nys_st_entry){.name = "nys.adamw.exp_avg_sq", .dtype = NYS_F32, .ndim = 1,
		                          .shape = {(int64_t)t->np}, .data = vel};
	}
	rc = nys_st_write(path, ent, n, meta, e);
out:
	free(vel);
	free(mom);
	free(params);
	free(cfg);
	free(ent);
	return rc;
}

static uint64_t json_u64(const json_t *o, const char *key, bool *ok)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_string(v)) {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(json_string_value(v), &end, 10);
		if (!errno && !*end && end != json_string_value(v))
			return x;
	}
	*ok = false;
	return 0;
}

/* Restore the whole training state from a .cp file. */
static int load_checkpoint(trainer *t, const ckpt *c, nys_err *e)
{
	nys_st *st = nys_st_load(c->path, e);
	if (!st)
		return -1;
	int rc = -1;
	json_t *js = NULL;
	char *cfg = nys_model_config_str(t->m);
	const char *mine = nys_st_meta(st, "nys_model"), *state = nys_st_meta(st, "nys_train");
	if (!cfg || !mine || strcmp(cfg, mine)) {
		json_t *theirs = mine ? json_loads(mine, 0, NULL) : NULL;
		json_int_t v = json_integer_value(json_object_get(theirs, "vocab_size"));
		json_decref(theirs);
		if (v > 0 && (uint64_t)v != t->cfg->model.vocab_size)
			nys_err_set(e, "%s: made for another model config than %s's: a vocabulary of "
			            "%lld pieces, the shards' has %u", c->path, t->cfg->name, (long long)v,
			            t->cfg->model.vocab_size);
		else
			nys_err_set(e, "%s: made for another model config than %s's", c->path,
			            t->cfg->name);
		goto out;
	}
	if (!state || !(js = json_loads(state, 0, NULL))) {
		nys_err_set(e, "%s: no training state (nys_train metadata)", c->path);
		goto out;
	}
	bool ok = true;
	uint64_t step = json_u64(js, "step", &ok), seed = json_u64(js, "seed", &ok);
	nys_loader_pos p = {
		.pass = json_u64(js, "pass", &ok), .shard = json_u64(js, "shard", &ok),
		.seq = json_u64(js, "seq", &ok), .delivered = json_u64(js, "delivered", &ok),
		.data_id = json_u64(js, "data_id", &ok),
	};
	uint64_t inst = json_u64(js, "inst_pass", &ok), astep = json_u64(js, "adam_step", &ok);
	const json_t *tss = json_object_get(js, "time_since_start");
	if (!ok || step != c->step || step > t->s.total_steps) {
		nys_err_set(e, "%s: damaged training state", c->path);
		goto out;
	}
	if (seed != t->s.seed) {
		nys_err_set(e, "%s: made with seed %llu, not %llu", c->path, (unsigned long long)seed,
		            (unsigned long long)t->s.seed);
		goto out;
	}
	int64_t shape[1] = {(int64_t)t->np};
	const void *mm = nys_st_get(st, "nys.adamw.exp_avg", NYS_F32, 1, shape, e);
	const void *vv = mm ? nys_st_get(st, "nys.adamw.exp_avg_sq", NYS_F32, 1, shape, e) : NULL;
	if (!vv || nys_model_load_st(t->m, st, 0, e))
		goto out;
	if (nys_loader_seek(t->train, &p, e)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		nys_err_set(e, "%s: %s", c->path, msg);
		goto out;
	}
	if (nys_model_set(t->m, NYS_BUF_EXP_AVG, 0, t->np, mm, e) ||
	    nys_model_set(t->m, NYS_BUF_EXP_AVG_SQ, 0, t->np, vv, e))
		goto out;
	t->step = step;
	t->inst_pass = inst;
	t->adam.step = astep;
	t->elapsed = json_is_number(tss) ? json_number_value(tss) : 0;
	rc = 0;
out:
	json_decref(js);
	free(cfg);
	nys_st_free(st);
	return rc;
}

/* Resume from the newest checkpoint that loads; a damaged one is reported
 * and the next older tried.  1 when resumed, 0 when there is none. */
static int resume(trainer *t, nys_err *e)
{
	size_t n;
	ckpt *v = list_checkpoints(t, &n);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		nys_err le = {0};
		if (!load_checkpoint(t, &v[i], &le)) {
			say(t, "resumed from %s (step %llu of %llu)", v[i].path,
			    (unsigned long long)t->step, (unsigned long long)t->s.total_steps);
			rc = 1;
			break;
		}
		if (strstr(le.msg, "another model config") || strstr(le.msg, "made with seed")) {
			*e = le;
			rc = -1;
			break;
		}
		say(t, "skipping %s: %s", v[i].path, le.msg);
	}
	free_checkpoints(v, n);
	return rc;
}

static bool has_shape(const nys_st *st, const char *name, int64_t n)
{
	int64_t shape[NYS_ST_MAX_DIMS];
	return nys_st_shape(st, name, shape) == 1 && shape[0] == n &&
	       nys_st_dtype(st, name) == NYS_F32;
}

/* Whether a checkpoint would resume this run: it loads (checksum), was
 * made for this model, holds a training state of its name's step and the
 * AdamW moments.  The data is streamed through the checksum, not held. */
static bool ckpt_loads(trainer *t, const ckpt *c)
{
	nys_err le = {0};
	nys_st *st = nys_st_check(c->path, &le);
	if (!st)
		return false;
	char *cfg = nys_model_config_str(t->m);
	const char *mine = nys_st_meta(st, "nys_model"), *state = nys_st_meta(st, "nys_train");
	json_t *js = state ? json_loads(state, 0, NULL) : NULL;
	bool ok = cfg && mine && !strcmp(cfg, mine) && js;
	int64_t shape[1] = {(int64_t)t->np};
	bool have = true;
	uint64_t step = js ? json_u64(js, "step", &have) : 0;
	ok = ok && have && step == c->step && has_shape(st, "nys.adamw.exp_avg", shape[0]) &&
	     has_shape(st, "nys.adamw.exp_avg_sq", shape[0]);
	json_decref(js);
	free(cfg);
	nys_st_free(st);
	return ok;
}

/* After a checkpoint of step `step` (just written, so known good): drop the
 * stop checkpoints it supersedes and, with --keep N, the epoch checkpoints
 * older than the newest N that load.  Files that do not load are neither
 * counted nor removed: one newer than `step` is a damaged or foreign file
 * that resume skipped, left for the user to look at. */
static void prune(trainer *t, uint64_t step)
{
	size_t n;
	ckpt *v = list_checkpoints(t, &n);
	unsigned kept = 0;
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(v[i].path, '/') + 1;
		bool is_stop = !strncmp(base, "stop-", 5);
		if (is_stop) {
			if (v[i].step < step || (v[i].step == step && step % t->s.batches_per_epoch == 0))
				unlink(v[i].path);
			continue;
		}
		if (!t->o->keep || v[i].step > step)
			continue;
		if (kept < t->o->keep) {
			if (v[i].step == step || ckpt_loads(t, &v[i]))
				kept++;
			continue;
		}
		unlink(v[i].path);
		size_t len = strlen(v[i].path); /* DIR/cp-NNNN.cp: its .model beside it */
		char model[4096];
		snprintf(model, sizeof model, "%.*s.model", (int)(len - 3), v[i].path);
		unlink(model);
	}
	free_checkpoints(v, n);
}

/* ---- the log --------------------------------------------------------------------- */

/* Keep the log lines of the steps before `step` (a resumed run writes the
 * rest again), through a temporary file. */
static int trim_log(trainer *t, nys_err *e)
{
	nys_in *in = nys_in_open(t->log_path, e);
	if (!in) {
		if (errno == ENOENT) {
			e->msg[0] = 0;
			return 0;
		}
		return -1;
	}
	nys_out *out = nys_out_open(t->log_path, 0, e);
	if (!out) {
		nys_in_close(in);
		return -1;
	}
	char *line = NULL;
	size_t len = 0;
	int r;
	while ((r = nys_in_getline(in, &line, &len, e)) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		const json_t *idx = j ? json_object_get(j, "idx") : NULL;
		/* a step's line has idx = the step; a validation's, the steps done */
		uint64_t k = json_is_integer(idx) ? (uint64_t)json_integer_value(idx) : UINT64_MAX;
		bool valid = json_object_get(j, "valid_loss") != NULL;
		bool keep = valid ? k <= t->step : k < t->step;
		if (valid && k == t->step)
			t->validated = true;
		json_decref(j);
		if (keep && (nys_out_puts(out, line, e) || nys_out_puts(out, "\n", e))) {
			r = -1;
			break;
		}
	}
	nys_in_close(in);
	if (r < 0) {
		nys_out_abort(out);
		return -1;
	}
	return nys_out_commit(out, e); /* frees out whatever the result */
}

static int log_line(trainer *t, json_t *j, bool flush, nys_err *e)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(j);
	if (!s || fprintf(t->log, "%s\n", s) < 0 || (flush && fflush(t->log))) {
		free(s);
		return nys_err_sys(e, "%s: write", t->log_path);
	}
	free(s);
	return 0;
}

/* ---- one step ---------------------------------------------------------------------- */

typedef struct step_sums {
	double loss, accu, count, batch;
} step_sums;

static int next_masked(trainer *t, nys_loader *l, int32_t *ids, int32_t *labels,
                       uint64_t mask_seed, uint64_t *counter, nys_err *e)
{
	uint64_t c = nys_loader_tell(l).delivered;
	int r = nys_loader_next(l, ids, e);
	if (r <= 0)
		return r;
	nys_mlm_mask(ids, labels, t->T, &t->mlm, mask_seed, counter ? (*counter)++ : c);
	return 1;
}

static int train_step(trainer *t, step_sums *sum, nys_err *e)
{
	uint64_t B = t->s.batch_size, inst = t->s.inst_per_gpu;
	memset(sum, 0, sizeof *sum);
	if (nys_model_zero_grad(t->m, e))
		return -1;
	for (uint64_t done = 0, k = 0; done < B; done += inst, k++) {
		int nb = (int)(B - done < inst ? B - done : inst);
		for (int i = 0; i < nb; i++) {
			int r = next_masked(t, t->train, t->ids + (size_t)i * t->T,
			                    t->labels + (size_t)i * t->T, t->s.seed, NULL, e);
			if (r < 0)
				return -1;
			if (r == 0)
				return nys_err_set(e, "%s: the training data ran out", t->s.data);
		}
		nys_batch b = {.B = nb, .T = (int)t->T, .ids = t->ids, .labels = t->labels};
		nys_model_stats st;
		double pct = (double)nb / (double)B;
		uint64_t seed = nys_mix64(t->s.seed ^ nys_mix64((t->step << 16) + k + 1));
		if (nys_model_forward(t->m, &b, true, seed, &st, e))
			return -1;
		if (!isfinite(st.loss))
			return nys_err_set(e, "step %llu: the loss is not finite (%g)",
			                   (unsigned long long)t->step + 1, st.loss);
		if (nys_model_backward(t->m, pct, e))
			return -1;
		double vc = st.count + 1e-6;
		sum->loss += pct * st.loss;
		sum->accu += pct * st.correct / vc;
		sum->count += pct * vc;
		sum->batch += pct * nb;
	}
	bool bad;
	if (nys_model_grad_nonfinite(t->m, &bad, e))
		return -1;
	if (bad)
		return nys_err_set(e, "step %llu: a gradient is not finite",
		                   (unsigned long long)t->step + 1);
	double lr, beta1;
	if (nys_onecycle_eval(&t->sched, t->step, &lr, &beta1, e))
		return -1;
	t->adam.lr = lr;
	t->adam.beta1 = beta1;
	if (nys_model_adamw_step(t->m, &t->adam, e))
		return -1;
	t->step++;
	t->inst_pass += B;
	return 0;
}

/* Masked-LM loss and accuracy on the first validate_batches_per_epoch
 * batches of dev.json, the same sequences and masks every epoch. */
static int validate(trainer *t, uint64_t epoch, nys_err *e)
{
	if (!t->dev || !t->s.validate_batches)
		return 0;
	nys_loader_pos zero = {0};
	zero.data_id = nys_loader_tell(t->dev).data_id;
	if (nys_loader_seek(t->dev, &zero, e))
		return -1;
	double loss = 0, count = 0, correct = 0;
	uint64_t want = t->s.validate_batches * t->s.batch_size, got = 0, counter = 0;
	uint64_t mseed = t->s.seed ^ UINT64_C(0x6e79732e64657621); /* "nys.dev!" */
	bool end = false;
	while (got < want && !end) {
		int nb = 0;
		while (nb < (int)t->s.inst_per_gpu && got < want) {
			int r = next_masked(t, t->dev, t->ids + (size_t)nb * t->T,
			                    t->labels + (size_t)nb * t->T, mseed, &counter, e);
			if (r < 0)
				return -1;
			if (r == 0) {
				end = true;
				break;
			}
			nb++;
			got++;
		}
		if (!nb)
			break;
		nys_batch b = {.B = nb, .T = (int)t->T, .ids = t->ids, .labels = t->labels};
		nys_model_stats st;
		if (nys_model_forward(t->m, &b, false, 0, &st, e))
			return -1;
		loss += st.loss * (st.count + 1e-6);
		count += st.count;
		correct += st.correct;
	}
	if (!got)
		return 0;
	json_t *j = json_pack("{s:I, s:I, s:f, s:f, s:f, s:I}", "epoch", (json_int_t)epoch, "idx",
	                      (json_int_t)t->step, "valid_loss", loss / (count + 1e-6),
	                      "valid_mlm_accu", correct / (count + 1e-6), "valid_count", count,
	                      "valid_inst", (json_int_t)got);
	say(t, "epoch %llu: validation loss %.4f, accuracy %.4f (%llu sequences, %.0f labels)",
	    (unsigned long long)epoch, loss / (count + 1e-6), correct / (count + 1e-6),
	    (unsigned long long)got, count);
	return j ? log_line(t, j, true, e) : nys_err_set(e, "out of memory");
}

static void progress(const trainer *t, double loss, double tps)
{
	double left = tps > 0 ? (double)(t->s.total_steps - t->step) * (double)t->s.batch_size *
	                            t->T / tps
	                      : 0;
	unsigned long s = (unsigned long)left;
	fprintf(stderr, "\rstep %llu/%llu  epoch %llu  loss %.4f  %.0f tokens/s  ETA %lu:%02lu:%02lu ",
	        (unsigned long long)t->step, (unsigned long long)t->s.total_steps,
	        (unsigned long long)(t->step / t->s.batches_per_epoch), loss, tps, s / 3600,
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
		say(t, "%s: no such file: no validation", devpath);
		return 0;
	}
	nys_loader_opts dlo = {.seed = 0, .shuffle = false, .cycle = false};
	if (!(t->dev = nys_loader_open(t->s.data, "dev.json", &dlo, e)))
		return -1;
	const nys_loader_info *di = nys_loader_header(t->dev), *li = nys_loader_header(t->train);
	if (!di->shards || !di->sequences) {
		say(t, "%s lists no sequences (shard puts a tenth of the shards there, none of "
		    "fewer than 10): no validation", devpath);
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
	if (t->o->device == NYS_DEVICE_CUDA)
		return nys_err_set(e, "--device cuda: this build has no CUDA backend");
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
		say(t, "%s: the shards' vocabulary has %u pieces: using vocab_size %u instead of "
		    "the config's %u", t->s.data, li->vocab_size, li->vocab_size,
		    t->cfg->model.vocab_size);
		t->cfg->model.vocab_size = li->vocab_size;
	}
	if (t->T > mc->max_seq_len)
		return nys_err_set(e, "%s: the shards' sequences (%u tokens) are longer than "
		                   "max_seq_len (%u)", t->s.data, t->T, mc->max_seq_len);
	if (mc->attn_type == NYS_ATTN_NYSTROM && mc->num_landmarks != mc->seq_len &&
	    t->T < mc->num_landmarks)
		return nys_err_set(e, "%s: the shards' sequences (%u tokens) are shorter than "
		                   "num_landmarks (%u)", t->s.data, t->T, mc->num_landmarks);
	if ((uint64_t)t->s.inst_per_gpu * t->T > NYS_MAX_BATCH_TOKENS)
		return nys_err_set(e, "%s: gpu_setting.inst_per_gpu: %llu sequences of %u tokens are "
		                   "more than the %llu tokens one forward takes", t->cfg->name,
		                   (unsigned long long)t->s.inst_per_gpu, t->T,
		                   (unsigned long long)NYS_MAX_BATCH_TOKENS);

	t->special[0] = (int32_t)li->cls_id;
	t->special[1] = (int32_t)li->sep_id;
	t->special[2] = t->s.pad_id;
	t->special[3] = t->s.unk_id;
	t->special[4] = t->s.mask_id;
	t->mlm = nys_mlm_defaults(t->s.mask_id, li->vocab_size, t->special, 5);
	if (nys_mlm_check(&t->mlm, e))
		return -1;

	nys_model_opts mo = {.dtype = NYS_F32, .mlm = true, .device = t->o->device};
	if (!(t->m = nys_model_new(mc, &mo, e)) || check_memory(t, e))
		return -1;
	t->np = nys_model_nparams(t->m);
	if (nys_model_zero_grad(t->m, e))
		return -1;
	nys_adamw_init(&t->adam, t->s.learning_rate);

	if (open_dev(t, e))
		return -1;
	size_t n = (size_t)t->s.inst_per_gpu * t->T;
	t->ids = malloc(n * sizeof *t->ids);
	t->labels = malloc(n * sizeof *t->labels);
	if (!t->ids || !t->labels)
		return nys_err_set(e, "out of memory");
	if (nys_mkdirs(t->s.ckpt, e))
		return -1;

	int r = resume(t, e);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (nys_model_init(t->m, t->s.seed, e))
			return -1;
		if (t->s.from_cp) {
			if (nys_model_load(t->m, t->s.from_cp,
			                   NYS_LOAD_HEADS_OPTIONAL | NYS_LOAD_TILE_POSITIONS, e))
				return -1;
			say(t, "warm start from %s", t->s.from_cp);
		} else {
			say(t, "model randomly initialised (seed %llu), %zu parameters",
			    (unsigned long long)t->s.seed, t->np);
		}
	}
	size_t len = strlen(t->s.ckpt) + 32;
	if (!(t->log_path = malloc(len)))
		return nys_err_set(e, "out of memory");
	snprintf(t->log_path, len, "%s/pretrain_output.log", t->s.ckpt);
	if (trim_log(t, e))
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
	nys_model_free(t->m);
	nys_config_free(t->cfg);
	free(t->ids);
	free(t->labels);
	free(t->log_path);
	free(t->s.data);
	free(t->s.ckpt);
	free(t->s.from_cp);
}

/* Write the end-of-epoch pair or a stop checkpoint for the current step. */
static int checkpoint(trainer *t, nys_err *e)
{
	char path[4096];
	uint64_t bpe = t->s.batches_per_epoch;
	if (fflush(t->log))
		return nys_err_sys(e, "%s: write", t->log_path);
	if (t->step % bpe == 0) {
		unsigned long long ep = t->step / bpe - 1;
		snprintf(path, sizeof path, "%s/cp-%04llu.model", t->s.ckpt, ep);
		if (nys_model_save(t->m, path, NULL, e))
			return -1;
		snprintf(path, sizeof path, "%s/cp-%04llu.cp", t->s.ckpt, ep);
	} else {
		snprintf(path, sizeof path, "%s/stop-%08llu.cp", t->s.ckpt,
		         (unsigned long long)t->step);
	}
	if (write_checkpoint(t, path, true, e))
		return -1;
	say(t, "checkpoint %s", path);
	prune(t, t->step);
	return 0;
}

int nys_train_run(const nys_train_opts *o, void (*info)(void *ctx, const char *line),
                  void *ctx, nys_train_end *end, nys_err *e)
{
	trainer t = {.o = o, .info = info, .ctx = ctx};
	int rc = -1;
	*end = NYS_TRAIN_DONE;
	if (!(t.cfg = nys_config_load(o->config ? o->config : "config.json", NULL, NULL, e)) ||
	    read_settings(&t, e) || setup(&t, e))
		goto out;
	t.t_start = nys_now();
	uint64_t bpe = t.s.batches_per_epoch;
	/* resumed from an epoch's checkpoint whose validation did not finish */
	if (t.step && t.step % bpe == 0 && !t.validated && validate(&t, t.step / bpe - 1, e))
		goto out;
	if (t.step >= t.s.total_steps)
		say(&t, "all %llu steps are done already", (unsigned long long)t.s.total_steps);
	double tps = 0;
	while (t.step < t.s.total_steps) {
		double t0 = nys_now();
		step_sums sum;
		if (train_step(&t, &sum, e))
			goto out;
		double t1 = nys_now(), lr_next = 0, beta1_next;
		if (nys_onecycle_eval(&t.sched, t.step, &lr_next, &beta1_next, e))
			goto out;
		double dt = t1 - t0, ntok = (double)t.s.batch_size * t.T;
		tps = tps ? 0.9 * tps + 0.1 * ntok / dt : ntok / dt;
		uint64_t idx = t.step - 1;
		json_t *j = json_pack(
			"{s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:I, s:f, s:f, s:f, s:f}", "loss", sum.loss,
			"mlm_accu", sum.accu, "valid_count", sum.count, "batch_size_per_device", sum.batch,
			"idx", (json_int_t)idx, "batch_idx", (json_int_t)(idx % bpe), "epoch",
			(json_int_t)(idx / bpe), "time", round(dt * 1e4) / 1e4, "inst_pass",
			(json_int_t)t.inst_pass, "learning_rate", round(lr_next * 1e8) / 1e8,
			"time_since_start", round((t.elapsed + t1 - t.t_start) * 1e4) / 1e4, "tokens_per_s",
			round(ntok / dt), "beta1", t.adam.beta1);
		if (!j) {
			nys_err_set(e, "out of memory");
			goto out;
		}
		if (log_line(&t, j, idx % t.s.batches_per_report == 0, e))
			goto out;
		if (o->progress)
			progress(&t, sum.loss, tps);
		if (t.step % bpe == 0) {
			if (o->progress)
				fputc('\n', stderr);
			/* the checkpoint first: nothing that fails in validation
			 * loses the epoch */
			if (checkpoint(&t, e) || validate(&t, t.step / bpe - 1, e))
				goto out;
		}
		if (t.step < t.s.total_steps &&
		    ((o->stop && *o->stop) || (o->max_steps && t.step >= o->max_steps))) {
			if (o->progress)
				fputc('\n', stderr);
			if (t.step % bpe && checkpoint(&t, e))
				goto out;
			*end = NYS_TRAIN_STOPPED;
			break;
		}
	}
	if (o->progress && *end == NYS_TRAIN_DONE)
		fflush(stderr);
	if (fflush(t.log) || ferror(t.log)) {
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
