/* libFuzzer target for wikiextract's engine (libnys/corpus/wiki.c): the page
 * scanner, the libexpat parsers (chunked UTF-8 and streaming other
 * encodings), the cleaner and the output records, on any bytes (plain,
 * bzip2 or zstd).
 *
 * Each input is extracted twice, on one thread and with worker threads,
 * which must give the same result and the same bytes (nys_wiki.h: the
 * output is the same for any number of threads).  The low bit of the size
 * picks JSON lines or <doc> blocks.  JSON output must be one JSON object a
 * line, one per article counted, even when an error stops the run (what
 * was completed before it is written whole); <doc> output whole blocks. */
#include "fuzz.h"
#include "nys_wiki.h"

#include <jansson.h>

static int extract(const char *path, bool json, unsigned threads, nys_wiki_stats *st,
                   nys_err *e, char **out, size_t *n)
{
	nys_wiki_opts o = {.threads = threads, .json = json};
	fuzz_stdout_begin();
	int rc = nys_wiki_extract(&path, 1, &o, st, e);
	*out = fuzz_stdout_take(n);
	return rc;
}

static void check_json(const char *s, size_t n, uint64_t articles)
{
	uint64_t lines = 0;
	const char *end = s + n;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		FUZZ_CHECK(nl != NULL);
		json_error_t je;
		json_t *j = json_loadb(s, (size_t)(nl - s), JSON_ALLOW_NUL, &je);
		if (!j)
			fprintf(stderr, "not JSON: %s\n", je.text);
		FUZZ_CHECK(j != NULL);
		FUZZ_CHECK(json_is_object(j));
		static const char *const keys[] = {"id", "revid", "url", "title", "text"};
		for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
			FUZZ_CHECK(json_is_string(json_object_get(j, keys[i])));
		FUZZ_CHECK(json_object_size(j) == 5);
		json_decref(j);
		lines++;
		s = nl + 1;
	}
	FUZZ_CHECK(lines == articles);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	bool json = size & 1;
	nys_wiki_stats st1, st2;
	nys_err e1 = {{0}}, e2 = {{0}};
	char *out1, *out2;
	size_t n1, n2;
	int rc1 = extract(path, json, 1, &st1, &e1, &out1, &n1);
	int rc2 = extract(path, json, 3, &st2, &e2, &out2, &n2);
	FUZZ_CHECK(rc1 == rc2);
	FUZZ_CHECK(n1 == n2 && !memcmp(out1, out2, n1));
	if (rc1) {
		fuzz_check_msg(e1.msg, path);
		FUZZ_CHECK(!strcmp(e1.msg, e2.msg));
	} else {
		FUZZ_CHECK(st1.pages == st1.articles + st1.redirects + st1.other_ns);
		FUZZ_CHECK(!memcmp(&st1, &st2, sizeof st1));
	}
	if (json) {
		check_json(out1, n1, st1.articles);
	} else if (n1) {
		FUZZ_CHECK(!strncmp(out1, "<doc id=\"", 9));
		FUZZ_CHECK(n1 >= 7 && !memcmp(out1 + n1 - 7, "</doc>\n", 7));
	}
	free(out1);
	free(out2);
	return 0;
}
