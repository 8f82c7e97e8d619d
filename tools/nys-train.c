/* nys-train: masked-LM pretraining of a Nystromformer from a config.json
 * of the original code, resuming from its newest checkpoint. */
#include "nys_blas.h"
#include "nys_model.h"
#include "nys_train.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: nys-train [--config FILE] [--data DIR] [--checkpoints DIR]\n"
	"                 [--device cpu|cuda|auto] [--threads N] [--seed S]\n"
	"                 [--steps N] [--keep N] [-q]\n";

static const char help[] =
	"Pretrain a Nystromformer (or softmax) model with masked-LM as the\n"
	"authors' run_pretrain.py does, from the config file of their code\n"
	"(./config.json by default): AdamW under OneCycleLR, the shards of\n"
	"data_folder (train.json; dev.json for validation), a checkpoint pair\n"
	"cp-NNNN.model and cp-NNNN.cp after every epoch in model_checkpoints,\n"
	"and a JSON line per step in model_checkpoints/pretrain_output.log.\n"
	"Run again after any stop to resume from the newest checkpoint: the\n"
	"result is bitwise that of a run that never stopped.  Relative paths in\n"
	"the config are relative to its directory.\n"
	"\n"
	"      --config FILE      the config (default config.json)\n"
	"      --data DIR         the shard directory, instead of data_folder\n"
	"      --checkpoints DIR  the checkpoint folder, instead of model_checkpoints\n"
	"      --device D         cpu, cuda or auto (default auto: cpu in this build)\n"
	"      --threads N        threads for the CPU backend (default: all cores)\n"
	"      --seed S           the seed of initialisation, data order, masks and\n"
	"                         dropout, instead of pretraining_setting.seed (0)\n"
	"      --steps N          stop once N optimizer steps are done in all,\n"
	"                         writing a checkpoint to resume from\n"
	"      --keep N           keep only the newest N epoch checkpoints\n"
	"  -q, --quiet            no messages or progress line on stderr\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n"
	"\n"
	"SIGINT or SIGTERM: the step in progress finishes, a checkpoint is\n"
	"written (stop-SSSSSSSS.cp) and nys-train exits 0.\n"
	"\n"
	"Exit status: 0 trained or stopped with a checkpoint, 1 error (bad config,\n"
	"data or checkpoint, a non-finite loss, I/O), 2 usage error.\n";

enum { OPT_CONFIG = 256, OPT_DATA, OPT_CKPT, OPT_DEVICE, OPT_THREADS, OPT_SEED, OPT_STEPS,
       OPT_KEEP, OPT_VERSION };

static const struct option longopts[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"data", required_argument, NULL, OPT_DATA},
	{"checkpoints", required_argument, NULL, OPT_CKPT},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"steps", required_argument, NULL, OPT_STEPS},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void info(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "nys-train: %s\n", line);
}

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	nys_train_opts o = {.stop = &stop_requested};
	bool quiet = false;
	uint64_t v;
	nys_err e = {0};
	int c;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: o.config = optarg; break;
		case OPT_DATA: o.data = optarg; break;
		case OPT_CKPT: o.checkpoints = optarg; break;
		case OPT_DEVICE:
			if (!strcmp(optarg, "cpu"))
				o.device = NYS_DEVICE_CPU;
			else if (!strcmp(optarg, "cuda"))
				o.device = NYS_DEVICE_CUDA;
			else if (!strcmp(optarg, "auto"))
				o.device = NYS_DEVICE_AUTO;
			else {
				nys_usage_error(usage, "--device: expected cpu, cuda or auto, got '%s'", optarg);
				return 2;
			}
			break;
		case OPT_THREADS:
		case OPT_SEED:
		case OPT_STEPS:
		case OPT_KEEP: {
			uint64_t hi = c == OPT_THREADS ? 1024 : c == OPT_KEEP ? 1000000 : UINT64_MAX;
			const char *what = c == OPT_THREADS ? "--threads" : c == OPT_SEED ? "--seed"
			                   : c == OPT_STEPS ? "--steps" : "--keep";
			if (nys_parse_u64(optarg, c == OPT_SEED ? 0 : 1, hi, &v, what, &e)) {
				nys_usage_error(usage, "%s", e.msg);
				return 2;
			}
			if (c == OPT_THREADS)
				o.threads = (int)v;
			else if (c == OPT_SEED)
				o.seed = v, o.seed_set = true;
			else if (c == OPT_STEPS)
				o.max_steps = v;
			else
				o.keep = (unsigned)v;
			break;
		}
		case 'q': quiet = true; break;
		case 'h': return nys_print_stdout(usage) || nys_print_stdout(help) ? 1 : 0;
		case OPT_VERSION: return nys_print_stdout("nys-train " NYS_VERSION "\n") ? 1 : 0;
		default: nys_usage_error(usage, NULL); return 2;
		}
	}
	if (optind < argc) {
		nys_usage_error(usage, "unexpected operand '%s'", argv[optind]);
		return 2;
	}
	nys_blas_tune(argv);
	o.progress = !quiet && isatty(STDERR_FILENO);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	nys_train_end end;
	if (nys_train_run(&o, quiet ? NULL : info, NULL, &end, &e)) {
		fprintf(stderr, "nys-train: %s\n", e.msg);
		return 1;
	}
	if (!quiet && end == NYS_TRAIN_STOPPED)
		fprintf(stderr, "nys-train: stopped; run again to resume\n");
	return 0;
}
