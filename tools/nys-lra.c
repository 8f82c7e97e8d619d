/* nys-lra: the Long Range Arena study.  `prepare` reads a task's published
 * files into shards of labelled records (nys-lra(5)), `gen listops` makes
 * ListOps data as LRA's generator does, `cat` prints records; training and scoring the attention
 * variants on prepared tasks is `train`.  Each subcommand is its own block
 * below with its texts, options and function, and one entry in main's
 * table. */
#include "nys_blas.h"
#include "nys_cli.h"
#include "nys_lra_data.h"
#include "nys_lra_gen.h"
#include "nys_lra_model.h"
#include "nys_lra_prep.h"
#include "nys_lra_train.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: nys-lra prepare TASK [OPTIONS] [INPUT] -o DIR\n"
	"       nys-lra gen listops [OPTIONS] -o DIR\n"
	"       nys-lra cat [--split S] [-n MAX] DIR|FILE...\n"
	"       nys-lra train TASK --attn ATTN [OPTIONS]\n";

static const char help[] =
	"The Long Range Arena study: its five tasks (listops, text, retrieval,\n"
	"image, pathfinder) as shards of labelled records (nys-lra(5)).\n"
	"\n"
	"  prepare     a task's published files as train/dev/test shards\n"
	"  gen         generate ListOps data as LRA's generator does\n"
	"  cat         print a prepared split's records as lines of ids\n"
	"  train       train and score the LRA model with one attention\n"
	"\n";
static const char tail[] =
	"('nys-lra SUBCOMMAND --help' for theirs.)\n"
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static int fail(const nys_err *e)
{
	nys_warnx("%s", e->msg);
	return 1;
}

/* ---- prepare ------------------------------------------------------------- */

static const char prepare_usage[] =
	"usage: nys-lra prepare TASK [OPTIONS] [INPUT] -o DIR\n";
static const char prepare_help[] =
	"Read a Long Range Arena task's files in their published layout and write\n"
	"the prepared task folder DIR: train-NNNNN.lra, dev-NNNNN.lra,\n"
	"test-NNNNN.lra (nys-lra(5)) and manifest.json, all put in place together.\n"
	"TASK and INPUT:\n"
	"\n"
	"  listops     a folder of LRA's NAME_train.tsv, NAME_val.tsv, NAME_test.tsv\n"
	"              (header Source<TAB>Target), or files of either that layout or\n"
	"              the original ListOps one (label<TAB>sequence) as --train,\n"
	"              --dev, --test\n"
	"  text        the aclImdb folder (train/ and test/, pos/ and neg/); bytes;\n"
	"              dev is the test split, as in LRA\n"
	"  retrieval   a folder of new_aan_pairs.{train,eval,test}.tsv, or files as\n"
	"              --train, --dev, --test; bytes, two documents a record\n"
	"  image       cifar-10-batches-bin (data_batch_1..5.bin, test_batch.bin);\n"
	"              greyscale; dev is the last 10% of train, as in LRA\n"
	"  pathfinder  the pathfinder32 folder; records of DIFFICULTY/metadata in\n"
	"              order, 80% train, 10% dev, 10% test, as in LRA\n"
	"\n";
static const char prepare_tail[] =
	"\n"
	"A malformed input is an error naming the file and the line (or byte).\n";

enum {
	OPT_TRAIN = 256, OPT_DEV, OPT_TEST, OPT_MAXLEN, OPT_DEVCOUNT, OPT_SEED, OPT_RECORDS,
	OPT_NAME, OPT_DIFF, OPT_COUNT, OPT_MINLEN, OPT_DEPTH, OPT_ARGS, OPT_SPLIT,
};

static const nys_cli_opt prepare_opts[] = {
	{"output", 'o', "DIR", 0, "the prepared task folder (made if missing)"},
	{"train", 0, "FILE", OPT_TRAIN, "the train split's file (listops, retrieval)"},
	{"dev", 0, "FILE", OPT_DEV, "the dev split's file"},
	{"test", 0, "FILE", OPT_TEST, "the test split's file"},
	{"max-len", 0, "N", OPT_MAXLEN, "cut documents to N ids (default: listops 2000,\n"
	                                "text and retrieval 4000, image and pathfinder 1024)"},
	{"dev-count", 0, "N", OPT_DEVCOUNT, "hold out N train records, drawn at random, as dev"},
	{"seed", 0, "S", OPT_SEED, "random.seed(S) for --dev-count (default 0)"},
	{"records", 0, "K", OPT_RECORDS, "records a shard (default 8192)"},
	{"name", 0, "NAME", OPT_NAME, "listops: the files' prefix (default basic)"},
	{"difficulty", 0, "D", OPT_DIFF, "pathfinder: curv_baseline, curv_contour_length_9 or\n"
	                                 "curv_contour_length_14 (default)"},
	NYS_CLI_OPT_QUIET("no summary on stderr"),
	{0},
};

static int cmd_prepare(nys_cli *cl)
{
	nys_lra_prep_opts o;
	nys_lra_prep_defaults(&o);
	const char *dir = NULL;
	uint64_t v;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'o': dir = optarg; break;
		case OPT_TRAIN: o.train = optarg; break;
		case OPT_DEV: o.dev = optarg; break;
		case OPT_TEST: o.test = optarg; break;
		case OPT_MAXLEN:
			if (!nys_cli_u64(cl, 1, NYS_LRA_MAX_LEN, "--max-len", &v))
				o.max_len = (uint32_t)v;
			break;
		case OPT_DEVCOUNT: nys_cli_u64(cl, 1, UINT32_MAX, "--dev-count", &o.dev_count); break;
		case OPT_SEED: nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &o.seed); break;
		case OPT_RECORDS: nys_cli_u64(cl, 1, UINT32_MAX, "--records", &o.per_shard); break;
		case OPT_NAME: o.name = optarg; break;
		case OPT_DIFF: o.difficulty = optarg; break;
		}
	}
	if (c < 0)
		return cl->status;
	o.quiet = cl->quiet;
	const char *const *ops;
	size_t n = nys_cli_operands(cl, &ops);
	nys_err e;
	if (!n)
		return nys_cli_usage(cl, "no TASK");
	if (n > 2)
		return nys_cli_usage(cl, "unexpected operand '%s'", ops[2]);
	if (nys_lra_task_parse(ops[0], &o.task, &e))
		return nys_cli_usage(cl, "%s", e.msg);
	o.input = n > 1 ? ops[1] : NULL;
	if (!dir || !strcmp(dir, "-"))
		return nys_cli_usage(cl, "a task folder needs -o DIR");
	o.dir = dir;
	if (nys_name_check(o.name, "--name", &e))
		return nys_cli_usage(cl, "%s", e.msg);
	if (strchr(o.difficulty, '/') || !strcmp(o.difficulty, "..") || !*o.difficulty)
		return nys_cli_usage(cl, "--difficulty: '%s' is not a folder name", o.difficulty);
	bool files = o.train || o.dev || o.test;
	if (!o.input && !files)
		return nys_cli_usage(cl, "no INPUT (and no --train, --dev, --test)");
	if (o.task != NYS_LRA_LISTOPS && o.task != NYS_LRA_RETRIEVAL && (files || !o.input))
		return nys_cli_usage(cl, "%s reads one INPUT folder, no --train, --dev, --test",
		                     ops[0]);
	nys_out_cleanup_on_signals();
	return nys_lra_prepare(&o, &e) ? fail(&e) : 0;
}

/* ---- gen ----------------------------------------------------------------- */

static const char gen_usage[] = "usage: nys-lra gen listops [OPTIONS] -o DIR\n";
static const char gen_help[] =
	"Generate ListOps as Long Range Arena's generator does, with its draws on\n"
	"CPython's Mersenne Twister after random.seed(S): trees of nested MIN,\n"
	"MAX, MED and SM (sum mod 10) over the digits, kept when their length is\n"
	"strictly between the bounds and they are new.  Writes DIR/NAME_train.tsv,\n"
	"DIR/NAME_val.tsv and DIR/NAME_test.tsv in LRA's layout (header\n"
	"Source<TAB>Target, CRLF line ends as Python's csv writer); the same seed\n"
	"gives the same bytes.\n"
	"\n";
static const nys_cli_opt gen_opts[] = {
	{"output", 'o', "DIR", 0, "the folder (made if missing)"},
	{"seed", 0, "S", OPT_SEED, "random.seed(S) (default 0)"},
	{"train", 0, "N", OPT_TRAIN, "train trees (default 96000)"},
	{"dev", 0, "N", OPT_DEV, "validation trees (default 2000)"},
	{"test", 0, "N", OPT_TEST, "test trees (default 2000)"},
	{"min-len", 0, "N", OPT_MINLEN, "lengths above N (default 500)"},
	{"max-len", 0, "N", OPT_MAXLEN, "lengths below N (default 2000)"},
	{"max-depth", 0, "D", OPT_DEPTH, "deepest tree (default 10)"},
	{"max-args", 0, "A", OPT_ARGS, "most arguments of an operator (default 10)"},
	{"name", 0, "NAME", OPT_NAME, "the files' prefix (default basic)"},
	{0},
};

static int cmd_gen(nys_cli *cl)
{
	nys_lra_gen_opts o;
	nys_lra_gen_defaults(&o);
	const char *dir = NULL;
	uint64_t v;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'o': dir = optarg; break;
		case OPT_SEED: nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &o.seed); break;
		case OPT_TRAIN: nys_cli_u64(cl, 0, UINT32_MAX, "--train", &o.train); break;
		case OPT_DEV: nys_cli_u64(cl, 0, UINT32_MAX, "--dev", &o.dev); break;
		case OPT_TEST: nys_cli_u64(cl, 0, UINT32_MAX, "--test", &o.test); break;
		case OPT_MINLEN:
			if (!nys_cli_u64(cl, 0, NYS_LRA_MAX_LEN, "--min-len", &v))
				o.min_len = (uint32_t)v;
			break;
		case OPT_MAXLEN:
			if (!nys_cli_u64(cl, 2, NYS_LRA_MAX_LEN, "--max-len", &v))
				o.max_len = (uint32_t)v;
			break;
		case OPT_DEPTH:
			if (!nys_cli_u64(cl, 1, 64, "--max-depth", &v))
				o.max_depth = (uint32_t)v;
			break;
		case OPT_ARGS:
			if (!nys_cli_u64(cl, 2, 1000, "--max-args", &v))
				o.max_args = (uint32_t)v;
			break;
		case OPT_NAME: o.name = optarg; break;
		}
	}
	if (c < 0)
		return cl->status;
	const char *const *ops;
	size_t n = nys_cli_operands(cl, &ops);
	nys_err e;
	if (!n)
		return nys_cli_usage(cl, "no task (gen listops)");
	if (strcmp(ops[0], "listops"))
		return nys_cli_usage(cl, "gen makes listops, not '%s'", ops[0]);
	if (n > 1)
		return nys_cli_usage(cl, "unexpected operand '%s'", ops[1]);
	if (!dir || !strcmp(dir, "-"))
		return nys_cli_usage(cl, "three files need -o DIR");
	if (o.min_len + 1 >= o.max_len)
		return nys_cli_usage(cl, "no length is above --min-len %u and below --max-len %u",
		                     o.min_len, o.max_len);
	if (!o.train && !o.dev && !o.test)
		return nys_cli_usage(cl, "no trees asked for");
	if (nys_name_check(o.name, "--name", &e))
		return nys_cli_usage(cl, "%s", e.msg);
	o.dir = dir;
	nys_out_cleanup_on_signals();
	return nys_lra_gen_listops(&o, &e) ? fail(&e) : 0;
}

/* ---- cat ----------------------------------------------------------------- */

static const char cat_usage[] = "usage: nys-lra cat [--split S] [-n MAX] DIR|FILE...\n";
static const char cat_help[] =
	"Print the records of a prepared task folder's split (--split, default\n"
	"train) or of LRA shard FILEs, one a line: the label, a tab and the ids\n"
	"separated by spaces (Retrieval: a tab and the second document's ids).\n"
	"Everything is checked as it is read.\n"
	"\n";
static const nys_cli_opt cat_opts[] = {
	{"split", 0, "S", OPT_SPLIT, "train, dev or test (for a DIR)"},
	{"records", 'n', "MAX", 0, "the first MAX records only"},
	{0},
};

static int cmd_cat(nys_cli *cl)
{
	const char *split = "train";
	uint64_t max = UINT64_MAX;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		if (c == OPT_SPLIT)
			split = optarg;
		else if (c == 'n')
			nys_cli_u64(cl, 1, UINT64_MAX, "-n", &max);
	}
	if (c < 0)
		return cl->status;
	const char *const *ops;
	size_t n = nys_cli_operands(cl, &ops);
	if (!n)
		return nys_cli_usage(cl, "no DIR or FILE");
	if (strcmp(split, "train") && strcmp(split, "dev") && strcmp(split, "test"))
		return nys_cli_usage(cl, "--split: '%s' is not train, dev or test", split);
	nys_err e;
	struct stat st;
	nys_lra_set *s = n == 1 && !stat(ops[0], &st) && S_ISDIR(st.st_mode)
	                 ? nys_lra_set_open(ops[0], split, &e) : nys_lra_set_open_files(ops, n, &e);
	if (!s)
		return fail(&e);
	const nys_lra_header *h = nys_lra_set_header(s);
	nys_out *out = nys_out_open(NULL, 0, &e);
	int32_t *ids = out ? malloc((size_t)h->max_len * sizeof *ids) : NULL;
	nys_buf b = {0};
	int rc = ids ? 0 : -1;
	if (out && !ids)
		nys_err_set(&e, "out of memory");
	for (uint64_t i = 0; !rc && i < nys_lra_set_count(s) && i < max; i++) {
		b.n = 0;
		rc = nys_buf_printf(&b, "%u", nys_lra_set_label(s, i));
		for (unsigned d = 0; !rc && d < h->docs; d++) {
			uint32_t k = nys_lra_set_ids(s, i, d, ids);
			rc = nys_buf_addc(&b, '\t');
			for (uint32_t j = 0; !rc && j < k; j++)
				rc = nys_buf_printf(&b, j ? " %d" : "%d", ids[j]);
		}
		rc = rc || nys_buf_addc(&b, '\n') ? nys_err_set(&e, "out of memory")
		                                  : nys_out_write(out, b.p, b.n, &e);
	}
	if (out && !rc)
		rc = nys_out_commit(out, &e);
	else if (out)
		nys_out_abort(out);
	free(ids);
	nys_buf_free(&b);
	nys_lra_set_close(s);
	return rc ? fail(&e) : 0;
}

/* ---- train --------------------------------------------------------------- */

static const char train_usage[] =
	"usage: nys-lra train TASK --attn ATTN [--data DIR] [-o DIR] [OPTIONS]\n";
static const char train_help[] =
	"Train the LRA model on a prepared task (nys-lra prepare, gen), scoring dev\n"
	"every eval_frequency steps, keeping the best, and score every test record\n"
	"with it.  ATTN: softmax, nystrom-M, linformer-K, performer-F, linear,\n"
	"none or reformer-H (H hash rounds).  The config is --config or\n"
	"pipeline/configs/lra/TASK.json; the run folder (-o, default\n"
	"runs/lra/TASK-ATTN) gets the checkpoints, the JSON-lines log lra.log,\n"
	"best.model and result.json.  SIGINT or SIGTERM (or --stop-at) writes a\n"
	"checkpoint and stops; run again to resume, bitwise.\n"
	"\n";
enum { TR_ATTN = 256, TR_DATA, TR_CONFIG, TR_STEPS, TR_WARMUP, TR_EVAL, TR_DEV, TR_BATCH,
       TR_MICRO, TR_LEN, TR_STOP, TR_SEED, TR_THREADS, TR_DEVICE };
static const nys_cli_opt train_opts[] = {
	{"attn", 0, "ATTN", TR_ATTN, "the attention (required)"},
	{"data", 0, "DIR", TR_DATA, "the prepared task (default data/lra/TASK)"},
	{"output", 'o', "DIR", 0, "the run folder"},
	{"config", 0, "FILE", TR_CONFIG, "the task's config"},
	{"steps", 0, "N", TR_STEPS, "train N steps instead of num_train_steps\n"
	                            "(warmup scaled alike)"},
	{"warmup", 0, "N", TR_WARMUP, "warmup steps instead of the config's"},
	{"eval-every", 0, "N", TR_EVAL, "score dev every N steps instead of eval_frequency"},
	{"dev-max", 0, "N", TR_DEV, "score at most N dev records (default all)"},
	{"batch", 0, "N", TR_BATCH, "records a step instead of batch_size"},
	{"micro", 0, "N", TR_MICRO, "records a micro-batch (default the whole step)"},
	{"max-len", 0, "N", TR_LEN, "max_seq_len instead of the config's"},
	{"stop-at", 0, "N", TR_STOP, "stop once N steps are done, with a checkpoint"},
	{"seed", 0, "S", TR_SEED, "the seed of weights, data order and dropout (0)"},
	{"threads", 0, "N", TR_THREADS, "threads for the CPU backend (default: all cores)"},
	{"device", 0, "D", TR_DEVICE, "cpu, cuda or auto (default auto)"},
	NYS_CLI_OPT_QUIET("no messages or progress line on stderr"),
	{0},
};

static volatile sig_atomic_t train_stop;

static void train_signal(int sig)
{
	(void)sig;
	train_stop = 1;
}

static void train_info(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "nys-lra: %s\n", line);
}

static int cmd_train(nys_cli *cl)
{
	nys_lra_train_opts o = {.stop = &train_stop};
	const char *out = NULL, *data = NULL, *config = NULL;
	uint64_t v;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case 'o': out = optarg; break;
		case TR_ATTN: o.attn = optarg; break;
		case TR_DATA: data = optarg; break;
		case TR_CONFIG: config = optarg; break;
		case TR_STEPS: nys_cli_u64(cl, 1, UINT64_C(1) << 40, "--steps", &o.steps); break;
		case TR_WARMUP: nys_cli_u64(cl, 1, UINT64_C(1) << 40, "--warmup", &o.warmup); break;
		case TR_EVAL: nys_cli_u64(cl, 1, UINT64_C(1) << 40, "--eval-every", &o.eval_every); break;
		case TR_DEV: nys_cli_u64(cl, 1, UINT64_C(1) << 40, "--dev-max", &o.dev_max); break;
		case TR_BATCH: nys_cli_u64(cl, 1, 1 << 20, "--batch", &o.batch); break;
		case TR_MICRO: nys_cli_u64(cl, 1, 1 << 20, "--micro", &o.micro); break;
		case TR_LEN:
			if (!nys_cli_u64(cl, 1, 1 << 20, "--max-len", &v))
				o.max_len = (uint32_t)v;
			break;
		case TR_STOP: nys_cli_u64(cl, 1, UINT64_C(1) << 40, "--stop-at", &o.max_steps); break;
		case TR_SEED: nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &o.seed); break;
		case TR_THREADS:
			if (!nys_cli_u64(cl, 1, 1024, "--threads", &v))
				o.threads = (int)v;
			break;
		case TR_DEVICE:
			if (!strcmp(optarg, "cpu"))
				o.device = NYS_DEVICE_CPU;
			else if (!strcmp(optarg, "cuda"))
				o.device = NYS_DEVICE_CUDA;
			else if (!strcmp(optarg, "auto"))
				o.device = NYS_DEVICE_AUTO;
			else
				return nys_cli_usage(cl, "--device: expected cpu, cuda or auto, got '%s'",
				                     optarg);
			break;
		}
	}
	if (c < 0)
		return cl->status;
	const char *const *ops;
	size_t nops = nys_cli_operands(cl, &ops);
	if (nops != 1)
		return nys_cli_usage(cl, nops ? "one TASK, not %zu operands" : "no TASK%.0zu", nops);
	nys_lra_task task;
	nys_err e = {0};
	if (nys_lra_task_parse(ops[0], &task, &e))
		return nys_cli_usage(cl, "%s", e.msg);
	if (!o.attn)
		return nys_cli_usage(cl, "--attn is required (softmax, nystrom-M, linformer-K, "
		                         "performer-F, linear, none or reformer-H)");
	nys_lra_model_config ac;
	if (nys_lra_attn_parse(o.attn, &ac, &e))
		return nys_cli_usage(cl, "--attn: %s", e.msg);
	char dbuf[4096], cbuf[4096], obuf[4096];
	if (!data)
		snprintf(dbuf, sizeof dbuf, "data/lra/%s", ops[0]), data = dbuf;
	if (!config)
		snprintf(cbuf, sizeof cbuf, "pipeline/configs/lra/%s.json", ops[0]), config = cbuf;
	if (!out)
		snprintf(obuf, sizeof obuf, "runs/lra/%s-%s", ops[0], o.attn), out = obuf;
	o.task = ops[0];
	o.data = data;
	o.config = config;
	o.out = out;
	bool quiet = cl->quiet;
	nys_blas_tune(cl->main_argv);
	o.progress = !quiet && isatty(STDERR_FILENO);
	struct sigaction sa = {.sa_handler = train_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	nys_train_end end;
	if (nys_lra_train_run(&o, quiet ? NULL : train_info, NULL, &end, &e))
		return fail(&e);
	if (!quiet && end == NYS_TRAIN_STOPPED)
		fprintf(stderr, "nys-lra: stopped; run again to resume\n");
	return 0;
}

int main(int argc, char **argv)
{
	/* a subcommand: its name, the prefix of its texts and table, its
	 * function, its flags and the column of its options' help */
#define CMD(cmd, prefix, fn, f, column) \
	{cmd, prefix##_usage, prefix##_help, .flags = f, .run = fn, .opts = prefix##_opts, \
	 .col = column}
	static const nys_cli_cmd cmds[] = {
		{"prepare", prepare_usage, prepare_help, .flags = NYS_CLI_QUIET, .run = cmd_prepare,
		 .opts = prepare_opts, .col = 25, .tail = prepare_tail},
		CMD("gen", gen, cmd_gen, 0, 25),
		CMD("cat", cat, cmd_cat, 0, 25),
		CMD("train", train, cmd_train, NYS_CLI_QUIET, 25),
		{0},
	};
	static const nys_cli_prog prog = {
		.self = {"nys-lra", usage, help, .col = 18, .tail = tail},
		.cmds = cmds,
		.cmd_word = "subcommand", .no_cmd = "no subcommand (see nys-lra --help)"};
	return nys_cli_main(&prog, argc, argv);
}
