#!/bin/sh
# The C unit test ops_lra (the LRA model's ops: Linformer, linear,
# Performer and Reformer's LSH attention, ReLU, positions, mean pooling,
# pair features), run by prove.
exec "${NYS_TESTBIN:?}/ops_lra"
