/* dispatch.c — the master/worker protocol, and nothing else: the master asks
 * a point source for units and hands them to free workers; workers run them
 * and report a fixed-size result. What a unit is, in what order units come
 * and what a result means is the source's business (src/drive).
 *
 * Messages: worker -> master TAG_REPORT (1 + len doubles: the unit just run,
 * -1 on the first message, then its result); master -> worker TAG_WORK (one
 * long: the next unit, or STOP). Waits sleep (comm_wait_sleeping), so an idle
 * master costs almost no CPU and may share a core with a worker.
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"
#include "internal.h"

enum { TAG_REPORT = 11, TAG_WORK = 12 };
#define STOP_UNIT (-1L)

static int check_len(int len) {
    if (len < 0 || len > DISPATCH_RESULT_MAX)
        return adv_err(ADV_ERR_INTERNAL, "dispatch_run: a result of %d doubles (at most %d)", len, DISPATCH_RESULT_MAX);
    return ADV_OK;
}

/* One rank alone: ask, run, report, until the source is done (or waits with nothing out). */
static void serial_loop(const PointSource *src, const PointWorker *w, double *result, int len) {
    for (;;) {
        long unit = src->next(src->ctx, 0);
        if (unit < 0) return; /* DONE, or WAIT with nothing running: nothing will change */
        memset(result, 0, (size_t)len * sizeof *result);
        w->run(w->ctx, unit, result, len);
        src->done(src->ctx, unit, result, 0);
    }
}

static void master_loop(Comm *c, const PointSource *src, int len) {
    int workers = c->size - 1, active = workers, busy = 0;
    /* waiting[r]: worker r is free and the source said WAIT for it */
    unsigned char *waiting = xcalloc((size_t)c->size, 1);
    double *msg = xcalloc((size_t)len + 1, sizeof *msg);
    while (active > 0) {
        MPI_Request req;
        MPI_Status status;
        MPI_Irecv(msg, len + 1, MPI_DOUBLE, MPI_ANY_SOURCE, TAG_REPORT, c->comm, &req);
        comm_wait_sleeping(&req, &status);
        int from = status.MPI_SOURCE;
        long unit = (long)msg[0];
        if (unit >= 0) {
            busy--;
            src->done(src->ctx, unit, msg + 1, from);
        }
        waiting[from] = 1;
        /* every free worker (the one that reported first) may get work now */
        for (int k = 0; k < workers; k++) {
            int r = 1 + (from - 1 + k) % workers;
            if (!waiting[r]) continue;
            long next = src->next(src->ctx, r);
            if (next == DISPATCH_WAIT && busy > 0) continue; /* a result to come may make work */
            if (next < 0) next = STOP_UNIT;                 /* DONE, or WAIT with nothing out */
            MPI_Send(&next, 1, MPI_LONG, r, TAG_WORK, c->comm);
            waiting[r] = 0;
            if (next == STOP_UNIT) {
                signals_worker_done(r);
                active--;
            } else {
                busy++;
            }
        }
    }
    free(msg);
    free(waiting);
}

static void worker_loop(Comm *c, const PointWorker *w, int len) {
    double *msg = xcalloc((size_t)len + 1, sizeof *msg);
    msg[0] = -1; /* ready, nothing run yet */
    for (;;) {
        MPI_Send(msg, len + 1, MPI_DOUBLE, 0, TAG_REPORT, c->comm);
        long unit;
        MPI_Request req;
        MPI_Irecv(&unit, 1, MPI_LONG, 0, TAG_WORK, c->comm, &req);
        comm_wait_sleeping(&req, MPI_STATUS_IGNORE);
        if (unit == STOP_UNIT) break;
        memset(msg, 0, (size_t)(len + 1) * sizeof *msg);
        msg[0] = (double)unit;
        w->run(w->ctx, unit, msg + 1, len);
    }
    free(msg);
}

int dispatch_run(Comm *c, const PointSource *src, const PointWorker *w, int len) {
    TRY(check_len(len));
    if (c->size == 1) {
        double *result = xcalloc((size_t)len + 1, sizeof *result);
        serial_loop(src, w, result, len);
        free(result);
    } else if (c->rank == 0) {
        master_loop(c, src, len);
    } else {
        worker_loop(c, w, len);
    }
    return ADV_OK;
}
