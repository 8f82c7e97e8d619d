/* The work of tokenize(1): training a sentencepiece model on unified text
 * (nys-text(5)), encoding unified text to token streams (nys_tokstream.h) on
 * several threads, decoding them, and describing them. */
#ifndef NYS_TOKENIZE_H
#define NYS_TOKENIZE_H

#ifdef __cplusplus
extern "C" {
#endif

#include "nys_spm.h"

/* ---- lower-casing ------------------------------------------------------ */

/* Append s[0..n) lower-cased to *out: each character through towlower(3)
 * of the C.UTF-8 locale (the simple Unicode mappings: Latin, Greek,
 * Cyrillic, Armenian, Georgian, ...), plus the two context rules of
 * Python's str.lower(), which ALBERT's do_lower_case uses: U+0130 (I with
 * dot above) becomes "i" + U+0307, and a capital sigma that ends a word
 * becomes the final sigma U+03C2.  Invalid UTF-8 is copied unchanged.
 * -1 when memory runs out or C.UTF-8 is missing. */
int nys_lower_utf8(const char *s, size_t n, nys_buf *out, nys_err *e);

/* ---- the subcommands --------------------------------------------------- */

typedef enum nys_tok_format {
	NYS_FORMAT_TOKENS,  /* a token stream (nys_tokstream.h) */
	NYS_FORMAT_IDS,     /* text: a document a line, ids separated by spaces */
} nys_tok_format;

/* The longest line encode takes by default, in bytes.  sentencepiece needs
 * about 100 bytes of memory per byte of a line it encodes, so this bounds
 * each encoding thread's memory to about 100 MiB; paragraphs of tens of
 * kilobytes are common in Wikipedia and books, a line of megabytes is
 * nearly always a broken file. */
#define NYS_ENCODE_MAX_LINE ((size_t)1 << 20)

typedef struct nys_encode_opts {
	const nys_spm *model;
	const char *output;     /* NULL or "-": stdout */
	nys_tok_format format;
	unsigned threads;       /* encoding threads, >= 1 */
	bool lower;
	size_t max_line;        /* longest line, bytes (0: NYS_ENCODE_MAX_LINE) */
} nys_encode_opts;

typedef struct nys_encode_stats {
	uint64_t bytes;         /* of text read */
	uint64_t lines;         /* non-empty lines encoded */
	uint64_t docs, tokens;  /* written */
} nys_encode_stats;

/* Encode unified text (paths: plain, .bz2, .zst; NULL or "-" stdin; none:
 * stdin).  Each non-empty line is encoded on its own; a document's ids are
 * those of its lines in order.  An empty line (or a run of them) ends a
 * document, and so does the end of each input.  The output is the same
 * for every number of threads.  A line longer than o->max_line bytes is an
 * error ("FILE:LINE: line of N bytes is longer than the maximum M"), found
 * without holding the line; every failure while a line is encoded, memory
 * running out included, is reported as "FILE:LINE: what".  On an error
 * nothing is committed. */
int nys_tokenize_encode(const char *const *paths, size_t npaths, const nys_encode_opts *o,
                        nys_encode_stats *st, nys_err *e);

typedef struct nys_decode_opts {
	const nys_spm *model;   /* NULL: write the ids as text */
	const char *output;     /* NULL or "-": stdout */
	nys_tok_format format;  /* of the input */
} nys_decode_opts;

/* Token streams (or ids text) back to text (paths as for encoding): one
 * line per document, its ids decoded as one sequence; with no model, the
 * ids (the ids format).  A stream must carry the model's fingerprint. */
int nys_tokenize_decode(const char *const *paths, size_t npaths, const nys_decode_opts *o,
                        uint64_t *docs, nys_err *e);

/* Describe the token stream at path on out ("key: value" lines) after
 * reading it whole, which checks every segment's counts and checksum. */
int nys_tokenize_info(const char *path, nys_out *out, nys_err *e);

/* Train on unified text files and write PREFIX.model and PREFIX.vocab
 * (each complete or absent).  *vocab_size, if not NULL, gets the size of
 * the model trained; *skipped, if not NULL, the number of lines skipped as
 * longer than o->max_sentence_length (see nys_spm_train_files). */
int nys_tokenize_train(const char *const *paths, size_t npaths, const nys_spm_train_opts *o,
                       const char *prefix, uint32_t *vocab_size, uint64_t *skipped, nys_err *e);

/* Write m's vocabulary as spm_train does: "piece<TAB>score" lines. */
int nys_tokenize_write_vocab(const nys_spm *m, const char *path, nys_err *e);

#ifdef __cplusplus
}
#endif

#endif
