/* read.c — serial readers of sweep files: the status summary behind
 * `advsweep status`, and the merge of files of one grid behind `advsweep merge`.
 *
 * Opens inputs read-only without file locking, so both work on a file that a
 * running sweep holds. Never writes an input; merge writes a new file under a
 * temporary name and renames it. No MPI. Must not print except adv_warn for
 * merge's warnings.
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
    CHECK(read_shard(f, path, &shard_index, &shard_count));
    if (h5_attr_exists(f, A_RANKS)) CHECK(h5_attr_read_i64(f, A_RANKS, &ranks));
    if (h5_attr_exists(f, A_JOB_NAME)) CHECK(h5_attr_read_line(f, A_JOB_NAME, out->job_name, sizeof out->job_name));
    if (h5_attr_exists(f, A_CREATED)) CHECK(h5_attr_read_line(f, A_CREATED, out->created, sizeof out->created));
    status = xcalloc((size_t)P, 1);
    flops = xcalloc((size_t)P, sizeof(double));
    wall = xcalloc((size_t)P, sizeof(double));
    /* /status first: a point that turns done while we read counts as not done yet. */
    CHECK(h5_read_all(f, D_STATUS, H5T_NATIVE_INT8, status, (hsize_t)P));
    CHECK(read_doubles_or_nan(f, D_PLAN_FLOPS, flops, P));
    CHECK(read_doubles_or_nan(f, D_SUMMARY_WALL, wall, P));
    trained_as = xcalloc((size_t)P, sizeof(int64_t));
    if (h5_has_dataset(f, D_PLAN_TRAINED_AS))
        CHECK(h5_read_all(f, D_PLAN_TRAINED_AS, H5T_NATIVE_INT64, trained_as, (hsize_t)P));
    else
        for (long i = 0; i < P; i++) trained_as[i] = i;
    out->n_points = P;
    out->shard_index = (int)shard_index;
    out->shard_count = (int)shard_count;
    out->ranks = (long)ranks;
    for (long i = 0; i < P; i++) {
        int s = status[i];
        int mine = trained_as[i] % shard_count == shard_index; /* shards split training runs */
        if (s < 0 || s > 4) continue;
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
    return h5_in_file(rc, path);
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
    hsize_t dims[3] = {0};
    if (h5_dims(f, D_STATUS, dims) != 1) {
        rc = adv_err(ADV_ERR_INPUT, "%s: /%s is not a vector", path, D_STATUS);
        goto cleanup;
    }
    long P = (long)dims[0];
    status = xcalloc((size_t)P, 1);
    reasons = xcalloc((size_t)P, REASON_BYTES);
    /* /status first: a reason is written before its point's status */
    CHECK(h5_read_all(f, D_STATUS, H5T_NATIVE_INT8, status, (hsize_t)P));
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

/* ---- merge ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    hid_t file;
    int8_t *status;  /* (P) read before anything else of the file */
    long P;
    int64_t shard_index, shard_count;
    char hash[64];
} MergeInput;

/* Precedence of a point's status across inputs (higher wins; ties: first input). */
static int status_rank(int s) {
    switch (s) {
    case RUN_DONE: return 4;
    case RUN_DIVERGED: return 3;
    case RUN_FAILED: return 2;
    case RUN_RUNNING: return 1;
    default: return 0;
    }
}

typedef struct {
    char **names;
    long count, cap;
    hsize_t P;
} DatasetList;

static herr_t collect_dataset(hid_t loc, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    DatasetList *list = data;
    hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0) return 0;
    if (H5Iget_type(obj) == H5I_DATASET) {
        hid_t space = H5Dget_space(obj);
        hsize_t dims[8];
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        if (rank >= 1 && rank <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
        if (rank >= 1 && rank <= 8 && dims[0] == list->P) {
            if (list->count == list->cap) {
                list->cap = list->cap ? 2 * list->cap : 64;
                char **grown = xcalloc((size_t)list->cap, sizeof(char *));
                if (list->count) memcpy(grown, list->names, (size_t)list->count * sizeof(char *));
                free(list->names);
                list->names = grown;
            }
            list->names[list->count++] = xstrdup(name);
        }
        if (space >= 0) H5Sclose(space);
    }
    H5Oclose(obj);
    return 0;
}

static void dataset_list_free(DatasetList *list) {
    for (long k = 0; k < list->count; k++) free(list->names[k]);
    free(list->names);
    memset(list, 0, sizeof *list);
}

/* Datasets of `file` whose first dimension is P (paths without the leading '/'). */
static int list_point_datasets(hid_t file, hsize_t P, DatasetList *list, const char *path) {
    memset(list, 0, sizeof *list);
    list->P = P;
    if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, list) < 0)
        return h5_fail(ADV_ERR_IO, "%s: cannot list the datasets", path);
    return ADV_OK;
}

/* Select rows [a, b) of `space` where sel[i] holds, as runs of consecutive rows. */
static long select_rows(hid_t space, int rank, const hsize_t *dims, const int *choice, int j, hsize_t a, hsize_t b) {
    hsize_t start[8] = {0}, count[8];
    long n = 0;
    int first = 1;
    for (int k = 1; k < rank; k++) count[k] = dims[k];
    for (hsize_t i = a; i < b;) {
        if (choice[i] != j) {
            i++;
            continue;
        }
        hsize_t e = i;
        while (e < b && choice[e] == j) e++;
        start[0] = i;
        count[0] = e - i;
        if (H5Sselect_hyperslab(space, first ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count, NULL) < 0) return -1;
        first = 0;
        n += (long)(e - i);
        i = e;
    }
    return n;
}

/* Copy the rows with choice == j of dataset `name` from input `in` into `out`
 * (fill values when the input lacks the dataset or has another row shape). */
static int copy_rows(hid_t out, const char *name, const MergeInput *in, const int *choice, int j, int *missing,
                     const char *first) {
    int rc = ADV_OK;
    hid_t dst = H5I_INVALID_HID, src = H5I_INVALID_HID, type = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t dspace = H5I_INVALID_HID, sspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    unsigned char *buf = NULL, *fill = NULL;
    hsize_t dims[8], sdims[8], mdims[8];
    H5TRY(dst = H5Dopen2(out, name, H5P_DEFAULT), "cannot open /%s of the output", name);
    H5TRY(type = H5Dget_type(dst), "cannot read the type of /%s", name);
    H5TRY(dspace = H5Dget_space(dst), "cannot read the shape of /%s", name);
    int rank = H5Sget_simple_extent_ndims(dspace);
    H5Sget_simple_extent_dims(dspace, dims, NULL);
    int usable = h5_has_dataset(in->file, name);
    if (usable) {
        H5TRY(src = H5Dopen2(in->file, name, H5P_DEFAULT), "%s: cannot open /%s", in->path, name);
        H5TRY(sspace = H5Dget_space(src), "%s: cannot read the shape of /%s", in->path, name);
        usable = H5Sget_simple_extent_ndims(sspace) == rank;
        if (usable) H5Sget_simple_extent_dims(sspace, sdims, NULL);
        for (int k = 0; usable && k < rank; k++) usable = sdims[k] == dims[k];
    }
    *missing = !usable;
    size_t elem = H5Tget_size(type);
    size_t per_row = 1;
    for (int k = 1; k < rank && per_row <= (size_t)STORE_MAX_ROW_BYTES; k++)
        per_row = dims[k] > (hsize_t)STORE_MAX_ROW_BYTES ? (size_t)STORE_MAX_ROW_BYTES + 1 : per_row * (size_t)dims[k];
    if (elem == 0 || per_row > (size_t)STORE_MAX_ROW_BYTES / elem) {
        rc = adv_err(ADV_ERR_INPUT, "%s: the rows of /%s are larger than %ld MiB (a damaged file?)", first, name,
                     STORE_MAX_ROW_BYTES >> 20);
        goto cleanup;
    }
    size_t row_bytes = elem * per_row;
    hsize_t block = (hsize_t)((64u << 20) / (row_bytes ? row_bytes : 1));
    if (block < 1) block = 1;
    if (block > dims[0]) block = dims[0];
    buf = xcalloc((size_t)block, row_bytes);
    if (!usable) {
        fill = xcalloc(1, elem);
        H5TRY(dcpl = H5Dget_create_plist(dst), "cannot read the properties of /%s", name);
        H5TRY(H5Pget_fill_value(dcpl, type, fill), "cannot read the fill value of /%s", name);
        for (size_t k = 0; k < (size_t)block * per_row; k++) memcpy(buf + k * elem, fill, elem);
    }
    for (hsize_t a = 0; a < dims[0]; a += block) {
        hsize_t b = a + block < dims[0] ? a + block : dims[0];
        long n = select_rows(dspace, rank, dims, choice, j, a, b);
        if (n < 0) H5TRY(-1, "cannot select rows of /%s", name);
        if (n == 0) continue;
        mdims[0] = (hsize_t)n;
        for (int k = 1; k < rank; k++) mdims[k] = dims[k];
        H5TRY(mspace = H5Screate_simple(rank, mdims, NULL), "cannot make a dataspace");
        if (usable) {
            if (select_rows(sspace, rank, dims, choice, j, a, b) != n) H5TRY(-1, "cannot select rows of /%s", name);
            H5TRY(H5Dread(src, type, mspace, sspace, H5P_DEFAULT, buf), "%s: cannot read /%s", in->path, name);
        }
        H5TRY(H5Dwrite(dst, type, mspace, dspace, H5P_DEFAULT, buf), "cannot write /%s of the output", name);
        h5_close(&mspace);
    }
cleanup:
    free(fill);
    free(buf);
    h5_close(&mspace);
    h5_close(&sspace);
    h5_close(&dspace);
    h5_close(&dcpl);
    h5_close(&type);
    h5_close(&src);
    h5_close(&dst);
    return rc;
}

/* Summary fields that may differ between machines for the same result. */
static int compared_field(const SummaryField *f) {
    return f->type != FIELD_TEXT && strcmp(f->name, "wall_time") != 0 && strcmp(f->name, "flops") != 0 &&
           !summary_is_status(f);
}

static int values_differ(double a, double b) {
    if (isnan(a) && isnan(b)) return 0;
    if (a == b) return 0;
    return !(fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)));
}

/* Warn once when a point is done in several inputs with different results. */
static int warn_disagreements(MergeInput *in, int n_inputs, const int *choice, long P) {
    int rc = ADV_OK;
    long shared = 0;
    for (long i = 0; i < P; i++) {
        int done = 0;
        for (int j = 0; j < n_inputs; j++) done += in[j].status[i] == RUN_DONE;
        shared += done > 1;
    }
    if (shared == 0) return ADV_OK;
    double **vals = xcalloc((size_t)n_inputs, sizeof(double *));
    unsigned char *conflict = xcalloc((size_t)P, 1);
    long n_conflicts = 0, ex_point = -1;
    int ex_a = 0, ex_b = 0;
    const char *ex_field = "";
    for (int j = 0; j < n_inputs; j++) vals[j] = xcalloc((size_t)P, sizeof(double));
    for (int q = 0; q < N_SUMMARY_FIELDS; q++) {
        const SummaryField *f = &SUMMARY_FIELDS[q];
        if (!compared_field(f)) continue;
        char name[128];
        snprintf(name, sizeof name, "%s/%s", G_SUMMARY, f->name);
        for (int j = 0; j < n_inputs; j++) {
            if (h5_has_dataset(in[j].file, name))
                CHECK(h5_in_file(h5_read_all(in[j].file, name, H5T_NATIVE_DOUBLE, vals[j], (hsize_t)P), in[j].path));
            else
                for (long r = 0; r < P; r++) vals[j][r] = NAN;
        }
        for (long i = 0; i < P; i++) {
            int c = choice[i];
            if (in[c].status[i] != RUN_DONE || conflict[i]) continue;
            for (int j = 0; j < n_inputs; j++) {
                if (j == c || in[j].status[i] != RUN_DONE || !values_differ(vals[c][i], vals[j][i])) continue;
                conflict[i] = 1;
                if (n_conflicts++ == 0) {
                    ex_point = i;
                    ex_field = f->name;
                    ex_a = c;
                    ex_b = j;
                }
                break;
            }
        }
    }
    if (n_conflicts)
        adv_warn("%ld point(s) are done in several inputs with different results (e.g. point %ld: %s differs "
                 "between %s and %s); the first input's result is kept",
                 n_conflicts, ex_point, ex_field, in[ex_a].path, in[ex_b].path);
cleanup:
    for (int j = 0; j < n_inputs; j++) free(vals[j]);
    free(vals);
    free(conflict);
    return rc;
}

/* /status from the statuses read first; /summary/status and /runs.status made to agree. */
static int write_merged_status(hid_t out, const MergeInput *in, const int *choice, long P) {
    int rc = ADV_OK;
    int8_t *status = xcalloc((size_t)P, 1);
    int32_t *s32 = xcalloc((size_t)P, sizeof(int32_t));
    hid_t ds = H5I_INVALID_HID, part = H5I_INVALID_HID;
    char name[128];
    for (long i = 0; i < P; i++) status[i] = in[choice[i]].status[i];
    H5TRY(ds = H5Dopen2(out, D_STATUS, H5P_DEFAULT), "cannot open /%s of the output", D_STATUS);
    H5TRY(H5Dwrite(ds, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, status), "cannot write /%s", D_STATUS);
    h5_close(&ds);
    for (long i = 0; i < P; i++) s32[i] = status[i];
    snprintf(name, sizeof name, "%s/%s", G_SUMMARY, SUMMARY_STATUS);
    if (h5_is_vector(out, name, (hsize_t)P)) {
        H5TRY(ds = H5Dopen2(out, name, H5P_DEFAULT), "cannot open /%s of the output", name);
        H5TRY(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, s32), "cannot write /%s", name);
        h5_close(&ds);
    }
    if (h5_is_vector(out, D_RUNS, (hsize_t)P)) {
        /* a compound with only the status member: HDF5 writes just that member */
        H5TRY(part = H5Tcreate(H5T_COMPOUND, sizeof(int32_t)), "cannot make a type");
        H5TRY(H5Tinsert(part, RUNS_STATUS, 0, H5T_NATIVE_INT32), "cannot make a type");
        H5TRY(ds = H5Dopen2(out, D_RUNS, H5P_DEFAULT), "cannot open /%s of the output", D_RUNS);
        H5TRY(H5Dwrite(ds, part, H5S_ALL, H5S_ALL, H5P_DEFAULT, s32), "cannot write /%s", D_RUNS);
    }
cleanup:
    h5_close(&ds);
    h5_close(&part);
    free(s32);
    free(status);
    return rc;
}

int store_merge_counts(const char *out_path, const char *const *inputs, int n_inputs, long *taken) {
    h5_init();
    if (n_inputs < 1 || !inputs) return adv_err(ADV_ERR_INPUT, "merge: no input files");
    int rc = ADV_OK;
    MergeInput *in = xcalloc((size_t)n_inputs, sizeof *in);
    int *choice = NULL;
    char *tmp = NULL;
    hid_t out = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
    DatasetList list = {0}, other = {0};
    for (int j = 0; j < n_inputs; j++) in[j].file = H5I_INVALID_HID;
    for (int j = 0; j < n_inputs; j++) {
        MergeInput *m = &in[j];
        m->path = inputs[j];
        m->shard_count = 1;
        StoreStatus readable; /* what status refuses, merge refuses too: its output must read back */
        CHECK(store_status_of(m->path, &readable));
        CHECK(h5_open_sweep(&m->file, m->path, H5F_ACC_RDONLY));
        hsize_t dims[3] = {0};
        if (h5_dims(m->file, D_STATUS, dims) != 1) {
            rc = adv_err(ADV_ERR_INPUT, "%s: /%s is not a vector", m->path, D_STATUS);
            goto cleanup;
        }
        m->P = (long)dims[0];
        m->status = xcalloc((size_t)m->P, 1);
        CHECK(h5_in_file(h5_read_all(m->file, D_STATUS, H5T_NATIVE_INT8, m->status, (hsize_t)m->P), m->path));
        CHECK(h5_in_file(h5_attr_read_line(m->file, A_GRID_HASH, m->hash, sizeof m->hash), m->path));
        CHECK(read_shard(m->file, m->path, &m->shard_index, &m->shard_count));
        if (j > 0 && strcmp(m->hash, in[0].hash) != 0) {
            rc = adv_err(ADV_ERR_INPUT,
                         "%s and %s are sweeps of different grids (grid_hash %s and %s); only files of the same "
                         "job can be merged",
                         in[0].path, m->path, in[0].hash, m->hash);
            goto cleanup;
        }
        if (j > 0 && m->P != in[0].P) {
            rc = adv_err(ADV_ERR_INPUT, "%s has %ld points but %s has %ld, with the same grid_hash", m->path, m->P,
                         in[0].path, in[0].P);
            goto cleanup;
        }
    }
    long P = in[0].P;
    choice = xcalloc((size_t)P, sizeof(int));
    for (long i = 0; i < P; i++)
        for (int j = 1; j < n_inputs; j++)
            if (status_rank(in[j].status[i]) > status_rank(in[choice[i]].status[i])) choice[i] = j;
    if (taken) {
        for (int j = 0; j < n_inputs; j++) taken[j] = 0;
        for (long i = 0; i < P; i++)
            if (in[choice[i]].status[i] != RUN_PENDING) taken[choice[i]]++;
    }

    /* The first input is the template (attributes, every dataset); rows chosen
     * from the others are copied over it. Its /status is rewritten from the
     * statuses read above, so rows it received while we copied do not count. */
    tmp = store_tmp_name(out_path);
    CHECK(store_copy_file(in[0].path, tmp));
    H5TRY(fapl = h5_fapl_serial(), "cannot set up file access");
    H5TRY(out = H5Fopen(tmp, H5F_ACC_RDWR, fapl), "%s: cannot open the copy of %s", tmp, in[0].path);
    CHECK(list_point_datasets(out, (hsize_t)P, &list, tmp));
    for (int j = 1; j < n_inputs; j++) {
        int any = 0;
        for (long i = 0; i < P && !any; i++) any = choice[i] == j;
        if (!any) continue;
        long n_missing = 0;
        const char *example = NULL;
        for (long k = 0; k < list.count; k++) {
            if (!strcmp(list.names[k], D_STATUS)) continue;
            int missing = 0;
            CHECK(copy_rows(out, list.names[k], &in[j], choice, j, &missing, in[0].path));
            if (missing && !n_missing++) example = list.names[k];
        }
        if (n_missing)
            adv_warn("%s lacks %ld dataset(s) of %s (e.g. /%s, or another shape); its points have fill values there",
                     in[j].path, n_missing, in[0].path, example);
        CHECK(list_point_datasets(in[j].file, (hsize_t)P, &other, in[j].path));
        long dropped = 0;
        for (long k = 0; k < other.count; k++)
            if (!h5_has_dataset(out, other.names[k]) && !dropped++) example = other.names[k];
        if (dropped)
            adv_warn("%s has %ld dataset(s) that %s lacks (e.g. /%s); they are not in the output "
                     "(give a file that has them first)",
                     in[j].path, dropped, in[0].path, example);
        dataset_list_free(&other);
    }
    CHECK(write_merged_status(out, in, choice, P));
    int same_shard = 1;
    for (int j = 1; j < n_inputs; j++)
        same_shard &= in[j].shard_index == in[0].shard_index && in[j].shard_count == in[0].shard_count;
    if (!same_shard) {
        CHECK(h5_attr_update_i64(out, A_SHARD_INDEX, 0));
        CHECK(h5_attr_update_i64(out, A_SHARD_COUNT, 1));
    }
    CHECK(warn_disagreements(in, n_inputs, choice, P));
    H5TRY(H5Fclose(out), "%s: cannot close", tmp);
    out = H5I_INVALID_HID;
    CHECK(store_publish(tmp, out_path));
cleanup:
    dataset_list_free(&other);
    dataset_list_free(&list);
    h5_close(&out);
    h5_close(&fapl);
    if (rc != ADV_OK && tmp) unlink(tmp);
    free(tmp);
    free(choice);
    for (int j = n_inputs - 1; j >= 0; j--) {
        h5_close(&in[j].file);
        free(in[j].status);
    }
    free(in);
    int named = rc == ADV_OK || strstr(adv_errmsg(), out_path) != NULL;
    for (int j = 0; j < n_inputs && !named; j++) named = strstr(adv_errmsg(), inputs[j]) != NULL;
    return named ? rc : h5_in_file(rc, out_path); /* a message that names no input is about the output */
}

int store_merge(const char *out_path, const char *const *inputs, int n_inputs) {
    return store_merge_counts(out_path, inputs, n_inputs, NULL);
}
