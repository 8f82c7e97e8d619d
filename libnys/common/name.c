/* The one rule for dataset names (--name of preprocess and shard): they
 * become parts of file names and of the lists that name the files, so they
 * are kept to characters that need no quoting anywhere. */
#include "nys.h"

#include <string.h>

static const char name_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-";

int nys_name_check(const char *name, const char *what, nys_err *e)
{
	size_t n = strlen(name);
	if (n && n <= NYS_NAME_MAX && strspn(name, name_chars) == n && name[0] != '.' &&
	    name[0] != '-')
		return 0;
	/* the name as given, with the bytes that are not printable ASCII
	 * written as \xHH, and cut if long */
	char shown[4 * 80 + 4];
	size_t k = 0;
	for (size_t i = 0; i < n && k + 8 < sizeof shown; i++) {
		unsigned char c = (unsigned char)name[i];
		if (i == 80) {
			memcpy(shown + k, "...", 3);
			k += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			shown[k++] = (char)c;
		} else {
			snprintf(shown + k, sizeof shown - k, "\\x%02x", c);
			k += 4;
		}
	}
	shown[k] = 0;
	return nys_err_set(e, "%s: '%s' is not a valid name (1 to %d of A-Z a-z 0-9 . _ + -, "
	                   "not starting with '.' or '-')", what, shown, NYS_NAME_MAX);
}
