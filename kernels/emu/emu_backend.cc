// The conformance test's backends, with one changed: "cpu-guarded f32" is the
// CPU backend with the attention ops of kernels/attn.cu, run by the emulator
// (backend_ops.c is compiled with -Dnys_backend_new=emu_backend_new).  Its
// guard-fault check then fails, as it must: the memory is not guarded.
#include "emu.h"
#define NYS_R void
#define NYS_REAL double
#define NYS_OP(name, params, args) extern "C" int nys_cuda_##name(nys_backend *be, NYS_EXPAND params);
#include "backend_ops.def"
#undef NYS_OP
extern "C" nys_backend *emu_backend_new(nys_device device, nys_dtype dtype, nys_err *e)
{
	if (device != NYS_DEVICE_CPU_GUARDED || dtype != NYS_F32)
		return nys_backend_new(device, dtype, e);
	nys_backend *be = nys_backend_new(NYS_DEVICE_CPU, NYS_F32, e);
	if (!be)
		return NULL;
	static nys_backend_ops t;
	t = *be->ops;
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
	return be;
}
