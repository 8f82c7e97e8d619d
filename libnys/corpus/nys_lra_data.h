/* Long Range Arena data (nys-lra(5)): shards of labelled records, what
 * `nys-lra prepare` writes from each task's published files and `nys-lra
 * train` reads.  Unlike the pretraining shards (nys-shard(5): unlabelled,
 * fixed-length, [CLS]/[SEP]-framed sequences of a sentencepiece model) a
 * record here is a label and one or two documents (two for Retrieval) of
 * their own lengths, over a byte-level, pixel or task vocabulary.  Padding
 * is never stored: a document's length says which positions are real, so
 * a pixel of value 0 is a token like any other.
 *
 * A shard is a zstd stream (or plain) whose content is
 *
 *   header    64 bytes  "NYSLRA\0\0", u32 version (1), u32 task,
 *                       u32 vocab kind, u32 count, u32 docs (1 or 2),
 *                       u32 max_len, u32 vocab_size (2 to 65536),
 *                       u32 classes, u32 width (bytes an id: 1 for
 *                       vocabularies up to 256, else 2), u32 pad_id,
 *                       u32 flags (0),
 *                       u64 ids (the sum of all document lengths),
 *                       4 zero bytes
 *   records   count times: u32 label, then per document u32 length and
 *             length ids of `width` bytes
 *   checksum  u64 nys_hash64 (seed 0) of every byte before it
 *
 * all little-endian.  A prepared task folder holds train-NNNNN.lra,
 * dev-NNNNN.lra and test-NNNNN.lra and manifest.json, which names the
 * task, its header fields, and each split's shards and record count.
 */
#ifndef NYS_LRA_DATA_H
#define NYS_LRA_DATA_H

#include "nys.h"

#define NYS_LRA_MAGIC "NYSLRA\0\0"
#define NYS_LRA_VERSION 1u
#define NYS_LRA_HEADER_SIZE 64u
#define NYS_LRA_SUFFIX ".lra"
#define NYS_LRA_MANIFEST "manifest.json"
/* The longest document a reader takes (the writer keeps to it too). */
#define NYS_LRA_MAX_LEN (1u << 20)

/* The five tasks, as their numbers in the header. */
typedef enum nys_lra_task {
	NYS_LRA_LISTOPS = 1,
	NYS_LRA_TEXT = 2,
	NYS_LRA_RETRIEVAL = 3,
	NYS_LRA_IMAGE = 4,
	NYS_LRA_PATHFINDER = 5,
} nys_lra_task;

/* What the ids mean. */
typedef enum nys_lra_vocab {
	/* LRA's listops vocabulary (nys_lra_read.h and nys-lra(5) list it) */
	NYS_LRA_VOCAB_LISTOPS = 1,
	/* bytes of UTF-8 text: id = byte + 1 (tfds' ByteTextEncoder, as LRA's
	 * text and retrieval pipelines), 0 is padding; vocab_size 257 */
	NYS_LRA_VOCAB_BYTES = 2,
	/* greyscale pixel values 0..255 as ids 0..255; vocab_size 256, every
	 * record full length (nothing is padding) */
	NYS_LRA_VOCAB_PIXELS = 3,
} nys_lra_vocab;

/* "listops", "text", "retrieval", "image", "pathfinder"; NULL if unknown. */
const char *nys_lra_task_name(uint32_t task);
/* The task named s (the names above), or -1 with an error. */
int nys_lra_task_parse(const char *s, nys_lra_task *task, nys_err *e);

typedef struct nys_lra_header {
	uint32_t version, task, vocab, count, docs, max_len, vocab_size, classes, width,
	         pad_id, flags;
	uint64_t ids;
} nys_lra_header;

/* The 64 header bytes. */
void nys_lra_header_pack(const nys_lra_header *h, unsigned char out[NYS_LRA_HEADER_SIZE]);
/* Decode and check the header bytes of the shard `name`; -1 with an error
 * naming the file and the byte. */
int nys_lra_header_parse(const unsigned char in[NYS_LRA_HEADER_SIZE], nys_lra_header *h,
                         const char *name, nys_err *e);

/* ---- reading: one split of a prepared task, in memory ------------------ */

/* The records of one or more shards (all of one kind: task, vocabulary,
 * docs, max_len, vocab_size, classes), read whole and checked (every
 * length, id, label and the checksum) when opened.  Read-only after that,
 * so threads may share it. */
typedef struct nys_lra_set nys_lra_set;

/* The split "train", "dev" or "test" of the prepared task folder dir, as
 * its manifest.json lists it. */
nys_lra_set *nys_lra_set_open(const char *dir, const char *split, nys_err *e);
/* The records of the shard files paths[0..n-1], in that order. */
nys_lra_set *nys_lra_set_open_files(const char *const *paths, size_t n, nys_err *e);
void nys_lra_set_close(nys_lra_set *s);

/* The kind of the set: its first shard's header, with count and ids the
 * totals over all its shards. */
const nys_lra_header *nys_lra_set_header(const nys_lra_set *s);
/* Records in the set (the header's count). */
uint64_t nys_lra_set_count(const nys_lra_set *s);
/* Record i's label, 0 .. classes-1. */
uint32_t nys_lra_set_label(const nys_lra_set *s, uint64_t i);
/* The length of document doc (0, or 1 for Retrieval's second) of record
 * i: 1 .. max_len. */
uint32_t nys_lra_set_len(const nys_lra_set *s, uint64_t i, unsigned doc);
/* Copy that document's ids into out (room for max_len); returns the
 * length. */
uint32_t nys_lra_set_ids(const nys_lra_set *s, uint64_t i, unsigned doc, int32_t *out);

/* ---- writing ------------------------------------------------------------ */

/* A shard being written: records are kept in memory and the file written
 * whole (one zstd frame, under a temporary name until complete) by
 * nys_lra_writer_close. */
typedef struct nys_lra_writer nys_lra_writer;

/* h gives the kind (task, vocab, docs, max_len, vocab_size, classes,
 * width, pad_id); its count and ids are ignored and counted here. */
nys_lra_writer *nys_lra_writer_open(const char *path, const nys_lra_header *h, nys_err *e);
/* One record: label and the first document (n0 ids), and for docs == 2
 * the second (n1 ids; else ids1 NULL and n1 0).  Lengths 1 .. max_len,
 * ids below vocab_size. */
int nys_lra_writer_add(nys_lra_writer *w, uint32_t label, const int32_t *ids0, uint32_t n0,
                       const int32_t *ids1, uint32_t n1, nys_err *e);
uint64_t nys_lra_writer_count(const nys_lra_writer *w);
/* The kind given to nys_lra_writer_open (count and ids: so far). */
const nys_lra_header *nys_lra_writer_header(const nys_lra_writer *w);
/* Write records order[0 .. n) of w (as added, counted from 0) as shards
 * DIR/PREFIX-00000.lra, ... of at most per_shard records each (one empty
 * shard when n is 0 is not written: no shard at all); each name written
 * is added to names.  w stays as it was. */
int nys_lra_writer_split(const nys_lra_writer *w, const uint64_t *order, uint64_t n,
                         const char *dir, const char *prefix, uint64_t per_shard,
                         nys_strlist *names, nys_err *e);
/* Write the file; 0, or -1 (the temporary file removed).  Frees w. */
int nys_lra_writer_close(nys_lra_writer *w, nys_err *e);
/* Free w without writing anything. */
void nys_lra_writer_abort(nys_lra_writer *w);

#endif
