/* Training settings from config.json (nys_settings.h): one number getter
 * behind the integer and real ones, paths relative to the config, and
 * pretraining's sections. */
#include "nys_settings.h"

#include <stdlib.h>
#include <string.h>

/* The one number getter: obj.key in [lo, hi], as an integer (exact, in
 * *u) or as any number (in *x).  An integer key may be null for absent. */
static int get_number(const json_t *obj, const char *file, const char *sec, const char *key,
                      bool integer, bool required, uint64_t ulo, uint64_t uhi, uint64_t udflt,
                      double lo, double hi, uint64_t *u, double *x, nys_err *e)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (!v || (integer && json_is_null(v))) {
		if (required)
			return nys_err_set(e, "%s: %s.%s: missing", file, sec, key);
		*u = udflt;
		return 0;
	}
	if (integer) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) < ulo || (uint64_t)json_integer_value(v) > uhi)
			return nys_err_set(e, "%s: %s.%s: expected an integer in %llu..%llu", file, sec,
			                   key, (unsigned long long)ulo, (unsigned long long)uhi);
		*u = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return nys_err_set(e, "%s: %s.%s: expected a number in [%g, %g]", file, sec, key, lo,
		                   hi);
	*x = json_number_value(v);
	return 0;
}

int nys_settings_uint(const json_t *obj, const char *file, const char *sec, const char *key,
                      uint64_t lo, uint64_t hi, bool required, uint64_t dflt, uint64_t *out,
                      nys_err *e)
{
	double unused;
	return get_number(obj, file, sec, key, true, required, lo, hi, dflt, 0, 0, out, &unused,
	                  e);
}

int nys_settings_real(const json_t *obj, const char *file, const char *sec, const char *key,
                      double lo, double hi, double *out, nys_err *e)
{
	uint64_t unused;
	return get_number(obj, file, sec, key, false, true, 0, 0, 0, lo, hi, &unused, out, e);
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

int nys_settings_path(const nys_config *cfg, const char *key, const char *override,
                      const char *dflt, char **out, nys_err *e)
{
	const char *file = cfg->name;
	if (override) {
		*out = strdup(override);
	} else {
		const json_t *v = json_object_get(cfg->root, key);
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

/* An id key of pretraining_setting: 0..INT32_MAX. */
static int get_id(const json_t *ps, const char *f, const char *key, uint64_t dflt, int32_t *out,
                  nys_err *e)
{
	uint64_t u;
	if (nys_settings_uint(ps, f, "pretraining_setting", key, 0, INT32_MAX, false, dflt, &u, e))
		return -1;
	*out = (int32_t)u;
	return 0;
}

int nys_pretrain_settings_read(nys_pretrain_settings *s, const nys_config *cfg,
                               const nys_train_opts *o, nys_err *e)
{
	const json_t *root = cfg->root, *ps = json_object_get(root, "pretraining_setting");
	const json_t *gs = json_object_get(root, "gpu_setting");
	const char *f = cfg->name, *P = "pretraining_setting";
	if (!json_is_object(ps))
		return nys_err_set(e, "%s: pretraining_setting: missing (an object)", f);
	if (nys_settings_uint(ps, f, P, "batch_size", 1, 1 << 20, true, 0, &s->batch_size, e) ||
	    nys_settings_real(ps, f, P, "learning_rate", 0, 1e3, &s->learning_rate, e) ||
	    nys_settings_real(ps, f, P, "warmup", 0, 1, &s->warmup, e) ||
	    nys_settings_uint(ps, f, P, "batches_per_report", 1, UINT32_MAX, false, 10,
	                      &s->batches_per_report, e) ||
	    nys_settings_uint(ps, f, P, "batches_per_epoch", 1, UINT32_MAX, true, 0,
	                      &s->batches_per_epoch, e) ||
	    nys_settings_uint(ps, f, P, "epoch", 1, 1 << 20, true, 0, &s->epochs, e) ||
	    nys_settings_uint(ps, f, P, "validate_batches_per_epoch", 0, UINT32_MAX, false, 0,
	                      &s->validate_batches, e) ||
	    nys_settings_uint(ps, f, P, "seed", 0, UINT64_MAX, false, 0, &s->seed, e))
		return -1;
	if (gs && !json_is_object(gs))
		return nys_err_set(e, "%s: gpu_setting: expected an object", f);
	if (nys_settings_uint(gs, f, "gpu_setting", "inst_per_gpu", 1, 1 << 20, false,
	                      s->batch_size, &s->inst_per_gpu, e))
		return -1;
	if (s->inst_per_gpu > s->batch_size)
		s->inst_per_gpu = s->batch_size;
	if (get_id(ps, f, "pad_id", 0, &s->pad_id, e) || get_id(ps, f, "unk_id", 1, &s->unk_id, e) ||
	    get_id(ps, f, "mask_id", 4, &s->mask_id, e))
		return -1;
	if (o->seed_set)
		s->seed = o->seed;
	s->total_steps = s->epochs * s->batches_per_epoch;
	if (nys_settings_path(cfg, "data_folder", o->data, NULL, &s->data, e) ||
	    nys_settings_path(cfg, "model_checkpoints", o->checkpoints, "model_checkpoints",
	                      &s->ckpt, e) ||
	    nys_settings_path(cfg, "from_cp", NULL, NULL, &s->from_cp, e))
		return -1;
	if (!s->data)
		return nys_err_set(e, "%s: data_folder: missing (or give --data DIR)", f);
	nys_onecycle_init(&s->sched, s->learning_rate, s->total_steps, s->warmup);
	if (nys_onecycle_check(&s->sched, e)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		return nys_err_set(e, "%s: pretraining_setting: %s", f, msg);
	}
	return 0;
}

void nys_pretrain_settings_free(nys_pretrain_settings *s)
{
	free(s->data);
	free(s->ckpt);
	free(s->from_cp);
	s->data = s->ckpt = s->from_cp = NULL;
}
