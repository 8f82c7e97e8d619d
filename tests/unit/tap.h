/* A minimal TAP producer for the C unit tests (prove reads the output). */
#ifndef NYS_TAP_H
#define NYS_TAP_H

#include <stdio.h>
#include <string.h>

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

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
