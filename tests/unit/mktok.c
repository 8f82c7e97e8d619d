/* mktok: a test helper (not a TAP test) that writes a token stream with
 * nys_tok_writer, so the shard tests need no tokenizer.
 *
 *   mktok [-v VOCAB] [-f FINGERPRINT] [-o OUT] [IN]
 *       IN (default stdin): one document a line, ids separated by spaces,
 *       as `tokenize encode --format ids` prints them; an empty line is an
 *       empty document.
 *   mktok -r TOKENS [-s SEED] [-z] [-v VOCAB] [-f FINGERPRINT] [-o OUT]
 *       random documents of 1 to 2000 ids, TOKENS ids in all: uniform ids,
 *       or with -z skewed towards small ids like real text (compresses
 *       about as well).
 *
 * OUT defaults to stdout.  Exit status 0, 1 on error, 2 on usage. */
#include "nys_tokstream.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rs = 0x9E3779B97F4A7C15u;

static uint64_t next(void)
{
	/* splitmix64 */
	uint64_t z = (rs += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static int usage(void)
{
	fputs("usage: mktok [-v VOCAB] [-f FINGERPRINT] [-o OUT] [IN]\n"
	      "       mktok -r TOKENS [-s SEED] [-z] [-v VOCAB] [-f FINGERPRINT] [-o OUT]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	uint64_t vocab = 30000, fp = 0x0123456789abcdefu, random_tokens = 0, seed = 1;
	bool skew = false, have_random = false;
	const char *out = NULL;
	nys_err e;
	int c;
	while ((c = getopt(argc, argv, "v:f:o:r:s:z")) != -1) {
		uint64_t *num = NULL, lo = 0, hi = UINT64_MAX; /* the number the option gives */
		switch (c) {
		case 'v': num = &vocab, lo = 1, hi = UINT32_MAX; break;
		case 'f': num = &fp; break;
		case 'o': out = optarg; break;
		case 'r': num = &random_tokens, have_random = true; break;
		case 's': num = &seed; break;
		case 'z': skew = true; break;
		default: return usage();
		}
		const char what[] = {'-', (char)c, '\0'};
		if (num && nys_parse_u64(optarg, lo, hi, num, what, &e))
			goto bad;
	}
	if (argc - optind > (have_random ? 0 : 1))
		return usage();
	nys_tok_writer *w = nys_tok_writer_open(out, (uint32_t)vocab, fp, &e);
	if (!w)
		goto fail;
	uint32_t *ids = NULL;
	size_t cap = 0;
	if (have_random) {
		rs ^= seed * 0xD1B54A32D192ED03u;
		if (!(ids = malloc(2000 * sizeof *ids)))
			goto fail_w;
		while (random_tokens) {
			size_t n = 1 + next() % 2000;
			if (n > random_tokens)
				n = (size_t)random_tokens;
			for (size_t i = 0; i < n; i++) {
				uint64_t r = next();
				if (skew) {
					/* id ~ vocab^u: a heavy head, a long tail */
					double u = (double)(r >> 11) / 9007199254740992.0;
					uint64_t v = 1;
					for (double x = u * 20; x > 0 && v < vocab; x -= 1)
						v = v * 2 > vocab ? vocab : v * 2;
					ids[i] = (uint32_t)((r & 0xFFFFFFFF) % v);
				} else {
					ids[i] = (uint32_t)(r % vocab);
				}
			}
			if (nys_tok_writer_doc(w, ids, n, &e))
				goto fail_w;
			random_tokens -= n;
		}
	} else {
		nys_in *in = nys_in_open(optind < argc ? argv[optind] : NULL, &e);
		if (!in)
			goto fail_w;
		char *line;
		size_t len;
		int k;
		while ((k = nys_in_getline(in, &line, &len, &e)) == 1) {
			size_t n = 0;
			char *s = line, *end;
			for (;;) {
				while (*s == ' ')
					s++;
				if (!*s)
					break;
				unsigned long long v = strtoull(s, &end, 10);
				if (end == s || (*end && *end != ' ')) {
					nys_err_set(&e, "%s:%llu: not a list of ids", nys_in_name(in),
					            (unsigned long long)nys_in_lineno(in));
					k = -1;
					break;
				}
				if (n == cap) {
					cap = cap ? 2 * cap : 1024;
					uint32_t *p = realloc(ids, cap * sizeof *p);
					if (!p) {
						nys_err_set(&e, "out of memory");
						k = -1;
						break;
					}
					ids = p;
				}
				ids[n++] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
				s = end;
			}
			if (k < 0 || nys_tok_writer_doc(w, ids, n, &e)) {
				k = -1;
				break;
			}
		}
		nys_in_close(in);
		if (k < 0)
			goto fail_w;
	}
	free(ids);
	if (nys_tok_writer_commit(w, &e))
		goto fail;
	return 0;
fail_w:
	free(ids);
	nys_tok_writer_abort(w);
fail:
	nys_warnx("%s", e.msg);
	return 1;
bad:
	nys_warnx("%s", e.msg);
	return 2;
}
