/* comm.c — MPI session, small collectives, and a barrier that sleeps.
 * (the protocol is dispatch.c, stop requests signals.c). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"
#include "internal.h"

int comm_session_begin(int *argc, char ***argv, Comm **world) {
    int provided = 0, initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return adv_err(ADV_ERR_INTERNAL, "MPI_Init_thread failed");
    Comm *c = xcalloc(1, sizeof *c);
    c->comm = MPI_COMM_WORLD; /* the one place the world communicator is named */
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    *world = c;
    return ADV_OK;
}

void comm_session_end(Comm **world) {
    if (world && *world) {
        free(*world);
        *world = NULL;
    }
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

int comm_rank(const Comm *c) { return c->rank; }
int comm_size(const Comm *c) { return c->size; }
int64_t comm_handle(const Comm *c) { return (int64_t)MPI_Comm_c2f(c->comm); }

int comm_bcast_text(Comm *c, char **text, int root) {
    long len = c->rank == root ? (long)strlen(*text) : 0;
    MPI_Bcast(&len, 1, MPI_LONG, root, c->comm);
    if (c->rank != root) *text = xcalloc((size_t)len + 1, 1);
    MPI_Bcast(*text, (int)len, MPI_CHAR, root, c->comm);
    return ADV_OK;
}

int comm_agree(Comm *c, int rc) {
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, c->comm);
    if (worst != ADV_OK) {
        /* rank 0's message, if rank 0 saw this error, so every rank reports the same */
        int root_has = c->rank == 0 && rc == worst, flag = 0;
        MPI_Allreduce(&root_has, &flag, 1, MPI_INT, MPI_MAX, c->comm);
        if (flag) {
            char msg[1024];
            if (c->rank == 0) snprintf(msg, sizeof msg, "%s", adv_errmsg());
            MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, c->comm);
            if (c->rank != 0) adv_err(worst, "%s", msg);
        } else if (rc == ADV_OK) {
            adv_err(worst, "another rank failed");
        }
    }
    return worst;
}

int comm_node_workers(Comm *c) {
    MPI_Comm node;
    int node_size = 1, master = c->size > 1 && c->rank == 0, master_here = 0;
    MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_size);
    MPI_Allreduce(&master, &master_here, 1, MPI_INT, MPI_MAX, node);
    MPI_Comm_free(&node);
    return node_size - master_here > 1 ? node_size - master_here : 1;
}

void comm_bcast_longs(Comm *c, long *values, int n, int root) { MPI_Bcast(values, n, MPI_LONG, root, c->comm); }

void comm_sleep(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

void comm_wait_sleeping(MPI_Request *req, MPI_Status *status) {
    int done = 0;
    double nap = 1e-4;
    for (;;) {
        MPI_Test(req, &done, status);
        if (done) return;
        signals_poll(); /* a stop request seen while waiting is acted on (and said) at once */
        comm_sleep(nap);
        if (nap < 0.01) nap *= 1.5;
    }
}

void comm_idle_barrier(Comm *c) {
    MPI_Request req;
    MPI_Ibarrier(c->comm, &req);
    comm_wait_sleeping(&req, MPI_STATUS_IGNORE);
}

void comm_mem_budget(Comm *c, double explicit_bytes, MemBudget *out) {
    int master = c->size > 1 && c->rank == 0, sharers = comm_node_workers(c);
    MemBudget mine;
    mem_budget(&mine, explicit_bytes, "--mem-limit", sharers);
    if (master) mine.bytes = INFINITY; /* the master only dispatches */
    struct {
        double bytes;
        int rank;
    } in = {mine.bytes, c->rank}, least;
    MPI_Allreduce(&in, &least, 1, MPI_DOUBLE_INT, MPI_MINLOC, c->comm);
    if (c->rank == least.rank) *out = mine;
    MPI_Bcast(out, (int)sizeof *out, MPI_BYTE, least.rank, c->comm);
}
