/* The model template compiled over double: see model.inc. */
#include "model_impl.h"
#include "nys_backend.h"

#include <stdlib.h>
#include <string.h>

#define R double
#define NYS_FN(name) name##_f64
#define S f64
#include "model.inc"
