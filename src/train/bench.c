/* bench.c — `advsweep bench`: this machine's DGEMM (SGEMM) rate at training shapes
 * and the achieved rate of full PGD-k training steps (the same backend functions
 * as train_run, for the precision asked).
 * Must not use MPI or HDF5.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/backend.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int count) {
    qsort(v, (size_t)count, sizeof *v, cmp_double);
    return count % 2 ? v[count / 2] : 0.5 * (v[count / 2 - 1] + v[count / 2]);
}

/* Seconds per call of Z = X W^T at (n,m) x (m,m) in the given precision (X, W, Z
 * hold doubles or floats): repeated for at least `span` seconds. */
static double time_gemm(int precision, const void *X, const void *W, void *Z, long n, long m, double span) {
    long reps = 0;
    double t0 = adv_now(), t1;
    do {
        // Z = X W^T
        if (precision == PRECISION_F32)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)m, 1.0f, X, (int)m, W, (int)m,
                        0.0f, Z, (int)m);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)m, 1.0, X, (int)m, W, (int)m,
                        0.0, Z, (int)m);
        reps++;
        t1 = adv_now();
    } while (t1 - t0 < span);
    return (t1 - t0) / (double)reps;
}

/* Seconds per full training step (attack, forward, backward, projected update);
 * *flops receives the counted FLOPs of one step. */
static double time_steps(const TrainBackend *be, BackendRun *run, double span, double *flops) {
    long reps = 0;
    double loss, acc, before = be->flops(run);
    double t0 = adv_now(), t1;
    do {
        be->attack_forward(run, reps, &loss, &acc);
        be->gradient(run);
        be->update(run);
        reps++;
        t1 = adv_now();
    } while (t1 - t0 < span || reps < 2);
    *flops = (be->flops(run) - before) / (double)reps;
    return (t1 - t0) / (double)reps;
}

void bench_measure(BenchResult *res, int precision, long m, long H, long n, long d, long k, int repeats) {
    memset(res, 0, sizeof *res);
    res->precision = precision;
    res->m = m;
    res->H = H;
    res->n = n;
    res->d = d;
    res->k = k;
    if (repeats < 1) repeats = 1;
    double *gemm_times = xcalloc((size_t)repeats, sizeof(double)), *step_times = xcalloc((size_t)repeats, sizeof(double));

    /* GEMM operands drawn in double; for f32 rounded in place to floats at the front */
    double *X = xaligned((size_t)(n * m) * sizeof(double)), *W = xaligned((size_t)(m * m) * sizeof(double));
    double *Z = xaligned((size_t)(n * m) * sizeof(double));
    Rng rng;
    rng_seed(&rng, 1, RNG_BENCH, 0);
    rng_fill_normal(&rng, X, n * m, 1.0);
    rng_fill_normal(&rng, W, m * m, 1.0 / sqrt((double)m));
    if (precision == PRECISION_F32) {
        float *Xf = (float *)X, *Wf = (float *)W;
        for (long i = 0; i < n * m; i++) Xf[i] = (float)X[i]; /* ascending: each double read before overwritten */
        for (long i = 0; i < m * m; i++) Wf[i] = (float)W[i];
    }

    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.model = MODEL_DEEP;
    cfg.m = m;
    cfg.H = H;
    cfg.n = n;
    cfg.d = d;
    cfg.delta = 0.05;
    cfg.attack = ATTACK_PGD;
    cfg.pgd_steps = k;
    cfg.R = 1.0;
    cfg.steps = 1000;
    cfg.precision = precision;
    TrainPlan plan;
    train_plan(&plan, &cfg);
    Dataset *data = NULL;
    if (data_generate(&data, &cfg) != ADV_OK) { /* an impossibly crowded shape: random labels, any spacing */
        cfg.delta = 0.0;
        data_generate(&data, &cfg);
    }
    const TrainBackend *be = train_backend(precision);
    BackendRun *run = be->create(&cfg, &plan, data);

    /* Warm up both, then alternate them so that both see the same machine load. */
    double flops_per_step = 0;
    time_gemm(precision, X, W, Z, n, m, 0.05);
    time_steps(be, run, 0.05, &flops_per_step);
    for (int r = 0; r < repeats; r++) {
        gemm_times[r] = time_gemm(precision, X, W, Z, n, m, 0.2);
        step_times[r] = time_steps(be, run, 0.3, &flops_per_step);
    }
    res->gemm_gflops = 2.0 * (double)n * (double)m * (double)m / median(gemm_times, repeats) * 1e-9;
    res->step_seconds = median(step_times, repeats);
    res->step_gflops = flops_per_step / res->step_seconds * 1e-9;
    res->ratio = res->step_gflops / res->gemm_gflops;
    be->destroy(&run);
    dataset_destroy(&data);
    free(X);
    free(W);
    free(Z);
    free(gemm_times);
    free(step_times);
}
