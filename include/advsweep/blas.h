/* blas.h — which OpenBLAS kernel runs, and choosing a better one before it loads.
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPU it sees when
 * the library is loaded. On CPUs newer than the library (e.g. Xeons with
 * AVX-512 under OpenBLAS 0.3.21) it silently falls back to a generic SSE3
 * kernel (Prescott): DGEMM 3-5x slower. The library reads OPENBLAS_CORETYPE
 * only when it is loaded, so the only cure from inside the program is to set it
 * and re-execute the program once, before MPI starts.
 *
 * blas_kernel_select() does that: called first thing in main() (and in the
 * test programs' main), it compares the kernel OpenBLAS chose with the best
 * kernel this CPU supports (__builtin_cpu_supports, which also checks that the
 * OS saves the vector registers) and, when the chosen one is of a lower level,
 * re-executes /proc/self/exe with OPENBLAS_CORETYPE set. It never overrides an
 * OPENBLAS_CORETYPE the user set; ADVSWEEP_BLAS_SELECT=0 turns it off (then it
 * only warns, once, with the exact fix). Messages go to stderr on MPI rank 0
 * only (the rank is read from the launcher's environment; MPI is not started).
 *
 * Test hook: ADVSWEEP_BLAS_ASSUME_DEFAULT=1 treats an OPENBLAS_CORETYPE in the
 * environment as OpenBLAS's own (mis)choice, so a test can start the program
 * on Prescott kernels and watch it select the right ones.
 *
 * Nothing here knows about MPI or HDF5.
 */
#ifndef ADVSWEEP_BLAS_H
#define ADVSWEEP_BLAS_H

/* Kernel levels: what the vector unit of a kernel family uses. */
enum { BLAS_LEVEL_SSE = 0, BLAS_LEVEL_AVX = 1, BLAS_LEVEL_AVX2 = 2, BLAS_LEVEL_AVX512 = 3 };

/* Level of an OpenBLAS core name ("Prescott" -> SSE, "Haswell"/"Zen" -> AVX2,
 * "SkylakeX" -> AVX512, ...); unknown names count as SSE. Case-insensitive. */
int blas_core_level(const char *corename);

/* The OPENBLAS_CORETYPE of the best kernel for a CPU with these features
 * (1/0 each), or NULL when no better-than-SSE kernel applies. Pure. */
const char *blas_best_core(int avx, int avx2, int fma, int avx512f, int avx512bw, int avx512dq, int avx512vl);

/* The same for this CPU (__builtin_cpu_supports). */
const char *blas_best_core_here(void);

/* What to do, as a pure function of the situation (for tests):
 *   returns the core to re-execute with, or NULL to go on as is. */
const char *blas_select_decision(const char *corename, const char *best, int user_set, int opt_out,
                                 int already_selected);

/* Called first in main() with its argv: may re-execute the program (does not return
 * then). Prints at most one line on rank 0. */
void blas_kernel_select(char **argv);

/* The kernel in use (openblas_get_corename()). */
const char *blas_kernel_name(void);

/* One line about the kernel for reports and files, e.g.
 * "SkylakeX (selected by advsweep: OpenBLAS chose Prescott)",
 * "Zen (OpenBLAS's choice)", "Prescott (OPENBLAS_CORETYPE set by the user)". */
const char *blas_kernel_description(void);

#endif
