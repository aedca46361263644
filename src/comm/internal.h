/* internal.h — the Comm struct, shared by comm.c and run.c only. */
#ifndef ADVSWEEP_COMM_INTERNAL_H
#define ADVSWEEP_COMM_INTERNAL_H

#include <mpi.h>

struct Comm {
    MPI_Comm comm; /* borrowed: MPI_COMM_WORLD or a communicator the caller owns */
    int rank, size;
};

/* Sleep without spinning. */
void comm_sleep(double seconds);
/* Wait for req with MPI_Test and growing naps (0.1 to 10 ms) instead of Open MPI's
 * busy-polling blocking calls, so a waiting rank costs almost no CPU. */
void comm_wait_sleeping(MPI_Request *req, MPI_Status *status);

/* lifeline.c: a rank started by mpirun/srun ends itself (exit 3, nothing more
 * written) once its launcher or, on the same host, rank 0 is gone.
 * lifeline_begin is collective (rank 0's pid and host); lifeline_check is
 * immediate and not collective: call it before writing a point's rows;
 * lifeline_end stops watching (before the final collectives, whose end lets
 * rank 0 exit first). No-ops for a process not started by a launcher. */
void lifeline_begin(Comm *c);
void lifeline_check(void);
void lifeline_end(void);

#endif
