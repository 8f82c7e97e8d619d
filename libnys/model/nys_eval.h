/* nys-eval's library part: token-id lines (nys_idlines.h) in, a model's
 * outputs out.  nys_eval_forward pads the lines to one length, runs a
 * model over them in eval mode and writes its final hidden states or MLM
 * logits at every position as one .npy array (nys_npy.h).
 */
#ifndef NYS_EVAL_H
#define NYS_EVAL_H

#include "nys.h"
#include "nys_idlines.h"
#include "nys_model.h"

/* The padded length the config itself demands, or 0 when any will do:
 * with Nystrom attention and num_landmarks != seq_len, the config's
 * seq_len, since the authors' and transformers' code reshape into exactly
 * seq_len / num_landmarks segments and only at that length do the outputs
 * equal theirs. */
uint32_t nys_eval_fixed_length(const nys_model_config *c);

/* Whether a sequence's outputs depend on the other sequences of its batch:
 * Nystrom attention with landmarks (num_landmarks != seq_len) and the
 * original pseudo-inverse initialisation, which divides by the largest
 * column sum over the whole batch.  nys_eval_forward then runs one
 * sequence at a time. */
bool nys_eval_batch_coupled(const nys_model_config *c);

/* Lines a forward when the caller does not choose: about 4096 tokens of
 * activations, fewer when the MLM logits (vocab_size floats a position,
 * twice) would need more than 256 MB; 1 to 64. */
int nys_eval_default_batch(const nys_model_config *c, uint32_t T, bool logits);

typedef struct nys_eval_opts {
	uint32_t T;        /* padded length: every line is padded to it */
	int batch;         /* lines a forward (1 when batch-coupled) */
	nys_output which;  /* NYS_OUT_HIDDEN (B, T, C) or NYS_OUT_LOGITS (B, T, V) */
} nys_eval_opts;

/* Run m (float32; for NYS_OUT_LOGITS built with .mlm) over the lines in
 * eval mode and write the outputs to out as one float32 .npy array of
 * shape (lines, T, C or V).  Shorter lines are padded with id 0 and masked
 * (mask 0); every position, padded ones too, has its row in the output.
 * The results do not depend on the batch size (up to the order of
 * floating-point sums), see nys_eval_batch_coupled. */
int nys_eval_forward(nys_model *m, const nys_idlines *l, const nys_eval_opts *o, nys_out *out,
                     nys_err *e);

/* The vocab_size of the model config a checkpoint was saved with (its
 * "nys_model" metadata), or 0 when it has none.  nys-train takes the
 * vocabulary from the shards, so a trained checkpoint may have another
 * than its config.json says. */
uint32_t nys_eval_saved_vocab(const nys_st *st);

/* Compare the model config a checkpoint was saved with (its "nys_model"
 * metadata) with c, ignoring what does not change a forward in eval mode
 * (dropout, mixed precision, checkpointing).  Returns 1 and the differing
 * keys ("attn_type, num_landmarks") in diff when they differ, 0 when they
 * agree or the file has no such metadata (a checkpoint from elsewhere),
 * -1 when the metadata is malformed (name: the file, for the message). */
int nys_eval_config_diff(const nys_st *st, const char *name, const nys_model_config *c,
                         char *diff, size_t n, nys_err *e);

#endif
