/* `nys-lra train` (nys-lra(1)): one Long Range Arena run, the authors'
 * LRA/code/run_tasks.py as a library driver.  The task's config
 * (pipeline/configs/lra/TASK.json, their lra_config.py) gives the model's
 * sizes and the training settings; the prepared task folder (nys-lra(5),
 * nys_lra_data.h) the vocabulary, the classes and the records.
 *
 *   AdamW (betas 0.9, 0.999, eps 1e-6, the config's weight decay, 0) under
 *   OneCycleLR with linear warmup over `warmup` steps then linear decay
 *   (theirs: pct_start = warmup / num_train_steps), batches of batch_size
 *   training records in a seeded order (a new permutation every pass);
 *   every eval_frequency steps the dev records are scored and the best
 *   accuracy's parameters kept (best.model); at the end the test records
 *   are scored, every one of them, with the best parameters.
 *
 * Documents are cut at max_seq_len and padded to it (the authors' fixed
 * lengths); the mask, not a token value, says what is padding.  The run
 * folder holds the checkpoints of nys_ckpt.h (one per evaluation, the
 * newest kept, stop checkpoints when a run stops between them), the
 * JSON-lines log lra.log and result.json.  Resuming takes the newest
 * checkpoint: the result is bitwise that of a run that never stopped.
 */
#ifndef NYS_LRA_TRAIN_H
#define NYS_LRA_TRAIN_H

#include "nys.h"
#include "nys_backend.h"
#include "nys_train.h" /* nys_train_end */

#include <signal.h>

typedef struct nys_lra_train_opts {
	const char *task;    /* the task the data must be, by name (NULL: any) */
	const char *config;  /* the task's JSON */
	const char *attn;    /* softmax, nystrom-M, linformer-K, performer-F, linear, none */
	const char *data;    /* the prepared task folder */
	const char *out;     /* the run folder (created) */
	uint64_t steps;      /* num_train_steps instead of the config's; 0: the config's */
	uint64_t warmup;     /* warmup steps instead of the config's (with steps); 0: scaled */
	uint64_t eval_every; /* eval_frequency instead of the config's; 0: the config's */
	uint64_t dev_max;    /* score at most this many dev records; 0: all */
	uint64_t batch;      /* batch_size instead of the config's; 0: the config's */
	uint64_t micro;      /* records a micro-batch; 0: the whole batch */
	uint32_t max_len;    /* max_seq_len instead of the config's; 0: the config's */
	uint64_t max_steps;  /* stop (with a checkpoint) once this many steps are done */
	uint64_t seed;
	int threads;         /* 0: OpenMP's default */
	nys_device device;
	bool progress;       /* a progress line on stderr */
	volatile sig_atomic_t *stop; /* set by a signal: checkpoint and stop */
} nys_lra_train_opts;

/* Train (or resume), evaluate and score as above; info gets the run's
 * informational lines.  0 with *end, or -1 with e set. */
int nys_lra_train_run(const nys_lra_train_opts *o, void (*info)(void *ctx, const char *line),
                      void *ctx, nys_train_end *end, nys_err *e);

#endif
