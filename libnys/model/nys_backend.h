/* The backend: the device the model runs on, as one instance with its own
 * context, precision, memory and error state, in the manner of
 * ggml-backend.  The model (model.c, model_run.c) is written once against
 * it; the CPU backend (libnys/cpu, nys_cpu.h) is the one there is, a CUDA
 * one (kernels/) is to come.
 *
 * - The ops are one list, backend_ops.def, which makes the function table
 *   (nys_backend_ops, after the memory functions), the callers below
 *   (nys_backend_linear_forward(be, ...) and so on) and the CPU wrappers.
 * - The backend owns its memory: parameters, gradients, optimizer state and
 *   activations are allocated by it, and nothing outside a backend reads or
 *   writes that memory but through nys_backend_set and nys_backend_get (its
 *   pointers may be device addresses: offsets may be added to them, they may
 *   not be dereferenced).
 * - Errors: an op or memory function that fails returns -1 and records
 *   the first failure in the instance; nys_backend_sync waits for the work
 *   issued so far and reports that failure into a nys_err (then clears it),
 *   so a failed kernel is an error with a message.
 * - Precision is bound in the instance: dtype (parameters, gradients,
 *   optimizer state) and act_dtype (activations), NYS_F32 or NYS_F64 and the
 *   same today; and matmul (nys_matmul below), the precision of the dense
 *   layers' matrix products, which is how a config's mixed_precision
 *   reaches the device, with no change to the model's code.
 */
#ifndef NYS_BACKEND_H
#define NYS_BACKEND_H

#include "nys.h"
#include "nys_optim.h"       /* nys_adamw */
#include "nys_safetensors.h" /* nys_dtype */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Position ids are t + NYS_POS_OFFSET for t = 0..T-1 in every sequence
 * (padding included), as in the authors' model.py, so the position table
 * has max_seq_len + 2 rows and rows 0 and 1 are never used. */
#define NYS_POS_OFFSET 2
/* Labels below 0 (PyTorch's ignore_index, -100) take no part in a loss. */
#define NYS_IGNORE_LABEL (-100)

/* How the iterative pseudo-inverse of Nystrom attention picks
 * Z_0 = K^T / c. */
enum nys_pinv_init {
	/* c = the largest column sum of any kernel of the batch: the max over
	 * all (batch, head) of torch.sum(K, dim=-2), the authors' default. */
	NYS_PINV_ORIGINAL = 0,
	/* c = ||K||_1, the largest column sum of each matrix: the
	 * coefficient the authors recommend (faster convergence). */
	NYS_PINV_PER_MATRIX = 1,
};

/* The shape and options of one Nystrom attention call. */
struct nys_nystrom_opts {
	int B, H, T, D;    /* batch, heads, length, head size */
	int landmarks;     /* m, 1 <= m <= T; m == T is exact softmax attention */
	int pinv_iters;    /* iterations of the pseudo-inverse, >= 0 (theirs: 6) */
	int pinv_init;     /* enum nys_pinv_init */
	int conv_k;        /* depthwise conv kernel size, odd; 0 = no conv */
	int unpadded_means; /* landmarks average the unpadded tokens only */
};

/* NULL when o is usable, else what is wrong with it (a static string). */
static inline const char *nys_nystrom_check(const struct nys_nystrom_opts *o)
{
	if (o->B < 1 || o->H < 1 || o->T < 1 || o->D < 1)
		return "batch, heads, length and head size must be positive";
	if (o->landmarks < 1 || o->landmarks > o->T)
		return "the number of landmarks must be 1 to the sequence length";
	if (o->pinv_iters < 0)
		return "the pseudo-inverse iterations must not be negative";
	if (o->pinv_init != NYS_PINV_ORIGINAL && o->pinv_init != NYS_PINV_PER_MATRIX)
		return "unknown pseudo-inverse initialisation";
	if (o->conv_k < 0 || (o->conv_k > 0 && o->conv_k % 2 == 0))
		return "the conv kernel size must be odd, or 0 for no conv";
	return NULL;
}

/* Kernelised linear attention (the LRA variants, ops_lra_decl.inc): the
 * feature map, and the shape of one call. */
enum nys_linattn_kind {
	NYS_LINATTN_ELU = 0,           /* elu(x) + 1: linear attention */
	NYS_LINATTN_RELU_FEATURES = 1, /* relu of random features + 0.001: Performer */
};
struct nys_linattn_opts {
	int B, H, T, D; /* batch, heads, length, head size */
	int kind;       /* enum nys_linattn_kind */
	int F;          /* random features (the ReLU kind); the map's (F, D) */
};

/* Reformer's LSH attention (ops_lra_decl.inc): the shape of one call and
 * its hashing.  Each round hashes every token into one of `buckets`
 * (even) by random rotations, sorts by (bucket, position) and attends in
 * chunks of `chunk` entries to its own and the previous chunk. */
struct nys_lsh_opts {
	int B, H, T, D; /* batch, heads, length, head size */
	int hashes;     /* hash rounds */
	int buckets;    /* buckets a round (even, at least 2) */
	int chunk;      /* chunk length */
};

/* NULL when o is usable, else what is wrong with it (a static string). */
static inline const char *nys_lsh_check(const struct nys_lsh_opts *o)
{
	if (o->B < 1 || o->H < 1 || o->T < 1 || o->D < 1)
		return "batch, heads, length and head size must be positive";
	if (o->hashes < 1 || o->hashes > 64)
		return "the hash rounds must be 1 to 64";
	if (o->buckets < 2 || o->buckets % 2 || o->buckets > 1 << 16)
		return "the buckets must be even, 2 to 65536";
	if (o->chunk < 1 || o->T > 1 << 24 || (int64_t)o->hashes * o->T > 1 << 30)
		return "the chunk length must be positive, the length at most 2^24 and hashes x "
		       "length at most 2^30";
	return NULL;
}

/* Which device: --device of the programs, nys_model_opts.device.
 * NYS_DEVICE_CPU_GUARDED ("cpu-guarded", for tests) is the CPU backend with
 * its memory inaccessible outside its own calls (libnys/cpu/guard.c).
 * NYS_DEVICE_AUTO is the CPU, or the device the environment names in
 * NYS_DEVICE ("cpu" or "cpu-guarded"), so that whole programs and tests
 * run guarded unchanged. */
typedef enum nys_device {
	NYS_DEVICE_AUTO, NYS_DEVICE_CPU, NYS_DEVICE_CUDA, NYS_DEVICE_CPU_GUARDED,
} nys_device;

/* What a backward op does with the input gradients it is given. */
typedef enum nys_acc {
	NYS_OVERWRITE,  /* dinp = the gradient (no need to zero it first) */
	NYS_ACCUMULATE, /* dinp += the gradient (a tensor used twice) */
} nys_acc;

/* The precision of the linear op's matrix products (the dense layers: Q,
 * K, V, the output projection, the feed-forward, the heads): the config's
 * mixed_precision.  NYS_MATMUL_BF16 on CUDA multiplies on tensor cores in
 * bf16 (each element of the two factors rounded to bf16, products summed
 * in float32: cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF), while parameters,
 * gradients, AdamW's moments and activations stay float32 in memory and
 * attention (its own products and the pseudo-inverse) stays float32.  The
 * CPU backend accepts it and computes in full precision all the same. */
typedef enum nys_matmul {
	NYS_MATMUL_F32 = 0, /* the default: true float32 (no TF32) */
	NYS_MATMUL_BF16 = 1,
} nys_matmul;

typedef struct nys_backend nys_backend;

#define NYS_EXPAND(...) __VA_ARGS__

/* The table: memory and control, then the ops of backend_ops.def. */
typedef struct nys_backend_ops {
	/* Free the instance and its context (not the buffers it handed out,
	 * which must be released first). */
	void (*destroy)(nys_backend *be);
	/* bytes of memory, aligned for the device's vector units; NULL when
	 * there is none (nothing recorded: the caller says what it was for). */
	void *(*alloc)(nys_backend *be, size_t bytes);
	void (*release)(nys_backend *be, void *p);
	/* bytes at p set to 0 */
	int (*zero)(nys_backend *be, void *p, size_t bytes);
	/* tensor_set: bytes from host memory into the backend's at dst;
	 * tensor_get: bytes of the backend's memory at src into host memory.
	 * get waits for the work that writes src. */
	int (*set)(nys_backend *be, void *dst, const void *host, size_t bytes);
	int (*get)(nys_backend *be, void *host, const void *src, size_t bytes);
	/* The start of a run of ops (a forward, a backward): the CPU sets
	 * OpenBLAS to one thread, the ops threading with OpenMP. */
	void (*begin)(nys_backend *be);
	/* The end of a run: wait for the ops issued; 0, or -1 when one failed
	 * (the failure stays recorded for nys_backend_sync). */
	int (*sync)(nys_backend *be);

#define NYS_R void
#define NYS_REAL double
#define NYS_OP(name, params, args) int (*name)(nys_backend * be, NYS_EXPAND params);
#include "backend_ops.def"
#undef NYS_OP
} nys_backend_ops;

/* One backend instance. */
struct nys_backend {
	const nys_backend_ops *ops;
	void *ctx;            /* the backend's own (CUDA: device, stream, cuBLAS handle) */
	const char *name;     /* "cpu" */
	nys_device device;
	nys_dtype dtype;      /* parameters, gradients, optimizer state */
	nys_dtype act_dtype;  /* activations */
	size_t esize;         /* bytes of one element of dtype */
	size_t act_esize;     /* bytes of one element of act_dtype */
	nys_matmul matmul;    /* the linear op's products (NYS_MATMUL_F32 when made) */
	bool failed;          /* err holds a failure not reported yet */
	nys_err err;
};

/* A backend for device and dtype (NYS_F32 or NYS_F64): NYS_DEVICE_AUTO and
 * NYS_DEVICE_CPU give the CPU one (AUTO: unless NYS_DEVICE says otherwise);
 * NULL with e set when the device is not in this build ("cuda: this build
 * has no CUDA backend"), NYS_DEVICE names none, or memory runs out. */
nys_backend *nys_backend_new(nys_device device, nys_dtype dtype, nys_err *e);
void nys_backend_free(nys_backend *be);

/* Record a failure in be (the first one since the last sync is kept);
 * returns -1.  For backends. */
int nys_backend_fail(nys_backend *be, const char *fmt, ...) NYS_PRINTF(2, 3);

/* Wait for the work issued; 0, or -1 with e set to the first failure
 * since the last sync (which is then cleared). */
int nys_backend_sync(nys_backend *be, nys_err *e);

static inline void *nys_backend_alloc(nys_backend *be, size_t bytes)
{
	return be->ops->alloc(be, bytes);
}
static inline void nys_backend_release(nys_backend *be, void *p)
{
	if (p)
		be->ops->release(be, p);
}
static inline int nys_backend_zero(nys_backend *be, void *p, size_t bytes)
{
	return be->ops->zero(be, p, bytes);
}
static inline int nys_backend_set(nys_backend *be, void *dst, const void *host, size_t bytes)
{
	return be->ops->set(be, dst, host, bytes);
}
static inline int nys_backend_get(nys_backend *be, void *host, const void *src, size_t bytes)
{
	return be->ops->get(be, host, src, bytes);
}
static inline void nys_backend_begin(nys_backend *be) { be->ops->begin(be); }
/* The precision of the linear op's products from now on (nys_matmul). */
static inline void nys_backend_set_matmul(nys_backend *be, nys_matmul p) { be->matmul = p; }
static inline const char *nys_matmul_name(nys_matmul p)
{
	return p == NYS_MATMUL_BF16 ? "bf16" : "fp32";
}

/* The ops' callers: nys_backend_NAME(be, ...) for every op of the list. */
#define NYS_OP(name, params, args)                                                          \
	static inline int nys_backend_##name(nys_backend *be, NYS_EXPAND params)               \
	{                                                                                       \
		return be->ops->name(be, NYS_EXPAND args);                                         \
	}
#include "backend_ops.def"
#undef NYS_OP
#undef NYS_R
#undef NYS_REAL

#endif
