/* GLUE fine-tuning, as the authors' run_glue.py runs it: a pretrained
 * checkpoint's encoder under a fresh classification head (seeded), AdamW
 * (eps 1e-6, weight decay 0.01) under OneCycleLR (5% warmup, linear, beta1
 * cycling) through the training step every driver shares (nys_loop.h),
 * the dev split scored after every epoch with the task's GLUE metrics.
 * nys-eval(1), "glue", is the user's view; this is the library side, a
 * sibling of pretrain.c, which never exits.
 *
 * The task's files, their encoding to ids, the metrics and the prediction
 * files are the GLUE layer's (nys_glue.h, nys_metrics.h); what is
 * fine-tuning's is here: the checkpoint and its tokenizer, the model and
 * its head, batches and their padding, the epochs, the log, --save and
 * --eval-only.
 *
 * Everything random is a function of the seed: the head's initial weights,
 * the order of the training examples each epoch and dropout, so the same
 * seed and thread count give the same log, byte for byte apart from its
 * timing fields ("time", "tokens_per_s").
 */
#ifndef NYS_FINETUNE_H
#define NYS_FINETUNE_H

#include "nys.h"
#include "nys_backend.h" /* nys_device */
#include "nys_loop.h"    /* nys_world */
#include "nys_model.h"   /* nys_cls_act */

/* How a batch is padded. */
typedef enum nys_ft_pad {
	NYS_FT_PAD_MAX,     /* to max_seq_len, as the authors' code (the default) */
	/* to the batch's longest sequence; with Nystrom landmarks only where
	 * that is at least num_landmarks (the segments then uneven), else to
	 * max_seq_len.  Nystrom outputs then differ from padded ones. */
	NYS_FT_PAD_LONGEST,
} nys_ft_pad;

typedef struct nys_ft_opts {
	const char *config;      /* the config file (default "config.json") */
	const char *task;        /* the GLUE task: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, ... */
	/* An epoch number (digits only: cp-EEEE.model of the config's
	 * model_checkpoints folder) or a path; with eval_only, the checkpoint
	 * --save wrote. */
	const char *checkpoint;
	const char *glue;        /* overrides glue_dataset_folder, or NULL */
	const char *spm;         /* the sentencepiece model (required) */
	bool lower;              /* lower-case the text first, as tokenize encode --lower */
	nys_cls_act head;        /* NYS_CLS_TANH: --head authors; NYS_CLS_GELU: --head hf */
	uint64_t seed;
	uint64_t batch_size;     /* examples a step */
	double lr;               /* OneCycleLR's max_lr */
	uint64_t epochs;
	const char *predict;     /* a folder for the prediction files, or NULL */
	const char *save;        /* the best epoch's model as a checkpoint, or NULL */
	bool eval_only;          /* score the checkpoint's own head, no training */
	bool score_train;        /* also score the training split each epoch */
	nys_ft_pad pad;
	nys_device device;
	int threads;             /* 0: OpenMP's default */
	bool progress;           /* a progress line on stderr (a terminal) */
	/* Examples a forward while training (0: batch_size alone, in a world
	 * of W ranks ceil(batch_size / W)): a step's micro-batches, each with
	 * its own dropout draws, so a run equals another given the same micro
	 * whatever the number of ranks. */
	uint64_t micro;
	/* Sum each step's micro-batch gradients exactly (nys_loop_opts.exact),
	 * so that any number of ranks fine-tunes bitwise the same. */
	bool exact;
	/* The data-parallel world (nys_dist.h), or NULL for one process.  Rank
	 * r trains the micro-batches k = r, r + W, ... of each step (nys_loop.h)
	 * and predicts the scoring batches j = r, r + W, ... of each split; the
	 * predictions are gathered to every rank, so each computes the metrics
	 * of one process exactly; rank 0 alone writes the log, --save and
	 * --predict. */
	const nys_world *world;
} nys_ft_opts;

/* Fine-tune (or, with eval_only, score) as the options say.  The log goes
 * to glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.log in the config's checkpoint
 * folder, one JSON line an epoch; the summary (one JSON line, no newline)
 * into *summary (the caller's to free).  Informational lines go to
 * info(ctx, line) when info is given (warnings too: a checkpoint without a
 * tokenizer fingerprint).  Returns 0, or -1 with e set: a bad config,
 * task, checkpoint or tokenizer (a fingerprint other than the
 * checkpoint's, both named), a damaged TSV file (file and line), a
 * non-finite loss, a write that failed. */
int nys_ft_run(const nys_ft_opts *o, void (*info)(void *ctx, const char *line), void *ctx,
               char **summary, nys_err *e);

/* The log's file name for these options, glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.log
 * (CHECKPOINT: the epoch number, or the file's name without its folder
 * and extension; LR as %g), into buf[n]. */
void nys_ft_log_name(const nys_ft_opts *o, char *buf, size_t n);

#endif
