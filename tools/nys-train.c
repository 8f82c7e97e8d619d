/* nys-train: masked-LM pretraining of a Nystromformer from a config.json
 * of the original code, resuming from its newest checkpoint. */
#include "nys_blas.h"
#include "nys_cli.h"
#include "nys_dist.h"
#include "nys_model.h"
#include "nys_train.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: nys-train [--config FILE] [--data DIR] [--checkpoints DIR]\n"
	"                 [--device cpu|cuda|auto] [--precision fp32|bf16]\n"
	"                 [--threads N] [--seed S] [--steps N] [--keep N]\n"
	"                 [--exact-reduce] [-q]\n";

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
	"\n";

static const char tail[] =
	"\n"
	"SIGINT or SIGTERM: the step in progress finishes, a checkpoint is\n"
	"written (stop-SSSSSSSS.cp) and nys-train exits 0.\n"
	"\n"
	"Data-parallel: mpirun -np N nys-train ... (or srun --mpi=pmix) trains\n"
	"each step's micro-batches on N ranks; rank 0 writes the checkpoints and\n"
	"the log; --threads defaults to the cores over the ranks of a machine.\n"
	"On GPUs (--device cuda) the gradients are summed by NCCL when it loads\n"
	"(NYS_NCCL=0: on the host; NYS_NCCL=1: NCCL or an error, also on one rank).\n"
	"\n"
	"Exit status: 0 trained or stopped with a checkpoint, 1 error (bad config,\n"
	"data or checkpoint, a non-finite loss, I/O), 2 usage error.\n";

enum { OPT_CONFIG = 256, OPT_DATA, OPT_CKPT, OPT_DEVICE, OPT_THREADS, OPT_SEED, OPT_STEPS,
       OPT_KEEP, OPT_EXACT, OPT_PRECISION };

static const nys_cli_opt opts[] = {
	{"config", 0, "FILE", OPT_CONFIG, "the config (default config.json)"},
	{"data", 0, "DIR", OPT_DATA, "the shard directory, instead of data_folder"},
	{"checkpoints", 0, "DIR", OPT_CKPT, "the checkpoint folder, instead of model_checkpoints"},
	{"device", 0, "D", OPT_DEVICE, "cpu, cuda or auto (default auto: the GPU when\n"
	                               "there is a usable one, else the CPU)"},
	{"precision", 0, "P", OPT_PRECISION, "the dense layers' products: fp32, or bf16 (on cuda;\n"
	                                     "the CPU computes in fp32), instead of the\n"
	                                     "config's mixed_precision"},
	{"threads", 0, "N", OPT_THREADS, "threads for the CPU backend (default: all cores)"},
	{"seed", 0, "S", OPT_SEED, "the seed of initialisation, data order, masks and\n"
	                           "dropout, instead of pretraining_setting.seed (0)"},
	{"steps", 0, "N", OPT_STEPS, "stop once N optimizer steps are done in all,\n"
	                             "writing a checkpoint to resume from"},
	{"keep", 0, "N", OPT_KEEP, "keep only the newest N epoch checkpoints"},
	{"exact-reduce", 0, NULL, OPT_EXACT, "sum each step's micro-batch gradients exactly, so\n"
	                                     "that any number of MPI ranks trains bitwise the same"},
	NYS_CLI_OPT_QUIET("no messages or progress line on stderr"),
	{0},
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

static int train(nys_cli *cl)
{
	nys_train_opts o = {.stop = &stop_requested};
	uint64_t v;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
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
			else
				return nys_cli_usage(cl, "--device: expected cpu, cuda or auto, got '%s'",
				                     optarg);
			break;
		case OPT_PRECISION:
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
				return nys_cli_usage(cl, "--precision: expected fp32 or bf16, got '%s'",
				                     optarg);
			o.matmul_set = true;
			o.matmul = strcmp(optarg, "bf16") ? NYS_MATMUL_F32 : NYS_MATMUL_BF16;
			break;
		case OPT_THREADS:
			if (!nys_cli_u64(cl, 1, 1024, "--threads", &v))
				o.threads = (int)v;
			break;
		case OPT_SEED: o.seed_set = !nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &o.seed); break;
		case OPT_STEPS: nys_cli_u64(cl, 1, UINT64_MAX, "--steps", &o.max_steps); break;
		case OPT_EXACT: o.exact = true; break;
		case OPT_KEEP:
			if (!nys_cli_u64(cl, 1, 1000000, "--keep", &v))
				o.keep = (unsigned)v;
			break;
		}
	}
	if (c < 0)
		return cl->status;
	bool quiet = cl->quiet;
	nys_blas_tune(cl->main_argv);
	nys_err e = {0};
	nys_world w;
	unsigned local;
	if (nys_dist_start(NULL, NULL, &w, &local, &e)) {
		fprintf(stderr, "nys-train: %s\n", e.msg);
		return 1;
	}
	if (w.world > 1 || nys_dist_reduce_alone()) {
		o.world = &w;
		if (!o.threads)
			o.threads = nys_dist_threads(local);
		quiet = quiet || w.rank != 0; /* rank 0 speaks for the world */
	}
	/* which sum of the gradients the world uses, said once */
	nys_dist_info(&(nys_info){.fn = quiet ? NULL : info});
	o.progress = !quiet && isatty(STDERR_FILENO);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	nys_train_end end;
	if (nys_train_run(&o, quiet ? NULL : info, NULL, &end, &e)) {
		if (w.world > 1) {
			/* one rank's error ends them all (the others would wait) */
			fprintf(stderr, "nys-train: rank %u of %u: %s\n", w.rank, w.world, e.msg);
			fflush(stderr);
			nys_dist_abort(1);
		}
		fprintf(stderr, "nys-train: %s\n", e.msg);
		return 1;
	}
	nys_dist_end();
	if (!quiet && end == NYS_TRAIN_STOPPED)
		fprintf(stderr, "nys-train: stopped; run again to resume\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const nys_cli_prog prog = {
		.self = {"nys-train", usage, help,
		         .flags = NYS_CLI_QUIET | NYS_CLI_NO_OPERANDS | NYS_CLI_PLAIN_VERSION,
		         .run = train, .opts = opts, .col = 25, .tail = tail}};
	return nys_cli_main(&prog, argc, argv);
}
