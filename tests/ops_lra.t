#!/bin/sh
# The C unit test ops_lra (the LRA model's ops: Linformer, linear and
# Performer attention, ReLU, positions, mean pooling, pair features), run by prove.
exec "${NYS_TESTBIN:?}/ops_lra"
