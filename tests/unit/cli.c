/* nys_cli's option tables: the --help lines made from a table (padding to
 * the column, continuation lines, rows left out, the shared -j where the
 * table puts it, -h and --version, the tail) and getopt's arrays made from
 * it (long and short names, arguments, ids, -j answered by the runner). */
#include "nys_cli.h"
#include "tap.h"

#include <fcntl.h>
#include <unistd.h>

enum { OPT_LOWER = 256, OPT_LONGER, OPT_HIDDEN };

static const nys_cli_opt opts[] = {
	{"output", 'o', "FILE", 0, "write to FILE"},
	{"lower", 0, NULL, OPT_LOWER, "lower-case first\nsecond line\n\n  indented more"},
	{"longer", 0, "ARG", OPT_LONGER, "one space"},
	{"hidden", 0, NULL, OPT_HIDDEN, NULL},
	NYS_CLI_OPT_JOBS("threads"),
	{"much-longer-name", 'x', "ARG", 0, "two spaces"},
	{0},
};

static const char want_help[] =
	"usage: t [-o FILE] [-x ARG]\n"
	"Head.\n"
	"\n"
	"  -o, --output FILE    write to FILE\n"
	"      --lower          lower-case first\n"
	"                       second line\n"
	"\n"
	"                         indented more\n"
	"      --longer ARG     one space\n"
	"  -j, --threads N      threads\n"
	"  -x, --much-longer-name ARG  two spaces\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n"
	"Tail.\n";

static nys_buf seen; /* what run saw, as text */

static int run(nys_cli *cl)
{
	int c;
	while ((c = nys_cli_next(cl)) > 0)
		nys_buf_printf(&seen, "%d:%s ", c, optarg ? optarg : "-");
	if (c < 0)
		return cl->status;
	const char *const *ops;
	size_t n = nys_cli_operands(cl, &ops);
	nys_buf_printf(&seen, "j=%u", cl->threads);
	for (size_t i = 0; i < n; i++)
		nys_buf_printf(&seen, " [%s]", ops[i]);
	return 0;
}

static const nys_cli_prog prog = {
	.self = {"t", "usage: t [-o FILE] [-x ARG]\n", "Head.\n\n", .flags = NYS_CLI_JOBS, .run = run,
	         .opts = opts, .tail = "Tail.\n"}};

/* nys_cli_main on the words of line (split at spaces), its stdout into
 * *out and its stderr (usage errors) dropped; its exit status. */
static int call(const char *line, nys_buf *out)
{
	static char words[256];
	char *argv[32];
	int argc = 0;
	snprintf(words, sizeof words, "%s", line);
	for (char *w = strtok(words, " "); w && argc < 31; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	FILE *tmp = tmpfile(); /* the captured stdout: unnamed, gone when closed */
	int fd = tmp ? fileno(tmp) : -1;
	fflush(stdout);
	int saved = dup(1), saved_err = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(fd, 1);
	dup2(null, 2);
	optind = 0; /* a fresh getopt for every call */
	seen.n = 0;
	int rc = nys_cli_main(&prog, argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	dup2(saved_err, 2);
	close(saved);
	close(saved_err);
	close(null);
	out->n = 0;
	char b[4096];
	ssize_t k;
	lseek(fd, 0, SEEK_SET);
	while ((k = read(fd, b, sizeof b)) > 0)
		nys_buf_add(out, b, (size_t)k);
	nys_buf_addc(out, 0);
	if (tmp)
		fclose(tmp);
	nys_buf_addc(&seen, 0);
	return rc;
}

int main(void)
{
	nys_buf out = {0};
	tap_ok(call("t --help", &out) == 0, "--help: exit 0");
	tap_str(out.p, want_help,
	        "--help: options padded to column 23 (one space at 22, two past it), continuation "
	        "lines indented, a row without help left out, -j where the table has it");

	tap_ok(call("t -o f --lower --hidden -j 3 --longer=a -x b --output g op1 op2", &out) == 0,
	       "options: exit 0");
	char want[256];
	snprintf(want, sizeof want, "%d:f %d:- %d:- %d:a %d:b %d:g j=3 [op1] [op2]", 'o', OPT_LOWER,
	         OPT_HIDDEN, OPT_LONGER, 'x', 'o');
	tap_str(seen.p, want,
	        "options: ids (the letter where none is given), arguments, -j taken by the runner, "
	        "a row without help still taken, the operands");

	tap_ok(call("t --lower=1", &out) == 2,
	       "an argument to an option without one: usage error, exit 2");
	tap_ok(call("t -x", &out) == 2, "-x without its argument: usage error, exit 2");
	tap_ok(call("t -j 0", &out) == 2, "-j 0: usage error, exit 2");
	nys_buf_free(&out);
	nys_buf_free(&seen);
	return tap_done();
}
