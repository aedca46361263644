/* read.c — the status summary behind `advsweep status` (merging and
 * extending are compose.c, a file's point table points.c).
 *
 * Opens the file read-only without file locking, so it works on a file that a
 * running sweep holds. Never writes. No MPI. Must not print.
 */
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
    return h5_read_all(f, name, H5T_NATIVE_DOUBLE, buf);
}

int store_status_of(const char *path, StoreStatus *out) {
    memset(out, 0, sizeof *out);
    hid_t f = H5I_INVALID_HID;
    TRY(h5_open_sweep(&f, path, H5F_ACC_RDONLY));
    int rc = ADV_OK;
    int8_t *status = NULL;
    double *flops = NULL, *wall = NULL;
    int64_t *trained_as = NULL;
    int64_t shard_index = 0, shard_count = 1, ranks = 0;
    hsize_t dims[3] = {0};
    if (h5_dims(f, D_STATUS, dims) != 1) {
        rc = adv_err(ADV_ERR_INPUT, "%s: /%s is not a vector", path, D_STATUS);
        goto cleanup;
    }
    long P = (long)dims[0];
    if (h5_attr_exists(f, A_SHARD_INDEX)) CHECK(h5_attr_read_i64(f, A_SHARD_INDEX, &shard_index));
    if (h5_attr_exists(f, A_SHARD_COUNT)) CHECK(h5_attr_read_i64(f, A_SHARD_COUNT, &shard_count));
    if (h5_attr_exists(f, A_RANKS)) CHECK(h5_attr_read_i64(f, A_RANKS, &ranks));
    if (h5_attr_exists(f, A_JOB_NAME)) CHECK(h5_attr_read_str(f, A_JOB_NAME, out->job_name, sizeof out->job_name));
    if (h5_attr_exists(f, A_CREATED)) CHECK(h5_attr_read_str(f, A_CREATED, out->created, sizeof out->created));
    if (shard_count < 1) shard_count = 1;
    status = xcalloc((size_t)P, 1);
    flops = xcalloc((size_t)P, sizeof(double));
    wall = xcalloc((size_t)P, sizeof(double));
    /* /status first: a point that turns done while we read counts as not done yet. */
    CHECK(h5_read_all(f, D_STATUS, H5T_NATIVE_INT8, status));
    CHECK(read_doubles_or_nan(f, D_PLAN_FLOPS, flops, P));
    CHECK(read_doubles_or_nan(f, D_SUMMARY_WALL, wall, P));
    trained_as = xcalloc((size_t)P, sizeof(int64_t));
    if (h5_has_dataset(f, D_PLAN_TRAINED_AS)) CHECK(h5_read_all(f, D_PLAN_TRAINED_AS, H5T_NATIVE_INT64, trained_as));
    else
        for (long i = 0; i < P; i++) trained_as[i] = i;
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
    free(trained_as);
    free(wall);
    free(flops);
    free(status);
    h5_close(&f);
    return rc;
}
