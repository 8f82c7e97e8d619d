/* The Mersenne Twister MT19937 as CPython's `random` module drives it, so
 * that seeded choices (which blocks `shard --keep` keeps, which shards go to
 * dev.json) are exactly those of the original Python pipeline:
 *
 *   nys_rng_seed(r, n)      random.seed(n)          (n a non-negative int)
 *   nys_rng_random(r)       random.random()
 *   nys_rng_getrandbits(r, k)  random.getrandbits(k)   (k <= 64)
 *   nys_rng_below(r, n)     random._randbelow(n)    (n >= 1)
 *   nys_rng_shuffle(r, ..)  random.shuffle(list)
 */
#ifndef NYS_RNG_H
#define NYS_RNG_H

#include <stddef.h>
#include <stdint.h>

#define NYS_RNG_N 624

typedef struct nys_rng {
	uint32_t mt[NYS_RNG_N];
	unsigned idx;
} nys_rng;

/* random.seed(n): init_by_array over the 32-bit words of n, least
 * significant first (n = 0 gives the key [0]). */
void nys_rng_seed(nys_rng *r, uint64_t n);
/* The next raw 32-bit output (genrand_uint32). */
uint32_t nys_rng_u32(nys_rng *r);
/* A double in [0, 1) with 53 random bits, as random.random(). */
double nys_rng_random(nys_rng *r);
/* k random bits, 0 <= k <= 64, as random.getrandbits(k). */
uint64_t nys_rng_getrandbits(nys_rng *r, unsigned k);
/* A uniform integer in [0, n), n >= 1, as random._randbelow(n) (bits of
 * n.bit_length() drawn, rejected while >= n). */
uint64_t nys_rng_below(nys_rng *r, uint64_t n);
/* random.shuffle on an array of n elements of `size` bytes (size <= 64). */
void nys_rng_shuffle(nys_rng *r, void *base, size_t n, size_t size);

/* The shuffle of random.shuffle with any generator: for i = n-1 down to 1,
 * j = below(ctx, i + 1) (uniform in [0, i + 1), drawn in that order), swap
 * elements i and j; n elements of `size` bytes (size <= 64).  Shared by
 * nys_rng_shuffle and the data loader's counter-based orders. */
void nys_array_shuffle(void *base, size_t n, size_t size,
                       uint64_t (*below)(void *ctx, uint64_t n), void *ctx);

#endif
