/* tokenize: sentencepiece models and token streams (train, encode, decode,
 * info). */
#include "nys_tokenize.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: tokenize train -o PREFIX --vocab-size N [options] [FILE...]\n"
	"       tokenize encode -m MODEL [-j N] [-o FILE] [--format tokens|ids] [--lower] [FILE...]\n"
	"       tokenize decode [-m MODEL] [-o FILE] [--format tokens|ids] [FILE...]\n"
	"       tokenize info FILE...\n"
	"       tokenize --help | --version\n";

static const char help[] =
	"Train sentencepiece models on unified text (nys-text(5)) and turn the\n"
	"text into token streams for shard(1).\n"
	"\n"
	"  train    train a model: PREFIX.model and PREFIX.vocab\n"
	"  encode   unified text to a token stream (or to ids as text)\n"
	"  decode   a token stream back to text, one document a line\n"
	"  info     a token stream's header and counts, checksums verified\n"
	"\n"
	"`tokenize COMMAND --help` describes each command.\n"
	"\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n"
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static const char exit_status[] =
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

enum {
	OPT_VERSION = 256, OPT_VOCAB, OPT_TYPE, OPT_LOWER, OPT_SEED, OPT_USER,
	OPT_MAXLEN, OPT_SAMPLE, OPT_FORMAT, OPT_MAXLINE,
};

static int print_help(const char *u, const char *h)
{
	return nys_print_stdout(u) || nys_print_stdout(h) || nys_print_stdout(exit_status) ? 1 : 0;
}

static int version(void)
{
	return nys_print_stdout("tokenize (nys) " NYS_VERSION "\n") ? 1 : 0;
}

static int parse_format(const char *s, nys_tok_format *f)
{
	if (!strcmp(s, "tokens"))
		*f = NYS_FORMAT_TOKENS;
	else if (!strcmp(s, "ids"))
		*f = NYS_FORMAT_IDS;
	else
		return -1;
	return 0;
}

static nys_spm *load_model(const char *path)
{
	nys_err e;
	nys_spm *m = nys_spm_load(path, &e);
	if (!m)
		nys_warnx("%s", e.msg);
	return m;
}

/* ---- train ----------------------------------------------------------------- */

static const char train_usage[] =
	"usage: tokenize train -o PREFIX --vocab-size N [--model-type unigram|bpe]\n"
	"                      [--lower] [--seed N] [--user-symbols LIST]\n"
	"                      [--max-sentence-length N] [--input-sentence-size N]\n"
	"                      [-v] [FILE...]\n";

static const char train_help[] =
	"Train a sentencepiece model on unified text (plain, .bz2 or .zst; - or\n"
	"none is stdin): every non-empty line (a paragraph) is a sentence.  The\n"
	"special pieces follow ALBERT: 0 <pad>, 1 <unk>, 2 [CLS], 3 [SEP],\n"
	"4 [MASK]; no <s> or </s>.  The same input and seed give the same model.\n"
	"\n"
	"  -o, --output PREFIX  write PREFIX.model and PREFIX.vocab\n"
	"  -n, --vocab-size N   pieces in the vocabulary (required)\n"
	"  -t, --model-type T   unigram (default) or bpe\n"
	"      --lower          lower-case the text first (for uncased models)\n"
	"      --seed N         sentencepiece's random seed (default 42)\n"
	"      --user-symbols LIST  comma-separated pieces always kept whole,\n"
	"                       after [MASK] (ALBERT's: (,),\",-,.,–,£,€)\n"
	"      --max-sentence-length N  skip longer lines (bytes, default 4192;\n"
	"                       read through, never held in memory)\n"
	"      --input-sentence-size N  sample at most N lines (default 10000000)\n"
	"  -v, --verbose        show sentencepiece's training log\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

static const struct option train_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"vocab-size", required_argument, NULL, 'n'},
	{"model-type", required_argument, NULL, 't'},
	{"lower", no_argument, NULL, OPT_LOWER},
	{"seed", required_argument, NULL, OPT_SEED},
	{"user-symbols", required_argument, NULL, OPT_USER},
	{"max-sentence-length", required_argument, NULL, OPT_MAXLEN},
	{"input-sentence-size", required_argument, NULL, OPT_SAMPLE},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static int cmd_train(int argc, char **argv)
{
	nys_spm_train_opts o;
	nys_spm_train_defaults(&o);
	const char *prefix = NULL;
	nys_err e;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "o:n:t:vh", train_opts, NULL)) != -1) {
		switch (c) {
		case 'o': prefix = optarg; break;
		case 'n':
			if (nys_parse_u64(optarg, 1, 1u << 30, &v, "--vocab-size", &e))
				goto bad;
			o.vocab_size = (uint32_t)v;
			break;
		case 't':
			if (!strcmp(optarg, "unigram"))
				o.model_type = NYS_SPM_UNIGRAM;
			else if (!strcmp(optarg, "bpe"))
				o.model_type = NYS_SPM_BPE;
			else {
				nys_usage_error(train_usage, "--model-type: '%s' is not unigram or bpe", optarg);
				return 2;
			}
			break;
		case OPT_LOWER: o.lower = true; break;
		case OPT_SEED:
			if (nys_parse_u64(optarg, 0, UINT32_MAX - 1, &v, "--seed", &e))
				goto bad;
			o.seed = (uint32_t)v;
			break;
		case OPT_USER: o.user_symbols = optarg; break;
		case OPT_MAXLEN:
			if (nys_parse_u64(optarg, 1, INT32_MAX, &v, "--max-sentence-length", &e))
				goto bad;
			o.max_sentence_length = (uint32_t)v;
			break;
		case OPT_SAMPLE:
			if (nys_parse_u64(optarg, 100, 1000000000, &v, "--input-sentence-size", &e))
				goto bad;
			o.input_sentence_size = (uint32_t)v;
			break;
		case 'v': o.verbose = true; break;
		case 'h': return print_help(train_usage, train_help);
		case OPT_VERSION: return version();
		default: nys_usage_error(train_usage, NULL); return 2;
		}
	}
	if (!prefix || !*prefix) {
		nys_usage_error(train_usage, "-o PREFIX is required");
		return 2;
	}
	if (!o.vocab_size) {
		nys_usage_error(train_usage, "--vocab-size N is required");
		return 2;
	}
	nys_out_cleanup_on_signals();
	uint32_t size = 0;
	uint64_t skipped = 0;
	if (nys_tokenize_train((const char *const *)argv + optind, (size_t)(argc - optind), &o,
	                       prefix, &size, &skipped, &e)) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	if (o.verbose || isatty(2)) {
		nys_warnx("%s.model and %s.vocab: %u pieces", prefix, prefix, size);
		if (skipped)
			nys_warnx("%llu line%s longer than %u bytes skipped (--max-sentence-length)",
			          (unsigned long long)skipped, skipped == 1 ? "" : "s",
			          o.max_sentence_length);
	}
	return 0;
bad:
	nys_usage_error(train_usage, "%s", e.msg);
	return 2;
}

/* ---- encode ---------------------------------------------------------------- */

static const char encode_usage[] =
	"usage: tokenize encode -m MODEL [-j N] [-o FILE] [--format tokens|ids]\n"
	"                       [--lower] [--max-line BYTES] [-v] [FILE...]\n";

static const char encode_help[] =
	"Encode unified text (plain, .bz2 or .zst; - or none is stdin) with a\n"
	"sentencepiece model.  Every non-empty line is encoded on its own, with\n"
	"exactly the ids of spm_encode --output_format=id; a document is the ids\n"
	"of its lines in order.  Empty lines and the end of each FILE end\n"
	"documents.\n"
	"\n"
	"  -m, --model MODEL    the sentencepiece model (required)\n"
	"  -o, --output FILE    write to FILE instead of stdout\n"
	"  -f, --format F       tokens: a token stream, nys-tokens(5) (default;\n"
	"                       refused on a terminal); ids: a document a line,\n"
	"                       its ids separated by spaces\n"
	"      --lower          lower-case the text first, as Python's str.lower()\n"
	"                       (ALBERT's uncased models expect it)\n"
	"      --max-line BYTES refuse longer lines (exit 1; default 1M, at most 1G;\n"
	"                       encoding takes about 100 bytes of memory per byte\n"
	"                       of a line, per thread)\n"
	"  -j, --threads N      encoding threads, and as many decoding bzip2 input\n"
	"                       (default: the number of cores); the output is the\n"
	"                       same for every N\n"
	"  -v, --verbose        report documents and tokens at the end\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

static const struct option encode_opts[] = {
	{"model", required_argument, NULL, 'm'},
	{"output", required_argument, NULL, 'o'},
	{"format", required_argument, NULL, 'f'},
	{"lower", no_argument, NULL, OPT_LOWER},
	{"max-line", required_argument, NULL, OPT_MAXLINE},
	{"threads", required_argument, NULL, 'j'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static int cmd_encode(int argc, char **argv)
{
	nys_encode_opts o = {.format = NYS_FORMAT_TOKENS, .max_line = NYS_ENCODE_MAX_LINE};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.threads = ncpu > 0 ? (unsigned)ncpu : 1;
	const char *model = NULL;
	bool verbose = false;
	nys_err e;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "m:o:f:j:vh", encode_opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'o': o.output = optarg; break;
		case 'f':
			if (parse_format(optarg, &o.format)) {
				nys_usage_error(encode_usage, "--format: '%s' is not tokens or ids", optarg);
				return 2;
			}
			break;
		case OPT_LOWER: o.lower = true; break;
		case OPT_MAXLINE:
			if (nys_parse_size(optarg, 1, (uint64_t)1 << 30, &v, "--max-line", &e))
				goto bad;
			o.max_line = (size_t)v;
			break;
		case 'j':
			if (nys_parse_u64(optarg, 1, 256, &v, "-j", &e))
				goto bad;
			o.threads = (unsigned)v;
			break;
		case 'v': verbose = true; break;
		case 'h': return print_help(encode_usage, encode_help);
		case OPT_VERSION: return version();
		default: nys_usage_error(encode_usage, NULL); return 2;
		}
	}
	if (!model) {
		nys_usage_error(encode_usage, "-m MODEL is required");
		return 2;
	}
	nys_spm *m = load_model(model);
	if (!m)
		return 1;
	o.model = m;
	nys_out_cleanup_on_signals();
	nys_encode_stats st;
	double t0 = nys_now();
	int rc = nys_tokenize_encode((const char *const *)argv + optind, (size_t)(argc - optind),
	                             &o, &st, &e);
	if (rc)
		nys_warnx("%s", e.msg);
	else if (verbose || isatty(2)) {
		double t = nys_now() - t0;
		nys_warnx("%llu documents, %llu lines, %llu tokens; %.1f MB of text in %.2f s "
		          "(%.1f MB/s, %.0f tokens/s, %u threads)",
		          (unsigned long long)st.docs, (unsigned long long)st.lines,
		          (unsigned long long)st.tokens, (double)st.bytes / 1e6, t,
		          (double)st.bytes / 1e6 / (t > 0 ? t : 1e-9),
		          (double)st.tokens / (t > 0 ? t : 1e-9), o.threads);
	}
	nys_spm_free(m);
	return rc ? 1 : 0;
bad:
	nys_usage_error(encode_usage, "%s", e.msg);
	return 2;
}

/* ---- decode ---------------------------------------------------------------- */

static const char decode_usage[] =
	"usage: tokenize decode [-m MODEL] [-o FILE] [--format tokens|ids] [FILE...]\n";

static const char decode_help[] =
	"Decode token streams (- or none is stdin) to text: one line per document,\n"
	"its ids detokenised as one sequence (so its paragraphs come out joined\n"
	"by spaces).  The model must be the one the stream was made with (its\n"
	"fingerprint is checked).  Without -m, write each document's ids instead,\n"
	"as encode --format ids does.\n"
	"\n"
	"  -m, --model MODEL    the sentencepiece model\n"
	"  -o, --output FILE    write to FILE instead of stdout\n"
	"  -f, --format F       the input: tokens, a token stream (default), or\n"
	"                       ids, lines of space-separated ids (needs -m)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

static const struct option decode_opts[] = {
	{"model", required_argument, NULL, 'm'},
	{"output", required_argument, NULL, 'o'},
	{"format", required_argument, NULL, 'f'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static int cmd_decode(int argc, char **argv)
{
	nys_decode_opts o = {.format = NYS_FORMAT_TOKENS};
	const char *model = NULL;
	nys_err e;
	int c;
	while ((c = getopt_long(argc, argv, "m:o:f:h", decode_opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'o': o.output = optarg; break;
		case 'f':
			if (parse_format(optarg, &o.format)) {
				nys_usage_error(decode_usage, "--format: '%s' is not tokens or ids", optarg);
				return 2;
			}
			break;
		case 'h': return print_help(decode_usage, decode_help);
		case OPT_VERSION: return version();
		default: nys_usage_error(decode_usage, NULL); return 2;
		}
	}
	if (o.format == NYS_FORMAT_IDS && !model) {
		nys_usage_error(decode_usage, "--format ids needs -m MODEL");
		return 2;
	}
	nys_spm *m = NULL;
	if (model && !(m = load_model(model)))
		return 1;
	o.model = m;
	nys_out_cleanup_on_signals();
	uint64_t docs;
	int rc = nys_tokenize_decode((const char *const *)argv + optind, (size_t)(argc - optind),
	                             &o, &docs, &e);
	if (rc)
		nys_warnx("%s", e.msg);
	nys_spm_free(m);
	return rc ? 1 : 0;
}

/* ---- info ------------------------------------------------------------------ */

static const char info_usage[] = "usage: tokenize info FILE...\n";

static const char info_help[] =
	"Read token streams (- is stdin) through and describe each: the header\n"
	"(version, id width, vocabulary size, model fingerprint) and the counts\n"
	"(segments, documents, tokens, the longest document), as \"key: value\"\n"
	"lines, a blank line between files.  Every segment's counts and checksum\n"
	"are verified.\n"
	"\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

static const struct option info_opts[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static int cmd_info(int argc, char **argv)
{
	nys_err e;
	int c;
	while ((c = getopt_long(argc, argv, "h", info_opts, NULL)) != -1) {
		switch (c) {
		case 'h': return print_help(info_usage, info_help);
		case OPT_VERSION: return version();
		default: nys_usage_error(info_usage, NULL); return 2;
		}
	}
	if (optind == argc) {
		nys_usage_error(info_usage, "no FILE");
		return 2;
	}
	nys_out *out = nys_out_open(NULL, 0, &e);
	if (!out) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		if (i > optind && nys_out_write(out, "\n", 1, &e)) {
			nys_warnx("%s", e.msg);
			rc = 1;
			break;
		}
		if (nys_tokenize_info(argv[i], out, &e)) {
			nys_warnx("%s", e.msg);
			rc = 1;
		}
	}
	if (nys_out_commit(out, &e)) {
		nys_warnx("%s", e.msg);
		rc = 1;
	}
	return rc;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	if (argc < 2) {
		nys_usage_error(usage, "no command");
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		return nys_print_stdout(usage) || nys_print_stdout("\n") || nys_print_stdout(help) ? 1 : 0;
	if (!strcmp(cmd, "--version"))
		return version();
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} cmds[] = {
		{"train", cmd_train},
		{"encode", cmd_encode},
		{"decode", cmd_decode},
		{"info", cmd_info},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	nys_usage_error(usage, "unknown command '%s'", cmd);
	return 2;
}
