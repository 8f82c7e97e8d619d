/* Backends: tables of the model's ops (see backend_decl.inc), one per real
 * type; nys_backend_cpu_f32 and nys_backend_cpu_f64 are the CPU ones. */
#ifndef NYS_BACKEND_H
#define NYS_BACKEND_H

#include "nys_ops.h"

#define R float
#define NYS_FN(name) name##_f32
#include "backend_decl.inc"
#undef R
#undef NYS_FN

#define R double
#define NYS_FN(name) name##_f64
#include "backend_decl.inc"
#undef R
#undef NYS_FN

#endif
