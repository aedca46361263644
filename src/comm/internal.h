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

#endif
