/* MT19937 (Matsumoto and Nishimura), seeded and consumed the way CPython's
 * Modules/_randommodule.c and Lib/random.py do, bit for bit; and the one
 * Fisher-Yates shuffle of the library, over any source of draws. */
#include "nys_rng.h"

#include <string.h>

#define M 397
#define MATRIX_A 0x9908b0dfu
#define UPPER 0x80000000u
#define LOWER 0x7fffffffu

static void init_genrand(nys_rng *r, uint32_t s)
{
	uint32_t *mt = r->mt;
	mt[0] = s;
	for (unsigned i = 1; i < NYS_RNG_N; i++)
		mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i;
	r->idx = NYS_RNG_N;
}

static void init_by_array(nys_rng *r, const uint32_t *key, unsigned len)
{
	uint32_t *mt = r->mt;
	init_genrand(r, 19650218u);
	unsigned i = 1, j = 0;
	for (unsigned k = NYS_RNG_N > len ? NYS_RNG_N : len; k; k--) {
		mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + j;
		i++;
		j++;
		if (i >= NYS_RNG_N) {
			mt[0] = mt[NYS_RNG_N - 1];
			i = 1;
		}
		if (j >= len)
			j = 0;
	}
	for (unsigned k = NYS_RNG_N - 1; k; k--) {
		mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - i;
		i++;
		if (i >= NYS_RNG_N) {
			mt[0] = mt[NYS_RNG_N - 1];
			i = 1;
		}
	}
	mt[0] = 0x80000000u; /* a non-zero initial state, for sure */
}

void nys_rng_seed(nys_rng *r, uint64_t n)
{
	uint32_t key[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
	init_by_array(r, key, key[1] ? 2 : 1);
}

static void generate(nys_rng *r)
{
	uint32_t *mt = r->mt, y;
	unsigned k;
	for (k = 0; k < NYS_RNG_N - M; k++) {
		y = (mt[k] & UPPER) | (mt[k + 1] & LOWER);
		mt[k] = mt[k + M] ^ (y >> 1) ^ ((y & 1) ? MATRIX_A : 0);
	}
	for (; k < NYS_RNG_N - 1; k++) {
		y = (mt[k] & UPPER) | (mt[k + 1] & LOWER);
		mt[k] = mt[k + M - NYS_RNG_N] ^ (y >> 1) ^ ((y & 1) ? MATRIX_A : 0);
	}
	y = (mt[NYS_RNG_N - 1] & UPPER) | (mt[0] & LOWER);
	mt[NYS_RNG_N - 1] = mt[M - 1] ^ (y >> 1) ^ ((y & 1) ? MATRIX_A : 0);
	r->idx = 0;
}

uint32_t nys_rng_u32(nys_rng *r)
{
	if (r->idx >= NYS_RNG_N)
		generate(r);
	uint32_t y = r->mt[r->idx++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

double nys_rng_random(nys_rng *r)
{
	uint32_t a = nys_rng_u32(r) >> 5, b = nys_rng_u32(r) >> 6;
	return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

uint64_t nys_rng_getrandbits(nys_rng *r, unsigned k)
{
	if (k == 0)
		return 0;
	if (k <= 32)
		return nys_rng_u32(r) >> (32 - k);
	/* CPython fills 32-bit words from the least significant one up; the
	 * last, partial word takes the top bits of its output. */
	uint64_t lo = nys_rng_u32(r);
	uint64_t hi = nys_rng_u32(r) >> (64 - (k > 64 ? 64 : k));
	return lo | hi << 32;
}

static unsigned bit_length(uint64_t n)
{
	unsigned k = 0;
	for (; n; n >>= 1)
		k++;
	return k;
}

uint64_t nys_rng_below(nys_rng *r, uint64_t n)
{
	unsigned k = bit_length(n);
	uint64_t v = nys_rng_getrandbits(r, k);
	while (v >= n)
		v = nys_rng_getrandbits(r, k);
	return v;
}

void nys_array_shuffle(void *base, size_t n, size_t size,
                       uint64_t (*below)(void *ctx, uint64_t n), void *ctx)
{
	unsigned char *a = base, tmp[64];
	if (size > sizeof tmp)
		return;
	for (size_t i = n > 1 ? n - 1 : 0; i >= 1; i--) {
		size_t j = (size_t)below(ctx, (uint64_t)i + 1);
		if (j != i) {
			memcpy(tmp, a + i * size, size);
			memcpy(a + i * size, a + j * size, size);
			memcpy(a + j * size, tmp, size);
		}
	}
}

static uint64_t rng_below(void *r, uint64_t n)
{
	return nys_rng_below(r, n);
}

void nys_rng_shuffle(nys_rng *r, void *base, size_t n, size_t size)
{
	nys_array_shuffle(base, n, size, rng_below, r);
}
