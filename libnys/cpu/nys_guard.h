/* The guarded CPU backend (guard.c): the CPU backend with its buffers
 * inaccessible (PROT_NONE) outside its own calls, to prove that nothing
 * outside a backend touches backend memory.  For tests; the device
 * NYS_DEVICE_CPU_GUARDED, "cpu-guarded", makes it. */
#ifndef NYS_GUARD_H
#define NYS_GUARD_H

#include "nys_backend.h"

/* A guarded CPU backend over dtype (NYS_F32 or NYS_F64); NULL with e set. */
nys_backend *nys_backend_guard_new(nys_dtype dtype, nys_err *e);

#endif
