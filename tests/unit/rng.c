/* nys_rng against CPython's random module.  Every expected value below was
 * printed by python3 (3.11) with this script:
 *
 *   import random, struct
 *   def bits(x): return struct.unpack('<Q', struct.pack('<d', x))[0]
 *   for s in [0, 1, 42, 12345, 2**32 - 1, 2**32 + 5, 2**64 - 1]:
 *       random.seed(s); print(s, [hex(random.getrandbits(32)) for _ in range(3)])
 *       random.seed(s); print(s, [hex(bits(random.random())) for _ in range(3)])
 *   random.seed(7)
 *   print([hex(random.getrandbits(k)) for k in (1, 5, 31, 33, 40, 63, 64)])
 *   random.seed(3)
 *   print([random._inst._randbelow(n) for n in (1, 2, 3, 10, 1000, 2**31, 10**12)])
 *   for s, n in [(1, 20), (0, 10), (99, 1)]:
 *       random.seed(s); l = list(range(n)); random.shuffle(l); print(l)
 *   random.seed(1)
 *   for _ in range(1000): random.random()
 *   print(hex(bits(random.random())))
 */
#include "nys_rng.h"
#include "tap.h"

#include <inttypes.h>
#include <string.h>

static uint64_t dbits(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

static const struct {
	uint64_t seed;
	uint32_t u32[3];
	uint64_t rnd[3];
} seeds[] = {
	{0, {0xd82c07cd, 0x629f6fbe, 0xc2094cac},
	 {0x3feb0580f98a7dbe, 0x3fe84129978f9c1a, 0x3fdaeaa51052e978}},
	{1, {0x2265b1f5, 0x91b7584a, 0xd8f16adf},
	 {0x3fc132d8f91b7584, 0x3feb1e2d5b3584f8, 0x3fe870d778409f13}},
	{42, {0xa3b1799d, 0x1c80317f, 0x6671ad1},
	 {0x3fe4762f307200c5, 0x3f999c6b5eeb2060, 0x3fd19a1491f589dc}},
	{12345, {0x6aa79987, 0xbb91433a, 0x29a7245},
	 {0x3fdaa9e665dc8a18, 0x3f84d392d1f6f840, 0x3fea68177b361de3}},
	{4294967295u, {0xa2a6c909, 0x9e9c04f4, 0x3404e941},
	 {0x3fe454d9227a7013, 0x3fca0274a3720bf8, 0x3fe36f8c1616ef77}},
	{4294967301u, {0x284300d3, 0x7c4976ab, 0x48510b35},
	 {0x3fc4218067c49768, 0x3fd21442cf1e9172, 0x3fe357affb575f81}},
	{UINT64_MAX, {0x5965e7e, 0x3faff328, 0x568d6a40},
	 {0x3f9659799fd7f980, 0x3fd5a35a94f333d8, 0x3fcb21c0274c09a4}},
};

int main(void)
{
	nys_rng r;
	char name[128];
	for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
		int ok = 1;
		nys_rng_seed(&r, seeds[i].seed);
		for (int k = 0; k < 3; k++)
			ok &= nys_rng_getrandbits(&r, 32) == seeds[i].u32[k];
		snprintf(name, sizeof name, "seed(%" PRIu64 "): getrandbits(32) x3", seeds[i].seed);
		tap_ok(ok, name);
		ok = 1;
		nys_rng_seed(&r, seeds[i].seed);
		for (int k = 0; k < 3; k++) {
			uint64_t got = dbits(nys_rng_random(&r));
			if (got != seeds[i].rnd[k]) {
				printf("#   random() %d: got %016" PRIx64 ", want %016" PRIx64 "\n", k, got,
				       seeds[i].rnd[k]);
				ok = 0;
			}
		}
		snprintf(name, sizeof name, "seed(%" PRIu64 "): random() x3, every bit", seeds[i].seed);
		tap_ok(ok, name);
	}

	static const unsigned gk[] = {1, 5, 31, 33, 40, 63, 64};
	static const uint64_t gv[] = {0x0, 0x1e, 0x134f069b, 0x16513270e, 0x120c5c7fd0,
	                              0x4497c815d23f0824, 0x5d9dc9f81818e811};
	int ok = 1;
	nys_rng_seed(&r, 7);
	for (int k = 0; k < 7; k++)
		ok &= nys_rng_getrandbits(&r, gk[k]) == gv[k];
	tap_ok(ok, "getrandbits(k) for k of 1 to 64");

	static const uint64_t bn[] = {1, 2, 3, 10, 1000, UINT64_C(1) << 31, UINT64_C(1000000000000)};
	static const uint64_t bv[] = {0, 0, 1, 9, 485, 281444313, UINT64_C(15485932093)};
	ok = 1;
	nys_rng_seed(&r, 3);
	for (int k = 0; k < 7; k++)
		ok &= nys_rng_below(&r, bn[k]) == bv[k];
	tap_ok(ok, "_randbelow(n), rejection included");

	int a[20];
	static const int s20[] = {11, 5, 17, 19, 9, 0, 16, 1, 15, 6, 10, 13, 14, 12, 7, 3, 8, 2, 18, 4};
	for (int i = 0; i < 20; i++)
		a[i] = i;
	nys_rng_seed(&r, 1);
	nys_rng_shuffle(&r, a, 20, sizeof *a);
	tap_ok(!memcmp(a, s20, sizeof a), "seed(1); shuffle(range(20))");
	static const int s10[] = {7, 8, 1, 5, 3, 4, 2, 0, 9, 6};
	for (int i = 0; i < 10; i++)
		a[i] = i;
	nys_rng_seed(&r, 0);
	nys_rng_shuffle(&r, a, 10, sizeof *a);
	tap_ok(!memcmp(a, s10, 10 * sizeof *a), "seed(0); shuffle(range(10))");
	a[0] = 0;
	nys_rng_seed(&r, 99);
	nys_rng_shuffle(&r, a, 1, sizeof *a);
	nys_rng_shuffle(&r, a, 0, sizeof *a);
	tap_ok(a[0] == 0, "shuffle of one and of no element");

	nys_rng_seed(&r, 1);
	for (int i = 0; i < 1000; i++)
		nys_rng_random(&r);
	tap_ok(dbits(nys_rng_random(&r)) == 0x3fda585c192fcb38, "seed(1): random() #1001 (state regenerated)");
	return tap_done();
}
