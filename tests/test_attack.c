/* test_attack.c — B(x) geometry and every attack: outputs stay in B(x); the same in
 * single precision (f32) at float tolerances. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/attack.h"
#include "advsweep/common.h"
#include "advsweep/config.h"
#include "advsweep/data.h"

#define TOL 1e-12

static double dist(const double *a, const double *b, long d) {
    double s = 0;
    for (long k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
    return sqrt(s);
}

static double norm(const double *a, long d) {
    double s = 0;
    for (long k = 0; k < d; k++) s += a[k] * a[k];
    return sqrt(s);
}

static void test_project_geometry(void **state) {
    (void)state;
    Rng rng;
    rng_seed(&rng, 1, RNG_BENCH, 0);
    double deltas[] = {0.0, 0.05, 0.5, 1.0, 1.9};
    long dims[] = {2, 3, 10};
    for (int di = 0; di < 3; di++)
        for (int j = 0; j < 5; j++) {
            long d = dims[di];
            double delta = deltas[j], x[10], v[10], p[10], c[10];
            for (int trial = 0; trial < 300; trial++) {
                rng_sphere(&rng, x, (int)d);
                double scale = 0.1 + 3 * rng_uniform(&rng);
                for (long k = 0; k < d; k++) v[k] = scale * (x[k] + (0.05 + trial % 3) * rng_normal(&rng));
                memcpy(p, v, sizeof v);
                ball_project(p, x, d, delta);
                assert_true(fabs(norm(p, d) - 1) < TOL);
                assert_true(dist(p, x, d) <= delta + TOL);
                double u[10], nv = norm(v, d);
                for (long k = 0; k < d; k++) u[k] = v[k] / nv;
                if (dist(u, x, d) <= delta) {
                    for (long k = 0; k < d; k++) assert_true(fabs(p[k] - u[k]) < TOL); /* inside: unchanged */
                } else {
                    assert_true(fabs(dist(p, x, d) - delta) < 1e-9); /* outside: on the boundary */
                    /* and no point of B(x) is nearer to v */
                    for (int s = 0; s < 20; s++) {
                        for (long k = 0; k < d; k++) c[k] = p[k] + 0.3 * delta * rng_normal(&rng);
                        ball_project(c, x, d, delta);
                        assert_true(dist(p, v, d) <= dist(c, v, d) + 1e-9);
                    }
                }
            }
            /* the antipode and zero */
            for (long k = 0; k < d; k++) v[k] = -x[k];
            ball_project(v, x, d, delta);
            assert_true(fabs(norm(v, d) - 1) < TOL && dist(v, x, d) <= delta + TOL);
            memset(v, 0, sizeof v);
            ball_project(v, x, d, delta);
            assert_memory_equal(v, x, (size_t)d * sizeof(double));
        }
}

/* Uniform on a cap of S^2: cos(phi) is uniform on [cos theta, 1] (Archimedes). In
 * d = 10 compare the mean angle with the density sin^8(phi) integrated numerically. */
static void test_sample_uniform_on_cap(void **state) {
    (void)state;
    Rng rng;
    rng_seed(&rng, 2, RNG_BENCH, 0);
    long dims[] = {3, 10};
    for (int di = 0; di < 2; di++) {
        long d = dims[di];
        double delta = 0.8, theta = 2 * asin(delta / 2);
        AttackWork *aw = attack_work_create(1, d, delta);
        double x[10], p[10];
        rng_sphere(&rng, x, (int)d);
        int N = 40000;
        double mean_phi = 0, below_mid = 0, mid = (1 + cos(theta)) / 2;
        for (int i = 0; i < N; i++) {
            ball_sample(p, x, aw, &rng);
            assert_true(fabs(norm(p, d) - 1) < TOL && dist(p, x, d) <= delta + TOL);
            double c = 0;
            for (long k = 0; k < d; k++) c += p[k] * x[k];
            double phi = acos(fmin(1, c));
            mean_phi += phi / N;
            below_mid += (c < mid) / (double)N;
        }
        double num = 0, den = 0;
        for (int i = 1; i <= 100000; i++) {
            double phi = theta * (i - 0.5) / 100000, w = pow(sin(phi), (double)(d - 2));
            num += phi * w;
            den += w;
        }
        if (fabs(mean_phi - num / den) > 0.01 * theta) fail_msg("d=%ld mean angle %g, want %g", d, mean_phi, num / den);
        if (d == 3) assert_true(fabs(below_mid - 0.5) < 0.015);
        attack_work_destroy(&aw);
        assert_null(aw);
    }
}

typedef struct {
    Net *net;
    NetWork *nw;
    AttackWork *aw;
    Dataset *data;
} Setup;

static Setup setup(int model, long m, long d, long n, double delta) {
    Setup s;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.n = n;
    cfg.d = d;
    cfg.delta = delta < 0.2 ? delta : 0.01; /* the data only need distinct points */
    assert_int_equal(data_generate(&s.data, &cfg), ADV_OK);
    NetShape shape = {model, ACT_RELU, INPUT_LINEAR, m, 2, d};
    s.net = net_create(&shape);
    Rng rng;
    rng_seed(&rng, 3, RNG_INIT, 0);
    net_init(s.net, &rng);
    if (model == MODEL_TWOLAYER)
        for (long i = 0; i < s.net->n_trained; i++) s.net->trained[i] += 0.5 * rng_normal(&rng);
    s.nw = network_create(&shape, n);
    s.aw = attack_work_create(n, d, delta);
    return s;
}

static void teardown(Setup *s) {
    net_destroy(&s->net);
    network_destroy(&s->nw);
    attack_work_destroy(&s->aw);
    dataset_destroy(&s->data);
}

static void test_every_attack_stays_in_ball(void **state) {
    (void)state;
    double deltas[] = {0.0, 0.1, 1.0, 1.9};
    for (int model = MODEL_DEEP; model <= MODEL_TWOLAYER; model++)
        for (int j = 0; j < 4; j++)
            for (int kind = ATTACK_NONE; kind <= ATTACK_PGD; kind++)
                for (int rs = 0; rs < 2; rs++) {
                    long n = 24, d = 6;
                    double delta = deltas[j];
                    Setup s = setup(model, 32, d, n, delta);
                    AttackSpec spec = {kind, 7, 2.5 * delta / 7, 3, rs, delta, LOSS_LOGISTIC};
                    double *Xadv = xcalloc((size_t)(n * d), sizeof(double));
                    Rng rng;
                    rng_seed(&rng, 4, RNG_ATTACK, 0);
                    attack_run(Xadv, NULL, &spec, s.net, s.nw, s.aw, s.data->X, s.data->y, n, &rng);
                    double se, be;
                    ball_violation(&se, &be, Xadv, s.data->X, n, d, delta);
                    if (se > TOL || be > TOL)
                        fail_msg("model %d attack %d delta %g: sphere err %g, ball err %g", model, kind, delta, se, be);
                    if (delta == 0.0) assert_memory_equal(Xadv, s.data->X, (size_t)(n * d) * sizeof(double));
                    free(Xadv);
                    teardown(&s);
                }
}

static double mean_loss(Setup *s, const double *X, double *per_sample) {
    long n = s->data->n;
    double *f = xcalloc((size_t)n, sizeof(double)), sum = 0;
    net_forward(f, s->net, s->nw, X, n);
    for (long i = 0; i < n; i++) {
        double l = loss_value(LOSS_LOGISTIC, f[i], s->data->y[i]);
        if (per_sample) per_sample[i] = l;
        sum += l;
    }
    free(f);
    return sum / (double)n;
}

/* PGD keeps the worst point seen, which includes x itself: its loss is >= the
 * clean loss on every sample, and it beats the clean loss and FGSM on average. */
static void test_pgd_increases_loss(void **state) {
    (void)state;
    long n = 40, d = 8;
    double delta = 0.3;
    Setup s = setup(MODEL_DEEP, 64, d, n, delta);
    double *clean = xcalloc((size_t)n, sizeof(double)), *adv = xcalloc((size_t)n, sizeof(double));
    double *reported = xcalloc((size_t)n, sizeof(double)), *Xadv = xcalloc((size_t)(n * d), sizeof(double));
    double L_clean = mean_loss(&s, s.data->X, clean);
    AttackSpec pgd = {ATTACK_PGD, 10, 2.5 * delta / 10, 2, 0, delta, LOSS_LOGISTIC};
    Rng rng;
    rng_seed(&rng, 5, RNG_ATTACK, 0);
    assert_int_equal(attack_run(Xadv, reported, &pgd, s.net, s.nw, s.aw, s.data->X, s.data->y, n, &rng), 1);
    double L_pgd = mean_loss(&s, Xadv, adv);
    for (long i = 0; i < n; i++) {
        assert_true(adv[i] >= clean[i]);
        assert_true(fabs(adv[i] - reported[i]) <= 1e-12 * fmax(1, adv[i]));
    }
    AttackSpec fgsm = {ATTACK_FGSM, 1, delta, 1, 0, delta, LOSS_LOGISTIC};
    attack_run(Xadv, NULL, &fgsm, s.net, s.nw, s.aw, s.data->X, s.data->y, n, &rng);
    double L_fgsm = mean_loss(&s, Xadv, NULL);
    if (!(L_pgd > L_clean && L_fgsm > L_clean && L_pgd >= L_fgsm))
        fail_msg("clean %g fgsm %g pgd %g", L_clean, L_fgsm, L_pgd);
    free(clean);
    free(adv);
    free(reported);
    free(Xadv);
    teardown(&s);
}

/* At the two-layer net's symmetric init f == 0 and the input gradient == 0 exactly, so
 * FGSM and PGD (without a random first start; random restarts only tie, they never win)
 * must return x itself, bit for bit, and PGD reports exactly log 2 per sample. */
static void test_zero_gradient_returns_x(void **state) {
    (void)state;
    for (int act = ACT_RELU; act <= ACT_SOFTPLUS; act++) {
        long n = 30, d = 7;
        Setup s = setup(MODEL_TWOLAYER, 40, d, n, 0.3);
        s.net->shape.activation = act;
        Rng init;
        rng_seed(&init, 8, RNG_INIT, 0);
        net_init(s.net, &init); /* the symmetric init itself (setup perturbs it) */
        double *Xadv = xcalloc((size_t)(n * d), sizeof(double)), *loss = xcalloc((size_t)n, sizeof(double));
        AttackSpec specs[] = {{ATTACK_FGSM, 1, 0.3, 1, 0, 0.3, LOSS_LOGISTIC},
                              {ATTACK_PGD, 8, 0.1, 1, 0, 0.3, LOSS_LOGISTIC},
                              {ATTACK_PGD, 8, 0.1, 3, 0, 0.3, LOSS_LOGISTIC},
                              {ATTACK_PGD, 4, 0.1, 2, 0, 0.3, LOSS_SQUARE}};
        for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
            Rng rng;
            rng_seed(&rng, 6, RNG_ATTACK, k);
            int filled = attack_run(Xadv, loss, &specs[k], s.net, s.nw, s.aw, s.data->X, s.data->y, n, &rng);
            assert_memory_equal(Xadv, s.data->X, (size_t)(n * d) * sizeof(double));
            if (filled)
                for (long i = 0; i < n; i++) assert_true(loss[i] == loss_value(specs[k].loss, 0.0, s.data->y[i]));
        }
        free(Xadv);
        free(loss);
        teardown(&s);
    }
}

/* Same seed, same points; the random attack depends on its stream only. */
static void test_attack_deterministic(void **state) {
    (void)state;
    long n = 16, d = 5;
    Setup s = setup(MODEL_DEEP, 32, d, n, 0.2);
    double *A = xcalloc((size_t)(n * d), sizeof(double)), *B = xcalloc((size_t)(n * d), sizeof(double));
    AttackSpec spec = {ATTACK_PGD, 5, 0.1, 3, 1, 0.2, LOSS_LOGISTIC};
    Rng r1, r2;
    rng_seed(&r1, 9, RNG_ATTACK, 3);
    rng_seed(&r2, 9, RNG_ATTACK, 3);
    attack_run(A, NULL, &spec, s.net, s.nw, s.aw, s.data->X, s.data->y, n, &r1);
    attack_run(B, NULL, &spec, s.net, s.nw, s.aw, s.data->X, s.data->y, n, &r2);
    assert_memory_equal(A, B, (size_t)(n * d) * sizeof(double));
    free(A);
    free(B);
    teardown(&s);
}

/* ----- single precision ----------------------------------------------------- */

/* f32 tolerance of the sphere and the ball: float rounding of unit vectors. */
#define TOL32 1e-6

typedef struct {
    Setup base; /* the f64 setup: data, and the net to round */
    Net_f32 *net;
    NetWork_f32 *nw;
    AttackWork_f32 *aw;
    float *X;
} Setup32;

static Setup32 setup32(int model, long m, long d, long n, double delta) {
    Setup32 s;
    s.base = setup(model, m, d, n, delta);
    s.net = net_create_f32(&s.base.net->shape);
    net_copy_f32(s.net, s.base.net);
    s.nw = network_create_f32(&s.base.net->shape, n);
    s.aw = attack_work_create_f32(n, d, delta);
    s.X = xcalloc((size_t)(n * d), sizeof(float));
    for (long i = 0; i < n * d; i++) s.X[i] = (float)s.base.data->X[i];
    return s;
}

static void teardown32(Setup32 *s) {
    net_destroy_f32(&s->net);
    network_destroy_f32(&s->nw);
    attack_work_destroy_f32(&s->aw);
    assert_null(s->aw);
    free(s->X);
    teardown(&s->base);
}

/* The f32 projection: on the sphere, in the ball (to float rounding), the antipode and 0. */
static void test_project_geometry_f32(void **state) {
    (void)state;
    Rng rng;
    rng_seed(&rng, 1, RNG_BENCH, 0);
    double deltas[] = {0.0, 0.05, 0.5, 1.9};
    for (int j = 0; j < 4; j++)
        for (long d = 2; d <= 40; d += 19) {
            double delta = deltas[j], xd[40], pd[40], xr[40];
            float x[40], v[40];
            for (int trial = 0; trial < 300; trial++) {
                rng_sphere(&rng, xd, (int)d);
                for (long k = 0; k < d; k++) x[k] = (float)xd[k], xr[k] = x[k];
                for (long k = 0; k < d; k++) v[k] = (float)(2 * (xd[k] + (0.05 + trial % 3) * rng_normal(&rng)));
                for (long k = 0; k < d; k++) pd[k] = v[k];
                ball_project_f32(v, x, d, delta);
                ball_project(pd, xr, d, delta); /* the f64 projection of the same float point */
                double nv = 0, dist = 0, gap = 0;
                for (long k = 0; k < d; k++) {
                    nv += (double)v[k] * v[k];
                    dist += ((double)v[k] - x[k]) * ((double)v[k] - x[k]);
                    gap = fmax(gap, fabs(v[k] - pd[k]));
                }
                if (fabs(sqrt(nv) - 1) > TOL32 || sqrt(dist) > delta + TOL32 || gap > TOL32)
                    fail_msg("d=%ld delta %g: |v| - 1 = %.3g, dist - delta = %.3g, from f64 %.3g", d, delta,
                             sqrt(nv) - 1, sqrt(dist) - delta, gap);
            }
            for (long k = 0; k < d; k++) v[k] = -x[k];
            ball_project_f32(v, x, d, delta);
            double nv = 0, dist = 0;
            for (long k = 0; k < d; k++) nv += (double)v[k] * v[k], dist += ((double)v[k] - x[k]) * ((double)v[k] - x[k]);
            assert_true(fabs(sqrt(nv) - 1) < TOL32 && sqrt(dist) <= delta + TOL32);
            memset(v, 0, sizeof v);
            ball_project_f32(v, x, d, delta);
            assert_memory_equal(v, x, (size_t)d * sizeof(float));
        }
}

/* Random points of B(x) are drawn in double and rounded: the f32 sampler gives the f64
 * sampler's point (from the same stream, around the same float x) rounded to float. */
static void test_sample_f32_is_f64_rounded(void **state) {
    (void)state;
    long d = 9;
    double delta = 0.4, xd[9], out64[9];
    float x[9], out32[9];
    AttackWork *aw = attack_work_create(1, d, delta);
    AttackWork_f32 *aw32 = attack_work_create_f32(1, d, delta);
    Rng src;
    rng_seed(&src, 12, RNG_BENCH, 0);
    for (int trial = 0; trial < 200; trial++) {
        rng_sphere(&src, xd, (int)d);
        for (long k = 0; k < d; k++) x[k] = (float)xd[k], xd[k] = x[k];
        Rng r1, r2;
        rng_seed(&r1, 13, RNG_ATTACK, (uint64_t)trial);
        r2 = r1;
        ball_sample(out64, xd, aw, &r1);
        ball_sample_f32(out32, x, aw32, &r2);
        for (long k = 0; k < d; k++) assert_true(out32[k] == (float)out64[k]);
        assert_memory_equal(&r1, &r2, sizeof r1); /* the same draws consumed */
    }
    attack_work_destroy(&aw);
    attack_work_destroy_f32(&aw32);
}

/* Every f32 attack returns points of B(x) (to float rounding); delta = 0 returns x. */
static void test_every_attack_stays_in_ball_f32(void **state) {
    (void)state;
    double deltas[] = {0.0, 0.1, 1.0, 1.9};
    for (int model = MODEL_DEEP; model <= MODEL_TWOLAYER; model++)
        for (int j = 0; j < 4; j++)
            for (int kind = ATTACK_NONE; kind <= ATTACK_PGD; kind++) {
                long n = 24, d = 6;
                double delta = deltas[j];
                Setup32 s = setup32(model, 32, d, n, delta);
                AttackSpec spec = {kind, 7, 2.5 * delta / 7, 3, 1, delta, LOSS_LOGISTIC};
                float *Xadv = xcalloc((size_t)(n * d), sizeof(float));
                Rng rng;
                rng_seed(&rng, 4, RNG_ATTACK, 0);
                attack_run_f32(Xadv, NULL, &spec, s.net, s.nw, s.aw, s.X, s.base.data->y, n, &rng);
                double se, be;
                ball_violation_f32(&se, &be, Xadv, s.X, n, d, delta);
                if (se > TOL32 || be > TOL32)
                    fail_msg("f32 model %d attack %d delta %g: sphere err %g, ball err %g", model, kind, delta, se, be);
                if (delta == 0.0) assert_memory_equal(Xadv, s.X, (size_t)(n * d) * sizeof(float));
                free(Xadv);
                teardown32(&s);
            }
}

/* f32 PGD against f64 PGD on the same (rounded) net and points: the reported worst
 * losses agree to 1e-4 relative and PGD still beats the clean loss on average. */
static void test_pgd_f32_near_f64(void **state) {
    (void)state;
    long n = 40, d = 8;
    double delta = 0.3;
    Setup32 s = setup32(MODEL_DEEP, 64, d, n, delta);
    /* the f64 net and points take the rounded values, so both attack the same function */
    long nt = s.base.net->n_trained, nf = s.base.net->shape.m * d + s.base.net->shape.m;
    for (long i = 0; i < nt; i++) s.base.net->trained[i] = s.net->trained[i];
    for (long i = 0; i < nf; i++) s.base.net->fixed_arena[i] = s.net->fixed_arena[i];
    for (long i = 0; i < n * d; i++) s.base.data->X[i] = s.X[i];
    double *l64 = xcalloc((size_t)n, sizeof(double)), *l32 = xcalloc((size_t)n, sizeof(double));
    double *X64 = xcalloc((size_t)(n * d), sizeof(double));
    float *X32 = xcalloc((size_t)(n * d), sizeof(float));
    AttackSpec pgd = {ATTACK_PGD, 10, 2.5 * delta / 10, 1, 0, delta, LOSS_LOGISTIC};
    Rng r1, r2;
    rng_seed(&r1, 5, RNG_ATTACK, 0);
    r2 = r1;
    assert_int_equal(attack_run(X64, l64, &pgd, s.base.net, s.base.nw, s.base.aw, s.base.data->X, s.base.data->y, n, &r1), 1);
    assert_int_equal(attack_run_f32(X32, l32, &pgd, s.net, s.nw, s.aw, s.X, s.base.data->y, n, &r2), 1);
    double L64 = 0, L32 = 0, clean = mean_loss(&s.base, s.base.data->X, NULL);
    for (long i = 0; i < n; i++) L64 += l64[i] / n, L32 += l32[i] / n;
    if (!(fabs(L32 - L64) <= 1e-4 * L64 && L32 > clean)) fail_msg("pgd f32 %.9g f64 %.9g clean %.9g", L32, L64, clean);
    free(l64), free(l32), free(X64), free(X32);
    teardown32(&s);
}

/* The exact symmetry in f32: at the two-layer net's init f == 0 and grad_x == 0 exactly,
 * so FGSM and PGD return x itself, bit for bit, and PGD reports exactly log 2 per sample. */
static void test_zero_gradient_returns_x_f32(void **state) {
    (void)state;
    for (int act = ACT_RELU; act <= ACT_SOFTPLUS; act++) {
        long n = 30, d = 7;
        Setup32 s = setup32(MODEL_TWOLAYER, 40, d, n, 0.3);
        s.base.net->shape.activation = act;
        s.net->shape.activation = act;
        Rng init;
        rng_seed(&init, 8, RNG_INIT, 0);
        net_init(s.base.net, &init); /* the symmetric init itself (setup perturbs it) */
        net_copy_f32(s.net, s.base.net);
        float *Xadv = xcalloc((size_t)(n * d), sizeof(float));
        double *loss = xcalloc((size_t)n, sizeof(double));
        AttackSpec specs[] = {{ATTACK_FGSM, 1, 0.3, 1, 0, 0.3, LOSS_LOGISTIC},
                              {ATTACK_PGD, 8, 0.1, 1, 0, 0.3, LOSS_LOGISTIC},
                              {ATTACK_PGD, 8, 0.1, 3, 0, 0.3, LOSS_LOGISTIC},
                              {ATTACK_PGD, 4, 0.1, 2, 0, 0.3, LOSS_SQUARE}};
        for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
            Rng rng;
            rng_seed(&rng, 6, RNG_ATTACK, k);
            int filled = attack_run_f32(Xadv, loss, &specs[k], s.net, s.nw, s.aw, s.X, s.base.data->y, n, &rng);
            assert_memory_equal(Xadv, s.X, (size_t)(n * d) * sizeof(float));
            if (filled)
                for (long i = 0; i < n; i++) assert_true(loss[i] == loss_value(specs[k].loss, 0.0, s.base.data->y[i]));
        }
        free(Xadv);
        free(loss);
        teardown32(&s);
    }
}

/* attack_work_bytes is the allocation's size in either precision, f32 about half. */
static void test_work_bytes(void **state) {
    (void)state;
    size_t b64 = attack_work_bytes(100, 20, sizeof(double)), b32 = attack_work_bytes(100, 20, sizeof(float));
    assert_true(b64 >= (size_t)(2 * 100 * 20 + 4 * 100) * 8);
    assert_true(b32 < b64 && b32 >= (size_t)(2 * 100 * 20 + 2 * 100) * 4 + 2 * 100 * 8);
}

int main(int argc, char **argv) {
    (void)argc;
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_project_geometry),
        cmocka_unit_test(test_sample_uniform_on_cap),
        cmocka_unit_test(test_every_attack_stays_in_ball),
        cmocka_unit_test(test_pgd_increases_loss),
        cmocka_unit_test(test_attack_deterministic),
        cmocka_unit_test(test_zero_gradient_returns_x),
        cmocka_unit_test(test_project_geometry_f32),
        cmocka_unit_test(test_sample_f32_is_f64_rounded),
        cmocka_unit_test(test_every_attack_stays_in_ball_f32),
        cmocka_unit_test(test_pgd_f32_near_f64),
        cmocka_unit_test(test_zero_gradient_returns_x_f32),
        cmocka_unit_test(test_work_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
