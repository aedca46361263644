/* test_nn.c — networks: BLAS vs naive, finite differences, symmetric init, init statistics;
 * the same in single precision (f32) at f32 tolerances. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/config.h"
#include "advsweep/nn.h"

typedef struct {
    Net *net;
    NetWork *wk;
    double *X, *y, *f, *df;
    long n;
} Fixture;

static Fixture make(int model, int activation, int input_layer, long m, long H, long d, long n, uint64_t seed) {
    Fixture fx = {0};
    NetShape s = {model, activation, input_layer, m, H, d};
    fx.net = net_create(&s);
    Rng rng;
    rng_seed(&rng, seed, RNG_INIT, 0);
    net_init(fx.net, &rng);
    if (model == MODEL_TWOLAYER) /* move off the symmetric point so f and its gradient are generic */
        for (long i = 0; i < fx.net->n_trained; i++) fx.net->trained[i] += 0.3 * rng_normal(&rng);
    fx.wk = network_create(&s, n);
    fx.n = n;
    fx.X = xcalloc((size_t)(n * d), sizeof(double));
    fx.y = xcalloc((size_t)n, sizeof(double));
    fx.f = xcalloc((size_t)n, sizeof(double));
    fx.df = xcalloc((size_t)n, sizeof(double));
    for (long i = 0; i < n; i++) {
        rng_sphere(&rng, fx.X + i * d, (int)d);
        fx.y[i] = i % 2 ? 1.0 : -1.0;
    }
    return fx;
}

static void release(Fixture *fx) {
    net_destroy(&fx->net);
    network_destroy(&fx->wk);
    free(fx->X);
    free(fx->y);
    free(fx->f);
    free(fx->df);
}

/* J = mean_i l(f(W, x_i), y_i) */
static double objective(Fixture *fx, int loss) {
    net_forward_naive(fx->f, fx->net, fx->X, fx->n);
    double J = 0;
    for (long i = 0; i < fx->n; i++) J += loss_value(loss, fx->f[i], fx->y[i]);
    return J / (double)fx->n;
}

static double rel_err(double a, double b) { return fabs(a - b) / fmax(fabs(a) + fabs(b), 1e-12); }

static void check_gradients(int model, int activation, int input_layer, int loss) {
    long m = 12, H = 2, d = 5, n = 6;
    Fixture fx = make(model, activation, input_layer, m, H, d, n, 7 + (uint64_t)(activation * 10 + loss));
    long nt = fx.net->n_trained;
    double *dW = xcalloc((size_t)nt, sizeof(double)), *dX = xcalloc((size_t)(n * d), sizeof(double));
    net_forward(fx.f, fx.net, fx.wk, fx.X, n);
    for (long i = 0; i < n; i++) fx.df[i] = loss_deriv(loss, fx.f[i], fx.y[i]) / (double)n;
    net_backward(dW, dX, fx.df, fx.net, fx.wk, fx.X, n);

    /* directional derivative along a random direction, and single coordinates */
    Rng rng;
    rng_seed(&rng, 99, RNG_BENCH, 0);
    double h = 1e-5;
    double *V = xcalloc((size_t)nt, sizeof(double)), *W = xcalloc((size_t)nt, sizeof(double));
    memcpy(W, fx.net->trained, (size_t)nt * sizeof(double));
    rng_fill_normal(&rng, V, nt, 1.0);
    double analytic = 0;
    for (long i = 0; i < nt; i++) analytic += dW[i] * V[i];
    double Jp, Jm;
    for (long i = 0; i < nt; i++) fx.net->trained[i] = W[i] + h * V[i];
    Jp = objective(&fx, loss);
    for (long i = 0; i < nt; i++) fx.net->trained[i] = W[i] - h * V[i];
    Jm = objective(&fx, loss);
    memcpy(fx.net->trained, W, (size_t)nt * sizeof(double));
    double numeric = (Jp - Jm) / (2 * h);
    if (rel_err(numeric, analytic) > 1e-6)
        fail_msg("dW directional: model %d act %d input %d loss %d: numeric %.12g analytic %.12g", model, activation,
                 input_layer, loss, numeric, analytic);
    for (int c = 0; c < 8; c++) {
        long i = (long)(rng_uniform(&rng) * (double)nt);
        fx.net->trained[i] = W[i] + h;
        Jp = objective(&fx, loss);
        fx.net->trained[i] = W[i] - h;
        Jm = objective(&fx, loss);
        fx.net->trained[i] = W[i];
        numeric = (Jp - Jm) / (2 * h);
        if (fabs(numeric - dW[i]) > 1e-6 * fmax(fabs(dW[i]), 1e-3))
            fail_msg("dW[%ld]: numeric %.12g analytic %.12g", i, numeric, dW[i]);
    }
    /* input gradient: every coordinate */
    for (long i = 0; i < n * d; i++) {
        double x = fx.X[i];
        fx.X[i] = x + h;
        Jp = objective(&fx, loss);
        fx.X[i] = x - h;
        Jm = objective(&fx, loss);
        fx.X[i] = x;
        numeric = (Jp - Jm) / (2 * h);
        if (fabs(numeric - dX[i]) > 1e-6 * fmax(fabs(dX[i]), 1e-3))
            fail_msg("dX[%ld]: model %d act %d loss %d: numeric %.12g analytic %.12g", i, model, activation, loss,
                     numeric, dX[i]);
    }
    free(V);
    free(W);
    free(dW);
    free(dX);
    release(&fx);
}

typedef void (*GradientCheck)(int model, int activation, int input_layer, int loss);

/* Every activation, input layer and loss of the deep net, through `check`. */
static void for_every_deep_model(GradientCheck check) {
    for (int act = ACT_RELU; act <= ACT_SOFTPLUS; act++)
        for (int input = INPUT_LINEAR; input <= INPUT_RELU; input++)
            for (int loss = LOSS_LOGISTIC; loss <= LOSS_SQUARE; loss++) check(MODEL_DEEP, act, input, loss);
}

/* Every activation and loss of the two-layer net (its input layer is linear). */
static void for_every_twolayer_model(GradientCheck check) {
    for (int act = ACT_RELU; act <= ACT_QUADRELU; act++)
        for (int loss = LOSS_LOGISTIC; loss <= LOSS_SQUARE; loss++) check(MODEL_TWOLAYER, act, INPUT_LINEAR, loss);
}

static void test_gradients_deep(void **state) {
    (void)state;
    for_every_deep_model(check_gradients);
}

static void test_gradients_twolayer(void **state) {
    (void)state;
    for_every_twolayer_model(check_gradients);
}

/* BLAS forward/backward against the naive loops. */
static void test_blas_matches_naive(void **state) {
    (void)state;
    int models[][3] = {{MODEL_DEEP, ACT_RELU, INPUT_LINEAR}, {MODEL_DEEP, ACT_SOFTPLUS, INPUT_RELU},
                       {MODEL_TWOLAYER, ACT_RELU, INPUT_LINEAR}, {MODEL_TWOLAYER, ACT_QUADRELU, INPUT_LINEAR}};
    for (int c = 0; c < 4; c++) {
        long m = 40, H = 3, d = 7, n = 9;
        Fixture fx = make(models[c][0], models[c][1], models[c][2], m, H, d, n, 3);
        long nt = fx.net->n_trained;
        double *f2 = xcalloc((size_t)n, sizeof(double));
        double *dW = xcalloc((size_t)nt, sizeof(double)), *dW2 = xcalloc((size_t)nt, sizeof(double));
        double *dX = xcalloc((size_t)(n * d), sizeof(double)), *dX2 = xcalloc((size_t)(n * d), sizeof(double));
        net_forward(fx.f, fx.net, fx.wk, fx.X, n);
        net_forward_naive(f2, fx.net, fx.X, n);
        for (long i = 0; i < n; i++) {
            assert_true(rel_err(fx.f[i], f2[i]) < 1e-12 || fabs(fx.f[i] - f2[i]) < 1e-13);
            fx.df[i] = 0.5 + 0.1 * (double)i;
        }
        net_backward(dW, dX, fx.df, fx.net, fx.wk, fx.X, n);
        net_backward_naive(dW2, dX2, fx.df, fx.net, fx.X, n);
        double scale = 0;
        for (long i = 0; i < nt; i++) scale = fmax(scale, fabs(dW2[i]));
        for (long i = 0; i < nt; i++) assert_true(fabs(dW[i] - dW2[i]) <= 1e-12 * scale);
        scale = 0;
        for (long i = 0; i < n * d; i++) scale = fmax(scale, fabs(dX2[i]));
        for (long i = 0; i < n * d; i++) assert_true(fabs(dX[i] - dX2[i]) <= 1e-12 * scale);
        /* dW only and dX only give the same numbers as both together */
        memset(dW2, 0, (size_t)nt * sizeof(double));
        net_backward(dW2, NULL, fx.df, fx.net, fx.wk, fx.X, n);
        assert_memory_equal(dW, dW2, (size_t)nt * sizeof(double));
        memset(dX2, 0, (size_t)(n * d) * sizeof(double));
        net_backward(NULL, dX2, fx.df, fx.net, fx.wk, fx.X, n);
        assert_memory_equal(dX, dX2, (size_t)(n * d) * sizeof(double));
        free(f2);
        free(dW);
        free(dW2);
        free(dX);
        free(dX2);
        release(&fx);
    }
}

/* (m, n, d) of the exact-symmetry tests: shapes that exercise BLAS's edge kernels. */
static const long SYMMETRY_SHAPES[][3] = {{2, 1, 2}, {64, 50, 6}, {6, 7, 3}, {130, 33, 17}, {1024, 300, 40}, {512, 64, 2}};

/* Eq. (4) at the symmetric init: f(W0, x) and the input gradient are exactly 0.0 (not
 * merely small), for every activation and shapes that exercise BLAS's edge kernels. */
static void test_twolayer_symmetric_init(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof SYMMETRY_SHAPES / sizeof SYMMETRY_SHAPES[0]; k++)
        for (int act = ACT_RELU; act <= ACT_QUADRELU; act++) {
            long m = SYMMETRY_SHAPES[k][0], n = SYMMETRY_SHAPES[k][1], d = SYMMETRY_SHAPES[k][2];
            NetShape s = {MODEL_TWOLAYER, act, INPUT_LINEAR, m, 1, d};
            Net *net = net_create(&s);
            Rng rng;
            rng_seed(&rng, 5 + k, RNG_INIT, 0);
            net_init(net, &rng);
            NetWork *wk = network_create(&s, n);
            double *X = xcalloc((size_t)(n * d), sizeof(double)), *f = xcalloc((size_t)n, sizeof(double));
            double *df = xcalloc((size_t)n, sizeof(double)), *dX = xcalloc((size_t)(n * d), sizeof(double));
            double *dW = xcalloc((size_t)net->n_trained, sizeof(double));
            for (long i = 0; i < n; i++) rng_sphere(&rng, X + i * d, (int)d);
            for (long i = 0; i < n; i++) df[i] = rng_normal(&rng);
            net_forward(f, net, wk, X, n);
            for (long i = 0; i < n; i++)
                if (f[i] != 0.0) fail_msg("m=%ld n=%ld d=%ld act=%d: f[%ld] = %.3g, not exactly 0", m, n, d, act, i, f[i]);
            net_backward(dW, dX, df, net, wk, X, n);
            for (long i = 0; i < n * d; i++)
                if (dX[i] != 0.0) fail_msg("m=%ld n=%ld d=%ld act=%d: dX[%ld] = %.3g, not exactly 0", m, n, d, act, i, dX[i]);
            /* The weight gradient is not zero: w_r and wbar_r get opposite gradients. */
            for (long i = 0; i < net->n_trained / 2; i++) assert_true(dW[i] == -dW[net->n_trained / 2 + i]);
            net_forward_naive(f, net, X, n);
            for (long i = 0; i < n; i++) assert_true(f[i] == 0.0);
            long half = m / 2;
            for (long r = 0; r < half; r++) {
                assert_true(net->a[r] == 1.0 || net->a[r] == -1.0);
                assert_true(net->a[r + half] == -net->a[r]);
                assert_memory_equal(net->trained + r * d, net->trained + (r + half) * d, (size_t)d * sizeof(double));
            }
            if (act == ACT_QUADRELU) /* App. C.2: w uniform on the sphere of radius sqrt(d) */
                for (long r = 0; r < m; r++) {
                    double nrm = 0;
                    for (long j = 0; j < d; j++) nrm += net->trained[r * d + j] * net->trained[r * d + j];
                    assert_true(fabs(sqrt(nrm) - sqrt((double)d)) < 1e-12);
                }
            free(X), free(f), free(df), free(dX), free(dW);
            network_destroy(&wk);
            net_destroy(&net);
        }
}

/* ----- single precision ----------------------------------------------------- */

/* A float copy of fx's net (rounded), and fx's own net and inputs rounded to the same
 * values, so that the f64 reference and the f32 net compute the same function. */
static Net_f32 *round_to_f32(Fixture *fx) {
    Net_f32 *net32 = net_create_f32(&fx->net->shape);
    net_copy_f32(net32, fx->net);
    long nt = fx->net->n_trained, nf = (fx->net->A ? fx->net->shape.m * fx->net->shape.d : 0) + fx->net->shape.m;
    for (long i = 0; i < nt; i++) fx->net->trained[i] = (float)fx->net->trained[i];
    for (long i = 0; i < nf; i++) fx->net->fixed_arena[i] = (float)fx->net->fixed_arena[i];
    for (long i = 0; i < fx->n * fx->net->shape.d; i++) fx->X[i] = (float)fx->X[i];
    return net32;
}

static float *to_float(const double *v, long count) {
    float *out = xcalloc((size_t)count, sizeof(float));
    for (long i = 0; i < count; i++) out[i] = (float)v[i];
    return out;
}

/* The f32 gradients against central differences of the double objective at the same
 * (rounded) weights: the f64 test's finite differences (h = 1e-5, exact to ~1e-9), an
 * f32 tolerance (F32_GRAD_TOL relative to the largest entry; measured: below 1e-6). */
#define F32_GRAD_TOL 2e-5
static void check_gradients_f32(int model, int activation, int input_layer, int loss) {
    long m = 12, H = 2, d = 5, n = 6;
    Fixture fx = make(model, activation, input_layer, m, H, d, n, 7 + (uint64_t)(activation * 10 + loss));
    Net_f32 *net32 = round_to_f32(&fx);
    NetWork_f32 *wk32 = network_create_f32(&fx.net->shape, n);
    long nt = fx.net->n_trained;
    float *X32 = to_float(fx.X, n * d), *f32 = xcalloc((size_t)n, sizeof(float)), *df32 = xcalloc((size_t)n, sizeof(float));
    float *dW = xcalloc((size_t)nt, sizeof(float)), *dX = xcalloc((size_t)(n * d), sizeof(float));
    net_forward_f32(f32, net32, wk32, X32, n);
    for (long i = 0; i < n; i++) df32[i] = (float)(loss_deriv(loss, f32[i], fx.y[i]) / (double)n);
    net_backward_f32(dW, dX, df32, net32, wk32, X32, n);
    double h = 1e-5, worst = 0, scale = 0;
    for (long i = 0; i < nt; i++) scale = fmax(scale, fabs(dW[i]));
    for (long i = 0; i < nt; i++) {
        double w = fx.net->trained[i], Jp, Jm;
        fx.net->trained[i] = w + h;
        Jp = objective(&fx, loss);
        fx.net->trained[i] = w - h;
        Jm = objective(&fx, loss);
        fx.net->trained[i] = w;
        worst = fmax(worst, fabs((Jp - Jm) / (2 * h) - dW[i]) / scale);
    }
    if (worst > F32_GRAD_TOL)
        fail_msg("f32 dW: model %d act %d input %d loss %d: error %.3g of the largest entry", model, activation,
                 input_layer, loss, worst);
    worst = scale = 0;
    for (long i = 0; i < n * d; i++) scale = fmax(scale, fabs(dX[i]));
    for (long i = 0; i < n * d; i++) {
        double x = fx.X[i], Jp, Jm;
        fx.X[i] = x + h;
        Jp = objective(&fx, loss);
        fx.X[i] = x - h;
        Jm = objective(&fx, loss);
        fx.X[i] = x;
        worst = fmax(worst, fabs((Jp - Jm) / (2 * h) - dX[i]) / scale);
    }
    if (worst > F32_GRAD_TOL)
        fail_msg("f32 dX: model %d act %d input %d loss %d: error %.3g of the largest entry", model, activation,
                 input_layer, loss, worst);
    free(X32), free(f32), free(df32), free(dW), free(dX);
    network_destroy_f32(&wk32);
    net_destroy_f32(&net32);
    assert_null(net32);
    release(&fx);
}

static void test_gradients_f32(void **state) {
    (void)state;
    for_every_deep_model(check_gradients_f32);
    for_every_twolayer_model(check_gradients_f32);
}

/* SGEMM forward/backward against the double naive loops at the same rounded values,
 * at widths where BLAS takes its blocked paths: relative 1e-5 (float rounding of sums
 * of up to m terms; measured below 1e-6). */
static void test_f32_matches_f64(void **state) {
    (void)state;
    int models[][3] = {{MODEL_DEEP, ACT_RELU, INPUT_LINEAR}, {MODEL_DEEP, ACT_SOFTPLUS, INPUT_RELU},
                       {MODEL_TWOLAYER, ACT_RELU, INPUT_LINEAR}, {MODEL_TWOLAYER, ACT_QUADRELU, INPUT_LINEAR}};
    for (int c = 0; c < 4; c++) {
        long m = 130, H = 3, d = 7, n = 33;
        Fixture fx = make(models[c][0], models[c][1], models[c][2], m, H, d, n, 3);
        Net_f32 *net32 = round_to_f32(&fx);
        NetWork_f32 *wk32 = network_create_f32(&fx.net->shape, n);
        long nt = fx.net->n_trained;
        float *X32 = to_float(fx.X, n * d), *f32 = xcalloc((size_t)n, sizeof(float));
        float *df32 = xcalloc((size_t)n, sizeof(float)), *dW32 = xcalloc((size_t)nt, sizeof(float));
        float *dX32 = xcalloc((size_t)(n * d), sizeof(float));
        double *dW = xcalloc((size_t)nt, sizeof(double)), *dX = xcalloc((size_t)(n * d), sizeof(double));
        net_forward_naive(fx.f, fx.net, fx.X, n);
        net_forward_f32(f32, net32, wk32, X32, n);
        double scale = 0;
        for (long i = 0; i < n; i++) scale = fmax(scale, fabs(fx.f[i]));
        for (long i = 0; i < n; i++) {
            if (fabs(f32[i] - fx.f[i]) > 1e-5 * scale) fail_msg("case %d: f[%ld] %.9g vs %.9g", c, i, f32[i], fx.f[i]);
            fx.df[i] = 0.5 + 0.1 * (double)i;
            df32[i] = (float)fx.df[i];
        }
        net_backward_naive(dW, dX, fx.df, fx.net, fx.X, n);
        net_backward_f32(dW32, dX32, df32, net32, wk32, X32, n);
        scale = 0;
        for (long i = 0; i < nt; i++) scale = fmax(scale, fabs(dW[i]));
        for (long i = 0; i < nt; i++) assert_true(fabs(dW32[i] - dW[i]) <= 1e-5 * scale);
        scale = 0;
        for (long i = 0; i < n * d; i++) scale = fmax(scale, fabs(dX[i]));
        for (long i = 0; i < n * d; i++) assert_true(fabs(dX32[i] - dX[i]) <= 1e-5 * scale);
        free(X32), free(f32), free(df32), free(dW32), free(dX32), free(dW), free(dX);
        network_destroy_f32(&wk32);
        net_destroy_f32(&net32);
        release(&fx);
    }
}

/* Eq. (4)'s symmetry survives rounding: the f32 net starts from the f64 draw rounded,
 * w_r and wbar_r round alike, and the paired half-sums through two SGEMMs of one shape and
 * one exact subtraction give f(W0, x) == 0.0f and grad_x == 0.0f exactly. */
static void test_twolayer_symmetric_init_f32(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof SYMMETRY_SHAPES / sizeof SYMMETRY_SHAPES[0]; k++)
        for (int act = ACT_RELU; act <= ACT_QUADRELU; act++) {
            long m = SYMMETRY_SHAPES[k][0], n = SYMMETRY_SHAPES[k][1], d = SYMMETRY_SHAPES[k][2];
            NetShape s = {MODEL_TWOLAYER, act, INPUT_LINEAR, m, 1, d};
            Net *net = net_create(&s);
            Rng rng;
            rng_seed(&rng, 5 + k, RNG_INIT, 0);
            net_init(net, &rng);
            Net_f32 *net32 = net_create_f32(&s);
            net_copy_f32(net32, net);
            for (long i = 0; i < net->n_trained; i++) assert_true(net32->trained[i] == (float)net->trained[i]);
            NetWork_f32 *wk = network_create_f32(&s, n);
            float *X = xcalloc((size_t)(n * d), sizeof(float)), *f = xcalloc((size_t)n, sizeof(float));
            float *df = xcalloc((size_t)n, sizeof(float)), *dX = xcalloc((size_t)(n * d), sizeof(float));
            float *dW = xcalloc((size_t)net->n_trained, sizeof(float));
            double x[64];
            for (long i = 0; i < n; i++) {
                rng_sphere(&rng, x, (int)d);
                for (long j = 0; j < d; j++) X[i * d + j] = (float)x[j];
            }
            for (long i = 0; i < n; i++) df[i] = (float)rng_normal(&rng);
            net_forward_f32(f, net32, wk, X, n);
            for (long i = 0; i < n; i++)
                if (f[i] != 0.0f) fail_msg("f32 m=%ld n=%ld d=%ld act=%d: f[%ld] = %.3g, not exactly 0", m, n, d, act, i, f[i]);
            net_backward_f32(dW, dX, df, net32, wk, X, n);
            for (long i = 0; i < n * d; i++)
                if (dX[i] != 0.0f)
                    fail_msg("f32 m=%ld n=%ld d=%ld act=%d: dX[%ld] = %.3g, not exactly 0", m, n, d, act, i, dX[i]);
            for (long i = 0; i < net->n_trained / 2; i++) assert_true(dW[i] == -dW[net->n_trained / 2 + i]);
            int nonzero = 0;
            for (long i = 0; i < net->n_trained; i++) nonzero += dW[i] != 0.0f;
            assert_true(nonzero > 0);
            free(X), free(f), free(df), free(dX), free(dW);
            network_destroy_f32(&wk);
            net_destroy_f32(&net32);
            net_destroy(&net);
        }
}

/* One place for every size: the arenas and workspaces net_create/network_create allocate. */
static void test_net_sizes(void **state) {
    (void)state;
    NetShape deep = {MODEL_DEEP, ACT_RELU, INPUT_LINEAR, 10, 3, 4}, two = {MODEL_TWOLAYER, ACT_RELU, INPUT_LINEAR, 6, 1, 40};
    NetSizes a = net_sizes(&deep, 7, 8), b = net_sizes(&two, 7, 4);
    assert_int_equal(a.trained, 300);
    assert_int_equal(a.blocks, 3);
    assert_int_equal(a.block, 100);
    assert_int_equal(a.fixed, 50);
    assert_int_equal(a.input_weights, 40);
    assert_int_equal(a.planes, 4);
    assert_int_equal(a.plane, 70);
    assert_int_equal(a.scratch, 70);
    assert_int_equal(a.param_bytes, 350 * 8);
    assert_int_equal(a.work_bytes, (2 * 4 * 70 + 70 + 70) * 8);
    /* counts beyond 64 bits (H m^2 = 1e19) saturate, and the bytes stay a true, huge figure */
    NetShape huge = {MODEL_DEEP, ACT_RELU, INPUT_LINEAR, 100000000, 1000, 8};
    NetSizes h = net_sizes(&huge, 48, 8);
    assert_true(h.trained == LONG_MAX && h.block == 10000000000000000L);
    assert_true(h.trained_bytes > 7.9e19 && h.trained_bytes < 8.1e19);
    assert_true(h.param_bytes >= h.trained_bytes && isfinite(h.work_bytes) && h.work_bytes > 0);
    assert_int_equal(b.trained, 240);
    assert_int_equal(b.blocks, 1);
    assert_int_equal(b.block, 240);
    assert_int_equal(b.fixed, 6);
    assert_int_equal(b.input_weights, 0);
    assert_int_equal(b.planes, 1);
    assert_int_equal(b.scratch, 7 * 40); /* G2 holds the (n, d) product */
    assert_int_equal(b.work_bytes, (2 * 42 + 42 + 280) * 4);
    Net *net = net_create(&deep);
    Net_f32 *net32 = net_create_f32(&two);
    assert_int_equal(net->n_trained, a.trained);
    assert_int_equal(net32->n_trained, b.trained);
    assert_true(net->a == net->fixed_arena + 40 && net->A == net->fixed_arena);
    assert_true(net32->a == net32->fixed_arena && net32->A == NULL);
    net_destroy(&net);
    net_destroy_f32(&net32);
}

/* Mean over samples of |row|^2 of an (n, m) plane. */
static double mean_sq(const double *P, long n, long m) {
    double s = 0;
    for (long i = 0; i < n * m; i++) s += P[i] * P[i];
    return s / (double)n;
}

/* Eq. (1) as written: |x(0)|^2 -> 2, |xbar(h)|^2 -> 2 |x(h-1)|^2, |x(h)|^2 -> |xbar(h)|^2 / 2.
 * With Allen-Zhu et al.'s relu(A x) input layer: |x(0)|^2 -> 1. */
static void test_init_statistics(void **state) {
    (void)state;
    long m = 2048, H = 3, d = 16, n = 32;
    for (int input = INPUT_LINEAR; input <= INPUT_RELU; input++) {
        Fixture fx = make(MODEL_DEEP, ACT_RELU, input, m, H, d, n, 11);
        net_forward(fx.f, fx.net, fx.wk, fx.X, n);
        long plane = n * m;
        double x0 = mean_sq(fx.wk->Xa, n, m);
        assert_true(fabs(x0 - (input == INPUT_LINEAR ? 2.0 : 1.0)) < 0.1 * (input == INPUT_LINEAR ? 2.0 : 1.0));
        for (long h = 1; h <= H; h++) {
            double prev = mean_sq(fx.wk->Xa + (h - 1) * plane, n, m);
            double pre = mean_sq(fx.wk->Z + h * plane, n, m);
            double post = mean_sq(fx.wk->Xa + h * plane, n, m);
            if (fabs(pre / prev - 2.0) > 0.15 || fabs(post / pre - 0.5) > 0.05)
                fail_msg("layer %ld: |xbar|^2/|x(h-1)|^2 = %.3f (want 2), |x|^2/|xbar|^2 = %.3f (want 0.5)", h,
                         pre / prev, post / pre);
        }
        release(&fx);
    }
}

/* Losses: logistic without overflow, derivatives match finite differences. */
static void test_losses(void **state) {
    (void)state;
    assert_true(isfinite(loss_value(LOSS_LOGISTIC, -1e6, 1.0)));
    assert_true(fabs(loss_value(LOSS_LOGISTIC, -1e6, 1.0) - 1e6) < 1e-6);
    assert_true(loss_value(LOSS_LOGISTIC, 1e6, 1.0) >= 0);
    assert_true(fabs(loss_deriv(LOSS_LOGISTIC, -1e6, 1.0) + 1.0) < 1e-12);
    assert_true(fabs(loss_value(LOSS_LOGISTIC, 0, 1) - log(2.0)) < 1e-15);
    assert_true(loss_value(LOSS_SQUARE, 1.0, 1.0) == 0.0);
    for (int loss = 0; loss < 2; loss++)
        for (double f = -3; f <= 3; f += 0.7)
            for (double y = -1; y <= 1; y += 2) {
                double h = 1e-6, num = (loss_value(loss, f + h, y) - loss_value(loss, f - h, y)) / (2 * h);
                assert_true(fabs(num - loss_deriv(loss, f, y)) < 1e-8);
            }
    for (int act = 0; act < 3; act++)
        for (double z = -2.05; z <= 2; z += 0.3) {
            double h = 1e-6, num = (act_value(act, z + h) - act_value(act, z - h)) / (2 * h);
            assert_true(fabs(num - act_deriv(act, z)) < 1e-7);
        }
}

/* Kernel selection: levels, the best core for a feature set, and when to re-execute. */
static void test_blas_kernel_choice(void **state) {
    (void)state;
    assert_int_equal(blas_core_level("Prescott"), BLAS_LEVEL_SSE);
    assert_int_equal(blas_core_level("Nehalem"), BLAS_LEVEL_SSE);
    assert_int_equal(blas_core_level("Sandybridge"), BLAS_LEVEL_AVX);
    assert_int_equal(blas_core_level("Haswell"), BLAS_LEVEL_AVX2);
    assert_int_equal(blas_core_level("Zen"), BLAS_LEVEL_AVX2);
    assert_int_equal(blas_core_level("skylakex"), BLAS_LEVEL_AVX512);
    assert_int_equal(blas_core_level("Cooperlake"), BLAS_LEVEL_AVX512);
    assert_string_equal(blas_best_core(1, 1, 1, 1, 1, 1, 1), "SkylakeX");
    assert_string_equal(blas_best_core(1, 1, 1, 1, 0, 0, 0), "Haswell"); /* AVX-512F alone (Knights) is not SkylakeX */
    assert_string_equal(blas_best_core(1, 1, 1, 0, 0, 0, 0), "Haswell");
    assert_string_equal(blas_best_core(1, 1, 0, 0, 0, 0, 0), "Sandybridge");
    assert_null(blas_best_core(0, 0, 0, 0, 0, 0, 0));
    /* The misread this exists for: Prescott on an AVX-512 Xeon. */
    assert_string_equal(blas_select_decision("Prescott", "SkylakeX", 0, 0, 0), "SkylakeX");
    assert_string_equal(blas_select_decision("Haswell", "SkylakeX", 0, 0, 0), "SkylakeX");
    assert_null(blas_select_decision("Zen", "Haswell", 0, 0, 0));      /* same level: OpenBLAS knows best */
    assert_null(blas_select_decision("SkylakeX", "Haswell", 0, 0, 0)); /* never downgrade */
    assert_null(blas_select_decision("Prescott", "SkylakeX", 1, 0, 0)); /* the user's OPENBLAS_CORETYPE wins */
    assert_null(blas_select_decision("Prescott", "SkylakeX", 0, 1, 0)); /* opt-out */
    assert_null(blas_select_decision("Prescott", "SkylakeX", 0, 0, 1)); /* once only: no re-execution loop */
    assert_null(blas_select_decision("Prescott", NULL, 0, 0, 0));
    /* This process runs at least at the level of the best kernel for its CPU (the tests
     * are started through blas_kernel_select too). */
    const char *best = blas_best_core_here();
    if (best && !getenv("OPENBLAS_CORETYPE")) assert_true(blas_core_level(blas_kernel_name()) >= blas_core_level(best));
}

int main(int argc, char **argv) {
    (void)argc;
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_blas_kernel_choice),
        cmocka_unit_test(test_gradients_deep),
        cmocka_unit_test(test_gradients_twolayer),
        cmocka_unit_test(test_blas_matches_naive),
        cmocka_unit_test(test_twolayer_symmetric_init),
        cmocka_unit_test(test_init_statistics),
        cmocka_unit_test(test_net_sizes),
        cmocka_unit_test(test_gradients_f32),
        cmocka_unit_test(test_f32_matches_f64),
        cmocka_unit_test(test_twolayer_symmetric_init_f32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
