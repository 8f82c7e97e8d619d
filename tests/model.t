#!/bin/sh
# The C unit test model, run by prove.
exec "${NYS_TESTBIN:?}/model"
