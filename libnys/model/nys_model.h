/* The Nystromformer model: the authors' network (mlpen/Nystromformer,
 * code/model.py and model_wrapper.py) assembled from the ops of nys_ops.h,
 * with its masked-LM and sequence-classification heads, forward and
 * backward, and checkpoints in HuggingFace's names (nys-checkpoint(5)).
 *
 *   embeddings: word + position (t + 2) + token type, [dense E -> C],
 *               LayerNorm (eps 1e-5), dropout
 *   each layer (post-LN, as BERT):
 *       x = LN1(x + dropout(Wo attention(Wq x, Wk x, Wv x, mask)))
 *       x = LN2(x + dropout(W2 gelu_tanh(W1 x)))
 *   masked-LM head, at the labelled positions only (or at every position
 *   when no labels are given): dense C -> E, gelu (tanh or erf), LayerNorm,
 *   decoder tied to the word embeddings plus a bias; loss: the authors'
 *   sum of cross-entropies / (number of labels + 1e-6)
 *   classifier on the first token: dropout, dense C -> C, tanh (or the
 *   GELU of transformers' head), dropout, dense C -> labels; loss: mean
 *   cross-entropy, or mean squared error with one label (regression)
 *
 * Memory, as in llm.c: the parameters are one buffer laid out from a table
 * of tensors (nys_model_tensor), the gradients and AdamW's two moments more
 * buffers of the same layout, made on first use; the activations of one
 * (batch, length) come from one arena, sized on the first forward of that
 * shape and kept.  All of it is the backend's memory (nys_backend.h: the
 * device the options name): the model's code runs everything as backend
 * ops, and the host sees the buffers only through copies (nys_model_get,
 * nys_model_set, nys_model_output).  The CPU backend uses OpenBLAS for the
 * products and OpenMP threads for the rest.
 *
 * A model is built over float (NYS_F32: training and inference) or double
 * (NYS_F64: the tests' finite-difference checks of the whole network); the
 * model's code is compiled once, the precision is the backend's.
 * The library never exits: failures return -1 / NULL with e set.
 */
#ifndef NYS_MODEL_H
#define NYS_MODEL_H

#include "nys.h"
#include "nys_backend.h" /* nys_device, NYS_IGNORE_LABEL */
#include "nys_config.h"
#include "nys_optim.h"
#include "nys_safetensors.h"

/* The classifier's activation between its two dense layers. */
typedef enum nys_cls_act {
	NYS_CLS_TANH, /* the authors' SequenceClassificationHead */
	NYS_CLS_GELU, /* transformers' NystromformerClassificationHead (gelu_new) */
} nys_cls_act;

typedef struct nys_model_opts {
	nys_dtype dtype;     /* NYS_F32 or NYS_F64 */
	bool mlm;            /* with the masked-LM head */
	int num_labels;      /* classifier: 0 none, 1 regression (MSE), >= 2 classes */
	nys_cls_act cls_act;
	nys_device device;   /* where it runs (NYS_DEVICE_AUTO: the CPU today) */
	/* The dense layers' products (nys_backend.h): NYS_MATMUL_BF16 for a
	 * config's mixed_precision; set in the backend the model makes (a
	 * caller's backend keeps its own setting).  The CPU ignores it. */
	nys_matmul matmul;
	/* A backend of the caller's to run on instead (its dtype must be
	 * dtype), which the model uses and does not free; NULL: the model makes
	 * one for device and frees it. */
	nys_backend *backend;
} nys_model_opts;

/* One tensor of the parameter buffer, by its checkpoint name. */
typedef struct nys_tensor_info {
	char name[96];
	int ndim;
	int64_t shape[4];
	size_t offset, numel; /* in elements of the parameter buffer */
	/* Another name for an earlier tensor's storage (the tied decoder
	 * weight and bias): written to checkpoints, never read from them. */
	bool alias;
	/* Part of a head (MLM or classifier) rather than of the encoder. */
	bool head;
} nys_tensor_info;

/* One batch: B sequences of T tokens. */
typedef struct nys_batch {
	int B, T;
	const int32_t *ids;      /* (B, T) token ids, 0 <= id < vocab_size */
	const int32_t *type_ids; /* (B, T), or NULL for all 0 */
	/* (B, T) 1 for a token, 0 for padding, or NULL for no padding (the
	 * authors' pretraining passes none). */
	const float *mask;
	/* MLM: (B, T), the token to predict or a negative value (-100) for no
	 * label; NULL: no loss, logits at every position.  Classifier: (B)
	 * class ids, NULL for no loss. */
	const int32_t *labels;
	const float *targets;    /* regression: (B), or NULL for no loss */
} nys_batch;

/* What a forward measured: the loss and, for MLM and classification, the
 * number of labels and of correct arg-max predictions. */
typedef struct nys_model_stats {
	double loss;
	double count, correct;
} nys_model_stats;

typedef struct nys_model nys_model;

nys_model *nys_model_new(const nys_model_config *cfg, const nys_model_opts *o, nys_err *e);
void nys_model_free(nys_model *m);

const nys_model_config *nys_model_cfg(const nys_model *m);
const nys_model_opts *nys_model_options(const nys_model *m);

/* The tensor table, in buffer order; nys_model_find: by name, or NULL. */
size_t nys_model_ntensors(const nys_model *m);
const nys_tensor_info *nys_model_tensor(const nys_model *m, size_t i);
const nys_tensor_info *nys_model_find(const nys_model *m, const char *name);
/* Elements in the parameter (and gradient) buffer. */
size_t nys_model_nparams(const nys_model *m);
/* The backend the model runs on. */
nys_backend *nys_model_backend(const nys_model *m);

/* The model's buffers, all of nys_model_nparams elements in the tensor
 * table's layout, in the backend's memory: the parameters, their gradients
 * and AdamW's exp_avg and exp_avg_sq.  All but the parameters are made,
 * zeroed, on first use. */
typedef enum nys_buffer {
	NYS_BUF_PARAMS, NYS_BUF_GRADS, NYS_BUF_EXP_AVG, NYS_BUF_EXP_AVG_SQ,
} nys_buffer;
/* Copy n elements from element `offset` of a buffer into host memory, or
 * from host memory into it, in the model's dtype (a tensor: its offset and
 * numel).  -1 with e set when memory runs out or the backend fails. */
int nys_model_get(nys_model *m, nys_buffer which, size_t offset, size_t n, void *host,
                  nys_err *e);
int nys_model_set(nys_model *m, nys_buffer which, size_t offset, size_t n, const void *host,
                  nys_err *e);
/* The buffer itself, in the backend's memory (made, zeroed, on first
 * use): for a backend's own collectives (the GPU all-reduce of the
 * gradients, nys_nccl.h), which take device pointers; NULL with e set. */
void *nys_model_buffer(nys_model *m, nys_buffer which, nys_err *e);
/* A host copy of a whole buffer (free() it); NULL with e set. */
void *nys_model_copy(nys_model *m, nys_buffer which, nys_err *e);

/* The gradients set to 0. */
int nys_model_zero_grad(nys_model *m, nys_err *e);
/* One nys_adamw_step (nys_optim.h) of the parameters from the gradients
 * and the moments, on the backend (float32 models: as training runs). */
int nys_model_adamw_step(nys_model *m, nys_adamw *o, nys_err *e);
/* nys_grad_norm and nys_grad_nonfinite of the gradients, on the backend. */
int nys_model_grad_norm(nys_model *m, double *norm, nys_err *e);
int nys_model_grad_nonfinite(nys_model *m, bool *bad, nys_err *e);

/* Fresh weights from seed, as the authors' model starts: embeddings
 * N(0, 0.02); linear weights and biases U(-1/sqrt(in), 1/sqrt(in)) and
 * conv weights U(-1/sqrt(k), 1/sqrt(k)) (PyTorch's defaults); LayerNorm
 * weight 1, bias 0; the MLM bias 0.  -1 with e set when the copy to the
 * backend fails. */
int nys_model_init(nys_model *m, uint64_t seed, nys_err *e);

/* Run the model on a batch.  train: dropout on, with masks drawn from
 * seed (use a new seed each step); otherwise eval (no dropout).  The
 * labels (targets) decide whether a loss is computed; its value and counts
 * go to *st (may be NULL).  Refuses (-1) ids, types and labels out of
 * range, a length outside 1..max_seq_len or, with Nystrom attention,
 * shorter than num_landmarks, naming the sequence and position. */
int nys_model_forward(nys_model *m, const nys_batch *b, bool train, uint64_t seed,
                      nys_model_stats *st, nys_err *e);
/* The gradient of dloss * loss of the last forward, ADDED to the gradient
 * buffer (so micro-batches accumulate); the forward must have had labels. */
int nys_model_backward(nys_model *m, double dloss, nys_err *e);

/* Outputs of the last forward, in the model's dtype, with their element
 * count: the final hidden states (B, T, C); the MLM logits (rows, V) at
 * the labelled positions in (b, t) order, or at every position without
 * labels; the classifier's scores (B, num_labels).  nys_model_output_size:
 * the count, 0 when absent.  nys_model_output copies it into host, which
 * holds that many elements; -1 with e set when it is absent. */
typedef enum nys_output { NYS_OUT_HIDDEN, NYS_OUT_LOGITS, NYS_OUT_SCORES } nys_output;
size_t nys_model_output_size(const nys_model *m, nys_output which);
int nys_model_output(nys_model *m, nys_output which, void *host, nys_err *e);

/* The most tokens (B x T) one forward takes: with the config's key limits
 * (nys_config.h), every activation size then fits 64 bits. */
#define NYS_MAX_BATCH_TOKENS (UINT64_C(1) << 26)

/* Bytes of the activations a forward and backward of B x T tokens, with
 * `rows` labelled masked-LM rows, allocates (the arenas); for memory checks
 * before a run. */
size_t nys_model_act_bytes(const nys_model *m, int B, int T, size_t rows);

/* ---- checkpoints (nys-checkpoint(5)) ----------------------------------- */

/* Write the parameters as safetensors (through nys_out: temporary name,
 * fsync, rename), in the model's dtype, with the model's config in the
 * metadata ("nys_model", the "model" section as JSON), for a classifier its
 * head ("nys_cls_act": "tanh" or "gelu"); meta: more key, value, ... NULL
 * pairs, or NULL. */
int nys_model_save(nys_model *m, const char *path, const char *const *meta, nys_err *e);
/* The parameters as safetensors entries, in table order (the aliases
 * included), into out[nys_model_ntensors(m)], read from the backend a
 * piece at a time as they are written: for writers that add tensors of
 * their own (the training state). */
void nys_model_st_entries(nys_model *m, nys_st_entry *out);
/* A whole buffer as one 1-D entry called name, read the same way (the
 * AdamW moments of the training state). */
nys_st_entry nys_model_st_buffer(nys_model *m, nys_buffer which, const char *name);
/* The "model" config JSON of nys_model_save's metadata (free() it); NULL
 * when memory runs out. */
char *nys_model_config_str(const nys_model *m);

enum {
	/* Head tensors missing from the file keep their values (fine-tuning
	 * from a pretrained checkpoint); without it every tensor is required. */
	NYS_LOAD_HEADS_OPTIONAL = 1,
	/* A position table of P rows where the model has max_seq_len + 2 is
	 * tiled, as the authors' warm start from a shorter model does: rows 0
	 * and 1, then rows 2..P-1 repeated max_seq_len / (P - 2) times (which
	 * must divide exactly). */
	NYS_LOAD_TILE_POSITIONS = 2,
};
/* Read the parameters from a safetensors file, by name, F32 or F64
 * (converted to the model's dtype).  A missing (but see flags) or
 * mis-shaped tensor is refused, named; tensors the model lacks are ignored.
 * On failure the parameters may be partly overwritten. */
int nys_model_load(nys_model *m, const char *path, unsigned flags, nys_err *e);
/* The same from a loaded file. */
int nys_model_load_st(nys_model *m, const nys_st *st, unsigned flags, nys_err *e);

#endif
