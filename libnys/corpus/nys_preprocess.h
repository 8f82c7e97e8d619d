/* Pretraining corpora to the unified text format of nys-text(5): the
 * normaliser and the format readers behind preprocess(1). */
#ifndef NYS_PREPROCESS_H
#define NYS_PREPROCESS_H

#include "nys.h"

/* ---- the unified text format ------------------------------------------- */

/* Normalise one line s[0..n) into out, which needs room for 3 * n bytes
 * (every invalid byte may become a 3-byte U+FFFD): tabs become spaces; other
 * C0 and C1 controls, DEL and U+FEFF are removed; invalid UTF-8 bytes become
 * U+FFFD; runs of spaces collapse to one; leading and trailing spaces go.
 * Returns the length written (0 for a blank line) and adds the number of
 * words (runs of non-space bytes) to *words. */
size_t nys_pp_normalize(const char *s, size_t n, char *out, uint64_t *words);

/* ---- the converter ----------------------------------------------------- */

typedef enum nys_pp_format {
	NYS_PP_WIKI,       /* WikiExtractor <doc> blocks or JSON lines */
	NYS_PP_BOOKCORPUS, /* a sentence a line, documents end at empty lines */
	NYS_PP_REALNEWS,   /* JSON lines, the "text" field */
	NYS_PP_STORIES,    /* a file is a document */
	NYS_PP_TEXT,       /* hard-wrapped books, a file is a document */
	NYS_PP_NFORMATS
} nys_pp_format;

/* "wiki" and so on to the format; -1 if unknown. */
int nys_pp_format_parse(const char *s, nys_pp_format *f);
const char *nys_pp_format_name(nys_pp_format f);
/* The names, comma-separated, for messages. */
const char *nys_pp_format_list(void);
/* Documents with fewer words are dropped unless --min-words says otherwise. */
uint64_t nys_pp_default_min_words(nys_pp_format f);

#define NYS_PP_PARTITION_WORDS 20000000ULL

typedef struct nys_pp_opts {
	nys_pp_format format;
	uint64_t min_words;
	const char *outdir;         /* NULL: stdout */
	const char *name;           /* with outdir: NAME-partition-NNNN.txt.zst */
	uint64_t partition_words;   /* with outdir; 0 = NYS_PP_PARTITION_WORDS */
	const char *files_from;     /* a list of input paths, "-" = stdin */
	bool strict;                /* a broken record is fatal */
	bool keep_boilerplate;      /* -f text: keep Project Gutenberg headers */
	/* Warnings about broken records, already "file:line: what"; NULL =
	 * nys_warnx. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
} nys_pp_opts;

typedef struct nys_pp_stats {
	uint64_t read;       /* documents seen: kept + dropped + skipped */
	uint64_t kept;
	uint64_t dropped;    /* fewer than min_words words */
	uint64_t skipped;    /* broken records */
	uint64_t words;      /* in the kept documents */
	uint64_t files;      /* input files read */
	uint64_t partitions; /* with outdir: files written */
} nys_pp_stats;

/* Convert the inputs in paths (NULL or "-" = stdin; directories are read
 * recursively, their regular files sorted by name), then those listed in
 * o->files_from; with no paths and no list, stdin.  With o->outdir the
 * partitions go to a staging directory (nys_stage_open) and replace NAME's
 * partitions in DIR only when all is done; after an error DIR is as it was,
 * and stdout has the documents completed before it.  The message names the
 * file and line where there is one. */
int nys_pp_run(const char *const *paths, size_t npaths, const nys_pp_opts *o,
               nys_pp_stats *st, nys_err *e);

#endif
