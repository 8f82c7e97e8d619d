/* nys-eval: run a model checkpoint over token-id lines (forward), make a
 * fresh checkpoint (init), write transformers' config.json (hf-config),
 * fine-tune and score on GLUE (glue), score a training run's checkpoints on
 * its dev shards (mlm), import and export transformers folders (import-hf,
 * export-hf). */
#include "nys_blas.h"
#include "nys_cli.h"
#include "nys_eval.h"
#include "nys_finetune.h"
#include "nys_mlm_eval.h"
#include "nys_dist.h"
#include "nys_hf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: nys-eval forward --config CONFIG --checkpoint FILE [--ids FILE]\n"
	"                        [--logits] [--length N] [--batch N] [-o OUT.npy]\n"
	"                        [--device cpu|cuda|auto]\n"
	"       nys-eval init --config CONFIG [--seed S] [--mlm | --classes N] -o FILE\n"
	"       nys-eval hf-config --config CONFIG [--checkpoint FILE] [-o FILE]\n"
	"       nys-eval glue --task T --batch_size N --lr X --epoch E --checkpoint C\n"
	"                     -m spm.model [OPTIONS]\n"
	"       nys-eval mlm --checkpoint N|all|FILE [--batches K] [--batch_size N]\n"
	"                    [--config CONFIG] [--data DIR] [-o FILE]\n"
	"                    [--device cpu|cuda|auto]\n"
	"       nys-eval import-hf DIR [-o CONFIG]\n"
	"       nys-eval export-hf --checkpoint FILE -m SPM.model [--lower] -o DIR\n";

static const char help[] =
	"Evaluate Nystromformer models (nys-checkpoint(5)) outside training.\n"
	"\n"
	"  forward     run a checkpoint over token-id lines, in eval mode, and write\n"
	"              the final hidden states (or the masked-LM logits) as .npy\n"
	"  init        write a freshly initialised checkpoint\n"
	"  hf-config   write the config.json of transformers' Nystromformer\n"
	"  glue        fine-tune a checkpoint on a GLUE task and score it\n"
	"  mlm         masked-LM loss and accuracy of checkpoints on dev.json\n"
	"  import-hf   a transformers Nystromformer folder as a nys config\n"
	"  export-hf   a checkpoint as a transformers folder (weights, tokenizer)\n"
	"\n";
static const char tail[] =
	"('nys-eval SUBCOMMAND --help' for theirs.)\n"
	"\n"
	"Exit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n";

static const char fwd_usage[] =
	"usage: nys-eval forward --config CONFIG --checkpoint FILE [--ids FILE]\n"
	"                        [--logits] [--length N] [--batch N] [-o OUT.npy]\n"
	"                        [--device cpu|cuda|auto]\n";
static const char fwd_help[] =
	"Read sequences of token ids, one a line (- or no --ids: stdin), pad them\n"
	"with id 0 (masked) to one length, run the model in eval mode and write\n"
	"its final hidden states, shape (lines, length, transformer_dim), or with\n"
	"--logits the masked-LM logits at every position, (lines, length,\n"
	"vocab_size), as a float32 .npy array.\n"
	"\n";

static const char init_usage[] =
	"usage: nys-eval init --config CONFIG [--seed S] [--mlm | --classes N\n"
	"                     [--head authors|hf]] -o FILE\n";
static const char init_help[] =
	"Write a checkpoint of freshly initialised weights, as the authors' model\n"
	"starts (nys-checkpoint(5)), with the masked-LM head or a classifier.\n"
	"\n";

static const char hf_usage[] =
	"usage: nys-eval hf-config --config CONFIG [--checkpoint FILE] [-o FILE]\n";
static const char hf_help[] =
	"Write the config.json of a transformers NystromformerForMaskedLM of the\n"
	"model's shapes, so that a checkpoint (renamed model.safetensors) and it\n"
	"load with from_pretrained.  Models transformers cannot express are refused.\n"
	"\n";

enum { OPT_CONFIG = 256, OPT_CHECKPOINT, OPT_IDS, OPT_LOGITS, OPT_LENGTH, OPT_BATCH, OPT_SEED,
	OPT_MLM, OPT_CLASSES, OPT_HEAD, OPT_DEVICE, OPT_END };

/* --device of forward and mlm, as nys-train's: 0, or a usage error's
 * status (2) */
static const char device_help[] = "cpu, cuda or auto (default auto: the GPU when\n"
                                  "there is a usable one, else the CPU)";
static int device_arg(nys_cli *cl, const char *s, nys_device *d)
{
	if (!strcmp(s, "cpu"))
		*d = NYS_DEVICE_CPU;
	else if (!strcmp(s, "cuda"))
		*d = NYS_DEVICE_CUDA;
	else if (!strcmp(s, "auto"))
		*d = NYS_DEVICE_AUTO;
	else
		return nys_cli_usage(cl, "--device: expected cpu, cuda or auto, got '%s'", s);
	return 0;
}

/* forward, init and hf-config take the options of all three, parsed alike
 * (so that one of another is refused by name, not as unknown): each
 * subcommand's table gives the help of its own and NULL for the others,
 * and the output's name in its help. */
#define EVAL_OPTS(config, checkpoint, ids, logits, length, batch, seed, mlm, classes, head, \
                  device, out, output) \
	{ \
		{"config", 0, "CONFIG", OPT_CONFIG, config}, \
		{"checkpoint", 0, "FILE", OPT_CHECKPOINT, checkpoint}, \
		{"ids", 0, "FILE", OPT_IDS, ids}, {"logits", 0, NULL, OPT_LOGITS, logits}, \
		{"length", 0, "N", OPT_LENGTH, length}, {"batch", 0, "N", OPT_BATCH, batch}, \
		{"seed", 0, "S", OPT_SEED, seed}, {"mlm", 0, NULL, OPT_MLM, mlm}, \
		{"classes", 0, "N", OPT_CLASSES, classes}, \
		{"head", 0, "authors|hf", OPT_HEAD, head}, {"device", 0, "D", OPT_DEVICE, device}, \
		{"output", 'o', out, 0, output}, {0}, \
	}

static const nys_cli_opt fwd_opts[] = EVAL_OPTS(
	"the model's config.json (its \"model\" section)",
	"the weights (safetensors, nys-checkpoint(5))",
	"the id lines (default stdin)",
	"the MLM logits instead of the hidden states",
	"pad every line to N ids (default: the config's\n"
	"seq_len for Nystrom attention with landmarks, as\n"
	"the authors' code needs; else the longest line)",
	"lines a forward (default: about 4096 tokens)",
	NULL, NULL, NULL, NULL, device_help, "OUT.npy", "the array (default stdout, not a terminal)");

static const nys_cli_opt init_opts[] = EVAL_OPTS(
	"the model's config.json", NULL, NULL, NULL, NULL, NULL,
	"the random seed (default 0)",
	"with the masked-LM head (the default)",
	"with a classifier of N classes instead (1: regression)",
	"the classifier's activation: the authors' tanh (the\n"
	"default) or transformers' gelu_new",
	NULL, "FILE", "the checkpoint (required)");

static const nys_cli_opt hf_opts[] = EVAL_OPTS(
	"the model's config.json",
	"the checkpoint it is for: its vocabulary is\n"
	"written (nys-train takes it from the shards)",
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "FILE",
	"the HF config (default stdout)");

/* The options of forward, init and hf-config, parsed alike; each then
 * refuses those that are not its own. */
typedef struct args {
	const char *config, *checkpoint, *ids, *output, *head;
	bool logits, mlm, have_length, have_batch, have_seed;
	uint64_t length, batch, seed, classes;
	nys_device device;
	int seen[OPT_END]; /* which options were given */
} args;

/* A usage error when an option not the subcommand's own (one its table
 * does not list in --help) was given. */
static int only(const nys_cli *cl, const args *a)
{
	for (const nys_cli_opt *o = cl->cmd->opts; o->name; o++) {
		int id = o->id ? o->id : o->letter;
		if (a->seen[id] && !o->help)
			return nys_cli_usage(cl, "%s takes no --%s", cl->cmd->name, o->name);
	}
	return 0;
}

/* Whether the command goes on; when not (help, version, a usage error),
 * its exit status is in *status. */
static bool parse(nys_cli *cl, args *a, int *status)
{
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		if (c < OPT_END)
			a->seen[c] = 1;
		switch (c) {
		case OPT_CONFIG: a->config = optarg; break;
		case OPT_CHECKPOINT: a->checkpoint = optarg; break;
		case OPT_IDS: a->ids = optarg; break;
		case 'o': a->output = optarg; break;
		case OPT_LOGITS: a->logits = true; break;
		case OPT_MLM: a->mlm = true; break;
		case OPT_HEAD: a->head = optarg; break;
		case OPT_LENGTH: nys_cli_u64(cl, 1, UINT32_MAX, "--length", &a->length); break;
		case OPT_BATCH: nys_cli_u64(cl, 1, 1 << 20, "--batch", &a->batch); break;
		case OPT_SEED: nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &a->seed); break;
		case OPT_CLASSES: nys_cli_u64(cl, 1, 1 << 20, "--classes", &a->classes); break;
		case OPT_DEVICE:
			if ((*status = device_arg(cl, optarg, &a->device)))
				return false;
			break;
		}
	}
	if (c < 0)
		*status = cl->status;
	else if (!a->config)
		*status = nys_cli_usage(cl, "no --config");
	else
		*status = only(cl, a);
	if (*status || c < 0)
		return false;
	nys_out_cleanup_on_signals();
	return true;
}

static int fail(nys_err *e)
{
	nys_warnx("%s", e->msg);
	return 1;
}

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

static int cmd_forward(nys_cli *cl)
{
	args given = {0}, *a = &given;
	int status;
	if (!parse(cl, a, &status))
		return status;
	if (!a->checkpoint)
		return nys_cli_usage(cl, "no --checkpoint");
	nys_blas_tune(cl->main_argv);
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
	if (nys_config_uses_landmarks(c) && T < c->num_landmarks) {
		nys_err_set(&e, "--length %u is shorter than num_landmarks %u of %s", T,
		            c->num_landmarks, a->config);
		goto out;
	}

	nys_model_opts mo = {.dtype = NYS_F32, .mlm = a->logits, .device = a->device};
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

static int cmd_init(nys_cli *cl)
{
	args given = {0}, *a = &given;
	int status;
	if (!parse(cl, a, &status))
		return status;
	if (a->mlm && a->classes)
		return nys_cli_usage(cl, "--mlm and --classes exclude each other");
	if (!a->output || !strcmp(a->output, "-"))
		return nys_cli_usage(cl, "a checkpoint needs -o FILE");
	if (a->head && !a->classes)
		return nys_cli_usage(cl, "--head is the classifier's: it needs --classes");
	if (a->head && strcmp(a->head, "authors") && strcmp(a->head, "hf"))
		return nys_cli_usage(cl, "--head: expected authors or hf, not '%s'", a->head);
	nys_err e;
	nys_config *cfg = nys_config_load(a->config, NULL, NULL, &e);
	if (!cfg)
		return fail(&e);
	nys_model_opts mo = {.dtype = NYS_F32, .mlm = !a->classes, .num_labels = (int)a->classes,
	                     .cls_act = a->head && !strcmp(a->head, "hf") ? NYS_CLS_GELU : NYS_CLS_TANH};
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

static int cmd_hf_config(nys_cli *cl)
{
	args given = {0}, *a = &given;
	int status;
	if (!parse(cl, a, &status))
		return status;
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

/* ---- mlm: masked-LM validation of a run's checkpoints ------------------------------ */

static const char mlm_usage[] =
	"usage: nys-eval mlm --checkpoint N|all|FILE [--batches K] [--batch_size N]\n"
	"                    [--config CONFIG] [--data DIR] [-o FILE]\n"
	"                    [--device cpu|cuda|auto]\n";
static const char mlm_help[] =
	"Score masked-LM loss and accuracy on the dev.json shards of a training\n"
	"config's data folder, as nys-train validates after every epoch: the same\n"
	"sequences from the list's start, masked with a seed fixed by the config's\n"
	"seed (so numbers compare across checkpoints), in micro-batches of\n"
	"gpu_setting.inst_per_gpu.  One JSON line a checkpoint, with nys-train's\n"
	"validation keys (valid_loss, valid_mlm_accu, valid_count, valid_inst,\n"
	"epoch, idx) and the checkpoint's path.\n"
	"\n";

enum { MLM_CONFIG = 256, MLM_CHECKPOINT, MLM_BATCHES, MLM_BATCH_SIZE, MLM_DATA, MLM_DEVICE };

static const nys_cli_opt mlm_opts[] = {
	{"checkpoint", 0, "N|all|FILE", MLM_CHECKPOINT,
	 "N (digits): cp-NNNN.model, epoch N's, of the\n"
	 "config's model_checkpoints; all: every epoch's, in\n"
	 "step order; else a checkpoint file (required)"},
	{"batches", 0, "K", MLM_BATCHES, "score K batches (default: the config's\n"
	                                 "validate_batches_per_epoch; all of dev.json if 0)"},
	{"batch_size", 0, "N", MLM_BATCH_SIZE, "sequences a batch (default: pretraining_setting's)"},
	{"config", 0, "CONFIG", MLM_CONFIG, "the training config (default config.json)"},
	{"data", 0, "DIR", MLM_DATA, "the shard folder (default: the config's data_folder)"},
	{"output", 'o', "FILE", 0, "the JSON lines (default stdout)"},
	{"device", 0, "D", MLM_DEVICE, device_help},
	NYS_CLI_OPT_QUIET("no line on stderr for each checkpoint"),
	{0},
};

static void mlm_info(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "nys-eval: %s\n", line);
}

static int cmd_mlm(nys_cli *cl)
{
	nys_mlm_run_opts o = {0};
	const char *output = NULL;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case MLM_CONFIG: o.config = optarg; break;
		case MLM_CHECKPOINT: o.checkpoint = optarg; break;
		case MLM_DATA: o.data = optarg; break;
		case 'o': output = optarg; break;
		case MLM_BATCHES: nys_cli_u64(cl, 1, UINT32_MAX, "--batches", &o.batches); break;
		case MLM_BATCH_SIZE:
			nys_cli_u64(cl, 1, 1 << 20, "--batch_size", &o.batch_size);
			break;
		case MLM_DEVICE: {
			int rc = device_arg(cl, optarg, &o.device);
			if (rc)
				return rc;
			break;
		}
		}
	}
	if (c < 0)
		return cl->status;
	if (!o.checkpoint)
		return nys_cli_usage(cl, "no --checkpoint");
	nys_blas_tune(cl->main_argv);
	nys_out_cleanup_on_signals();
	nys_err e;
	/* data-parallel under mpirun (nys_dist.h): rank 0 speaks and writes */
	nys_world w;
	unsigned local;
	if (nys_dist_start(NULL, NULL, &w, &local, &e))
		return fail(&e);
	bool rank0 = w.rank == 0;
	if (w.world > 1) {
		o.world = &w;
		o.threads = nys_dist_threads(local);
	}
	nys_info info = {.fn = cl->quiet || !rank0 ? NULL : mlm_info};
	nys_out *out = nys_out_open(rank0 ? output : "/dev/null", 0, &e);
	if (!out)
		return fail(&e);
	if (nys_mlm_run(&o, out, &info, &e)) {
		nys_out_abort(out);
		if (w.world > 1) {
			fprintf(stderr, "nys-eval: rank %u of %u: %s\n", w.rank, w.world, e.msg);
			fflush(stderr);
			nys_dist_abort(1);
		}
		return fail(&e);
	}
	int rc = nys_out_commit(out, &e) ? fail(&e) : 0;
	nys_dist_end();
	return rc;
}

/* ---- glue: GLUE fine-tuning (nys_finetune.h) ------------------------------------ */

static const char glue_usage[] =
	"usage: nys-eval glue --task T --batch_size N --lr X --epoch E --checkpoint C\n"
	"                     -m spm.model [--config CONFIG] [--glue DIR] [--lower]\n"
	"                     [--head authors|hf] [--seed S] [--predict DIR] [--save FILE]\n"
	"                     [--eval-only] [--pad max|longest] [--score-train] [-j N] [-q]\n"
	"                     [--device cpu|cuda|auto]\n";
static const char glue_help[] =
	"Fine-tune a pretrained checkpoint on a GLUE task, as the authors' run_glue.py:\n"
	"the encoder under a fresh head, AdamW (eps 1e-6, weight decay 0.01) under\n"
	"OneCycleLR (5% warmup), the dev split scored after every epoch.  One JSON\n"
	"line an epoch goes to glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.log beside the\n"
	"checkpoint, one summary line to stdout.\n"
	"\n";

enum { GLUE_TASK = 256, GLUE_BATCH, GLUE_LR, GLUE_EPOCH, GLUE_CHECKPOINT, GLUE_CONFIG, GLUE_DIR,
	GLUE_LOWER, GLUE_HEAD, GLUE_SEED, GLUE_PREDICT, GLUE_SAVE, GLUE_EVAL_ONLY, GLUE_PAD,
	GLUE_SCORE_TRAIN, GLUE_DEVICE, GLUE_MICRO, GLUE_EXACT };

static const nys_cli_opt glue_opts[] = {
	{"task", 0, "T", GLUE_TASK, "CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI"},
	{"batch_size", 0, "N", GLUE_BATCH, "examples a step (also a forward when scoring)"},
	{"lr", 0, "X", GLUE_LR, "OneCycleLR's peak learning rate"},
	{"epoch", 0, "E", GLUE_EPOCH, "epochs"},
	{"checkpoint", 0, "C", GLUE_CHECKPOINT, "an epoch number (cp-00CC.model of the config's\n"
	                                        "model_checkpoints) or a checkpoint file"},
	{"model", 'm', "MODEL", 0, "the sentencepiece model the pretraining data was\n"
	                           "encoded with (its fingerprint must be the checkpoint's)"},
	{"config", 0, "CONFIG", GLUE_CONFIG, "the config (default config.json)"},
	{"glue", 0, "DIR", GLUE_DIR, "the GLUE folder (default: the config's\n"
	                             "glue_dataset_folder)"},
	{"lower", 0, NULL, GLUE_LOWER, "lower-case the text first, as tokenize encode --lower"},
	{"head", 0, "H", GLUE_HEAD, "authors (dropout, dense, tanh; the default) or hf\n"
	                            "(gelu_new, as NystromformerForSequenceClassification)"},
	{"seed", 0, "S", GLUE_SEED, "the head's weights, the data order, dropout (default 0)"},
	{"predict", 0, "DIR", GLUE_PREDICT, "the best epoch's predictions in GLUE's layout"},
	{"save", 0, "FILE", GLUE_SAVE, "the best epoch's model as a checkpoint"},
	{"eval-only", 0, NULL, GLUE_EVAL_ONLY, "score --checkpoint (one --save wrote): no training"},
	{"pad", 0, "P", GLUE_PAD, "max (pad to max_seq_len, the default) or longest"},
	{"score-train", 0, NULL, GLUE_SCORE_TRAIN, "also score the training split every epoch"},
	{"micro", 0, "N", GLUE_MICRO, "examples a forward while training (default: the\n"
	                              "batch size; under mpirun, shared among the ranks)"},
	{"exact-reduce", 0, NULL, GLUE_EXACT, "sum each step's micro-batch gradients exactly, so\n"
	                                      "that any number of MPI ranks fine-tunes bitwise the same"},
	{"device", 0, "D", GLUE_DEVICE, "cpu, cuda or auto (default auto: the GPU when\n"
	                                "there is a usable one, else the CPU)"},
	NYS_CLI_OPT_JOBS("threads (default: all cores)"),
	NYS_CLI_OPT_QUIET("no progress or informational lines"),
	{0},
};

static void glue_info(void *ctx, const char *line)
{
	nys_warnx("%s", line);
}

static int cmd_glue(nys_cli *cl)
{
	nys_ft_opts o = {.head = NYS_CLS_TANH, .pad = NYS_FT_PAD_MAX};
	bool have_lr = false;
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case GLUE_TASK: o.task = optarg; break;
		case GLUE_BATCH: nys_cli_u64(cl, 1, 1 << 20, "--batch_size", &o.batch_size); break;
		case GLUE_EPOCH: nys_cli_u64(cl, 1, 1 << 20, "--epoch", &o.epochs); break;
		case GLUE_SEED: nys_cli_u64(cl, 0, UINT64_MAX, "--seed", &o.seed); break;
		case GLUE_CHECKPOINT: o.checkpoint = optarg; break;
		case 'm': o.spm = optarg; break;
		case GLUE_CONFIG: o.config = optarg; break;
		case GLUE_DIR: o.glue = optarg; break;
		case GLUE_LOWER: o.lower = true; break;
		case GLUE_PREDICT: o.predict = optarg; break;
		case GLUE_SAVE: o.save = optarg; break;
		case GLUE_EVAL_ONLY: o.eval_only = true; break;
		case GLUE_SCORE_TRAIN: o.score_train = true; break;
		case GLUE_MICRO: nys_cli_u64(cl, 1, 1 << 20, "--micro", &o.micro); break;
		case GLUE_EXACT: o.exact = true; break;
		case GLUE_LR: {
			char *end;
			o.lr = strtod(optarg, &end);
			if (*end || end == optarg || !(o.lr > 0) || o.lr > 1e3)
				return nys_cli_usage(cl, "--lr: expected a number in (0, 1000], got '%s'",
				                     optarg);
			have_lr = true;
			break;
		}
		case GLUE_HEAD:
			if (strcmp(optarg, "authors") && strcmp(optarg, "hf"))
				return nys_cli_usage(cl, "--head: expected authors or hf, got '%s'", optarg);
			o.head = strcmp(optarg, "hf") ? NYS_CLS_TANH : NYS_CLS_GELU;
			break;
		case GLUE_DEVICE:
			if (!strcmp(optarg, "cpu") || !strcmp(optarg, "cuda") || !strcmp(optarg, "auto"))
				o.device = !strcmp(optarg, "cpu")    ? NYS_DEVICE_CPU
				           : !strcmp(optarg, "cuda") ? NYS_DEVICE_CUDA
				                                     : NYS_DEVICE_AUTO;
			else
				return nys_cli_usage(cl, "--device: expected cpu, cuda or auto, got '%s'",
				                     optarg);
			break;
		case GLUE_PAD:
			if (strcmp(optarg, "max") && strcmp(optarg, "longest"))
				return nys_cli_usage(cl, "--pad: expected max or longest, got '%s'", optarg);
			o.pad = strcmp(optarg, "max") ? NYS_FT_PAD_LONGEST : NYS_FT_PAD_MAX;
			break;
		}
	}
	if (c < 0)
		return cl->status;
	if (!o.task)
		return nys_cli_usage(cl, "no --task");
	if (!o.checkpoint)
		return nys_cli_usage(cl, "no --checkpoint");
	if (!o.spm)
		return nys_cli_usage(cl, "no -m MODEL (the sentencepiece model of the pretraining data)");
	if (!o.batch_size)
		return nys_cli_usage(cl, "no --batch_size");
	if (!o.eval_only && (!have_lr || !o.epochs))
		return nys_cli_usage(cl, "fine-tuning needs --lr and --epoch");
	if (o.eval_only && o.save)
		return nys_cli_usage(cl, "--eval-only saves nothing: no --save");
	if (o.eval_only) {
		/* the log name's fields; nothing is trained */
		o.epochs = o.epochs ? o.epochs : 1;
		o.lr = have_lr ? o.lr : 1;
	}
	o.threads = (int)cl->threads;
	o.progress = !cl->quiet && isatty(STDERR_FILENO);
	nys_blas_tune(cl->main_argv);
	nys_out_cleanup_on_signals();
	nys_err e;
	char *summary = NULL;
	/* data-parallel under mpirun (nys_dist.h), as mlm: rank 0 speaks and
	 * writes */
	nys_world w;
	unsigned local;
	if (nys_dist_start(NULL, NULL, &w, &local, &e))
		return fail(&e);
	bool rank0 = w.rank == 0;
	if (w.world > 1) {
		o.world = &w;
		if (!o.threads)
			o.threads = nys_dist_threads(local);
		o.progress = o.progress && rank0;
	}
	nys_dist_info(&(nys_info){.fn = cl->quiet || !rank0 ? NULL : glue_info});
	if (nys_ft_run(&o, cl->quiet || !rank0 ? NULL : glue_info, NULL, &summary, &e)) {
		if (w.world > 1) {
			fprintf(stderr, "nys-eval: rank %u of %u: %s\n", w.rank, w.world, e.msg);
			fflush(stderr);
			nys_dist_abort(1);
		}
		return fail(&e);
	}
	int rc = rank0 && (printf("%s\n", summary) < 0 || fflush(stdout)) ? 1 : 0;
	if (rc)
		nys_warnx("stdout: write failed");
	free(summary);
	nys_dist_end();
	return rc;
}

/* ---- import-hf ---------------------------------------------------------------- */

static const char import_hf_usage[] = "usage: nys-eval import-hf DIR [-o CONFIG]\n";
static const char import_hf_help[] =
	"Read a transformers Nystromformer folder (config.json, model.safetensors,\n"
	"and spiece.model with tokenizer_config.json when it has them, as\n"
	"save_pretrained writes and the released uw-madison/nystromformer models\n"
	"are) and write a nys config.json whose \"model\" section is the same\n"
	"network and whose checkpoint (\"from_cp\") is DIR's model.safetensors as it\n"
	"is; its \"tokenizer\" names DIR's spiece.model, its lower-casing and its\n"
	"fingerprint, for nys-eval glue.  The weights are checked to load.\n"
	"\n";

static const nys_cli_opt import_hf_opts[] = {
	{"output", 'o', "CONFIG", 0, "the nys config (default stdout)"},
	{0},
};

static int cmd_import_hf(nys_cli *cl)
{
	const char *output = NULL;
	int c;
	while ((c = nys_cli_next(cl)) > 0)
		if (c == 'o')
			output = optarg;
	if (c < 0)
		return cl->status;
	const char *const *ops;
	size_t n = nys_cli_operands(cl, &ops);
	if (n != 1)
		return nys_cli_usage(cl, n ? "one DIR only" : "no DIR");
	nys_out_cleanup_on_signals();
	nys_blas_tune(cl->main_argv);
	nys_err e;
	return nys_hf_import(ops[0], output, &e) ? fail(&e) : 0;
}

/* ---- export-hf ---------------------------------------------------------------- */

static const char export_hf_usage[] =
	"usage: nys-eval export-hf --checkpoint FILE -m SPM.model [--lower] -o DIR\n";
static const char export_hf_help[] =
	"Write a checkpoint as a transformers folder: config.json, model.safetensors,\n"
	"AlbertTokenizer's spiece.model and tokenizer_config.json, so that\n"
	"AutoModelForMaskedLM.from_pretrained(DIR) and pipeline(\"fill-mask\",\n"
	"model=DIR) work as they are; a classifier checkpoint becomes a\n"
	"NystromformerForSequenceClassification with id2label.  The folder is\n"
	"replaced whole or not at all.  Refused: what transformers cannot express\n"
	"(no convolution, softmax attention, uneven segments, the authors' tanh\n"
	"classifier head, and what hf-config refuses) and a sentencepiece model\n"
	"whose fingerprint differs from the one the checkpoint records.\n"
	"\n";

enum { EXPORT_CHECKPOINT = 256, EXPORT_LOWER };
static const nys_cli_opt export_hf_opts[] = {
	{"checkpoint", 0, "FILE", EXPORT_CHECKPOINT, "the nys checkpoint (nys-checkpoint(5))"},
	{"model", 'm', "SPM", 0, "the sentencepiece model it was trained with"},
	{"lower", 0, NULL, EXPORT_LOWER, "the text was lower-cased (tokenize encode --lower):\n"
	                                 "do_lower_case in tokenizer_config.json"},
	{"output", 'o', "DIR", 0, "the folder (made if needed)"},
	{0},
};

static int cmd_export_hf(nys_cli *cl)
{
	nys_hf_export_opts o = {0};
	int c;
	while ((c = nys_cli_next(cl)) > 0) {
		switch (c) {
		case EXPORT_CHECKPOINT: o.checkpoint = optarg; break;
		case 'm': o.spm = optarg; break;
		case EXPORT_LOWER: o.lower = true; break;
		case 'o': o.dir = optarg; break;
		}
	}
	if (c < 0)
		return cl->status;
	if (!o.checkpoint)
		return nys_cli_usage(cl, "no --checkpoint");
	if (!o.spm)
		return nys_cli_usage(cl, "no -m SPM.model");
	if (!o.dir || !strcmp(o.dir, "-"))
		return nys_cli_usage(cl, "a folder needs -o DIR");
	nys_out_cleanup_on_signals();
	nys_blas_tune(cl->main_argv);
	nys_err e;
	return nys_hf_export(&o, &e) ? fail(&e) : 0;
}

int main(int argc, char **argv)
{
	/* a subcommand: its name, the prefix of its texts and table, its
	 * function, its flags and the column of its options' help */
#define CMD(cmd, prefix, fn, f, column) \
	{cmd, prefix##_usage, prefix##_help, .flags = f, .run = fn, .opts = prefix##_opts, \
	 .col = column}
	static const nys_cli_cmd cmds[] = {
		CMD("forward", fwd, cmd_forward, NYS_CLI_NO_OPERANDS, 25),
		CMD("init", init, cmd_init, NYS_CLI_NO_OPERANDS, 23),
		CMD("hf-config", hf, cmd_hf_config, NYS_CLI_NO_OPERANDS, 23),
		CMD("glue", glue, cmd_glue, NYS_CLI_NO_OPERANDS | NYS_CLI_JOBS | NYS_CLI_QUIET, 25),
		CMD("mlm", mlm, cmd_mlm, NYS_CLI_NO_OPERANDS | NYS_CLI_QUIET, 25),
		CMD("import-hf", import_hf, cmd_import_hf, 0, 23),
		CMD("export-hf", export_hf, cmd_export_hf, NYS_CLI_NO_OPERANDS, 23),
		{0},
	};
	static const nys_cli_prog prog = {
		.self = {"nys-eval", usage, help, .col = 18, .tail = tail},
		.cmds = cmds,
		.cmd_word = "subcommand", .no_cmd = "no subcommand (see nys-eval --help)"};
	return nys_cli_main(&prog, argc, argv);
}
