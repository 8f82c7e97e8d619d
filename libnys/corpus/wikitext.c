/* Wikitext to plain text.
 *
 * Four linear passes, each a hand-written scanner over the previous one's
 * output, in the order that makes nesting come out right:
 *   1. tags: comments and extension tags whose content is not prose
 *      (<ref>, <math>, <gallery>, ...) go with their content; formatting
 *      tags go, their content stays;
 *   2. braces: templates, parser functions, template parameters and tables,
 *      nested in any mix, go with their content;
 *   3. links: internal links become their visible text, File/Image/Category
 *      and interlanguage links go, external links become their label;
 *   4. lines: headings, lists, bold/italic quotes, behaviour switches,
 *      character references (decoded exactly once, last) and spacing.
 * Nothing here allocates per page once the scratch buffers have grown.
 */
#include "nys_wikitext.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct nys_wikitext {
	nys_buf a, b;
};

nys_wikitext *nys_wikitext_new(void)
{
	return calloc(1, sizeof(nys_wikitext));
}

void nys_wikitext_free(nys_wikitext *w)
{
	if (!w)
		return;
	nys_buf_free(&w->a);
	nys_buf_free(&w->b);
	free(w);
}

#define ADD(b, s, n) do { if (nys_buf_add((b), (s), (n))) return -1; } while (0)
#define ADDC(b, ch) do { if (nys_buf_addc((b), (ch))) return -1; } while (0)

/* ---- pass 1: tags and comments ------------------------------------------ */

enum tag_kind { TAG_UNKNOWN, TAG_DROP, TAG_KEEP, TAG_BREAK };

static const char *const drop_tags[] = {
	"categorytree", "ce", "charinsert", "chem", "gallery", "graph", "hiero",
	"imagemap", "includeonly", "indicator", "inputbox", "mapframe", "maplink",
	"math", "ref", "references", "score", "source", "syntaxhighlight", "table",
	"templatedata", "templatestyles", "timeline",
};
static const char *const keep_tags[] = {
	"a", "abbr", "b", "bdi", "bdo", "big", "blockquote", "caption", "center",
	"cite", "code", "data", "del", "dfn", "div", "em", "font", "i", "ins",
	"kbd", "mark", "nowiki", "noinclude", "ol", "onlyinclude", "pre", "q", "rb",
	"rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strike",
	"strong", "sub", "sup", "td", "th", "time", "tr", "tt", "u", "ul", "var",
	"wbr",
};
static const char *const break_tags[] = {
	"br", "dd", "dl", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "p",
	"poem",
};

static bool in_list(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

#define COUNT(a) (sizeof(a) / sizeof *(a))

static int drop_index(const char *name)
{
	for (size_t i = 0; i < COUNT(drop_tags); i++)
		if (!strcmp(drop_tags[i], name))
			return (int)i;
	return 0; /* not reached: only asked of TAG_DROP names */
}

static enum tag_kind tag_kind(const char *name)
{
	if (in_list(drop_tags, COUNT(drop_tags), name))
		return TAG_DROP;
	if (in_list(keep_tags, COUNT(keep_tags), name))
		return TAG_KEEP;
	if (in_list(break_tags, COUNT(break_tags), name))
		return TAG_BREAK;
	return TAG_UNKNOWN;
}

/* A tag at s[i] ('<'): its name (lower case), whether it closes or closes
 * itself, and where it ends.  False if this '<' starts no tag. */
typedef struct tag {
	char name[24];
	bool closing, selfclose;
	size_t end; /* one past '>' */
} tag;

static bool parse_tag(const char *s, size_t n, size_t i, tag *t)
{
	size_t j = i + 1;
	t->closing = j < n && s[j] == '/';
	if (t->closing)
		j++;
	size_t k = 0;
	if (j >= n || !isalpha((unsigned char)s[j]))
		return false;
	while (j < n && isalnum((unsigned char)s[j])) {
		if (k + 1 >= sizeof t->name)
			return false;
		t->name[k++] = (char)tolower((unsigned char)s[j++]);
	}
	t->name[k] = 0;
	if (j < n && s[j] != '>' && s[j] != '/' && !isspace((unsigned char)s[j]))
		return false;
	/* Attributes: up to '>', not across another '<', within reason. */
	size_t lim = n - j < 4096 ? n : j + 4096;
	for (; j < lim; j++) {
		if (s[j] == '>') {
			t->selfclose = s[j - 1] == '/';
			t->end = j + 1;
			return true;
		}
		if (s[j] == '<')
			return false;
	}
	return false;
}

/* Move *i to the next c in s[*i..n); false, *i as it was, when there is
 * none.  The scans that copy text in runs between special bytes step
 * with it. */
static bool skip_to(const char *s, size_t n, size_t *i, char c)
{
	const char *p = *i < n ? memchr(s + *i, c, n - *i) : NULL;
	if (p)
		*i = (size_t)(p - s);
	return p != NULL;
}

/* Where the element opened by `open` ends (one past its closing tag), or 0
 * when it is never closed. */
static size_t find_close(const char *s, size_t n, const tag *open)
{
	size_t depth = 1, i = open->end;
	while (skip_to(s, n, &i, '<')) {
		tag t;
		if (parse_tag(s, n, i, &t) && !strcmp(t.name, open->name)) {
			if (t.closing && --depth == 0)
				return t.end;
			if (!t.closing && !t.selfclose)
				depth++;
			i = t.end;
		} else {
			i++;
		}
	}
	return 0;
}

static int pass_tags(const char *s, size_t n, nys_buf *out)
{
	bool unclosed[COUNT(drop_tags)] = {false};
	size_t i = 0, run = 0;
	while (skip_to(s, n, &i, '<')) {
		if (n - i >= 4 && !memcmp(s + i, "<!--", 4)) {
			ADD(out, s + run, i - run);
			const char *q = memmem(s + i + 4, n - i - 4, "-->", 3);
			i = q ? (size_t)(q - s) + 3 : n;
			run = i;
			continue;
		}
		tag t;
		enum tag_kind kind;
		if (!parse_tag(s, n, i, &t) || (kind = tag_kind(t.name)) == TAG_UNKNOWN) {
			i++;
			continue;
		}
		ADD(out, s + run, i - run);
		size_t next = t.end;
		if (kind == TAG_DROP && !t.closing && !t.selfclose) {
			/* Once a name is found unclosed, later ones are not searched
			 * for again: a page of unclosed <ref>s stays linear. */
			int k = drop_index(t.name);
			size_t c = unclosed[k] ? 0 : find_close(s, n, &t);
			if (c)
				next = c;
			else
				unclosed[k] = true;
		} else if (kind == TAG_BREAK) {
			ADDC(out, '\n');
		}
		i = run = next;
	}
	ADD(out, s + run, n - run);
	return 0;
}

/* ---- pass 2: templates, parameters and tables ---------------------------- */

typedef struct frame {
	char kind;       /* 'b' braces, 't' table */
	unsigned char count; /* braces: 2 template, 3 parameter */
	size_t pos;      /* offset of the opening in the input */
	size_t outlen;   /* output length when it opened */
} frame;

/* A table opens or closes only at the start of a line (after indentation). */
static bool at_line_start(const char *s, size_t i)
{
	while (i > 0) {
		char c = s[i - 1];
		if (c == '\n')
			return true;
		if (c != ' ' && c != '\t' && c != ':')
			return false;
		i--;
	}
	return true;
}

static int push(frame **st, size_t *depth, size_t *cap, frame f)
{
	if (*depth == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		frame *p = realloc(*st, nc * sizeof *p);
		if (!p)
			return -1;
		*st = p;
		*cap = nc;
	}
	(*st)[(*depth)++] = f;
	return 0;
}

static int pass_braces(const char *s, size_t n, nys_buf *out)
{
	frame *st = NULL;
	size_t depth = 0, cap = 0, i = 0, restarts = 0;
	size_t base = out->n;
	int rc = 0;
	for (;;) {
		while (i < n) {
			/* s is NUL-terminated and XML text holds no NUL */
			size_t j = i + strcspn(s + i, "{}|");
			if (j > n)
				j = n;
			if (!depth && j > i && nys_buf_add(out, s + i, j - i))
				goto oom;
			i = j;
			if (i >= n)
				break;
			char c = s[i];
			size_t k = 1;
			while (i + k < n && s[i + k] == c)
				k++;
			if (c == '{') {
				if (k == 1 && i + 1 < n && s[i + 1] == '|' && at_line_start(s, i)) {
					if (push(&st, &depth, &cap, (frame){'t', 0, i, out->n}))
						goto oom;
					i += 2;
					continue;
				}
				size_t left = k;
				while (left >= 2) {
					unsigned char cnt = (left == 3 || left >= 5) ? 3 : 2;
					if (push(&st, &depth, &cap, (frame){'b', cnt, i + (k - left), out->n}))
						goto oom;
					left -= cnt;
				}
				if (left && !depth && nys_buf_addc(out, '{'))
					goto oom;
				i += k;
			} else if (c == '}') {
				size_t left = k;
				while (left && depth && st[depth - 1].kind == 'b') {
					unsigned cnt = st[depth - 1].count;
					if (left >= cnt)
						left -= cnt;
					else if (left == 2)
						left = 0;
					else
						break;
					depth--;
				}
				/* A lone leftover '}' beside markup is debris; a plain one
				 * in prose is text. */
				if (!depth && left == 1 && k == 1 && nys_buf_addc(out, '}'))
					goto oom;
				i += k;
			} else { /* '|' */
				if (depth && st[depth - 1].kind == 't' && i + 1 < n &&
				    s[i + 1] == '}' && at_line_start(s, i)) {
					depth--;
					i += 2;
					continue;
				}
				if (!depth && nys_buf_add(out, s + i, k))
					goto oom;
				i += k;
			}
		}
		if (!depth)
			break;
		/* Unclosed: as MediaWiki does, the outermost opening was text after
		 * all.  Drop its characters (they would be debris) and rescan. */
		if (++restarts > 64) {
			break;
		}
		out->n = st[0].outlen > base ? st[0].outlen : base;
		i = st[0].pos + (st[0].kind == 't' ? 2 : st[0].count);
		depth = 0;
	}
	if (out->p)
		out->p[out->n] = 0;
	free(st);
	return rc;
oom:
	free(st);
	return -1;
}

/* ---- pass 3: links ------------------------------------------------------- */

static bool ieq_prefix(const char *s, size_t n, const char *word)
{
	size_t k = strlen(word);
	if (n != k)
		return false;
	return strncasecmp(s, word, k) == 0;
}

/* Interlanguage prefixes look like "de", "zh-min-nan", "simple". */
static bool looks_interlanguage(const char *s, size_t n)
{
	if (n < 2 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !(s[i] == '-' && i > 0))
			return false;
	return true;
}

static const char *const url_schemes[] = {
	"http://", "https://", "ftp://", "ftps://", "//", "mailto:", "news:",
	"irc://", "ircs://", "gopher://", "sftp://", "git://", "svn://",
};

static bool starts_url(const char *s, size_t n)
{
	for (size_t i = 0; i < COUNT(url_schemes); i++) {
		size_t k = strlen(url_schemes[i]);
		if (n >= k && !strncasecmp(s, url_schemes[i], k))
			return true;
	}
	return false;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static int links(const char *s, size_t n, nys_buf *out, int level);

/* The inside of [[...]]. */
static int one_link(const char *s, size_t n, nys_buf *out, int level)
{
	const char *bar = memchr(s, '|', n);
	const char *t = s;
	size_t tn = bar ? (size_t)(bar - s) : n;
	trim(&t, &tn);
	bool lead_colon = tn && t[0] == ':';
	if (lead_colon)
		t++, tn--;
	const char *colon = memchr(t, ':', tn);
	if (colon && !lead_colon) {
		const char *px = t;
		size_t pn = (size_t)(colon - t);
		trim(&px, &pn);
		if (ieq_prefix(px, pn, "file") || ieq_prefix(px, pn, "image") ||
		    ieq_prefix(px, pn, "category"))
			return 0;
		if (!bar && looks_interlanguage(px, pn))
			return 0;
	}
	if (bar) {
		const char *l = bar + 1;
		size_t ln = n - (size_t)(l - s);
		trim(&l, &ln);
		if (ln)
			return links(l, ln, out, level + 1);
		/* The pipe trick: [[Paris, Texas|]] shows "Paris",
		 * [[Mercury (planet)|]] shows "Mercury". */
		if (colon)
			tn -= (size_t)(colon + 1 - t), t = colon + 1;
		const char *paren = memchr(t, '(', tn);
		const char *comma = memchr(t, ',', tn);
		if (paren)
			tn = (size_t)(paren - t);
		if (comma && (size_t)(comma - t) < tn)
			tn = (size_t)(comma - t);
		trim(&t, &tn);
	}
	ADD(out, t, tn);
	return 0;
}

/* Offset of c in s[i..n), n if none; `*cache` remembers the last answer so
 * a scan for two bytes costs two memchr passes in all. */
static size_t next_of(const char *s, size_t n, size_t i, char c, size_t *cache)
{
	if (*cache >= i && *cache != SIZE_MAX)
		return *cache;
	const char *p = memchr(s + i, c, n - i);
	*cache = p ? (size_t)(p - s) : n;
	return *cache;
}

/* Each "[[" with its "]]" (0 if it has none), in order of the openings:
 * one pass with a stack finds the pairs a forward scan with a depth count
 * would, in linear time (pages with thousands of unclosed brackets exist). */
typedef struct bpair {
	size_t open, close;
} bpair;

static int match_brackets(const char *s, size_t n, nys_buf *pairs)
{
	nys_buf stack = {0};
	size_t open_at = SIZE_MAX, close_at = SIZE_MAX, k = 0;
	int rc = 0;
	while (k + 1 < n) {
		size_t a = next_of(s, n, k, '[', &open_at);
		size_t b = next_of(s, n, k, ']', &close_at);
		k = a < b ? a : b;
		if (k + 1 >= n)
			break;
		if (s[k] == '[' && s[k + 1] == '[') {
			size_t idx = pairs->n / sizeof(bpair);
			bpair p = {k, 0};
			if (nys_buf_add(pairs, &p, sizeof p) || nys_buf_add(&stack, &idx, sizeof idx)) {
				rc = -1;
				break;
			}
			k += 2;
		} else if (s[k] == ']' && s[k + 1] == ']') {
			if (stack.n) {
				size_t idx;
				stack.n -= sizeof idx;
				memcpy(&idx, stack.p + stack.n, sizeof idx);
				bpair p;
				memcpy(&p, pairs->p + idx * sizeof p, sizeof p);
				p.close = k;
				memcpy(pairs->p + idx * sizeof p, &p, sizeof p);
			}
			k += 2;
		} else {
			k++;
		}
	}
	nys_buf_free(&stack);
	/* never NULL once asked for, even when there is no pair */
	return rc || nys_buf_reserve(pairs, 1) ? -1 : 0;
}

static int links_in(const char *s, size_t n, nys_buf *out, int level, nys_buf *pairs);

static int links(const char *s, size_t n, nys_buf *out, int level)
{
	nys_buf pairs = {0};
	int rc = links_in(s, n, out, level, &pairs);
	nys_buf_free(&pairs);
	return rc;
}

static int links_in(const char *s, size_t n, nys_buf *out, int level, nys_buf *pairs)
{
	size_t i = 0, run = 0, pc = 0, open_at = SIZE_MAX, close_at = SIZE_MAX;
	while (i < n) {
		size_t a = next_of(s, n, i, '[', &open_at);
		size_t b = next_of(s, n, i, ']', &close_at);
		i = a < b ? a : b;
		if (i >= n)
			break;
		if (s[i] == ']') {
			if (i + 1 < n && s[i + 1] == ']') { /* stray closer: debris */
				ADD(out, s + run, i - run);
				i += 2;
				run = i;
			} else {
				i++;
			}
			continue;
		}
		if (i + 1 < n && s[i + 1] == '[') {
			if (!pairs->p && match_brackets(s, n, pairs))
				return -1;
			const bpair *pp = (const bpair *)(void *)pairs->p;
			size_t np = pairs->n / sizeof *pp, end = 0;
			while (pc < np && pp[pc].open < i)
				pc++;
			if (pc < np && pp[pc].open == i)
				end = pp[pc].close;
			ADD(out, s + run, i - run);
			if (end && level < 8) {
				if (one_link(s + i + 2, end - i - 2, out, level))
					return -1;
				i = end + 2;
			} else {
				i += 2; /* never closed: drop the brackets, keep the text */
			}
			run = i;
			continue;
		}
		if (starts_url(s + i + 1, n - i - 1)) {
			size_t k = i + 1;
			while (k < n && s[k] != ']' && s[k] != '\n' && s[k] != '[')
				k++;
			if (k < n && s[k] == ']') {
				ADD(out, s + run, i - run);
				const char *sp = memchr(s + i + 1, ' ', k - i - 1);
				if (sp && level < 8) {
					size_t l0 = (size_t)(sp - s) + 1;
					if (links(s + l0, k - l0, out, level + 1))
						return -1;
				}
				i = run = k + 1;
				continue;
			}
		}
		i++;
	}
	ADD(out, s + run, n - run);
	return 0;
}

static int pass_links(const char *s, size_t n, nys_buf *out)
{
	return links(s, n, out, 0);
}

/* ---- character references ---------------------------------------------- */

typedef struct entity {
	const char *name;
	uint32_t cp;
} entity;

static const entity entities[] = {
#include "entities.inc"
};

static int ent_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const entity *)e)->name);
}

/* Decode the reference at s[0] == '&'; returns its length, 0 if none. */
static size_t entity_at(const char *s, size_t n, uint32_t *cp)
{
	size_t i = 1;
	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		uint32_t v = 0;
		size_t d0 = i;
		while (i < n && i - d0 < 8 && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
			int c = (unsigned char)s[i];
			v = v * (hex ? 16 : 10) + (uint32_t)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
			i++;
		}
		if (i == d0 || i >= n || s[i] != ';')
			return 0;
		*cp = v;
		return i + 1;
	}
	char name[12];
	size_t k = 0;
	while (i < n && k + 1 < sizeof name && isalnum((unsigned char)s[i]))
		name[k++] = s[i++];
	if (!k || i >= n || s[i] != ';')
		return 0;
	name[k] = 0;
	const entity *e = bsearch(name, entities, COUNT(entities), sizeof *entities, ent_cmp);
	if (!e)
		return 0;
	*cp = e->cp;
	return i + 1;
}

/* Spacing code points become a plain space. */
static uint32_t spacing_cp(uint32_t cp)
{
	if (cp == 0xA0 || cp == '\t' || cp == '\n' || cp == 0x2002 || cp == 0x2003 ||
	    cp == 0x2009)
		return ' ';
	return cp;
}

/* Encode cp into o unless it is a control or invisible character, so the
 * output keeps none; returns the bytes written (at most 4). */
static size_t encode_visible(uint32_t cp, char *o)
{
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || (cp >= 0x200B && cp <= 0x200F) ||
	    cp == 0xAD || cp == 0xFEFF)
		return 0;
	return (size_t)nys_utf8_encode(cp, o);
}

int nys_html_unescape(const char *s, size_t n, nys_buf *out)
{
	size_t i = 0, run = 0;
	while (skip_to(s, n, &i, '&')) {
		uint32_t cp;
		size_t k = entity_at(s + i, n - i, &cp);
		if (!k) {
			i++;
			continue;
		}
		ADD(out, s + run, i - run);
		char u[4];
		ADD(out, u, encode_visible(spacing_cp(cp), u));
		i = run = i + k;
	}
	ADD(out, s + run, n - run);
	return 0;
}

/* ---- pass 4: lines ------------------------------------------------------- */

/* Bytes that need a look in inline_text; the rest are copied in runs.  A
 * space (2) needs one only when it starts a run or another space follows. */
static const unsigned char inline_special[256] = {
	[0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1,
	[8] = 1, [9] = 1, [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1,
	[16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1,
	[24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1,
	[' '] = 2, ['\''] = 1, ['_'] = 1, ['&'] = 1, ['('] = 1, [')'] = 1, [','] = 1,
	['.'] = 1, [';'] = 1, [0x7F] = 1,
};

/* Inline clean-up of one line's text into out, with the line's own spacing
 * normalised: quotes, behaviour switches, references, debris spacing.
 * The result is never longer than the input (a reference is longer than
 * what it decodes to), so it is written straight into reserved room. */
static int inline_text(const char *s, size_t n, nys_buf *out)
{
	if (nys_buf_reserve(out, n + 1))
		return -1;
	char *const o0 = out->p + out->n;
	char *o = o0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		for (; j < n; j++) {
			unsigned char k = inline_special[(unsigned char)s[j]];
			if (k == 1 || (k == 2 && (j == i || j + 1 >= n || s[j + 1] == ' ')))
				break;
		}
		if (j > i) {
			memcpy(o, s + i, j - i);
			o += j - i;
			i = j;
			if (i >= n)
				break;
		}
		unsigned char c = (unsigned char)s[i];
		if (c == '\'') {
			size_t k = 1;
			while (i + k < n && s[i + k] == '\'')
				k++;
			size_t keep = k == 1 ? 1 : k == 4 ? 1 : k > 5 ? k - 5 : 0;
			for (size_t q = 0; q < keep; q++)
				*o++ = '\'';
			i += k;
			continue;
		}
		if (c == '_') {
			if (i + 4 < n && s[i + 1] == '_' && isupper((unsigned char)s[i + 2])) {
				size_t k = i + 2;
				while (k < n && isupper((unsigned char)s[k]))
					k++;
				if (k + 1 < n && s[k] == '_' && s[k + 1] == '_') {
					i = k + 2;
					continue;
				}
			}
			*o++ = '_';
			i++;
			continue;
		}
		if (c == '&') {
			uint32_t cp;
			size_t k = entity_at(s + i, n - i, &cp);
			i += k ? k : 1;
			if (!k) {
				*o++ = '&';
				continue;
			}
			cp = spacing_cp(cp);
			if (cp != ' ') {
				o += encode_visible(cp, o);
				continue;
			}
			c = ' ';
		} else {
			i++;
		}
		if (c == ' ' || (c >= 9 && c <= 13)) {
			if (o > o0 && o[-1] != ' ' && o[-1] != '(')
				*o++ = ' ';
			continue;
		}
		if (c < 0x20 || c == 0x7F)
			continue;
		/* ')' ',' '.' ';': tidy the spacing that removed markup leaves. */
		bool closes = c == ')' || ((c == ',' || c == '.' || c == ';') &&
		                           (i >= n || !isalnum((unsigned char)s[i])));
		if (closes) {
			if (o > o0 && o[-1] == ' ')
				o--;
			char last = o > o0 ? o[-1] : 0;
			if (c == ')' && last == '(') { /* "()" left by removed markup */
				o--;
				if (o > o0 && o[-1] == ' ')
					o--;
				continue;
			}
			if ((c == ',' || c == ';') && last == '(')
				continue;
			if (c == ',' && last == ',')
				continue;
		}
		*o++ = (char)c;
	}
	while (o > o0 && o[-1] == ' ')
		o--;
	out->n = (size_t)(o - out->p);
	out->p[out->n] = 0;
	return 0;
}

static int pass_lines(const char *s, size_t n, int flags, nys_buf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - s) : n;
		const char *l = s + i;
		size_t ln = e - i;
		i = e + 1;
		trim(&l, &ln);
		if (!ln)
			continue;
		if (l[0] == '=' && l[ln - 1] == '=' && ln >= 3) {
			size_t a = 0, b = 0;
			while (a < ln && l[a] == '=')
				a++;
			while (b < ln - a && l[ln - 1 - b] == '=')
				b++;
			if (a < ln) {
				if (flags & NYS_WIKITEXT_NO_HEADINGS)
					continue;
				size_t lv = a < b ? a : b;
				l += lv;
				ln -= 2 * lv;
				trim(&l, &ln);
			}
		} else if (ln >= 4 && !memcmp(l, "----", 4)) {
			continue;
		} else if (l[0] == '|' || l[0] == '!') {
			continue; /* table rows whose table start was lost */
		}
		while (ln && (l[0] == '*' || l[0] == '#' || l[0] == ':' || l[0] == ';'))
			l++, ln--;
		size_t mark = out->n;
		if (inline_text(l, ln, out))
			return -1;
		if (out->n == mark)
			continue;
		ADDC(out, '\n');
	}
	return 0;
}

int nys_wikitext_clean(nys_wikitext *w, const char *src, size_t n, int flags,
                       nys_buf *out)
{
	/* Nothing to clean: src may then be NULL (a page without text hands
	 * over its unused buffer), which the passes must not offset. */
	if (!n)
		return 0;
	w->a.n = w->b.n = 0;
	if (nys_buf_reserve(&w->a, n) || pass_tags(src, n, &w->a))
		return -1;
	if (nys_buf_reserve(&w->b, w->a.n) || pass_braces(w->a.p, w->a.n, &w->b))
		return -1;
	w->a.n = 0;
	if (nys_buf_reserve(&w->a, w->b.n) || pass_links(w->b.p, w->b.n, &w->a))
		return -1;
	return pass_lines(w->a.p, w->a.n, flags, out);
}
