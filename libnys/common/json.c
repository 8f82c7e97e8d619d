/* JSON files through nys_in (see nys_json.h). */
#include "nys_json.h"

json_t *nys_json_load(const char *path, size_t flags, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return NULL;
	nys_buf b = {0};
	json_t *root = NULL;
	if (nys_in_read_all(in, &b, e) == 0) {
		json_error_t je;
		root = json_loadb(b.p ? b.p : "", b.n, flags, &je);
		if (!root && je.line > 0)
			nys_err_set(e, "%s:%d:%d: %s", nys_in_name(in), je.line,
			            je.column, je.text);
		else if (!root)
			nys_err_set(e, "%s: %s", nys_in_name(in), je.text);
	}
	nys_buf_free(&b);
	nys_in_close(in);
	return root;
}
