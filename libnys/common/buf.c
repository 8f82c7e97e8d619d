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

int nys_buf_add_json_str(nys_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (nys_buf_reserve(b, n + n / 8 + 16))
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (nys_buf_add(b, s + run, i - run))
			return -1;
		run = i + 1;
		char esc[7] = {'\\', 0};
		size_t k = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\t': esc[1] = 't'; break;
		case '\r': esc[1] = 'r'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		}
		if (nys_buf_add(b, esc, k))
			return -1;
	}
	/* s may be NULL when n is 0 (an empty nys_buf's p): not to be offset */
	return nys_buf_add(b, run < n ? s + run : "", n - run);
}
