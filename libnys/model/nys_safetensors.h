/* safetensors files: the checkpoint format (HuggingFace's, so checkpoints
 * load in transformers).
 *
 * Layout: u64 little-endian header size N; N bytes of JSON (padded with
 * spaces to a multiple of 8) mapping each tensor name to its dtype, shape
 * and [begin, end) byte offsets in the data that follows; then the data,
 * with no holes.  nys adds to "__metadata__" (string values only, as the
 * format requires) "nys_format": "nys-checkpoint", "nys_version" and
 * "nys_checksum": the nys_hash64 of the data as 16 hex digits, checked on
 * load when present.
 */
#ifndef NYS_SAFETENSORS_H
#define NYS_SAFETENSORS_H

#include "nys.h"

#define NYS_ST_MAX_DIMS 8

typedef enum nys_dtype { NYS_F32, NYS_F64, NYS_I64, NYS_I32, NYS_U8 } nys_dtype;

/* "F32" and so on, and the size of one element. */
const char *nys_dtype_name(nys_dtype t);
size_t nys_dtype_size(nys_dtype t);

/* One tensor to write: data holds the elements, little-endian, row-major;
 * or, when data is NULL, read gives them in pieces: n bytes from byte
 * at + off of ctx's source into buf, 0 or -1 with e set (the writer reads
 * every tensor twice, for the checksum and to write it, a piece of at most
 * NYS_ST_PIECE bytes at a time: memory that is not the host's, such as a
 * backend's, is written without a copy of the whole). */
typedef struct nys_st_entry {
	const char *name;
	nys_dtype dtype;
	int ndim;
	int64_t shape[NYS_ST_MAX_DIMS];
	const void *data;
	int (*read)(void *ctx, uint64_t off, void *buf, size_t n, nys_err *e);
	void *ctx;
	uint64_t at;
} nys_st_entry;

#define NYS_ST_PIECE ((size_t)1 << 22)

/* Write entries (in the order given) to path through nys_out: a temporary
 * name, fsync, rename.  meta: extra "__metadata__" pairs as NULL-ended
 * key, value, key, value ... strings, or NULL. */
int nys_st_write(const char *path, const nys_st_entry *entries, size_t n,
                 const char *const *meta, nys_err *e);

/* A loaded file: all of it in memory, the header checked (offsets in
 * range, no overlaps or holes, sizes matching shapes), the checksum too. */
typedef struct nys_st nys_st;

nys_st *nys_st_load(const char *path, nys_err *e);
/* The same checks, with the data streamed through the checksum rather than
 * held: the header and metadata only (nys_st_shape, nys_st_meta; nys_st_get
 * refuses), for telling whether a large checkpoint would load. */
nys_st *nys_st_check(const char *path, nys_err *e);
size_t nys_st_count(const nys_st *st);
/* The i-th tensor's name, in file order. */
const char *nys_st_name(const nys_st *st, size_t i);
/* A metadata value, or NULL. */
const char *nys_st_meta(const nys_st *st, const char *key);
/* The tensor called name, which must have this dtype and shape (ndim
 * dims): its data, or NULL with an error naming the tensor and what is
 * wrong (missing, other dtype, other shape).  The data is little-endian
 * and need not be aligned: copy it out with memcpy. */
const void *nys_st_get(const nys_st *st, const char *name, nys_dtype dtype, int ndim,
                       const int64_t *shape, nys_err *e);
/* Whether a tensor of that name exists. */
bool nys_st_has(const nys_st *st, const char *name);
/* Its dtype (a nys_dtype), or -1 when there is no such tensor. */
int nys_st_dtype(const nys_st *st, const char *name);
/* Its number of dimensions, its shape into shape; -1 when there is none. */
int nys_st_shape(const nys_st *st, const char *name, int64_t shape[NYS_ST_MAX_DIMS]);
void nys_st_free(nys_st *st);

#endif
