#!/bin/sh
# The C unit test core, run by prove.
exec "${NYS_TESTBIN:?}/core"
