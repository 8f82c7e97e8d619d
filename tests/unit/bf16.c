/* The bf16 rounding helper (kernels/nys_bf16.h), which the CUDA emulator's
 * cuBLAS uses to stand for the GPU's bf16 products: round to nearest, ties
 * to even, on given bit patterns (exact values, ties each way, the carry
 * into the exponent, overflow to infinity, infinities, NaN, zeros and
 * subnormals), and on a million random floats against an independent
 * reference in double (x scaled to an integer count of bf16 ulps and
 * rounded by nearbyint, which ties to even). */
#include "nys_bf16.h"
#include "nys.h"
#include "tap.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static float fbits(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

static uint32_t bitsf(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

/* x rounded to 8 significant bits in double, bf16's exponent range (its
 * subnormals: the ulp of the smallest binade, 2^-133), infinity past the
 * largest bf16 */
static float ref_round(float x)
{
	if (isnan(x) || isinf(x) || x == 0)
		return x;
	int e = ilogb(x);
	int q = (e < -126 ? -126 : e) - 7;
	double r = ldexp(nearbyint(ldexp((double)x, -q)), q);
	if (fabs(r) > 3.3895313892515355e38) /* 0x7F7F: the largest bf16 */
		return x < 0 ? -INFINITY : INFINITY;
	return (float)r;
}

static void check(uint32_t in, uint16_t want, const char *what)
{
	uint16_t got = nys_bf16_from_float(fbits(in));
	char msg[160];
	snprintf(msg, sizeof msg, "%s: 0x%08" PRIx32 " -> 0x%04x (want 0x%04x)", what, in, got,
	         want);
	tap_ok(got == want, msg);
}

int main(void)
{
	check(0x3F800000u, 0x3F80, "1 is exact");
	check(0xC0490FDBu, 0xC049, "-pi rounds down (below half)");
	check(0x3F80C000u, 0x3F81, "above half rounds up");
	check(0x3F807FFFu, 0x3F80, "just below half rounds down");
	check(0x3F808000u, 0x3F80, "a tie to the even (down)");
	check(0x3F818000u, 0x3F82, "a tie to the even (up)");
	check(0xBF818000u, 0xBF82, "a negative tie to the even");
	check(0x3FFF8000u, 0x4000, "the carry into the exponent");
	check(0x7F7F0000u, 0x7F7F, "the largest bf16 is exact");
	check(0x7F7F7FFFu, 0x7F7F, "just below the overflow threshold");
	check(0x7F7F8000u, 0x7F80, "half an ulp past the largest: infinity");
	check(0x7F7FFFFFu, 0x7F80, "FLT_MAX: infinity");
	check(0xFF7FFFFFu, 0xFF80, "-FLT_MAX: -infinity");
	check(0x7F800000u, 0x7F80, "infinity");
	check(0xFF800000u, 0xFF80, "-infinity");
	check(0x7FC00000u, 0x7FC0, "a quiet NaN");
	check(0x7F800001u, 0x7FC0, "a NaN with only low payload bits stays NaN (quiet)");
	check(0xFFFFFFFFu, 0xFFFF, "a negative NaN keeps its sign");
	check(0x00000000u, 0x0000, "zero");
	check(0x80000000u, 0x8000, "minus zero");
	check(0x00000001u, 0x0000, "the smallest subnormal: to zero");
	check(0x00008000u, 0x0000, "a subnormal tie to the even zero");
	check(0x00018000u, 0x0002, "a subnormal tie to the even (up)");
	check(0x0000C000u, 0x0001, "a subnormal above half");
	check(0x80010000u, 0x8001, "a negative subnormal bf16 is exact");
	check(0x007FFFFFu, 0x0080, "the largest subnormal rounds up to the smallest normal");
	check(0x00808000u, 0x0080, "the smallest normal's tie");

	/* random bit patterns (every class) against the reference */
	uint64_t bad = 0, nan_bad = 0;
	uint32_t first = 0;
	for (int i = 0; i < 1000000; i++) {
		uint32_t u = (uint32_t)(nys_splitmix64_at(0xBF16BF16u, (uint64_t)i) >> 32);
		if (i & 1) /* half of them near ties: the low 16 bits 0x8000 +- 1 */
			u = (u & 0xFFFF0000u) | (0x7FFFu + (uint32_t)(i >> 1) % 3);
		float x = fbits(u), got = nys_bf16_round(x);
		if (isnan(x)) {
			if (!isnan(got) || signbit(got) != signbit(x))
				nan_bad++;
			continue;
		}
		if (bitsf(got) != bitsf(ref_round(x)) && !bad++)
			first = u;
	}
	char msg[160];
	snprintf(msg, sizeof msg, "1e6 random floats as the double reference rounds them (%" PRIu64
	         " differ; first 0x%08" PRIx32 ")", bad, first);
	tap_ok(bad == 0, msg);
	tap_ok(nan_bad == 0, "every random NaN stays NaN with its sign");
	/* round trip: every bf16 converts to float and back to itself (NaN: quiet) */
	int rt = 0;
	for (uint32_t h = 0; h < 0x10000u; h++) {
		uint16_t back = nys_bf16_from_float(nys_bf16_to_float((uint16_t)h));
		int nan = (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu);
		rt += nan ? back != (h | 0x40u) : back != h;
	}
	tap_ok(rt == 0, "every one of the 65536 bf16 values survives float and back");
	return tap_done();
}
