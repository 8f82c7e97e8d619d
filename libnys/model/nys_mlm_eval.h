/* Masked-LM validation: the loss and accuracy of a model on the first
 * sequences of a shard list (dev.json), masked with a fixed seed, as the
 * authors' validation computes them.  One code for the two users: nys-train's
 * validation after every epoch (pretrain.c) and `nys-eval mlm`, which
 * scores saved checkpoints afterwards, so that the two give the same
 * numbers for the same checkpoint and settings.
 *
 * The definitions (the authors' run_pretrain.py / run_validation.py, and
 * nys_model.h's loss): the sequences are forwarded in micro-batches in eval
 * mode; a micro-batch's loss is its mean cross-entropy over the masked
 * positions, sum / (labels + 1e-6); the score's loss is the micro-batch
 * losses weighted by (labels + 1e-6) over the labels + 1e-6 of all of
 * them, its accuracy the correct arg-max predictions over the labels + 1e-6.
 */
#ifndef NYS_MLM_EVAL_H
#define NYS_MLM_EVAL_H

#include "nys.h"
#include "nys_data.h"
#include "nys_loop.h"
#include "nys_model.h"
#include "nys_settings.h"

typedef struct nys_mlm_eval_opts {
	uint64_t sequences;  /* score at most this many, from the list's start */
	int micro;           /* sequences a forward (>= 1) */
	uint64_t seed;       /* the run's seed: the masks' seed is derived from it */
	nys_mlm_opts mlm;    /* the masking (nys_mlm_check passed) */
	/* A data-parallel world (nys_loop.h) or NULL: rank r forwards the
	 * micro-batches j = r, r + W, ... (reading past the others'), and the
	 * micro-batches' sums, added over the ranks and then in j order, give
	 * every rank the score of one process, bitwise. */
	const nys_world *world;
} nys_mlm_eval_opts;

typedef struct nys_mlm_score {
	double loss;         /* as above */
	double accuracy;
	double count;        /* masked positions scored */
	uint64_t sequences;  /* sequences scored (fewer than asked when the list ends) */
} nys_mlm_score;

/* Score m (float32, built with .mlm) on the sequences of dev from its
 * start: the loader (opened without shuffle and cycle) is moved back to
 * the start first, so calls repeat exactly.  The sequence numbered c
 * (from 0) is masked with nys_mlm_mask's counter c and a seed that depends
 * only on o->seed, so the masks are the same for every checkpoint of a
 * run.  0 with *s set (all zero when dev holds no sequence), or -1. */
int nys_mlm_eval(nys_model *m, nys_loader *dev, const nys_mlm_eval_opts *o, nys_mlm_score *s,
                 nys_err *e);

/* The masking nys-train uses: HuggingFace's defaults, never choosing the
 * shards' [CLS] and [SEP] nor the settings' <pad>, <unk> and [MASK]
 * (written into special[5], which *mlm points into).  -1 when the
 * settings' ids do not fit the vocabulary. */
int nys_mlm_setup(const nys_loader_info *li, const nys_pretrain_settings *s,
                  int32_t special[5], nys_mlm_opts *mlm, nys_err *e);

/* ---- nys-eval mlm ---------------------------------------------------------- */

typedef struct nys_mlm_run_opts {
	const char *config;      /* the training config (default "config.json") */
	const char *checkpoint;  /* "all", an epoch number (digits: cp-EEEE.model of the
	                            config's model_checkpoints) or a checkpoint's path */
	uint64_t batches;        /* batches of batch_size sequences; 0: the config's
	                            validate_batches_per_epoch, all of dev.json if that is 0 */
	uint64_t batch_size;     /* 0: the config's pretraining_setting.batch_size */
	const char *data;        /* overrides data_folder, or NULL */
	/* Scored data-parallel over this world (only its rank 0 writes to out),
	 * with this many threads a rank (0: OpenMP's default); or NULL. */
	const nys_world *world;
	int threads;
	nys_device device;       /* where the model runs (nys_backend.h; 0: auto) */
} nys_mlm_run_opts;

/* Score the checkpoints o names on the config's dev.json as nys-train
 * validates (the same masks, micro-batches of gpu_setting.inst_per_gpu),
 * one JSON line each on out, in increasing epoch order for "all":
 *   {"checkpoint": PATH, "epoch": E, "idx": STEP, "valid_count": LABELS,
 *    "valid_inst": SEQUENCES, "valid_loss": L, "valid_mlm_accu": A}
 * keys sorted, numbers as nys-train's log writes them (epoch and idx only
 * for a file named cp-EEEE.model: idx is the step that ended the epoch).
 * A folder without epoch checkpoints, a missing checkpoint, a data folder
 * without dev sequences, a checkpoint of another vocabulary: -1 with e. */
int nys_mlm_run(const nys_mlm_run_opts *o, nys_out *out, const nys_info *info, nys_err *e);

#endif
