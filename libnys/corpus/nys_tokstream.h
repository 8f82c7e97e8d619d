/* Token streams (nys-tokens(5)): what `tokenize encode` writes and `shard`
 * reads.  A stream is a zstd stream whose content is one or more segments:
 *
 *   header   32 bytes  "NYSTOKEN", u32 version (1), u32 width (2 or 4),
 *                      u32 vocab_size, u32 flags (0), u64 model fingerprint
 *   document u32 n (< 0xFFFFFFFF), then n ids of `width` bytes
 *   ...
 *   trailer  32 bytes  u32 0xFFFFFFFF, u32 0, u64 documents, u64 tokens,
 *                      u64 checksum (nys_hash64 of every byte of the segment
 *                      before the checksum itself)
 *
 * all little-endian.  Concatenated streams (`cat a.tok b.tok`) are one valid
 * stream of several segments.
 */
#ifndef NYS_TOKSTREAM_H
#define NYS_TOKSTREAM_H

#include "nys.h"

#define NYS_TOK_MAGIC "NYSTOKEN"
#define NYS_TOK_VERSION 1u
#define NYS_TOK_END 0xFFFFFFFFu

typedef struct nys_tok_header {
	uint32_t version, width, vocab_size, flags;
	uint64_t fingerprint;
} nys_tok_header;

/* 2 when every id of a vocabulary this size fits 16 bits, else 4. */
unsigned nys_tok_width(uint32_t vocab_size);

typedef struct nys_tok_writer nys_tok_writer;

/* path NULL or "-": stdout (refused if a terminal).  A file is written
 * under a temporary name until nys_tok_writer_commit. */
nys_tok_writer *nys_tok_writer_open(const char *path, uint32_t vocab_size,
                                    uint64_t fingerprint, nys_err *e);
/* One document; every id must be < vocab_size. */
int nys_tok_writer_doc(nys_tok_writer *w, const uint32_t *ids, size_t n, nys_err *e);
uint64_t nys_tok_writer_docs(const nys_tok_writer *w);
uint64_t nys_tok_writer_tokens(const nys_tok_writer *w);
/* Write the trailer, close, rename into place; frees w. */
int nys_tok_writer_commit(nys_tok_writer *w, nys_err *e);
void nys_tok_writer_abort(nys_tok_writer *w);

typedef struct nys_tok_reader nys_tok_reader;

/* Open a stream (file, or stdin for NULL/"-") and read its first header.
 * An empty input is an error. */
nys_tok_reader *nys_tok_reader_open(const char *path, nys_err *e);
const nys_tok_header *nys_tok_reader_header(const nys_tok_reader *r);
const char *nys_tok_reader_name(const nys_tok_reader *r);
/* The next document: 1 with *ids (valid until the next call) and *n; 0 at
 * the end, once every segment's trailer has been checked (counts and
 * checksum); -1 on an error, which names the file and the byte offset in the
 * decompressed stream.  A later segment must have the same width, vocabulary
 * size and fingerprint as the first. */
int nys_tok_reader_next(nys_tok_reader *r, const uint32_t **ids, size_t *n, nys_err *e);
/* Documents, tokens and segments read so far. */
uint64_t nys_tok_reader_docs(const nys_tok_reader *r);
uint64_t nys_tok_reader_tokens(const nys_tok_reader *r);
uint64_t nys_tok_reader_segments(const nys_tok_reader *r);
void nys_tok_reader_close(nys_tok_reader *r);

#endif
