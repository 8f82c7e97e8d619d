/* The CPU backend: the op templates of nys_ops.h (over float and double),
 * OpenBLAS for the products and OpenMP threads for the rest, in host memory
 * aligned for the vector units.  nys_backend_new (nys_backend.h) makes it
 * for NYS_DEVICE_CPU and NYS_DEVICE_AUTO.  The one header of this layer
 * that the model layer may include (libnys/README.md). */
#ifndef NYS_CPU_H
#define NYS_CPU_H

#include "nys_backend.h"

/* A CPU backend over dtype (NYS_F32 or NYS_F64); NULL with e set. */
nys_backend *nys_backend_cpu_new(nys_dtype dtype, nys_err *e);

/* The guarded CPU backend (guard.c): the CPU backend with its buffers
 * inaccessible (PROT_NONE) outside its own calls, to prove that nothing
 * outside a backend touches backend memory.  For tests; the device
 * NYS_DEVICE_CPU_GUARDED, "cpu-guarded", makes it.  NULL with e set. */
nys_backend *nys_backend_guard_new(nys_dtype dtype, nys_err *e);

#endif
