/* The op templates compiled over double: see nys_ops.h. */
#include "nys.h"
#include "nys_ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define R double
#define NYS_FN(name) name##_f64
#define NYS_GEMM cblas_dgemm
#define NYS_R_F32 0
#include "ops_dense.inc"
#include "ops_attn.inc"
#include "ops_lra.inc"
