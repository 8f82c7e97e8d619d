#!/bin/sh
# The C unit test lra_data, run by prove.
exec "${NYS_TESTBIN:?}/lra_data"
