#!/bin/sh
# The bf16 rounding helper of the CUDA emulator (unit test bf16), run by prove.
exec "${NYS_TESTBIN:?}/bf16"
