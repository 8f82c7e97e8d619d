/* make bench-gpu: forward+backward time and memory of one attention call on
 * the CUDA backend, Nystrom attention for n = 512 ... 65536 and softmax
 * attention up to SOFTMAX_MAX (default 16384), batch 1, 12 heads, head size
 * 64, 64 landmarks, conv 65, 6 pseudo-inverse iterations (the authors'
 * nystrom-4096 attention), as a table.  Without a usable GPU it says it
 * skipped and exits 0.
 *
 * Time: the best of REPS (default 10) forward+backward pairs after one
 * warm-up, each timed from the host after nys_backend_sync, so launches
 * are counted.  Memory: the bytes of every buffer the call takes (q, k, v,
 * the mask, out, dout, dq, dk, dv, the conv weights and their gradient,
 * saved and scratch at the sizes the backend asks for); the ops allocate
 * nothing else (cuBLAS's fixed workspace aside).
 *
 * Usage: attn_gpu [REPS [NMAX [SOFTMAX_MAX]]] */
#include "nys_backend.h"
#include "nys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 1, H = 12, D = 64, M = 64, ITERS = 6, CONV = 65 };
/* issue 13's target, shown beside the measured row */
enum { TARGET_N = 8192 };
#define TARGET_MS 2.0

static float *host_rand(size_t n, uint64_t *s, float lo, float hi)
{
	float *x = malloc((n ? n : 1) * sizeof *x);
	for (size_t i = 0; x && i < n; i++)
		x[i] = lo + (hi - lo) * (float)((double)(nys_splitmix64_at(*s, i) >> 11) * 0x1p-53);
	*s += n;
	return x;
}

/* One timed case; 0, or -1 with the reason printed (no memory, a failed op). */
static int bench_one(nys_backend *be, int nystrom, int T, int reps, double *ms_fwd,
                     double *ms_bwd, double *mib)
{
	struct nys_nystrom_opts o = {B, H, T, D, M, ITERS, NYS_PINV_ORIGINAL, CONV, 0};
	size_t n = (size_t)B * H * T * D, nsaved = 0, nscr = 0, nw = (size_t)H * CONV;
	int rc = nystrom ? nys_backend_nystrom_size(be, &o, &nsaved, &nscr)
	                 : nys_backend_attn_softmax_size(be, B, H, T, &nsaved, &nscr);
	nys_err e = {{0}};
	if (rc || nys_backend_sync(be, &e)) {
		printf("# T %d: size query: %s\n", T, e.msg);
		return -1;
	}
	enum { Q, K, V, MASK, OUT, DOUT, DQ, DK, DV, W, DW, SAVED, SCR, NBUF };
	size_t cnt[NBUF] = {n, n, n, (size_t)B * T, n, n, n, n, n, nw, nw, nsaved, nscr};
	void *p[NBUF] = {0};
	size_t bytes = 0;
	for (int i = 0; i < NBUF; i++) {
		bytes += cnt[i] * sizeof(float);
		if (!(p[i] = nys_backend_alloc(be, cnt[i] * sizeof(float)))) {
			printf("# T %d: no device memory for %.1f MiB\n", T, (double)bytes / 1048576);
			for (int j = 0; j < i; j++)
				nys_backend_release(be, p[j]);
			return -1;
		}
	}
	uint64_t s = 12345;
	static const float lo[NBUF] = {-1, -1, -1, 1, 0, -1, 0, 0, 0, -0.2f, 0, 0, 0};
	static const float hi[NBUF] = {1, 1, 1, 1, 0, 1, 0, 0, 0, 0.2f, 0, 0, 0};
	for (int i = 0; i < NBUF && !rc; i++) {
		if (i != Q && i != K && i != V && i != MASK && i != DOUT && i != W)
			continue;
		float *x = host_rand(cnt[i], &s, lo[i], hi[i]);
		rc = !x || nys_backend_set(be, p[i], x, cnt[i] * sizeof(float));
		free(x);
	}
	rc = rc || nys_backend_zero(be, p[DW], nw * sizeof(float));
	double best_f = 1e30, best_b = 1e30;
	for (int r = 0; r <= reps && !rc; r++) { /* the first pair warms up */
		double t0 = nys_now();
		nys_backend_begin(be);
		if (nystrom)
			rc = nys_backend_nystrom_forward(be, p[OUT], p[SAVED], p[SCR], nscr, p[Q], p[K],
			                                 p[V], p[MASK], p[W], &o);
		else
			rc = nys_backend_attn_softmax_forward(be, p[OUT], p[SAVED], p[SCR], nscr, p[Q],
			                                      p[K], p[V], p[MASK], B, H, T, D, 0, 0);
		rc = rc || nys_backend_sync(be, &e);
		double t1 = nys_now();
		nys_backend_begin(be);
		if (!rc && nystrom)
			rc = nys_backend_nystrom_backward(be, NYS_OVERWRITE, p[DQ], p[DK], p[DV], p[DW],
			                                  p[SCR], nscr, p[DOUT], p[SAVED], p[Q], p[K],
			                                  p[V], p[MASK], p[W], &o);
		else if (!rc)
			rc = nys_backend_attn_softmax_backward(be, NYS_OVERWRITE, p[DQ], p[DK], p[DV],
			                                       p[SCR], nscr, p[DOUT], p[SAVED], p[Q],
			                                       p[K], p[V], p[MASK], B, H, T, D, 0, 0);
		rc = rc || nys_backend_sync(be, &e);
		double t2 = nys_now();
		if (r && t1 - t0 < best_f)
			best_f = t1 - t0;
		if (r && t2 - t1 < best_b)
			best_b = t2 - t1;
	}
	if (rc)
		printf("# T %d: %s\n", T, e.msg[0] ? e.msg : "an op failed");
	/* the output must be finite: a kernel that wrote nothing or NaN shows */
	float probe[4] = {0};
	if (!rc && nys_backend_get(be, probe, (char *)p[DQ] + (n - 4) * sizeof(float), sizeof probe))
		rc = -1;
	for (int i = 0; i < 4 && !rc; i++)
		if (!(probe[i] == probe[i]))
			printf("# T %d: dq is not finite\n", T), rc = -1;
	for (int i = 0; i < NBUF; i++)
		nys_backend_release(be, p[i]);
	*ms_fwd = best_f * 1e3, *ms_bwd = best_b * 1e3, *mib = (double)bytes / 1048576;
	return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 10;
	int nmax = argc > 2 ? atoi(argv[2]) : 65536;
	int smax = argc > 3 ? atoi(argv[3]) : 16384;
	nys_err e = {{0}};
	nys_backend *be = nys_backend_new(NYS_DEVICE_CUDA, NYS_F32, &e);
	if (!be) {
		printf("attn_gpu: skipped, no CUDA backend: %s\n", e.msg);
		return 0;
	}
	printf("\nAttention on the GPU, forward+backward, fp32: batch %d, %d heads, head size %d; "
	       "Nystrom: %d landmarks, %d pseudo-inverse iterations, conv %d (best of %d)\n\n",
	       B, H, D, M, ITERS, CONV, reps);
	/* the columns of tests/gpu/table.py's attention table, which PyTorch's
	 * rows (tests/gpu/torch_step.py) print too */
	printf("| %-7s | %-9s | %6s | %10s | %11s | %10s | %10s | %-11s |\n", "run", "attention",
	       "n", "forward ms", "backward ms", "fwd+bwd ms", "memory MiB", "target");
	printf("|---------|-----------|--------|------------|-------------|------------|"
	       "------------|-------------|\n");
	for (int kind = 1; kind >= 0; kind--)
		for (int T = 512; T <= (kind ? nmax : smax); T *= 2) {
			double f, b, mib;
			if (bench_one(be, kind, T, reps, &f, &b, &mib))
				break;
			char target[16] = "-";
			if (kind && T == TARGET_N)
				snprintf(target, sizeof target, "< %g ms: %s", TARGET_MS,
				         f + b < TARGET_MS ? "met" : "no");
			printf("| %-7s | %-9s | %6d | %10.3f | %11.3f | %10.3f | %10.1f | %-11s |\n", "nys",
			       kind ? "nystrom" : "softmax", T, f, b, f + b, mib, target);
			fflush(stdout);
		}
	printf("\n(issue 13's target, reported, not a gate: Nystrom n = %d forward+backward "
	       "under %g ms on an H200)\n", TARGET_N, TARGET_MS);
	nys_backend_free(be);
	return 0;
}
