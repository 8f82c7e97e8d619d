# NCCL for the data-parallel runs on GPUs (kernels/nccl.c, nys_nccl.h),
# included from the GNUmakefile right after kernels/cuda.mk, whose NYS_CUDA
# it follows.  NCCL is loaded at run time (dlopen), so nothing is linked:
# the build needs neither NCCL's library nor its header (nccl.c checks its
# declarations against nccl.h where the toolkit has one).  Without nvcc
# kernels/cuda_stub.c has the same functions.
ifeq ($(NYS_CUDA),1)
$(O)/kernels/nccl.o: CPPFLAGS += -isystem $(CUDA_HOME)/include
$(O)/kernels/nccl.o: kernels/nccl.mk
$(LIB): $(O)/kernels/nccl.o
endif
