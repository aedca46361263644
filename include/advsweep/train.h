/* train.h — projected adversarial gradient descent (Sec. 4) and what a run records.
 *
 *   for t = 0, 1, ..., T:
 *       X'  = A(W_t, X)                       training attack
 *       L_A(W_t) = mean_i l(f(W_t, X'_i), y_i)  surrogate loss (every step)
 *       record / evaluate if t is on the schedules
 *       stop if t == T, if L_A is not finite (diverged), or on early stop
 *       W_{t+1} = P_B(R)(W_t - alpha grad L_A(W_t))
 *
 * The numerics run on the compute backend of the `precision` parameter
 * (backend.h): cpu_f64, the reference, or cpu_f32; this loop is the same for both.
 *
 * P_B(R) bounds each layer: |W(h) - W0(h)|_F <= R / sqrt(m) (deep) or
 * |W - W0|_F <= R (two-layer); R = inf skips it. The distance recorded is
 * max_h |W(h) - W0(h)|_F sqrt(m) (deep) or |W - W0|_F (two-layer): the units of R.
 *
 * Must not use MPI or HDF5.
 */
#ifndef ADVSWEEP_TRAIN_H
#define ADVSWEEP_TRAIN_H

#include <stdint.h>

#include "advsweep/attack.h"
#include "advsweep/config.h"
#include "advsweep/data.h"
#include "advsweep/nn.h"

/* Per-point status, as stored in the sweep file. */
/* skipped: in the file but not run by the job that last wrote it (a search did not need it, or an
 * extension kept it from an older job); not final: a job or --where that includes it runs it. */
enum { RUN_PENDING = 0, RUN_DONE = 1, RUN_FAILED = 2, RUN_DIVERGED = 3, RUN_RUNNING = 4, RUN_SKIPPED = 5 };
#define RUN_STATUSES 6
/* Why a run ended (per run, and per target for the targets it did not reach):
 *   reached  the smallest target was met (every target then is)
 *   plateau  min_t L_A improved by less than plateau_tol (relative) over the last
 *            plateau_window steps: converged without reaching
 *   budget   the step cap T came first while still improving: censored, not a failure
 *   diverged L_A became NaN/Inf or the weights blew up */
enum { OUTCOME_NONE = -1, OUTCOME_REACHED = 0, OUTCOME_PLATEAU = 1, OUTCOME_BUDGET = 2, OUTCOME_DIVERGED = 3 };
#define STATUS_REASON_MAX 96

/* What a configuration resolves to before it runs. */
typedef struct {
    double lr;          /* alpha used */
    double c_alpha;     /* the rule's constant used (auto resolved) */
    int n_targets;      /* targets the run answers (config_targets): epsilon and the list */
    double targets[TARGETS_MAX]; /* descending */
    double stop_target; /* early-stop threshold used (auto = the smallest target) */
    int64_t steps;      /* T used (after the cap) */
    int steps_capped;   /* 1 if the derived T exceeded max_steps */
    long records;       /* length of the recording schedule */
    long evals;         /* length of the evaluation schedule */
    AttackSpec attack;  /* training attack, resolved */
    AttackSpec eval;    /* strong evaluation attack */
    double flops_per_step; /* FLOP model of one training step (attack + forward + backward) */
    double flops_total;    /* whole run, including clean-loss records and evaluations */
    double passes;         /* forward + backward passes of the whole run */
    double cost;           /* flops_total + per-pass and elementwise work, in FLOP-equivalents
                              (train_cost_model): what the planner and the time estimates use */
    double bytes;          /* memory of one run (parameters, activations, attack scratch, data,
                              trajectory) in its precision: the backend's run_bytes + the trajectory */
    long n_trained;        /* trained weights (net_sizes) */
    long n_fixed;          /* fixed weights, A then a (net_sizes) */
} TrainPlan;

/* Resolve alpha, T (lr_rule when auto), the targets, the attacks and the
 * schedules' lengths. Pure function of cfg. Returns ADV_ERR_INPUT if cfg is
 * inconsistent (config_validate) . */
int train_plan(TrainPlan *plan, const TrainConfig *cfg);

/* 1 if epsilon changes the training itself (the theorem rule deriving alpha or T
 * from it), 0 if it only names a target (lr_rule free, or alpha and T given):
 * then points that differ only in epsilon are one training run. */
int train_uses_epsilon(const TrainConfig *cfg);

/* The cost model behind TrainPlan.cost, fitted to wall times measured on this
 * project's machines (one thread, relu and softplus, m = 2..512, H = 1..3): a
 * pass of the net costs its GEMM FLOPs plus PASS_LAYER_COST per layer (BLAS
 * call and OpenMP region overheads) plus an elementwise cost per activation
 * entry (memory traffic, exp/log for softplus); a point costs POINT_COST more
 * (data, file rows). At large m the GEMM FLOPs dominate, so `advsweep bench`'s
 * rate applies directly. An f32 point counts its FLOP and elementwise terms at
 * half weight (elem / 8: SGEMM at about twice the DGEMM rate; not fitted). */
#define COST_PASS_LAYER 3.0e4
#define COST_POINT 2.0e8
double cost_per_activation(int activation);

/* The recording schedule for T steps: every step 0..record_dense-1, then
 * geometrically spaced steps up to T, always ending at T; at most record_max
 * entries. Writes them to steps (may be NULL) and returns their count. */
long train_record_schedule(int64_t *steps, const TrainConfig *cfg, int64_t T);
/* The evaluation schedule: step 0, eval_count steps evenly spread, and T. */
long train_eval_schedule(int64_t *steps, const TrainConfig *cfg, int64_t T);

typedef struct {
    long cap, count;       /* records */
    int64_t *step;         /* (cap) */
    double *surrogate;     /* (cap) L_A(W_t) under the training attack */
    double *clean_loss;    /* (cap) L(W_t) on the clean points */
    double *clean_acc;     /* (cap) fraction with y f > 0 on clean points */
    double *dist;          /* (cap) distance from init, in the units of R */
    long eval_cap, eval_count;
    int64_t *eval_step;    /* (eval_cap) */
    double *robust_loss;   /* (eval_cap) strong-attack estimate of L_*(W_t) */
    double *robust_acc;    /* (eval_cap) fraction with y f(A*(x)) > 0 */
    void *arena;
} Trajectory;

/* Room for `cap` records and `eval_cap` evaluations. Free with trajectory_destroy. */
Trajectory *trajectory_create(long cap, long eval_cap);
void trajectory_destroy(Trajectory **tr);

typedef struct {
    int32_t status;          /* RUN_DONE, RUN_DIVERGED or RUN_FAILED */
    char reason[STATUS_REASON_MAX]; /* why it failed or diverged; "" when done */
    double lr;               /* alpha used */
    int64_t steps_planned;   /* T */
    int64_t steps_run;       /* last step evaluated (T unless stopped early) */
    double min_surrogate;    /* min_{t>=1} L_A(W_t) (step 0 if T == 0) */
    int64_t min_step;
    int64_t eps_step;        /* first t >= 1 with L_A <= epsilon; -1 if none */
    double init_surrogate;   /* L_A(W_0) */
    double final_surrogate;  /* L_A at steps_run */
    double final_clean_loss;
    double final_clean_acc;
    double final_surrogate_acc; /* accuracy on the training attack's points */
    double final_robust_loss;   /* strong-attack estimate at steps_run */
    double final_robust_acc;
    double final_dist;       /* distance from init at steps_run (units of R) */
    double max_dist;         /* largest distance over the recorded steps */
    double wall_time;        /* seconds */
    double flops;            /* counted FLOPs of the whole run */
    int64_t diverged_step;   /* -1 unless diverged */
    int64_t data_points;     /* n actually trained on */
    int32_t outcome;         /* OUTCOME_*: why the run ended */
    int64_t trained_as;      /* index of the sweep point whose training produced this (set by the caller) */
    /* Per target (not in SUMMARY_FIELDS; the store writes them as /targets/\*): */
    int32_t n_targets;
    double target_tau[TARGETS_MAX];      /* descending */
    int64_t target_step[TARGETS_MAX];    /* first t >= 1 with L_A(W_t) <= tau, exact; -1 if none */
    int8_t target_outcome[TARGETS_MAX];  /* OUTCOME_REACHED, else the run's outcome */
} TrainSummary;

/* The stopping rules of a run, on the sequence L_A(W_0), L_A(W_1), ...: first
 * passage of every target, early stop, plateau. Pure state, no numerics, so
 * tests can drive it with constructed loss sequences. */
typedef struct {
    int n_targets;
    const double *targets;   /* (n_targets) descending, borrowed */
    int64_t *first_step;     /* (n_targets) out: first t >= 1 with loss <= target, -1 */
    double stop_target;      /* early stop threshold */
    int64_t early_stop;      /* consecutive steps <= stop_target that stop the run; 0 = off */
    int64_t window;          /* plateau window W (0 = off) */
    double tol;              /* plateau relative tolerance */
    double *best_ring;       /* (window + 1) best-so-far of the last W + 1 steps (owned) */
    double best;             /* min over t >= 1 so far */
    int64_t below;           /* current run of steps <= stop_target */
    int reached;             /* the smallest target was met */
} StopRule;

/* Set up with the plan's targets; first_step (n_targets) receives the steps.
 * Free with stop_rule_release. */
void stop_rule_init(StopRule *r, const TrainPlan *plan, const TrainConfig *cfg, int64_t *first_step);
void stop_rule_release(StopRule *r);
/* Feed L_A(W_t) for t = 0, 1, 2, ... in order. Returns OUTCOME_NONE to go on,
 * OUTCOME_REACHED when the early stop fires, OUTCOME_PLATEAU when the window
 * shows no progress, OUTCOME_DIVERGED for a non-finite loss. The caller ends
 * at T with stop_rule_final. */
int stop_rule_step(StopRule *r, int64_t t, double loss);
/* The outcome of a run that ended for `why` (OUTCOME_NONE: it reached the step
 * cap): reached if the smallest target was met, else why (budget at the cap). */
int stop_rule_final(const StopRule *r, int why);

/* The summary's fields, described once for the storage module and printers. */
typedef enum { FIELD_I32, FIELD_I64, FIELD_F64, FIELD_TEXT } FieldType;
typedef struct {
    const char *name;
    FieldType type;
    size_t offset; /* offsetof(TrainSummary, field) */
    size_t size;   /* bytes (FIELD_TEXT: buffer length) */
    const char *help;
} SummaryField;
extern const SummaryField SUMMARY_FIELDS[];
extern const int N_SUMMARY_FIELDS;

/* Optional hooks of a run. Any member may be NULL / 0. */
typedef struct {
    void (*progress)(void *ctx, int64_t step, int64_t steps, double surrogate); /* every ~0.5 s */
    void *ctx;
    volatile int *abort_flag; /* non-zero: stop at the next step and return ADV_INTERRUPTED */
    double *W0_out;           /* (n_trained) receives the initial trained weights */
    double *W_out;            /* (n_trained) receives the final trained weights */
    double *fixed_out;        /* (m*d + m deep | m two-layer) receives A then a */
    /* Mid-point checkpoints. With checkpoint set and checkpoint_every > 0, the whole
     * state of the run between two steps is handed to checkpoint(checkpoint_ctx,
     * parts, lens, n) every checkpoint_every seconds of training (so a run shorter
     * than that never saves), and once more when the run is abandoned (abort_flag)
     * after step 1. The state is an opaque blob of this build (raw structs: it
     * belongs to one machine and one numerics version): the step t it continues
     * with, W_t and the FLOPs counted (the backend's), the summary so far (with the
     * per-target first-passage steps), the stopping rules' state (best loss, the
     * plateau ring, the early-stop run), the trajectory and evaluations so far.
     * There are no random-number positions to save: every stream is seeded by
     * (seed, purpose, t), and W0, A, a by the seed. The callback's return value
     * (non-zero: not saved) does not stop training. */
    double checkpoint_every;
    /* the state as n byte ranges, in order (their concatenation is the state) */
    int (*checkpoint)(void *checkpoint_ctx, const void *const *parts, const size_t *lens, int n);
    void *checkpoint_ctx;
    /* Resume: resume_bytes of state from an earlier checkpoint of the same
     * configuration and data, read in order by resume_read(checkpoint_ctx, buf, len)
     * (0: read); after the last byte, resume_read(checkpoint_ctx, NULL, 0) returns 0
     * when all of it checked out. The run continues from it and ends bit-identical
     * to an uninterrupted one (its wall time aside, which counts both parts). A
     * state that does not fit (another plan, precision, size, numerics version or
     * build) or does not check out is ignored: the run starts at step 0. The caller
     * makes sure it is the same configuration and data (the point's key). The state
     * is read straight into the run's buffers (no second copy of the weights). */
    size_t resume_bytes;
    int (*resume_read)(void *checkpoint_ctx, void *buf, size_t len);
    int64_t *resumed_step;    /* receives the step it continued from, or -1 */
} TrainHooks;

/* Train one configuration on `data`. Fills *sum and *traj (traj may be NULL;
 * otherwise its caps must be >= the plan's records and evals). A diverged run
 * returns ADV_OK with sum->status == RUN_DIVERGED. Returns ADV_ERR_INPUT for a
 * bad configuration, ADV_INTERRUPTED when hooks->abort_flag was raised. */
int train_run(TrainSummary *sum, Trajectory *traj, const TrainConfig *cfg, const Dataset *data,
              const TrainHooks *hooks);

/* W = P_B(R)(W) in place: each block (layer W(h) of the deep net, radius
 * R / sqrt(m); all of W for the two-layer net, radius R) farther than its
 * radius from W0 is scaled back onto the boundary; blocks inside are left
 * bit-for-bit unchanged. R = inf does nothing. W and W0 hold n_trained values.
 * The _f32 version is the same on float weights (distances in double). */
void train_project(double *W, const double *W0, const NetShape *shape, double R);
void train_project_f32(float *W, const float *W0, const NetShape *shape, double R);

/* Bytes of a Trajectory of cap records and eval_cap evaluations (trajectory_create). */
double trajectory_bytes(long cap, long eval_cap);

/* Copy of cfg's network shape. */
NetShape train_net_shape(const TrainConfig *cfg);

/* `advsweep bench`: measured rates of this machine. */
typedef struct {
    long m, H, n, d, k;      /* shape of the training step measured */
    int precision;           /* PRECISION_*: DGEMM and cpu_f64, or SGEMM and cpu_f32 */
    double gemm_gflops;      /* DGEMM (SGEMM) rate at the (n, m) x (m, m) shape */
    double step_gflops;      /* achieved rate of full PGD-k training steps */
    double step_seconds;     /* median seconds per step */
    double ratio;            /* step_gflops / gemm_gflops */
} BenchResult;

/* Measure DGEMM (f64) or SGEMM (f32) at the (n,m)x(m,m) shape and full PGD-k
 * training steps of that precision's backend at (m, H, n, d, k), each as the
 * median of `repeats` timings. Not collective. */
void bench_measure(BenchResult *res, int precision, long m, long H, long n, long d, long k, int repeats);
/* The configuration bench_measure trains (deep net, PGD-k), and the bytes it
 * allocates at that shape (the run's plan plus the GEMM operands). */
void bench_config(TrainConfig *cfg, int precision, long m, long H, long n, long d, long k);
double bench_bytes(int precision, long m, long H, long n, long d, long k);

#endif
