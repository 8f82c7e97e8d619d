/* Buffered input from plain, bzip2 and zstd files and stdin.  The codec
 * comes from the first bytes of the stream, so pipes work as files do.
 * bzip2 is decoded by bz2.c, on several threads. */
#include "bz2_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

enum codec { PLAIN, BZ2, ZSTD };
#define RAW_SIZE (256 * 1024)

struct nys_in {
	int fd;
	bool raw_eof;
	enum codec codec;
	char *name;
	unsigned char *raw;     /* compressed bytes */
	size_t raw_off, raw_len;
	uint64_t raw_pos, raw_size;
	nys_bz *bz;             /* made at the first read, after nys_in_set_threads */
	unsigned bz_threads;
	ZSTD_DStream *zs;
	size_t zs_last;         /* last ZSTD_decompressStream hint; 0 = frame done */
	/* line reading */
	char *lbuf;             /* decoded bytes not yet returned as lines */
	size_t loff, llen, lcap;
	bool leof;
	uint64_t lineno;
};

/* Up to n bytes of the file into buf (EINTR retried, the end and the
 * position noted); the count, or -1 with e set. */
static ptrdiff_t read_raw(nys_in *in, void *buf, size_t n, nys_err *e)
{
	ssize_t k;
	while ((k = read(in->fd, buf, n)) < 0 && errno == EINTR)
		;
	if (k < 0)
		return nys_err_sys(e, "%s: read", in->name);
	if (k == 0)
		in->raw_eof = true;
	in->raw_pos += (uint64_t)k;
	return k;
}

static int fill_raw(nys_in *in, nys_err *e)
{
	if (in->raw_off < in->raw_len || in->raw_eof)
		return 0;
	in->raw_off = in->raw_len = 0;
	ptrdiff_t k = read_raw(in, in->raw, RAW_SIZE, e);
	if (k < 0)
		return -1;
	in->raw_len = (size_t)k;
	return 0;
}

nys_in *nys_in_open(const char *path, nys_err *e)
{
	nys_in *in = nys_mem_alloc(sizeof *in, e);
	if (!in)
		return NULL;
	bool std = !path || !strcmp(path, "-");
	in->name = strdup(std ? "(stdin)" : path);
	in->raw = malloc(RAW_SIZE);
	if (!in->name || !in->raw) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	if (std) {
		in->fd = 0;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			nys_err_sys(e, "open %s", path);
			goto fail;
		}
	}
	struct stat st;
	if (fstat(in->fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			nys_err_set(e, "%s: is a directory", in->name);
			goto fail;
		}
		if (S_ISREG(st.st_mode))
			in->raw_size = (uint64_t)st.st_size;
	}
	/* Gather enough bytes to recognise a magic number. */
	while (in->raw_len < 4 && !in->raw_eof) {
		ssize_t k = read(in->fd, in->raw + in->raw_len, RAW_SIZE - in->raw_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			nys_err_sys(e, "%s: read", in->name);
			goto fail;
		}
		if (k == 0)
			in->raw_eof = true;
		in->raw_len += (size_t)k;
		in->raw_pos += (uint64_t)k;
	}
	const unsigned char *m = in->raw;
	if (in->raw_len >= 4 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h' && m[3] >= '1' && m[3] <= '9')
		in->codec = BZ2;
	else if (in->raw_len >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD)
		in->codec = ZSTD;
	if (in->codec == ZSTD) {
		in->zs = ZSTD_createDStream();
		if (!in->zs) {
			nys_err_set(e, "out of memory");
			goto fail;
		}
		ZSTD_initDStream(in->zs);
		in->zs_last = 1;
	}
	return in;
fail:
	nys_in_close(in);
	return NULL;
}

/* Up to n bytes of what the raw buffer holds, into buf. */
static ptrdiff_t take_raw(nys_in *in, void *buf, size_t n)
{
	size_t k = in->raw_len - in->raw_off;
	if (k > n)
		k = n;
	memcpy(buf, in->raw + in->raw_off, k);
	in->raw_off += k;
	return (ptrdiff_t)k;
}

/* The compressed bytes for bz2.c: those read at open, then the file's. */
static ptrdiff_t bz_src(void *arg, void *buf, size_t n, nys_err *e)
{
	nys_in *in = arg;
	if (in->raw_off == in->raw_len) {
		if (in->raw_eof)
			return 0;
		return read_raw(in, buf, n, e);
	}
	return take_raw(in, buf, n);
}

static ptrdiff_t read_bz2(nys_in *in, void *buf, size_t n, nys_err *e)
{
	if (!in->bz && !(in->bz = nys_bz_new(in->name, bz_src, in, in->bz_threads, e)))
		return -1;
	return nys_bz_read(in->bz, buf, n, e);
}

void nys_in_set_threads(nys_in *in, unsigned n) { in->bz_threads = n; }

static ptrdiff_t read_zstd(nys_in *in, void *buf, size_t n, nys_err *e)
{
	for (;;) {
		if (fill_raw(in, e))
			return -1;
		if (in->raw_off == in->raw_len && in->raw_eof) {
			if (in->zs_last != 0)
				return nys_err_set(e, "%s: truncated zstd stream", in->name);
			return 0;
		}
		ZSTD_inBuffer ib = {in->raw, in->raw_len, in->raw_off};
		ZSTD_outBuffer ob = {buf, n, 0};
		size_t r = ZSTD_decompressStream(in->zs, &ob, &ib);
		in->raw_off = ib.pos;
		if (ZSTD_isError(r))
			return nys_err_set(e, "%s: corrupt zstd data: %s", in->name, ZSTD_getErrorName(r));
		in->zs_last = r;
		if (ob.pos)
			return (ptrdiff_t)ob.pos;
	}
}

ptrdiff_t nys_in_read(nys_in *in, void *buf, size_t n, nys_err *e)
{
	if (!n)
		return 0;
	switch (in->codec) {
	case BZ2:
		return read_bz2(in, buf, n, e);
	case ZSTD:
		return read_zstd(in, buf, n, e);
	case PLAIN:
		break;
	}
	if (fill_raw(in, e))
		return -1;
	return take_raw(in, buf, n);
}

/* The rest of a line longer than the caller's maximum, of which the first
 * `have` bytes are all lbuf holds: read through it to its newline (or the
 * end) without keeping it, so that memory does not grow with the line.
 * *len gets its length, counted as nys_in_getline counts (no "\r" before
 * the newline). */
static int skip_line(nys_in *in, size_t have, size_t *len, nys_err *e)
{
	uint64_t n = have;
	char last = in->lbuf[in->loff + have - 1];
	in->loff = in->llen = 0;
	for (;;) {
		ptrdiff_t k = nys_in_read(in, in->lbuf, in->lcap - 1, e);
		if (k < 0)
			return -1;
		if (k == 0) {
			in->leof = true;
			break;
		}
		char *nl = memchr(in->lbuf, '\n', (size_t)k);
		if (nl) {
			size_t j = (size_t)(nl - in->lbuf);
			n += j;
			if (j)
				last = in->lbuf[j - 1];
			in->loff = j + 1;
			in->llen = (size_t)k;
			break;
		}
		n += (uint64_t)k;
		last = in->lbuf[k - 1];
	}
	if (last == '\r')
		n--;
	in->lineno++;
	*len = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	return 2;
}

int nys_in_getline_max(nys_in *in, size_t max, char **line, size_t *len, nys_err *e)
{
	for (;;) {
		if (!in->lbuf) {
			in->lbuf = malloc(256 * 1024);
			if (!in->lbuf)
				return nys_err_set(e, "%s: out of memory", in->name);
			in->lcap = 256 * 1024;
		}
		char *s = in->lbuf + in->loff;
		size_t avail = in->llen - in->loff;
		char *nl = avail ? memchr(s, '\n', avail) : NULL;
		if (nl || (in->leof && avail)) {
			size_t k = nl ? (size_t)(nl - s) : avail;
			in->loff += nl ? k + 1 : k;
			if (k && s[k - 1] == '\r')
				k--;
			in->lineno++;
			if (k > max) {
				*line = NULL;
				*len = k;
				return 2;
			}
			s[k] = 0; /* room: the newline, or the spare byte kept below */
			*line = s;
			*len = k;
			return 1;
		}
		if (in->leof)
			return 0;
		/* more than max bytes and no newline yet: too long even if the
		 * last of them is the "\r" of a "\r\n" */
		if (avail && avail - 1 > max) {
			*line = NULL;
			return skip_line(in, avail, len, e);
		}
		/* Slide the partial line down and read more behind it. */
		if (in->loff) {
			memmove(in->lbuf, in->lbuf + in->loff, avail);
			in->llen = avail;
			in->loff = 0;
		}
		if (in->lcap - in->llen < 65536 + 1) {
			size_t cap = in->lcap * 2;
			char *p = realloc(in->lbuf, cap);
			if (!p)
				return nys_err_set(e, "%s:%llu: out of memory (line too long)", in->name,
				                   (unsigned long long)in->lineno + 1);
			in->lbuf = p;
			in->lcap = cap;
		}
		ptrdiff_t k = nys_in_read(in, in->lbuf + in->llen, in->lcap - in->llen - 1, e);
		if (k < 0)
			return -1;
		if (k == 0)
			in->leof = true;
		in->llen += (size_t)k;
	}
}

int nys_in_getline(nys_in *in, char **line, size_t *len, nys_err *e)
{
	return nys_in_getline_max(in, SIZE_MAX, line, len, e);
}

int nys_in_read_all(nys_in *in, nys_buf *b, nys_err *e)
{
	for (;;) {
		if (nys_buf_reserve(b, 1 << 16))
			return nys_err_set(e, "%s: out of memory", in->name);
		ptrdiff_t k = nys_in_read(in, b->p + b->n, b->cap - b->n - 1, e);
		if (k < 0)
			return -1;
		b->n += (size_t)k;
		b->p[b->n] = 0;
		if (k == 0)
			return 0;
	}
}

const char *nys_in_name(const nys_in *in) { return in->name; }
uint64_t nys_in_lineno(const nys_in *in) { return in->lineno; }
uint64_t nys_in_raw_pos(const nys_in *in) { return in->raw_pos; }
uint64_t nys_in_raw_size(const nys_in *in) { return in->raw_size; }

void nys_in_close(nys_in *in)
{
	if (!in)
		return;
	nys_bz_free(in->bz);
	if (in->zs)
		ZSTD_freeDStream(in->zs);
	if (in->fd > 0)
		close(in->fd);
	free(in->raw);
	free(in->lbuf);
	free(in->name);
	free(in);
}
