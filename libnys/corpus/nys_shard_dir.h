/* A directory of shards (nys-shard(5)): its shard files, NAME-NNNNN.shard,
 * and train.json and dev.json, the JSON lists of their names that training
 * reads, split at random as the original pipeline's Python did. */
#ifndef NYS_SHARD_DIR_H
#define NYS_SHARD_DIR_H

#include "nys.h"

/* Append the names of a list file (train.json, dev.json: a JSON list of
 * strings); errors name the file and the line or item. */
int nys_shard_names_read(const char *path, nys_strlist *l, nys_err *e);
/* The shard files of dir: regular files (or links to them) whose names end
 * in ".shard" and do not start with ".", sorted by bytes (as Python's
 * sorted() sorts the names). */
int nys_shard_list_dir(const char *dir, nys_strlist *l, nys_err *e);
/* Number of names for dev.json: int(n * dev_fraction) as Python computes it. */
size_t nys_shard_dev_count(size_t n, double dev_fraction);
/* As the original did: random.seed(seed); random.shuffle(names); the first
 * nys_shard_dev_count() names are dev, the rest train.  Reorders l->v. */
void nys_shard_split(nys_strlist *l, uint64_t seed);
/* A list as Python's json.dump(list, f, indent=4) writes it (ASCII, names
 * that are not UTF-8 escaped as Python's surrogateescape would). */
int nys_shard_json_list(nys_buf *b, char *const *names, size_t n);
/* Rewrite dir/train.json and dir/dev.json from the shards now in dir. */
int nys_shard_write_lists(const char *dir, uint64_t seed, double dev_fraction,
                          size_t *ntrain, size_t *ndev, nys_err *e);

#endif
