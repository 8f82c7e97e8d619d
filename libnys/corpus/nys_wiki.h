/* Wikipedia dumps to article text: the streaming, multi-threaded extractor
 * behind wikiextract(1), which cleans each page with nys_wikitext.h. */
#ifndef NYS_WIKI_H
#define NYS_WIKI_H

#include "nys.h"
#include "nys_wikitext.h"

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
