/* The data side of GLUE fine-tuning (nys-eval glue): the table of GLUE's
 * tasks and of their files, a reader for those files exactly as GLUE
 * distributes them, text to token ids as the pretraining data was encoded
 * (pairs as [CLS] a [SEP] b [SEP], longest-first truncation), the batches
 * the fine-tuning driver feeds the model, and the prediction files of
 * GLUE's submission layout.  The scores are in nys_metrics.h (model layer).
 * It declares two files: glue.c (the table, the reader, the predictions)
 * and glue_enc.c (ids and batches, which need sentencepiece).
 *
 * The files.  A task's files lie in a folder of the GLUE root
 * (glue_dataset_folder), named as GLUE's download script names them:
 * CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, and the diagnostic
 * set AX as diagnostic/diagnostic.tsv (or AX.tsv beside the task folders,
 * as GLUE's site serves it).  Every file is tab-separated text, read with no
 * CSV quoting at all (a field may hold '"'; so do HuggingFace's and
 * transformers' readers: quoting=QUOTE_NONE); each line is a row, "\r\n" as
 * well as "\n" ending it, a last line without a newline still a row, a
 * UTF-8 byte-order mark before the first line skipped (MRPC's train and
 * dev have one), empty lines skipped.  A header line, where the file has
 * one, is checked for its column count and skipped: CoLA's train and dev
 * have none (four columns: source, label, original label, sentence), its
 * test has one.  Every row must have exactly the split's column count
 * (MNLI: train 12, dev 16, test 10).  A malformed row is refused as
 * "FILE:LINE: what" (LINE counts from 1, the header included): a wrong
 * column count, a label outside the task's set, a score that is not a
 * finite number.
 *
 * Labels.  A classification task's labels are strings as its files spell
 * them ("0"/"1", "entailment", ...), numbered in HuggingFace's glue
 * dataset order (the ids fine-tuned heads use: MNLI and AX entailment 0,
 * neutral 1, contradiction 2; RTE and QNLI entailment 0, not_entailment 1;
 * the 0/1 tasks 0 and 1, WNLI's 1 meaning entailment).  STS-B is a
 * regression on a score from 0 to 5.
 */
#ifndef NYS_GLUE_H
#define NYS_GLUE_H

#include "nys.h"
#include "nys_spm.h"

/* ---- the tasks --------------------------------------------------------- */

/* What a split is for. */
typedef enum nys_glue_role {
	NYS_GLUE_TRAIN,
	NYS_GLUE_DEV,      /* labelled, scored after every epoch */
	NYS_GLUE_TEST,     /* unlabelled, predicted for a submission */
} nys_glue_role;

/* How a task is scored, as HuggingFace's GLUE metric does it. */
typedef enum nys_glue_metric {
	NYS_GLUE_ACC,      /* accuracy (SST-2, MNLI, QNLI, RTE, WNLI, AX) */
	NYS_GLUE_F1_ACC,   /* accuracy, then F1 of class 1 (MRPC, QQP) */
	NYS_GLUE_MCC,      /* Matthews correlation (CoLA) */
	NYS_GLUE_CORR,     /* Pearson, then Spearman correlation (STS-B) */
} nys_glue_metric;

/* One file of a task and its columns (numbered from 0; -1 for none). */
typedef struct nys_glue_split {
	const char *name;    /* "train", "dev", "test"; MNLI "dev_matched",
	                      * "dev_mismatched", "test_matched", "test_mismatched" */
	nys_glue_role role;
	const char *file;    /* the file in the task's folder: "dev_matched.tsv" */
	bool header;         /* the first line names the columns */
	unsigned ncols;      /* columns of every row */
	int col_index;       /* the row's index column (every test file, some
	                      * others; -1: none, the row number counts from 0) */
	int col_a, col_b;    /* the sentence(s); col_b -1 for single sentences */
	int col_label;       /* label or score; -1 in test files */
	/* The base of the prediction files (nys_glue_write_predictions): a test
	 * split's go to BASE.tsv, as GLUE's submission names them ("CoLA",
	 * "MNLI-m", "MNLI-mm", "AX"), a dev split's to BASE.dev.tsv. */
	const char *submit;
} nys_glue_split;

typedef struct nys_glue_task {
	const char *name;    /* as GLUE spells it: "CoLA", "SST-2", "STS-B", "AX" */
	const char *hf_name; /* HuggingFace's config name: "cola", "sst2", "ax" */
	const char *folder;  /* the folder under the GLUE root ("diagnostic" for AX) */
	nys_glue_metric metric;
	/* Classes; 0 for a regression (STS-B). */
	unsigned nlabels;
	const char *const *labels;  /* [nlabels], as the files spell them */
	const char *const *names;   /* [nlabels], HuggingFace's names (id2label:
	                             * "unacceptable", "not_equivalent", ...) */
	/* The task whose fine-tuned model predicts this one: "MNLI" for AX
	 * (test only, MNLI's labels), NULL for the others (their own). */
	const char *model_task;
	unsigned nsplits;
	const nys_glue_split *splits;
} nys_glue_task;

/* All tasks, in GLUE's order (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI,
 * RTE, WNLI, AX). */
size_t nys_glue_ntasks(void);
const nys_glue_task *nys_glue_task_at(size_t i);

/* A task by name: GLUE's ("SST-2") or HuggingFace's ("sst2"), case not
 * minding ("mrpc", "sts-b").  NULL for another name, the error listing
 * the tasks: "unknown GLUE task 'X' (tasks: CoLA, SST-2, ...)". */
const nys_glue_task *nys_glue_task_find(const char *name, nys_err *e);

/* A split of t by name, or NULL with "TASK has no split 'X' (splits: ...)". */
const nys_glue_split *nys_glue_split_find(const nys_glue_task *t, const char *name,
                                          nys_err *e);
/* t's splits of one role, in table order, into out[0..max); returns how
 * many t has (MNLI: two dev and two test splits, AX no train or dev). */
size_t nys_glue_splits_of(const nys_glue_task *t, nys_glue_role role,
                          const nys_glue_split **out, size_t max);

/* The id of label s[0..n) of t (as its files spell it), or -1 for none. */
int32_t nys_glue_label_id(const nys_glue_task *t, const char *s, size_t n);

/* The path of split s of task t under the GLUE root dir, into *path
 * (replaced, NUL-terminated): DIR/FOLDER/FILE.  For AX, where
 * DIR/diagnostic/diagnostic.tsv does not exist and DIR/AX.tsv does, that.
 * -1 only when memory runs out. */
int nys_glue_split_path(const char *dir, const nys_glue_task *t, const nys_glue_split *s,
                        nys_buf *path, nys_err *e);

/* ---- reading a split --------------------------------------------------- */

/* The rows of one split.  Texts are kept as they are in the file (no
 * trimming: SST-2's sentences end in a space), NUL-terminated, in one
 * buffer; lowering n keeps the first n rows (free still frees all). */
typedef struct nys_glue_data {
	const nys_glue_task *task;
	const nys_glue_split *split;
	char *file;          /* the path read (for messages) */
	size_t n;            /* rows */
	nys_buf text;        /* every text field, NUL-terminated */
	size_t *a, *b;       /* [n] offsets into text.p; b: SIZE_MAX when the
	                      * task has single sentences */
	size_t *index;       /* [n] offsets of the index, as in the file (test
	                      * splits) or the row number in decimal */
	uint64_t *line;      /* [n] the row's line in the file */
	/* [n] the gold label id (classification) or -1 (regression, tests) */
	int32_t *label;
	/* [n] the gold score (regression) or NAN (classification, tests) */
	double *score;
} nys_glue_data;

/* Read split s of task t from path (plain, bzip2 or zstd, as every nys
 * input; NULL or "-": stdin).  d is cleared first and must be freed with
 * nys_glue_data_free, also after a failure.  Errors: the file's
 * ("PATH: No such file or directory"), "FILE:LINE: N columns, TASK's SPLIT
 * rows have M", "FILE:LINE: label 'X' is not one of TASK's (0, 1)",
 * "FILE:LINE: score 'X' is not a number", "FILE: no rows". */
int nys_glue_read(const char *path, const nys_glue_task *t, const nys_glue_split *s,
                  nys_glue_data *d, nys_err *e);
/* The same for the split named split of t under the GLUE root dir
 * (nys_glue_split_find, nys_glue_split_path, nys_glue_read). */
int nys_glue_load(const char *dir, const nys_glue_task *t, const char *split,
                  nys_glue_data *d, nys_err *e);
void nys_glue_data_free(nys_glue_data *d);

static inline const char *nys_glue_text_a(const nys_glue_data *d, size_t i)
{
	return d->text.p + d->a[i];
}
/* NULL for single-sentence tasks. */
static inline const char *nys_glue_text_b(const nys_glue_data *d, size_t i)
{
	return d->b[i] == SIZE_MAX ? NULL : d->text.p + d->b[i];
}
static inline const char *nys_glue_index(const nys_glue_data *d, size_t i)
{
	return d->text.p + d->index[i];
}

/* ---- text to ids ------------------------------------------------------- */

/* How texts become ids: as `tokenize encode` encoded the pretraining data
 * (lower-cased through nys_lower_utf8 first with lower, as --lower does,
 * then the sentencepiece model; each text as one line), and the special
 * pieces [CLS], [SEP] and <pad> of that model. */
typedef struct nys_glue_tok {
	const nys_spm *spm;
	bool lower;
	unsigned max_len;    /* max_seq_len: the longest row, specials included */
	int32_t cls, sep, pad;
	unsigned threads;    /* encoding threads; 0 (as set up): OpenMP's
	                      * default.  The ids are the same for any number. */
} nys_glue_tok;

/* Set up *t for model m; max_len must be at least 3 (a pair's specials
 * and a token).  Refused: a model without [CLS], [SEP] or <pad> ("MODEL:
 * has no [CLS] piece: not a model of ALBERT's layout"). */
int nys_glue_tok_init(nys_glue_tok *t, const nys_spm *m, bool lower, unsigned max_len,
                      nys_err *e);

/* A split's rows as ids, ragged (row i is ids[start[i] .. start[i + 1])),
 * row for row the rows of the nys_glue_data it was encoded from:
 *   single sentences  [CLS] a [SEP]           types all 0
 *   pairs             [CLS] a [SEP] b [SEP]   types 0 up to the first
 *                                             [SEP], 1 from b on
 * A row longer than max_len is truncated as HuggingFace's
 * truncation="longest_first" does: one token at a time off the end of the
 * longer of a and b (of b when they are equal) until it fits; a single
 * sentence loses its end.  Lowering n keeps the first n rows (a subset to
 * overfit), as for nys_glue_data. */
typedef struct nys_glue_enc {
	size_t n;
	int32_t *ids;        /* every row's ids back to back */
	size_t *start;       /* [n + 1] */
	uint32_t *len_a;     /* [n] tokens of type 0: [CLS] a [SEP] */
	unsigned longest;    /* tokens in the longest row */
	size_t truncated;    /* rows that were truncated */
	int32_t pad;         /* the padding id batches use */
} nys_glue_enc;

/* Encode every row of d.  enc is cleared first and must be freed with
 * nys_glue_enc_free, also after a failure; an encoding failure reads
 * "FILE:LINE: what". */
int nys_glue_encode(const nys_glue_data *d, const nys_glue_tok *t, nys_glue_enc *enc,
                    nys_err *e);
void nys_glue_enc_free(nys_glue_enc *enc);

static inline unsigned nys_glue_enc_len(const nys_glue_enc *enc, size_t i)
{
	return (unsigned)(enc->start[i + 1] - enc->start[i]);
}

/* The longest of rows rows[0..nb) (rows NULL: rows 0..nb-1), for padding
 * a batch to its longest sequence (--pad longest). */
unsigned nys_glue_enc_longest(const nys_glue_enc *enc, const size_t *rows, size_t nb);

/* One batch as the model takes it (nys_batch): rows rows[0..nb) (NULL:
 * 0..nb-1) of enc, each padded at its end to width tokens with enc->pad.
 * ids (nb x width); types (nb x width, 0 on padding) and mask (1 for a
 * token, 0 for padding) may be NULL.  Refused: a row longer than width. */
int nys_glue_enc_batch(const nys_glue_enc *enc, const size_t *rows, size_t nb,
                       unsigned width, int32_t *ids, int32_t *types, float *mask,
                       nys_err *e);

/* ---- predictions ------------------------------------------------------- */

/* Write the predictions for every row of d into folder dir (made if
 * missing), through nys_out (each file complete or absent):
 *   test split  dir/BASE.tsv       "index<TAB>prediction" then a line per
 *                                  row: GLUE's submission layout
 *   dev split   dir/BASE.dev.tsv   "index<TAB>prediction<TAB>gold", so
 *                                  that anyone can recompute the scores
 * BASE is the split's submit name; the index is the file's (or the row
 * number); a class is written as the files spell labels (t->labels), a
 * score in the test file with three decimals as transformers' run_glue
 * writes them, in the dev file exactly (%.17g, the gold score too).
 * label[n] holds class ids (classification), score[n] scores (STS-B); the
 * other may be NULL.  For AX, d's task is AX and the classes MNLI's.  A
 * train split is refused.  *written (if not NULL) gets the file's path. */
int nys_glue_write_predictions(const char *dir, const nys_glue_data *d, const int32_t *label,
                               const double *score, nys_buf *written, nys_err *e);

#endif
