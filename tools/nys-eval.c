/* nys-eval: run a model checkpoint over token-id lines (forward), make a
 * fresh checkpoint (init), write transformers' config.json (hf-config). */
#include "nys_eval.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: nys-eval forward --config CONFIG --checkpoint FILE [--ids FILE]\n"
	"                        [--logits] [--length N] [--batch N] [-o OUT.npy]\n"
	"       nys-eval init --config CONFIG [--seed S] [--mlm | --classes N] -o FILE\n"
	"       nys-eval hf-config --config CONFIG [--checkpoint FILE] [-o FILE]\n";

static const char help[] =
	"Evaluate Nystromformer models (nys-checkpoint(5)) outside training.\n"
	"\n"
	"  forward     run a checkpoint over token-id lines, in eval mode, and write\n"
	"              the final hidden states (or the masked-LM logits) as .npy\n"
	"  init        write a freshly initialised checkpoint\n"
	"  hf-config   write the config.json of transformers' Nystromformer\n"
	"\n"
	"  -h, --help      show this help and exit\n"
	"      --version   show the version and exit\n"
	"('nys-eval SUBCOMMAND --help' for theirs.)\n"
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static const char fwd_usage[] =
	"usage: nys-eval forward --config CONFIG --checkpoint FILE [--ids FILE]\n"
	"                        [--logits] [--length N] [--batch N] [-o OUT.npy]\n";
static const char fwd_help[] =
	"Read sequences of token ids, one a line (- or no --ids: stdin), pad them\n"
	"with id 0 (masked) to one length, run the model in eval mode and write\n"
	"its final hidden states, shape (lines, length, transformer_dim), or with\n"
	"--logits the masked-LM logits at every position, (lines, length,\n"
	"vocab_size), as a float32 .npy array.\n"
	"\n"
	"      --config CONFIG    the model's config.json (its \"model\" section)\n"
	"      --checkpoint FILE  the weights (safetensors, nys-checkpoint(5))\n"
	"      --ids FILE         the id lines (default stdin)\n"
	"      --logits           the MLM logits instead of the hidden states\n"
	"      --length N         pad every line to N ids (default: the config's\n"
	"                         seq_len for Nystrom attention with landmarks, as\n"
	"                         the authors' code needs; else the longest line)\n"
	"      --batch N          lines a forward (default: about 4096 tokens)\n"
	"  -o, --output OUT.npy   the array (default stdout, not a terminal)\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n";

static const char init_usage[] =
	"usage: nys-eval init --config CONFIG [--seed S] [--mlm | --classes N] -o FILE\n";
static const char init_help[] =
	"Write a checkpoint of freshly initialised weights, as the authors' model\n"
	"starts (nys-checkpoint(5)), with the masked-LM head or a classifier.\n"
	"\n"
	"      --config CONFIG  the model's config.json\n"
	"      --seed S         the random seed (default 0)\n"
	"      --mlm            with the masked-LM head (the default)\n"
	"      --classes N      with a classifier of N classes instead (1: regression)\n"
	"  -o, --output FILE    the checkpoint (required)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

static const char hf_usage[] =
	"usage: nys-eval hf-config --config CONFIG [--checkpoint FILE] [-o FILE]\n";
static const char hf_help[] =
	"Write the config.json of a transformers NystromformerForMaskedLM of the\n"
	"model's shapes, so that a checkpoint (renamed model.safetensors) and it\n"
	"load with from_pretrained.  Models transformers cannot express are refused.\n"
	"\n"
	"      --config CONFIG  the model's config.json\n"
	"      --checkpoint FILE  the checkpoint it is for: its vocabulary is\n"
	"                       written (nys-train takes it from the shards)\n"
	"  -o, --output FILE    the HF config (default stdout)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

enum { OPT_CONFIG = 256, OPT_CHECKPOINT, OPT_IDS, OPT_LOGITS, OPT_LENGTH, OPT_BATCH, OPT_SEED,
	OPT_MLM, OPT_CLASSES, OPT_VERSION };

static const struct option longopts[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
	{"ids", required_argument, NULL, OPT_IDS},
	{"logits", no_argument, NULL, OPT_LOGITS},
	{"length", required_argument, NULL, OPT_LENGTH},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"seed", required_argument, NULL, OPT_SEED},
	{"mlm", no_argument, NULL, OPT_MLM},
	{"classes", required_argument, NULL, OPT_CLASSES},
	{"output", required_argument, NULL, 'o'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* The options of every subcommand, parsed alike; each then refuses those
 * that are not its own. */
typedef struct args {
	const char *config, *checkpoint, *ids, *output;
	bool logits, mlm, have_length, have_batch, have_seed;
	uint64_t length, batch, seed, classes;
	int seen[OPT_VERSION + 1]; /* which options were given */
} args;

/* 0 parsed, 1 done (help, version: exit status in *status), -1 usage error. */
static int parse(int argc, char **argv, const char *u, const char *h, args *a, int *status)
{
	nys_err e;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (c >= 0 && c <= OPT_VERSION)
			a->seen[c] = 1;
		switch (c) {
		case OPT_CONFIG: a->config = optarg; break;
		case OPT_CHECKPOINT: a->checkpoint = optarg; break;
		case OPT_IDS: a->ids = optarg; break;
		case 'o': a->output = optarg; break;
		case OPT_LOGITS: a->logits = true; break;
		case OPT_MLM: a->mlm = true; break;
		case OPT_LENGTH:
			if (nys_parse_u64(optarg, 1, UINT32_MAX, &a->length, "--length", &e))
				goto bad;
			break;
		case OPT_BATCH:
			if (nys_parse_u64(optarg, 1, 1 << 20, &a->batch, "--batch", &e))
				goto bad;
			break;
		case OPT_SEED:
			if (nys_parse_u64(optarg, 0, UINT64_MAX, &a->seed, "--seed", &e))
				goto bad;
			break;
		case OPT_CLASSES:
			if (nys_parse_u64(optarg, 1, 1 << 20, &a->classes, "--classes", &e))
				goto bad;
			break;
		case 'h':
			*status = nys_print_stdout(u) || nys_print_stdout(h) ? 1 : 0;
			return 1;
		case OPT_VERSION:
			*status = nys_print_stdout("nys-eval (nys) " NYS_VERSION "\n") ? 1 : 0;
			return 1;
		default: nys_usage_error(u, NULL); return -1;
		}
	}
	if (optind < argc) {
		nys_usage_error(u, "unexpected operand '%s'", argv[optind]);
		return -1;
	}
	if (!a->config) {
		nys_usage_error(u, "no --config");
		return -1;
	}
	return 0;
bad:
	nys_usage_error(u, "%s", e.msg);
	return -1;
}

/* A usage error when an option outside `allowed` (a list ending in 0) was given. */
static int only(const args *a, const char *u, const char *cmd, const int *allowed)
{
	for (const struct option *o = longopts; o->name; o++) {
		if (!a->seen[o->val])
			continue;
		bool ok = false;
		for (const int *p = allowed; *p; p++)
			ok |= *p == o->val;
		if (!ok) {
			nys_usage_error(u, "%s takes no --%s", cmd, o->name);
			return -1;
		}
	}
	return 0;
}

static int fail(nys_err *e)
{
	nys_warnx("%s", e->msg);
	return 1;
}

/* main's argv, for nys_blas_tune's re-execution */
static char **main_argv;

/* A checkpoint trained by nys-train has the vocabulary of its shards, which
 * its config.json may not say (the published one says 50265): the
 * checkpoint's is used, with a note.  Always 0 (for chaining). */
static int saved_vocab(nys_model_config *c, const nys_st *st, const args *a)
{
	uint32_t v = nys_eval_saved_vocab(st);
	if (v && v != c->vocab_size) {
		nys_warnx("note: %s has a vocabulary of %u pieces (nys-train takes it from the "
		          "shards): using it instead of vocab_size %u of %s", a->checkpoint, v,
		          c->vocab_size, a->config);
		c->vocab_size = v;
	}
	return 0;
}

static int cmd_forward(const args *a)
{
	if (!a->checkpoint) {
		nys_usage_error(fwd_usage, "no --checkpoint");
		return 2;
	}
	nys_blas_tune(main_argv);
	nys_err e;
	nys_config *cfg = nys_config_load(a->config, NULL, NULL, &e);
	if (!cfg)
		return fail(&e);
	nys_model_config *c = &cfg->model;
	int rc = 1;
	nys_model *m = NULL;
	nys_st *st = NULL;
	nys_idlines lines = {0};
	uint32_t T = a->length ? (uint32_t)a->length : nys_eval_fixed_length(c);
	char why[256];
	if (a->length)
		snprintf(why, sizeof why, "--length");
	else if (T)
		snprintf(why, sizeof why, "the config's seq_len, which Nystrom attention with %u "
		         "landmarks needs; see --length", c->num_landmarks);
	else
		snprintf(why, sizeof why, "the config's max_seq_len");
	if (T > c->max_seq_len) {
		nys_err_set(&e, "--length %u is longer than max_seq_len %u of %s", T, c->max_seq_len,
		            a->config);
		goto out;
	}
	if (nys_eval_fixed_length(c) && T < c->num_landmarks) {
		nys_err_set(&e, "--length %u is shorter than num_landmarks %u of %s", T,
		            c->num_landmarks, a->config);
		goto out;
	}

	nys_model_opts mo = {.dtype = NYS_F32, .mlm = a->logits};
	char diff[512];
	if (!(st = nys_st_load(a->checkpoint, &e)) || saved_vocab(c, st, a) ||
	    !(m = nys_model_new(c, &mo, &e)))
		goto out;
	int d = nys_eval_config_diff(st, a->checkpoint, c, diff, sizeof diff, &e);
	if (d < 0)
		goto out;
	if (d)
		nys_warnx("warning: %s was saved with another model config than %s (differing: %s)",
		          a->checkpoint, a->config, diff);
	if (nys_model_load_st(m, st, 0, &e))
		goto out;
	nys_st_free(st);
	st = NULL;

	if (nys_idlines_read(a->ids, c->vocab_size, T ? T : c->max_seq_len, why, &lines, &e))
		goto out;
	nys_eval_opts eo = {
		.T = T ? T : (uint32_t)lines.longest,
		.which = a->logits ? NYS_OUT_LOGITS : NYS_OUT_HIDDEN,
	};
	eo.batch = a->batch ? (int)a->batch : nys_eval_default_batch(c, eo.T, a->logits);
	nys_out *out = nys_out_open(a->output, NYS_OUT_BINARY, &e);
	if (!out)
		goto out;
	if (nys_eval_forward(m, &lines, &eo, out, &e))
		nys_out_abort(out);
	else if (!nys_out_commit(out, &e))
		rc = 0;
out:
	if (rc)
		nys_warnx("%s", e.msg);
	nys_idlines_free(&lines);
	nys_st_free(st);
	nys_model_free(m);
	nys_config_free(cfg);
	return rc;
}

static int cmd_init(const args *a)
{
	if (a->mlm && a->classes) {
		nys_usage_error(init_usage, "--mlm and --classes exclude each other");
		return 2;
	}
	if (!a->output || !strcmp(a->output, "-")) {
		nys_usage_error(init_usage, "a checkpoint needs -o FILE");
		return 2;
	}
	nys_err e;
	nys_config *cfg = nys_config_load(a->config, NULL, NULL, &e);
	if (!cfg)
		return fail(&e);
	nys_model_opts mo = {.dtype = NYS_F32, .mlm = !a->classes, .num_labels = (int)a->classes};
	nys_model *m = nys_model_new(&cfg->model, &mo, &e);
	int rc = m ? 0 : -1;
	if (!rc) {
		char seed[32];
		snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
		const char *const meta[] = {"nys_init_seed", seed, NULL};
		rc = nys_model_init(m, a->seed, &e) ? -1 : nys_model_save(m, a->output, meta, &e);
	}
	nys_model_free(m);
	nys_config_free(cfg);
	return rc ? fail(&e) : 0;
}

static int cmd_hf_config(const args *a)
{
	nys_err e;
	nys_config *cfg = nys_config_load(a->config, NULL, NULL, &e);
	if (!cfg)
		return fail(&e);
	if (a->checkpoint) {
		nys_st *st = nys_st_load(a->checkpoint, &e);
		if (!st) {
			nys_config_free(cfg);
			return fail(&e);
		}
		saved_vocab(&cfg->model, st, a);
		nys_st_free(st);
	}
	int rc = nys_config_write_hf(&cfg->model, NULL, a->output, &e);
	nys_config_free(cfg);
	return rc ? fail(&e) : 0;
}

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	main_argv = argv;
	static const int fwd_opts[] = {OPT_CONFIG, OPT_CHECKPOINT, OPT_IDS, OPT_LOGITS, OPT_LENGTH,
	                               OPT_BATCH, 'o', 0};
	static const int init_opts[] = {OPT_CONFIG, OPT_SEED, OPT_MLM, OPT_CLASSES, 'o', 0};
	static const int hf_opts[] = {OPT_CONFIG, OPT_CHECKPOINT, 'o', 0};
	static const struct {
		const char *name, *usage, *help;
		const int *opts;
		int (*run)(const args *);
	} cmds[] = {
		{"forward", fwd_usage, fwd_help, fwd_opts, cmd_forward},
		{"init", init_usage, init_help, init_opts, cmd_init},
		{"hf-config", hf_usage, hf_help, hf_opts, cmd_hf_config},
	};
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
			if (strcmp(argv[1], cmds[i].name))
				continue;
			args a = {0};
			int status = 0;
			int k = parse(argc - 1, argv + 1, cmds[i].usage, cmds[i].help, &a, &status);
			if (k)
				return k > 0 ? status : 2;
			if (only(&a, cmds[i].usage, cmds[i].name, cmds[i].opts))
				return 2;
			nys_out_cleanup_on_signals();
			return cmds[i].run(&a);
		}
		nys_usage_error(usage, "unknown subcommand '%s'", argv[1]);
		return 2;
	}
	static const struct option top[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", top, NULL)) != -1) {
		switch (c) {
		case 'h': return nys_print_stdout(usage) || nys_print_stdout(help) ? 1 : 0;
		case OPT_VERSION: return nys_print_stdout("nys-eval (nys) " NYS_VERSION "\n") ? 1 : 0;
		default: nys_usage_error(usage, NULL); return 2;
		}
	}
	nys_usage_error(usage, "no subcommand (forward, init or hf-config)");
	return 2;
}
