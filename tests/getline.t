#!/bin/sh
# The C unit test getline (nys_in_getline_max), run by prove.
exec "${NYS_TESTBIN:?}/getline"
