/* Binary formats: little-endian fields, and a buffered reader of a binary
 * file through nys_in (plain, bzip2 or zstd) that keeps the decompressed
 * offset for messages and a running checksum (nys_hash.h) of what it took.
 * Token streams, shards and safetensors are read and written with these. */
#ifndef NYS_BIN_H
#define NYS_BIN_H

#include "nys.h"
#include "nys_hash.h"

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

/* ---- the reader -------------------------------------------------------- */

/* k bytes at a time: what is asked for is at buf + pos once
 * nys_binrd_need has returned 1. */
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

#endif
