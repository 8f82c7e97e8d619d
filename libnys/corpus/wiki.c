/* The wikiextract engine.
 *
 * A UTF-8 dump (every dump Wikimedia publishes) is cut into pages by a
 * byte scanner: in XML a literal "<page" can only be markup, so the reader
 * thread only has to find "<page" and "</page>".  Each page then goes to a
 * worker thread that parses it with its own libexpat parser and cleans its
 * wikitext, and a writer thread puts the results out in input order.  The
 * bytes between pages (the <siteinfo> header, the closing tag) still go
 * through a libexpat parser of their own, with every page replaced by as
 * many newlines as it had, so the document as a whole is checked and errors
 * carry true line numbers.  Other encodings (UTF-16 exports) are parsed by
 * one streaming libexpat parser on the reader thread, which converts them.
 *
 * Pages travel through a fixed ring of slots, so memory is bounded by the
 * ring and the largest page, not by the dump, and the output is the same
 * for any number of threads.
 */
#include "nys_wiki.h"

#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum field { F_NONE, F_TITLE, F_NS, F_ID, F_REVID, F_TEXT, F_BASE };

/* What one <page> says, and the state of reading it with libexpat. */
typedef struct page {
	nys_buf title, text;
	uint64_t id, revid;
	long ns;
	bool redirect;
} page;

typedef struct reader {
	XML_Parser xp;
	unsigned depth, page_depth, rev_depth;
	bool in_page, in_rev, in_siteinfo;
	enum field field;
	nys_buf fbuf;                /* ns, id, base */
	page pg;
	char *url_base;              /* set from <siteinfo><base>, if seen */
	size_t url_cap;
	bool oom;
	void (*page_done)(struct reader *, void *);
	void *arg;
} reader;

#define URL_BASE_MAX 512

typedef struct slot {
	nys_buf xml;                 /* chunked: the page's own XML */
	uint64_t line, col, byte;    /* chunked: where that XML starts */
	page pg;                     /* streaming: the page, already read */
	nys_buf out;
	enum { K_ARTICLE, K_REDIRECT, K_OTHER_NS, K_ERROR } kind;
	nys_err err;
	enum { EMPTY, FILLED, DONE } state;
	/* The URL base as the reader knew it when it handed the page on: a
	 * later <siteinfo><base> must not change the page's record, whatever
	 * the thread that formats it (and it is the reader's to write). */
	char url_base[URL_BASE_MAX];
} slot;

typedef struct ctx {
	const nys_wiki_opts *o;
	nys_wiki_stats *st;
	char *file;                  /* the input's name, for messages: a copy, as
	                              * workers may use it after the input closes */
	char url_base[URL_BASE_MAX];
	bool chunked;
	/* the ring */
	slot *ring;
	size_t nring;
	uint64_t n_in, n_taken, n_out;
	bool eof;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* -j 1: the reader does the work itself */
	nys_wikitext *wt;
	reader *rd1;
	slot one;
	/* output */
	nys_out *out;
	nys_stage *stage;            /* with outdir: the new tree goes here first */
	int wfail;
	bool out_broken;             /* a write failed: the output may be cut */
	nys_err werr;
} ctx;

/* ---- libexpat callbacks: reading pages ------------------------------------ */

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
	reader *r = ud;
	r->depth++;
	r->field = F_NONE;
	r->fbuf.n = 0;
	(void)attr;
	if (!strcmp(name, "page")) {
		r->in_page = true;
		r->page_depth = r->depth;
		r->pg.title.n = r->pg.text.n = 0;
		r->pg.id = r->pg.revid = 0;
		r->pg.ns = 0;
		r->pg.redirect = false;
	} else if (!strcmp(name, "siteinfo")) {
		r->in_siteinfo = true;
	} else if (r->in_siteinfo && !strcmp(name, "base")) {
		r->field = F_BASE;
	} else if (!r->in_page) {
		return;
	} else if (!strcmp(name, "revision")) {
		r->in_rev = true;
		r->rev_depth = r->depth;
	} else if (!strcmp(name, "redirect")) {
		r->pg.redirect = true;
	} else if (r->depth == r->page_depth + 1) {
		if (!strcmp(name, "title"))
			r->field = F_TITLE, r->pg.title.n = 0;
		else if (!strcmp(name, "ns"))
			r->field = F_NS;
		else if (!strcmp(name, "id"))
			r->field = F_ID;
	} else if (r->in_rev && r->depth == r->rev_depth + 1) {
		if (!strcmp(name, "id"))
			r->field = F_REVID;
		else if (!strcmp(name, "text"))
			r->field = F_TEXT, r->pg.text.n = 0;
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	reader *r = ud;
	nys_buf *b;
	switch (r->field) {
	case F_NONE: return;
	case F_TITLE: b = &r->pg.title; break;
	case F_TEXT: b = &r->pg.text; break;
	default: b = &r->fbuf; break;
	}
	if (nys_buf_add(b, s, (size_t)len)) {
		r->oom = true;
		XML_StopParser(r->xp, XML_FALSE);
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	reader *r = ud;
	switch (r->field) {
	case F_NS:
		r->pg.ns = (long)to_u64(&r->fbuf);
		if (r->fbuf.n && r->fbuf.p[0] == '-')
			r->pg.ns = -r->pg.ns;
		break;
	case F_ID: r->pg.id = to_u64(&r->fbuf); break;
	case F_REVID: r->pg.revid = to_u64(&r->fbuf); break;
	case F_BASE: {
		/* https://en.wikipedia.org/wiki/Main_Page -> https://en.wikipedia.org/wiki */
		size_t n = r->fbuf.n;
		while (n && r->fbuf.p[n - 1] != '/')
			n--;
		if (r->url_base && n > 1 && n <= r->url_cap) {
			memcpy(r->url_base, r->fbuf.p, n - 1);
			r->url_base[n - 1] = 0;
		}
		break;
	}
	default: break;
	}
	r->field = F_NONE;
	if (r->in_page && !strcmp(name, "revision")) {
		r->in_rev = false;
	} else if (!strcmp(name, "siteinfo")) {
		r->in_siteinfo = false;
	} else if (r->in_page && r->depth == r->page_depth && !strcmp(name, "page")) {
		r->in_page = false;
		if (r->page_done)
			r->page_done(r, r->arg);
	}
	r->depth--;
}

static reader *reader_new(void)
{
	reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->xp = XML_ParserCreate("UTF-8");
	if (!r->xp) {
		free(r);
		return NULL;
	}
	return r;
}

/* Ready r->xp for a new document.  A chunk parser is told the encoding
 * (the dump's, UTF-8); the streaming one finds it from the bytes. */
static int reader_reset(reader *r, const char *encoding)
{
	if (!XML_ParserReset(r->xp, encoding))
		return -1;
	XML_SetUserData(r->xp, r);
	XML_SetElementHandler(r->xp, on_start, on_end);
	XML_SetCharacterDataHandler(r->xp, on_text);
	r->depth = 0;
	r->in_page = r->in_rev = r->in_siteinfo = false;
	r->field = F_NONE;
	r->oom = false;
	return 0;
}

static void reader_free(reader *r)
{
	if (!r)
		return;
	XML_ParserFree(r->xp);
	nys_buf_free(&r->fbuf);
	nys_buf_free(&r->pg.title);
	nys_buf_free(&r->pg.text);
	free(r);
}

/* ---- output ---------------------------------------------------------------- */

/* WikiExtractor's layout: a hundred files wiki_00 .. wiki_99 in each of
 * the directories AA, AB, .. ZZ. */
#define FILES_A_DIR 100
#define MAX_FILES (26 * 26 * FILES_A_DIR)

/* The name of file k of the tree, relative to the output directory. */
static void tree_name(char *buf, size_t n, uint64_t k, bool zst)
{
	unsigned d = (unsigned)(k / FILES_A_DIR), f = (unsigned)(k % FILES_A_DIR);
	snprintf(buf, n, "%c%c/wiki_%02u%s", 'A' + d / 26, 'A' + d % 26, f, zst ? ".zst" : "");
}

static int open_next_file(ctx *c, nys_err *e)
{
	const nys_wiki_opts *o = c->o;
	uint64_t k = c->st->out_files;
	if (k >= MAX_FILES)
		return nys_err_set(e, "%s: too many output files (raise -b)", o->outdir);
	char rel[32];
	nys_buf path = {0};
	tree_name(rel, sizeof rel, k, o->compress);
	if (nys_buf_printf(&path, "%s/%s", nys_stage_path(c->stage), rel)) {
		nys_buf_free(&path);
		return nys_err_set(e, "out of memory");
	}
	/* the staging directory's AA, AB, ..., made as the first file goes in */
	int rc = 0;
	if (k % FILES_A_DIR == 0) {
		char *slash = strrchr(path.p, '/');
		*slash = 0;
		rc = nys_mkdirs(path.p, e);
		*slash = '/';
	}
	if (!rc && !(c->out = nys_out_open(path.p, o->compress ? NYS_OUT_ZSTD | NYS_OUT_ZSTD_FAST : 0, e)))
		rc = -1;
	nys_buf_free(&path);
	if (!rc)
		c->st->out_files++;
	return rc;
}

/* If s is a file name of the tree ("wiki_07", "wiki_07.zst"), its number in
 * the directory, else -1; *zst says which. */
static int tree_file_number(const char *s, bool *zst)
{
	if (strncmp(s, "wiki_", 5) || s[5] < '0' || s[5] > '9' || s[6] < '0' || s[6] > '9')
		return -1;
	if (s[7] && strcmp(s + 7, ".zst"))
		return -1;
	*zst = s[7] != 0;
	return (s[5] - '0') * 10 + (s[6] - '0');
}

/* After the new tree of n files is in place: remove the files of the
 * tree's names that it does not have (an earlier, longer run's AA/wiki_07;
 * wiki_00.zst when this run wrote wiki_00), and the directories AA .. ZZ
 * that this leaves empty.  Nothing else in dir is touched. */
static int remove_stale(const char *dir, uint64_t n, bool zst, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "open directory %s", dir);
	int rc = 0;
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		const char *sub = de->d_name;
		if (sub[0] < 'A' || sub[0] > 'Z' || sub[1] < 'A' || sub[1] > 'Z' || sub[2])
			continue;
		uint64_t first = (uint64_t)((sub[0] - 'A') * 26 + (sub[1] - 'A')) * FILES_A_DIR;
		int fd = openat(dirfd(d), sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sd = fd >= 0 ? fdopendir(fd) : NULL;
		if (!sd) {
			if (fd >= 0)
				close(fd);
			continue; /* not a directory: not the tree's */
		}
		struct dirent *fe;
		while (!rc && (fe = readdir(sd))) {
			bool fz;
			int f = tree_file_number(fe->d_name, &fz);
			struct stat st;
			if (f < 0 || (first + (uint64_t)f < n && fz == zst) ||
			    fstatat(dirfd(sd), fe->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
				continue;
			if (unlinkat(dirfd(sd), fe->d_name, 0))
				rc = nys_err_sys(e, "remove %s/%s/%s", dir, sub, fe->d_name);
		}
		closedir(sd);
		if (!rc && first >= n)
			unlinkat(dirfd(d), sub, AT_REMOVEDIR); /* kept if other files are in it */
	}
	closedir(d);
	return rc;
}

/* Move the new tree into the output directory, file by file, then remove
 * what is left of an earlier run's. */
static int install_tree(ctx *c, nys_err *e)
{
	const nys_wiki_opts *o = c->o;
	uint64_t n = c->st->out_files;
	char rel[32];
	int rc = 0;
	nys_out_hold_signals();
	for (uint64_t k = 0; !rc && k < n; k++) {
		tree_name(rel, sizeof rel, k, o->compress);
		rc = nys_stage_install(c->stage, rel, e);
	}
	nys_stage *done = c->stage;
	c->stage = NULL;
	if (rc)
		nys_stage_abort(done);
	else if (!(rc = nys_stage_commit(done, e)) && n)
		/* an empty run (a dump without pages) removes nothing */
		rc = remove_stale(o->outdir, n, o->compress, e);
	nys_out_release_signals();
	return rc ? -1 : 0;
}

static int write_doc(ctx *c, const nys_buf *doc, nys_err *e)
{
	if (c->o->outdir) {
		/* As WikiExtractor does: a file is closed before the article that
		 * would take it past the size. */
		uint64_t have = c->out ? nys_out_bytes(c->out) : 0;
		if (c->out && have && have + doc->n > c->o->file_size) {
			nys_out *done = c->out;
			c->out = NULL;
			if (nys_out_commit(done, e))
				return -1;
		}
		if (!c->out && open_next_file(c, e))
			return -1;
	}
	return nys_out_write(c->out, doc->p, doc->n, e);
}

/* The slot's result, in input order: count it and write it. */
static int finish_slot(ctx *c, slot *s, nys_err *e)
{
	switch (s->kind) {
	case K_ERROR:
		*e = s->err;
		return -1;
	case K_REDIRECT:
		c->st->pages++;
		c->st->redirects++;
		return 0;
	case K_OTHER_NS:
		c->st->pages++;
		c->st->other_ns++;
		return 0;
	case K_ARTICLE:
		break;
	}
	c->st->pages++;
	c->st->articles++;
	if (write_doc(c, &s->out, e)) {
		c->out_broken = true;
		return -1;
	}
	return 0;
}

/* ---- one page to its output record ------------------------------------------- */

static int format_article(const ctx *c, nys_wikitext *wt, const page *p, const char *url_base,
                          nys_buf *b)
{
	b->n = 0;
	if (c->o->json) {
		if (nys_buf_printf(b, "{\"id\": \"%llu\", \"revid\": \"%llu\", \"url\": \"",
		                   (unsigned long long)p->id, (unsigned long long)p->revid) ||
		    nys_buf_add_json_str(b, url_base, strlen(url_base)) ||
		    nys_buf_printf(b, "?curid=%llu\", \"title\": \"", (unsigned long long)p->id) ||
		    nys_buf_add_json_str(b, p->title.p, p->title.n) ||
		    nys_buf_adds(b, "\", \"text\": \""))
			return -1;
		/* Clean after the header, then escape that text in place. */
		size_t mark = b->n;
		if (nys_wikitext_clean(wt, p->text.p, p->text.n, c->o->flags, b))
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
	                   (unsigned long long)p->id, url_base, (unsigned long long)p->id) ||
	    nys_buf_add(b, p->title.p, p->title.n) || nys_buf_adds(b, "\">\n") ||
	    nys_buf_add(b, p->title.p, p->title.n) || nys_buf_adds(b, "\n\n") ||
	    nys_wikitext_clean(wt, p->text.p, p->text.n, c->o->flags, b) ||
	    nys_buf_adds(b, "</doc>\n"))
		return -1;
	return 0;
}

static void classify(const ctx *c, nys_wikitext *wt, const page *p, slot *s)
{
	bool keep = false;
	if (!c->o->namespaces) {
		keep = p->ns == 0;
	} else {
		for (size_t i = 0; i < c->o->n_namespaces; i++)
			keep |= c->o->namespaces[i] == p->ns;
	}
	if (!keep) {
		s->kind = K_OTHER_NS;
		return;
	}
	const char *t = p->text.p ? p->text.p : "";
	while (*t == ' ' || *t == '\n' || *t == '\t')
		t++;
	if (p->redirect || !strncasecmp(t, "#redirect", 9)) {
		s->kind = K_REDIRECT;
		return;
	}
	s->kind = K_ARTICLE;
	if (format_article(c, wt, p, s->url_base, &s->out)) {
		s->kind = K_ERROR;
		nys_err_set(&s->err, "out of memory");
	}
}

/* Parse one page's XML (chunked mode) and turn it into the slot's result. */
static void process_chunk(const ctx *c, reader *r, nys_wikitext *wt, slot *s)
{
	if (reader_reset(r, "UTF-8")) {
		s->kind = K_ERROR;
		nys_err_set(&s->err, "out of memory");
		return;
	}
	if (XML_Parse(r->xp, s->xml.p, (int)s->xml.n, XML_TRUE) != XML_STATUS_OK) {
		s->kind = K_ERROR;
		if (r->oom) {
			nys_err_set(&s->err, "out of memory");
			return;
		}
		unsigned long ln = (unsigned long)XML_GetCurrentLineNumber(r->xp);
		unsigned long col = (unsigned long)XML_GetCurrentColumnNumber(r->xp);
		uint64_t at = (uint64_t)XML_GetCurrentByteIndex(r->xp);
		const char *what = XML_ErrorString(XML_GetErrorCode(r->xp));
		/* libexpat calls a bad byte an invalid token; say what it is. */
		size_t bad = nys_utf8_check(s->xml.p, s->xml.n);
		if (bad < s->xml.n && bad >= at && bad - at < 8)
			what = "invalid UTF-8";
		nys_err_set(&s->err, "%s:%llu:%llu: %s (byte %llu)", c->file,
		            (unsigned long long)(s->line + ln - 1),
		            (unsigned long long)(ln == 1 ? s->col + col : col + 1), what,
		            (unsigned long long)(s->byte + at));
		return;
	}
	classify(c, wt, &r->pg, s);
}

/* ---- threads -------------------------------------------------------------------- */

static void *worker(void *arg)
{
	ctx *c = arg;
	nys_wikitext *wt = nys_wikitext_new();
	reader *r = reader_new();
	bool ok = wt && r;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->n_taken == c->n_in && !c->eof)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->n_taken == c->n_in)
			break;
		slot *s = &c->ring[c->n_taken++ % c->nring];
		pthread_mutex_unlock(&c->mu);
		if (!ok) {
			s->kind = K_ERROR;
			nys_err_set(&s->err, "out of memory");
		} else if (c->chunked) {
			process_chunk(c, r, wt, s);
		} else {
			classify(c, wt, &s->pg, s);
		}
		pthread_mutex_lock(&c->mu);
		s->state = DONE;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	reader_free(r);
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
		int r = fail ? 0 : finish_slot(c, s, &e);
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

/* The next free slot for the reader to fill, or NULL once output failed. */
static slot *slot_get(ctx *c)
{
	if (!c->ring)
		return &c->one;
	pthread_mutex_lock(&c->mu);
	slot *s = &c->ring[c->n_in % c->nring];
	while (s->state != EMPTY && !c->wfail)
		pthread_cond_wait(&c->cv, &c->mu);
	bool fail = c->wfail;
	pthread_mutex_unlock(&c->mu);
	return fail ? NULL : s;
}

/* Hand a filled slot on; with -j 1, do its work here and now. */
static void slot_put(ctx *c, slot *s)
{
	memcpy(s->url_base, c->url_base, sizeof s->url_base);
	if (!c->ring) {
		c->n_in++; /* only counted, for the progress line */
		if (c->chunked)
			process_chunk(c, c->rd1, c->wt, s);
		else
			classify(c, c->wt, &s->pg, s);
		if (!c->wfail && finish_slot(c, s, &c->werr))
			c->wfail = 1;
		return;
	}
	pthread_mutex_lock(&c->mu);
	s->state = FILLED;
	c->n_in++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static bool failed(ctx *c)
{
	pthread_mutex_lock(&c->mu);
	bool f = c->wfail;
	pthread_mutex_unlock(&c->mu);
	return f;
}

static void swap_buf(nys_buf *a, nys_buf *b)
{
	nys_buf t = *a;
	*a = *b;
	*b = t;
}

/* ---- streaming mode: one parser for the whole dump ---------------------------------- */

static void stream_page_done(reader *r, void *arg)
{
	ctx *c = arg;
	slot *s = slot_get(c);
	if (!s) {
		XML_StopParser(r->xp, XML_FALSE);
		return;
	}
	swap_buf(&s->pg.title, &r->pg.title);
	swap_buf(&s->pg.text, &r->pg.text);
	s->pg.id = r->pg.id;
	s->pg.revid = r->pg.revid;
	s->pg.ns = r->pg.ns;
	s->pg.redirect = r->pg.redirect;
	slot_put(c, s);
	if (failed(c))
		XML_StopParser(r->xp, XML_FALSE);
}

static int xml_error(ctx *c, reader *r, nys_err *e)
{
	if (r->oom)
		return nys_err_set(e, "out of memory");
	enum XML_Error code = XML_GetErrorCode(r->xp);
	if (code == XML_ERROR_ABORTED && c->wfail) {
		*e = c->werr;
		return -1;
	}
	return nys_err_set(e, "%s:%lu:%lu: %s", c->file,
	                   (unsigned long)XML_GetCurrentLineNumber(r->xp),
	                   (unsigned long)XML_GetCurrentColumnNumber(r->xp) + 1,
	                   XML_ErrorString(code));
}

/* The streaming parser starts with the bytes already read. */
static int parse_stream(ctx *c, nys_in *in, reader *r, const char *head, size_t nhead,
                        nys_progress *pr, nys_err *e)
{
	if (reader_reset(r, NULL))
		return nys_err_set(e, "out of memory");
	r->page_done = stream_page_done;
	r->arg = c;
	if (XML_Parse(r->xp, head, (int)nhead, nhead == 0) != XML_STATUS_OK)
		return xml_error(c, r, e);
	while (nhead) {
		void *buf = XML_GetBuffer(r->xp, 1 << 20);
		if (!buf)
			return nys_err_set(e, "out of memory");
		ptrdiff_t k = nys_in_read(in, buf, 1 << 20, e);
		if (k < 0)
			return -1;
		c->st->xml_bytes += (uint64_t)k;
		if (XML_ParseBuffer(r->xp, (int)k, k == 0) != XML_STATUS_OK)
			return xml_error(c, r, e);
		if (failed(c))
			break;
		nys_progress_update(pr, nys_in_raw_pos(in), c->n_in, "pages");
		if (k == 0)
			break;
	}
	return 0;
}

/* ---- chunked mode ------------------------------------------------------------------ */

static size_t count_nl(const char *s, size_t n, size_t *last_nl)
{
	size_t k = 0;
	const char *p = s, *end = s + n;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		*last_nl = (size_t)(p - s);
		k++;
		p++;
	}
	return k;
}

/* Feed the skeleton parser n newlines: a page's place in the document. */
static int feed_newlines(XML_Parser xp, size_t n)
{
	static const char nl[] = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";
	while (n) {
		size_t k = n < sizeof nl - 1 ? n : sizeof nl - 1;
		if (XML_Parse(xp, nl, (int)k, XML_FALSE) != XML_STATUS_OK)
			return -1;
		n -= k;
	}
	return 0;
}

/* Start of the next "<page>" or "<page ..." in s[0..n), or n. */
static size_t find_page(const char *s, size_t n)
{
	size_t i = 0;
	while (i + 6 <= n) {
		const char *p = memmem(s + i, n - i, "<page", 5);
		if (!p)
			break;
		size_t k = (size_t)(p - s);
		if (k + 5 >= n)
			return k; /* can't tell yet: stop here */
		char ch = s[k + 5];
		if (ch == '>' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
			return k;
		i = k + 5;
	}
	return n;
}

static int parse_chunked(ctx *c, nys_in *in, reader *skel, char *head, size_t nhead,
                         nys_progress *pr, nys_err *e)
{
	if (reader_reset(skel, "UTF-8"))
		return nys_err_set(e, "out of memory");
	skel->page_done = NULL;
	nys_buf win = {0};           /* bytes read, not yet handed on */
	size_t off = 0;              /* start of unconsumed bytes in win */
	size_t scan = 0;             /* where the search for "</page>" resumes */
	bool inside = false, eof = false;
	uint64_t line = 1, col = 1;  /* of win.p[off] */
	uint64_t byte = 0;           /* document offset of win.p[off] */
	int rc = 0;
	if (nys_buf_add(&win, head, nhead)) {
		rc = nys_err_set(e, "out of memory");
		goto out;
	}
	for (;;) {
		char *s = win.p + off;
		size_t n = win.n - off;
		if (!inside) {
			size_t k = find_page(s, n);
			/* Keep a possible partial "<page" back until more comes. */
			size_t feed = k < n ? k : (eof ? n : (n > 6 ? n - 6 : 0));
			if (feed) {
				if (XML_Parse(skel->xp, s, (int)feed, XML_FALSE) != XML_STATUS_OK) {
					rc = xml_error(c, skel, e);
					goto out;
				}
				size_t last = 0, nl = count_nl(s, feed, &last);
				line += nl;
				col = nl ? feed - last : col + feed;
				off += feed;
				byte += feed;
			}
			if (k < n) {
				inside = true;
				scan = off + 5;
				continue;
			}
		} else {
			const char *q = scan < win.n ? memmem(win.p + scan, win.n - scan, "</page>", 7) : NULL;
			if (q) {
				size_t len = (size_t)(q - s) + 7;
				slot *sl = slot_get(c);
				if (!sl)
					break;
				sl->xml.n = 0;
				if (nys_buf_add(&sl->xml, s, len)) {
					rc = nys_err_set(e, "out of memory");
					goto out;
				}
				sl->line = line;
				sl->col = col;
				sl->byte = byte;
				slot_put(c, sl);
				size_t last = 0, nl = count_nl(s, len, &last);
				if (feed_newlines(skel->xp, nl)) {
					rc = xml_error(c, skel, e);
					goto out;
				}
				line += nl;
				col = nl ? len - last : col + len;
				off += len;
				byte += len;
				inside = false;
				if (failed(c))
					break;
				continue;
			}
			scan = win.n > 6 ? win.n - 6 : 0;
			if (eof) {
				rc = nys_err_set(e, "%s:%llu:%llu: <page> never closed: the dump is truncated",
				                 c->file, (unsigned long long)line, (unsigned long long)col);
				goto out;
			}
		}
		if (eof)
			break;
		/* Read more, first sliding what is left to the front. */
		if (off > win.n / 2 || off > (1 << 20)) {
			memmove(win.p, win.p + off, win.n - off);
			win.n -= off;
			scan = scan > off ? scan - off : 0;
			off = 0;
		}
		if (nys_buf_reserve(&win, 1 << 20)) {
			rc = nys_err_set(e, "out of memory");
			goto out;
		}
		ptrdiff_t k = nys_in_read(in, win.p + win.n, 1 << 20, e);
		if (k < 0) {
			rc = -1;
			goto out;
		}
		win.n += (size_t)k;
		c->st->xml_bytes += (uint64_t)k;
		eof = k == 0;
		nys_progress_update(pr, nys_in_raw_pos(in), c->n_in, "pages");
	}
	if (!failed(c) && XML_Parse(skel->xp, "", 0, XML_TRUE) != XML_STATUS_OK)
		rc = xml_error(c, skel, e);
out:
	nys_buf_free(&win);
	return rc;
}

/* UTF-8 unless a byte-order mark, UTF-16 bytes or an encoding declaration
 * say otherwise. */
static bool is_utf8_doc(const char *s, size_t n)
{
	if (n >= 2 && ((s[0] == '\xFF' && s[1] == '\xFE') || (s[0] == '\xFE' && s[1] == '\xFF')))
		return false;
	if (n >= 2 && (s[0] == 0 || s[1] == 0))
		return false;
	if (n < 5 || memcmp(s, "<?xml", 5))
		return true;
	const char *end = memchr(s, '>', n);
	const char *enc = memmem(s, end ? (size_t)(end - s) : n, "encoding=", 9);
	if (!enc)
		return true;
	enc += 10;
	return !strncasecmp(enc, "utf-8", 5) || !strncasecmp(enc, "utf8", 4);
}

static int parse_file(ctx *c, const char *path, reader *r, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	/* -j N: N threads decode bzip2 and N parse pages; the stages wait on
	 * each other, so together they keep N cores busy. */
	nys_in_set_threads(in, c->o->threads ? c->o->threads : 1);
	free(c->file);
	if (!(c->file = strdup(nys_in_name(in)))) {
		nys_in_close(in);
		return nys_err_set(e, "out of memory");
	}
	nys_progress pr;
	nys_progress_start(&pr, "wikiextract", nys_in_raw_size(in));
	/* Enough of the start to tell the encoding. */
	char head[4096];
	size_t nhead = 0;
	int rc = 0;
	while (nhead < sizeof head) {
		ptrdiff_t k = nys_in_read(in, head + nhead, sizeof head - nhead, e);
		if (k < 0) {
			rc = -1;
			break;
		}
		if (k == 0)
			break;
		nhead += (size_t)k;
	}
	c->st->xml_bytes += nhead;
	if (!rc) {
		c->chunked = is_utf8_doc(head, nhead);
		rc = c->chunked ? parse_chunked(c, in, r, head, nhead, &pr, e)
		                : parse_stream(c, in, r, head, nhead, &pr, e);
	}
	nys_progress_end(&pr);
	nys_in_close(in);
	return rc;
}

static void slot_free(slot *s)
{
	nys_buf_free(&s->xml);
	nys_buf_free(&s->pg.title);
	nys_buf_free(&s->pg.text);
	nys_buf_free(&s->out);
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
	unsigned nthreads = o->threads ? o->threads : 1;
	pthread_t *tids = NULL;
	pthread_t wtid;
	unsigned started = 0;
	bool writer_started = false;
	int rc = 0;
	reader *r = reader_new();
	if (!r) {
		rc = nys_err_set(e, "out of memory");
		goto done;
	}
	r->url_base = c.url_base;
	r->url_cap = sizeof c.url_base;
	if (!o->outdir) {
		c.out = nys_out_open(o->output, 0, e);
		if (!c.out) {
			rc = -1;
			goto done;
		}
	} else if (!(c.stage = nys_stage_open(o->outdir, "wikiextract", e))) {
		/* the staging directory of a run that died goes first */
		rc = -1;
		goto done;
	}
	if (nthreads > 1) {
		c.nring = 4 * (size_t)nthreads + 4;
		c.ring = calloc(c.nring, sizeof *c.ring);
		tids = calloc(nthreads, sizeof *tids);
		if (!c.ring || !tids) {
			rc = nys_err_set(e, "out of memory");
			goto done;
		}
	} else {
		c.wt = nys_wikitext_new();
		c.rd1 = reader_new();
		if (!c.wt || !c.rd1) {
			rc = nys_err_set(e, "out of memory");
			goto done;
		}
	}
	for (size_t i = 0; i < npaths && !rc; i++) {
		/* Threads start per file: the mode (chunked or not) is the file's. */
		c.eof = false;
		started = 0;
		writer_started = false;
		if (c.ring) {
			for (; started < nthreads; started++)
				if (pthread_create(&tids[started], NULL, worker, &c)) {
					rc = nys_err_sys(e, "cannot start a thread");
					break;
				}
			if (!rc && pthread_create(&wtid, NULL, writer, &c))
				rc = nys_err_sys(e, "cannot start a thread");
			else if (!rc)
				writer_started = true;
		}
		if (!rc)
			rc = parse_file(&c, paths[i], r, e);
		/* Finish what was handed on, so every completed article is written. */
		pthread_mutex_lock(&c.mu);
		c.eof = true;
		pthread_cond_broadcast(&c.cv);
		pthread_mutex_unlock(&c.mu);
		for (unsigned t = 0; t < started; t++)
			pthread_join(tids[t], NULL);
		if (writer_started)
			pthread_join(wtid, NULL);
		if (c.wfail) {
			/* An error inside a page, or in writing, comes before any
			 * later one the reader met. */
			*e = c.werr;
			rc = -1;
		}
	}
done:
	/* After an error nothing is committed: a file or directory named by -o
	 * stays as it was, and stdout ends after the last whole article. */
	if (c.out) {
		nys_err ce;
		if (rc || c.out_broken) {
			nys_out_abort(c.out);
		} else if (nys_out_commit(c.out, &ce)) {
			*e = ce;
			rc = -1;
		}
	}
	if (c.stage && !rc)
		rc = install_tree(&c, e);
	nys_stage_abort(c.stage); /* NULL once installed */
	for (size_t i = 0; i < c.nring; i++)
		slot_free(&c.ring[i]);
	slot_free(&c.one);
	free(c.ring);
	free(tids);
	reader_free(r);
	reader_free(c.rd1);
	nys_wikitext_free(c.wt);
	free(c.file);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	return rc;
}
