/* run.c — `advsweep run`: the master/worker sweep over one shared HDF5 file.
 *
 * Every rank parses the same job text (broadcast from rank 0), expands the
 * same grid and opens the same file (collective). Rank 0 then dispatches
 * point indices; workers train and write their own rows. A point's result
 * depends only on its parameters: seeds come from params, never from the
 * rank, the order or the number of restarts.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "advsweep/comm.h"
#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"
#include "internal.h"

enum { TAG_REPORT = 11, TAG_WORK = 12, TAG_REASON = 13 };
enum { REPORT_FIXED = 7, REPORT_LEN = REPORT_FIXED + 2 * TARGETS_MAX };
#define STOP_INDEX (-1L)

/* What a worker tells the master about its last point. */
typedef struct {
    long index;      /* -1: first message, nothing ran yet; else the training's representative point */
    int status;      /* RUN_* (RUN_RUNNING: abandoned after the grace period) */
    double wall, min_surrogate;
    int outcome;     /* OUTCOME_* of the run */
    int rc;          /* ADV_* of the attempt */
    int n_targets;
    double tau[TARGETS_MAX];
    long step[TARGETS_MAX]; /* first step with L_A <= tau, -1 */
    char reason[STATUS_REASON_MAX]; /* why it failed or diverged (sent after the report, TAG_REASON) */
} Report;

/* A report followed by its reason: a point that failed or diverged. */
static int has_reason(const Report *r) {
    return r->index >= 0 && r->rc == ADV_OK && (r->status == RUN_FAILED || r->status == RUN_DIVERGED);
}

typedef struct {
    Comm *c;
    const RunOptions *opt;
    Job *job;
    long P;
    PointCost *costs;
    Store *st;
    double deadline;      /* adv_now() clock; INFINITY when none */
    double rate;          /* GFLOP/s per rank for time estimates; 0 = unknown */
    double done_cost, done_wall;
    double busy, longest; /* sum and max of the wall times of points run here (any outcome) */
    long finished, todo;  /* points finished this run / to do at start */
    long *queue;          /* (todo) training runs (their representative points) with pending points,
                             costliest first; -1 once handed out */
    long *members;        /* (group max) scratch: the points one training run answers */
    long cursor;
    int store_weights;
    char host[64];
    double t_begin;       /* when sweep_run started */
} Sweep;

/* ---- helpers ------------------------------------------------------------------- */

/* Shards split training runs, not rows: a point goes with the run that answers it. */
static int in_shard(const Sweep *sw, long index) {
    const RunOptions *opt = sw->opt;
    return opt->shard_count <= 1 || sw->costs[index].trained_as % opt->shard_count == opt->shard_index;
}

static int is_final(int status) { return status == RUN_DONE || status == RUN_FAILED || status == RUN_DIVERGED; }

/* The point's label; for a run that answers several epsilons, without epsilon. */
static void label_without_epsilon(const Sweep *sw, char *buf, size_t len, const Report *r) {
    job_point_label(buf, len, sw->job, r->index);
    if (job_training_members(sw->job, r->index, NULL) < 2) return;
    char *at = strstr(buf, "epsilon=");
    if (!at) return;
    char *end = strstr(at, ", ");
    if (end) memmove(at, end + 2, strlen(end + 2) + 1);
    else if (at > buf + 1 && at[-2] == ',') at[-2] = '\0';
    else *at = '\0';
}

static void log_report(Sweep *sw, const Report *r, int rank) {
    if (r->index < 0) return;
    if (r->status != RUN_RUNNING && r->rc == ADV_OK) {
        sw->done_cost += sw->costs[r->index].cost; /* the rate in the planner's units */
        sw->done_wall += r->wall;
        sw->rate = sw->done_cost / fmax(sw->done_wall, 1e-9) * 1e-9;
    }
    if (r->status != RUN_RUNNING) sw->finished++;
    sw->busy += r->wall;
    if (r->wall > sw->longest) sw->longest = r->wall;
    if (sw->opt->quiet) return;
    char label[512], what[160 + 32 * TARGETS_MAX];
    label_without_epsilon(sw, label, sizeof label, r);
    static const char *const OUTCOME_TEXT[] = {"reached", "plateau", "budget", "diverged"};
    switch (r->status) {
    case RUN_DONE: {
        int used = snprintf(what, sizeof what, "done (%s), min L_A %.4g;",
                            r->outcome >= 0 && r->outcome <= 3 ? OUTCOME_TEXT[r->outcome] : "?", r->min_surrogate);
        for (int q = 0; q < r->n_targets && used > 0 && (size_t)used < sizeof what; q++)
            used += r->step[q] >= 0 ? snprintf(what + used, sizeof what - (size_t)used, " %g at step %ld%s", r->tau[q],
                                               r->step[q], q + 1 < r->n_targets ? "," : "")
                                    : snprintf(what + used, sizeof what - (size_t)used, " %g not reached%s", r->tau[q],
                                               q + 1 < r->n_targets ? "," : "");
        break;
    }
    case RUN_DIVERGED: snprintf(what, sizeof what, "diverged: %s", r->reason[0] ? r->reason : "?"); break;
    case RUN_FAILED: snprintf(what, sizeof what, "failed: %s", r->reason[0] ? r->reason : "?"); break;
    default: snprintf(what, sizeof what, "abandoned (will be redone on resume)"); break;
    }
    printf("[%ld/%ld] point %ld (%s): %s; %.2f s on rank %d\n", sw->finished, sw->todo, r->index, label, what, r->wall,
           rank);
    fflush(stdout);
}

/* User plus system CPU seconds of this process. */
static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + 1e-6 * (double)usage.ru_utime.tv_usec + (double)usage.ru_stime.tv_sec +
           1e-6 * (double)usage.ru_stime.tv_usec;
}

/* ---- one point (any rank) ---------------------------------------------------------- */

/* Train the run of representative point `index` once and write every point it
 * answers (the points that differ from it only in epsilon) that is not final yet. */
static void run_point(Sweep *sw, long index, Report *rep) {
    TrainConfig cfg;
    job_point(&cfg, sw->job, index);
    const PointCost *cost = &sw->costs[index];
    memset(rep, 0, sizeof *rep);
    rep->index = index;
    rep->min_surrogate = NAN;
    rep->outcome = OUTCOME_NONE;
    long n_members = job_training_members(sw->job, index, sw->members);
    const int8_t *status = store_status(sw->st);
    int rc = ADV_OK;
    for (long k = 0; k < n_members && rc == ADV_OK; k++)
        if (!is_final(status[sw->members[k]])) rc = store_mark_running(sw->st, sw->members[k]);
    if (rc != ADV_OK) {
        adv_warn("point %ld: %s", index, adv_errmsg());
        rep->status = RUN_RUNNING;
        rep->rc = rc;
        return;
    }
    Trajectory *traj = trajectory_create(cost->records, cost->evals);
    TrainSummary sum;
    memset(&sum, 0, sizeof sum);
    Dataset *data = NULL;
    double *weights = NULL;
    TrainHooks hooks = {0};
    hooks.abort_flag = signals_abort_flag();
    hooks.progress = signals_progress; /* stop requests and the master's abort, while training */
    if (sw->store_weights) {
        weights = xcalloc((size_t)(2 * cost->n_trained + cost->n_fixed), sizeof(double));
        hooks.W0_out = weights;
        hooks.W_out = weights + cost->n_trained;
        hooks.fixed_out = weights + 2 * cost->n_trained;
    }
    double start = adv_now();
    uint64_t digest = 0, checked = 0;
    rc = store_training_set_digest(&data, &cfg, &digest);
    if (rc == ADV_OK && cfg.data == DATA_FILE && job_data_digest(sw->job, cfg.data_file, &checked) && digest != checked)
        rc = adv_err(ADV_ERR_INPUT, "data file %s changed since the sweep started (rerun to check it again)",
                     cfg.data_file);
    if (rc == ADV_OK) rc = train_run(&sum, traj, &cfg, data, &hooks);
    if (rc == ADV_INTERRUPTED) { /* abandoned: stays "running", redone on resume */
        rep->status = RUN_RUNNING;
        rep->rc = rc;
        rep->wall = adv_now() - start;
        goto cleanup;
    }
    if (rc != ADV_OK) { /* a failed point is a result: record why */
        memset(&sum, 0, sizeof sum);
        sum.status = RUN_FAILED;
        snprintf(sum.reason, sizeof sum.reason, "%s", adv_errmsg());
        sum.min_surrogate = sum.final_surrogate = NAN;
        sum.eps_step = sum.diverged_step = -1;
        sum.outcome = OUTCOME_NONE;
        sum.wall_time = adv_now() - start;
        traj->count = traj->eval_count = 0;
    }
    sum.trained_as = index;
    StoreWorker worker = {comm_rank(sw->c), omp_get_max_threads(), ""};
    snprintf(worker.host, sizeof worker.host, "%s", sw->host);
    StorePointData extra = {0};
    if (sw->store_weights && sum.status != RUN_FAILED) {
        extra.W0 = hooks.W0_out;
        extra.W = hooks.W_out;
        extra.fixed = hooks.fixed_out;
        extra.n_trained = cost->n_trained;
        extra.n_fixed = cost->n_fixed;
        extra.X = data->X;
        extra.y = data->y;
        extra.n = data->n;
        extra.d = data->d;
    }
    /* Each point gets the run's results with its own epsilon's first step. */
    for (long k = 0; k < n_members; k++) {
        long member = sw->members[k];
        if (is_final(status[member])) continue; /* written before an interruption: never rewritten */
        TrainConfig mcfg;
        job_point(&mcfg, sw->job, member);
        TrainSummary msum = sum;
        msum.eps_step = -1;
        for (int q = 0; q < sum.n_targets; q++)
            if (sum.target_tau[q] == mcfg.epsilon) msum.eps_step = sum.target_step[q];
        int wrc = store_write_point(sw->st, member, &msum, traj, &worker, sw->store_weights ? &extra : NULL);
        if (wrc != ADV_OK) {
            adv_warn("point %ld: could not write its results: %s", member, adv_errmsg());
            rep->status = RUN_RUNNING;
            rep->rc = wrc;
            goto cleanup;
        }
    }
    rep->status = sum.status;
    rep->rc = ADV_OK;
    rep->wall = sum.wall_time;
    rep->min_surrogate = sum.min_surrogate;
    rep->outcome = sum.outcome;
    snprintf(rep->reason, sizeof rep->reason, "%s", sum.reason);
    rep->n_targets = sum.n_targets;
    for (int q = 0; q < sum.n_targets; q++) {
        rep->tau[q] = sum.target_tau[q];
        rep->step[q] = (long)sum.target_step[q];
    }
cleanup:
    free(weights);
    dataset_destroy(&data);
    trajectory_destroy(&traj);
}

/* ---- dispatch policy (master) ----------------------------------------------------------- */

/* The next pending point that fits before the deadline, costliest first; -1 if none. */
static long next_point(Sweep *sw) {
    if (signals_stop_requested()) return STOP_INDEX;
    double left = sw->deadline - adv_now();
    for (long k = sw->cursor; k < sw->todo; k++) {
        long index = sw->queue[k];
        if (index < 0) continue;
        if (isfinite(left) && sw->rate > 0) {
            double need = sweep_point_seconds(&sw->costs[index], sw->rate);
            if (need > left) continue; /* would not finish: leave it for the next job */
        }
        sw->queue[k] = -1;
        while (sw->cursor < sw->todo && sw->queue[sw->cursor] < 0) sw->cursor++;
        return index;
    }
    return STOP_INDEX;
}

static void pack(double *msg, const Report *r) {
    msg[0] = (double)r->index;
    msg[1] = r->status;
    msg[2] = r->wall;
    msg[3] = r->min_surrogate;
    msg[4] = r->outcome;
    msg[5] = r->rc;
    msg[6] = r->n_targets;
    for (int q = 0; q < TARGETS_MAX; q++) {
        msg[REPORT_FIXED + q] = q < r->n_targets ? r->tau[q] : 0.0;
        msg[REPORT_FIXED + TARGETS_MAX + q] = q < r->n_targets ? (double)r->step[q] : -1.0;
    }
}

static void unpack(Report *r, const double *msg) {
    r->index = (long)msg[0];
    r->status = (int)msg[1];
    r->wall = msg[2];
    r->min_surrogate = msg[3];
    r->outcome = (int)msg[4];
    r->rc = (int)msg[5];
    r->n_targets = (int)msg[6];
    if (r->n_targets < 0 || r->n_targets > TARGETS_MAX) r->n_targets = 0;
    for (int q = 0; q < r->n_targets; q++) {
        r->tau[q] = msg[REPORT_FIXED + q];
        r->step[q] = (long)msg[REPORT_FIXED + TARGETS_MAX + q];
    }
}

static void master_loop(Sweep *sw) {
    MPI_Comm comm = sw->c->comm;
    int active = sw->c->size - 1;
    while (active > 0) {
        double msg[REPORT_LEN];
        MPI_Request req;
        MPI_Status status;
        MPI_Irecv(msg, REPORT_LEN, MPI_DOUBLE, MPI_ANY_SOURCE, TAG_REPORT, comm, &req);
        comm_wait_sleeping(&req, &status);
        Report rep;
        unpack(&rep, msg);
        if (has_reason(&rep)) { /* the worker sends it right after its report */
            MPI_Irecv(rep.reason, STATUS_REASON_MAX, MPI_CHAR, status.MPI_SOURCE, TAG_REASON, comm, &req);
            comm_wait_sleeping(&req, MPI_STATUS_IGNORE);
            rep.reason[STATUS_REASON_MAX - 1] = '\0';
        }
        log_report(sw, &rep, status.MPI_SOURCE);
        long index = next_point(sw);
        MPI_Send(&index, 1, MPI_LONG, status.MPI_SOURCE, TAG_WORK, comm);
        if (index == STOP_INDEX) {
            signals_worker_done(status.MPI_SOURCE);
            active--;
        }
    }
}

static void worker_loop(Sweep *sw) {
    MPI_Comm comm = sw->c->comm;
    Report rep = {.index = -1, .outcome = OUTCOME_NONE};
    for (;;) {
        double msg[REPORT_LEN];
        pack(msg, &rep);
        MPI_Send(msg, REPORT_LEN, MPI_DOUBLE, 0, TAG_REPORT, comm);
        if (has_reason(&rep)) MPI_Send(rep.reason, STATUS_REASON_MAX, MPI_CHAR, 0, TAG_REASON, comm);
        long index;
        MPI_Request req;
        MPI_Irecv(&index, 1, MPI_LONG, 0, TAG_WORK, comm, &req);
        comm_wait_sleeping(&req, MPI_STATUS_IGNORE);
        if (index == STOP_INDEX) return;
        run_point(sw, index, &rep);
    }
}

static void serial_loop(Sweep *sw) {
    for (;;) {
        long index = next_point(sw);
        if (index == STOP_INDEX) return;
        Report rep;
        run_point(sw, index, &rep);
        log_report(sw, &rep, 0);
    }
}

/* ---- setup ------------------------------------------------------------------------------- */

static double deadline_from(const RunOptions *opt, int warn) {
    double deadline = INFINITY, now = adv_now();
    if (opt->time_limit > 0) deadline = now + opt->time_limit;
    const char *end = getenv("SLURM_JOB_END_TIME"); /* epoch seconds, set by recent Slurm versions */
    if (end && *end) {
        char *stop;
        double when = strtod(end, &stop), left = when - (double)time(NULL);
        if (stop != end && when > 0 && left > 0) deadline = fmin(deadline, now + left);
        else if (warn) adv_warn("SLURM_JOB_END_TIME=%s is not a time in the future; ignored", end);
    }
    return deadline;
}

static int build_layout(StoreLayout *layout, TrainConfig **configs, double **flops, long **reps, Sweep *sw) {
    long P = sw->P;
    *configs = xcalloc((size_t)P, sizeof(TrainConfig));
    *flops = xcalloc((size_t)P, sizeof(double));
    *reps = xcalloc((size_t)P, sizeof(long));
    memset(layout, 0, sizeof *layout);
    for (long i = 0; i < P; i++) {
        job_point(&(*configs)[i], sw->job, i);
        const PointCost *c = &sw->costs[i];
        (*flops)[i] = c->cost;
        (*reps)[i] = c->trained_as;
        if (c->records > layout->records_max) layout->records_max = c->records;
        if (c->evals > layout->evals_max) layout->evals_max = c->evals;
        if (c->n_targets > layout->targets_max) layout->targets_max = c->n_targets;
        if (c->n_trained > layout->weights_max) layout->weights_max = c->n_trained;
        if (c->n_fixed > layout->fixed_max) layout->fixed_max = c->n_fixed;
        if ((*configs)[i].n > layout->data_n_max) layout->data_n_max = (*configs)[i].n;
        if ((*configs)[i].d > layout->data_d_max) layout->data_d_max = (*configs)[i].d;
    }
    layout->n_points = P;
    layout->configs = *configs;
    layout->cost_flops = *flops;
    layout->trained_as = *reps;
    layout->job_text = job_text(sw->job);
    layout->job_name = job_name(sw->job);
    layout->axes = job_axes(sw->job);
    layout->grid_hash = job_grid_hash(sw->job);
    layout->shard_index = sw->opt->shard_count > 1 ? sw->opt->shard_index : 0;
    layout->shard_count = sw->opt->shard_count > 1 ? sw->opt->shard_count : 1;
    layout->store_weights = sw->store_weights;
    layout->ranks = comm_size(sw->c);
    layout->omp_threads = omp_get_max_threads();
    layout->blas_version = openblas_get_config();
    layout->blas_kernel = blas_kernel_description();
    if (sw->store_weights) {
        double per_point = (double)(2 * layout->weights_max + layout->fixed_max) +
                           (double)layout->data_n_max * (double)(layout->data_d_max + 1);
        double mb = 8.0 * per_point * (double)P / 1048576.0;
        if (mb > job_store_weights_max_mb(sw->job))
            return adv_err(ADV_ERR_INPUT,
                           "options: store_weights would need %.0f MB (more than store_weights_max_mb = %.0f); "
                           "store weights only for small networks or raise the limit",
                           mb, job_store_weights_max_mb(sw->job));
    }
    return ADV_OK;
}

/* The output must be none of the inputs (the job file, a data file) and, if it
 * exists, a sweep file: checked before anything is written. */
static int check_output(const Sweep *sw, const char *path) {
    long n = job_data_file_count(sw->job);
    const char **inputs = xcalloc((size_t)n + 1, sizeof *inputs), **roles = xcalloc((size_t)n + 1, sizeof *roles);
    int count = 0;
    if (sw->opt->job_path) inputs[count] = sw->opt->job_path, roles[count++] = "job file";
    for (long k = 0; k < n; k++) inputs[count] = job_data_file_path(sw->job, k), roles[count++] = "data file";
    int rc = store_check_output(path, inputs, roles, count);
    free(inputs);
    free(roles);
    return rc;
}

/* Rank 0's queue: the training runs of this shard with pending or running points,
 * costliest first. */
static void build_queue(Sweep *sw) {
    const int8_t *status = store_status(sw->st);
    long *order = xcalloc((size_t)sw->P, sizeof(long));
    sweep_order(order, sw->costs, sw->P);
    sw->queue = xcalloc((size_t)sw->P + 1, sizeof(long));
    sw->todo = 0;
    for (long k = 0; k < sw->P; k++) {
        long i = order[k];
        if (sw->costs[i].trained_as != i || !in_shard(sw, i)) continue;
        long n = job_training_members(sw->job, i, sw->members);
        int open = 0;
        for (long j = 0; j < n; j++) open |= !is_final(status[sw->members[j]]);
        if (open) sw->queue[sw->todo++] = i;
    }
    free(order);
}

/* ADV_ERR_INTERNAL with "every point failed" and the distinct reasons (the file is closed). */
static int all_failed_error(const char *path) {
    StoreFailure *f = NULL;
    long n = 0;
    char *job_text = NULL;
    if (store_failures_of(path, &f, &n, &job_text) != ADV_OK)
        return adv_err(ADV_ERR_INTERNAL, "every point failed (advsweep status --failed %s lists why)", path);
    /* distinct reasons, most frequent first */
    long *count = xcalloc((size_t)n + 1, sizeof(long)), distinct = 0;
    long *first = xcalloc((size_t)n + 1, sizeof(long));
    for (long i = 0; i < n; i++) {
        long k = 0;
        while (k < distinct && strcmp(f[first[k]].reason, f[i].reason)) k++;
        if (k == distinct) first[distinct++] = i;
        count[k]++;
    }
    char text[2048];
    int used = snprintf(text, sizeof text, "every point failed (%ld point%s", n, n == 1 ? "" : "s");
    used += snprintf(text + used, sizeof text - (size_t)used, "; advsweep status --failed %.900s lists them)", path);
    for (long shown = 0; shown < distinct && used > 0 && (size_t)used < 1000; shown++) {
        long best = -1;
        for (long k = 0; k < distinct; k++)
            if (count[k] > 0 && (best < 0 || count[k] > count[best])) best = k;
        used += snprintf(text + used, sizeof text - (size_t)used, "%s %s (%ld point%s)", shown ? ";" : ":",
                         f[first[best]].reason, count[best], count[best] == 1 ? "" : "s");
        count[best] = -count[best];
    }
    int rc = adv_err(ADV_ERR_INTERNAL, "%s", text);
    free(count);
    free(first);
    free(f);
    free(job_text);
    return rc;
}

int sweep_run(Comm *c, const RunOptions *opt) {
    Sweep sw;
    int all_failed = 0; /* rank 0: every point of the shard failed */
    memset(&sw, 0, sizeof sw);
    sw.t_begin = adv_now();
    sw.c = c;
    sw.opt = opt;
    gethostname(sw.host, sizeof sw.host - 1);
    if (opt->shard_count > 1 && (opt->shard_index < 0 || opt->shard_index >= opt->shard_count))
        return adv_err(ADV_ERR_INPUT, "option --shard: index %d is not in 0..%d", opt->shard_index,
                       opt->shard_count - 1);

    /* 1. The same job on every rank. */
    char *text = NULL;
    int rc = ADV_OK;
    if (comm_rank(c) == 0) {
        if (opt->job_path) rc = job_read_text(opt->job_path, &text);
        else text = xstrdup(job_default_text());
    }
    rc = comm_agree(c, rc);
    if (rc != ADV_OK) return rc;
    comm_bcast_text(c, &text, 0);
    rc = job_parse(&sw.job, text, opt->job_path ? opt->job_path : "(default job)");
    free(text);
    /* every data file opened and checked before anything runs (each rank binds its own copy) */
    if (rc == ADV_OK) rc = sweep_bind_data(sw.job, opt->job_path, comm_rank(c) == 0);
    if (rc == ADV_OK) {
        sw.P = job_points(sw.job);
        sw.store_weights = job_store_weights(sw.job);
        sw.members = xcalloc((size_t)job_training_group_max(sw.job), sizeof(long));
        rc = sweep_costs(&sw.costs, sw.job);
    }
    rc = comm_agree(c, rc);

    /* 2. The file, collectively. */
    StoreLayout layout;
    TrainConfig *configs = NULL;
    double *flops = NULL;
    long *reps = NULL;
    char path[1024];
    if (rc == ADV_OK) rc = comm_agree(c, build_layout(&layout, &configs, &flops, &reps, &sw));
    if (rc == ADV_OK) {
        if (opt->output) snprintf(path, sizeof path, "%s", opt->output);
        else snprintf(path, sizeof path, "%s.h5", job_name(sw.job));
        if (comm_rank(c) == 0) rc = check_output(&sw, path);
        rc = comm_agree(c, rc);
        if (rc == ADV_OK)
            rc = store_open(&sw.st, path, &layout, comm_handle(c), opt->fresh ? STORE_FRESH : STORE_RESUME);
        rc = comm_agree(c, rc);
    }
    free(configs);
    free(flops);
    free(reps);
    if (rc == ADV_OK && opt->retry_failed) {
        long reset = 0;
        rc = comm_agree(c, store_reset_failed(sw.st, &reset));
        if (rc == ADV_OK && comm_rank(c) == 0 && !opt->quiet)
            printf("advsweep run: %ld failed or diverged points will be rerun\n", reset);
    }

    /* 3. Dispatch. */
    if (rc == ADV_OK) {
        sw.deadline = deadline_from(opt, comm_rank(c) == 0);
        sw.rate = opt->rate_gflops;
        if (comm_rank(c) == 0) {
            build_queue(&sw);
            if (!opt->quiet)
                printf("advsweep run: job '%s', %ld points, %ld to run%s, %d rank%s (%s), file %s; BLAS kernel %s\n",
                       job_name(sw.job), sw.P, sw.todo, opt->shard_count > 1 ? " in this shard" : "", comm_size(c),
                       comm_size(c) == 1 ? "" : "s", comm_size(c) == 1 ? "serial" : "1 master + workers", path,
                       blas_kernel_description());
            fflush(stdout);
        }
        double start = adv_now(), cpu_start = cpu_seconds();
        signals_begin(c, path); /* Ctrl-C, SIGTERM and `advsweep stop`, relayed to the workers */
        if (comm_size(c) == 1) serial_loop(&sw);
        else if (comm_rank(c) == 0) master_loop(&sw);
        else worker_loop(&sw);
        signals_end(c);
        comm_idle_barrier(c); /* workers that finish early sleep here instead of spinning in the close */
        if (comm_rank(c) == 0 && comm_size(c) > 1 && sw.finished > 0 && !opt->quiet) {
            /* How well the dispatch did: the makespan against the best possible,
             * max(total point time / workers, longest point), and the master's CPU. */
            double makespan = adv_now() - start, workers = (double)(comm_size(c) - 1);
            double ideal = fmax(sw.busy / workers, sw.longest);
            double cpu = cpu_seconds(), wall = adv_now() - sw.t_begin;
            printf("advsweep run: makespan %.2f s, ideal max(sum/workers, longest) %.2f s (%+.1f%%); master CPU "
                   "%.3f s while dispatching (%.2f%%), %.3f s in all (%.2f%% of %.2f s)\n",
                   makespan, ideal, 100.0 * (makespan / fmax(ideal, 1e-9) - 1.0), cpu - cpu_start,
                   100.0 * (cpu - cpu_start) / fmax(makespan, 1e-9), cpu, 100.0 * cpu / fmax(wall, 1e-9), wall);
        }

        /* 4. Complete, or interrupted with points left? */
        int left = 0;
        if (comm_rank(c) == 0) {
            rc = store_refresh_status(sw.st);
            const int8_t *status = store_status(sw.st);
            long mine = 0, failed = 0;
            for (long i = 0; i < sw.P; i++)
                if (in_shard(&sw, i)) mine++, failed += status[i] == RUN_FAILED;
            all_failed = rc == ADV_OK && mine > 0 && failed == mine;
            for (long i = 0; rc == ADV_OK && i < sw.P; i++)
                if (in_shard(&sw, i) && !is_final(status[i])) left++;
            if (rc == ADV_OK && !opt->quiet) {
                long counts[5] = {0};
                for (long i = 0; i < sw.P; i++)
                    if (in_shard(&sw, i) && status[i] >= 0 && status[i] <= 4) counts[status[i]]++;
                printf("advsweep run: %ld done, %ld failed, %ld diverged, %ld left%s -> %s\n", counts[RUN_DONE],
                       counts[RUN_FAILED], counts[RUN_DIVERGED], counts[RUN_PENDING] + counts[RUN_RUNNING],
                       left ? " (interrupted: rerun the same command to resume)" : "", path);
            }
        }
        rc = comm_agree(c, rc);
        MPI_Bcast(&left, 1, MPI_INT, 0, c->comm);
        if (rc == ADV_OK && left) rc = adv_err(ADV_INTERRUPTED, "interrupted with %d points left; rerun to resume", left);
    }
    int close_rc = store_close(&sw.st);
    if (rc == ADV_OK) rc = comm_agree(c, close_rc);
    /* A sweep whose every point failed is an error, whatever was written: say why. */
    if (rc == ADV_OK) rc = comm_agree(c, comm_rank(c) == 0 && all_failed ? all_failed_error(path) : ADV_OK);
    free(sw.queue);
    free(sw.members);
    free(sw.costs);
    job_destroy(&sw.job);
    return rc;
}
