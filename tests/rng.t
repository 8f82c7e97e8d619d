#!/bin/sh
# The C unit test rng (nys_rng against CPython's random), run by prove.
exec "${NYS_TESTBIN:?}/rng"
