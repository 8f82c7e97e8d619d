/* Model configuration: the shipped configs with their exact values, the
 * swapped nystrom-512, warnings, refusals (with the key named), both
 * spellings of the inverse's init option, and the HuggingFace config. */
#include "nys_config.h"
#include "nys_shard_dir.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[128];
static char top[1024];

/* Warnings collected by the callback, one a line. */
static nys_buf warns;
static int nwarns;

static void collect(void *ctx, const char *msg)
{
	(void)ctx;
	nys_buf_adds(&warns, msg);
	nys_buf_addc(&warns, '\n');
	nwarns++;
}

static const char *warn_text(void)
{
	nys_buf_addc(&warns, 0);
	warns.n--;
	return warns.p;
}

static void warn_reset(void)
{
	warns.n = 0;
	nwarns = 0;
}

static const char *shipped(const char *name)
{
	static char p[1100];
	snprintf(p, sizeof p, "%s/pipeline/configs/%s/config.json", top, name);
	return p;
}

static const char *scratch(const char *name)
{
	static char p[2][256];
	static int k;
	k ^= 1;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		printf("# cannot write %s\n", path);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	nys_buf b = {0};
	char tmp[4096];
	size_t k;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
		nys_buf_add(&b, tmp, k);
	fclose(f);
	nys_buf_addc(&b, 0);
	return b.p;
}

/* The tiny Nystrom model with changes: `set` is a JSON object merged into
 * "model" (NULL for none), `del` a space-separated list of keys removed.
 * Written to dir/c.json, whose path is returned. */
static const char base_model[] =
	"{\"mixed_precision\": false, \"attention_grad_checkpointing\": false,"
	" \"gelu_grad_checkpointing\": false, \"vocab_size\": 1000,"
	" \"num_sen_type\": 1, \"max_seq_len\": 64, \"embedding_dim\": 64,"
	" \"transformer_dim\": 64, \"transformer_hidden_dim\": 256,"
	" \"num_layers\": 2, \"dropout_prob\": 0.1, \"num_head\": 2,"
	" \"head_dim\": 32, \"attn_type\": \"nystrom\", \"num_landmarks\": 8,"
	" \"seq_len\": 64, \"conv_kernel_size\": 5}";

static const char *variant(const char *set, const char *del)
{
	json_error_t je;
	json_t *model = json_loads(base_model, 0, &je);
	if (set) {
		json_t *s = json_loads(set, 0, &je);
		if (!s)
			printf("# bad test JSON %s: %s\n", set, je.text);
		json_object_update(model, s);
		json_decref(s);
	}
	if (del) {
		char keys[256];
		snprintf(keys, sizeof keys, "%s", del);
		for (char *sp, *k = strtok_r(keys, " ", &sp); k;
		     k = strtok_r(NULL, " ", &sp))
			json_object_del(model, k);
	}
	json_t *root = json_pack("{s:o, s:{s:i}}", "model", model,
	                         "pretraining_setting", "batch_size", 8);
	char *s = json_dumps(root, JSON_INDENT(2));
	const char *path = scratch("c.json");
	write_file(path, s);
	free(s);
	json_decref(root);
	return path;
}

static nys_config *load(const char *path, nys_err *e)
{
	warn_reset();
	return nys_config_load(path, collect, NULL, e);
}

/* The variant is refused with exactly "dir/c.json: " + want. */
static void refused(const char *set, const char *del, const char *want,
                    const char *name)
{
	nys_err e = {""};
	const char *path = variant(set, del);
	nys_config *c = load(path, &e);
	char full[1200];
	snprintf(full, sizeof full, "%s: %s", path, want);
	if (c) {
		tap_ok(0, name);
		printf("#   loaded, expected: %s\n", full);
		nys_config_free(c);
		return;
	}
	tap_str(e.msg, full, name);
}

/* The variant loads with the warnings (each already prefixed by "dir/c.json: "
 * in `want`, one a line). */
static nys_config *loads_warning(const char *set, const char *del,
                                 const char *want, const char *name)
{
	nys_err e = {""};
	const char *path = variant(set, del);
	nys_config *c = load(path, &e);
	if (!c) {
		tap_ok(0, name);
		printf("#   refused: %s\n", e.msg);
		return NULL;
	}
	char full[1200] = "";
	size_t k = 0;
	if (want) {
		char w[1000];
		snprintf(w, sizeof w, "%s", want);
		for (char *sp, *l = strtok_r(w, "\n", &sp); l;
		     l = strtok_r(NULL, "\n", &sp))
			k += (size_t)snprintf(full + k, sizeof full - k, "%s: %s\n",
			                      path, l);
	}
	tap_str(warn_text(), full, name);
	return c;
}

static void test_published(void)
{
	nys_err e = {""};
	nys_config *c = load(shipped("nystrom-512"), &e);
	tap_ok(c != NULL, "nystrom-512 loads");
	if (!c) {
		printf("# %s\n", e.msg);
		return;
	}
	const nys_model_config *m = &c->model;
	tap_ok(m->vocab_size == 50265 && m->num_sen_type == 1 &&
	       m->max_seq_len == 512 && m->embedding_dim == 768 &&
	       m->transformer_dim == 768 && m->transformer_hidden_dim == 3072 &&
	       m->num_layers == 12 && m->dropout_prob == 0.1 &&
	       m->num_head == 12 && m->head_dim == 64,
	       "nystrom-512: sizes and dropout");
	tap_ok(m->attn_type == NYS_ATTN_NYSTROM && m->conv_kernel_size == 33 &&
	       m->inv_init == NYS_INV_INIT_ORIGINAL && m->inv_iterations == 6 &&
	       !m->landmarks_skip_padding && m->head_gelu == NYS_GELU_TANH,
	       "nystrom-512: attention, conv 33, original init, 6 iterations");
	tap_ok(m->mixed_precision && !m->attention_grad_checkpointing &&
	       m->gelu_grad_checkpointing, "nystrom-512: precision and "
	       "checkpointing flags");
	tap_ok(m->num_landmarks == 64 && m->seq_len == 512 &&
	       m->swapped_landmarks,
	       "nystrom-512: num_landmarks 64, seq_len 512 after the swap");
	char want[2048];
	snprintf(want, sizeof want, "%s: model.num_landmarks (512) is more than "
	         "model.seq_len (64): assuming the two are swapped, as in the "
	         "published nystrom-512 config; using num_landmarks 64, seq_len "
	         "512\n", shipped("nystrom-512"));
	tap_str(warn_text(), want, "nystrom-512: one warning, saying what was "
	        "assumed");
	json_t *ps = json_object_get(c->root, "pretraining_setting");
	tap_ok(json_integer_value(json_object_get(ps, "batch_size")) == 256 &&
	       json_real_value(json_object_get(ps, "learning_rate")) == 1e-4 &&
	       json_integer_value(json_object_get(ps, "batches_per_epoch")) ==
	       5000 &&
	       json_integer_value(json_object_get(json_object_get(c->root,
	       "gpu_setting"), "inst_per_gpu")) == 8 &&
	       strcmp(json_string_value(json_object_get(c->root, "data_folder")),
	              "../data/shards-512") == 0,
	       "nystrom-512: the other sections kept in root");
	nys_config_free(c);

	c = load(shipped("softmax-512"), &e);
	tap_ok(c != NULL, "softmax-512 loads");
	if (c) {
		m = &c->model;
		tap_ok(m->vocab_size == 50265 && m->max_seq_len == 512 &&
		       m->transformer_dim == 768 && m->num_layers == 12 &&
		       m->num_head == 12 && m->head_dim == 64 &&
		       m->dropout_prob == 0.1 && m->attn_type == NYS_ATTN_SOFTMAX &&
		       m->num_landmarks == 0 && m->seq_len == 0 &&
		       m->conv_kernel_size == 0 && m->mixed_precision &&
		       m->gelu_grad_checkpointing && !m->swapped_landmarks,
		       "softmax-512: exact values");
		tap_str(warn_text(), "", "softmax-512: no warning");
		nys_config_free(c);
	}

	c = load(shipped("nystrom-4096"), &e);
	tap_ok(c != NULL, "nystrom-4096 loads");
	if (c) {
		m = &c->model;
		tap_ok(m->vocab_size == 50265 && m->max_seq_len == 4096 &&
		       m->transformer_dim == 768 && m->transformer_hidden_dim == 3072 &&
		       m->num_layers == 12 && m->num_head == 12 &&
		       m->head_dim == 64 && m->attn_type == NYS_ATTN_NYSTROM &&
		       m->num_landmarks == 512 && m->seq_len == 4096 &&
		       m->conv_kernel_size == 65 && !m->swapped_landmarks,
		       "nystrom-4096: exact values");
		tap_str(warn_text(), "", "nystrom-4096: no warning");
		ps = json_object_get(c->root, "pretraining_setting");
		const char *cp = json_string_value(json_object_get(c->root, "from_cp"));
		tap_ok(json_integer_value(json_object_get(ps, "batch_size")) == 64 &&
		       json_real_value(json_object_get(ps, "learning_rate")) == 5e-5 &&
		       cp && strcmp(cp, "../nystrom-512/model/cp-0099.model") == 0,
		       "nystrom-4096: batch 64, lr 5e-5, warm start from nystrom-512");
		nys_config_free(c);
	}
}

static void test_tiny(void)
{
	nys_err e = {""};
	nys_config *c = load(shipped("tiny-nystrom"), &e);
	tap_ok(c != NULL, "tiny-nystrom loads");
	if (c) {
		const nys_model_config *m = &c->model;
		tap_ok(m->vocab_size == 1000 && m->num_sen_type == 1 &&
		       m->max_seq_len == 64 && m->embedding_dim == 64 &&
		       m->transformer_dim == 64 && m->transformer_hidden_dim == 256 &&
		       m->num_layers == 2 && m->num_head == 2 && m->head_dim == 32 &&
		       m->dropout_prob == 0.1 && m->attn_type == NYS_ATTN_NYSTROM &&
		       m->num_landmarks == 8 && m->seq_len == 64 &&
		       m->conv_kernel_size == 5 && !m->mixed_precision &&
		       !m->attention_grad_checkpointing &&
		       !m->gelu_grad_checkpointing,
		       "tiny-nystrom: exact values");
		tap_str(warn_text(), "", "tiny-nystrom: no warning");
		nys_config_free(c);
	}
	c = load(shipped("tiny-softmax"), &e);
	tap_ok(c != NULL, "tiny-softmax loads");
	if (c) {
		const nys_model_config *m = &c->model;
		tap_ok(m->vocab_size == 1000 && m->max_seq_len == 64 &&
		       m->transformer_dim == 64 && m->transformer_hidden_dim == 256 &&
		       m->num_layers == 2 && m->num_head == 2 && m->head_dim == 32 &&
		       m->attn_type == NYS_ATTN_SOFTMAX && m->num_landmarks == 0 &&
		       m->conv_kernel_size == 0,
		       "tiny-softmax: exact values");
		tap_str(warn_text(), "", "tiny-softmax: no warning");
		nys_config_free(c);
	}
}

static void test_warnings(void)
{
	nys_config *c = loads_warning("{\"colour\": \"blue\"}", NULL,
	                              "model.colour: unknown key, ignored",
	                              "an unknown key warns");
	tap_ok(c && c->model.num_head == 2, "... and the config still loads");
	nys_config_free(c);

	c = loads_warning("{\"attn_type\": \"softmax\"}", "conv_kernel_size",
	                  "model.num_landmarks: ignored with attn_type \"softmax\"\n"
	                  "model.seq_len: ignored with attn_type \"softmax\"",
	                  "Nystrom keys warned about with softmax");
	tap_ok(c && c->model.num_landmarks == 0 && c->model.seq_len == 0,
	       "... and dropped");
	nys_config_free(c);

	c = loads_warning("{\"seq_len\": 32}", NULL,
	                  "model.seq_len: 32 is less than model.max_seq_len (64): "
	                  "Nystrom attention takes sequences of exactly seq_len "
	                  "tokens", "seq_len below max_seq_len warns");
	nys_config_free(c);

	/* A swap also when the file is not nystrom-512. */
	c = loads_warning("{\"num_landmarks\": 64, \"seq_len\": 16}", NULL,
	                  "model.num_landmarks (64) is more than model.seq_len "
	                  "(16): assuming the two are swapped, as in the "
	                  "published nystrom-512 config; using num_landmarks 16, "
	                  "seq_len 64", "any swappable pair is swapped");
	tap_ok(c && c->model.num_landmarks == 16 && c->model.seq_len == 64 &&
	       c->model.swapped_landmarks, "... to 16 landmarks over 64");
	nys_config_free(c);

	c = loads_warning(NULL, NULL, NULL, "landmarks equal to seq_len is fine");
	nys_config_free(c);
	c = loads_warning("{\"num_landmarks\": 64}", NULL, NULL,
	                  "num_landmarks == seq_len loads (exact softmax)");
	nys_config_free(c);

	/* Without a callback, warnings go to stderr through nys_warnx. */
	nys_err e = {""};
	char path[300];
	snprintf(path, sizeof path, "%s", variant("{\"x\": 1}", NULL));
	fflush(stderr);
	int saved = dup(2);
	FILE *f = freopen(scratch("stderr"), "w", stderr);
	c = nys_config_load(path, NULL, NULL, &e);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	char *text = f ? read_file(scratch("stderr")) : NULL;
	char want[800];
	snprintf(want, sizeof want, "%s: %s: model.x: unknown key, ignored\n",
	         nys_prog(), path);
	tap_ok(c != NULL, "loads with warnings to stderr (no callback)");
	tap_str(text ? text : "", want, "... through nys_warnx");
	free(text);
	nys_config_free(c);
}

static void test_refusals(void)
{
	refused("{\"num_head\": \"four\"}", NULL,
	        "model.num_head: expected a positive integer, got \"four\"",
	        "a string for an integer is refused");
	refused("{\"num_layers\": -2}", NULL,
	        "model.num_layers: expected a positive integer, got -2",
	        "a negative integer is refused");
	refused("{\"vocab_size\": 0}", NULL,
	        "model.vocab_size: expected a positive integer, got 0",
	        "zero is refused");
	refused("{\"head_dim\": 32.0}", NULL,
	        "model.head_dim: expected a positive integer, got 32.0",
	        "a real for an integer is refused");
	refused("{\"max_seq_len\": true}", NULL,
	        "model.max_seq_len: expected a positive integer, got true",
	        "a boolean for an integer is refused");
	refused("{\"transformer_hidden_dim\": 3000000000}", NULL,
	        "model.transformer_hidden_dim: 3000000000 is too large (at most "
	        "262144)", "a huge integer is refused");
	/* The tester's heap overflow: these wrapped the parameter count to 59. */
	refused("{\"num_layers\": 1, \"num_head\": 59223231, \"head_dim\": 1202618447}", NULL,
	        "model.num_head: 59223231 is too large (at most 4096)",
	        "num_head 59223231 (the parameter count that wrapped) is refused, named");
	refused("{\"num_head\": 4096, \"head_dim\": 65536}", NULL,
	        "model.num_head x model.head_dim: 4096 x 65536 = 268435456 is too "
	        "large (at most 262144)", "an attention width past its limit names both keys");
	refused("{\"vocab_size\": 16777217}", NULL,
	        "model.vocab_size: 16777217 is too large (at most 16777216)",
	        "a vocabulary past 2^24 is refused");
	refused("{\"inv_iterations\": 65}", NULL,
	        "model.inv_iterations: 65 is too large (at most 64)",
	        "more than 64 pseudo-inverse iterations are refused");
	refused("{\"embedding_dim\": [64]}", NULL,
	        "model.embedding_dim: expected a positive integer, got [64]",
	        "an array for an integer is refused");
	refused(NULL, "num_sen_type", "model.num_sen_type: missing",
	        "a missing required key is refused");
	refused(NULL, "attn_type", "model.attn_type: missing",
	        "a missing attn_type is refused");
	refused(NULL, "dropout_prob", "model.dropout_prob: missing",
	        "a missing dropout_prob is refused");
	refused("{\"dropout_prob\": 1}", NULL,
	        "model.dropout_prob: expected a number in [0, 1), got 1",
	        "dropout 1 is refused");
	refused("{\"dropout_prob\": -0.5}", NULL,
	        "model.dropout_prob: expected a number in [0, 1), got -0.5",
	        "negative dropout is refused");
	refused("{\"dropout_prob\": \"0.1\"}", NULL,
	        "model.dropout_prob: expected a number in [0, 1), got \"0.1\"",
	        "dropout as a string is refused");
	refused("{\"attn_type\": \"linformer\"}", NULL,
	        "model.attn_type: expected \"softmax\" or \"nystrom\", got "
	        "\"linformer\"", "an unknown attention is refused");
	refused("{\"mixed_precision\": 1}", NULL,
	        "model.mixed_precision: expected true or false, got 1",
	        "a number for a boolean is refused");
	refused("{\"gelu_grad_checkpointing\": \"yes\"}", NULL,
	        "model.gelu_grad_checkpointing: expected true or false, got "
	        "\"yes\"", "a string for a boolean is refused");
	refused(NULL, "num_landmarks",
	        "model.num_landmarks: missing (attn_type \"nystrom\" needs it)",
	        "nystrom without num_landmarks is refused");
	refused(NULL, "seq_len",
	        "model.seq_len: missing (attn_type \"nystrom\" needs it)",
	        "nystrom without seq_len is refused");
	refused("{\"num_landmarks\": 100}", NULL,
	        "model.num_landmarks: 100 is more than model.seq_len (64)",
	        "more landmarks than tokens is refused (not swappable)");
	refused("{\"num_landmarks\": 128}", NULL,
	        "model.num_landmarks: 128 is more than model.seq_len (64)",
	        "a swap past max_seq_len is not assumed");
	{
		/* The authors' 2021 uneven segments: 70 tokens in 8 landmarks. */
		nys_err e = {""};
		nys_config *c = load(variant("{\"max_seq_len\": 70, \"seq_len\": 70, "
		                             "\"num_landmarks\": 8}", NULL), &e);
		tap_ok(c && c->model.seq_len == 70 && c->model.num_landmarks == 8 &&
		       !c->model.swapped_landmarks && nwarns == 0,
		       "seq_len 70 with 8 landmarks (uneven segments) loads, without a warning");
		if (!c)
			printf("#   refused: %s\n", e.msg);
		nys_config_free(c);
		c = load(variant("{\"num_landmarks\": 7}", NULL), &e);
		tap_ok(c && c->model.num_landmarks == 7 && c->model.seq_len == 64,
		       "7 landmarks over 64 tokens load");
		nys_config_free(c);
	}
	refused("{\"seq_len\": 128, \"num_landmarks\": 8}", NULL,
	        "model.seq_len: 128 is more than model.max_seq_len (64)",
	        "seq_len past max_seq_len is refused");
	refused("{\"conv_kernel_size\": 4}", NULL,
	        "model.conv_kernel_size: expected an odd number (an even kernel "
	        "changes the sequence length), got 4",
	        "an even convolution kernel is refused");
	refused("{\"conv_kernel_size\": 0}", NULL,
	        "model.conv_kernel_size: expected a positive integer, got 0",
	        "a zero convolution kernel is refused");
	refused("{\"inv_iterations\": 0}", NULL,
	        "model.inv_iterations: expected a positive integer, got 0",
	        "zero inverse iterations are refused");
	refused("{\"landmarks_skip_padding\": \"no\"}", NULL,
	        "model.landmarks_skip_padding: expected true or false, got "
	        "\"no\"", "a bad landmarks_skip_padding is refused");
	refused("{\"head_gelu\": \"relu\"}", NULL,
	        "model.head_gelu: expected \"tanh\" or \"erf\", got \"relu\"",
	        "an unknown head_gelu is refused");
	refused("{\"inv_coeff_init_option\": \"exact\"}", NULL,
	        "model.inv_coeff_init_option: expected \"original\" or \"new\", "
	        "got \"exact\"", "an unknown inverse init is refused");
	refused("{\"inv_coeff_init_option\": \"original\", "
	        "\"inv_init_coeff_option\": \"new\"}", NULL,
	        "model.inv_init_coeff_option: \"new\" contradicts "
	        "model.inv_coeff_init_option (\"original\")",
	        "contradicting inverse init spellings are refused");
	/* wrong types are refused even where softmax ignores the key */
	refused("{\"attn_type\": \"softmax\", \"num_landmarks\": \"64\"}", NULL,
	        "model.num_landmarks: expected a positive integer, got \"64\"",
	        "a wrong type is refused under softmax too");
}

static void test_file_errors(void)
{
	nys_err e = {""};
	char want[1024];
	const char *p = scratch("bad.json");
	write_file(p, "{\n  \"model\": {\n    \"vocab_size\": 10,\n  }\n}\n");
	tap_ok(load(p, &e) == NULL, "malformed JSON is refused");
	snprintf(want, sizeof want, "%s:4:3: string or '}' expected near '}'", p);
	tap_str(e.msg, want, "... with file:line:column");

	write_file(p, "{\"model\": {}, \"model\": {}}");
	tap_ok(load(p, &e) == NULL, "a duplicate key is refused");
	snprintf(want, sizeof want, "%s:1:21: duplicate object key near "
	         "'\"model\"'", p);
	tap_str(e.msg, want, "... with file:line:column");

	write_file(p, "");
	tap_ok(load(p, &e) == NULL, "an empty file is refused");

	write_file(p, "[1, 2]");
	load(p, &e);
	snprintf(want, sizeof want, "%s: expected a JSON object at the top", p);
	tap_str(e.msg, want, "a top-level array is refused");

	write_file(p, "{\"pretraining_setting\": {}}");
	load(p, &e);
	snprintf(want, sizeof want, "%s: model: missing (the section that "
	         "describes the network)", p);
	tap_str(e.msg, want, "a file without model is refused");

	write_file(p, "{\"model\": [1]}");
	load(p, &e);
	snprintf(want, sizeof want, "%s: model: expected an object, got [1]", p);
	tap_str(e.msg, want, "a model that is not an object is refused");

	p = scratch("absent.json");
	tap_ok(load(p, &e) == NULL && strstr(e.msg, "absent.json") != NULL,
	       "a missing file is refused with its name");
	tap_ok(strstr(e.msg, ":-1") == NULL && strstr(e.msg, ":0:") == NULL,
	       "... and no line number where there is no line");
	printf("#   %s\n", e.msg);
	{
		/* the shard lists go through the same reader */
		nys_strlist l = {0};
		p = scratch("train.json");
		unlink(p);
		nys_err le = {""};
		int r = nys_shard_names_read(p, &l, &le);
		tap_ok(r < 0 && strstr(le.msg, "train.json") && !strstr(le.msg, ":-1"),
		       "a missing shard list is refused without a line -1");
		printf("#   %s\n", le.msg);
		nys_strlist_free(&l);
		memset(&l, 0, sizeof l);
		write_file(p, "[\"a.shard\",\n");
		r = nys_shard_names_read(p, &l, &le);
		char w[1200];
		snprintf(w, sizeof w, "%s:2:", p);
		tap_ok(r < 0 && !strncmp(le.msg, w, strlen(w)), "a truncated shard list names its line");
		printf("#   %s\n", le.msg);
		nys_strlist_free(&l);
	}

	/* compressed input, through nys_in */
	char cmd[1500];
	snprintf(cmd, sizeof cmd, "zstd -q -f -o %s/z.json.zst %s 2>/dev/null",
	         dir, shipped("tiny-nystrom"));
	if (system(cmd) == 0) {
		nys_config *c = load(scratch("z.json.zst"), &e);
		tap_ok(c && c->model.num_landmarks == 8, "a zstd config loads");
		nys_config_free(c);
	} else {
		printf("ok %d # skip zstd not found\n", ++tap_n);
	}
}

static void test_inverse_init(void)
{
	nys_config *c;
	c = loads_warning("{\"inv_coeff_init_option\": \"new\"}", NULL, NULL,
	                  "inv_coeff_init_option loads");
	tap_ok(c && c->model.inv_init == NYS_INV_INIT_NEW, "... as \"new\"");
	nys_config_free(c);
	c = loads_warning("{\"inv_init_coeff_option\": \"new\"}", NULL, NULL,
	                  "inv_init_coeff_option loads");
	tap_ok(c && c->model.inv_init == NYS_INV_INIT_NEW, "... as \"new\"");
	nys_config_free(c);
	c = loads_warning("{\"inv_coeff_init_option\": \"new\", "
	                  "\"inv_init_coeff_option\": \"new\"}", NULL, NULL,
	                  "both spellings, agreeing, load");
	tap_ok(c && c->model.inv_init == NYS_INV_INIT_NEW, "... as \"new\"");
	nys_config_free(c);
	c = loads_warning("{\"inv_init_coeff_option\": \"original\"}", NULL, NULL,
	                  "\"original\" loads");
	tap_ok(c && c->model.inv_init == NYS_INV_INIT_ORIGINAL,
	       "... as \"original\"");
	nys_config_free(c);
	c = loads_warning("{\"inv_coeff_init_option\": true}", NULL, NULL,
	                  "true (transformers' spelling) loads");
	tap_ok(c && c->model.inv_init == NYS_INV_INIT_NEW, "... as \"new\"");
	nys_config_free(c);
	c = loads_warning("{\"inv_coeff_init_option\": false}", NULL, NULL,
	                  "false loads");
	tap_ok(c && c->model.inv_init == NYS_INV_INIT_ORIGINAL,
	       "... as \"original\"");
	nys_config_free(c);
}

static void test_extensions(void)
{
	nys_config *c = loads_warning(NULL, "conv_kernel_size", NULL,
	                              "no conv_kernel_size loads");
	tap_ok(c && c->model.conv_kernel_size == 0, "... as no convolution");
	nys_config_free(c);
	c = loads_warning("{\"conv_kernel_size\": null}", NULL, NULL,
	                  "conv_kernel_size null loads");
	tap_ok(c && c->model.conv_kernel_size == 0, "... as no convolution");
	nys_config_free(c);
	c = loads_warning(NULL, NULL, NULL, "defaults of the extensions");
	tap_ok(c && c->model.inv_iterations == 6 &&
	       !c->model.landmarks_skip_padding &&
	       c->model.head_gelu == NYS_GELU_TANH,
	       "... 6 iterations, padded means, tanh GELU");
	nys_config_free(c);
	c = loads_warning("{\"inv_iterations\": 10, \"landmarks_skip_padding\": "
	                  "true, \"head_gelu\": \"erf\", \"dropout_prob\": 0}",
	                  NULL, NULL, "the extensions load");
	tap_ok(c && c->model.inv_iterations == 10 &&
	       c->model.landmarks_skip_padding &&
	       c->model.head_gelu == NYS_GELU_ERF && c->model.dropout_prob == 0,
	       "... with their values (and integer dropout 0)");
	nys_config_free(c);
}

static bool model_eq(const nys_model_config *a, const nys_model_config *b)
{
	return a->vocab_size == b->vocab_size &&
	       a->num_sen_type == b->num_sen_type &&
	       a->max_seq_len == b->max_seq_len &&
	       a->embedding_dim == b->embedding_dim &&
	       a->transformer_dim == b->transformer_dim &&
	       a->transformer_hidden_dim == b->transformer_hidden_dim &&
	       a->num_layers == b->num_layers && a->num_head == b->num_head &&
	       a->head_dim == b->head_dim && a->dropout_prob == b->dropout_prob &&
	       a->attn_type == b->attn_type &&
	       a->num_landmarks == b->num_landmarks && a->seq_len == b->seq_len &&
	       a->conv_kernel_size == b->conv_kernel_size &&
	       a->inv_init == b->inv_init &&
	       a->inv_iterations == b->inv_iterations &&
	       a->landmarks_skip_padding == b->landmarks_skip_padding &&
	       a->head_gelu == b->head_gelu &&
	       a->mixed_precision == b->mixed_precision &&
	       a->attention_grad_checkpointing ==
	       b->attention_grad_checkpointing &&
	       a->gelu_grad_checkpointing == b->gelu_grad_checkpointing;
}

static void test_round_trip(void)
{
	const char *names[] = {"nystrom-512", "softmax-512", "nystrom-4096",
	                       "tiny-nystrom", "tiny-softmax"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		nys_err e = {""};
		nys_config *c = load(shipped(names[i]), &e);
		if (!c) {
			tap_ok(0, names[i]);
			continue;
		}
		json_t *j = nys_model_config_to_json(&c->model);
		nys_model_config m;
		warn_reset();
		int rc = nys_model_config_from_json(j, "again", &m, collect, NULL, &e);
		char name[128];
		snprintf(name, sizeof name, "%s: to_json and back gives the same "
		         "config, without warnings", names[i]);
		tap_ok(rc == 0 && nwarns == 0 &&
		       model_eq(&m, &c->model), name);
		json_decref(j);
		nys_config_free(c);
	}
	/* the extensions and "new" survive the trip */
	nys_config *c = loads_warning("{\"inv_init_coeff_option\": \"new\", "
	                              "\"inv_iterations\": 9, \"head_gelu\": "
	                              "\"erf\", \"landmarks_skip_padding\": true}",
	                              "conv_kernel_size", NULL,
	                              "a config with every extension loads");
	if (c) {
		nys_err e = {""};
		json_t *j = nys_model_config_to_json(&c->model);
		nys_model_config m;
		warn_reset();
		int rc = nys_model_config_from_json(j, "again", &m, collect, NULL, &e);
		tap_ok(rc == 0 && nwarns == 0 &&
		       model_eq(&m, &c->model) &&
		       json_is_string(json_object_get(j, "inv_coeff_init_option")) &&
		       !json_object_get(j, "conv_kernel_size"),
		       "... and round-trips (both init spellings written)");
		json_decref(j);
		nys_config_free(c);
	}
}

static const char hf_tiny[] =
	"{\n"
	"  \"architectures\": [\n"
	"    \"NystromformerForMaskedLM\"\n"
	"  ],\n"
	"  \"model_type\": \"nystromformer\",\n"
	"  \"vocab_size\": 1000,\n"
	"  \"hidden_size\": 64,\n"
	"  \"num_hidden_layers\": 2,\n"
	"  \"num_attention_heads\": 2,\n"
	"  \"intermediate_size\": 256,\n"
	"  \"hidden_act\": \"gelu_new\",\n"
	"  \"hidden_dropout_prob\": 0.1,\n"
	"  \"attention_probs_dropout_prob\": 0.1,\n"
	"  \"max_position_embeddings\": 64,\n"
	"  \"type_vocab_size\": 1,\n"
	"  \"segment_means_seq_len\": 64,\n"
	"  \"num_landmarks\": 8,\n"
	"  \"conv_kernel_size\": 5,\n"
	"  \"inv_coeff_init_option\": false,\n"
	"  \"initializer_range\": 0.02,\n"
	"  \"layer_norm_eps\": 1e-5,\n"
	"  \"pad_token_id\": 0,\n"
	"  \"bos_token_id\": 2,\n"
	"  \"eos_token_id\": 3,\n"
	"  \"tie_word_embeddings\": true,\n"
	"  \"torch_dtype\": \"float32\"\n"
	"}\n";

static void test_hf(void)
{
	nys_err e = {""};
	nys_config *c = load(shipped("tiny-nystrom"), &e);
	if (!c) {
		tap_ok(0, "tiny-nystrom for HF");
		return;
	}
	const char *out = scratch("hf.json");
	tap_ok(nys_config_write_hf(&c->model, NULL, out, &e) == 0,
	       "HF config written");
	char *text = read_file(out);
	tap_str(text ? text : "", hf_tiny, "HF config of tiny-nystrom, exactly");
	free(text);
	tap_ok(nys_config_write_hf(&c->model, NULL, scratch("no/such/hf.json"),
	                           &e) == -1 && strstr(e.msg, "no/such"),
	       "HF config into a missing directory is refused");

	nys_hf_ids ids = {1, 0, 2};
	json_t *j = nys_config_hf_json(&c->model, &ids, &e);
	tap_ok(j && json_integer_value(json_object_get(j, "pad_token_id")) == 1 &&
	       json_integer_value(json_object_get(j, "bos_token_id")) == 0 &&
	       json_integer_value(json_object_get(j, "eos_token_id")) == 2,
	       "HF special ids as given");
	json_decref(j);

	nys_model_config m = c->model;
	m.conv_kernel_size = 0;
	j = nys_config_hf_json(&m, NULL, &e);
	tap_ok(j && json_is_null(json_object_get(j, "conv_kernel_size")),
	       "HF: no convolution is null");
	json_decref(j);

	m = c->model;
	m.embedding_dim = 128;
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL, "HF refuses "
	       "embedding_dim != transformer_dim");
	tap_str(e.msg, "HuggingFace NystromformerConfig: model.embedding_dim "
	        "(128) differs from model.transformer_dim (64); transformers has "
	        "no embedding projection", "... saying why");
	m = c->model;
	m.head_dim = 16;
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL &&
	       strstr(e.msg, "model.num_head * model.head_dim (2 * 16)"),
	       "HF refuses num_head * head_dim != transformer_dim");
	m = c->model;
	m.inv_init = NYS_INV_INIT_NEW;
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL &&
	       strstr(e.msg, "inv_coeff_init_option"), "HF refuses \"new\" init");
	m = c->model;
	m.inv_iterations = 8;
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL &&
	       strstr(e.msg, "inv_iterations 8"), "HF refuses 8 iterations");
	m = c->model;
	m.landmarks_skip_padding = true;
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL &&
	       strstr(e.msg, "landmarks_skip_padding"),
	       "HF refuses landmarks_skip_padding");
	m = c->model;
	m.head_gelu = NYS_GELU_ERF;
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL &&
	       strstr(e.msg, "head_gelu"), "HF refuses the erf head GELU");
	m = c->model;
	m.num_landmarks = 7; /* 64 tokens in 7 uneven segments */
	tap_ok(nys_config_hf_json(&m, NULL, &e) == NULL &&
	       strstr(e.msg, "model.num_landmarks 7 does not divide model.seq_len 64"),
	       "HF refuses uneven segments, which its reshape cannot take");
	nys_config_free(c);

	c = load(shipped("softmax-512"), &e);
	j = c ? nys_config_hf_json(&c->model, NULL, &e) : NULL;
	tap_ok(j && json_integer_value(json_object_get(j, "num_landmarks")) == 512 &&
	       json_integer_value(json_object_get(j, "segment_means_seq_len")) ==
	       512 && json_is_null(json_object_get(j, "conv_kernel_size")) &&
	       json_integer_value(json_object_get(j, "max_position_embeddings")) ==
	       512 && json_integer_value(json_object_get(j, "vocab_size")) == 50265,
	       "HF: softmax-512 as the exact branch (512 landmarks of 512)");
	json_decref(j);
	nys_config_free(c);

	c = load(shipped("nystrom-512"), &e);
	j = c ? nys_config_hf_json(&c->model, NULL, &e) : NULL;
	tap_ok(j && json_integer_value(json_object_get(j, "num_landmarks")) == 64 &&
	       json_integer_value(json_object_get(j, "segment_means_seq_len")) ==
	       512 && json_integer_value(json_object_get(j, "conv_kernel_size")) ==
	       33 && json_integer_value(json_object_get(j, "hidden_size")) == 768 &&
	       json_integer_value(json_object_get(j, "intermediate_size")) == 3072,
	       "HF: nystrom-512 with the corrected landmarks");
	json_decref(j);
	nys_config_free(c);
}

int main(void)
{
	static tap_test *const tests[] = {
		test_published, test_tiny, test_warnings, test_refusals, test_file_errors,
		test_inverse_init, test_extensions, test_round_trip, test_hf, NULL,
	};
	const char *t = getenv("NYS_TOP");
	snprintf(top, sizeof top, "%s", t && *t ? t : ".");
	int rc = tap_main(dir, sizeof dir, "config", tests);
	nys_buf_free(&warns);
	return rc;
}
