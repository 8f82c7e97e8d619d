/* Making shards, shard-N's work: token streams (nys-tokens(5)) cut into
 * fixed-length [CLS] block [SEP] sequences, written as a dataset of shards
 * (nys-shard(5)) into a directory whose lists are then rewritten. */
#ifndef NYS_SHARD_CUT_H
#define NYS_SHARD_CUT_H

#include "nys.h"

typedef struct nys_shard_opts {
	const char *dir;        /* output directory, created if missing */
	const char *name;       /* dataset name: shards NAME-NNNNN.shard */
	uint32_t seq_len;       /* N: tokens a sequence, [CLS] and [SEP] included */
	uint32_t per_shard;     /* K: sequences a shard (0: the default) */
	double keep;            /* keep each block with this probability */
	uint64_t seed;          /* random.seed() for --keep */
	uint32_t cls_id, sep_id;
	uint64_t split_seed;    /* random.seed() for the dev/train split */
	double dev_fraction;
	int level;              /* zstd level of the shards (0: NYS_SHARD_LEVEL) */
	bool progress;          /* progress line on a terminal */
} nys_shard_opts;

typedef struct nys_shard_stats {
	uint64_t files, docs, tokens;
	uint64_t blocks;        /* blocks of N - 2 tokens cut */
	uint64_t kept;          /* sequences written */
	uint64_t leftover;      /* tokens after the last whole block, dropped */
	uint64_t shards;        /* shards written */
	uint64_t stale;         /* old NAME shards removed */
	size_t dir_shards, train, dev;
	double seconds;
} nys_shard_stats;

/* Default tokens a shard: K = max(1, NYS_SHARD_TOKENS / N) sequences. */
#define NYS_SHARD_TOKENS 4194304u
/* Default K for a sequence length. */
uint32_t nys_shard_default_per_shard(uint32_t seq_len);

/* Read the token streams (NULL or "-" is stdin; none: stdin), cut them into
 * sequences and write the dataset o->name into o->dir, replacing an earlier
 * one of that name, then rewrite the lists.  The new shards are written
 * into a hidden directory in o->dir and moved into place only once all are
 * whole: after a failure o->dir is as it was. */
int nys_shard_run(const char *const *paths, size_t npaths, const nys_shard_opts *o,
                  nys_shard_stats *st, nys_err *e);

#endif
