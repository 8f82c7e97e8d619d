/* A helper of tests/mpi.t (not a TAP test itself), two commands:
 *
 *   dist train CONFIG STEPS OUT [exact]
 *                                 train the config's model in double
 *                                 precision for STEPS steps of 7 made-up
 *                                 sequences in micro-batches of 2 (the last
 *                                 one of 1) through the training loop,
 *                                 alone or as one rank of mpirun's world
 *                                 (nys_dist.h); rank 0 writes the weights
 *                                 to OUT (safetensors, F64); exact: the
 *                                 loop's exact gradient sums
 *   dist cmp A B                  the largest difference between the
 *                                 tensors of two weight files (F32 or F64),
 *                                 relative to the larger magnitude (rel)
 *                                 and to the tensor's largest (trel):
 *                                 "max_rel R max_trel Q max_abs A n N"
 *
 * nys-train runs float models only; this is the double-precision run of
 * the same loop, where 1, 2 and 3 ranks must agree within 1e-12. */
#include "nys_config.h"
#include "nys_dist.h"
#include "nys_loop.h"
#include "nys_model.h"
#include "nys_safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T = 32, BATCH = 7, MICRO = 2 };

typedef struct feed {
	uint64_t next_seq;   /* the global number of the next sequence */
	uint32_t vocab;
	int32_t ids[MICRO * T], labels[MICRO * T];
} feed;

/* Sequence g: ids from its number, every fifth-ish position labelled. */
static void make_seq(uint64_t g, uint32_t vocab, int32_t *ids, int32_t *labels)
{
	for (int t = 0; t < T; t++) {
		uint64_t r = nys_mix64(g * T + (uint64_t)t + 1);
		ids[t] = (int32_t)(5 + r % (vocab - 5));
		labels[t] = (r >> 32) % 5 == 0 ? ids[t] : NYS_IGNORE_LABEL;
		if (labels[t] >= 0)
			ids[t] = 4;
	}
}

static int next_batch(void *ctx, int n, nys_batch *b, nys_err *e)
{
	feed *f = ctx;
	(void)e;
	for (int i = 0; i < n; i++)
		make_seq(f->next_seq++, f->vocab, f->ids + i * T, f->labels + i * T);
	*b = (nys_batch){.B = n, .T = T, .ids = f->ids, .labels = f->labels};
	return 0;
}

static int skip_batch(void *ctx, int n, nys_err *e)
{
	feed *f = ctx;
	(void)e;
	f->next_seq += (uint64_t)n;
	return 0;
}

static int train(const char *cfgpath, const char *steps_s, const char *out, bool exact)
{
	nys_err e = {0};
	nys_world w;
	unsigned local;
	if (nys_dist_start(NULL, NULL, &w, &local, &e)) {
		fprintf(stderr, "dist: %s\n", e.msg);
		return 1;
	}
	uint64_t steps = strtoull(steps_s, NULL, 10);
	nys_config *cfg = nys_config_load(cfgpath, NULL, NULL, &e);
	nys_model *m = NULL;
	feed f = {0};
	nys_loop L = {0};
	int rc = 1;
	if (!cfg)
		goto out;
	f.vocab = cfg->model.vocab_size;
	nys_model_opts mo = {.dtype = NYS_F64, .mlm = true};
	if (!(m = nys_model_new(&cfg->model, &mo, &e)) || nys_model_init(m, 7, &e))
		goto out;
	nys_loop_opts lo = {.batch = BATCH, .micro = MICRO, .seed = 11, .max_lr = 1e-3,
	                    .next = next_batch, .next_ctx = &f, .skip = skip_batch,
	                    .world = &w, .exact = exact};
	nys_onecycle_init(&lo.sched, 1e-3, steps + 1, 0.3);
	if (nys_loop_init(&L, m, &lo, &e))
		goto out;
	for (uint64_t s = 0; s < steps; s++) {
		nys_loop_sums sum;
		if (nys_loop_step(&L, &sum, &e))
			goto out;
		if (w.rank == 0)
			printf("step %llu loss %.17g\n", (unsigned long long)s, sum.loss);
	}
	if (w.rank == 0 && nys_model_save(m, out, NULL, &e))
		goto out;
	rc = 0;
out:
	if (rc) {
		fprintf(stderr, "dist: rank %u: %s\n", w.rank, e.msg);
		nys_dist_abort(1);
	}
	nys_loop_free(&L);
	nys_model_free(m);
	nys_config_free(cfg);
	nys_dist_end();
	return rc;
}

/* Element i of a tensor of either float type (the data need not be
 * aligned). */
static double at(const void *p, int dt, size_t i)
{
	const unsigned char *c = p;
	if (dt == NYS_F64) {
		double d;
		memcpy(&d, c + i * sizeof d, sizeof d);
		return d;
	}
	float f;
	memcpy(&f, c + i * sizeof f, sizeof f);
	return f;
}

static int cmp(const char *a, const char *b)
{
	nys_err e = {0};
	nys_st *sa = nys_st_load(a, &e), *sb = sa ? nys_st_load(b, &e) : NULL;
	if (!sb) {
		fprintf(stderr, "dist: %s\n", e.msg);
		nys_st_free(sa);
		return 1;
	}
	double rel = 0, trel = 0, abs_ = 0;
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < nys_st_count(sa) && !rc; i++) {
		const char *name = nys_st_name(sa, i);
		int64_t sh[NYS_ST_MAX_DIMS], sh2[NYS_ST_MAX_DIMS];
		int da = nys_st_dtype(sa, name), db = nys_st_dtype(sb, name);
		int nd = nys_st_shape(sa, name, sh);
		if ((da != NYS_F32 && da != NYS_F64) || da != db || nd != nys_st_shape(sb, name, sh2) ||
		    memcmp(sh, sh2, (size_t)nd * sizeof *sh)) {
			fprintf(stderr, "dist: %s: not the same tensor in both\n", name);
			rc = 1;
			break;
		}
		const void *pa = nys_st_get(sa, name, (nys_dtype)da, nd, sh, &e);
		const void *pb = pa ? nys_st_get(sb, name, (nys_dtype)da, nd, sh, &e) : NULL;
		if (!pb) {
			fprintf(stderr, "dist: %s\n", e.msg);
			rc = 1;
			break;
		}
		size_t cnt = 1;
		for (int d = 0; d < nd; d++)
			cnt *= (size_t)sh[d];
		double top = 0, dmax = 0;
		for (size_t j = 0; j < cnt; j++, n++) {
			double x = at(pa, da, j), y = at(pb, da, j), d = fabs(x - y);
			double mag = fmax(fabs(x), fabs(y));
			top = fmax(top, mag);
			dmax = fmax(dmax, d);
			if (d > 0 && d / mag > rel)
				rel = d / mag;
		}
		abs_ = fmax(abs_, dmax);
		if (dmax > 0 && dmax / top > trel)
			trel = dmax / top;
	}
	if (!rc)
		printf("max_rel %.3g max_trel %.3g max_abs %.3g n %zu\n", rel, trel, abs_, n);
	nys_st_free(sa);
	nys_st_free(sb);
	return rc;
}

int main(int argc, char **argv)
{
	if ((argc == 5 || (argc == 6 && !strcmp(argv[5], "exact"))) && !strcmp(argv[1], "train"))
		return train(argv[2], argv[3], argv[4], argc == 6);
	if (argc == 4 && !strcmp(argv[1], "cmp"))
		return cmp(argv[2], argv[3]);
	fprintf(stderr, "usage: dist train CONFIG STEPS OUT [exact] | dist cmp A B\n");
	return 2;
}
