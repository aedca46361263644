/* internal.h — the Comm struct, shared by the files of src/comm only. */
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

#endif
