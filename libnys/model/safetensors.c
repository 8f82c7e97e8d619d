/* safetensors reading and writing (see nys_safetensors.h).  The loader checks the
 * header as strictly as HuggingFace's own reader does, so a file that loads
 * here loads there. */
#include "nys_safetensors.h"
#include "nys_tok.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[NYS_F32] = {"F32", 4}, [NYS_F64] = {"F64", 8}, [NYS_I64] = {"I64", 8},
	[NYS_I32] = {"I32", 4}, [NYS_U8] = {"U8", 1},
};

#define NDTYPES (sizeof dtypes / sizeof *dtypes)
/* Headers larger than this are not checkpoints (HuggingFace's limit). */
#define MAX_HEADER (100u << 20)

const char *nys_dtype_name(nys_dtype t) { return dtypes[t].name; }
size_t nys_dtype_size(nys_dtype t) { return dtypes[t].size; }

/* The bytes of a tensor of this shape and element size in *out; false when
 * a dimension is negative or the product does not fit 64 bits (a header
 * may claim any shape). */
static bool tensor_bytes(int ndim, const int64_t *shape, size_t esize, uint64_t *out)
{
	uint64_t n = esize;
	for (int i = 0; i < ndim; i++)
		if (shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)shape[i], &n))
			return false;
	*out = n;
	return true;
}

/* ---- writing -------------------------------------------------------------- */

/* Hand the bytes of entry t to fn (the checksum, the output) in order:
 * its data, or what its read gives, a piece at a time through piece. */
static int entry_bytes(const nys_st_entry *t, uint64_t bytes, unsigned char *piece,
                       int (*fn)(void *arg, const void *p, size_t n, nys_err *e), void *arg,
                       nys_err *e)
{
	if (t->data)
		return fn(arg, t->data, (size_t)bytes, e);
	for (uint64_t off = 0; off < bytes;) {
		size_t n = bytes - off < NYS_ST_PIECE ? (size_t)(bytes - off) : NYS_ST_PIECE;
		if (t->read(t->ctx, t->at + off, piece, n, e) || fn(arg, piece, n, e))
			return -1;
		off += n;
	}
	return 0;
}

static int hash_bytes(void *arg, const void *p, size_t n, nys_err *e)
{
	nys_hash_update(arg, p, n);
	return 0;
}

static int out_bytes(void *arg, const void *p, size_t n, nys_err *e)
{
	return nys_out_write(arg, p, n, e);
}

int nys_st_write(const char *path, const nys_st_entry *entries, size_t n,
                 const char *const *meta, nys_err *e)
{
	json_t *h = json_object(), *md = json_object();
	nys_hash sum;
	nys_hash_init(&sum, 0);
	uint64_t off = 0;
	int rc = 0;
	char *text = NULL;
	unsigned char *piece = NULL;
	for (size_t i = 0; i < n && !rc; i++)
		if (!entries[i].data && !piece && !(piece = malloc(NYS_ST_PIECE)))
			rc = nys_err_set(e, "%s: out of memory", path);
	for (size_t i = 0; i < n && !rc; i++) {
		const nys_st_entry *t = &entries[i];
		if (t->ndim < 0 || t->ndim > NYS_ST_MAX_DIMS || !strcmp(t->name, "__metadata__")) {
			rc = nys_err_set(e, "%s: tensor %s: bad name or rank", path, t->name);
			break;
		}
		uint64_t bytes;
		if (!tensor_bytes(t->ndim, t->shape, dtypes[t->dtype].size, &bytes) ||
		    __builtin_add_overflow(off, bytes, &(uint64_t){0}) || off + bytes > INT64_MAX) {
			rc = nys_err_set(e, "%s: tensor %s: its shape is too large", path, t->name);
			break;
		}
		json_t *shape = json_array();
		for (int d = 0; d < t->ndim; d++)
			json_array_append_new(shape, json_integer(t->shape[d]));
		json_t *o = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtypes[t->dtype].name, "shape",
		                      shape, "data_offsets", (json_int_t)off, (json_int_t)(off + bytes));
		if (!o || json_object_set_new(h, t->name, o))
			rc = nys_err_set(e, "%s: tensor %s: cannot describe it", path, t->name);
		if (!rc)
			rc = entry_bytes(t, bytes, piece, hash_bytes, &sum, e);
		off += bytes;
	}
	char hex[17];
	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)nys_hash_final(&sum));
	json_object_set_new(md, "format", json_string("pt"));
	json_object_set_new(md, "nys_format", json_string("nys-checkpoint"));
	json_object_set_new(md, "nys_version", json_string(NYS_VERSION));
	json_object_set_new(md, "nys_checksum", json_string(hex));
	for (size_t i = 0; meta && meta[i] && meta[i + 1]; i += 2)
		json_object_set_new(md, meta[i], json_string(meta[i + 1]));
	json_object_set_new(h, "__metadata__", md);
	nys_out *o = NULL;
	if (!rc) {
		text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!text)
			rc = nys_err_set(e, "%s: cannot write the header", path);
	}
	if (!rc) {
		size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
		unsigned char size[8];
		nys_put_u64(size, padded);
		o = nys_out_open(path, NYS_OUT_BINARY | NYS_OUT_SYNC, e);
		rc = !o || nys_out_write(o, size, 8, e) || nys_out_write(o, text, len, e) ||
		     nys_out_write(o, "        ", padded - len, e);
		for (size_t i = 0; i < n && !rc; i++) {
			const nys_st_entry *t = &entries[i];
			uint64_t bytes = 0; /* checked in the first pass */
			tensor_bytes(t->ndim, t->shape, dtypes[t->dtype].size, &bytes);
			rc = entry_bytes(t, bytes, piece, out_bytes, o, e);
		}
		if (rc) {
			nys_out_abort(o);
			rc = -1;
		} else {
			rc = nys_out_commit(o, e);
		}
	}
	free(piece);
	free(text);
	json_decref(h);
	return rc;
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct st_tensor {
	char *name;
	nys_dtype dtype;
	int ndim;
	int64_t shape[NYS_ST_MAX_DIMS];
	uint64_t begin, end;
} st_tensor;

struct nys_st {
	char *path;
	unsigned char *file;
	size_t size;
	const unsigned char *data; /* NULL: header only (nys_st_check) */
	st_tensor *t;
	size_t n;
	json_t *meta;
};

void nys_st_free(nys_st *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		free(st->t[i].name);
	free(st->t);
	free(st->file);
	free(st->path);
	json_decref(st->meta);
	free(st);
}

static int by_begin(const void *a, const void *b)
{
	const st_tensor *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* One header entry; -1 with the tensor named on a bad one. */
static int parse_entry(nys_st *st, const char *name, json_t *v, st_tensor *t, nys_err *e)
{
	json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
	       *of = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of) || json_array_size(of) != 2)
		return nys_err_set(e, "%s: tensor %s: needs dtype, shape and data_offsets", st->path, name);
	size_t k;
	for (k = 0; k < NDTYPES; k++)
		if (!strcmp(dtypes[k].name, json_string_value(dt)))
			break;
	if (k == NDTYPES)
		return nys_err_set(e, "%s: tensor %s: dtype %s is not one nys reads", st->path, name,
		                   json_string_value(dt));
	t->dtype = (nys_dtype)k;
	if (json_array_size(sh) > NYS_ST_MAX_DIMS)
		return nys_err_set(e, "%s: tensor %s: too many dimensions", st->path, name);
	t->ndim = (int)json_array_size(sh);
	for (int d = 0; d < t->ndim; d++) {
		json_t *x = json_array_get(sh, (size_t)d);
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return nys_err_set(e, "%s: tensor %s: bad shape", st->path, name);
		t->shape[d] = json_integer_value(x);
	}
	json_t *b = json_array_get(of, 0), *en = json_array_get(of, 1);
	if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 ||
	    json_integer_value(en) < json_integer_value(b))
		return nys_err_set(e, "%s: tensor %s: bad data_offsets", st->path, name);
	t->begin = (uint64_t)json_integer_value(b);
	t->end = (uint64_t)json_integer_value(en);
	uint64_t bytes;
	if (!tensor_bytes(t->ndim, t->shape, dtypes[t->dtype].size, &bytes))
		return nys_err_set(e, "%s: tensor %s: its shape does not fit 64 bits", st->path, name);
	if (t->end - t->begin != bytes)
		return nys_err_set(e, "%s: tensor %s: %llu bytes for its shape and dtype, offsets give %llu",
		                   st->path, name, (unsigned long long)bytes,
		                   (unsigned long long)(t->end - t->begin));
	t->name = strdup(name);
	return t->name ? 0 : nys_err_set(e, "out of memory");
}

static int parse_header(nys_st *st, nys_err *e)
{
	if (st->size < 8)
		return nys_err_set(e, "%s: %zu bytes: too short for safetensors", st->path, st->size);
	uint64_t hn = nys_get_u64(st->file);
	if (hn > MAX_HEADER || hn > st->size - 8)
		return nys_err_set(e, "%s: byte 0: header size %llu does not fit the file (%zu bytes)",
		                   st->path, (unsigned long long)hn, st->size);
	json_error_t je;
	json_t *h = json_loadb((const char *)st->file + 8, (size_t)hn, 0, &je);
	if (!h || !json_is_object(h)) {
		json_decref(h);
		return nys_err_set(e, "%s: header: %s (column %d)", st->path,
		                   h ? "not a JSON object" : je.text, je.column);
	}
	st->data = st->file + 8 + hn;
	size_t cap = json_object_size(h);
	st->t = calloc(cap ? cap : 1, sizeof *st->t);
	int rc = st->t ? 0 : nys_err_set(e, "out of memory");
	const char *name;
	json_t *v;
	json_object_foreach(h, name, v) {
		if (rc)
			break;
		if (!strcmp(name, "__metadata__")) {
			st->meta = json_incref(v);
			continue;
		}
		rc = parse_entry(st, name, v, &st->t[st->n], e);
		if (!rc)
			st->n++;
	}
	json_decref(h);
	if (rc)
		return -1;
	/* The data must be indexed whole: sorted by offset, back to back. */
	st_tensor *sorted = malloc((st->n ? st->n : 1) * sizeof *sorted);
	if (!sorted)
		return nys_err_set(e, "out of memory");
	memcpy(sorted, st->t, st->n * sizeof *sorted);
	qsort(sorted, st->n, sizeof *sorted, by_begin);
	uint64_t at = 0;
	for (size_t i = 0; i < st->n && !rc; i++) {
		if (sorted[i].begin != at)
			rc = nys_err_set(e, "%s: tensor %s: starts at data byte %llu, expected %llu "
			                 "(overlap or hole)", st->path, sorted[i].name,
			                 (unsigned long long)sorted[i].begin, (unsigned long long)at);
		at = sorted[i].end;
	}
	free(sorted);
	if (!rc && at != st->size - 8 - hn)
		rc = nys_err_set(e, "%s: the tensors cover %llu data bytes, the file holds %llu "
		                 "(truncated or padded)", st->path, (unsigned long long)at,
		                 (unsigned long long)(st->size - 8 - hn));
	return rc;
}

nys_st *nys_st_load(const char *path, nys_err *e)
{
	nys_st *st = calloc(1, sizeof *st);
	nys_buf b = {0};
	nys_in *in = NULL;
	if (!st || !(st->path = strdup(path))) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	in = nys_in_open(path, e);
	if (!in)
		goto fail;
	if (nys_in_read_all(in, &b, e))
		goto fail;
	nys_in_close(in);
	in = NULL;
	st->file = (unsigned char *)b.p;
	st->size = b.n;
	b.p = NULL;
	if (parse_header(st, e))
		goto fail;
	const char *sum = nys_st_meta(st, "nys_checksum");
	if (sum) {
		char hex[17];
		size_t data = st->size - (size_t)(st->data - st->file);
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)nys_hash64(st->data, data, 0));
		if (strcmp(hex, sum)) {
			nys_err_set(e, "%s: checksum mismatch (the file says %s, the data gives %s)", path,
			            sum, hex);
			goto fail;
		}
	}
	return st;
fail:
	nys_in_close(in);
	nys_buf_free(&b);
	nys_st_free(st);
	return NULL;
}

nys_st *nys_st_check(const char *path, nys_err *e)
{
	nys_st *st = calloc(1, sizeof *st);
	nys_in *in = NULL;
	unsigned char *chunk = malloc(1 << 20);
	if (!st || !chunk || !(st->path = strdup(path))) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	if (!(in = nys_in_open(path, e)))
		goto fail;
	/* the size word and the header, whole; then the data, streamed */
	unsigned char word[8];
	size_t got = 0;
	while (got < 8) {
		ptrdiff_t k = nys_in_read(in, word + got, 8 - got, e);
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	uint64_t hn = got == 8 ? nys_get_u64(word) : 0;
	if (got < 8 || hn > MAX_HEADER) {
		nys_err_set(e, "%s: byte 0: not a safetensors header", path);
		goto fail;
	}
	if (!(st->file = malloc(8 + hn))) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	memcpy(st->file, word, 8);
	for (got = 0; got < hn;) {
		ptrdiff_t k = nys_in_read(in, st->file + 8 + got, hn - got, e);
		if (k < 0)
			goto fail;
		if (k == 0) {
			nys_err_set(e, "%s: the header is cut short", path);
			goto fail;
		}
		got += (size_t)k;
	}
	nys_hash sum;
	nys_hash_init(&sum, 0);
	uint64_t data = 0;
	for (;;) {
		ptrdiff_t k = nys_in_read(in, chunk, 1 << 20, e);
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		nys_hash_update(&sum, chunk, (size_t)k);
		data += (uint64_t)k;
	}
	st->size = (size_t)(8 + hn + data);
	if (parse_header(st, e))
		goto fail;
	st->data = NULL;
	const char *want = nys_st_meta(st, "nys_checksum");
	if (want) {
		char hex[17];
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)nys_hash_final(&sum));
		if (strcmp(hex, want)) {
			nys_err_set(e, "%s: checksum mismatch (the file says %s, the data gives %s)", path,
			            want, hex);
			goto fail;
		}
	}
	nys_in_close(in);
	free(chunk);
	return st;
fail:
	nys_in_close(in);
	free(chunk);
	nys_st_free(st);
	return NULL;
}

size_t nys_st_count(const nys_st *st) { return st->n; }
const char *nys_st_name(const nys_st *st, size_t i) { return st->t[i].name; }

const char *nys_st_meta(const nys_st *st, const char *key)
{
	json_t *v = st->meta ? json_object_get(st->meta, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const st_tensor *find(const nys_st *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->t[i].name, name))
			return &st->t[i];
	return NULL;
}

bool nys_st_has(const nys_st *st, const char *name)
{
	return find(st, name) != NULL;
}

int nys_st_shape(const nys_st *st, const char *name, int64_t shape[NYS_ST_MAX_DIMS])
{
	const st_tensor *t = find(st, name);
	if (!t)
		return -1;
	memcpy(shape, t->shape, sizeof t->shape);
	return t->ndim;
}

int nys_st_dtype(const nys_st *st, const char *name)
{
	const st_tensor *t = find(st, name);
	return t ? (int)t->dtype : -1;
}

static void shape_str(char *s, size_t n, int ndim, const int64_t *shape)
{
	size_t k = (size_t)snprintf(s, n, "(");
	for (int d = 0; d < ndim && k < n; d++)
		k += (size_t)snprintf(s + k, n - k, d ? ", %lld" : "%lld", (long long)shape[d]);
	if (k < n)
		snprintf(s + k, n - k, ")");
}

const void *nys_st_get(const nys_st *st, const char *name, nys_dtype dtype, int ndim,
                       const int64_t *shape, nys_err *e)
{
	const st_tensor *t = find(st, name);
	if (!t) {
		nys_err_set(e, "%s: tensor %s is missing", st->path, name);
		return NULL;
	}
	if (t->dtype != dtype) {
		nys_err_set(e, "%s: tensor %s is %s, expected %s", st->path, name, dtypes[t->dtype].name,
		            dtypes[dtype].name);
		return NULL;
	}
	if (t->ndim != ndim || (ndim && memcmp(t->shape, shape, (size_t)ndim * sizeof *shape))) {
		char got[128], want[128];
		shape_str(got, sizeof got, t->ndim, t->shape);
		shape_str(want, sizeof want, ndim, shape);
		nys_err_set(e, "%s: tensor %s has shape %s, expected %s", st->path, name, got, want);
		return NULL;
	}
	if (!st->data) {
		nys_err_set(e, "%s: tensor %s: only the header was read", st->path, name);
		return NULL;
	}
	return st->data + t->begin;
}
