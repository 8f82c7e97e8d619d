/* The CUDA backend of a build without nvcc (kernels/cuda.mk): nothing is
 * available and the constructor says why, so the registry and the programs
 * are the same in every build. */
#include "nys_cuda.h"
#include "nys_nccl.h"

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

/* NCCL (nys_nccl.h): nothing without CUDA; dist.c then sums on the host. */
void nys_nccl_pick_device(unsigned local_rank) { (void)local_rank; }

int nys_nccl_load(int *version, nys_err *e)
{
	(void)version;
	return nys_err_set(e, "this build has no CUDA backend, so no NCCL");
}

int nys_nccl_unique_id(unsigned char id[NYS_NCCL_ID_BYTES], nys_err *e)
{
	(void)id;
	return nys_nccl_load(NULL, e);
}

nys_nccl *nys_nccl_comm(nys_backend *be, const unsigned char id[NYS_NCCL_ID_BYTES],
                        int nranks, int rank, nys_err *e)
{
	nys_nccl_load(NULL, e);
	return NULL;
}

int nys_nccl_allreduce(nys_nccl *c, nys_backend *be, void *buf, size_t n, nys_dtype dtype,
                       double timeout, nys_err *e)
{
	return nys_nccl_load(NULL, e);
}

void nys_nccl_free(nys_nccl *c) { (void)c; }
