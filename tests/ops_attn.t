#!/bin/sh
# The C unit test ops_attn (softmax and Nystrom attention), run by prove.
exec "${NYS_TESTBIN:?}/ops_attn"
