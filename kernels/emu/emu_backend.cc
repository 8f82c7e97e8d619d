// The conformance test's backends, with the CUDA one emulated: "cuda f32"
// and "cuda bf16" are the CPU backend with the ops of kernels/attn.cu and
// kernels/linear.cu in place of the CPU's, run by the emulator
// (backend_ops.c is compiled with -Dnys_backend_new=emu_backend_new and
// -Dnys_cuda_probe=emu_cuda_probe, so it finds a "GPU").  The matmul
// precision the test sets (nys_backend_set_matmul) is the instance's, which
// linear.cu reads as on the GPU.
#include "emu.h"
#define NYS_R void
#define NYS_REAL double
#define NYS_OP(name, params, args) extern "C" int nys_cuda_##name(nys_backend *be, NYS_EXPAND params);
#include "backend_ops.def"
#undef NYS_OP
extern "C" nys_backend *emu_backend_new(nys_device device, nys_dtype dtype, nys_err *e)
{
	if (device != NYS_DEVICE_CUDA)
		return nys_backend_new(device, dtype, e);
	if (dtype != NYS_F32) {
		nys_err_set(e, "emu-cuda: the dtype must be F32");
		return NULL;
	}
	nys_backend *be = nys_backend_new(NYS_DEVICE_CPU, NYS_F32, e);
	if (!be)
		return NULL;
	static nys_backend_ops t;
	t = *be->ops;
	t.linear_forward = nys_cuda_linear_forward;
	t.linear_backward = nys_cuda_linear_backward;
	t.linear_gelu_forward = nys_cuda_linear_gelu_forward;
	t.split_heads_forward = nys_cuda_split_heads_forward;
	t.split_heads_backward = nys_cuda_split_heads_backward;
	t.merge_heads_forward = nys_cuda_merge_heads_forward;
	t.merge_heads_backward = nys_cuda_merge_heads_backward;
	t.attn_softmax_size = nys_cuda_attn_softmax_size;
	t.attn_softmax_forward = nys_cuda_attn_softmax_forward;
	t.attn_softmax_backward = nys_cuda_attn_softmax_backward;
	t.nystrom_size = nys_cuda_nystrom_size;
	t.nystrom_forward = nys_cuda_nystrom_forward;
	t.nystrom_backward = nys_cuda_nystrom_backward;
	be->ops = &t;
	be->name = "emu-cuda";
	be->device = NYS_DEVICE_CUDA;
	return be;
}
extern "C" int emu_cuda_probe(nys_err *) { return 1; }
