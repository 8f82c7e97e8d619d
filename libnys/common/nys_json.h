/* Reading a JSON file for any libnys module: through nys_in (plain,
 * bzip2, zstd or stdin), with errors in the usual "file:line:column: what"
 * shape, or "file: what" when the fault has no place (an unreadable file). */
#ifndef NYS_JSON_H
#define NYS_JSON_H

#include "nys.h"

#include <jansson.h>

/* The parsed file (a new reference), or NULL with e set.  flags are
 * jansson's decoding flags (JSON_REJECT_DUPLICATES, ...). */
json_t *nys_json_load(const char *path, size_t flags, nys_err *e);

#endif
