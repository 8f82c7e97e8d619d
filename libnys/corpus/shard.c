/* Shards, nys-shard(5): the format, its reader and writer, directories of
 * shards with their train/dev lists, and shard-N's work of cutting token
 * streams into [CLS] block [SEP] sequences as the original Nystromformer
 * data pipeline (preprocess_data_512.py) did. */
#include "nys_shard.h"
#include "nys_rng.h"
#include "nys_tokstream.h"
#include "nys_bin.h"
#include "nys_hash.h"
#include "nys_json.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

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
	nys_shard_reader *r = calloc(1, sizeof *r);
	if (!r) {
		nys_err_set(e, "out of memory");
		return NULL;
	}
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

/* A compressor, reused from shard to shard. */
typedef struct zctx {
	ZSTD_CCtx *cc;
	unsigned char *buf;
	size_t cap;
} zctx;

static void zctx_free(zctx *z)
{
	ZSTD_freeCCtx(z->cc);
	free(z->buf);
	memset(z, 0, sizeof *z);
}

/* Write the shard whose bytes are img[0 .. n): 64 free bytes for the header,
 * the ids, 8 free bytes for the checksum.  One-shot compression: the frame
 * records the content size, and the parameters fit the shard's size. */
static int write_image(const char *path, const nys_shard_header *h, unsigned char *img, size_t n,
                       int level, zctx *z, nys_err *e)
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
	zctx z = {0};
	int rc = write_image(path, h, img, n, level ? level : NYS_SHARD_LEVEL, &z, e);
	zctx_free(&z);
	free(img);
	return rc;
}

/* ---- directories and lists ------------------------------------------------ */

void nys_shard_names_free(nys_shard_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

int nys_shard_names_add(nys_shard_names *l, const char *s, nys_err *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return nys_err_set(e, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(s)))
		return nys_err_set(e, "out of memory");
	l->n++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* dir + "/" + name into b (b->p valid, NUL-terminated). */
static int join(nys_buf *b, const char *dir, const char *name, nys_err *e)
{
	b->n = 0;
	size_t n = strlen(dir);
	if (nys_buf_printf(b, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name))
		return nys_err_set(e, "out of memory");
	return 0;
}

int nys_shard_list_dir(const char *dir, nys_shard_names *l, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "open directory %s", dir);
	nys_buf path = {0};
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				rc = nys_err_sys(e, "read directory %s", dir);
			break;
		}
		const char *s = de->d_name;
		if (s[0] == '.' || strlen(s) <= strlen(NYS_SHARD_SUFFIX) || !ends_with(s, NYS_SHARD_SUFFIX))
			continue;
		struct stat st;
		if ((rc = join(&path, dir, s, e)))
			break;
		if (stat(path.p, &st) || !S_ISREG(st.st_mode))
			continue;
		if ((rc = nys_shard_names_add(l, s, e)))
			break;
	}
	closedir(d);
	nys_buf_free(&path);
	if (!rc && l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp_names);
	return rc;
}

size_t nys_shard_dev_count(size_t n, double dev_fraction)
{
	/* int(len(files) * fraction): the product in doubles, truncated */
	double d = (double)n * dev_fraction;
	if (!(d > 0))
		return 0;
	return d >= (double)n ? n : (size_t)d;
}

void nys_shard_split(nys_shard_names *l, uint64_t seed)
{
	nys_rng r;
	nys_rng_seed(&r, seed);
	nys_rng_shuffle(&r, l->v, l->n, sizeof *l->v);
}

/* One name as Python's json module writes a str with ensure_ascii; bytes
 * that are not UTF-8 become the lone surrogates of os.listdir()'s
 * surrogateescape. */
static int json_str(nys_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	if (nys_buf_addc(b, '"'))
		return -1;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		}
		if (esc) {
			if (nys_buf_adds(b, esc))
				return -1;
			i++;
			continue;
		}
		if (c >= 0x20 && c < 0x7f) {
			if (nys_buf_addc(b, (char)c))
				return -1;
			i++;
			continue;
		}
		uint32_t cp;
		int k = c < 0x80 ? 1 : nys_utf8_len(u + i, n - i);
		if (c < 0x80)
			cp = c;
		else if (k)
			cp = nys_utf8_decode(u + i, k);
		else {
			cp = 0xDC00 + c;
			k = 1;
		}
		i += (size_t)k;
		uint32_t units[2] = {cp, 0};
		int nu = 1;
		if (cp > 0xFFFF) {
			cp -= 0x10000;
			units[0] = 0xD800 + (cp >> 10);
			units[1] = 0xDC00 + (cp & 0x3FF);
			nu = 2;
		}
		for (int j = 0; j < nu; j++) {
			char x[7] = {'\\', 'u', hex[units[j] >> 12 & 15], hex[units[j] >> 8 & 15],
			             hex[units[j] >> 4 & 15], hex[units[j] & 15], 0};
			if (nys_buf_adds(b, x))
				return -1;
		}
	}
	return nys_buf_addc(b, '"');
}

int nys_shard_json_list(nys_buf *b, char *const *names, size_t n)
{
	if (!n)
		return nys_buf_adds(b, "[]");
	if (nys_buf_adds(b, "[\n"))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (nys_buf_adds(b, "    ") || json_str(b, names[i]) ||
		    nys_buf_adds(b, i + 1 < n ? ",\n" : "\n"))
			return -1;
	return nys_buf_adds(b, "]");
}

static int write_file(const char *path, const nys_buf *b, nys_err *e)
{
	nys_out *o = nys_out_open(path, 0, e);
	if (!o)
		return -1;
	if (nys_out_write(o, b->p, b->n, e)) {
		nys_out_abort(o);
		return -1;
	}
	return nys_out_commit(o, e);
}

int nys_shard_write_lists(const char *dir, uint64_t seed, double dev_fraction,
                          size_t *ntrain, size_t *ndev, nys_err *e)
{
	nys_shard_names l = {0};
	nys_buf path = {0}, json = {0};
	int rc = nys_shard_list_dir(dir, &l, e);
	if (!rc) {
		nys_shard_split(&l, seed);
		size_t dev = nys_shard_dev_count(l.n, dev_fraction);
		*ndev = dev;
		*ntrain = l.n - dev;
		/* dev.json first: a reader that sees the new train.json sees
		 * the new dev.json too */
		if (nys_shard_json_list(&json, l.v, dev))
			rc = nys_err_set(e, "out of memory");
		else if (!(rc = join(&path, dir, "dev.json", e)))
			rc = write_file(path.p, &json, e);
		json.n = 0;
		if (!rc && nys_shard_json_list(&json, l.v + dev, l.n - dev))
			rc = nys_err_set(e, "out of memory");
		else if (!rc && !(rc = join(&path, dir, "train.json", e)))
			rc = write_file(path.p, &json, e);
	}
	nys_shard_names_free(&l);
	nys_buf_free(&path);
	nys_buf_free(&json);
	return rc;
}

/* If s is NAME-NNNNN.shard (the number written as "%05u" writes it), its
 * number; else -1. */
static int64_t shard_number(const char *s, const char *name)
{
	size_t k = strlen(name);
	if (strncmp(s, name, k) || s[k] != '-')
		return -1;
	s += k + 1;
	size_t d = strspn(s, "0123456789");
	if (d < 5 || d > 10 || strcmp(s + d, NYS_SHARD_SUFFIX))
		return -1;
	uint64_t v = strtoull(s, NULL, 10);
	if (v > UINT32_MAX || (d > 5 && s[0] == '0'))
		return -1;
	return (int64_t)v;
}

/* The dataset a shard file belongs to: NAME of NAME-NNNNN.shard, else the
 * file name without ".shard". */
static size_t dataset_len(const char *s)
{
	size_t n = strlen(s) - strlen(NYS_SHARD_SUFFIX);
	size_t d = 0;
	while (d < n && s[n - 1 - d] >= '0' && s[n - 1 - d] <= '9')
		d++;
	if (d >= 5 && d <= 10 && d < n && s[n - 1 - d] == '-' && n - 1 - d > 0 &&
	    !(d > 5 && s[n - d] == '0'))
		return n - 1 - d;
	return n;
}

/* ---- making shards -------------------------------------------------------- */

uint32_t nys_shard_default_per_shard(uint32_t seq_len)
{
	uint32_t k = seq_len ? NYS_SHARD_TOKENS / seq_len : 1;
	return k ? k : 1;
}

/* A shard being filled or written: its image, as write_image() takes it. */
typedef struct job {
	unsigned char *data;
	size_t cap;
	uint32_t count;
	uint32_t number;
} job;

#define MAX_WRITERS 8

typedef struct run {
	const nys_shard_opts *o;
	nys_shard_stats *st;
	nys_shard_header h;     /* count filled in per shard */
	uint32_t per_shard;
	size_t slot;            /* bytes a sequence */
	nys_stage *stage;       /* the hidden directory the shards go to first */
	nys_shard_names staged; /* file names written there */
	nys_buf path;
	nys_rng rng;
	/* the filling side */
	job fill;
	uint32_t f;             /* tokens of the current block so far */
	zctx z;                 /* for writing here when there are no threads */
	/* the writers: each compresses and writes whole shards while this
	 * thread fills the next one */
	pthread_t threads[MAX_WRITERS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* any change of the fields below */
	job queue[MAX_WRITERS];
	unsigned qn;
	job spare[2 * MAX_WRITERS + 1]; /* written shards' buffers, for reuse */
	unsigned nspare;
	bool quit, failed;
	nys_err werr;
} run;

/* Write one shard into the staging directory. */
static int write_job(run *R, job *j, zctx *z, nys_err *e)
{
	nys_buf path = {0};
	nys_shard_header h = R->h;
	h.count = j->count;
	if (nys_buf_printf(&path, "%s/%s-%05u" NYS_SHARD_SUFFIX, nys_stage_path(R->stage), R->o->name,
	                   j->number))
		return nys_err_set(e, "out of memory");
	int rc = write_image(path.p, &h, j->data,
	                     NYS_SHARD_HEADER_SIZE + (size_t)j->count * R->slot + 8,
	                     R->o->level ? R->o->level : NYS_SHARD_LEVEL, z, e);
	nys_buf_free(&path);
	return rc;
}

static void give_back(run *R, job *j)
{
	if (R->nspare < sizeof R->spare / sizeof *R->spare)
		R->spare[R->nspare++] = *j;
	else
		free(j->data);
}

static void *writer_main(void *arg)
{
	run *R = arg;
	zctx z = {0};
	pthread_mutex_lock(&R->lock);
	for (;;) {
		while (!R->qn && !R->quit)
			pthread_cond_wait(&R->cond, &R->lock);
		if (!R->qn)
			break;
		job j = R->queue[0];
		memmove(R->queue, R->queue + 1, --R->qn * sizeof *R->queue);
		bool skip = R->failed;
		pthread_cond_broadcast(&R->cond);
		pthread_mutex_unlock(&R->lock);
		nys_err e;
		int rc = skip ? 0 : write_job(R, &j, &z, &e);
		pthread_mutex_lock(&R->lock);
		if (rc && !R->failed) {
			R->failed = true;
			R->werr = e;
		}
		give_back(R, &j);
		pthread_cond_broadcast(&R->cond);
	}
	pthread_mutex_unlock(&R->lock);
	zctx_free(&z);
	return NULL;
}

static void start_writers(run *R)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n > MAX_WRITERS)
		n = MAX_WRITERS;
	for (long i = 0; i < n; i++) {
		if (pthread_create(&R->threads[i], NULL, writer_main, R))
			break;
		R->nthreads++;
	}
}

/* Let the writers finish what is queued (or drop it, if abandon); 0, or -1
 * with their error. */
static int stop_writers(run *R, bool abandon, nys_err *e)
{
	if (!R->nthreads)
		return 0;
	pthread_mutex_lock(&R->lock);
	R->quit = true;
	if (abandon && !R->failed) {
		R->failed = true;
		nys_err_set(&R->werr, "abandoned");
	}
	pthread_cond_broadcast(&R->cond);
	pthread_mutex_unlock(&R->lock);
	for (unsigned i = 0; i < R->nthreads; i++)
		pthread_join(R->threads[i], NULL);
	R->nthreads = 0;
	if (R->failed) {
		*e = R->werr;
		return -1;
	}
	return 0;
}

static int stage_name(run *R, uint32_t number, nys_err *e)
{
	nys_buf n = {0};
	int rc = 0;
	if (nys_buf_printf(&n, "%s-%05u" NYS_SHARD_SUFFIX, R->o->name, number))
		rc = nys_err_set(e, "out of memory");
	else
		rc = nys_shard_names_add(&R->staged, n.p, e);
	nys_buf_free(&n);
	return rc;
}

/* Hand the full (or last) shard to a writer and start a new one. */
static int emit(run *R, nys_err *e)
{
	job j = R->fill;
	j.number = (uint32_t)R->st->shards;
	if (stage_name(R, j.number, e))
		return -1;
	R->st->shards++;
	if (!R->nthreads) {
		R->fill.count = 0;
		return write_job(R, &j, &R->z, e);
	}
	memset(&R->fill, 0, sizeof R->fill);
	pthread_mutex_lock(&R->lock);
	while (R->qn == R->nthreads && !R->failed)
		pthread_cond_wait(&R->cond, &R->lock);
	if (R->failed) {
		*e = R->werr;
		pthread_mutex_unlock(&R->lock);
		free(j.data);
		return -1;
	}
	R->queue[R->qn++] = j;
	if (R->nspare) {
		R->fill = R->spare[--R->nspare];
		R->fill.count = 0;
	}
	pthread_cond_broadcast(&R->cond);
	pthread_mutex_unlock(&R->lock);
	return 0;
}

/* Where sequence i of the shard being filled goes. */
static inline unsigned char *seq_at(run *R, uint32_t i)
{
	return R->fill.data + NYS_SHARD_HEADER_SIZE + (size_t)i * R->slot;
}

/* Room for one more sequence (and the checksum) in the shard being filled. */
static int grow(run *R, nys_err *e)
{
	job *j = &R->fill;
	size_t need = NYS_SHARD_HEADER_SIZE + ((size_t)j->count + 1) * R->slot + 8;
	if (need <= j->cap)
		return 0;
	size_t full = NYS_SHARD_HEADER_SIZE + (size_t)R->per_shard * R->slot + 8;
	size_t cap = j->cap ? 2 * j->cap : (size_t)1 << 22;
	if (cap < need)
		cap = need;
	if (cap > full)
		cap = full;
	unsigned char *p = realloc(j->data, cap);
	if (!p)
		return nys_err_set(e, "out of memory");
	j->data = p;
	j->cap = cap;
	return 0;
}

static inline void put_ids(unsigned char *p, const uint32_t *ids, size_t n, unsigned width)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (width == 4) {
		memcpy(p, ids, n * 4);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t v = (uint16_t)ids[i];
		memcpy(p + 2 * i, &v, 2);
	}
#else
	if (width == 4) {
		for (size_t i = 0; i < n; i++)
			nys_put_u32(p + 4 * i, ids[i]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = (unsigned char)ids[i];
		p[2 * i + 1] = (unsigned char)(ids[i] >> 8);
	}
#endif
}

static inline void put_id(unsigned char *p, uint32_t v, unsigned width)
{
	if (width == 2) {
		p[0] = (unsigned char)v;
		p[1] = (unsigned char)(v >> 8);
	} else {
		nys_put_u32(p, v);
	}
}

/* A block of N - 2 tokens is complete in the current slot: keep it or not
 * (one random() a block, as the original), close it with [CLS] and [SEP]. */
static int block_done(run *R, nys_err *e)
{
	R->st->blocks++;
	R->f = 0;
	bool keep = nys_rng_random(&R->rng) < R->o->keep;
	if (!keep)
		return 0;
	job *j = &R->fill;
	unsigned w = R->h.width;
	unsigned char *p = seq_at(R, j->count);
	put_id(p, R->h.cls_id, w);
	put_id(p + R->slot - w, R->h.sep_id, w);
	j->count++;
	R->st->kept++;
	if (j->count == R->per_shard && emit(R, e))
		return -1;
	return grow(R, e);
}

/* The documents' ids, one flat sequence, cut into blocks. */
static int add_tokens(run *R, const uint32_t *ids, size_t n, nys_err *e)
{
	uint32_t block = R->h.seq_len - 2;
	unsigned w = R->h.width;
	while (n) {
		size_t k = block - R->f;
		if (k > n)
			k = n;
		unsigned char *p = seq_at(R, R->fill.count);
		put_ids(p + (size_t)(1 + R->f) * w, ids, k, w);
		R->f += (uint32_t)k;
		ids += k;
		n -= k;
		if (R->f == block && block_done(R, e))
			return -1;
	}
	return 0;
}

static bool same_model(const nys_tok_header *a, const nys_tok_header *b)
{
	return a->width == b->width && a->vocab_size == b->vocab_size &&
	       a->fingerprint == b->fingerprint;
}

/* The other datasets' shards in dir must be of the same kind. */
static int check_dir(run *R, nys_err *e)
{
	nys_shard_names l = {0};
	int rc = nys_shard_list_dir(R->o->dir, &l, e);
	for (size_t i = 0; !rc && i < l.n; i++) {
		if (shard_number(l.v[i], R->o->name) >= 0)
			continue;
		nys_shard_header h;
		if ((rc = join(&R->path, R->o->dir, l.v[i], e)) ||
		    (rc = nys_shard_read_header(R->path.p, &h, e)))
			break;
		if (h.seq_len != R->h.seq_len || h.width != R->h.width ||
		    h.vocab_size != R->h.vocab_size || h.fingerprint != R->h.fingerprint ||
		    h.cls_id != R->h.cls_id || h.sep_id != R->h.sep_id)
			rc = nys_err_set(e, "%s holds shards of another kind (%s: %u tokens a sequence, "
			                 "vocabulary %u, fingerprint %016llx, [CLS] %u, [SEP] %u; these: "
			                 "%u, %u, %016llx, %u, %u): use another directory",
			                 R->o->dir, l.v[i], h.seq_len, h.vocab_size, (ull)h.fingerprint,
			                 h.cls_id, h.sep_id, R->h.seq_len, R->h.vocab_size,
			                 (ull)R->h.fingerprint, R->h.cls_id, R->h.sep_id);
	}
	nys_shard_names_free(&l);
	return rc;
}

/* Move the new shards into place, then drop NAME's shards numbered beyond
 * them. */
static int install(run *R, nys_err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < R->staged.n; i++)
		rc = nys_stage_install(R->stage, R->staged.v[i], e);
	if (rc)
		return -1;
	nys_stage *done = R->stage;
	R->stage = NULL;
	if (nys_stage_commit(done, e))
		return -1;
	if (!R->st->shards)
		return 0; /* a run that cut nothing removes nothing */
	nys_shard_names l = {0};
	if (nys_shard_list_dir(R->o->dir, &l, e))
		return -1;
	for (size_t i = 0; !rc && i < l.n; i++) {
		int64_t k = shard_number(l.v[i], R->o->name);
		if (k < 0 || (uint64_t)k < R->st->shards)
			continue;
		if ((rc = join(&R->path, R->o->dir, l.v[i], e)))
			break;
		if (unlink(R->path.p))
			rc = nys_err_sys(e, "remove %s", R->path.p);
		else
			R->st->stale++;
	}
	nys_shard_names_free(&l);
	return rc;
}

static int read_stream(run *R, nys_tok_reader *tr, nys_progress *prog, nys_err *e)
{
	const uint32_t *ids;
	size_t n;
	int k;
	while ((k = nys_tok_reader_next(tr, &ids, &n, e)) == 1) {
		if (add_tokens(R, ids, n, e))
			return -1;
		if (prog->on)
			nys_progress_update(prog, (R->st->tokens + nys_tok_reader_tokens(tr)) * R->h.width,
			                    R->st->kept, "sequences");
	}
	if (k < 0)
		return -1;
	R->st->files++;
	R->st->docs += nys_tok_reader_docs(tr);
	R->st->tokens += nys_tok_reader_tokens(tr);
	return 0;
}

static int check_opts(const nys_shard_opts *o, nys_err *e)
{
	if (!o->dir || !*o->dir)
		return nys_err_set(e, "no output directory");
	if (nys_name_check(o->name ? o->name : "", "dataset name", e))
		return -1;
	if (o->seq_len < NYS_SHARD_MIN_LEN || o->seq_len > NYS_SHARD_MAX_LEN)
		return nys_err_set(e, "sequence length %u is out of range (%u to %u)", o->seq_len,
		                   NYS_SHARD_MIN_LEN, NYS_SHARD_MAX_LEN);
	if (o->per_shard && (uint64_t)o->per_shard * o->seq_len > NYS_SHARD_MAX_TOKENS)
		return nys_err_set(e, "%u sequences of %u tokens are too many for one shard (at most "
		                   "%llu tokens)", o->per_shard, o->seq_len, (ull)NYS_SHARD_MAX_TOKENS);
	if (!(o->keep >= 0 && o->keep <= 1))
		return nys_err_set(e, "keep probability %g is not in [0, 1]", o->keep);
	if (!(o->dev_fraction >= 0 && o->dev_fraction <= 1))
		return nys_err_set(e, "dev fraction %g is not in [0, 1]", o->dev_fraction);
	return 0;
}

int nys_shard_run(const char *const *paths, size_t npaths, const nys_shard_opts *o,
                  nys_shard_stats *st, nys_err *e)
{
	static const char *const stdin_only[] = {"-"};
	memset(st, 0, sizeof *st);
	if (check_opts(o, e))
		return -1;
	double t0 = nys_now();
	if (!npaths) {
		paths = stdin_only;
		npaths = 1;
	}
	run R = {.o = o, .st = st};
	nys_progress prog = {0};
	nys_err ignored;
	R.per_shard = o->per_shard ? o->per_shard : nys_shard_default_per_shard(o->seq_len);
	nys_rng_seed(&R.rng, o->seed);
	pthread_mutex_init(&R.lock, NULL);
	pthread_cond_init(&R.cond, NULL);

	int rc = 0;
	nys_tok_reader *tr = nys_tok_reader_open(paths[0], e);
	if (!tr) {
		rc = -1;
		goto out;
	}
	nys_tok_header first = *nys_tok_reader_header(tr);
	R.h = (nys_shard_header){
		.version = NYS_SHARD_VERSION, .seq_len = o->seq_len, .width = first.width,
		.vocab_size = first.vocab_size, .cls_id = o->cls_id, .sep_id = o->sep_id,
		.fingerprint = first.fingerprint,
	};
	R.slot = (size_t)o->seq_len * first.width;
	if (o->cls_id >= first.vocab_size || o->sep_id >= first.vocab_size) {
		rc = nys_err_set(e, "%s: [CLS] %u or [SEP] %u is outside the vocabulary of %u pieces "
		                 "(see --cls and --sep)", nys_tok_reader_name(tr), o->cls_id,
		                 o->sep_id, first.vocab_size);
		goto out;
	}
	/* DIR is made here if missing, and removed again if this run fails
	 * and leaves it empty; the staging directory .NAME.tmp.XXXXXX of a
	 * run that died is removed first */
	if (!(R.stage = nys_stage_open(o->dir, o->name, e))) {
		rc = -1;
		goto out;
	}
	if ((rc = check_dir(&R, e)) || (rc = grow(&R, e)))
		goto out;
	start_writers(&R);

	if (o->progress)
		nys_progress_start(&prog, "shard", 0);
	for (size_t i = 0; !rc && i < npaths; i++) {
		if (i && !(tr = nys_tok_reader_open(paths[i], e))) {
			rc = -1;
			break;
		}
		const nys_tok_header *h = nys_tok_reader_header(tr);
		if (!same_model(h, &first)) {
			rc = nys_err_set(e, "%s: a stream of another model (width %u, vocabulary %u, "
			                 "fingerprint %016llx; %s has %u, %u, %016llx)",
			                 nys_tok_reader_name(tr), h->width, h->vocab_size,
			                 (ull)h->fingerprint, paths[0] && strcmp(paths[0], "-") ? paths[0]
			                 : "(stdin)", first.width, first.vocab_size,
			                 (ull)first.fingerprint);
			break;
		}
		rc = read_stream(&R, tr, &prog, e);
		nys_tok_reader_close(tr);
		tr = NULL;
	}
	nys_progress_end(&prog);
	/* the last, partial shard; the leftover tokens are dropped */
	st->leftover = R.f;
	if (!rc && R.fill.count)
		rc = emit(&R, e);
	if (stop_writers(&R, rc != 0, rc ? &ignored : e))
		rc = -1;
	if (!rc) {
		/* the shards and the lists that name them go into place together */
		nys_out_hold_signals();
		rc = install(&R, e);
		if (!rc)
			rc = nys_shard_write_lists(o->dir, o->split_seed, o->dev_fraction, &st->train,
			                           &st->dev, e);
		nys_out_release_signals();
	}
	st->dir_shards = st->train + st->dev;
out:
	if (tr)
		nys_tok_reader_close(tr);
	stop_writers(&R, true, &ignored);
	nys_stage_abort(R.stage); /* NULL once installed */
	free(R.fill.data);
	for (unsigned i = 0; i < R.nspare; i++)
		free(R.spare[i].data);
	zctx_free(&R.z);
	nys_shard_names_free(&R.staged);
	nys_buf_free(&R.path);
	pthread_mutex_destroy(&R.lock);
	pthread_cond_destroy(&R.cond);
	st->seconds = nys_now() - t0;
	return rc ? -1 : 0;
}

/* ---- cat, info, verify ---------------------------------------------------- */

int nys_shard_cat(const char *const *paths, size_t npaths, uint64_t max, nys_out *out,
                  nys_err *e)
{
	char *line = NULL;
	size_t cap = 0;
	uint64_t done = 0;
	int rc = 0;
	for (size_t i = 0; !rc && i < npaths && (!max || done < max); i++) {
		nys_shard_reader *r = nys_shard_open(paths[i], e);
		if (!r) {
			rc = -1;
			break;
		}
		uint32_t n = r->h.seq_len;
		if (cap < (size_t)n * 11 + 1) {
			cap = (size_t)n * 11 + 1;
			free(line);
			if (!(line = malloc(cap))) {
				nys_shard_close(r);
				rc = nys_err_set(e, "out of memory");
				break;
			}
		}
		const uint32_t *ids;
		int k = 0;
		while ((!max || done < max) && (k = nys_shard_next(r, &ids, e)) == 1) {
			char *p = line;
			for (uint32_t j = 0; j < n; j++) {
				char tmp[10];
				int d = 0;
				uint32_t v = ids[j];
				do
					tmp[d++] = (char)('0' + v % 10);
				while (v /= 10);
				while (d)
					*p++ = tmp[--d];
				*p++ = j + 1 < n ? ' ' : '\n';
			}
			if (nys_out_write(out, line, (size_t)(p - line), e)) {
				k = -1;
				break;
			}
			done++;
		}
		if ((!max || done < max) && k < 0)
			rc = -1;
		nys_shard_close(r);
	}
	free(line);
	return rc;
}

static int out_printf(nys_out *out, nys_err *e, const char *fmt, ...) NYS_PRINTF(3, 4);

static int out_printf(nys_out *out, nys_err *e, const char *fmt, ...)
{
	char s[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return nys_err_set(e, "format error");
	return nys_out_write(out, s, (size_t)n < sizeof s ? (size_t)n : sizeof s - 1, e);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int nys_shard_names_read(const char *path, nys_shard_names *l, nys_err *e)
{
	json_t *j = nys_json_load(path, 0, e);
	if (!j)
		return -1;
	int rc = 0;
	if (!json_is_array(j))
		rc = nys_err_set(e, "%s: not a JSON list of shard names", path);
	for (size_t i = 0; !rc && i < json_array_size(j); i++) {
		const char *s = json_string_value(json_array_get(j, i));
		if (!s)
			rc = nys_err_set(e, "%s: item %zu is not a string", path, i + 1);
		else
			rc = nys_shard_names_add(l, s, e);
	}
	json_decref(j);
	return rc;
}

/* A list file of a directory: its names, or *missing. */
static int load_list(const char *path, nys_shard_names *l, bool *missing, nys_err *e)
{
	*missing = false;
	if (access(path, F_OK) && errno == ENOENT) {
		*missing = true;
		return 0;
	}
	return nys_shard_names_read(path, l, e);
}

static bool in_sorted(const nys_shard_names *l, const char *s)
{
	return l->n && bsearch(&s, l->v, l->n, sizeof *l->v, cmp_names);
}

typedef struct lists {
	nys_shard_names train, dev, all; /* all: both, sorted */
	bool no_train, no_dev;
	size_t unlisted, unknown, twice;
	const char *first_unlisted, *first_unknown, *first_twice;
} lists;

static void lists_free(lists *L)
{
	nys_shard_names_free(&L->train);
	nys_shard_names_free(&L->dev);
	nys_shard_names_free(&L->all);
}

/* Read dir's lists and compare them with its shards (sorted). */
static int check_lists(const char *dir, const nys_shard_names *shards, lists *L, nys_buf *path,
                       nys_err *e)
{
	memset(L, 0, sizeof *L);
	if (join(path, dir, "train.json", e) || load_list(path->p, &L->train, &L->no_train, e) ||
	    join(path, dir, "dev.json", e) || load_list(path->p, &L->dev, &L->no_dev, e))
		return -1;
	for (int t = 0; t < 2; t++) {
		nys_shard_names *l = t ? &L->dev : &L->train;
		for (size_t i = 0; i < l->n; i++) {
			if (nys_shard_names_add(&L->all, l->v[i], e))
				return -1;
			if (!in_sorted(shards, l->v[i]) && !L->unknown++)
				L->first_unknown = l->v[i];
		}
	}
	if (L->all.n)
		qsort(L->all.v, L->all.n, sizeof *L->all.v, cmp_names);
	for (size_t i = 1; i < L->all.n; i++)
		if (!strcmp(L->all.v[i], L->all.v[i - 1]) && !L->twice++)
			L->first_twice = L->all.v[i];
	for (size_t i = 0; i < shards->n; i++)
		if (!in_sorted(&L->all, shards->v[i]) && !L->unlisted++)
			L->first_unlisted = shards->v[i];
	return 0;
}

static bool same_kind(const nys_shard_header *a, const nys_shard_header *b)
{
	return a->seq_len == b->seq_len && a->width == b->width && a->vocab_size == b->vocab_size &&
	       a->cls_id == b->cls_id && a->sep_id == b->sep_id && a->fingerprint == b->fingerprint;
}

static int kind_line(nys_out *out, const char *lead, const nys_shard_header *h, nys_err *e)
{
	return out_printf(out, e, "%s%u tokens a sequence, width %u, vocabulary %u, [CLS] %u, "
	                  "[SEP] %u, fingerprint %016llx\n", lead, h->seq_len, h->width,
	                  h->vocab_size, h->cls_id, h->sep_id, (ull)h->fingerprint);
}

static int info_dir(const char *dir, nys_out *out, nys_err *e)
{
	nys_shard_names l = {0};
	nys_buf path = {0};
	lists L = {0};
	nys_shard_header first = {0}, h;
	uint64_t seqs = 0, tokens = 0;
	bool mixed = false;
	/* datasets in order of first appearance: start index into l */
	size_t *ds = NULL, nds = 0;
	int rc = nys_shard_list_dir(dir, &l, e);
	if (!rc && !(ds = malloc((l.n + 1) * sizeof *ds)))
		rc = nys_err_set(e, "out of memory");
	uint32_t *counts = NULL;
	if (!rc && !(counts = malloc((l.n + 1) * sizeof *counts)))
		rc = nys_err_set(e, "out of memory");
	for (size_t i = 0; !rc && i < l.n; i++) {
		if ((rc = join(&path, dir, l.v[i], e)) || (rc = nys_shard_read_header(path.p, &h, e)))
			break;
		if (!i)
			first = h;
		else if (!same_kind(&h, &first))
			mixed = true;
		counts[i] = h.count;
		seqs += h.count;
		tokens += (uint64_t)h.count * h.seq_len;
		size_t dl = dataset_len(l.v[i]);
		size_t k;
		for (k = 0; k < nds; k++)
			if (dataset_len(l.v[ds[k]]) == dl && !strncmp(l.v[ds[k]], l.v[i], dl))
				break;
		if (k == nds)
			ds[nds++] = i;
	}
	if (!rc)
		rc = out_printf(out, e, "%s: %zu %s, %llu %s, %llu tokens\n", dir, l.n,
		                plural(l.n, "shard", "shards"), (ull)seqs,
		                plural(seqs, "sequence", "sequences"), (ull)tokens);
	if (!rc && l.n && !mixed)
		rc = kind_line(out, "  ", &first, e);
	if (!rc && mixed)
		rc = out_printf(out, e, "  mixed: the shards are not all of one kind (see shard info "
		                "on the files)\n");
	for (size_t k = 0; !rc && k < nds; k++) {
		size_t dl = dataset_len(l.v[ds[k]]), n = 0;
		uint64_t s = 0;
		for (size_t i = 0; i < l.n; i++)
			if (dataset_len(l.v[i]) == dl && !strncmp(l.v[ds[k]], l.v[i], dl)) {
				n++;
				s += counts[i];
			}
		rc = out_printf(out, e, "  %.*s: %zu %s, %llu %s\n", (int)dl, l.v[ds[k]], n,
		                plural(n, "shard", "shards"), (ull)s,
		                plural(s, "sequence", "sequences"));
	}
	if (!rc)
		rc = check_lists(dir, &l, &L, &path, e);
	if (!rc) {
		char tn[32], dn[32];
		snprintf(tn, sizeof tn, "%zu", L.train.n);
		snprintf(dn, sizeof dn, "%zu", L.dev.n);
		rc = out_printf(out, e, "  train.json: %s, dev.json: %s%s\n",
		                L.no_train ? "missing" : tn, L.no_dev ? "missing" : dn,
		                L.no_train || L.no_dev || L.unlisted || L.unknown || L.twice
		                ? " (out of date: run shard-N again, or see shard verify)"
		                : " (every shard listed once)");
	}
	lists_free(&L);
	free(ds);
	free(counts);
	nys_shard_names_free(&l);
	nys_buf_free(&path);
	return rc;
}

int nys_shard_info(const char *path, nys_out *out, nys_err *e)
{
	if (is_dir(path))
		return info_dir(path, out, e);
	nys_shard_header h;
	if (nys_shard_read_header(path, &h, e))
		return -1;
	char lead[1200];
	snprintf(lead, sizeof lead, "%s: %u %s, ", strcmp(path, "-") ? path : "(stdin)", h.count,
	         plural(h.count, "sequence", "sequences"));
	return kind_line(out, lead, &h, e);
}

static int verify_dir(const char *dir, nys_out *out, nys_err *e)
{
	nys_shard_names l = {0};
	nys_buf path = {0};
	lists L = {0};
	nys_shard_header first = {0}, h;
	uint64_t seqs = 0;
	int rc = nys_shard_list_dir(dir, &l, e);
	if (!rc && !l.n)
		rc = nys_err_set(e, "%s: no shards", dir);
	for (size_t i = 0; !rc && i < l.n; i++) {
		if ((rc = join(&path, dir, l.v[i], e)) || (rc = nys_shard_verify(path.p, &h, e)))
			break;
		if (!i)
			first = h;
		else if (!same_kind(&h, &first)) {
			rc = nys_err_set(e, "%s: not of the kind of %s, the first shard in %s (%u tokens a "
			                 "sequence, vocabulary %u, fingerprint %016llx, [CLS] %u, [SEP] %u;"
			                 " the first: %u, %u, %016llx, %u, %u)", path.p, l.v[0], dir,
			                 h.seq_len, h.vocab_size, (ull)h.fingerprint, h.cls_id, h.sep_id,
			                 first.seq_len, first.vocab_size, (ull)first.fingerprint,
			                 first.cls_id, first.sep_id);
			break;
		}
		seqs += h.count;
		rc = out_printf(out, e, "%s: ok, %u %s\n", path.p, h.count,
		                plural(h.count, "sequence", "sequences"));
	}
	if (!rc)
		rc = check_lists(dir, &l, &L, &path, e);
	if (!rc) {
		if (L.no_train || L.no_dev)
			rc = nys_err_set(e, "%s: no %s", dir, L.no_train ? "train.json" : "dev.json");
		else if (L.unknown)
			rc = nys_err_set(e, "%s: the lists name %s, which is not a shard in it (and %zu "
			                 "more)", dir, L.first_unknown, L.unknown - 1);
		else if (L.twice)
			rc = nys_err_set(e, "%s: the lists name %s twice (and %zu more)", dir,
			                 L.first_twice, L.twice - 1);
		else if (L.unlisted)
			rc = nys_err_set(e, "%s: %s is in neither train.json nor dev.json (and %zu more)",
			                 dir, L.first_unlisted, L.unlisted - 1);
	}
	if (!rc)
		rc = out_printf(out, e, "%s: ok, %zu %s, %llu %s, train.json %zu, dev.json %zu\n", dir,
		                l.n, plural(l.n, "shard", "shards"), (ull)seqs,
		                plural(seqs, "sequence", "sequences"), L.train.n, L.dev.n);
	lists_free(&L);
	nys_shard_names_free(&l);
	nys_buf_free(&path);
	return rc;
}

int nys_shard_verify_path(const char *path, nys_out *out, nys_err *e)
{
	if (is_dir(path))
		return verify_dir(path, out, e);
	nys_shard_header h;
	if (nys_shard_verify(path, &h, e))
		return -1;
	return out_printf(out, e, "%s: ok, %u %s\n", strcmp(path, "-") ? path : "(stdin)", h.count,
	                  plural(h.count, "sequence", "sequences"));
}
