/* fuzz_jobfile.c — libFuzzer target: any text handed to job_parse.
 *
 * Besides the sanitizers' findings (crash, overflow, undefined behaviour,
 * leak, hang, huge allocation), it checks the parser's contract and aborts
 * (a libFuzzer "crash") when it is broken:
 *   - refused text: ADV_ERR_INPUT, *out NULL, one non-empty line naming the
 *     origin ("fuzz.yaml...");
 *   - accepted text: 1..10^6 points, each sampled point valid for train_plan
 *     and labelled, costs for every point, the order a permutation, the plan
 *     computed; parsing job_text() again gives the same grid (same hash).
 * Inputs holding a NUL are skipped: job_read_text refuses them before parsing.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/sweep.h"
#include "advsweep/train.h"

#define ORIGIN "fuzz.yaml"

__attribute__((format(printf, 1, 2))) static void broken(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_jobfile: contract broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void check_refusal(int rc, const Job *job) {
    const char *msg = adv_errmsg();
    if (rc != ADV_ERR_INPUT) broken("job_parse returned %d (not ADV_ERR_INPUT): %s", rc, msg);
    if (job) broken("job_parse failed but *out is not NULL");
    if (!msg[0]) broken("empty error message");
    if (strchr(msg, '\n')) broken("message of more than one line: %s", msg);
    if (strncmp(msg, ORIGIN, strlen(ORIGIN)) != 0) broken("message does not name the file: %s", msg);
}

static void check_job(const Job *job, const uint8_t *data, size_t size) {
    long n = job_points(job);
    if (n < 1 || n > 1000000) broken("%ld points", n);
    long sample[] = {0, 1, n / 3, n / 2, n - 2, n - 1};
    for (size_t k = 0; k < sizeof sample / sizeof sample[0]; k++) {
        long i = sample[k];
        if (i < 0 || i >= n) continue;
        TrainConfig cfg;
        job_point(&cfg, job, i);
        TrainPlan plan;
        if (train_plan(&plan, &cfg) != ADV_OK) broken("point %ld was accepted but train_plan refuses it: %s", i, adv_errmsg());
        char label[256];
        job_point_label(label, sizeof label, job, i);
        if (!job_axes(job)[0] && label[0]) broken("a label without axes: %s", label);
        char tiny[3];
        job_point_label(tiny, sizeof tiny, job, i);
        if (strlen(tiny) > 2) broken("label overflows its buffer");
    }
    PointCost *costs = NULL;
    if (sweep_costs(&costs, job) != ADV_OK) broken("accepted job, but sweep_costs refuses it: %s", adv_errmsg());
    long *order = xcalloc((size_t)n, sizeof *order);
    unsigned char *seen = xcalloc((size_t)n, 1);
    sweep_order(order, costs, n);
    for (long k = 0; k < n; k++) {
        if (order[k] < 0 || order[k] >= n || seen[order[k]]) broken("order is not a permutation at %ld", k);
        seen[order[k]] = 1;
        if (k && costs[order[k]].cost > costs[order[k - 1]].cost) broken("order is not costliest first at %ld", k);
    }
    /* A request shaped by the input's first bytes: ranks, threads, memory and time limits. */
    PlanRequest req = {.cpus_per_task = 1};
    if (size > 2) {
        req.ranks = data[0] % 6;
        req.cpus_per_task = 1 + data[1] % 4;
        req.mem_per_rank_mb = data[2] % 3 == 0 ? 0 : data[2] % 3 == 1 ? 1.0 : 1e6;
        req.max_hours = data[2] % 5 == 0 ? 0.01 : 0;
    }
    SweepPlan plan;
    int rc = sweep_plan(&plan, job, costs, &req);
    if (rc != ADV_OK && !(rc == ADV_ERR_INPUT && req.mem_per_rank_mb > 0))
        broken("sweep_plan: %d: %s", rc, adv_errmsg());
    if (rc == ADV_OK && (plan.points != n || plan.ranks < 1 || !(plan.wall_hours >= 0)))
        broken("plan: %ld points, %ld ranks, %g h", plan.points, plan.ranks, plan.wall_hours);
    free(seen);
    free(order);
    free(costs);
    /* The grid is a function of the text: parsing the stored text again gives it back. */
    if (n <= 20000) {
        Job *again = NULL;
        if (job_parse(&again, job_text(job), ORIGIN) != ADV_OK) broken("job_text does not parse: %s", adv_errmsg());
        if (job_points(again) != n || job_grid_hash(again) != job_grid_hash(job)) broken("a second parse differs");
        job_destroy(&again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memchr(data, 0, size)) return 0;
    char *text = xcalloc(size + 1, 1);
    memcpy(text, data, size);
    Job *job = (Job *)1;
    int rc = job_parse(&job, text, ORIGIN);
    if (rc != ADV_OK) check_refusal(rc, job);
    else check_job(job, data, size);
    job_destroy(&job);
    free(text);
    return 0;
}
