/* checksum.c — per-point checksums of a sweep file (docs/layout.md, /checksum).
 *
 * A point's checksum covers every row it has in the result datasets: every
 * dataset under /reason, /summary, /traj, /eval, /targets, /worker, /weights
 * and /data whose first dimension is the point index (not /status, written
 * after it; not /params and /plan, written at creation; not /runs, a mirror;
 * not the dimension scales, /traj/record and the like, whose length may equal P).
 * Canonical bytes, so that the checksum survives files rebuilt with wider
 * rows (more records, targets or weights: padding is fill values) and
 * datasets added later (all fill):
 *
 *   for each such dataset, in byte order of its path ("eval/length" < "eval/step"):
 *     its row as sub-rows of the last dimension (one for (P,) and (P, K), N for (P, N, D));
 *     each sub-row without its trailing fill-value elements; then without
 *     trailing empty sub-rows; a dataset left with nothing contributes nothing;
 *     else: path, NUL, u64 number of sub-rows, then per sub-row u64 element
 *     count and its elements' bytes as stored (little-endian file types).
 *   checksum = the first 8 bytes of SHA-256 of all that, as a little-endian
 *   uint64; 0 (the fill value: no checksum) becomes 1.
 *
 * The writer computes it by reading the point's rows back, so the checksum
 * says what the file holds; readers (status --verify, merge, resume, and the
 * Python analysis, which implements the same rule) recompute and compare.
 * Must not print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5_hl.h>

#include "advsweep/common.h"
#include "advsweep/sha256.h"
#include "internal.h"

#define BLOCK_BYTES (32L << 20)

static const char *const COVERED[] = {"reason", "summary", "traj", "eval", "targets", "worker", "weights", "data"};

typedef struct {
    char *name;
    hid_t ds, type;   /* the file type: rows are read as stored */
    int rank;
    hsize_t dims[3];
    size_t elem;      /* bytes per element */
    size_t subrows, sublen; /* a row = subrows x sublen elements */
    unsigned char *fill;    /* one element */
} Covered;

struct ChecksumSet {
    Covered *d;
    int n, cap;
    hsize_t P;
    size_t row_max; /* bytes of the widest row */
};

static int covered_name(const char *name) {
    size_t len = strcspn(name, "/");
    for (size_t i = 0; i < sizeof COVERED / sizeof COVERED[0]; i++)
        if (strlen(COVERED[i]) == len && !strncmp(name, COVERED[i], len)) return 1;
    return 0;
}

typedef struct {
    ChecksumSet *cs;
    hid_t file;
    int rc;
} Visit;

static herr_t visit(hid_t loc, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    Visit *v = data;
    if (!covered_name(name)) return 0;
    hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    int is_ds = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    if (!is_ds) return 0;
    ChecksumSet *cs = v->cs;
    Covered c = {0};
    c.ds = c.type = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    c.ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (c.ds >= 0) space = H5Dget_space(c.ds);
    c.rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (c.rank >= 1 && c.rank <= 3) H5Sget_simple_extent_dims(space, c.dims, NULL);
    if (space >= 0) H5Sclose(space);
    if (c.rank < 1 || c.rank > 3 || c.dims[0] != cs->P || H5DSis_scale(c.ds) > 0) { /* not a per-point dataset */
        h5_close(&c.ds);
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    c.type = H5Dget_type(c.ds);
    c.elem = c.type >= 0 ? H5Tget_size(c.type) : 0;
    dcpl = H5Dget_create_plist(c.ds);
    if (c.type < 0 || c.elem == 0 || dcpl < 0) {
        h5_close(&dcpl);
        h5_close(&c.type);
        h5_close(&c.ds);
        v->rc = h5_fail(ADV_ERR_IO, "cannot read the type of /%s", name);
        return -1;
    }
    c.fill = xcalloc(1, c.elem);
    H5D_fill_value_t defined;
    if (H5Pfill_value_defined(dcpl, &defined) >= 0 && defined != H5D_FILL_VALUE_UNDEFINED)
        if (H5Pget_fill_value(dcpl, c.type, c.fill) < 0) memset(c.fill, 0, c.elem);
    H5Eclear2(H5E_DEFAULT);
    h5_close(&dcpl);
    c.sublen = c.rank == 1 ? 1 : (size_t)c.dims[c.rank - 1];
    c.subrows = c.rank == 3 ? (size_t)c.dims[1] : 1;
    c.name = xstrdup(name);
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 64;
        Covered *grown = xcalloc((size_t)cs->cap, sizeof *grown);
        if (cs->n) memcpy(grown, cs->d, (size_t)cs->n * sizeof *grown);
        free(cs->d);
        cs->d = grown;
    }
    cs->d[cs->n++] = c;
    size_t row = c.elem * c.sublen * c.subrows;
    if (row > cs->row_max) cs->row_max = row;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(((const Covered *)a)->name, ((const Covered *)b)->name); }

void checksum_close(ChecksumSet **csp) {
    if (!csp || !*csp) return;
    ChecksumSet *cs = *csp;
    for (int k = cs->n - 1; k >= 0; k--) {
        h5_close(&cs->d[k].type);
        h5_close(&cs->d[k].ds);
        free(cs->d[k].fill);
        free(cs->d[k].name);
    }
    free(cs->d);
    free(cs);
    *csp = NULL;
}

int checksum_open(ChecksumSet **out, hid_t file, long P, const char *path) {
    *out = NULL;
    ChecksumSet *cs = xcalloc(1, sizeof *cs);
    cs->P = (hsize_t)P;
    Visit v = {cs, file, ADV_OK};
    if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, visit, &v) < 0 || v.rc != ADV_OK) {
        int rc = v.rc != ADV_OK ? v.rc : h5_fail(ADV_ERR_IO, "cannot list the datasets");
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        checksum_close(&cs);
        return adv_err(rc, "%s: %s", path, msg);
    }
    if (cs->n > 1) qsort(cs->d, (size_t)cs->n, sizeof *cs->d, by_name);
    *out = cs;
    return ADV_OK;
}

static void put_u64(Sha256 *s, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    sha256_update(s, b, 8);
}

/* Feed one row of c (row bytes at p) in canonical form. */
static void feed_row(Sha256 *s, const Covered *c, const unsigned char *p) {
    size_t keep_sub = 0, e = c->elem;
    size_t *len = xcalloc(c->subrows, sizeof *len);
    for (size_t u = 0; u < c->subrows; u++) {
        const unsigned char *sub = p + u * c->sublen * e;
        size_t n = c->sublen;
        while (n > 0 && !memcmp(sub + (n - 1) * e, c->fill, e)) n--;
        len[u] = n;
        if (n) keep_sub = u + 1;
    }
    if (keep_sub) {
        sha256_update(s, c->name, strlen(c->name) + 1);
        put_u64(s, keep_sub);
        for (size_t u = 0; u < keep_sub; u++) {
            put_u64(s, len[u]);
            sha256_update(s, p + u * c->sublen * e, len[u] * e);
        }
    }
    free(len);
}

static uint64_t digest_u64(Sha256 *s) {
    unsigned char d[32];
    sha256_final(s, d);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | d[i];
    return v ? v : 1;
}

int checksum_rows(ChecksumSet *cs, long a, long n, uint64_t *out) {
    if (n <= 0) return ADV_OK;
    int rc = ADV_OK;
    size_t row = cs->row_max ? cs->row_max : 1;
    long block = (long)(BLOCK_BYTES / row);
    if (block < 1) block = 1;
    if (block > n) block = n;
    unsigned char *buf = xcalloc((size_t)block, row);
    Sha256 *st = xcalloc((size_t)block, sizeof *st);
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    for (long b0 = 0; b0 < n; b0 += block) {
        long nb = n - b0 < block ? n - b0 : block;
        for (long k = 0; k < nb; k++) sha256_init(&st[k]);
        for (int j = 0; j < cs->n; j++) {
            Covered *c = &cs->d[j];
            hsize_t start[3] = {(hsize_t)(a + b0), 0, 0}, count[3] = {(hsize_t)nb, c->dims[1], c->dims[2]};
            H5TRY(fspace = H5Dget_space(c->ds), "cannot read the shape of /%s", c->name);
            H5TRY(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), "cannot select rows of /%s",
                  c->name);
            H5TRY(mspace = H5Screate_simple(c->rank, count, NULL), "cannot make a dataspace");
            H5TRY(H5Dread(c->ds, c->type, mspace, fspace, H5P_DEFAULT, buf), "cannot read /%s", c->name);
            h5_close(&mspace);
            h5_close(&fspace);
            size_t bytes = c->elem * c->sublen * c->subrows;
            for (long k = 0; k < nb; k++) feed_row(&st[k], c, buf + (size_t)k * bytes);
        }
        for (long k = 0; k < nb; k++) out[b0 + k] = digest_u64(&st[k]);
    }
cleanup:
    h5_close(&mspace);
    h5_close(&fspace);
    free(st);
    free(buf);
    return rc;
}

int checksum_verify(hid_t file, const char *path, long P, const int8_t *status, unsigned char *damaged,
                    long *n_damaged, long *n_checked, int *has) {
    *n_damaged = *n_checked = 0;
    *has = h5_has_dataset(file, D_CHECKSUM);
    memset(damaged, 0, (size_t)P);
    if (!*has) return ADV_OK; /* written before checksums existed: nothing to compare */
    hsize_t dims[3] = {0};
    if (h5_dims(file, D_CHECKSUM, dims) != 1 || (long)dims[0] != P)
        return adv_err(ADV_ERR_IO, "%s: /%s has another shape than /%s", path, D_CHECKSUM, D_STATUS);
    int rc = ADV_OK;
    uint64_t *stored = xcalloc((size_t)P, sizeof *stored), *now = NULL;
    ChecksumSet *cs = NULL;
    rc = h5_read_all(file, D_CHECKSUM, H5T_NATIVE_UINT64, stored, (hsize_t)P);
    if (rc != ADV_OK) rc = adv_err(rc, "%s: %s", path, adv_errmsg());
    if (rc == ADV_OK) rc = checksum_open(&cs, file, P, path);
    now = xcalloc((size_t)P, sizeof *now);
    /* runs of final points, in blocks */
    for (long i = 0; rc == ADV_OK && i < P;) {
        if (status[i] != RUN_DONE && status[i] != RUN_FAILED && status[i] != RUN_DIVERGED) {
            i++;
            continue;
        }
        long e = i;
        while (e < P && (status[e] == RUN_DONE || status[e] == RUN_FAILED || status[e] == RUN_DIVERGED)) e++;
        rc = checksum_rows(cs, i, e - i, now + i);
        if (rc != ADV_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", adv_errmsg());
            rc = adv_err(rc, "%s: %s", path, msg);
        }
        for (long k = i; rc == ADV_OK && k < e; k++) {
            (*n_checked)++;
            if (stored[k] != now[k]) { /* 0 stored: a final status without a checksum (a flipped status) */
                damaged[k] = 1;
                (*n_damaged)++;
            }
        }
        i = e;
    }
    checksum_close(&cs);
    free(now);
    free(stored);
    return rc;
}

void checksum_list(char *buf, size_t len, const unsigned char *damaged, long P, long n_damaged) {
    int used = 0;
    long shown = 0;
    buf[0] = '\0';
    for (long i = 0; i < P && shown < 8 && used >= 0 && (size_t)used < len; i++)
        if (damaged[i]) used += snprintf(buf + used, len - (size_t)used, "%s%ld", shown++ ? ", " : "", i);
    if (n_damaged > shown && used >= 0 && (size_t)used < len) snprintf(buf + used, len - (size_t)used, ", ...");
}
