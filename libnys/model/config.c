/* Model configuration (see nys_config.h): the original config.json read
 * with jansson, every "model" key checked, and transformers'
 * NystromformerConfig written from it. */
#include "nys_config.h"
#include "nys_json.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define INT_MAX_KEY 2147483647LL /* largest value of an integer key */

/* ---- messages ---------------------------------------------------------- */

typedef struct ctx {
	const char *name;           /* the file, for messages */
	nys_config_warn_fn *warn;
	void *warn_ctx;
	nys_err *e;
} ctx;

static void warn(const ctx *c, const char *fmt, ...) NYS_PRINTF(2, 3);
static void warn(const ctx *c, const char *fmt, ...)
{
	char msg[1024];
	int k = snprintf(msg, sizeof msg, "%s: ", c->name);
	if (k < 0 || (size_t)k >= sizeof msg)
		k = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
	va_end(ap);
	if (c->warn)
		c->warn(c->warn_ctx, msg);
	else
		nys_warnx("%s", msg);
}

static int fail(const ctx *c, const char *fmt, ...) NYS_PRINTF(2, 3);
static int fail(const ctx *c, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nys_err_set(c->e, "%s: %s", c->name, msg);
}

/* A JSON value as it would appear in the file, shortened for a message. */
static void show(const json_t *v, char *out, size_t n)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s) {
		snprintf(out, n, "(a value)");
		return;
	}
	if (strlen(s) > 60)
		snprintf(out, n, "%.57s...", s);
	else
		snprintf(out, n, "%s", s);
	free(s);
}

/* ---- typed keys -------------------------------------------------------- */

/* Each getter: 0 = read, 1 = absent, -1 = refused (c->e set). */

/* The largest value of each integer key.  Far above any model that fits
 * a machine, low enough that no size the model computes from them can
 * overflow 64 bits (see check_sizes): a 2^24 vocabulary, 2^20 positions,
 * widths of 2^18, 2^12 layers and heads. */
static const struct {
	const char *key;
	uint32_t max;
} key_max[] = {
	{"vocab_size", NYS_MAX_VOCAB},          {"num_sen_type", 1u << 16},
	{"max_seq_len", 1u << 20},         {"embedding_dim", 1u << 18},
	{"transformer_dim", 1u << 18},     {"transformer_hidden_dim", 1u << 18},
	{"num_layers", 1u << 12},          {"num_head", 1u << 12},
	{"head_dim", 1u << 16},            {"num_landmarks", 1u << 12},
	{"seq_len", 1u << 20},             {"conv_kernel_size", 1u << 12},
	{"inv_iterations", 64},
};

static uint32_t max_of(const char *key)
{
	for (size_t i = 0; i < sizeof key_max / sizeof *key_max; i++)
		if (strcmp(key, key_max[i].key) == 0)
			return key_max[i].max;
	return (uint32_t)INT_MAX_KEY;
}

static int get_uint(const ctx *c, const json_t *o, const char *key,
                    uint32_t *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 1;
	char got[80];
	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		show(v, got, sizeof got);
		return fail(c, "model.%s: expected a positive integer, got %s",
		            key, got);
	}
	json_int_t x = json_integer_value(v);
	uint32_t hi = max_of(key);
	if (x > (json_int_t)hi)
		return fail(c, "model.%s: %lld is too large (at most %u)", key,
		            (long long)x, hi);
	*out = (uint32_t)x;
	return 0;
}

static int get_bool(const ctx *c, const json_t *o, const char *key, bool *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 1;
	if (!json_is_boolean(v)) {
		char got[80];
		show(v, got, sizeof got);
		return fail(c, "model.%s: expected true or false, got %s", key, got);
	}
	*out = json_is_true(v);
	return 0;
}

/* A string among names[0..n): its index in *out. */
static int get_enum(const ctx *c, const json_t *o, const char *key,
                    const char *const *names, int n, int *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 1;
	if (json_is_string(v))
		for (int i = 0; i < n; i++)
			if (strcmp(json_string_value(v), names[i]) == 0) {
				*out = i;
				return 0;
			}
	char want[200] = "", got[80];
	size_t k = 0;
	for (int i = 0; i < n && k < sizeof want; i++)
		k += (size_t)snprintf(want + k, sizeof want - k, "%s\"%s\"",
		                      i == 0 ? "" : i == n - 1 ? " or " : ", ",
		                      names[i]);
	show(v, got, sizeof got);
	return fail(c, "model.%s: expected %s, got %s", key, want, got);
}

/* The inverse's initial coefficient: "original" / "new", or false / true. */
static int get_inv_init(const ctx *c, const json_t *o, const char *key,
                        nys_inv_init *out)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 1;
	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? NYS_INV_INIT_NEW : NYS_INV_INIT_ORIGINAL;
		return 0;
	}
	static const char *const names[] = {"original", "new"};
	int i;
	if (get_enum(c, o, key, names, 2, &i))
		return -1;
	*out = (nys_inv_init)i;
	return 0;
}

static const char *const model_keys[] = {
	"vocab_size", "num_sen_type", "max_seq_len", "embedding_dim",
	"transformer_dim", "transformer_hidden_dim", "num_layers",
	"dropout_prob", "num_head", "head_dim", "attn_type", "num_landmarks",
	"seq_len", "conv_kernel_size", "mixed_precision",
	"attention_grad_checkpointing", "gelu_grad_checkpointing",
	"inv_coeff_init_option", "inv_init_coeff_option",
	/* ours */
	"inv_iterations", "landmarks_skip_padding", "head_gelu",
};

/* Keys that only Nystrom attention reads. */
static const char *const nystrom_keys[] = {
	"num_landmarks", "seq_len", "conv_kernel_size", "inv_coeff_init_option",
	"inv_init_coeff_option", "inv_iterations", "landmarks_skip_padding",
};

static bool in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* ---- the model section ------------------------------------------------- */

static int check_nystrom(const ctx *c, nys_model_config *m)
{
	uint32_t L = m->num_landmarks, S = m->seq_len;
	/* The published nystrom-512 has num_landmarks 512 and seq_len 64:
	 * taken as swapped when the exchanged pair is a valid one. */
	if (L > S && L <= m->max_seq_len && L % S == 0) {
		warn(c, "model.num_landmarks (%u) is more than model.seq_len (%u): "
		     "assuming the two are swapped, as in the published "
		     "nystrom-512 config; using num_landmarks %u, seq_len %u",
		     L, S, S, L);
		m->num_landmarks = S;
		m->seq_len = L;
		m->swapped_landmarks = true;
		L = m->num_landmarks;
		S = m->seq_len;
	}
	if (L > S)
		return fail(c, "model.num_landmarks: %u is more than model.seq_len "
		            "(%u)", L, S);
	if (S > m->max_seq_len)
		return fail(c, "model.seq_len: %u is more than model.max_seq_len "
		            "(%u)", S, m->max_seq_len);
	if (m->conv_kernel_size && m->conv_kernel_size % 2 == 0)
		return fail(c, "model.conv_kernel_size: expected an odd number (an "
		            "even kernel changes the sequence length), got %u",
		            m->conv_kernel_size);
	if (S < m->max_seq_len)
		warn(c, "model.seq_len: %u is less than model.max_seq_len (%u): "
		     "Nystrom attention takes sequences of exactly seq_len tokens",
		     S, m->max_seq_len);
	return 0;
}

bool nys_config_uses_landmarks(const nys_model_config *m)
{
	return m->attn_type == NYS_ATTN_NYSTROM && m->num_landmarks != m->seq_len;
}

static int parse_model(const ctx *c, const json_t *o, nys_model_config *m)
{
	memset(m, 0, sizeof *m);
	m->inv_iterations = NYS_INV_ITERATIONS_DEFAULT;

	if (!json_is_object(o)) {
		char got[80];
		show(o, got, sizeof got);
		return fail(c, "model: expected an object, got %s", got);
	}

	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)(uintptr_t)o, key, v)
		if (!in_list(key, model_keys, NELEM(model_keys)))
			warn(c, "model.%s: unknown key, ignored", key);

	static const struct {
		const char *key;
		size_t off;
	} required[] = {
#define U(k) {#k, offsetof(nys_model_config, k)}
		U(vocab_size), U(num_sen_type), U(max_seq_len), U(embedding_dim),
		U(transformer_dim), U(transformer_hidden_dim), U(num_layers),
		U(num_head), U(head_dim),
#undef U
	};
	for (size_t i = 0; i < NELEM(required); i++) {
		uint32_t *p = (uint32_t *)(void *)((char *)m + required[i].off);
		int r = get_uint(c, o, required[i].key, p);
		if (r < 0)
			return -1;
		if (r)
			return fail(c, "model.%s: missing", required[i].key);
	}

	/* The attention width: every per-key limit holds, but not their
	 * product (the tester's num_head 59223231 x head_dim 1202618447). */
	uint64_t A = (uint64_t)m->num_head * m->head_dim;
	if (A > NYS_MAX_ATTN_WIDTH)
		return fail(c, "model.num_head x model.head_dim: %u x %u = %llu is "
		            "too large (at most %u)", m->num_head, m->head_dim,
		            (unsigned long long)A, NYS_MAX_ATTN_WIDTH);

	v = json_object_get(o, "dropout_prob");
	if (!v)
		return fail(c, "model.dropout_prob: missing");
	if (!json_is_number(v) || !(json_number_value(v) >= 0) ||
	    !(json_number_value(v) < 1)) {
		char got[80];
		show(v, got, sizeof got);
		return fail(c, "model.dropout_prob: expected a number in [0, 1), "
		            "got %s", got);
	}
	m->dropout_prob = json_number_value(v);

	static const char *const attn_names[] = {"softmax", "nystrom"};
	int attn = 0;
	int r = get_enum(c, o, "attn_type", attn_names, 2, &attn);
	if (r < 0)
		return -1;
	if (r)
		return fail(c, "model.attn_type: missing");
	m->attn_type = (nys_attn_type)attn;

	if (get_bool(c, o, "mixed_precision", &m->mixed_precision) < 0 ||
	    get_bool(c, o, "attention_grad_checkpointing",
	             &m->attention_grad_checkpointing) < 0 ||
	    get_bool(c, o, "gelu_grad_checkpointing",
	             &m->gelu_grad_checkpointing) < 0)
		return -1;

	static const char *const gelu_names[] = {"tanh", "erf"};
	int gelu = NYS_GELU_TANH;
	if (get_enum(c, o, "head_gelu", gelu_names, 2, &gelu) < 0)
		return -1;
	m->head_gelu = (nys_gelu)gelu;

	/* Nystrom keys: type-checked whatever the attention. */
	int have_l = get_uint(c, o, "num_landmarks", &m->num_landmarks);
	int have_s = have_l < 0 ? -1 : get_uint(c, o, "seq_len", &m->seq_len);
	if (have_l < 0 || have_s < 0)
		return -1;
	v = json_object_get(o, "conv_kernel_size");
	if (v && !json_is_null(v) &&
	    get_uint(c, o, "conv_kernel_size", &m->conv_kernel_size) < 0)
		return -1;
	nys_inv_init a = NYS_INV_INIT_ORIGINAL, b = NYS_INV_INIT_ORIGINAL;
	int have_a = get_inv_init(c, o, "inv_coeff_init_option", &a);
	if (have_a < 0)
		return -1;
	int have_b = get_inv_init(c, o, "inv_init_coeff_option", &b);
	if (have_b < 0)
		return -1;
	if (!have_a && !have_b && a != b)
		return fail(c, "model.inv_init_coeff_option: \"%s\" contradicts "
		            "model.inv_coeff_init_option (\"%s\")",
		            b == NYS_INV_INIT_NEW ? "new" : "original",
		            a == NYS_INV_INIT_NEW ? "new" : "original");
	m->inv_init = !have_b ? b : a;
	if (get_uint(c, o, "inv_iterations", &m->inv_iterations) < 0 ||
	    get_bool(c, o, "landmarks_skip_padding",
	             &m->landmarks_skip_padding) < 0)
		return -1;

	if (m->attn_type == NYS_ATTN_SOFTMAX) {
		for (size_t i = 0; i < NELEM(nystrom_keys); i++)
			if (json_object_get(o, nystrom_keys[i]))
				warn(c, "model.%s: ignored with attn_type \"softmax\"",
				     nystrom_keys[i]);
		m->num_landmarks = m->seq_len = m->conv_kernel_size = 0;
		m->inv_init = NYS_INV_INIT_ORIGINAL;
		m->inv_iterations = NYS_INV_ITERATIONS_DEFAULT;
		m->landmarks_skip_padding = false;
		return 0;
	}
	if (have_l)
		return fail(c, "model.num_landmarks: missing (attn_type "
		            "\"nystrom\" needs it)");
	if (have_s)
		return fail(c, "model.seq_len: missing (attn_type \"nystrom\" "
		            "needs it)");
	return check_nystrom(c, m);
}

int nys_model_config_from_json(const json_t *model, const char *name,
                               nys_model_config *m, nys_config_warn_fn *warnf,
                               void *wctx, nys_err *e)
{
	ctx c = {name ? name : "config", warnf, wctx, e};
	return parse_model(&c, model, m);
}

/* ---- the file ---------------------------------------------------------- */

nys_config *nys_config_load(const char *path, nys_config_warn_fn *warnf,
                            void *wctx, nys_err *e)
{
	nys_config *cf = NULL;
	const char *shown = !path || !strcmp(path, "-") ? "(stdin)" : path;
	char *name = strdup(shown);
	if (!name) {
		nys_err_set(e, "%s: out of memory", shown);
		return NULL;
	}
	json_t *root = nys_json_load(path, JSON_REJECT_DUPLICATES, e);
	if (!root)
		goto out;
	ctx c = {name, warnf, wctx, e};
	if (!json_is_object(root)) {
		fail(&c, "expected a JSON object at the top");
		json_decref(root);
		goto out;
	}
	const json_t *model = json_object_get(root, "model");
	nys_model_config m;
	if (!model) {
		fail(&c, "model: missing (the section that describes the network)");
		json_decref(root);
		goto out;
	}
	if (parse_model(&c, model, &m)) {
		json_decref(root);
		goto out;
	}
	cf = malloc(sizeof *cf);
	if (!cf) {
		nys_err_set(e, "%s: out of memory", name);
		json_decref(root);
		goto out;
	}
	cf->name = name;
	name = NULL;
	cf->root = root;
	cf->model = m;
out:
	free(name);
	return cf;
}

void nys_config_free(nys_config *c)
{
	if (!c)
		return;
	json_decref(c->root);
	free(c->name);
	free(c);
}

/* ---- writing ----------------------------------------------------------- */

/* Set o[key] = v, taking v; false when memory ran out (v freed). */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* The keys every model config writes, in the published files' order:
 * booleans, whole numbers (uint32_t) and the dropout (double). */
#define KEY(k, t) {#k, t, offsetof(nys_model_config, k)}
static const struct {
	const char *key;
	char type; /* 'b', 'u' or 'd' */
	size_t at;
} always_keys[] = {
	KEY(mixed_precision, 'b'), KEY(attention_grad_checkpointing, 'b'),
	KEY(gelu_grad_checkpointing, 'b'), KEY(vocab_size, 'u'), KEY(num_sen_type, 'u'),
	KEY(max_seq_len, 'u'), KEY(embedding_dim, 'u'), KEY(transformer_dim, 'u'),
	KEY(transformer_hidden_dim, 'u'), KEY(num_layers, 'u'), KEY(dropout_prob, 'd'),
	KEY(num_head, 'u'), KEY(head_dim, 'u'),
};
#undef KEY

json_t *nys_model_config_to_json(const nys_model_config *m)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool ok = true;
	for (size_t i = 0; ok && i < sizeof always_keys / sizeof *always_keys; i++) {
		const char *p = (const char *)m + always_keys[i].at;
		json_t *v = always_keys[i].type == 'b' ? json_boolean(*(const bool *)p)
		            : always_keys[i].type == 'd' ? json_real(*(const double *)p)
		            : json_integer(*(const uint32_t *)p);
		ok = put(o, always_keys[i].key, v);
	}
	ok = ok && put(o, "attn_type", json_string(m->attn_type == NYS_ATTN_NYSTROM ?
	                                           "nystrom" : "softmax"));
	if (ok && m->attn_type == NYS_ATTN_NYSTROM) {
		ok = put(o, "num_landmarks", json_integer(m->num_landmarks)) &&
			put(o, "seq_len", json_integer(m->seq_len));
		if (ok && m->conv_kernel_size)
			ok = put(o, "conv_kernel_size",
			         json_integer(m->conv_kernel_size));
		/* Both spellings, so that the original code reads it too. */
		if (ok && m->inv_init == NYS_INV_INIT_NEW)
			ok = put(o, "inv_coeff_init_option", json_string("new")) &&
				put(o, "inv_init_coeff_option", json_string("new"));
		if (ok && m->inv_iterations != NYS_INV_ITERATIONS_DEFAULT)
			ok = put(o, "inv_iterations", json_integer(m->inv_iterations));
		if (ok && m->landmarks_skip_padding)
			ok = put(o, "landmarks_skip_padding", json_true());
	}
	if (ok && m->head_gelu == NYS_GELU_ERF)
		ok = put(o, "head_gelu", json_string("erf"));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *nys_config_hf_json(const nys_model_config *m, const nys_hf_ids *ids,
                           nys_err *e)
{
	static const nys_hf_ids def = {0, 2, 3};
	if (!ids)
		ids = &def;
	const char *pre = "HuggingFace NystromformerConfig";
	if (m->embedding_dim != m->transformer_dim)
		return nys_err_set(e, "%s: model.embedding_dim (%u) differs from "
		                   "model.transformer_dim (%u); transformers has no "
		                   "embedding projection", pre, m->embedding_dim,
		                   m->transformer_dim), NULL;
	if ((uint64_t)m->num_head * m->head_dim != m->transformer_dim)
		return nys_err_set(e, "%s: model.num_head * model.head_dim (%u * %u) "
		                   "differs from model.transformer_dim (%u); "
		                   "transformers derives the head size from it",
		                   pre, m->num_head, m->head_dim,
		                   m->transformer_dim), NULL;
	if (m->head_gelu != NYS_GELU_TANH)
		return nys_err_set(e, "%s: model.head_gelu \"erf\": transformers "
		                   "uses hidden_act (\"gelu_new\") in the MLM head "
		                   "too", pre), NULL;
	bool nys = m->attn_type == NYS_ATTN_NYSTROM;
	if (nys && m->inv_init != NYS_INV_INIT_ORIGINAL)
		return nys_err_set(e, "%s: model.inv_coeff_init_option \"new\": "
		                   "transformers only runs the original "
		                   "initialisation", pre), NULL;
	if (nys && m->inv_iterations != NYS_INV_ITERATIONS_DEFAULT)
		return nys_err_set(e, "%s: model.inv_iterations %u: transformers "
		                   "always iterates %u times", pre,
		                   m->inv_iterations, NYS_INV_ITERATIONS_DEFAULT),
		       NULL;
	if (nys && m->landmarks_skip_padding)
		return nys_err_set(e, "%s: model.landmarks_skip_padding: "
		                   "transformers has no such option", pre), NULL;
	if (nys && m->seq_len % m->num_landmarks)
		return nys_err_set(e, "%s: model.num_landmarks %u does not divide "
		                   "model.seq_len %u: transformers only takes equal "
		                   "segments", pre, m->num_landmarks, m->seq_len), NULL;

	uint32_t seg = nys ? m->seq_len : m->max_seq_len;
	uint32_t lm = nys ? m->num_landmarks : m->max_seq_len;
	json_t *o = json_object();
	bool ok = o && put(o, "architectures",
	                   json_pack("[s]", "NystromformerForMaskedLM")) &&
		put(o, "model_type", json_string("nystromformer")) &&
		put(o, "vocab_size", json_integer(m->vocab_size)) &&
		put(o, "hidden_size", json_integer(m->transformer_dim)) &&
		put(o, "num_hidden_layers", json_integer(m->num_layers)) &&
		put(o, "num_attention_heads", json_integer(m->num_head)) &&
		put(o, "intermediate_size", json_integer(m->transformer_hidden_dim)) &&
		put(o, "hidden_act", json_string("gelu_new")) &&
		put(o, "hidden_dropout_prob", json_real(m->dropout_prob)) &&
		put(o, "attention_probs_dropout_prob", json_real(m->dropout_prob)) &&
		put(o, "max_position_embeddings", json_integer(m->max_seq_len)) &&
		put(o, "type_vocab_size", json_integer(m->num_sen_type)) &&
		put(o, "segment_means_seq_len", json_integer(seg)) &&
		put(o, "num_landmarks", json_integer(lm)) &&
		put(o, "conv_kernel_size", nys && m->conv_kernel_size ?
		    json_integer(m->conv_kernel_size) : json_null()) &&
		put(o, "inv_coeff_init_option", json_false()) &&
		put(o, "initializer_range", json_real(0.02)) &&
		put(o, "layer_norm_eps", json_real(1e-5)) &&
		put(o, "pad_token_id", json_integer(ids->pad)) &&
		put(o, "bos_token_id", json_integer(ids->bos)) &&
		put(o, "eos_token_id", json_integer(ids->eos)) &&
		put(o, "tie_word_embeddings", json_true()) &&
		put(o, "torch_dtype", json_string("float32"));
	if (!ok) {
		json_decref(o);
		nys_err_set(e, "%s: out of memory", pre);
		return NULL;
	}
	return o;
}

/* The fewest significant digits (1-17) that read back as x. */
static int real_digits(double x)
{
	char s[40];
	for (int p = 1; p < 17; p++) {
		snprintf(s, sizeof s, "%.*g", p, x);
		if (strtod(s, NULL) == x)
			return p;
	}
	return 17;
}

/* The digits the reals anywhere in v need (at least 1). */
static int json_digits(json_t *v)
{
	int p = 1, q;
	if (json_is_real(v))
		return real_digits(json_real_value(v));
	const char *key;
	json_t *x;
	size_t i;
	if (json_is_object(v))
		json_object_foreach(v, key, x)
			if ((q = json_digits(x)) > p)
				p = q;
	if (json_is_array(v))
		json_array_foreach(v, i, x)
			if ((q = json_digits(x)) > p)
				p = q;
	return p;
}

int nys_config_write_json(json_t *o, const char *path, nys_err *e)
{
	/* Reals as short as they round-trip: 0.1, not 0.10000000000000001. */
	int prec = json_digits(o);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(prec));
	if (!s)
		return nys_err_set(e, "%s: out of memory", path);
	nys_out *out = nys_out_open(path, 0, e);
	int rc = out ? 0 : -1;
	if (!rc && (nys_out_puts(out, s, e) || nys_out_puts(out, "\n", e))) {
		nys_out_abort(out);
		rc = -1;
	} else if (!rc) {
		rc = nys_out_commit(out, e);
	}
	free(s);
	return rc;
}

int nys_config_write_hf(const nys_model_config *m, const nys_hf_ids *ids,
                        const char *path, nys_err *e)
{
	json_t *o = nys_config_hf_json(m, ids, e);
	if (!o)
		return -1;
	int rc = nys_config_write_json(o, path, e);
	json_decref(o);
	return rc;
}
