#!/bin/sh
# The C unit test model_golden, run by prove.
exec "${NYS_TESTBIN:?}/model_golden"
