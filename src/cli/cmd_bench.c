/* cmd_bench.c — `advsweep bench`: DGEMM (SGEMM) rate vs full adversarial training steps. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/memory.h"
#include "advsweep/train.h"
#include "cli.h"

static void bench_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep bench [--m LIST] [--H H] [--n N] [--d D] [--k K] [--repeats R]\n"
            "                      [--precision f64|f32] [--mem-limit SIZE]\n"
            "\n"
            "Measures the DGEMM rate at the (n, m) x (m, m) shape that training uses and the\n"
            "achieved rate of full PGD-k adversarial training steps of the deep net (attack:\n"
            "k x (forward + input gradient) + 1 forward per restart; then forward + weight\n"
            "gradient + projected update), each the median of R timings, and their ratio.\n"
            "FLOP model: forward 2n(md + Hm^2 + m), input gradient 2n(Hm^2 + md),\n"
            "weight gradient 2n(Hm^2 + (H-1)m^2); elementwise work is not counted.\n"
            "Threads: OMP_NUM_THREADS (the OpenMP build of OpenBLAS ignores OPENBLAS_NUM_THREADS).\n"
            "--precision f32 measures SGEMM and the single-precision backend (cpu_f32, the\n"
            "training parameter precision=f32) instead of DGEMM and cpu_f64.\n"
            "Defaults: --m 256,1024 --H 2 --n 256 --d 32 --k 10 --repeats 5 --precision f64.\n"
            "The last line gives the rate to pass to `advsweep plan --rate` (always in f64 FLOPs:\n"
            "the planner counts an f32 point's FLOPs at half weight).\n"
            "A shape that needs more memory than this machine gives one process (or --mem-limit SIZE)\n"
            "is refused before anything runs (exit 2).\n");
}

/* "256,1024": whole numbers >= 1, at most 16 */
static int parse_widths(long *ms, long *count, const char *text) {
    long n = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        char item[32];
        long long v;
        if (len == 0 || len >= sizeof item || n == 16) break;
        snprintf(item, sizeof item, "%.*s", (int)len, p);
        if (adv_parse_int(item, &v) != 0 || v < 1 || v > 1000000) break;
        ms[n++] = (long)v;
        if (p[len] == '\0') {
            *count = n;
            return ADV_OK;
        }
        p += len + 1;
    }
    return adv_err(ADV_ERR_INPUT, "option --m: bad list '%s' (at most 16 widths >= 1, comma-separated)", text);
}

int cmd_bench(int argc, char **argv) {
    long ms[16] = {256, 1024}, count = 2, H = 2, n = 256, d = 32, k = 10, repeats = 5;
    static const CliOption options[] = {{"help", 'h', 0, NULL},     {"m", 0, 1, "list of widths"},
                                        {"H", 0, 1, "depth"},       {"n", 0, 1, "number of points"},
                                        {"d", 0, 1, "dimension"},   {"k", 0, 1, "number of PGD steps"},
                                        {"repeats", 0, 1, "count"}, {"precision", 0, 1, "precision (f64 or f32)"},
                                        {"mem-limit", 0, 1, "size"}};
    double mem_limit = 0;
    long *targets[] = {NULL, NULL, &H, &n, &d, &k, &repeats, NULL, NULL};
    TrainConfig numerics; /* --precision is the training parameter's choice */
    config_defaults(&numerics);
    CliParser parser;
    int rc = cli_parser_begin(&parser, "bench", argc, argv, options, 9, 0), help = 0;
    const char *value;
    for (int o; rc == ADV_OK && (o = cli_next(&parser, &value)) != CLI_END;) {
        char name[16];
        if (o == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (o == CLI_POSITIONAL)
            rc = adv_err(ADV_ERR_INPUT, "unexpected argument '%s' (see advsweep bench --help)", value);
        else if (o == 0) help = 1;
        else if (o == 1) rc = parse_widths(ms, &count, value);
        else if (o == 7) {
            if (param_set(&numerics, param_find("precision"), value) != ADV_OK)
                rc = adv_err(ADV_ERR_INPUT, "option --precision: bad value '%s' (f64 or f32)", value);
        } else if (o == 8) {
            rc = cli_size(&mem_limit, "--mem-limit", value);
        } else {
            snprintf(name, sizeof name, "--%s", options[o].name);
            rc = cli_long(targets[o], name, value, o == 4 ? 2 : 1, 1000000);
        }
    }
    cli_parser_end(&parser);
    if (rc != ADV_OK) return cli_fail(ADV_ERR_INPUT);
    if (help) {
        bench_usage(stdout);
        return 0;
    }
    MemBudget mem; /* every shape before any is allocated */
    mem_budget(&mem, mem_limit, "--mem-limit", 1);
    for (long i = 0; i < count; i++) {
        TrainConfig cfg;
        char what[64];
        bench_config(&cfg, numerics.precision, ms[i], H, n, d, k);
        snprintf(what, sizeof what, "bench shape %ld", i + 1);
        rc = mem_check(&cfg, bench_bytes(numerics.precision, ms[i], H, n, d, k), &mem, what);
        if (rc != ADV_OK) return cli_fail(rc);
    }
    int f32 = numerics.precision == PRECISION_F32;
    printf("advsweep bench: %d OpenMP threads, %s precision, median of %ld; BLAS kernel %s\n", omp_get_max_threads(),
           f32 ? "single" : "double", repeats, blas_kernel_description());
    printf("%6s %3s %5s %4s %3s  %12s  %12s  %6s  %10s\n", "m", "H", "n", "d", "k", f32 ? "SGEMM GF/s" : "DGEMM GF/s",
           "step GF/s", "ratio", "ms/step");
    double slowest = 0;
    for (long i = 0; i < count; i++) {
        BenchResult r;
        bench_measure(&r, numerics.precision, ms[i], H, n, d, k, (int)repeats);
        printf("%6ld %3ld %5ld %4ld %3ld  %12.2f  %12.2f  %5.1f%%  %10.3f\n", r.m, r.H, r.n, r.d, r.k, r.gemm_gflops,
               r.step_gflops, 100.0 * r.ratio, 1e3 * r.step_seconds);
        fflush(stdout);
        if (slowest == 0 || r.step_gflops < slowest) slowest = r.step_gflops;
    }
    if (f32) /* the planner's cost counts f32 FLOPs at half weight (train_plan) */
        printf("rate for `advsweep plan --rate`: %.2f GFLOP/s per rank (the slowest shape above, in f64 FLOPs: "
               "half its f32 rate)\n", 0.5 * slowest);
    else
        printf("rate for `advsweep plan --rate`: %.2f GFLOP/s per rank (the slowest shape above)\n", slowest);
    return 0;
}
