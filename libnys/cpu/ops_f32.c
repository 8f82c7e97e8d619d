/* The op templates compiled over float: see nys_ops.h. */
#include "nys.h"
#include "nys_ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define R float
#define NYS_FN(name) name##_f32
#define NYS_GEMM cblas_sgemm
#define NYS_R_F32 1
#include "ops_dense.inc"
#include "ops_attn.inc"
#include "ops_lra.inc"
