/* Inside the model: what model.c (the tensor table, buffers,
 * checkpoints) shares with model_run.c (forward and backward). */
#ifndef NYS_MODEL_IMPL_H
#define NYS_MODEL_IMPL_H

#include "nys_model.h"
#include "nys_rng.h"

#define NYS_NO_TENSOR SIZE_MAX

/* Offsets (in elements) of one layer's parameters.  Q, K and V are laid
 * out as one (3 H d, C) weight and one (3 H d) bias, so that one product
 * computes all three. */
typedef struct nys_layer_off {
	size_t wqkv, bqkv, conv, wo, bo, ln1w, ln1b, w1, b1, w2, b2, ln2w, ln2b;
} nys_layer_off;

typedef struct nys_model_off {
	size_t wte, wpe, wtt, pw, pb, lnw, lnb; /* pw, pb: the E -> C projection */
	nys_layer_off *layer;
	size_t hw, hb, hlnw, hlnb, hbias;       /* MLM head */
	size_t cw, cb, ow, ob;                   /* classifier */
} nys_model_off;

/* Another network over the same tensor table, buffers, optimizer step and
 * checkpoints, so that the training loop (loop.c) and the checkpoint
 * folder (ckpt.c) serve it unchanged: the LRA classifier (lra_model.c).
 * nys_model_new_arch builds the table through `build` instead of the
 * pretraining model's; nys_model_forward, nys_model_backward, the outputs
 * and the checkpoints' config string go to the arch's functions. */
typedef struct nys_model_table nys_model_table;
typedef struct nys_model_arch {
	/* the tensor table, through nys_model_table_add; 0 or -1 with e set */
	int (*build)(nys_model *m, nys_model_table *tb, nys_err *e);
	int (*forward)(nys_model *m, const nys_batch *b, bool train, uint64_t seed,
	               nys_model_stats *st, nys_err *e);
	int (*backward)(nys_model *m, double dloss, nys_err *e);
	/* the output's backend memory and element count; NULL when absent */
	const void *(*output)(const nys_model *m, nys_output which, size_t *n);
	char *(*config_str)(const nys_model *m); /* malloc'd */
	void (*free)(nys_model *m);              /* its activations and ctx */
} nys_model_arch;

/* Append a trained tensor to the table; its offset (NYS_NO_TENSOR when
 * the table failed, which nys_model_new_arch then reports). */
size_t nys_model_table_add(nys_model_table *tb, const char *name, int ndim,
                           const int64_t *shape);
/* nys_model_new for the network `arch` (ctx: its own, in m->arch_ctx,
 * freed by arch->free even when this fails). */
nys_model *nys_model_new_arch(const nys_model_config *cfg, const nys_model_opts *o,
                              const nys_model_arch *arch, void *ctx, nys_err *e);

struct nys_model {
	const nys_model_arch *arch; /* NULL: the pretraining network */
	void *arch_ctx;
	nys_model_config cfg;
	nys_model_opts o;
	nys_backend *be;
	bool own_be;           /* made by nys_model_new, freed with the model */
	size_t esize;          /* bytes of one element of the buffers */
	nys_tensor_info *t;
	size_t nt, np;
	nys_model_off off;
	/* by nys_buffer: the parameters, gradients and AdamW moments, in the
	 * backend's memory (NULL until first used, but the parameters) */
	void *buf[4];
	/* what checkpoint entries read the buffers through (model.c) */
	struct nys_model_src {
		struct nys_model *m;
		nys_buffer which;
	} src[4];
	struct nys_model_run *run; /* the activations and the last forward's state */
};

/* An element of a buffer of the model's: base + i elements. */
static inline void *nys_model_at(const nys_model *m, void *base, size_t i)
{
	return (char *)base + i * m->esize;
}

/* Initialisation's pieces (model.c), for the arches too: element j of a
 * host array of the model's dtype set to v; a standard normal from two
 * uniforms (Box-Muller); n values of PyTorch's default for a Linear or
 * Conv weight w and its bias, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in
 * the product of w's dimensions after the first. */
void nys_model_put(const nys_model *m, void *host, size_t j, double v);
double nys_model_normal(nys_rng *r);
void nys_model_fill_fan_in(const nys_model *m, void *host, size_t n, const nys_tensor_info *w,
                           nys_rng *r);

/* model_run.c: the activations' memory, freed with the model. */
void nys_model_run_free(nys_model *m);

#endif
