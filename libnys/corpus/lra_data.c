/* The labelled-record shards of the Long Range Arena tasks (nys-lra(5)):
 * the header, writing a shard, and reading shards into one in-memory set
 * that training samples from.  Records live in memory as 16-bit ids (every
 * LRA vocabulary is far below that), so a whole split of the largest task
 * (ListOps, 96,000 records of up to 2,000 ids) takes about 240 MB. */
#include "nys_lra_data.h"
#include "nys_bin.h"
#include "nys_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const task_names[] = {NULL, "listops", "text", "retrieval", "image",
                                         "pathfinder"};

const char *nys_lra_task_name(uint32_t task)
{
	return task >= 1 && task <= 5 ? task_names[task] : NULL;
}

int nys_lra_task_parse(const char *s, nys_lra_task *task, nys_err *e)
{
	for (unsigned i = 1; i <= 5; i++)
		if (!strcmp(s, task_names[i])) {
			*task = (nys_lra_task)i;
			return 0;
		}
	return nys_err_set(e, "unknown task '%s' (listops, text, retrieval, image, pathfinder)",
	                   s);
}

/* ---- header ------------------------------------------------------------- */

void nys_lra_header_pack(const nys_lra_header *h, unsigned char out[NYS_LRA_HEADER_SIZE])
{
	memset(out, 0, NYS_LRA_HEADER_SIZE);
	memcpy(out, NYS_LRA_MAGIC, 8);
	const uint32_t f[] = {h->version, h->task, h->vocab, h->count, h->docs, h->max_len,
	                      h->vocab_size, h->classes, h->width, h->pad_id, h->flags};
	for (unsigned i = 0; i < 11; i++)
		nys_put_u32(out + 8 + 4 * i, f[i]);
	nys_put_u64(out + 52, h->ids);
}

int nys_lra_header_parse(const unsigned char in[NYS_LRA_HEADER_SIZE], nys_lra_header *h,
                         const char *name, nys_err *e)
{
	if (memcmp(in, NYS_LRA_MAGIC, 8))
		return nys_err_set(e, "%s: byte 0: not an LRA shard (bad magic)", name);
	uint32_t f[11];
	for (unsigned i = 0; i < 11; i++)
		f[i] = nys_get_u32(in + 8 + 4 * i);
	*h = (nys_lra_header){f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
	                      nys_get_u64(in + 52)};
	if (h->version != NYS_LRA_VERSION)
		return nys_err_set(e, "%s: byte 8: LRA shard version %u (this program reads %u)",
		                   name, h->version, NYS_LRA_VERSION);
	if (!nys_lra_task_name(h->task))
		return nys_err_set(e, "%s: byte 12: unknown task %u", name, h->task);
	if (h->vocab < NYS_LRA_VOCAB_LISTOPS || h->vocab > NYS_LRA_VOCAB_PIXELS)
		return nys_err_set(e, "%s: byte 16: unknown vocabulary kind %u", name, h->vocab);
	if (h->docs != 1 && h->docs != 2)
		return nys_err_set(e, "%s: byte 24: %u documents a record (1 or 2)", name, h->docs);
	if (h->max_len < 1 || h->max_len > NYS_LRA_MAX_LEN)
		return nys_err_set(e, "%s: byte 28: bad maximum length %u (1 to %u)", name,
		                   h->max_len, NYS_LRA_MAX_LEN);
	if (h->vocab_size < 2 || h->vocab_size > 65536)
		return nys_err_set(e, "%s: byte 32: bad vocabulary size %u (2 to 65536)", name,
		                   h->vocab_size);
	if (h->classes < 2 || h->classes > 65536)
		return nys_err_set(e, "%s: byte 36: bad class count %u", name, h->classes);
	if (h->width != (h->vocab_size <= 256 ? 1u : 2u))
		return nys_err_set(e, "%s: byte 40: id width %u for a vocabulary of %u", name,
		                   h->width, h->vocab_size);
	if (h->pad_id >= h->vocab_size)
		return nys_err_set(e, "%s: byte 44: padding id %u outside the vocabulary (%u)", name,
		                   h->pad_id, h->vocab_size);
	if (h->flags)
		return nys_err_set(e, "%s: byte 48: unknown flags %#x", name, h->flags);
	if (h->ids < (uint64_t)h->count * h->docs ||
	    h->ids > (uint64_t)h->count * h->docs * h->max_len)
		return nys_err_set(e, "%s: byte 52: %llu ids do not fit %u records", name,
		                   (unsigned long long)h->ids, h->count);
	for (unsigned i = 60; i < NYS_LRA_HEADER_SIZE; i++)
		if (in[i])
			return nys_err_set(e, "%s: byte %u: reserved header bytes are not zero", name, i);
	return 0;
}

/* ---- records in memory -------------------------------------------------- */

typedef struct recs {
	uint32_t docs;
	uint64_t count, nids, cap_rec, cap_ids;
	uint32_t *label;  /* count */
	uint64_t *off;    /* count * docs + 1: document j of record i is
	                   * ids[off[i*docs+j] .. off[i*docs+j+1]) */
	uint16_t *ids;
} recs;

static int recs_init(recs *r, uint32_t docs, nys_err *e)
{
	*r = (recs){.docs = docs};
	r->off = malloc(sizeof *r->off);
	if (!r->off)
		return nys_err_set(e, "out of memory");
	r->off[0] = 0;
	return 0;
}

static void recs_free(recs *r)
{
	free(r->label);
	free(r->off);
	free(r->ids);
}

static int recs_room(recs *r, uint64_t more_ids, nys_err *e)
{
	if (r->count == r->cap_rec) {
		uint64_t c = r->cap_rec ? 2 * r->cap_rec : 256;
		uint32_t *l = realloc(r->label, c * sizeof *l);
		if (l)
			r->label = l;
		uint64_t *o = l ? realloc(r->off, (c * r->docs + 1) * sizeof *o) : NULL;
		if (!o)
			return nys_err_set(e, "out of memory");
		r->off = o;
		r->cap_rec = c;
	}
	if (r->nids + more_ids > r->cap_ids) {
		uint64_t c = r->cap_ids ? 2 * r->cap_ids : 65536;
		while (c < r->nids + more_ids)
			c *= 2;
		uint16_t *p = realloc(r->ids, c * sizeof *p);
		if (!p)
			return nys_err_set(e, "out of memory");
		r->ids = p;
		r->cap_ids = c;
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

struct nys_lra_writer {
	char *path;
	nys_lra_header h;
	recs r;
};

nys_lra_writer *nys_lra_writer_open(const char *path, const nys_lra_header *h, nys_err *e)
{
	nys_lra_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->path = strdup(path))) {
		free(w);
		nys_err_set(e, "out of memory");
		return NULL;
	}
	w->h = *h;
	w->h.version = NYS_LRA_VERSION;
	w->h.width = h->vocab_size <= 256 ? 1 : 2;
	w->h.flags = 0;
	if (recs_init(&w->r, h->docs, e)) {
		free(w->path);
		free(w);
		return NULL;
	}
	return w;
}

int nys_lra_writer_add(nys_lra_writer *w, uint32_t label, const int32_t *ids0, uint32_t n0,
                       const int32_t *ids1, uint32_t n1, nys_err *e)
{
	const nys_lra_header *h = &w->h;
	const int32_t *ids[2] = {ids0, ids1};
	uint32_t n[2] = {n0, n1};
	if (label >= h->classes)
		return nys_err_set(e, "label %u outside the %u classes", label, h->classes);
	if ((h->docs == 1) != (ids1 == NULL))
		return nys_err_set(e, "a record of %u documents given %u", h->docs, ids1 ? 2 : 1);
	for (unsigned d = 0; d < h->docs; d++) {
		if (n[d] < 1 || n[d] > h->max_len)
			return nys_err_set(e, "document of %u ids (1 to %u)", n[d], h->max_len);
		for (uint32_t k = 0; k < n[d]; k++)
			if (ids[d][k] < 0 || (uint32_t)ids[d][k] >= h->vocab_size)
				return nys_err_set(e, "id %d outside the vocabulary (%u)", ids[d][k],
				                   h->vocab_size);
	}
	if (w->r.count >= UINT32_MAX)
		return nys_err_set(e, "%s: too many records for one shard", w->path);
	if (recs_room(&w->r, (uint64_t)n0 + n1, e))
		return -1;
	recs *r = &w->r;
	r->label[r->count] = label;
	for (unsigned d = 0; d < h->docs; d++) {
		for (uint32_t k = 0; k < n[d]; k++)
			r->ids[r->nids + k] = (uint16_t)ids[d][k];
		r->nids += n[d];
		r->off[r->count * r->docs + d + 1] = r->nids;
	}
	r->count++;
	return 0;
}

uint64_t nys_lra_writer_count(const nys_lra_writer *w)
{
	return w->r.count;
}

void nys_lra_writer_abort(nys_lra_writer *w)
{
	if (!w)
		return;
	recs_free(&w->r);
	free(w->path);
	free(w);
}

int nys_lra_writer_close(nys_lra_writer *w, nys_err *e)
{
	nys_lra_header h = w->h;
	const recs *r = &w->r;
	h.count = (uint32_t)r->count;
	h.ids = r->nids;
	nys_buf b = {0};
	unsigned char hb[NYS_LRA_HEADER_SIZE], f[8];
	nys_lra_header_pack(&h, hb);
	int rc = nys_buf_add(&b, hb, sizeof hb);
	for (uint64_t i = 0; !rc && i < r->count; i++) {
		nys_put_u32(f, r->label[i]);
		rc = nys_buf_add(&b, f, 4);
		for (unsigned d = 0; !rc && d < h.docs; d++) {
			uint64_t a = r->off[i * h.docs + d], z = r->off[i * h.docs + d + 1];
			nys_put_u32(f, (uint32_t)(z - a));
			rc = nys_buf_add(&b, f, 4) || nys_buf_reserve(&b, (z - a) * h.width);
			for (uint64_t k = a; !rc && k < z; k++) {
				b.p[b.n++] = (char)(r->ids[k] & 0xff);
				if (h.width == 2)
					b.p[b.n++] = (char)(r->ids[k] >> 8);
			}
		}
	}
	if (!rc) {
		nys_put_u64(f, nys_hash64(b.p, b.n, 0));
		rc = nys_buf_add(&b, f, 8);
	}
	if (rc) {
		nys_buf_free(&b);
		nys_lra_writer_abort(w);
		return nys_err_set(e, "out of memory");
	}
	nys_out *o = nys_out_open(w->path, NYS_OUT_ZSTD | NYS_OUT_BINARY, e);
	rc = o ? 0 : -1;
	if (o && nys_out_write(o, b.p, b.n, e)) {
		nys_out_abort(o);
		rc = -1;
	} else if (o)
		rc = nys_out_commit(o, e);
	nys_buf_free(&b);
	nys_lra_writer_abort(w);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

struct nys_lra_set {
	nys_lra_header h;
	recs r;
};

/* Append the records of one shard to s (its header checked against the
 * set's kind, s->h set from the first). */
static int read_shard(nys_lra_set *s, const char *path, bool first, nys_err *e)
{
	nys_binrd b;
	if (nys_binrd_open(&b, path, e))
		return -1;
	const char *name = nys_binrd_name(&b);
	nys_lra_header h;
	int k = nys_binrd_need(&b, NYS_LRA_HEADER_SIZE, NULL, e);
	if (k <= 0) {
		if (!k)
			nys_binrd_truncated(&b, "the header", e);
		goto fail;
	}
	if (nys_lra_header_parse(b.buf + b.pos, &h, name, e))
		goto fail;
	nys_binrd_take(&b, NYS_LRA_HEADER_SIZE, true);
	if (first) {
		s->h = h;
		s->h.count = 0;
		s->h.ids = 0;
		if (recs_init(&s->r, h.docs, e))
			goto fail;
	} else if (h.task != s->h.task || h.vocab != s->h.vocab || h.docs != s->h.docs ||
	           h.max_len != s->h.max_len || h.vocab_size != s->h.vocab_size ||
	           h.classes != s->h.classes || h.pad_id != s->h.pad_id) {
		nys_err_set(e, "%s: byte 12: not of the kind of the shards before it (%s, %u "
		            "documents, length %u, vocabulary %u, %u classes)", name,
		            nys_lra_task_name(s->h.task), s->h.docs, s->h.max_len, s->h.vocab_size,
		            s->h.classes);
		goto fail;
	}
	if (s->r.count + h.count > UINT32_MAX) {
		nys_err_set(e, "%s: more than %u records in one set", name, UINT32_MAX);
		goto fail;
	}
	uint64_t ids = 0;
	recs *r = &s->r;
	for (uint32_t i = 0; i < h.count; i++) {
		uint64_t at = b.off;
		if ((k = nys_binrd_need(&b, 4, NULL, e)) <= 0)
			goto cut;
		uint32_t label = nys_get_u32(b.buf + b.pos);
		if (label >= h.classes) {
			nys_err_set(e, "%s: byte %llu: record %u: label %u outside the %u classes", name,
			            (unsigned long long)at, i, label, h.classes);
			goto fail;
		}
		nys_binrd_take(&b, 4, true);
		if (recs_room(r, 0, e))
			goto fail;
		r->label[r->count] = label;
		for (unsigned d = 0; d < h.docs; d++) {
			at = b.off;
			if ((k = nys_binrd_need(&b, 4, NULL, e)) <= 0)
				goto cut;
			uint32_t n = nys_get_u32(b.buf + b.pos);
			if (n < 1 || n > h.max_len) {
				nys_err_set(e, "%s: byte %llu: record %u: document of %u ids (1 to %u)",
				            name, (unsigned long long)at, i, n, h.max_len);
				goto fail;
			}
			nys_binrd_take(&b, 4, true);
			at = b.off;
			if ((k = nys_binrd_need(&b, (size_t)n * h.width, NULL, e)) <= 0)
				goto cut;
			if (recs_room(r, n, e))
				goto fail;
			const unsigned char *p = b.buf + b.pos;
			for (uint32_t j = 0; j < n; j++) {
				uint32_t id = h.width == 1 ? p[j] : (uint32_t)p[2 * j] | (uint32_t)p[2 * j + 1] << 8;
				if (id >= h.vocab_size) {
					nys_err_set(e, "%s: byte %llu: record %u: id %u outside the vocabulary "
					            "(%u)", name, (unsigned long long)(at + (uint64_t)j * h.width),
					            i, id, h.vocab_size);
					goto fail;
				}
				r->ids[r->nids + j] = (uint16_t)id;
			}
			nys_binrd_take(&b, (size_t)n * h.width, true);
			r->nids += n;
			ids += n;
			r->off[r->count * r->docs + d + 1] = r->nids;
		}
		r->count++;
	}
	if (ids != h.ids) {
		nys_err_set(e, "%s: byte 52: the header says %llu ids, the records hold %llu", name,
		            (unsigned long long)h.ids, (unsigned long long)ids);
		goto fail;
	}
	uint64_t at = b.off;
	if ((k = nys_binrd_need(&b, 8, NULL, e)) <= 0)
		goto cut;
	if (nys_get_u64(b.buf + b.pos) != nys_hash_final(&b.hash)) {
		nys_err_set(e, "%s: checksum mismatch at byte %llu (the shard is damaged)", name,
		            (unsigned long long)at);
		goto fail;
	}
	nys_binrd_take(&b, 8, false);
	at = b.off;
	if ((k = nys_binrd_need(&b, 1, NULL, e)) != 0) {
		if (k > 0)
			nys_err_set(e, "%s: byte %llu: data after the checksum", name,
			            (unsigned long long)at);
		goto fail;
	}
	s->h.count += h.count;
	s->h.ids += ids;
	nys_binrd_close(&b);
	return 0;
cut:
	if (!k)
		nys_binrd_truncated(&b, "a record", e);
fail:
	nys_binrd_close(&b);
	return -1;
}

nys_lra_set *nys_lra_set_open_files(const char *const *paths, size_t n, nys_err *e)
{
	if (!n) {
		nys_err_set(e, "no LRA shards given");
		return NULL;
	}
	nys_lra_set *s = calloc(1, sizeof *s);
	if (!s) {
		nys_err_set(e, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (read_shard(s, paths[i], i == 0, e)) {
			recs_free(&s->r);
			free(s);
			return NULL;
		}
	return s;
}

nys_lra_set *nys_lra_set_open(const char *dir, const char *split, nys_err *e)
{
	nys_buf p = {0};
	if (nys_path_join(&p, dir, NYS_LRA_MANIFEST, e))
		return NULL;
	json_t *m = nys_json_load(p.p, JSON_REJECT_DUPLICATES, e);
	nys_lra_set *s = NULL;
	if (!m)
		goto out;
	json_t *sp = json_object_get(json_object_get(m, "splits"), split);
	json_t *list = json_object_get(sp, "shards");
	if (!json_is_array(list) || !json_array_size(list)) {
		nys_err_set(e, "%s: no shards listed for the split '%s'", p.p, split);
		goto out;
	}
	size_t n = json_array_size(list);
	char **paths = calloc(n, sizeof *paths);
	if (!paths) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	size_t i;
	for (i = 0; i < n; i++) {
		const char *f = json_string_value(json_array_get(list, i));
		nys_buf q = {0};
		if (!f || strchr(f, '/') || !strcmp(f, "..")) {
			nys_err_set(e, "%s: splits.%s.shards[%zu] is not a file name", p.p, split, i);
			break;
		}
		if (nys_path_join(&q, dir, f, e))
			break;
		paths[i] = q.p;
	}
	if (i == n) {
		s = nys_lra_set_open_files((const char *const *)paths, n, e);
		json_t *cnt = json_object_get(sp, "records");
		if (s && json_is_integer(cnt) && (uint64_t)json_integer_value(cnt) != s->h.count) {
			nys_err_set(e, "%s: splits.%s.records is %lld, its shards hold %u", p.p, split,
			            (long long)json_integer_value(cnt), s->h.count);
			nys_lra_set_close(s);
			s = NULL;
		}
	}
	for (size_t j = 0; j < n; j++)
		free(paths[j]);
	free(paths);
out:
	json_decref(m);
	nys_buf_free(&p);
	return s;
}

void nys_lra_set_close(nys_lra_set *s)
{
	if (!s)
		return;
	recs_free(&s->r);
	free(s);
}

const nys_lra_header *nys_lra_set_header(const nys_lra_set *s)
{
	return &s->h;
}

uint64_t nys_lra_set_count(const nys_lra_set *s)
{
	return s->r.count;
}

uint32_t nys_lra_set_label(const nys_lra_set *s, uint64_t i)
{
	return s->r.label[i];
}

uint32_t nys_lra_set_len(const nys_lra_set *s, uint64_t i, unsigned doc)
{
	const uint64_t *o = s->r.off + i * s->r.docs + doc;
	return (uint32_t)(o[1] - o[0]);
}

uint32_t nys_lra_set_ids(const nys_lra_set *s, uint64_t i, unsigned doc, int32_t *out)
{
	const uint64_t *o = s->r.off + i * s->r.docs + doc;
	const uint16_t *p = s->r.ids + o[0];
	uint32_t n = (uint32_t)(o[1] - o[0]);
	for (uint32_t k = 0; k < n; k++)
		out[k] = p[k];
	return n;
}

const nys_lra_header *nys_lra_writer_header(const nys_lra_writer *w)
{
	return &w->h;
}

int nys_lra_writer_split(const nys_lra_writer *w, const uint64_t *order, uint64_t n,
                         const char *dir, const char *prefix, uint64_t per_shard,
                         nys_strlist *names, nys_err *e)
{
	const recs *r = &w->r;
	int32_t *buf[2] = {malloc((size_t)w->h.max_len * sizeof(int32_t)),
	                   malloc((size_t)w->h.max_len * sizeof(int32_t))};
	int rc = buf[0] && buf[1] ? 0 : nys_err_set(e, "out of memory");
	for (uint64_t at = 0, shard = 0; !rc && at < n; shard++) {
		char name[NYS_NAME_MAX + 32];
		snprintf(name, sizeof name, "%s-%05llu%s", prefix, (unsigned long long)shard,
		         NYS_LRA_SUFFIX);
		nys_buf p = {0};
		if (nys_path_join(&p, dir, name, e))
			rc = -1;
		nys_lra_writer *o = rc ? NULL : nys_lra_writer_open(p.p, &w->h, e);
		nys_buf_free(&p);
		if (!o) {
			rc = -1;
			break;
		}
		for (uint64_t k = 0; !rc && k < per_shard && at < n; k++, at++) {
			uint64_t i = order[at];
			uint32_t len[2] = {0, 0};
			for (unsigned d = 0; d < r->docs; d++) {
				uint64_t a = r->off[i * r->docs + d], z = r->off[i * r->docs + d + 1];
				len[d] = (uint32_t)(z - a);
				for (uint64_t j = a; j < z; j++)
					buf[d][j - a] = r->ids[j];
			}
			rc = nys_lra_writer_add(o, r->label[i], buf[0], len[0], r->docs == 2 ? buf[1] : NULL,
			                        len[1], e);
		}
		if (rc) {
			nys_lra_writer_abort(o);
			break;
		}
		rc = nys_lra_writer_close(o, e) || nys_strlist_add(names, name, e) ? -1 : 0;
	}
	free(buf[0]);
	free(buf[1]);
	return rc;
}
