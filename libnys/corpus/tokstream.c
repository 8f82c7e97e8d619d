/* Token streams, nys-tokens(5): the writer behind `tokenize encode` and the
 * reader behind `shard` and `tokenize decode|info`.  The reader trusts
 * nothing: every length is bounded, every id checked against the
 * vocabulary, and a segment counts only once its trailer's counts and
 * checksum agree. */
#include "nys_tokstream.h"
#include "nys_bin.h"

#include <stdlib.h>
#include <string.h>

unsigned nys_tok_width(uint32_t vocab_size)
{
	return vocab_size <= 65536 ? 2 : 4;
}

/* ---- writing ---------------------------------------------------------------- */

struct nys_tok_writer {
	nys_out *out;
	nys_hash hash;
	uint32_t vocab, width;
	uint64_t docs, tokens;
	unsigned char *pack;
	size_t cap;
};

static int put(nys_tok_writer *w, const void *p, size_t n, nys_err *e)
{
	nys_hash_update(&w->hash, p, n);
	return nys_out_write(w->out, p, n, e);
}

nys_tok_writer *nys_tok_writer_open(const char *path, uint32_t vocab_size,
                                    uint64_t fingerprint, nys_err *e)
{
	if (!vocab_size) {
		nys_err_set(e, "token stream: vocabulary size 0");
		return NULL;
	}
	nys_tok_writer *w = nys_mem_alloc(sizeof *w, e);
	if (!w)
		return NULL;
	w->vocab = vocab_size;
	w->width = nys_tok_width(vocab_size);
	w->out = nys_out_open(path, NYS_OUT_ZSTD | NYS_OUT_BINARY, e);
	if (!w->out) {
		free(w);
		return NULL;
	}
	nys_hash_init(&w->hash, 0);
	unsigned char h[32] = {0};
	memcpy(h, NYS_TOK_MAGIC, 8);
	nys_put_u32(h + 8, NYS_TOK_VERSION);
	nys_put_u32(h + 12, w->width);
	nys_put_u32(h + 16, vocab_size);
	nys_put_u32(h + 20, 0);
	nys_put_u64(h + 24, fingerprint);
	if (put(w, h, sizeof h, e)) {
		nys_tok_writer_abort(w);
		return NULL;
	}
	return w;
}

int nys_tok_writer_doc(nys_tok_writer *w, const uint32_t *ids, size_t n, nys_err *e)
{
	if (n >= NYS_TOK_END)
		return nys_err_set(e, "token stream: document of %zu tokens is too long", n);
	size_t need = 4 + n * w->width;
	if (need > w->cap) {
		unsigned char *p = realloc(w->pack, need);
		if (!p)
			return nys_err_set(e, "out of memory");
		w->pack = p;
		w->cap = need;
	}
	unsigned char *p = w->pack;
	nys_put_u32(p, (uint32_t)n);
	p += 4;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= w->vocab)
			return nys_err_set(e, "token stream: id %u is outside the vocabulary (%u)",
			                   ids[i], w->vocab);
		if (w->width == 2) {
			p[0] = (unsigned char)ids[i];
			p[1] = (unsigned char)(ids[i] >> 8);
			p += 2;
		} else {
			nys_put_u32(p, ids[i]);
			p += 4;
		}
	}
	if (put(w, w->pack, need, e))
		return -1;
	w->docs++;
	w->tokens += n;
	return 0;
}

uint64_t nys_tok_writer_docs(const nys_tok_writer *w) { return w->docs; }
uint64_t nys_tok_writer_tokens(const nys_tok_writer *w) { return w->tokens; }

int nys_tok_writer_commit(nys_tok_writer *w, nys_err *e)
{
	unsigned char t[32];
	nys_put_u32(t, NYS_TOK_END);
	nys_put_u32(t + 4, 0);
	nys_put_u64(t + 8, w->docs);
	nys_put_u64(t + 16, w->tokens);
	nys_hash_update(&w->hash, t, 24);
	nys_put_u64(t + 24, nys_hash_final(&w->hash));
	int r = nys_out_write(w->out, t, sizeof t, e);
	if (r)
		nys_out_abort(w->out);
	else
		r = nys_out_commit(w->out, e);
	free(w->pack);
	free(w);
	return r;
}

void nys_tok_writer_abort(nys_tok_writer *w)
{
	if (!w)
		return;
	nys_out_abort(w->out);
	free(w->pack);
	free(w);
}

/* ---- reading token streams ---------------------------------------------------------- */

/* Documents longer than this are taken for corruption, not text. */
#define MAX_DOC_TOKENS (1u << 28)

struct nys_tok_reader {
	nys_binrd b;
	nys_tok_header first, cur;
	bool in_segment;
	uint64_t seg_docs, seg_tokens;
	uint64_t docs, tokens, segments;
	uint32_t *ids;
	size_t ids_cap;
};

/* 1 = a header was read, 0 = clean end of input, -1 = error. */
static int read_header(nys_tok_reader *r, nys_err *e)
{
	size_t got;
	int k = nys_binrd_need(&r->b, 32, &got, e);
	if (k < 0)
		return -1;
	if (k == 0) {
		if (got == 0 && r->segments)
			return 0;
		if (got == 0)
			return nys_err_set(e, "%s: empty input, not a token stream", nys_binrd_name(&r->b));
		return nys_binrd_truncated(&r->b, "in a header", e);
	}
	const unsigned char *h = r->b.buf + r->b.pos;
	if (memcmp(h, NYS_TOK_MAGIC, 8))
		return nys_err_set(e, "%s: byte %llu: not a token stream (bad magic)",
		                   nys_binrd_name(&r->b), (unsigned long long)r->b.off);
	nys_tok_header hd = {
		.version = nys_get_u32(h + 8), .width = nys_get_u32(h + 12),
		.vocab_size = nys_get_u32(h + 16), .flags = nys_get_u32(h + 20),
		.fingerprint = nys_get_u64(h + 24),
	};
	if (hd.version != NYS_TOK_VERSION)
		return nys_err_set(e, "%s: byte %llu: token stream version %u (this program reads %u)",
		                   nys_binrd_name(&r->b), (unsigned long long)r->b.off, hd.version,
		                   NYS_TOK_VERSION);
	if ((hd.width != 2 && hd.width != 4) || !hd.vocab_size || hd.width < nys_tok_width(hd.vocab_size))
		return nys_err_set(e, "%s: byte %llu: bad header (width %u, vocabulary %u)",
		                   nys_binrd_name(&r->b), (unsigned long long)r->b.off, hd.width, hd.vocab_size);
	if (r->segments && (hd.width != r->first.width || hd.vocab_size != r->first.vocab_size ||
	                    hd.fingerprint != r->first.fingerprint))
		return nys_err_set(e, "%s: byte %llu: a segment of another model (fingerprint %016llx, "
		                   "first was %016llx)", nys_binrd_name(&r->b), (unsigned long long)r->b.off,
		                   (unsigned long long)hd.fingerprint,
		                   (unsigned long long)r->first.fingerprint);
	if (!r->segments)
		r->first = hd;
	r->cur = hd;
	nys_hash_init(&r->b.hash, 0);
	nys_binrd_take(&r->b, 32, true);
	r->in_segment = true;
	r->seg_docs = r->seg_tokens = 0;
	return 1;
}

static int read_trailer(nys_tok_reader *r, nys_err *e)
{
	size_t got;
	int k = nys_binrd_need(&r->b, 32, &got, e);
	if (k <= 0)
		return k < 0 ? -1 : nys_binrd_truncated(&r->b, "in a trailer", e);
	const unsigned char *t = r->b.buf + r->b.pos;
	uint64_t docs = nys_get_u64(t + 8), tokens = nys_get_u64(t + 16), sum = nys_get_u64(t + 24);
	uint64_t at = r->b.off;
	nys_binrd_take(&r->b, 24, true);
	nys_binrd_take(&r->b, 8, false);
	if (docs != r->seg_docs || tokens != r->seg_tokens)
		return nys_err_set(e, "%s: byte %llu: the trailer counts %llu documents and %llu tokens, "
		                   "the segment holds %llu and %llu", nys_binrd_name(&r->b),
		                   (unsigned long long)at, (unsigned long long)docs,
		                   (unsigned long long)tokens, (unsigned long long)r->seg_docs,
		                   (unsigned long long)r->seg_tokens);
	if (sum != nys_hash_final(&r->b.hash))
		return nys_err_set(e, "%s: byte %llu: checksum mismatch (the segment is damaged)",
		                   nys_binrd_name(&r->b), (unsigned long long)at);
	r->in_segment = false;
	r->segments++;
	return 0;
}

nys_tok_reader *nys_tok_reader_open(const char *path, nys_err *e)
{
	nys_tok_reader *r = nys_mem_alloc(sizeof *r, e);
	if (!r)
		return NULL;
	if (nys_binrd_open(&r->b, path, e) || read_header(r, e) != 1) {
		nys_tok_reader_close(r);
		return NULL;
	}
	return r;
}

const nys_tok_header *nys_tok_reader_header(const nys_tok_reader *r) { return &r->first; }
const char *nys_tok_reader_name(const nys_tok_reader *r) { return nys_binrd_name(&r->b); }
uint64_t nys_tok_reader_docs(const nys_tok_reader *r) { return r->docs; }
uint64_t nys_tok_reader_tokens(const nys_tok_reader *r) { return r->tokens; }
uint64_t nys_tok_reader_segments(const nys_tok_reader *r) { return r->segments; }

int nys_tok_reader_next(nys_tok_reader *r, const uint32_t **ids, size_t *n, nys_err *e)
{
	for (;;) {
		if (!r->in_segment) {
			int k = read_header(r, e);
			if (k <= 0)
				return k;
		}
		size_t got;
		int k = nys_binrd_need(&r->b, 4, &got, e);
		if (k <= 0)
			return k < 0 ? -1 : nys_binrd_truncated(&r->b, "no trailer", e);
		uint32_t len = nys_get_u32(r->b.buf + r->b.pos);
		if (len == NYS_TOK_END) {
			if (read_trailer(r, e))
				return -1;
			continue;
		}
		if (len > MAX_DOC_TOKENS)
			return nys_err_set(e, "%s: byte %llu: a document of %u tokens: the stream is damaged",
			                   nys_binrd_name(&r->b), (unsigned long long)r->b.off, len);
		uint64_t at = r->b.off;
		nys_binrd_take(&r->b, 4, true);
		size_t bytes = (size_t)len * r->cur.width;
		k = nys_binrd_need(&r->b, bytes, &got, e);
		if (k <= 0)
			return k < 0 ? -1 : nys_binrd_truncated(&r->b, "inside a document", e);
		if (len > r->ids_cap) {
			size_t cap = len > 2 * r->ids_cap ? len : 2 * r->ids_cap;
			uint32_t *p = realloc(r->ids, cap * sizeof *p);
			if (!p)
				return nys_err_set(e, "out of memory");
			r->ids = p;
			r->ids_cap = cap;
		}
		const unsigned char *s = r->b.buf + r->b.pos;
		uint32_t vocab = r->cur.vocab_size, bad = 0;
		if (r->cur.width == 2) {
			for (uint32_t i = 0; i < len; i++) {
				uint32_t v = (uint32_t)s[2 * i] | (uint32_t)s[2 * i + 1] << 8;
				r->ids[i] = v;
				bad |= v >= vocab;
			}
		} else {
			for (uint32_t i = 0; i < len; i++) {
				uint32_t v = nys_get_u32(s + 4 * i);
				r->ids[i] = v;
				bad |= v >= vocab;
			}
		}
		if (bad)
			return nys_err_set(e, "%s: byte %llu: an id outside the vocabulary (%u): the stream is damaged",
			                   nys_binrd_name(&r->b), (unsigned long long)at, vocab);
		nys_binrd_take(&r->b, bytes, true);
		r->seg_docs++;
		r->seg_tokens += len;
		r->docs++;
		r->tokens += len;
		*ids = r->ids;
		*n = len;
		return 1;
	}
}

void nys_tok_reader_close(nys_tok_reader *r)
{
	if (!r)
		return;
	nys_binrd_close(&r->b);
	free(r->ids);
	free(r);
}
