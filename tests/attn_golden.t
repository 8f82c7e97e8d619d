#!/bin/sh
# The C unit test attn_golden, run by prove.
exec "${NYS_TESTBIN:?}/attn_golden"
