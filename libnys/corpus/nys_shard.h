/* Shards (nys-shard(5)): fixed-length training sequences, what `shard-N`
 * makes from token streams (nys-tokens(5)) and training reads.  A shard is
 * a zstd stream whose content is
 *
 *   header    64 bytes  "NYSSHARD", u32 version (1), u32 seq_len N,
 *                       u32 count, u32 width (2 or 4), u32 vocab_size,
 *                       u32 cls_id, u32 sep_id, u32 flags (0),
 *                       u64 model fingerprint, 16 zero bytes
 *   sequences count * N ids of `width` bytes, each [CLS] ... [SEP]
 *   checksum  u64 nys_hash64 (seed 0) of every byte before it
 *
 * all little-endian.  A directory of shards also holds train.json and
 * dev.json, JSON lists of the shard file names (nys_shard_dir.h); shard-N
 * makes shards from token streams (nys_shard_cut.h), `shard cat|info|verify`
 * reads them (nys_shard_inspect.h).
 */
#ifndef NYS_SHARD_H
#define NYS_SHARD_H

#include "nys.h"

#define NYS_SHARD_MAGIC "NYSSHARD"
#define NYS_SHARD_VERSION 1u
#define NYS_SHARD_HEADER_SIZE 64u
#define NYS_SHARD_SUFFIX ".shard"
/* Bounds a reader enforces (and the writer keeps to). */
#define NYS_SHARD_MIN_LEN 3u
#define NYS_SHARD_MAX_LEN (1u << 24)
/* Most tokens one shard may hold (count * N), so that a shard always fits
 * in memory while it is written. */
#define NYS_SHARD_MAX_TOKENS (UINT64_C(1) << 32)

typedef struct nys_shard_header {
	uint32_t version, seq_len, count, width, vocab_size, cls_id, sep_id, flags;
	uint64_t fingerprint;
} nys_shard_header;

/* The 64 header bytes. */
void nys_shard_header_pack(const nys_shard_header *h, unsigned char out[NYS_SHARD_HEADER_SIZE]);
/* Decode and check the header bytes of the shard `name`; -1 with an error
 * naming the file and the byte. */
int nys_shard_header_parse(const unsigned char in[NYS_SHARD_HEADER_SIZE], nys_shard_header *h,
                           const char *name, nys_err *e);
/* Decompressed size of a whole shard file: header, ids and checksum. */
uint64_t nys_shard_file_size(const nys_shard_header *h);

/* ---- reading ------------------------------------------------------------ */

typedef struct nys_shard_reader nys_shard_reader;

/* Open a shard (zstd or already decompressed; "-" is stdin) and read its
 * header. */
nys_shard_reader *nys_shard_open(const char *path, nys_err *e);
const nys_shard_header *nys_shard_reader_header(const nys_shard_reader *r);
const char *nys_shard_reader_name(const nys_shard_reader *r);
/* The next sequence: 1 with *ids (seq_len ids, valid until the next call);
 * 0 at the end, once the checksum matched and nothing follows it; -1 on an
 * error that names the file and the byte offset in the decompressed shard.
 * Every id is checked against the vocabulary, and every sequence to start
 * with cls_id and end with sep_id. */
int nys_shard_next(nys_shard_reader *r, const uint32_t **ids, nys_err *e);
/* Sequences returned so far. */
uint64_t nys_shard_reader_seqs(const nys_shard_reader *r);
void nys_shard_close(nys_shard_reader *r);

/* Read only the header of a shard file. */
int nys_shard_read_header(const char *path, nys_shard_header *h, nys_err *e);
/* Read a whole shard file and check everything (counts, ids, checksum);
 * *h gets its header. */
int nys_shard_verify(const char *path, nys_shard_header *h, nys_err *e);

/* ---- writing ------------------------------------------------------------ */

/* The zstd level of shards by default: level 2 makes shards about 15%
 * smaller but costs about as much time as all the rest of shard-N. */
#define NYS_SHARD_LEVEL 1
/* Write one shard: h (count and all) and count * seq_len ids of h->width
 * bytes, little-endian, in data; one zstd frame at `level` (0: the
 * default), under a temporary name until whole. */
int nys_shard_write(const char *path, const nys_shard_header *h, const void *data,
                    int level, nys_err *e);

#endif
