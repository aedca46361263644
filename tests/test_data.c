/* test_data.c — generators on the sphere: compatibility, determinism, failures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/data.h"
#include "advsweep/train.h" /* STATUS_REASON_MAX */

static void check_on_sphere(const Dataset *ds) {
    for (long i = 0; i < ds->n; i++) {
        double s = 0;
        for (long k = 0; k < ds->d; k++) s += ds->X[i * ds->d + k] * ds->X[i * ds->d + k];
        assert_true(fabs(sqrt(s) - 1.0) < 1e-12);
        assert_true(ds->y[i] == 1.0 || ds->y[i] == -1.0);
    }
}

static void test_sphere_compatible(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.n = 200;
    cfg.d = 6;
    cfg.delta = 0.3;
    Dataset *ds = NULL;
    assert_int_equal(data_generate(&ds, &cfg), ADV_OK);
    check_on_sphere(ds);
    assert_true(data_min_opposite_distance(ds) > 2 * cfg.delta);
    long pos = 0;
    for (long i = 0; i < ds->n; i++) pos += ds->y[i] > 0;
    assert_true(pos > 60 && pos < 140);
    dataset_destroy(&ds);
    assert_null(ds);
}

static void test_teacher(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.data = DATA_TEACHER;
    cfg.n = 100;
    cfg.d = 5;
    cfg.delta = 0.05;
    Dataset *ds = NULL;
    assert_int_equal(data_generate(&ds, &cfg), ADV_OK);
    check_on_sphere(ds);
    assert_true(data_min_opposite_distance(ds) > 2 * cfg.delta);
    long pos = 0;
    for (long i = 0; i < ds->n; i++) pos += ds->y[i] > 0;
    assert_true(pos > 5 && pos < 95);
    dataset_destroy(&ds);
}

static void test_impossible_fails_cleanly(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.n = 50; /* opposite labels would need to be 3.8 apart on the unit circle */
    cfg.d = 2;
    cfg.delta = 1.9;
    Dataset *ds = (Dataset *)&cfg; /* must be reset to NULL */
    double t0 = adv_now();
    assert_int_equal(data_generate(&ds, &cfg), ADV_ERR_INPUT);
    assert_null(ds);
    assert_non_null(strstr(adv_errmsg(), "cannot place"));
    assert_true(adv_now() - t0 < 10.0);
    /* The message is what a failed point records as its reason (STATUS_REASON_MAX
     * bytes): the values and the fix must fit, also for larger n, d and delta text. */
    cfg.n = 12345;
    cfg.d = 3;
    cfg.delta = 1.23456789;
    assert_int_equal(data_generate(&ds, &cfg), ADV_ERR_INPUT);
    assert_true(strlen(adv_errmsg()) < STATUS_REASON_MAX);
    assert_string_equal(adv_errmsg(),
                        "cannot place n=12345 points 2*delta=2.46914 from opposite labels; lower n or delta, or raise d");
    config_defaults(&cfg);
    cfg.data = DATA_SHATTER;
    cfg.n = 4000;
    cfg.d = 3;
    cfg.delta = 0.5;
    assert_int_equal(data_generate(&ds, &cfg), ADV_ERR_INPUT);
    assert_true(strlen(adv_errmsg()) < STATUS_REASON_MAX);
    assert_non_null(strstr(adv_errmsg(), "6*delta=3 apart; lower n or delta, or raise d"));
}

static void test_deterministic_and_shared_across_widths(void **state) {
    (void)state;
    TrainConfig a, b;
    config_defaults(&a);
    b = a;
    b.m = 4096; /* width, attack and epsilon do not change the data */
    b.attack = ATTACK_NONE;
    b.epsilon = 0.01;
    Dataset *da = NULL, *db = NULL;
    assert_int_equal(data_generate(&da, &a), ADV_OK);
    assert_int_equal(data_generate(&db, &b), ADV_OK);
    assert_memory_equal(da->X, db->X, sizeof(double) * (size_t)(a.n * a.d));
    assert_memory_equal(da->y, db->y, sizeof(double) * (size_t)a.n);
    dataset_destroy(&db);
    b = a;
    b.seed = a.seed + 1;
    assert_int_equal(data_generate(&db, &b), ADV_OK);
    assert_true(memcmp(da->X, db->X, sizeof(double) * (size_t)(a.n * a.d)) != 0);
    dataset_destroy(&da);
    dataset_destroy(&db);
}

static void test_shatter(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.data = DATA_SHATTER;
    cfg.d = 4;
    cfg.n = 10; /* 3 clusters of 4 points, the last cut to 2 */
    cfg.delta = 0.1;
    Dataset *ds = NULL;
    assert_int_equal(data_generate(&ds, &cfg), ADV_OK);
    check_on_sphere(ds);
    double spread = cfg.shatter_spread * cfg.delta;
    for (long i = 0; i < ds->n; i++)
        for (long j = i + 1; j < ds->n; j++) {
            double s = 0;
            for (long k = 0; k < ds->d; k++) s += pow(ds->X[i * 4 + k] - ds->X[j * 4 + k], 2);
            double dist = sqrt(s);
            if (i / 4 == j / 4) assert_true(dist > 0 && dist <= 2 * spread + 1e-12); /* same cluster */
            else assert_true(dist > 6 * cfg.delta - 2 * spread);                    /* centres > 6 delta apart */
        }
    dataset_destroy(&ds);
}

static void test_from_arrays(void **state) {
    (void)state;
    double X[3 * 2] = {3, 4, 0, 1, 1, 1};
    double y[3] = {1, -1, 1};
    Dataset *ds = NULL;
    long projected = 0;
    assert_int_equal(data_from_arrays(&ds, X, y, 3, 2, &projected), ADV_OK);
    assert_int_equal(projected, 2);
    assert_true(fabs(ds->X[0] - 0.6) < 1e-15 && fabs(ds->X[1] - 0.8) < 1e-15);
    dataset_destroy(&ds);
    double ybad[3] = {1, 0, 1};
    assert_int_equal(data_from_arrays(&ds, X, ybad, 3, 2, &projected), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "y[1]"));
    double Xzero[2 * 2] = {0, 0, 1, 0};
    assert_int_equal(data_from_arrays(&ds, Xzero, y, 2, 2, &projected), ADV_ERR_INPUT);
    assert_null(ds);
}

int main(int argc, char **argv) {
    (void)argc;
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sphere_compatible),
        cmocka_unit_test(test_teacher),
        cmocka_unit_test(test_impossible_fails_cleanly),
        cmocka_unit_test(test_deterministic_and_shared_across_widths),
        cmocka_unit_test(test_shatter),
        cmocka_unit_test(test_from_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
