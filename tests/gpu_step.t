#!/bin/sh
# The C unit test gpu_step (tests/unit/gpu_step.c): training and fine-tuning
# steps on the CUDA backend against the CPU; without a GPU, the clear error
# of the cuda device and a visible skip.
exec "${NYS_TESTBIN:?}/gpu_step"
