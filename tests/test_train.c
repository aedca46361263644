/* test_train.c — projected adversarial GD: rules, schedules, projection,
 * convergence on a small problem, determinism, divergence, early stop; the f32
 * backend against the f64 reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/train.h"

static TrainConfig small_config(void) {
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.m = 16;
    cfg.H = 2;
    cfg.d = 8;
    cfg.n = 32;
    cfg.delta = 0.1;
    cfg.epsilon = 0.05;
    cfg.attack = ATTACK_PGD;
    cfg.c_alpha = 20; /* free rule: alpha = 20 / (m H^2), the theorem rule's step at c_alpha 400, eps 0.05 */
    cfg.steps = 600;
    cfg.seed = 1;
    return cfg;
}

static int run(TrainSummary *sum, Trajectory **traj, const TrainConfig *cfg, const TrainHooks *hooks) {
    TrainPlan plan;
    assert_int_equal(train_plan(&plan, cfg), ADV_OK);
    Dataset *ds = NULL;
    assert_int_equal(data_generate(&ds, cfg), ADV_OK);
    *traj = trajectory_create(plan.records, plan.evals);
    int rc = train_run(sum, *traj, cfg, ds, hooks);
    dataset_destroy(&ds);
    return rc;
}

static void test_step_rules(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.m = 100;
    cfg.H = 3;
    cfg.epsilon = 0.2;
    cfg.R = 2;
    cfg.c_alpha = 0.5;
    cfg.c_T = 3;
    cfg.steps = 0; /* auto: derive T */
    cfg.lr = 0;    /* auto: derive alpha */
    cfg.max_steps = 1000000;
    TrainPlan p;
    /* The epsilon-free rule (the default): alpha = c_alpha / (m H^2), T = max_steps; epsilon
     * does not enter, so points that differ only in it are one training run. */
    assert_int_equal(cfg.lr_rule, LR_RULE_FREE);
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_true(fabs(p.lr - 0.5 / (100.0 * 9)) < 1e-18);
    assert_int_equal(p.steps, 1000000);
    assert_int_equal(train_uses_epsilon(&cfg), 0);
    TrainPlan p2;
    cfg.epsilon = 0.05;
    assert_int_equal(train_plan(&p2, &cfg), ADV_OK);
    assert_true(p2.lr == p.lr && p2.steps == p.steps);
    cfg.epsilon = 0.2;
    cfg.c_alpha = 0; /* auto: 40 (free), 400 (theorem): the same step at epsilon = 0.1 */
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_true(fabs(p.lr - 40.0 / 900.0) < 1e-15 && p.c_alpha == 40.0);
    cfg.lr_rule = LR_RULE_THEOREM;
    assert_int_equal(train_uses_epsilon(&cfg), 1);
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_true(fabs(p.lr - 400.0 * 0.2 / 900.0) < 1e-15 && p.c_alpha == 400.0);
    cfg.c_alpha = 0.5;
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    double alpha = 0.5 * 0.2 / (100.0 * 9); /* Thm 4.1: c_alpha eps / (m H^2) */
    assert_true(fabs(p.lr - alpha) < 1e-18);
    assert_int_equal(p.steps, (int64_t)ceil(3 * 4 / (100 * 0.2 * alpha))); /* c_T R^2 / (m eps alpha) */
    assert_int_equal(p.steps_capped, 0);
    cfg.max_steps = 50;
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_int_equal(p.steps, 50);
    assert_int_equal(p.steps_capped, 1);
    cfg.R = INFINITY; /* no finite T: the cap */
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_int_equal(p.steps, 50);
    cfg.model = MODEL_TWOLAYER; /* Thm 5.1: alpha = c_alpha eps, T = c_T sqrt(m) / alpha */
    cfg.max_steps = 1000000;
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_true(fabs(p.lr - 0.1) < 1e-15);
    assert_int_equal(p.steps, (int64_t)ceil(3 * 10 / 0.1));
    cfg.lr = 0.01; /* given values win */
    cfg.steps = 7;
    assert_int_equal(train_plan(&p, &cfg), ADV_OK);
    assert_true(p.lr == 0.01 && p.steps == 7);
    assert_int_equal(train_uses_epsilon(&cfg), 0); /* nothing is derived from epsilon any more */
    assert_true(p.attack.step == 2.5 * cfg.delta / (double)cfg.pgd_steps);
}

static void test_schedules(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.record_dense = 50;
    cfg.record_max = 120;
    int64_t Ts[] = {0, 1, 10, 119, 120, 121, 1000, 123456789};
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        int64_t T = Ts[i];
        long count = train_record_schedule(NULL, &cfg, T);
        int64_t *steps = xcalloc((size_t)count, sizeof(int64_t));
        assert_int_equal(train_record_schedule(steps, &cfg, T), count);
        assert_true(count <= cfg.record_max);
        assert_int_equal(steps[0], 0);
        assert_int_equal(steps[count - 1], T);
        for (long k = 1; k < count; k++) assert_true(steps[k] > steps[k - 1]);
        for (long k = 0; k < count && k < cfg.record_dense && k <= T; k++) assert_int_equal(steps[k], k);
        if (T + 1 <= cfg.record_max) assert_int_equal(count, T + 1);
        free(steps);
        long ec = train_eval_schedule(NULL, &cfg, T);
        int64_t ev[64];
        assert_true(ec <= cfg.eval_count + 2);
        assert_int_equal(train_eval_schedule(ev, &cfg, T), ec);
        assert_int_equal(ev[0], 0);
        assert_int_equal(ev[ec - 1], T);
    }
}

static void test_projection(void **state) {
    (void)state;
    NetShape deep = {MODEL_DEEP, ACT_RELU, INPUT_LINEAR, 10, 3, 4};
    long count = 3 * 100;
    double *W0 = xcalloc((size_t)count, sizeof(double)), *W = xcalloc((size_t)count, sizeof(double));
    double *before = xcalloc((size_t)count, sizeof(double));
    Rng rng;
    rng_seed(&rng, 1, RNG_BENCH, 0);
    rng_fill_normal(&rng, W0, count, 1.0);
    double R = 2.0, radius = R / sqrt(10.0);
    /* layer 0 inside, layer 1 outside, layer 2 far outside */
    double scales[3] = {0.5 * radius, 3 * radius, 100 * radius};
    for (int h = 0; h < 3; h++) {
        double dir[100], nrm = 0;
        rng_fill_normal(&rng, dir, 100, 1.0);
        for (int i = 0; i < 100; i++) nrm += dir[i] * dir[i];
        for (int i = 0; i < 100; i++) W[h * 100 + i] = W0[h * 100 + i] + scales[h] * dir[i] / sqrt(nrm);
    }
    memcpy(before, W, (size_t)count * sizeof(double));
    train_project(W, W0, &deep, R);
    assert_memory_equal(W, before, 100 * sizeof(double)); /* inside: untouched */
    for (int h = 1; h < 3; h++) {
        double d2 = 0, cosang = 0, a2 = 0;
        for (int i = 0; i < 100; i++) {
            double a = W[h * 100 + i] - W0[h * 100 + i], b = before[h * 100 + i] - W0[h * 100 + i];
            d2 += a * a;
            cosang += a * b;
            a2 += b * b;
        }
        assert_true(fabs(sqrt(d2) - radius) < 1e-12);                /* on the boundary */
        assert_true(fabs(cosang / sqrt(d2 * a2) - 1.0) < 1e-12);     /* same direction */
    }
    memcpy(W, before, (size_t)count * sizeof(double));
    train_project(W, W0, &deep, INFINITY);
    assert_memory_equal(W, before, (size_t)count * sizeof(double));
    /* two-layer: one ball of radius R over all of W */
    NetShape two = {MODEL_TWOLAYER, ACT_RELU, INPUT_LINEAR, 10, 1, 30};
    train_project(W, W0, &two, R);
    double d2 = 0;
    for (long i = 0; i < count; i++) d2 += (W[i] - W0[i]) * (W[i] - W0[i]);
    assert_true(fabs(sqrt(d2) - R) < 1e-12);
    free(W0);
    free(W);
    free(before);
}

/* A small problem where projected adversarial training reaches epsilon. */
static void test_reaches_epsilon(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    TrainSummary sum;
    Trajectory *traj;
    assert_int_equal(run(&sum, &traj, &cfg, NULL), ADV_OK);
    assert_int_equal(sum.status, RUN_DONE);
    if (!(sum.min_surrogate <= cfg.epsilon && sum.eps_step > 0))
        fail_msg("min L_A %g (eps %g), eps_step %lld", sum.min_surrogate, cfg.epsilon, (long long)sum.eps_step);
    assert_true(sum.init_surrogate > 0.5);
    assert_true(sum.final_clean_acc == 1.0);
    assert_true(sum.final_robust_loss >= sum.final_clean_loss);
    assert_true(sum.flops > 0 && sum.wall_time > 0);
    /* trajectory consistent with the summary */
    assert_true(traj->count > 0 && traj->count <= traj->cap);
    assert_int_equal(traj->step[traj->count - 1], sum.steps_run);
    assert_true(traj->surrogate[traj->count - 1] == sum.final_surrogate);
    assert_int_equal(traj->eval_step[0], 0);
    assert_int_equal(traj->eval_step[traj->eval_count - 1], sum.steps_run);
    for (long k = 0; k < traj->count; k++) assert_true(traj->surrogate[k] >= sum.min_surrogate || traj->step[k] == 0);
    trajectory_destroy(&traj);
    /* The same problem with a small radius R cannot move far: distance <= R. */
    cfg.R = 0.5;
    assert_int_equal(run(&sum, &traj, &cfg, NULL), ADV_OK);
    assert_true(sum.max_dist <= 0.5 * (1 + 1e-12));
    assert_true(sum.min_surrogate > cfg.epsilon);
    trajectory_destroy(&traj);
}

static void test_bit_identical(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    cfg.steps = 60;
    cfg.pgd_restarts = 2;
    cfg.pgd_random_start = 1;
    TrainSummary a, b;
    Trajectory *ta, *tb;
    assert_int_equal(run(&a, &ta, &cfg, NULL), ADV_OK);
    assert_int_equal(run(&b, &tb, &cfg, NULL), ADV_OK);
    a.wall_time = b.wall_time = 0;
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(ta->count, tb->count);
    assert_memory_equal(ta->arena, tb->arena, (size_t)(5 * ta->cap + 3 * ta->eval_cap) * sizeof(double));
    trajectory_destroy(&ta);
    trajectory_destroy(&tb);
}

static void test_divergence_is_a_result(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    cfg.lr = 1e200;
    cfg.steps = 50;
    TrainSummary sum;
    Trajectory *traj;
    assert_int_equal(run(&sum, &traj, &cfg, NULL), ADV_OK);
    assert_int_equal(sum.status, RUN_DIVERGED);
    assert_true(sum.diverged_step >= 1 && sum.diverged_step <= 50);
    assert_int_equal(sum.steps_run, sum.diverged_step);
    assert_non_null(strstr(sum.reason, "step"));
    assert_true(isnan(sum.final_robust_loss));
    trajectory_destroy(&traj);
    /* weights running off to 1e100 with a finite (saturated) loss are a divergence too */
    cfg = small_config();
    cfg.model = MODEL_TWOLAYER;
    cfg.activation = ACT_QUADRELU;
    cfg.c_alpha = 1000;
    cfg.epsilon = 0.2;
    cfg.m = 64;
    cfg.steps = 200;
    assert_int_equal(run(&sum, &traj, &cfg, NULL), ADV_OK);
    assert_int_equal(sum.status, RUN_DIVERGED);
    assert_non_null(strstr(sum.reason, "blew up"));
    trajectory_destroy(&traj);
}

static void test_early_stop_and_abort(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    cfg.early_stop = 5;
    TrainSummary sum;
    Trajectory *traj;
    assert_int_equal(run(&sum, &traj, &cfg, NULL), ADV_OK);
    assert_true(sum.eps_step > 0 && sum.steps_run >= sum.eps_step + 4);
    assert_true(sum.final_surrogate <= cfg.epsilon);
    assert_true(sum.steps_run < cfg.steps);
    trajectory_destroy(&traj);
    volatile int flag = 1;
    TrainHooks hooks = {0};
    hooks.abort_flag = &flag;
    assert_int_equal(run(&sum, &traj, &cfg, &hooks), ADV_INTERRUPTED);
    trajectory_destroy(&traj);
}

/* Brute force: the first t >= 1 of losses[0..T] with losses[t] <= tau, or -1. */
static int64_t first_below(const double *losses, int64_t T, double tau) {
    for (int64_t t = 1; t <= T; t++)
        if (losses[t] <= tau) return t;
    return -1;
}

/* Drive a StopRule over losses[0..T]: the outcome as train_run would record it and the step it ended. */
static int drive(StopRule *r, const double *losses, int64_t T, int64_t *end) {
    int why = OUTCOME_NONE;
    int64_t t = 0;
    for (; t <= T; t++)
        if ((why = stop_rule_step(r, t, losses[t])) != OUTCOME_NONE) break;
    *end = t > T ? T : t;
    return stop_rule_final(r, why);
}

/* The stopping rules on constructed loss sequences with known answers. */
static void test_stop_rules(void **state) {
    (void)state;
    enum { T = 400 };
    double L[T + 1];
    int64_t steps[TARGETS_MAX], end;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.epsilon = 0.05;
    snprintf(cfg.targets, sizeof cfg.targets, "0.2, 0.1");
    TrainPlan plan;
    assert_int_equal(train_plan(&plan, &cfg), ADV_OK);
    assert_int_equal(plan.n_targets, 3);
    assert_true(plan.targets[0] == 0.2 && plan.targets[1] == 0.1 && plan.targets[2] == 0.05);
    assert_true(plan.stop_target == 0.05);
    StopRule r;

    /* Geometric decay, no early stop, no plateau: every first passage exact; reached. */
    for (int t = 0; t <= T; t++) L[t] = 0.7 * pow(0.99, t);
    L[0] = 0.01; /* W_0 never counts */
    stop_rule_init(&r, &plan, &cfg, steps);
    assert_int_equal(drive(&r, L, T, &end), OUTCOME_REACHED);
    assert_int_equal(end, T);
    for (int q = 0; q < 3; q++) assert_int_equal(steps[q], first_below(L, T, plan.targets[q]));
    assert_true(steps[2] > steps[1] && steps[1] > steps[0] && steps[0] > 1);
    stop_rule_release(&r);

    /* Early stop after 3 steps at or below the smallest target. */
    cfg.early_stop = 3;
    stop_rule_init(&r, &plan, &cfg, steps);
    assert_int_equal(drive(&r, L, T, &end), OUTCOME_REACHED);
    assert_int_equal(end, first_below(L, T, 0.05) + 2);
    stop_rule_release(&r);
    /* ... and above it (an explicit early_stop_target): stopped by choice, smaller targets censored. */
    cfg.early_stop_target = 0.1;
    assert_int_equal(train_plan(&plan, &cfg), ADV_OK);
    stop_rule_init(&r, &plan, &cfg, steps);
    assert_int_equal(drive(&r, L, T, &end), OUTCOME_BUDGET);
    assert_int_equal(end, first_below(L, T, 0.1) + 2);
    assert_int_equal(steps[2], -1);
    stop_rule_release(&r);
    cfg.early_stop = 0;
    cfg.early_stop_target = 0;
    assert_int_equal(train_plan(&plan, &cfg), ADV_OK);

    /* Converges to 0.08 (reaches 0.2 and 0.1 but not 0.05): a plateau, found at the first
     * step whose best is within tol of the best W steps earlier. */
    cfg.plateau_window = 50;
    cfg.plateau_tol = 1e-3;
    for (int t = 0; t <= T; t++) L[t] = 0.08 + 0.5 * exp(-t / 10.0) + (t % 2 ? 1e-3 : 0); /* noisy but converged */
    stop_rule_init(&r, &plan, &cfg, steps);
    assert_int_equal(drive(&r, L, T, &end), OUTCOME_PLATEAU);
    int64_t want = -1;
    double best[T + 1];
    for (int t = 1; t <= T && want < 0; t++) {
        best[t] = fmin(t > 1 ? best[t - 1] : INFINITY, L[t]);
        if (t - 50 >= 1 && !(best[t] < best[t - 50] * (1 - 1e-3))) want = t;
    }
    assert_int_equal(end, want);
    assert_true(steps[0] > 0 && steps[1] > 0 && steps[2] == -1);
    stop_rule_release(&r);

    /* Slow but steady progress (1/t): never a plateau within the budget, so censored. */
    for (int t = 0; t <= T; t++) L[t] = 1.0 / (1.0 + t);
    cfg.epsilon = 0.001;
    snprintf(cfg.targets, sizeof cfg.targets, "auto");
    assert_int_equal(train_plan(&plan, &cfg), ADV_OK);
    stop_rule_init(&r, &plan, &cfg, steps);
    assert_int_equal(drive(&r, L, T, &end), OUTCOME_BUDGET);
    assert_int_equal(end, T);
    stop_rule_release(&r);

    /* A non-finite loss. */
    L[7] = NAN;
    stop_rule_init(&r, &plan, &cfg, steps);
    assert_int_equal(drive(&r, L, T, &end), OUTCOME_DIVERGED);
    assert_int_equal(end, 7);
    stop_rule_release(&r);

    /* Bad target lists are refused. */
    const char *bad[] = {"0.1,,0.2", "x", "0.1 0.2", "-1", "0", "inf", "0.1,"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(cfg.targets, sizeof cfg.targets, "%s", bad[k]);
        assert_int_equal(config_validate(&cfg), ADV_ERR_INPUT);
        assert_non_null(strstr(adv_errmsg(), "targets"));
    }
}

/* A real run: the recorded first-passage step of every target equals a brute-force scan
 * of the per-step surrogate losses (recorded at every step here), and eps_step is epsilon's. */
static void test_target_steps_exact(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    cfg.steps = 300;
    cfg.record_dense = 100;
    cfg.record_max = 400; /* T + 1 <= record_max: every step is recorded */
    cfg.epsilon = 0.3;
    snprintf(cfg.targets, sizeof cfg.targets, "0.6,0.5,0.4,0.2,0.1,0.05,1e-9");
    TrainSummary sum;
    Trajectory *traj;
    assert_int_equal(run(&sum, &traj, &cfg, NULL), ADV_OK);
    assert_int_equal(traj->count, cfg.steps + 1);
    assert_int_equal(sum.n_targets, 8);
    int reached = 0;
    for (int q = 0; q < sum.n_targets; q++) {
        assert_int_equal(sum.target_step[q], first_below(traj->surrogate, cfg.steps, sum.target_tau[q]));
        assert_int_equal(sum.target_outcome[q], sum.target_step[q] >= 0 ? OUTCOME_REACHED : OUTCOME_BUDGET);
        if (sum.target_tau[q] == 0.3) assert_int_equal(sum.eps_step, sum.target_step[q]);
        reached += sum.target_step[q] >= 0;
    }
    assert_true(reached >= 3 && reached < sum.n_targets); /* 1e-9 is out of reach: a real mix */
    assert_int_equal(sum.outcome, OUTCOME_BUDGET);
    trajectory_destroy(&traj);
}

static void test_bad_inputs(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    cfg.model = MODEL_TWOLAYER;
    cfg.m = 15;
    TrainPlan plan;
    assert_int_equal(train_plan(&plan, &cfg), ADV_ERR_INPUT);
    cfg = small_config();
    Dataset *ds = dataset_create(5, 8);
    TrainSummary sum;
    assert_int_equal(train_run(&sum, NULL, &cfg, ds, NULL), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "n=32"));
    dataset_destroy(&ds);
}

/* ----- single precision ----------------------------------------------------- */

/* Train cfg in both precisions, recording every step. */
static void run_both(TrainSummary sum[2], Trajectory *traj[2], TrainConfig cfg) {
    for (int p = 0; p < 2; p++) {
        cfg.precision = p == 0 ? PRECISION_F64 : PRECISION_F32;
        assert_int_equal(run(&sum[p], &traj[p], &cfg, NULL), ADV_OK);
        assert_int_equal(traj[p]->count, cfg.steps + 1);
    }
}

/* f32 against f64 on the default problem (config_defaults: deep relu net, m = 64,
 * H = 2, PGD-5, T = 1000) with five targets. Stated tolerances:
 *   steps 0..100   |L32 - L64| <= 1e-5 L64    (the two agree to float rounding; measured
 *                                              1.5e-7 for this seed)
 *   every step     |L32 - L64| <= 0.01 and <= 0.25 L64, distance within 1 %  (relu and the
 *                  PGD worst-point choice amplify rounding after ~100 steps into a different
 *                  but equally converging trajectory; measured 0.0026, 14 %, 0.08 %)
 *   the outcome is the same; each target's first step within max(3, 3 %) of f64's
 *   (measured: equal for 0.5, 0.2, 0.1; 6 and 8 steps later for 0.05 and 0.02).
 * The two-layer net (R = 2; softplus, R = inf) is smooth along these runs: 1e-5 relative at
 * every step, the same target steps, and L_A(W0) is exactly the mean of log 2 in both
 * (f(W0, x) == 0 exactly). */
static void test_f32_agrees_with_f64(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.record_max = cfg.steps + 1;
    snprintf(cfg.targets, sizeof cfg.targets, "0.5,0.2,0.05,0.02");
    TrainSummary sum[2];
    Trajectory *traj[2];
    run_both(sum, traj, cfg);
    for (long k = 0; k < traj[0]->count; k++) {
        double a = traj[0]->surrogate[k], b = traj[1]->surrogate[k], gap = fabs(a - b);
        if ((traj[0]->step[k] <= 100 && gap > 1e-5 * a) || gap > 0.01 || gap > 0.25 * a)
            fail_msg("step %lld: L_A f64 %.9g f32 %.9g", (long long)traj[0]->step[k], a, b);
        assert_true(fabs(traj[0]->dist[k] - traj[1]->dist[k]) <= 0.01 * traj[0]->dist[k]);
    }
    assert_int_equal(sum[0].outcome, OUTCOME_REACHED);
    assert_int_equal(sum[1].outcome, sum[0].outcome);
    assert_int_equal(sum[1].n_targets, 5);
    for (int q = 0; q < sum[0].n_targets; q++) {
        int64_t a = sum[0].target_step[q], b = sum[1].target_step[q];
        assert_true(a > 0 && b > 0);
        if (llabs(a - b) > (a * 3 / 100 > 3 ? a * 3 / 100 : 3))
            fail_msg("target %g: first step %lld (f64) vs %lld (f32)", sum[0].target_tau[q], (long long)a, (long long)b);
        assert_int_equal(sum[1].target_outcome[q], sum[0].target_outcome[q]);
    }
    assert_true(fabs(sum[0].final_robust_loss - sum[1].final_robust_loss) <= 0.1 * sum[0].final_robust_loss);
    assert_true(sum[0].flops == sum[1].flops); /* the same FLOP model */
    for (int p = 0; p < 2; p++) trajectory_destroy(&traj[p]);

    for (int c = 0; c < 2; c++) {
        TrainConfig two = cfg;
        two.model = MODEL_TWOLAYER;
        two.steps = 300;
        two.record_max = two.steps + 1;
        two.R = c == 0 ? 2.0 : INFINITY;
        two.activation = c == 0 ? ACT_RELU : ACT_SOFTPLUS;
        snprintf(two.targets, sizeof two.targets, "0.69,0.68,0.5");
        run_both(sum, traj, two);
        double log2_mean = 0; /* the mean of n exact log 2 = l(0, y), summed as the trainer sums */
        for (long i = 0; i < two.n; i++) log2_mean += loss_value(two.loss, 0.0, 1.0);
        log2_mean /= (double)two.n;
        assert_true(sum[0].init_surrogate == log2_mean && sum[1].init_surrogate == log2_mean);
        for (long k = 0; k < traj[0]->count; k++) {
            double a = traj[0]->surrogate[k], b = traj[1]->surrogate[k];
            if (fabs(a - b) > 1e-5 * a) fail_msg("two-layer %d step %ld: L_A f64 %.9g f32 %.9g", c, k, a, b);
        }
        assert_int_equal(sum[1].outcome, sum[0].outcome);
        for (int q = 0; q < sum[0].n_targets; q++) assert_int_equal(sum[1].target_step[q], sum[0].target_step[q]);
        assert_true(sum[0].target_step[0] > 0); /* a real run: the first target is reached */
        for (int p = 0; p < 2; p++) trajectory_destroy(&traj[p]);
    }
}

/* f32 runs are as deterministic as f64 ones, and the weights read back are floats. */
static void test_f32_bit_identical(void **state) {
    (void)state;
    TrainConfig cfg = small_config();
    cfg.steps = 40;
    cfg.pgd_restarts = 2;
    cfg.pgd_random_start = 1;
    cfg.R = 1.0;
    cfg.precision = PRECISION_F32;
    TrainPlan plan;
    assert_int_equal(train_plan(&plan, &cfg), ADV_OK);
    long nt = plan.n_trained;
    double *W[2] = {xcalloc((size_t)nt, sizeof(double)), xcalloc((size_t)nt, sizeof(double))};
    TrainSummary a, b;
    Trajectory *ta, *tb;
    TrainHooks hooks = {0};
    hooks.W_out = W[0];
    assert_int_equal(run(&a, &ta, &cfg, &hooks), ADV_OK);
    hooks.W_out = W[1];
    assert_int_equal(run(&b, &tb, &cfg, &hooks), ADV_OK);
    a.wall_time = b.wall_time = 0;
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(ta->arena, tb->arena, (size_t)(5 * ta->cap + 3 * ta->eval_cap) * sizeof(double));
    assert_memory_equal(W[0], W[1], (size_t)nt * sizeof(double));
    for (long i = 0; i < nt; i++) assert_true(W[0][i] == (double)(float)W[0][i]);
    assert_true(a.max_dist <= 1.0 * (1 + 1e-6)); /* B(R) holds in f32 (distances in double) */
    trajectory_destroy(&ta);
    trajectory_destroy(&tb);
    free(W[0]);
    free(W[1]);
}

/* train_project_f32: the same ball as train_project, to float rounding. */
static void test_projection_f32(void **state) {
    (void)state;
    NetShape deep = {MODEL_DEEP, ACT_RELU, INPUT_LINEAR, 10, 3, 4};
    long count = 300;
    double W0d[300], Wd[300];
    float W0[300], W[300];
    Rng rng;
    rng_seed(&rng, 2, RNG_BENCH, 0);
    for (long i = 0; i < count; i++) W0[i] = (float)rng_normal(&rng), W0d[i] = W0[i];
    for (long i = 0; i < count; i++) W[i] = (float)(W0[i] + (i < 100 ? 0.01 : 1.0) * rng_normal(&rng)), Wd[i] = W[i];
    float before[100];
    memcpy(before, W, sizeof before);
    train_project_f32(W, W0, &deep, 2.0);
    train_project(Wd, W0d, &deep, 2.0);
    assert_memory_equal(W, before, sizeof before); /* layer 0 is inside: untouched */
    for (long i = 0; i < count; i++) assert_true(fabs(W[i] - Wd[i]) <= 1e-6 * fmax(1, fabs(Wd[i])));
    for (int h = 1; h < 3; h++) {
        double d2 = 0;
        for (int i = 0; i < 100; i++) d2 += ((double)W[h * 100 + i] - W0[h * 100 + i]) * ((double)W[h * 100 + i] - W0[h * 100 + i]);
        assert_true(fabs(sqrt(d2) - 2.0 / sqrt(10.0)) < 1e-6);
    }
}

/* The plan in f32: the same sizes and FLOPs, about half the memory, less cost. */
static void test_plan_f32(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.m = 512;
    TrainPlan p64, p32;
    assert_int_equal(train_plan(&p64, &cfg), ADV_OK);
    cfg.precision = PRECISION_F32;
    assert_int_equal(train_plan(&p32, &cfg), ADV_OK);
    assert_int_equal(p64.n_trained, 2 * 512 * 512);
    assert_int_equal(p64.n_fixed, 512 * 8 + 512);
    assert_int_equal(p32.n_trained, p64.n_trained);
    assert_true(p32.flops_total == p64.flops_total && p32.lr == p64.lr && p32.steps == p64.steps);
    assert_true(p32.cost < p64.cost && p32.cost > 0.4 * p64.cost);
    /* the parameters (3 copies) dominate at m = 512: f32 needs a little over half */
    assert_true(p32.bytes < 0.6 * p64.bytes && p32.bytes > 0.5 * p64.bytes);
    assert_true(p64.bytes > 3.0 * 8 * p64.n_trained);
}

int main(int argc, char **argv) {
    (void)argc;
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_rules),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_reaches_epsilon),
        cmocka_unit_test(test_bit_identical),
        cmocka_unit_test(test_divergence_is_a_result),
        cmocka_unit_test(test_early_stop_and_abort),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_stop_rules),
        cmocka_unit_test(test_target_steps_exact),
        cmocka_unit_test(test_projection_f32),
        cmocka_unit_test(test_plan_f32),
        cmocka_unit_test(test_f32_bit_identical),
        cmocka_unit_test(test_f32_agrees_with_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
