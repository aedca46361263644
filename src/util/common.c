/* common.c — error messages, allocation, clock, hashing. No MPI, no HDF5. */
#define _POSIX_C_SOURCE 200809L
#include "advsweep/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static char err_message[1024];

int adv_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_message, sizeof err_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *adv_errmsg(void) { return err_message; }

void adv_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("advsweep: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void out_of_memory(size_t bytes) {
    fprintf(stderr, "advsweep: out of memory allocating %zu bytes\n", bytes);
    abort();
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *xaligned(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) out_of_memory(rounded);
    memset(p, 0, rounded);
    return p;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xcalloc(n, 1);
    memcpy(p, s, n);
    return p;
}

int adv_text_clip(char *dst, size_t len, const char *text) {
    static const char ELLIPSIS[] = "\xe2\x80\xa6"; /* U+2026 */
    size_t n = strlen(text);
    if (n < len) {
        memcpy(dst, text, n + 1);
        return 0;
    }
    size_t room = len - sizeof ELLIPSIS; /* bytes of text before the ellipsis and the NUL */
    size_t cut = room;
    while (cut > 0 && text[cut] != ' ') cut--; /* text[cut] == ' ': the words before it fit */
    if (cut == 0) /* one long word: cut before a UTF-8 continuation byte is never right */
        for (cut = room; cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80;) cut--;
    while (cut > 0 && strchr(" ,;:", text[cut - 1])) cut--;
    memcpy(dst, text, cut);
    memcpy(dst + cut, ELLIPSIS, sizeof ELLIPSIS); /* with its NUL */
    return 1;
}

int adv_parse_int(const char *text, long long *out) {
    const char *p = text;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return -1;
    if (p[0] == '0' && p[1]) return -1; /* "08", "-00": plain decimal has no leading zeros */
    while (isdigit((unsigned char)*p)) p++;
    if (*p) return -1;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE) return -2;
    *out = v;
    return 0;
}

int adv_parse_real(const char *text, double *out, int allow_inf) {
    if (allow_inf && (!strcasecmp(text, "inf") || !strcasecmp(text, "infinity") || !strcasecmp(text, ".inf"))) {
        *out = INFINITY;
        return 0;
    }
    const char *p = text;
    if (*p == '-') p++; /* no '+': a number is written as it is printed */
    int digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) return -1;
    errno = 0;
    double v = strtod(text, NULL);
    if (errno == ERANGE && isinf(v)) return -2; /* underflow to 0 or a denormal is a number */
    *out = v;
    return 0;
}

double adv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int adv_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

uint64_t adv_hash(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define HASH128_A 0x6c62272e07bb0142ULL /* FNV-1a 128's offset basis, split in two lanes */
#define HASH128_B 0x62b821756295c58dULL

void adv_hash128_update(AdvHash128 *h, const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t a = h->a ^ HASH128_A, b = h->b ^ HASH128_B;
    for (size_t i = 0; i < len; i++) {
        a = (a ^ p[i]) * 1099511628211ULL;
        b = (b ^ p[i]) * 0x100000001b3ULL * 0x9e3779b97f4a7c15ULL; /* a second multiplier: an independent lane */
    }
    h->a = a ^ HASH128_A;
    h->b = b ^ HASH128_B;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void adv_hash128_hex(const AdvHash128 *h, char out[33]) {
    uint64_t hi = mix64(h->a ^ mix64(h->b)), lo = mix64(h->b ^ mix64(h->a + 0x9e3779b97f4a7c15ULL));
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)hi, (unsigned long long)lo);
}
