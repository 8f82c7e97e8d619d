/* Shards, nys-shard(5): the format (the 64-byte header), the reader that
 * checks every id, every sequence's [CLS] and [SEP] and the checksum, and
 * the writer of a whole shard.  A directory of shards and its lists are
 * shard_dir.c, cutting token streams into shards (shard-N) is shard_cut.c,
 * `shard cat|info|verify` is shard_inspect.c. */
#include "nys_shard.h"
#include "shard_impl.h"
#include "nys_bin.h"
#include "nys_hash.h"
#include "nys_tokstream.h"

#include <stdlib.h>
#include <string.h>

typedef unsigned long long ull;

/* ---- the header ----------------------------------------------------------- */

void nys_shard_header_pack(const nys_shard_header *h, unsigned char out[NYS_SHARD_HEADER_SIZE])
{
	memset(out, 0, NYS_SHARD_HEADER_SIZE);
	memcpy(out, NYS_SHARD_MAGIC, 8);
	nys_put_u32(out + 8, h->version);
	nys_put_u32(out + 12, h->seq_len);
	nys_put_u32(out + 16, h->count);
	nys_put_u32(out + 20, h->width);
	nys_put_u32(out + 24, h->vocab_size);
	nys_put_u32(out + 28, h->cls_id);
	nys_put_u32(out + 32, h->sep_id);
	nys_put_u32(out + 36, h->flags);
	nys_put_u64(out + 40, h->fingerprint);
}

int nys_shard_header_parse(const unsigned char in[NYS_SHARD_HEADER_SIZE], nys_shard_header *h,
                           const char *name, nys_err *e)
{
	if (memcmp(in, NYS_SHARD_MAGIC, 8))
		return nys_err_set(e, "%s: byte 0: not a shard (bad magic)", name);
	h->version = nys_get_u32(in + 8);
	h->seq_len = nys_get_u32(in + 12);
	h->count = nys_get_u32(in + 16);
	h->width = nys_get_u32(in + 20);
	h->vocab_size = nys_get_u32(in + 24);
	h->cls_id = nys_get_u32(in + 28);
	h->sep_id = nys_get_u32(in + 32);
	h->flags = nys_get_u32(in + 36);
	h->fingerprint = nys_get_u64(in + 40);
	if (h->version != NYS_SHARD_VERSION)
		return nys_err_set(e, "%s: byte 8: shard version %u (this program reads %u)", name,
		                   h->version, NYS_SHARD_VERSION);
	if (h->seq_len < NYS_SHARD_MIN_LEN || h->seq_len > NYS_SHARD_MAX_LEN)
		return nys_err_set(e, "%s: byte 12: bad sequence length %u (%u to %u)", name,
		                   h->seq_len, NYS_SHARD_MIN_LEN, NYS_SHARD_MAX_LEN);
	if ((uint64_t)h->count * h->seq_len > NYS_SHARD_MAX_TOKENS)
		return nys_err_set(e, "%s: byte 16: %u sequences of %u tokens: more than a shard holds",
		                   name, h->count, h->seq_len);
	if ((h->width != 2 && h->width != 4) || !h->vocab_size ||
	    h->width < nys_tok_width(h->vocab_size))
		return nys_err_set(e, "%s: byte 20: bad header (width %u, vocabulary %u)", name,
		                   h->width, h->vocab_size);
	if (h->cls_id >= h->vocab_size || h->sep_id >= h->vocab_size)
		return nys_err_set(e, "%s: byte 28: [CLS] %u or [SEP] %u outside the vocabulary (%u)",
		                   name, h->cls_id, h->sep_id, h->vocab_size);
	if (h->flags)
		return nys_err_set(e, "%s: byte 36: unknown flags %#x", name, h->flags);
	for (unsigned i = 48; i < NYS_SHARD_HEADER_SIZE; i++)
		if (in[i])
			return nys_err_set(e, "%s: byte %u: reserved header bytes are not zero", name, i);
	return 0;
}

uint64_t nys_shard_file_size(const nys_shard_header *h)
{
	return NYS_SHARD_HEADER_SIZE + (uint64_t)h->count * h->seq_len * h->width + 8;
}

/* ---- reading -------------------------------------------------------------- */

struct nys_shard_reader {
	nys_binrd b;
	nys_shard_header h;
	bool done;
	uint64_t seqs;
	uint32_t *ids;
};

static const char *rname(const nys_shard_reader *r)
{
	return nys_binrd_name(&r->b);
}


nys_shard_reader *nys_shard_open(const char *path, nys_err *e)
{
	nys_shard_reader *r = nys_mem_alloc(sizeof *r, e);
	if (!r)
		return NULL;
	if (nys_binrd_open(&r->b, path, e))
		goto fail;
	int k = nys_binrd_need(&r->b, NYS_SHARD_HEADER_SIZE, NULL, e);
	if (k < 0)
		goto fail;
	if (k == 0) {
		if (r->b.len == 0)
			nys_err_set(e, "%s: empty, not a shard", rname(r));
		else
			nys_binrd_truncated(&r->b, "in the header", e);
		goto fail;
	}
	if (nys_shard_header_parse(r->b.buf, &r->h, rname(r), e))
		goto fail;
	if (!(r->ids = malloc((size_t)r->h.seq_len * sizeof *r->ids))) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	nys_hash_init(&r->b.hash, 0);
	nys_binrd_take(&r->b, NYS_SHARD_HEADER_SIZE, true);
	return r;
fail:
	nys_shard_close(r);
	return NULL;
}

const nys_shard_header *nys_shard_reader_header(const nys_shard_reader *r) { return &r->h; }
const char *nys_shard_reader_name(const nys_shard_reader *r) { return rname(r); }
uint64_t nys_shard_reader_seqs(const nys_shard_reader *r) { return r->seqs; }

static int finish(nys_shard_reader *r, nys_err *e)
{
	int k = nys_binrd_need(&r->b, 8, NULL, e);
	if (k <= 0)
		return k < 0 ? -1 : nys_binrd_truncated(&r->b, "in the checksum", e);
	uint64_t at = r->b.off, sum = nys_get_u64(r->b.buf + r->b.pos);
	nys_binrd_take(&r->b, 8, false);
	if (sum != nys_hash_final(&r->b.hash))
		return nys_err_set(e, "%s: checksum mismatch at byte %llu (the shard is damaged)",
		                   rname(r), (ull)at);
	if ((k = nys_binrd_need(&r->b, 1, NULL, e)) != 0)
		return k < 0 ? -1 : nys_err_set(e, "%s: byte %llu: data after the checksum",
		                                rname(r), (ull)r->b.off);
	r->done = true;
	return 0;
}

int nys_shard_next(nys_shard_reader *r, const uint32_t **ids, nys_err *e)
{
	if (r->done)
		return 0;
	if (r->seqs == r->h.count)
		return finish(r, e);
	uint32_t n = r->h.seq_len, vocab = r->h.vocab_size;
	size_t bytes = (size_t)n * r->h.width;
	int k = nys_binrd_need(&r->b, bytes, NULL, e);
	if (k <= 0) {
		if (k < 0)
			return -1;
		char what[96];
		snprintf(what, sizeof what, "in sequence %llu of %u", (ull)r->seqs + 1, r->h.count);
		return nys_binrd_truncated(&r->b, what, e);
	}
	const unsigned char *s = r->b.buf + r->b.pos;
	uint32_t *v = r->ids, bad = 0;
	if (r->h.width == 2) {
		for (uint32_t i = 0; i < n; i++) {
			v[i] = (uint32_t)s[2 * i] | (uint32_t)s[2 * i + 1] << 8;
			bad |= v[i] >= vocab;
		}
	} else {
		for (uint32_t i = 0; i < n; i++) {
			v[i] = nys_get_u32(s + 4 * i);
			bad |= v[i] >= vocab;
		}
	}
	if (bad)
		for (uint32_t i = 0; i < n; i++)
			if (v[i] >= vocab)
				return nys_err_set(e, "%s: byte %llu: id %u outside the vocabulary (%u)",
				                   rname(r), (ull)(r->b.off + (uint64_t)i * r->h.width), v[i],
				                   vocab);
	if (v[0] != r->h.cls_id)
		return nys_err_set(e, "%s: byte %llu: sequence %llu starts with %u, not [CLS] %u",
		                   rname(r), (ull)r->b.off, (ull)r->seqs + 1, v[0], r->h.cls_id);
	if (v[n - 1] != r->h.sep_id)
		return nys_err_set(e, "%s: byte %llu: sequence %llu ends with %u, not [SEP] %u",
		                   rname(r), (ull)(r->b.off + bytes - r->h.width), (ull)r->seqs + 1,
		                   v[n - 1], r->h.sep_id);
	nys_binrd_take(&r->b, bytes, true);
	r->seqs++;
	*ids = v;
	return 1;
}

void nys_shard_close(nys_shard_reader *r)
{
	if (!r)
		return;
	nys_binrd_close(&r->b);
	free(r->ids);
	free(r);
}

int nys_shard_read_header(const char *path, nys_shard_header *h, nys_err *e)
{
	nys_shard_reader *r = nys_shard_open(path, e);
	if (!r)
		return -1;
	*h = r->h;
	nys_shard_close(r);
	return 0;
}

int nys_shard_verify(const char *path, nys_shard_header *h, nys_err *e)
{
	nys_shard_reader *r = nys_shard_open(path, e);
	if (!r)
		return -1;
	const uint32_t *ids;
	int k;
	while ((k = nys_shard_next(r, &ids, e)) == 1)
		;
	if (!k)
		*h = r->h;
	nys_shard_close(r);
	return k;
}

/* ---- writing -------------------------------------------------------------- */

void nys_shard_zctx_free(nys_shard_zctx *z)
{
	ZSTD_freeCCtx(z->cc);
	free(z->buf);
	memset(z, 0, sizeof *z);
}

/* One-shot compression: the frame records the content size, and the
 * parameters fit the shard's size. */
int nys_shard_write_image(const char *path, const nys_shard_header *h, unsigned char *img,
                          size_t n, int level, nys_shard_zctx *z, nys_err *e)
{
	nys_shard_header_pack(h, img);
	nys_put_u64(img + n - 8, nys_hash64(img, n - 8, 0));
	if (!z->cc && !(z->cc = ZSTD_createCCtx()))
		return nys_err_set(e, "out of memory");
	size_t bound = ZSTD_compressBound(n);
	if (z->cap < bound) {
		free(z->buf);
		if (!(z->buf = malloc(bound))) {
			z->cap = 0;
			return nys_err_set(e, "out of memory");
		}
		z->cap = bound;
	}
	ZSTD_CCtx_reset(z->cc, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(z->cc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(z->cc, ZSTD_c_checksumFlag, 1);
	size_t k = ZSTD_compress2(z->cc, z->buf, z->cap, img, n);
	if (ZSTD_isError(k))
		return nys_err_set(e, "%s: zstd: %s", path, ZSTD_getErrorName(k));
	nys_out *o = nys_out_open(path, NYS_OUT_BINARY, e);
	if (!o)
		return -1;
	if (nys_out_write(o, z->buf, k, e)) {
		nys_out_abort(o);
		return -1;
	}
	return nys_out_commit(o, e);
}

int nys_shard_write(const char *path, const nys_shard_header *h, const void *data, int level,
                    nys_err *e)
{
	size_t bytes = (size_t)h->count * h->seq_len * h->width;
	size_t n = NYS_SHARD_HEADER_SIZE + bytes + 8;
	unsigned char *img = malloc(n);
	if (!img)
		return nys_err_set(e, "out of memory");
	memcpy(img + NYS_SHARD_HEADER_SIZE, data, bytes);
	nys_shard_zctx z = {0};
	int rc = nys_shard_write_image(path, h, img, n, level ? level : NYS_SHARD_LEVEL, &z, e);
	nys_shard_zctx_free(&z);
	free(img);
	return rc;
}

