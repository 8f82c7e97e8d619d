/* The Long Range Arena model (nys-lra(1)): the authors' LRA network
 * (mlpen/Nystromformer, LRA/code/model.py and model_wrapper.py), which is
 * not the pretraining one of nys_model.h:
 *
 *   embeddings: word + learned position (from 0), dropout
 *   each layer (pre-LayerNorm):
 *       x = x + dropout(Wo attention(Wq LN1(x), Wk LN1(x), Wv LN1(x), mask))
 *       x = x + dropout(W2 dropout(gelu(W1 LN2(x))))
 *   LN(x), the mean over the unpadded tokens (theirs averages the padding's
 *   zeros too), then the classifier: dense C -> F, ReLU, dense F -> classes;
 *   for Retrieval the two documents go through the one encoder and the
 *   classifier takes [a, b, a * b, a - b] (4 C); loss: mean cross-entropy.
 *
 * The attention is one of softmax (with attention dropout), Nystrom (conv
 * 35 over V as their LRA runs, 6 pseudo-inverse iterations), Linformer
 * (one projection E of heads x k x max_seq_len, shared by K and V and by
 * every layer), Performer (performer-pytorch's FastAttention with ReLU
 * random features, each layer's drawn once from the seed and never
 * trained), linear attention (elu + 1), none (the values, no mixing) or
 * Reformer (transformers' LSHSelfAttention as the authors call it: W_q's
 * weight alone, no bias, is the shared query-key projection and W_v's
 * weight the values; W_k and the three biases are in the table but
 * unused, as theirs; H hash rounds over each layer's random rotations,
 * drawn once from the seed and never trained), as backend ops
 * (nys_backend.h).
 *
 * It is a nys_model (model_impl.h's arch): the tensor table, buffers,
 * AdamW step, checkpoints and the training loop are the pretraining
 * model's.  A batch (nys_batch) is B documents of T tokens with their
 * mask and B labels; with two documents a record (dual) it is 2P
 * documents, the P first ones then the P second ones, and P labels.
 */
#ifndef NYS_LRA_MODEL_H
#define NYS_LRA_MODEL_H

#include "nys.h"
#include "nys_model.h"

#include <jansson.h>

typedef enum nys_lra_attn {
	NYS_LRA_SOFTMAX, NYS_LRA_NYSTROM, NYS_LRA_LINFORMER, NYS_LRA_PERFORMER,
	NYS_LRA_LINEAR, NYS_LRA_NONE, NYS_LRA_REFORMER,
} nys_lra_attn;

typedef struct nys_lra_model_config {
	uint32_t vocab_size, max_seq_len, num_classes;
	uint32_t dim;        /* embedding_dim = transformer_dim (64) */
	uint32_t hidden_dim; /* transformer_hidden_dim: the FFN's and the classifier's (128) */
	uint32_t num_head, head_dim, num_layers;
	double dropout_prob, attention_dropout;
	bool dual;           /* two documents a record (Retrieval) */
	nys_lra_attn attn;
	uint32_t attn_size;  /* landmarks, Linformer's k, Performer's features, Reformer's hashes */
	uint32_t conv_kernel_size, inv_iterations; /* Nystrom: 35, 6 */
	uint32_t lsh_chunk;  /* Reformer: the chunk length (64) */
	uint32_t lsh_buckets; /* Reformer: buckets a round; 0: nys_lra_lsh_buckets's */
} nys_lra_model_config;

/* --attn's word into c->attn and c->attn_size (and Nystrom's conv 35 and 6
 * iterations, Reformer's chunks of 64): softmax, nystrom-M, linformer-K,
 * performer-F, linear, none, reformer-H.  -1 with e set for anything else. */
int nys_lra_attn_parse(const char *s, nys_lra_model_config *c, nys_err *e);
/* Reformer's buckets a round for sequences of n tokens in chunks of c, by
 * transformers' rule (LSHSelfAttention._set_num_buckets): the power of 2
 * at most 2 (n / c), at least 2; 0 where that rule would factorise them
 * (more than 2 max(sqrt(n / c), c)), which is not built. */
uint32_t nys_lra_lsh_buckets(uint32_t n, uint32_t c);
/* The same word back, into buf[32]. */
const char *nys_lra_attn_name(const nys_lra_model_config *c, char buf[32]);
/* NULL, or what is wrong with c (a static string). */
const char *nys_lra_model_check(const nys_lra_model_config *c);

/* The model on the device (or backend, when not NULL) in dtype; all
 * parameters 0 until nys_lra_model_init. */
nys_model *nys_lra_model_new(const nys_lra_model_config *c, nys_dtype dtype, nys_device device,
                             nys_backend *backend, nys_err *e);
/* Fresh weights from seed: embeddings and Linformer's E N(0, 0.02),
 * linear and conv weights and biases PyTorch's U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), LayerNorm 1 and 0, Performer's features the Gaussian
 * orthogonal random matrix of performer-pytorch (blocks of D orthonormal
 * rows, each row scaled by the norm of a Gaussian D-vector), Reformer's
 * rotations N(0, 1) as theirs (drawn there at every forward, here once). */
int nys_lra_model_init(nys_model *m, uint64_t seed, nys_err *e);
/* The model's config (the metadata of its checkpoints), as a JSON object. */
json_t *nys_lra_model_config_json(const nys_lra_model_config *c);

#endif
