/* Tiny MPI check used by tests/slurm/test_cluster.sh. */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int rank = -1, size = -1, sum = 0;
    char host[256] = "?";

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof host);
    /* exercise real communication, not just start-up */
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("hello rank %d of %d on %s sum %d\n", rank, size, host, sum);
    fflush(stdout);
    MPI_Finalize();
    return 0;
}
