/* The CPU backend tables: the ops of nys_ops.h as they are, host memory
 * aligned for the vector units. */
#include "nys_backend.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void *cpu_alloc(size_t bytes)
{
	size_t n = (bytes + 63) / 64 * 64;
	return aligned_alloc(64, n ? n : 64);
}
static void cpu_release(void *p) { free(p); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_copy(void *dst, const void *src, size_t bytes)
{
	if (bytes)
		memcpy(dst, src, bytes);
}
static int cpu_slots(void) { return omp_get_max_threads(); }

#define CPU_BACKEND(S)                                                                  \
	const nys_backend_##S nys_backend_cpu_##S = {                                       \
		.name = "cpu",                                                                  \
		.alloc = cpu_alloc,                                                             \
		.release = cpu_release,                                                         \
		.zero = cpu_zero,                                                               \
		.upload = cpu_copy,                                                             \
		.download = cpu_copy,                                                           \
		.linear_forward = nys_linear_forward_##S,                                       \
		.linear_backward = nys_linear_backward_##S,                                     \
		.layernorm_forward = nys_layernorm_forward_##S,                                 \
		.layernorm_backward = nys_layernorm_backward_##S,                               \
		.gelu_forward = nys_gelu_forward_##S,                                           \
		.gelu_backward = nys_gelu_backward_##S,                                         \
		.gelu_erf_forward = nys_gelu_erf_forward_##S,                                   \
		.gelu_erf_backward = nys_gelu_erf_backward_##S,                                 \
		.tanh_forward = nys_tanh_forward_##S,                                           \
		.tanh_backward = nys_tanh_backward_##S,                                         \
		.add_forward = nys_add_forward_##S,                                             \
		.add_backward = nys_add_backward_##S,                                           \
		.dropout_forward = nys_dropout_forward_##S,                                     \
		.dropout_backward = nys_dropout_backward_##S,                                   \
		.embedding_forward = nys_embedding_forward_##S,                                 \
		.embedding_backward = nys_embedding_backward_##S,                               \
		.gather_forward = nys_gather_forward_##S,                                       \
		.gather_backward = nys_gather_backward_##S,                                     \
		.crossentropy_forward = nys_crossentropy_forward_##S,                           \
		.crossentropy_backward = nys_crossentropy_backward_##S,                         \
		.mse_forward = nys_mse_forward_##S,                                             \
		.mse_backward = nys_mse_backward_##S,                                           \
		.split_heads_forward = nys_split_heads_forward_##S,                             \
		.split_heads_backward = nys_split_heads_backward_##S,                           \
		.merge_heads_forward = nys_merge_heads_forward_##S,                             \
		.merge_heads_backward = nys_merge_heads_backward_##S,                           \
		.attn_softmax_saved_size = nys_attn_softmax_saved_size_##S,                     \
		.attn_softmax_scratch_size = nys_attn_softmax_scratch_size_##S,                 \
		.attn_softmax_forward = nys_attn_softmax_forward_##S,                           \
		.attn_softmax_backward = nys_attn_softmax_backward_##S,                         \
		.nystrom_saved_size = nys_nystrom_saved_size_##S,                               \
		.nystrom_scratch_size = nys_nystrom_scratch_size_##S,                           \
		.nystrom_forward = nys_nystrom_forward_##S,                                     \
		.nystrom_backward = nys_nystrom_backward_##S,                                   \
		.slots = cpu_slots,                                                             \
	};
CPU_BACKEND(f32)
CPU_BACKEND(f64)
