/* What the preprocess targets share: one run of nys_pp_run over the input
 * with its output caught, and the rules of nys-text(5) checked on it. */
#ifndef NYS_FUZZ_PP_H
#define NYS_FUZZ_PP_H

#include "fuzz.h"
#include "nys_preprocess.h"

/* Warnings name the file first, like errors. */
static inline void pp_warn(void *ctx, const char *msg)
{
	fuzz_check_msg(msg, ctx);
}

/* The output s[0..n) is documents of nys-text(5): non-empty lines of
 * valid UTF-8 without controls, BOMs, leading, trailing or doubled
 * spaces, each document ended by exactly one empty line.  Its documents
 * and words must be those st counts. */
static inline void pp_check_text(const char *s, size_t n, const nys_pp_stats *st)
{
	FUZZ_CHECK(n == 0 || (n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\n'));
	FUZZ_CHECK(nys_utf8_check(s, n) == n);
	uint64_t docs = 0, words = 0;
	const char *end = s + n;
	bool in_doc = false;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = (size_t)(nl - s);
		if (!len) {
			FUZZ_CHECK(in_doc); /* one empty line ends a document, no more */
			in_doc = false;
			docs++;
		} else {
			in_doc = true;
			FUZZ_CHECK(s[0] != ' ' && s[len - 1] != ' ');
			uint64_t spaces = 0;
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char)s[i];
				FUZZ_CHECK(c >= 0x20 && c != 0x7F);
				if (c == ' ') {
					FUZZ_CHECK(s[i + 1] != ' ');
					spaces++;
				}
				/* C1 controls (U+0080-U+009F) and U+FEFF */
				if (c == 0xC2)
					FUZZ_CHECK((unsigned char)s[i + 1] >= 0xA0);
				if (c == 0xEF)
					FUZZ_CHECK(i + 2 >= len || (unsigned char)s[i + 1] != 0xBB ||
					           (unsigned char)s[i + 2] != 0xBF);
			}
			words += spaces + 1;
		}
		s = nl + 1;
	}
	FUZZ_CHECK(docs == st->kept && words == st->words);
	FUZZ_CHECK(st->read == st->kept + st->dropped + st->skipped);
}

/* Convert path as `preprocess -f FORMAT` would, to stdout. */
static inline void pp_run(const char *path, nys_pp_format format, bool strict, bool keep_boilerplate)
{
	nys_pp_opts o = {
		.format = format, .min_words = 3, .strict = strict,
		.keep_boilerplate = keep_boilerplate, .warn = pp_warn,
		.warn_ctx = (void *)(uintptr_t)path,
	};
	nys_pp_stats st;
	nys_err e = {{0}};
	fuzz_stdout_begin();
	int rc = nys_pp_run(&path, 1, &o, &st, &e);
	size_t n;
	char *out = fuzz_stdout_take(&n);
	if (rc)
		fuzz_check_msg(e.msg, path);
	pp_check_text(out, n, &st);
	free(out);
}

#endif
