/* Readers of the Long Range Arena tasks' files in their published layouts,
 * each adding its records to a writer (nys_lra_data.h) of the task's kind
 * (nys_lra_kind), documents cut to the writer's max_len as LRA's pipelines
 * cut them.  A malformed file is an error naming the file and the line (or,
 * in a binary file, the byte and the record).
 *
 *   ListOps     LRA's generated TSV (header "Source<TAB>Target", sequence
 *               first) or the original ListOps layout (label<TAB>sequence,
 *               no header), told apart by the first line; tokens as LRA's
 *               listops pipeline: ']' becomes 'X', '(' and ')' are dropped,
 *               the rest split on white space
 *   Text        an aclImdb split folder (pos/ and neg/ of <id>_<rating>.txt):
 *               each review's bytes, neg 0, pos 1
 *   Retrieval   an AAN pair TSV (label, id1, id2, text1, text2; no header,
 *               no quoting): two byte-level documents
 *   Image       a CIFAR-10 binary batch (records of 1 label byte and 3072
 *               bytes of R, G and B planes of 32x32), to greyscale with the
 *               weights of tf.image.rgb_to_grayscale
 *   Pathfinder  a pathfinder folder (metadata/N.npy lists of "DIR FILE _
 *               LABEL ..." lines, the PNGs at DIR/FILE beside metadata/),
 *               PNGs read through libpng, colour ones to grey as Image
 */
#ifndef NYS_LRA_READ_H
#define NYS_LRA_READ_H

#include "nys_lra_data.h"

/* LRA's listops vocabulary: 0 pad, the digits "0".."9" 1..10, "[MIN" 11,
 * "[MAX" 12, "[MED" 13, "[SM" 14, "X" (a closing bracket) 15, and 16 the
 * out-of-vocabulary slot of tfds' TokenTextEncoder (never written: an
 * unknown token is an error). */
#define NYS_LRA_LISTOPS_VOCAB 17u

/* The task's default document length (LRA's, as the Nystromformer authors'
 * lra_config.py: listops 2000, text 4000, retrieval 4000 a document, image
 * and pathfinder 1024). */
uint32_t nys_lra_default_len(nys_lra_task task);
/* The header of the task's shards (version, task, vocab, docs, vocab_size,
 * classes, pad_id; count and ids 0), documents of at most max_len ids (0:
 * the default). */
void nys_lra_kind(nys_lra_task task, uint32_t max_len, nys_lra_header *h);

/* The ids of one ListOps sequence (a NUL-terminated string) into out (room
 * for max ids; the rest are dropped); returns the number kept, or -1 with
 * an error naming the token (without a place: the caller adds it). */
int64_t nys_lra_listops_encode(const char *s, int32_t *out, uint32_t max, nys_err *e);

int nys_lra_read_listops(const char *path, nys_lra_writer *w, nys_err *e);
/* dir is a split folder: aclImdb/train or aclImdb/test. */
int nys_lra_read_imdb(const char *dir, nys_lra_writer *w, nys_err *e);
int nys_lra_read_aan(const char *path, nys_lra_writer *w, nys_err *e);
int nys_lra_read_cifar(const char *path, nys_lra_writer *w, nys_err *e);
/* dir holds metadata/ (e.g. pathfinder32/curv_contour_length_14). */
int nys_lra_read_pathfinder(const char *dir, nys_lra_writer *w, nys_err *e);

/* tf.image.rgb_to_grayscale on one 8-bit pixel, in float32 as TensorFlow
 * computes it. */
uint8_t nys_lra_grey(uint8_t r, uint8_t g, uint8_t b);

#endif
