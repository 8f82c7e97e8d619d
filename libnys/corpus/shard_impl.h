/* Inside shards (shard.c and shard_cut.c only): the writer of one shard
 * image with a compressor kept from shard to shard, which nys_shard_write
 * uses once and shard-N's writer threads use for every shard they write. */
#ifndef NYS_SHARD_IMPL_H
#define NYS_SHARD_IMPL_H

#include "nys_shard.h"

#include <zstd.h>

/* A compressor and its output buffer, reused from shard to shard; all zero
 * before the first use. */
typedef struct nys_shard_zctx {
	ZSTD_CCtx *cc;
	unsigned char *buf;
	size_t cap;
} nys_shard_zctx;

void nys_shard_zctx_free(nys_shard_zctx *z);
/* Write the shard whose bytes are img[0 .. n): 64 free bytes for the
 * header (packed from h here), the ids, 8 free bytes for the checksum
 * (computed here); one zstd frame at `level`, through nys_out (temporary
 * name until whole). */
int nys_shard_write_image(const char *path, const nys_shard_header *h, unsigned char *img,
                          size_t n, int level, nys_shard_zctx *z, nys_err *e);

#endif
