/* Range-checked numbers from the command line. */
#include "nys.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_digits(const char *s, uint64_t *out, const char **end)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *e;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno == ERANGE)
		return -2;
	*out = v;
	*end = e;
	return 0;
}

static int range_err(nys_err *e, const char *what, const char *s,
                     uint64_t lo, uint64_t hi)
{
	return nys_err_set(e, "%s: '%s' is out of range (%llu to %llu)", what, s,
	                   (unsigned long long)lo, (unsigned long long)hi);
}

/* A whole number in [lo, hi]; with `size`, K, M, G or T (times 1024 each)
 * may follow, and B or iB after them. */
static int parse_number(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, bool size,
                        const char *what, nys_err *e)
{
	uint64_t v;
	const char *end;
	int r = parse_digits(s, &v, &end);
	if (r == -2)
		return range_err(e, what, s, lo, hi);
	if (r || (!size && *end))
		return nys_err_set(e, "%s: '%s' is not a %s", what, s, size ? "size" : "number");
	int shift = 0;
	if (size) {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; end++; break;
		case 'M': shift = 20; end++; break;
		case 'G': shift = 30; end++; break;
		case 'T': shift = 40; end++; break;
		}
		if (shift && (!strcmp(end, "B") || !strcmp(end, "iB")))
			end += strlen(end);
		else if (!shift && !strcmp(end, "B"))
			end++;
		if (*end)
			return nys_err_set(e, "%s: '%s' is not a size (use K, M, G or T)", what, s);
		if (shift && v > (UINT64_MAX >> shift))
			return range_err(e, what, s, lo, hi);
		v <<= shift;
	}
	if (v < lo || v > hi)
		return range_err(e, what, s, lo, hi);
	*out = v;
	return 0;
}

int nys_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                  const char *what, nys_err *e)
{
	return parse_number(s, lo, hi, out, false, what, e);
}

int nys_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                   const char *what, nys_err *e)
{
	return parse_number(s, lo, hi, out, true, what, e);
}
