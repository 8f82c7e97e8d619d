# The CUDA backend's build (kernels/), included from the GNUmakefile.
#
# nvcc is looked for on PATH, then in /usr/local/cuda/bin; CUDA=0 builds
# without it, CUDA=1 insists on it.  With nvcc, kernels/*.cu are compiled
# for sm_80 and sm_90 plus PTX (JIT for later GPUs) and go into libnys.a
# with kernels/backend_cuda.c; programs link cudart statically and load
# cuBLAS at run time (dlopen), so they start on machines without a driver
# or the CUDA libraries.  Without nvcc kernels/cuda_stub.c stands in and the
# build says so once.  The .cu files never take the C flags (sanitizers,
# -std=c11): nvcc has its own, and its host objects link into the SAN build.

CUDA ?=
NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
ifeq ($(CUDA),0)
NYS_CUDA := 0
ifeq ($(MAKELEVEL),0)
$(shell echo "CUDA: CUDA=0, building without the CUDA backend" >&2)
endif
else ifneq ($(NVCC),)
NYS_CUDA := 1
else ifeq ($(CUDA),1)
$(error CUDA=1 but nvcc is not on PATH nor in /usr/local/cuda/bin)
else
NYS_CUDA := 0
ifeq ($(MAKELEVEL),0)
$(shell echo "CUDA: nvcc not found, building without the CUDA backend" >&2)
endif
endif

CPPFLAGS += -Ikernels
CUDA_HDRS := $(wildcard kernels/*.h kernels/*.cuh)

ifeq ($(NYS_CUDA),1)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(realpath $(NVCC)))
CUDA_GENCODE = -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
               -gencode arch=compute_90,code=compute_90
CUDA_WARN  = -Xcompiler -Wall,-Wextra,-Wno-unused-parameter,-Werror -Werror all-warnings
NVCCFLAGS ?= -O3 -g -lineinfo
NVCC_ALL   = -std=c++17 $(NVCCFLAGS) $(CUDA_GENCODE) $(CUDA_WARN) -D_GNU_SOURCE \
             $(LAYERS:%=-Ilibnys/%) -Ikernels -DNYS_VERSION='"$(VERSION)"'
CUDA_CU    := $(wildcard kernels/*.cu)
CUDA_OBJ   := $(CUDA_CU:%.cu=$(O)/%.o) $(O)/kernels/backend_cuda.o
LDLIBS     += $(CUDA_HOME)/lib64/libcudart_static.a -ldl -lrt -lpthread

$(O)/kernels/backend_cuda.o: CPPFLAGS += -isystem $(CUDA_HOME)/include

$(O)/kernels/%.o: kernels/%.cu $(CUDA_HDRS) GNUmakefile kernels/cuda.mk VERSION
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_ALL) -isystem $(CUDA_HOME)/include -MMD -MP -MF $(@:.o=.d) -c -o $@ $<
else
CUDA_OBJ   := $(O)/kernels/cuda_stub.o
endif

$(O)/kernels/backend_cuda.o $(O)/kernels/cuda_stub.o: kernels/cuda.mk
$(LIB): $(CUDA_OBJ)

# `make bench-gpu`: the GPU benchmarks (tests/gpu/bench.sh); without a GPU
# it says so and skips.
.PHONY: bench-gpu
bench-gpu: $(PROGS) $(UNITS)
	$(TEST_ENV) bash tests/gpu/bench.sh
# the attention table (tests/bench/attn_gpu.c), which bench.sh runs
bench-gpu: $(O)/bench/attn_gpu

# `make check-emu`: the conformance test with the kernels of attn.cu and
# linear.cu run by the CPU emulator (kernels/emu/), with and without
# cuBLASLt: no GPU needed, minutes, so not part of `make check`.
.PHONY: check-emu
check-emu: $(LIB)
	sh kernels/emu/run.sh
	NYS_CUDA_NO_LT=1 sh kernels/emu/run.sh
