#!/bin/sh
# The C unit test spm (the sentencepiece C API), run by prove.
exec "${NYS_TESTBIN:?}/spm"
