#!/bin/sh
# The C unit test config (model configuration loading), run by prove.
exec "${NYS_TESTBIN:?}/config"
