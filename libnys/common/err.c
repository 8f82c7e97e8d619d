/* Error values and the program-name prefix for messages. */
#include "nys.h"

#include <errno.h>
#include <string.h>

static const char *prog_name = "nys";

int nys_err_set(nys_err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int nys_err_sys(nys_err *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	size_t n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

void nys_prog_init(const char *argv0)
{
	if (!argv0 || !*argv0)
		return;
	const char *s = strrchr(argv0, '/');
	prog_name = s ? s + 1 : argv0;
}

const char *nys_prog(void)
{
	return prog_name;
}

void nys_warnx(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog_name, msg);
}

void nys_usage_verror(const char *usage, const char *fmt, va_list ap)
{
	if (fmt) {
		char msg[1024];
		vsnprintf(msg, sizeof msg, fmt, ap);
		fprintf(stderr, "%s: %s\n", prog_name, msg);
	}
	fputs(usage, stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog_name);
}

void nys_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nys_usage_verror(usage, fmt, ap);
	va_end(ap);
}

int nys_print_stdout(const char *s)
{
	errno = 0;
	if (fputs(s, stdout) != EOF && fflush(stdout) != EOF && !ferror(stdout))
		return 0;
	/* --help > /dev/full: say why the exit status is 1 */
	int err = errno ? errno : EIO;
	fprintf(stderr, "%s: write (stdout): %s\n", prog_name, strerror(err));
	return -1;
}
