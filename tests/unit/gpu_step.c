/* Whole training and fine-tuning steps on the CUDA backend against the CPU
 * backend (issue 13's proof at the model's level): small models of each
 * kind (Nystrom masked-LM with padding, token types and uneven segments,
 * softmax attention, a classifier, a regression head) made on both devices
 * from the same parameters, then several steps of forward with dropout,
 * backward and AdamW on each; the losses, gradients and parameters after
 * every step are compared (float32 on both, so about 1e-5 relative per op,
 * growing a little with the steps: the bound is 1e-4).  One case more runs
 * the GPU model in mixed precision (nys_model_opts.matmul = NYS_MATMUL_BF16,
 * a config's mixed_precision: the dense products in bf16): within 1e-2 of
 * the CPU's float32 (gradients 5e-2), and its gradients further from them
 * than float32's bound, 1e-4, so that bf16 is seen to be in use.
 *
 * Without a usable GPU the steps are a visible TAP skip, and what is
 * tested is that asking for the cuda device is a clear error ("cuda: ..."),
 * not a crash: the programs' `--device cuda` then exits 1 with it.
 * `gpu_step --probe` only says whether there is a GPU (for tests/gpu/). */
#include "nys_backend.h"
#include "nys_cuda.h"
#include "nys_model.h"
#include "check.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0xC0DA5EEDull;

static nys_model_config base_cfg(void)
{
	nys_model_config c = {
		.vocab_size = 37, .num_sen_type = 2, .max_seq_len = 24,
		.embedding_dim = 16, .transformer_dim = 16, .transformer_hidden_dim = 40,
		.num_layers = 2, .num_head = 2, .head_dim = 8, .dropout_prob = 0.1,
		.attn_type = NYS_ATTN_NYSTROM, .num_landmarks = 5, .seq_len = 22,
		.conv_kernel_size = 3, .inv_init = NYS_INV_INIT_ORIGINAL,
		.inv_iterations = 6,
	};
	return c;
}

enum { MAXB = 4, MAXT = 24 };

typedef struct batchbuf {
	int32_t ids[MAXB * MAXT], types[MAXB * MAXT], labels[MAXB * MAXT];
	float mask[MAXB * MAXT], targets[MAXB];
	nys_batch b;
} batchbuf;

/* B sequences of T tokens, the last one's final pad positions padding;
 * every third position labelled (MLM) or one label a sequence. */
static void make_batch(batchbuf *bb, const nys_model_config *c, int num_labels, int B, int T,
                       int pad, bool types)
{
	memset(bb, 0, sizeof *bb);
	for (int i = 0; i < B * T; i++) {
		bb->ids[i] = (int32_t)(chk_next(&rs) % (uint64_t)c->vocab_size);
		bb->types[i] = (int32_t)(chk_next(&rs) % (uint64_t)c->num_sen_type);
		bb->mask[i] = 1;
		bb->labels[i] =
			i % 3 == 1 ? (int32_t)(chk_next(&rs) % (uint64_t)c->vocab_size) : NYS_IGNORE_LABEL;
	}
	for (int t = T - pad; t < T; t++) {
		bb->mask[(B - 1) * T + t] = 0;
		bb->ids[(B - 1) * T + t] = 0;
		bb->labels[(B - 1) * T + t] = NYS_IGNORE_LABEL;
	}
	if (num_labels >= 2)
		for (int b = 0; b < B; b++)
			bb->labels[b] = (int32_t)(chk_next(&rs) % (uint64_t)num_labels);
	for (int b = 0; b < B; b++)
		bb->targets[b] = (float)chk_unif(&rs, -1, 1);
	bb->b = (nys_batch){
		.B = B, .T = T, .ids = bb->ids, .type_ids = types ? bb->types : NULL,
		.mask = pad ? bb->mask : NULL, .labels = bb->labels,
		.targets = num_labels == 1 ? bb->targets : NULL,
	};
}

typedef struct scase {
	const char *name;
	int attn, conv, skip_pad, num_labels;
	bool mlm;
	int B, T, pad;
	bool types;
	nys_matmul matmul; /* the GPU model's products */
} scase;

static nys_model *make(const nys_model_config *c, const scase *s, nys_device dev, nys_err *e)
{
	nys_model_opts o = {.dtype = NYS_F32, .mlm = s->mlm, .num_labels = s->num_labels,
	                    .device = dev, .matmul = s->matmul};
	nys_model *m = nys_model_new(c, &o, e);
	if (m && nys_model_init(m, 5, e)) {
		nys_model_free(m);
		return NULL;
	}
	return m;
}

/* max |a - b| / max |b| over n floats */
static double rel(const float *a, const float *b, size_t n)
{
	double d = 0, w = 0;
	for (size_t i = 0; i < n; i++) {
		double x = fabs((double)a[i] - b[i]);
		d = x > d || isnan(x) ? x : d;
		w = fmax(w, fabs((double)b[i]));
	}
	return d / fmax(w, 1e-30);
}

/* *worst = max(*worst, rel(gpu's buffer which, cpu's)); 0, or -1 with e set */
static int compare(nys_model *cpu, nys_model *gpu, nys_buffer which, double *worst, nys_err *e)
{
	float *c = nys_model_copy(cpu, which, e);
	float *g = c ? nys_model_copy(gpu, which, e) : NULL;
	if (g)
		*worst = fmax(*worst, rel(g, c, nys_model_nparams(cpu)));
	free(c);
	free(g);
	return g ? 0 : -1;
}

static void run_case(const scase *s)
{
	nys_model_config c = base_cfg();
	c.attn_type = s->attn;
	c.conv_kernel_size = s->conv;
	c.landmarks_skip_padding = s->skip_pad;
	if (s->skip_pad)
		c.inv_init = NYS_INV_INIT_NEW;
	nys_err e = {{0}};
	char msg[512];
	nys_model *cpu = make(&c, s, NYS_DEVICE_CPU, &e), *gpu = cpu ? make(&c, s, NYS_DEVICE_CUDA, &e) : NULL;
	snprintf(msg, sizeof msg, "%s: the model on cpu and on cuda%s%.300s", s->name,
	         gpu ? "" : ": ", gpu ? "" : e.msg);
	tap_ok(gpu != NULL, msg);
	if (!gpu) {
		nys_model_free(cpu);
		return;
	}
	size_t np = nys_model_nparams(cpu);
	/* the same parameters on both, jittered off their special values */
	float *p = nys_model_copy(cpu, NYS_BUF_PARAMS, &e);
	for (size_t i = 0; p && i < np; i++)
		p[i] += (float)chk_unif(&rs, -0.05, 0.05);
	int ok = p && !nys_model_set(cpu, NYS_BUF_PARAMS, 0, np, p, &e) &&
	         !nys_model_set(gpu, NYS_BUF_PARAMS, 0, np, p, &e);
	free(p);
	nys_adamw oc, og;
	/* small steps: a gradient near 0 whose sign rounds differently on the
	 * two devices moves its weight by about lr either way */
	nys_adamw_init(&oc, 1e-4);
	og = oc;
	double worst_loss = 0, worst_grad = 0, worst_par = 0;
	for (int step = 1; step <= 3 && ok; step++) {
		batchbuf bb;
		make_batch(&bb, &c, s->num_labels, s->B, s->T, s->pad, s->types);
		nys_model_stats sc, sg;
		/* beta1 as OneCycleLR cycles it */
		oc.beta1 = og.beta1 = 0.95 - 0.02 * step;
		ok = !nys_model_zero_grad(cpu, &e) && !nys_model_zero_grad(gpu, &e) &&
		     !nys_model_forward(cpu, &bb.b, true, 100 + step, &sc, &e) &&
		     !nys_model_forward(gpu, &bb.b, true, 100 + step, &sg, &e) &&
		     !nys_model_backward(cpu, 1.0, &e) && !nys_model_backward(gpu, 1.0, &e);
		if (!ok)
			break;
		worst_loss = fmax(worst_loss, fabs(sc.loss - sg.loss) / fmax(fabs(sc.loss), 1e-30));
		if (sc.correct != sg.correct || sc.count != sg.count)
			worst_loss = INFINITY;
		ok = !compare(cpu, gpu, NYS_BUF_GRADS, &worst_grad, &e) &&
		     !nys_model_adamw_step(cpu, &oc, &e) && !nys_model_adamw_step(gpu, &og, &e) &&
		     !compare(cpu, gpu, NYS_BUF_PARAMS, &worst_par, &e);
	}
	int bf16 = s->matmul == NYS_MATMUL_BF16;
	double tol = bf16 ? 1e-2 : 1e-4, tol_grad = bf16 ? 5e-2 : 1e-4;
	snprintf(msg, sizeof msg, "%s: 3 steps (dropout, backward, AdamW) on cuda = on cpu: "
	         "loss %.1e, gradients %.1e, parameters %.1e (bound %.0e, gradients %.0e%s)%s%.200s",
	         s->name, worst_loss, worst_grad, worst_par, tol, tol_grad,
	         bf16 ? ", and above 1e-4: bf16 in use" : "", ok ? "" : "; failed: ",
	         ok ? "" : e.msg);
	tap_ok(ok && worst_loss <= tol && worst_grad <= tol_grad && worst_par <= tol &&
	           (!bf16 || worst_grad > 1e-4),
	       msg);
	nys_model_free(cpu);
	nys_model_free(gpu);
}

int main(int argc, char **argv)
{
	nys_err why = {{0}}, e = {{0}};
	char msg[600];
	/* --probe: for the scripts, "gpu: NAME" and 0, or "no gpu: why" and 1 */
	if (argc > 1 && !strcmp(argv[1], "--probe")) {
		nys_backend *be = nys_cuda_probe(&why) ? nys_backend_new(NYS_DEVICE_CUDA, NYS_F32, &e)
		                                       : NULL;
		if (be)
			printf("gpu: %s\n", nys_cuda_device_name(be));
		else
			printf("no gpu: %s\n", why.msg[0] ? why.msg : e.msg);
		nys_backend_free(be);
		return be ? 0 : 1;
	}
	if (!nys_cuda_probe(&why)) {
		nys_backend *be = nys_backend_new(NYS_DEVICE_CUDA, NYS_F32, &e);
		snprintf(msg, sizeof msg, "without a GPU the cuda device is a clear error, not a crash "
		         "(%.400s)", e.msg);
		tap_ok(!be && !strncmp(e.msg, "cuda: ", 6) &&
		           (strstr(e.msg, "no usable GPU") || strstr(e.msg, "no CUDA backend")),
		       msg);
		nys_backend_free(be);
		nys_backend *a = nys_backend_new(NYS_DEVICE_AUTO, NYS_F32, &e);
		tap_ok(a && a->device != NYS_DEVICE_CUDA, "without a GPU the auto device is a CPU one");
		nys_backend_free(a);
		snprintf(msg, sizeof msg, "no GPU: CUDA training and fine-tuning steps skipped (%.400s)",
		         why.msg);
		tap_skip(msg);
		fprintf(stderr, "gpu_step: %s\n", msg); /* shown by prove */
		return tap_done();
	}
	nys_backend *be = nys_backend_new(NYS_DEVICE_CUDA, NYS_F32, &e);
	snprintf(msg, sizeof msg, "a GPU: the cuda backend on %s%.300s",
	         be ? nys_cuda_device_name(be) : "-", be ? "" : e.msg);
	tap_ok(be != NULL, msg);
	nys_backend_free(be);
	static const scase cases[] = {
		{"nystrom MLM, conv, padding, 2 types", NYS_ATTN_NYSTROM, 3, 0, 0, true, 3, 22, 5, true,
		 NYS_MATMUL_F32},
		{"nystrom MLM, uneven segments, unpadded means", NYS_ATTN_NYSTROM, 0, 1, 0, true, 2, 19,
		 4, false, NYS_MATMUL_F32},
		{"softmax MLM, padding", NYS_ATTN_SOFTMAX, 0, 0, 0, true, 2, 16, 3, false, NYS_MATMUL_F32},
		{"nystrom classifier, 3 classes (fine-tuning)", NYS_ATTN_NYSTROM, 3, 0, 3, false, 4,
		 20, 6, true, NYS_MATMUL_F32},
		{"nystrom regression (fine-tuning, STS-B)", NYS_ATTN_NYSTROM, 3, 0, 1, false, 3, 18, 2,
		 true, NYS_MATMUL_F32},
		{"nystrom MLM in mixed precision (bf16 products)", NYS_ATTN_NYSTROM, 3, 0, 0, true, 3,
		 22, 5, true, NYS_MATMUL_BF16},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	return tap_done();
}
