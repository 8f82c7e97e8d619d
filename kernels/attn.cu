/* The attention ops on CUDA (heads, softmax and Nystrom attention): helper
 * cudaattn's file; until its kernels land the table keeps the stubs, which
 * fail with "cuda: NAME has no CUDA kernel". */
#include "cuda_ops.h"

extern "C" void nys_cuda_ops_attn(nys_backend_ops *t) { (void)t; }
