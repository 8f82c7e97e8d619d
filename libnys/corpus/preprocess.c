/* Pretraining corpora to the unified text format (nys-text(5)): a document
 * is a block of normalised lines followed by one empty line.  Each format's
 * reader feeds lines into the document being built; end_doc() filters it by
 * its word count and writes it to stdout or to the current partition. */
#include "nys_preprocess.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- normalisation ----------------------------------------------------- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

size_t nys_pp_normalize(const char *s, size_t n, char *out, uint64_t *words)
{
	const unsigned char *u = (const unsigned char *)s, *end = u + n;
	char *o = out;
	uint64_t spaces = 0;

	/* Invariant: the output never starts with a space and never holds two
	 * in a row; a trailing space is taken back at the end. */
	while (u < end) {
		/* Eight bytes at a time while they are printable ASCII or lone
		 * spaces, the bulk of most text. */
		while (end - u >= 8) {
			uint64_t x;
			memcpy(&x, u, 8);
			uint64_t lo = (x - 0x20 * ONES) & ~x & HIGHS;   /* a byte < 0x20 */
			uint64_t hi = ((x + ONES) | x) & HIGHS;         /* a byte > 0x7E */
			if (lo | hi)
				break;
			uint64_t y = x ^ 0x20 * ONES;
			uint64_t sp = ~(((y & ~HIGHS) + ~HIGHS) | y) & HIGHS; /* exact */
			if (sp) {
				if ((sp & (sp << 8)) || (sp & (sp >> 8)))
					break; /* two spaces in a row */
				if (*u == ' ' && (o == out || o[-1] == ' '))
					break;
				spaces += (uint64_t)__builtin_popcountll(sp);
			}
			memcpy(o, &x, 8);
			o += 8;
			u += 8;
		}
		if (u == end)
			break;
		unsigned c = *u;
		if (c - 0x21u < 0x5Eu) {        /* printable ASCII */
			*o++ = (char)c;
			u++;
		} else if (c == ' ' || c == '\t') {
			if (o != out && o[-1] != ' ') {
				*o++ = ' ';
				spaces++;
			}
			u++;
		} else if (c < 0x80) {          /* C0 controls and DEL */
			u++;
		} else {
			int k = nys_utf8_len(u, (size_t)(end - u));
			if (!k) {
				*o++ = (char)0xEF;
				*o++ = (char)0xBF;
				*o++ = (char)0xBD;
				u++;
			} else if ((k == 2 && c == 0xC2 && u[1] < 0xA0) ||
			           (k == 3 && c == 0xEF && u[1] == 0xBB && u[2] == 0xBF)) {
				u += k; /* a C1 control or U+FEFF */
			} else {
				memcpy(o, u, (size_t)k);
				o += k;
				u += k;
			}
		}
	}
	if (o != out && o[-1] == ' ') {
		o--;
		spaces--;
	}
	if (o != out)
		*words += spaces + 1;
	return (size_t)(o - out);
}

/* ---- formats ----------------------------------------------------------- */

static const char *const format_names[NYS_PP_NFORMATS] = {
	[NYS_PP_WIKI] = "wiki",
	[NYS_PP_BOOKCORPUS] = "bookcorpus",
	[NYS_PP_REALNEWS] = "realnews",
	[NYS_PP_STORIES] = "stories",
	[NYS_PP_TEXT] = "text",
};

int nys_pp_format_parse(const char *s, nys_pp_format *f)
{
	for (int i = 0; i < NYS_PP_NFORMATS; i++)
		if (!strcmp(s, format_names[i])) {
			*f = (nys_pp_format)i;
			return 0;
		}
	return -1;
}

const char *nys_pp_format_name(nys_pp_format f)
{
	return (unsigned)f < NYS_PP_NFORMATS ? format_names[f] : "?";
}

const char *nys_pp_format_list(void)
{
	return "wiki, bookcorpus, realnews, stories, text";
}

uint64_t nys_pp_default_min_words(nys_pp_format f)
{
	switch (f) {
	case NYS_PP_WIKI: return 128;
	case NYS_PP_REALNEWS: return 1000;
	default: return 0;
	}
}

/* ---- the converter state ----------------------------------------------- */

struct pp {
	const nys_pp_opts *o;
	nys_pp_stats *st;
	nys_err *e;
	/* the document being built: normalised lines, each ending in "\n" */
	nys_buf doc;
	uint64_t words;
	bool para;              /* -f text: the last line is an open paragraph */
	nys_buf tmp;
	/* output */
	nys_out *out;
	bool out_failed;        /* a write failed: abort, never commit */
	nys_stage *stage;       /* with -o DIR: where the partitions go first */
	uint64_t part_words, part_limit;
	nys_buf path;
	/* input */
	nys_in *in;
	bool stray_warned;
	uint64_t lines;
	uint64_t done_bytes, total_bytes;
	nys_progress prog;
};

static void reset_doc(struct pp *pp)
{
	pp->doc.n = 0;
	pp->words = 0;
	pp->para = false;
}

static void warn(struct pp *pp, const char *msg)
{
	if (pp->o->warn)
		pp->o->warn(pp->o->warn_ctx, msg);
	else
		nys_warnx("%s", msg);
}

/* The next line of the input (nys_in_getline: 1, 0 at the end, -1), the
 * progress line updated every 4096 lines. */
static int next_line(struct pp *pp, char **l, size_t *n)
{
	int r = nys_in_getline(pp->in, l, n, pp->e);
	if (r == 1 && !(++pp->lines & 4095) && pp->prog.on)
		nys_progress_update(&pp->prog, pp->done_bytes + nys_in_raw_pos(pp->in),
		                    pp->st->read, "documents");
	return r;
}

/* A broken record at `line` of the current input: skipped with a warning,
 * or fatal with --strict.  It counts as read and skipped either way. */
NYS_PRINTF(3, 4)
static int bad_record(struct pp *pp, uint64_t line, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	pp->st->read++;
	pp->st->skipped++;
	reset_doc(pp);
	if (pp->o->strict)
		return nys_err_set(pp->e, "%s:%llu: %s", nys_in_name(pp->in),
		                   (unsigned long long)line, what);
	char msg[1024];
	snprintf(msg, sizeof msg, "%s:%llu: %s", nys_in_name(pp->in),
	         (unsigned long long)line, what);
	warn(pp, msg);
	return 0;
}

/* Text that belongs to no record: warned about once a file (fatal with
 * --strict), never counted as a document. */
static int stray(struct pp *pp, const char *what)
{
	if (pp->o->strict)
		return nys_err_set(pp->e, "%s:%llu: %s", nys_in_name(pp->in),
		                   (unsigned long long)nys_in_lineno(pp->in), what);
	if (pp->stray_warned)
		return 0;
	pp->stray_warned = true;
	char msg[1024];
	snprintf(msg, sizeof msg, "%s:%llu: %s (further such lines in this file ignored silently)",
	         nys_in_name(pp->in), (unsigned long long)nys_in_lineno(pp->in), what);
	warn(pp, msg);
	return 0;
}

/* Normalise s[0..n) behind the end of the document without adding it yet;
 * the caller looks at it (pp->doc.p + pp->doc.n, *k bytes) and commits it or
 * not.  -1 only when memory runs out. */
static int stage_line(struct pp *pp, const char *s, size_t n, size_t *k, uint64_t *w)
{
	if (n > (SIZE_MAX - 4) / 3 || nys_buf_reserve(&pp->doc, 3 * n + 2))
		return nys_err_set(pp->e, "%s:%llu: out of memory", nys_in_name(pp->in),
		                   (unsigned long long)nys_in_lineno(pp->in));
	*w = 0;
	*k = nys_pp_normalize(s, n, pp->doc.p + pp->doc.n, w);
	return 0;
}

/* Add the staged line; `join` appends it to the last line with a space. */
static void commit_line(struct pp *pp, size_t k, uint64_t w, bool join)
{
	if (join)
		pp->doc.p[pp->doc.n - 1] = ' ';
	pp->doc.n += k;
	pp->doc.p[pp->doc.n++] = '\n';
	pp->words += w;
}

/* Add s[0..n) as a line of its own; 1 if it had text, 0 if blank, -1. */
static int add_line(struct pp *pp, const char *s, size_t n)
{
	size_t k;
	uint64_t w;
	if (stage_line(pp, s, n, &k, &w))
		return -1;
	if (!k)
		return 0;
	commit_line(pp, k, w, false);
	return 1;
}

/* ---- output ------------------------------------------------------------ */

static int open_partition(struct pp *pp)
{
	pp->path.n = 0;
	if (nys_buf_printf(&pp->path, "%s/%s-partition-%04llu.txt.zst", nys_stage_path(pp->stage),
	                   pp->o->name, (unsigned long long)pp->st->partitions))
		return nys_err_set(pp->e, "out of memory");
	pp->out = nys_out_open(pp->path.p, NYS_OUT_ZSTD | NYS_OUT_ZSTD_MT, pp->e);
	if (!pp->out)
		return -1;
	pp->part_words = 0;
	return 0;
}

static int close_output(struct pp *pp)
{
	nys_out *o = pp->out;
	pp->out = NULL;
	if (!o)
		return 0;
	if (pp->out_failed) {
		nys_out_abort(o);
		return 0;
	}
	if (nys_out_commit(o, pp->e)) {
		pp->out_failed = true;
		return -1;
	}
	if (pp->o->outdir)
		pp->st->partitions++;
	return 0;
}

/* The document is complete: keep or drop it, then start the next. */
static int end_doc(struct pp *pp)
{
	if (!pp->doc.n) {
		reset_doc(pp); /* no text at all: not a document */
		return 0;
	}
	nys_pp_stats *st = pp->st;
	st->read++;
	if (pp->words < pp->o->min_words) {
		st->dropped++;
		reset_doc(pp);
		return 0;
	}
	if (!pp->out && open_partition(pp))
		return -1;
	if (nys_buf_addc(&pp->doc, '\n'))
		return nys_err_set(pp->e, "out of memory");
	if (nys_out_write(pp->out, pp->doc.p, pp->doc.n, pp->e)) {
		pp->out_failed = true;
		return -1;
	}
	st->kept++;
	st->words += pp->words;
	pp->part_words += pp->words;
	reset_doc(pp);
	if (pp->o->outdir && pp->part_words > pp->part_limit)
		return close_output(pp);
	return 0;
}

/* ---- readers ----------------------------------------------------------- */

static bool ascii_prefix_ci(const char *s, size_t n, const char *p, size_t *used)
{
	size_t k = strlen(p);
	if (n < k || strncasecmp(s, p, k))
		return false;
	*used = k;
	return true;
}

/* A JSON line: its "text" (with "title" dropped from the front when
 * drop_title) is one document, a line per "\n"-separated paragraph. */
static int json_record(struct pp *pp, const char *l, size_t n, bool drop_title)
{
	uint64_t line = nys_in_lineno(pp->in);
	json_error_t je;
	json_t *j = json_loadb(l, n, JSON_ALLOW_NUL, &je);
	if (!j)
		return bad_record(pp, line, "invalid JSON: %s", je.text);
	json_t *t = json_is_object(j) ? json_object_get(j, "text") : NULL;
	if (!json_is_string(t)) {
		json_decref(j);
		return bad_record(pp, line, "no \"text\" string in the JSON record");
	}
	const char *s = json_string_value(t), *end = s + json_string_length(t);
	const char *title = NULL;
	size_t title_len = 0;
	json_t *jt = drop_title ? json_object_get(j, "title") : NULL;
	if (json_is_string(jt)) {
		size_t tn = json_string_length(jt);
		uint64_t tw = 0;
		if (tn > (SIZE_MAX - 4) / 3 || nys_buf_reserve(&pp->tmp, 3 * tn + 1)) {
			json_decref(j);
			return nys_err_set(pp->e, "out of memory");
		}
		title_len = nys_pp_normalize(json_string_value(jt), tn, pp->tmp.p, &tw);
		title = pp->tmp.p;
	}
	bool first = true;
	int rc = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		size_t k;
		uint64_t w;
		if (stage_line(pp, s, len, &k, &w)) {
			rc = -1;
			break;
		}
		s = nl ? nl + 1 : end;
		if (!k)
			continue;
		bool is_title = first && title && k == title_len &&
		                !memcmp(pp->doc.p + pp->doc.n, title, k);
		first = false;
		if (!is_title)
			commit_line(pp, k, w, false);
	}
	json_decref(j);
	if (rc) {
		reset_doc(pp);
		return rc;
	}
	return end_doc(pp);
}

static bool is_doc_start(const char *l, size_t n)
{
	return n >= 4 && !memcmp(l, "<doc", 4) &&
	       (n == 4 || l[4] == ' ' || l[4] == '>' || l[4] == '\t');
}

static bool is_doc_end(const char *l, size_t n)
{
	while (n && (*l == ' ' || *l == '\t'))
		l++, n--;
	while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	return n == 6 && !memcmp(l, "</doc>", 6);
}

static const char *skip_blanks(const char *l, size_t *n)
{
	while (*n && (*l == ' ' || *l == '\t'))
		l++, (*n)--;
	return l;
}

static int read_wiki(struct pp *pp)
{
	bool in_doc = false, title = false;
	uint64_t doc_line = 0;
	char *l;
	size_t n;
	int r;
	while ((r = next_line(pp, &l, &n)) == 1) {
		if (is_doc_start(l, n)) {
			uint64_t here = nys_in_lineno(pp->in);
			if (in_doc && bad_record(pp, doc_line, "<doc> without </doc> (a new <doc> starts at line %llu)",
			                         (unsigned long long)here))
				return -1;
			in_doc = title = true;
			doc_line = here;
			continue;
		}
		if (in_doc) {
			if (is_doc_end(l, n)) {
				in_doc = false;
				if (end_doc(pp))
					return -1;
			} else if (title) {
				title = false; /* WikiExtractor repeats the title */
			} else if (add_line(pp, l, n) < 0) {
				return -1;
			}
			continue;
		}
		const char *p = skip_blanks(l, &n);
		if (!n)
			continue;
		if (*p == '{') {
			if (json_record(pp, p, n, true))
				return -1;
		} else if (stray(pp, "text outside a <doc> block")) {
			return -1;
		}
	}
	if (r < 0)
		return -1;
	if (in_doc)
		return bad_record(pp, doc_line, "<doc> without </doc> (the input ends first)");
	return 0;
}

static int read_realnews(struct pp *pp)
{
	char *l;
	size_t n;
	int r;
	while ((r = next_line(pp, &l, &n)) == 1) {
		const char *p = skip_blanks(l, &n);
		if (n && json_record(pp, p, n, false))
			return -1;
	}
	return r;
}

/* One sentence a line; an empty line or the end of the input ends a
 * document. */
static int read_bookcorpus(struct pp *pp)
{
	char *l;
	size_t n;
	int r;
	while ((r = next_line(pp, &l, &n)) == 1) {
		int k = add_line(pp, l, n);
		if (k < 0 || (!k && end_doc(pp)))
			return -1;
	}
	if (r < 0)
		return -1;
	return end_doc(pp);
}

/* The whole input is one document, a line per non-blank line. */
static int read_stories(struct pp *pp)
{
	char *l;
	size_t n;
	int r;
	while ((r = next_line(pp, &l, &n)) == 1) {
		if (add_line(pp, l, n) < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	return end_doc(pp);
}

/* Project Gutenberg's markers, on a normalised line: "*** START OF THIS
 * PROJECT GUTENBERG EBOOK ..." (the stars required), and "*** END OF THE
 * PROJECT GUTENBERG ...", "*End of The Project Gutenberg Etext", "End of
 * Project Gutenberg's ..." (stars optional). */
static bool gutenberg_marker(const char *s, size_t n, const char *word, bool need_star)
{
	size_t stars = 0, k;
	while (n && (*s == '*' || *s == ' ')) {
		stars += *s == '*';
		s++, n--;
	}
	if (need_star && !stars)
		return false;
	if (!ascii_prefix_ci(s, n, word, &k))
		return false;
	s += k, n -= k;
	if (ascii_prefix_ci(s, n, "this ", &k) || ascii_prefix_ci(s, n, "the ", &k))
		s += k, n -= k;
	return ascii_prefix_ci(s, n, "project gutenberg", &k);
}

/* Hard-wrapped text: blank lines separate paragraphs, a paragraph's lines
 * are joined into one; the whole input is one document. */
static int read_text(struct pp *pp)
{
	bool check = !pp->o->keep_boilerplate, started = false;
	char *l;
	size_t n;
	int r;
	while ((r = next_line(pp, &l, &n)) == 1) {
		size_t k;
		uint64_t w;
		if (stage_line(pp, l, n, &k, &w))
			return -1;
		if (!k) {
			pp->para = false;
			continue;
		}
		if (check) {
			const char *s = pp->doc.p + pp->doc.n;
			if (!started && gutenberg_marker(s, k, "start of ", true)) {
				reset_doc(pp);
				started = true;
				continue;
			}
			if (gutenberg_marker(s, k, "end of ", false))
				break;
		}
		commit_line(pp, k, w, pp->para);
		pp->para = true;
	}
	if (r < 0)
		return -1;
	return end_doc(pp);
}

static int read_input(struct pp *pp, const char *path)
{
	pp->in = nys_in_open(path, pp->e);
	if (!pp->in)
		return -1;
	pp->stray_warned = false;
	reset_doc(pp);
	int r = 0;
	switch (pp->o->format) {
	case NYS_PP_WIKI: r = read_wiki(pp); break;
	case NYS_PP_BOOKCORPUS: r = read_bookcorpus(pp); break;
	case NYS_PP_REALNEWS: r = read_realnews(pp); break;
	case NYS_PP_STORIES: r = read_stories(pp); break;
	case NYS_PP_TEXT: r = read_text(pp); break;
	default: r = nys_err_set(pp->e, "unknown format %d", (int)pp->o->format); break;
	}
	reset_doc(pp);
	pp->done_bytes += nys_in_raw_pos(pp->in);
	pp->st->files++;
	nys_in_close(pp->in);
	pp->in = NULL;
	return r;
}

/* ---- the input list ---------------------------------------------------- */

typedef struct pathlist {
	nys_strlist l;
	uint64_t bytes;         /* sizes of the regular files, for progress */
} pathlist;

/* Regular files under dir, each directory's entries sorted by name (bytes);
 * hidden entries and symbolic links to directories are left out. */
static int walk(pathlist *pl, const char *dir, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "open directory %s", dir);
	nys_strlist names = {0};
	int rc = 0;
	struct dirent *de;
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc = nys_err_sys(e, "read directory %s", dir);
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if ((rc = nys_strlist_add(&names, de->d_name, e)))
			break;
	}
	closedir(d);
	if (!rc)
		nys_strlist_sort(&names);
	nys_buf path = {0};
	for (size_t i = 0; !rc && i < names.n; i++) {
		if ((rc = nys_path_join(&path, dir, names.v[i], e)))
			break;
		struct stat lst, st;
		if (lstat(path.p, &lst)) {
			rc = nys_err_sys(e, "%s", path.p);
			break;
		}
		if (S_ISDIR(lst.st_mode)) {
			rc = walk(pl, path.p, e);
		} else if (stat(path.p, &st) == 0 && S_ISREG(st.st_mode)) {
			rc = nys_strlist_add(&pl->l, path.p, e);
			pl->bytes += (uint64_t)st.st_size;
		}
	}
	nys_buf_free(&path);
	nys_strlist_free(&names);
	return rc;
}

static int expand(pathlist *pl, const char *path, nys_err *e)
{
	struct stat st;
	if (strcmp(path, "-") && stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return walk(pl, path, e);
		if (S_ISREG(st.st_mode))
			pl->bytes += (uint64_t)st.st_size;
	}
	/* Anything else, even a missing file, fails in its turn when opened. */
	return nys_strlist_add(&pl->l, path, e);
}

static int read_list(pathlist *pl, const char *list, nys_err *e)
{
	nys_in *in = nys_in_open(list, e);
	if (!in)
		return -1;
	char *l;
	size_t n;
	int r;
	while ((r = nys_in_getline(in, &l, &n, e)) == 1)
		if (n && expand(pl, l, e)) {
			r = -1;
			break;
		}
	nys_in_close(in);
	return r < 0 ? -1 : 0;
}

/* ---- the run ----------------------------------------------------------- */

/* If s is NAME-partition-NNNN.txt.zst as open_partition names them, its
 * number; else -1. */
static int64_t partition_number(const char *s, const char *name)
{
	size_t k = strlen(name);
	static const char mid[] = "-partition-", end[] = ".txt.zst";
	if (strncmp(s, name, k) || strncmp(s + k, mid, sizeof mid - 1))
		return -1;
	s += k + sizeof mid - 1;
	size_t d = strspn(s, "0123456789");
	if (d < 4 || d > 12 || strcmp(s + d, end) || (d > 4 && s[0] == '0'))
		return -1;
	return (int64_t)strtoull(s, NULL, 10);
}

static int install_held(struct pp *pp, const nys_pp_opts *o, nys_err *e);

/* Move the partitions into DIR, then remove NAME's partitions numbered
 * beyond them, which an earlier, longer run left (unless this run wrote
 * none), with fatal signals held until all is in place. */
static int install(struct pp *pp, nys_err *e)
{
	const nys_pp_opts *o = pp->o;
	nys_out_hold_signals();
	int rc = install_held(pp, o, e);
	nys_out_release_signals();
	return rc;
}

static int install_held(struct pp *pp, const nys_pp_opts *o, nys_err *e)
{
	int rc = 0;
	for (uint64_t i = 0; !rc && i < pp->st->partitions; i++) {
		pp->path.n = 0;
		if (nys_buf_printf(&pp->path, "%s-partition-%04llu.txt.zst", o->name,
		                   (unsigned long long)i))
			return nys_err_set(e, "out of memory");
		rc = nys_stage_install(pp->stage, pp->path.p, e);
	}
	nys_stage *done = pp->stage;
	pp->stage = NULL;
	if (rc) {
		nys_stage_abort(done);
		return -1;
	}
	if (nys_stage_commit(done, e))
		return -1;
	if (!pp->st->partitions)
		return 0; /* an empty input (a failed pipe upstream) removes nothing */
	DIR *d = opendir(o->outdir);
	if (!d)
		return nys_err_sys(e, "open directory %s", o->outdir);
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		int64_t k = partition_number(de->d_name, o->name);
		if (k < 0 || (uint64_t)k < pp->st->partitions)
			continue;
		pp->path.n = 0;
		if (nys_buf_printf(&pp->path, "%s/%s", o->outdir, de->d_name))
			rc = nys_err_set(e, "out of memory");
		else if (unlink(pp->path.p))
			rc = nys_err_sys(e, "remove %s", pp->path.p);
	}
	closedir(d);
	return rc;
}

int nys_pp_run(const char *const *paths, size_t npaths, const nys_pp_opts *o,
               nys_pp_stats *st, nys_err *e)
{
	memset(st, 0, sizeof *st);
	struct pp pp = {.o = o, .st = st, .e = e};
	pp.part_limit = o->partition_words ? o->partition_words : NYS_PP_PARTITION_WORDS;
	pathlist pl = {0};
	int rc = 0;

	if ((unsigned)o->format >= NYS_PP_NFORMATS)
		return nys_err_set(e, "unknown format %d", (int)o->format);
	if (o->outdir && nys_name_check(o->name ? o->name : "", "partition name", e))
		return -1;
	for (size_t i = 0; i < npaths && !rc; i++)
		rc = expand(&pl, paths[i] ? paths[i] : "-", e);
	if (!rc && o->files_from)
		rc = read_list(&pl, o->files_from, e);
	if (!rc && !npaths && !o->files_from)
		rc = nys_strlist_add(&pl.l, "-", e);
	/* DIR is made if missing (and removed again if this run fails and
	 * leaves it empty); the staging directory of a run that died is
	 * removed */
	if (!rc && o->outdir && !(pp.stage = nys_stage_open(o->outdir, o->name, e)))
		rc = -1;
	if (!rc && !o->outdir && !(pp.out = nys_out_open(NULL, 0, e)))
		rc = -1;
	if (rc) {
		nys_strlist_free(&pl.l);
		return -1;
	}

	nys_progress_start(&pp.prog, "preprocess", pl.bytes);
	for (size_t i = 0; i < pl.l.n && !rc; i++)
		rc = read_input(&pp, pl.l.v[i]);
	nys_progress_end(&pp.prog);

	/* After an error nothing is committed: DIR stays as it was, and
	 * stdout ends after the last whole document. */
	if (rc)
		nys_out_abort(pp.out);
	else if (!(rc = close_output(&pp)) && pp.stage)
		rc = install(&pp, e);
	nys_stage_abort(pp.stage); /* NULL once installed */
	nys_buf_free(&pp.doc);
	nys_buf_free(&pp.tmp);
	nys_buf_free(&pp.path);
	nys_strlist_free(&pl.l);
	return rc;
}
