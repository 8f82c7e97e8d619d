/* GLUE's rows to token ids for nys-eval glue (declared in nys_glue.h):
 * each text as `tokenize encode` encoded the pretraining data, pairs as
 * [CLS] a [SEP] b [SEP] with HuggingFace's longest-first truncation, and
 * the padded batches the fine-tuning driver feeds the model. */
#include "nys_glue.h"
#include "nys_tokenize.h"

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

/* Room for extra more ids in enc->ids (capacity *cap). */
static int grow_ids(nys_glue_enc *enc, size_t used, size_t extra, size_t *cap, nys_err *e)
{
	if (used + extra <= *cap)
		return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < used + extra)
		c *= 2;
	int32_t *p = realloc(enc->ids, c * sizeof *p);
	if (!p)
		return no_memory(e);
	enc->ids = p;
	*cap = c;
	return 0;
}

int nys_glue_encode(const nys_glue_data *d, const nys_glue_tok *t, nys_glue_enc *enc,
                    nys_err *e)
{
	memset(enc, 0, sizeof *enc);
	enc->pad = t->pad;
	enc->start = malloc((d->n + 1) * sizeof *enc->start);
	enc->len_a = malloc((d->n ? d->n : 1) * sizeof *enc->len_a);
	if (!enc->start || !enc->len_a)
		return no_memory(e);
	enc->start[0] = 0;
	nys_ids ia = {0}, ib = {0};
	nys_buf low = {0};
	size_t used = 0, cap = 0;
	int rc = 0;
	for (size_t i = 0; i < d->n && !rc; i++) {
		const char *b = nys_glue_text_b(d, i);
		if (encode_text(t, nys_glue_text_a(d, i), &low, &ia, e) ||
		    (b && encode_text(t, b, &low, &ib, e))) {
			char why[sizeof e->msg];
			snprintf(why, sizeof why, "%s", e->msg);
			rc = nys_err_set(e, "%s:%llu: %s", d->file, (unsigned long long)d->line[i], why);
			break;
		}
		/* longest first: one token off the longer side (b on a tie) at a
		 * time, which leaves min(na, nb) alone while it is the shorter
		 * and otherwise splits the room evenly, a getting the odd one */
		size_t na = ia.n, nb = b ? ib.n : 0;
		size_t room = t->max_len - (b ? 3 : 2);
		if (na + nb > room) {
			enc->truncated++;
			if (!b) {
				na = room;
			} else {
				size_t lo = na < nb ? na : nb;
				if (lo <= room / 2) {
					if (na < nb)
						nb = room - na;
					else
						na = room - nb;
				} else {
					na = room - room / 2;
					nb = room / 2;
				}
			}
		}
		size_t row = na + nb + (b ? 3 : 2);
		if (grow_ids(enc, used, row, &cap, e)) {
			rc = -1;
			break;
		}
		int32_t *o = enc->ids + used;
		*o++ = t->cls;
		for (size_t k = 0; k < na; k++)
			*o++ = (int32_t)ia.p[k];
		*o++ = t->sep;
		if (b) {
			for (size_t k = 0; k < nb; k++)
				*o++ = (int32_t)ib.p[k];
			*o++ = t->sep;
		}
		enc->len_a[i] = (uint32_t)(na + 2);
		used += row;
		enc->start[i + 1] = used;
		if (row > enc->longest)
			enc->longest = (unsigned)row;
		enc->n = i + 1;
	}
	nys_ids_free(&ia);
	nys_ids_free(&ib);
	nys_buf_free(&low);
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
