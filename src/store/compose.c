/* compose.c — files built from the rows of other files: extending a sweep
 * with a job's new points, and merging sweeps of any jobs by point key.
 *
 * Both build the complete new file under a temporary name (every dataset,
 * parameters, plan and keys, as a fresh file), copy the carried rows into it
 * dataset by dataset (bit for bit, narrower rows padded with fill values),
 * rebuild /runs from what was copied, and only then rename it into place: a
 * kill at any moment leaves the old file or the complete new one. Inputs are
 * only read. Serial; no MPI. Must not print.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "internal.h"

#define BLOCK_BYTES (64L << 20) /* rows copied per read, at most */

/* A result: the rows hold a finished point (and its checksum). */
static int is_final(int s) { return s == RUN_DONE || s == RUN_FAILED || s == RUN_DIVERGED; }

/* ---- copying rows ------------------------------------------------------------------------- */

/* Per-point result datasets, in the schema (copied when both files have them). */
static int result_dataset_names(char names[][64], int cap) {
    int n = 0;
#define ADD(...) (n < cap ? snprintf(names[n++], 64, __VA_ARGS__) : 0)
    ADD("%s", D_STATUS);
    ADD("%s", D_REASON);
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) ADD("%s/%s", G_SUMMARY, SUMMARY_FIELDS[j].name);
    for (int k = 0; k < N_TRAJ; k++) ADD("%s/%s", G_TRAJ, TRAJ_NAMES[k]);
    ADD("%s", D_TRAJ_LENGTH);
    for (int k = 0; k < N_EVAL; k++) ADD("%s/%s", G_EVAL, EVAL_NAMES[k]);
    ADD("%s", D_EVAL_LENGTH);
    ADD("%s", D_TARGETS_TAU);
    ADD("%s", D_TARGETS_STEP);
    ADD("%s", D_TARGETS_OUTCOME);
    ADD("%s", D_WORKER_RANK);
    ADD("%s", D_WORKER_HOST);
    ADD("%s", D_WORKER_THREADS);
    ADD("%s", D_WORKER_BLAS_KERNEL);
    ADD("%s", D_WEIGHTS_W0);
    ADD("%s", D_WEIGHTS_W);
    ADD("%s", D_WEIGHTS_FIXED);
    ADD("%s", D_DATA_X);
    ADD("%s", D_DATA_Y);
    ADD("%s", D_CHECKSUM); /* canonical bytes: the checksum survives the padding of wider rows */
#undef ADD
    return n;
}
#define MAX_RESULT_DATASETS 96

/* A dataset opened for row I/O in a common memory type (the destination's). */
typedef struct {
    hid_t ds, space, mtype;
    int rank;
    hsize_t dims[3];
    size_t elem, row_elems; /* bytes per element, elements per row */
} Rows;

static void rows_close(Rows *r) {
    h5_close(&r->mtype);
    h5_close(&r->space);
    h5_close(&r->ds);
}

static int rows_open(Rows *r, hid_t file, const char *name, hid_t mtype_or_invalid, const char *path) {
    int rc = ADV_OK;
    memset(r, 0, sizeof *r);
    r->ds = r->space = r->mtype = H5I_INVALID_HID;
    hid_t ftype = H5I_INVALID_HID;
    H5TRY(r->ds = H5Dopen2(file, name, H5P_DEFAULT), "%s: cannot open /%s", path, name);
    H5TRY(r->space = H5Dget_space(r->ds), "%s: cannot read the shape of /%s", path, name);
    r->rank = H5Sget_simple_extent_ndims(r->space);
    if (r->rank < 1 || r->rank > 3) {
        rc = adv_err(ADV_ERR_INPUT, "%s: /%s has rank %d", path, name, r->rank);
        goto cleanup;
    }
    H5Sget_simple_extent_dims(r->space, r->dims, NULL);
    if (mtype_or_invalid >= 0) {
        H5TRY(r->mtype = H5Tcopy(mtype_or_invalid), "cannot copy a type");
    } else {
        H5TRY(ftype = H5Dget_type(r->ds), "%s: cannot read the type of /%s", path, name);
        H5TRY(r->mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND), "cannot make a native type of /%s", name);
    }
    r->elem = H5Tget_size(r->mtype);
    r->row_elems = 1;
    for (int k = 1; k < r->rank; k++) r->row_elems *= (size_t)r->dims[k];
cleanup:
    h5_close(&ftype);
    if (rc != ADV_OK) rows_close(r);
    return rc;
}

/* rows [a, a + n) of r (its own row shape) <-> buf. */
static int rows_io(Rows *r, hsize_t a, hsize_t n, void *buf, int write, const char *name) {
    int rc = ADV_OK;
    hid_t mspace = H5I_INVALID_HID;
    hsize_t start[3] = {a, 0, 0}, count[3] = {n, r->dims[1], r->dims[2]};
    H5TRY(H5Sselect_hyperslab(r->space, H5S_SELECT_SET, start, NULL, count, NULL), "cannot select rows of /%s", name);
    H5TRY(mspace = H5Screate_simple(r->rank, count, NULL), "cannot make a dataspace");
    if (write) H5TRY(H5Dwrite(r->ds, r->mtype, mspace, r->space, H5P_DEFAULT, buf), "cannot write /%s", name);
    else H5TRY(H5Dread(r->ds, r->mtype, mspace, r->space, H5P_DEFAULT, buf), "cannot read /%s", name);
cleanup:
    h5_close(&mspace);
    return rc;
}

/* Expand n rows of shape src (dims 1..) into rows of shape dst, `fill` elsewhere. */
static void pad_rows(unsigned char *out, const unsigned char *in, long n, const Rows *src, const Rows *dst,
                     const unsigned char *fill) {
    size_t e = dst->elem;
    hsize_t s1 = src->rank > 1 ? src->dims[1] : 1, s2 = src->rank > 2 ? src->dims[2] : 1;
    hsize_t d1 = dst->rank > 1 ? dst->dims[1] : 1, d2 = dst->rank > 2 ? dst->dims[2] : 1;
    for (long k = 0; k < n; k++) {
        unsigned char *o = out + (size_t)k * dst->row_elems * e;
        const unsigned char *i = in + (size_t)k * src->row_elems * e;
        for (hsize_t u = 0; u < d1; u++)
            for (hsize_t v = 0; v < d2; v++) {
                unsigned char *to = o + ((size_t)u * d2 + v) * e;
                if (u < s1 && v < s2) memcpy(to, i + ((size_t)u * s2 + v) * e, e);
                else memcpy(to, fill, e);
            }
    }
}

/* Rows of `name` of src at src_rows[0..n), in dst's memory type and row shape
 * (padded with dst's fill value), into out (n * dst row). */
static int read_rows_as(unsigned char *out, Rows *src, const Rows *dst, const unsigned char *fill, const long *src_rows,
                        long n, const char *name) {
    unsigned char *tmp = xcalloc((size_t)n * (src->row_elems ? src->row_elems : 1), dst->elem);
    int rc = ADV_OK;
    long done = 0;
    for (long k = 0; k < n && rc == ADV_OK;) {
        long e = k + 1;
        while (e < n && src_rows[e] == src_rows[e - 1] + 1) e++; /* a run of consecutive rows: one read */
        rc = rows_io(src, (hsize_t)src_rows[k], (hsize_t)(e - k), tmp + (size_t)done * src->row_elems * dst->elem, 0,
                     name);
        done += e - k;
        k = e;
    }
    if (rc == ADV_OK) pad_rows(out, tmp, n, src, dst, fill);
    free(tmp);
    return rc;
}

static int write_rows(Rows *dst, const unsigned char *buf, const long *dst_rows, long n, const char *name) {
    int rc = ADV_OK;
    for (long k = 0; k < n && rc == ADV_OK;) {
        long e = k + 1;
        while (e < n && dst_rows[e] == dst_rows[e - 1] + 1) e++;
        rc = rows_io(dst, (hsize_t)dst_rows[k], (hsize_t)(e - k), (void *)(buf + (size_t)k * dst->row_elems * dst->elem),
                     1, name);
        k = e;
    }
    return rc;
}

static int fill_of(unsigned char **fill, const Rows *dst, const char *name) {
    int rc = ADV_OK;
    hid_t dcpl = H5I_INVALID_HID;
    *fill = xcalloc(1, dst->elem);
    H5D_fill_value_t defined;
    H5TRY(dcpl = H5Dget_create_plist(dst->ds), "cannot read the properties of /%s", name);
    H5TRY(H5Pfill_value_defined(dcpl, &defined), "cannot read the fill value of /%s", name);
    if (defined != H5D_FILL_VALUE_UNDEFINED)
        H5TRY(H5Pget_fill_value(dcpl, dst->mtype, *fill), "cannot read the fill value of /%s", name);
cleanup:
    h5_close(&dcpl);
    return rc;
}

/* The source's row shape must fit in the destination's. */
static int fits(const Rows *src, const Rows *dst, const char *src_path, const char *name) {
    int ok = src->rank == dst->rank;
    for (int k = 1; ok && k < dst->rank; k++) ok = src->dims[k] <= dst->dims[k];
    if (!ok) return adv_err(ADV_ERR_INPUT, "%s: /%s has another shape than the output's (a damaged file?)", src_path, name);
    return ADV_OK;
}

int store_copy_rows(hid_t dst, hid_t src, const char *src_path, const long *src_rows, const long *dst_rows, long n) {
    if (n <= 0) return ADV_OK;
    static char names[MAX_RESULT_DATASETS][64];
    int count = result_dataset_names(names, MAX_RESULT_DATASETS);
    int rc = ADV_OK;
    Rows d = {.ds = H5I_INVALID_HID, .space = H5I_INVALID_HID, .mtype = H5I_INVALID_HID}, s = d;
    unsigned char *fill = NULL, *buf = NULL;
    for (int k = 0; k < count && rc == ADV_OK; k++) {
        const char *name = names[k];
        if (!h5_has_dataset(dst, name) || !h5_has_dataset(src, name)) continue;
        CHECK(rows_open(&d, dst, name, H5I_INVALID_HID, "the output"));
        CHECK(rows_open(&s, src, name, d.mtype, src_path));
        CHECK(fits(&s, &d, src_path, name));
        CHECK(fill_of(&fill, &d, name));
        size_t row_bytes = d.row_elems * d.elem;
        long block = (long)(BLOCK_BYTES / (long)(row_bytes ? row_bytes : 1));
        if (block < 1) block = 1;
        buf = xcalloc((size_t)(block < n ? block : n), row_bytes ? row_bytes : 1);
        for (long a = 0; a < n; a += block) {
            long m = n - a < block ? n - a : block;
            CHECK(read_rows_as(buf, &s, &d, fill, src_rows + a, m, name));
            CHECK(write_rows(&d, buf, dst_rows + a, m, name));
        }
        free(buf);
        buf = NULL;
        free(fill);
        fill = NULL;
        rows_close(&s);
        rows_close(&d);
    }
cleanup:
    free(buf);
    free(fill);
    rows_close(&s);
    rows_close(&d);
    return rc;
}

/* ---- /runs from the other datasets --------------------------------------------------------- */

int store_rebuild_runs(hid_t file, const TrainConfig *configs, long P) {
    int rc = ADV_OK;
    RunsType rt = {.type = H5I_INVALID_HID};
    Rows runs = {.ds = H5I_INVALID_HID, .space = H5I_INVALID_HID, .mtype = H5I_INVALID_HID}, col = runs;
    const long B = 4096;
    TrainSummary *sum = xcalloc((size_t)B, sizeof *sum);
    int8_t *status = xcalloc((size_t)B, 1);
    unsigned char *buf = NULL, *vals = NULL;
    CHECK(runs_type_build(&rt, 1));
    CHECK(rows_open(&runs, file, D_RUNS, rt.type, "the output"));
    buf = xcalloc((size_t)B, rt.size);
    vals = xcalloc((size_t)B, 512);
    hid_t t8 = H5T_NATIVE_INT8;
    for (long a = 0; a < P; a += B) {
        long n = P - a < B ? P - a : B;
        memset(sum, 0, (size_t)n * sizeof *sum);
        for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
            const SummaryField *f = &SUMMARY_FIELDS[j];
            char name[128];
            snprintf(name, sizeof name, "%s/%s", G_SUMMARY, f->name);
            hid_t mt = summary_type(f, 1);
            if (mt < 0) H5TRY(-1, "cannot make a type");
            rc = rows_open(&col, file, name, mt, "the output");
            H5Tclose(mt);
            CHECK(rc);
            CHECK(rows_io(&col, (hsize_t)a, (hsize_t)n, vals, 0, name));
            size_t bytes = summary_bytes(f);
            for (long k = 0; k < n; k++) {
                char *field = (char *)&sum[k] + f->offset;
                if (f->type == FIELD_TEXT) text_copy(field, f->size, (const char *)vals + (size_t)k * bytes);
                else memcpy(field, vals + (size_t)k * bytes, bytes);
            }
            rows_close(&col);
        }
        CHECK(rows_open(&col, file, D_STATUS, t8, "the output"));
        CHECK(rows_io(&col, (hsize_t)a, (hsize_t)n, status, 0, D_STATUS));
        rows_close(&col);
        memset(buf, 0, (size_t)n * rt.size);
        for (long k = 0; k < n; k++) {
            unsigned char *row = buf + (size_t)k * rt.size;
            int64_t index = a + k;
            memcpy(row + rt.off_index, &index, 8);
            for (int i = 0; i < N_PARAMS; i++) param_pack(row + rt.off_param[i], &configs[a + k], &PARAMS[i]);
            sum[k].status = status[k];
            runs_pack_summary(&rt, row, &sum[k]);
        }
        CHECK(rows_io(&runs, (hsize_t)a, (hsize_t)n, buf, 1, D_RUNS));
    }
cleanup:
    rows_close(&col);
    rows_close(&runs);
    runs_type_free(&rt);
    free(vals);
    free(buf);
    free(status);
    free(sum);
    return rc;
}

/* /status (and its mirror /summary/status) of every row. */
static int write_statuses(hid_t file, const int8_t *status, long P) {
    int rc = ADV_OK;
    hid_t ds = H5I_INVALID_HID;
    int32_t *s32 = xcalloc((size_t)P, sizeof(int32_t));
    for (long i = 0; i < P; i++) s32[i] = status[i];
    H5TRY(ds = H5Dopen2(file, D_STATUS, H5P_DEFAULT), "cannot open /%s of the output", D_STATUS);
    H5TRY(H5Dwrite(ds, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, status), "cannot write /%s", D_STATUS);
    h5_close(&ds);
    H5TRY(ds = H5Dopen2(file, G_SUMMARY "/" SUMMARY_STATUS, H5P_DEFAULT), "cannot open /summary/status");
    H5TRY(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, s32), "cannot write /summary/status");
cleanup:
    h5_close(&ds);
    free(s32);
    return rc;
}

/* Recompute /checksum of the final rows flagged in redo (P flags): rows whose
 * bytes the composition changed after copying them (summary/trained_as names
 * another row now) and rows of an input without checksums. Every other row
 * keeps the checksum its writer computed (its canonical bytes survive the
 * copy), so that damage done by the copy itself still shows. The inputs were
 * verified before anything was copied: a recomputed checksum vouches only
 * for rows that were intact. */
static int refresh_checksums(hid_t out, long P, const int8_t *status, const unsigned char *redo, const char *path) {
    int rc = ADV_OK;
    ChecksumSet *cs = NULL;
    hid_t ds = H5I_INVALID_HID;
    uint64_t *sums = xcalloc((size_t)P + 1, sizeof *sums);
    long changed = 0;
    CHECK(h5_read_all(out, D_CHECKSUM, H5T_NATIVE_UINT64, sums, (hsize_t)P));
    CHECK(checksum_open(&cs, out, P, path));
    for (long i = 0; i < P;) {
        if (!redo[i] || !is_final(status[i])) {
            i++;
            continue;
        }
        long e = i;
        while (e < P && redo[e] && is_final(status[e])) e++;
        CHECK(checksum_rows(cs, i, e - i, status + i, sums + i)); /* a run of rows: read in blocks */
        changed += e - i;
        i = e;
    }
    if (changed) {
        H5TRY(ds = H5Dopen2(out, D_CHECKSUM, H5P_DEFAULT), "cannot open /%s of the output", D_CHECKSUM);
        H5TRY(H5Dwrite(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, sums), "cannot write /%s", D_CHECKSUM);
    }
cleanup:
    h5_close(&ds);
    checksum_close(&cs);
    free(sums);
    return rc;
}

/* A whole (P) vector of a file, or `fallback` values where it is missing. */
static int read_vector(hid_t f, const char *name, hid_t mtype, void *buf, long P, size_t elem, const void *fallback) {
    if (h5_has_dataset(f, name)) return h5_read_all(f, name, mtype, buf, (hsize_t)P);
    for (long i = 0; i < P; i++) memcpy((char *)buf + (size_t)i * elem, fallback, elem);
    return ADV_OK;
}

/* A string attribute of any length (caller frees); "" when absent. */
static char *attr_text(hid_t f, const char *name) {
    if (!h5_attr_exists(f, name)) return xstrdup("");
    size_t len = 1 << 16;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a >= 0) {
        hid_t t = H5Aget_type(a);
        if (t >= 0 && H5Tis_variable_str(t) <= 0 && H5Tget_size(t) + 1 > len) len = H5Tget_size(t) + 1;
        if (t >= 0) H5Tclose(t);
        H5Aclose(a);
    }
    char *text = xcalloc(len, 1);
    if (h5_attr_read_str(f, name, text, len) != ADV_OK) text[0] = '\0';
    return text;
}

/* Do two blas_kernel attributes name the same kernel? They are
 * blas_kernel_description()s, "Haswell (OpenBLAS's choice)": the kernel is
 * the first word (who chose it does not change the results). */
static int same_kernel(const char *a, const char *b) {
    size_t la = strcspn(a, " "), lb = strcspn(b, " ");
    return la == lb && !strncmp(a, b, la);
}

/* The blas_kernel attribute of a file built from copied rows says "mixed" when
 * its finished rows name (in /worker/blas_kernel) another kernel than the
 * attribute does: an input resumed under another kernel mixes them already. */
static int settle_kernel_attr(hid_t out, long P, const int8_t *status, const char *path) {
    int rc = ADV_OK, mixed = 0;
    char *kernel = attr_text(out, A_BLAS_KERNEL), *names = NULL;
    hid_t t = H5I_INVALID_HID;
    if (!strcmp(kernel, BLAS_KERNEL_MIXED) || !h5_has_dataset(out, D_WORKER_BLAS_KERNEL)) goto cleanup;
    names = xcalloc((size_t)P + 1, KERNEL_BYTES);
    H5TRY(t = h5_str_type(KERNEL_BYTES), "cannot make a string type");
    CHECK(h5_read_all(out, D_WORKER_BLAS_KERNEL, t, names, (hsize_t)P));
    for (long i = 0; i < P && !mixed; i++) {
        char *k = names + (size_t)i * KERNEL_BYTES;
        k[KERNEL_BYTES - 1] = '\0';
        mixed = is_final(status[i]) && k[0] && !same_kernel(k, kernel); /* "": trained before it was recorded */
    }
    if (mixed) {
        H5TRY(H5Adelete(out, A_BLAS_KERNEL), "%s: cannot rewrite attribute %s", path, A_BLAS_KERNEL);
        CHECK(h5_attr_write_str(out, A_BLAS_KERNEL, BLAS_KERNEL_MIXED));
    }
cleanup:
    h5_close(&t);
    free(names);
    free(kernel);
    return rc;
}

/* ---- extend ------------------------------------------------------------------------------ */

int store_extend_file(const char *path, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1],
                      const FilePoints *old, long *map) {
    int rc = ADV_OK;
    long Pold = old->P, P = Pold;
    for (long i = 0; i < l->n_points; i++)
        if (map[i] < 0) map[i] = P++; /* new points after the old rows, in the job's order */
    TrainConfig *configs = xcalloc((size_t)P, sizeof *configs);
    char (*ukeys)[STORE_KEY_HEX + 1] = xcalloc((size_t)P, sizeof *ukeys);
    double *flops = xcalloc((size_t)P, sizeof(double));
    long *trained_as = xcalloc((size_t)P, sizeof(long));
    int64_t *old_rep = xcalloc((size_t)Pold + 1, sizeof(int64_t));
    int8_t *status = xcalloc((size_t)P, 1);
    unsigned char *in_job = xcalloc((size_t)P, 1);
    long *rows = xcalloc((size_t)Pold + 1, sizeof(long));
    char *tmp = store_tmp_name(path), *old_kernel = NULL;
    hid_t fapl = H5I_INVALID_HID, out = H5I_INVALID_HID;
    const double nan = NAN;

    CHECK(file_points_configs(old, 0, Pold, configs));
    memcpy(ukeys, old->key, (size_t)Pold * sizeof *ukeys);
    CHECK(read_vector(old->file, D_PLAN_FLOPS, H5T_NATIVE_DOUBLE, flops, Pold, sizeof(double), &nan));
    int64_t minus1 = -1;
    CHECK(read_vector(old->file, D_PLAN_TRAINED_AS, H5T_NATIVE_INT64, old_rep, Pold, sizeof(int64_t), &minus1));
    for (long r = 0; r < Pold; r++) {
        trained_as[r] = old_rep[r] >= 0 && old_rep[r] < Pold ? (long)old_rep[r] : r;
        status[r] = old->status[r];
    }
    /* the job's points: their configuration, and their training group recomputed for the union */
    for (long i = 0; i < l->n_points; i++) {
        long r = map[i];
        in_job[r] = 1;
        if (r >= Pold) {
            configs[r] = l->configs[i];
            memcpy(ukeys[r], keys[i], sizeof ukeys[r]);
            flops[r] = l->cost_flops ? l->cost_flops[i] : NAN;
            status[r] = RUN_PENDING;
        }
        memcpy(ukeys[r], keys[i], sizeof ukeys[r]); /* an old row found under its "unreadable" key takes the new one */
        long rep = l->trained_as ? l->trained_as[i] : i;
        trained_as[r] = map[rep];
    }
    /* kept points of the old file this job does not run: final ones stay, others are skipped */
    for (long r = 0; r < Pold; r++)
        if (!in_job[r] && status[r] != RUN_DONE && status[r] != RUN_FAILED && status[r] != RUN_DIVERGED)
            status[r] = RUN_SKIPPED;
    StoreLayout u = *l;
    u.n_points = P;
    old_kernel = attr_text(old->file, A_BLAS_KERNEL); /* the old rows' kernel, and the new ones' */
    if (!same_kernel(old_kernel, l->blas_kernel ? l->blas_kernel : "")) u.blas_kernel = BLAS_KERNEL_MIXED;
    u.configs = configs;
    u.cost_flops = flops;
    u.trained_as = trained_as;
#define AT_LEAST(field, have) \
    if ((long)(have) > u.field) u.field = (long)(have)
    AT_LEAST(records_max, old->K);
    AT_LEAST(evals_max, old->E);
    AT_LEAST(targets_max, old->Q);
    if (old->Nw > 0) u.store_weights = 1;
    if (u.store_weights) {
        AT_LEAST(weights_max, old->Nw);
        AT_LEAST(fixed_max, old->Nf);
        AT_LEAST(data_n_max, old->N);
        AT_LEAST(data_d_max, old->D);
    }
#undef AT_LEAST
    CHECK(store_build_file(tmp, &u, (const char(*)[STORE_KEY_HEX + 1])ukeys));
    H5TRY(fapl = h5_fapl_serial(), "cannot set up file access");
    H5TRY(out = H5Fopen(tmp, H5F_ACC_RDWR, fapl), "%s: cannot open", tmp);
    for (long r = 0; r < Pold; r++) rows[r] = r; /* old rows keep their index */
    CHECK(store_copy_rows(out, old->file, old->path, rows, rows, Pold));
    CHECK(settle_kernel_attr(out, P, status, path));
    CHECK(write_statuses(out, status, P));
    CHECK(store_rebuild_runs(out, configs, P));
    /* the rows keep their index (summary/trained_as too) and so their checksums; a file
     * written before checksums or under rule 1 gets them now under the output's rule (it
     * was verified under its own first), and so does a row that took its readable key */
    {
        int all = !h5_has_dataset(old->file, D_CHECKSUM) || checksum_rule(old->file) != CHECKSUM_VERSION;
        unsigned char *redo = xcalloc((size_t)P, 1);
        for (long r = 0; r < Pold; r++) redo[r] = all || strcmp(ukeys[r], old->key[r]) != 0;
        rc = refresh_checksums(out, P, status, redo, path);
        free(redo);
        CHECK(rc);
    }
    H5TRY(H5Fclose(out), "%s: cannot close", tmp);
    out = H5I_INVALID_HID;
    CHECK(store_publish(tmp, path));
cleanup:
    h5_close(&out);
    h5_close(&fapl);
    if (rc != ADV_OK) unlink(tmp);
    free(old_kernel);
    free(tmp);
    free(rows);
    free(in_job);
    free(status);
    free(old_rep);
    free(trained_as);
    free(flops);
    free(ukeys);
    free(configs);
    return rc;
}

/* ---- merge by key ------------------------------------------------------------------------ */

#define MERGE_DAMAGED (-1) /* an input's status of a row whose checksum does not match (merge only) */

/* Precedence of a point's status across inputs (higher wins; ties: the first input). */
static int status_rank(int s) {
    switch (s) {
    case MERGE_DAMAGED: return -1;
    case RUN_DONE: return 5;
    case RUN_DIVERGED: return 4;
    case RUN_FAILED: return 3;
    case RUN_RUNNING: return 2;
    case RUN_PENDING: return 1;
    default: return 0; /* skipped, unknown */
    }
}

/* Datasets that may differ between two runs of the same point (not results). */
static int volatile_dataset(const char *name) {
    return !strcmp(name, D_SUMMARY_WALL) || !strcmp(name, D_SUMMARY_TRAINED_AS) || !strcmp(name, D_WORKER_RANK) ||
           !strcmp(name, D_WORKER_HOST) || !strcmp(name, D_WORKER_THREADS) || !strcmp(name, D_WORKER_BLAS_KERNEL) ||
           !strcmp(name, D_CHECKSUM) || !strcmp(name, G_SUMMARY "/" SUMMARY_STATUS);
}

/* "m=64, attack=pgd, seed=2" from the axes of the input (else a few parameters). */
static void point_label(char *buf, size_t len, const char *axes, const TrainConfig *cfg) {
    char names[1024];
    snprintf(names, sizeof names, "%s", axes && *axes ? axes : "m,attack,epsilon,seed");
    size_t used = 0;
    buf[0] = '\0';
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok && used + 1 < len; tok = strtok_r(NULL, ",", &save)) {
        const ParamSpec *p = param_find(tok);
        if (!p) continue;
        char v[CONFIG_TEXT_MAX];
        param_format(v, sizeof v, cfg, p);
        if (p->type == PARAM_REAL && isfinite(param_value(cfg, p))) snprintf(v, sizeof v, "%g", param_value(cfg, p));
        int w = snprintf(buf + used, len - used, "%s%s=%s", used ? ", " : "", p->name, v);
        if (w > 0) used += (size_t)w;
    }
}

/* snprintf that may truncate (the first few of a list are named). */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Compare the results of (a, ra) and (b, rb); *differs names the first dataset that differs. */
static int same_results(hid_t out, const FilePoints *a, long ra, const FilePoints *b, long rb, const char **differs) {
    static char names[MAX_RESULT_DATASETS][64];
    int count = result_dataset_names(names, MAX_RESULT_DATASETS);
    int rc = ADV_OK;
    Rows d = {.ds = H5I_INVALID_HID, .space = H5I_INVALID_HID, .mtype = H5I_INVALID_HID}, sa = d, sb = d;
    unsigned char *fill = NULL, *x = NULL, *y = NULL;
    *differs = NULL;
    for (int k = 0; k < count && !*differs; k++) {
        const char *name = names[k];
        if (volatile_dataset(name) || !h5_has_dataset(out, name)) continue;
        int ha = h5_has_dataset(a->file, name), hb = h5_has_dataset(b->file, name);
        if (!ha || !hb) continue; /* weights in one file only: nothing to compare */
        CHECK(rows_open(&d, out, name, H5I_INVALID_HID, "the output"));
        CHECK(rows_open(&sa, a->file, name, d.mtype, a->path));
        CHECK(rows_open(&sb, b->file, name, d.mtype, b->path));
        CHECK(fits(&sa, &d, a->path, name));
        CHECK(fits(&sb, &d, b->path, name));
        CHECK(fill_of(&fill, &d, name));
        size_t bytes = d.row_elems * d.elem;
        x = xcalloc(1, bytes ? bytes : 1);
        y = xcalloc(1, bytes ? bytes : 1);
        CHECK(read_rows_as(x, &sa, &d, fill, &ra, 1, name));
        CHECK(read_rows_as(y, &sb, &d, fill, &rb, 1, name));
        if (memcmp(x, y, bytes)) *differs = name;
        free(x);
        free(y);
        free(fill);
        x = y = fill = NULL;
        rows_close(&sb);
        rows_close(&sa);
        rows_close(&d);
    }
cleanup:
    free(x);
    free(y);
    free(fill);
    rows_close(&sb);
    rows_close(&sa);
    rows_close(&d);
    return rc;
}

int store_merge_counts(const char *out_path, const char *const *inputs, int n_inputs, long *taken) {
    h5_init();
    if (n_inputs < 1 || !inputs) return adv_err(ADV_ERR_INPUT, "merge: no input files");
    int rc = ADV_OK;
    FilePoints *in = xcalloc((size_t)n_inputs, sizeof *in);
    long *base = xcalloc((size_t)n_inputs + 1, sizeof(long)); /* input j's rows are all[base[j] ..] */
    char (*all)[STORE_KEY_HEX + 1] = NULL;
    long *dst_of = NULL, *src_input = NULL, *src_row = NULL;
    KeyIndex *index = NULL;
    TrainConfig *configs = NULL;
    char (*keys)[STORE_KEY_HEX + 1] = NULL;
    double *flops = NULL, *col = NULL;
    long *trained_as = NULL, *srows = NULL, *drows = NULL;
    int64_t *rep = NULL, *sum_rep = NULL;
    int8_t *status = NULL;
    unsigned char *redo = NULL;
    char *tmp = NULL, *job_text = NULL, *axes = NULL, *blas = NULL, *kernel = NULL, *merged_from = NULL;
    hid_t fapl = H5I_INVALID_HID, out = H5I_INVALID_HID;
    StoreLock *lock = NULL;
    long *damaged_count = xcalloc((size_t)n_inputs, sizeof(long));
    for (int j = 0; j < n_inputs; j++) in[j].file = H5I_INVALID_HID;
    CHECK(store_lock_acquire(&lock, out_path, "merge -o")); /* before reading anything: a busy or bad output fails at once */

    /* 1. every input's table, of this numerics version; damaged rows (checksum) marked */
    for (int j = 0; j < n_inputs; j++) {
        CHECK(file_points_open(&in[j], inputs[j]));
        {
            unsigned char *flags = xcalloc((size_t)in[j].P + 1, 1);
            long checked = 0;
            int has = 0;
            rc = checksum_verify(in[j].file, inputs[j], in[j].P, in[j].status, flags, &damaged_count[j], &checked, &has);
            for (long r = 0; rc == ADV_OK && r < in[j].P; r++)
                if (flags[r]) in[j].status[r] = MERGE_DAMAGED;
            free(flags);
            CHECK(rc);
        }
        if (in[j].numerics != ADVSWEEP_NUMERICS_VERSION) {
            rc = adv_err(ADV_ERR_INPUT,
                         "%s holds results of numerics version %d, this advsweep merges version %d (the same "
                         "parameters gave other results then); nothing written",
                         inputs[j], in[j].numerics, ADVSWEEP_NUMERICS_VERSION);
            goto cleanup;
        }
        base[j + 1] = base[j] + in[j].P;
    }
    for (int j = 0; j < n_inputs; j++)
        for (int k = 0; k < j; k++)
            if (!strcmp(inputs[j], inputs[k])) {
                rc = adv_err(ADV_ERR_INPUT, "merge: %s is given twice", inputs[j]);
                goto cleanup;
            }
    long total = base[n_inputs];
    all = xcalloc((size_t)total + 1, sizeof *all);
    for (int j = 0; j < n_inputs; j++) memcpy(all[base[j]], in[j].key, (size_t)in[j].P * sizeof *all);
    for (int j = 0; j < n_inputs; j++) { /* one input holding a key twice is damaged */
        KeyIndex *own = NULL;
        long dup = key_index_build(&own, (const char(*)[STORE_KEY_HEX + 1])in[j].key, in[j].P);
        key_index_destroy(&own);
        if (dup >= 0) {
            rc = adv_err(ADV_ERR_INPUT, "%s: two rows hold the same point (key %s; a damaged file?)", inputs[j],
                         in[j].key[dup]);
            goto cleanup;
        }
    }

    /* 2. the union: rows in order of first appearance; each takes its best status */
    key_index_build(&index, (const char(*)[STORE_KEY_HEX + 1])all, total);
    dst_of = xcalloc((size_t)total + 1, sizeof(long));
    src_input = xcalloc((size_t)total + 1, sizeof(long));
    src_row = xcalloc((size_t)total + 1, sizeof(long));
    long P = 0;
    for (int j = 0; j < n_inputs; j++)
        for (long r = 0; r < in[j].P; r++) {
            long g = base[j] + r, first = key_index_find(index, all[g]);
            if (first == g) {
                dst_of[g] = P;
                src_input[P] = j;
                src_row[P] = r;
                P++;
                continue;
            }
            long d = dst_of[g] = dst_of[first];
            if (status_rank(in[j].status[r]) > status_rank(in[src_input[d]].status[src_row[d]])) {
                src_input[d] = j;
                src_row[d] = r;
            }
        }

    /* a damaged row is taken from another input that holds the point intact; none: refused */
    for (int j = 0; j < n_inputs; j++) {
        if (!damaged_count[j]) continue;
        long lost = 0, first = -1;
        for (long r = 0; r < in[j].P; r++) {
            if (in[j].status[r] != MERGE_DAMAGED) continue;
            long d = dst_of[base[j] + r];
            if (!is_final(in[src_input[d]].status[src_row[d]]) && !lost++) first = r;
        }
        if (lost) {
            rc = adv_err(ADV_ERR_IO,
                         "%s: %ld point%s damaged (e.g. point %ld: its rows no longer match its checksum) and no other "
                         "input holds %s intact; rerun %s there (advsweep run --retry-damaged) or leave the file out",
                         inputs[j], lost, lost == 1 ? " is" : "s are", first, lost == 1 ? "it" : "them",
                         lost == 1 ? "it" : "them");
            goto cleanup;
        }
        adv_warn("%s: %ld damaged point%s (checksum) taken from other inputs instead", inputs[j], damaged_count[j],
                 damaged_count[j] == 1 ? "" : "s");
    }

    /* 3. a point final in several inputs must hold the same results there */
    tmp = store_tmp_name(out_path);
    {
        long conflicts = 0;
        char first[900] = "";
        /* compare against a scratch build of the output's shapes: the largest rows of any input */
        configs = xcalloc((size_t)P, sizeof *configs);
        keys = xcalloc((size_t)P, sizeof *keys);
        flops = xcalloc((size_t)P, sizeof(double));
        trained_as = xcalloc((size_t)P, sizeof(long));
        status = xcalloc((size_t)P, 1);
        for (int j = 0; j < n_inputs; j++) {
            long B = 4096;
            TrainConfig *block = xcalloc((size_t)B, sizeof *block);
            for (long a = 0; a < in[j].P && rc == ADV_OK; a += B) {
                long n = in[j].P - a < B ? in[j].P - a : B;
                rc = file_points_configs(&in[j], a, n, block);
                for (long k = 0; rc == ADV_OK && k < n; k++) {
                    long d = dst_of[base[j] + a + k];
                    if (src_input[d] == j && src_row[d] == a + k) configs[d] = block[k];
                }
            }
            free(block);
            CHECK(rc);
        }
        for (long d = 0; d < P; d++) memcpy(keys[d], in[src_input[d]].key[src_row[d]], sizeof keys[d]);
        /* plan rows: the chosen input's, its trained_as mapped to output rows */
        for (int j = 0; j < n_inputs; j++) {
            double nan = NAN;
            int64_t minus1 = -1;
            col = xcalloc((size_t)in[j].P + 1, sizeof(double));
            rep = xcalloc((size_t)in[j].P + 1, sizeof(int64_t));
            CHECK(read_vector(in[j].file, D_PLAN_FLOPS, H5T_NATIVE_DOUBLE, col, in[j].P, sizeof(double), &nan));
            CHECK(read_vector(in[j].file, D_PLAN_TRAINED_AS, H5T_NATIVE_INT64, rep, in[j].P, sizeof(int64_t), &minus1));
            for (long d = 0; d < P; d++) {
                if (src_input[d] != j) continue;
                long r = src_row[d];
                flops[d] = col[r];
                trained_as[d] = rep[r] >= 0 && rep[r] < in[j].P ? dst_of[base[j] + rep[r]] : d;
                status[d] = in[j].status[r];
            }
            free(col);
            free(rep);
            col = NULL;
            rep = NULL;
        }
        /* the output's layout: attributes of the first input, rows as large as the largest input's */
        hid_t f0 = in[0].file;
        job_text = attr_text(f0, A_JOB_TEXT);
        blas = attr_text(f0, A_BLAS_VERSION);
        kernel = attr_text(f0, A_BLAS_KERNEL);
        for (int j = 1; j < n_inputs; j++) { /* points trained under several kernels: each row says which */
            char *other = attr_text(in[j].file, A_BLAS_KERNEL);
            int same = same_kernel(kernel, other);
            free(other);
            if (!same) {
                free(kernel);
                kernel = xstrdup(BLAS_KERNEL_MIXED);
                break;
            }
        }
        size_t axes_len = 2, from_len = 2;
        for (int j = 0; j < n_inputs; j++) {
            char *a = attr_text(in[j].file, A_AXES);
            axes_len += strlen(a) + 1;
            from_len += strlen(inputs[j]) + strlen(in[j].job_name) + 48;
            free(a);
        }
        axes = xcalloc(axes_len, 1);
        merged_from = xcalloc(from_len, 1);
        int same_name = 1, same_shard = 1;
        for (int j = 0; j < n_inputs; j++) { /* axes: the union, in order of first appearance */
            char *a = attr_text(in[j].file, A_AXES);
            for (char *save = NULL, *tok = strtok_r(a, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int seen = 0;
                char list[4096];
                snprintf(list, sizeof list, ",%s,", axes);
                char probe[128];
                snprintf(probe, sizeof probe, ",%s,", tok);
                seen = strstr(list, probe) != NULL;
                if (!seen) {
                    if (*axes) strcat(axes, ",");
                    strcat(axes, tok);
                }
            }
            free(a);
            same_name &= !strcmp(in[j].job_name, in[0].job_name);
            same_shard &= in[j].shard_index == in[0].shard_index && in[j].shard_count == in[0].shard_count;
            size_t used = strlen(merged_from);
            snprintf(merged_from + used, from_len - used, "%s%s (job '%s', %ld points)", j ? "; " : "", inputs[j],
                     in[j].job_name, in[j].P);
        }
        StoreLayout u = {0};
        u.n_points = P;
        u.configs = configs;
        u.cost_flops = flops;
        u.trained_as = trained_as;
        for (int j = 0; j < n_inputs; j++) {
            if ((long)in[j].K > u.records_max) u.records_max = (long)in[j].K;
            if ((long)in[j].E > u.evals_max) u.evals_max = (long)in[j].E;
            if ((long)in[j].Q > u.targets_max) u.targets_max = (long)in[j].Q;
            if (in[j].Nw > 0) u.store_weights = 1;
            if ((long)in[j].Nw > u.weights_max) u.weights_max = (long)in[j].Nw;
            if ((long)in[j].Nf > u.fixed_max) u.fixed_max = (long)in[j].Nf;
            if ((long)in[j].N > u.data_n_max) u.data_n_max = (long)in[j].N;
            if ((long)in[j].D > u.data_d_max) u.data_d_max = (long)in[j].D;
        }
        u.job_text = job_text;
        u.job_name = same_name ? in[0].job_name : "merged";
        u.axes = axes;
        u.shard_index = same_shard ? (int)in[0].shard_index : 0;
        u.shard_count = same_shard ? (int)in[0].shard_count : 1;
        int64_t v = 0;
        if (h5_attr_exists(f0, A_RANKS) && h5_attr_read_i64(f0, A_RANKS, &v) == ADV_OK) u.ranks = (int)v;
        if (h5_attr_exists(f0, A_OMP_THREADS) && h5_attr_read_i64(f0, A_OMP_THREADS, &v) == ADV_OK) u.omp_threads = (int)v;
        u.blas_version = blas;
        u.blas_kernel = kernel;
        CHECK(store_build_file(tmp, &u, (const char(*)[STORE_KEY_HEX + 1])keys));
        H5TRY(fapl = h5_fapl_serial(), "cannot set up file access");
        H5TRY(out = H5Fopen(tmp, H5F_ACC_RDWR, fapl), "%s: cannot open", tmp);
        CHECK(h5_attr_write_str(out, A_MERGED_FROM, merged_from));
        for (int j = 0; j < n_inputs; j++)
            for (long r = 0; r < in[j].P; r++) {
                long d = dst_of[base[j] + r];
                int cj = (int)src_input[d];
                long cr = src_row[d];
                if (cj == j && cr == r) continue;
                if (!is_final(in[j].status[r]) || !is_final(in[cj].status[cr])) continue;
                const char *differs = NULL;
                if (in[j].status[r] != in[cj].status[cr]) differs = D_STATUS;
                else CHECK(same_results(out, &in[cj], cr, &in[j], r, &differs));
                if (!differs) continue;
                if (conflicts++ < 3) {
                    char label[512];
                    point_label(label, sizeof label, axes, &configs[d]);
                    size_t used = strlen(first);
                    append(first + used, sizeof first - used, "%s%s (key %.12s…: /%s differs between %s and %s)",
                           used ? "; " : "", label, keys[d], differs, inputs[cj], inputs[j]);
                }
            }
        if (conflicts) {
            rc = adv_err(ADV_ERR_INPUT, "merge: %ld point%s hold%s different results in several inputs: %s%s; nothing "
                         "written",
                         conflicts, conflicts == 1 ? "" : "s", conflicts == 1 ? "s" : "", first,
                         conflicts > 3 ? "; ..." : "");
            goto cleanup;
        }
    }

    /* 4. the rows, input by input */
    srows = xcalloc((size_t)P + 1, sizeof(long));
    drows = xcalloc((size_t)P + 1, sizeof(long));
    for (int j = 0; j < n_inputs; j++) {
        long n = 0;
        for (long d = 0; d < P; d++)
            if (src_input[d] == j) srows[n] = src_row[d], drows[n] = d, n++;
        if (taken) {
            taken[j] = 0;
            for (long k = 0; k < n; k++) taken[j] += in[j].status[srows[k]] != RUN_PENDING;
        }
        CHECK(store_copy_rows(out, in[j].file, inputs[j], srows, drows, n));
    }
    /* summary/trained_as names a row of its input: the output's row now */
    sum_rep = xcalloc((size_t)P + 1, sizeof(int64_t));
    CHECK(h5_read_all(out, D_SUMMARY_TRAINED_AS, H5T_NATIVE_INT64, sum_rep, (hsize_t)P));
    redo = xcalloc((size_t)P + 1, 1);
    for (long d = 0; d < P; d++) {
        int j = (int)src_input[d];
        if (sum_rep[d] >= 0 && sum_rep[d] < in[j].P) {
            int64_t now = dst_of[base[j] + sum_rep[d]];
            redo[d] |= now != sum_rep[d]; /* covered by the checksum: it changes with the row */
            sum_rep[d] = now;
        }
        /* no checksums, or rule 1 (verified under it above): the output's rule now */
        redo[d] |= !h5_has_dataset(in[j].file, D_CHECKSUM) || checksum_rule(in[j].file) != CHECKSUM_VERSION;
    }
    {
        hid_t ds = H5Dopen2(out, D_SUMMARY_TRAINED_AS, H5P_DEFAULT);
        herr_t w = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, sum_rep);
        if (ds >= 0) H5Dclose(ds);
        H5TRY(w, "cannot write /%s of the output", D_SUMMARY_TRAINED_AS);
    }
    CHECK(settle_kernel_attr(out, P, status, out_path));
    CHECK(write_statuses(out, status, P));
    CHECK(store_rebuild_runs(out, configs, P));
    CHECK(refresh_checksums(out, P, status, redo, out_path)); /* last: rule 2 covers /runs and the status */
    H5TRY(H5Fclose(out), "%s: cannot close", tmp);
    out = H5I_INVALID_HID;
    CHECK(store_publish(tmp, out_path));
cleanup:
    h5_close(&out);
    h5_close(&fapl);
    if (rc != ADV_OK && tmp) unlink(tmp);
    free(tmp);
    free(merged_from);
    free(kernel);
    free(blas);
    free(axes);
    free(job_text);
    free(redo);
    free(sum_rep);
    free(drows);
    free(srows);
    free(status);
    free(rep);
    free(col);
    free(trained_as);
    free(flops);
    free(keys);
    free(configs);
    key_index_destroy(&index);
    free(src_row);
    free(src_input);
    free(dst_of);
    free(all);
    for (int j = n_inputs - 1; j >= 0; j--) file_points_close(&in[j]);
    free(base);
    free(in);
    free(damaged_count);
    store_lock_release(&lock);
    int named = rc == ADV_OK || strstr(adv_errmsg(), out_path) != NULL;
    for (int j = 0; j < n_inputs && !named; j++) named = strstr(adv_errmsg(), inputs[j]) != NULL;
    return named ? rc : h5_in_file(rc, out_path); /* a message that names no input is about the output */
}

int store_merge(const char *out_path, const char *const *inputs, int n_inputs) {
    return store_merge_counts(out_path, inputs, n_inputs, NULL);
}
