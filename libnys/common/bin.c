/* The buffered binary reader of nys_bin.h.  It trusts no length it is
 * given: its buffer grows with the bytes that actually arrive. */
#include "nys_bin.h"

#include <stdlib.h>
#include <string.h>

int nys_binrd_open(nys_binrd *b, const char *path, nys_err *e)
{
	memset(b, 0, sizeof *b);
	b->in = nys_in_open(path, e);
	nys_hash_init(&b->hash, 0);
	return b->in ? 0 : -1;
}

int nys_binrd_need(nys_binrd *b, size_t k, size_t *avail, nys_err *e)
{
	while (b->len - b->pos < k) {
		if (b->eof) {
			if (avail)
				*avail = b->len - b->pos;
			return 0;
		}
		if (b->pos) {
			memmove(b->buf, b->buf + b->pos, b->len - b->pos);
			b->len -= b->pos;
			b->pos = 0;
		}
		/* Room grows with the data that actually came (doubling when
		 * full), never to k at once: k comes from a length field, and a
		 * damaged one must not reserve memory the input never fills. */
		size_t want = b->cap < 1 << 20 ? 1 << 20 : b->len == b->cap ? 2 * b->cap : b->cap;
		if (b->cap < want) {
			unsigned char *p = realloc(b->buf, want);
			if (!p)
				return nys_err_set(e, "out of memory");
			b->buf = p;
			b->cap = want;
		}
		ptrdiff_t n = nys_in_read(b->in, b->buf + b->len, b->cap - b->len, e);
		if (n < 0) {
			/* a cut or damaged zstd frame: say where the data stopped */
			size_t m = strlen(e->msg);
			snprintf(e->msg + m, sizeof e->msg - m, " (after byte %llu of the decompressed data)",
			         (unsigned long long)(b->off + (b->len - b->pos)));
			return -1;
		}
		if (n == 0)
			b->eof = true;
		b->len += (size_t)n;
	}
	return 1;
}

void nys_binrd_take(nys_binrd *b, size_t k, bool hashed)
{
	if (hashed)
		nys_hash_update(&b->hash, b->buf + b->pos, k);
	b->pos += k;
	b->off += k;
}

int nys_binrd_truncated(const nys_binrd *b, const char *what, nys_err *e)
{
	return nys_err_set(e, "%s: truncated at byte %llu (%s)", nys_in_name(b->in),
	                   (unsigned long long)(b->off + (b->len - b->pos)), what);
}

const char *nys_binrd_name(const nys_binrd *b)
{
	return nys_in_name(b->in);
}

void nys_binrd_close(nys_binrd *b)
{
	nys_in_close(b->in);
	free(b->buf);
	memset(b, 0, sizeof *b);
}
