/* points.c — a sweep file's points as a table: keys, parameters, statuses,
 * row sizes; the data-file content hash; status counts of a subset.
 *
 * Serial and read-only (no file locking), so it works on a file a sweep
 * holds. Files written before point keys existed (no /plan/key) are keyed
 * here from their /params, when their numerics can be told (docs/layout.md,
 * "Point keys"). No MPI; must not print.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "internal.h"

/* ---- the data file's contents ------------------------------------------------------------ */

int store_data_hash(const char *path, char hex[STORE_KEY_HEX + 1]) {
    double *X = NULL, *y = NULL;
    long n = 0, d = 0;
    TRY(store_read_data(path, &X, &y, &n, &d));
    AdvHash128 h = {0, 0};
    char head[64];
    int w = snprintf(head, sizeof head, "advsweep-data\nn=%ld\nd=%ld\n", n, d);
    adv_hash128_update(&h, head, (size_t)w);
    /* the values as read (float64, before any projection onto the sphere), bit for bit */
    adv_hash128_update(&h, X, (size_t)(n * d) * sizeof(double));
    adv_hash128_update(&h, y, (size_t)n * sizeof(double));
    adv_hash128_hex(&h, hex);
    free(X);
    free(y);
    return ADV_OK;
}

/* Content hashes of the data files of configs[0..n), computed once per distinct path. */
typedef struct {
    char path[CONFIG_TEXT_MAX];
    char hash[STORE_KEY_HEX + 1];
} DataHash;

int store_keys_of(char (*keys)[STORE_KEY_HEX + 1], const TrainConfig *configs, long n) {
    DataHash *seen = NULL;
    long n_seen = 0, cap = 0;
    int rc = ADV_OK;
    for (long i = 0; i < n && rc == ADV_OK; i++) {
        const TrainConfig *c = &configs[i];
        const char *hash = NULL;
        if (c->data == DATA_FILE) {
            for (long k = 0; k < n_seen && !hash; k++)
                if (!strcmp(seen[k].path, c->data_file)) hash = seen[k].hash;
            if (!hash) {
                if (n_seen == cap) {
                    cap = cap ? 2 * cap : 8;
                    DataHash *grown = xcalloc((size_t)cap, sizeof *grown);
                    if (n_seen) memcpy(grown, seen, (size_t)n_seen * sizeof *grown);
                    free(seen);
                    seen = grown;
                }
                snprintf(seen[n_seen].path, sizeof seen[n_seen].path, "%s", c->data_file);
                /* an unreadable file keys the point all the same: it fails when it runs, with the
                 * reason, a result like any other (and a readable file later is another point) */
                if (store_data_hash(c->data_file, seen[n_seen].hash) != ADV_OK)
                    snprintf(seen[n_seen].hash, sizeof seen[n_seen].hash, "unreadable");
                hash = seen[n_seen++].hash;
            }
        }
        if (rc == ADV_OK) point_key(keys[i], c, hash);
    }
    free(seen);
    return rc;
}

/* ---- a file's parameters ------------------------------------------------------------------ */

int file_points_configs(const FilePoints *fp, long a, long n, TrainConfig *out) {
    int rc = ADV_OK;
    hid_t ds = H5I_INVALID_HID, type = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    unsigned char *buf = NULL;
    for (long k = 0; k < n; k++) config_defaults(&out[k]);
    hsize_t start = (hsize_t)a, count = (hsize_t)n;
    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        char name[128];
        snprintf(name, sizeof name, "%s/%s", G_PARAMS, p->name);
        if (!h5_has_dataset(fp->file, name)) continue; /* written before the parameter existed: its default */
        size_t bytes = param_bytes(p);
        buf = xcalloc((size_t)n, bytes);
        H5TRY(ds = H5Dopen2(fp->file, name, H5P_DEFAULT), "%s: cannot open /%s", fp->path, name);
        H5TRY(type = param_type(p, 1), "cannot make a type");
        H5TRY(fspace = H5Dget_space(ds), "%s: cannot read the shape of /%s", fp->path, name);
        H5TRY(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL), "%s: cannot select /%s",
              fp->path, name);
        H5TRY(mspace = H5Screate_simple(1, &count, NULL), "cannot make a dataspace");
        H5TRY(H5Dread(ds, type, mspace, fspace, H5P_DEFAULT, buf), "%s: cannot read /%s", fp->path, name);
        for (long k = 0; k < n; k++) {
            const unsigned char *v = buf + (size_t)k * bytes;
            char *field = (char *)&out[k] + p->offset;
            if (p->type == PARAM_INT) memcpy(field, v, 8);
            else if (p->type == PARAM_REAL) memcpy(field, v, 8);
            else {
                char text[TEXT_BYTES + 1];
                memcpy(text, v, bytes);
                text[bytes] = '\0';
                if (p->type == PARAM_TEXT) text_copy(field, CONFIG_TEXT_MAX, text);
                else if (param_set(&out[k], p, text) != ADV_OK) {
                    rc = adv_err(ADV_ERR_INPUT, "%s: /%s row %ld holds '%s', not a value of %s (a newer advsweep?)",
                                 fp->path, name, a + k, text, p->name);
                    goto cleanup;
                }
            }
        }
        h5_close(&mspace);
        h5_close(&fspace);
        h5_close(&type);
        h5_close(&ds);
        free(buf);
        buf = NULL;
    }
cleanup:
    free(buf);
    h5_close(&mspace);
    h5_close(&fspace);
    h5_close(&type);
    h5_close(&ds);
    return rc;
}

/* ---- the point table ------------------------------------------------------------------------ */

static hsize_t dim_or_zero(hid_t f, const char *name, int k) {
    hsize_t dims[3] = {0};
    if (!h5_has_dataset(f, name)) return 0;
    int rank = h5_dims(f, name, dims);
    return rank > k ? dims[k] : 0;
}

void file_points_close(FilePoints *fp) {
    if (!fp) return;
    h5_close(&fp->file);
    free(fp->key);
    free(fp->status);
    free(fp->path);
    memset(fp, 0, sizeof *fp);
    fp->file = H5I_INVALID_HID;
}

int file_points_open(FilePoints *fp, const char *path) {
    memset(fp, 0, sizeof *fp);
    fp->file = H5I_INVALID_HID;
    fp->path = xstrdup(path);
    fp->shard_count = 1;
    int rc = ADV_OK;
    TrainConfig *block = NULL;
    StoreStatus readable; /* what status refuses is refused here too (shapes checked before any read) */
    CHECK(store_status_of(path, &readable));
    CHECK(h5_open_sweep(&fp->file, path, H5F_ACC_RDONLY));
    hid_t f = fp->file;
    hsize_t dims[3] = {0};
    if (h5_dims(f, D_STATUS, dims) != 1) {
        rc = adv_err(ADV_ERR_INPUT, "%s: /%s is not a vector", path, D_STATUS);
        goto cleanup;
    }
    fp->P = (long)dims[0];
    fp->status = xcalloc((size_t)fp->P + 1, 1);
    CHECK(h5_read_all(f, D_STATUS, H5T_NATIVE_INT8, fp->status, (hsize_t)fp->P));
    if (h5_attr_exists(f, A_SHARD_INDEX)) CHECK(h5_attr_read_i64(f, A_SHARD_INDEX, &fp->shard_index));
    if (h5_attr_exists(f, A_SHARD_COUNT)) CHECK(h5_attr_read_i64(f, A_SHARD_COUNT, &fp->shard_count));
    if (fp->shard_count < 1) fp->shard_count = 1;
    if (h5_attr_exists(f, A_JOB_NAME)) CHECK(h5_attr_read_str(f, A_JOB_NAME, fp->job_name, sizeof fp->job_name));
    int64_t numerics = 0;
    if (h5_attr_exists(f, A_NUMERICS_VERSION)) CHECK(h5_attr_read_i64(f, A_NUMERICS_VERSION, &numerics));
    else numerics = h5_has_dataset(f, D_TARGETS_OUTCOME) ? 1 : 0; /* before keys: issue 8's layout is version 1 */
    fp->numerics = (int)numerics;
    fp->K = dim_or_zero(f, "traj/step", 1);
    fp->E = dim_or_zero(f, "eval/step", 1);
    fp->Q = dim_or_zero(f, D_TARGETS_TAU, 1);
    fp->Nw = dim_or_zero(f, D_WEIGHTS_W, 1);
    fp->Nf = dim_or_zero(f, D_WEIGHTS_FIXED, 1);
    fp->N = dim_or_zero(f, D_DATA_X, 1);
    fp->D = dim_or_zero(f, D_DATA_X, 2);
    fp->key = xcalloc((size_t)fp->P + 1, sizeof *fp->key);
    if (h5_has_dataset(f, D_PLAN_KEY)) {
        CHECK(h5_read_keys(f, fp->key, fp->P));
        for (long i = 0; i < fp->P; i++)
            if (!point_key_valid(fp->key[i])) {
                rc = adv_err(ADV_ERR_INPUT, "%s: /%s row %ld is not a point key (a damaged file?)", path, D_PLAN_KEY, i);
                goto cleanup;
            }
        fp->has_keys = 1;
    } else if (fp->numerics == ADVSWEEP_NUMERICS_VERSION) {
        /* keyed now, from the parameters (and today's content of a data file) */
        const long B = 4096;
        block = xcalloc((size_t)B, sizeof *block);
        for (long a = 0; a < fp->P; a += B) {
            long n = fp->P - a < B ? fp->P - a : B;
            CHECK(file_points_configs(fp, a, n, block));
            CHECK(store_keys_of(fp->key + a, block, n));
        }
    }
cleanup:
    free(block);
    if (rc != ADV_OK) file_points_close(fp);
    return rc;
}

int file_points_check_numerics(const FilePoints *fp) {
    if (fp->numerics == ADVSWEEP_NUMERICS_VERSION) return ADV_OK;
    if (fp->numerics == 0)
        return adv_err(ADV_ERR_INPUT,
                       "%s was written before point keys and per-target results (numerics version 0; this advsweep "
                       "computes version %d: the same parameters give other results); use --fresh or another output "
                       "file",
                       fp->path, ADVSWEEP_NUMERICS_VERSION);
    return adv_err(ADV_ERR_INPUT,
                   "%s holds results of numerics version %d, this advsweep computes version %d (the same parameters "
                   "give other results); use --fresh or another output file",
                   fp->path, fp->numerics, ADVSWEEP_NUMERICS_VERSION);
}

/* ---- why keys differ or agree (the messages of resume and of a job's duplicates) ---------- */

/* The key of cfg without its data file's content: equal for two points that differ
 * in nothing but the data (point_key's text with data=?). */
static void key_without_data(char key[STORE_KEY_HEX + 1], const TrainConfig *cfg) { point_key(key, cfg, ""); }

void file_points_missing_hint(char *buf, size_t len, const FilePoints *fp, const StoreLayout *l, const long *map) {
    buf[0] = '\0';
    long first_data = -1;
    for (long i = 0; i < l->n_points && first_data < 0; i++)
        if (map[i] < 0 && l->configs[i].data == DATA_FILE) first_data = i;
    if (first_data < 0) return; /* no data file among the missing points: keys tell nothing of data */
    /* the file's data-file points keyed without their data's content: a missing point found
     * there differs from a row of the file in its data only */
    long n_rows = 0, changed = 0, first = -1;
    char (*keys)[STORE_KEY_HEX + 1] = xcalloc((size_t)fp->P + 1, sizeof *keys);
    const long B = 4096;
    TrainConfig *block = xcalloc((size_t)B, sizeof *block);
    int ok = 1; /* a hint only: on a read error the refusal (which sets the message) stands without it */
    for (long a = 0; ok && a < fp->P; a += B) {
        long n = fp->P - a < B ? fp->P - a : B;
        ok = file_points_configs(fp, a, n, block) == ADV_OK;
        for (long k = 0; ok && k < n; k++)
            if (block[k].data == DATA_FILE) key_without_data(keys[n_rows++], &block[k]);
    }
    KeyIndex *index = NULL;
    if (ok && n_rows) {
        key_index_build(&index, (const char(*)[STORE_KEY_HEX + 1])keys, n_rows);
        for (long i = 0; i < l->n_points; i++) {
            if (map[i] >= 0 || l->configs[i].data != DATA_FILE) continue;
            char k[STORE_KEY_HEX + 1];
            key_without_data(k, &l->configs[i]);
            if (key_index_find(index, k) >= 0 && changed++ == 0) first = i;
        }
    }
    if (changed)
        snprintf(buf, len,
                 "; %ld of them %s in the file but for the content of %s data file (%s changed since %s written: "
                 "a point's key holds its data's content, so changed data make new points; restore the data to "
                 "resume)",
                 changed, changed == 1 ? "is" : "are", changed == 1 ? "its" : "their", l->configs[first].data_file,
                 changed == 1 ? "it was" : "they were");
    else
        snprintf(buf, len, " (a point's key holds its data file's content, not the file's name: changed data make "
                           "new points)");
    key_index_destroy(&index);
    free(block);
    free(keys);
}

void store_same_point_why(char *buf, size_t len, const TrainConfig *a, const TrainConfig *b) {
    if (a->data == DATA_FILE && b->data == DATA_FILE && strcmp(a->data_file, b->data_file) != 0)
        snprintf(buf, len,
                 ": every parameter equal but data_file, and data files %s and %s have identical content (a "
                 "point's key holds its data's content, not the file's name)",
                 a->data_file, b->data_file);
    else
        snprintf(buf, len, " (every parameter equal)");
}

/* ---- status of a subset ------------------------------------------------------------------------ */

int store_status_where(const char *path, int (*match)(void *ctx, const TrainConfig *cfg), void *ctx,
                       StoreStatus *out, long *matched) {
    TRY(store_status_of(path, out));
    if (!match) {
        if (matched) *matched = out->n_points;
        return ADV_OK;
    }
    FilePoints fp;
    int rc = ADV_OK;
    const long B = 4096;
    TrainConfig *block = xcalloc((size_t)B, sizeof *block);
    memset(&fp, 0, sizeof fp);
    fp.file = H5I_INVALID_HID;
    fp.path = xstrdup(path);
    CHECK(h5_open_sweep(&fp.file, path, H5F_ACC_RDONLY));
    int8_t *status = xcalloc((size_t)out->n_points + 1, 1);
    rc = h5_read_all(fp.file, D_STATUS, H5T_NATIVE_INT8, status, (hsize_t)out->n_points);
    long hits = 0;
    StoreStatus sub = *out;
    memset(sub.counts, 0, sizeof sub.counts);
    memset(sub.shard_counts, 0, sizeof sub.shard_counts);
    sub.in_shard = 0;
    sub.pending_flops_planned = 0; /* no ETA for a subset: its rate would mix in other points */
    for (long a = 0; rc == ADV_OK && a < out->n_points; a += B) {
        long n = out->n_points - a < B ? out->n_points - a : B;
        rc = file_points_configs(&fp, a, n, block);
        for (long k = 0; rc == ADV_OK && k < n; k++) {
            if (!match(ctx, &block[k])) continue;
            int s = status[a + k];
            hits++;
            if (s >= 0 && s < RUN_STATUSES) sub.counts[s]++, sub.shard_counts[s]++;
            sub.in_shard++;
        }
    }
    free(status);
    if (rc == ADV_OK) {
        sub.n_points = hits;
        *out = sub;
        if (matched) *matched = hits;
    }
cleanup:
    free(block);
    h5_close(&fp.file);
    free(fp.path);
    return rc;
}

int store_configs_of(const char *path, long a, long n, TrainConfig *out) {
    FilePoints fp;
    memset(&fp, 0, sizeof fp);
    fp.file = H5I_INVALID_HID;
    fp.path = xstrdup(path);
    int rc = h5_open_sweep(&fp.file, path, H5F_ACC_RDONLY);
    if (rc == ADV_OK) rc = file_points_configs(&fp, a, n, out);
    h5_close(&fp.file);
    free(fp.path);
    return rc;
}
