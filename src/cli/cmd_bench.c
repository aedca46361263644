/* cmd_bench.c — `advsweep bench`: DGEMM rate vs full adversarial training steps. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/train.h"
#include "cli.h"

static void bench_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep bench [--m LIST] [--H H] [--n N] [--d D] [--k K] [--repeats R]\n"
            "\n"
            "Measures the DGEMM rate at the (n, m) x (m, m) shape that training uses and the\n"
            "achieved rate of full PGD-k adversarial training steps of the deep net (attack:\n"
            "k x (forward + input gradient) + 1 forward per restart; then forward + weight\n"
            "gradient + projected update), each the median of R timings, and their ratio.\n"
            "FLOP model: forward 2n(md + Hm^2 + m), input gradient 2n(Hm^2 + md),\n"
            "weight gradient 2n(Hm^2 + (H-1)m^2); elementwise work is not counted.\n"
            "Threads: OMP_NUM_THREADS (the OpenMP build of OpenBLAS ignores OPENBLAS_NUM_THREADS).\n"
            "Defaults: --m 256,1024 --H 2 --n 256 --d 32 --k 10 --repeats 5.\n"
            "The last line gives the rate to pass to `advsweep plan --rate`.\n");
}

int cmd_bench(int argc, char **argv) {
    long ms[16] = {256, 1024}, count = 2, H = 2, n = 256, d = 32, k = 10;
    int repeats = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return cli_fail(adv_err(ADV_ERR_INPUT, "option %s needs a value (see --help)", a));
        const char *v = argv[++i];
        char *end;
        long value = strtol(v, &end, 10);
        if (!strcmp(a, "--m")) {
            count = 0;
            const char *p = v;
            while (*p && count < 16) {
                ms[count] = strtol(p, &end, 10);
                if (end == p || ms[count] < 1) return cli_fail(adv_err(ADV_ERR_INPUT, "option --m: bad list '%s'", v));
                count++;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') return cli_fail(adv_err(ADV_ERR_INPUT, "option --m: bad list '%s'", v));
            }
            continue;
        }
        if (*end || value < 1) return cli_fail(adv_err(ADV_ERR_INPUT, "option %s: bad value '%s' (must be >= 1)", a, v));
        if (!strcmp(a, "--H")) H = value;
        else if (!strcmp(a, "--n")) n = value;
        else if (!strcmp(a, "--d")) d = value;
        else if (!strcmp(a, "--k")) k = value;
        else if (!strcmp(a, "--repeats")) repeats = (int)value;
        else return cli_fail(adv_err(ADV_ERR_INPUT, "unknown option '%s' (see advsweep bench --help)", a));
        if (!strcmp(a, "--d") && value < 2) return cli_fail(adv_err(ADV_ERR_INPUT, "option --d: bad value '%s' (must be >= 2)", v));
    }
    printf("advsweep bench: %d OpenMP threads, double precision, median of %d; BLAS kernel %s\n", omp_get_max_threads(),
           repeats, blas_kernel_description());
    printf("%6s %3s %5s %4s %3s  %12s  %12s  %6s  %10s\n", "m", "H", "n", "d", "k", "DGEMM GF/s", "step GF/s", "ratio",
           "ms/step");
    double slowest = 0;
    for (long i = 0; i < count; i++) {
        BenchResult r;
        bench_measure(&r, ms[i], H, n, d, k, repeats);
        printf("%6ld %3ld %5ld %4ld %3ld  %12.2f  %12.2f  %5.1f%%  %10.3f\n", r.m, r.H, r.n, r.d, r.k, r.gemm_gflops,
               r.step_gflops, 100.0 * r.ratio, 1e3 * r.step_seconds);
        fflush(stdout);
        if (slowest == 0 || r.step_gflops < slowest) slowest = r.step_gflops;
    }
    printf("rate for `advsweep plan --rate`: %.2f GFLOP/s per rank (the slowest shape above)\n", slowest);
    return 0;
}
