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
#ifndef NYS_TOK_H
#define NYS_TOK_H

#include "nys.h"

#define NYS_TOK_MAGIC "NYSTOKEN"
#define NYS_TOK_VERSION 1u
#define NYS_TOK_END 0xFFFFFFFFu

/* ---- checksums and fingerprints ---------------------------------------- */

/* A streaming 64-bit hash (not cryptographic): the same value whatever the
 * chunking of the input. */
typedef struct nys_hash {
	uint64_t h, len;
	unsigned char tail[8];
	unsigned ntail;
} nys_hash;

void nys_hash_init(nys_hash *s, uint64_t seed);
void nys_hash_update(nys_hash *s, const void *p, size_t n);
uint64_t nys_hash_final(const nys_hash *s);
uint64_t nys_hash64(const void *p, size_t n, uint64_t seed);

/* ---- little-endian fields ---------------------------------------------- */

static inline void nys_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void nys_put_u64(unsigned char *p, uint64_t v)
{
	nys_put_u32(p, (uint32_t)v);
	nys_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t nys_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t nys_get_u64(const unsigned char *p)
{
	return (uint64_t)nys_get_u32(p) | (uint64_t)nys_get_u32(p + 4) << 32;
}

/* ---- reading binary formats -------------------------------------------- */

/* Buffered reading of a binary format through nys_in (so plain or zstd):
 * k bytes at a time, with the decompressed offset kept for messages and a
 * running checksum of what was taken.  Token streams and shards read with
 * it. */
typedef struct nys_binrd {
	nys_in *in;
	unsigned char *buf;
	size_t pos, len, cap;
	uint64_t off;           /* decompressed offset of buf[pos] */
	bool eof;
	nys_hash hash;
} nys_binrd;

int nys_binrd_open(nys_binrd *b, const char *path, nys_err *e);
/* 1 when k bytes are at b->buf + b->pos; 0 when the input ends first (with
 * *avail bytes left, if avail is not NULL); -1 on a read error, whose
 * message then says after which byte it came. */
int nys_binrd_need(nys_binrd *b, size_t k, size_t *avail, nys_err *e);
/* Consume k bytes, adding them to the checksum if hashed. */
void nys_binrd_take(nys_binrd *b, size_t k, bool hashed);
/* "FILE: truncated at byte N (what)", N where the data ended; returns -1. */
int nys_binrd_truncated(const nys_binrd *b, const char *what, nys_err *e);
const char *nys_binrd_name(const nys_binrd *b);
void nys_binrd_close(nys_binrd *b);

/* ---- the stream -------------------------------------------------------- */

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
