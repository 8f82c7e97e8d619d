/* wikiextract: MediaWiki XML dumps to article text (WikiExtractor's format). */
#include "nys_wiki.h"

#include <getopt.h>
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
	"\n"
	"  -o, --output OUT     write to OUT instead of stdout; with -b, or when OUT\n"
	"                       is a directory, OUT/AA/wiki_00, wiki_01, ... files\n"
	"  -b, --bytes SIZE     with a directory: bytes per file, K/M/G suffixes\n"
	"                       (default 1M)\n"
	"  -c, --compress       with a directory: zstd-compress the files (.zst)\n"
	"      --json           one JSON object a line: id, revid, url, title, text\n"
	"      --no-headings    drop section headings\n"
	"      --namespaces LIST  comma-separated namespace numbers to keep\n"
	"                       (default 0, the articles)\n"
	"  -j, --threads N      threads parsing pages, and as many decoding bzip2\n"
	"                       (default: the number of cores); the output is the\n"
	"                       same for every N\n"
	"  -v, --verbose        report pages, articles and redirects at the end\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n"
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

enum { OPT_JSON = 256, OPT_NOHEAD, OPT_NS, OPT_VERSION };

static const struct option longopts[] = {
	{"output", required_argument, NULL, 'o'},
	{"bytes", required_argument, NULL, 'b'},
	{"compress", no_argument, NULL, 'c'},
	{"json", no_argument, NULL, OPT_JSON},
	{"no-headings", no_argument, NULL, OPT_NOHEAD},
	{"namespaces", required_argument, NULL, OPT_NS},
	{"threads", required_argument, NULL, 'j'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
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

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	nys_wiki_opts o = {.file_size = 1 << 20};
	long ns[64];
	bool have_b = false, verbose = false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.threads = ncpu > 0 ? (unsigned)ncpu : 1;
	nys_err e;
	int c;
	while ((c = getopt_long(argc, argv, "o:b:cj:vh", longopts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'o': o.output = optarg; break;
		case 'b':
			if (nys_parse_size(optarg, 1024, (uint64_t)1 << 40, &o.file_size, "-b", &e))
				goto bad;
			have_b = true;
			break;
		case 'c': o.compress = true; break;
		case OPT_JSON: o.json = true; break;
		case OPT_NOHEAD: o.flags |= NYS_WIKITEXT_NO_HEADINGS; break;
		case OPT_NS:
			if (parse_namespaces(optarg, ns, 64, &o.n_namespaces, &e))
				goto bad;
			o.namespaces = ns;
			break;
		case 'j':
			if (nys_parse_u64(optarg, 1, 256, &v, "-j", &e))
				goto bad;
			o.threads = (unsigned)v;
			break;
		case 'v': verbose = true; break;
		case 'h': return nys_print_stdout(usage) || nys_print_stdout(help) ? 1 : 0;
		case OPT_VERSION: return nys_print_stdout("wikiextract (nys) " NYS_VERSION "\n") ? 1 : 0;
		default: nys_usage_error(usage, NULL); return 2;
		}
	}
	struct stat st;
	if (o.output && strcmp(o.output, "-") &&
	    (have_b || (stat(o.output, &st) == 0 && S_ISDIR(st.st_mode)))) {
		o.outdir = o.output;
		o.output = NULL;
	} else if (have_b || o.compress) {
		nys_usage_error(usage, "-b and -c need -o DIR");
		return 2;
	}
	nys_out_cleanup_on_signals();
	nys_wiki_stats stats;
	int rc = nys_wiki_extract((const char *const *)argv + optind, (size_t)(argc - optind), &o, &stats, &e);
	if (rc)
		nys_warnx("%s", e.msg);
	if (verbose || (isatty(2) && !rc))
		nys_warnx("%llu pages, %llu articles, %llu redirects, %llu in other namespaces, %.1f MB of XML",
		          (unsigned long long)stats.pages, (unsigned long long)stats.articles,
		          (unsigned long long)stats.redirects, (unsigned long long)stats.other_ns,
		          (double)stats.xml_bytes / 1e6);
	return rc ? 1 : 0;
bad:
	nys_usage_error(usage, "%s", e.msg);
	return 2;
}
