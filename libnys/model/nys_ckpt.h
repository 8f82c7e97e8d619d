/* The checkpoint folder of a training run (nys-train(1) describes the
 * files): after every epoch a pair cp-EEEE.model (the parameters) and
 * cp-EEEE.cp (the parameters, the AdamW moments and the training state,
 * for resuming), and stop-SSSSSSSS.cp when a run stops between epochs;
 * each written through a temporary file renamed into place.  Resuming
 * takes the newest that loads; writing one prunes those it supersedes.
 *
 * The training state (safetensors metadata "nys_train") is the loop's
 * (nys_loop.h: step, sequences trained, AdamW's step, the seed, seconds of
 * training) and the driver's: where its data stands, which only the driver
 * knows, through nys_ckpt_data.  Nothing here is of one task: masked-LM
 * pretraining and fine-tuning share it.
 */
#ifndef NYS_CKPT_H
#define NYS_CKPT_H

#include "nys.h"
#include "nys_loop.h"
#include "nys_safetensors.h"

#include <jansson.h>

/* The driver's part of the training state. */
typedef struct nys_ckpt_data {
	/* Its fields, `"key": value` pairs joined by ", ", into buf[n]. */
	void (*save)(void *ctx, char *buf, size_t n);
	/* Read its fields from a state object: false when one is missing or
	 * damaged.  What it read is used only by the seek that follows. */
	bool (*parse)(void *ctx, const json_t *state);
	/* Move the data to what parse read: 0, or -1 with e set. */
	int (*seek)(void *ctx, nys_err *e);
	void *ctx;
} nys_ckpt_data;

typedef struct nys_ckpt {
	const char *dir;          /* the folder (it exists) */
	const char *config;       /* the config file, for messages */
	const char *vocab_of;     /* whose vocabulary the model has, for messages */
	uint64_t per_epoch;       /* optimizer steps an epoch: cp-EEEE ends step (E+1) * per_epoch */
	uint64_t total_steps;     /* a state past it is damaged */
	uint64_t seed;            /* the run's: a checkpoint made with another is refused */
	unsigned keep;            /* the newest epoch checkpoints kept; 0: all */
	nys_loop *loop;           /* whose state is saved and restored */
	/* The tokenizer fingerprint (16 hex digits, nys_tokenizer_meta) that
	 * every checkpoint written gets as its "nys_tokenizer" metadata, so
	 * that fine-tuning can refuse another sentencepiece model; NULL: none. */
	const char *tokenizer;
	nys_ckpt_data data;
	nys_info info;
} nys_ckpt;

/* Restore the loop, the model and the driver's data from the newest
 * checkpoint that loads; a damaged one is reported (info) and the next
 * older tried, but one of another model config, seed or checkpoint
 * period is an error, and so is a folder whose checkpoints all fail (a
 * fresh start there would overwrite the run's log).  1 when resumed, 0
 * when there is none, -1 with e set. */
int nys_ckpt_resume(nys_ckpt *c, nys_err *e);

/* Write the end-of-epoch pair (when the loop's step ends an epoch) or a
 * stop checkpoint for the loop's step, then prune: the stop checkpoints it
 * supersedes and, with keep, the epoch checkpoints older than the newest
 * `keep` that load. */
int nys_ckpt_save(nys_ckpt *c, nys_err *e);

/* The "nys_tokenizer" metadata of a checkpoint: the fingerprint of the
 * sentencepiece model (nys_spm_fingerprint, the one shards and token
 * streams carry) as 16 lower-case hex digits into buf[17]. */
#define NYS_TOKENIZER_META "nys_tokenizer"
void nys_tokenizer_meta(uint64_t fingerprint, char buf[17]);
/* A checkpoint's tokenizer fingerprint: 1 with *fp, 0 when it has none (an
 * older checkpoint, nys-eval init's), -1 with e set when it is malformed
 * (name: the file, for the message). */
int nys_tokenizer_of(const nys_st *st, const char *name, uint64_t *fp, nys_err *e);

/* A non-negative integer field of a state object (a JSON integer or a
 * decimal string, as 64-bit values are written); *ok = false when it is
 * neither. */
uint64_t nys_ckpt_u64(const json_t *o, const char *key, bool *ok);

/* Keep the lines of the JSON-lines log at path (absent: nothing to do) of
 * the steps before `step` and of the validations ("valid_loss") up to it,
 * setting *validated when one is of `step` itself: a resumed run writes
 * the rest again.  Through a temporary file. */
int nys_ckpt_trim_log(const char *path, uint64_t step, bool *validated, nys_err *e);

/* The epoch E of a file named cp-EEEE.model (four digits or more, in any
 * folder), or -1 for any other name. */
long long nys_ckpt_epoch_of(const char *path);
/* The epochs of the cp-EEEE.model files in dir (the parameters nys_ckpt_save
 * writes at the end of every epoch), in increasing order, into *epochs (the
 * caller's to free; NULL when there are none).  -1 when dir cannot be read. */
int nys_ckpt_epochs(const char *dir, uint64_t **epochs, size_t *n, nys_err *e);

#endif
