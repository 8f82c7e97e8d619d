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
#include "nys_model.h"

typedef struct nys_mlm_eval_opts {
	uint64_t sequences;  /* score at most this many, from the list's start */
	int micro;           /* sequences a forward (>= 1) */
	uint64_t seed;       /* the run's seed: the masks' seed is derived from it */
	nys_mlm_opts mlm;    /* the masking (nys_mlm_check passed) */
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

#endif
