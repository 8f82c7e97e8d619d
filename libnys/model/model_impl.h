/* Inside the model: what model.c (the tensor table, checkpoints, the
 * dtype dispatch) shares with the forward/backward template model.inc,
 * compiled once per dtype (model_f32.c, model_f64.c). */
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
	size_t esize;          /* bytes of one element */
	nys_tensor_info *t;
	size_t nt, np;
	nys_model_off off;
	void *params, *grads;
	void *run;             /* the dtype's activations and last-forward state */
};

/* The template's entry points, per dtype. */
#define NYS_MODEL_DECL(S)                                                               \
	int nys_model_forward_##S(nys_model *m, const nys_batch *b, bool train,             \
	                          uint64_t seed, nys_model_stats *st, nys_err *e);          \
	int nys_model_backward_##S(nys_model *m, double dloss, nys_err *e);                 \
	const void *nys_model_output_##S(const nys_model *m, nys_output which, size_t *n);  \
	void nys_model_run_free_##S(void *run);                                             \
	size_t nys_model_act_bytes_##S(const nys_model *m, int B, int T, size_t rows);
NYS_MODEL_DECL(f32)
NYS_MODEL_DECL(f64)
#undef NYS_MODEL_DECL

#endif
