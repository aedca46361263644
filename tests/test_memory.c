/* test_memory.c — the memory budget of a rank (src/util/memory.c): sizes,
 * the sources (this machine's /proc/meminfo, SLURM's variables, an explicit
 * limit), the division among a node's ranks, and the one-line refusal; and
 * SHA-256 (src/util/sha256.c, behind the sweep files' checksums). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/common.h"
#include "advsweep/config.h"
#include "advsweep/memory.h"
#include "advsweep/sha256.h"

#define MiB (1024.0 * 1024.0)

static void clear_slurm(void) {
    unsetenv("SLURM_MEM_PER_CPU");
    unsetenv("SLURM_MEM_PER_NODE");
    unsetenv("SLURM_CPUS_PER_TASK");
}

static void test_sizes(void **state) {
    (void)state;
    assert_true(mem_parse_size("4G") == 4096 * MiB);
    assert_true(mem_parse_size("4gb") == 4096 * MiB);
    assert_true(mem_parse_size("512M") == 512 * MiB);
    assert_true(mem_parse_size("1.5GiB") == 1536 * MiB);
    assert_true(mem_parse_size("2048") == 2048 * MiB); /* no unit: MB, as --mem-per-rank */
    assert_true(mem_parse_size("64K") == 65536);
    assert_true(mem_parse_size("1T") == MiB * MiB);
    const char *bad[] = {"", "G", "4X", "-1G", "0", "4 G", " 4G", "0x10M", "nanG", "inf", "1e400M"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_true(mem_parse_size(bad[i]) < 0);
    char buf[32];
    mem_format(buf, sizeof buf, 43.2 * 1024 * MiB);
    assert_string_equal(buf, "43.2 GB");
    mem_format(buf, sizeof buf, 1000);
    assert_string_equal(buf, "1000 bytes");
}

static void test_this_machine(void **state) {
    (void)state;
    clear_slurm();
    MemBudget one, two;
    mem_budget(&one, 0, "--mem-limit", 1);
    mem_budget(&two, 0, "--mem-limit", 2);
    assert_true(isfinite(one.bytes) && one.bytes > 0); /* Linux: MemAvailable at least */
    assert_true(two.bytes <= one.bytes / 2 * 1.05);     /* the node's memory is shared */
    assert_non_null(strstr(two.source, "shared by 2 ranks"));
    FILE *f = fopen("/proc/meminfo", "r");
    assert_non_null(f);
    char line[256];
    double avail = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13)) avail = strtod(line + 13, NULL) * 1024;
    fclose(f);
    assert_true(one.bytes <= avail * 1.05); /* never more than the machine has (a little drift) */
}

static void test_slurm_and_explicit(void **state) {
    (void)state;
    clear_slurm();
    setenv("SLURM_MEM_PER_CPU", "100", 1); /* MB, per CPU, 3 CPUs per task: 300 MB a rank */
    setenv("SLURM_CPUS_PER_TASK", "3", 1);
    MemBudget b;
    mem_budget(&b, 0, "--mem-limit", 4);
    assert_true(b.bytes == 300 * MiB); /* per task already: not divided by the node's ranks */
    assert_non_null(strstr(b.source, "SLURM_MEM_PER_CPU"));
    clear_slurm();
    setenv("SLURM_MEM_PER_NODE", "1000", 1);
    mem_budget(&b, 0, "--mem-limit", 4);
    assert_true(b.bytes == 250 * MiB);
    assert_non_null(strstr(b.source, "SLURM_MEM_PER_NODE"));
    assert_non_null(strstr(b.source, "4 ranks"));
    mem_budget(&b, 64 * MiB, "--mem-limit", 4); /* explicit: replaces every source */
    assert_true(b.bytes == 64 * MiB);
    assert_string_equal(b.source, "--mem-limit 64 MB");
    mem_budget(&b, 1e15, "--mem-limit", 4); /* even when larger than the machine */
    assert_true(b.bytes == 1e15);
    clear_slurm();
}

static void test_refusal(void **state) {
    (void)state;
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.m = 30000;
    cfg.H = 2;
    cfg.n = 48;
    cfg.d = 8;
    MemBudget b = {.bytes = 100 * MiB};
    snprintf(b.source, sizeof b.source, "--mem-limit 100 MB");
    assert_int_equal(mem_check(&cfg, 99 * MiB, &b, "this configuration"), ADV_OK);
    assert_int_equal(mem_check(&cfg, 100 * MiB, &b, "this configuration"), ADV_OK);
    assert_int_equal(mem_check(&cfg, 40.3 * 1024 * MiB, &b, "point 7"), ADV_ERR_INPUT);
    const char *msg = adv_errmsg();
    assert_non_null(strstr(msg, "point 7 needs 40.3 GB of memory (m=30000, H=2, n=48, d=8)"));
    assert_non_null(strstr(msg, "more than the 100 MB a rank may use here (--mem-limit 100 MB)"));
    assert_null(strchr(msg, '\n'));
    MemBudget none = {.bytes = INFINITY};
    assert_int_equal(mem_check(&cfg, 1e30, &none, "x"), ADV_OK);
}

static void hex_of(char out[65], const void *data, size_t len, size_t chunk) {
    Sha256 s;
    unsigned char d[32];
    sha256_init(&s);
    const unsigned char *p = data;
    for (size_t at = 0; at < len; at += chunk) sha256_update(&s, p + at, len - at < chunk ? len - at : chunk);
    sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* FIPS 180-4 examples, a million 'a', and pieces of every size (the checksums feed rows piecewise). */
static void test_sha256(void **state) {
    (void)state;
    char hex[65];
    hex_of(hex, "", 0, 1);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of(hex, "abc", 3, 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        hex_of(hex, two, strlen(two), chunk);
        assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    hex_of(hex, million, 1000000, 4097);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_this_machine),
        cmocka_unit_test(test_slurm_and_explicit),
        cmocka_unit_test(test_refusal),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
