/* nys_hash (nys_hash.h): 64-bit words mixed by multiply and rotate, a tail
 * of up to 7 bytes carried between updates so that chunking never changes
 * the value, and a final avalanche over the length. */
#include "nys_hash.h"
#include "nys_bin.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t round64(uint64_t h, uint64_t w)
{
	w *= P2;
	w = rotl(w, 31);
	w *= P1;
	h ^= w;
	return rotl(h, 27) * P1 + P3;
}

void nys_hash_init(nys_hash *s, uint64_t seed)
{
	s->h = seed ^ P3;
	s->len = 0;
	s->ntail = 0;
}

void nys_hash_update(nys_hash *s, const void *p, size_t n)
{
	const unsigned char *u = p;
	s->len += n;
	if (s->ntail) {
		while (n && s->ntail < 8) {
			s->tail[s->ntail++] = *u++;
			n--;
		}
		if (s->ntail < 8)
			return;
		s->h = round64(s->h, nys_get_u64(s->tail));
		s->ntail = 0;
	}
	uint64_t h = s->h;
	for (; n >= 8; u += 8, n -= 8)
		h = round64(h, nys_get_u64(u));
	s->h = h;
	memcpy(s->tail, u, n);
	s->ntail = (unsigned)n;
}

uint64_t nys_hash_final(const nys_hash *s)
{
	unsigned char last[8] = {0};
	memcpy(last, s->tail, s->ntail);
	uint64_t h = round64(s->h, nys_get_u64(last)) ^ s->len;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t nys_hash64(const void *p, size_t n, uint64_t seed)
{
	nys_hash s;
	nys_hash_init(&s, seed);
	nys_hash_update(&s, p, n);
	return nys_hash_final(&s);
}
