/* The CUDA backend's public header: the one file of kernels/ that the model
 * layer may include (libnys/model/backend.c, the registry, as it includes
 * nys_cpu.h).  Built without nvcc (cuda_stub.c) the constructor says so and
 * nothing is available, so one source tree builds everywhere. */
#ifndef NYS_CUDA_H
#define NYS_CUDA_H

#include "nys_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A CUDA backend over dtype (NYS_F32) on the current GPU; NULL with e set:
 * "cuda: this build has no CUDA backend", "cuda: no usable GPU (why)",
 * cuBLAS missing, or out of memory. */
nys_backend *nys_backend_cuda_new(nys_dtype dtype, nys_err *e);

/* 1 when a usable GPU is present (a driver, a device of compute
 * capability 8.0 or more, cuBLAS loadable), else 0; why in why (may be
 * NULL).  Never fails in any other way: on a machine without a driver or
 * without the CUDA libraries it returns 0. */
int nys_cuda_available(void);
int nys_cuda_probe(nys_err *why);

/* The GPU's name ("NVIDIA H200") of a CUDA instance. */
const char *nys_cuda_device_name(const nys_backend *be);

#ifdef __cplusplus
}
#endif

#endif
