#!/bin/sh
# The dense ops of the model (unit test ops_dense), run by prove.
exec "${NYS_TESTBIN:?}/ops_dense"
