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
 * dev.json, JSON lists of the shard file names.
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
/* Default tokens a shard: K = max(1, NYS_SHARD_TOKENS / N) sequences. */
#define NYS_SHARD_TOKENS 4194304u
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

/* ---- a directory of shards ---------------------------------------------- */

typedef struct nys_shard_names {
	char **v;
	size_t n, cap;
} nys_shard_names;

void nys_shard_names_free(nys_shard_names *l);
/* Append a copy of s. */
int nys_shard_names_add(nys_shard_names *l, const char *s, nys_err *e);
/* Append the names of a list file (train.json, dev.json: a JSON list of
 * strings); errors name the file and the line or item. */
int nys_shard_names_read(const char *path, nys_shard_names *l, nys_err *e);
/* The shard files of dir: regular files (or links to them) whose names end
 * in ".shard" and do not start with ".", sorted by bytes (as Python's
 * sorted() sorts the names). */
int nys_shard_list_dir(const char *dir, nys_shard_names *l, nys_err *e);
/* Number of names for dev.json: int(n * dev_fraction) as Python computes it. */
size_t nys_shard_dev_count(size_t n, double dev_fraction);
/* As the original did: random.seed(seed); random.shuffle(names); the first
 * nys_shard_dev_count() names are dev, the rest train.  Reorders l->v. */
void nys_shard_split(nys_shard_names *l, uint64_t seed);
/* A list as Python's json.dump(list, f, indent=4) writes it (ASCII, names
 * that are not UTF-8 escaped as Python's surrogateescape would). */
int nys_shard_json_list(nys_buf *b, char *const *names, size_t n);
/* Rewrite dir/train.json and dir/dev.json from the shards now in dir. */
int nys_shard_write_lists(const char *dir, uint64_t seed, double dev_fraction,
                          size_t *ntrain, size_t *ndev, nys_err *e);

/* ---- making shards ------------------------------------------------------ */

typedef struct nys_shard_opts {
	const char *dir;        /* output directory, created if missing */
	const char *name;       /* dataset name: shards NAME-NNNNN.shard */
	uint32_t seq_len;       /* N: tokens a sequence, [CLS] and [SEP] included */
	uint32_t per_shard;     /* K: sequences a shard (0: the default) */
	double keep;            /* keep each block with this probability */
	uint64_t seed;          /* random.seed() for --keep */
	uint32_t cls_id, sep_id;
	uint64_t split_seed;    /* random.seed() for the dev/train split */
	double dev_fraction;
	int level;              /* zstd level of the shards (0: NYS_SHARD_LEVEL) */
	bool progress;          /* progress line on a terminal */
} nys_shard_opts;

typedef struct nys_shard_stats {
	uint64_t files, docs, tokens;
	uint64_t blocks;        /* blocks of N - 2 tokens cut */
	uint64_t kept;          /* sequences written */
	uint64_t leftover;      /* tokens after the last whole block, dropped */
	uint64_t shards;        /* shards written */
	uint64_t stale;         /* old NAME shards removed */
	size_t dir_shards, train, dev;
	double seconds;
} nys_shard_stats;

/* Default K for a sequence length. */
uint32_t nys_shard_default_per_shard(uint32_t seq_len);

/* Read the token streams (NULL or "-" is stdin; none: stdin), cut them into
 * sequences and write the dataset o->name into o->dir, replacing an earlier
 * one of that name, then rewrite the lists.  The new shards are written
 * into a hidden directory in o->dir and moved into place only once all are
 * whole: after a failure o->dir is as it was. */
int nys_shard_run(const char *const *paths, size_t npaths, const nys_shard_opts *o,
                  nys_shard_stats *st, nys_err *e);

/* ---- the other subcommands ---------------------------------------------- */

/* Sequences of the shards as lines of decimal ids, at most max (0: all). */
int nys_shard_cat(const char *const *paths, size_t npaths, uint64_t max, nys_out *out,
                  nys_err *e);
/* A summary of a shard file (its header) or of a directory of shards (its
 * datasets and lists). */
int nys_shard_info(const char *path, nys_out *out, nys_err *e);
/* Check a shard file, or every shard of a directory, their agreement and
 * the lists; a line "PATH: ok, ..." for each shard and each directory. */
int nys_shard_verify_path(const char *path, nys_out *out, nys_err *e);

#endif
