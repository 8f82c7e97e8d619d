/* Wikipedia dumps to article text: the wikitext cleaner and the streaming,
 * multi-threaded extractor behind wikiextract(1). */
#ifndef NYS_WIKI_H
#define NYS_WIKI_H

#include "nys.h"

/* ---- wikitext to plain text -------------------------------------------- */

enum { NYS_WIKITEXT_NO_HEADINGS = 1 };

/* Scratch buffers for one thread; reuse it across pages. */
typedef struct nys_wikitext nys_wikitext;

nys_wikitext *nys_wikitext_new(void);
void nys_wikitext_free(nys_wikitext *w);
/* Append the plain text of wikitext src[0..n) to out: one line per
 * paragraph, heading or list item, each ending in "\n", no empty lines.
 * Returns 0, or -1 when memory runs out. */
int nys_wikitext_clean(nys_wikitext *w, const char *src, size_t n, int flags,
                       nys_buf *out);
/* Decode HTML character references in s[0..n) once, appending to out. */
int nys_html_unescape(const char *s, size_t n, nys_buf *out);

/* ---- the extractor ----------------------------------------------------- */

typedef struct nys_wiki_opts {
	unsigned threads;          /* 1 = no worker threads; N: N page workers and
	                            * N bzip2 decoders (nys_in_set_threads) */
	bool json;                 /* JSON lines instead of <doc> blocks */
	int flags;                 /* NYS_WIKITEXT_* */
	const long *namespaces;    /* pages kept; NULL = namespace 0 only */
	size_t n_namespaces;
	const char *outdir;        /* NULL: stdout (or `output`) */
	const char *output;        /* single output file, NULL = stdout */
	uint64_t file_size;        /* with outdir: bytes per file */
	bool compress;             /* with outdir: zstd, names end in .zst */
	const char *url_base;      /* "https://en.wikipedia.org/wiki?curid=" */
} nys_wiki_opts;

typedef struct nys_wiki_stats {
	uint64_t pages, articles, redirects, other_ns;
	uint64_t xml_bytes;
	uint64_t out_files;
} nys_wiki_stats;

/* Extract every file in paths (NULL/"-" = stdin), in order.  On a data
 * error every article completed before it has been written whole to
 * stdout, while `output` and `outdir` are not committed (the file or the
 * directory stays as it was: outdir's tree is staged, nys_stage_open, and
 * replaces the old one only at the end).  The message names the file and
 * line. */
int nys_wiki_extract(const char *const *paths, size_t npaths,
                     const nys_wiki_opts *o, nys_wiki_stats *st, nys_err *e);

#endif
