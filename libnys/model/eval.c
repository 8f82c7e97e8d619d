/* nys-eval's forward over id lines, into a .npy array (nys_eval.h). */
#include "nys_eval.h"
#include "nys_npy.h"

#include <stdlib.h>
#include <string.h>

uint32_t nys_eval_fixed_length(const nys_model_config *c)
{
	return c->attn_type == NYS_ATTN_NYSTROM && c->num_landmarks != c->seq_len ? c->seq_len : 0;
}

bool nys_eval_batch_coupled(const nys_model_config *c)
{
	return c->attn_type == NYS_ATTN_NYSTROM && c->num_landmarks != c->seq_len &&
	       c->inv_init == NYS_INV_INIT_ORIGINAL;
}

int nys_eval_default_batch(const nys_model_config *c, uint32_t T, bool logits)
{
	size_t tokens = 4096;
	/* the head keeps logits and probabilities: 8 bytes a position and piece */
	size_t head = ((size_t)256 << 20) / (8 * (size_t)(c->vocab_size ? c->vocab_size : 1));
	if (logits && head < tokens)
		tokens = head;
	size_t b = tokens / (T ? T : 1);
	return b < 1 ? 1 : b > 64 ? 64 : (int)b;
}

int nys_eval_forward(nys_model *m, const nys_idlines *l, const nys_eval_opts *o, nys_out *out,
                     nys_err *e)
{
	const nys_model_config *c = nys_model_cfg(m);
	const nys_model_opts *mo = nys_model_options(m);
	if (mo->dtype != NYS_F32)
		return nys_err_set(e, "eval: the model must be float32");
	if (o->which != NYS_OUT_HIDDEN && o->which != NYS_OUT_LOGITS)
		return nys_err_set(e, "eval: only hidden states or MLM logits");
	if (o->which == NYS_OUT_LOGITS && !mo->mlm)
		return nys_err_set(e, "eval: logits need a model with the masked-LM head");
	if (o->T < 1 || l->longest > o->T)
		return nys_err_set(e, "eval: a sequence of %zu token ids does not fit the length %u",
		                   l->longest, o->T);
	size_t T = o->T, n = l->n;
	size_t width = o->which == NYS_OUT_HIDDEN ? c->transformer_dim : c->vocab_size;
	size_t B = nys_eval_batch_coupled(c) || o->batch < 1 ? 1 : (size_t)o->batch;
	if (B > n)
		B = n;
	int32_t *ids = malloc(B * T * sizeof *ids);
	float *mask = malloc(B * T * sizeof *mask);
	float *y = malloc(B * T * width * sizeof *y);
	int rc = 0;
	if (!ids || !mask || !y)
		rc = nys_err_set(e, "eval: out of memory for a batch of %zu x %zu", B, T);
	uint64_t shape[3] = {n, T, width};
	if (!rc)
		rc = nys_npy_write_f32_header(out, 3, shape, e);
	for (size_t s = 0; !rc && s < n; s += B) {
		size_t b = n - s < B ? n - s : B;
		for (size_t i = 0; i < b; i++) {
			const int32_t *src = l->ids + l->start[s + i];
			size_t len = l->start[s + i + 1] - l->start[s + i];
			/* pad with id 0 (<pad> in our sentencepiece models), masked */
			for (size_t t = 0; t < T; t++) {
				ids[i * T + t] = t < len ? src[t] : 0;
				mask[i * T + t] = t < len ? 1.0f : 0.0f;
			}
		}
		nys_batch batch = {.B = (int)b, .T = (int)T, .ids = ids, .mask = mask};
		if (nys_model_forward(m, &batch, false, 0, NULL, e)) {
			rc = -1;
			break;
		}
		size_t got = nys_model_output_size(m, o->which);
		if (got != b * T * width) {
			rc = nys_err_set(e, "eval: the model gave %zu outputs for %zu x %zu x %zu", got, b,
			                 T, width);
			break;
		}
		rc = nys_model_output(m, o->which, y, e) || nys_npy_write_f32(out, y, got, e) ? -1 : 0;
	}
	free(y);
	free(ids);
	free(mask);
	return rc;
}

/* Config warnings while reading a checkpoint's metadata: not ours to print. */
static void ignore_warning(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

/* Keys that do not change a forward in eval mode. */
static bool eval_irrelevant(const char *key)
{
	static const char *const keys[] = {
		"dropout_prob", "mixed_precision", "attention_grad_checkpointing",
		"gelu_grad_checkpointing",
	};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* Append key to diff (comma-separated, cut short when full). */
static void add_key(char *diff, size_t n, const char *key)
{
	size_t used = strlen(diff);
	if (used + 1 < n)
		snprintf(diff + used, n - used, "%s%s", used ? ", " : "", key);
}

uint32_t nys_eval_saved_vocab(const nys_st *st)
{
	const char *s = nys_st_meta(st, "nys_model");
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	json_int_t v = json_integer_value(json_object_get(j, "vocab_size"));
	json_decref(j);
	return v > 0 && v <= NYS_MAX_VOCAB ? (uint32_t)v : 0;
}

int nys_eval_config_diff(const nys_st *st, const char *name, const nys_model_config *c,
                         char *diff, size_t n, nys_err *e)
{
	if (n)
		diff[0] = 0;
	const char *s = nys_st_meta(st, "nys_model");
	if (!s)
		return 0;
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		return nys_err_set(e, "%s: metadata nys_model: %s", name, je.text);
	nys_model_config saved;
	char what[1200];
	snprintf(what, sizeof what, "%s: metadata nys_model", name);
	int rc = nys_model_config_from_json(j, what, &saved, ignore_warning, NULL, e);
	json_decref(j);
	if (rc)
		return -1;
	json_t *a = nys_model_config_to_json(&saved), *b = nys_model_config_to_json(c);
	int differ = 0;
	if (!a || !b) {
		differ = nys_err_set(e, "out of memory");
	} else {
		const char *key;
		json_t *v;
		json_object_foreach(a, key, v)
			if (!eval_irrelevant(key) && !json_equal(v, json_object_get(b, key))) {
				add_key(diff, n, key);
				differ = 1;
			}
		json_object_foreach(b, key, v)
			if (!eval_irrelevant(key) && !json_object_get(a, key)) {
				add_key(diff, n, key);
				differ = 1;
			}
	}
	json_decref(a);
	json_decref(b);
	return differ;
}
