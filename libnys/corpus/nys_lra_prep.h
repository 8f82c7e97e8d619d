/* `nys-lra prepare`: one LRA task's files (nys_lra_read.h) to a prepared
 * task folder, DIR/train-NNNNN.lra, dev-NNNNN.lra, test-NNNNN.lra and
 * DIR/manifest.json (nys-lra(5)), all put in place together.
 *
 * Where each split comes from, by task (INPUT the folder given):
 *
 *   listops     INPUT/NAME_train.tsv, NAME_val.tsv, NAME_test.tsv (NAME
 *               basic), or the files of --train, --dev, --test
 *   text        INPUT/train and INPUT/test (aclImdb); dev is the test
 *               split, as LRA's text task evaluates on it
 *   retrieval   INPUT/new_aan_pairs.train.tsv, .eval.tsv, .test.tsv, or
 *               --train, --dev, --test
 *   image       INPUT/data_batch_1.bin .. data_batch_5.bin and
 *               test_batch.bin (cifar-10-batches-bin); dev is the last 10%
 *               of train, as LRA's train[90%:]
 *   pathfinder  INPUT/DIFFICULTY (curv_contour_length_14 by default, LRA's
 *               "hard"): all its records in metadata order, split 80/10/10
 *               as LRA's [:80%], [80%:90%], [90%:]
 *
 * dev_count holds out that many train records for dev instead (drawn with
 * random.sample-like seeded draws), for every task.  A split given neither
 * by INPUT nor by a file is left out (the manifest lists what there is).
 */
#ifndef NYS_LRA_PREP_H
#define NYS_LRA_PREP_H

#include "nys_lra_data.h"

typedef struct nys_lra_prep_opts {
	nys_lra_task task;
	const char *input;               /* the task's folder, or NULL */
	const char *train, *dev, *test;  /* files instead (listops, retrieval) */
	const char *dir;                 /* the prepared task folder */
	const char *name;                /* listops files' prefix (basic) */
	const char *difficulty;          /* pathfinder's folder */
	uint32_t max_len;                /* 0: the task's default */
	uint64_t dev_count;              /* UINT64_MAX: the task's way */
	uint64_t seed;                   /* for dev_count */
	uint64_t per_shard;              /* records a shard (8192) */
	bool quiet;                      /* no summary on stderr */
} nys_lra_prep_opts;

void nys_lra_prep_defaults(nys_lra_prep_opts *o);
int nys_lra_prepare(const nys_lra_prep_opts *o, nys_err *e);

#endif
