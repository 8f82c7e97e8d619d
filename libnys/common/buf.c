/* Growable byte buffers, the scratch space of every text pass. */
#include "nys.h"

#include <stdlib.h>
#include <string.h>

int nys_buf_reserve(nys_buf *b, size_t extra)
{
	if (b->cap - b->n > extra)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->n <= extra) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int nys_buf_add(nys_buf *b, const void *s, size_t n)
{
	if (nys_buf_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

int nys_buf_addc(nys_buf *b, char c)
{
	if (nys_buf_reserve(b, 1))
		return -1;
	b->p[b->n++] = c;
	b->p[b->n] = 0;
	return 0;
}

int nys_buf_adds(nys_buf *b, const char *s)
{
	return nys_buf_add(b, s, strlen(s));
}

int nys_buf_printf(nys_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0 || nys_buf_reserve(b, (size_t)k + 1))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)k;
	return 0;
}

void nys_buf_free(nys_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* The one-letter escape of byte c in a JSON string, or 0.  \b and \f are
 * spelled out only in ASCII mode (Python's json module); the UTF-8 mode
 * has always written them as \u0008 and \u000c. */
static char json_short_escape(unsigned c, bool ascii)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '\n': return 'n';
	case '\t': return 't';
	case '\r': return 'r';
	case '\b': return ascii ? 'b' : 0;
	case '\f': return ascii ? 'f' : 0;
	default: return 0;
	}
}

/* Both JSON string escapers: runs of bytes that need no escape are copied
 * whole (the text of every article goes through here).  UTF-8 mode keeps
 * bytes from 0x7f up as they are; ASCII mode writes every code point
 * outside 0x20-0x7e as \uXXXX (a surrogate pair above U+FFFF) and a byte
 * that is not UTF-8 as the lone surrogate U+DC80-U+DCFF, as Python's
 * surrogateescape decodes it.  Inlined into each caller, so that the test
 * of the mode leaves the loop. */
static inline __attribute__((always_inline)) int json_escape(nys_buf *b, const char *s, size_t n,
                                                             bool ascii)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	if (nys_buf_reserve(b, n + n / 8 + 16))
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		if (c >= 0x20 && c != '"' && c != '\\' && (!ascii || c < 0x7f)) {
			i++;
			continue;
		}
		if (nys_buf_add(b, s + run, i - run))
			return -1;
		uint32_t cp = c;
		int len = 1;
		if (c >= 0x80) {
			int k = nys_utf8_len(u + i, n - i);
			if (k) {
				cp = nys_utf8_decode(u + i, k);
				len = k;
			} else
				cp = 0xDC00 + c;
		}
		i += (size_t)len;
		run = i;
		char esc[12] = {'\\', json_short_escape(c, ascii)};
		size_t k = 2;
		if (!esc[1]) {
			uint32_t units[2] = {cp, 0};
			int nu = 1;
			if (cp > 0xFFFF) {
				units[0] = 0xD800 + ((cp - 0x10000) >> 10);
				units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
				nu = 2;
			}
			k = 0;
			for (int j = 0; j < nu; j++) {
				char *x = esc + k;
				x[0] = '\\';
				x[1] = 'u';
				x[2] = hex[units[j] >> 12 & 15];
				x[3] = hex[units[j] >> 8 & 15];
				x[4] = hex[units[j] >> 4 & 15];
				x[5] = hex[units[j] & 15];
				k += 6;
			}
		}
		if (nys_buf_add(b, esc, k))
			return -1;
	}
	/* s may be NULL when n is 0 (an empty nys_buf's p): not to be offset */
	return nys_buf_add(b, run < n ? s + run : "", n - run);
}

int nys_buf_add_json_str(nys_buf *b, const char *s, size_t n)
{
	return json_escape(b, s, n, false);
}

int nys_buf_add_json_ascii(nys_buf *b, const char *s, size_t n)
{
	return json_escape(b, s, n, true);
}
