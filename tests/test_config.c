/* test_config.c — the parameter table: defaults, parsing, every bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/common.h"
#include "advsweep/config.h"

static void test_defaults_valid(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    assert_int_equal(config_validate(&cfg), ADV_OK);
    for (int i = 0; i < N_PARAMS; i++) {
        TrainConfig c2;
        memset(&c2, 0, sizeof c2);
        if (param_set(&c2, &PARAMS[i], PARAMS[i].default_text) != ADV_OK)
            fail_msg("default of %s does not parse: %s", PARAMS[i].name, adv_errmsg());
        /* format then parse gives the same value back */
        char text[300];
        param_format(text, sizeof text, &cfg, &PARAMS[i]);
        TrainConfig c3 = cfg;
        assert_int_equal(param_set(&c3, &PARAMS[i], text), ADV_OK);
        assert_memory_equal(&c3, &cfg, sizeof cfg);
    }
    assert_true(isinf(cfg.R));
    assert_int_equal(cfg.attack, ATTACK_PGD);
}

static void expect_bad(const char *name, const char *value, const char *fragment) {
    TrainConfig cfg, before;
    config_defaults(&cfg);
    before = cfg;
    int rc = param_set(&cfg, param_find(name), value);
    if (rc != ADV_ERR_INPUT) fail_msg("%s=%s accepted", name, value);
    if (!strstr(adv_errmsg(), fragment) || !strstr(adv_errmsg(), name) || !strstr(adv_errmsg(), value))
        fail_msg("%s=%s: message '%s' lacks '%s'", name, value, adv_errmsg(), fragment);
    assert_memory_equal(&cfg, &before, sizeof cfg); /* unchanged */
}

static void test_bad_values(void **state) {
    (void)state;
    expect_bad("m", "0", "must be >= 1");
    expect_bad("m", "-4", "must be >= 1");
    expect_bad("m", "12x", "integer");
    expect_bad("m", "2.5", "integer");
    expect_bad("H", "0", "must be >= 1");
    expect_bad("d", "1", "must be >= 2");
    expect_bad("n", "0", "must be >= 1");
    expect_bad("delta", "-0.1", ">= 0");
    expect_bad("delta", "2", "< 2");
    expect_bad("delta", "nan", "number");
    expect_bad("epsilon", "0", "> 0");
    expect_bad("epsilon", "-1", "> 0");
    expect_bad("lr", "0", "> 0");
    expect_bad("lr", "-0.5", "> 0");
    expect_bad("R", "0", "> 0");
    expect_bad("model", "resnet", "unknown value");
    expect_bad("activation", "tanh", "unknown value");
    expect_bad("loss", "hinge", "unknown value");
    expect_bad("attack", "cw", "one of: none, random, fgsm, pgd");
    expect_bad("data", "mnist", "unknown value");
    expect_bad("m", "inf", "integer");
    expect_bad("epsilon", "inf", "must be > 0");
    /* strict: the text is the number, nothing around it, decimal only */
    expect_bad("m", " 8", "integer");
    expect_bad("m", "8 ", "integer");
    expect_bad("m", "0x40", "integer");
    expect_bad("m", "8x", "integer");
    expect_bad("m", "1e3", "integer");
    expect_bad("m", "256.0", "integer");
    expect_bad("m", "", "empty");
    expect_bad("m", "99999999999999999999", "out of range");
    expect_bad("delta", " 0.1", "number");
    expect_bad("delta", "0x0.1p1", "number");
    expect_bad("delta", "0.1x", "number");
    expect_bad("delta", "1e", "number");
    expect_bad("delta", "", "empty");
    expect_bad("epsilon", "1e999", "out of range");
    expect_bad("R", "-inf", "number");
    expect_bad("attack", " pgd", "unknown value");
    expect_bad("lr", " auto", "number");
    /* plain decimal: no '+' sign, no leading zeros in an integer */
    expect_bad("m", "+8", "plain decimal: no '+' sign");
    expect_bad("m", "08", "plain decimal: no leading zeros");
    expect_bad("m", "00", "plain decimal: no leading zeros");
    expect_bad("m", "08x", "must be an integer"); /* not a plain-form slip: the usual message */
    expect_bad("m", "+8.5", "must be an integer");
    expect_bad("seed", "-07", "plain decimal: no leading zeros");
    expect_bad("delta", "+0.1", "plain decimal: no '+' sign");
    expect_bad("R", "+inf", "no '+' sign");
    /* the parsers every number goes through (options too) */
    long long i = 5;
    double r = 5;
    assert_int_equal(adv_parse_int("+8", &i), -1);
    assert_int_equal(adv_parse_int("08", &i), -1);
    assert_int_equal(adv_parse_int("-00", &i), -1);
    assert_int_equal(i, 5);
    assert_int_equal(adv_parse_int("0", &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(adv_parse_int("-0", &i), 0);
    assert_int_equal(adv_parse_int("-10", &i), 0);
    assert_int_equal(i, -10);
    assert_int_equal(adv_parse_real("+0.5", &r, 0), -1);
    assert_int_equal(adv_parse_real("+inf", &r, 1), -1);
    assert_true(r == 5);
    assert_int_equal(adv_parse_real("-0.5e+1", &r, 0), 0);
    assert_true(r == -5);
}

static void test_good_values(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    assert_int_equal(param_set(&cfg, param_find("R"), "inf"), ADV_OK);
    assert_true(isinf(cfg.R));
    assert_int_equal(param_set(&cfg, param_find("R"), "3.5"), ADV_OK);
    assert_true(cfg.R == 3.5);
    assert_int_equal(param_set(&cfg, param_find("m"), "1000"), ADV_OK);
    assert_int_equal(cfg.m, 1000);
    assert_int_equal(param_set(&cfg, param_find("seed"), "0"), ADV_OK);
    assert_int_equal(cfg.seed, 0);
    assert_int_equal(param_set(&cfg, param_find("delta"), "0.05"), ADV_OK);
    assert_true(cfg.delta == 0.05);
    assert_int_equal(param_set(&cfg, param_find("epsilon"), "1e+0"), ADV_OK); /* an exponent's sign is fine */
    assert_true(cfg.epsilon == 1.0);
    assert_int_equal(param_set(&cfg, param_find("delta"), ".5"), ADV_OK);
    assert_true(cfg.delta == 0.5);
    assert_int_equal(param_set(&cfg, param_find("epsilon"), "1E-3"), ADV_OK);
    assert_true(cfg.epsilon == 1e-3);
    assert_int_equal(param_set(&cfg, param_find("R"), "Infinity"), ADV_OK);
    assert_true(isinf(cfg.R));
    assert_int_equal(param_set(&cfg, param_find("lr"), "auto"), ADV_OK);
    assert_true(cfg.lr == 0.0);
    assert_int_equal(param_set(&cfg, param_find("delta"), "0"), ADV_OK);
    assert_int_equal(param_set(&cfg, param_find("attack"), "fgsm"), ADV_OK);
    assert_int_equal(cfg.attack, ATTACK_FGSM);
    assert_string_equal(choice_name("attack", ATTACK_FGSM), "fgsm");
}

/* Texts for fixed-size fields: cut at a word, no trailing space, "…" when cut. */
static void test_text_clip(void **state) {
    (void)state;
    char buf[24];
    assert_int_equal(adv_text_clip(buf, sizeof buf, "short enough"), 0);
    assert_string_equal(buf, "short enough");
    assert_int_equal(adv_text_clip(buf, sizeof buf, "exactly twenty-three ch"), 0); /* 23 + NUL */
    assert_string_equal(buf, "exactly twenty-three ch");
    /* 20 bytes of text + "…" (3) + NUL: "apart" does not fit, nor the space before it */
    assert_int_equal(adv_text_clip(buf, sizeof buf, "cannot place n=200 apart (placed 23)"), 1);
    assert_string_equal(buf, "cannot place n=200\xe2\x80\xa6");
    /* a cut right after punctuation drops it with the spaces */
    assert_int_equal(adv_text_clip(buf, sizeof buf, "one two, three; fourteen letters"), 1);
    assert_string_equal(buf, "one two, three\xe2\x80\xa6");
    /* a space right after the last byte that fits: every byte before it is kept */
    assert_int_equal(adv_text_clip(buf, sizeof buf, "twenty-byte-word-xyz and more"), 1);
    assert_string_equal(buf, "twenty-byte-word-xyz\xe2\x80\xa6");
    /* one long word: cut between characters, never inside one */
    assert_int_equal(adv_text_clip(buf, sizeof buf, "abcdefghijklmnopqrs\xc3\xa9tuvwxyz"), 1);
    assert_string_equal(buf, "abcdefghijklmnopqrs\xe2\x80\xa6");
    assert_int_equal(adv_text_clip(buf, sizeof buf, "abcdefghijklmnopqrst\xc3\xa9uvwxyz"), 1);
    assert_string_equal(buf, "abcdefghijklmnopqrst\xe2\x80\xa6");
    for (const char *t = "a b c d e f g h i j k l m n o p q r s t u v w x y z"; *t; t++) { /* every suffix */
        char out[12];
        adv_text_clip(out, sizeof out, t);
        assert_true(strlen(out) < sizeof out);
        size_t n = strlen(out);
        assert_true(n == 0 || out[n - 1] != ' ');
    }
}

static void test_cross_checks(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.model = MODEL_TWOLAYER;
    cfg.m = 33;
    assert_int_equal(config_validate(&cfg), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "even"));
    cfg.m = 32;
    assert_int_equal(config_validate(&cfg), ADV_OK);
    cfg.model = MODEL_DEEP;
    cfg.activation = ACT_QUADRELU;
    assert_int_equal(config_validate(&cfg), ADV_ERR_INPUT);
    config_defaults(&cfg);
    cfg.data = DATA_FILE;
    assert_int_equal(config_validate(&cfg), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "data_file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_valid),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_text_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
