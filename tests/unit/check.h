/* What the numerical unit tests share: reproducible random numbers,
 * buffers (copies, float <-> double, NaN poisoning), the error measures
 * they compare results by, central finite differences, and the reading
 * of reference data from tests/data.  One copy, so
 * that the op tests, the model tests, the golden tests and the backend
 * conformance test (backend_ops.c) measure errors the same way.  Header
 * only (static inline), like tap.h. */
#ifndef NYS_CHECK_H
#define NYS_CHECK_H

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ------------------------------------------------------ */

/* splitmix64's finaliser. */
static inline uint64_t chk_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* The next number of the splitmix64 sequence whose state is *s. */
static inline uint64_t chk_next(uint64_t *s)
{
	return chk_mix64(*s += UINT64_C(0x9E3779B97F4A7C15));
}

/* Uniform in [0, 1): the top 53 bits of the next number. */
static inline double chk_unif01(uint64_t *s)
{
	return (double)(chk_next(s) >> 11) * 0x1p-53;
}

/* Uniform in [lo, hi). */
static inline double chk_unif(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * chk_unif01(s);
}

/* x[i] = amp (2 u - 1) with u from splitmix64 at the position
 * stream 2^32 + i: reproducible element by element, without a state
 * (tests/gen/attn_golden.py draws the same numbers). */
static inline void chk_fill_stream(double *x, size_t n, uint64_t stream, double amp)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t z = chk_mix64((stream << 32) + i + UINT64_C(0x9E3779B97F4A7C15));
		x[i] = amp * (2 * ((double)(z >> 11) * 0x1p-53) - 1);
	}
}

/* ---- buffers ------------------------------------------------------------- */

/* Zeroed memory, or abort: a test has no use for a failed allocation. */
static inline void *chk_alloc(size_t bytes)
{
	void *p = calloc(bytes ? bytes : 1, 1);
	if (!p)
		abort();
	return p;
}
#define CHK_DALLOC(n) ((double *)chk_alloc((n) * sizeof(double)))
#define CHK_FALLOC(n) ((float *)chk_alloc((n) * sizeof(float)))

/* n numbers uniform in [lo, hi) from the sequence *s, in new memory. */
static inline double *chk_rnd(uint64_t *s, size_t n, double lo, double hi)
{
	double *x = CHK_DALLOC(n);
	for (size_t i = 0; i < n; i++)
		x[i] = chk_unif(s, lo, hi);
	return x;
}

static inline double *chk_dup(const double *x, size_t n)
{
	double *y = CHK_DALLOC(n);
	if (n)
		memcpy(y, x, n * sizeof *y);
	return y;
}

/* x rounded to float, in new memory. */
static inline float *chk_to_f32(const double *x, size_t n)
{
	float *y = CHK_FALLOC(n);
	for (size_t i = 0; i < n; i++)
		y[i] = (float)x[i];
	return y;
}

static inline void chk_from_f32(double *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = x[i];
}

/* x rounded to float and back, so that float and double ops see the same
 * inputs. */
static inline void chk_round_f32(double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (double)(float)x[i];
}

/* Poison: every element NaN, so that an output left unwritten shows. */
static inline void chk_nan_f64(double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = NAN;
}

static inline void chk_nan_f32(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = NAN;
}

/* ---- error measures ------------------------------------------------------- */

static inline double chk_dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static inline double chk_norm(const double *a, size_t n)
{
	return sqrt(chk_dot(a, a, n));
}

/* max |a[i]| (NaN ignored, as fmax does). */
static inline double chk_maxabs(const double *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(a[i]));
	return m;
}

/* max |a[i] - b[i]| (NaN ignored). */
static inline double chk_maxdiff(const double *a, const double *b, size_t n)
{
	double d = 0;
	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs(a[i] - b[i]));
	return d;
}

/* ||a - b|| / max(||a||, ||b||) in the 2-norm (||a - b|| when both are 0). */
static inline double chk_rel2(const double *a, const double *b, size_t n)
{
	double d = 0;
	for (size_t i = 0; i < n; i++)
		d += (a[i] - b[i]) * (a[i] - b[i]);
	double s = fmax(chk_norm(a, n), chk_norm(b, n));
	return s > 0 ? sqrt(d) / s : sqrt(d);
}

/* The max-norm error of got against want relative to want's scale:
 *     max |got - want| / max(floor, max |want|)
 * (the absolute error when that scale is 0).  A NaN in got counts as the
 * worst error there is; *at (when not NULL) is where the largest one is.
 * got is float (CHK_F32) or double (CHK_F64). */
enum { CHK_F64, CHK_F32 };
static inline double chk_relmax(const void *got, int dtype, const double *want, size_t n,
                                double floor, size_t *at)
{
	double num = 0, den = floor;
	size_t where = 0;
	for (size_t i = 0; i < n; i++) {
		double g = dtype == CHK_F32 ? (double)((const float *)got)[i]
		                            : ((const double *)got)[i];
		double d = fabs(g - want[i]);
		if (!(d <= num)) {
			num = isnan(d) ? INFINITY : d;
			where = i;
		}
		den = fmax(den, fabs(want[i]));
	}
	if (at)
		*at = where;
	return den > 0 ? num / den : num;
}

/* Distance in units in the last place between two floats (their bit
 * patterns mapped onto a line where adjacent floats are 1 apart). */
static inline int64_t chk_ulp_f32(float a, float b)
{
	uint32_t ua, ub;
	memcpy(&ua, &a, sizeof ua);
	memcpy(&ub, &b, sizeof ub);
	int64_t ka = ua & 0x80000000u ? -(int64_t)(ua & 0x7fffffffu) : (int64_t)ua;
	int64_t kb = ub & 0x80000000u ? -(int64_t)(ub & 0x7fffffffu) : (int64_t)ub;
	return ka > kb ? ka - kb : kb - ka;
}

/* The largest chk_ulp_f32 over n pairs; *nbad (when not NULL) is
 * incremented for each pair that differs. */
static inline int64_t chk_max_ulp_f32(const float *got, const float *want, size_t n,
                                      size_t *nbad)
{
	int64_t mx = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t d = chk_ulp_f32(got[i], want[i]);
		if (d && nbad)
			++*nbad;
		if (d > mx)
			mx = d;
	}
	return mx;
}

/* ---- finite differences ---------------------------------------------------- */

/* A scalar loss of the inputs a test perturbs; ctx is the test's. */
typedef double (*chk_loss_fn)(void *ctx);

/* The central difference (L(x + h u) - L(x - h u)) / 2h along the
 * direction u (n elements; u NULL: every element 1, for n = 1 a single
 * element); x is put back as it was, exactly for a single element. */
static inline double chk_central(double *x, const double *u, size_t n, double h,
                                 chk_loss_fn f, void *ctx)
{
	if (!u) {
		double keep = x[0];
		x[0] = keep + h;
		double lp = f(ctx);
		x[0] = keep - h;
		double lm = f(ctx);
		x[0] = keep;
		return (lp - lm) / (2 * h);
	}
	for (size_t j = 0; j < n; j++)
		x[j] += h * u[j];
	double lp = f(ctx);
	for (size_t j = 0; j < n; j++)
		x[j] -= 2 * h * u[j];
	double lm = f(ctx);
	for (size_t j = 0; j < n; j++)
		x[j] += h * u[j];
	return (lp - lm) / (2 * h);
}

/* num[j] = the central difference of f in x[j], for every element of x. */
static inline void chk_central_each(double *num, double *x, size_t n, double h,
                                    chk_loss_fn f, void *ctx)
{
	for (size_t j = 0; j < n; j++)
		num[j] = chk_central(x + j, NULL, 1, h, f, ctx);
}

/* ---- reference data ----------------------------------------------------- */

/* The whole of file `path` in memory (one byte more, for a terminator),
 * its length in *n; NULL, with *n 0, when it cannot be read. */
static inline void *chk_read_file(const char *path, size_t *n)
{
	*n = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	char *d = size >= 0 ? malloc((size_t)size + 1) : NULL;
	if (d && fread(d, 1, (size_t)size, f) == (size_t)size) {
		*n = (size_t)size;
	} else {
		free(d);
		d = NULL;
	}
	fclose(f);
	return d;
}

/* The reference data of a golden test: tests/data/<stem>.json under
 * $NYS_TOP (default .) into *json (NULL when it cannot be read), and the
 * whole of tests/data/<stem>.bin, returned with its length in *n (NULL,
 * *n 0, when it cannot be read). */
static inline void *chk_load_ref(const char *stem, json_t **json, size_t *n)
{
	const char *top = getenv("NYS_TOP") ? getenv("NYS_TOP") : ".";
	char path[4096];
	json_error_t je;
	snprintf(path, sizeof path, "%s/tests/data/%s.json", top, stem);
	*json = json_load_file(path, 0, &je);
	snprintf(path, sizeof path, "%s/tests/data/%s.bin", top, stem);
	return chk_read_file(path, n);
}

#endif
