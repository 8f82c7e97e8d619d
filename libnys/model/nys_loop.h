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
 *   all-reduce of the gradients: the world's, below, then the driver's)
 *   a non-finite gradient is an error
 *   AdamW with the learning rate and beta1 of OneCycleLR at this step
 *
 * In a data-parallel world of W ranks (nys_world; nys_dist.h makes one
 * over MPI) every rank runs the same loop with the same options: rank r
 * trains the micro-batches k = r, r + W, r + 2W, ... of each step and
 * skips the others' sequences (skip()), so a micro-batch holds the same
 * sequences, gets the same dropout seed (from its k) and the same weight
 * nb / batch whatever W is, and the sum of the ranks' gradients is the
 * gradient of one process (up to the order of the additions).  The
 * measurements are summed over the ranks per micro-batch, then in k order,
 * so they are exactly those of one process given the same model; the stop
 * flag of each rank is summed with them, so all ranks agree on the step
 * to stop after.
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

#include <signal.h>

/* Informational lines of a run (what was loaded, checkpoints written):
 * fn(ctx, line) when fn is given. */
typedef struct nys_info {
	void (*fn)(void *ctx, const char *line);
	void *ctx;
} nys_info;

void nys_info_say(const nys_info *in, const char *fmt, ...) NYS_PRINTF(2, 3);

/* A data-parallel world: this process is rank `rank` of `world` (0 or 1:
 * a single process, the functions unused).  sum() adds n doubles in place
 * over all ranks, every rank getting the same result; grads() does the
 * same with the model's gradient buffer.  Each returns 0 or -1 with e set
 * (a rank that fails to answer in time brings the job down instead). */
typedef struct nys_world {
	unsigned rank, world;
	int (*sum)(void *ctx, double *buf, size_t n, nys_err *e);
	int (*grads)(void *ctx, nys_model *m, nys_err *e);
	/* n 128-bit two's complement integers (little-endian: the low 64 bits
	 * first) summed in place, modulo 2^128. */
	int (*sum_exact)(void *ctx, void *buf, size_t n, nys_err *e);
	void *ctx;
} nys_world;

static inline bool nys_world_many(const nys_world *w)
{
	return w && w->world > 1;
}

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
	/* The data-parallel world, or NULL for one process (a world of one
	 * with its functions is summed over too: nys_dist_reduce_alone).  With more than
	 * one rank, skip() passes over the n sequences of a micro-batch that
	 * another rank trains (the data must stay in step), and *stop (or
	 * NULL) is each rank's wish to stop, agreed on in nys_loop_sums. */
	const nys_world *world;
	int (*skip)(void *ctx, int n, nys_err *e);
	const volatile sig_atomic_t *stop;
	bool exact;          /* the exact sum of the micro-batches' gradients (above) */
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
	void *xg, *xacc;             /* exact: a host gradient, the 128-bit sums */
} nys_loop;

/* What a step measured, each micro-batch weighted nb / batch: the loss,
 * the accuracy (correct / (count + 1e-6)), the labels (count + 1e-6) and
 * the sequences (so batch sums to the step's sequences). */
typedef struct nys_loop_sums {
	double loss, accu, count, batch;
	/* With a world of many ranks: some rank's *stop was set at the end of
	 * this step (all ranks get the same answer). */
	bool stop;
} nys_loop_sums;

/* A loop at step 0 over the float model m (zero moments): -1 with e set
 * when memory runs out. */
int nys_loop_init(nys_loop *t, nys_model *m, const nys_loop_opts *o, nys_err *e);
/* What nys_loop_init allocated (with exact only); the loop's model stays. */
void nys_loop_free(nys_loop *t);
/* One optimizer step, as at the top of this file: 0 with *sum, or -1 with
 * e set (nothing is then to be trusted of the model's state). */
int nys_loop_step(nys_loop *t, nys_loop_sums *sum, nys_err *e);
/* The learning rate and beta1 the schedule gives the next step. */
int nys_loop_schedule(const nys_loop *t, double *lr, double *beta1, nys_err *e);

#endif
