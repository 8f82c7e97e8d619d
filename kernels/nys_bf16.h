/* bfloat16 on the host: a float rounded to bf16 (its top 16 bits) the way
 * the GPU's tensor cores convert the factors of a bf16 product (cuBLAS's
 * CUBLAS_COMPUTE_32F_FAST_16BF; __float2bfloat16_rn): round to nearest,
 * ties to even, on the bits, which is IEEE rounding for subnormals too
 * (bf16 has float's exponent range, so a float subnormal rounds within
 * the bf16 subnormals); a value past the largest bf16 (0x7F7F, about
 * 3.39e38) by half an ulp or more becomes infinity; NaN stays NaN (quiet,
 * its sign kept), never infinity.
 *
 * For the CUDA emulator's cuBLAS (kernels/emu: what the conformance test
 * checks the bf16 path against) and its own test (tests/unit/bf16.c).
 * C and C++, header only. */
#ifndef NYS_BF16_H
#define NYS_BF16_H

#include <stdint.h>
#include <string.h>

/* The bf16 nearest to x, as its 16 bits. */
static inline uint16_t nys_bf16_from_float(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	if ((u & 0x7FFFFFFFu) > 0x7F800000u) /* NaN: keep the sign, make it quiet */
		return (uint16_t)((u >> 16) | 0x0040u);
	/* add half an ulp of bf16, less one unless the kept part is odd: a tie
	 * then rounds to the even neighbour; a carry moves into the exponent
	 * (up to infinity), which is the right result */
	u += 0x7FFFu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static inline float nys_bf16_to_float(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* x rounded to bf16, as a float. */
static inline float nys_bf16_round(float x) { return nys_bf16_to_float(nys_bf16_from_float(x)); }

#endif
