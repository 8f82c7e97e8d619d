/* The work of tokenize(1).
 *
 * Encoding is a pipeline: the calling thread reads unified text into
 * batches (the lines' bytes, and the places where documents end), worker
 * threads encode whole batches, and the calling thread writes the batches
 * in the order it read them.  A batch is encoded by one worker alone and the
 * output is a function of the lines only, so it is the same for any number
 * of threads.  With one thread nothing is started: the batches are encoded
 * in line.
 */
#include "nys_tokenize.h"
#include "nys_tokstream.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wctype.h>

/* ---- lower-casing ------------------------------------------------------ */

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* The characters Unicode calls case-ignorable that matter around a sigma:
 * apostrophes, the word-internal punctuation of Word_Break MidLetter and
 * MidNumLet, modifier letters and symbols, combining marks, format
 * controls.  An approximation of Python's table good for Greek text. */
static bool case_ignorable(uint32_t c)
{
	switch (c) {
	case 0x27: case 0x2E: case 0x3A: case 0x5E: case 0x60:
	case 0xA8: case 0xAD: case 0xAF: case 0xB4: case 0xB7: case 0xB8:
	case 0x387: case 0x2018: case 0x2019: case 0x2024: case 0x2027:
	case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
		return true;
	}
	return (c >= 0x2B0 && c <= 0x36F) ||     /* modifier letters, combining marks */
	       (c >= 0x374 && c <= 0x375) || c == 0x37A || (c >= 0x384 && c <= 0x385) ||
	       (c >= 0x483 && c <= 0x489) ||     /* Cyrillic combining marks */
	       (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) ||
	       (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2060 && c <= 0x2064) || (c >= 0x20D0 && c <= 0x20FF) ||
	       (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFE20 && c <= 0xFE2F) || c == 0xFEFF;
}

static bool cased(uint32_t c)
{
	return iswupper_l((wint_t)c, utf8_locale) || iswlower_l((wint_t)c, utf8_locale) ||
	       towlower_l((wint_t)c, utf8_locale) != (wint_t)c ||
	       towupper_l((wint_t)c, utf8_locale) != (wint_t)c;
}

/* The character before s[i] (its start in *at), or -1 at the start. */
static int64_t prev_char(const unsigned char *s, size_t i, size_t *at)
{
	if (!i)
		return -1;
	size_t j = i - 1;
	while (j > 0 && (s[j] & 0xC0) == 0x80 && i - j < 4)
		j--;
	int k = nys_utf8_len(s + j, i - j);
	if (k == (int)(i - j)) {
		*at = j;
		return nys_utf8_decode(s + j, k);
	}
	*at = i - 1;
	return 0xFFFD;        /* a stray byte: neither cased nor ignorable */
}

/* Python's Final_Sigma: a cased letter before (skipping case-ignorable
 * characters), none after. */
static bool final_sigma(const unsigned char *s, size_t n, size_t i, size_t len)
{
	size_t at = i;
	int64_t c;
	do
		c = prev_char(s, at, &at);
	while (c >= 0 && case_ignorable((uint32_t)c));
	if (c < 0 || !cased((uint32_t)c))
		return false;
	for (size_t j = i + len; j < n;) {
		int k = nys_utf8_len(s + j, n - j);
		if (!k)
			return true;
		uint32_t d = nys_utf8_decode(s + j, k);
		if (!case_ignorable(d))
			return !cased(d);
		j += (size_t)k;
	}
	return true;
}

int nys_lower_utf8(const char *s, size_t n, nys_buf *out, nys_err *e)
{
	pthread_once(&utf8_once, utf8_init);
	if (!utf8_locale)
		return nys_err_set(e, "lower-casing: the C.UTF-8 locale is not available");
	/* a character's lower case is at most 3 bytes longer (U+0130) */
	if (n > (SIZE_MAX - 16) / 2 || nys_buf_reserve(out, 2 * n + 16))
		return nys_err_set(e, "out of memory");
	const unsigned char *u = (const unsigned char *)s;
	char *o = out->p + out->n;
	char *lim = out->p + out->cap - 8;
	for (size_t i = 0; i < n;) {
		if (o > lim) {
			out->n = (size_t)(o - out->p);
			if (nys_buf_reserve(out, n - i + 16))
				return nys_err_set(e, "out of memory");
			o = out->p + out->n;
			lim = out->p + out->cap - 8;
		}
		unsigned c = u[i];
		if (c < 0x80) {
			*o++ = (char)(c - 'A' < 26u ? c + 32 : c);
			i++;
			continue;
		}
		int k = nys_utf8_len(u + i, n - i);
		if (!k) {
			*o++ = (char)c;
			i++;
			continue;
		}
		uint32_t cp = nys_utf8_decode(u + i, k), lo;
		if (cp == 0x130) {
			*o++ = 'i';
			o += nys_utf8_encode(0x307, o);
			i += (size_t)k;
			continue;
		}
		if (cp == 0x3A3)
			lo = final_sigma(u, n, i, (size_t)k) ? 0x3C2 : 0x3C3;
		else
			lo = (uint32_t)towlower_l((wint_t)cp, utf8_locale);
		int m = lo != cp ? nys_utf8_encode(lo, o) : 0;
		if (!m) {
			memcpy(o, u + i, (size_t)k);
			m = k;
		}
		o += m;
		i += (size_t)k;
	}
	out->n = (size_t)(o - out->p);
	return 0;
}

/* ---- encoding: batches ------------------------------------------------- */

#define BATCH_BYTES (128u * 1024)
#define BATCH_ITEMS 32768u
#define DOC_END SIZE_MAX

/* The lines of a batch, and where documents end. */
struct batch {
	/* filled by the reader */
	nys_buf text;
	size_t *start, *len;    /* item i: a line text.p[start..+len], or DOC_END */
	size_t n;
	/* where item i came from, for messages: input file[i] (an index into
	 * names, the reader's), line line[i] (DOC_END: the document's last) */
	uint32_t *file;
	uint64_t *line;
	char *const *names;
	/* filled by the encoder */
	nys_ids ids;
	size_t *idend;          /* ids of item i end at ids.p[idend[i]] */
	nys_buf out;            /* the ids format: the text to write */
	bool done;
	int rc;
	nys_err e;
};

static int batch_init(struct batch *b)
{
	memset(b, 0, sizeof *b);
	b->start = malloc(BATCH_ITEMS * sizeof *b->start);
	b->len = malloc(BATCH_ITEMS * sizeof *b->len);
	b->idend = malloc(BATCH_ITEMS * sizeof *b->idend);
	b->file = malloc(BATCH_ITEMS * sizeof *b->file);
	b->line = malloc(BATCH_ITEMS * sizeof *b->line);
	/* ids.p is never NULL, so a batch's ids can always be pointed into */
	return b->start && b->len && b->idend && b->file && b->line &&
	       !nys_buf_reserve(&b->text, BATCH_BYTES + 4096) &&
	       !nys_ids_reserve(&b->ids, BATCH_BYTES / 4) ? 0 : -1;
}

static void batch_free(struct batch *b)
{
	free(b->start);
	free(b->len);
	free(b->idend);
	free(b->file);
	free(b->line);
	nys_buf_free(&b->text);
	nys_buf_free(&b->out);
	nys_ids_free(&b->ids);
}

static char *fmt_u32(char *p, uint32_t v)
{
	char t[10];
	int k = 0;
	do
		t[k++] = (char)('0' + v % 10);
	while (v /= 10);
	while (k)
		*p++ = t[--k];
	return p;
}

/* Put "FILE:LINE: " before the message in *e, the place of item i of b:
 * whatever fails while a line is encoded, memory running out included, is
 * reported at that line. */
static void at_item(const struct batch *b, size_t i, nys_err *e)
{
	char why[sizeof e->msg];
	memcpy(why, e->msg, sizeof why);
	nys_err_set(e, "%s:%llu: %s", b->names[b->file[i]], (unsigned long long)b->line[i], why);
}

/* Encode a batch (any thread).  For the ids format the text of the batch
 * is made here too: its documents' ids, a space between two, a newline
 * after each; the writer adds the space between the part of a document
 * that ends one batch and the part that starts the next. */
static void encode_batch(struct batch *b, const nys_encode_opts *o, nys_buf *low)
{
	nys_err *e = &b->e;
	b->rc = -1;
	b->ids.n = 0;
	b->out.n = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->len[i] != DOC_END) {
			const char *s = b->text.p + b->start[i];
			size_t n = b->len[i];
			if (o->lower) {
				low->n = 0;
				if (nys_lower_utf8(s, n, low, e)) {
					at_item(b, i, e);
					return;
				}
				s = low->p;
				n = low->n;
			}
			if (nys_spm_encode(o->model, s, n, &b->ids, e)) {
				at_item(b, i, e);
				return;
			}
		}
		b->idend[i] = b->ids.n;
	}
	if (o->format == NYS_FORMAT_IDS) {
		/* at most 10 digits and a space per id, a newline per item */
		if (nys_buf_reserve(&b->out, b->ids.n * 11 + b->n + 1)) {
			nys_err_set(e, "out of memory writing %zu ids as text", b->ids.n);
			at_item(b, b->n - 1, e);
			return;
		}
		char *p = b->out.p, *seg = p;  /* seg: where this document's text starts */
		size_t k = 0;
		for (size_t i = 0; i < b->n; i++) {
			for (; k < b->idend[i]; k++) {
				if (p != seg)
					*p++ = ' ';
				p = fmt_u32(p, b->ids.p[k]);
			}
			if (b->len[i] == DOC_END) {
				*p++ = '\n';
				seg = p;
			}
		}
		b->out.n = (size_t)(p - b->out.p);
	}
	b->rc = 0;
}

/* ---- encoding: the threads ------------------------------------------------ */

struct encoder {
	const nys_encode_opts *o;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct batch *slot;
	unsigned nslots;
	uint64_t submitted, taken;
	bool quit;
};

static void *worker(void *arg)
{
	struct encoder *c = arg;
	nys_buf low = {0};
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->quit && c->taken == c->submitted)
			pthread_cond_wait(&c->work, &c->mu);
		if (c->taken == c->submitted)
			break;
		struct batch *b = &c->slot[c->taken++ % c->nslots];
		pthread_mutex_unlock(&c->mu);
		encode_batch(b, c->o, &low);
		pthread_mutex_lock(&c->mu);
		b->done = true;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->mu);
	nys_buf_free(&low);
	return NULL;
}

/* ---- encoding: reading and writing ------------------------------------------ */

struct writer {
	const nys_encode_opts *o;
	nys_tok_writer *tw;
	nys_out *out;
	nys_ids carry;          /* the start of a document begun in an earlier batch */
	bool open_ids;          /* ids format: the open document has ids written */
	nys_encode_stats *st;
};

/* Write the document that ends at item i of b, its ids those of the carry
 * and then ids[0..n). */
static int write_doc(struct writer *w, const struct batch *b, size_t i, const uint32_t *ids,
                     size_t n, nys_err *e)
{
	if (w->carry.n && n) {
		if (nys_ids_reserve(&w->carry, n)) {
			nys_err_set(e, "out of memory (a document of %zu tokens)", w->carry.n + n);
			at_item(b, i, e);
			return -1;
		}
		memcpy(w->carry.p + w->carry.n, ids, n * sizeof *ids);
		w->carry.n += n;
	}
	if (w->carry.n) {
		ids = w->carry.p;
		n = w->carry.n;
		w->carry.n = 0;
	}
	w->st->docs++;
	w->st->tokens += n;
	if (nys_tok_writer_doc(w->tw, ids, n, e)) {
		/* the writer's own failures are the document's (its failed
		 * writes name the output instead) */
		if (!strcmp(e->msg, "out of memory") || !strncmp(e->msg, "token stream: ", 14))
			at_item(b, i, e);
		return -1;
	}
	return 0;
}

static int write_batch(struct writer *w, struct batch *b, nys_err *e)
{
	if (b->rc) {
		*e = b->e;
		return -1;
	}
	if (w->o->format == NYS_FORMAT_IDS) {
		const char *t = b->out.p;
		size_t n = b->out.n;
		if (n && t[0] != '\n' && w->open_ids && nys_out_write(w->out, " ", 1, e))
			return -1;
		if (n && nys_out_write(w->out, t, n, e))
			return -1;
		const char *nl = n ? memrchr(t, '\n', n) : NULL;
		w->open_ids = nl ? nl != t + n - 1 : w->open_ids || n;
		for (size_t i = 0; i < b->n; i++)
			w->st->docs += b->len[i] == DOC_END;
		w->st->tokens += b->ids.n;
		return 0;
	}
	size_t from = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->len[i] != DOC_END)
			continue;
		if (write_doc(w, b, i, b->ids.p + from, b->idend[i] - from, e))
			return -1;
		from = b->idend[i];
	}
	size_t rest = b->ids.n - from;
	if (rest) {
		if (nys_ids_reserve(&w->carry, rest)) {
			nys_err_set(e, "out of memory (a document of %zu tokens)", w->carry.n + rest);
			at_item(b, b->n - 1, e);
			return -1;
		}
		memcpy(w->carry.p + w->carry.n, b->ids.p + from, rest * sizeof *b->ids.p);
		w->carry.n += rest;
	}
	return 0;
}

struct reader {
	const char *const *paths;
	size_t npaths, next;
	char **names;           /* of the inputs opened, for the batches' messages */
	size_t max_line;
	nys_in *in;
	unsigned threads;       /* for decoding bzip2 inputs: -j, as for encoding */
	bool doc_open;          /* lines of the current document have been read */
	uint64_t doc_line;      /* the number of its last line */
	bool eof;
	uint64_t done_bytes;    /* raw bytes of the inputs finished */
	nys_encode_stats *st;
};

/* Fill b with the next lines: 0, or -1 on an error. */
static int read_batch(struct reader *r, struct batch *b, nys_err *e)
{
	b->n = 0;
	b->text.n = 0;
	b->done = false;
	b->names = r->names;
	while (b->n < BATCH_ITEMS - 1 && b->text.n < BATCH_BYTES) {
		if (!r->in) {
			if (r->next == r->npaths) {
				r->eof = true;
				break;
			}
			r->in = nys_in_open(r->paths[r->next++], e);
			if (!r->in)
				return -1;
			if (!(r->names[r->next - 1] = strdup(nys_in_name(r->in))))
				return nys_err_set(e, "out of memory");
			nys_in_set_threads(r->in, r->threads);
		}
		char *line;
		size_t len;
		/* a line is held whole, and sentencepiece takes about 100 times
		 * its length to encode it: longer lines than max_line are
		 * refused before they take any memory */
		int k = nys_in_getline_max(r->in, r->max_line, &line, &len, e);
		if (k < 0)
			return -1;
		if (k == 2)
			return nys_err_set(e, "%s:%llu: line of %zu bytes is longer than the maximum %zu "
			                   "(--max-line)", nys_in_name(r->in),
			                   (unsigned long long)nys_in_lineno(r->in), len, r->max_line);
		if (k == 0 || !len) {
			if (r->doc_open) {
				b->start[b->n] = b->text.n;
				b->file[b->n] = (uint32_t)(r->next - 1);
				b->line[b->n] = r->doc_line;
				b->len[b->n++] = DOC_END;
				r->doc_open = false;
			}
			if (k == 0) {
				r->done_bytes += nys_in_raw_pos(r->in);
				nys_in_close(r->in);
				r->in = NULL;
			}
			continue;
		}
		if (nys_buf_add(&b->text, line, len))
			return nys_err_set(e, "%s:%llu: out of memory", nys_in_name(r->in),
			                   (unsigned long long)nys_in_lineno(r->in));
		b->start[b->n] = b->text.n - len;
		b->file[b->n] = (uint32_t)(r->next - 1);
		b->line[b->n] = r->doc_line = nys_in_lineno(r->in);
		b->len[b->n++] = len;
		r->doc_open = true;
		r->st->lines++;
		r->st->bytes += len + 1;
	}
	return 0;
}

static uint64_t total_size(const char *const *paths, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat s;
		if (!paths[i] || !strcmp(paths[i], "-") || stat(paths[i], &s) || !S_ISREG(s.st_mode))
			return 0;
		t += (uint64_t)s.st_size;
	}
	return t;
}

int nys_tokenize_encode(const char *const *paths, size_t npaths, const nys_encode_opts *o,
                        nys_encode_stats *st, nys_err *e)
{
	static const char *const std_in[] = {"-"};
	memset(st, 0, sizeof *st);
	struct reader r = {
		.paths = npaths ? paths : std_in,
		.npaths = npaths ? npaths : 1,
		.max_line = o->max_line ? o->max_line : NYS_ENCODE_MAX_LINE,
		.threads = o->threads ? o->threads : 1,
		.st = st,
	};
	struct writer w = {.o = o, .st = st};
	unsigned threads = o->threads ? o->threads : 1;
	struct encoder c = {.o = o, .nslots = threads == 1 ? 1 : 2 * threads};
	pthread_t *tid = NULL;
	unsigned started = 0;
	int rc = -1;
	uint64_t written = 0;
	nys_buf low = {0};
	nys_progress prog;

	if (o->format == NYS_FORMAT_IDS)
		w.out = nys_out_open(o->output, 0, e);
	else
		w.tw = nys_tok_writer_open(o->output, nys_spm_vocab_size(o->model),
		                           nys_spm_fingerprint(o->model), e);
	if (!w.out && !w.tw)
		return -1;
	c.slot = calloc(c.nslots, sizeof *c.slot);
	/* a batch names its inputs by an index of 32 bits */
	if (r.npaths > UINT32_MAX) {
		nys_err_set(e, "more than %u inputs", UINT32_MAX);
		goto out;
	}
	r.names = calloc(r.npaths, sizeof *r.names);
	if (!c.slot || !r.names) {
		nys_err_set(e, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < c.nslots; i++)
		if (batch_init(&c.slot[i])) {
			nys_err_set(e, "out of memory");
			goto out;
		}
	nys_progress_start(&prog, "tokenize", total_size(r.paths, r.npaths));
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.work, NULL);
	pthread_cond_init(&c.done, NULL);
	if (threads > 1) {
		tid = calloc(threads, sizeof *tid);
		if (!tid) {
			nys_err_set(e, "out of memory");
			goto stop;
		}
		for (; started < threads; started++)
			if (pthread_create(&tid[started], NULL, worker, &c)) {
				nys_err_set(e, "cannot start a thread");
				goto stop;
			}
	}

	while (!r.eof || written < c.submitted) {
		if (!r.eof && c.submitted - written < c.nslots) {
			struct batch *b = &c.slot[c.submitted % c.nslots];
			if (read_batch(&r, b, e))
				goto stop;
			if (!b->n)
				continue;
			if (!started) {
				encode_batch(b, o, &low);
				b->done = true;
				c.submitted++;
				c.taken++;
			} else {
				pthread_mutex_lock(&c.mu);
				c.submitted++;
				pthread_cond_signal(&c.work);
				pthread_mutex_unlock(&c.mu);
			}
			nys_progress_update(&prog, r.done_bytes + (r.in ? nys_in_raw_pos(r.in) : 0),
			                    st->docs, "documents");
			/* keep reading while there is room, unless the oldest is ready */
			if (c.submitted - written < c.nslots && !r.eof) {
				struct batch *old = &c.slot[written % c.nslots];
				pthread_mutex_lock(&c.mu);
				bool ready = old->done;
				pthread_mutex_unlock(&c.mu);
				if (!ready)
					continue;
			}
		}
		if (written == c.submitted)
			continue;
		struct batch *b = &c.slot[written % c.nslots];
		pthread_mutex_lock(&c.mu);
		while (!b->done)
			pthread_cond_wait(&c.done, &c.mu);
		pthread_mutex_unlock(&c.mu);
		if (write_batch(&w, b, e))
			goto stop;
		written++;
	}
	/* the last document of the last input is closed by its end */
	rc = 0;
stop:
	pthread_mutex_lock(&c.mu);
	c.quit = true;
	/* on an error, the batches not yet taken are dropped */
	c.submitted = c.taken;
	pthread_cond_broadcast(&c.work);
	pthread_mutex_unlock(&c.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	free(tid);
	pthread_cond_destroy(&c.done);
	pthread_cond_destroy(&c.work);
	pthread_mutex_destroy(&c.mu);
	nys_progress_end(&prog);
out:
	if (r.in)
		nys_in_close(r.in);
	if (c.slot)
		for (unsigned i = 0; i < c.nslots; i++)
			batch_free(&c.slot[i]);
	free(c.slot);
	if (r.names)
		for (size_t i = 0; i < r.npaths; i++)
			free(r.names[i]);
	free(r.names);
	nys_ids_free(&w.carry);
	nys_buf_free(&low);
	if (rc) {
		if (w.tw)
			nys_tok_writer_abort(w.tw);
		if (w.out)
			nys_out_abort(w.out);
		return -1;
	}
	if (w.tw)
		return nys_tok_writer_commit(w.tw, e);
	return nys_out_commit(w.out, e);
}

/* ---- decoding -------------------------------------------------------------- */

struct decoder {
	const nys_decode_opts *o;
	nys_out *out;
	nys_buf text;
	uint64_t docs;
};

/* One document as a line of text, or of ids without a model. */
static int decode_doc(struct decoder *d, const uint32_t *ids, size_t n, nys_err *e)
{
	d->text.n = 0;
	if (d->o->model) {
		if (nys_spm_decode(d->o->model, ids, n, &d->text, e))
			return -1;
		/* a document is one line, whatever its pieces hold */
		for (size_t i = 0; i < d->text.n; i++)
			if (d->text.p[i] == '\n' || d->text.p[i] == '\r')
				d->text.p[i] = ' ';
	} else {
		if (n > SIZE_MAX / 11 - 1 || nys_buf_reserve(&d->text, n * 11 + 1))
			return nys_err_set(e, "out of memory");
		char *p = d->text.p;
		for (size_t i = 0; i < n; i++) {
			if (i)
				*p++ = ' ';
			p = fmt_u32(p, ids[i]);
		}
		d->text.n = (size_t)(p - d->text.p);
	}
	if (nys_buf_addc(&d->text, '\n'))
		return nys_err_set(e, "out of memory");
	d->docs++;
	return nys_out_write(d->out, d->text.p, d->text.n, e);
}

static int decode_stream(struct decoder *d, const char *path, nys_err *e)
{
	nys_tok_reader *r = nys_tok_reader_open(path, e);
	if (!r)
		return -1;
	const nys_tok_header *h = nys_tok_reader_header(r);
	const nys_spm *m = d->o->model;
	if (m && (h->fingerprint != nys_spm_fingerprint(m) || h->vocab_size != nys_spm_vocab_size(m))) {
		nys_err_set(e, "%s: made with another model (fingerprint %016llx, %u pieces), "
		            "not %s (fingerprint %016llx, %u pieces)", nys_tok_reader_name(r),
		            (unsigned long long)h->fingerprint, h->vocab_size, nys_spm_name(m),
		            (unsigned long long)nys_spm_fingerprint(m), nys_spm_vocab_size(m));
		nys_tok_reader_close(r);
		return -1;
	}
	const uint32_t *ids;
	size_t n;
	int k;
	while ((k = nys_tok_reader_next(r, &ids, &n, e)) > 0)
		if (decode_doc(d, ids, n, e)) {
			k = -1;
			break;
		}
	nys_tok_reader_close(r);
	return k < 0 ? -1 : 0;
}

/* Lines of space-separated ids, one document each. */
static int decode_ids(struct decoder *d, const char *path, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	uint32_t vocab = nys_spm_vocab_size(d->o->model);
	nys_ids v = {0};
	char *line;
	size_t len;
	int k;
	while ((k = nys_in_getline(in, &line, &len, e)) > 0) {
		v.n = 0;
		for (size_t i = 0; i < len;) {
			if (line[i] == ' ' || line[i] == '\t') {
				i++;
				continue;
			}
			uint64_t x = 0;
			size_t j = i;
			while (j < len && line[j] >= '0' && line[j] <= '9' && x < vocab)
				x = x * 10 + (uint64_t)(line[j++] - '0');
			if (j == i || (j < len && line[j] != ' ' && line[j] != '\t') || x >= vocab) {
				size_t end = i;
				while (end < len && end - i < 40 && line[end] != ' ' && line[end] != '\t')
					end++;
				nys_err_set(e, "%s:%llu: '%.*s' is not an id of %s (0 to %u)", nys_in_name(in),
				            (unsigned long long)nys_in_lineno(in), (int)(end - i), line + i,
				            nys_spm_name(d->o->model), vocab - 1);
				k = -1;
				break;
			}
			if (nys_ids_reserve(&v, 1)) {
				k = nys_err_set(e, "out of memory");
				break;
			}
			v.p[v.n++] = (uint32_t)x;
			i = j;
		}
		if (k < 0 || decode_doc(d, v.p, v.n, e)) {
			k = -1;
			break;
		}
	}
	nys_ids_free(&v);
	nys_in_close(in);
	return k < 0 ? -1 : 0;
}

int nys_tokenize_decode(const char *const *paths, size_t npaths, const nys_decode_opts *o,
                        uint64_t *docs, nys_err *e)
{
	static const char *const std_in[] = {"-"};
	struct decoder d = {.o = o};
	*docs = 0;
	if (o->format == NYS_FORMAT_IDS && !o->model)
		return nys_err_set(e, "decoding ids needs a model");
	d.out = nys_out_open(o->output, 0, e);
	if (!d.out)
		return -1;
	if (!npaths) {
		paths = std_in;
		npaths = 1;
	}
	int rc = 0;
	for (size_t i = 0; i < npaths && !rc; i++)
		rc = o->format == NYS_FORMAT_IDS ? decode_ids(&d, paths[i], e)
		                                 : decode_stream(&d, paths[i], e);
	nys_buf_free(&d.text);
	*docs = d.docs;
	if (rc) {
		nys_out_abort(d.out);
		return -1;
	}
	return nys_out_commit(d.out, e);
}

/* ---- info ------------------------------------------------------------------ */

int nys_tokenize_info(const char *path, nys_out *out, nys_err *e)
{
	nys_tok_reader *r = nys_tok_reader_open(path, e);
	if (!r)
		return -1;
	const uint32_t *ids;
	size_t n, longest = 0;
	int k;
	while ((k = nys_tok_reader_next(r, &ids, &n, e)) > 0)
		if (n > longest)
			longest = n;
	if (k < 0) {
		nys_tok_reader_close(r);
		return -1;
	}
	const nys_tok_header *h = nys_tok_reader_header(r);
	nys_buf b = {0};
	int rc = nys_buf_printf(&b,
		"file: %s\n"
		"version: %u\n"
		"width: %u\n"
		"vocab_size: %u\n"
		"fingerprint: %016llx\n"
		"segments: %llu\n"
		"documents: %llu\n"
		"tokens: %llu\n"
		"longest_document: %zu\n"
		"checksum: ok\n",
		nys_tok_reader_name(r), h->version, h->width, h->vocab_size,
		(unsigned long long)h->fingerprint,
		(unsigned long long)nys_tok_reader_segments(r),
		(unsigned long long)nys_tok_reader_docs(r),
		(unsigned long long)nys_tok_reader_tokens(r), longest);
	nys_tok_reader_close(r);
	if (rc)
		rc = nys_err_set(e, "out of memory");
	else
		rc = nys_out_write(out, b.p, b.n, e);
	nys_buf_free(&b);
	return rc;
}

/* ---- training -------------------------------------------------------------- */

static int write_vocab(const nys_spm *m, nys_out *out, nys_err *e)
{
	nys_buf b = {0};
	int rc = 0;
	uint32_t size = nys_spm_vocab_size(m);
	for (uint32_t id = 0; id < size && !rc; id++) {
		b.n = 0;
		/* C++'s `os << float`, as spm_train writes it, is printf's %g */
		if (nys_buf_printf(&b, "%s\t%g\n", nys_spm_id_to_piece(m, id),
		                   (double)nys_spm_score(m, id)))
			rc = nys_err_set(e, "out of memory");
		else
			rc = nys_out_write(out, b.p, b.n, e);
	}
	nys_buf_free(&b);
	return rc;
}

int nys_tokenize_write_vocab(const nys_spm *m, const char *path, nys_err *e)
{
	nys_out *out = nys_out_open(path, 0, e);
	if (!out)
		return -1;
	if (write_vocab(m, out, e)) {
		nys_out_abort(out);
		return -1;
	}
	return nys_out_commit(out, e);
}

int nys_tokenize_train(const char *const *paths, size_t npaths, const nys_spm_train_opts *o,
                       const char *prefix, uint32_t *vocab_size, uint64_t *skipped, nys_err *e)
{
	nys_buf model = {0}, path = {0};
	nys_spm *m = NULL;
	nys_out *mout = NULL, *vout = NULL;
	int rc = -1;
	/* both outputs first: a path that cannot be written fails before the
	 * training, not after it */
	if (nys_buf_printf(&path, "%s.model", prefix)) {
		nys_err_set(e, "out of memory");
		goto done;
	}
	if (!(mout = nys_out_open(path.p, 0, e)))
		goto done;
	path.n = 0;
	if (nys_buf_printf(&path, "%s.vocab", prefix)) {
		nys_err_set(e, "out of memory");
		goto done;
	}
	if (!(vout = nys_out_open(path.p, 0, e)))
		goto done;
	if (nys_spm_train_files(o, paths, npaths, &model, skipped, e))
		goto done;
	if (!(m = nys_spm_load_mem(model.p, model.n, nys_out_name(mout), e)))
		goto done;
	if (nys_out_write(mout, model.p, model.n, e) || write_vocab(m, vout, e))
		goto done;
	/* both complete on disk before either takes its name, so that a
	 * failure (a full disk) leaves the old pair, not a mixed one */
	if (nys_out_finish(mout, e) || nys_out_finish(vout, e))
		goto done;
	rc = nys_out_commit(mout, e);
	mout = NULL;
	if (!rc)
		rc = nys_out_commit(vout, e);
	else
		nys_out_abort(vout);
	vout = NULL;
	if (!rc && vocab_size)
		*vocab_size = nys_spm_vocab_size(m);
done:
	if (mout)
		nys_out_abort(mout);
	if (vout)
		nys_out_abort(vout);
	nys_spm_free(m);
	nys_buf_free(&model);
	nys_buf_free(&path);
	return rc;
}
