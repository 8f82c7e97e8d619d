/* wikiextract: MediaWiki XML dumps to article text (WikiExtractor's format). */
#include "nys_cli.h"
#include "nys_wiki.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: wikiextract [-j N] [--json] [--no-headings] [--namespaces LIST]\n"
	"                   [-o OUT [-b SIZE] [-c]] [FILE...]\n";

static const char help[] =
	"Extract the article text of MediaWiki XML dumps (export schemas 0.8 to\n"
	"0.11; plain, .bz2 or .zst; FILE - or none is stdin) in WikiExtractor's\n"
	"<doc> format.\n"
	"\n";

static const char tail[] =
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

enum { OPT_JSON = 256, OPT_NOHEAD, OPT_NS };

static const nys_cli_opt opts[] = {
	{"output", 'o', "OUT", 0, "write to OUT instead of stdout; with -b, or when OUT\n"
	                          "is a directory, OUT/AA/wiki_00, wiki_01, ... files"},
	{"bytes", 'b', "SIZE", 0, "with a directory: bytes per file, K/M/G suffixes\n"
	                          "(default 1M)"},
	{"compress", 'c', NULL, 0, "with a directory: zstd-compress the files (.zst)"},
	{"json", 0, NULL, OPT_JSON, "one JSON object a line: id, revid, url, title, text"},
	{"no-headings", 0, NULL, OPT_NOHEAD, "drop section headings"},
	{"namespaces", 0, "LIST", OPT_NS, "comma-separated namespace numbers to keep\n"
	                                  "(default 0, the articles)"},
	NYS_CLI_OPT_JOBS("threads parsing pages, and as many decoding bzip2\n"
	                 "(default: the number of cores); the output is the\n"
	                 "same for every N"),
	{"verbose", 'v', NULL, 0, "report pages, articles and redirects at the end"},
	{0},
};

/* "0,14,-2" into at most cap numbers. */
static int parse_namespaces(const char *s, long *ns, size_t cap, size_t *n, nys_err *e)
{
	*n = 0;
	char *copy = strdup(s);
	if (!copy)
		return nys_err_set(e, "out of memory");
	int rc = 0;
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		bool neg = tok[0] == '-';
		uint64_t v;
		if (*n == cap) {
			rc = nys_err_set(e, "--namespaces: at most %zu namespaces", cap);
			break;
		}
		if (nys_parse_u64(tok + neg, 0, 100000, &v, "--namespaces", e)) {
			rc = -1;
			break;
		}
		ns[(*n)++] = neg ? -(long)v : (long)v;
	}
	if (!rc && !*n)
		rc = nys_err_set(e, "--namespaces: empty list");
	free(copy);
	return rc;
}

static int extract(nys_cli *cl)
{
	nys_wiki_opts o = {.file_size = 1 << 20};
	long ns[64];
	bool have_b = false, verbose = false;
	nys_err e;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case 'b': have_b = !nys_cli_size(cl, 1024, (uint64_t)1 << 40, "-b", &o.file_size); break;
		case 'c': o.compress = true; break;
		case OPT_JSON: o.json = true; break;
		case OPT_NOHEAD: o.flags |= NYS_WIKITEXT_NO_HEADINGS; break;
		case OPT_NS:
			if (parse_namespaces(optarg, ns, 64, &o.n_namespaces, &e))
				return nys_cli_usage(cl, "%s", e.msg);
			o.namespaces = ns;
			break;
		case 'v': verbose = true; break;
		}
	}
	if (c < 0)
		return cl->status;
	o.threads = cl->threads;
	struct stat st;
	if (o.output && strcmp(o.output, "-") &&
	    (have_b || (stat(o.output, &st) == 0 && S_ISDIR(st.st_mode)))) {
		o.outdir = o.output;
		o.output = NULL;
	} else if (have_b || o.compress)
		return nys_cli_usage(cl, "-b and -c need -o DIR");
	nys_out_cleanup_on_signals();
	nys_wiki_stats stats;
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	int rc = nys_wiki_extract(files, n, &o, &stats, &e);
	if (rc)
		nys_warnx("%s", e.msg);
	if (verbose || (isatty(2) && !rc))
		nys_warnx("%llu pages, %llu articles, %llu redirects, %llu in other namespaces, %.1f MB of XML",
		          (unsigned long long)stats.pages, (unsigned long long)stats.articles,
		          (unsigned long long)stats.redirects, (unsigned long long)stats.other_ns,
		          (double)stats.xml_bytes / 1e6);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const nys_cli_prog prog = {
		.self = {"wikiextract", usage, help, .flags = NYS_CLI_JOBS, .run = extract, .opts = opts,
		         .tail = tail}};
	return nys_cli_main(&prog, argc, argv);
}
