#!/bin/sh
# The C unit test glue (GLUE tables, reader, encoding, metrics, predictions), run by prove.
exec "${NYS_TESTBIN:?}/glue"
