/* Model configuration: the config.json of the original Nystromformer code
 * (github.com/mlpen/Nystromformer, nystrom-512/config.json and the like).
 *
 * The file is one JSON object.  Its "model" section describes the network
 * and is read here key by key into nys_model_config; every other top-level
 * section (pretraining_setting, gpu_setting, dataset, from_cp, ...) is kept
 * as parsed JSON in nys_config.root for nys-train to read.
 *
 * The "model" keys, as in the original code:
 *   vocab_size, num_sen_type, max_seq_len, embedding_dim, transformer_dim,
 *   transformer_hidden_dim, num_layers, num_head, head_dim
 *                           positive integers, all required, each at most
 *                           a limit far above what fits a machine (2^24
 *                           vocab_size, 2^16 num_sen_type, 2^20
 *                           max_seq_len and seq_len, 2^18 for the widths,
 *                           2^12 num_layers, num_head, num_landmarks and
 *                           conv_kernel_size, 2^16 head_dim, 64
 *                           inv_iterations; num_head * head_dim at most
 *                           2^18), so that no size computed from them
 *                           overflows
 *   dropout_prob            number in [0, 1), required
 *   attn_type               "softmax" or "nystrom", required
 *   num_landmarks, seq_len  positive integers, required with "nystrom":
 *                           num_landmarks <= seq_len <= max_seq_len; when
 *                           num_landmarks does not divide the length, the
 *                           segments are uneven (the authors' 2021 rule:
 *                           the last T mod m segments one token longer)
 *   conv_kernel_size        odd positive integer; absent (or null) = no
 *                           depthwise convolution on V, as the original
 *                           tests `"conv_kernel_size" in config`
 *   mixed_precision, attention_grad_checkpointing, gelu_grad_checkpointing
 *                           booleans, false when absent
 *   inv_coeff_init_option / inv_init_coeff_option
 *                           the initial Z_0 of the iterative pseudo-inverse:
 *                           "original" (the default: 1 / the largest column
 *                           sum over the whole batch) or "new" (1 / the
 *                           largest column sum of each matrix).  The
 *                           original code tests for the first spelling but
 *                           reads the second; either is accepted, and true /
 *                           false stand for "new" / "original".
 * Extensions of ours (absent from the original files):
 *   inv_iterations          iterations of the pseudo-inverse (default 6)
 *   landmarks_skip_padding  landmark means over unpadded tokens only
 *                           (default false: padded tokens count as zeros,
 *                           as in the original)
 *   head_gelu               GELU of the MLM head: "tanh" (the default, the
 *                           original's approximation) or "erf" (exact)
 *
 * num_head * head_dim may differ from transformer_dim and embedding_dim from
 * transformer_dim: the original projects between them (W_q/W_k/W_v and ff,
 * the embeddings' dense layer).  transformers' Nystromformer cannot, so
 * nys_config_hf_json refuses such models.
 *
 * Unknown keys in "model" are warned about and ignored; wrong types and
 * impossible values are refused with the file and key named:
 *   config.json: model.num_head: expected a positive integer, got "four"
 * The published nystrom-512 config has num_landmarks and seq_len swapped
 * (512 and 64); such a config is loaded with the two exchanged back and a
 * warning that says so.
 */
#ifndef NYS_CONFIG_H
#define NYS_CONFIG_H

#include "nys.h"

#include <jansson.h>

typedef enum nys_attn_type {
	NYS_ATTN_SOFTMAX,
	NYS_ATTN_NYSTROM,
} nys_attn_type;

typedef enum nys_inv_init {
	NYS_INV_INIT_ORIGINAL, /* V0 = K^T / max column sum over the batch */
	NYS_INV_INIT_NEW,      /* V0 = K^T / max column sum of each matrix */
} nys_inv_init;

typedef enum nys_gelu {
	NYS_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
	NYS_GELU_ERF,  /* 0.5 x (1 + erf(x / sqrt(2))) */
} nys_gelu;

#define NYS_INV_ITERATIONS_DEFAULT 6u
/* The most num_head * head_dim may be (each key has a maximum too: see
 * the comment at the top). */
#define NYS_MAX_ATTN_WIDTH (1u << 18)
/* The most model.vocab_size may be. */
#define NYS_MAX_VOCAB (1u << 24)

typedef struct nys_model_config {
	uint32_t vocab_size, num_sen_type, max_seq_len;
	uint32_t embedding_dim, transformer_dim, transformer_hidden_dim;
	uint32_t num_layers, num_head, head_dim;
	double dropout_prob;
	nys_attn_type attn_type;
	/* Nystrom only (0 with softmax): */
	uint32_t num_landmarks, seq_len;
	uint32_t conv_kernel_size;       /* 0 = no convolution */
	nys_inv_init inv_init;
	uint32_t inv_iterations;
	bool landmarks_skip_padding;
	/* Both: */
	nys_gelu head_gelu;
	bool mixed_precision, attention_grad_checkpointing, gelu_grad_checkpointing;
	/* Set when num_landmarks and seq_len were found swapped and exchanged. */
	bool swapped_landmarks;
} nys_model_config;

/* Whether attention goes through landmarks: Nystrom attention with
 * num_landmarks != seq_len (with them equal, each segment is one token and
 * the attention is exact).  Sequences are then seq_len / num_landmarks
 * segments: at least num_landmarks tokens long, and only at seq_len do
 * the outputs equal those of the authors' code. */
bool nys_config_uses_landmarks(const nys_model_config *m);

/* Warnings go to warn(ctx, msg) (msg is "file: model.key: what"), or to
 * nys_warnx when warn is NULL.  The library never exits. */
typedef void nys_config_warn_fn(void *ctx, const char *msg);

typedef struct nys_config {
	char *name;            /* the file as named to nys_config_load */
	json_t *root;          /* the whole file (an object); owned */
	nys_model_config model;
} nys_config;

/* Read and check a config file (plain, bzip2 or zstd; "-" is stdin).
 * Malformed JSON is refused as "file:line:column: what". */
nys_config *nys_config_load(const char *path, nys_config_warn_fn *warn,
                            void *ctx, nys_err *e);
void nys_config_free(nys_config *c);

/* Check a parsed "model" object; name (the file) prefixes messages.  The
 * same rules as nys_config_load, for configs embedded in checkpoints. */
int nys_model_config_from_json(const json_t *model, const char *name,
                               nys_model_config *m, nys_config_warn_fn *warn,
                               void *ctx, nys_err *e);

/* m as a "model" object in the original's keys (the corrected values, our
 * extension keys only where they differ from their defaults); NULL only
 * when memory runs out. */
json_t *nys_model_config_to_json(const nys_model_config *m);

/* ---- transformers' NystromformerConfig --------------------------------- */

/* The special token ids written into an HF config; the defaults (NULL) are
 * the layout of our sentencepiece models: pad 0, bos [CLS] 2, eos [SEP] 3. */
typedef struct nys_hf_ids {
	int32_t pad, bos, eos;
} nys_hf_ids;

/* The config.json of a transformers NystromformerForMaskedLM with m's
 * shapes, so that a checkpoint's weights load into it: hidden_size is
 * transformer_dim, max_position_embeddings is max_seq_len (both codes add
 * 2 rows to the position table), segment_means_seq_len is seq_len,
 * conv_kernel_size null when there is none; a softmax model becomes
 * num_landmarks = segment_means_seq_len = max_seq_len, the exact branch.
 * Refused (NULL, e set) when transformers cannot express m: embedding_dim
 * or num_head * head_dim other than transformer_dim, inv_init "new" (its
 * code crashes on inv_coeff_init_option true), inv_iterations other than
 * 6, landmarks_skip_padding, head_gelu "erf". */
json_t *nys_config_hf_json(const nys_model_config *m, const nys_hf_ids *ids,
                           nys_err *e);
/* The same written to path (through nys_out: a temporary file renamed into
 * place), indented, with a final newline. */
int nys_config_write_hf(const nys_model_config *m, const nys_hf_ids *ids,
                        const char *path, nys_err *e);
/* Any JSON value written to path the same way (reals as short as they
 * read back); "-" or NULL is stdout. */
int nys_config_write_json(json_t *o, const char *path, nys_err *e);

#endif
