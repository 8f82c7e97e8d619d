/* make bench: forward+backward time and peak memory of one attention call,
 * softmax or Nystrom, at one length; run once per length so that the peak
 * RSS is this length's.  Usage: attn softmax|nystrom N [REPS] */
#include "nys_blas.h"
#include "nys_ops.h"
#include "nys.h"

#include <omp.h>
#define NSLOTS omp_get_max_threads()

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static float *randn(size_t n, uint64_t *s)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++) {
		*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = (float)((double)(*s >> 11) / 9007199254740992.0 * 2 - 1);
	}
	return x;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	nys_blas_tune(argv);
	bool nys = !strcmp(argv[1], "nystrom");
	int T = atoi(argv[2]), reps = argc > 3 ? atoi(argv[3]) : 3;
	int B = 1, H = 4, D = 64;
	struct nys_nystrom_opts o = {B, H, T, D, 64, 6, NYS_PINV_ORIGINAL, 33, 0};
	size_t n = (size_t)B * H * T * D;
	uint64_t seed = 1;
	float *q = randn(n, &seed), *k = randn(n, &seed), *v = randn(n, &seed), *g = randn(n, &seed);
	float *w = randn((size_t)H * 33, &seed), *mask = malloc((size_t)B * T * sizeof *mask);
	for (int i = 0; i < B * T; i++)
		mask[i] = 1;
	size_t ns = nys ? nys_nystrom_saved_size_f32(&o) : nys_attn_softmax_saved_size_f32(B, H, T);
	size_t nc = nys ? nys_nystrom_scratch_size_f32(&o, NSLOTS) : nys_attn_softmax_scratch_size_f32(T, NSLOTS);
	float *out = calloc(n, sizeof *out), *saved = calloc(ns, sizeof *saved), *scr = calloc(nc, sizeof *scr);
	float *dq = calloc(n, sizeof *dq), *dk = calloc(n, sizeof *dk), *dv = calloc(n, sizeof *dv);
	float *dw = calloc((size_t)H * 33, sizeof *dw);
	double best = 1e30;
	for (int r = 0; r <= reps; r++) { /* the first run warms up */
		double t0 = nys_now();
		if (nys) {
			nys_nystrom_forward_f32(out, saved, scr, nc, q, k, v, mask, w, &o);
			nys_nystrom_backward_f32(dq, dk, dv, dw, scr, nc, g, saved, q, k, v, mask, w, &o);
		} else {
			nys_attn_softmax_forward_f32(out, saved, scr, nc, q, k, v, mask, B, H, T, D, 0, 0);
			nys_attn_softmax_backward_f32(dq, dk, dv, scr, nc, g, saved, q, k, v, mask, B, H, T, D, 0, 0);
		}
		double t = nys_now() - t0;
		if (r && t < best)
			best = t;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double op_mb = (double)(ns + nc + 8 * n) * sizeof(float) / 1e6;
	printf("%s %d %.1f %.1f %.1f\n", argv[1], T, best * 1e3, op_mb, (double)ru.ru_maxrss / 1e3);
	return 0;
}
