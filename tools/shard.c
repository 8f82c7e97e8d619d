/* shard, shard-N: token streams (nys-tokens(5)) to shards of fixed-length
 * training sequences (nys-shard(5)), and `shard cat|info|verify` on them. */
#include "nys_cli.h"
#include "nys_shard.h"
#include "nys_shard_cut.h"
#include "nys_shard_inspect.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: shard-N [-o DIR] [--name NAME] [--keep P] [--seed S] [-k K]\n"
	"               [--cls ID] [--sep ID] [--split-seed S] [--dev-fraction F]\n"
	"               [--level L] [-q] [FILE...]\n"
	"       shard -n N [OPTION...] [FILE...]\n"
	"       shard cat [-n MAX] [FILE...]\n"
	"       shard info FILE|DIR...\n"
	"       shard verify FILE|DIR...\n";

static const char help[] =
	"Cut token streams (nys-tokens(5), as `tokenize encode` writes them) into\n"
	"sequences of N tokens, [CLS] + N-2 tokens + [SEP], and write them as\n"
	"shards DIR/NAME-NNNNN.shard (nys-shard(5)) with the lists DIR/train.json\n"
	"and DIR/dev.json, as the original Nystromformer pipeline did.  The\n"
	"documents of all FILEs (- or none: stdin) are one flat run of tokens,\n"
	"without separators; the last block, if short, is dropped.  The name sets\n"
	"N: shard-512, shard-4096 or any shard-N link; plain shard needs -n N.\n"
	"\n";

/* what shard's --help prints after its option lines */
static const char tail[] =
	"\n"
	"  shard cat [-n MAX] [FILE...]  the sequences as lines of ids\n"
	"  shard info FILE|DIR...        header of a shard; summary of a directory\n"
	"  shard verify FILE|DIR...      read everything, check every checksum and\n"
	"                                count, and a directory's lists\n"
	"('shard SUBCOMMAND --help' for theirs; a FILE named cat is ./cat.)\n"
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static const char cat_usage[] = "usage: shard cat [-n MAX] [FILE...]\n";
static const char cat_help[] =
	"Print the sequences of shards, one a line, as ids separated by spaces,\n"
	"[CLS] and [SEP] included.  - or no FILE is stdin.  Each shard is checked\n"
	"as it is read; a damaged one is an error after the lines before it.\n"
	"\n";

static const char info_usage[] = "usage: shard info FILE|DIR...\n";
static const char info_help[] =
	"Summarise shards: for a FILE its header (sequences, length, width,\n"
	"vocabulary, [CLS], [SEP], model fingerprint) on one line; for a DIR its\n"
	"shards, sequences and tokens, their kind, each dataset and the lists.\n"
	"Only headers are read: use shard verify to check the data.\n"
	"\n";

static const char verify_usage[] = "usage: shard verify FILE|DIR...\n";
static const char verify_help[] =
	"Read shards whole and check them: header, every id, every sequence's\n"
	"[CLS] and [SEP], the length and the checksum.  For a DIR, every shard in\n"
	"it, that they are all of one kind, and that train.json and dev.json list\n"
	"each shard exactly once.  Prints 'PATH: ok, ...' lines; stops at the\n"
	"first problem with exit status 1.\n"
	"\n";

enum {
	OPT_NAME = 256, OPT_KEEP, OPT_SEED, OPT_CLS, OPT_SEP, OPT_SPLITSEED, OPT_DEVFRAC,
	OPT_LEVEL,
};

static const nys_cli_opt opts[] = {
	{"length", 'n', "N", 0, "tokens a sequence, [CLS] and [SEP] included"},
	{"output", 'o', "DIR", 0, "the shard directory (default .; created if missing)"},
	{"name", 0, "NAME", OPT_NAME, "the dataset's name (default data); its shards from\n"
	                              "an earlier run are replaced"},
	{"sequences", 'k', "K", 0, "sequences a shard (default 4194304/N: 8192 at 512)"},
	{"keep", 0, "P", OPT_KEEP, "keep each block with probability P (default 1)"},
	{"seed", 0, "S", OPT_SEED, "random.seed(S) for --keep (default 0)"},
	{"cls", 0, "ID", OPT_CLS, "the [CLS] id (default 2, as in ALBERT models)"},
	{"sep", 0, "ID", OPT_SEP, "the [SEP] id (default 3)"},
	{"split-seed", 0, "S", OPT_SPLITSEED, "random.seed(S) for the dev/train split (default 1)"},
	{"dev-fraction", 0, "F", OPT_DEVFRAC, "the share of all shards in DIR that go to dev.json\n"
	                                      "(default 0.1; int(shards * F) of them)"},
	{"level", 0, "L", OPT_LEVEL, "zstd level of the shards, 1 to 19 (default 1)"},
	NYS_CLI_OPT_QUIET("no report at the end"),
	{0},
};

/* A probability or fraction in [0, 1]: plain decimal notation only. */
static int parse_unit(const char *s, double *out, const char *what, nys_err *e)
{
	char *end;
	const char *d = s[0] == '.' ? s + 1 : s;
	if (!isdigit((unsigned char)*d) || strspn(s, "0123456789.eE+-") != strlen(s))
		return nys_err_set(e, "%s: '%s' is not a number", what, s);
	double v = strtod(s, &end);
	if (*end)
		return nys_err_set(e, "%s: '%s' is not a number", what, s);
	if (!(v >= 0 && v <= 1))
		return nys_err_set(e, "%s: '%s' is out of range (0 to 1)", what, s);
	*out = v;
	return 0;
}

/* N from a program name shard-N, else 0. */
static uint32_t len_from_name(const char *prog)
{
	if (strncmp(prog, "shard-", 6))
		return 0;
	uint64_t v;
	nys_err e;
	if (nys_parse_u64(prog + 6, NYS_SHARD_MIN_LEN, NYS_SHARD_MAX_LEN, &v, "", &e))
		return 0;
	return (uint32_t)v;
}

/* cat, info, verify: the output through one checked stdout. */
static int subcommand(nys_cli *cl)
{
	const char *cmd = cl->cmd->name;
	bool cat = !strcmp(cmd, "cat"), info = !strcmp(cmd, "info");
	uint64_t max = 0;
	nys_err e;
	int c;
	while ((c = nys_cli_next(cl)) > 0)
		if (c == 'n')
			nys_cli_u64(cl, 1, UINT64_MAX, "-n", &max);
	if (c < 0)
		return cl->status;
	const char *const *ops;
	size_t nops = nys_cli_operands(cl, &ops);
	static const char *const stdin_only[] = {"-"};
	if (!nops && !cat)
		return nys_cli_usage(cl, "%s: no FILE or DIR", cmd);
	if (!nops) {
		ops = stdin_only;
		nops = 1;
	}
	nys_out *out = nys_out_open(NULL, 0, &e);
	if (!out) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	int rc = 0;
	if (cat)
		rc = nys_shard_cat(ops, nops, max, out, &e);
	for (size_t i = 0; !cat && !rc && i < nops; i++)
		rc = info ? nys_shard_info(ops[i], out, &e) : nys_shard_verify_path(ops[i], out, &e);
	nys_err e2;
	if (nys_out_commit(out, &e2) && !rc) {
		e = e2;
		rc = -1;
	}
	if (rc)
		nys_warnx("%s", e.msg);
	return rc ? 1 : 0;
}

static int shard(nys_cli *cl)
{
	nys_shard_opts o = {
		.dir = ".", .name = "data", .seq_len = len_from_name(nys_prog()), .keep = 1,
		.cls_id = 2, .sep_id = 3, .split_seed = 1, .dev_fraction = 0.1, .progress = true,
	};
	uint64_t v = 0;
	nys_err e;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'n':
			nys_cli_u64(cl, NYS_SHARD_MIN_LEN, NYS_SHARD_MAX_LEN, "-n", &v);
			o.seq_len = (uint32_t)v;
			break;
		case 'o': o.dir = optarg; break;
		case OPT_NAME: o.name = optarg; break;
		case 'k':
			nys_cli_u64(cl, 1, UINT32_MAX, "-k", &v);
			o.per_shard = (uint32_t)v;
			break;
		case OPT_KEEP:
		case OPT_DEVFRAC:
			if (parse_unit(optarg, c == OPT_KEEP ? &o.keep : &o.dev_fraction,
			               c == OPT_KEEP ? "--keep" : "--dev-fraction", &e))
				return nys_cli_usage(cl, "%s", e.msg);
			break;
		case OPT_SEED: nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &o.seed); break;
		case OPT_CLS:
		case OPT_SEP:
			nys_cli_u64(cl, 0, UINT32_MAX - 1, c == OPT_CLS ? "--cls" : "--sep", &v);
			*(c == OPT_CLS ? &o.cls_id : &o.sep_id) = (uint32_t)v;
			break;
		case OPT_SPLITSEED: nys_cli_u64(cl, 0, UINT64_MAX, "--split-seed", &o.split_seed); break;
		case OPT_LEVEL:
			nys_cli_u64(cl, 1, 19, "--level", &v);
			o.level = (int)v;
			break;
		}
	}
	if (c < 0)
		return cl->status;
	if (!o.seq_len)
		return nys_cli_usage(cl, "no sequence length: use -n N, or run as shard-N "
		                     "(shard-512, ...)");
	if (!*o.dir)
		return nys_cli_usage(cl, "-o: empty directory name");
	if (nys_name_check(o.name, "--name", &e))
		return nys_cli_usage(cl, "%s", e.msg);
	if (o.per_shard && (uint64_t)o.per_shard * o.seq_len > NYS_SHARD_MAX_TOKENS)
		return nys_cli_usage(cl, "-k: %u sequences of %u tokens are more than a shard "
		                     "holds (%llu tokens)", o.per_shard, o.seq_len,
		                     (unsigned long long)NYS_SHARD_MAX_TOKENS);

	nys_out_cleanup_on_signals();
	nys_shard_stats st;
	const char *const *files;
	size_t n = nys_cli_operands(cl, &files);
	int rc = nys_shard_run(files, n, &o, &st, &e);
	if (rc) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	if (!cl->quiet) {
		nys_warnx("%llu documents, %llu tokens from %llu %s; %llu blocks of %u, %llu kept, "
		          "%llu tokens left over", (unsigned long long)st.docs,
		          (unsigned long long)st.tokens, (unsigned long long)st.files,
		          st.files == 1 ? "stream" : "streams", (unsigned long long)st.blocks,
		          o.seq_len - 2, (unsigned long long)st.kept, (unsigned long long)st.leftover);
		char stale[64] = "";
		if (st.stale)
			snprintf(stale, sizeof stale, " (%llu older removed)", (unsigned long long)st.stale);
		nys_warnx("%llu %s of %s in %s%s; %zu in train.json, %zu in dev.json",
		          (unsigned long long)st.shards, st.shards == 1 ? "shard" : "shards", o.name,
		          o.dir, stale, st.train, st.dev);
		nys_warnx("%.2f s, %.1f M tokens/s", st.seconds,
		          st.seconds > 0 ? (double)st.tokens / st.seconds / 1e6 : 0.0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const nys_cli_opt cat_opts[] = {
		{"max", 'n', "MAX", 0, "stop after MAX sequences in all"},
		{0},
	};
	/* the subcommands' help starts at column 18 */
#define CMD(cmd, table) \
	{#cmd, cmd##_usage, cmd##_help, .flags = NYS_CLI_NO_VERSION, .run = subcommand, \
	 .opts = table, .col = 18}
	static const nys_cli_cmd cmds[] = {
		CMD(cat, cat_opts),
		CMD(info, NULL),
		CMD(verify, NULL),
		{0},
	};
	static const nys_cli_prog prog = {
		.self = {"shard", usage, help, .flags = NYS_CLI_QUIET, .run = shard, .opts = opts,
		         .tail = tail},
		.cmds = cmds};
	return nys_cli_main(&prog, argc, argv);
}
