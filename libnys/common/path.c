/* Joining a directory and a file name, the one way every module that walks
 * a directory of files (shards, their lists, preprocess's inputs) does. */
#include "nys.h"

#include <string.h>

int nys_path_join(nys_buf *b, const char *dir, const char *name, nys_err *e)
{
	b->n = 0;
	size_t n = strlen(dir);
	if (nys_buf_printf(b, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name))
		return nys_err_set(e, "out of memory");
	return 0;
}
