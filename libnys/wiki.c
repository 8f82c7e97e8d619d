/* The wikiextract engine: libexpat streams pages out of the dump, worker
 * threads turn their wikitext into text, and a writer puts the results out
 * in input order.  Pages travel through a fixed ring of slots, so memory is
 * bounded by the ring, not the dump, and the output is the same for any
 * number of threads.
 */
#include "nys_wiki.h"

#include <expat.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct slot {
	nys_buf title, text, out;
	uint64_t id, revid;
	enum { EMPTY, FILLED, DONE } state;
} slot;

enum field { F_NONE, F_TITLE, F_NS, F_ID, F_REVID, F_TEXT, F_BASE };

typedef struct ctx {
	const nys_wiki_opts *o;
	nys_wiki_stats *st;
	/* parsing */
	XML_Parser xp;
	const char *file;
	unsigned depth, page_depth, rev_depth;
	bool in_page, in_rev, in_siteinfo;
	enum field field;
	nys_buf fbuf;           /* ns, id, base */
	slot cur;               /* the page being read */
	long ns;
	bool redirect;
	char url_base[512];
	nys_wikitext *wt;       /* for threads == 1 */
	/* the ring */
	slot *ring;
	size_t nring;
	uint64_t n_in, n_taken, n_out;
	bool eof;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* output */
	nys_out *out;
	unsigned dir_no, file_no;
	int wfail;
	nys_err werr;
} ctx;

/* ---- output ------------------------------------------------------------- */

static int open_next_file(ctx *c, nys_err *e)
{
	const nys_wiki_opts *o = c->o;
	if (c->dir_no >= 26 * 26)
		return nys_err_set(e, "%s: too many output files (raise -b)", o->outdir);
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/%c%c", o->outdir, 'A' + c->dir_no / 26, 'A' + c->dir_no % 26);
	if (c->file_no == 0 && nys_mkdirs(dir, e))
		return -1;
	snprintf(path, sizeof path, "%s/wiki_%02u%s", dir, c->file_no, o->compress ? ".zst" : "");
	c->out = nys_out_open(path, o->compress ? NYS_OUT_ZSTD : 0, e);
	if (!c->out)
		return -1;
	c->st->out_files++;
	if (++c->file_no == 100) {
		c->file_no = 0;
		c->dir_no++;
	}
	return 0;
}

static int write_doc(ctx *c, const slot *s, nys_err *e)
{
	if (c->o->outdir) {
		if (c->out && nys_out_bytes(c->out) && nys_out_bytes(c->out) + s->out.n > c->o->file_size) {
			nys_out *done = c->out;
			c->out = NULL;
			if (nys_out_commit(done, e))
				return -1;
		}
		if (!c->out && open_next_file(c, e))
			return -1;
	}
	return nys_out_write(c->out, s->out.p, s->out.n, e);
}

/* ---- one page to its output record ---------------------------------------- */

static int format_page(ctx *c, nys_wikitext *wt, slot *s)
{
	nys_buf *b = &s->out;
	b->n = 0;
	if (c->o->json) {
		if (nys_buf_printf(b, "{\"id\": \"%llu\", \"revid\": \"%llu\", \"url\": \"",
		                   (unsigned long long)s->id, (unsigned long long)s->revid) ||
		    nys_buf_add_json_str(b, c->url_base, strlen(c->url_base)) ||
		    nys_buf_printf(b, "?curid=%llu\", \"title\": \"", (unsigned long long)s->id) ||
		    nys_buf_add_json_str(b, s->title.p, s->title.n) ||
		    nys_buf_adds(b, "\", \"text\": \""))
			return -1;
		/* The text goes through a scratch buffer to be escaped. */
		size_t mark = b->n;
		if (nys_wikitext_clean(wt, s->text.p, s->text.n, c->o->flags, b))
			return -1;
		size_t tn = b->n - mark;
		if (tn && b->p[b->n - 1] == '\n')
			tn--;
		char *plain = malloc(tn + 1);
		if (!plain)
			return -1;
		memcpy(plain, b->p + mark, tn);
		b->n = mark;
		int r = nys_buf_add_json_str(b, plain, tn);
		free(plain);
		return r || nys_buf_adds(b, "\"}\n") ? -1 : 0;
	}
	if (nys_buf_printf(b, "<doc id=\"%llu\" url=\"%s?curid=%llu\" title=\"",
	                   (unsigned long long)s->id, c->url_base, (unsigned long long)s->id) ||
	    nys_buf_add(b, s->title.p, s->title.n) || nys_buf_adds(b, "\">\n") ||
	    nys_buf_add(b, s->title.p, s->title.n) || nys_buf_adds(b, "\n\n") ||
	    nys_wikitext_clean(wt, s->text.p, s->text.n, c->o->flags, b) ||
	    nys_buf_adds(b, "</doc>\n"))
		return -1;
	return 0;
}

/* ---- threads ---------------------------------------------------------------- */

static void *worker(void *arg)
{
	ctx *c = arg;
	nys_wikitext *wt = nys_wikitext_new();
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->n_taken == c->n_in && !c->eof)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->n_taken == c->n_in)
			break;
		slot *s = &c->ring[c->n_taken++ % c->nring];
		pthread_mutex_unlock(&c->mu);
		int r = wt ? format_page(c, wt, s) : -1;
		pthread_mutex_lock(&c->mu);
		if (r && !c->wfail) {
			c->wfail = 1;
			nys_err_set(&c->werr, "out of memory");
		}
		s->state = DONE;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	nys_wikitext_free(wt);
	return NULL;
}

static void *writer(void *arg)
{
	ctx *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		slot *s = &c->ring[c->n_out % c->nring];
		while (!(c->n_out < c->n_in && s->state == DONE) && !(c->eof && c->n_out == c->n_in))
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->n_out == c->n_in)
			break;
		bool fail = c->wfail;
		pthread_mutex_unlock(&c->mu);
		nys_err e;
		int r = fail ? 0 : write_doc(c, s, &e);
		pthread_mutex_lock(&c->mu);
		if (r && !c->wfail) {
			c->wfail = 1;
			c->werr = e;
		}
		s->state = EMPTY;
		c->n_out++;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void swap_buf(nys_buf *a, nys_buf *b)
{
	nys_buf t = *a;
	*a = *b;
	*b = t;
}

/* A whole page has been read: hand it on, or skip it. */
static void page_done(ctx *c)
{
	nys_wiki_stats *st = c->st;
	st->pages++;
	bool keep = false;
	if (!c->o->namespaces) {
		keep = c->ns == 0;
	} else {
		for (size_t i = 0; i < c->o->n_namespaces; i++)
			keep |= c->o->namespaces[i] == c->ns;
	}
	if (!keep) {
		st->other_ns++;
		return;
	}
	const char *t = c->cur.text.p ? c->cur.text.p : "";
	while (*t == ' ' || *t == '\n' || *t == '\t')
		t++;
	if (c->redirect || !strncasecmp(t, "#redirect", 9)) {
		st->redirects++;
		return;
	}
	st->articles++;
	if (!c->cur.title.p)
		nys_buf_add(&c->cur.title, "", 0);
	if (!c->cur.text.p)
		nys_buf_add(&c->cur.text, "", 0);
	if (c->o->threads <= 1) {
		if (format_page(c, c->wt, &c->cur)) {
			c->wfail = 1;
			nys_err_set(&c->werr, "out of memory");
		} else if (write_doc(c, &c->cur, &c->werr)) {
			c->wfail = 1;
		}
		if (c->wfail)
			XML_StopParser(c->xp, XML_FALSE);
		return;
	}
	pthread_mutex_lock(&c->mu);
	slot *s = &c->ring[c->n_in % c->nring];
	while (s->state != EMPTY && !c->wfail)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->wfail) {
		pthread_mutex_unlock(&c->mu);
		XML_StopParser(c->xp, XML_FALSE);
		return;
	}
	pthread_mutex_unlock(&c->mu);
	swap_buf(&s->title, &c->cur.title);
	swap_buf(&s->text, &c->cur.text);
	s->id = c->cur.id;
	s->revid = c->cur.revid;
	pthread_mutex_lock(&c->mu);
	s->state = FILLED;
	c->n_in++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* ---- expat callbacks ---------------------------------------------------------- */

static uint64_t to_u64(const nys_buf *b)
{
	uint64_t v = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->p[i] >= '0' && b->p[i] <= '9')
			v = v * 10 + (uint64_t)(b->p[i] - '0');
	return v;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attr)
{
	ctx *c = ud;
	c->depth++;
	c->field = F_NONE;
	if (!strcmp(name, "page")) {
		c->in_page = true;
		c->page_depth = c->depth;
		c->cur.title.n = c->cur.text.n = 0;
		c->cur.id = c->cur.revid = 0;
		c->ns = 0;
		c->redirect = false;
	} else if (!strcmp(name, "siteinfo")) {
		c->in_siteinfo = true;
	} else if (c->in_siteinfo && !strcmp(name, "base")) {
		c->field = F_BASE;
	} else if (!c->in_page) {
		return;
	} else if (!strcmp(name, "revision")) {
		c->in_rev = true;
		c->rev_depth = c->depth;
	} else if (!strcmp(name, "redirect")) {
		c->redirect = true;
	} else if (c->depth == c->page_depth + 1) {
		if (!strcmp(name, "title"))
			c->field = F_TITLE, c->cur.title.n = 0;
		else if (!strcmp(name, "ns"))
			c->field = F_NS;
		else if (!strcmp(name, "id"))
			c->field = F_ID;
	} else if (c->in_rev && c->depth == c->rev_depth + 1) {
		if (!strcmp(name, "id"))
			c->field = F_REVID;
		else if (!strcmp(name, "text"))
			c->field = F_TEXT, c->cur.text.n = 0;
	}
	c->fbuf.n = 0;
	(void)attr;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	ctx *c = ud;
	nys_buf *b;
	switch (c->field) {
	case F_NONE: return;
	case F_TITLE: b = &c->cur.title; break;
	case F_TEXT: b = &c->cur.text; break;
	default: b = &c->fbuf; break;
	}
	if (nys_buf_add(b, s, (size_t)len)) {
		c->wfail = 1;
		nys_err_set(&c->werr, "out of memory");
		XML_StopParser(c->xp, XML_FALSE);
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	ctx *c = ud;
	switch (c->field) {
	case F_NS: c->ns = (long)to_u64(&c->fbuf); if (c->fbuf.n && c->fbuf.p[0] == '-') c->ns = -c->ns; break;
	case F_ID: c->cur.id = to_u64(&c->fbuf); break;
	case F_REVID: c->cur.revid = to_u64(&c->fbuf); break;
	case F_BASE: {
		/* https://en.wikipedia.org/wiki/Main_Page -> https://en.wikipedia.org/wiki */
		size_t n = c->fbuf.n;
		while (n && c->fbuf.p[n - 1] != '/')
			n--;
		if (n > 1 && n < sizeof c->url_base) {
			memcpy(c->url_base, c->fbuf.p, n - 1);
			c->url_base[n - 1] = 0;
		}
		break;
	}
	default: break;
	}
	c->field = F_NONE;
	if (c->in_page && !strcmp(name, "revision"))
		c->in_rev = false;
	else if (!strcmp(name, "siteinfo"))
		c->in_siteinfo = false;
	else if (c->in_page && c->depth == c->page_depth && !strcmp(name, "page")) {
		c->in_page = false;
		page_done(c);
	}
	c->depth--;
}

/* ---- driving one file ------------------------------------------------------------ */

static int parse_file(ctx *c, const char *path, nys_progress *pr, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	c->file = nys_in_name(in);
	nys_progress_start(pr, "wikiextract", nys_in_raw_size(in));
	XML_Parser xp = XML_ParserCreate(NULL);
	if (!xp) {
		nys_in_close(in);
		return nys_err_set(e, "out of memory");
	}
	c->xp = xp;
	c->depth = 0;
	c->in_page = c->in_rev = c->in_siteinfo = false;
	c->field = F_NONE;
	XML_SetUserData(xp, c);
	XML_SetElementHandler(xp, on_start, on_end);
	XML_SetCharacterDataHandler(xp, on_text);
	int rc = 0;
	for (;;) {
		void *buf = XML_GetBuffer(xp, 1 << 20);
		if (!buf) {
			rc = nys_err_set(e, "out of memory");
			break;
		}
		ptrdiff_t k = nys_in_read(in, buf, 1 << 20, e);
		if (k < 0) {
			rc = -1;
			break;
		}
		c->st->xml_bytes += (uint64_t)k;
		if (XML_ParseBuffer(xp, (int)k, k == 0) != XML_STATUS_OK) {
			enum XML_Error code = XML_GetErrorCode(xp);
			if (code == XML_ERROR_ABORTED && c->wfail)
				rc = -1, *e = c->werr;
			else
				rc = nys_err_set(e, "%s:%lu:%lu: %s (byte %lld of the XML)", c->file,
				                 (unsigned long)XML_GetCurrentLineNumber(xp),
				                 (unsigned long)XML_GetCurrentColumnNumber(xp) + 1,
				                 XML_ErrorString(code), (long long)XML_GetCurrentByteIndex(xp));
			break;
		}
		if (c->wfail) {
			*e = c->werr;
			rc = -1;
			break;
		}
		nys_progress_update(pr, nys_in_raw_pos(in), c->st->articles, "articles");
		if (k == 0)
			break;
	}
	XML_ParserFree(xp);
	c->xp = NULL;
	nys_progress_end(pr);
	nys_in_close(in);
	return rc;
}

int nys_wiki_extract(const char *const *paths, size_t npaths,
                     const nys_wiki_opts *o, nys_wiki_stats *st, nys_err *e)
{
	static const char *const std_in[] = {"-"};
	if (!npaths) {
		paths = std_in;
		npaths = 1;
	}
	ctx c;
	memset(&c, 0, sizeof c);
	memset(st, 0, sizeof *st);
	c.o = o;
	c.st = st;
	snprintf(c.url_base, sizeof c.url_base, "%s",
	         o->url_base ? o->url_base : "https://en.wikipedia.org/wiki");
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	if (!o->outdir) {
		c.out = nys_out_open(o->output, 0, e);
		if (!c.out)
			return -1;
	}
	unsigned nthreads = o->threads ? o->threads : 1;
	pthread_t *tids = NULL;
	pthread_t wtid;
	unsigned started = 0;
	bool writer_started = false;
	int rc = 0;
	if (nthreads > 1) {
		c.nring = 4 * (size_t)nthreads + 4;
		c.ring = calloc(c.nring, sizeof *c.ring);
		tids = calloc(nthreads, sizeof *tids);
		if (!c.ring || !tids) {
			rc = nys_err_set(e, "out of memory");
			goto done;
		}
		for (; started < nthreads; started++)
			if (pthread_create(&tids[started], NULL, worker, &c)) {
				rc = nys_err_sys(e, "cannot start a thread");
				goto done;
			}
		if (pthread_create(&wtid, NULL, writer, &c)) {
			rc = nys_err_sys(e, "cannot start a thread");
			goto done;
		}
		writer_started = true;
	} else {
		c.wt = nys_wikitext_new();
		if (!c.wt) {
			rc = nys_err_set(e, "out of memory");
			goto done;
		}
	}
	nys_progress pr;
	for (size_t i = 0; i < npaths && !rc; i++) {
		rc = parse_file(&c, paths[i], &pr, e);
	}
done:
	/* Finish what was handed on, so every completed article is written. */
	pthread_mutex_lock(&c.mu);
	c.eof = true;
	pthread_cond_broadcast(&c.cv);
	pthread_mutex_unlock(&c.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (writer_started)
		pthread_join(wtid, NULL);
	if (c.wfail && !rc) {
		*e = c.werr;
		rc = -1;
	}
	if (c.out) {
		nys_err ce;
		if (c.wfail && !o->outdir) {
			/* A write already failed: keep nothing that may be cut. */
			nys_out_abort(c.out);
		} else if (nys_out_commit(c.out, &ce) && !rc) {
			*e = ce;
			rc = -1;
		}
	}
	for (size_t i = 0; i < c.nring; i++) {
		nys_buf_free(&c.ring[i].title);
		nys_buf_free(&c.ring[i].text);
		nys_buf_free(&c.ring[i].out);
	}
	free(c.ring);
	free(tids);
	nys_buf_free(&c.cur.title);
	nys_buf_free(&c.cur.text);
	nys_buf_free(&c.cur.out);
	nys_buf_free(&c.fbuf);
	nys_wikitext_free(c.wt);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	return rc;
}
