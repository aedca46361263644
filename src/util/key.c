/* key.c — point identity: the key that says "this is the same computation".
 *
 * A point's key is the 128-bit fingerprint of its canonical text:
 *
 *   advsweep-point\n
 *   numerics=<ADVSWEEP_NUMERICS_VERSION>\n
 *   NAME=LEN:VALUE\n          one line per parameter of PARAMS[] (table order)
 *                             whose value differs from its declared default
 *   data=HASH\n               data=file only: the content hash of /x, /y (data_file,
 *                             the path, is left out: the content is the identity)
 *
 * VALUE is param_format's text (%.17g for reals: exact), except `targets`,
 * which is the resolved set (config_targets: epsilon and the list, distinct,
 * descending, shortest round-trip text), so that "0.1,0.2" and "0.2,0.1" are
 * one point. LEN makes any text (a data_file name with a newline) unambiguous.
 *
 * Parameters at their default are left out so that adding a parameter whose
 * default keeps the old behaviour keeps every key; in exchange a changed
 * default, like any change of results, needs a numerics version bump (config.h).
 * Two points with equal keys give bit-identical results (same BLAS kernel and
 * thread count); unequal keys only cost a recomputation. Pure data, like the parameter table: no numerics, MPI or HDF5.
 */
#include "advsweep/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"

/* The shortest "%.*g" text that reads back as v. */
static void shortest(char *buf, size_t len, double v) {
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The field of p in cfg equals the field in the defaults. */
static int at_default(const TrainConfig *cfg, const TrainConfig *def, const ParamSpec *p) {
    const char *a = (const char *)cfg + p->offset, *b = (const char *)def + p->offset;
    switch (p->type) {
    case PARAM_INT: return *(const int64_t *)a == *(const int64_t *)b;
    case PARAM_REAL: return !memcmp(a, b, sizeof(double)); /* -0.0 is not 0.0: bits decide */
    case PARAM_CHOICE: return *(const int *)a == *(const int *)b;
    case PARAM_TEXT: return !strcmp(a, b);
    }
    return 0;
}

size_t point_canonical_text(char *buf, size_t len, const TrainConfig *cfg, const char *data_hash) {
    static TrainConfig def;
    static int have_def;
    if (!have_def) { /* the table's defaults never change while the program runs */
        config_defaults(&def);
        have_def = 1;
    }
    size_t used = 0;
#define PUT(...)                                                                  \
    do {                                                                          \
        int w_ = snprintf(buf + (used < len ? used : len), used < len ? len - used : 0, __VA_ARGS__); \
        if (w_ > 0) used += (size_t)w_;                                           \
    } while (0)
    if (len) buf[0] = '\0';
    PUT("advsweep-point\nnumerics=%d\n", ADVSWEEP_NUMERICS_VERSION);
    const ParamSpec *targets = param_find("targets"), *data_file = param_find("data_file");
    char value[CONFIG_TEXT_MAX * 2];
    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        /* a data file is its content (data=HASH below), not its path: the same data moved or
         * renamed is the same point, and the path a run resolved (absolute) depends on where */
        if (p == data_file && cfg->data == DATA_FILE) continue;
        if (p == targets) {
            /* the set, not its spelling; always written (it follows epsilon, which may be an axis) */
            double tau[TARGETS_MAX];
            int n = config_targets(tau, cfg);
            size_t at = 0;
            value[0] = '\0';
            for (int q = 0; q < n && at + 40 < sizeof value; q++) {
                char one[40];
                shortest(one, sizeof one, tau[q]);
                at += (size_t)snprintf(value + at, sizeof value - at, "%s%s", q ? "," : "", one);
            }
            if (n < 0) snprintf(value, sizeof value, "?%s", cfg->targets); /* invalid: still a distinct text */
        } else {
            if (at_default(cfg, &def, p)) continue;
            param_format(value, sizeof value, cfg, p);
        }
        PUT("%s=%zu:%s\n", p->name, strlen(value), value);
    }
    if (cfg->data == DATA_FILE) PUT("data=%s\n", data_hash && *data_hash ? data_hash : "?");
#undef PUT
    return used;
}

void point_key(char key[POINT_KEY_HEX + 1], const TrainConfig *cfg, const char *data_hash) {
    char text[POINT_TEXT_MAX];
    size_t n = point_canonical_text(text, sizeof text, cfg, data_hash);
    if (n >= sizeof text) n = sizeof text - 1; /* cannot happen: the bound covers every parameter */
    AdvHash128 h = {0, 0};
    adv_hash128_update(&h, text, n);
    adv_hash128_hex(&h, key);
}

int point_key_valid(const char *key) {
    if (strlen(key) != POINT_KEY_HEX) return 0;
    for (int i = 0; i < POINT_KEY_HEX; i++)
        if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f'))) return 0;
    return 1;
}

/* ---- a key -> index table: open addressing on the key's first 64 bits ---------------------- */

struct KeyIndex {
    long cap;           /* power of two, >= 2 * count */
    long *slot;         /* (cap) index + 1, 0 = empty */
    const char (*keys)[POINT_KEY_HEX + 1]; /* borrowed */
};

static uint64_t key_bits(const char *key) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = key[i];
        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v;
}

long key_index_build(KeyIndex **out, const char (*keys)[POINT_KEY_HEX + 1], long n) {
    KeyIndex *t = xcalloc(1, sizeof *t);
    t->cap = 16;
    while (t->cap < 2 * n) t->cap *= 2;
    t->slot = xcalloc((size_t)t->cap, sizeof(long));
    t->keys = keys;
    long first_dup = -1;
    for (long i = 0; i < n; i++) {
        uint64_t h = key_bits(keys[i]);
        long s = (long)(h & (uint64_t)(t->cap - 1));
        for (;; s = (s + 1) & (t->cap - 1)) {
            if (!t->slot[s]) {
                t->slot[s] = i + 1;
                break;
            }
            if (!strcmp(keys[t->slot[s] - 1], keys[i])) { /* a repeat keeps the first */
                if (first_dup < 0) first_dup = i;
                break;
            }
        }
    }
    *out = t;
    return first_dup;
}

long key_index_find(const KeyIndex *t, const char *key) {
    if (!t || !point_key_valid(key)) return -1;
    long s = (long)(key_bits(key) & (uint64_t)(t->cap - 1));
    for (; t->slot[s]; s = (s + 1) & (t->cap - 1))
        if (!strcmp(t->keys[t->slot[s] - 1], key)) return t->slot[s] - 1;
    return -1;
}

void key_index_destroy(KeyIndex **t) {
    if (!t || !*t) return;
    free((*t)->slot);
    free(*t);
    *t = NULL;
}
