/* train.c — projected adversarial gradient descent (Sec. 4), its step-size and
 * step-count rules (Thm 4.1, Thm 5.1), the recording schedules and the summary.
 *
 * The loop (stopping rules, per-target steps, outcomes, recording, evaluation,
 * divergence) is written once, over the compute-backend interface (backend.h):
 * the backend of the run's precision owns every numeric buffer (allocated once,
 * nothing inside the loop); `advsweep bench` drives the same backend functions.
 * Must not use MPI or HDF5.
 */
#include "advsweep/train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/backend.h"

#define SFIELD(name, type, help) {#name, type, offsetof(TrainSummary, name), sizeof(((TrainSummary *)0)->name), help}
const SummaryField SUMMARY_FIELDS[] = {
    SFIELD(status, FIELD_I32, "0 pending, 1 done, 2 failed, 3 diverged, 4 running"),
    SFIELD(reason, FIELD_TEXT, "why the point failed or diverged"),
    SFIELD(lr, FIELD_F64, "step size alpha used"),
    SFIELD(steps_planned, FIELD_I64, "T"),
    SFIELD(steps_run, FIELD_I64, "last step evaluated"),
    SFIELD(min_surrogate, FIELD_F64, "min over t >= 1 of L_A(W_t)"),
    SFIELD(min_step, FIELD_I64, "step of min_surrogate"),
    SFIELD(eps_step, FIELD_I64, "first t >= 1 with L_A(W_t) <= epsilon, -1 if none"),
    SFIELD(init_surrogate, FIELD_F64, "L_A(W_0)"),
    SFIELD(final_surrogate, FIELD_F64, "L_A at steps_run"),
    SFIELD(final_clean_loss, FIELD_F64, "clean loss at steps_run"),
    SFIELD(final_clean_acc, FIELD_F64, "clean accuracy at steps_run"),
    SFIELD(final_surrogate_acc, FIELD_F64, "accuracy on the training attack's points"),
    SFIELD(final_robust_loss, FIELD_F64, "strong-attack robust-loss estimate at steps_run"),
    SFIELD(final_robust_acc, FIELD_F64, "strong-attack robust accuracy at steps_run"),
    SFIELD(final_dist, FIELD_F64, "distance from init at steps_run, units of R"),
    SFIELD(max_dist, FIELD_F64, "largest recorded distance from init"),
    SFIELD(wall_time, FIELD_F64, "seconds"),
    SFIELD(flops, FIELD_F64, "counted floating-point operations"),
    SFIELD(diverged_step, FIELD_I64, "step of the first NaN/Inf, -1 if none"),
    SFIELD(data_points, FIELD_I64, "training points"),
    SFIELD(outcome, FIELD_I32, "why the run ended: 0 reached, 1 plateau, 2 budget (censored), 3 diverged; -1 none"),
    SFIELD(trained_as, FIELD_I64, "index of the point whose training produced this row"),
};
const int N_SUMMARY_FIELDS = (int)(sizeof SUMMARY_FIELDS / sizeof SUMMARY_FIELDS[0]);

NetShape train_net_shape(const TrainConfig *cfg) {
    NetShape s = {cfg->model, cfg->activation, cfg->input_layer, (long)cfg->m,
                  cfg->model == MODEL_DEEP ? (long)cfg->H : 1, (long)cfg->d};
    return s;
}

/* ----- plan ------------------------------------------------------------------------ */

/* Forward and backward (input-gradient) passes of one call of an attack on the batch. */
static void attack_passes(const AttackSpec *a, double *forward, double *backward) {
    switch (a->kind) {
    case ATTACK_FGSM: *forward = 1, *backward = 1; break;
    case ATTACK_PGD:
        *forward = (double)a->restarts * (double)(a->steps + 1);
        *backward = (double)a->restarts * (double)a->steps;
        break;
    default: *forward = *backward = 0; break;
    }
}

double cost_per_activation(int activation) {
    switch (activation) {
    case ACT_SOFTPLUS: return 430.0; /* exp and log1p per entry */
    case ACT_QUADRELU: return 100.0;
    default: return 75.0;
    }
}

/* The two schedules' lengths. Counting the record schedule costs up to
 * record_max exp() calls, and a sweep plans up to 10^6 points that nearly all
 * share (T, record_dense, record_max, eval_count): the last counts are kept
 * (per thread), so results are those of the schedule functions themselves. */
static void schedule_counts(long *records, long *evals, const TrainConfig *cfg, int64_t T) {
    static _Thread_local struct {
        int valid;
        int64_t T, dense, max, eval_count;
        long records, evals;
    } last;
    if (!last.valid || last.T != T || last.dense != cfg->record_dense || last.max != cfg->record_max ||
        last.eval_count != cfg->eval_count) {
        last.records = train_record_schedule(NULL, cfg, T);
        last.evals = train_eval_schedule(NULL, cfg, T);
        last.T = T, last.dense = cfg->record_dense, last.max = cfg->record_max, last.eval_count = cfg->eval_count;
        last.valid = 1;
    }
    *records = last.records;
    *evals = last.evals;
}

int train_plan(TrainPlan *plan, const TrainConfig *cfg) {
    memset(plan, 0, sizeof *plan);
    TRY(config_validate(cfg));
    double m = (double)cfg->m, eps = cfg->epsilon;
    int theorem = cfg->lr_rule == LR_RULE_THEOREM;
    /* auto c_alpha: both rules take the same step at epsilon = 0.1 */
    plan->c_alpha = cfg->c_alpha > 0 ? cfg->c_alpha : theorem ? 400.0 : 40.0;
    double scale = theorem ? eps : 1.0; /* the theorems' alpha is proportional to epsilon */
    if (cfg->model == MODEL_DEEP) {
        double H = (double)cfg->H;
        plan->lr = cfg->lr > 0 ? cfg->lr : plan->c_alpha * scale / (m * H * H); /* Thm 4.1 */
    } else {
        plan->lr = cfg->lr > 0 ? cfg->lr : plan->c_alpha * scale; /* Thm 5.1 */
    }
    if (cfg->steps > 0) {
        plan->steps = cfg->steps;
    } else if (!theorem) {
        plan->steps = cfg->max_steps; /* no epsilon to derive T from: the budget is the cap */
    } else {
        double T = cfg->model == MODEL_DEEP ? cfg->c_T * cfg->R * cfg->R / (m * eps * plan->lr) /* Thm 4.1 */
                                            : cfg->c_T * sqrt(m) / plan->lr;                    /* Thm 5.1 */
        if (!(T <= (double)cfg->max_steps)) {
            plan->steps = cfg->max_steps;
            plan->steps_capped = 1;
        } else {
            plan->steps = (int64_t)ceil(T);
            if (plan->steps < 1) plan->steps = 1;
        }
    }
    plan->n_targets = config_targets(plan->targets, cfg);
    if (plan->n_targets < 1) return ADV_ERR_INPUT;
    plan->stop_target = cfg->early_stop_target > 0 ? cfg->early_stop_target : plan->targets[plan->n_targets - 1];
    schedule_counts(&plan->records, &plan->evals, cfg, plan->steps);
    plan->attack = (AttackSpec){cfg->attack,
                                (long)cfg->pgd_steps,
                                cfg->pgd_step > 0 ? cfg->pgd_step : 2.5 * cfg->delta / (double)cfg->pgd_steps,
                                (long)cfg->pgd_restarts,
                                (int)cfg->pgd_random_start,
                                cfg->delta,
                                cfg->loss};
    plan->eval = (AttackSpec){ATTACK_PGD,           (long)cfg->eval_steps, 2.5 * cfg->delta / (double)cfg->eval_steps,
                              (long)cfg->eval_restarts, 0, cfg->delta, cfg->loss};
    NetShape s = train_net_shape(cfg);
    double n = (double)cfg->n, T = (double)plan->steps;
    double F = n * net_flops_forward(&s), Bx = n * net_flops_backward(&s, 0, 1), Bw = n * net_flops_backward(&s, 1, 0);
    double af, ab, ef, eb;
    attack_passes(&plan->attack, &af, &ab);
    attack_passes(&plan->eval, &ef, &eb);
    ef += 1; /* the forward pass for the robust accuracy */
    double records = cfg->attack != ATTACK_NONE ? (double)plan->records : 0.0; /* clean-loss forward passes */
    double evals = (double)plan->evals;
    /* T + 1 attacked forward passes, T weight-gradient passes, records and evaluations */
    double fwd = (T + 1) * (af + 1) + records + evals * ef, bwd_x = (T + 1) * ab + evals * eb, bwd_w = T;
    plan->flops_per_step = af * F + ab * Bx + F + Bw;
    plan->flops_total = fwd * F + bwd_x * Bx + bwd_w * Bw;
    plan->passes = fwd + bwd_x + bwd_w;
    double layers = cfg->model == MODEL_DEEP ? (double)cfg->H + 1 : 1;
    /* FLOPs and elementwise traffic scale with the element size (SGEMM runs at about twice
     * the DGEMM rate); the per-call overheads do not. f64: speed = 1, the fitted model. */
    const TrainBackend *be = train_backend(cfg->precision);
    double speed = (double)be->elem / (double)sizeof(double);
    plan->cost = plan->flops_total * speed + COST_POINT +
                 plan->passes * layers * (COST_PASS_LAYER + n * m * cost_per_activation(cfg->activation) * speed);
    NetSizes sizes = net_sizes(&s, (long)cfg->n, be->elem);
    plan->n_trained = sizes.trained;
    plan->n_fixed = sizes.fixed;
    plan->bytes = be->run_bytes(cfg) + trajectory_bytes(plan->records, plan->evals);
    return ADV_OK;
}

int train_uses_epsilon(const TrainConfig *cfg) {
    return cfg->lr_rule == LR_RULE_THEOREM && (cfg->lr == 0 || cfg->steps == 0);
}

/* ----- stopping rules ------------------------------------------------------------ */

void stop_rule_init(StopRule *r, const TrainPlan *plan, const TrainConfig *cfg, int64_t *first_step) {
    memset(r, 0, sizeof *r);
    r->n_targets = plan->n_targets;
    r->targets = plan->targets;
    r->first_step = first_step;
    for (int q = 0; q < r->n_targets; q++) first_step[q] = -1;
    r->stop_target = plan->stop_target;
    r->early_stop = cfg->early_stop;
    r->window = cfg->plateau_window;
    r->tol = cfg->plateau_tol;
    r->best = INFINITY;
    if (r->window > 0) r->best_ring = xcalloc((size_t)r->window + 1, sizeof(double));
}

void stop_rule_release(StopRule *r) {
    free(r->best_ring);
    r->best_ring = NULL;
}

int stop_rule_step(StopRule *r, int64_t t, double loss) {
    if (!isfinite(loss)) return OUTCOME_DIVERGED;
    if (t < 1) return OUTCOME_NONE; /* W_0 is not trained: it neither reaches nor starts a window */
    if (loss < r->best) r->best = loss;
    /* Targets are descending: once one is not met, no smaller one is. */
    for (int q = 0; q < r->n_targets && loss <= r->targets[q]; q++)
        if (r->first_step[q] < 0) r->first_step[q] = t;
    if (r->n_targets > 0 && r->first_step[r->n_targets - 1] >= 0) r->reached = 1;
    r->below = loss <= r->stop_target ? r->below + 1 : 0;
    if (r->early_stop > 0 && r->below >= r->early_stop) return OUTCOME_REACHED;
    if (r->window > 0) {
        long slots = (long)r->window + 1;
        r->best_ring[t % slots] = r->best;
        if (t - r->window >= 1) {
            double before = r->best_ring[(t - r->window) % slots];
            /* converged: the best loss moved by less than tol (relative) in W steps */
            if (!(r->best < before * (1.0 - r->tol))) return OUTCOME_PLATEAU;
        }
    }
    return OUTCOME_NONE;
}

int stop_rule_final(const StopRule *r, int why) {
    if (r->reached) return OUTCOME_REACHED;
    /* the step cap, or an early stop above the smallest target: censored either way */
    return why == OUTCOME_NONE || why == OUTCOME_REACHED ? OUTCOME_BUDGET : why;
}

/* Depends on T, record_dense and record_max only (schedule_counts keys on them). */
long train_record_schedule(int64_t *steps, const TrainConfig *cfg, int64_t T) {
    long count = 0, dense = (long)cfg->record_dense, max = (long)cfg->record_max;
    if (T + 1 <= max) {
        for (int64_t t = 0; t <= T; t++)
            if (steps) steps[count++] = t;
            else count++;
        return count;
    }
    for (long t = 0; t < dense; t++)
        if (steps) steps[count++] = t;
        else count++;
    /* (max - dense) geometric points from dense to T: dense * (T/dense)^(j/(J-1)). */
    long J = max - dense;
    int64_t prev = dense - 1;
    double ratio = log((double)T / (double)dense);
    for (long j = 0; j < J; j++) {
        int64_t t = j == J - 1 ? T : (int64_t)llround((double)dense * exp(ratio * (double)j / (double)(J - 1)));
        if (t <= prev) continue;
        if (steps) steps[count] = t;
        count++;
        prev = t;
    }
    return count;
}

/* Depends on T and eval_count only (schedule_counts keys on them). */
long train_eval_schedule(int64_t *steps, const TrainConfig *cfg, int64_t T) {
    long count = 0, k = (long)cfg->eval_count;
    int64_t prev = -1;
    for (long j = 0; j <= k + 1; j++) {
        int64_t t = (int64_t)llround((double)T * (double)j / (double)(k + 1));
        if (t <= prev) continue;
        if (steps) steps[count] = t;
        count++;
        prev = t;
    }
    return count;
}

/* ----- trajectory --------------------------------------------------------------- */

double trajectory_bytes(long cap, long eval_cap) {
    return (double)sizeof(Trajectory) + (double)(5 * cap + 3 * eval_cap) * sizeof(double);
}

Trajectory *trajectory_create(long cap, long eval_cap) {
    Trajectory *tr = xcalloc(1, sizeof *tr);
    tr->cap = cap;
    tr->eval_cap = eval_cap;
    double *arena = xcalloc((size_t)(5 * cap + 3 * eval_cap), sizeof(double));
    tr->arena = arena;
    tr->step = (int64_t *)arena;
    tr->surrogate = arena + cap;
    tr->clean_loss = arena + 2 * cap;
    tr->clean_acc = arena + 3 * cap;
    tr->dist = arena + 4 * cap;
    tr->eval_step = (int64_t *)(arena + 5 * cap);
    tr->robust_loss = arena + 5 * cap + eval_cap;
    tr->robust_acc = arena + 5 * cap + 2 * eval_cap;
    return tr;
}

void trajectory_destroy(Trajectory **tr) {
    if (!tr || !*tr) return;
    free((*tr)->arena);
    free(*tr);
    *tr = NULL;
}

/* ----- one run ------------------------------------------------------------------------ */

/* A run on its backend: the table and the state it owns. */
typedef struct {
    const TrainBackend *be;
    BackendRun *run;
    const TrainConfig *cfg;
} Runner;

/* Clean loss/accuracy and distance at W_t into record `k` of traj. Overwrites the activations. */
static void record_step(Trajectory *traj, Runner *r, int64_t t, double surrogate, TrainSummary *sum) {
    double clean, acc;
    if (r->cfg->attack == ATTACK_NONE) {
        clean = surrogate;
        acc = sum->final_surrogate_acc;
    } else {
        r->be->clean(r->run, &clean, &acc);
    }
    double dist = r->be->dist(r->run);
    sum->final_clean_loss = clean;
    sum->final_clean_acc = acc;
    sum->final_dist = dist;
    if (dist > sum->max_dist) sum->max_dist = dist;
    if (!traj) return;
    long k = traj->count++;
    traj->step[k] = t;
    traj->surrogate[k] = surrogate;
    traj->clean_loss[k] = clean;
    traj->clean_acc[k] = acc;
    traj->dist[k] = dist;
}

/* Strong-attack robust-loss estimate at W_t. Overwrites the activations. */
static void evaluate_step(Trajectory *traj, Runner *r, int64_t t, TrainSummary *sum) {
    r->be->robust(r->run, t, &sum->final_robust_loss, &sum->final_robust_acc);
    if (!traj) return;
    long k = traj->eval_count++;
    traj->eval_step[k] = t;
    traj->robust_loss[k] = sum->final_robust_loss;
    traj->robust_acc[k] = sum->final_robust_acc;
}

/* ----- checkpoints ---------------------------------------------------------------------- */

/* The state of a run between steps t - 1 and t (same machine and build: raw structs).
 * Layout: this header, the TrainSummary, the plateau ring (window + 1 doubles, when on),
 * the trajectory's records and evaluations so far (when the run has one), then the
 * backend's regions (backend.h: the FLOPs counted, W_t), handed over in place. */
#define CKPT_MAGIC "advckpt"
#define CKPT_VERSION 1
#define CKPT_PARTS 8
typedef struct {
    char magic[8];
    uint32_t version, elem;       /* the format; the backend's element size */
    uint32_t numerics, summary_bytes; /* ADVSWEEP_NUMERICS_VERSION; sizeof(TrainSummary) of this build */
    int64_t steps_planned, next;  /* T; the step the run continues with */
    int64_t records, evals;       /* the plan's schedule lengths */
    int64_t traj_count, eval_count, has_traj;
    int64_t window, n_targets;
    int64_t below, reached;       /* StopRule */
    double best, blowup, elapsed;
    uint64_t backend_bytes, total;
} CkptHeader;

static size_t ckpt_ring(const StopRule *r) { return r->window > 0 ? (size_t)r->window + 1 : 0; }

/* Bytes of the small part (header, summary, ring, trajectory so far). */
static size_t ckpt_head_bytes(const StopRule *stop, int has_traj, size_t nt, size_t ne) {
    return sizeof(CkptHeader) + sizeof(TrainSummary) + ckpt_ring(stop) * sizeof(double) +
           (has_traj ? nt * (sizeof(int64_t) + 4 * sizeof(double)) + ne * (sizeof(int64_t) + 2 * sizeof(double)) : 0);
}

/* The trajectory's arrays in checkpoint order: nt records, ne evaluations. */
#define CKPT_TRAJ_FIELDS 8
static void ckpt_traj_fields(const Trajectory *traj, size_t nt, size_t ne, void **fields, size_t *sizes) {
    void *f[CKPT_TRAJ_FIELDS] = {traj->step,      traj->surrogate, traj->clean_loss,  traj->clean_acc,
                                 traj->dist,      traj->eval_step, traj->robust_loss, traj->robust_acc};
    size_t z[CKPT_TRAJ_FIELDS] = {nt * sizeof(int64_t), nt * sizeof(double), nt * sizeof(double), nt * sizeof(double),
                                  nt * sizeof(double),  ne * sizeof(int64_t), ne * sizeof(double), ne * sizeof(double)};
    memcpy(fields, f, sizeof f);
    memcpy(sizes, z, sizeof z);
}

/* The backend's regions and their total. */
static int ckpt_regions(Runner *r, void **parts, size_t *lens, int max, uint64_t *total) {
    int n = r->be->state(r->run, parts, lens, max);
    *total = 0;
    for (int k = 0; k < n; k++) *total += lens[k];
    return n;
}

/* Hand the state to hooks->checkpoint. The small part is copied (a few KiB); the weights
 * are not. Returns the hook's value (-1: no memory for the small part). */
static int ckpt_save(const TrainHooks *hooks, Runner *r, const TrainPlan *plan, int64_t next, const TrainSummary *sum,
                     const StopRule *stop, const Trajectory *traj, double blowup, double elapsed) {
    CkptHeader h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, sizeof CKPT_MAGIC);
    h.version = CKPT_VERSION;
    h.elem = (uint32_t)r->be->elem;
    h.numerics = ADVSWEEP_NUMERICS_VERSION;
    h.summary_bytes = (uint32_t)sizeof *sum;
    h.steps_planned = plan->steps;
    h.next = next;
    h.records = plan->records;
    h.evals = plan->evals;
    h.has_traj = traj != NULL;
    h.traj_count = traj ? traj->count : 0;
    h.eval_count = traj ? traj->eval_count : 0;
    h.window = stop->window;
    h.n_targets = stop->n_targets;
    h.below = stop->below;
    h.reached = stop->reached;
    h.best = stop->best;
    h.blowup = blowup;
    h.elapsed = elapsed;
    void *parts[CKPT_PARTS];
    size_t lens[CKPT_PARTS];
    int n = ckpt_regions(r, parts + 1, lens + 1, CKPT_PARTS - 1, &h.backend_bytes);
    size_t ring = ckpt_ring(stop), nt = (size_t)h.traj_count, ne = (size_t)h.eval_count;
    size_t head = ckpt_head_bytes(stop, traj != NULL, nt, ne);
    h.total = head + h.backend_bytes;
    unsigned char *buf = malloc(head), *p = buf;
    if (!buf) return -1;
#define PUT(src, n) (memcpy(p, (src), (n)), p += (n))
    PUT(&h, sizeof h);
    PUT(sum, sizeof *sum);
    if (ring) PUT(stop->best_ring, ring * sizeof(double));
    if (traj) {
        void *fields[CKPT_TRAJ_FIELDS];
        size_t sizes[CKPT_TRAJ_FIELDS];
        ckpt_traj_fields(traj, nt, ne, fields, sizes);
        for (int k = 0; k < CKPT_TRAJ_FIELDS; k++) PUT(fields[k], sizes[k]);
    }
#undef PUT
    parts[0] = buf;
    lens[0] = head;
    int rc = hooks->checkpoint(hooks->checkpoint_ctx, (const void *const *)parts, lens, n + 1);
    free(buf);
    return rc;
}

/* Continue from hooks' saved state: 1 restored (*next, *blowup, *elapsed set); 0 it does
 * not fit this run (nothing changed); -1 it did not check out after the backend's regions
 * were filled (sum, stop and traj unchanged; the caller recreates the run). */
static int ckpt_restore(const TrainHooks *hooks, Runner *r, const TrainPlan *plan, TrainSummary *sum,
                        StopRule *stop, Trajectory *traj, int64_t *next, double *blowup, double *elapsed) {
    CkptHeader h;
    void *ctx = hooks->checkpoint_ctx;
    if (!hooks->resume_read || hooks->resume_bytes < sizeof h) return 0;
    if (hooks->resume_read(ctx, &h, sizeof h) != 0) return 0;
    void *parts[CKPT_PARTS];
    size_t lens[CKPT_PARTS];
    uint64_t backend = 0;
    int n = ckpt_regions(r, parts, lens, CKPT_PARTS, &backend);
    size_t ring = ckpt_ring(stop), nt = (size_t)h.traj_count, ne = (size_t)h.eval_count;
    if (memcmp(h.magic, CKPT_MAGIC, sizeof CKPT_MAGIC) || h.version != CKPT_VERSION || h.elem != r->be->elem ||
        h.numerics != ADVSWEEP_NUMERICS_VERSION || h.summary_bytes != sizeof *sum ||
        h.steps_planned != plan->steps || h.records != plan->records || h.evals != plan->evals ||
        h.window != stop->window || h.n_targets != stop->n_targets || h.next < 1 || h.next > plan->steps ||
        h.has_traj != (traj != NULL) || h.backend_bytes != backend || h.total != hooks->resume_bytes ||
        h.traj_count < 0 || h.eval_count < 0 || (traj && (h.traj_count > traj->cap || h.eval_count > traj->eval_cap)) ||
        ckpt_head_bytes(stop, traj != NULL, nt, ne) + backend != h.total)
        return 0;
    /* the small part into scratch: sum, stop and traj change only once all of it checked out */
    size_t rest = ckpt_head_bytes(stop, traj != NULL, nt, ne) - sizeof h;
    unsigned char *buf = malloc(rest ? rest : 1);
    if (!buf || hooks->resume_read(ctx, buf, rest) != 0) {
        free(buf);
        return 0;
    }
    int ok = 1;
    for (int k = 0; k < n && ok; k++) ok = hooks->resume_read(ctx, parts[k], lens[k]) == 0;
    if (!ok || hooks->resume_read(ctx, NULL, 0) != 0) {
        free(buf);
        return -1; /* the regions hold a part of a state that did not check out */
    }
    const unsigned char *p = buf;
#define GET(dst, n) (memcpy((dst), p, (n)), p += (n))
    GET(sum, sizeof *sum);
    if (ring) GET(stop->best_ring, ring * sizeof(double));
    if (traj) {
        traj->count = (long)nt;
        traj->eval_count = (long)ne;
        void *fields[CKPT_TRAJ_FIELDS];
        size_t sizes[CKPT_TRAJ_FIELDS];
        ckpt_traj_fields(traj, nt, ne, fields, sizes);
        for (int k = 0; k < CKPT_TRAJ_FIELDS; k++) GET(fields[k], sizes[k]);
    }
#undef GET
    free(buf);
    stop->below = h.below;
    stop->reached = (int)h.reached;
    stop->best = h.best;
    *next = h.next;
    *blowup = h.blowup;
    *elapsed = h.elapsed;
    return 1;
}

int train_run(TrainSummary *sum, Trajectory *traj, const TrainConfig *cfg, const Dataset *data,
              const TrainHooks *hooks) {
    TrainPlan plan;
    TRY(train_plan(&plan, cfg));
    if (data->n != cfg->n || data->d != cfg->d)
        return adv_err(ADV_ERR_INPUT, "data has %ld points in d=%ld but the configuration says n=%lld, d=%lld",
                       data->n, data->d, (long long)cfg->n, (long long)cfg->d);
    if (traj && (traj->cap < plan.records || traj->eval_cap < plan.evals))
        return adv_err(ADV_ERR_INTERNAL, "trajectory too small: %ld/%ld records, %ld/%ld evals", traj->cap,
                       plan.records, traj->eval_cap, plan.evals);
    static const TrainHooks no_hooks;
    if (!hooks) hooks = &no_hooks;

    memset(sum, 0, sizeof *sum);
    sum->status = RUN_DONE;
    sum->lr = plan.lr;
    sum->steps_planned = plan.steps;
    sum->eps_step = -1;
    sum->diverged_step = -1;
    sum->trained_as = -1;
    sum->outcome = OUTCOME_NONE;
    sum->min_surrogate = INFINITY;
    sum->data_points = data->n;
    sum->final_robust_loss = sum->final_robust_acc = NAN;

    int64_t *rec_steps = xcalloc((size_t)plan.records, sizeof(int64_t));
    int64_t *eval_steps = xcalloc((size_t)plan.evals, sizeof(int64_t));
    train_record_schedule(rec_steps, cfg, plan.steps);
    train_eval_schedule(eval_steps, cfg, plan.steps);
    long next_rec = 0, next_eval = 0;
    if (traj) traj->count = traj->eval_count = 0;

    Runner r = {train_backend(cfg->precision), NULL, cfg};
    r.run = r.be->create(cfg, &plan, data);
    if (hooks->W0_out || hooks->fixed_out) r.be->weights(r.run, hooks->W0_out, NULL, hooks->fixed_out);
    double start = adv_now(), last_progress = start;
    StopRule stop;
    stop_rule_init(&stop, &plan, cfg, sum->target_step);
    double blowup = 0.0; /* |W_t - W0| / |W0| of an unprojected run */
    int rc = ADV_OK, why = OUTCOME_NONE;
    int64_t t0 = 0;
    double elapsed = 0;
    if (hooks->resumed_step) *hooks->resumed_step = -1;
    int restored = ckpt_restore(hooks, &r, &plan, sum, &stop, traj, &t0, &blowup, &elapsed);
    if (restored > 0) {
        start -= elapsed; /* the wall time counts both parts */
        if (hooks->resumed_step) *hooks->resumed_step = t0;
    } else if (restored < 0) { /* W_t and the FLOPs were overwritten: the run again from its seed */
        r.be->destroy(&r.run);
        r.run = r.be->create(cfg, &plan, data);
    }
    int checkpoints = hooks->checkpoint && hooks->checkpoint_every > 0;
    double last_checkpoint = adv_now();
    for (int64_t t = t0;; t++) {
        int abandon = hooks->abort_flag && *hooks->abort_flag;
        /* Between steps: the state is W_t and what steps 0..t-1 left (no RNG state: every
         * stream is seeded by (seed, purpose, t)). */
        if (checkpoints && t >= 1 && (abandon || (t > t0 && adv_now() - last_checkpoint >= hooks->checkpoint_every))) {
            ckpt_save(hooks, &r, &plan, t, sum, &stop, traj, blowup, adv_now() - start); /* a failure costs only it */
            last_checkpoint = adv_now();
        }
        if (abandon) {
            rc = ADV_INTERRUPTED;
            break;
        }
        double surrogate, sur_acc;
        r.be->attack_forward(r.run, t, &surrogate, &sur_acc);
        why = stop_rule_step(&stop, t, surrogate);
        /* finite losses can hide weights running off towards 1e300: that diverged too */
        int diverged = why == OUTCOME_DIVERGED || !(blowup <= WEIGHT_BLOWUP);
        if (diverged) why = OUTCOME_DIVERGED;
        if (t == 0) sum->init_surrogate = surrogate;
        if ((t >= 1 || plan.steps == 0) && surrogate < sum->min_surrogate) {
            sum->min_surrogate = surrogate;
            sum->min_step = t;
        }
        int last = t == plan.steps || why != OUTCOME_NONE;
        sum->steps_run = t;
        sum->final_surrogate = surrogate;
        sum->final_surrogate_acc = sur_acc;
        if (diverged) {
            sum->status = RUN_DIVERGED;
            sum->final_robust_loss = sum->final_robust_acc = NAN; /* not evaluated at a diverged step */
            sum->diverged_step = t;
            if (!isfinite(surrogate))
                snprintf(sum->reason, sizeof sum->reason, "surrogate loss became %s at step %lld",
                         isnan(surrogate) ? "nan" : "inf", (long long)t);
            else
                snprintf(sum->reason, sizeof sum->reason, "weights blew up at step %lld: |W - W0| = %.3g |W0|",
                         (long long)t, blowup);
        }
        /* The gradient needs this forward's activations, so it comes before the
         * recording passes; the update comes after them, so they see W_t. */
        if (!last) r.be->gradient(r.run);
        while (next_rec < plan.records && rec_steps[next_rec] < t) next_rec++;
        if (last || (next_rec < plan.records && rec_steps[next_rec] == t)) record_step(traj, &r, t, surrogate, sum);
        while (next_eval < plan.evals && eval_steps[next_eval] < t) next_eval++;
        if (!diverged && (last || (next_eval < plan.evals && eval_steps[next_eval] == t)))
            evaluate_step(traj, &r, t, sum);
        if (last) break;
        blowup = r.be->update(r.run);
        if (hooks->progress && adv_now() - last_progress > 0.5) {
            hooks->progress(hooks->ctx, t, plan.steps, surrogate);
            last_progress = adv_now();
        }
    }
    /* Why it ended, per run and per target; epsilon's own first step. */
    sum->outcome = stop_rule_final(&stop, why);
    sum->n_targets = plan.n_targets;
    for (int q = 0; q < plan.n_targets; q++) {
        sum->target_tau[q] = plan.targets[q];
        sum->target_outcome[q] = (int8_t)(sum->target_step[q] >= 0 ? OUTCOME_REACHED : sum->outcome);
        if (plan.targets[q] == cfg->epsilon) sum->eps_step = sum->target_step[q];
    }
    stop_rule_release(&stop);
    if (rc == ADV_OK && plan.steps == 0) sum->min_surrogate = sum->init_surrogate;
    sum->wall_time = adv_now() - start;
    sum->flops = r.be->flops(r.run);
    if (rc == ADV_OK && hooks->W_out) r.be->weights(r.run, NULL, hooks->W_out, NULL);
    free(rec_steps);
    free(eval_steps);
    r.be->destroy(&r.run);
    return rc;
}
