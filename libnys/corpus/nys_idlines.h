/* Token-id lines, the text form of sequences that `shard cat` prints and
 * that `tokenize encode --format ids` writes: one sequence a line, decimal
 * token ids separated by spaces or tabs.  nys-eval reads its input so. */
#ifndef NYS_IDLINES_H
#define NYS_IDLINES_H

#include "nys.h"

/* All sequences of an input, back to back. */
typedef struct nys_idlines {
	int32_t *ids;   /* every id of every line, in order */
	size_t *start;  /* n + 1 offsets: line i is ids[start[i] .. start[i + 1]) */
	size_t n;       /* lines */
	size_t longest; /* ids in the longest line */
} nys_idlines;

/* Read id lines from path (plain, bzip2, zstd; "-" or NULL is stdin).
 * Every id must be below vocab and every line at most max_len ids long
 * (why: what sets that bound, for the message, e.g. "max_seq_len").
 * Refused, as "FILE:LINE: what": a word that is not a decimal number, an id
 * outside the vocabulary, a line too long, an empty line; an input without
 * lines is refused as "FILE: no sequences".  l is cleared first and must
 * be freed with nys_idlines_free, also after a failure. */
int nys_idlines_read(const char *path, uint32_t vocab, size_t max_len, const char *why,
                     nys_idlines *l, nys_err *e);
void nys_idlines_free(nys_idlines *l);

#endif
