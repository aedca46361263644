/* test_sweep.c — job files, grid expansion, point numbering, the fingerprint,
 * error messages (line and key), the dispatch order and the plan. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/config.h"
#include "advsweep/sweep.h"
#include "advsweep/train.h"

/* Parse `text` as "job.yaml"; fails the test with the message if it does not parse. */
static Job *parse_ok(const char *text) {
    Job *job = NULL;
    int rc = job_parse(&job, text, "job.yaml");
    if (rc != ADV_OK) print_error("unexpected error: %s\n", adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    assert_non_null(job);
    return job;
}

/* Parse `text`, expecting ADV_ERR_INPUT with `expect` inside the message. */
static void parse_fails(const char *text, const char *expect) {
    Job *job = (Job *)1;
    int rc = job_parse(&job, text, "job.yaml");
    if (rc != ADV_ERR_INPUT || !strstr(adv_errmsg(), expect))
        print_error("text:\n%s\nexpected ADV_ERR_INPUT with \"%s\"\ngot %d: \"%s\"\n", text, expect, rc, adv_errmsg());
    assert_int_equal(rc, ADV_ERR_INPUT);
    assert_null(job);
    assert_non_null(strstr(adv_errmsg(), expect));
}

static TrainConfig point(const Job *job, long i) {
    TrainConfig cfg;
    job_point(&cfg, job, i);
    return cfg;
}

/* The values of axis parameter `name` over the job's points. */
static void assert_reals(const Job *job, const char *name, const double *want, long n) {
    const ParamSpec *p = param_find(name);
    assert_int_equal(job_points(job), n);
    for (long i = 0; i < n; i++) {
        TrainConfig cfg = point(job, i);
        double got = param_value(&cfg, p);
        if (got != want[i]) print_error("%s[%ld] = %.17g, want %.17g\n", name, i, got, want[i]);
        assert_true(got == want[i]);
    }
}

/* ---- values ------------------------------------------------------------------- */

static void test_list(void **state) {
    (void)state;
    Job *job = parse_ok("fixed: {d: 8, n: 32}\n"
                        "grid:\n"
                        "  m: [16, 32, 64]\n"
                        "  attack: [none, pgd]\n");
    assert_int_equal(job_points(job), 6);
    assert_string_equal(job_axes(job), "m,attack");
    assert_string_equal(job_name(job), "sweep");
    TrainConfig c = point(job, 5);
    assert_int_equal(c.m, 64);
    assert_int_equal(c.attack, ATTACK_PGD);
    assert_int_equal(c.d, 8);
    assert_int_equal(c.n, 32);
    assert_int_equal(c.H, 2); /* default */
    assert_int_equal(c.seed, 1);
    job_destroy(&job);
    assert_null(job);
    job_destroy(&job); /* NULL is fine */
    job_destroy(NULL);
}

static void test_range_factor(void **state) {
    (void)state;
    Job *job = parse_ok("grid:\n  m: {from: 16, to: 256, factor: 2}\n");
    assert_reals(job, "m", (double[]){16, 32, 64, 128, 256}, 5);
    job_destroy(&job);
    job = parse_ok("grid:\n  m: {from: 16, to: 300, factor: 2}\n"); /* to is a bound, not a member */
    assert_reals(job, "m", (double[]){16, 32, 64, 128, 256}, 5);
    job_destroy(&job);
    /* integers: rounded, repeated values dropped (1, 1.5, 2.25, 3.375, 5.06, 7.59) */
    job = parse_ok("grid:\n  m: {from: 1, to: 10, factor: 1.5}\n");
    assert_reals(job, "m", (double[]){1, 2, 3, 5, 8}, 5);
    job_destroy(&job);
    /* reals: tidy values, `to` included despite rounding */
    job = parse_ok("grid:\n  epsilon: {from: 0.01, to: 0.08, factor: 2}\n");
    assert_reals(job, "epsilon", (double[]){0.01, 0.02, 0.04, 0.08}, 4);
    job_destroy(&job);
    job = parse_ok("grid:\n  epsilon: {from: 1, to: 1.21, factor: 1.1}\n"); /* 1.1^2 is not exactly 1.21 */
    assert_reals(job, "epsilon", (double[]){1, 1.1, 1.21}, 3);
    job_destroy(&job);
    job = parse_ok("grid:\n  epsilon: {from: 0.1, to: 0.1, factor: 3}\n");
    assert_reals(job, "epsilon", (double[]){0.1}, 1);
    job_destroy(&job);
}

static void test_range_step(void **state) {
    (void)state;
    Job *job = parse_ok("grid:\n  H: {from: 1, to: 3, step: 1}\n");
    assert_reals(job, "H", (double[]){1, 2, 3}, 3);
    job_destroy(&job);
    job = parse_ok("grid:\n  epsilon: {from: 0.1, to: 0.5, step: 0.1}\n");
    assert_reals(job, "epsilon", (double[]){0.1, 0.2, 0.3, 0.4, 0.5}, 5);
    job_destroy(&job);
    job = parse_ok("grid:\n  H: {from: 1, to: 4, step: 2}\n");
    assert_reals(job, "H", (double[]){1, 3}, 2);
    job_destroy(&job);
}

static void test_range_count(void **state) {
    (void)state;
    Job *job = parse_ok("grid:\n  delta: {from: 0.1, to: 0.4, count: 4}\n");
    assert_reals(job, "delta", (double[]){0.1, 0.2, 0.3, 0.4}, 4);
    job_destroy(&job);
    job = parse_ok("grid:\n  epsilon: {from: 0.001, to: 1, count: 4, log: true}\n");
    assert_reals(job, "epsilon", (double[]){0.001, 0.01, 0.1, 1}, 4);
    job_destroy(&job);
    job = parse_ok("grid:\n  delta: {from: 0.1, to: 0.3, count: 3, log: false}\n");
    assert_reals(job, "delta", (double[]){0.1, 0.2, 0.3}, 3);
    job_destroy(&job);
    job = parse_ok("grid:\n  m: {from: 1, to: 3, count: 5}\n"); /* 1, 1.5, 2, 2.5, 3 rounded, deduped */
    assert_reals(job, "m", (double[]){1, 2, 3}, 3);
    job_destroy(&job);
    job = parse_ok("grid:\n  m: {from: 16, to: 1024, count: 4, log: true}\n");
    assert_reals(job, "m", (double[]){16, 64, 256, 1024}, 4);
    job_destroy(&job);
    job = parse_ok("grid:\n  m: {from: 10, to: 1000, count: 3, log: true}\n");
    assert_reals(job, "m", (double[]){10, 100, 1000}, 3);
    job_destroy(&job);
}

static void test_inf(void **state) {
    (void)state;
    Job *job = parse_ok("grid:\n  R: [1, inf]\n");
    assert_int_equal(job_points(job), 2);
    assert_true(point(job, 0).R == 1.0);
    assert_true(isinf(point(job, 1).R) && point(job, 1).R > 0);
    assert_true(job_grid_hash(job) == job_grid_hash(job));
    uint64_t h = job_grid_hash(job);
    job_destroy(&job);
    job = parse_ok("grid:\n  R: [1.0, .inf]\n"); /* YAML's spelling of infinity */
    assert_true(isinf(point(job, 1).R));
    assert_true(job_grid_hash(job) == h);
    job_destroy(&job);
    parse_fails("grid:\n  R: [inf, 2, .inf]\n", "job.yaml:2: key 'R': value '.inf' is listed twice");
}

static void test_inf_fixed(void **state) {
    (void)state;
    Job *job = parse_ok("fixed:\n  R: inf\n  lr: 0.01\n  steps: 10\ngrid:\n  m: [16]\n");
    assert_true(isinf(point(job, 0).R));
    job_destroy(&job);
    parse_fails("grid:\n  m: [16, inf]\n", "job.yaml:2: parameter m: bad value 'inf'");
    parse_fails("grid:\n  epsilon: [0.1, inf]\n", "job.yaml:2: parameter epsilon: bad value 'inf'");
    parse_fails("grid:\n  R: {from: 1, to: inf, factor: 2}\n", "job.yaml:2: key 'R': range bounds must be finite");
}

/* ---- numbering -------------------------------------------------------------------- */

static void test_order(void **state) {
    (void)state;
    Job *job = parse_ok("seeds: 3\n"
                        "fixed: {seed: 5}\n"
                        "grid:\n"
                        "  m: [16, 32]\n"
                        "  attack: [none, pgd]\n");
    assert_int_equal(job_points(job), 12);
    assert_string_equal(job_axes(job), "m,attack,seed");
    for (long i = 0; i < 12; i++) {
        TrainConfig c = point(job, i);
        assert_int_equal(c.seed, 5 + i % 3);                               /* innermost */
        assert_int_equal(c.attack, (i / 3) % 2 ? ATTACK_PGD : ATTACK_NONE); /* last axis */
        assert_int_equal(c.m, i / 6 ? 32 : 16);                            /* first axis, slowest */
    }
    char label[128];
    job_point_label(label, sizeof label, job, 10);
    assert_string_equal(label, "m=32, attack=pgd, seed=6");
    job_point_label(label, 12, job, 10); /* truncated, terminated */
    assert_int_equal(strlen(label), 11);
    job_destroy(&job);

    job = parse_ok("grid: {epsilon: [0.1, 0.05], R: [inf]}\n"); /* labels: short reals, inf */
    job_point_label(label, sizeof label, job, 1);
    assert_string_equal(label, "epsilon=0.05, R=inf");
    job_destroy(&job);

    job = parse_ok("seeds: 4\nfixed: {m: 16}\n");
    assert_int_equal(job_points(job), 4);
    assert_string_equal(job_axes(job), "seed");
    assert_int_equal(point(job, 3).seed, 4);
    job_destroy(&job);

    job = parse_ok("name: one\nfixed: {m: 16}\n");
    assert_int_equal(job_points(job), 1);
    assert_string_equal(job_axes(job), "");
    job_point_label(label, sizeof label, job, 0);
    assert_string_equal(label, "");
    job_destroy(&job);

    job = parse_ok("grid: {seed: [7, 3]}\n"); /* seed as an ordinary axis (seeds: 1) */
    assert_string_equal(job_axes(job), "seed");
    assert_int_equal(point(job, 1).seed, 3);
    job_destroy(&job);
}

static void test_point_determinism(void **state) {
    (void)state;
    const char *text = "seeds: 2\ngrid:\n  m: [16, 32]\n  epsilon: {from: 0.05, to: 0.2, factor: 2}\n";
    Job *a = parse_ok(text), *b = parse_ok(text);
    assert_int_equal(job_points(a), 12);
    for (long i = 0; i < job_points(a); i++) {
        TrainConfig x, y, z;
        job_point(&x, a, i);
        job_point(&y, b, i);
        job_point(&z, a, job_points(a) - 1); /* a different point in between */
        job_point(&z, a, i);
        assert_memory_equal(&x, &y, sizeof x);
        assert_memory_equal(&x, &z, sizeof x);
    }
    assert_true(job_grid_hash(a) == job_grid_hash(b));
    job_destroy(&a);
    job_destroy(&b);
}

static uint64_t hash_of(const char *text) {
    Job *job = parse_ok(text);
    uint64_t h = job_grid_hash(job);
    job_destroy(&job);
    return h;
}

static void test_hash(void **state) {
    (void)state;
    uint64_t base = hash_of("fixed: {d: 8, lr: 0.01}\ngrid:\n  m: [16, 32, 64]\n  epsilon: [0.1, 0.2, 0.3]\n");
    /* the same points, written differently */
    assert_true(base == hash_of("# another spelling\n"
                                "name: other\n"
                                "description: same grid\n"
                                "grid:\n"
                                "  m: {from: 16, to: 64, factor: 2}\n"
                                "  epsilon: {from: 0.1, to: 0.3, step: 0.1}\n"
                                "fixed:\n"
                                "  lr: 1e-2\n"
                                "  d: 8\n"
                                "  H: 2          # the default\n"
                                "options: {store_weights: true}\n"));
    assert_true(base == hash_of("fixed: {d: 8, lr: 0.01}\ngrid:\n  m: [16, 32, 64]\n"
                                "  epsilon: {from: 0.1, to: 0.3, count: 3}\n"));
    /* different grids */
    assert_true(base != hash_of("fixed: {d: 8, lr: 0.01}\ngrid:\n  m: [16, 32]\n  epsilon: [0.1, 0.2, 0.3]\n"));
    assert_true(base != hash_of("fixed: {d: 8, lr: 0.01}\ngrid:\n  epsilon: [0.1, 0.2, 0.3]\n  m: [16, 32, 64]\n"));
    assert_true(base != hash_of("fixed: {d: 8, lr: 0.02}\ngrid:\n  m: [16, 32, 64]\n  epsilon: [0.1, 0.2, 0.3]\n"));
    assert_true(base != hash_of("seeds: 2\nfixed: {d: 8, lr: 0.01}\ngrid:\n  m: [16, 32, 64]\n  epsilon: [0.1, 0.2, 0.3]\n"));
    assert_true(base != hash_of("fixed: {d: 8, lr: 0.01}\ngrid:\n  m: [64, 32, 16]\n  epsilon: [0.1, 0.2, 0.3]\n"));
}

/* Data files: listed once each, bound to a path, a shape and a digest; the
 * points take the file's n and d unless the job gives them; the fingerprint
 * follows the content, not the name. */
static void test_data_files(void **state) {
    (void)state;
    const char *text = "fixed: {steps: 10}\n"
                       "grid:\n"
                       "  data: [sphere, file]\n"
                       "  data_file: [a.h5, b.h5]\n"
                       "  m: [4, 8]\n";
    /* data=sphere with a data_file is invalid: a job mixing them lists files per data value */
    parse_fails(text, "data_file");
    Job *job = parse_ok("fixed: {data: file, steps: 10}\ngrid:\n  data_file: [a.h5, b.h5]\n  m: [4, 8]\n");
    assert_int_equal(job_data_file_count(job), 2);
    assert_string_equal(job_data_file(job, 0), "a.h5");
    assert_string_equal(job_data_file(job, 1), "b.h5");
    assert_null(job_data_file_path(job, 0));
    uint64_t unbound = job_grid_hash(job);
    assert_int_equal(job_bind_data(job, 0, "/data/a.h5", 30, 5, 111), ADV_OK);
    assert_int_equal(job_bind_data(job, 1, "/data/b.h5", 12, 3, 222), ADV_OK);
    assert_string_equal(job_data_file_path(job, 1), "/data/b.h5");
    TrainConfig c0 = point(job, 0), c3 = point(job, 3);
    assert_string_equal(c0.data_file, "/data/a.h5");
    assert_true(c0.n == 30 && c0.d == 5);
    assert_string_equal(c3.data_file, "/data/b.h5");
    assert_true(c3.n == 12 && c3.d == 3 && c3.m == 8);
    uint64_t d1 = 0;
    assert_int_equal(job_data_digest(job, "/data/b.h5", &d1), 1);
    assert_true(d1 == 222);
    assert_int_equal(job_data_digest(job, "b.h5", NULL), 0);
    uint64_t bound = job_grid_hash(job);
    assert_true(bound != unbound);
    /* the same content at other paths: the same fingerprint; another content: another one */
    assert_int_equal(job_bind_data(job, 0, "/moved/a.h5", 30, 5, 111), ADV_OK);
    assert_true(job_grid_hash(job) == bound);
    assert_int_equal(job_bind_data(job, 0, "/moved/a.h5", 30, 5, 112), ADV_OK);
    assert_true(job_grid_hash(job) != bound);
    job_destroy(&job);

    /* a job that gives n (fixed) or d (an axis) must give the file's */
    job = parse_ok("fixed: {data: file, data_file: x.h5, n: 48}\n");
    assert_int_equal(job_bind_data(job, 0, "/x.h5", 30, 5, 1), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "job.yaml:1: key 'n'"));
    assert_non_null(strstr(adv_errmsg(), "/x.h5 holds n = 30"));
    assert_non_null(strstr(adv_errmsg(), "gives n = 48"));
    assert_null(job_data_file_path(job, 0)); /* unchanged on failure */
    assert_int_equal(job_bind_data(job, 0, "/x.h5", 48, 5, 1), ADV_OK);
    TrainConfig c = point(job, 0);
    assert_true(c.n == 48 && c.d == 5);
    job_destroy(&job);
    job = parse_ok("fixed: {data: file, data_file: x.h5}\ngrid:\n  d: [5, 6]\n");
    assert_int_equal(job_bind_data(job, 0, "/x.h5", 30, 5, 1), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "key 'd'"));
    assert_non_null(strstr(adv_errmsg(), "gives d = 6"));
    job_destroy(&job);
    /* no data=file point: no data files */
    job = parse_ok("grid:\n  m: [4, 8]\n");
    assert_int_equal(job_data_file_count(job), 0);
    job_destroy(&job);
}

static void test_default_job(void **state) {
    (void)state;
    Job *job = NULL;
    assert_int_equal(job_parse(&job, job_default_text(), "(default)"), ADV_OK);
    assert_true(job_points(job) > 1);
    assert_string_equal(job_text(job), job_default_text());
    assert_string_equal(job_name(job), "demo");
    assert_string_equal(job_axes(job), "m,epsilon,attack,seed");
    assert_int_equal(job_points(job), 7 * 3 * 2 * 3);
    assert_int_equal(point(job, 0).m, 2);
    assert_int_equal(point(job, 125).m, 128);
    assert_int_equal(job_store_weights(job), 0);
    PointCost *costs = NULL;
    assert_int_equal(sweep_costs(&costs, job), ADV_OK);
    /* the default is small: under 2 minutes at the default rate of 2 cores */
    PlanRequest req = {.cpus_per_task = 2};
    SweepPlan plan;
    assert_int_equal(sweep_plan(&plan, job, costs, &req), ADV_OK);
    assert_true(plan.total_cost / (2 * SWEEP_DEFAULT_GFLOPS_PER_CORE * 1e9) < 120);
    free(costs);
    job_destroy(&job);
}

static void test_options(void **state) {
    (void)state;
    Job *job = parse_ok("name: w-1.x_y\noptions:\n  store_weights: yes\n  store_weights_max_mb: 12.5\n"
                        "fixed:\ngrid: ~\ndescription: [any, thing]\n");
    assert_string_equal(job_name(job), "w-1.x_y");
    assert_int_equal(job_store_weights(job), 1);
    assert_true(job_store_weights_max_mb(job) == 12.5);
    assert_int_equal(job_points(job), 1);
    job_destroy(&job);
    job = parse_ok("options: {store_weights: false}\n");
    assert_int_equal(job_store_weights(job), 0);
    assert_true(job_store_weights_max_mb(job) == 1024);
    job_destroy(&job);
}

/* ---- errors ------------------------------------------------------------------------ */

static void test_errors_keys(void **state) {
    (void)state;
    parse_fails("name: x\nfoo: 1\n", "job.yaml:2: key 'foo': unknown key");
    parse_fails("fixed:\n  d: 8\n  mm: 16\n", "job.yaml:3: key 'mm': unknown parameter");
    parse_fails("fixed:\n  h: 3\n", "job.yaml:2: key 'h': unknown parameter (did you mean 'H'?)");
    parse_fails("grid:\n  m: [16]\n  widht: [1, 2]\n", "job.yaml:3: key 'widht': unknown parameter");
    parse_fails("fixed:\n  m: 16\ngrid:\n  m: [16, 32]\n", "job.yaml:4: key 'm': given both in fixed and in grid");
    parse_fails("grid:\n  m: [16, 32]\nfixed:\n  d: 4\n  m: 16\n",
                "job.yaml:5: key 'm': given both in fixed and in grid");
    parse_fails("grid:\n  m: []\n", "job.yaml:2: key 'm': empty list");
    parse_fails("name: a\nseeds: 2\nname: b\n", "job.yaml:3: key 'name': duplicate key (first at line 1)");
    parse_fails("fixed:\n  d: 8\n  n: 4\n  d: 9\n", "job.yaml:4: key 'd': duplicate key (first at line 2)");
    parse_fails("grid:\n  m:\n    from: 16\n    to: 64\n    from: 8\n    factor: 2\n",
                "job.yaml:5: key 'from': duplicate key (first at line 3)");
    parse_fails("grid:\n  m: [16, 32, 16]\n", "job.yaml:2: key 'm': value '16' is listed twice");
    parse_fails("options:\n  store_weights: true\n  compress: 9\n", "job.yaml:3: key 'compress': unknown option");
    parse_fails("options:\n  store_weights: maybe\n", "job.yaml:2: key 'store_weights': bad value 'maybe'");
    parse_fails("options:\n  store_weights_max_mb: -1\n", "job.yaml:2: key 'store_weights_max_mb': bad value '-1'");
    parse_fails("name: my sweep\n", "job.yaml:1: key 'name': bad value 'my sweep'");
    parse_fails("name: .hidden\n", "job.yaml:1: key 'name': bad value '.hidden'");
    parse_fails("name: [a]\n", "job.yaml:1: key 'name': expected a single value");
    parse_fails("seeds: 0\n", "job.yaml:1: key 'seeds': bad value '0'");
    parse_fails("seeds: two\n", "job.yaml:1: key 'seeds': bad value 'two'");
    parse_fails("seeds: 3\ngrid:\n  seed: [1, 2]\n", "job.yaml:1: key 'seeds': replicate seeds cannot be combined");
    parse_fails("grid:\n  m: 16\n", "job.yaml:2: key 'm': a grid axis is a list");
    parse_fails("fixed:\n  m: [16, 32]\n", "job.yaml:2: key 'm': fixed takes a single value");
    parse_fails("fixed:\n  m:\n", "job.yaml:2: key 'm': missing value");
    parse_fails("fixed: [m, 16]\n", "job.yaml:1: key 'fixed': expected a mapping");
    parse_fails("grid:\n  m: [16, [32]]\n", "job.yaml:2: key 'm': expected a single value, found a list");
    parse_fails("- m\n- 16\n", "job.yaml:1: a job file is a mapping");
    parse_fails("", "job.yaml:1: the job file is empty");
    parse_fails("# only a comment\n", "job.yaml:1: the job file is empty");
    parse_fails("fixed: {m: 16}\n---\nfixed: {m: 32}\n", "job.yaml:3: a job file holds one YAML document");
}

static void test_errors_values(void **state) {
    (void)state;
    parse_fails("fixed:\n  m: 0\n", "job.yaml:2: parameter m: bad value '0' (must be >= 1");
    parse_fails("fixed:\n  d: 8\n  attack: pgdd\n", "job.yaml:3: parameter attack: unknown value 'pgdd'");
    parse_fails("grid:\n  m: [16,\n      0]\n", "job.yaml:3: parameter m: bad value '0' (must be >= 1");
    parse_fails("grid:\n  delta: [0.1, 2]\n", "job.yaml:2: parameter delta: bad value '2'");
    parse_fails("grid:\n  m: {from: 0, to: 64, factor: 2}\n", "job.yaml:2: parameter m: bad value '0' (must be >= 1");
    /* numbers are plain decimal: no '+', no leading zeros in an integer */
    parse_fails("grid:\n  m: [8, +16]\n", "job.yaml:2: parameter m: bad value '+16' (plain decimal: no '+' sign)");
    parse_fails("grid:\n  m: [08, 16]\n", "job.yaml:2: parameter m: bad value '08' (plain decimal: no leading zeros)");
    parse_fails("fixed:\n  delta: +0.1\n", "job.yaml:2: parameter delta: bad value '+0.1' (plain decimal: no '+' sign)");
    parse_fails("grid:\n  m: {from: 8, to: +64, factor: 2}\n", "job.yaml:2: parameter m: bad value '+64'");
    parse_fails("grid:\n  m: {from: 8, to: 64, factor: +2}\n", "job.yaml:2: key 'm': bad value '+2'");
    parse_fails("grid:\n  m: {from: 8, to: 64, factor: 0x2}\n", "job.yaml:2: key 'm': bad value '0x2'");
    parse_fails("grid:\n  m: {from: 8, to: 64, count: 03}\n", "job.yaml:2: key 'm': bad value '03'");
    parse_fails("seeds: +3\n", "job.yaml:1: key 'seeds': bad value '+3'");
    parse_fails("seeds: 03\n", "job.yaml:1: key 'seeds': bad value '03'");
    parse_fails("options:\n  store_weights_max_mb: +64\n", "job.yaml:2: key 'store_weights_max_mb': bad value '+64'");
    /* what is plain: 0, a zero before the point, an exponent's sign */
    Job *job = parse_ok("seeds: 2\nfixed: {seed: 0, delta: 0.05, epsilon: 1e+0}\ngrid:\n  m: {from: 2, to: 8, factor: 2.0}\n");
    assert_int_equal(job_points(job), 3 * 2);
    assert_true(point(job, 0).delta == 0.05 && point(job, 0).epsilon == 1.0);
    job_destroy(&job);
}

static void test_errors_ranges(void **state) {
    (void)state;
    parse_fails("grid:\n  m: {from: 16, to: 64, factor: 1}\n", "job.yaml:2: key 'm': factor must be > 1");
    parse_fails("grid:\n  m: {from: 16, to: 64, factor: 0.5}\n", "job.yaml:2: key 'm': factor must be > 1");
    parse_fails("grid:\n  m: {from: 16, to: 64, step: 0}\n", "job.yaml:2: key 'm': step must be > 0");
    parse_fails("grid:\n  m: {from: 16, to: 64, step: -2}\n", "job.yaml:2: key 'm': step must be > 0");
    parse_fails("grid:\n  m: {from: 64, to: 16, factor: 2}\n", "job.yaml:2: key 'm': from (64) is greater than to (16)");
    parse_fails("grid:\n  m: {from: 1, to: 10000000, step: 1}\n", "job.yaml:2: key 'm': the range has more than 1000000 points");
    parse_fails("grid:\n  epsilon: {from: 1e-300, to: 1e300, factor: 1.0000000001}\n",
                "job.yaml:2: key 'epsilon': the range has more than 1000000 points");
    parse_fails("grid:\n  m: {from: 1, to: 10, count: 0}\n", "job.yaml:2: key 'm': bad value '0'");
    parse_fails("grid:\n  m: {from: 1, to: 10, count: 2000000}\n", "job.yaml:2: key 'm': bad value '2000000'");
    parse_fails("grid:\n  m: {from: 16, factor: 2}\n", "job.yaml:2: key 'm': a range needs both 'from' and 'to'");
    parse_fails("grid:\n  m: {from: 16, to: 32}\n", "job.yaml:2: key 'm': a range needs one of");
    parse_fails("grid:\n  m: {from: 16, to: 32, step: 2, factor: 2}\n", "job.yaml:2: key 'm': a range takes only one of");
    parse_fails("grid:\n  m: {from: 16, to: 32, factor: 2, log: true}\n", "job.yaml:2: key 'm': 'log' applies to count ranges only");
    parse_fails("grid:\n  m:\n    from: 16\n    to: 32\n    by: 2\n", "job.yaml:5: key 'm': unknown range key 'by'");
    parse_fails("grid:\n  attack: {from: none, to: pgd, step: 1}\n", "job.yaml:2: key 'attack': a range needs a numeric parameter");
    parse_fails("grid:\n  m: {from: 16, to: 64, factor: two}\n", "job.yaml:2: key 'm': bad value 'two'");
    parse_fails("grid:\n  delta: {from: 0, to: 1, count: 3, log: true}\n", "job.yaml:2: key 'delta': a log-spaced range needs from > 0");
    parse_fails("grid:\n  m: {from: 1, to: 1000, step: 1}\n  n: {from: 1, to: 2000, step: 1}\n",
                "job.yaml:2: key 'grid': 2000000 points");
}

static void test_errors_syntax(void **state) {
    (void)state;
    parse_fails("grid:\n  m: [16, 32\nfixed: {d: 8}\n", "job.yaml:");
    parse_fails("grid:\n  m: [16, 32\nfixed: {d: 8}\n", ": YAML syntax error: ");
    parse_fails("fixed:\n  d: 8\n\tn: 4\n", "job.yaml:3: YAML syntax error: found a tab character that violates indentation");
    parse_fails("fixed:\n  d: 8\n n: 4\n", "job.yaml:3: YAML syntax error: ");
    parse_fails("fixed: {d: 8\n", "job.yaml:2: YAML syntax error: did not find expected ',' or '}'");
}

static void test_invalid_combination(void **state) {
    (void)state;
    parse_fails("fixed:\n  model: twolayer\ngrid:\n  m: [16, 17, 18]\n",
                "job.yaml: point 1 (m=17): parameter m: bad value '17' (the two-layer net needs an even width)");
    parse_fails("seeds: 2\nfixed: {m: 16}\ngrid:\n  model: [twolayer, deep]\n  activation: [relu, quadrelu]\n",
                "job.yaml: point 6 (model=deep, activation=quadrelu, seed=1): parameter activation: bad value 'quadrelu'");
    parse_fails("fixed: {model: twolayer, m: 15}\n", "job.yaml: point 0: parameter m: bad value '15'");
}

static void test_load(void **state) {
    (void)state;
    Job *job = (Job *)1;
    assert_int_equal(job_load(&job, "/nonexistent/advsweep-job.yaml"), ADV_ERR_INPUT);
    assert_null(job);
    assert_non_null(strstr(adv_errmsg(), "/nonexistent/advsweep-job.yaml"));
    char path[] = "/tmp/test_sweep_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("name: loaded\ngrid:\n  m: [16, 32]\n  d: [0]\n", f);
    fclose(f);
    assert_int_equal(job_load(&job, path), ADV_ERR_INPUT);
    char expect[128];
    snprintf(expect, sizeof expect, "%s:4: parameter d: bad value '0'", path);
    assert_non_null(strstr(adv_errmsg(), expect));
    f = fopen(path, "w");
    fputs("name: loaded\ngrid:\n  m: [16, 32]\n", f);
    fclose(f);
    assert_int_equal(job_load(&job, path), ADV_OK);
    assert_string_equal(job_name(job), "loaded");
    assert_int_equal(job_points(job), 2);
    job_destroy(&job);
    unlink(path);
}

/* ---- bounds: limits with clear errors, the largest grids --------------------------- */

/* A text of `prefix`, then `item` (a printf format taking the index) `count`
 * times joined by `sep`, then `suffix`. Caller frees. */
static char *repeat_text(const char *prefix, const char *item, const char *sep, long count, const char *suffix) {
    size_t cap = strlen(prefix) + strlen(suffix) + (size_t)count * (strlen(item) + strlen(sep) + 24) + 1;
    char *t = malloc(cap);
    assert_non_null(t);
    size_t len = (size_t)snprintf(t, cap, "%s", prefix);
    for (long i = 0; i < count; i++) {
        if (i) len += (size_t)snprintf(t + len, cap - len, "%s", sep);
        len += (size_t)snprintf(t + len, cap - len, item, i);
    }
    snprintf(t + len, cap - len, "%s", suffix);
    return t;
}

static void test_limit_depth(void **state) {
    (void)state;
    /* 40,000 nested lists used to cost libyaml's scanner 26 s before any refusal. */
    char *open = repeat_text("grid:\n  m: ", "[", "", 40000, "");
    char *deep = repeat_text(open, "]", "", 40000, "\n");
    parse_fails(deep, "job.yaml:2: lists and mappings nested more than 64 deep (a job file needs 3)");
    free(deep);
    free(open);
    /* Depth 64 is allowed (the top-level mapping, then 63 lists in the free text), 65 is not. */
    char *o63 = repeat_text("description: ", "[", "", 63, "");
    char *d63 = repeat_text(o63, "]", "", 63, "\nfixed: {m: 8}\n");
    Job *job = parse_ok(d63);
    assert_int_equal(job_points(job), 1);
    job_destroy(&job);
    char *o64 = repeat_text("description: ", "[", "", 64, "");
    char *d64 = repeat_text(o64, "]", "", 64, "\n");
    parse_fails(d64, "job.yaml:1: lists and mappings nested more than 64 deep");
    free(o63);
    free(d63);
    free(o64);
    free(d64);
    /* Block mappings count too. */
    char block[8192] = "";
    size_t len = 0;
    for (int level = 0; level < 70; level++)
        len += (size_t)snprintf(block + len, sizeof block - len, "%*sk%d:\n", 2 * level, "", level);
    parse_fails(block, "nested more than 64 deep");
}

static void test_limit_nodes_anchors(void **state) {
    (void)state;
    /* Free text is not interpreted, but its nodes are bounded. */
    char *many = repeat_text("description: [", "x", ",", 2100001, "]\n");
    parse_fails(many, "job.yaml:1: more than 2100000 YAML nodes (a grid holds at most 1000000 points)");
    free(many);
    size_t cap = 1002 * 32;
    char *text = malloc(cap);
    size_t len = (size_t)snprintf(text, cap, "description:\n");
    for (int i = 0; i < 1000; i++) len += (size_t)snprintf(text + len, cap - len, "  a%d: &n%d 1\n", i, i);
    snprintf(text + len, cap - len, "fixed: {m: 8}\n");
    Job *job = parse_ok(text); /* 1000 anchors are fine */
    job_destroy(&job);
    snprintf(text + len, cap - len, "  a1000: &n1000 1\n");
    parse_fails(text, "job.yaml:1002: more than 1000 YAML anchors (&name)");
    free(text);
    char *aliases = repeat_text("description:\n  - &x 1\n  - [", "*x", ", ", 1001, "]\n");
    parse_fails(aliases, "job.yaml:3: more than 1000 YAML aliases (*name)");
    free(aliases);
    /* Aliases work where a value is expected. */
    job = parse_ok("description: {w: &w [16, 32]}\ngrid:\n  m: *w\n");
    assert_int_equal(job_points(job), 2);
    job_destroy(&job);
}

static void test_limit_points(void **state) {
    (void)state;
    parse_fails("grid:\n  m: {from: 1, to: 1000001, step: 1}\n", "job.yaml:2: key 'm': the range has more than 1000000 points");
    parse_fails("seeds: 3\ngrid:\n  m: {from: 1, to: 500000, step: 1}\n",
                "job.yaml:3: key 'grid': 1500000 points (with seeds), more than 1000000");
    parse_fails("seeds: 1000001\n", "job.yaml:1: key 'seeds': bad value '1000001'");
    char *list = repeat_text("grid:\n  m: [", "%ld", ", ", 1000001, "]\n");
    parse_fails(list, "job.yaml:2: key 'm': more than 1000000 values");
    free(list);
}

/* The largest allowed grid parses, costs and plans (it took 20 s before), and
 * its points are the range's values in order. */
static void test_largest_grid(void **state) {
    (void)state;
    Job *job = parse_ok("grid: {m: {from: 1, to: 1000000, step: 1}}\n");
    long n = job_points(job);
    assert_int_equal(n, 1000000);
    PointCost *c = NULL;
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    TrainConfig base;
    config_defaults(&base);
    snprintf(base.targets, sizeof base.targets, "0.1"); /* every point answers the job's epsilon */
    for (long i = 0; i < n; i++) {
        TrainConfig cfg = point(job, i);
        if (cfg.m != i + 1) print_error("point %ld: m = %lld\n", i, (long long)cfg.m);
        assert_int_equal(cfg.m, i + 1);
        cfg.m = base.m;
        assert_memory_equal(&cfg, &base, sizeof cfg); /* nothing else changes */
        if (i > 0) assert_true(c[i].cost > c[i - 1].cost);
    }
    long *order = malloc((size_t)n * sizeof *order);
    sweep_order(order, c, n);
    for (long k = 0; k < n; k++) assert_int_equal(order[k], n - 1 - k);
    free(order);
    SweepPlan plan;
    PlanRequest req = {.cpus_per_task = 1};
    assert_int_equal(sweep_plan(&plan, job, c, &req), ADV_OK);
    assert_int_equal(plan.points, n);
    assert_true(plan.max_cost == c[n - 1].cost);
    free(c);
    job_destroy(&job);

    /* A list of 10^6 values, checked for repeats without comparing every pair. */
    char *list = repeat_text("grid:\n  seed: [", "%ld", ", ", 1000000, "]\n");
    job = parse_ok(list);
    assert_int_equal(job_points(job), 1000000);
    for (long i = 0; i < 1000000; i += 999) assert_int_equal(point(job, i).seed, i);
    job_destroy(&job);
    free(list);
}

/* The first problem in document order is reported, as when values were compared pairwise. */
static void test_repeats_in_order(void **state) {
    (void)state;
    parse_fails("grid:\n  m: [3,\n    1,\n    2,\n    1,\n    3]\n", "job.yaml:5: key 'm': value '1' is listed twice");
    parse_fails("grid:\n  m: [1,\n    1,\n    0]\n", "job.yaml:3: key 'm': value '1' is listed twice");
    parse_fails("grid:\n  m: [1,\n    0,\n    1]\n", "job.yaml:3: parameter m: bad value '0'");
    parse_fails("grid:\n  m: [1,\n    [2],\n    1]\n", "job.yaml:3: key 'm': expected a single value, found a list");
    parse_fails("grid:\n  epsilon: [0.1, 0.10]\n", "key 'epsilon': value '0.10' is listed twice");
    parse_fails("grid:\n  delta: [0.5, 0.0, -0.0]\n", "key 'delta': value '-0.0' is listed twice");
    parse_fails("grid:\n  attack: [pgd, none, pgd]\n", "key 'attack': value 'pgd' is listed twice");
    parse_fails("grid:\n  data_file: [b.h5, a.h5, b.h5]\n", "key 'data_file': value 'b.h5' is listed twice");
    parse_fails("fixed:\n  m: 1\n  d: 2\n  d: 3\n  m: 4\n", "job.yaml:4: key 'd': duplicate key (first at line 3)");
    parse_fails("fixed:\n  m: 1\n  d: 2\n  [x]: 3\n  m: 4\n", "job.yaml:4: keys must be scalars (found a list)");
    parse_fails("fixed:\n  m: 1\n  m: 2\n  [x]: 3\n", "job.yaml:3: key 'm': duplicate key (first at line 2)");
    parse_fails("name: a\nseeds: 2\nseeds: 3\nname: b\n", "job.yaml:3: key 'seeds': duplicate key (first at line 2)");
    /* 10^6 top-level keys: the repeat is found by sorting. */
    char *keys = repeat_text("", "k%ld: 1", "\n", 1000000, "\nk999: 2\n");
    parse_fails(keys, "job.yaml:1000001: key 'k999': duplicate key (first at line 1000)");
    free(keys);
}

static void test_limit_file_size(void **state) {
    (void)state;
    char path[] = "/tmp/test_sweep_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)65 << 20), 0); /* sparse: reads as zeros */
    close(fd);
    Job *job = (Job *)1;
    assert_int_equal(job_load(&job, path), ADV_ERR_INPUT);
    assert_null(job);
    char expect[128];
    snprintf(expect, sizeof expect, "%s: larger than 64 MiB (not a job file?)", path);
    assert_string_equal(adv_errmsg(), expect);
    unlink(path);
}

/* Every point's schedule lengths are the schedule functions' own, whichever
 * of their inputs changes from one point to the next (train_plan keeps the last counts). */
static void test_costs_schedules(void **state) {
    (void)state;
    Job *job = parse_ok("fixed: {d: 4, n: 4, m: 8}\n"
                        "grid:\n"
                        "  steps: [50, 3000, 200]\n"
                        "  record_dense: [1, 10]\n"
                        "  record_max: [20, 400, 64]\n"
                        "  eval_count: [0, 7, 100]\n");
    long n = job_points(job);
    assert_int_equal(n, 54);
    PointCost *c = NULL;
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    long distinct = 0;
    for (long i = 0; i < n; i++) {
        TrainConfig cfg = point(job, i);
        long records = train_record_schedule(NULL, &cfg, cfg.steps), evals = train_eval_schedule(NULL, &cfg, cfg.steps);
        assert_int_equal(c[i].records, records);
        assert_int_equal(c[i].evals, evals);
        distinct += i > 0 && (c[i].records != c[i - 1].records || c[i].evals != c[i - 1].evals);
        TrainPlan plan;
        assert_int_equal(train_plan(&plan, &cfg), ADV_OK);
        assert_true(plan.cost == c[i].cost);
    }
    assert_true(distinct > 20); /* the counts do change along the grid */
    free(c);
    job_destroy(&job);
}

/* ---- cost, order, plan ------------------------------------------------------------ */

static void test_costs(void **state) {
    (void)state;
    Job *job = parse_ok("fixed: {d: 8, H: 3}\ngrid:\n  model: [deep, twolayer]\n  m: [16, 32]\n");
    PointCost *c = NULL;
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    assert_int_equal(c[0].n_trained, 3 * 16 * 16);
    assert_int_equal(c[0].n_fixed, 16 * 8 + 16);
    assert_int_equal(c[3].n_trained, 32 * 8);
    assert_int_equal(c[3].n_fixed, 32);
    assert_true(c[1].cost > c[0].cost && c[0].cost > 0);
    assert_true(c[1].bytes > c[0].bytes);
    assert_true(c[0].records > 0 && c[0].evals > 0);
    PointCost one = {.cost = 3e9};
    assert_true(fabs(sweep_point_seconds(&one, 2.0) - 1.5) < 1e-12);
    free(c);
    job_destroy(&job);
}

static void test_order_costliest_first(void **state) {
    (void)state;
    PointCost c[6] = {{.cost = 5}, {.cost = 9}, {.cost = 5}, {.cost = 1}, {.cost = 9}, {.cost = 0}};
    long order[6];
    sweep_order(order, c, 6);
    long want[6] = {1, 4, 0, 2, 3, 5};
    for (int i = 0; i < 6; i++) assert_int_equal(order[i], want[i]);
}

static void test_plan_memory(void **state) {
    (void)state;
    Job *job = parse_ok("fixed: {n: 16, d: 8, H: 2}\ngrid:\n  m: [16, 2048, 1024]\n");
    PointCost *c = NULL;
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    PlanRequest req = {.mem_per_rank_mb = 40, .cpus_per_task = 1};
    SweepPlan plan;
    assert_int_equal(sweep_plan(&plan, job, c, &req), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "point 1 (m=2048, H=2, n=16, d=8) needs "));
    assert_non_null(strstr(adv_errmsg(), " MB, more than the 40.0 MB per rank"));
    assert_non_null(strstr(adv_errmsg(), "(2 of 3 points"));
    req.mem_per_rank_mb = 1e6;
    assert_int_equal(sweep_plan(&plan, job, c, &req), ADV_OK);
    assert_true(plan.max_bytes == c[1].bytes);
    req.mem_per_rank_mb = 0; /* no budget */
    assert_int_equal(sweep_plan(&plan, job, c, &req), ADV_OK);
    free(c);
    job_destroy(&job);
}

static void test_plan_suggestion(void **state) {
    (void)state;
    Job *job = parse_ok("seeds: 2\nfixed: {d: 8, n: 32, steps: 100, lr: 0.01}\n"
                        "grid:\n  m: {from: 16, to: 256, factor: 2}\n  attack: [none, pgd]\n");
    long n = job_points(job);
    PointCost *c = NULL;
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    double total = 0, longest = 0;
    for (long i = 0; i < n; i++) total += c[i].cost, longest = fmax(longest, c[i].cost);

    /* a rate at which the costliest point takes an hour */
    double rate = longest / 1e9 / 3600, T = total / 1e9 / rate, L = 3600;
    PlanRequest req = {.rate_gflops = rate, .rate_measured = 1, .cpus_per_task = 2};
    SweepPlan p;
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_int_equal(p.points, n);
    assert_true(p.total_cost == total && p.max_cost == longest);
    assert_int_equal(p.cpus_per_task, 2);
    assert_true(fabs(p.core_hours - T * 2 / 3600) < 1e-9 * T);
    assert_true(p.ranks >= 2 && p.ranks <= n + 1);
    long workers = p.ranks - 1;
    assert_int_equal(workers, (long)ceil(T / L - 1e-9)); /* total / workers ~ longest */
    double wall = p.wall_hours * 3600;
    assert_true(wall >= L - 1e-6);
    assert_true(wall >= T / (double)workers - 1e-6);
    assert_true(wall <= T / (double)workers + L + 1e-6); /* list scheduling bound */
    assert_true(wall <= 2 * L + 1e-6);
    assert_true(p.time_limit_hours * 3600 >= wall * 1.3 + 300 - 1e-6);
    assert_true(p.time_limit_hours * 3600 < wall * 1.3 + 300 + 60);
    assert_int_equal(p.needs_resubmits, 0);

    /* a short partition: the limit is capped and the sweep needs resubmits */
    req.max_hours = wall / 3600 / 2;
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_true(p.time_limit_hours == req.max_hours);
    assert_int_equal(p.needs_resubmits, 1);

    /* given ranks: kept; one worker does everything */
    req.max_hours = 0;
    req.ranks = 2;
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_int_equal(p.ranks, 2);
    assert_true(fabs(p.wall_hours * 3600 - T) < 1e-9 * T);

    /* the default rate: 2 GFLOP/s per core */
    req = (PlanRequest){.cpus_per_task = 4};
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_true(fabs(p.core_hours - total / (SWEEP_DEFAULT_GFLOPS_PER_CORE * 4e9) * 4 / 3600) < 1e-12);
    free(c);
    job_destroy(&job);

    /* equal points of 20 minutes: one worker each */
    job = parse_ok("fixed: {m: 16, d: 4, n: 8, steps: 10, lr: 0.1}\ngrid:\n  delta: [0.01, 0.02, 0.03, 0.04, 0.05]\n");
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    req = (PlanRequest){.rate_gflops = c[0].cost / 1e9 / 1200, .cpus_per_task = 1};
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_int_equal(p.ranks, 6);
    assert_true(fabs(p.wall_hours * 3600 - 1200) < 1e-6);
    /* ... of 1 minute: one worker gets at least 10 minutes of work, so 1 worker does 5 */
    req.rate_gflops *= 20;
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_int_equal(p.ranks, 2);
    assert_true(fabs(p.wall_hours * 3600 - 300) < 1e-6);
    assert_true(fabs(p.time_limit_hours * 3600 - 12 * 60) < 1e-6); /* 300 x 1.3 + 300 = 690 s -> 12 min */
    free(c);
    job_destroy(&job);

    /* a single point: one rank */
    job = parse_ok("fixed: {m: 16, d: 4, n: 8, steps: 10, lr: 0.1}\n");
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_int_equal(p.ranks, 1);
    assert_true(p.time_limit_hours * 60 == ceil((p.wall_hours * 3600 * 1.3 + 300) / 60));
    free(c);
    job_destroy(&job);
}

/* Points that differ only in epsilon are one training run when epsilon does not enter the
 * training (lr_rule free, or alpha and T given); every point answers all the job's epsilons. */
static void test_epsilon_groups(void **state) {
    (void)state;
    Job *job = parse_ok("seeds: 2\nfixed: {d: 4, n: 8, steps: 10, targets: '0.5'}\n"
                        "grid:\n  m: [8, 16]\n  epsilon: [0.2, 0.1, 0.05]\n  attack: [none, pgd]\n");
    long P = job_points(job);
    assert_int_equal(P, 24);
    assert_int_equal(job_training_group_max(job), 3);
    PointCost *c = NULL;
    assert_int_equal(sweep_costs(&c, job), ADV_OK);
    long runs = 0, members[3];
    double total = 0;
    for (long i = 0; i < P; i++) {
        TrainConfig cfg, rep;
        job_point(&cfg, job, i);
        assert_string_equal(cfg.targets, "0.5,0.2,0.1,0.05");
        long r = job_training_rep(job, i);
        assert_int_equal(c[i].trained_as, r);
        job_point(&rep, job, r);
        /* the representative differs only in epsilon, and has the first one */
        assert_true(rep.epsilon == 0.2);
        rep.epsilon = cfg.epsilon;
        assert_memory_equal(&rep, &cfg, sizeof cfg);
        assert_int_equal(c[i].n_targets, 4);
        if (r == i) {
            runs++;
            assert_int_equal(job_training_members(job, i, members), 3);
            assert_int_equal(members[0], i);
            for (int k = 0; k < 3; k++) assert_int_equal(job_training_rep(job, members[k]), i);
            assert_true(c[i].cost > 0);
        } else {
            assert_true(c[i].cost == 0);
            assert_int_equal(job_training_members(job, i, NULL), 1);
        }
        total += c[i].cost;
    }
    assert_int_equal(runs, 8); /* 2 widths x 2 attacks x 2 seeds */
    SweepPlan p;
    PlanRequest req = {.rate_gflops = 1, .cpus_per_task = 1, .ranks = 2};
    assert_int_equal(sweep_plan(&p, job, c, &req), ADV_OK);
    assert_true(fabs(p.total_cost - total) <= 1e-9 * total);
    free(c);
    job_destroy(&job);
    /* The theorem rule derives alpha from epsilon: every point trains on its own. */
    job = parse_ok("fixed: {d: 4, n: 8, steps: 10, lr_rule: theorem}\ngrid:\n  m: [8, 16]\n  epsilon: [0.2, 0.1]\n");
    for (long i = 0; i < job_points(job); i++) {
        assert_int_equal(job_training_rep(job, i), i);
        assert_int_equal(job_training_members(job, i, NULL), 1);
    }
    job_destroy(&job);
    /* targets is not an axis, and a bad list is named */
    parse_fails("grid:\n  targets: ['0.1', '0.2']\n", "targets");
    parse_fails("fixed: {targets: '0.1;0.2'}\n", "targets");
}


/* ---- point keys ------------------------------------------------------------------------ */

static void key_of(char key[POINT_KEY_HEX + 1], const TrainConfig *cfg) { point_key(key, cfg, NULL); }

/* Another valid value of parameter p (than cfg's) into cfg. */
static void change(TrainConfig *cfg, const ParamSpec *p) {
    char text[64];
    switch (p->type) {
    case PARAM_INT: snprintf(text, sizeof text, "%lld", (long long)param_value(cfg, p) + (param_value(cfg, p) < p->max ? 1 : -1)); break;
    case PARAM_REAL: {
        double v = param_value(cfg, p);
        double w = v == 0 || isinf(v) ? 0.5 : v * 0.5;
        if (!strcmp(p->name, "plateau_tol") || !strcmp(p->name, "shatter_spread") || !strcmp(p->name, "delta")) w = v * 0.5;
        snprintf(text, sizeof text, "%.17g", w);
        break;
    }
    case PARAM_CHOICE: snprintf(text, sizeof text, "%s", p->choices[(int)param_value(cfg, p) == 0 ? 1 : 0]); break;
    case PARAM_TEXT: snprintf(text, sizeof text, "%s", !strcmp(p->name, "targets") ? "0.5" : "x.h5"); break;
    }
    assert_int_equal(param_set(cfg, p, text), ADV_OK);
}

static void test_point_key(void **state) {
    (void)state;
    TrainConfig a, b;
    config_defaults(&a);
    char ka[POINT_KEY_HEX + 1], kb[POINT_KEY_HEX + 1];
    key_of(ka, &a);
    assert_true(point_key_valid(ka));
    config_defaults(&b);
    key_of(kb, &b);
    assert_string_equal(ka, kb);
    /* the canonical text: the numerics version, the resolved targets, nothing at its default */
    char text[POINT_TEXT_MAX];
    size_t n = point_canonical_text(text, sizeof text, &a, NULL);
    assert_int_equal(n, strlen(text));
    char expect[128];
    snprintf(expect, sizeof expect, "advsweep-point\nnumerics=%d\ntargets=3:0.1\n", ADVSWEEP_NUMERICS_VERSION);
    assert_string_equal(text, expect);
    /* every parameter, axis or not, is part of the key */
    for (int i = 0; i < N_PARAMS; i++) {
        config_defaults(&b);
        change(&b, &PARAMS[i]);
        key_of(kb, &b);
        if (!strcmp(ka, kb)) print_error("parameter %s does not change the key\n", PARAMS[i].name);
        assert_string_not_equal(ka, kb);
        /* and an explicit default is the default */
        TrainConfig c;
        config_defaults(&c);
        assert_int_equal(param_set(&c, &PARAMS[i], PARAMS[i].default_text), ADV_OK);
        char kc[POINT_KEY_HEX + 1];
        key_of(kc, &c);
        assert_string_equal(ka, kc);
    }
    /* targets: the set decides, not its spelling; epsilon is always one of them */
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(param_set(&a, param_find("targets"), "0.2,0.05"), ADV_OK);
    assert_int_equal(param_set(&b, param_find("targets"), "0.05, 0.2,0.1,0.2"), ADV_OK);
    key_of(ka, &a);
    key_of(kb, &b);
    assert_string_equal(ka, kb);
    /* the data file's contents (data=file only) */
    config_defaults(&a);
    assert_int_equal(param_set(&a, param_find("data"), "file"), ADV_OK);
    assert_int_equal(param_set(&a, param_find("data_file"), "x.h5"), ADV_OK);
    point_key(ka, &a, "0123456789abcdef0123456789abcdef");
    point_key(kb, &a, "0123456789abcdef0123456789abcdee");
    assert_string_not_equal(ka, kb);
    config_defaults(&a);
    point_key(ka, &a, "0123456789abcdef0123456789abcdef");
    point_key(kb, &a, NULL);
    assert_string_equal(ka, kb); /* generated data: its parameters are the whole record */
    assert_false(point_key_valid("0123"));
    assert_false(point_key_valid("0123456789ABCDEF0123456789abcdef"));
}

static void test_key_index(void **state) {
    (void)state;
    Job *job = parse_ok("seeds: 3\ngrid:\n  m: [4, 8, 16, 32]\n  epsilon: [0.1, 0.05]\n  attack: [none, pgd]\n");
    long P = job_points(job);
    char (*keys)[POINT_KEY_HEX + 1] = calloc((size_t)P + 1, sizeof *keys);
    for (long i = 0; i < P; i++) {
        TrainConfig cfg;
        job_point(&cfg, job, i);
        point_key(keys[i], &cfg, NULL);
    }
    KeyIndex *t = NULL;
    assert_int_equal(key_index_build(&t, keys, P), -1); /* every point is its own */
    for (long i = 0; i < P; i++) assert_int_equal(key_index_find(t, keys[i]), i);
    assert_int_equal(key_index_find(t, "00000000000000000000000000000000"), -1);
    assert_int_equal(key_index_find(t, "not a key"), -1);
    key_index_destroy(&t);
    assert_null(t);
    memcpy(keys[P], keys[5], sizeof keys[0]);
    assert_int_equal(key_index_build(&t, keys, P + 1), P); /* the repeat is named, the first kept */
    assert_int_equal(key_index_find(t, keys[5]), 5);
    key_index_destroy(&t);
    free(keys);
    job_destroy(&job);
}

/* ---- --where ------------------------------------------------------------------------------ */

static Where *where_ok(const char *expr) {
    Where *w = NULL;
    int rc = where_parse(&w, expr);
    if (rc != ADV_OK) print_error("--where '%s': %s\n", expr, adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    return w;
}

static void where_fails(const char *expr, const char *expect) {
    Where *w = (Where *)1;
    int rc = where_parse(&w, expr);
    if (rc != ADV_ERR_INPUT || !strstr(adv_errmsg(), expect))
        print_error("--where '%s': expected \"%s\", got %d \"%s\"\n", expr, expect, rc, adv_errmsg());
    assert_int_equal(rc, ADV_ERR_INPUT);
    assert_null(w);
}

/* How many points of job match expr; *check = where_check_used's code. */
static long where_count(const Job *job, const char *expr, int *check) {
    Where *w = where_ok(expr);
    long n = 0;
    for (long i = 0; i < job_points(job); i++) {
        TrainConfig cfg;
        job_point(&cfg, job, i);
        n += where_match(w, &cfg);
    }
    *check = where_check_used(w, n, "the job");
    where_destroy(&w);
    return n;
}

static void test_where(void **state) {
    (void)state;
    Job *job = parse_ok("seeds: 3\nfixed: {seed: 1}\ngrid:\n  m: [4, 8, 16, 32, 64, 128]\n"
                        "  epsilon: {from: 0.02, to: 0.2, count: 3, log: true}\n  attack: [none, fgsm, pgd]\n");
    int check;
    assert_int_equal(where_count(job, "attack=pgd", &check), 6 * 3 * 3);
    assert_int_equal(check, ADV_OK);
    assert_int_equal(where_count(job, "attack=pgd,m<=64,seed=1..2", &check), 5 * 3 * 2);
    assert_int_equal(where_count(job, " attack = pgd | fgsm , m > 8 ", &check), 4 * 3 * 2 * 3);
    assert_int_equal(where_count(job, "attack!=none,m=4|16..32|128", &check), 4 * 3 * 2 * 3);
    assert_int_equal(where_count(job, "m>=128,m<128", &check), 0);
    assert_int_equal(check, ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "matches no point of the job"));
    /* reals to the printed precision: 0.0632456 is 0.02 * sqrt(10) */
    assert_int_equal(where_count(job, "epsilon=0.0632456", &check), 6 * 3 * 3);
    assert_int_equal(check, ADV_OK);
    assert_int_equal(where_count(job, "epsilon<0.0632456", &check), 6 * 3 * 3);
    assert_int_equal(where_count(job, "epsilon=0.06", &check), 0);
    assert_int_equal(check, ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "epsilon=0.06"));
    assert_non_null(strstr(adv_errmsg(), "epsilon takes 0.02, 0.0632456, 0.2"));
    /* a listed value no point has is named (the rest would run) */
    assert_int_equal(where_count(job, "m=8|65", &check), 3 * 3 * 3);
    assert_int_equal(check, ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "m=65"));
    assert_non_null(strstr(adv_errmsg(), "m takes 4, 8, 16, 32, 64, 128"));
    where_count(job, "m=300..400", &check);
    assert_int_equal(check, ADV_ERR_INPUT);
    where_count(job, "R<1", &check); /* R = inf everywhere */
    assert_int_equal(check, ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "R<1 holds for no point"));
    assert_int_equal(where_count(job, "R=inf,lr=auto,data=sphere", &check), job_points(job));
    assert_int_equal(check, ADV_OK);
    job_destroy(&job);
    /* typos and misuse: one line naming what is wrong */
    where_fails("atack=pgd", "unknown parameter 'atack' (did you mean 'attack'?)");
    where_fails("zzzzzzzz=1", "unknown parameter 'zzzzzzzz'");
    where_fails("attack=pdg", "parameter attack: unknown value 'pdg'");
    where_fails("attack=pgd|fgms", "unknown value 'fgms'");
    where_fails("m=6x", "parameter m: bad value '6x'");
    where_fails("m=0", "parameter m: bad value '0'");
    where_fails("m<=6.5", "parameter m: bad value '6.5'");
    where_fails("attack<pgd", "< needs a numeric parameter");
    where_fails("attack=none..pgd", "a range a..b needs a numeric parameter");
    where_fails("m=64..8", "the range 64..8 is empty");
    where_fails("m=..8", "a range is written a..b");
    where_fails("m<=8|16", "takes one value");
    where_fails("m", "has no operator");
    where_fails("m=", "a value is missing");
    where_fails("m=8,,H=1", "an empty condition");
    where_fails("m=8,", "an empty condition");
    where_fails("=8", "names no parameter");
    where_fails("m=<8", "unknown operator");
    where_fails("", "empty");
    where_fails("   ", "empty");
}

/* ---- the search section ----------------------------------------------------------------- */

static void test_search_section(void **state) {
    (void)state;
    Job *job = parse_ok("seeds: 3\ngrid:\n  m: [8, 2, 4]\n  epsilon: [0.2, 0.1]\n  attack: [none, pgd]\n"
                        "search: {axis: m, target: epsilon}\n");
    const JobSearch *s = job_search(job);
    assert_true(s->on);
    assert_ptr_equal(s->axis, param_find("m"));
    assert_ptr_equal(s->target, param_find("epsilon"));
    assert_true(s->fraction == 1);
    assert_int_equal(s->n_budgets, 2); /* T/2 and T by default */
    assert_true(s->budgets[0] == 0.5 && s->budgets[1] == 1);
    /* the structure the search walks */
    assert_int_equal(job_axis_count(job), 3);
    assert_int_equal(job_axis_length(job, 0), 3);
    assert_int_equal(job_seeds(job), 3);
    long coords[4];
    for (long i = 0; i < job_points(job); i++) {
        job_point_coords(job, i, coords);
        assert_int_equal(job_point_index(job, coords), i);
        TrainConfig cfg;
        job_point(&cfg, job, i);
        static const int64_t widths[3] = {8, 2, 4};
        assert_int_equal(cfg.m, widths[coords[0]]);
        assert_int_equal(cfg.seed, 1 + coords[3]);
    }
    job_destroy(&job);
    job = parse_ok("grid:\n  m: [2, 4]\n  seed: [1, 2]\nsearch: {axis: m, target: epsilon, rule: fraction 0.5, "
                   "budgets: [0.25]}\n");
    s = job_search(job);
    assert_true(s->fraction == 0.5);
    assert_int_equal(s->n_budgets, 2); /* T is always one of them */
    assert_true(s->budgets[0] == 0.25 && s->budgets[1] == 1);
    job_destroy(&job);
    job = parse_ok("grid: {m: [2, 4]}\n");
    assert_false(job_search(job)->on);
    job_destroy(&job);
    /* bad input: one line naming what is wrong */
    parse_fails("grid: {m: [2, 4], H: [1, 2]}\nsearch: {axis: n, target: epsilon}\n",
                "the search axis 'n' is not a grid axis (grid axes: m, H)");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: width, target: epsilon}\n", "key 'axis': 'width' is not a parameter");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m, target: eps}\n", "key 'target': 'eps' is not a parameter");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m, target: delta}\n", "key 'target': 'delta' is not a loss target");
    parse_fails("grid: {m: [2, 4], attack: [none, pgd]}\nsearch: {axis: attack, target: epsilon}\n",
                "the search axis 'attack' is not numeric");
    parse_fails("grid: {m: [4]}\nsearch: {axis: m, target: epsilon}\n", "has one value");
    parse_fails("grid: {m: [2, 4]}\nsearch: {target: epsilon}\n", "missing 'axis'");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m}\n", "missing 'target'");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m, target: epsilon, rule: most}\n", "key 'rule': bad value 'most'");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m, target: epsilon, rule: fraction 1.5}\n", "bad value 'fraction 1.5'");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m, target: epsilon, budgets: [0]}\n", "a fraction of T in (0, 1]");
    parse_fails("grid: {m: [2, 4]}\nsearch: {axis: m, target: epsilon, steps: 3}\n", "unknown key");
    parse_fails("grid: {m: [2, 4]}\nsearch: [m]\n", "expected a mapping");
}

int main(int argc, char **argv) {
    (void)argc;
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_range_factor),
        cmocka_unit_test(test_range_step),
        cmocka_unit_test(test_range_count),
        cmocka_unit_test(test_inf),
        cmocka_unit_test(test_inf_fixed),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_point_determinism),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_data_files),
        cmocka_unit_test(test_default_job),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_errors_keys),
        cmocka_unit_test(test_errors_values),
        cmocka_unit_test(test_errors_ranges),
        cmocka_unit_test(test_errors_syntax),
        cmocka_unit_test(test_invalid_combination),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_costs),
        cmocka_unit_test(test_order_costliest_first),
        cmocka_unit_test(test_plan_memory),
        cmocka_unit_test(test_plan_suggestion),
        cmocka_unit_test(test_epsilon_groups),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_nodes_anchors),
        cmocka_unit_test(test_limit_points),
        cmocka_unit_test(test_largest_grid),
        cmocka_unit_test(test_repeats_in_order),
        cmocka_unit_test(test_limit_file_size),
        cmocka_unit_test(test_costs_schedules),
        cmocka_unit_test(test_point_key),
        cmocka_unit_test(test_key_index),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_search_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
