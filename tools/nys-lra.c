/* nys-lra: the Long Range Arena study.  `prepare` reads a task's published
 * files into shards of labelled records (nys-lra(5)), `gen listops` makes
 * ListOps data as LRA's generator does; training and scoring the attention
 * variants on prepared tasks is `train`.  Each subcommand is its own block
 * below with its texts, options and function, and one entry in main's
 * table. */
#include "nys_cli.h"
#include "nys_lra_data.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: nys-lra prepare TASK [OPTIONS] INPUT... -o DIR\n"
	"       nys-lra gen listops [OPTIONS] -o DIR\n";

static const char help[] =
	"The Long Range Arena study: its five tasks (listops, text, retrieval,\n"
	"image, pathfinder) as shards of labelled records (nys-lra(5)).\n"
	"\n"
	"  prepare     a task's published files as train/dev/test shards\n"
	"  gen         generate ListOps data as LRA's generator does\n"
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

/* ---- train: lramodel's block goes here ---------------------------------- */

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
		/* train: lramodel's entry */
		{0},
	};
	static const nys_cli_prog prog = {
		.self = {"nys-lra", usage, help, .col = 18, .tail = tail},
		.cmds = cmds,
		.cmd_word = "subcommand", .no_cmd = "no subcommand (see nys-lra --help)"};
	return nys_cli_main(&prog, argc, argv);
}
