/* common.h — errors, allocation and small helpers shared by every module.
 *
 * Errors propagate as return codes (ADV_OK == 0). The function that detects an
 * error records a one-line message with adv_err(); callers pass the code up with
 * TRY(). Only the program's edge (src/cli) prints the message and exits.
 * Nothing here knows about MPI or HDF5.
 */
#ifndef ADVSWEEP_COMMON_H
#define ADVSWEEP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define ADVSWEEP_VERSION "0.1.0"

/* Error codes double as process exit statuses at the edge. */
enum {
    ADV_OK = 0,
    ADV_ERR_INTERNAL = 1,    /* a bug or an I/O failure we did not expect */
    ADV_ERR_INPUT = 2,       /* bad parameter, job file or data file: nothing written */
    ADV_INTERRUPTED = 3,     /* a sweep stopped on a signal: rerun to resume */
    ADV_ERR_IO = 4,          /* a file could not be read or written */
};

/* Record `code` with a printf-style one-line message (no trailing newline)
 * and return `code`. The message stays until the next adv_err(). */
int adv_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded by adv_err(), or "" if none. Not thread-safe. */
const char *adv_errmsg(void);

/* Print "advsweep: warning: ..." on stderr (one line). */
void adv_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Propagate a non-zero return code. */
#define TRY(expr)                        \
    do {                                 \
        int try_rc_ = (expr);            \
        if (try_rc_ != ADV_OK) return try_rc_; \
    } while (0)

/* Allocation that never returns NULL: on out-of-memory it prints one line and
 * aborts the process (the one place that handles OOM). Zero-filled. */
void *xcalloc(size_t count, size_t size);
/* 64-byte aligned, zero-filled, freed with free(). Aborts on out-of-memory. */
void *xaligned(size_t bytes);
char *xstrdup(const char *s);
/* Copy text into dst (len bytes, len >= 8), always NUL-terminated. Text that
 * does not fit is cut at the last space that leaves room for an ellipsis
 * ("…", 3 bytes of UTF-8), trailing spaces and ,;: dropped, then "…" appended
 * (a text without such a space: cut between UTF-8 characters). Returns 1 if it
 * cut, 0 if the whole text fit. For fixed-size fields (a point's reason). */
int adv_text_clip(char *dst, size_t len, const char *text);

/* Strict numbers, for every number a user writes (options, job files, the
 * parameter table): the whole text is the number, with no surrounding space
 * and no '+' sign. Integers: -?(0|[1-9][0-9]*) (no leading zeros, fraction,
 * exponent or hex). Reals: -? digits with an optional fraction and decimal
 * exponent (whose sign may be '+': 1e+3; no hex, no nan); with
 * allow_inf also inf, infinity or .inf in any case. Return 0 and set *out,
 * or leave *out unchanged and return -1 (not such a number) or -2 (a number
 * outside the type's range). */
int adv_parse_int(const char *text, long long *out);
int adv_parse_real(const char *text, double *out, int allow_inf);

/* Runtime-dispatched vector code for the elementwise passes (activation masks, loss
 * derivatives, normalisations, projections). Without -march the compiler may only
 * assume SSE2; with this attribute GCC compiles the function (and the OpenMP regions
 * inside it) for AVX-512F, AVX2 and the baseline, and the dynamic loader picks one
 * per CPU (an ifunc), so one portable binary runs wide on every node. Every clone
 * gives the same bits: elementwise IEEE arithmetic is exact per element, ISO C mode
 * and -ffp-contract=off forbid fused multiply-adds, and floating-point reductions
 * are never reordered without -ffast-math. -DADVSWEEP_NO_CLONES turns it off. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(ADVSWEEP_NO_CLONES)
#define ADV_VECTOR __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADV_VECTOR
#endif

/* Entries below which an elementwise pass runs on one thread: a parallel region's
 * fork and join (and, on a shared node, waiting for a descheduled sibling thread)
 * cost more than the work. Elementwise, so the thread count never changes a result. */
#define ADV_OMP_MIN_WORK 32768

/* Seconds from a monotonic clock. */
double adv_now(void);

/* 1 if paths a and b name the same existing file (same device and inode, so
 * "./x.h5", "x.h5", a symlink to it and a hard link are all the same), else 0
 * (also when either does not exist). */
int adv_same_file(const char *a, const char *b);

/* 64-bit FNV-1a hash of a byte string (used to name seeds by purpose and to
 * fingerprint job files). */
uint64_t adv_hash(const void *data, size_t len, uint64_t seed);

/* A 128-bit fingerprint of a byte string (point keys, data-file contents):
 * two FNV-1a lanes with different offsets, each finished with the splitmix64
 * mixer and crossed, so that every input byte moves both words. Not
 * cryptographic; fine for telling apart the points of any number of sweeps
 * (collision odds ~ P^2 / 2^129). Incremental: start with h = {0, 0}. */
typedef struct {
    uint64_t a, b;
} AdvHash128;
void adv_hash128_update(AdvHash128 *h, const void *data, size_t len);
/* The finished value as 32 lowercase hex digits plus NUL. */
void adv_hash128_hex(const AdvHash128 *h, char out[33]);

#endif
