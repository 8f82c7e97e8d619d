#!/bin/sh
# The C unit test tok, run by prove.
exec "${NYS_TESTBIN:?}/tok"
