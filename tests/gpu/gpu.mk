# The GPU machine's pack (tests/gpu/), included from the GNUmakefile.
#
# `make gpu-pack` writes $(O)/gpu/nys-gpu.tar.gz (tests/gpu/pack.sh): the
# programs and test programs tests/gpu/run uses, and the shared libraries
# they load that a bare CUDA image may lack, small enough (about 25 MB) to
# travel with a copy of the working tree to a lent GPU machine, where
# tests/gpu/run finds and unpacks it (kernels/README.md says how to run it).
GPU_PACK := $(O)/gpu/nys-gpu.tar.gz
.PHONY: gpu-pack
gpu-pack: $(GPU_PACK)
$(GPU_PACK): $(BIN)/nys-train $(BIN)/nys-eval $(BIN)/shard $(O)/tests/backend_ops \
             $(O)/tests/gpu_step $(O)/tests/mktok $(O)/tests/nccl $(O)/bench/attn_gpu tests/gpu/pack.sh
	bash tests/gpu/pack.sh $@ $(BIN) $(O)/tests $(O)/bench
