/* shard, shard-N: token streams (nys-tokens(5)) to shards of fixed-length
 * training sequences (nys-shard(5)), and `shard cat|info|verify` on them. */
#include "nys_shard.h"
#include "nys_shard_cut.h"
#include "nys_shard_inspect.h"

#include <ctype.h>
#include <getopt.h>
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
	"\n"
	"  -n, --length N       tokens a sequence, [CLS] and [SEP] included\n"
	"  -o, --output DIR     the shard directory (default .; created if missing)\n"
	"      --name NAME      the dataset's name (default data); its shards from\n"
	"                       an earlier run are replaced\n"
	"  -k, --sequences K    sequences a shard (default 4194304/N: 8192 at 512)\n"
	"      --keep P         keep each block with probability P (default 1)\n"
	"      --seed S         random.seed(S) for --keep (default 0)\n"
	"      --cls ID         the [CLS] id (default 2, as in ALBERT models)\n"
	"      --sep ID         the [SEP] id (default 3)\n"
	"      --split-seed S   random.seed(S) for the dev/train split (default 1)\n"
	"      --dev-fraction F the share of all shards in DIR that go to dev.json\n"
	"                       (default 0.1; int(shards * F) of them)\n"
	"      --level L        zstd level of the shards, 1 to 19 (default 1)\n"
	"  -q, --quiet          no report at the end\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n"
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
	"\n"
	"  -n, --max MAX   stop after MAX sequences in all\n"
	"  -h, --help      show this help and exit\n";

static const char info_usage[] = "usage: shard info FILE|DIR...\n";
static const char info_help[] =
	"Summarise shards: for a FILE its header (sequences, length, width,\n"
	"vocabulary, [CLS], [SEP], model fingerprint) on one line; for a DIR its\n"
	"shards, sequences and tokens, their kind, each dataset and the lists.\n"
	"Only headers are read: use shard verify to check the data.\n"
	"\n"
	"  -h, --help      show this help and exit\n";

static const char verify_usage[] = "usage: shard verify FILE|DIR...\n";
static const char verify_help[] =
	"Read shards whole and check them: header, every id, every sequence's\n"
	"[CLS] and [SEP], the length and the checksum.  For a DIR, every shard in\n"
	"it, that they are all of one kind, and that train.json and dev.json list\n"
	"each shard exactly once.  Prints 'PATH: ok, ...' lines; stops at the\n"
	"first problem with exit status 1.\n"
	"\n"
	"  -h, --help      show this help and exit\n";

enum {
	OPT_NAME = 256, OPT_KEEP, OPT_SEED, OPT_CLS, OPT_SEP, OPT_SPLITSEED, OPT_DEVFRAC,
	OPT_LEVEL, OPT_VERSION,
};

static const struct option longopts[] = {
	{"length", required_argument, NULL, 'n'},
	{"output", required_argument, NULL, 'o'},
	{"name", required_argument, NULL, OPT_NAME},
	{"sequences", required_argument, NULL, 'k'},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"seed", required_argument, NULL, OPT_SEED},
	{"cls", required_argument, NULL, OPT_CLS},
	{"sep", required_argument, NULL, OPT_SEP},
	{"split-seed", required_argument, NULL, OPT_SPLITSEED},
	{"dev-fraction", required_argument, NULL, OPT_DEVFRAC},
	{"level", required_argument, NULL, OPT_LEVEL},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
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
static int subcommand(int argc, char **argv)
{
	static const struct option catopts[] = {
		{"max", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0];
	bool cat = !strcmp(cmd, "cat"), info = !strcmp(cmd, "info");
	const char *u = cat ? cat_usage : info ? info_usage : verify_usage;
	const char *h = cat ? cat_help : info ? info_help : verify_help;
	uint64_t max = 0;
	nys_err e;
	int c;
	while ((c = getopt_long(argc, argv, cat ? "n:h" : "h", catopts + (cat ? 0 : 1), NULL)) != -1) {
		switch (c) {
		case 'n':
			if (nys_parse_u64(optarg, 1, UINT64_MAX, &max, "-n", &e)) {
				nys_usage_error(u, "%s", e.msg);
				return 2;
			}
			break;
		case 'h': return nys_print_stdout(u) || nys_print_stdout(h) ? 1 : 0;
		default: nys_usage_error(u, NULL); return 2;
		}
	}
	const char *const *ops = (const char *const *)argv + optind;
	size_t nops = (size_t)(argc - optind);
	static const char *const stdin_only[] = {"-"};
	if (!nops && !cat) {
		nys_usage_error(u, "%s: no FILE or DIR", cmd);
		return 2;
	}
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

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	if (argc > 1 && (!strcmp(argv[1], "cat") || !strcmp(argv[1], "info") ||
	                 !strcmp(argv[1], "verify")))
		return subcommand(argc - 1, argv + 1);

	nys_shard_opts o = {
		.dir = ".", .name = "data", .seq_len = len_from_name(nys_prog()), .keep = 1,
		.cls_id = 2, .sep_id = 3, .split_seed = 1, .dev_fraction = 0.1, .progress = true,
	};
	bool quiet = false;
	uint64_t v;
	nys_err e;
	int c;
	while ((c = getopt_long(argc, argv, "n:o:k:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (nys_parse_u64(optarg, NYS_SHARD_MIN_LEN, NYS_SHARD_MAX_LEN, &v, "-n", &e))
				goto bad;
			o.seq_len = (uint32_t)v;
			break;
		case 'o': o.dir = optarg; break;
		case OPT_NAME: o.name = optarg; break;
		case 'k':
			if (nys_parse_u64(optarg, 1, UINT32_MAX, &v, "-k", &e))
				goto bad;
			o.per_shard = (uint32_t)v;
			break;
		case OPT_KEEP:
			if (parse_unit(optarg, &o.keep, "--keep", &e))
				goto bad;
			break;
		case OPT_SEED:
			if (nys_parse_u64(optarg, 0, UINT64_MAX, &o.seed, "--seed", &e))
				goto bad;
			break;
		case OPT_CLS:
		case OPT_SEP:
			if (nys_parse_u64(optarg, 0, UINT32_MAX - 1, &v, c == OPT_CLS ? "--cls" : "--sep", &e))
				goto bad;
			*(c == OPT_CLS ? &o.cls_id : &o.sep_id) = (uint32_t)v;
			break;
		case OPT_SPLITSEED:
			if (nys_parse_u64(optarg, 0, UINT64_MAX, &o.split_seed, "--split-seed", &e))
				goto bad;
			break;
		case OPT_DEVFRAC:
			if (parse_unit(optarg, &o.dev_fraction, "--dev-fraction", &e))
				goto bad;
			break;
		case OPT_LEVEL:
			if (nys_parse_u64(optarg, 1, 19, &v, "--level", &e))
				goto bad;
			o.level = (int)v;
			break;
		case 'q': quiet = true; break;
		case 'h': return nys_print_stdout(usage) || nys_print_stdout(help) ? 1 : 0;
		case OPT_VERSION: return nys_print_stdout("shard (nys) " NYS_VERSION "\n") ? 1 : 0;
		default: nys_usage_error(usage, NULL); return 2;
		}
	}
	if (!o.seq_len) {
		nys_usage_error(usage, "no sequence length: use -n N, or run as shard-N (shard-512, ...)");
		return 2;
	}
	if (!*o.dir) {
		nys_usage_error(usage, "-o: empty directory name");
		return 2;
	}
	if (nys_name_check(o.name, "--name", &e))
		goto bad;
	if (o.per_shard && (uint64_t)o.per_shard * o.seq_len > NYS_SHARD_MAX_TOKENS) {
		nys_usage_error(usage, "-k: %u sequences of %u tokens are more than a shard holds "
		                "(%llu tokens)", o.per_shard, o.seq_len,
		                (unsigned long long)NYS_SHARD_MAX_TOKENS);
		return 2;
	}

	nys_out_cleanup_on_signals();
	nys_shard_stats st;
	int rc = nys_shard_run((const char *const *)argv + optind, (size_t)(argc - optind), &o, &st, &e);
	if (rc) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	if (!quiet) {
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
bad:
	nys_usage_error(usage, "%s", e.msg);
	return 2;
}
