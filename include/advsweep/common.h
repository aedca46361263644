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

/* Strict numbers, for every number a user writes (options, job files, the
 * parameter table): the whole text is the number, with no surrounding space.
 * Integers: [+-]?[0-9]+ (no fraction, exponent or hex). Reals: [+-]? digits
 * with an optional fraction and decimal exponent (no hex, no nan); with
 * allow_inf also inf, infinity or .inf in any case. Return 0 and set *out,
 * or leave *out unchanged and return -1 (not such a number) or -2 (a number
 * outside the type's range). */
int adv_parse_int(const char *text, long long *out);
int adv_parse_real(const char *text, double *out, int allow_inf);

/* Seconds from a monotonic clock. */
double adv_now(void);

/* 1 if paths a and b name the same existing file (same device and inode, so
 * "./x.h5", "x.h5", a symlink to it and a hard link are all the same), else 0
 * (also when either does not exist). */
int adv_same_file(const char *a, const char *b);

/* 64-bit FNV-1a hash of a byte string (used to name seeds by purpose and to
 * fingerprint job files). */
uint64_t adv_hash(const void *data, size_t len, uint64_t seed);

#endif
