/* The checksum and fingerprint hash of every nys binary format (token
 * streams, shards, safetensors checksums, a model file's fingerprint, the
 * data loader's order id): a streaming 64-bit hash, not cryptographic,
 * whose value does not depend on how the input is cut into chunks.  Its
 * exact values are part of those formats (nys-tokens(5), nys-shard(5)) and
 * must never change. */
#ifndef NYS_HASH_H
#define NYS_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct nys_hash {
	uint64_t h, len;
	unsigned char tail[8];
	unsigned ntail;
} nys_hash;

void nys_hash_init(nys_hash *s, uint64_t seed);
void nys_hash_update(nys_hash *s, const void *p, size_t n);
uint64_t nys_hash_final(const nys_hash *s);
/* The hash of p[0 .. n) in one call. */
uint64_t nys_hash64(const void *p, size_t n, uint64_t seed);

#endif
