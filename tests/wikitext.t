#!/bin/sh
# The C unit test wikitext, run by prove.
exec "${NYS_TESTBIN:?}/wikitext"
