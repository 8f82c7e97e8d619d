/* The training step, as llm.c's loop runs it, for every driver: masked-LM
 * pretraining (pretrain.c) now, GLUE fine-tuning next.  One step of
 * nys_loop_step is
 *
 *   zero the gradients
 *   for each micro-batch k of the step's `batch` sequences, `micro` at a
 *   time (the last one shorter):
 *       next(): the driver's micro-batch of nb sequences
 *       forward with dropout from seed, the step and k; a non-finite loss
 *       is an error
 *       backward with the loss weighted nb / batch, accumulating
 *   reduce(): the hook after the last backward (a data-parallel
 *   all-reduce of the gradients goes here; none today)
 *   a non-finite gradient is an error
 *   AdamW with the learning rate and beta1 of OneCycleLR at this step
 *
 * The loop knows nothing of the data, masks or files: the driver hands in
 * micro-batches through next() and keeps its own position.  What it holds
 * (the step, the sequences trained, AdamW's settings) and the model's
 * AdamW moments (on the model's backend, with the gradients) are the state
 * a checkpoint saves (nys_ckpt.h).
 */
#ifndef NYS_LOOP_H
#define NYS_LOOP_H

#include "nys.h"
#include "nys_model.h"
#include "nys_optim.h"

/* Informational lines of a run (what was loaded, checkpoints written):
 * fn(ctx, line) when fn is given. */
typedef struct nys_info {
	void (*fn)(void *ctx, const char *line);
	void *ctx;
} nys_info;

void nys_info_say(const nys_info *in, const char *fmt, ...) NYS_PRINTF(2, 3);

typedef struct nys_loop_opts {
	uint64_t batch;      /* sequences a step (at least 1) */
	uint64_t micro;      /* sequences a micro-batch, 1..batch */
	uint64_t seed;       /* of the dropout masks */
	double max_lr;       /* AdamW's starting lr (the schedule sets it each step) */
	nys_onecycle sched;  /* checked by nys_onecycle_check */
	/* The next micro-batch of n sequences into *b (whose buffers are the
	 * driver's, valid until the next call): 0, or -1 with e set (the data
	 * ran out, a read failed). */
	int (*next)(void *ctx, int n, nys_batch *b, nys_err *e);
	void *next_ctx;
	/* Called after the backward of a step's last micro-batch, before the
	 * non-finite check and the optimizer; NULL: nothing.  0, or -1 with e
	 * set. */
	int (*reduce)(void *ctx, nys_model *m, nys_err *e);
	void *reduce_ctx;
} nys_loop_opts;

typedef struct nys_loop {
	nys_loop_opts o;
	nys_model *m;                /* the driver's */
	size_t np;
	nys_adamw adam;              /* its moments are the model's */
	uint64_t step;               /* optimizer steps done */
	uint64_t inst_pass;          /* sequences trained on */
	double elapsed;              /* seconds of training before this run */
	double t_start;              /* when this run's training started (nys_now) */
} nys_loop;

/* What a step measured, each micro-batch weighted nb / batch: the loss,
 * the accuracy (correct / (count + 1e-6)), the labels (count + 1e-6) and
 * the sequences (so batch sums to the step's sequences). */
typedef struct nys_loop_sums {
	double loss, accu, count, batch;
} nys_loop_sums;

/* A loop at step 0 over the float model m (zero moments): -1 with e set
 * when memory runs out. */
int nys_loop_init(nys_loop *t, nys_model *m, const nys_loop_opts *o, nys_err *e);
/* One optimizer step, as at the top of this file: 0 with *sum, or -1 with
 * e set (nothing is then to be trusted of the model's state). */
int nys_loop_step(nys_loop *t, nys_loop_sums *sum, nys_err *e);
/* The learning rate and beta1 the schedule gives the next step. */
int nys_loop_schedule(const nys_loop *t, double *lr, double *beta1, nys_err *e);

#endif
