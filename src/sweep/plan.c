/* plan.c — the cost model turned into a SLURM request: dispatch order, the
 * estimated makespan, ranks, core-hours and a time limit.
 *
 * The master hands points out costliest first (sweep_order) to whichever
 * worker is free, so the makespan is estimated by simulating exactly that
 * (longest-processing-time-first list scheduling) at the given rate.
 * Pure arithmetic on PointCost: must not use MPI or HDF5, and does not time
 * anything (the rate comes from `advsweep bench` or a documented guess).
 */
#include "advsweep/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"

#define MB (1024.0 * 1024.0)     /* SLURM's M */
#define LIMIT_FACTOR 1.3         /* time limit = makespan x 1.3 + 5 min */
#define LIMIT_EXTRA_SECONDS 300.0
/* A suggestion gives each worker at least this much work (unless one point
 * alone takes longer): a grid of many tiny points should not ask for
 * thousands of ranks to finish in seconds. 0 = workers until makespan ~ longest point. */
#define MIN_WALL_SECONDS 600.0

typedef struct {
    double cost;
    long index;
} Ranked;

static int by_cost(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void sweep_order(long *order, const PointCost *costs, long n) {
    if (n <= 0) return;
    Ranked *r = xcalloc((size_t)n, sizeof *r);
    for (long i = 0; i < n; i++) r[i] = (Ranked){costs[i].cost, i};
    qsort(r, (size_t)n, sizeof *r, by_cost);
    for (long i = 0; i < n; i++) order[i] = r[i].index;
    free(r);
}

double sweep_point_seconds(const PointCost *cost, double rate_gflops) {
    if (!(rate_gflops > 0)) return INFINITY;
    return cost->cost / (rate_gflops * 1e9);
}

/* Finish time of the last worker when `workers` take points in `order`, each
 * the next free worker (ties: the lowest worker). A binary min-heap of finish times. */
static double makespan(const PointCost *costs, const long *order, long n, long workers, double rate) {
    if (workers >= n) {
        double longest = 0;
        for (long i = 0; i < n; i++) longest = fmax(longest, sweep_point_seconds(&costs[i], rate));
        return longest;
    }
    double *heap = xcalloc((size_t)workers, sizeof *heap); /* (workers) finish times, all 0 */
    for (long k = 0; k < n; k++) {
        /* The root is the earliest free worker: it takes the point, then sifts down. */
        double t = heap[0] + sweep_point_seconds(&costs[order[k]], rate);
        long i = 0;
        for (;;) {
            long l = 2 * i + 1, r = l + 1, m = i;
            double v = t;
            if (l < workers && heap[l] < v) m = l, v = heap[l];
            if (r < workers && heap[r] < v) m = r;
            if (m == i) break;
            heap[i] = heap[m];
            i = m;
        }
        heap[i] = t;
    }
    double end = 0;
    for (long w = 0; w < workers; w++) end = fmax(end, heap[w]);
    free(heap);
    return end;
}

int sweep_plan(SweepPlan *plan, const Job *job, const PointCost *costs, const PlanRequest *req) {
    memset(plan, 0, sizeof *plan);
    long n = job_points(job);
    long cpus = req->cpus_per_task > 0 ? req->cpus_per_task : 1;
    double rate = req->rate_gflops > 0 ? req->rate_gflops : SWEEP_DEFAULT_GFLOPS_PER_CORE * (double)cpus;

    /* Memory first: a point that cannot fit is refused, naming the largest. */
    double budget = req->mem_per_rank_mb * MB;
    long over = 0, worst = -1;
    for (long i = 0; i < n; i++) {
        plan->total_cost += costs[i].cost;
        plan->max_cost = fmax(plan->max_cost, costs[i].cost);
        plan->max_bytes = fmax(plan->max_bytes, costs[i].bytes);
        if (budget > 0 && costs[i].bytes > budget) {
            over++;
            if (worst < 0 || costs[i].bytes > costs[worst].bytes) worst = i;
        }
    }
    if (over) {
        TrainConfig cfg;
        job_point(&cfg, job, worst);
        memset(plan, 0, sizeof *plan);
        return adv_err(ADV_ERR_INPUT,
                       "point %ld (m=%lld, H=%lld, n=%lld, d=%lld) needs %.1f MB, more than the %.1f MB per rank "
                       "available (%ld of %ld points are over the budget)",
                       worst, (long long)cfg.m, (long long)cfg.H, (long long)cfg.n, (long long)cfg.d, costs[worst].bytes / MB,
                       req->mem_per_rank_mb, over, n);
    }

    plan->points = n;
    plan->cpus_per_task = cpus;
    double total = plan->total_cost / (rate * 1e9), longest = plan->max_cost / (rate * 1e9);
    plan->core_hours = total * (double)cpus / 3600.0;

    /* Workers: as many as bring the makespan max(total / workers, longest) down
     * to the longest point (or MIN_WALL_SECONDS, within the partition's limit).
     * The master only dispatches; one rank alone runs the points itself. */
    long workers;
    if (req->ranks > 0) {
        plan->ranks = req->ranks;
        workers = req->ranks > 1 ? req->ranks - 1 : 1;
    } else {
        double floor_s = MIN_WALL_SECONDS;
        if (req->max_hours > 0) floor_s = fmin(floor_s, req->max_hours * 3600.0 / LIMIT_FACTOR);
        double target = fmax(longest, floor_s);
        workers = target > 0 ? (long)ceil(total / target - 1e-9) : 1;
        if (workers > n) workers = n;
        if (workers < 1) workers = 1;
        plan->ranks = n <= 1 ? 1 : workers + 1;
    }
    long *order = xcalloc((size_t)(n > 0 ? n : 1), sizeof *order);
    sweep_order(order, costs, n);
    double wall = n > 0 ? makespan(costs, order, n, workers, rate) : 0.0;
    free(order);
    plan->wall_hours = wall / 3600.0;

    double limit = ceil((wall * LIMIT_FACTOR + LIMIT_EXTRA_SECONDS) / 60.0) * 60.0;
    if (req->max_hours > 0 && limit > req->max_hours * 3600.0) limit = req->max_hours * 3600.0;
    plan->time_limit_hours = limit / 3600.0;
    plan->needs_resubmits = req->max_hours > 0 && wall > req->max_hours * 3600.0;
    return ADV_OK;
}

int sweep_check_memory(const Job *job, const PointCost *costs, const unsigned char *mask, const MemBudget *b) {
    long n = job_points(job), over = 0, worst = -1;
    for (long i = 0; i < n; i++) {
        if (costs[i].trained_as != i) continue; /* answered by another point's run */
        if (mask && !mask[i]) continue;
        if (costs[i].bytes > b->bytes) {
            over++;
            if (worst < 0 || costs[i].bytes > costs[worst].bytes) worst = i;
        }
    }
    if (!over) return ADV_OK;
    TrainConfig cfg;
    job_point(&cfg, job, worst);
    char what[96];
    if (over > 1) snprintf(what, sizeof what, "point %ld (the largest of %ld training runs that do not fit)", worst, over);
    else snprintf(what, sizeof what, "point %ld", worst);
    return mem_check(&cfg, costs[worst].bytes, b, what);
}
