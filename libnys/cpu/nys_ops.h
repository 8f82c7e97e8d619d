/* The model's ops for the CPU backend, each a _forward/_backward pair over
 * raw arrays, outputs first, shapes in comments, in the style of llm.c.
 *
 * Every op is written once, in a template (ops_*.inc) over the real type
 * R, and compiled twice: as NAME_f32 over float for training, and as
 * NAME_f64 over double so that tests can check every backward against
 * central finite differences in double precision, and the float ops
 * against the double ones.  Declarations come from ops_*_decl.inc the same
 * way.
 */
#ifndef NYS_OPS_H
#define NYS_OPS_H

#include "nys_backend.h" /* the Nystrom options, NYS_POS_OFFSET, NYS_IGNORE_LABEL */

#include <stddef.h>
#include <stdint.h>

#define R float
#define NYS_FN(name) name##_f32
#include "ops_dense_decl.inc"
#include "ops_attn_decl.inc"
#include "ops_lra_decl.inc"
#undef R
#undef NYS_FN

#define R double
#define NYS_FN(name) name##_f64
#include "ops_dense_decl.inc"
#include "ops_attn_decl.inc"
#include "ops_lra_decl.inc"
#undef R
#undef NYS_FN

#endif
