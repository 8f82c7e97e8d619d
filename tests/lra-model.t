#!/bin/sh
# The C unit test lra_model (the LRA model: gradients against finite
# differences for every attention, Nystrom against softmax, padding,
# float against double, the device error), run by prove.
exec "${NYS_TESTBIN:?}/lra_model"
