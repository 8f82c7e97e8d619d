#!/bin/sh
# The C unit test optim (AdamW and OneCycleLR against PyTorch), run by prove.
exec "${NYS_TESTBIN:?}/optim"
