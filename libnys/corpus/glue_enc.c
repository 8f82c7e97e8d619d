/* GLUE's rows to token ids for nys-eval glue (declared in nys_glue.h):
 * each text as `tokenize encode` encoded the pretraining data, pairs as
 * [CLS] a [SEP] b [SEP] with HuggingFace's longest-first truncation, and
 * the padded batches the fine-tuning driver feeds the model. */
#include "nys_glue.h"
#include "nys_tokenize.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int no_memory(nys_err *e)
{
	return nys_err_set(e, "out of memory");
}

/* ---- text to ids ------------------------------------------------------- */

int nys_glue_tok_init(nys_glue_tok *t, const nys_spm *m, bool lower, unsigned max_len,
                      nys_err *e)
{
	memset(t, 0, sizeof *t);
	if (max_len < 3)
		return nys_err_set(e, "max_seq_len %u is too short for a pair (3 at least)", max_len);
	nys_spm_special sp;
	nys_spm_special_ids(m, &sp);
	const char *missing = sp.cls < 0 ? "[CLS]" : sp.sep < 0 ? "[SEP]" : sp.pad < 0 ? "<pad>" : NULL;
	if (missing)
		return nys_err_set(e, "%s: has no %s piece: not a model of ALBERT's layout",
		                   nys_spm_name(m), missing);
	t->spm = m;
	t->lower = lower;
	t->max_len = max_len;
	t->cls = sp.cls;
	t->sep = sp.sep;
	t->pad = sp.pad;
	return 0;
}

/* The ids of one text into *ids (replaced). */
static int encode_text(const nys_glue_tok *t, const char *s, nys_buf *low, nys_ids *ids,
                       nys_err *e)
{
	size_t n = strlen(s);
	if (t->lower) {
		low->n = 0;
		if (nys_lower_utf8(s, n, low, e))
			return -1;
		s = low->p ? low->p : "";
		n = low->n;
	}
	ids->n = 0;
	return nys_spm_encode(t->spm, s, n, ids, e);
}

/* Rows are encoded in chunks of CHUNK on OpenMP's threads, each chunk
 * into its own ids, then put together in order: the same ids for every
 * number of threads. */
#define CHUNK 2048

typedef struct chunk {
	int32_t *ids;
	size_t n, cap;
	size_t truncated;
	int rc;
	nys_err e;
} chunk;

static int chunk_add(chunk *c, const int32_t *p, size_t n)
{
	if (c->n + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		while (cap < c->n + n)
			cap *= 2;
		int32_t *q = realloc(c->ids, cap * sizeof *q);
		if (!q)
			return no_memory(&c->e);
		c->ids = q;
		c->cap = cap;
	}
	memcpy(c->ids + c->n, p, n * sizeof *p);
	c->n += n;
	return 0;
}

/* Row i of d into chunk c: its length into enc->start[i + 1] (summed
 * later) and its type-0 length into enc->len_a[i]. */
static int encode_row(const nys_glue_data *d, const nys_glue_tok *t, size_t i,
                      nys_glue_enc *enc, chunk *c, nys_ids *ia, nys_ids *ib, nys_buf *low)
{
	nys_err *e = &c->e;
	const char *b = nys_glue_text_b(d, i);
	if (encode_text(t, nys_glue_text_a(d, i), low, ia, e) ||
	    (b && encode_text(t, b, low, ib, e))) {
		char why[sizeof e->msg];
		snprintf(why, sizeof why, "%s", e->msg);
		return nys_err_set(e, "%s:%llu: %s", d->file, (unsigned long long)d->line[i], why);
	}
	/* longest first: one token off the longer side (b on a tie) at a
	 * time, which leaves the shorter alone while it has at most half the
	 * room and otherwise splits the room evenly, a getting the odd one */
	size_t na = ia->n, nb = b ? ib->n : 0;
	size_t room = t->max_len - (b ? 3 : 2);
	if (na + nb > room) {
		c->truncated++;
		if (!b) {
			na = room;
		} else if ((na < nb ? na : nb) <= room / 2) {
			if (na < nb)
				nb = room - na;
			else
				na = room - nb;
		} else {
			na = room - room / 2;
			nb = room / 2;
		}
	}
	int32_t cls = t->cls, sep = t->sep;
	size_t before = c->n;
	/* sentencepiece's ids are below 2^31 (vocabularies are far smaller) */
	if (chunk_add(c, &cls, 1) || chunk_add(c, (const int32_t *)ia->p, na) ||
	    chunk_add(c, &sep, 1))
		return -1;
	if (b && (chunk_add(c, (const int32_t *)ib->p, nb) || chunk_add(c, &sep, 1)))
		return -1;
	enc->len_a[i] = (uint32_t)(na + 2);
	enc->start[i + 1] = c->n - before;
	return 0;
}

int nys_glue_encode(const nys_glue_data *d, const nys_glue_tok *t, nys_glue_enc *enc,
                    nys_err *e)
{
	memset(enc, 0, sizeof *enc);
	enc->pad = t->pad;
	size_t nchunks = (d->n + CHUNK - 1) / CHUNK;
	enc->start = malloc((d->n + 1) * sizeof *enc->start);
	enc->len_a = malloc((d->n ? d->n : 1) * sizeof *enc->len_a);
	chunk *cs = calloc(nchunks ? nchunks : 1, sizeof *cs);
	if (!enc->start || !enc->len_a || !cs) {
		free(cs);
		return no_memory(e);
	}
	int threads = t->threads ? (int)t->threads : omp_get_max_threads();
	if ((size_t)threads > nchunks)
		threads = nchunks ? (int)nchunks : 1;
#pragma omp parallel num_threads(threads)
	{
		nys_ids ia = {0}, ib = {0};
		nys_buf low = {0};
#pragma omp for schedule(dynamic, 1)
		for (size_t k = 0; k < nchunks; k++) {
			chunk *c = &cs[k];
			size_t hi = (k + 1) * CHUNK < d->n ? (k + 1) * CHUNK : d->n;
			for (size_t i = k * CHUNK; i < hi && !c->rc; i++)
				c->rc = encode_row(d, t, i, enc, c, &ia, &ib, &low);
		}
		nys_ids_free(&ia);
		nys_ids_free(&ib);
		nys_buf_free(&low);
	}
	/* the first failure in row order, whatever the threads */
	int rc = 0;
	size_t total = 0;
	for (size_t k = 0; k < nchunks && !rc; k++) {
		if (cs[k].rc) {
			snprintf(e->msg, sizeof e->msg, "%s", cs[k].e.msg);
			rc = -1;
		}
		total += cs[k].n;
	}
	if (!rc && !(enc->ids = malloc((total ? total : 1) * sizeof *enc->ids)))
		rc = no_memory(e);
	if (!rc) {
		size_t used = 0;
		for (size_t k = 0; k < nchunks; k++) {
			memcpy(enc->ids + used, cs[k].ids, cs[k].n * sizeof *enc->ids);
			used += cs[k].n;
			enc->truncated += cs[k].truncated;
		}
		enc->start[0] = 0;
		for (size_t i = 0; i < d->n; i++) {
			size_t row = enc->start[i + 1];
			if (row > enc->longest)
				enc->longest = (unsigned)row;
			enc->start[i + 1] = enc->start[i] + row;
		}
		enc->n = d->n;
	}
	for (size_t k = 0; k < nchunks; k++)
		free(cs[k].ids);
	free(cs);
	return rc;
}

void nys_glue_enc_free(nys_glue_enc *enc)
{
	free(enc->ids);
	free(enc->start);
	free(enc->len_a);
	memset(enc, 0, sizeof *enc);
}

unsigned nys_glue_enc_longest(const nys_glue_enc *enc, const size_t *rows, size_t nb)
{
	unsigned m = 0;
	for (size_t i = 0; i < nb; i++) {
		unsigned l = nys_glue_enc_len(enc, rows ? rows[i] : i);
		if (l > m)
			m = l;
	}
	return m;
}

int nys_glue_enc_batch(const nys_glue_enc *enc, const size_t *rows, size_t nb,
                       unsigned width, int32_t *ids, int32_t *types, float *mask,
                       nys_err *e)
{
	for (size_t i = 0; i < nb; i++) {
		size_t r = rows ? rows[i] : i;
		if (r >= enc->n)
			return nys_err_set(e, "row %zu of a split of %zu rows", r, enc->n);
		unsigned l = nys_glue_enc_len(enc, r);
		if (l > width)
			return nys_err_set(e, "row %zu has %u tokens, more than the batch's %u", r, l,
			                   width);
		const int32_t *src = enc->ids + enc->start[r];
		int32_t *oi = ids + i * width;
		memcpy(oi, src, l * sizeof *oi);
		for (unsigned k = l; k < width; k++)
			oi[k] = enc->pad;
		if (types) {
			int32_t *ot = types + i * width;
			for (unsigned k = 0; k < width; k++)
				ot[k] = k >= enc->len_a[r] && k < l;
		}
		if (mask) {
			float *om = mask + i * width;
			for (unsigned k = 0; k < width; k++)
				om[k] = k < l ? 1.0f : 0.0f;
		}
	}
	return 0;
}
