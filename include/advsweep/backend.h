/* backend.h — the compute-backend interface: the numerics of one training run
 * behind a table of functions, so that train_run (the loop, the stopping rules,
 * recording, evaluation, divergence) is one piece of code for every backend.
 *
 *   cpu_f64  the reference: double precision, CBLAS DGEMM (precision = f64)
 *   cpu_f32  single precision: weights, activations, points and gradients in
 *            float, SGEMM; losses, norms, distances and the projections'
 *            reductions in double; the same data and initialisation, drawn in
 *            double and rounded (precision = f32)
 *
 * Both CPU backends are one template (src/train/cpu_real.h) compiled twice.
 * A backend is selected by the `precision` parameter (train_backend). Adding one
 * (a batched GPU backend, docs/architecture.md) is one more library that fills
 * this table and one more case in train_backend. Every function is a pure
 * function of the configuration, the data and the calls before it: a point's
 * result never depends on where or when it runs.
 * Must not use MPI or HDF5.
 */
#ifndef ADVSWEEP_BACKEND_H
#define ADVSWEEP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "advsweep/train.h"

typedef struct BackendRun BackendRun; /* one run's state, owned by its backend */

typedef struct {
    const char *name; /* "cpu_f64", "cpu_f32" */
    int precision;    /* PRECISION_* it implements */
    size_t elem;      /* bytes per weight / activation value */
    /* Bytes one run of cfg allocates (parameters, activations, attack scratch, the
     * training set): the planner's TrainPlan.bytes, with the trajectory added. */
    double (*run_bytes)(const TrainConfig *cfg);
    /* Initialise the net from (seed, RNG_INIT) and allocate everything of a run;
     * cfg, plan and data are borrowed for its lifetime. Nothing is allocated later. */
    BackendRun *(*create)(const TrainConfig *cfg, const TrainPlan *plan, const Dataset *data);
    /* Frees *run and nulls it; accepts NULL. */
    void (*destroy)(BackendRun **run);
    /* The training attack at step t (stream (seed, RNG_ATTACK, t)), then the forward
     * pass at the attacked points: the surrogate loss L_A(W_t) and its accuracy. Keeps
     * the activations for gradient. */
    void (*attack_forward)(BackendRun *run, int64_t t, double *surrogate, double *acc);
    /* grad L_A(W_t) from the activations of the last attack_forward. */
    void (*gradient)(BackendRun *run);
    /* W_{t+1} = P_B(R)(W_t - alpha grad). Returns |W_{t+1} - W0| / |W0| when R = inf
     * (0 with a projection, which keeps W bounded). */
    double (*update)(BackendRun *run);
    /* Distance from W0 in the units of R: max_h |W(h) - W0(h)|_F sqrt(m) (deep), |W - W0|_F. */
    double (*dist)(const BackendRun *run);
    /* Mean loss and accuracy on the clean points at W_t. Overwrites the activations. */
    void (*clean)(BackendRun *run, double *loss, double *acc);
    /* The strong evaluation attack at W_t (stream (seed, RNG_EVAL, t)): the mean of its
     * per-sample worst losses and the accuracy at its points. Overwrites the activations. */
    void (*robust)(BackendRun *run, int64_t t, double *loss, double *acc);
    /* The weights in double: W0 and W (n_trained each), fixed (A then a); NULL skips one. */
    void (*weights)(const BackendRun *run, double *W0, double *W, double *fixed);
    /* FLOPs of the GEMM/GEMV model counted so far. */
    double (*flops)(const BackendRun *run);
    /* A run's state between steps, for mid-point checkpoints: the memory that holds
     * it — the FLOPs counted and W_t in the backend's element type — as at most max
     * regions of the run itself (parts[k], lens[k] bytes); returns their count. A
     * checkpoint reads them, a resume fills them in place: nothing is copied, so a
     * checkpoint of a large net needs no second copy of its weights. Everything
     * else is recreated by create (W0, A, a: from the seed) or recomputed each step
     * (activations, gradient, attack points: their random streams are seeded by
     * (seed, purpose, step)), so a fresh run whose regions are filled continues bit
     * for bit where the saved one was. */
    int (*state)(BackendRun *run, void **parts, size_t *lens, int max);
} TrainBackend;

extern const TrainBackend TRAIN_BACKEND_CPU_F64;
extern const TrainBackend TRAIN_BACKEND_CPU_F32;

/* The backend of a precision (PRECISION_*); never NULL for a valid configuration. */
const TrainBackend *train_backend(int precision);

/* Relative distance |W - W0| / |W0| beyond which an unprojected run counts as diverged. */
#define WEIGHT_BLOWUP 1e8

#endif
