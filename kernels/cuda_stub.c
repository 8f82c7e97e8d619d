/* The CUDA backend of a build without nvcc (kernels/cuda.mk): nothing is
 * available and the constructor says why, so the registry and the programs
 * are the same in every build. */
#include "nys_cuda.h"

nys_backend *nys_backend_cuda_new(nys_dtype dtype, nys_err *e)
{
	nys_err_set(e, "cuda: this build has no CUDA backend");
	return NULL;
}

int nys_cuda_probe(nys_err *why)
{
	if (why)
		nys_err_set(why, "this build has no CUDA backend");
	return 0;
}

int nys_cuda_available(void) { return 0; }

const char *nys_cuda_device_name(const nys_backend *be) { return "none"; }
