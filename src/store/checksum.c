/* checksum.c — per-point checksums of a sweep file (docs/layout.md, /checksum).
 *
 * Two rules; a file says which (root attribute checksum_version, absent = 1):
 *
 * Rule 1 covers every row the point has in the result datasets: every
 * dataset under /reason, /summary, /traj, /eval, /targets, /worker, /weights
 * and /data whose first dimension is the point index (not the dimension
 * scales, /traj/record and the like, whose length may equal P).
 * Rule 2 (files created by this writer) covers, besides, what the point *is*:
 * every /params dataset, every /plan dataset but plan/trained_as and
 * plan/flops (planning, recomputed by --extend), every member of its /runs
 * row but index (its position, which merge changes) as a dataset
 * "runs/MEMBER", and its final status.
 * Canonical bytes, so that the checksum survives files rebuilt with wider
 * rows (more records, targets or weights: padding is fill values) and
 * datasets or /runs members added later (all fill):
 *
 *   for each such dataset, in byte order of its path ("eval/length" < "eval/step"):
 *     its row as sub-rows of the last dimension (one for (P,) and (P, K), N for (P, N, D));
 *     each sub-row without its trailing fill-value elements; then without
 *     trailing empty sub-rows; a dataset left with nothing contributes nothing;
 *     else: path, NUL, u64 number of sub-rows, then per sub-row u64 element
 *     count and its elements' bytes as stored (little-endian file types).
 *   rule 2 then: "status", NUL, u64 1, u64 1, the status as one int8 byte.
 *   checksum = the first 8 bytes of SHA-256 of all that, as a little-endian
 *   uint64; 0 (the fill value: no checksum) becomes 1.
 *
 * The writer computes it by reading the point's rows back, so the checksum
 * says what the file holds; readers (status --verify, merge, resume, and the
 * Python analysis, which implements the same rules) recompute and compare.
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

static const char *const COVERED[] = {"reason", "summary", "traj", "eval", "targets", "worker", "weights", "data",
                                      "params", "plan"}; /* the last two: rule 2 */
#define N_COVERED_V1 8
/* rule 2: planning, not the point (--extend recomputes them for the union) */
static const char *const NOT_COVERED[] = {"plan/trained_as", "plan/flops"};

typedef struct {
    char *name;
    hid_t ds, type;   /* the file type: rows are read as stored */
    int rank;
    hsize_t dims[3];
    size_t elem;      /* bytes per element */
    size_t subrows, sublen; /* a row = subrows x sublen elements */
    unsigned char *fill;    /* one element */
    int member;             /* a member of /runs (rule 2): its bytes at moff of the runs row */
    size_t moff;
} Covered;

struct ChecksumSet {
    Covered *d;
    int n, cap;
    hsize_t P;
    size_t row_max; /* bytes of the widest row */
    int version;    /* the rule */
    hid_t runs_ds, runs_type; /* rule 2: /runs, its file type */
    size_t runs_size;
};

static int covered_name(const char *name, int version) {
    size_t len = strcspn(name, "/");
    size_t n = version >= 2 ? sizeof COVERED / sizeof COVERED[0] : N_COVERED_V1;
    if (version >= 2)
        for (size_t i = 0; i < sizeof NOT_COVERED / sizeof NOT_COVERED[0]; i++)
            if (!strcmp(name, NOT_COVERED[i])) return 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(COVERED[i]) == len && !strncmp(name, COVERED[i], len)) return 1;
    return 0;
}

static void add_covered(ChecksumSet *cs, Covered c) {
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 64;
        Covered *grown = xcalloc((size_t)cs->cap, sizeof *grown);
        if (cs->n) memcpy(grown, cs->d, (size_t)cs->n * sizeof *grown);
        free(cs->d);
        cs->d = grown;
    }
    cs->d[cs->n++] = c;
    size_t row = c.member ? 0 : c.elem * c.sublen * c.subrows;
    if (row > cs->row_max) cs->row_max = row;
}

/* Rule 2: the members of /runs but index, each a "dataset" runs/MEMBER of one
 * element per row: its bytes in the file type's row, its fill the member's
 * bytes in the dataset's fill value. */
static int open_runs(ChecksumSet *cs, hid_t file) {
    int rc = ADV_OK;
    hid_t dcpl = H5I_INVALID_HID, space = H5I_INVALID_HID;
    unsigned char *fill = NULL;
    if (!h5_has_dataset(file, D_RUNS)) return ADV_OK; /* not per point: nothing of it covered */
    H5TRY(cs->runs_ds = H5Dopen2(file, D_RUNS, H5P_DEFAULT), "cannot open /%s", D_RUNS);
    H5TRY(space = H5Dget_space(cs->runs_ds), "cannot read the shape of /%s", D_RUNS);
    hsize_t dims[1] = {0};
    if (H5Sget_simple_extent_ndims(space) != 1 || H5Sget_simple_extent_dims(space, dims, NULL) < 0 || dims[0] != cs->P) {
        h5_close(&cs->runs_ds);
        goto cleanup;
    }
    H5TRY(cs->runs_type = H5Dget_type(cs->runs_ds), "cannot read the type of /%s", D_RUNS);
    if (H5Tget_class(cs->runs_type) != H5T_COMPOUND) {
        h5_close(&cs->runs_type);
        h5_close(&cs->runs_ds);
        goto cleanup;
    }
    cs->runs_size = H5Tget_size(cs->runs_type);
    fill = xcalloc(1, cs->runs_size);
    H5TRY(dcpl = H5Dget_create_plist(cs->runs_ds), "cannot read the properties of /%s", D_RUNS);
    H5D_fill_value_t defined;
    if (H5Pfill_value_defined(dcpl, &defined) >= 0 && defined != H5D_FILL_VALUE_UNDEFINED)
        if (H5Pget_fill_value(dcpl, cs->runs_type, fill) < 0) memset(fill, 0, cs->runs_size);
    H5Eclear2(H5E_DEFAULT);
    int nm = H5Tget_nmembers(cs->runs_type);
    for (int m = 0; m < nm; m++) {
        char *mname = H5Tget_member_name(cs->runs_type, (unsigned)m);
        hid_t mt = H5Tget_member_type(cs->runs_type, (unsigned)m);
        if (!mname || mt < 0) {
            if (mname) H5free_memory(mname);
            h5_close(&mt);
            rc = h5_fail(ADV_ERR_IO, "cannot read the members of /%s", D_RUNS);
            goto cleanup;
        }
        if (strcmp(mname, RUNS_INDEX) != 0) {
            Covered c = {0};
            c.ds = c.type = H5I_INVALID_HID;
            c.member = 1;
            c.moff = H5Tget_member_offset(cs->runs_type, (unsigned)m);
            c.elem = H5Tget_size(mt);
            c.rank = 1;
            c.dims[0] = cs->P;
            c.sublen = c.subrows = 1;
            c.fill = xcalloc(1, c.elem);
            memcpy(c.fill, fill + c.moff, c.elem);
            size_t len = strlen(D_RUNS) + 1 + strlen(mname) + 1;
            c.name = xcalloc(len, 1);
            snprintf(c.name, len, "%s/%s", D_RUNS, mname);
            add_covered(cs, c);
        }
        H5free_memory(mname);
        h5_close(&mt);
    }
cleanup:
    free(fill);
    h5_close(&dcpl);
    h5_close(&space);
    return rc;
}

typedef struct {
    ChecksumSet *cs;
    hid_t file;
    int rc;
} Visit;

static herr_t visit(hid_t loc, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    Visit *v = data;
    if (!covered_name(name, v->cs->version)) return 0;
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
    add_covered(cs, c);
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
    h5_close(&cs->runs_type);
    h5_close(&cs->runs_ds);
    free(cs);
    *csp = NULL;
}

int checksum_mark_version(hid_t file) { return h5_attr_write_i64(file, A_CHECKSUM_VERSION, CHECKSUM_VERSION); }

int checksum_rule(hid_t file) {
    int64_t version = 1;
    if (h5_attr_exists(file, A_CHECKSUM_VERSION) && h5_attr_read_i64(file, A_CHECKSUM_VERSION, &version) != ADV_OK)
        version = 1;
    H5Eclear2(H5E_DEFAULT);
    return (int)version;
}

int checksum_version_of(const ChecksumSet *cs) { return cs ? cs->version : CHECKSUM_VERSION; }

int checksum_open(ChecksumSet **out, hid_t file, long P, const char *path) {
    *out = NULL;
    ChecksumSet *cs = xcalloc(1, sizeof *cs);
    cs->P = (hsize_t)P;
    cs->runs_ds = cs->runs_type = H5I_INVALID_HID;
    cs->version = 1; /* written before the attribute existed */
    if (h5_attr_exists(file, A_CHECKSUM_VERSION)) {
        int64_t version = 0;
        int rc = h5_attr_read_i64(file, A_CHECKSUM_VERSION, &version);
        if (rc == ADV_OK && (version < 1 || version > CHECKSUM_VERSION))
            rc = adv_err(ADV_ERR_INPUT,
                         "checksum_version %lld is not one this advsweep knows (1 to %d); use a newer advsweep",
                         (long long)version, CHECKSUM_VERSION);
        if (rc != ADV_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", adv_errmsg());
            checksum_close(&cs);
            return adv_err(rc, "%s: %s", path, msg);
        }
        cs->version = (int)version;
    }
    Visit v = {cs, file, ADV_OK};
    if (v.rc == ADV_OK && cs->version >= 2) v.rc = open_runs(cs, file);
    if (v.rc != ADV_OK || H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, visit, &v) < 0 || v.rc != ADV_OK) {
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

int checksum_rows(ChecksumSet *cs, long a, long n, const int8_t *status, uint64_t *out) {
    if (n <= 0) return ADV_OK;
    int rc = ADV_OK;
    size_t row = (cs->row_max ? cs->row_max : 1) + cs->runs_size;
    long block = (long)(BLOCK_BYTES / row);
    if (block < 1) block = 1;
    if (block > n) block = n;
    unsigned char *buf = xcalloc((size_t)block, row);
    unsigned char *runs = cs->runs_size ? xcalloc((size_t)block, cs->runs_size) : NULL;
    Sha256 *st = xcalloc((size_t)block, sizeof *st);
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    for (long b0 = 0; b0 < n; b0 += block) {
        long nb = n - b0 < block ? n - b0 : block;
        for (long k = 0; k < nb; k++) sha256_init(&st[k]);
        if (runs) { /* the /runs rows, once: every member's bytes come from them */
            hsize_t start = (hsize_t)(a + b0), count = (hsize_t)nb;
            H5TRY(fspace = H5Dget_space(cs->runs_ds), "cannot read the shape of /%s", D_RUNS);
            H5TRY(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL), "cannot select rows of /%s",
                  D_RUNS);
            H5TRY(mspace = H5Screate_simple(1, &count, NULL), "cannot make a dataspace");
            H5TRY(H5Dread(cs->runs_ds, cs->runs_type, mspace, fspace, H5P_DEFAULT, runs), "cannot read /%s", D_RUNS);
            h5_close(&mspace);
            h5_close(&fspace);
        }
        for (int j = 0; j < cs->n; j++) {
            Covered *c = &cs->d[j];
            if (c->member) {
                for (long k = 0; k < nb; k++) feed_row(&st[k], c, runs + (size_t)k * cs->runs_size + c->moff);
                continue;
            }
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
        if (cs->version >= 2) /* the final status: flipping done to diverged is damage too */
            for (long k = 0; k < nb; k++) {
                sha256_update(&st[k], D_STATUS, strlen(D_STATUS) + 1);
                put_u64(&st[k], 1);
                put_u64(&st[k], 1);
                unsigned char b = (unsigned char)status[b0 + k];
                sha256_update(&st[k], &b, 1);
            }
        for (long k = 0; k < nb; k++) out[b0 + k] = digest_u64(&st[k]);
    }
cleanup:
    h5_close(&mspace);
    h5_close(&fspace);
    free(runs);
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
        rc = checksum_rows(cs, i, e - i, status + i, now + i);
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

int checksum_refresh_rows(hid_t file, const char *path, long P, const long *rows, long n) {
    if (n <= 0 || !h5_has_dataset(file, D_CHECKSUM)) return ADV_OK;
    int rc = ADV_OK;
    ChecksumSet *cs = NULL;
    hid_t st = H5I_INVALID_HID, sums = H5I_INVALID_HID;
    CHECK(checksum_open(&cs, file, P, path));
    H5TRY(st = H5Dopen2(file, D_STATUS, H5P_DEFAULT), "%s: cannot open /%s", path, D_STATUS);
    H5TRY(sums = H5Dopen2(file, D_CHECKSUM, H5P_DEFAULT), "%s: cannot open /%s", path, D_CHECKSUM);
    for (long k = 0; k < n; k++) {
        int8_t s = 0;
        uint64_t sum = 0;
        CHECK(h5_read_row(st, rows[k], H5T_NATIVE_INT8, &s, "/status"));
        if (s != RUN_DONE && s != RUN_FAILED && s != RUN_DIVERGED) continue;
        CHECK(checksum_rows(cs, rows[k], 1, &s, &sum));
        CHECK(h5_write_row(sums, rows[k], H5T_NATIVE_UINT64, &sum, "/checksum"));
    }
cleanup:
    h5_close(&sums);
    h5_close(&st);
    checksum_close(&cs);
    return rc;
}

int checksum_restore_point(hid_t file, const char *path, long row, const TrainConfig *cfg, const char *key) {
    int rc = ADV_OK;
    hid_t ds = H5I_INVALID_HID, t = H5I_INVALID_HID;
    RunsType rt = {.type = H5I_INVALID_HID};
    unsigned char value[512], *runs = NULL;
    char name[128];
    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        snprintf(name, sizeof name, "%s/%s", G_PARAMS, p->name);
        if (!h5_has_dataset(file, name)) continue;
        if (param_bytes(p) > sizeof value) {
            rc = adv_err(ADV_ERR_INTERNAL, "parameter %s is too large", p->name);
            goto cleanup;
        }
        memset(value, 0, sizeof value);
        param_pack(value, cfg, p);
        H5TRY(ds = H5Dopen2(file, name, H5P_DEFAULT), "%s: cannot open /%s", path, name);
        H5TRY(t = param_type(p, 1), "cannot make the type of /%s", name);
        CHECK(h5_write_row(ds, row, t, value, name));
        h5_close(&t);
        h5_close(&ds);
    }
    if (h5_has_dataset(file, D_PLAN_KEY)) {
        char k[STORE_KEY_HEX + 1] = {0};
        snprintf(k, sizeof k, "%s", key);
        H5TRY(ds = H5Dopen2(file, D_PLAN_KEY, H5P_DEFAULT), "%s: cannot open /%s", path, D_PLAN_KEY);
        H5TRY(t = h5_str_type(STORE_KEY_HEX + 1), "cannot make a string type");
        CHECK(h5_write_row(ds, row, t, k, "/plan/key"));
        h5_close(&t);
        h5_close(&ds);
    }
    CHECK(runs_type_build(&rt, 1));
    runs = xcalloc(1, rt.size);
    H5TRY(ds = H5Dopen2(file, D_RUNS, H5P_DEFAULT), "%s: cannot open /%s", path, D_RUNS);
    CHECK(h5_read_row(ds, row, rt.type, runs, "/runs"));
    int64_t index = row;
    memcpy(runs + rt.off_index, &index, 8);
    for (int i = 0; i < N_PARAMS; i++) param_pack(runs + rt.off_param[i], cfg, &PARAMS[i]);
    CHECK(h5_write_row(ds, row, rt.type, runs, "/runs"));
cleanup:
    free(runs);
    runs_type_free(&rt);
    h5_close(&t);
    h5_close(&ds);
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
