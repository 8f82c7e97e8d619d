/* The model template compiled over float: see model.inc. */
#include "model_impl.h"
#include "nys_backend.h"

#include <stdlib.h>
#include <string.h>

#define R float
#define NYS_FN(name) name##_f32
#define S f32
#include "model.inc"
