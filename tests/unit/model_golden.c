/* The whole model against golden values from an independent PyTorch
 * reference (tests/gen/model_golden.py; stored in tests/data, so CI needs
 * no Python).  For each case of tests/data/model_golden_cases.json: the
 * config from its "model" object, the checkpoint model_golden_CASE.safetensors
 * (HuggingFace names, F64) loaded into a double and a float model, one
 * eval forward on the stored batch, and the loss, the final hidden states,
 * the MLM logits at the labelled positions and the gradient of the loss
 * with respect to every parameter tensor compared with
 * model_golden_CASE.ref.safetensors.
 *
 * Errors are relative to each tensor's scale: max |got - want| / max |want|.
 * Double agrees to 1e-9 (in practice 1e-15 forward, 5e-14 gradients).  Float agrees to 1e-5 in
 * the forward values; its gradients are bounded by GRAD_TOL_F32 (below).
 *
 * Some gradients are zero in exact arithmetic: the key bias's, wherever the
 * attention is invariant to shifting every key by the same vector b
 * (softmax, the exact branch, Nystrom without padding or with
 * landmarks_skip_padding: q . b is added to a whole row of scores, or of
 * the landmarks').  Both sides hold rounding noise there (the reference's
 * is below 1e-16 of the largest gradient); such a tensor is checked for
 * |got| against the case's largest gradient instead. */
#include "nys_model.h"
#include "nys_safetensors.h"
#include "check.h"
#include "tap.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_F64 1e-9
#define TOL_F32 1e-5
/* Float gradients: each one is a sum over the batch of products back
 * through the head, two layers and the attention (with Nystrom, through
 * every pseudo-inverse iteration, each of which multiplies rounding errors
 * by the conditioning of the landmark kernel), so float's 6e-8 grows to
 * 6e-7 .. 1e-5 in the worst tensor of a case (the query and key weights
 * mostly); the bound leaves a factor of 10. */
#define GRAD_TOL_F32 1e-4
/* The scale below which a tensor counts as zero. */
#define TINY 1e-12
/* A reference gradient this small against the case's largest is zero (the
 * smallest that are not are above 4e-3). */
#define ZERO_REF 1e-10
/* Zero gradients, as a fraction of the case's largest: a sum of about
 * B T D terms of that size which cancel, each with its rounding error. */
#define ZERO_TOL_F64 1e-12
#define ZERO_TOL_F32 1e-6

static const char *top;

/* A copy of the tensor `name` of dtype dt (the file's data need not be
 * aligned). */
static void *get_copy(const nys_st *st, const char *name, nys_dtype dt, int ndim,
                      const int64_t *shape, size_t n, nys_err *e)
{
	const void *p = nys_st_get(st, name, dt, ndim, shape, e);
	size_t es = nys_dtype_size(dt);
	void *d = p ? malloc((n ? n : 1) * es) : NULL;
	if (d)
		memcpy(d, p, n * es);
	return d;
}

static double *get_f64(const nys_st *st, const char *name, int ndim, const int64_t *shape,
                       size_t n, nys_err *e)
{
	return get_copy(st, name, NYS_F64, ndim, shape, n, e);
}

static int32_t *get_i32(const nys_st *st, const char *name, int ndim, const int64_t *shape,
                        size_t n, nys_err *e)
{
	return get_copy(st, name, NYS_I32, ndim, shape, n, e);
}

/* max |got - want| / max(max |want|, floor, TINY); got is of dtype dt.
 * *at: where the largest difference is. */
static double rel_err(const void *got, nys_dtype dt, const double *want, size_t n, double floor,
                      size_t *at)
{
	return chk_relmax(got, dt == NYS_F32 ? CHK_F32 : CHK_F64, want, n, fmax(floor, TINY), at);
}

static void warn_fn(void *ctx, const char *msg)
{
	int *nwarn = ctx;
	(*nwarn)++;
	printf("# config warning: %s\n", msg);
}

typedef struct ref {
	int B, T, M, C, V;
	int32_t *ids, *labels;
	float *mask;
	double loss, *hidden, *logits;
	nys_st *st;
} ref;

static void ref_free(ref *r)
{
	free(r->ids);
	free(r->labels);
	free(r->mask);
	free(r->hidden);
	free(r->logits);
	nys_st_free(r->st);
}

static int ref_load(ref *r, const char *path, nys_err *e)
{
	if (!(r->st = nys_st_load(path, e)))
		return -1;
	size_t N = (size_t)r->B * (size_t)r->T;
	int64_t bt[2] = {r->B, r->T}, btc[3] = {r->B, r->T, r->C}, mv[2] = {r->M, r->V}, one[1] = {1};
	double *mask = get_f64(r->st, "mask", 2, bt, N, e), *loss = NULL;
	if (!mask || !(r->ids = get_i32(r->st, "ids", 2, bt, N, e)) ||
	    !(r->labels = get_i32(r->st, "labels", 2, bt, N, e)) ||
	    !(loss = get_f64(r->st, "loss", 1, one, 1, e)) ||
	    !(r->hidden = get_f64(r->st, "hidden", 3, btc, N * (size_t)r->C, e)) ||
	    !(r->logits = get_f64(r->st, "logits", 2, mv, (size_t)r->M * (size_t)r->V, e)) ||
	    !(r->mask = malloc(N * sizeof *r->mask))) {
		free(mask);
		free(loss);
		return -1;
	}
	for (size_t i = 0; i < N; i++)
		r->mask[i] = (float)mask[i];
	r->loss = *loss;
	free(mask);
	free(loss);
	return 0;
}

/* Every "grad.NAME" of the reference is a tensor of the model, and every
 * tensor of the model (aliases aside) has one: the two tables agree. */
static void check_names(const char *cname, const nys_model *m, const ref *r)
{
	size_t want = 0, have = 0;
	int ok = 1;
	for (size_t i = 0; i < nys_st_count(r->st); i++) {
		const char *n = nys_st_name(r->st, i);
		if (strncmp(n, "grad.", 5))
			continue;
		want++;
		const nys_tensor_info *t = nys_model_find(m, n + 5);
		if (!t || t->alias) {
			printf("#   the reference's %s is not a tensor of the model\n", n + 5);
			ok = 0;
		}
	}
	for (size_t i = 0; i < nys_model_ntensors(m); i++)
		if (!nys_model_tensor(m, i)->alias)
			have++;
	char msg[256];
	snprintf(msg, sizeof msg, "%s: the model's %zu tensors are the reference's %zu", cname,
	         have, want);
	tap_ok(ok && have == want, msg);
}

/* One dtype of one case: build, load, forward, backward, compare. */
/* One stage of a case: "<case> <dtype>: <what>" passes when ok; the error
 * under it when not.  ok again. */
static bool stage_ok(bool ok, const char *cname, const char *dn, const char *what,
                     const nys_err *e)
{
	char msg[512];
	snprintf(msg, sizeof msg, "%s %s: %s", cname, dn, what);
	tap_ok(ok, msg);
	if (!ok)
		printf("#   %s\n", e->msg);
	return ok;
}

static void run_dtype(const char *cname, const nys_model_config *cfg, const ref *r,
                      const char *ckpt, nys_dtype dt)
{
	const char *dn = dt == NYS_F64 ? "f64" : "f32";
	double tol = dt == NYS_F64 ? TOL_F64 : TOL_F32;
	double gtol = dt == NYS_F64 ? TOL_F64 : GRAD_TOL_F32;
	char msg[512];
	nys_err e = {0};
	nys_model_opts o = {.dtype = dt, .mlm = true};
	nys_model *m = nys_model_new(cfg, &o, &e);
	if (!stage_ok(m && nys_model_load(m, ckpt, 0, &e) == 0, cname, dn,
	              "model built and checkpoint loaded", &e)) {
		nys_model_free(m);
		return;
	}
	if (dt == NYS_F64)
		check_names(cname, m, r);

	nys_batch b = {.B = r->B, .T = r->T, .ids = r->ids, .mask = r->mask, .labels = r->labels};
	nys_model_stats st = {0};
	if (!stage_ok(nys_model_forward(m, &b, false, 1, &st, &e) == 0, cname, dn, "forward", &e)) {
		nys_model_free(m);
		return;
	}
	double lerr = fabs(st.loss - r->loss) / fmax(fabs(r->loss), TINY);
	snprintf(msg, sizeof msg, "%s %s: loss %.10g = %.10g (rel. error %.1e, bound %.0e), %g labels",
	         cname, dn, st.loss, r->loss, lerr, tol, st.count);
	tap_ok(lerr <= tol && st.count == r->M, msg);

	size_t at = 0, n = nys_model_output_size(m, NYS_OUT_HIDDEN);
	void *h = malloc(n * nys_dtype_size(dt) + 1);
	if (nys_model_output(m, NYS_OUT_HIDDEN, h, &e)) {
		free(h);
		h = NULL;
	}
	size_t nh = (size_t)r->B * (size_t)r->T * (size_t)r->C;
	double herr = h && n == nh ? rel_err(h, dt, r->hidden, nh, 0, &at) : INFINITY;
	snprintf(msg, sizeof msg, "%s %s: final hidden states (rel. error %.1e, bound %.0e)", cname,
	         dn, herr, tol);
	tap_ok(herr <= tol, msg);
	if (!(herr <= tol) && h && n == nh)
		printf("#   worst at b %zu, t %zu, c %zu\n", at / ((size_t)r->T * r->C),
		       at / (size_t)r->C % (size_t)r->T, at % (size_t)r->C);

	free(h);
	n = nys_model_output_size(m, NYS_OUT_LOGITS);
	void *lg = malloc(n * nys_dtype_size(dt) + 1);
	if (nys_model_output(m, NYS_OUT_LOGITS, lg, &e)) {
		free(lg);
		lg = NULL;
	}
	size_t nl = (size_t)r->M * (size_t)r->V;
	double lgerr = lg && n == nl ? rel_err(lg, dt, r->logits, nl, 0, &at) : INFINITY;
	snprintf(msg, sizeof msg, "%s %s: logits at the %d labelled positions (rel. error %.1e, "
	         "bound %.0e)", cname, dn, r->M, lgerr, tol);
	tap_ok(lgerr <= tol, msg);
	if (!(lgerr <= tol) && lg && n == nl)
		printf("#   worst at row %zu, token %zu\n", at / (size_t)r->V, at % (size_t)r->V);
	free(lg);

	if (!stage_ok(nys_model_zero_grad(m, &e) == 0 && nys_model_backward(m, 1.0, &e) == 0, cname,
	              dn, "backward", &e)) {
		nys_model_free(m);
		return;
	}
	char *gbase = nys_model_copy(m, NYS_BUF_GRADS, &e);
	if (!gbase) {
		printf("#   %s\n", e.msg);
		nys_model_free(m);
		return;
	}
	double gmax = 0; /* the case's largest gradient */
	for (size_t i = 0; i < nys_model_ntensors(m); i++) {
		const nys_tensor_info *t = nys_model_tensor(m, i);
		char gname[128];
		snprintf(gname, sizeof gname, "grad.%s", t->name);
		double *want = t->alias ? NULL : get_f64(r->st, gname, t->ndim, t->shape, t->numel, &e);
		if (want)
			gmax = fmax(gmax, chk_maxabs(want, t->numel));
		free(want);
	}
	/* [0]: tensors with a gradient, [1]: those whose gradient is zero */
	double worst[2] = {0, 0}, bound[2] = {gtol, dt == NYS_F64 ? ZERO_TOL_F64 : ZERO_TOL_F32};
	const char *worst_name[2] = {"(none)", "(none)"};
	size_t count[2] = {0, 0}, blen = 0;
	char bad[4096] = "", zeros[512] = "";
	for (size_t i = 0; i < nys_model_ntensors(m); i++) {
		const nys_tensor_info *t = nys_model_tensor(m, i);
		if (t->alias) /* the tied decoder: its gradient is in the word embeddings' */
			continue;
		char gname[128];
		snprintf(gname, sizeof gname, "grad.%s", t->name);
		double *want = get_f64(r->st, gname, t->ndim, t->shape, t->numel, &e);
		double err = INFINITY;
		int z = 0;
		if (!want) {
			printf("#   %s\n", e.msg);
		} else {
			z = chk_maxabs(want, t->numel) <= ZERO_REF * gmax;
			/* a zero gradient: |got| against the case's largest */
			err = rel_err(gbase + t->offset * nys_dtype_size(dt), dt, want, t->numel,
			              z ? gmax : 0, &at);
		}
		count[z]++;
		if (z && strlen(zeros) + strlen(t->name) + 3 < sizeof zeros)
			snprintf(zeros + strlen(zeros), sizeof zeros - strlen(zeros), "%s%s",
			         *zeros ? ", " : "", t->name);
		if (!(err <= worst[z])) {
			worst[z] = err;
			worst_name[z] = t->name;
		}
		if (!(err <= bound[z]) && blen < sizeof bad - 200) {
			blen += (size_t)snprintf(bad + blen, sizeof bad - blen,
			                         "#   %s: %s %.2e at element %zu (bound %.0e)\n", t->name,
			                         z ? "|gradient| / largest gradient" : "rel. error", err,
			                         at, bound[z]);
		}
		free(want);
	}
	snprintf(msg, sizeof msg, "%s %s: gradients of %zu tensors (worst rel. error %.1e in "
	         "%s, bound %.0e)", cname, dn, count[0], worst[0], worst_name[0], bound[0]);
	tap_ok(worst[0] <= bound[0], msg);
	if (count[1]) {
		snprintf(msg, sizeof msg, "%s %s: %zu gradients zero in exact arithmetic, zero here "
		         "(worst %.1e of the largest gradient, bound %.0e)", cname, dn, count[1],
		         worst[1], bound[1]);
		tap_ok(worst[1] <= bound[1], msg);
		printf("#   zero: %s\n", zeros);
	}
	fputs(bad, stdout);
	free(gbase);
	nys_model_free(m);
}

static void run_case(json_t *c)
{
	const char *cname = json_string_value(json_object_get(c, "name"));
	const char *about = json_string_value(json_object_get(c, "about"));
	char msg[512], ckpt[4096], rpath[4096];
	if (!cname) {
		tap_ok(0, "case has a name");
		return;
	}
	printf("# %s: %s\n", cname, about ? about : "");
	nys_model_config cfg;
	nys_err e = {0};
	int nwarn = 0;
	int ok = nys_model_config_from_json(json_object_get(c, "model"), cname, &cfg, warn_fn,
	                                    &nwarn, &e) == 0;
	snprintf(msg, sizeof msg, "%s: config accepted, no warnings", cname);
	tap_ok(ok && nwarn == 0, msg);
	if (!ok) {
		printf("#   %s\n", e.msg);
		return;
	}
	ref r = {
		.B = (int)json_integer_value(json_object_get(c, "B")),
		.T = (int)json_integer_value(json_object_get(c, "T")),
		.M = (int)json_integer_value(json_object_get(c, "M")),
		.C = (int)cfg.transformer_dim,
		.V = (int)cfg.vocab_size,
	};
	snprintf(ckpt, sizeof ckpt, "%s/tests/data/model_golden_%s.safetensors", top, cname);
	snprintf(rpath, sizeof rpath, "%s/tests/data/model_golden_%s.ref.safetensors", top, cname);
	ok = r.B > 0 && r.T > 0 && r.M > 0 && ref_load(&r, rpath, &e) == 0;
	snprintf(msg, sizeof msg, "%s: reference data read", cname);
	tap_ok(ok, msg);
	if (!ok)
		printf("#   %s\n", e.msg);
	else {
		run_dtype(cname, &cfg, &r, ckpt, NYS_F64);
		run_dtype(cname, &cfg, &r, ckpt, NYS_F32);
	}
	ref_free(&r);
}

int main(void)
{
	top = getenv("NYS_TOP") ? getenv("NYS_TOP") : ".";
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/data/model_golden_cases.json", top);
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	if (!m) {
		printf("1..0 # SKIP golden data not found under %s/tests/data\n", top);
		return 0;
	}
	size_t i;
	json_t *c;
	json_t *cases = json_object_get(m, "cases");
	tap_ok(json_array_size(cases) > 0, "cases listed");
	json_array_foreach(cases, i, c)
		run_case(c);
	json_decref(m);
	return tap_done();
}
