/* The bzip2 decoder behind nys_in (in.c and bz2.c only): blocks decoded by
 * libbz2 on worker threads, delivered in order. */
#ifndef NYS_BZ2_IMPL_H
#define NYS_BZ2_IMPL_H

#include "nys.h"

typedef struct nys_bz nys_bz;

/* Where the compressed bytes come from: up to n bytes into buf, 0 at the
 * end, -1 with e set. */
typedef ptrdiff_t (*nys_bz_src)(void *arg, void *buf, size_t n, nys_err *e);

/* A decoder for the bzip2 data src gives (one or more streams from its
 * first byte on), named `name` in messages; threads as nys_in_set_threads. */
nys_bz *nys_bz_new(const char *name, nys_bz_src src, void *arg, unsigned threads, nys_err *e);
/* Up to n decoded bytes, in the order of sequential decoding; 0 at the end,
 * -1 on an error (and again on every later call). */
ptrdiff_t nys_bz_read(nys_bz *z, void *buf, size_t n, nys_err *e);
void nys_bz_free(nys_bz *z);

#endif
