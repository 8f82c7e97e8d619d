/* The CUDA ops: one C-callable function per entry of backend_ops.def,
 * nys_cuda_NAME(be, ...) with exactly the table's signature (NYS_R void,
 * NYS_REAL double), defined extern "C" in the kernel files, and the
 * registration function of each kernel file, which puts its ops into the
 * table that backend_cuda.c sets up (every op first a stub that fails with
 * "cuda: NAME has no CUDA kernel", so an op without a kernel is an error,
 * never a crash).  C and CUDA. */
#ifndef NYS_CUDA_OPS_H
#define NYS_CUDA_OPS_H

#include "cuda_internal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NYS_R void
#define NYS_REAL double
#define NYS_OP(name, params, args) int nys_cuda_##name(nys_backend *be, NYS_EXPAND params);
#include "backend_ops.def"
#undef NYS_OP
#undef NYS_R
#undef NYS_REAL

/* kernels/dense.cu: everything but the attention ops */
void nys_cuda_ops_dense(nys_backend_ops *t);
/* kernels/attn.cu: heads, softmax and Nystrom attention */
void nys_cuda_ops_attn(nys_backend_ops *t);

#ifdef __cplusplus
}
#endif

#endif
