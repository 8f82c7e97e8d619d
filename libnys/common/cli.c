/* The command-line runner of nys_cli.h: the subcommand dispatch, --help,
 * --version, usage errors and the shared -j and -q of every nys program,
 * so that each tool holds only its own options and work. */
#include "nys_cli.h"

#include <string.h>
#include <unistd.h>

int nys_cli_usage(const nys_cli *cl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nys_usage_verror(cl->cmd->usage, fmt, ap);
	va_end(ap);
	return 2;
}

/* Whether the runner answers this entry of a command's table itself (the
 * shared -j and -q, appended after the command's own options). */
static bool shared_opt(const nys_cli_cmd *cmd, const nys_cli_opt *o)
{
	int id = o->id ? o->id : o->letter;
	return ((cmd->flags & NYS_CLI_JOBS) && id == 'j') || ((cmd->flags & NYS_CLI_QUIET) && id == 'q');
}

/* getopt's long options and short-option string from a command's table,
 * the shared ones appended; -1 (a fault of the program's tables, not of its
 * user) when they do not fit. */
static int make_getopt(nys_cli *cl, const nys_cli_cmd *cmd)
{
	size_t k = 0, n = 0;
	for (const nys_cli_opt *o = cmd->opts; o && o->name; o++) {
		if (shared_opt(cmd, o))
			continue;
		if (n == NYS_CLI_MAX_OPTS)
			return -1;
		int id = o->id ? o->id : o->letter;
		cl->opts[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
		                                id};
		if (o->letter) {
			cl->shortopts[k++] = (char)o->letter;
			if (o->arg)
				cl->shortopts[k++] = ':';
		}
	}
	cl->shortopts[k] = 0;
	if (cmd->flags & NYS_CLI_JOBS) {
		cl->opts[n++] = (struct option){"threads", required_argument, NULL, 'j'};
		strcat(cl->shortopts, "j:");
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cl->threads = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (cmd->flags & NYS_CLI_QUIET) {
		cl->opts[n++] = (struct option){"quiet", no_argument, NULL, 'q'};
		strcat(cl->shortopts, "q");
	}
	cl->opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	strcat(cl->shortopts, "h");
	if (!(cmd->flags & NYS_CLI_NO_VERSION))
		cl->opts[n++] = (struct option){"version", no_argument, NULL, NYS_CLI_OPT_VERSION};
	cl->opts[n] = (struct option){NULL, 0, NULL, 0};
	return 0;
}

/* One option's lines of --help: "  -x, --name ARG", padded to the column
 * (or two spaces past a longer one), then its help, each further line of
 * it indented to the column. */
static int help_lines(nys_buf *b, unsigned col, int letter, const char *name, const char *arg,
                      const char *help)
{
	size_t start = b->n;
	int rc = letter ? nys_buf_printf(b, "  -%c, --%s", letter, name)
	                : nys_buf_printf(b, "      --%s", name);
	if (!rc && arg)
		rc = nys_buf_printf(b, " %s", arg);
	size_t len = b->n - start;
	rc = rc || nys_buf_printf(b, "%*s", len < col ? (int)(col - len) : 2, "");
	for (const char *s = help; !rc;) {
		const char *nl = strchr(s, '\n');
		size_t m = nl ? (size_t)(nl - s) : strlen(s);
		rc = nys_buf_add(b, s, m) || nys_buf_addc(b, '\n');
		if (!nl || rc)
			break;
		s = nl + 1;
		if (*s && *s != '\n')
			rc = nys_buf_printf(b, "%*s", (int)col, "");
	}
	return rc;
}

/* --help of a command with a table: usage, help, the option lines, -h and
 * --version, the tail. */
static int help_table(const nys_cli_cmd *cmd)
{
	unsigned col = cmd->col ? cmd->col : 23;
	nys_buf b = {0};
	int rc = nys_buf_adds(&b, cmd->usage) || nys_buf_adds(&b, cmd->help);
	for (const nys_cli_opt *o = cmd->opts; !rc && o && o->name; o++)
		if (o->help)
			rc = help_lines(&b, col, o->letter, o->name, o->arg, o->help);
	rc = rc || help_lines(&b, col, 'h', "help", NULL, "show this help and exit");
	if (!rc && !(cmd->flags & NYS_CLI_NO_VERSION))
		rc = help_lines(&b, col, 0, "version", NULL, "show the version and exit");
	if (!rc && cmd->tail)
		rc = nys_buf_adds(&b, cmd->tail);
	if (rc) {
		nys_buf_free(&b);
		nys_warnx("out of memory");
		return 1;
	}
	rc = nys_print_stdout(b.p) ? 1 : 0;
	nys_buf_free(&b);
	return rc;
}

static int version(const nys_cli *cl)
{
	char line[256];
	if (cl->prog->self.flags & NYS_CLI_PLAIN_VERSION)
		snprintf(line, sizeof line, "%s %s\n", cl->prog->self.name, NYS_VERSION);
	else
		snprintf(line, sizeof line, "%s (nys) %s\n", cl->prog->self.name, NYS_VERSION);
	return nys_print_stdout(line) ? 1 : 0;
}

/* An option's value failed to parse (e says why): a usage error that ends
 * the loop at the next nys_cli_next. */
static int bad_value(nys_cli *cl, const nys_err *e)
{
	cl->status = nys_cli_usage(cl, "%s", e->msg);
	cl->failed = true;
	return -1;
}

int nys_cli_u64(nys_cli *cl, uint64_t lo, uint64_t hi, const char *what, uint64_t *out)
{
	nys_err e;
	return nys_parse_u64(optarg, lo, hi, out, what, &e) ? bad_value(cl, &e) : 0;
}

int nys_cli_size(nys_cli *cl, uint64_t lo, uint64_t hi, const char *what, uint64_t *out)
{
	nys_err e;
	return nys_parse_size(optarg, lo, hi, out, what, &e) ? bad_value(cl, &e) : 0;
}

int nys_cli_next(nys_cli *cl)
{
	unsigned flags = cl->cmd->flags;
	if (cl->failed)
		return -1;
	for (;;) {
		int c = getopt_long(cl->argc, cl->argv, cl->shortopts, cl->opts, NULL);
		switch (c) {
		case -1:
			if ((flags & NYS_CLI_NO_OPERANDS) && optind < cl->argc) {
				cl->status = nys_cli_usage(cl, "unexpected operand '%s'", cl->argv[optind]);
				return -1;
			}
			return 0;
		case 'h':
			cl->status = help_table(cl->cmd);
			return -1;
		case NYS_CLI_OPT_VERSION:
			cl->status = version(cl);
			return -1;
		case '?': /* getopt said what */
			cl->status = nys_cli_usage(cl, NULL);
			return -1;
		case 'j':
			if (flags & NYS_CLI_JOBS) {
				uint64_t v;
				if (nys_cli_u64(cl, 1, 256, "-j", &v))
					return -1;
				cl->threads = (unsigned)v;
				continue;
			}
			return c;
		case 'q':
			if (flags & NYS_CLI_QUIET) {
				cl->quiet = true;
				continue;
			}
			return c;
		default: return c;
		}
	}
}

size_t nys_cli_operands(const nys_cli *cl, const char *const **ops)
{
	*ops = (const char *const *)cl->argv + optind;
	return (size_t)(cl->argc - optind);
}

static int run(nys_cli *cl, const nys_cli_cmd *cmd, int argc, char **argv)
{
	cl->cmd = cmd;
	cl->argc = argc;
	cl->argv = argv;
	if (make_getopt(cl, cmd)) {
		nys_warnx("internal error: the options of '%s' do not fit", cmd->name);
		return 1;
	}
	if (cmd->run)
		return cmd->run(cl);
	/* a program that needs a subcommand: only --help and --version here */
	if (nys_cli_next(cl) < 0)
		return cl->status;
	return nys_cli_usage(cl, "%s", cl->prog->no_cmd);
}

int nys_cli_main(const nys_cli_prog *prog, int argc, char **argv)
{
	nys_prog_init(argv[0]);
	nys_cli cl = {.prog = prog, .main_argv = argv};
	for (const nys_cli_cmd *c = prog->cmds; argc > 1 && c && c->name; c++)
		if (!strcmp(argv[1], c->name))
			return run(&cl, c, argc - 1, argv + 1);
	if (!prog->self.run && argc > 1 && argv[1][0] != '-') {
		cl.cmd = &prog->self;
		return nys_cli_usage(&cl, "unknown %s '%s'", prog->cmd_word, argv[1]);
	}
	return run(&cl, &prog->self, argc, argv);
}
