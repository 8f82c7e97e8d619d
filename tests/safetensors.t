#!/bin/sh
# The C unit test safetensors, run by prove.
exec "${NYS_TESTBIN:?}/safetensors"
