/* The command-line skeleton every nys program shares.
 *
 * A program describes itself once (its name, usage and help, its options,
 * the table of its subcommands or the one function it runs) and hands
 * main's arguments to nys_cli_main.  The runner picks the subcommand, and
 * inside every command's option loop (nys_cli_next) it answers --help (to
 * stdout, exit 0), --version (one format: "PROG (nys) VERSION"), usage
 * errors (the message and the short usage on stderr, exit 2) and the
 * options programs share, -j N and -q, so that none of them is written
 * twice.  A command writes each of its options once, in a table of
 * nys_cli_opt (long name, short letter, argument, id, help line): the
 * runner makes getopt_long's long options and short-option string from it,
 * and the option lines of --help, with -h and --version appended.
 */
#ifndef NYS_CLI_H
#define NYS_CLI_H

#include "nys.h"

#include <getopt.h>

/* What a command takes besides its own options. */
enum {
	/* -j N, --threads N: 1 to 256 threads (default: the number of cores),
	 * in nys_cli.threads */
	NYS_CLI_JOBS = 1,
	/* -q, --quiet: nys_cli.quiet */
	NYS_CLI_QUIET = 2,
	/* no operands: one is a usage error ("unexpected operand 'X'") */
	NYS_CLI_NO_OPERANDS = 4,
	/* no --version of its own (a subcommand that never had one) */
	NYS_CLI_NO_VERSION = 8,
	/* (of the program) --version prints "PROG VERSION", without "(nys)":
	 * nys-train's, as its tests have it */
	NYS_CLI_PLAIN_VERSION = 16,
};

/* The option value --version has in a command's loop (the runner's own). */
#define NYS_CLI_OPT_VERSION 0x10000

typedef struct nys_cli nys_cli;

/* One option of a command, written once: for getopt and for --help. */
typedef struct nys_cli_opt {
	const char *name;  /* the long name, without "--" */
	int letter;        /* the short letter, or 0 */
	const char *arg;   /* its argument's name in --help; NULL: it takes none */
	int id;            /* what nys_cli_next returns; 0: the letter */
	/* its --help text: after "  -x, --name ARG" padded to the command's
	 * column, each "\n" starting a line indented to that column; NULL:
	 * not listed (an option the command takes only to refuse it itself) */
	const char *help;
} nys_cli_opt;

/* A command's table entry for the shared -j N (NYS_CLI_JOBS) and -q
 * (NYS_CLI_QUIET), where its help places their lines. */
#define NYS_CLI_OPT_JOBS(help) {"threads", 'j', "N", 'j', help}
#define NYS_CLI_OPT_QUIET(help) {"quiet", 'q', NULL, 'q', help}

/* A command: the program itself, or one of its subcommands. */
typedef struct nys_cli_cmd {
	const char *name;      /* the subcommand; the program's name for itself */
	const char *usage;     /* "usage: ..." lines, for --help and usage errors */
	const char *help;      /* what --help prints between the usage and the
	                        * option lines */
	unsigned flags;        /* NYS_CLI_* */
	/* Runs the command: its option loop is nys_cli_next; returns the exit
	 * status.  NULL in the program's own entry when a subcommand is
	 * required. */
	int (*run)(nys_cli *cl);
	/* Its options, ended by one without a name (NULL: none of its own),
	 * from which the runner makes getopt's arrays and the option lines of
	 * --help; the column where their help starts (0: 23); and what --help
	 * prints after the option lines (NULL: nothing). */
	const nys_cli_opt *opts;
	unsigned col;
	const char *tail;
} nys_cli_cmd;

typedef struct nys_cli_prog {
	nys_cli_cmd self;          /* the program: name, usage, help, options */
	const nys_cli_cmd *cmds;   /* its subcommands, ended by one without a
	                            * name; or NULL */
	/* With subcommands: the word for one in errors ("unknown subcommand
	 * 'x'"), and the message when none is given and self.run is NULL. */
	const char *cmd_word, *no_cmd;
} nys_cli_prog;

/* Room for a command's options with the shared ones appended. */
#define NYS_CLI_MAX_OPTS 40

struct nys_cli {
	const nys_cli_prog *prog;
	const nys_cli_cmd *cmd; /* the command running */
	int argc;               /* its arguments: argv[0] is the program, or */
	char **argv;            /* the subcommand's name */
	char **main_argv;       /* main's argv (for nys_blas_tune) */
	unsigned threads;       /* NYS_CLI_JOBS: -j N, or the number of cores */
	bool quiet;             /* NYS_CLI_QUIET: -q given */
	int status;             /* the exit status once nys_cli_next returned -1 */
	bool failed;            /* a usage error came while a case ran */
	struct option opts[NYS_CLI_MAX_OPTS + 5];
	char shortopts[2 * NYS_CLI_MAX_OPTS + 8];
};

/* Set the program name for messages (nys_prog_init), pick the command from
 * argv[1] and run it; returns main's exit status.  A program with
 * subcommands and no function of its own takes only --help and --version
 * before one. */
int nys_cli_main(const nys_cli_prog *prog, int argc, char **argv);

/* The next of the command's own options (getopt_long's value, optarg set):
 * > 0; 0 at the end of the options (the operands follow, nys_cli_operands);
 * -1 when the command is done: --help or --version printed, or a usage
 * error reported, with the exit status in cl->status. */
int nys_cli_next(nys_cli *cl);

/* The operands after the options; *ops points into argv. */
size_t nys_cli_operands(const nys_cli *cl, const char *const **ops);

/* optarg as a whole number in [lo, hi] (nys_parse_u64; nys_cli_size:
 * nys_parse_size, K/M/G suffixes) into *out; what names the option in
 * the message.  0, or -1 after the usage error, and the next nys_cli_next
 * then ends the loop (-1, exit status 2), so that a case of the loop only
 * has to break. */
int nys_cli_u64(nys_cli *cl, uint64_t lo, uint64_t hi, const char *what, uint64_t *out);
int nys_cli_size(nys_cli *cl, uint64_t lo, uint64_t hi, const char *what, uint64_t *out);

/* A usage error of the running command: "prog: message" (when fmt) and its
 * usage on stderr; returns 2, the exit status of usage errors. */
int nys_cli_usage(const nys_cli *cl, const char *fmt, ...) NYS_PRINTF(2, 3);

#endif
