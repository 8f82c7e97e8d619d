/* Inside the model: what model.c (the tensor table, buffers,
 * checkpoints) shares with model_run.c (forward and backward). */
#ifndef NYS_MODEL_IMPL_H
#define NYS_MODEL_IMPL_H

#include "nys_model.h"

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

struct nys_model {
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

/* model_run.c: the activations' memory, freed with the model. */
void nys_model_run_free(nys_model *m);

#endif
