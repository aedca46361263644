/* test_search.c — the adaptive width search (src/drive/search.c) as a point
 * source, driven the way the master drives it: W workers ask source.next,
 * results come back through source.done in an order of the test's choosing,
 * and source.finish prints the m* table.
 *
 * The job, its plan and the sweep file are real (job_parse, sweep_costs, a
 * STORE_SERIAL file; no MPI). The training runs are not: each finished run
 * reports what a scripted model of "seed j reaches target tau at width m"
 * says, so that the table the search must find is known in advance and the
 * test runs in milliseconds.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../src/drive/internal.h"
#include "advsweep/comm.h"
#include "advsweep/common.h"
#include "advsweep/config.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"

/* One group (no other axis), 6 widths x 3 seeds = 18 training runs; each run
 * answers both epsilons (36 points). */
static const char JOB[] = "name: scripted\n"
                          "seeds: 3\n"
                          "fixed: {d: 4, n: 8, steps: 100, H: 1}\n"
                          "grid:\n"
                          "  m: [2, 4, 8, 16, 32, 64]\n"
                          "  epsilon: [0.2, 0.1]\n"
                          "search: {axis: m, target: epsilon}\n";
enum { UNITS = 18, T_STEPS = 100 };

static char g_dir[256];

/* The scripted model, for seed position j (0..2) at width m: the first step
 * with L_A <= tau, or -1 when the run plateaus at step 40 (a definite failure
 * at T/2 = 50 and at T). Seed 2 reaches 0.1 at m = 16 only at step 80: budget-
 * censored at T/2, reached at T. So (all seeds):
 *   tau 0.2: m* = 8 at both budgets;
 *   tau 0.1: m* = 16 at T, and 16..32 at T/2 (16 undecided, 32 all reached). */
static long model_step(int j, long m, double tau) {
    static const long reach_02[3] = {4, 8, 4}, reach_01[3] = {16, 16, 32};
    if (tau > 0.15) return m >= reach_02[j] ? 30 : -1;
    if (m >= reach_01[j]) return 30;
    if (j == 2 && m == 16) return 80;
    return -1;
}

typedef struct {
    Job *job;
    PointCost *costs;
    TrainConfig *configs;
    double *flops;
    long *reps;
    unsigned char *selected;
    RunOptions opt;
    Drive d;
} Fixture;

static void fixture_open(Fixture *fx, const char *name) {
    memset(fx, 0, sizeof *fx);
    assert_int_equal(job_parse(&fx->job, JOB, "(test)"), ADV_OK);
    Drive *d = &fx->d;
    d->job = fx->job;
    d->opt = &fx->opt;
    d->P = job_points(fx->job);
    assert_int_equal(d->P, 2 * UNITS);
    assert_int_equal(sweep_costs(&fx->costs, fx->job), ADV_OK);
    d->costs = fx->costs;
    d->members = xcalloc((size_t)job_training_group_max(fx->job), sizeof(long));
    fx->selected = xcalloc((size_t)d->P, 1);
    memset(fx->selected, 1, (size_t)d->P);
    d->selected = fx->selected;
    d->deadline = INFINITY;
    /* the file, as build_layout (driver.c) lays it out */
    fx->configs = xcalloc((size_t)d->P, sizeof(TrainConfig));
    fx->flops = xcalloc((size_t)d->P, sizeof(double));
    fx->reps = xcalloc((size_t)d->P, sizeof(long));
    StoreLayout l;
    memset(&l, 0, sizeof l);
    for (long i = 0; i < d->P; i++) {
        job_point(&fx->configs[i], fx->job, i);
        fx->flops[i] = fx->costs[i].cost;
        fx->reps[i] = fx->costs[i].trained_as;
        if (fx->costs[i].records > l.records_max) l.records_max = fx->costs[i].records;
        if (fx->costs[i].evals > l.evals_max) l.evals_max = fx->costs[i].evals;
        if (fx->costs[i].n_targets > l.targets_max) l.targets_max = fx->costs[i].n_targets;
    }
    l.n_points = d->P;
    l.configs = fx->configs;
    l.cost_flops = fx->flops;
    l.trained_as = fx->reps;
    l.job_text = job_text(fx->job);
    l.job_name = job_name(fx->job);
    l.axes = job_axes(fx->job);
    l.shard_count = 1;
    l.ranks = 1;
    l.omp_threads = 1;
    snprintf(d->path, sizeof d->path, "%s/%s.h5", g_dir, name);
    assert_int_equal(store_open(&d->st, d->path, &l, STORE_SERIAL, STORE_FRESH), ADV_OK);
    d->rows = store_rows(d->st);
    assert_int_equal(source_search(&d->src, d), ADV_OK);
}

static void fixture_close(Fixture *fx) {
    Drive *d = &fx->d;
    if (d->src.destroy) d->src.destroy(d->src.ctx);
    assert_int_equal(store_close(&d->st), ADV_OK);
    unlink(d->path);
    free(d->members);
    free(fx->selected);
    free(fx->configs);
    free(fx->flops);
    free(fx->reps);
    free(fx->costs);
    job_destroy(&fx->job);
}

/* What a worker would report for the run of representative point `rep`. */
static void scripted_report(Report *r, const Fixture *fx, long rep) {
    TrainConfig cfg;
    job_point(&cfg, fx->job, rep);
    long coords[16];
    job_point_coords(fx->job, rep, coords);
    int j = (int)coords[job_axis_count(fx->job)]; /* the seed position (seeds: 3) */
    memset(r, 0, sizeof *r);
    r->index = rep;
    r->status = RUN_DONE;
    r->rc = ADV_OK;
    r->steps_planned = T_STEPS;
    r->n_targets = 2;
    r->tau[0] = 0.2;
    r->tau[1] = 0.1;
    long last = 0;
    for (int q = 0; q < 2; q++) {
        r->step[q] = model_step(j, (long)cfg.m, r->tau[q]);
        if (r->step[q] > last) last = r->step[q];
    }
    int reached_all = r->step[1] >= 0;
    r->outcome = reached_all ? OUTCOME_REACHED : OUTCOME_PLATEAU;
    r->steps_run = reached_all ? last + 5 : 40;
    r->resumed = -1;
}

/* The m* table lines (those that start with "  ") that finish prints. */
static void finish_table(Fixture *fx, char *table, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/finish.txt", g_dir);
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    int rc = fx->d.src.finish(fx->d.src.ctx);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fd);
    assert_int_equal(rc, ADV_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    size_t used = 0;
    table[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "  ", 2) && used + strlen(line) < len) used += (size_t)snprintf(table + used, len - used, "%s", line);
    fclose(f);
    unlink(path);
}

/* Dispatch with W workers until the source is done. Results come back in an
 * order given by `order_seed` (0: first handed out, first back). Returns the
 * runs handed out; *waits counts DISPATCH_WAIT answers; *first_wave how many
 * of the W workers got a run before any result came back. */
static long simulate(Fixture *fx, int W, unsigned order_seed, long *waits, long *first_wave) {
    Source *src = &fx->d.src;
    long *out = xcalloc((size_t)W, sizeof(long)); /* the run each worker holds, -1 idle */
    for (int w = 0; w < W; w++) out[w] = -1;
    long handed = 0;
    int done = 0;
    unsigned lcg = order_seed * 2654435761u + 1;
    *waits = 0;
    *first_wave = -1;
    for (;;) {
        for (int w = 0; w < W && !done; w++) {
            if (out[w] >= 0) continue;
            long rep = src->next(src->ctx, w + 1);
            if (rep == DISPATCH_DONE) done = 1;
            else if (rep == DISPATCH_WAIT) ++*waits;
            else {
                assert_true(rep >= 0 && rep < fx->d.P);
                out[w] = rep;
                handed++;
            }
        }
        if (*first_wave < 0) *first_wave = handed;
        int busy = 0;
        for (int w = 0; w < W; w++) busy += out[w] >= 0;
        if (!busy) break;
        /* one result back: the earliest worker (order 0) or a pseudo-random one */
        int pick = -1;
        if (order_seed) {
            lcg = lcg * 1103515245u + 12345u;
            int k = (int)((lcg >> 8) % (unsigned)busy);
            for (int w = 0; w < W && pick < 0; w++)
                if (out[w] >= 0 && k-- == 0) pick = w;
        } else
            for (int w = 0; w < W && pick < 0; w++)
                if (out[w] >= 0) pick = w;
        Report r;
        scripted_report(&r, fx, out[pick]);
        fx->d.finished++;
        src->done(src->ctx, &r);
        out[pick] = -1;
    }
    free(out);
    assert_true(done); /* the source said DONE, and nothing was left running */
    return handed;
}

static const char EXPECTED[] = "  all, T/2: 0.2->8 0.1->16..32\n"
                               "  all, T: 0.2->8 0.1->16\n";

/* Many more workers than the open group's seeds: no worker waits while the
 * group has a run that might be needed (the look-ahead reaches every width
 * above the frontier, not only the next two). */
static void test_idle_workers_get_runs(void **state) {
    (void)state;
    Fixture fx;
    fixture_open(&fx, "idle");
    Source *src = &fx.d.src;
    /* 16 workers asking at once, nothing finished yet: each gets a run */
    long got[16];
    for (int w = 0; w < 16; w++) {
        got[w] = src->next(src->ctx, w + 1);
        if (got[w] < 0) fail_msg("worker %d of 16 got %s with %d of %d runs handed out", w + 1,
                                 got[w] == DISPATCH_WAIT ? "WAIT" : "DONE", w, UNITS);
        for (int v = 0; v < w; v++) assert_true(got[v] != got[w]); /* never the same run twice */
    }
    /* the first run is the certain one: the smallest width */
    TrainConfig cfg;
    job_point(&cfg, fx.job, got[0]);
    assert_int_equal(cfg.m, 2);
    /* the last two runs; then nothing is left unrun and the next worker waits */
    assert_true(src->next(src->ctx, 17) >= 0);
    assert_true(src->next(src->ctx, 18) >= 0);
    assert_int_equal(src->next(src->ctx, 19), DISPATCH_WAIT);
    fixture_close(&fx);
}

/* The same table whatever the number of workers and the order results come
 * back in; one worker runs only what the search needs. */
static void test_table_independent_of_workers(void **state) {
    (void)state;
    static const int workers[] = {1, 2, 5, 16, 40};
    long runs_one = 0;
    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++)
        for (unsigned order = 0; order < 3; order++) {
            Fixture fx;
            char name[64], table[4096];
            snprintf(name, sizeof name, "w%d-o%u", workers[i], order);
            fixture_open(&fx, name);
            long waits = 0, first = 0;
            long runs = simulate(&fx, workers[i], order, &waits, &first);
            assert_int_equal(fx.d.src.left(fx.d.src.ctx), 0);
            /* nobody waited while a run was unrun: the first wave fills every worker it can */
            assert_int_equal(first, workers[i] < UNITS ? workers[i] : UNITS);
            finish_table(&fx, table, sizeof table);
            if (strcmp(table, EXPECTED))
                fail_msg("%d workers, order %u: table\n%s, expected\n%s", workers[i], order, table, EXPECTED);
            if (workers[i] == 1) {
                assert_int_equal(waits, 0);
                if (!runs_one) runs_one = runs;
                assert_true(runs < UNITS); /* one worker: only what the search needs */
            } else assert_true(runs >= runs_one);
            fixture_close(&fx);
        }
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/advsweep-test-search-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rmdir(g_dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_workers_get_runs),
        cmocka_unit_test(test_table_independent_of_workers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
