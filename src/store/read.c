/* read.c — the status summary behind `advsweep status` (merging and
 * extending are compose.c, a file's point table points.c).
 *
 * Opens the file read-only without file locking, so it works on a file that a
 * running sweep holds. Never writes. No MPI. Must not print.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "internal.h"

/* ---- status ----------------------------------------------------------------------------- */

/* /NAME as doubles, or all NaN when the file has no such dataset. */
static int read_doubles_or_nan(hid_t f, const char *name, double *buf, long P) {
    if (!h5_has_dataset(f, name)) {
        for (long i = 0; i < P; i++) buf[i] = NAN;
        return ADV_OK;
    }
    return h5_read_all(f, name, H5T_NATIVE_DOUBLE, buf, (hsize_t)P);
}

/* The shard attributes (absent: the whole grid), checked: 0 <= index < count <= INT_MAX. */
static int read_shard(hid_t f, const char *path, int64_t *index, int64_t *count) {
    *index = 0, *count = 1;
    if (h5_attr_exists(f, A_SHARD_INDEX)) TRY(h5_in_file(h5_attr_read_i64(f, A_SHARD_INDEX, index), path));
    if (h5_attr_exists(f, A_SHARD_COUNT)) TRY(h5_in_file(h5_attr_read_i64(f, A_SHARD_COUNT, count), path));
    if (*count < 1 || *count > INT_MAX || *index < 0 || *index >= *count)
        return adv_err(ADV_ERR_INPUT, "%s: shard %lld of %lld is not a shard (a damaged file?)", path,
                       (long long)*index, (long long)*count);
    return ADV_OK;
}

/* /status of an open sweep file, read first by every reader: rows are written
 * before their status, so a point that finishes while we read counts as unfinished.
 * *status (P + 1 bytes) is the caller's to free. */
static int read_status(hid_t f, const char *path, int8_t **status, long *P) {
    hsize_t dims[3] = {0};
    if (h5_dims(f, D_STATUS, dims) != 1) return adv_err(ADV_ERR_INPUT, "%s: /%s is not a vector", path, D_STATUS);
    *P = (long)dims[0];
    *status = xcalloc((size_t)*P + 1, 1);
    return h5_read_all(f, D_STATUS, H5T_NATIVE_INT8, *status, dims[0]);
}

int store_status_of(const char *path, StoreStatus *out) {
    memset(out, 0, sizeof *out);
    hid_t f = H5I_INVALID_HID;
    TRY(h5_open_sweep(&f, path, H5F_ACC_RDONLY));
    int rc = ADV_OK;
    int8_t *status = NULL;
    double *flops = NULL, *wall = NULL;
    int64_t *trained_as = NULL;
    char (*keys)[STORE_KEY_HEX + 1] = NULL;
    int64_t shard_index = 0, shard_count = 1, ranks = 0;
    long P = 0;
    CHECK(read_status(f, path, &status, &P)); /* first: a point that finishes while we read counts as not yet */
    CHECK(read_shard(f, path, &shard_index, &shard_count));
    if (h5_attr_exists(f, A_RANKS)) CHECK(h5_attr_read_i64(f, A_RANKS, &ranks));
    if (h5_attr_exists(f, A_JOB_NAME)) CHECK(h5_attr_read_line(f, A_JOB_NAME, out->job_name, sizeof out->job_name));
    if (h5_attr_exists(f, A_CREATED)) CHECK(h5_attr_read_line(f, A_CREATED, out->created, sizeof out->created));
    flops = xcalloc((size_t)P, sizeof(double));
    wall = xcalloc((size_t)P, sizeof(double));
    CHECK(read_doubles_or_nan(f, D_PLAN_FLOPS, flops, P));
    CHECK(read_doubles_or_nan(f, D_SUMMARY_WALL, wall, P));
    trained_as = xcalloc((size_t)P, sizeof(int64_t));
    if (h5_has_dataset(f, D_PLAN_TRAINED_AS))
        CHECK(h5_read_all(f, D_PLAN_TRAINED_AS, H5T_NATIVE_INT64, trained_as, (hsize_t)P));
    else
        for (long i = 0; i < P; i++) trained_as[i] = i;
    if (h5_has_dataset(f, D_PLAN_KEY)) { /* resumable progress: points that continue from a checkpoint */
        keys = xcalloc((size_t)P + 1, sizeof *keys);
        CHECK(h5_read_keys(f, keys, P));
        for (long i = 0; i < P; i++)
            if ((status[i] == RUN_PENDING || status[i] == RUN_RUNNING) && checkpoint_exists(path, keys[i]))
                out->with_checkpoint++;
    }
    out->n_points = P;
    out->shard_index = (int)shard_index;
    out->shard_count = (int)shard_count;
    out->ranks = (long)ranks;
    for (long i = 0; i < P; i++) {
        int s = status[i];
        int mine = trained_as[i] % shard_count == shard_index; /* shards split training runs */
        if (s < 0 || s >= RUN_STATUSES) continue;
        out->counts[s]++;
        if (mine) {
            out->in_shard++;
            out->shard_counts[s]++;
        }
        /* a run's time counts once, on the point that trained it */
        if ((s == RUN_DONE || s == RUN_DIVERGED) && trained_as[i] == i && isfinite(wall[i]) && isfinite(flops[i])) {
            out->done_wall += wall[i];
            out->done_flops_planned += flops[i];
        }
        if ((s == RUN_PENDING || s == RUN_RUNNING) && mine && isfinite(flops[i])) out->pending_flops_planned += flops[i];
    }
cleanup:
    free(keys);
    free(trained_as);
    free(wall);
    free(flops);
    free(status);
    h5_close(&f);
    return h5_in_file(rc, path);
}

/* ---- verify ----------------------------------------------------------------------------- */

int store_verify(const char *path, StoreVerify *out) {
    memset(out, 0, sizeof *out);
    hid_t f = H5I_INVALID_HID;
    TRY(h5_open_sweep(&f, path, H5F_ACC_RDONLY));
    int rc = ADV_OK;
    int8_t *status = NULL;
    unsigned char *damaged = NULL;
    long P = 0;
    CHECK(read_status(f, path, &status, &P)); /* first: a point that finishes while we read counts as not yet */
    damaged = xcalloc((size_t)P, 1);
    CHECK(checksum_verify(f, path, P, status, damaged, &out->n_damaged, &out->checked, &out->has_checksums));
    out->n_points = P;
    if (out->n_damaged) {
        out->damaged = xcalloc((size_t)out->n_damaged, sizeof(long));
        for (long i = 0, k = 0; i < P; i++)
            if (damaged[i]) out->damaged[k++] = i;
    }
cleanup:
    free(damaged);
    free(status);
    h5_close(&f);
    return rc;
}

/* ---- failures ---------------------------------------------------------------------------- */

/* A string attribute of any length, in a new string; "" when absent. */
static int read_text_attr(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (!h5_attr_exists(obj, name)) {
        *out = xstrdup("");
        return ADV_OK;
    }
    int rc = ADV_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    H5TRY(attr = H5Aopen(obj, name, H5P_DEFAULT), "cannot open attribute %s", name);
    H5TRY(ftype = H5Aget_type(attr), "cannot read the type of attribute %s", name);
    size_t size = H5Tis_variable_str(ftype) > 0 ? (1u << 24) : H5Tget_size(ftype) + 1;
    if (size > (1u << 24)) { /* more than 16 MiB is a damaged file, not a job text */
        rc = adv_err(ADV_ERR_INPUT, "attribute %s is a string of %zu bytes (a damaged file?)", name, size - 1);
        goto cleanup;
    }
    *out = xcalloc(size, 1);
    rc = h5_attr_read_str(obj, name, *out, size);
cleanup:
    h5_close(&ftype);
    h5_close(&attr);
    if (rc != ADV_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int store_failures_of(const char *path, StoreFailure **out, long *count, char **job_text) {
    *out = NULL;
    *count = 0;
    *job_text = NULL;
    hid_t f = H5I_INVALID_HID, rtype = H5I_INVALID_HID;
    TRY(h5_open_sweep(&f, path, H5F_ACC_RDONLY));
    int rc = ADV_OK;
    int8_t *status = NULL;
    char *reasons = NULL;
    long P = 0;
    CHECK(read_status(f, path, &status, &P)); /* first: a point that finishes while we read counts as not yet */
    reasons = xcalloc((size_t)P, REASON_BYTES); /* read after /status: a reason is written before its status */
    H5TRY(rtype = h5_str_type(REASON_BYTES), "cannot make a string type");
    CHECK(h5_read_all(f, D_REASON, rtype, reasons, (hsize_t)P));
    CHECK(read_text_attr(f, A_JOB_TEXT, job_text));
    long n = 0;
    for (long i = 0; i < P; i++) n += status[i] == RUN_FAILED || status[i] == RUN_DIVERGED;
    if (n > 0) *out = xcalloc((size_t)n, sizeof(StoreFailure));
    for (long i = 0, k = 0; i < P; i++) {
        if (status[i] != RUN_FAILED && status[i] != RUN_DIVERGED) continue;
        StoreFailure *x = &(*out)[k++];
        x->index = i;
        x->status = status[i];
        memcpy(x->reason, reasons + (size_t)i * REASON_BYTES, sizeof x->reason - 1); /* NUL-padded in the file */
        if (!x->reason[0]) snprintf(x->reason, sizeof x->reason, "(no reason recorded)");
    }
    *count = n;
cleanup:
    if (rc != ADV_OK) {
        free(*out);
        *out = NULL;
        free(*job_text);
        *job_text = NULL;
    }
    free(reasons);
    free(status);
    h5_close(&rtype);
    h5_close(&f);
    return h5_in_file(rc, path);
}
