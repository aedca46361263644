/* internal.h — the driver's shared state and its point sources (src/drive only).
 *
 * A source decides which training runs to hand out (units are the job
 * indices of the runs' representative points) and learns their results; the
 * driver wraps it for dispatch_run (comm.h), prints one line per finished
 * run, and after the dispatch asks it how many points are left.
 */
#ifndef ADVSWEEP_DRIVE_INTERNAL_H
#define ADVSWEEP_DRIVE_INTERNAL_H

#include <stddef.h>

#include "advsweep/common.h"
#include "advsweep/drive.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"

/* What a worker reports about one training run (packed into doubles for the protocol). */
typedef struct {
    long index;      /* the run's representative point (job index) */
    int status;      /* RUN_* (RUN_RUNNING: abandoned after the grace period) */
    double wall, min_surrogate;
    int outcome;     /* OUTCOME_* of the run */
    int rc;          /* ADV_* of the attempt */
    long steps_run, steps_planned;
    int n_targets;
    double tau[TARGETS_MAX];
    long step[TARGETS_MAX]; /* first step with L_A <= tau, -1 */
    char reason[STATUS_REASON_MAX]; /* why it failed or diverged ("" when done) */
    long resumed;    /* the step a checkpoint let it continue from, -1: from the start */
    long checkpoints; /* checkpoints it saved */
} Report;
/* In doubles: the fixed fields, tau and step per target, one character of the reason per double. */
enum { REPORT_FIXED = 11, REPORT_LEN = REPORT_FIXED + 2 * TARGETS_MAX + STATUS_REASON_MAX };
void report_pack(double *msg, const Report *r);
void report_unpack(Report *r, const double *msg);

typedef struct Drive Drive;

/* A point source. next/done as PointSource (comm.h) with the driver's state;
 * left: after the dispatch, how many points it still had to run (0: complete);
 * finish: after the dispatch, on rank 0 (mark what it did not need, print). */
typedef struct {
    void *ctx;
    long todo;                      /* runs it expects to hand out (for the [k/todo] lines; may grow) */
    long (*next)(void *ctx, int rank);
    void (*done)(void *ctx, const Report *r);
    long (*left)(void *ctx);
    int (*finish)(void *ctx);
    void (*destroy)(void *ctx);
} Source;

struct Drive {
    Comm *c;
    const RunOptions *opt;
    Job *job;
    long P;               /* the job's points */
    PointCost *costs;     /* (P) */
    Store *st;
    const long *rows;     /* (P) the file row of each job point */
    unsigned char *selected; /* (P) points --where selects (every point without --where) */
    long *members;        /* (group max) scratch: the points one training run answers */
    int store_weights;
    char host[64];
    int beyond_deadline; /* rank 0: a point was started that cannot finish before the deadline */
    char threads_from[96]; /* why omp_get_max_threads() is what it is (choose_threads) */
    char path[1024];
    double deadline;      /* adv_now() clock; INFINITY when none */
    double rate;          /* GFLOP/s per rank for time estimates; 0 = unknown */
    double done_cost, done_wall;
    double busy, longest; /* sum and max of the wall times of runs run here (any outcome) */
    long finished;        /* runs finished this run */
    Source src;
};

/* Helpers shared by the sources (driver.c). */
int drive_is_final(int status);
/* The run of representative `rep` belongs to this shard. */
int drive_in_shard(const Drive *d, long rep);
/* Rank 0: the run of `rep` may start now: its estimated seconds fit before the
 * deadline, or it checkpoints and at least two checkpoint intervals are left (it
 * saves its state at least once; the deadline then stops the run: signals_deadline). */
int drive_fits(const Drive *d, long rep);
/* Selected points of this shard that are not final; counts[] by status (may be NULL). */
long drive_points_left(Drive *d, long *counts);
/* Does the run of `rep` still have a selected member that is not final? */
int drive_open(Drive *d, long rep);

/* The sources. */
int source_grid(Source *s, Drive *d);
int source_search(Source *s, Drive *d);

#endif
