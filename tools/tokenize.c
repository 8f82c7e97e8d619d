/* tokenize: sentencepiece models and token streams (train, encode, decode,
 * info). */
#include "nys_cli.h"
#include "nys_tokenize.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: tokenize train -o PREFIX --vocab-size N [options] [FILE...]\n"
	"       tokenize encode -m MODEL [-j N] [-o FILE] [--format tokens|ids] [--lower] [FILE...]\n"
	"       tokenize decode [-m MODEL] [-o FILE] [--format tokens|ids] [FILE...]\n"
	"       tokenize info FILE...\n"
	"       tokenize --help | --version\n";

/* the end of every --help of tokenize, after the option lines */
static const char tail[] =
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static const char help[] =
	"\n"
	"Train sentencepiece models on unified text (nys-text(5)) and turn the\n"
	"text into token streams for shard(1).\n"
	"\n"
	"  train    train a model: PREFIX.model and PREFIX.vocab\n"
	"  encode   unified text to a token stream (or to ids as text)\n"
	"  decode   a token stream back to text, one document a line\n"
	"  info     a token stream's header and counts, checksums verified\n"
	"\n"
	"`tokenize COMMAND --help` describes each command.\n"
	"\n";

enum {
	OPT_VOCAB = 256, OPT_TYPE, OPT_LOWER, OPT_SEED, OPT_USER,
	OPT_MAXLEN, OPT_SAMPLE, OPT_FORMAT, OPT_MAXLINE,
};

/* The options encode and decode share, -m, -o and -f, when c is one of
 * them: 0, or 2 after the usage error of a bad --format. */
static int stream_opt(const nys_cli *cl, int c, const char **model, const char **output,
                      nys_tok_format *f)
{
	if (c == 'm')
		*model = optarg;
	else if (c == 'o')
		*output = optarg;
	else if (c == 'f' && !strcmp(optarg, "tokens"))
		*f = NYS_FORMAT_TOKENS;
	else if (c == 'f' && !strcmp(optarg, "ids"))
		*f = NYS_FORMAT_IDS;
	else if (c == 'f')
		return nys_cli_usage(cl, "--format: '%s' is not tokens or ids", optarg);
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
	"\n";

static const nys_cli_opt train_opts[] = {
	{"output", 'o', "PREFIX", 0, "write PREFIX.model and PREFIX.vocab"},
	{"vocab-size", 'n', "N", 0, "pieces in the vocabulary (required)"},
	{"model-type", 't', "T", 0, "unigram (default) or bpe"},
	{"lower", 0, NULL, OPT_LOWER, "lower-case the text first (for uncased models)"},
	{"seed", 0, "N", OPT_SEED, "sentencepiece's random seed (default 42)"},
	{"user-symbols", 0, "LIST", OPT_USER, "comma-separated pieces always kept whole,\n"
	                                      "after [MASK] (ALBERT's: (,),\",-,.,–,£,€)"},
	{"max-sentence-length", 0, "N", OPT_MAXLEN, "skip longer lines (bytes, default 4192;\n"
	                                            "read through, never held in memory)"},
	{"input-sentence-size", 0, "N", OPT_SAMPLE, "sample at most N lines (default 10000000)"},
	{"verbose", 'v', NULL, 0, "show sentencepiece's training log"},
	{0},
};

static int cmd_train(nys_cli *cl)
{
	nys_spm_train_opts o;
	nys_spm_train_defaults(&o);
	const char *prefix = NULL;
	nys_err e;
	uint64_t v = 0;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'o': prefix = optarg; break;
		case 'n':
			nys_cli_u64(cl, 1, 1u << 30, "--vocab-size", &v);
			o.vocab_size = (uint32_t)v;
			break;
		case 't':
			if (!strcmp(optarg, "unigram"))
				o.model_type = NYS_SPM_UNIGRAM;
			else if (!strcmp(optarg, "bpe"))
				o.model_type = NYS_SPM_BPE;
			else
				return nys_cli_usage(cl, "--model-type: '%s' is not unigram or bpe", optarg);
			break;
		case OPT_LOWER: o.lower = true; break;
		case OPT_SEED:
			nys_cli_u64(cl, 0, UINT32_MAX - 1, "--seed", &v);
			o.seed = (uint32_t)v;
			break;
		case OPT_USER: o.user_symbols = optarg; break;
		case OPT_MAXLEN:
			nys_cli_u64(cl, 1, INT32_MAX, "--max-sentence-length", &v);
			o.max_sentence_length = (uint32_t)v;
			break;
		case OPT_SAMPLE:
			nys_cli_u64(cl, 100, 1000000000, "--input-sentence-size", &v);
			o.input_sentence_size = (uint32_t)v;
			break;
		case 'v': o.verbose = true; break;
		}
	}
	if (c < 0)
		return cl->status;
	if (!prefix || !*prefix)
		return nys_cli_usage(cl, "-o PREFIX is required");
	if (!o.vocab_size)
		return nys_cli_usage(cl, "--vocab-size N is required");
	nys_out_cleanup_on_signals();
	uint32_t size = 0;
	uint64_t skipped = 0;
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	if (nys_tokenize_train(files, n, &o, prefix, &size, &skipped, &e)) {
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
	"\n";

/* -m and -o, as encode and decode have them */
#define OPT_MODEL(help) {"model", 'm', "MODEL", 0, help}
#define OPT_OUTPUT {"output", 'o', "FILE", 0, "write to FILE instead of stdout"}

static const nys_cli_opt encode_opts[] = {
	OPT_MODEL("the sentencepiece model (required)"),
	OPT_OUTPUT,
	{"format", 'f', "F", 0, "tokens: a token stream, nys-tokens(5) (default;\n"
	                        "refused on a terminal); ids: a document a line,\n"
	                        "its ids separated by spaces"},
	{"lower", 0, NULL, OPT_LOWER, "lower-case the text first, as Python's str.lower()\n"
	                              "(ALBERT's uncased models expect it)"},
	{"max-line", 0, "BYTES", OPT_MAXLINE, "refuse longer lines (exit 1; default 1M, at most 1G;\n"
	                                      "encoding takes about 100 bytes of memory per byte\n"
	                                      "of a line, per thread)"},
	NYS_CLI_OPT_JOBS("encoding threads, and as many decoding bzip2 input\n"
	                 "(default: the number of cores); the output is the\n"
	                 "same for every N"),
	{"verbose", 'v', NULL, 0, "report documents and tokens at the end"},
	{0},
};

static int cmd_encode(nys_cli *cl)
{
	nys_encode_opts o = {.format = NYS_FORMAT_TOKENS, .max_line = NYS_ENCODE_MAX_LINE};
	const char *model = NULL;
	bool verbose = false;
	nys_err e;
	uint64_t v = 0;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		if (stream_opt(cl, c, &model, &o.output, &o.format))
			return 2;
		switch (c) {
		case OPT_LOWER: o.lower = true; break;
		case OPT_MAXLINE:
			nys_cli_size(cl, 1, (uint64_t)1 << 30, "--max-line", &v);
			o.max_line = (size_t)v;
			break;
		case 'v': verbose = true; break;
		}
	}
	if (c < 0)
		return cl->status;
	o.threads = cl->threads;
	if (!model)
		return nys_cli_usage(cl, "-m MODEL is required");
	nys_spm *m = load_model(model);
	if (!m)
		return 1;
	o.model = m;
	nys_out_cleanup_on_signals();
	nys_encode_stats st;
	double t0 = nys_now();
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	int rc = nys_tokenize_encode(files, n, &o, &st, &e);
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
	"\n";

static const nys_cli_opt decode_opts[] = {
	OPT_MODEL("the sentencepiece model"),
	OPT_OUTPUT,
	{"format", 'f', "F", 0, "the input: tokens, a token stream (default), or\n"
	                        "ids, lines of space-separated ids (needs -m)"},
	{0},
};

static int cmd_decode(nys_cli *cl)
{
	nys_decode_opts o = {.format = NYS_FORMAT_TOKENS};
	const char *model = NULL;
	nys_err e;
	int c;
	while ((c = nys_cli_next(cl)) > 0)
		if (stream_opt(cl, c, &model, &o.output, &o.format))
			return 2;
	if (c < 0)
		return cl->status;
	if (o.format == NYS_FORMAT_IDS && !model)
		return nys_cli_usage(cl, "--format ids needs -m MODEL");
	nys_spm *m = NULL;
	if (model && !(m = load_model(model)))
		return 1;
	o.model = m;
	nys_out_cleanup_on_signals();
	uint64_t docs;
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	int rc = nys_tokenize_decode(files, n, &o, &docs, &e);
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
	"\n";

static int cmd_info(nys_cli *cl)
{
	nys_err e;
	if (nys_cli_next(cl) < 0)
		return cl->status;
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	if (!n)
		return nys_cli_usage(cl, "no FILE");
	nys_out *out = nys_out_open(NULL, 0, &e);
	if (!out) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && nys_out_write(out, "\n", 1, &e)) {
			nys_warnx("%s", e.msg);
			rc = 1;
			break;
		}
		if (nys_tokenize_info(files[i], out, &e)) {
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
#define CMD(cmd, f, table, fn) \
	{#cmd, cmd##_usage, cmd##_help, .flags = f, .run = fn, .opts = table, .tail = tail}
	static const nys_cli_cmd cmds[] = {
		CMD(train, 0, train_opts, cmd_train),
		CMD(encode, NYS_CLI_JOBS, encode_opts, cmd_encode),
		CMD(decode, 0, decode_opts, cmd_decode),
		CMD(info, 0, NULL, cmd_info),
		{0},
	};
	static const nys_cli_prog prog = {
		.self = {"tokenize", usage, help, .tail = tail},
		.cmds = cmds, .cmd_word = "command", .no_cmd = "no command"};
	return nys_cli_main(&prog, argc, argv);
}
