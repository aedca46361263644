/* blas.c — the OpenBLAS kernel in use, and selecting a better one (see blas.h).
 * Must not use MPI or HDF5: the rank for messages comes from the launcher's
 * environment, because this runs before MPI_Init (before the library could
 * be reloaded, it is too late).
 */
#include "advsweep/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

#define SELECTED_ENV "ADVSWEEP_BLAS_SELECTED" /* set by us on the re-execution: "CHOSEN:BEST" */

int blas_core_level(const char *name) {
    static const struct {
        const char *name;
        int level;
    } cores[] = {
        {"skylakex", BLAS_LEVEL_AVX512},   {"cooperlake", BLAS_LEVEL_AVX512}, {"sapphirerapids", BLAS_LEVEL_AVX512},
        {"haswell", BLAS_LEVEL_AVX2},      {"zen", BLAS_LEVEL_AVX2},          {"excavator", BLAS_LEVEL_AVX2},
        {"sandybridge", BLAS_LEVEL_AVX},   {"bulldozer", BLAS_LEVEL_AVX},     {"piledriver", BLAS_LEVEL_AVX},
        {"steamroller", BLAS_LEVEL_AVX},
    };
    if (!name) return BLAS_LEVEL_SSE;
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
        if (!strcasecmp(name, cores[i].name)) return cores[i].level;
    return BLAS_LEVEL_SSE;
}

const char *blas_best_core(int avx, int avx2, int fma, int avx512f, int avx512bw, int avx512dq, int avx512vl) {
    if (avx512f && avx512bw && avx512dq && avx512vl) return "SkylakeX";
    if (avx2 && fma) return "Haswell";
    if (avx) return "Sandybridge";
    return NULL;
}

const char *blas_best_core_here(void) {
    __builtin_cpu_init();
    return blas_best_core(__builtin_cpu_supports("avx") != 0, __builtin_cpu_supports("avx2") != 0,
                          __builtin_cpu_supports("fma") != 0, __builtin_cpu_supports("avx512f") != 0,
                          __builtin_cpu_supports("avx512bw") != 0, __builtin_cpu_supports("avx512dq") != 0,
                          __builtin_cpu_supports("avx512vl") != 0);
}

const char *blas_select_decision(const char *corename, const char *best, int user_set, int opt_out,
                                 int already_selected) {
    if (user_set || opt_out || already_selected || !best) return NULL;
    return blas_core_level(corename) < blas_core_level(best) ? best : NULL;
}

const char *blas_kernel_name(void) {
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* Rank 0 of an MPI or SLURM launch, or not launched by either. */
static int is_first_rank(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) == 0;
    }
    return 1;
}

static int user_set_coretype(void) {
    const char *v = getenv("OPENBLAS_CORETYPE");
    if (!v || !*v) return 0;
    if (getenv(SELECTED_ENV)) return 0; /* ours, from the re-execution */
    const char *assume = getenv("ADVSWEEP_BLAS_ASSUME_DEFAULT");
    return !(assume && !strcmp(assume, "1"));
}

static int opted_out(void) {
    const char *v = getenv("ADVSWEEP_BLAS_SELECT");
    return v && (!strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off"));
}

void blas_kernel_select(char **argv) {
    const char *chosen = blas_kernel_name(), *best = blas_best_core_here();
    const char *selected = getenv(SELECTED_ENV);
    int user_set = user_set_coretype(), opt_out = opted_out();
    if (selected) {
        /* We re-executed: did OpenBLAS take the kernel? */
        const char *colon = strchr(selected, ':');
        const char *want = colon ? colon + 1 : selected;
        if (strcasecmp(chosen, want) && is_first_rank())
            fprintf(stderr,
                    "advsweep: warning: OpenBLAS runs its %s kernels although OPENBLAS_CORETYPE=%s was set; "
                    "DGEMM may be several times slower than this CPU allows\n",
                    chosen, want);
        return;
    }
    const char *target = blas_select_decision(chosen, best, user_set, opt_out, 0);
    if (!target) {
        if (opt_out && !user_set && best && blas_core_level(chosen) < blas_core_level(best) && is_first_rank())
            fprintf(stderr,
                    "advsweep: warning: OpenBLAS runs its %s kernels on a CPU that supports %s's; DGEMM may be "
                    "3-5x slower: set OPENBLAS_CORETYPE=%s\n",
                    chosen, best, best);
        return;
    }
    if (is_first_rank())
        fprintf(stderr,
                "advsweep: note: OpenBLAS chose its %s kernels on a CPU that supports %s's; running with "
                "OPENBLAS_CORETYPE=%s (set OPENBLAS_CORETYPE to choose, ADVSWEEP_BLAS_SELECT=0 to keep "
                "OpenBLAS's choice)\n",
                chosen, target, target);
    char marker[128];
    snprintf(marker, sizeof marker, "%s:%s", chosen, target);
    setenv("OPENBLAS_CORETYPE", target, 1);
    setenv(SELECTED_ENV, marker, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* Still here: the re-execution failed. Say how to fix it by hand, once. */
    if (is_first_rank())
        fprintf(stderr, "advsweep: warning: could not re-execute with better BLAS kernels; set OPENBLAS_CORETYPE=%s\n",
                target);
    unsetenv(SELECTED_ENV);
}

const char *blas_kernel_description(void) {
    static char text[160];
    const char *chosen = blas_kernel_name(), *selected = getenv(SELECTED_ENV);
    if (selected) {
        char first[64];
        snprintf(first, sizeof first, "%s", selected);
        char *colon = strchr(first, ':');
        if (colon) *colon = '\0';
        snprintf(text, sizeof text, "%s (selected by advsweep: OpenBLAS chose %s)", chosen, first);
    } else if (user_set_coretype()) {
        snprintf(text, sizeof text, "%s (OPENBLAS_CORETYPE set by the user)", chosen);
    } else {
        const char *best = blas_best_core_here();
        int worse = best && blas_core_level(chosen) < blas_core_level(best);
        snprintf(text, sizeof text, "%s (OpenBLAS's choice%s%s%s)", chosen, worse ? "; this CPU supports " : "",
                 worse ? best : "", worse ? "'s" : "");
    }
    return text;
}
