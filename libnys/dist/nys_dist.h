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

#endif
