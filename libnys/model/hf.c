/* To and from transformers' Nystromformer folders (nys_hf.h): the config
 * mapping both ways, the weights checked or rewritten through the model,
 * and the ALBERT tokenizer files. */
#include "nys_hf.h"
#include "nys_ckpt.h" /* the nys_tokenizer metadata */
#include "nys_json.h"
#include "nys_model.h"
#include "nys_spm.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* transformers' NystromformerConfig defaults, for keys a config.json omits. */
#define HF_CONV_DEFAULT 65

static const char *const hf_mlm = "NystromformerForMaskedLM";
static const char *const hf_cls = "NystromformerForSequenceClassification";

/* hf.key as a positive integer, dflt when absent. */
static int hf_uint(const json_t *hf, const char *name, const char *key, uint64_t dflt,
                   uint64_t *out, nys_err *e)
{
	const json_t *v = json_object_get(hf, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return nys_err_set(e, "%s: %s: expected a positive integer", name, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Whether a JSON value is absent, null, false or the string s. */
static bool absent_or(const json_t *v, const char *s)
{
	return !v || json_is_null(v) || json_is_false(v) ||
	       (json_is_string(v) && !strcmp(json_string_value(v), s));
}

static int num_labels_of(const json_t *hf, const char *name, int *n, nys_err *e)
{
	const json_t *arch = json_object_get(hf, "architectures");
	const char *a = json_string_value(json_array_get(arch, 0));
	*n = 0;
	if (!a || !strcmp(a, hf_mlm))
		return 0;
	if (strcmp(a, hf_cls))
		return nys_err_set(e, "%s: architectures: %s: only %s and %s are taken", name, a,
		                   hf_mlm, hf_cls);
	const json_t *id2 = json_object_get(hf, "id2label");
	uint64_t labels = json_is_object(id2) ? json_object_size(id2) : 2;
	if (!json_is_object(id2) && hf_uint(hf, name, "num_labels", 2, &labels, e))
		return -1;
	const char *pt = json_string_value(json_object_get(hf, "problem_type"));
	if (pt && !strcmp(pt, "multi_label_classification"))
		return nys_err_set(e, "%s: problem_type multi_label_classification: nys's "
		                   "classifier is single-label (or regression)", name);
	if (labels < 1 || labels > 1 << 20)
		return nys_err_set(e, "%s: %" PRIu64 " labels", name, labels);
	*n = (int)labels;
	return 0;
}

int nys_hf_model_config(const json_t *hf, const char *name, nys_model_config *m,
                        int *num_labels, nys_err *e)
{
	if (!json_is_object(hf))
		return nys_err_set(e, "%s: not a JSON object", name);
	const char *type = json_string_value(json_object_get(hf, "model_type"));
	if (!type || strcmp(type, "nystromformer"))
		return nys_err_set(e, "%s: model_type %s: not a Nystromformer", name,
		                   type ? type : "missing");
	const char *act = json_string_value(json_object_get(hf, "hidden_act"));
	if (act && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
		return nys_err_set(e, "%s: hidden_act \"%s\": nys computes the tanh GELU "
		                   "(gelu_new) only", name, act);
	const json_t *eps = json_object_get(hf, "layer_norm_eps");
	if (eps && (!json_is_number(eps) || fabs(json_number_value(eps) - 1e-5) > 1e-12))
		return nys_err_set(e, "%s: layer_norm_eps: nys's LayerNorm epsilon is 1e-5", name);
	if (!absent_or(json_object_get(hf, "inv_coeff_init_option"), "original"))
		return nys_err_set(e, "%s: inv_coeff_init_option: only the original "
		                   "pseudo-inverse initialisation (false) is taken", name);
	const json_t *tie = json_object_get(hf, "tie_word_embeddings");
	if (tie && !json_is_true(tie))
		return nys_err_set(e, "%s: tie_word_embeddings false: nys's decoder is the "
		                   "word embeddings", name);
	const char *pos = json_string_value(json_object_get(hf, "position_embedding_type"));
	if (pos && strcmp(pos, "absolute"))
		return nys_err_set(e, "%s: position_embedding_type \"%s\": only absolute", name,
		                   pos);
	if (num_labels_of(hf, name, num_labels, e))
		return -1;

	uint64_t V, C, L, H, F, P, types, seg, lm;
	if (hf_uint(hf, name, "vocab_size", 30000, &V, e) ||
	    hf_uint(hf, name, "hidden_size", 768, &C, e) ||
	    hf_uint(hf, name, "num_hidden_layers", 12, &L, e) ||
	    hf_uint(hf, name, "num_attention_heads", 12, &H, e) ||
	    hf_uint(hf, name, "intermediate_size", 3072, &F, e) ||
	    hf_uint(hf, name, "max_position_embeddings", 510, &P, e) ||
	    hf_uint(hf, name, "type_vocab_size", 2, &types, e) ||
	    hf_uint(hf, name, "segment_means_seq_len", 64, &seg, e) ||
	    hf_uint(hf, name, "num_landmarks", 64, &lm, e))
		return -1;
	if (C % H)
		return nys_err_set(e, "%s: hidden_size %" PRIu64 " is not a multiple of "
		                   "num_attention_heads %" PRIu64, name, C, H);
	if (lm == seg) {
		/* transformers' exact branch, at any length: nys's too when
		 * num_landmarks == seq_len, which must fit max_seq_len */
		if (seg > P)
			seg = lm = P;
	} else if (seg % lm) {
		return nys_err_set(e, "%s: num_landmarks %" PRIu64 " does not divide "
		                   "segment_means_seq_len %" PRIu64, name, lm, seg);
	}
	const json_t *conv = json_object_get(hf, "conv_kernel_size");
	uint64_t K = HF_CONV_DEFAULT;
	if (json_is_null(conv))
		K = 0; /* transformers 4's "no convolution" */
	else if (hf_uint(hf, name, "conv_kernel_size", HF_CONV_DEFAULT, &K, e))
		return -1;
	double drop = 0.1;
	const json_t *d = json_object_get(hf, "hidden_dropout_prob");
	if (json_is_number(d))
		drop = json_number_value(d);

	json_t *o = json_pack("{sI sI sI sI sI sI sI sI sI sf ss sI sI}", "vocab_size",
	                      (json_int_t)V, "num_sen_type", (json_int_t)types, "max_seq_len",
	                      (json_int_t)P, "embedding_dim", (json_int_t)C, "transformer_dim",
	                      (json_int_t)C, "transformer_hidden_dim", (json_int_t)F, "num_layers",
	                      (json_int_t)L, "num_head", (json_int_t)H, "head_dim",
	                      (json_int_t)(C / H), "dropout_prob", drop, "attn_type", "nystrom",
	                      "num_landmarks", (json_int_t)lm, "seq_len", (json_int_t)seg);
	if (o && K && json_object_set_new(o, "conv_kernel_size", json_integer((json_int_t)K)))
		json_decref(o), o = NULL;
	if (!o)
		return nys_err_set(e, "%s: out of memory", name);
	int rc = nys_model_config_from_json(o, name, m, NULL, NULL, e);
	json_decref(o);
	return rc;
}

/* dir/name, malloc'ed, NULL when memory runs out. */
static char *join(const char *dir, const char *name)
{
	nys_buf b = {0};
	nys_err e;
	if (nys_path_join(&b, dir, name, &e)) {
		nys_buf_free(&b);
		return NULL;
	}
	return b.p;
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* The tokenizer keys for DIR's spiece.model (path absolute): "tokenizer",
 * its fingerprint (16 hex digits, as checkpoints' nys_tokenizer metadata),
 * "tokenizer_model", the path, and "tokenizer_lower", do_lower_case from
 * its tokenizer_config.json (AlbertTokenizer's default, true, without one). */
static int import_tokenizer(json_t *o, const char *dir, const char *spm_path, nys_err *e)
{
	nys_spm *sp = nys_spm_load(spm_path, e);
	if (!sp)
		return -1;
	char fp[17];
	nys_tokenizer_meta(nys_spm_fingerprint(sp), fp);
	nys_spm_free(sp);
	bool lower = true;
	char *tc = join(dir, "tokenizer_config.json");
	if (!tc)
		return nys_err_set(e, "out of memory");
	if (exists(tc)) {
		json_t *t = nys_json_load(tc, 0, e);
		if (!t) {
			free(tc);
			return -1;
		}
		const json_t *v = json_object_get(t, "do_lower_case");
		if (v && !json_is_boolean(v)) {
			nys_err_set(e, "%s: do_lower_case: expected true or false", tc);
			json_decref(t);
			free(tc);
			return -1;
		}
		if (v)
			lower = json_is_true(v);
		json_decref(t);
	}
	free(tc);
	if (json_object_set_new(o, "tokenizer", json_string(fp)) ||
	    json_object_set_new(o, "tokenizer_model", json_string(spm_path)) ||
	    json_object_set_new(o, "tokenizer_lower", json_boolean(lower)))
		return nys_err_set(e, "out of memory");
	return 0;
}

/* The "hf" section: what the folder was, for the record. */
static json_t *import_record(const json_t *hf, const char *dir, int num_labels)
{
	json_t *o = json_pack("{ss ss si}", "from", dir, "architecture",
	                      num_labels ? hf_cls : hf_mlm, "num_labels", num_labels);
	const json_t *id2 = json_object_get(hf, "id2label");
	if (o && num_labels && json_is_object(id2)) {
		json_t *names = json_array();
		char key[24];
		for (int i = 0; names && i < num_labels; i++) {
			snprintf(key, sizeof key, "%d", i);
			const char *s = json_string_value(json_object_get(id2, key));
			json_array_append_new(names, s ? json_string(s) : json_null());
		}
		json_object_set_new(o, "id2label", names ? names : json_null());
	}
	return o;
}

/* The weights load into the model the config describes (by name and
 * shape, as nys_model_load_st checks them). */
static int import_check_weights(const nys_model_config *m, int num_labels, const char *path,
                                nys_err *e)
{
	nys_model_opts mo = {.dtype = NYS_F32, .mlm = !num_labels, .num_labels = num_labels,
	                     .cls_act = NYS_CLS_GELU};
	nys_st *st = nys_st_load(path, e);
	if (!st)
		return -1;
	nys_model *model = nys_model_new(m, &mo, e);
	int rc = model ? nys_model_load_st(model, st, 0, e) : -1;
	if (rc && model) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		nys_err_set(e, "%s: %s", path, msg);
	}
	nys_model_free(model);
	nys_st_free(st);
	return rc;
}

int nys_hf_import(const char *dir, const char *out, nys_err *e)
{
	char *abs = realpath(dir, NULL);
	if (!abs)
		return nys_err_set(e, "%s: %s", dir, strerror(errno));
	char *cfg_path = join(abs, "config.json"), *st_path = join(abs, "model.safetensors");
	char *spm_path = join(abs, "spiece.model");
	json_t *hf = NULL, *o = NULL;
	int rc = -1;
	if (!cfg_path || !st_path || !spm_path) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	if (!(hf = nys_json_load(cfg_path, 0, e)))
		goto out;
	nys_model_config m;
	int labels;
	if (nys_hf_model_config(hf, cfg_path, &m, &labels, e))
		goto out;
	if (!exists(st_path)) {
		nys_err_set(e, "%s: no model.safetensors (a pytorch_model.bin must be converted "
		            "first)", abs);
		goto out;
	}
	if (import_check_weights(&m, labels, st_path, e))
		goto out;
	json_t *model = nys_model_config_to_json(&m);
	o = json_object();
	if (!model || !o || json_object_set_new(o, "model", model) ||
	    json_object_set_new(o, "from_cp", json_string(st_path))) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	if (exists(spm_path)) {
		if (import_tokenizer(o, abs, spm_path, e))
			goto out;
	} else {
		nys_warnx("warning: %s has no spiece.model: the config names no tokenizer, and "
		          "nys-eval glue needs -m MODEL", abs);
	}
	json_t *rec = import_record(hf, abs, labels);
	if (!rec || json_object_set_new(o, "hf", rec)) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	rc = nys_config_write_json(o, out, e);
out:
	json_decref(o);
	json_decref(hf);
	free(spm_path);
	free(st_path);
	free(cfg_path);
	free(abs);
	return rc;
}

/* ---- export ---------------------------------------------------------------- */

/* The classifier's class names: the checkpoint's nys_id2label, or
 * transformers' LABEL_i. */
static int export_labels(const nys_st *st, const char *name, int n, json_t *hf, nys_err *e)
{
	const char *key = NYS_META_ID2LABEL, *s = nys_st_meta(st, key);
	json_t *names = s ? json_loads(s, 0, NULL) : NULL;
	if (!s && (s = nys_st_meta(st, NYS_META_GLUE))) {
		/* nys-eval glue --save: {"task", "head", "epoch", "labels": [...]} */
		key = NYS_META_GLUE;
		json_t *g = json_loads(s, 0, NULL);
		names = json_incref(json_object_get(g, "labels"));
		json_decref(g);
	}
	if (s && (!json_is_array(names) || json_array_size(names) != (size_t)n)) {
		json_decref(names);
		return nys_err_set(e, "%s: metadata %s: expected an array of %d names", name, key,
		                   n);
	}
	json_t *id2 = json_object(), *l2id = json_object();
	int rc = id2 && l2id ? 0 : -1;
	for (int i = 0; !rc && i < n; i++) {
		char idx[24], dflt[32];
		snprintf(idx, sizeof idx, "%d", i);
		snprintf(dflt, sizeof dflt, "LABEL_%d", i);
		const char *label = names ? json_string_value(json_array_get(names, (size_t)i)) : dflt;
		if (!label) {
			json_decref(names);
			json_decref(id2);
			json_decref(l2id);
			return nys_err_set(e, "%s: metadata %s: name %d is not a string", name, key,
			                   i);
		}
		rc = json_object_set_new(id2, idx, json_string(label)) ||
		     json_object_set_new(l2id, label, json_integer(i)) ? -1 : 0;
	}
	json_decref(names);
	if (!rc)
		rc = json_object_set_new(hf, "id2label", id2) ||
		     json_object_set_new(hf, "label2id", l2id) ||
		     json_object_set_new(hf, "problem_type",
		                         json_string(n == 1 ? "regression" :
		                                     "single_label_classification")) ? -1 : 0;
	else
		json_decref(id2), json_decref(l2id);
	return rc ? nys_err_set(e, "out of memory") : 0;
}

/* A piece the tokenizer files need, by name. */
static int need_piece(const nys_spm *sp, const char *spm, const char *piece, int32_t *id,
                      nys_err *e)
{
	*id = nys_spm_piece_to_id(sp, piece);
	if (*id < 0)
		return nys_err_set(e, "%s: no piece %s, which AlbertTokenizer needs", spm, piece);
	return 0;
}

/* What of the checkpoint transformers cannot express, beyond what
 * nys_config_hf_json refuses. */
static int export_expressible(const nys_model_config *m, const char *name, nys_err *e)
{
	if (m->attn_type == NYS_ATTN_SOFTMAX)
		return nys_err_set(e, "%s: a softmax model: transformers' Nystromformer has no "
		                   "attention without its depthwise convolution (conv_kernel_size "
		                   "must be an integer in transformers 5)", name);
	if (!m->conv_kernel_size)
		return nys_err_set(e, "%s: no convolution (conv_kernel_size absent): transformers "
		                   "5 takes only an integer conv_kernel_size, and null is refused",
		                   name);
	return 0;
}

static int write_tokenizer_config(const char *path, bool lower, uint32_t max_len, nys_err *e)
{
	json_t *t = json_pack("{ss sb sb sb ss ss ss ss ss ss ss sI}", "tokenizer_class",
	                      "AlbertTokenizer", "do_lower_case", lower, "keep_accents", 1,
	                      "remove_space", 1, "unk_token", "<unk>", "pad_token", "<pad>",
	                      "bos_token", "[CLS]", "eos_token", "[SEP]", "cls_token", "[CLS]",
	                      "sep_token", "[SEP]", "mask_token", "[MASK]", "model_max_length",
	                      (json_int_t)max_len);
	if (!t)
		return nys_err_set(e, "out of memory");
	int rc = nys_config_write_json(t, path, e);
	json_decref(t);
	return rc;
}

/* One of tokenizers' Replace normalizers of a literal string. */
static json_t *replace(const char *from, const char *to)
{
	return json_pack("{ss s{ss} ss}", "type", "Replace", "pattern", "String", from, "content",
	                 to);
}

static json_t *metaspace(void)
{
	return json_pack("{ss ss ss sb}", "type", "Metaspace", "replacement", "\xe2\x96\x81",
	                 "prepend_scheme", "always", "split", 1);
}

static json_t *template_piece(const char *kind, const char *id, int type)
{
	return json_pack("{s{ss si}}", kind, "id", id, "type_id", type);
}

/* tokenizer.json: what transformers' own AlbertTokenizer builds from
 * spiece.model (a Unigram model over its pieces and scores, `` and '' as
 * ", lower-casing when asked, accents kept, whitespace split, the
 * Metaspace pre-tokenizer, [CLS] A [SEP] B [SEP]), written here because
 * transformers 5 loads a Nystromformer tokenizer only from this file. */
static json_t *tokenizer_json(const nys_spm *sp, bool lower, int32_t unk, int32_t cls,
                              int32_t sep)
{
	json_t *vocab = json_array(), *added = json_array();
	uint32_t n = nys_spm_vocab_size(sp);
	bool ok = vocab && added;
	for (uint32_t i = 0; ok && i < n; i++) {
		const char *piece = nys_spm_id_to_piece(sp, i);
		ok = !json_array_append_new(vocab, json_pack("[sf]", piece,
		                                             (double)nys_spm_score(sp, i)));
		if (ok && (nys_spm_type(sp, i) == NYS_SPM_CONTROL ||
		           nys_spm_type(sp, i) == NYS_SPM_UNKNOWN))
			ok = !json_array_append_new(added, json_pack("{sI ss sb sb sb sb sb}", "id",
			                                             (json_int_t)i, "content", piece,
			                                             "single_word", 0, "lstrip", 0,
			                                             "rstrip", 0, "normalized", 0,
			                                             "special", 1));
	}
	json_t *norm = json_pack("[oo]", replace("``", "\""), replace("''", "\""));
	if (ok && norm && lower)
		ok = !json_array_append_new(norm, json_pack("{ss}", "type", "Lowercase"));
	json_t *post = json_pack(
		"{ss s[ooo] s[ooooo] s{s{ss s[i] s[s]} s{ss s[i] s[s]}}}", "type",
		"TemplateProcessing", "single", template_piece("SpecialToken", "[CLS]", 0),
		template_piece("Sequence", "A", 0), template_piece("SpecialToken", "[SEP]", 0),
		"pair", template_piece("SpecialToken", "[CLS]", 0),
		template_piece("Sequence", "A", 0), template_piece("SpecialToken", "[SEP]", 0),
		template_piece("Sequence", "B", 1), template_piece("SpecialToken", "[SEP]", 1),
		"special_tokens", "[CLS]", "id", "[CLS]", "ids", (int)cls, "tokens", "[CLS]", "[SEP]",
		"id", "[SEP]", "ids", (int)sep, "tokens", "[SEP]");
	if (!ok || !norm || !post) {
		json_decref(vocab);
		json_decref(added);
		json_decref(norm);
		json_decref(post);
		return NULL;
	}
	return json_pack("{ss sn sn so s{ss so} s{ss s[{ss}o]} so so s{ss sI so sb}}", "version",
	                 "1.0", "truncation", "padding", "added_tokens", added, "normalizer",
	                 "type", "Sequence", "normalizers", norm, "pre_tokenizer", "type",
	                 "Sequence", "pretokenizers", "type", "WhitespaceSplit", metaspace(),
	                 "post_processor", post, "decoder", metaspace(), "model", "type",
	                 "Unigram", "unk_id", (json_int_t)unk, "vocab", vocab, "byte_fallback",
	                 0);
}

static int write_bytes(const char *path, const void *p, size_t n, nys_err *e)
{
	nys_out *out = nys_out_open(path, NYS_OUT_BINARY, e);
	if (!out)
		return -1;
	if (nys_out_write(out, p, n, e)) {
		nys_out_abort(out);
		return -1;
	}
	return nys_out_commit(out, e);
}

/* The files of the folder, written into the staging directory d. */
static int export_files(const nys_hf_export_opts *o, const nys_st *st, const nys_spm *sp,
                        const nys_model_config *m, int labels, const char *d, nys_err *e)
{
	nys_hf_ids ids;
	int32_t mask, unk;
	if (need_piece(sp, o->spm, "<pad>", &ids.pad, e) ||
	    need_piece(sp, o->spm, "[CLS]", &ids.bos, e) ||
	    need_piece(sp, o->spm, "[SEP]", &ids.eos, e) ||
	    need_piece(sp, o->spm, "[MASK]", &mask, e) || need_piece(sp, o->spm, "<unk>", &unk, e))
		return -1;
	json_t *hf = nys_config_hf_json(m, &ids, e);
	if (!hf)
		return -1;
	int rc = 0;
	if (labels)
		rc = json_object_set_new(hf, "architectures", json_pack("[s]", hf_cls)) ||
		     export_labels(st, o->checkpoint, labels, hf, e) ? -1 : 0;
	char *cfg = join(d, "config.json"), *w = join(d, "model.safetensors");
	char *spm = join(d, "spiece.model"), *tok = join(d, "tokenizer_config.json");
	char *tj = join(d, "tokenizer.json");
	if (!rc && (!cfg || !w || !spm || !tok || !tj))
		rc = nys_err_set(e, "out of memory");
	if (!rc)
		rc = nys_config_write_json(hf, cfg, e);
	json_decref(hf);

	nys_model_opts mo = {.dtype = NYS_F32, .mlm = !labels, .num_labels = labels,
	                     .cls_act = NYS_CLS_GELU};
	nys_model *model = rc ? NULL : nys_model_new(m, &mo, e);
	if (!rc && (!model || nys_model_load_st(model, st, 0, e) ||
	            nys_model_save(model, w, NULL, e)))
		rc = -1;
	nys_model_free(model);

	size_t n;
	const void *bytes = nys_spm_bytes(sp, &n);
	if (!rc)
		rc = write_bytes(spm, bytes, n, e) ||
		     write_tokenizer_config(tok, o->lower, m->max_seq_len, e) ? -1 : 0;
	if (!rc) {
		json_t *t = tokenizer_json(sp, o->lower, unk, ids.bos, ids.eos);
		rc = t ? nys_config_write_json(t, tj, e) : nys_err_set(e, "out of memory");
		json_decref(t);
	}
	free(tj);
	free(tok);
	free(spm);
	free(w);
	free(cfg);
	return rc;
}

/* The checkpoint's model config and head: *labels 0 for the masked-LM
 * head, else the classifier's (which must be transformers' GELU head). */
static int export_model(const nys_st *st, const char *name, nys_model_config *m, int *labels,
                        nys_err *e)
{
	const char *s = nys_st_meta(st, "nys_model");
	if (!s)
		return nys_err_set(e, "%s: no nys_model metadata: not a nys checkpoint (its model "
		                   "config is unknown)", name);
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		return nys_err_set(e, "%s: metadata nys_model: %s", name, je.text);
	char what[1100];
	snprintf(what, sizeof what, "%s: metadata nys_model", name);
	int rc = nys_model_config_from_json(j, what, m, NULL, NULL, e);
	json_decref(j);
	if (rc || export_expressible(m, name, e))
		return -1;
	int64_t shape[NYS_ST_MAX_DIMS];
	*labels = 0;
	if (nys_st_has(st, "classifier.out_proj.weight")) {
		if (nys_st_shape(st, "classifier.out_proj.weight", shape) != 2 || shape[0] < 1 ||
		    shape[0] > 1 << 20)
			return nys_err_set(e, "%s: classifier.out_proj.weight: not a (labels, %u) "
			                   "matrix", name, m->transformer_dim);
		*labels = (int)shape[0];
		const char *act = nys_st_meta(st, NYS_META_CLS_ACT);
		if (!act || strcmp(act, "gelu"))
			return nys_err_set(e, "%s: the classifier is the authors' head (dropout, "
			                   "dense, tanh%s), which transformers' "
			                   "NystromformerForSequenceClassification (gelu_new) cannot "
			                   "express: fine-tune with --head hf to export", name,
			                   act ? "" : "; the checkpoint does not record nys_cls_act");
	} else if (!nys_st_has(st, "cls.predictions.transform.dense.weight")) {
		return nys_err_set(e, "%s: neither the masked-LM head nor a classifier", name);
	}
	return 0;
}

int nys_hf_export(const nys_hf_export_opts *o, nys_err *e)
{
	nys_st *st = nys_st_load(o->checkpoint, e);
	if (!st)
		return -1;
	nys_spm *sp = NULL;
	nys_stage *stage = NULL;
	nys_model_config m;
	int labels, rc = -1;
	if (export_model(st, o->checkpoint, &m, &labels, e) || !(sp = nys_spm_load(o->spm, e)))
		goto out;
	uint64_t mine = nys_spm_fingerprint(sp), want = 0;
	int have = nys_tokenizer_of(st, o->checkpoint, &want, e);
	if (have < 0)
		goto out;
	if (have && want != mine) {
		nys_err_set(e, "%s: tokenizer fingerprint %016" PRIx64 ", but %s was trained with "
		            "%016" PRIx64 ": not the same sentencepiece model", o->spm, mine,
		            o->checkpoint, want);
		goto out;
	}
	if (nys_spm_vocab_size(sp) > m.vocab_size) {
		nys_err_set(e, "%s: %u pieces, more than the vocabulary of %s (%u)", o->spm,
		            nys_spm_vocab_size(sp), o->checkpoint, m.vocab_size);
		goto out;
	}
	if (!have)
		nys_warnx("warning: %s records no tokenizer fingerprint: %s is taken on trust",
		          o->checkpoint, o->spm);
	if (!(stage = nys_stage_open(o->dir, "export-hf", e)) ||
	    export_files(o, st, sp, &m, labels, nys_stage_path(stage), e))
		goto out;
	static const char *const files[] = {"config.json", "model.safetensors", "spiece.model",
	                                    "tokenizer_config.json", "tokenizer.json"};
	nys_out_hold_signals();
	rc = 0;
	for (size_t i = 0; !rc && i < sizeof files / sizeof *files; i++)
		rc = nys_stage_install(stage, files[i], e);
	nys_out_release_signals();
	if (!rc) {
		rc = nys_stage_commit(stage, e);
		stage = NULL;
	}
out:
	if (stage)
		nys_stage_abort(stage);
	nys_spm_free(sp);
	nys_st_free(st);
	return rc;
}
