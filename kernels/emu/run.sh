#!/bin/sh
# Runs the conformance test (tests/unit/backend_ops.c) with the ops of
# kernels/attn.cu and kernels/linear.cu executed by a CPU emulator of CUDA
# (emu.h, emu_rt.cc) as its "cuda f32" and "cuda bf16" backends: no GPU
# needed, slow (minutes).  From the repository root, after `make`:
#   sh kernels/emu/run.sh
# NYS_CUDA_NO_LT=1 takes the linear op's path without cuBLASLt.  Prints the
# failures, and exits 1 if any test failed or the emulator complained.
set -e
O=build/emu
mkdir -p $O
INC="-Ikernels/emu -Itests/unit -Ilibnys/common -Ilibnys/corpus -Ilibnys/model -Ilibnys/cpu -Ikernels -D_GNU_SOURCE"
python3 kernels/emu/transform.py kernels/attn.cu $O/attn_emu.cc
python3 kernels/emu/transform.py kernels/linear.cu $O/linear_emu.cc
for f in $O/attn_emu.cc $O/linear_emu.cc kernels/emu/emu_rt.cc kernels/emu/emu_backend.cc; do
	g++ -std=c++17 -O1 -g -w $INC -c "$f" -o $O/$(basename "$f" .cc).o
done
cc -std=c11 -O1 -g $INC $(pkg-config --cflags openblas) -fopenmp -Dnys_backend_new=emu_backend_new \
	-Dnys_cuda_probe=emu_cuda_probe -c tests/unit/backend_ops.c -o $O/backend_ops.o
g++ -fopenmp -o $O/backend_ops $O/backend_ops.o $O/attn_emu.o $O/linear_emu.o $O/emu_rt.o \
	$O/emu_backend.o build/libnys.a $(pkg-config --libs expat libzstd jansson openblas libpng) \
	-lsentencepiece_train -lsentencepiece -lbz2 -lm \
	$(ls /usr/local/cuda/lib64/libcudart_static.a 2>/dev/null) -ldl -lrt -lpthread
rc=0
$O/backend_ops > $O/backend_ops.log 2>&1 || rc=$?
grep '^not ok\|^emu:' $O/backend_ops.log || true
# cuBLASLt's share: its calls, and those with the GELU epilogue (the fused
# linear + GELU); some of each, or none at all with NYS_CUDA_NO_LT=1
lt=$(sed -n 's/^emu-lt: \([0-9]*\) cublasLtMatmul, \([0-9]*\) with.*/\1 \2/p' $O/backend_ops.log)
echo "cuBLASLt: ${lt:-none} (cublasLtMatmul calls, with the GELU epilogue)"
case "${NYS_CUDA_NO_LT:-0} ${lt:-x}" in
1\ 0\ 0 | 0\ [1-9]*\ [1-9]*) ;;
*) echo "run.sh: cuBLASLt used wrongly for NYS_CUDA_NO_LT=${NYS_CUDA_NO_LT:-0}: ${lt:-no count}"; rc=1 ;;
esac
echo "$(grep -c '^ok' $O/backend_ops.log) ok ($(grep -c '^ok .* cuda bf16' $O/backend_ops.log) cuda bf16), $(grep -c '^not ok' $O/backend_ops.log) not ok, exit $rc (log: $O/backend_ops.log)"
[ $rc -eq 0 ] && ! grep -q '^not ok\|^emu:' $O/backend_ops.log
