/* Token-id lines: one sequence a line, decimal ids (nys_idlines.h). */
#include "nys_idlines.h"

#include <stdlib.h>
#include <string.h>

void nys_idlines_free(nys_idlines *l)
{
	free(l->ids);
	free(l->start);
	memset(l, 0, sizeof *l);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Room for `more` ids after the n already held. */
static int grow_ids(nys_idlines *l, size_t *cap, size_t n, size_t more)
{
	if (n + more <= *cap)
		return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < n + more)
		c *= 2;
	int32_t *p = realloc(l->ids, c * sizeof *p);
	if (!p)
		return -1;
	l->ids = p;
	*cap = c;
	return 0;
}

int nys_idlines_read(const char *path, uint32_t vocab, size_t max_len, const char *why,
                     nys_idlines *l, nys_err *e)
{
	memset(l, 0, sizeof *l);
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	const char *name = nys_in_name(in);
	size_t icap = 0, scap = 0, nids = 0;
	char *line;
	size_t len;
	int k = 0, rc = 0;
	while (!rc && (k = nys_in_getline(in, &line, &len, e)) == 1) {
		unsigned long long ln = (unsigned long long)nys_in_lineno(in);
		if (l->n + 2 > scap) {
			size_t c = scap ? 2 * scap : 1024;
			size_t *p = realloc(l->start, c * sizeof *p);
			if (!p) {
				rc = nys_err_set(e, "%s:%llu: out of memory", name, ln);
				break;
			}
			l->start = p;
			scap = c;
		}
		l->start[l->n] = nids;
		size_t i = 0, count = 0;
		while (!rc) {
			while (i < len && is_space(line[i]))
				i++;
			if (i == len)
				break;
			size_t w = i;
			/* The id's value, saturated above vocab: the word is what the
			 * message shows, so its value need not fit anything. */
			uint64_t v = 0;
			bool digits = true;
			for (; i < len && !is_space(line[i]); i++) {
				char c = line[i];
				if (c < '0' || c > '9')
					digits = false;
				else if (v <= vocab)
					v = v * 10 + (uint64_t)(c - '0');
			}
			int wl = (int)(i - w < 40 ? i - w : 40);
			if (!digits)
				rc = nys_err_set(e, "%s:%llu: '%.*s%s' is not a token id (a decimal number)",
				                 name, ln, wl, line + w, i - w > 40 ? "..." : "");
			else if (v >= vocab)
				rc = nys_err_set(e, "%s:%llu: token id %.*s%s is outside the vocabulary "
				                 "(0..%u)", name, ln, wl, line + w, i - w > 40 ? "..." : "",
				                 vocab - 1);
			else if (grow_ids(l, &icap, nids, 1))
				rc = nys_err_set(e, "%s:%llu: out of memory", name, ln);
			else {
				l->ids[nids++] = (int32_t)v;
				count++;
			}
		}
		if (rc)
			break;
		if (!count)
			rc = nys_err_set(e, "%s:%llu: an empty line (a sequence needs at least one "
			                 "token id)", name, ln);
		else if (count > max_len)
			rc = nys_err_set(e, "%s:%llu: %zu token ids, more than %zu (%s)", name, ln, count,
			                 max_len, why);
		else {
			if (count > l->longest)
				l->longest = count;
			l->n++;
			l->start[l->n] = nids;
		}
	}
	if (!rc && k < 0)
		rc = -1;
	if (!rc && !l->n)
		rc = nys_err_set(e, "%s: no sequences (an empty input)", name);
	nys_in_close(in);
	if (rc)
		nys_idlines_free(l);
	return rc;
}
