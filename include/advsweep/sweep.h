/* sweep.h — job files, grid expansion, the cost model and the plan.
 *
 * A job file (YAML, parsed with libyaml) names fixed parameters, grid axes
 * and replicate seeds:
 *
 *   name: width-map              # names the default output file (NAME.h5)
 *   seeds: 3                     # replicates: seed = fixed seed + 0, 1, 2
 *   fixed: {d: 8, n: 32, delta: 0.1}
 *   grid:                        # Cartesian product, the last axis fastest
 *     m: {from: 16, to: 1024, factor: 2}     # log-spaced (geometric) range
 *     epsilon: [0.2, 0.1, 0.05]              # list
 *     H: {from: 1, to: 3, step: 1}           # linear range
 *     R: [1, inf]
 *   options: {store_weights: false, store_weights_max_mb: 1024}
 *
 * Keys of `fixed` and `grid` are the parameter names of config.h. Points are
 * numbered in expansion order (axes as written, seeds innermost); a point's
 * configuration depends only on the job, never on ranks or order.
 * Must not use MPI or HDF5.
 */
#ifndef ADVSWEEP_SWEEP_H
#define ADVSWEEP_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "advsweep/config.h"
#include "advsweep/memory.h"
#include "advsweep/train.h"

typedef struct Job Job;

/* Parse job text; `origin` names it in messages ("jobs/demo.yaml"). Errors are
 * ADV_ERR_INPUT with "ORIGIN:LINE: key 'K': what is wrong". Every point is
 * validated (config_validate) so a bad combination is reported before
 * anything runs. *out is NULL on failure. Bounded: at most 10^6 points,
 * nesting 64 deep, 2.1e6 YAML nodes, 1000 anchors and 1000 aliases (checked
 * before the document is built), so any text is refused or accepted in time
 * and memory linear in its size (plus the points). */
int job_parse(Job **out, const char *text, const char *origin);
/* Read a job file's text (caller frees *text). ADV_ERR_INPUT if it cannot be
 * read, is not text or is larger than 64 MiB. */
int job_read_text(const char *path, char **text);
/* Read and parse a file (ADV_ERR_INPUT if it cannot be read). */
int job_load(Job **out, const char *path);
void job_destroy(Job **job);

/* The embedded default sweep (`advsweep run` with no job file). */
const char *job_default_text(void);

const char *job_text(const Job *job);   /* as given */
const char *job_name(const Job *job);
long job_points(const Job *job);
/* Axis names in expansion order, comma-separated ("m,attack,seed"). */
const char *job_axes(const Job *job);
/* Configuration of point `index` (0 <= index < job_points). */
void job_point(TrainConfig *cfg, const Job *job, long index);
/* The point's axis values as "m=64, attack=pgd, seed=2" into buf[0..len)
 * ("" when the job has no axes); truncated to fit. */
void job_point_label(char *buf, size_t len, const Job *job, long index);
/* Points that differ only in epsilon are one training run when epsilon does not
 * change the training (train_uses_epsilon == 0, e.g. lr_rule free): every point's
 * `targets` holds all the job's epsilon values, so one run answers them all.
 * job_training_rep gives the point whose training stands for `index` (itself,
 * or the member of its group with the first epsilon of the axis);
 * job_training_members writes the group of a representative `rep` (itself
 * first) into members (may be NULL) and returns its size (1 if not grouped).
 * At most the epsilon axis's length. */
long job_training_rep(const Job *job, long index);
long job_training_members(const Job *job, long rep, long *members);
/* The largest group size of the job (for buffers). */
long job_training_group_max(const Job *job);

/* ---- data files (data=file points) ----
 *
 * job_parse keeps data_file as written. Before the points are used (plan,
 * run, the file layout), the caller, which may open files, binds each
 * distinct data file k < job_data_file_count: it resolves the name
 * job_data_file(job, k) (relative names against the job file's directory),
 * reads the file and calls job_bind_data with the path it opened, the
 * file's shape and its content digest. From then on job_point gives the
 * points of that file data_file = the bound path, and n and d from the file
 * unless the job gives them, and job_grid_hash covers the file's digest in
 * place of its name. Not thread-safe (it changes the job). */
long job_data_file_count(const Job *job);
const char *job_data_file(const Job *job, long k);      /* as written; NULL if k is out of range */
const char *job_data_file_path(const Job *job, long k); /* as bound; NULL before job_bind_data */
/* ADV_ERR_INPUT, naming the parameter (with the job file's line), the file
 * and both values, when the job gives an n or d that differs from the
 * file's (for an axis: any of its values); or when path does not fit
 * CONFIG_TEXT_MAX. The job is unchanged on failure. */
int job_bind_data(Job *job, long k, const char *path, long n, long d, uint64_t digest);
/* 1 and *digest (may be NULL) if `path` is a bound data file of the job, else 0. */
int job_data_digest(const Job *job, const char *path, uint64_t *digest);

/* The grid's structure: axes in expansion order, their lengths, the replicate
 * seeds (the fastest digit). coords has job_axis_count + 1 entries (the
 * replicate last): point index <-> position on every axis. */
int job_axis_count(const Job *job);
const ParamSpec *job_axis(const Job *job, int a);
long job_axis_length(const Job *job, int a);
long job_seeds(const Job *job);
void job_point_coords(const Job *job, long index, long *coords);
long job_point_index(const Job *job, const long *coords);

/* The job's `search:` section (on = 0 without one): find, for every
 * combination of the other axes, the smallest value of `axis` at which the
 * rule holds for L_A <= `target` (always epsilon), by training only the points
 * needed (drive.h). rule: all seeds (fraction 1) or a fraction of them;
 * budgets: fractions of T at which m* is resolved too (1 always among them). */
#define JOB_SEARCH_BUDGETS 8
typedef struct {
    int on;
    const ParamSpec *axis, *target;
    double fraction;
    int n_budgets;
    double budgets[JOB_SEARCH_BUDGETS];
} JobSearch;
const JobSearch *job_search(const Job *job);

/* Fingerprint of the expanded grid: every point's parameters as text, with
 * a bound data file's content digest in place of its path (a moved file
 * keeps the fingerprint, regenerated data changes it). */
uint64_t job_grid_hash(const Job *job);
int job_store_weights(const Job *job);
double job_store_weights_max_mb(const Job *job);

/* ---- point subsets: --where (where.c) ------------------------------------------ */

/* "attack=pgd,m<=64,seed=1..3": clauses joined by ',' (all must hold), each
 * NAME OP VALUE with NAME a parameter, OP one of = != < <= > >=, and for = and
 * != a list of values or inclusive ranges a..b joined by '|'
 * ("m=8|16|64..128"). Ranges and < <= > >= need a numeric parameter. Values
 * are checked like the parameter's own (param_set): a typo is ADV_ERR_INPUT
 * naming it. Reals compare to 6 significant digits (the precision of the
 * per-point lines), so "epsilon=0.029356" finds 0.0293559853525. */
typedef struct Where Where;
int where_parse(Where **out, const char *expr);
void where_destroy(Where **w);
/* Does cfg satisfy every clause? Also records, for where_check_used, which
 * listed values matched and the values each named parameter takes. */
int where_match(Where *w, const TrainConfig *cfg);
/* After matching a set of points (`what`: "the job", "FILE"): ADV_ERR_INPUT if
 * no point matched, or if a value listed after = matched no point (naming it
 * and the values the parameter takes). */
int where_check_used(const Where *w, long matched, const char *what);
const char *where_text(const Where *w);

/* ---- cost model and plan ----------------------------------------------------- */

typedef struct {
    double cost;       /* train_plan's cost in FLOP-equivalents: the GEMM FLOPs (T x passes per step x
                          n x m^2 H, + evaluations) plus per-pass and elementwise work */
    double bytes;      /* memory of one run */
    long records, evals;
    long n_trained, n_fixed;
    int n_targets;     /* targets the run answers */
    long trained_as;   /* job_training_rep: cost is 0 on points another point's run answers */
} PointCost;

/* costs[i] for every point (array of job_points entries, caller frees).
 * ADV_ERR_INPUT naming the first point whose configuration is invalid. */
int sweep_costs(PointCost **costs, const Job *job);

/* order[0..n) = point indices, costliest first (ties: lower index first). */
void sweep_order(long *order, const PointCost *costs, long n);

/* The rate assumed when none was measured: GFLOP/s per core (x cpus_per_task).
 * Measured here: 8.7 GFLOP/s per core over the default job's small shapes,
 * 15-25 on m >= 256 (`advsweep bench`); 5 keeps estimates on the safe side. */
#define SWEEP_DEFAULT_GFLOPS_PER_CORE 5.0

typedef struct {
    double rate_gflops;   /* achieved GFLOP/s per rank (bench); <= 0: the default above */
    int rate_measured;    /* 1 if rate_gflops came from `advsweep bench` */
    long ranks;           /* MPI ranks including the master (0 = suggest) */
    long cpus_per_task;   /* threads per rank */
    double mem_per_rank_mb;   /* budget; points above it are refused */
    double max_hours;     /* partition time limit (0 = none) */
} PlanRequest;

typedef struct {
    long points;
    double total_cost, max_cost, max_bytes; /* FLOP-equivalents (PointCost.cost), bytes */
    double core_hours;         /* total time x cpus_per_task at the rate */
    long ranks, cpus_per_task; /* suggested request */
    double wall_hours;         /* estimated makespan of the suggestion */
    double time_limit_hours;   /* suggested --time (with margin), capped at max_hours */
    int needs_resubmits;       /* makespan exceeds max_hours: resubmission chain */
} SweepPlan;

/* Plan a job under `req`. ADV_ERR_INPUT if a point needs more memory than
 * req->mem_per_rank_mb (naming the point and its size). */
int sweep_plan(SweepPlan *plan, const Job *job, const PointCost *costs, const PlanRequest *req);

/* ADV_ERR_INPUT naming the largest point (index, m, H, n, d, bytes) if any
 * training run whose point has mask[i] != 0 (mask: job_points entries; NULL:
 * every point) needs more memory than the budget, with how many do; ADV_OK
 * otherwise. */
int sweep_check_memory(const Job *job, const PointCost *costs, const unsigned char *mask, const MemBudget *b);

/* Estimated seconds of one point at `rate_gflops` (per rank). */
double sweep_point_seconds(const PointCost *cost, double rate_gflops);

#endif
