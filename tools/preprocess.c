/* preprocess: pretraining corpora to the unified text format (nys-text(5)). */
#include "nys_cli.h"
#include "nys_preprocess.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: preprocess -f FORMAT [--min-words N] [--strict] [-q]\n"
	"                  [-o DIR [--name NAME] [--partition-words N]]\n"
	"                  [--keep-boilerplate] [--files-from LIST] [FILE...]\n";

static const char help[] =
	"Convert a pretraining corpus to the unified text format of nys-text(5):\n"
	"one normalised line per paragraph (or sentence), an empty line after\n"
	"each document.  FILE may be plain, .bz2 or .zst; - or none is stdin; a\n"
	"directory is read recursively, its files sorted by name.\n"
	"\n";

enum { OPT_PARTWORDS = 256, OPT_FILESFROM, OPT_KEEPBP, OPT_STRICT };

static const nys_cli_opt opts[] = {
	{"format", 'f', "FORMAT", 0,
	 "the input format:\n"
	 "  wiki        WikiExtractor <doc> blocks or JSON lines\n"
	 "  bookcorpus  a sentence a line, documents end at\n"
	 "              empty lines and at the end of a file\n"
	 "  realnews    JSON lines, the \"text\" field\n"
	 "  stories     each file is one document\n"
	 "  text        hard-wrapped books, each file one\n"
	 "              document, paragraphs joined into lines"},
	{"min-words", 'm', "N", 0, "drop documents of fewer than N words (default 128\n"
	                           "for wiki, 1000 for realnews, 0 for the others)"},
	{"output", 'o', "DIR", 0, "write zstd partitions DIR/NAME-partition-NNNN.txt.zst\n"
	                          "instead of stdout (DIR is created if missing)"},
	{"name", 'n', "NAME", 0, "the partitions' name (default: the format's name)"},
	{"partition-words", 0, "N", OPT_PARTWORDS, "words per partition (default 20000000); a\n"
	                                           "partition ends after the document that passes N"},
	{"files-from", 0, "LIST", OPT_FILESFROM, "also read the files named in LIST, one a line\n"
	                                         "(- is stdin)"},
	{"keep-boilerplate", 0, NULL, OPT_KEEPBP, "text: keep Project Gutenberg headers and licence"},
	{"strict", 0, NULL, OPT_STRICT, "a broken record (bad JSON line, <doc> without\n"
	                                "</doc>) is an error instead of a warning"},
	NYS_CLI_OPT_QUIET("no report of the document counts at the end"),
	{0},
};

static const char tail[] =
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static int preprocess(nys_cli *cl)
{
	nys_pp_opts o = {0};
	bool have_format = false, have_min = false;
	bool have_partwords = false;
	nys_err e;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'f':
			if (nys_pp_format_parse(optarg, &o.format))
				return nys_cli_usage(cl, "-f: unknown format '%s' (one of %s)", optarg,
				                     nys_pp_format_list());
			have_format = true;
			break;
		case 'm':
			have_min = !nys_cli_u64(cl, 0, UINT64_C(1) << 40, "--min-words", &o.min_words);
			break;
		case 'o': o.outdir = optarg; break;
		case 'n': o.name = optarg; break;
		case OPT_PARTWORDS:
			have_partwords = !nys_cli_u64(cl, 1, UINT64_C(1) << 40, "--partition-words",
			                              &o.partition_words);
			break;
		case OPT_FILESFROM: o.files_from = optarg; break;
		case OPT_KEEPBP: o.keep_boilerplate = true; break;
		case OPT_STRICT: o.strict = true; break;
		}
	}
	if (c < 0)
		return cl->status;
	if (!have_format)
		return nys_cli_usage(cl, "-f FORMAT is required (one of %s)", nys_pp_format_list());
	if (!o.outdir && (o.name || have_partwords))
		return nys_cli_usage(cl, "--name and --partition-words need -o DIR");
	if (o.outdir && !*o.outdir)
		return nys_cli_usage(cl, "-o: empty directory name");
	if (o.name && nys_name_check(o.name, "--name", &e))
		return nys_cli_usage(cl, "%s", e.msg);
	if (o.outdir && !o.name)
		o.name = nys_pp_format_name(o.format);
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	if (o.files_from && !strcmp(o.files_from, "-"))
		for (size_t i = 0; i < n; i++)
			if (!strcmp(files[i], "-"))
				return nys_cli_usage(cl, "stdin cannot be both --files-from and a FILE");
	if (!have_min)
		o.min_words = nys_pp_default_min_words(o.format);

	nys_out_cleanup_on_signals();
	nys_pp_stats st;
	int rc = nys_pp_run(files, n, &o, &st, &e);
	if (rc) {
		/* nothing was written to DIR; counts would only mislead */
		nys_warnx("%s", e.msg);
		return 1;
	}
	if (!cl->quiet) {
		nys_warnx("%llu documents read, %llu kept, %llu dropped (under %llu words), %llu skipped",
		          (unsigned long long)st.read, (unsigned long long)st.kept,
		          (unsigned long long)st.dropped, (unsigned long long)o.min_words,
		          (unsigned long long)st.skipped);
		if (o.outdir)
			nys_warnx("%llu words in %llu partitions in %s", (unsigned long long)st.words,
			          (unsigned long long)st.partitions, o.outdir);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const nys_cli_prog prog = {
		.self = {"preprocess", usage, help, .flags = NYS_CLI_QUIET, .run = preprocess,
		         .opts = opts, .tail = tail}};
	return nys_cli_main(&prog, argc, argv);
}
