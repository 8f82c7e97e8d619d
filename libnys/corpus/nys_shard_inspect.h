/* `shard cat`, `shard info` and `shard verify`: reading shards
 * (nys-shard(5)) and directories of them for people and scripts. */
#ifndef NYS_SHARD_INSPECT_H
#define NYS_SHARD_INSPECT_H

#include "nys.h"

/* Sequences of the shards as lines of decimal ids, at most max (0: all). */
int nys_shard_cat(const char *const *paths, size_t npaths, uint64_t max, nys_out *out,
                  nys_err *e);
/* A summary of a shard file (its header) or of a directory of shards (its
 * datasets and lists). */
int nys_shard_info(const char *path, nys_out *out, nys_err *e);
/* Check a shard file, or every shard of a directory, their agreement and
 * the lists; a line "PATH: ok, ..." for each shard and each directory. */
int nys_shard_verify_path(const char *path, nys_out *out, nys_err *e);

#endif
