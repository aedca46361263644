/* driver.c — `advsweep run`: the job, the file, a point source, and what a
 * worker does with a unit; over the master/worker protocol of comm.h.
 *
 * Every rank parses the same job text (broadcast from rank 0), plans the same
 * points and opens the same file (collective; the store maps the job's
 * points to the file's rows by key). Rank 0 then asks the source for training
 * runs and hands them out; workers train and write their own rows. A point's
 * result depends only on its parameters: seeds come from params, never from
 * the rank, the order or the number of restarts. No mpi.h here.
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

#include "advsweep/blas.h"
#include "internal.h"

/* ---- reports ------------------------------------------------------------------------- */

void report_pack(double *msg, const Report *r) {
    msg[0] = (double)r->index;
    msg[1] = r->status;
    msg[2] = r->wall;
    msg[3] = r->min_surrogate;
    msg[4] = r->outcome;
    msg[5] = r->rc;
    msg[6] = r->n_targets;
    msg[7] = (double)r->steps_run;
    msg[8] = (double)r->steps_planned;
    msg[9] = (double)r->resumed;
    msg[10] = (double)r->checkpoints;
    for (int q = 0; q < TARGETS_MAX; q++) {
        msg[REPORT_FIXED + q] = q < r->n_targets ? r->tau[q] : 0.0;
        msg[REPORT_FIXED + TARGETS_MAX + q] = q < r->n_targets ? (double)r->step[q] : -1.0;
    }
    for (int k = 0; k < STATUS_REASON_MAX; k++) msg[REPORT_FIXED + 2 * TARGETS_MAX + k] = (unsigned char)r->reason[k];
}

void report_unpack(Report *r, const double *msg) {
    memset(r, 0, sizeof *r);
    r->index = (long)msg[0];
    r->status = (int)msg[1];
    r->wall = msg[2];
    r->min_surrogate = msg[3];
    r->outcome = (int)msg[4];
    r->rc = (int)msg[5];
    r->n_targets = (int)msg[6];
    r->steps_run = (long)msg[7];
    r->steps_planned = (long)msg[8];
    r->resumed = (long)msg[9];
    r->checkpoints = (long)msg[10];
    if (r->n_targets < 0 || r->n_targets > TARGETS_MAX) r->n_targets = 0;
    for (int q = 0; q < r->n_targets; q++) {
        r->tau[q] = msg[REPORT_FIXED + q];
        r->step[q] = (long)msg[REPORT_FIXED + TARGETS_MAX + q];
    }
    for (int k = 0; k < STATUS_REASON_MAX; k++) r->reason[k] = (char)(unsigned char)msg[REPORT_FIXED + 2 * TARGETS_MAX + k];
    r->reason[STATUS_REASON_MAX - 1] = '\0';
}

/* ---- helpers ------------------------------------------------------------------------- */

int drive_is_final(int status) { return status == RUN_DONE || status == RUN_FAILED || status == RUN_DIVERGED; }

/* Shards split training runs, not rows: a point goes with the run that answers it. */
int drive_in_shard(const Drive *d, long rep) {
    const RunOptions *opt = d->opt;
    return opt->shard_count <= 1 || d->rows[d->costs[rep].trained_as] % opt->shard_count == opt->shard_index;
}

/* Seconds the run of `rep` is estimated to need beyond the time left (<= 0: it fits;
 * 0 without a deadline or a rate). */
static double beyond_deadline(const Drive *d, long rep) {
    double left = d->deadline - adv_now();
    if (!isfinite(left) || !(d->rate > 0)) return 0;
    return sweep_point_seconds(&d->costs[rep], d->rate) - left;
}

int drive_fits(const Drive *d, long rep) {
    if (beyond_deadline(d, rep) <= 0) return 1;
    /* Longer than the time left: without checkpoints it is left for the next job; with
     * them it makes progress here (a point longer than every job's time limit would
     * otherwise never start), and the deadline ends the run (master_next). */
    double every = d->opt->checkpoint_every;
    return every > 0 && d->deadline - adv_now() >= 2 * every;
}

int drive_open(Drive *d, long rep) {
    const int8_t *status = store_status(d->st);
    long n = job_training_members(d->job, rep, d->members);
    for (long j = 0; j < n; j++)
        if (d->selected[d->members[j]] && !drive_is_final(status[d->rows[d->members[j]]])) return 1;
    return 0;
}

/* The point's label; for a run that answers several epsilons, without epsilon. */
static void label_without_epsilon(const Drive *d, char *buf, size_t len, long index) {
    job_point_label(buf, len, d->job, index);
    if (job_training_members(d->job, index, NULL) < 2) return;
    char *at = strstr(buf, "epsilon=");
    if (!at) return;
    char *end = strstr(at, ", ");
    if (end) memmove(at, end + 2, strlen(end + 2) + 1);
    else if (at > buf + 1 && at[-2] == ',') at[-2] = '\0';
    else *at = '\0';
}

static void log_report(Drive *d, const Report *r, int rank) {
    if (r->status != RUN_RUNNING && r->rc == ADV_OK) {
        d->done_cost += d->costs[r->index].cost; /* the rate in the planner's units */
        d->done_wall += r->wall;
        d->rate = d->done_cost / fmax(d->done_wall, 1e-9) * 1e-9;
    }
    if (r->status != RUN_RUNNING) d->finished++;
    d->busy += r->wall;
    if (r->wall > d->longest) d->longest = r->wall;
    if (d->opt->quiet) return;
    char label[512], what[160 + 32 * TARGETS_MAX];
    label_without_epsilon(d, label, sizeof label, r->index);
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
    default:
        snprintf(what, sizeof what, "abandoned (will be redone on resume)%s",
                 r->checkpoints > 0 ? ", from its last checkpoint" : "");
        break;
    }
    long todo = d->src.todo > d->finished ? d->src.todo : d->finished;
    char resumed[64] = "";
    if (r->resumed > 0) snprintf(resumed, sizeof resumed, " (continued from step %ld)", r->resumed);
    printf("[%ld/%ld] point %ld (%s): %s; %.2f s on rank %d%s\n", d->finished, todo, r->index, label, what, r->wall, rank,
           resumed);
    fflush(stdout);
}

/* User plus system CPU seconds of this process. */
static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + 1e-6 * (double)usage.ru_utime.tv_usec + (double)usage.ru_stime.tv_sec +
           1e-6 * (double)usage.ru_stime.tv_usec;
}

/* ---- one training run (any rank) -------------------------------------------------------- */

typedef struct {
    Drive *d;
    long row;      /* the file row whose run is training */
    char env[96];  /* what a bit-identical continuation needs besides the key */
    long saved;    /* checkpoints written */
    StoreCheckpoint *resume; /* the one it continues from (NULL: none) */
    int warned;
} Checkpointing;

/* TrainHooks.checkpoint: the state into PATH.ckpt/KEY; a failure costs only the checkpoint. */
static int save_checkpoint(void *ctx, const void *const *parts, const size_t *lens, int n) {
    Checkpointing *c = ctx;
    lifeline_check(); /* a rank whose job is gone writes nothing more, checkpoints included */
    int rc = store_checkpoint_save(c->d->st, c->row, c->env, parts, lens, n);
    if (rc != ADV_OK && !c->warned++) adv_warn("no checkpoint for row %ld: %s", c->row, adv_errmsg());
    if (rc == ADV_OK) c->saved++;
    return rc;
}

/* TrainHooks.resume_read: the checkpoint this run continues from. */
static int read_checkpoint(void *ctx, void *buf, size_t len) {
    Checkpointing *c = ctx;
    return store_checkpoint_read(c->resume, buf, len) == ADV_OK ? 0 : 1;
}

/* Train the run of representative point `index` once and write every point it
 * answers (the points that differ from it only in epsilon) that is not final yet. */
static void run_point(Drive *d, long index, Report *rep) {
    TrainConfig cfg;
    job_point(&cfg, d->job, index);
    const PointCost *cost = &d->costs[index];
    memset(rep, 0, sizeof *rep);
    rep->index = index;
    rep->min_surrogate = NAN;
    rep->outcome = OUTCOME_NONE;
    rep->steps_run = rep->steps_planned = -1;
    rep->resumed = -1;
    long n_members = job_training_members(d->job, index, d->members);
    const int8_t *status = store_status(d->st);
    int rc = ADV_OK;
    lifeline_check(); /* a rank whose job is gone writes no row */
    for (long k = 0; k < n_members && rc == ADV_OK; k++)
        if (!drive_is_final(status[d->rows[d->members[k]]])) rc = store_mark_running(d->st, d->rows[d->members[k]]);
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
    /* A run longer than checkpoint_every saves its state as it goes, and continues from the last
     * one (PATH.ckpt/KEY: the checkpoint belongs to the point's key, hence to its numerics version). */
    Checkpointing ck = {d, d->rows[index], "", 0, NULL, 0};
    snprintf(ck.env, sizeof ck.env, "BLAS kernel %s, %d thread%s", blas_kernel_name(), omp_get_max_threads(),
             omp_get_max_threads() == 1 ? "" : "s");
    int64_t resumed = -1;
    if (d->opt->checkpoint_every > 0) {
        hooks.checkpoint_ctx = &ck;
        hooks.checkpoint = save_checkpoint;
        hooks.checkpoint_every = d->opt->checkpoint_every;
        if (store_checkpoint_open(d->st, ck.row, ck.env, &ck.resume, &hooks.resume_bytes) != ADV_OK)
            adv_warn("point %ld: %s", index, adv_errmsg());
        if (ck.resume) hooks.resume_read = read_checkpoint;
        hooks.resumed_step = &resumed;
    }
    if (d->store_weights) {
        weights = xcalloc((size_t)(2 * cost->n_trained + cost->n_fixed), sizeof(double));
        hooks.W0_out = weights;
        hooks.W_out = weights + cost->n_trained;
        hooks.fixed_out = weights + 2 * cost->n_trained;
    }
    double start = adv_now();
    uint64_t digest = 0, checked = 0;
    rc = store_training_set_digest(&data, &cfg, &digest);
    if (rc == ADV_OK && cfg.data == DATA_FILE && job_data_digest(d->job, cfg.data_file, &checked) && digest != checked) {
        const char *name = strrchr(cfg.data_file, '/'); /* the reason holds 96 bytes; /params/data_file the path */
        rc = adv_err(ADV_ERR_INPUT, "data file %s changed since the sweep started (its content is in the point's key)",
                     name ? name + 1 : cfg.data_file);
    }
    if (rc == ADV_OK) rc = train_run(&sum, traj, &cfg, data, &hooks);
    if (rc == ADV_OK && ck.resume && resumed < 0)
        adv_warn("point %ld: its checkpoint does not fit this run (another build of advsweep?); it started over",
                 index);
    store_checkpoint_close(&ck.resume);
    rep->resumed = (long)resumed;
    rep->checkpoints = ck.saved;
    if (rc == ADV_INTERRUPTED) { /* abandoned: stays "running", redone on resume (from its checkpoint) */
        rep->status = RUN_RUNNING;
        rep->rc = rc;
        rep->wall = adv_now() - start;
        goto cleanup;
    }
    if (rc != ADV_OK) { /* a failed point is a result: record why */
        memset(&sum, 0, sizeof sum);
        sum.status = RUN_FAILED;
        adv_text_clip(sum.reason, sizeof sum.reason, adv_errmsg()); /* cut at a word, "…" */
        sum.min_surrogate = sum.final_surrogate = NAN;
        sum.eps_step = sum.diverged_step = -1;
        sum.steps_run = sum.steps_planned = -1;
        sum.outcome = OUTCOME_NONE;
        sum.wall_time = adv_now() - start;
        traj->count = traj->eval_count = 0;
    }
    sum.trained_as = d->rows[index]; /* a row of the file, like /plan/trained_as */
    StoreWorker worker = {comm_rank(d->c), omp_get_max_threads(), "", ""};
    snprintf(worker.host, sizeof worker.host, "%s", d->host);
    snprintf(worker.blas_kernel, sizeof worker.blas_kernel, "%s", blas_kernel_name()); /* results differ by kernel */
    StorePointData extra = {0};
    if (d->store_weights && sum.status != RUN_FAILED) {
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
        long member = d->members[k], row = d->rows[member];
        if (drive_is_final(status[row])) continue; /* written before an interruption: never rewritten */
        TrainConfig mcfg;
        job_point(&mcfg, d->job, member);
        TrainSummary msum = sum;
        msum.eps_step = -1;
        for (int q = 0; q < sum.n_targets; q++)
            if (sum.target_tau[q] == mcfg.epsilon) msum.eps_step = sum.target_step[q];
        lifeline_check(); /* the job may have ended while this point trained */
        int wrc = store_write_point(d->st, row, &msum, traj, &worker, d->store_weights ? &extra : NULL);
        if (wrc != ADV_OK) {
            adv_warn("point %ld: could not write its results: %s", member, adv_errmsg());
            rep->status = RUN_RUNNING;
            rep->rc = wrc;
            goto cleanup;
        }
    }
    store_checkpoint_remove(d->st, ck.row); /* its rows are written (also one an earlier run left) */
    rep->status = sum.status;
    rep->rc = ADV_OK;
    rep->wall = sum.wall_time;
    rep->min_surrogate = sum.min_surrogate;
    rep->outcome = sum.outcome;
    snprintf(rep->reason, sizeof rep->reason, "%s", sum.reason);
    rep->steps_run = (long)sum.steps_run;
    rep->steps_planned = (long)sum.steps_planned;
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

/* ---- the protocol's callbacks -------------------------------------------------------------- */

static long master_next(void *ctx, int rank) {
    Drive *d = ctx;
    if (signals_stop_requested()) return DISPATCH_DONE;
    long rep = d->src.next(d->src.ctx, rank);
    if (rep >= 0 && !d->beyond_deadline && beyond_deadline(d, rep) > 0) { /* started on checkpoints (drive_fits) */
        d->beyond_deadline = 1; /* the time limit ends this run (signals_deadline), saving the point's state */
        if (!d->opt->quiet)
            printf("advsweep run: starting a point of ~%.0f s with %.0f s left: it checkpoints every %g s and "
                   "continues in the next run; at the time limit this run stops\n",
                   sweep_point_seconds(&d->costs[rep], d->rate), d->deadline - adv_now(), d->opt->checkpoint_every);
    }
    return rep;
}

static void master_done(void *ctx, long unit, const double *result, int rank) {
    Drive *d = ctx;
    Report r;
    report_unpack(&r, result);
    r.index = unit;
    log_report(d, &r, rank);
    d->src.done(d->src.ctx, &r);
}

static void worker_run(void *ctx, long unit, double *result, int len) {
    Drive *d = ctx;
    Report r;
    (void)len;
    run_point(d, unit, &r);
    report_pack(result, &r);
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

static void layout_label(char *buf, size_t len, long index, const void *ctx) {
    job_point_label(buf, len, (const Job *)ctx, index);
}

/* The file layout of the job; the memory budget of stored weights. */
static int build_layout(StoreLayout *layout, TrainConfig **configs, double **flops, long **reps, Drive *d) {
    long P = d->P;
    *configs = xcalloc((size_t)P, sizeof(TrainConfig));
    *flops = xcalloc((size_t)P, sizeof(double));
    *reps = xcalloc((size_t)P, sizeof(long));
    memset(layout, 0, sizeof *layout);
    for (long i = 0; i < P; i++) {
        job_point(&(*configs)[i], d->job, i);
        const PointCost *c = &d->costs[i];
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
    layout->job_text = job_text(d->job);
    layout->job_name = job_name(d->job);
    layout->axes = job_axes(d->job);
    layout->shard_index = d->opt->shard_count > 1 ? d->opt->shard_index : 0;
    layout->shard_count = d->opt->shard_count > 1 ? d->opt->shard_count : 1;
    layout->store_weights = d->store_weights;
    layout->ranks = comm_size(d->c);
    layout->omp_threads = omp_get_max_threads();
    layout->blas_version = openblas_get_config();
    layout->blas_kernel = blas_kernel_description();
    layout->label = layout_label;
    layout->label_ctx = d->job;
    if (d->store_weights) {
        double per_point = (double)(2 * layout->weights_max + layout->fixed_max) +
                           (double)layout->data_n_max * (double)(layout->data_d_max + 1);
        double mb = 8.0 * per_point * (double)P / 1048576.0;
        if (mb > job_store_weights_max_mb(d->job))
            return adv_err(ADV_ERR_INPUT,
                           "options: store_weights would need %.0f MB (more than store_weights_max_mb = %.0f); "
                           "store weights only for small networks or raise the limit",
                           mb, job_store_weights_max_mb(d->job));
    }
    return ADV_OK;
}

/* The output must be none of the inputs (the job file, a data file) and, if it
 * exists, a sweep file: checked before anything is written. */
static int check_output(const Drive *d) {
    long n = job_data_file_count(d->job);
    const char **inputs = xcalloc((size_t)n + 1, sizeof *inputs), **roles = xcalloc((size_t)n + 1, sizeof *roles);
    int count = 0;
    if (d->opt->job_path) inputs[count] = d->opt->job_path, roles[count++] = "job file";
    for (long k = 0; k < n; k++) inputs[count] = job_data_file_path(d->job, k), roles[count++] = "data file";
    int rc = store_check_output(d->path, inputs, roles, count);
    free(inputs);
    free(roles);
    return rc;
}

/* The points --where selects (all without one): ADV_ERR_INPUT for a typo or an empty selection. */
static int select_points(Drive *d) {
    d->selected = xcalloc((size_t)d->P, 1);
    if (!d->opt->where) {
        memset(d->selected, 1, (size_t)d->P);
        return ADV_OK;
    }
    Where *w = NULL;
    TRY(where_parse(&w, d->opt->where));
    long n = 0;
    for (long i = 0; i < d->P; i++) {
        TrainConfig cfg;
        job_point(&cfg, d->job, i);
        d->selected[i] = (unsigned char)where_match(w, &cfg);
        n += d->selected[i];
    }
    int rc = where_check_used(w, n, "the job");
    where_destroy(&w);
    return rc;
}

/* Points of the job the run was asked for (selected, in this shard) that are not final. */
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

long drive_points_left(Drive *d, long *counts) {
    const int8_t *status = store_status(d->st);
    long left = 0;
    for (long i = 0; counts && i < RUN_STATUSES; i++) counts[i] = 0;
    for (long i = 0; i < d->P; i++) {
        if (!d->selected[i] || !drive_in_shard(d, d->costs[i].trained_as)) continue;
        int s = status[d->rows[i]];
        if (counts && s >= 0 && s < RUN_STATUSES) counts[s]++;
        left += !drive_is_final(s);
    }
    return left;
}

/* Collective: OpenMP threads per rank. OMP_NUM_THREADS, when set, is the user's
 * (the SLURM scripts set it from --cpus-per-task) and is kept. Unset, OpenMP gives
 * every rank all of the node's cores, so `mpirun -n 3` on two cores runs four
 * threads on two cores, and OpenMP's spinning waits (OpenBLAS, our passes) make
 * that far slower than one thread per rank (measured: the demo 100 s against 3.5 s).
 * Each training rank takes its share of the cores it may run on instead. Results do
 * not depend on it: a point trained with 1 and 2 threads gives the same bits. */
static void choose_threads(Drive *d) {
    int workers = comm_node_workers(d->c); /* collective: every rank, before any early return */
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) {
        snprintf(d->threads_from, sizeof d->threads_from, "OMP_NUM_THREADS");
        return;
    }
    int cores = omp_get_num_procs(); /* the cores this rank may run on (its affinity mask) */
    int share = cores / workers > 1 ? cores / workers : 1;
    omp_set_num_threads(share);
    snprintf(d->threads_from, sizeof d->threads_from, "%d core%s / %d training rank%s on the node; OMP_NUM_THREADS to choose",
             cores, cores == 1 ? "" : "s", workers, workers == 1 ? "" : "s");
}

/* Rank 0, on resume: finished points of the file that another BLAS kernel trained.
 * Their results differ from this run's in the last bits, so the file will mix
 * kernels; say so once (rank 0's kernel stands for the run's: every rank loads
 * the same library under the same environment). */
static int warn_other_kernels(Drive *d) {
    long n = 0;
    char names[256];
    const char *mine = blas_kernel_name();
    int rc = store_other_kernels(d->st, mine, &n, names, sizeof names);
    if (rc == ADV_OK && n > 0)
        adv_warn("%s: %ld finished point%s of the file %s trained under another BLAS kernel (%s) than this run's "
                 "(%s); results differ in the last bits between kernels (each point's kernel: /worker/blas_kernel)",
                 d->path, n, n == 1 ? "" : "s", n == 1 ? "was" : "were", names, mine);
    return rc;
}

int drive_run(Comm *c, const RunOptions *opt) {
    Drive d;
    int all_failed = 0; /* rank 0: every point the run was asked for failed */
    memset(&d, 0, sizeof d);
    double t_begin = adv_now();
    d.c = c;
    d.opt = opt;
    gethostname(d.host, sizeof d.host - 1);
    choose_threads(&d);
    if (opt->shard_count > 1 && (opt->shard_index < 0 || opt->shard_index >= opt->shard_count))
        return adv_err(ADV_ERR_INPUT, "option --shard: index %d is not in 0..%d", opt->shard_index,
                       opt->shard_count - 1);
    if (opt->fresh && opt->extend)
        return adv_err(ADV_ERR_INPUT, "options --fresh and --extend: choose one (--fresh replaces the file, "
                                      "--extend keeps its results and adds the job's new points)");

    /* 1. The same job on every rank, its plan, and the points --where selects. */
    char *text = NULL;
    int rc = ADV_OK;
    if (comm_rank(c) == 0) {
        if (opt->job_path) rc = job_read_text(opt->job_path, &text);
        else text = xstrdup(job_default_text());
    }
    rc = comm_agree(c, rc);
    if (rc != ADV_OK) return rc;
    comm_bcast_text(c, &text, 0);
    rc = job_parse(&d.job, text, opt->job_path ? opt->job_path : "(default job)");
    free(text);
    /* every data file opened and checked before anything runs (each rank binds its own copy) */
    if (rc == ADV_OK) rc = drive_bind_data(d.job, opt->job_path, comm_rank(c) == 0);
    if (rc == ADV_OK) {
        d.P = job_points(d.job);
        d.store_weights = job_store_weights(d.job);
        d.members = xcalloc((size_t)job_training_group_max(d.job), sizeof(long));
        rc = sweep_costs(&d.costs, d.job);
    }
    if (rc == ADV_OK) rc = select_points(&d);
    if (rc == ADV_OK && job_search(d.job)->on && !opt->where && opt->shard_count > 1)
        rc = adv_err(ADV_ERR_INPUT, "option --shard: a search job is not sharded (the search decides from all its "
                                    "runs); run it with more ranks, or with --where as a grid");
    rc = comm_agree(c, rc);
    if (rc == ADV_OK) { /* memory before anything is allocated or written */
        MemBudget mem;
        comm_mem_budget(c, opt->mem_limit, &mem);
        /* every selected point (the shards' rows are known only once the file is open) */
        rc = comm_agree(c, comm_rank(c) == 0 ? sweep_check_memory(d.job, d.costs, d.selected, &mem) : ADV_OK);
    }

    /* 2. The file, collectively: created, resumed, or extended with the job's new points.
     * From here on a rank whose job is gone writes nothing (comm.h, lifeline). */
    if (rc == ADV_OK) lifeline_begin(c);
    StoreLayout layout;
    TrainConfig *configs = NULL;
    double *flops = NULL;
    long *reps = NULL;
    if (rc == ADV_OK) rc = comm_agree(c, build_layout(&layout, &configs, &flops, &reps, &d));
    if (rc == ADV_OK) {
        char given[sizeof d.path], *target = NULL;
        if (opt->output) snprintf(given, sizeof given, "%s", opt->output);
        else snprintf(given, sizeof given, "%s.h5", job_name(d.job));
        if (comm_rank(c) == 0) { /* through a symlink: the target (one lock per file; --fresh keeps the link) */
            rc = store_output_target(given, d.path, sizeof d.path);
            target = xstrdup(d.path);
        }
        rc = comm_agree(c, rc);
        if (rc == ADV_OK) comm_bcast_text(c, &target, 0);
        if (rc == ADV_OK) snprintf(d.path, sizeof d.path, "%s", target);
        free(target);
        int mode = opt->fresh ? STORE_FRESH : opt->extend ? STORE_EXTEND : STORE_RESUME;
        if (opt->retry_damaged && !opt->fresh) mode |= STORE_RETRY_DAMAGED;
        if (rc == ADV_OK && comm_rank(c) == 0) rc = check_output(&d);
        rc = comm_agree(c, rc);
        if (rc == ADV_OK) rc = store_open(&d.st, d.path, &layout, comm_handle(c), mode);
        rc = comm_agree(c, rc);
        if (rc == ADV_OK && opt->retry_damaged && comm_rank(c) == 0 && !opt->quiet)
            printf("advsweep run: %ld damaged points will be rerun\n", store_damaged_reset(d.st));
        if (rc == ADV_OK && comm_rank(c) == 0) rc = warn_other_kernels(&d);
        rc = comm_agree(c, rc);
    }
    free(configs);
    free(flops);
    free(reps);
    if (rc == ADV_OK) {
        d.rows = store_rows(d.st);
        if (comm_rank(c) == 0 && opt->extend && !opt->quiet)
            printf("advsweep run: %s extended with %ld new point%s of job '%s' (%ld points in the file)\n", d.path,
                   store_added(d.st), store_added(d.st) == 1 ? "" : "s", job_name(d.job), store_points(d.st));
    }
    if (rc == ADV_OK && opt->retry_failed) {
        long reset = 0;
        unsigned char *mask = xcalloc((size_t)store_points(d.st) + 1, 1);
        for (long i = 0; i < d.P; i++) mask[d.rows[i]] = d.selected[i];
        rc = comm_agree(c, store_reset_failed(d.st, mask, &reset));
        free(mask);
        if (rc == ADV_OK && comm_rank(c) == 0 && !opt->quiet)
            printf("advsweep run: %ld failed or diverged points will be rerun\n", reset);
    }

    /* 3. Dispatch: rank 0 asks the source (the search of a `search:` job, else the grid). */
    if (rc == ADV_OK) {
        d.deadline = deadline_from(opt, comm_rank(c) == 0);
        d.rate = opt->rate_gflops;
        int search = job_search(d.job)->on && !opt->where;
        if (comm_rank(c) == 0) rc = search ? source_search(&d.src, &d) : source_grid(&d.src, &d);
        rc = comm_agree(c, rc);
    }
    if (rc == ADV_OK) {
        if (comm_rank(c) == 0 && !opt->quiet) {
            char what[128];
            if (job_search(d.job)->on && !opt->where)
                snprintf(what, sizeof what, "a search over %s", job_search(d.job)->axis->name);
            else
                snprintf(what, sizeof what, "%ld to run%s%s", d.src.todo, opt->where ? " (--where)" : "",
                         opt->shard_count > 1 ? " in this shard" : "");
            printf("advsweep run: job '%s', %ld points, %s, %d rank%s (%s), file %s; BLAS kernel %s; %d thread%s per "
                   "rank (%s)\n",
                   job_name(d.job), d.P, what, comm_size(c), comm_size(c) == 1 ? "" : "s",
                   comm_size(c) == 1 ? "serial" : "1 master + workers", d.path, blas_kernel_description(),
                   omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s", d.threads_from);
            fflush(stdout);
        }
        double start = adv_now(), cpu_start = cpu_seconds();
        PointSource ps = {&d, master_next, master_done};
        PointWorker pw = {&d, worker_run};
        signals_begin(c, d.path); /* Ctrl-C, SIGTERM and `advsweep stop`, relayed to the workers */
        /* The time limit is a stop request for points still running then (overrun estimates,
         * or started on checkpoints): the run ends by it even when the batch system's
         * SIGTERM comes late, or never. */
        if (comm_rank(c) == 0 && isfinite(d.deadline)) signals_deadline(d.deadline);
        rc = dispatch_run(c, &ps, &pw, REPORT_LEN);
        signals_end(c);
        comm_idle_barrier(c); /* workers that finish early sleep here instead of spinning in the close */
        lifeline_end();       /* every row is written; from here rank 0 may finish and exit first */
        if (comm_rank(c) == 0 && comm_size(c) > 1 && d.finished > 0 && !opt->quiet) {
            /* How well the dispatch did: the makespan against the best possible,
             * max(total point time / workers, longest point), and the master's CPU. */
            double makespan = adv_now() - start, workers = (double)(comm_size(c) - 1);
            double ideal = fmax(d.busy / workers, d.longest);
            double cpu = cpu_seconds(), wall = adv_now() - t_begin;
            printf("advsweep run: makespan %.2f s, ideal max(sum/workers, longest) %.2f s (%+.1f%%); master CPU "
                   "%.3f s while dispatching (%.2f%%), %.3f s in all (%.2f%% of %.2f s)\n",
                   makespan, ideal, 100.0 * (makespan / fmax(ideal, 1e-9) - 1.0), cpu - cpu_start,
                   100.0 * (cpu - cpu_start) / fmax(makespan, 1e-9), cpu, 100.0 * cpu / fmax(wall, 1e-9), wall);
        }

        /* 4. Complete, or interrupted with points left? */
        long left = 0;
        if (comm_rank(c) == 0) {
            rc = store_refresh_status(d.st);
            if (rc == ADV_OK) rc = d.src.finish ? d.src.finish(d.src.ctx) : ADV_OK;
            if (rc == ADV_OK) left = d.src.left(d.src.ctx);
            long counts[RUN_STATUSES];
            drive_points_left(&d, counts);
            long asked = 0; /* points the run was asked for (selected, in the shard), skipped ones aside */
            for (int k = 0; k < RUN_STATUSES; k++) asked += k == RUN_SKIPPED ? 0 : counts[k];
            all_failed = rc == ADV_OK && asked > 0 && counts[RUN_FAILED] == asked;
            if (rc == ADV_OK && !opt->quiet) {
                printf("advsweep run: %ld done, %ld failed, %ld diverged, %ld left", counts[RUN_DONE],
                       counts[RUN_FAILED], counts[RUN_DIVERGED], left);
                if (counts[RUN_SKIPPED]) printf(", %ld skipped (not needed)", counts[RUN_SKIPPED]);
                printf("%s -> %s\n", left ? " (interrupted: rerun the same command to resume)" : "", d.path);
            }
        }
        rc = comm_agree(c, rc);
        comm_bcast_longs(c, &left, 1, 0);
        if (rc == ADV_OK && left)
            rc = adv_err(ADV_INTERRUPTED, "interrupted with %ld points left; rerun to resume", left);
    }
    if (d.src.destroy) d.src.destroy(d.src.ctx);
    int close_rc = store_close(&d.st);
    if (rc == ADV_OK) rc = comm_agree(c, close_rc);
    /* A sweep whose every point failed is an error, whatever was written: say why. */
    if (rc == ADV_OK) rc = comm_agree(c, comm_rank(c) == 0 && all_failed ? all_failed_error(d.path) : ADV_OK);
    lifeline_end(); /* (when the dispatch did not run) */
    free(d.selected);
    free(d.members);
    free(d.costs);
    job_destroy(&d.job);
    return rc;
}
