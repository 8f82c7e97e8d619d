/* A minimal TAP producer for the C unit tests (prove reads the output). */
#ifndef NYS_TAP_H
#define NYS_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int tap_n, tap_failed;

/* Print s on one line, newlines shown as \n. */
static inline void tap_escaped(const char *s)
{
	for (; *s; s++)
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
}

static inline void tap_ok(int cond, const char *name)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	/* one line per test, whatever the name holds */
	tap_escaped(name);
	putchar('\n');
}

/* A test skipped, with why: "ok N # skip why" (prove counts and shows it). */
static inline void tap_skip(const char *why)
{
	printf("ok %d # skip ", ++tap_n);
	tap_escaped(why);
	putchar('\n');
}

/* Compare strings, printing both on failure as TAP diagnostics. */
static inline void tap_str(const char *got, const char *want, const char *name)
{
	int ok = strcmp(got, want) == 0;
	tap_ok(ok, name);
	if (!ok) {
		fputs("#   got:  [", stdout);
		tap_escaped(got);
		fputs("]\n#   want: [", stdout);
		tap_escaped(want);
		fputs("]\n", stdout);
	}
}

/* A fresh scratch directory nys-NAME-XXXXXX under $TMPDIR (or the
 * system's), written into buf; NULL if none could be made. */
static inline char *tap_scratch(char *buf, size_t n, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(buf, n, "%s/nys-%s-XXXXXX", tmp && *tmp ? tmp : P_tmpdir, name);
	return mkdtemp(buf);
}

/* The directory top/name, made (if it is not there) in buf; buf. */
static inline const char *tap_subdir(char *buf, size_t n, const char *top, const char *name)
{
	snprintf(buf, n, "%s/%s", top, name);
	mkdir(buf, 0777);
	return buf;
}

/* dir/name, in one of four rotating buffers (so a few can be in use). */
static inline const char *tap_path(const char *dir, const char *name)
{
	static char p[4][512];
	static int k;
	k = (k + 1) % 4;
	if (snprintf(p[k], sizeof p[k], "%s/%s", dir, name) >= (int)sizeof p[k])
		printf("# path cut to %zu bytes: %s\n", sizeof p[k] - 1, p[k]);
	return p[k];
}

/* Run a shell command in which every '@' stands for dir; its status. */
static inline int tap_sh(const char *dir, const char *tmpl)
{
	char cmd[8192];
	size_t k = 0, dn = strlen(dir);
	for (const char *p = tmpl; *p && k + dn + 1 < sizeof cmd; p++) {
		if (*p == '@') {
			memcpy(cmd + k, dir, dn);
			k += dn;
		} else {
			cmd[k++] = *p;
		}
	}
	cmd[k] = 0;
	int r = system(cmd);
	if (r)
		printf("# command failed: %s\n", cmd);
	return r;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* A test program, one test function after another. */
typedef void tap_test(void);

/* What a test program's main does around its tests: a fresh scratch
 * directory nys-NAME-XXXXXX into dir (a failure if none can be made), the
 * NULL-terminated tests in order, the directory removed, the plan; the
 * exit status. */
static inline int tap_main(char *dir, size_t n, const char *name, tap_test *const *tests)
{
	if (!tap_scratch(dir, n, name)) {
		printf("not ok 1 - scratch directory\n1..1\n");
		return 1;
	}
	for (; *tests; tests++)
		(*tests)();
	tap_sh(dir, "rm -rf @");
	return tap_done();
}

#endif
