/* Masked-LM pretraining, as the authors' run_pretrain.py runs it: the
 * config.json of the original code (model, pretraining_setting,
 * gpu_setting, data_folder, model_checkpoints, from_cp), AdamW under
 * OneCycleLR (nys_optim.h), the shards of data_folder (nys_data.h) masked
 * on the fly, per-epoch checkpoints that resume exactly.  nys-train(1) is
 * the user's view; this is the library side, which never exits.
 */
#ifndef NYS_TRAIN_H
#define NYS_TRAIN_H

#include "nys.h"
#include "nys_backend.h" /* nys_device */
#include "nys_loop.h"    /* nys_world */

#include <signal.h>

typedef struct nys_train_opts {
	const char *config;      /* the config file (default "config.json") */
	const char *data;        /* overrides data_folder, or NULL */
	const char *checkpoints; /* overrides model_checkpoints, or NULL */
	nys_device device;
	int threads;             /* 0: OpenMP's default */
	uint64_t seed;           /* with seed_set: overrides pretraining_setting.seed */
	bool seed_set;
	uint64_t max_steps;      /* stop once this many optimizer steps are done; 0: no limit */
	unsigned keep;           /* keep the newest `keep` epoch checkpoints; 0: all */
	bool progress;           /* a progress line on stderr (a terminal) */
	/* Set (by a signal handler) to finish the step, write a checkpoint and
	 * return. */
	volatile sig_atomic_t *stop;
	/* A data-parallel world (nys_dist.h) or NULL for one process: every
	 * rank reads the same data and checkpoints, trains its share of each
	 * step (nys_loop.h), and only rank 0 writes checkpoints and the log. */
	const nys_world *world;
	/* Sum the micro-batches' gradients exactly (nys_loop.h): the same run
	 * bitwise on any number of ranks. */
	bool exact;
	/* With matmul_set: the dense layers' products in matmul (nys-train
	 * --precision) instead of what the config's mixed_precision says
	 * (true: NYS_MATMUL_BF16).  Only CUDA computes in bf16. */
	bool matmul_set;
	nys_matmul matmul;
} nys_train_opts;

/* How a run ended, when it did not fail. */
typedef enum nys_train_end {
	NYS_TRAIN_DONE,     /* every epoch of the config trained */
	NYS_TRAIN_STOPPED,  /* max_steps reached or *stop set: checkpoint written */
} nys_train_end;

/* Train (or resume) as the options and the config say.  Informational
 * lines (what was loaded, checkpoints written) go to info(ctx, line) when
 * info is given.  Returns 0 with *end set, or -1 with e set: bad config,
 * missing or damaged data or checkpoint, a non-finite loss (the last good
 * checkpoint stays), a write that failed. */
int nys_train_run(const nys_train_opts *o, void (*info)(void *ctx, const char *line),
                  void *ctx, nys_train_end *end, nys_err *e);

#endif
