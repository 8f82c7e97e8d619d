/* ListOps data as Long Range Arena's generator (lra_benchmarks/data/
 * listops.py) makes it, so that users and tests have real-shaped data
 * without a download.  A tree is drawn as that generator draws it, with the
 * same calls on CPython's Mersenne Twister (nys_rng.h), so `--seed S` gives
 * the trees its generate_tree gives after random.seed(S):
 *
 *   below max_depth, random.random() > 0.25 makes a leaf (else, at
 *   max_depth, always), its value random.choice(range(10)); an operator
 *   node has random.randint(2, max_args) children, drawn first, then its
 *   operator random.choice([MIN, MAX, MED, SM]).  A tree's length counts
 *   its values, operators and closing brackets; a tree is kept when
 *   min_len < length < max_len and it is not one kept before.
 *
 * The first `train` kept trees go to NAME_train.tsv, the next `dev` to
 * NAME_val.tsv, the rest to NAME_test.tsv (LRA writes them in the order of
 * a Python set, which no seed fixes; here it is the order drawn), in LRA's
 * layout: a header "Source<TAB>Target" and lines "SEQUENCE<TAB>VALUE", each
 * ended by "\r\n" as Python's csv writer ends them.  MED is int(median) of
 * the arguments (the mean of the middle two, truncated, for an even count),
 * SM their sum mod 10. */
#ifndef NYS_LRA_GEN_H
#define NYS_LRA_GEN_H

#include "nys.h"

typedef struct nys_lra_gen_opts {
	uint64_t seed;                 /* random.seed(seed) */
	uint64_t train, dev, test;     /* trees each (96000, 2000, 2000) */
	uint32_t min_len, max_len;     /* exclusive bounds (500, 2000) */
	uint32_t max_depth, max_args;  /* 10, 10 */
	const char *name;              /* the files' prefix (basic) */
	const char *dir;               /* where they go (made if missing) */
} nys_lra_gen_opts;

/* Defaults as LRA's flags. */
void nys_lra_gen_defaults(nys_lra_gen_opts *o);
/* Generate and write the three files (each atomically); 0 or -1. */
int nys_lra_gen_listops(const nys_lra_gen_opts *o, nys_err *e);

#endif
