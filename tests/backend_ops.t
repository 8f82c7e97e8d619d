#!/bin/sh
# The C unit test backend_ops (the backend conformance test), run by prove.
exec "${NYS_TESTBIN:?}/backend_ops"
