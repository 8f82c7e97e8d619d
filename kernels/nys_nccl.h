/* NCCL for the data-parallel runs on GPUs: the one file of kernels/ that
 * the dist layer may include (libnys/dist/dist.c), plain C, so that dist.c
 * never sees a CUDA header.  dist.c exchanges the communicator's id over
 * MPI (rank 0 makes it, MPI_Bcast sends it, as llm.c does) and asks for
 * the gradients' all-reduce through these; kernels/nccl.c holds the CUDA
 * side (the backend's device pointers and stream), kernels/cuda_stub.c the
 * same functions in a build without nvcc ("this build has no CUDA
 * backend").
 *
 * NCCL is not linked: nys_nccl_load dlopen()s libnccl.so.2 (NYS_NCCL_LIB
 * when set, that file alone; else by name, then $CUDA_HOME/lib64 and
 * /usr/local/cuda/lib64), so a binary starts without it and then uses the
 * host path. */
#ifndef NYS_NCCL_H
#define NYS_NCCL_H

#include "nys_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The size of NCCL's ncclUniqueId (NCCL_UNIQUE_ID_BYTES of nccl.h). */
#define NYS_NCCL_ID_BYTES 128

typedef struct nys_nccl nys_nccl;

/* Make GPU local_rank % (the GPUs of this machine) the current device,
 * before any backend is made, so that the ranks of one machine use one GPU
 * each; nothing without a GPU (or without CUDA in the build). */
void nys_nccl_pick_device(unsigned local_rank);

/* Load NCCL once per process: 0 with its version code into *version
 * (NCCL_VERSION_CODE: 22809 for 2.28.9), or -1 with e set ("this build
 * has no CUDA backend", "cannot load NCCL (libnccl.so.2): why", "NCCL
 * lacks NAME"). */
int nys_nccl_load(int *version, nys_err *e);

/* Rank 0's id for a communicator (ncclGetUniqueId), after nys_nccl_load. */
int nys_nccl_unique_id(unsigned char id[NYS_NCCL_ID_BYTES], nys_err *e);

/* This rank's communicator of nranks on the GPU of the CUDA backend be
 * (ncclCommInitRank: every rank calls it with the same id); NULL with e
 * set. */
nys_nccl *nys_nccl_comm(nys_backend *be, const unsigned char id[NYS_NCCL_ID_BYTES],
                        int nranks, int rank, nys_err *e);

/* n elements of dtype at buf, device memory of be, summed in place over
 * the communicator's ranks (ncclAllReduce, on be's stream, after the work
 * queued there), then waited for by polling the stream and NCCL's
 * asynchronous error: 0 when done; -1 with e set when NCCL or CUDA failed;
 * 1 with e set when timeout seconds passed first (the communicator is then
 * aborted, ncclCommAbort: the caller brings the job down). */
int nys_nccl_allreduce(nys_nccl *c, nys_backend *be, void *buf, size_t n, nys_dtype dtype,
                       double timeout, nys_err *e);

/* The communicator destroyed (NULL: nothing). */
void nys_nccl_free(nys_nccl *c);

#ifdef __cplusplus
}
#endif

#endif
