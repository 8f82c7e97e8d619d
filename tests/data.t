#!/bin/sh
exec "${NYS_TESTBIN:?}/data"
