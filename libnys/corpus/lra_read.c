/* The readers of nys_lra_read.h: each LRA task's files, in the layout its
 * publishers ship, to labelled records. */
#include "nys_lra_read.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t nys_lra_default_len(nys_lra_task task)
{
	switch (task) {
	case NYS_LRA_LISTOPS: return 2000;
	case NYS_LRA_TEXT: case NYS_LRA_RETRIEVAL: return 4000;
	default: return 1024;
	}
}

void nys_lra_kind(nys_lra_task task, uint32_t max_len, nys_lra_header *h)
{
	*h = (nys_lra_header){.version = NYS_LRA_VERSION, .task = task, .docs = 1,
	                      .max_len = max_len ? max_len : nys_lra_default_len(task)};
	switch (task) {
	case NYS_LRA_LISTOPS:
		h->vocab = NYS_LRA_VOCAB_LISTOPS;
		h->vocab_size = NYS_LRA_LISTOPS_VOCAB;
		h->classes = 10;
		break;
	case NYS_LRA_TEXT: case NYS_LRA_RETRIEVAL:
		h->vocab = NYS_LRA_VOCAB_BYTES;
		h->vocab_size = 257;
		h->classes = 2;
		h->docs = task == NYS_LRA_RETRIEVAL ? 2 : 1;
		break;
	case NYS_LRA_IMAGE: case NYS_LRA_PATHFINDER:
		h->vocab = NYS_LRA_VOCAB_PIXELS;
		h->vocab_size = 256;
		h->classes = task == NYS_LRA_IMAGE ? 10 : 2;
		break;
	}
	h->width = h->vocab_size <= 256 ? 1 : 2;
}

/* A scratch array of max_len ids for a reader. */
static int32_t *scratch(const nys_lra_writer *w, unsigned n, nys_err *e)
{
	int32_t *p = malloc((size_t)nys_lra_writer_header(w)->max_len * n * sizeof *p);
	if (!p)
		nys_err_set(e, "out of memory");
	return p;
}

/* Put "FILE:LINE: " of the line just read before the message in e;
 * returns -1. */
static int at_line(const nys_in *in, nys_err *e)
{
	nys_err m = *e;
	return nys_err_set(e, "%s:%llu: %s", nys_in_name(in), (unsigned long long)nys_in_lineno(in),
	                   m.msg);
}

/* ---- ListOps -------------------------------------------------------------- */

int64_t nys_lra_listops_encode(const char *s, int32_t *out, uint32_t max, nys_err *e)
{
	static const char *const ops[] = {"[MIN", "[MAX", "[MED", "[SM"};
	uint32_t n = 0;
	char tok[16];
	for (const char *p = s;;) {
		size_t k = 0;
		bool long_tok = false;
		/* one token: the run of characters up to white space, ']' read as
		 * 'X' and parentheses left out */
		for (; *p && !strchr(" \t\r\n\v\f", *p); p++) {
			if (*p == '(' || *p == ')')
				continue;
			if (k + 1 < sizeof tok)
				tok[k++] = *p == ']' ? 'X' : *p;
			else
				long_tok = true;
		}
		tok[k] = 0;
		if (k) {
			int id = -1;
			if (long_tok)
				id = -1;
			else if (k == 1 && tok[0] >= '0' && tok[0] <= '9')
				id = 1 + (tok[0] - '0');
			else if (!strcmp(tok, "X"))
				id = 15;
			else
				for (int i = 0; i < 4; i++)
					if (!strcmp(tok, ops[i]))
						id = 11 + i;
			if (id < 0)
				return nys_err_set(e, "unknown ListOps token '%s%s'", tok, long_tok ? "..." : "");
			if (n < max)
				out[n] = id;
			n++;
		}
		if (!*p)
			break;
		p++;
	}
	return n < max ? n : max;
}

/* A label 0 .. classes-1 written as a decimal integer (AAN's may be
 * written as a float: "1.0"). */
static int parse_label(const char *s, size_t len, uint32_t classes, bool float_ok, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9' && v < 100000; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (!i)
		return -1;
	if (float_ok && i < len && s[i] == '.') {
		size_t j = i + 1;
		while (j < len && s[j] == '0')
			j++;
		if (j == i + 1)
			return -1;
		i = j;
	}
	if (i != len || v >= classes)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int nys_lra_read_listops(const char *path, nys_lra_writer *w, nys_err *e)
{
	const nys_lra_header *h = nys_lra_writer_header(w);
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	int32_t *ids = scratch(w, 1, e);
	char *line;
	size_t len;
	int k, rc = ids ? 0 : -1;
	bool lra = false;
	while (!rc && (k = nys_in_getline(in, &line, &len, e)) > 0) {
		uint64_t ln = nys_in_lineno(in);
		if (ln == 1 && !strcmp(line, "Source\tTarget")) {
			lra = true;
			continue;
		}
		if (strlen(line) != len) {
			rc = nys_err_set(e, "%s:%llu: a NUL byte in the line", nys_in_name(in),
			                 (unsigned long long)ln);
			break;
		}
		char *tab = strchr(line, '\t');
		if (!tab || strchr(tab + 1, '\t')) {
			rc = nys_err_set(e, "%s:%llu: not two tab-separated fields (%s)", nys_in_name(in),
			                 (unsigned long long)ln,
			                 lra ? "Source, Target" : "label, sequence");
			break;
		}
		*tab = 0;
		const char *seq = lra ? line : tab + 1, *lab = lra ? tab + 1 : line;
		uint32_t label;
		if (parse_label(lab, strlen(lab), h->classes, false, &label)) {
			rc = nys_err_set(e, "%s:%llu: bad label '%s' (0 to %u)", nys_in_name(in),
			                 (unsigned long long)ln, lab, h->classes - 1);
			break;
		}
		int64_t n = nys_lra_listops_encode(seq, ids, h->max_len, e);
		if (n < 0) {
			rc = at_line(in, e);
		} else if (n == 0)
			rc = nys_err_set(e, "%s:%llu: an empty sequence", nys_in_name(in),
			                 (unsigned long long)ln);
		else if (nys_lra_writer_add(w, label, ids, (uint32_t)n, NULL, 0, e)) {
			rc = at_line(in, e);
		}
	}
	if (!rc && k < 0)
		rc = -1;
	free(ids);
	nys_in_close(in);
	return rc;
}

/* ---- byte-level text ------------------------------------------------------ */

/* ids of bytes as tfds' ByteTextEncoder: byte + 1; at most max. */
static uint32_t bytes_encode(const char *s, size_t n, int32_t *out, uint32_t max)
{
	uint32_t k = n < max ? (uint32_t)n : max;
	for (uint32_t i = 0; i < k; i++)
		out[i] = (int32_t)(unsigned char)s[i] + 1;
	return k;
}

/* The sorted names in dir ending in suffix (NULL: all but . and ..). */
static int list_dir(const char *dir, const char *suffix, nys_strlist *l, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "%s", dir);
	struct dirent *de;
	size_t sl = suffix ? strlen(suffix) : 0;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n <= sl || (suffix && strcmp(de->d_name + n - sl, suffix)))
			continue;
		rc = nys_strlist_add(l, de->d_name, e);
	}
	closedir(d);
	nys_strlist_sort(l);
	return rc;
}

static int read_file(const char *path, nys_buf *b, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	b->n = 0;
	int rc = nys_in_read_all(in, b, e);
	nys_in_close(in);
	return rc;
}

int nys_lra_read_imdb(const char *dir, nys_lra_writer *w, nys_err *e)
{
	const nys_lra_header *h = nys_lra_writer_header(w);
	static const char *const sub[] = {"neg", "pos"};
	int32_t *ids = scratch(w, 1, e);
	int rc = ids ? 0 : -1;
	nys_buf path = {0}, text = {0}, sd = {0};
	for (uint32_t label = 0; !rc && label < 2; label++) {
		nys_strlist names = {0};
		rc = nys_path_join(&sd, dir, sub[label], e) || list_dir(sd.p, ".txt", &names, e);
		if (!rc && !names.n)
			rc = nys_err_set(e, "%s: no reviews (*.txt)", sd.p);
		for (size_t i = 0; !rc && i < names.n; i++) {
			rc = nys_path_join(&path, sd.p, names.v[i], e) || read_file(path.p, &text, e);
			if (!rc && !text.n)
				rc = nys_err_set(e, "%s: an empty review", path.p);
			if (!rc) {
				uint32_t n = bytes_encode(text.p, text.n, ids, h->max_len);
				rc = nys_lra_writer_add(w, label, ids, n, NULL, 0, e);
			}
		}
		nys_strlist_free(&names);
	}
	nys_buf_free(&path);
	nys_buf_free(&text);
	nys_buf_free(&sd);
	free(ids);
	return rc;
}

int nys_lra_read_aan(const char *path, nys_lra_writer *w, nys_err *e)
{
	const nys_lra_header *h = nys_lra_writer_header(w);
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	int32_t *ids = scratch(w, 2, e);
	char *line;
	size_t len;
	int k, rc = ids ? 0 : -1;
	while (!rc && (k = nys_in_getline(in, &line, &len, e)) > 0) {
		unsigned long long ln = (unsigned long long)nys_in_lineno(in);
		const char *f[6];
		size_t fl[6];
		unsigned nf = 0;
		for (const char *p = line, *end = line + len; nf < 6;) {
			const char *t = memchr(p, '\t', (size_t)(end - p));
			f[nf] = p;
			fl[nf++] = (size_t)((t ? t : end) - p);
			if (!t)
				break;
			p = t + 1;
		}
		if (nf != 5) {
			rc = nys_err_set(e, "%s:%llu: %s tab-separated fields, not 5 (label, id1, id2, "
			                 "text1, text2)", nys_in_name(in), ln, nf > 5 ? "more than 5" :
			                 nf == 1 ? "1" : nf == 2 ? "2" : nf == 3 ? "3" : "4");
			break;
		}
		uint32_t label;
		if (parse_label(f[0], fl[0], 2, true, &label)) {
			rc = nys_err_set(e, "%s:%llu: bad label '%.*s' (0 or 1)", nys_in_name(in), ln,
			                 (int)(fl[0] < 32 ? fl[0] : 32), f[0]);
			break;
		}
		if (!fl[3] || !fl[4]) {
			rc = nys_err_set(e, "%s:%llu: an empty document (text%d)", nys_in_name(in), ln,
			                 fl[3] ? 2 : 1);
			break;
		}
		int32_t *b = ids + h->max_len;
		uint32_t n0 = bytes_encode(f[3], fl[3], ids, h->max_len);
		uint32_t n1 = bytes_encode(f[4], fl[4], b, h->max_len);
		if (nys_lra_writer_add(w, label, ids, n0, b, n1, e)) {
			rc = at_line(in, e);
		}
	}
	if (!rc && k < 0)
		rc = -1;
	free(ids);
	nys_in_close(in);
	return rc;
}

/* ---- images --------------------------------------------------------------- */

uint8_t nys_lra_grey(uint8_t r, uint8_t g, uint8_t b)
{
	/* convert_image_dtype to float32 (x * (1/255)), the weighted sum, and
	 * convert_image_dtype back (x * 255.5, truncated) */
	const float s = (float)(1.0 / 255.0);
	float v = (float)r * s * 0.2989f + (float)g * s * 0.5870f + (float)b * s * 0.1140f;
	float o = v * 255.5f;
	return o >= 255.0f ? 255 : (uint8_t)o;
}

#define CIFAR_REC 3073u

int nys_lra_read_cifar(const char *path, nys_lra_writer *w, nys_err *e)
{
	const nys_lra_header *h = nys_lra_writer_header(w);
	if (h->max_len < 1024)
		return nys_err_set(e, "%s: images of 1024 pixels need a maximum length of 1024, not %u",
		                   path, h->max_len);
	nys_buf b = {0};
	int32_t ids[1024];
	int rc = read_file(path, &b, e);
	if (!rc && (!b.n || b.n % CIFAR_REC))
		rc = nys_err_set(e, "%s: byte %zu: record %zu cut short (records are 3073 bytes: "
		                 "a label and 32x32 R, G, B)", path, b.n - b.n % CIFAR_REC,
		                 b.n / CIFAR_REC);
	for (size_t i = 0; !rc && i < b.n / CIFAR_REC; i++) {
		const unsigned char *p = (const unsigned char *)b.p + i * CIFAR_REC;
		if (p[0] >= 10) {
			rc = nys_err_set(e, "%s: byte %zu: record %zu: label %u (0 to 9)", path,
			                 i * CIFAR_REC, i, p[0]);
			break;
		}
		for (unsigned k = 0; k < 1024; k++)
			ids[k] = nys_lra_grey(p[1 + k], p[1 + 1024 + k], p[1 + 2048 + k]);
		rc = nys_lra_writer_add(w, p[0], ids, 1024, NULL, 0, e);
	}
	nys_buf_free(&b);
	return rc;
}

/* One PNG as grey pixels into out (room for max); *n gets the count, *wh
 * the width and height. */
static int read_png(const char *path, int32_t *out, uint32_t max, uint32_t *n, uint32_t wh[2],
                    nys_err *e)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&im, path))
		return nys_err_set(e, "%s: not a readable PNG (%s)", path, im.message);
	bool colour = im.format & PNG_FORMAT_FLAG_COLOR;
	im.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
	uint64_t px = (uint64_t)im.width * im.height;
	if (px > max) {
		png_image_free(&im);
		return nys_err_set(e, "%s: %ux%u pixels, more than the maximum length %u", path,
		                   im.width, im.height, max);
	}
	unsigned char *buf = malloc(PNG_IMAGE_SIZE(im));
	if (!buf) {
		png_image_free(&im);
		return nys_err_set(e, "out of memory");
	}
	if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
		nys_err_set(e, "%s: a damaged PNG (%s)", path, im.message);
		free(buf);
		png_image_free(&im);
		return -1;
	}
	for (uint64_t i = 0; i < px; i++)
		out[i] = colour ? nys_lra_grey(buf[3 * i], buf[3 * i + 1], buf[3 * i + 2]) : buf[i];
	*n = (uint32_t)px;
	wh[0] = im.width;
	wh[1] = im.height;
	free(buf);
	png_image_free(&im);
	return 0;
}

/* Metadata files sort by their number (0.npy, 1.npy, ..., 10.npy), then
 * by name. */
static int meta_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	unsigned long long u = strtoull(x, NULL, 10), v = strtoull(y, NULL, 10);
	return u < v ? -1 : u > v ? 1 : strcmp(x, y);
}

int nys_lra_read_pathfinder(const char *dir, nys_lra_writer *w, nys_err *e)
{
	const nys_lra_header *h = nys_lra_writer_header(w);
	nys_buf md = {0}, mf = {0}, img = {0};
	nys_strlist names = {0};
	int32_t *ids = scratch(w, 1, e);
	uint32_t size[2] = {0, 0};
	int rc = ids ? 0 : -1;
	if (!rc)
		rc = nys_path_join(&md, dir, "metadata", e) || list_dir(md.p, ".npy", &names, e);
	if (!rc && !names.n)
		rc = nys_err_set(e, "%s: no metadata lists (*.npy)", md.p);
	if (!rc)
		qsort(names.v, names.n, sizeof *names.v, meta_cmp);
	for (size_t i = 0; !rc && i < names.n; i++) {
		nys_in *in = nys_path_join(&mf, md.p, names.v[i], e) ? NULL : nys_in_open(mf.p, e);
		if (!in) {
			rc = -1;
			break;
		}
		char *line;
		size_t len;
		int k;
		while (!rc && (k = nys_in_getline(in, &line, &len, e)) > 0) {
			unsigned long long ln = (unsigned long long)nys_in_lineno(in);
			if (!len)
				continue;
			/* fields split on single spaces, as LRA's builder splits them:
			 * [0] the image folder, [1] its file, [3] the label */
			char *f[4];
			unsigned nf = 0;
			for (char *p = line; nf < 4;) {
				f[nf++] = p;
				char *s = strchr(p, ' ');
				if (!s)
					break;
				*s = 0;
				p = s + 1;
			}
			uint32_t label;
			if (nf < 4) {
				rc = nys_err_set(e, "%s:%llu: %u space-separated fields, not at least 4 "
				                 "(folder, file, _, label)", nys_in_name(in), ln, nf);
			} else if (parse_label(f[3], strcspn(f[3], " "), 2, false, &label)) {
				rc = nys_err_set(e, "%s:%llu: bad label '%.*s' (0 or 1)", nys_in_name(in),
				                 ln, (int)strcspn(f[3], " "), f[3]);
			} else if (!*f[0] || !*f[1] || strstr(f[0], "..") || strstr(f[1], "..") ||
			           f[0][0] == '/') {
				rc = nys_err_set(e, "%s:%llu: bad image path '%s/%s'", nys_in_name(in), ln,
				                 f[0], f[1]);
			} else {
				uint32_t n = 0, wh[2] = {0, 0};
				img.n = 0;
				rc = nys_path_join(&img, dir, f[0], e) || nys_buf_addc(&img, '/') ||
				     nys_buf_adds(&img, f[1]) ? nys_err_set(e, "out of memory") : 0;
				if (!rc && read_png(img.p, ids, h->max_len, &n, wh, e)) {
					rc = at_line(in, e);
				} else if (!rc && size[0] && (wh[0] != size[0] || wh[1] != size[1]))
					rc = nys_err_set(e, "%s:%llu: %s is %ux%u, the images before it %ux%u",
					                 nys_in_name(in), ln, img.p, wh[0], wh[1], size[0],
					                 size[1]);
				else if (!rc) {
					size[0] = wh[0];
					size[1] = wh[1];
					rc = nys_lra_writer_add(w, label, ids, n, NULL, 0, e);
				}
			}
		}
		if (!rc && k < 0)
			rc = -1;
		nys_in_close(in);
	}
	nys_strlist_free(&names);
	nys_buf_free(&md);
	nys_buf_free(&mf);
	nys_buf_free(&img);
	free(ids);
	return rc;
}
