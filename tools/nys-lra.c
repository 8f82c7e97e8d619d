/* nys-lra: the Long Range Arena study.  `prepare` reads a task's published
 * files into shards of labelled records (nys-lra(5)), `gen listops` makes
 * ListOps data as LRA's generator does; training and scoring the attention
 * variants on prepared tasks is `train`.  Each subcommand is its own block
 * below with its texts, options and function, and one entry in main's
 * table. */
#include "nys_blas.h"
#include "nys_cli.h"
#include "nys_lra_data.h"
#include "nys_lra_train.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: nys-lra prepare TASK [OPTIONS] INPUT... -o DIR\n"
	"       nys-lra gen listops [OPTIONS] -o DIR\n"
	"       nys-lra train TASK --attn ATTN [OPTIONS]\n";

static const char help[] =
	"The Long Range Arena study: its five tasks (listops, text, retrieval,\n"
	"image, pathfinder) as shards of labelled records (nys-lra(5)).\n"
	"\n"
	"  prepare     a task's published files as train/dev/test shards\n"
	"  gen         generate ListOps data as LRA's generator does\n"
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

static const char prepare_usage[] = "usage: nys-lra prepare TASK [OPTIONS] INPUT... -o DIR\n";
static const char prepare_help[] =
	"Read a task's files in their published layout and write DIR/train-*.lra,\n"
	"DIR/dev-*.lra, DIR/test-*.lra and DIR/manifest.json.\n"
	"\n";
static const nys_cli_opt prepare_opts[] = {
	{"output", 'o', "DIR", 0, "the task folder (created if missing)"},
	{0},
};

static int cmd_prepare(nys_cli *cl)
{
	int c;
	while ((c = nys_cli_next(cl)) > 0)
		;
	if (c < 0)
		return cl->status;
	nys_err e;
	nys_err_set(&e, "prepare: not built yet");
	return fail(&e);
}

/* ---- gen ----------------------------------------------------------------- */

static const char gen_usage[] = "usage: nys-lra gen listops [OPTIONS] -o DIR\n";
static const char gen_help[] =
	"Generate ListOps as LRA's generator does: DIR/basic_train.tsv,\n"
	"DIR/basic_val.tsv and DIR/basic_test.tsv.\n"
	"\n";
static const nys_cli_opt gen_opts[] = {
	{"output", 'o', "DIR", 0, "the folder (created if missing)"},
	{0},
};

static int cmd_gen(nys_cli *cl)
{
	int c;
	while ((c = nys_cli_next(cl)) > 0)
		;
	if (c < 0)
		return cl->status;
	nys_err e;
	nys_err_set(&e, "gen: not built yet");
	return fail(&e);
}

/* ---- train --------------------------------------------------------------- */

static const char train_usage[] =
	"usage: nys-lra train TASK --attn ATTN [--data DIR] [-o DIR] [OPTIONS]\n";
static const char train_help[] =
	"Train the LRA model on a prepared task (nys-lra prepare, gen), scoring dev\n"
	"every eval_frequency steps, keeping the best, and score every test record\n"
	"with it.  ATTN: softmax, nystrom-M, linformer-K, performer-F, linear or\n"
	"none.  The config is --config or pipeline/configs/lra/TASK.json; the run\n"
	"folder (-o, default runs/lra/TASK-ATTN) gets the checkpoints, the JSON-lines\n"
	"log lra.log, best.model and result.json.  SIGINT or SIGTERM (or --stop-at)\n"
	"writes a checkpoint and stops; run again to resume, bitwise.\n"
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
		                         "performer-F, linear or none)");
	char dbuf[4096], cbuf[4096], obuf[4096];
	if (!data)
		snprintf(dbuf, sizeof dbuf, "data/lra/%s", ops[0]), data = dbuf;
	if (!config)
		snprintf(cbuf, sizeof cbuf, "pipeline/configs/lra/%s.json", ops[0]), config = cbuf;
	if (!out)
		snprintf(obuf, sizeof obuf, "runs/lra/%s-%s", ops[0], o.attn), out = obuf;
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
		CMD("prepare", prepare, cmd_prepare, NYS_CLI_QUIET, 25),
		CMD("gen", gen, cmd_gen, 0, 25),
		CMD("train", train, cmd_train, NYS_CLI_QUIET, 25),
		{0},
	};
	static const nys_cli_prog prog = {
		.self = {"nys-lra", usage, help, .col = 18, .tail = tail},
		.cmds = cmds,
		.cmd_word = "subcommand", .no_cmd = "no subcommand (see nys-lra --help)"};
	return nys_cli_main(&prog, argc, argv);
}
