/* The checkpoint folder (nys_ckpt.h): listing by step, writing a state,
 * resuming from the newest that loads, pruning, and trimming the log to
 * the state resumed.  The loop's state is saved beside the parameters; the
 * driver's (its data position) through its callbacks. */
#include "nys_ckpt.h"
#include "nys_model.h"
#include "nys_safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ckpt {
	char *path;
	uint64_t step;
	bool epoch; /* cp-EEEE.cp, whose step the period gives (else stop-SSSSSSSS.cp) */
} ckpt;

static int by_step_desc(const void *a, const void *b)
{
	const ckpt *x = a, *y = b;
	return x->step < y->step ? 1 : x->step > y->step ? -1 : 0;
}

/* The checkpoints of the folder, newest (most steps) first: cp-EEEE.cp
 * (the end of epoch EEEE) and stop-SSSSSSSS.cp (a run stopped after step
 * SSSSSSSS). */
static ckpt *list_checkpoints(const nys_ckpt *c, size_t *n)
{
	*n = 0;
	DIR *d = opendir(c->dir);
	if (!d)
		return NULL;
	ckpt *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned long long k;
		char tail[8];
		uint64_t step;
		bool epoch = true;
		if (sscanf(de->d_name, "cp-%llu.c%1[p]%1s", &k, tail, tail + 1) == 2 &&
		    strlen(de->d_name) == 10)
			step = (k + 1) * c->per_epoch;
		else if (sscanf(de->d_name, "stop-%llu.c%1[p]%1s", &k, tail, tail + 1) == 2 &&
		         strlen(de->d_name) == 16)
			step = k, epoch = false;
		else
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			ckpt *nv = realloc(v, cap * sizeof *nv);
			if (!nv)
				break;
			v = nv;
		}
		size_t len = strlen(c->dir) + strlen(de->d_name) + 2;
		v[*n].path = malloc(len);
		if (!v[*n].path)
			break;
		snprintf(v[*n].path, len, "%s/%s", c->dir, de->d_name);
		v[*n].step = step;
		v[*n].epoch = epoch;
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

static int write_checkpoint(const nys_ckpt *c, const char *path, bool with_state, nys_err *e)
{
	nys_loop *t = c->loop;
	size_t nt = nys_model_ntensors(t->m);
	nys_st_entry *ent = calloc(nt + 2, sizeof *ent);
	char *cfg = nys_model_config_str(t->m);
	char state[1024], data[512] = "";
	if (c->data.save)
		c->data.save(c->data.ctx, data, sizeof data);
	snprintf(state, sizeof state,
	         "{\"step\": %llu, \"epoch\": %llu, \"inst_pass\": %llu, \"adam_step\": %llu, "
	         "\"seed\": \"%llu\", %s%s\"time_since_start\": %.4f}",
	         (unsigned long long)t->step, (unsigned long long)(t->step / c->per_epoch),
	         (unsigned long long)t->inst_pass, (unsigned long long)t->adam.step,
	         (unsigned long long)c->seed, data, *data ? ", " : "",
	         t->elapsed + (nys_now() - t->t_start));
	const char *meta[] = {"nys_model", cfg, "nys_train", state,
	                      c->tokenizer ? NYS_TOKENIZER_META : NULL, c->tokenizer, NULL};
	int rc = -1;
	if (!ent || !cfg) {
		nys_err_set(e, "%s: out of memory", path);
		goto out;
	}
	nys_model_st_entries(t->m, ent);
	size_t n = nt;
	if (with_state) {
		ent[n++] = nys_model_st_buffer(t->m, NYS_BUF_EXP_AVG, "nys.adamw.exp_avg");
		ent[n++] = nys_model_st_buffer(t->m, NYS_BUF_EXP_AVG_SQ, "nys.adamw.exp_avg_sq");
	}
	rc = nys_st_write(path, ent, n, meta, e);
out:
	free(cfg);
	free(ent);
	return rc;
}

void nys_tokenizer_meta(uint64_t fingerprint, char buf[17])
{
	snprintf(buf, 17, "%016llx", (unsigned long long)fingerprint);
}

int nys_tokenizer_of(const nys_st *st, const char *name, uint64_t *fp, nys_err *e)
{
	const char *s = nys_st_meta(st, NYS_TOKENIZER_META);
	if (!s)
		return 0;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 16);
	if (errno || *end || strlen(s) != 16)
		return nys_err_set(e, "%s: %s metadata: expected 16 hex digits, got \"%.40s\"", name,
		                   NYS_TOKENIZER_META, s);
	*fp = x;
	return 1;
}

uint64_t nys_ckpt_u64(const json_t *o, const char *key, bool *ok)
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
static int load_checkpoint(nys_ckpt *c, const ckpt *f, nys_err *e)
{
	nys_loop *t = c->loop;
	nys_st *st = nys_st_load(f->path, e);
	if (!st)
		return -1;
	int rc = -1;
	json_t *js = NULL;
	char *cfg = nys_model_config_str(t->m);
	const char *mine = nys_st_meta(st, "nys_model"), *state = nys_st_meta(st, "nys_train");
	if (!cfg || !mine || strcmp(cfg, mine)) {
		json_t *theirs = mine ? json_loads(mine, 0, NULL) : NULL;
		json_int_t v = json_integer_value(json_object_get(theirs, "vocab_size"));
		uint32_t vocab = nys_model_cfg(t->m)->vocab_size;
		json_decref(theirs);
		if (v > 0 && (uint64_t)v != vocab)
			nys_err_set(e, "%s: made for another model config than %s's: a vocabulary of "
			            "%lld pieces, %s has %u", f->path, c->config, (long long)v,
			            c->vocab_of, vocab);
		else
			nys_err_set(e, "%s: made for another model config than %s's", f->path, c->config);
		goto out;
	}
	if (!state || !(js = json_loads(state, 0, NULL))) {
		nys_err_set(e, "%s: no training state (nys_train metadata)", f->path);
		goto out;
	}
	bool ok = true;
	uint64_t step = nys_ckpt_u64(js, "step", &ok), seed = nys_ckpt_u64(js, "seed", &ok);
	if (c->data.parse && !c->data.parse(c->data.ctx, js))
		ok = false;
	uint64_t inst = nys_ckpt_u64(js, "inst_pass", &ok), astep = nys_ckpt_u64(js, "adam_step", &ok);
	const json_t *tss = json_object_get(js, "time_since_start");
	if (f->epoch && ok && step != f->step && step <= c->total_steps) {
		/* a whole file of another period: the run's settings changed,
		 * which starting afresh would hide (and overwrite its log) */
		nys_err_set(e, "%s: holds step %llu, not the step %llu its name means here: "
		            "made with another checkpoint period (nys-train: batches_per_epoch, "
		            "nys-lra: --eval-every)", f->path, (unsigned long long)step,
		            (unsigned long long)f->step);
		goto out;
	}
	if (!ok || step > c->total_steps) {
		nys_err_set(e, "%s: damaged training state", f->path);
		goto out;
	}
	if (seed != c->seed) {
		nys_err_set(e, "%s: made with seed %llu, not %llu", f->path, (unsigned long long)seed,
		            (unsigned long long)c->seed);
		goto out;
	}
	int64_t shape[1] = {(int64_t)t->np};
	const void *mm = nys_st_get(st, "nys.adamw.exp_avg", NYS_F32, 1, shape, e);
	const void *vv = mm ? nys_st_get(st, "nys.adamw.exp_avg_sq", NYS_F32, 1, shape, e) : NULL;
	if (!vv || nys_model_load_st(t->m, st, 0, e))
		goto out;
	if (c->data.seek && c->data.seek(c->data.ctx, e)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		nys_err_set(e, "%s: %s", f->path, msg);
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

int nys_ckpt_resume(nys_ckpt *c, nys_err *e)
{
	size_t n;
	ckpt *v = list_checkpoints(c, &n);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		nys_err le = {0};
		if (!load_checkpoint(c, &v[i], &le)) {
			nys_info_say(&c->info, "resumed from %s (step %llu of %llu)", v[i].path,
			             (unsigned long long)c->loop->step, (unsigned long long)c->total_steps);
			rc = 1;
			break;
		}
		if (strstr(le.msg, "another model config") || strstr(le.msg, "made with seed") ||
		    strstr(le.msg, "another checkpoint period")) {
			*e = le;
			rc = -1;
			break;
		}
		nys_info_say(&c->info, "skipping %s: %s", v[i].path, le.msg);
	}
	if (rc == 0 && n > 0) {
		/* every checkpoint there is unusable: refuse rather than start
		 * afresh over the run's log and files */
		nys_err_set(e, "%s: none of its %zu checkpoint%s can be resumed (the newest, %s); "
		            "move them away to start afresh", c->dir, n, n == 1 ? "" : "s", v[0].path);
		rc = -1;
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
static bool ckpt_loads(const nys_ckpt *c, const ckpt *f)
{
	nys_loop *t = c->loop;
	nys_err le = {0};
	nys_st *st = nys_st_check(f->path, &le);
	if (!st)
		return false;
	char *cfg = nys_model_config_str(t->m);
	const char *mine = nys_st_meta(st, "nys_model"), *state = nys_st_meta(st, "nys_train");
	json_t *js = state ? json_loads(state, 0, NULL) : NULL;
	bool ok = cfg && mine && !strcmp(cfg, mine) && js;
	int64_t shape[1] = {(int64_t)t->np};
	bool have = true;
	uint64_t step = js ? nys_ckpt_u64(js, "step", &have) : 0;
	ok = ok && have && step == f->step && has_shape(st, "nys.adamw.exp_avg", shape[0]) &&
	     has_shape(st, "nys.adamw.exp_avg_sq", shape[0]);
	json_decref(js);
	free(cfg);
	nys_st_free(st);
	return ok;
}

/* After a checkpoint of step `step` (just written, so known good): drop the
 * stop checkpoints it supersedes and, with keep N, the epoch checkpoints
 * older than the newest N that load.  Files that do not load are neither
 * counted nor removed: one newer than `step` is a damaged or foreign file
 * that resume skipped, left for the user to look at. */
static void prune(const nys_ckpt *c, uint64_t step)
{
	size_t n;
	ckpt *v = list_checkpoints(c, &n);
	unsigned kept = 0;
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(v[i].path, '/') + 1;
		bool is_stop = !strncmp(base, "stop-", 5);
		if (is_stop) {
			if (v[i].step < step || (v[i].step == step && step % c->per_epoch == 0))
				unlink(v[i].path);
			continue;
		}
		if (!c->keep || v[i].step > step)
			continue;
		if (kept < c->keep) {
			if (v[i].step == step || ckpt_loads(c, &v[i]))
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

int nys_ckpt_save(nys_ckpt *c, nys_err *e)
{
	char path[4096];
	uint64_t bpe = c->per_epoch, step = c->loop->step;
	if (step % bpe == 0) {
		unsigned long long ep = step / bpe - 1;
		snprintf(path, sizeof path, "%s/cp-%04llu.model", c->dir, ep);
		const char *meta[] = {c->tokenizer ? NYS_TOKENIZER_META : NULL, c->tokenizer, NULL};
		if (nys_model_save(c->loop->m, path, meta, e))
			return -1;
		snprintf(path, sizeof path, "%s/cp-%04llu.cp", c->dir, ep);
	} else {
		snprintf(path, sizeof path, "%s/stop-%08llu.cp", c->dir, (unsigned long long)step);
	}
	if (write_checkpoint(c, path, true, e))
		return -1;
	nys_info_say(&c->info, "checkpoint %s", path);
	prune(c, step);
	return 0;
}

int nys_ckpt_trim_log(const char *path, uint64_t step, bool *validated, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in) {
		if (errno == ENOENT) {
			e->msg[0] = 0;
			return 0;
		}
		return -1;
	}
	nys_out *out = nys_out_open(path, 0, e);
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
		bool keep = valid ? k <= step : k < step;
		if (valid && k == step)
			*validated = true;
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

long long nys_ckpt_epoch_of(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t len = strlen(b);
	if (len < 13 || strncmp(b, "cp-", 3) || strcmp(b + len - 6, ".model") ||
	    strspn(b + 3, "0123456789") != len - 9 || len - 9 > 18)
		return -1;
	return strtoll(b + 3, NULL, 10);
}

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int nys_ckpt_epochs(const char *dir, uint64_t **epochs, size_t *n, nys_err *e)
{
	*epochs = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "%s", dir);
	uint64_t *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		long long k = nys_ckpt_epoch_of(de->d_name);
		if (k < 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			uint64_t *nv = realloc(v, cap * sizeof *nv);
			if (!nv) {
				rc = nys_err_set(e, "out of memory");
				break;
			}
			v = nv;
		}
		v[(*n)++] = (uint64_t)k;
	}
	closedir(d);
	if (rc) {
		free(v);
		*n = 0;
		return -1;
	}
	if (v)
		qsort(v, *n, sizeof *v, by_u64);
	*epochs = v;
	return 0;
}
