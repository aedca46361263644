/* test_dispatch.c — the master/worker protocol (comm.h, dispatch_run) with
 * scripted point sources, under mpiexec at 1, 2 and 4 ranks (real MPI ranks).
 *
 *   fixed      a list of units handed out in order: every unit runs exactly once,
 *              its result arrives intact, whichever rank ran it
 *   growing    starts with one unit; each result adds two more (a tree) and the
 *              source says WAIT when its queue is empty but units are out: no
 *              worker is stopped while work may still come, every unit runs once
 *   waiting    says WAIT with nothing out: taken as done (no hang)
 *   uneven     units of very different lengths: a free worker gets the next one
 *              at once (the busy one does not hold the others up)
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include <cmocka.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"

#define LEN 5 /* doubles per result */
#define MAX_UNITS 512

static Comm *g_comm;

/* ---- the worker: a result that is a function of the unit only ---------------------------- */

typedef struct {
    long ran;             /* units this rank ran */
    double sleep_per_unit; /* seconds, times (unit % 3 == 0 ? 20 : 1) for `uneven` */
} Worker;

static void work(void *ctx, long unit, double *result, int len) {
    Worker *w = ctx;
    assert_int_equal(len, LEN);
    if (w->sleep_per_unit > 0) {
        double s = w->sleep_per_unit * (unit % 3 == 0 ? 20 : 1);
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    for (int k = 0; k < len; k++) result[k] = (double)unit * (k + 1) + 0.25 * k;
    w->ran++;
}

static void check_result(long unit, const double *result) {
    for (int k = 0; k < LEN; k++) assert_true(result[k] == (double)unit * (k + 1) + 0.25 * k);
}

/* ---- scripted sources (rank 0) ------------------------------------------------------------ */

typedef struct {
    long queue[MAX_UNITS];
    long head, tail;       /* queue[head..tail) not yet handed out */
    long out;              /* handed out, no result yet */
    int done_count[MAX_UNITS];
    int by_rank[16];       /* results per rank */
    long limit;            /* growing: units below it add two children */
    int grow;
    long waits;            /* WAIT answers given */
} Script;

static long script_next(void *ctx, int rank) {
    Script *s = ctx;
    assert_true(rank >= 0 && rank < 16);
    if (s->head < s->tail) {
        s->out++;
        return s->queue[s->head++];
    }
    if (s->grow && s->out > 0) {
        s->waits++;
        return DISPATCH_WAIT;
    }
    return s->grow == 2 ? DISPATCH_WAIT : DISPATCH_DONE; /* 2: the source that waits for nothing */
}

static void script_done(void *ctx, long unit, const double *result, int rank) {
    Script *s = ctx;
    assert_true(unit >= 0 && unit < MAX_UNITS);
    check_result(unit, result);
    s->done_count[unit]++;
    s->by_rank[rank]++;
    s->out--;
    if (s->grow == 1 && unit < s->limit) { /* a source that adds points while running */
        s->queue[s->tail++] = 2 * unit + 1;
        s->queue[s->tail++] = 2 * unit + 2;
    }
}

/* Run src on every rank; returns the units this rank ran. */
static long run_dispatch(Script *s, double sleep_per_unit) {
    PointSource ps = {s, script_next, script_done};
    Worker w = {0, sleep_per_unit};
    PointWorker pw = {&w, work};
    assert_int_equal(dispatch_run(g_comm, &ps, &pw, LEN), ADV_OK);
    long total = 0;
    MPI_Allreduce(&w.ran, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    return total;
}

static void test_fixed(void **state) {
    (void)state;
    Script *s = calloc(1, sizeof *s);
    for (long u = 0; u < 40; u++) s->queue[s->tail++] = (u * 7) % 40; /* any order */
    long ran = run_dispatch(s, 0);
    assert_int_equal(ran, 40); /* every unit ran once on some rank ... */
    if (comm_rank(g_comm) == 0) {
        for (long u = 0; u < 40; u++) assert_int_equal(s->done_count[u], 1); /* ... and reported once */
        if (comm_size(g_comm) == 1) assert_int_equal(s->by_rank[0], 40);
        else assert_int_equal(s->by_rank[0], 0); /* the master only dispatches */
    }
    free(s);
}

static void test_growing(void **state) {
    (void)state;
    Script *s = calloc(1, sizeof *s);
    s->grow = 1;
    s->limit = 63; /* units 0..126: a full binary tree of depth 6 */
    s->queue[s->tail++] = 0;
    long ran = run_dispatch(s, 0.002);
    assert_int_equal(ran, 127);
    if (comm_rank(g_comm) == 0) {
        for (long u = 0; u < 127; u++) assert_int_equal(s->done_count[u], 1);
        assert_int_equal(s->out, 0);
        if (comm_size(g_comm) > 2) assert_true(s->waits > 0); /* one unit, several workers: some waited */
    }
    free(s);
}

static void test_waiting_for_nothing(void **state) {
    (void)state;
    Script *s = calloc(1, sizeof *s);
    s->grow = 2;
    for (long u = 0; u < 5; u++) s->queue[s->tail++] = u;
    long ran = run_dispatch(s, 0);
    assert_int_equal(ran, 5);
    if (comm_rank(g_comm) == 0)
        for (long u = 0; u < 5; u++) assert_int_equal(s->done_count[u], 1);
    free(s);
}

static void test_uneven(void **state) {
    (void)state;
    if (comm_size(g_comm) < 3) return; /* needs two workers */
    Script *s = calloc(1, sizeof *s);
    for (long u = 0; u < 13; u++) s->queue[s->tail++] = u; /* 0, 3, 6, 9, 12 are 20x longer */
    run_dispatch(s, 0.002);
    if (comm_rank(g_comm) == 0) {
        int workers = 0;
        for (int r = 1; r < comm_size(g_comm); r++) workers += s->by_rank[r] > 0;
        assert_true(workers >= 2); /* a free worker took the next unit instead of waiting for the busy one */
        for (long u = 0; u < 13; u++) assert_int_equal(s->done_count[u], 1);
    }
    free(s);
}

static void test_bad_length(void **state) {
    (void)state;
    Script s;
    memset(&s, 0, sizeof s);
    PointSource ps = {&s, script_next, script_done};
    Worker w = {0, 0};
    PointWorker pw = {&w, work};
    assert_int_equal(dispatch_run(g_comm, &ps, &pw, DISPATCH_RESULT_MAX + 1), ADV_ERR_INTERNAL);
    assert_int_equal(w.ran, 0);
}

int main(int argc, char **argv) {
    if (comm_session_begin(&argc, &argv, &g_comm) != ADV_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_growing),
        cmocka_unit_test(test_waiting_for_nothing),
        cmocka_unit_test(test_uneven),
        cmocka_unit_test(test_bad_length),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    comm_session_end(&g_comm);
    return any ? 1 : 0;
}
