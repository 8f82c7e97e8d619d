/* Data-parallel runs over MPI (Open MPI from Debian, or any MPI): the
 * world of ranks that `mpirun -np N PROG` or `srun --mpi=pmix PROG`
 * starts, as a nys_world (nys_loop.h) for the training loop.
 *
 * MPI is initialised only when the process was started by such a launcher
 * (its environment names a rank: OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK
 * or PMI_SIZE), so a program run on its own is one process that never
 * starts the MPI runtime.  A build made without MPI (`make MPI=0`) has
 * the same functions: alone it is a world of one, under a launcher
 * nys_dist_start refuses ("this build has no MPI").
 *
 * No collective waits for ever: each is started non-blocking and polled
 * against a deadline (NYS_DIST_TIMEOUT seconds, default 600), after which
 * the rank says which collective timed out and brings the whole job down
 * (MPI_Abort).  So does nys_dist_abort, which a program calls on any error
 * once the world has more than one rank: one rank's bad shard or
 * non-finite loss stops them all, with its message, instead of leaving
 * the others waiting.
 *
 * The gradients' sum (the world's grads()) is chosen at the first step:
 * when the model runs on a GPU (the CUDA backend) and the world has more
 * than one rank, ncclAllReduce in place on the device gradients, on the
 * backend's stream (nys_nccl.h: NCCL loaded at run time; the id made by
 * rank 0 and sent with MPI_Bcast), polled against the same deadline, then
 * ncclCommAbort and MPI_Abort; otherwise (the CPU, NCCL missing on some
 * rank, NYS_NCCL=0) a host copy reduced to rank 0 and broadcast.
 * NYS_NCCL=1 insists on NCCL (an error where it cannot be had) and uses
 * it with one rank too, for a smoke test.  --exact-reduce's fixed-point
 * sums stay on the host on any device.  Rank 0 says once which it uses
 * (nys_dist_info).  Each rank takes GPU local rank % the machine's GPUs.
 */
#ifndef NYS_DIST_H
#define NYS_DIST_H

#include "nys.h"
#include "nys_loop.h"

/* True when the environment says a launcher started this process. */
bool nys_dist_launched(void);
/* Join the world: a world of one without a launcher (nothing started),
 * else MPI's, with w's functions set.  The ranks on this machine go to
 * *local (1 alone).  -1 with e set (under a launcher in a build without
 * MPI, or MPI failed to start). */
int nys_dist_start(int *argc, char ***argv, nys_world *w, unsigned *local, nys_err *e);
/* Leave the world (MPI_Finalize once every rank got here); nothing alone. */
void nys_dist_end(void);
/* Bring every rank down with exit status code (MPI_Abort); alone: nothing,
 * the caller exits as usual. */
void nys_dist_abort(int code);
/* The threads a rank takes by default: its machine's cores shared among
 * the `local` ranks there, at most the cores it may run on (mpirun binds
 * ranks to cores unless told --bind-to none). */
int nys_dist_threads(unsigned local);
/* True when the build has MPI. */
bool nys_dist_built(void);
/* Where rank 0 says which sum of the gradients it uses (a copy of *info;
 * NULL or no function: it says nothing). */
void nys_dist_info(const nys_info *info);
/* True under a launcher with one rank and NYS_NCCL=1: the program then
 * hands the loop its world of one, so that the gradients still go through
 * NCCL (the one-rank smoke test of the GPU path). */
bool nys_dist_reduce_alone(void);

#endif
