/* The tanh GELU over float with AVX-512, for CPUs that have it.
 *
 * The baseline build vectorises the GELU loops of ops_dense.inc 4 wide
 * (SSE2), and GCC does not vectorise them for wider targets (it gives up
 * if-converting the clamps); on a training step they took a tenth of the
 * time.  These are the same loops written with AVX-512 intrinsics, 16
 * wide: the same operations in the same order, no fused multiply-adds, so
 * the results are the bits of the portable loops.  ops_dense.inc calls
 * them when nys_gelu_avx512_usable() says the CPU can.
 */
#include "nys_ops.h"

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define ATTR __attribute__((target("avx512f,avx512dq")))

int nys_gelu_avx512_usable(void);
void nys_gelu_forward_avx512(float *out, const float *inp, size_t n);
void nys_gelu_backward_avx512(float *dinp, const float *dout, const float *inp, size_t n);

int nys_gelu_avx512_usable(void)
{
	static int usable = -1;
	if (usable < 0) {
		__builtin_cpu_init();
		usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
	}
	return usable;
}

/* dense_expf of ops_dense.inc, 16 lanes */
ATTR static inline __m512 expf16(__m512 x0)
{
	const __m512i lim = _mm512_set1_epi32((int)0xC2AE999Au);
	__m512i ux = _mm512_castps_si512(x0);
	__mmask16 over = _mm512_cmpgt_epu32_mask(ux, lim);
	__m512 x = _mm512_castsi512_ps(_mm512_mask_blend_epi32(over, ux, lim));
	__m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
	__m512i n = _mm512_cvttps_epi32(_mm512_sub_ps(t, _mm512_set1_ps(0.5f)));
	__m512 fn = _mm512_cvtepi32_ps(n);
	__m512 r = _mm512_add_ps(_mm512_sub_ps(x, _mm512_mul_ps(fn, _mm512_set1_ps(0.693359375f))),
	                         _mm512_mul_ps(fn, _mm512_set1_ps(2.12194440e-4f)));
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r),
	                  _mm512_set1_ps(1.0f));
	__m512i sbits = _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23);
	__m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(sbits));
	return _mm512_maskz_mov_ps((__mmask16)~over, y);
}

#define GELU_K 0.79788456080286535588f
#define GELU_A 0.044715f

/* clamp to [-16, 16], as DENSE_GELU_CLAMP */
ATTR static inline __m512 clamp16(__m512 x)
{
	const __m512 lo = _mm512_set1_ps(-16.0f), hi = _mm512_set1_ps(16.0f);
	__m512 c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), x, hi);
	return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), c, lo);
}

/* dense_gelu_e: exp(min(-2 k (x + a x^3), 80)) */
ATTR static inline __m512 gelu_e16(__m512 x)
{
	__m512 x3 = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(GELU_A), x), x), x);
	__m512 m = _mm512_mul_ps(_mm512_set1_ps(-2.0f * GELU_K), _mm512_add_ps(x, x3));
	const __m512 cap = _mm512_set1_ps(80.0f);
	m = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m, cap, _CMP_LT_OQ), cap, m);
	return expf16(m);
}

ATTR void nys_gelu_forward_avx512(float *out, const float *inp, size_t n)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 x = _mm512_loadu_ps(inp + i), xc = clamp16(x);
		__mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
		__m512 num = _mm512_mask_blend_ps(pos, xc, x);
		__m512 den = _mm512_add_ps(_mm512_set1_ps(1.0f), gelu_e16(xc));
		_mm512_storeu_ps(out + i, _mm512_div_ps(num, den));
	}
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		__m512 x = _mm512_maskz_loadu_ps(k, inp + i), xc = clamp16(x);
		__mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
		__m512 num = _mm512_mask_blend_ps(pos, xc, x);
		__m512 den = _mm512_add_ps(_mm512_set1_ps(1.0f), gelu_e16(xc));
		_mm512_mask_storeu_ps(out + i, k, _mm512_div_ps(num, den));
	}
}

ATTR static inline __m512 gelu_grad16(__m512 xin)
{
	__m512 x = clamp16(xin), e = gelu_e16(x);
	__m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
	__m512 du = _mm512_mul_ps(
		_mm512_set1_ps(GELU_K),
		_mm512_add_ps(_mm512_set1_ps(1.0f),
	                  _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(3.0f * GELU_A), x), x)));
	__m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), x), s),
	                         _mm512_mul_ps(e, s));
	return _mm512_add_ps(s, _mm512_mul_ps(t, du));
}

ATTR void nys_gelu_backward_avx512(float *dinp, const float *dout, const float *inp, size_t n)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 g = gelu_grad16(_mm512_loadu_ps(inp + i));
		__m512 d = _mm512_add_ps(_mm512_loadu_ps(dinp + i),
		                         _mm512_mul_ps(g, _mm512_loadu_ps(dout + i)));
		_mm512_storeu_ps(dinp + i, d);
	}
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		__m512 g = gelu_grad16(_mm512_maskz_loadu_ps(k, inp + i));
		__m512 d = _mm512_add_ps(_mm512_maskz_loadu_ps(k, dinp + i),
		                         _mm512_mul_ps(g, _mm512_maskz_loadu_ps(k, dout + i)));
		_mm512_mask_storeu_ps(dinp + i, k, d);
	}
}
