/* test_store.c — the sweep file (docs/layout.md) as written by src/store.
 *
 *   test_store --serial   never calls MPI_Init: STORE_SERIAL files, the layout,
 *                         a killed writer, resume/refusals, reset, status, merge,
 *                         user data files, h5dump
 *   mpiexec -n N test_store   MPI_Init; every rank writes its own points
 *                         independently into one file, read back bit-exact;
 *                         resume, reset of failed points and refusals collectively
 *
 * The file is checked with HDF5 directly (not through the store), by the names
 * and shapes of docs/layout.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>
#include <mpi.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/config.h"
#include "advsweep/store.h"
#include "advsweep/train.h"

/* ---- fixtures ----------------------------------------------------------------- */

enum { P = 7, K = 5, E = 3, NW = 6, NF = 4, DN = 3, DD = 2 };

static int g_mpi = 0, g_rank = 0, g_size = 1;
static char g_dir[256];

typedef struct {
    StoreLayout layout;
    TrainConfig configs[P];
    double flops[P];
} Fixture;

/* `grid` makes the points: layouts of equal grid hold the same points (keys), others other points. */
static void make_layout(Fixture *fx, uint64_t grid, int shard_index, int shard_count, int weights) {
    memset(fx, 0, sizeof *fx);
    for (long i = 0; i < P; i++) {
        TrainConfig *c = &fx->configs[i];
        config_defaults(c);
        c->m = 16 + 2 * i;
        c->seed = 100 * (int64_t)grid + i;
        c->attack = (int)(i % 4);
        c->epsilon = 0.1 / (double)(i + 1);
        snprintf(c->data_file, sizeof c->data_file, "file-%ld.h5", i);
        fx->flops[i] = 1e9 * (double)(i + 1);
    }
    StoreLayout *l = &fx->layout;
    l->n_points = P;
    l->configs = fx->configs;
    l->cost_flops = fx->flops;
    l->records_max = K;
    l->evals_max = E;
    l->job_text = "name: test\ngrid: {m: [16, 18]}\n";
    l->job_name = "test";
    l->axes = "m,attack,seed";
    l->shard_index = shard_index;
    l->shard_count = shard_count;
    l->store_weights = weights;
    l->weights_max = NW;
    l->fixed_max = NF;
    l->data_n_max = DN;
    l->data_d_max = DD;
    l->ranks = g_size;
    l->omp_threads = 1;
    l->blas_version = "TestBLAS 1.0";
}

/* Every summary field of point i a distinct value (reals not exact in decimal). */
static void make_summary(TrainSummary *s, long i, int status, double salt) {
    memset(s, 0, sizeof *s);
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        const SummaryField *f = &SUMMARY_FIELDS[j];
        char *p = (char *)s + f->offset;
        if (f->type == FIELD_I32) {
            int32_t v = (int32_t)(100 * i + j);
            memcpy(p, &v, 4);
        } else if (f->type == FIELD_I64) {
            int64_t v = 1000 * i + j;
            memcpy(p, &v, 8);
        } else if (f->type == FIELD_F64) {
            double v = salt + 0.1 * (double)i + 1.0 / (double)(j + 3);
            memcpy(p, &v, 8);
        } else {
            snprintf(p, f->size, "reason of point %ld", i);
        }
    }
    s->status = status;
}

static Trajectory *make_traj(long i) {
    Trajectory *t = trajectory_create(K, E);
    t->count = K - (i % 2);
    for (long k = 0; k < t->count; k++) {
        t->step[k] = 3 * k + i;
        t->surrogate[k] = sin((double)(i + k));
        t->clean_loss[k] = cos((double)(i + k));
        t->clean_acc[k] = 1.0 / (double)(k + 3);
        t->dist[k] = sqrt((double)(i + k + 2));
    }
    t->eval_count = E - 1;
    for (long k = 0; k < t->eval_count; k++) {
        t->eval_step[k] = 7 * k;
        t->robust_loss[k] = exp(-(double)(i + k));
        t->robust_acc[k] = 1.0 / 3.0 + (double)k;
    }
    return t;
}

static void make_worker(StoreWorker *w, long i) {
    w->rank = (int)(i % 3);
    w->threads = 2;
    snprintf(w->host, sizeof w->host, "host-%ld", i);
    snprintf(w->blas_kernel, sizeof w->blas_kernel, "%s", i % 2 ? "Prescott" : "Haswell");
}

/* Weights and data of point i (static storage). */
static const StorePointData *make_extra(long i) {
    static double W0[NW], W[NW], fixed[NF], X[DN * DD], y[DN];
    static StorePointData x;
    for (int k = 0; k < NW; k++) W0[k] = 0.5 * (double)k + (double)i, W[k] = -W0[k] / 3.0;
    for (int k = 0; k < NF; k++) fixed[k] = 1.0 / (double)(k + i + 1);
    for (int k = 0; k < DN * DD; k++) X[k] = 0.1 * (double)k - (double)i;
    for (int k = 0; k < DN; k++) y[k] = k % 2 ? 1.0 : -1.0;
    x = (StorePointData){W0, W, fixed, NW - 1, NF - 1, X, y, DN - 1, DD};
    return &x;
}

static int status_of_point(long i) { return i % 5 == 1 ? RUN_FAILED : i % 5 == 2 ? RUN_DIVERGED : RUN_DONE; }

static void write_point(Store *st, long i, double salt, int weights) {
    TrainSummary sum;
    make_summary(&sum, i, status_of_point(i), salt);
    Trajectory *t = make_traj(i);
    StoreWorker w;
    make_worker(&w, i);
    assert_int_equal(store_mark_running(st, i), ADV_OK);
    assert_int_equal(store_status(st)[i], RUN_RUNNING);
    int rc = store_write_point(st, i, &sum, t, &w, weights ? make_extra(i) : NULL);
    if (rc != ADV_OK) print_error("store_write_point: %s\n", adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    assert_int_equal(store_status(st)[i], status_of_point(i));
    trajectory_destroy(&t);
}

static void path_in_dir(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", g_dir, name); }

static int64_t comm_world(void) { return g_mpi ? (int64_t)MPI_Comm_c2f(MPI_COMM_WORLD) : STORE_SERIAL; }

static Store *open_ok(const char *path, const StoreLayout *l, int64_t comm, int mode) {
    Store *st = NULL;
    int rc = store_open(&st, path, l, comm, mode);
    if (rc != ADV_OK) print_error("store_open(%s): %s\n", path, adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    assert_non_null(st);
    return st;
}

static void close_ok(Store **st) {
    int rc = store_close(st);
    if (rc != ADV_OK) print_error("store_close: %s\n", adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    assert_null(*st);
}

/* ---- raw HDF5 readers -------------------------------------------------------------- */

static hid_t open_ro(const char *path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    assert_true(f >= 0);
    return f;
}

/* Shape of dataset `name`: returns the rank. */
static int dims_of(hid_t f, const char *name, hsize_t dims[3]) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) print_error("no dataset /%s\n", name);
    assert_true(ds >= 0);
    hid_t sp = H5Dget_space(ds);
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    return rank;
}

static void read_all(hid_t f, const char *name, hid_t memtype, void *buf) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) print_error("no dataset /%s\n", name);
    assert_true(ds >= 0);
    assert_true(H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(ds);
}

/* Row i of dataset `name` (all trailing dimensions). */
static void read_row(hid_t f, const char *name, long i, hid_t memtype, void *buf) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) print_error("no dataset /%s\n", name);
    assert_true(ds >= 0);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[3], start[3] = {(hsize_t)i, 0, 0};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    dims[0] = 1;
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, dims, NULL);
    hid_t ms = H5Screate_simple(rank, dims, NULL);
    assert_true(H5Dread(ds, memtype, ms, sp, H5P_DEFAULT, buf) >= 0);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(ds);
}

static hid_t str_type(size_t n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, n);
    return t;
}

static int64_t attr_i64(hid_t f, const char *name) {
    int64_t v = -999;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) print_error("no attribute %s\n", name);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    return v;
}

/* A fixed-length string attribute (caller frees). */
static char *attr_str(hid_t f, const char *name) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) print_error("no attribute %s\n", name);
    assert_true(a >= 0);
    hid_t ft = H5Aget_type(a);
    assert_int_equal(H5Tget_class(ft), H5T_STRING);
    assert_true(H5Tis_variable_str(ft) == 0);
    size_t n = H5Tget_size(ft);
    char *buf = calloc(n + 1, 1);
    hid_t mt = str_type(n + 1);
    assert_true(H5Aread(a, mt, buf) >= 0);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Aclose(a);
    return buf;
}

static void assert_attr_str(hid_t f, const char *name, const char *want) {
    char *got = attr_str(f, name);
    if (strcmp(got, want) != 0) print_error("attribute %s = '%s', want '%s'\n", name, got, want);
    assert_string_equal(got, want);
    free(got);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* A byte copy of `from` at `to`, without dataset `drop` (NULL: none): a file as an older
 * advsweep wrote it. */
static void copy_without(const char *from, const char *to, const char *drop) {
    size_t len = 0;
    unsigned char *bytes = slurp(from, &len);
    FILE *fo = fopen(to, "wb");
    assert_non_null(fo);
    assert_int_equal(fwrite(bytes, 1, len, fo), len);
    fclose(fo);
    free(bytes);
    if (!drop) return;
    hid_t f = H5Fopen(to, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0 && H5Ldelete(f, drop, H5P_DEFAULT) >= 0);
    H5Fclose(f);
}

static int same_bytes(const unsigned char *a, size_t na, const char *path) {
    size_t nb;
    unsigned char *b = slurp(path, &nb);
    int same = na == nb && memcmp(a, b, na) == 0;
    free(b);
    return same;
}

static void write_text_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* No PATH.tmp.* left next to `path`. */
static void assert_no_tmp_files(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", g_dir);
    assert_int_not_equal(system(cmd), 0);
}

/* ---- what a written point must look like ------------------------------------------ */

/* A few members of a /runs row, read by name. */
typedef struct {
    int64_t index;
    int32_t status;
    int64_t m;
    double lr_used, min_surrogate;
    char attack[16];
    char reason[96];
} RunsRow;

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Row `at` holds what write_point(i) wrote (bit for bit). */
static void check_point_at(hid_t f, long at, long i, double salt, int weights) {
    TrainSummary want;
    make_summary(&want, i, status_of_point(i), salt);
    int8_t s8 = -1;
    read_row(f, "status", at, H5T_NATIVE_INT8, &s8);
    assert_int_equal(s8, status_of_point(i));
    char reason[STATUS_REASON_MAX + 1] = {0};
    hid_t rt = str_type(STATUS_REASON_MAX);
    read_row(f, "reason", at, rt, reason);
    H5Tclose(rt);
    assert_string_equal(reason, want.reason);
    /* every summary field, bit-exact */
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        const SummaryField *fl = &SUMMARY_FIELDS[j];
        char name[96];
        snprintf(name, sizeof name, "summary/%s", fl->name);
        const char *wp = (const char *)&want + fl->offset;
        if (fl->type == FIELD_I32) {
            int32_t v;
            read_row(f, name, at, H5T_NATIVE_INT32, &v);
            assert_memory_equal(&v, wp, 4);
        } else if (fl->type == FIELD_I64) {
            int64_t v;
            read_row(f, name, at, H5T_NATIVE_INT64, &v);
            assert_memory_equal(&v, wp, 8);
        } else if (fl->type == FIELD_F64) {
            double v;
            read_row(f, name, at, H5T_NATIVE_DOUBLE, &v);
            assert_memory_equal(&v, wp, 8);
        } else {
            char v[512] = {0};
            hid_t t = str_type(fl->size);
            read_row(f, name, at, t, v);
            H5Tclose(t);
            assert_string_equal(v, wp);
        }
    }
    /* trajectories: values, then padding */
    Trajectory *t = make_traj(i);
    int64_t steps[K];
    double vals[K];
    read_row(f, "traj/step", at, H5T_NATIVE_INT64, steps);
    for (long k = 0; k < K; k++) assert_int_equal(steps[k], k < t->count ? t->step[k] : -1);
    const double *cols[4] = {t->surrogate, t->clean_loss, t->clean_acc, t->dist};
    const char *names[4] = {"traj/surrogate_loss", "traj/clean_loss", "traj/clean_acc", "traj/dist"};
    for (int c = 0; c < 4; c++) {
        read_row(f, names[c], at, H5T_NATIVE_DOUBLE, vals);
        for (long k = 0; k < K; k++) assert_true(k < t->count ? same_double(vals[k], cols[c][k]) : isnan(vals[k]));
    }
    int32_t len = -1;
    read_row(f, "traj/length", at, H5T_NATIVE_INT32, &len);
    assert_int_equal(len, t->count);
    int64_t esteps[E];
    read_row(f, "eval/step", at, H5T_NATIVE_INT64, esteps);
    for (long k = 0; k < E; k++) assert_int_equal(esteps[k], k < t->eval_count ? t->eval_step[k] : -1);
    read_row(f, "eval/robust_loss", at, H5T_NATIVE_DOUBLE, vals);
    for (long k = 0; k < E; k++) assert_true(k < t->eval_count ? same_double(vals[k], t->robust_loss[k]) : isnan(vals[k]));
    read_row(f, "eval/robust_acc", at, H5T_NATIVE_DOUBLE, vals);
    for (long k = 0; k < E; k++) assert_true(k < t->eval_count ? same_double(vals[k], t->robust_acc[k]) : isnan(vals[k]));
    read_row(f, "eval/length", at, H5T_NATIVE_INT32, &len);
    assert_int_equal(len, t->eval_count);
    trajectory_destroy(&t);
    /* worker */
    StoreWorker w;
    make_worker(&w, i);
    int32_t wr = -5, wt = -5;
    char host[65] = {0};
    read_row(f, "worker/rank", at, H5T_NATIVE_INT32, &wr);
    read_row(f, "worker/threads", at, H5T_NATIVE_INT32, &wt);
    hid_t ht = str_type(64);
    read_row(f, "worker/host", at, ht, host);
    H5Tclose(ht);
    assert_int_equal(wr, w.rank);
    assert_int_equal(wt, w.threads);
    assert_string_equal(host, w.host);
    char kernel[STORE_KERNEL_BYTES + 1] = {0};
    hid_t kt = str_type(STORE_KERNEL_BYTES);
    read_row(f, "worker/blas_kernel", at, kt, kernel);
    H5Tclose(kt);
    assert_string_equal(kernel, w.blas_kernel);
    /* the runs row, read through a compound of a few members by name */
    RunsRow row;
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof row);
    hid_t s16 = str_type(16), s96 = str_type(96);
    H5Tinsert(ct, "index", offsetof(RunsRow, index), H5T_NATIVE_INT64);
    H5Tinsert(ct, "status", offsetof(RunsRow, status), H5T_NATIVE_INT32);
    H5Tinsert(ct, "m", offsetof(RunsRow, m), H5T_NATIVE_INT64);
    H5Tinsert(ct, "summary_lr", offsetof(RunsRow, lr_used), H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "min_surrogate", offsetof(RunsRow, min_surrogate), H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "attack", offsetof(RunsRow, attack), s16);
    H5Tinsert(ct, "reason", offsetof(RunsRow, reason), s96);
    read_row(f, "runs", at, ct, &row);
    H5Tclose(s96);
    H5Tclose(s16);
    H5Tclose(ct);
    assert_int_equal(row.index, at);
    assert_int_equal(row.status, status_of_point(i));
    assert_int_equal(row.m, 16 + 2 * i);
    assert_true(same_double(row.lr_used, want.lr));
    assert_true(same_double(row.min_surrogate, want.min_surrogate));
    assert_string_equal(row.attack, choice_name("attack", (int)(i % 4)));
    assert_string_equal(row.reason, want.reason);
    if (weights) {
        const StorePointData *x = make_extra(i);
        double wrow[NW], frow[NF], X[DN * DD], y[DN];
        read_row(f, "weights/W0", at, H5T_NATIVE_DOUBLE, wrow);
        for (int k = 0; k < NW; k++) assert_true(k < x->n_trained ? same_double(wrow[k], x->W0[k]) : isnan(wrow[k]));
        read_row(f, "weights/W", at, H5T_NATIVE_DOUBLE, wrow);
        for (int k = 0; k < NW; k++) assert_true(k < x->n_trained ? same_double(wrow[k], x->W[k]) : isnan(wrow[k]));
        read_row(f, "weights/fixed", at, H5T_NATIVE_DOUBLE, frow);
        for (int k = 0; k < NF; k++) assert_true(k < x->n_fixed ? same_double(frow[k], x->fixed[k]) : isnan(frow[k]));
        read_row(f, "data/X", at, H5T_NATIVE_DOUBLE, X);
        for (int r = 0; r < DN; r++)
            for (int c = 0; c < DD; c++)
                assert_true(r < x->n && c < x->d ? same_double(X[r * DD + c], x->X[r * x->d + c]) : isnan(X[r * DD + c]));
        read_row(f, "data/y", at, H5T_NATIVE_DOUBLE, y);
        for (int r = 0; r < DN; r++) assert_true(r < x->n ? same_double(y[r], x->y[r]) : isnan(y[r]));
    }
}

static void check_point(hid_t f, long i, double salt, int weights) { check_point_at(f, i, i, salt, weights); }

/* Point i untouched since creation: pending and every fill value. */
static void check_pending(hid_t f, long i) {
    int8_t s8 = -1;
    read_row(f, "status", i, H5T_NATIVE_INT8, &s8);
    assert_int_equal(s8, RUN_PENDING);
    hsize_t dims[3];
    dims_of(f, "traj/step", dims); /* K, or more in an extended file */
    int64_t *steps = calloc(dims[1], sizeof *steps);
    read_row(f, "traj/step", i, H5T_NATIVE_INT64, steps);
    for (hsize_t k = 0; k < dims[1]; k++) assert_int_equal(steps[k], -1);
    free(steps);
    double v;
    read_row(f, "summary/min_surrogate", i, H5T_NATIVE_DOUBLE, &v);
    assert_true(isnan(v));
    int64_t e;
    read_row(f, "summary/eps_step", i, H5T_NATIVE_INT64, &e);
    assert_int_equal(e, -1);
}

/* ==== serial part (no MPI_Init) ====================================================== */

static void test_layout_of_new_file(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 0x0123456789abcdefULL, 0, 1, 1);
    char path[512];
    path_in_dir(path, sizeof path, "layout.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    assert_int_equal(store_points(st), P);
    for (long i = 0; i < P; i++) assert_int_equal(store_status(st)[i], RUN_PENDING);
    close_ok(&st);
    assert_no_tmp_files();

    hid_t f = open_ro(path);
    assert_int_equal(attr_i64(f, "layout_version"), 1);
    assert_attr_str(f, "tool", "advsweep");
    assert_attr_str(f, "tool_version", ADVSWEEP_VERSION);
    assert_attr_str(f, "job_text", fx.layout.job_text);
    assert_attr_str(f, "job_name", "test");
    /* the points' keys, and grid_hash = the first 16 hex digits of the hash of the keys in row order */
    char keys[P][STORE_KEY_HEX + 1], stored[P][STORE_KEY_HEX + 1];
    assert_int_equal(store_keys_of(keys, fx.configs, P), ADV_OK);
    hid_t kt = str_type(STORE_KEY_HEX + 1);
    read_all(f, "plan/key", kt, stored);
    H5Tclose(kt);
    AdvHash128 h = {0, 0};
    for (long i = 0; i < P; i++) {
        assert_string_equal(stored[i], keys[i]);
        assert_true(point_key_valid(keys[i]));
        for (long j = 0; j < i; j++) assert_string_not_equal(keys[i], keys[j]);
        adv_hash128_update(&h, keys[i], STORE_KEY_HEX);
    }
    char fp[STORE_KEY_HEX + 1];
    adv_hash128_hex(&h, fp);
    fp[16] = '\0';
    assert_attr_str(f, "grid_hash", fp);
    assert_int_equal(attr_i64(f, "numerics_version"), ADVSWEEP_NUMERICS_VERSION);
    assert_attr_str(f, "axes", "m,attack,seed");
    assert_attr_str(f, "blas_version", "TestBLAS 1.0");
    assert_attr_str(f, "mpi_version", ""); /* MPI never initialised in this process */
    char *created = attr_str(f, "created");
    assert_int_equal(strlen(created), 20);
    assert_true(created[4] == '-' && created[10] == 'T' && created[19] == 'Z');
    free(created);
    char *h5ver = attr_str(f, "hdf5_version");
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char want[32];
    snprintf(want, sizeof want, "%u.%u.%u", maj, min, rel);
    assert_string_equal(h5ver, want);
    free(h5ver);
    assert_int_equal(attr_i64(f, "n_points"), P);
    assert_int_equal(attr_i64(f, "records_max"), K);
    assert_int_equal(attr_i64(f, "evals_max"), E);
    assert_int_equal(attr_i64(f, "shard_index"), 0);
    assert_int_equal(attr_i64(f, "shard_count"), 1);
    assert_int_equal(attr_i64(f, "omp_threads"), 1);
    assert_int_equal(attr_i64(f, "ranks"), 1);

    /* shapes, types and storage of every dataset */
    static const struct {
        const char *name;
        int rank;
        hsize_t d1, d2;
        H5T_class_t cls;
        size_t size;
    } want_ds[] = {
        {"status", 1, 0, 0, H5T_INTEGER, 1},          {"reason", 1, 0, 0, H5T_STRING, 96},
        {"traj/step", 2, K, 0, H5T_INTEGER, 8},       {"traj/surrogate_loss", 2, K, 0, H5T_FLOAT, 8},
        {"traj/clean_loss", 2, K, 0, H5T_FLOAT, 8},   {"traj/clean_acc", 2, K, 0, H5T_FLOAT, 8},
        {"traj/dist", 2, K, 0, H5T_FLOAT, 8},         {"traj/length", 1, 0, 0, H5T_INTEGER, 4},
        {"eval/step", 2, E, 0, H5T_INTEGER, 8},       {"eval/robust_loss", 2, E, 0, H5T_FLOAT, 8},
        {"eval/robust_acc", 2, E, 0, H5T_FLOAT, 8},   {"eval/length", 1, 0, 0, H5T_INTEGER, 4},
        {"worker/rank", 1, 0, 0, H5T_INTEGER, 4},     {"worker/host", 1, 0, 0, H5T_STRING, 64},
        {"worker/threads", 1, 0, 0, H5T_INTEGER, 4},  {"worker/blas_kernel", 1, 0, 0, H5T_STRING, STORE_KERNEL_BYTES},
        {"plan/flops", 1, 0, 0, H5T_FLOAT, 8},
        {"plan/key", 1, 0, 0, H5T_STRING, STORE_KEY_HEX + 1}, {"plan/trained_as", 1, 0, 0, H5T_INTEGER, 8},
        {"runs", 1, 0, 0, H5T_COMPOUND, 0},           {"weights/W0", 2, NW, 0, H5T_FLOAT, 8},
        {"weights/W", 2, NW, 0, H5T_FLOAT, 8},        {"weights/fixed", 2, NF, 0, H5T_FLOAT, 8},
        {"data/X", 3, DN, DD, H5T_FLOAT, 8},          {"data/y", 2, DN, 0, H5T_FLOAT, 8},
    };
    for (size_t k = 0; k < sizeof want_ds / sizeof want_ds[0]; k++) {
        hsize_t dims[3];
        int rank = dims_of(f, want_ds[k].name, dims);
        if (rank != want_ds[k].rank) print_error("/%s: rank %d\n", want_ds[k].name, rank);
        assert_int_equal(rank, want_ds[k].rank);
        assert_int_equal(dims[0], P);
        if (rank > 1) assert_int_equal(dims[1], want_ds[k].d1);
        if (rank > 2) assert_int_equal(dims[2], want_ds[k].d2);
        hid_t ds = H5Dopen2(f, want_ds[k].name, H5P_DEFAULT);
        hid_t t = H5Dget_type(ds);
        assert_int_equal(H5Tget_class(t), want_ds[k].cls);
        if (want_ds[k].size) assert_int_equal(H5Tget_size(t), want_ds[k].size);
        hid_t dcpl = H5Dget_create_plist(ds);
        H5D_alloc_time_t at;
        H5Pget_alloc_time(dcpl, &at);
        assert_int_equal(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
        assert_int_equal(at, H5D_ALLOC_TIME_EARLY);
        assert_int_equal(H5Pget_nfilters(dcpl), 0);
        H5Pclose(dcpl);
        H5Tclose(t);
        H5Dclose(ds);
    }
    /* /params: one dataset per parameter, by type */
    for (int k = 0; k < N_PARAMS; k++) {
        char name[96];
        snprintf(name, sizeof name, "params/%s", PARAMS[k].name);
        hsize_t dims[3];
        assert_int_equal(dims_of(f, name, dims), 1);
        assert_int_equal(dims[0], P);
        hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
        hid_t t = H5Dget_type(ds);
        H5T_class_t cls = H5Tget_class(t);
        switch (PARAMS[k].type) {
        case PARAM_INT: assert_true(cls == H5T_INTEGER && H5Tget_size(t) == 8); break;
        case PARAM_REAL: assert_true(cls == H5T_FLOAT && H5Tget_size(t) == 8); break;
        case PARAM_CHOICE: assert_true(cls == H5T_STRING && H5Tget_size(t) == 16); break;
        case PARAM_TEXT: assert_true(cls == H5T_STRING && H5Tget_size(t) == 256); break;
        }
        H5Tclose(t);
        H5Dclose(ds);
    }
    int64_t m[P];
    read_all(f, "params/m", H5T_NATIVE_INT64, m);
    double eps[P], flops[P];
    read_all(f, "params/epsilon", H5T_NATIVE_DOUBLE, eps);
    read_all(f, "plan/flops", H5T_NATIVE_DOUBLE, flops);
    char attack[P][17], data_file[P][257];
    hid_t s16 = str_type(17), s256 = str_type(257);
    read_all(f, "params/attack", s16, attack);
    read_all(f, "params/data_file", s256, data_file);
    H5Tclose(s16);
    H5Tclose(s256);
    double R[P];
    read_all(f, "params/R", H5T_NATIVE_DOUBLE, R);
    for (long i = 0; i < P; i++) {
        assert_int_equal(m[i], 16 + 2 * i);
        assert_true(same_double(eps[i], 0.1 / (double)(i + 1)));
        assert_true(same_double(flops[i], 1e9 * (double)(i + 1)));
        assert_string_equal(attack[i], choice_name("attack", (int)(i % 4)));
        char want_file[64];
        snprintf(want_file, sizeof want_file, "file-%ld.h5", i);
        assert_string_equal(data_file[i], want_file);
        assert_true(isinf(R[i])); /* default R = inf stored as inf */
    }
    /* /summary: one per field; fill values */
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        char name[96];
        snprintf(name, sizeof name, "summary/%s", SUMMARY_FIELDS[j].name);
        hsize_t dims[3];
        assert_int_equal(dims_of(f, name, dims), 1);
        assert_int_equal(dims[0], P);
    }
    int32_t sstat[P];
    read_all(f, "summary/status", H5T_NATIVE_INT32, sstat);
    for (long i = 0; i < P; i++) {
        assert_int_equal(sstat[i], 0);
        check_pending(f, i);
    }
    double W0[P][NW];
    read_all(f, "weights/W0", H5T_NATIVE_DOUBLE, W0);
    for (long i = 0; i < P; i++)
        for (int k = 0; k < NW; k++) assert_true(isnan(W0[i][k]));
    /* /runs: index, status, every parameter, every summary field but status */
    hid_t ds = H5Dopen2(f, "runs", H5P_DEFAULT);
    hid_t t = H5Dget_type(ds);
    assert_int_equal(H5Tget_nmembers(t), 2 + N_PARAMS + N_SUMMARY_FIELDS - 1);
    assert_true(H5Tget_member_index(t, "index") >= 0);
    assert_true(H5Tget_member_index(t, "status") >= 0);
    assert_true(H5Tget_member_index(t, "lr") >= 0);
    assert_true(H5Tget_member_index(t, "summary_lr") >= 0);
    assert_true(H5Tget_member_index(t, "wall_time") >= 0);
    H5Tclose(t);
    H5Dclose(ds);
    H5Fclose(f);

    /* h5dump reads it */
    char cmd[640];
    snprintf(cmd, sizeof cmd, "h5dump -H %s > /dev/null 2>&1", path);
    assert_int_equal(system(cmd), 0);
}

static void test_write_points_serial(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 42, 0, 1, 1);
    char path[512];
    path_in_dir(path, sizeof path, "serial.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < P; i += 2) write_point(st, i, 0.0, 1);
    close_ok(&st);
    hid_t f = open_ro(path);
    for (long i = 0; i < P; i++) {
        if (i % 2 == 0) check_point(f, i, 0.0, 1);
        else check_pending(f, i);
    }
    H5Fclose(f);
}

/* A write that fails half-way leaves the point's status as it was. */
static void test_status_written_last(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 43, 0, 1, 0);
    char path[512];
    path_in_dir(path, sizeof path, "last.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    assert_int_equal(store_mark_running(st, 3), ADV_OK);
    TrainSummary sum;
    make_summary(&sum, 3, RUN_DONE, 0.0);
    Trajectory *t = trajectory_create(K + 2, E);
    t->count = K + 2; /* more records than the file has room for: fails after the summary rows */
    assert_int_equal(store_write_point(st, 3, &sum, t, NULL, NULL), ADV_ERR_INTERNAL);
    trajectory_destroy(&t);
    assert_int_equal(store_status(st)[3], RUN_RUNNING);
    assert_int_equal(store_refresh_status(st), ADV_OK);
    assert_int_equal(store_status(st)[3], RUN_RUNNING);
    close_ok(&st);
    hid_t f = open_ro(path);
    int8_t s8;
    read_row(f, "status", 3, H5T_NATIVE_INT8, &s8);
    assert_int_equal(s8, RUN_RUNNING);
    double v; /* the summary row was already written */
    read_row(f, "summary/min_surrogate", 3, H5T_NATIVE_DOUBLE, &v);
    assert_true(same_double(v, sum.min_surrogate));
    H5Fclose(f);
    /* out-of-range points are refused */
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME);
    assert_int_equal(store_write_point(st, P, &sum, NULL, NULL, NULL), ADV_ERR_INTERNAL);
    assert_int_equal(store_mark_running(st, -1), ADV_ERR_INTERNAL);
    close_ok(&st);
}

/* A writer killed without closing leaves a readable file whose done rows are
 * complete; also for the newer file format that a long job text brings. */
static void killed_writer(const char *name, const char *job_text) {
    Fixture fx;
    make_layout(&fx, 44, 0, 1, 1);
    if (job_text) fx.layout.job_text = job_text;
    char path[512];
    path_in_dir(path, sizeof path, name);
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    close_ok(&st);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        Store *cs = NULL;
        if (store_open(&cs, path, &fx.layout, STORE_SERIAL, STORE_RESUME) != ADV_OK) _exit(3);
        for (long i = 0; i < 4; i++) {
            TrainSummary sum;
            make_summary(&sum, i, status_of_point(i), 0.5);
            Trajectory *t = make_traj(i);
            StoreWorker w;
            make_worker(&w, i);
            if (store_mark_running(cs, i) != ADV_OK) _exit(4);
            if (store_write_point(cs, i, &sum, t, &w, make_extra(i)) != ADV_OK) _exit(5);
            trajectory_destroy(&t);
        }
        if (store_mark_running(cs, 5) != ADV_OK) _exit(6);
        kill(getpid(), SIGKILL); /* no close, no flush, no atexit */
        _exit(7);
    }
    int wstatus = 0;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    if (!WIFSIGNALED(wstatus)) print_error("child exited with %d\n", WEXITSTATUS(wstatus));
    assert_true(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

    StoreStatus s;
    assert_int_equal(store_status_of(path, &s), ADV_OK);
    assert_int_equal(s.counts[RUN_RUNNING], 1);
    assert_int_equal(s.counts[RUN_DONE] + s.counts[RUN_FAILED] + s.counts[RUN_DIVERGED], 4);
    hid_t f = open_ro(path);
    for (long i = 0; i < 4; i++) check_point(f, i, 0.5, 1);
    H5Fclose(f);
    char cmd[640];
    snprintf(cmd, sizeof cmd, "h5dump -H %s > /dev/null 2>&1", path);
    assert_int_equal(system(cmd), 0);
    /* and it resumes with the points kept */
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME);
    for (long i = 0; i < 4; i++) assert_int_equal(store_status(st)[i], status_of_point(i));
    assert_int_equal(store_status(st)[5], RUN_RUNNING);
    close_ok(&st);
}

static void test_killed_writer(void **state) {
    (void)state;
    killed_writer("killed.h5", NULL);
    size_t len = 70000;
    char *text = malloc(len + 1);
    memset(text, 'j', len);
    text[len] = '\0';
    killed_writer("killed-long.h5", text);
    free(text);
}

static void test_resume_and_refusals(void **state) {
    (void)state;
    Fixture fx, other;
    make_layout(&fx, 45, 0, 1, 0);
    char path[512], text[512], foreign[512];
    path_in_dir(path, sizeof path, "resume.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME); /* creates */
    write_point(st, 0, 0.25, 0);
    write_point(st, 3, 0.25, 0);
    close_ok(&st);
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME);
    assert_int_equal(store_status(st)[0], RUN_DONE);
    assert_int_equal(store_status(st)[3], status_of_point(3));
    assert_int_equal(store_status(st)[1], RUN_PENDING);
    close_ok(&st);
    hid_t f = open_ro(path);
    check_point(f, 0, 0.25, 0);
    H5Fclose(f);

    size_t len;
    unsigned char *before = slurp(path, &len);
    /* other points: refused, saying how to extend */
    make_layout(&other, 46, 0, 1, 0);
    st = (Store *)1;
    assert_int_equal(store_open(&st, path, &other.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "lacks 7 of this job's 7 points"));
    assert_non_null(strstr(adv_errmsg(), "--extend"));
    assert_non_null(strstr(adv_errmsg(), path));
    assert_true(same_bytes(before, len, path));
    /* more room per point than the file has: refused, saying how to rebuild */
    make_layout(&other, 45, 0, 1, 0);
    other.layout.records_max = K + 2;
    assert_int_equal(store_open(&st, path, &other.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "room for 5 trajectory records per point, this job needs 7"));
    assert_non_null(strstr(adv_errmsg(), "--extend"));
    assert_true(same_bytes(before, len, path));
    /* a subset of the file's points resumes (points are found by key, not by position) */
    make_layout(&other, 45, 0, 1, 0);
    other.layout.n_points = 3;
    other.layout.configs = other.configs + 3;
    st = open_ok(path, &other.layout, STORE_SERIAL, STORE_RESUME);
    for (long i = 0; i < 3; i++) assert_int_equal(store_rows(st)[i], 3 + i);
    assert_int_equal(store_added(st), 0);
    close_ok(&st);
    free(before);
    before = slurp(path, &len);
    /* another shard of the same grid */
    make_layout(&other, 45, 1, 2, 0);
    assert_int_equal(store_open(&st, path, &other.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "shard"));
    assert_true(same_bytes(before, len, path));
    /* stored weights asked for, file has none */
    make_layout(&other, 45, 0, 1, 1);
    assert_int_equal(store_open(&st, path, &other.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "without stored weights"));
    assert_true(same_bytes(before, len, path));
    free(before);

    /* a text file at the path: refused, untouched */
    path_in_dir(text, sizeof text, "notes.h5");
    write_text_file(text, "not an HDF5 file\n");
    before = slurp(text, &len);
    assert_int_equal(store_open(&st, text, &fx.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "not an HDF5 file"));
    assert_true(same_bytes(before, len, text));
    free(before);
    /* an HDF5 file that is not a sweep: refused, untouched */
    path_in_dir(foreign, sizeof foreign, "foreign.h5");
    hid_t ff = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(ff, "x", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double x[3] = {1, 2, 3};
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(ff);
    before = slurp(foreign, &len);
    assert_int_equal(store_open(&st, foreign, &fx.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "not an advsweep sweep file"));
    assert_true(same_bytes(before, len, foreign));
    free(before);
    /* STORE_FRESH replaces a sweep file (a done one here), never a file that is not one */
    before = slurp(text, &len);
    assert_int_equal(store_open(&st, text, &fx.layout, STORE_SERIAL, STORE_FRESH), ADV_ERR_INPUT);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "not an advsweep sweep file"));
    assert_non_null(strstr(adv_errmsg(), "which advsweep never replaces"));
    assert_true(same_bytes(before, len, text));
    free(before);
    before = slurp(foreign, &len);
    assert_int_equal(store_open(&st, foreign, &fx.layout, STORE_SERIAL, STORE_FRESH), ADV_ERR_INPUT);
    assert_true(same_bytes(before, len, foreign));
    free(before);
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < P; i++) assert_int_equal(store_status(st)[i], RUN_PENDING);
    close_ok(&st);
    StoreStatus s;
    assert_int_equal(store_status_of(path, &s), ADV_OK);
    assert_int_equal(s.counts[RUN_PENDING], P);
    /* store_check_output: an output that is an input under another name (./, a symlink, a hard
     * link) is refused; an existing file that is not a sweep is refused; a sweep or a new name is fine */
    {
        char dotted[600], sym[512], hard[512], fresh[512];
        snprintf(dotted, sizeof dotted, "%s/./foreign.h5", g_dir);
        path_in_dir(sym, sizeof sym, "link.h5");
        path_in_dir(hard, sizeof hard, "hard.h5");
        path_in_dir(fresh, sizeof fresh, "new.h5");
        assert_int_equal(symlink(foreign, sym), 0);
        assert_int_equal(link(foreign, hard), 0);
        const char *inputs[2] = {path, foreign}, *roles[2] = {"input", "data file"};
        for (int k = 0; k < 3; k++) {
            const char *out = k == 0 ? dotted : k == 1 ? sym : hard;
            assert_int_equal(store_check_output(out, inputs, roles, 2), ADV_ERR_INPUT);
            assert_non_null(strstr(adv_errmsg(), "is the data file"));
        }
        assert_int_equal(store_check_output(path, inputs, roles, 2), ADV_ERR_INPUT);
        assert_non_null(strstr(adv_errmsg(), "is the input"));
        assert_int_equal(store_check_output(text, NULL, NULL, 0), ADV_ERR_INPUT);
        assert_non_null(strstr(adv_errmsg(), "not an advsweep sweep file"));
        assert_int_equal(store_check_output(path, NULL, NULL, 0), ADV_OK);
        assert_int_equal(store_check_output(fresh, inputs, roles, 2), ADV_OK);
        assert_int_equal(access(fresh, F_OK), -1);
    }
    /* a directory that does not exist: a bad path (nothing written), no file */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir.h5", g_dir);
    assert_int_equal(store_open(&st, bad, &fx.layout, STORE_SERIAL, STORE_FRESH), ADV_ERR_INPUT);
    assert_no_tmp_files();
}

/* Flip one bit of element `elem` (of `elem_size` bytes) of row `row` of a contiguous dataset, in the file's bytes. */
static void flip_bit(const char *path, const char *name, long row, long elem, size_t elem_size, int byte) {
    hid_t f = open_ro(path);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    haddr_t off = H5Dget_offset(ds);
    assert_true(off != HADDR_UNDEF);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[3] = {1, 1, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    size_t per_row = 1;
    for (int k = 1; k < rank; k++) per_row *= (size_t)dims[k];
    off_t at = (off_t)off + (off_t)(((size_t)row * per_row + (size_t)elem) * elem_size) + byte;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x08;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void set_status(const char *path, long row, int8_t value) {
    hid_t fw = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(fw, "status", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    hsize_t at = (hsize_t)row, one = 1;
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    assert_true(H5Dwrite(ds, H5T_NATIVE_INT8, ms, sp, H5P_DEFAULT, &value) >= 0);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(fw);
}

static long verify_count(const char *path, long *first) {
    StoreVerify v;
    assert_int_equal(store_verify(path, &v), ADV_OK);
    assert_true(v.has_checksums);
    long n = v.n_damaged;
    *first = n ? v.damaged[0] : -1;
    free(v.damaged);
    return n;
}

/* Checksums: written with every point; a flipped byte anywhere in a finished
 * point's rows (a value, the padding, the status of a point never written) is
 * found by store_verify and refuses a resume, which changes nothing; with
 * STORE_RETRY_DAMAGED the point is pending again and rewritten intact. */
static void test_checksums(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 48, 0, 1, 1);
    char path[512];
    path_in_dir(path, sizeof path, "checksums.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < P - 1; i++) write_point(st, i, 0.5, 1); /* the last stays pending */
    close_ok(&st);
    long first = -2;
    assert_int_equal(verify_count(path, &first), 0);
    hid_t f = open_ro(path);
    uint64_t sums[P];
    read_all(f, "checksum", H5T_NATIVE_UINT64, sums);
    H5Fclose(f);
    for (long i = 0; i < P - 1; i++) assert_true(sums[i] != 0);
    assert_true(sums[P - 1] == 0);
    size_t len;
    unsigned char *intact = slurp(path, &len);
    struct {
        const char *name;
        long row, elem;
        size_t size;
    } flips[] = {
        {"traj/clean_loss", 3, K / 2, 8},   /* inside a trajectory */
        {"traj/dist", 1, K - 1, 8},         /* its padding (point 1 has K - 1 records) */
        {"summary/min_surrogate", 4, 0, 8}, /* a summary value */
        {"reason", 1, 0, STATUS_REASON_MAX}, /* a failed point's reason (its first byte) */
        {"weights/W", 5, 2, 8},             /* stored weights */
        {"status", P - 1, 0, 1},            /* a pending point turned "done" (0 -> 8: not final) */
        {"params/seed", 5, 0, 8},           /* what the point is (rule 2): a parameter */
        {"plan/key", 2, 0, STORE_KEY_HEX + 1}, /* its key (a diverged point) */
        {"runs", 1, 0, 0},                  /* its /runs row (a failed point; its seed column) */
    };
    for (size_t k = 0; k < sizeof flips / sizeof flips[0]; k++) {
        FILE *out = fopen(path, "wb");
        fwrite(intact, 1, len, out);
        fclose(out);
        if (!strcmp(flips[k].name, "runs")) { /* a byte of the row's seed column */
            hid_t fr = open_ro(path), ds = H5Dopen2(fr, "runs", H5P_DEFAULT), t = H5Dget_type(ds);
            size_t size = H5Tget_size(t), at = H5Tget_member_offset(t, (unsigned)H5Tget_member_index(t, "seed"));
            H5Tclose(t);
            H5Dclose(ds);
            H5Fclose(fr);
            flip_bit(path, "runs", flips[k].row, 0, size, (int)at);
        } else {
            flip_bit(path, flips[k].name, flips[k].row, flips[k].elem, flips[k].size, 0);
        }
        long n = verify_count(path, &first);
        if (!strcmp(flips[k].name, "status")) { /* 8 is no status at all: not finished, not checked */
            assert_int_equal(n, 0);
            continue;
        }
        if (n != 1 || first != flips[k].row) fprintf(stderr, "flip in /%s row %ld: %ld damaged, first %ld\n", flips[k].name, flips[k].row, n, first);
        assert_int_equal(n, 1);
        assert_int_equal(first, flips[k].row);
    }
    /* a pending point turned done without rows: no checksum, damaged */
    FILE *out = fopen(path, "wb");
    fwrite(intact, 1, len, out);
    fclose(out);
    flip_bit(path, "status", P - 1, 0, 1, 0);
    flip_bit(path, "status", P - 1, 0, 1, 0); /* back to 0 */
    {
        hid_t fw = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t ds = H5Dopen2(fw, "status", H5P_DEFAULT);
        hid_t sp = H5Dget_space(ds);
        hsize_t at = P - 1, one = 1;
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, &at, NULL, &one, NULL);
        hid_t ms = H5Screate_simple(1, &one, NULL);
        int8_t done = RUN_DONE;
        assert_true(H5Dwrite(ds, H5T_NATIVE_INT8, ms, sp, H5P_DEFAULT, &done) >= 0);
        H5Sclose(ms);
        H5Sclose(sp);
        H5Dclose(ds);
        H5Fclose(fw);
    }
    assert_int_equal(verify_count(path, &first), 1);
    assert_int_equal(first, P - 1);
    /* a final status turned into another (done -> diverged, failed -> done): rule 2 covers it */
    for (int k = 0; k < 2; k++) {
        long row = k == 0 ? 4 : 1;
        assert_int_equal(status_of_point(row), k == 0 ? RUN_DONE : RUN_FAILED);
        out = fopen(path, "wb");
        fwrite(intact, 1, len, out);
        fclose(out);
        set_status(path, row, k == 0 ? RUN_DIVERGED : RUN_DONE);
        assert_int_equal(verify_count(path, &first), 1);
        assert_int_equal(first, row);
    }
    /* a file without checksum_version is read under rule 1: this one's rule-2 checksums no longer match */
    out = fopen(path, "wb");
    fwrite(intact, 1, len, out);
    fclose(out);
    {
        hid_t fw = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(H5Aexists(fw, "checksum_version") > 0);
        int64_t version = 0;
        hid_t a = H5Aopen(fw, "checksum_version", H5P_DEFAULT);
        assert_true(H5Aread(a, H5T_NATIVE_INT64, &version) >= 0 && version == 2);
        H5Aclose(a);
        assert_true(H5Adelete(fw, "checksum_version") >= 0);
        H5Fclose(fw);
    }
    assert_int_equal(verify_count(path, &first), P - 1);
    /* a damaged trajectory: resume refused, nothing changed */
    out = fopen(path, "wb");
    fwrite(intact, 1, len, out);
    fclose(out);
    flip_bit(path, "traj/clean_loss", 3, K / 2, 8, 5);
    unsigned char *damaged = slurp(path, &len);
    assert_int_equal(store_open(&st, path, &fx.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_IO);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "1 finished point is damaged (3:"));
    assert_non_null(strstr(adv_errmsg(), "--retry-damaged"));
    assert_true(same_bytes(damaged, len, path));
    /* retry: pending again, its checksum cleared, the others untouched; rewritten intact */
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME | STORE_RETRY_DAMAGED);
    assert_int_equal(store_damaged_reset(st), 1);
    assert_int_equal(store_status(st)[3], RUN_PENDING);
    assert_int_equal(store_status(st)[4], status_of_point(4));
    write_point(st, 3, 0.5, 1);
    close_ok(&st);
    assert_int_equal(verify_count(path, &first), 0);
    f = open_ro(path);
    uint64_t again[P];
    read_all(f, "checksum", H5T_NATIVE_UINT64, again);
    H5Fclose(f);
    for (long i = 0; i < P; i++) assert_true(again[i] == sums[i] || i == 3); /* others: the same bytes */
    free(damaged);
    free(intact);
}

/* A failed point planned while its data file could not be read takes the readable
 * file's key when a resume finds the file readable; the key is covered by the
 * checksum (rule 2), so the resume recomputes it: the point still verifies. */
static void test_rekeyed_point_keeps_verifying(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 49, 0, 1, 0);
    char path[512], data[512];
    path_in_dir(path, sizeof path, "rekey.h5");
    path_in_dir(data, sizeof data, "rekey-data.h5");
    unlink(data);
    for (long i = 0; i < P; i++) {
        fx.configs[i].data = DATA_FILE;
        assert_true(strlen(data) < sizeof fx.configs[i].data_file);
        memcpy(fx.configs[i].data_file, data, strlen(data) + 1);
    }
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    assert_int_equal(status_of_point(1), RUN_FAILED);
    write_point(st, 1, 0.5, 0);
    close_ok(&st);
    long first = -2;
    assert_int_equal(verify_count(path, &first), 0);
    char before[STORE_KEY_HEX + 1] = {0}, after[STORE_KEY_HEX + 1] = {0};
    hid_t kt = H5Tcopy(H5T_C_S1);
    H5Tset_size(kt, STORE_KEY_HEX + 1);
    char (*keys)[STORE_KEY_HEX + 1] = xcalloc(P, sizeof *keys);
    hid_t f = open_ro(path);
    read_all(f, "plan/key", kt, keys);
    H5Fclose(f);
    memcpy(before, keys[1], sizeof before);
    { /* the data file, readable now */
        hid_t df = H5Fcreate(data, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t xd[2] = {4, 2}, yd[1] = {4};
        double x[8] = {1, 0, 0, 1, -1, 0, 0, -1}, y[4] = {1, -1, 1, -1};
        hid_t sx = H5Screate_simple(2, xd, NULL), sy = H5Screate_simple(1, yd, NULL);
        hid_t dx = H5Dcreate2(df, "x", H5T_IEEE_F64LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t dy = H5Dcreate2(df, "y", H5T_IEEE_F64LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Dwrite(dx, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
        assert_true(H5Dwrite(dy, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
        H5Dclose(dy);
        H5Dclose(dx);
        H5Sclose(sy);
        H5Sclose(sx);
        H5Fclose(df);
    }
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME);
    assert_int_equal(store_status(st)[1], RUN_FAILED);
    close_ok(&st);
    f = open_ro(path);
    read_all(f, "plan/key", kt, keys);
    H5Fclose(f);
    memcpy(after, keys[1], sizeof after);
    assert_string_not_equal(before, after); /* rekeyed */
    assert_int_equal(verify_count(path, &first), 0);
    H5Tclose(kt);
    free(keys);
    unlink(data);
}

static void test_reset_failed_serial(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 47, 0, 1, 0);
    char path[512];
    path_in_dir(path, sizeof path, "reset.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < P; i++) write_point(st, i, 0.0, 0); /* 1, 6 failed; 2 diverged */
    long count = -1;
    assert_int_equal(store_reset_failed(st, NULL, &count), ADV_OK);
    assert_int_equal(count, 3);
    for (long i = 0; i < P; i++) assert_int_equal(store_status(st)[i], status_of_point(i) == RUN_DONE ? RUN_DONE : RUN_PENDING);
    close_ok(&st);
    hid_t f = open_ro(path);
    check_point(f, 0, 0.0, 0);
    for (long i = 1; i <= 2; i++) {
        int8_t s8;
        int32_t s32;
        char reason[97] = {0};
        hid_t t = str_type(96);
        read_row(f, "status", i, H5T_NATIVE_INT8, &s8);
        read_row(f, "summary/status", i, H5T_NATIVE_INT32, &s32);
        read_row(f, "reason", i, t, reason);
        H5Tclose(t);
        assert_int_equal(s8, RUN_PENDING);
        assert_int_equal(s32, RUN_PENDING);
        assert_string_equal(reason, "");
    }
    H5Fclose(f);
}

/* ---- mid-point checkpoints ------------------------------------------------------------ */

static long dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Saves point i's checkpoint from two parts (the state is their concatenation). */
static int save_state(Store *st, long i, const char *env, const unsigned char *blob, size_t bytes) {
    const void *parts[2] = {blob, blob + 100};
    size_t lens[2] = {100, bytes - 100};
    return store_checkpoint_save(st, i, env, parts, lens, 2);
}

/* Reads point i's checkpoint: 1 when it is handed out whole and checks out (then it is
 * `want`), 0 when not. */
static int load_state(Store *st, long i, const char *env, const unsigned char *want, size_t bytes) {
    StoreCheckpoint *ck = NULL;
    size_t n = 0;
    assert_int_equal(store_checkpoint_open(st, i, env, &ck, &n), ADV_OK);
    if (!ck) return 0;
    assert_int_equal(n, bytes);
    unsigned char *got = malloc(n);
    assert_int_equal(store_checkpoint_read(ck, got, 7), ADV_OK);
    assert_int_equal(store_checkpoint_read(ck, got + 7, n - 7), ADV_OK);
    int ok = store_checkpoint_read(ck, NULL, 0) == ADV_OK;
    store_checkpoint_close(&ck);
    assert_null(ck);
    if (ok) assert_memory_equal(got, want, bytes);
    free(got);
    return ok;
}

/* Change byte `at` (from the end when negative) of a file. */
static void poke(const char *file, long at) {
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, at, at < 0 ? SEEK_END : SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, -1, SEEK_CUR), 0);
    fputc(c ^ 0x20, f);
    fclose(f);
}

/* PATH.ckpt/KEY (checkpoint.c): a round trip gives the state back bit for bit; a
 * checkpoint that does not check out (another point's, another numerics version or
 * environment, cut short, a changed byte) is never handed out and is removed; a
 * written point's goes; store_open prunes those of final points and a kill's
 * temporaries but never a file that is not ours; creating the file anew clears them. */
static void test_checkpoints(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 53, 0, 1, 0);
    char path[512], dir[600], file[700], other[700], tmp[720], foreign[700];
    path_in_dir(path, sizeof path, "ckpt.h5");
    snprintf(dir, sizeof dir, "%s.ckpt", path);
    char keys[P][STORE_KEY_HEX + 1];
    assert_int_equal(store_keys_of(keys, fx.configs, P), ADV_OK);
    snprintf(file, sizeof file, "%s/%s", dir, keys[3]);
    snprintf(other, sizeof other, "%s/%s", dir, keys[4]);
    unsigned char blob[333];
    for (size_t k = 0; k < sizeof blob; k++) blob[k] = (unsigned char)(k * 7 + 1);
    const char *env = "BLAS kernel Test, 1 thread";
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 0); /* none */
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    assert_int_equal(access(file, F_OK), 0); /* named by the point's key */
    assert_int_equal(dir_entries(dir), 1);   /* no temporary left */
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 1);
    blob[5] ^= 1; /* a newer state replaces the older one */
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 1);
    /* another environment: not handed out, removed */
    assert_int_equal(load_state(st, 3, "BLAS kernel Other, 1 thread", blob, sizeof blob), 0);
    assert_int_equal(access(file, F_OK), -1);
    /* another point's checkpoint under this point's name */
    assert_int_equal(save_state(st, 4, env, blob, sizeof blob), ADV_OK);
    assert_int_equal(rename(other, file), 0);
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 0);
    assert_int_equal(access(file, F_OK), -1);
    /* another numerics version (byte 22 + 33: the header's version, after line and key) */
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    poke(file, 22 + 33);
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 0);
    /* a changed byte of the state; a file cut short */
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    poke(file, -100);
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 0);
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    assert_int_equal(truncate(file, 300), 0); /* the header and part of the state */
    assert_int_equal(load_state(st, 3, env, blob, sizeof blob), 0);
    assert_int_equal(access(file, F_OK), -1);
    /* written points lose theirs; the directory goes when empty */
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    assert_int_equal(save_state(st, 4, env, blob, sizeof blob), ADV_OK);
    write_point(st, 3, 0.0, 0);
    store_checkpoint_remove(st, 3);
    assert_int_equal(access(file, F_OK), -1);
    assert_int_equal(access(other, F_OK), 0);
    store_checkpoint_remove(st, 4);
    assert_int_equal(access(dir, F_OK), -1);
    /* a kill leaves: point 3's (now final), point 4's (pending), a temporary, and a user's file */
    assert_int_equal(save_state(st, 3, env, blob, sizeof blob), ADV_OK);
    assert_int_equal(save_state(st, 4, env, blob, sizeof blob), ADV_OK);
    close_ok(&st);
    snprintf(tmp, sizeof tmp, "%s.tmp.12345", other);
    snprintf(foreign, sizeof foreign, "%s/notes.txt", dir);
    write_text_file(tmp, "half");
    write_text_file(foreign, "mine");
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_RESUME);
    assert_int_equal(access(file, F_OK), -1);  /* final point */
    assert_int_equal(access(tmp, F_OK), -1);   /* a kill's temporary */
    assert_int_equal(access(foreign, F_OK), 0); /* never a file that is not ours */
    assert_int_equal(load_state(st, 4, env, blob, sizeof blob), 1);
    close_ok(&st);
    /* a new file of that name (--fresh): none of the old checkpoints is this file's */
    st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(access(foreign, F_OK), 0);
    assert_int_equal(dir_entries(dir), 1);
    close_ok(&st);
    assert_int_equal(unlink(foreign), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_status_of(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 48, 1, 2, 0); /* shard 1 of 2: points 1, 3, 5 */
    char path[512];
    path_in_dir(path, sizeof path, "status.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 3, 0.0, 0); /* done */
    write_point(st, 1, 0.0, 0); /* failed */
    assert_int_equal(store_mark_running(st, 5), ADV_OK);
    close_ok(&st);
    StoreStatus s;
    assert_int_equal(store_status_of(path, &s), ADV_OK);
    assert_int_equal(s.n_points, P);
    assert_int_equal(s.counts[RUN_DONE], 1);
    assert_int_equal(s.counts[RUN_FAILED], 1);
    assert_int_equal(s.counts[RUN_RUNNING], 1);
    assert_int_equal(s.counts[RUN_PENDING], P - 3);
    assert_int_equal(s.in_shard, 3);
    assert_int_equal(s.shard_counts[RUN_PENDING], 0);
    assert_int_equal(s.shard_index, 1);
    assert_int_equal(s.shard_count, 2);
    assert_string_equal(s.job_name, "test");
    assert_int_equal(strlen(s.created), 20);
    TrainSummary sum;
    make_summary(&sum, 3, RUN_DONE, 0.0);
    assert_true(s.done_wall == sum.wall_time);
    assert_true(s.done_flops_planned == fx.flops[3]);
    assert_true(s.pending_flops_planned == fx.flops[5]); /* running point 5; 0, 2, 4, 6 are not ours */
    assert_int_equal(s.ranks, 1);

    char other[512];
    path_in_dir(other, sizeof other, "status.txt");
    write_text_file(other, "hello\n");
    assert_int_equal(store_status_of(other, &s), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), other));
    path_in_dir(other, sizeof other, "missing.h5");
    assert_int_equal(store_status_of(other, &s), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "no such file"));
}

static void test_merge_shards(void **state) {
    (void)state;
    Fixture a, b;
    make_layout(&a, 49, 0, 2, 1);
    make_layout(&b, 49, 1, 2, 1);
    char pa[512], pb[512], out[512];
    path_in_dir(pa, sizeof pa, "shard0.h5");
    path_in_dir(pb, sizeof pb, "shard1.h5");
    path_in_dir(out, sizeof out, "merged.h5");
    Store *st = open_ok(pa, &a.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < P; i += 2) write_point(st, i, 1.0, 1);
    close_ok(&st);
    st = open_ok(pb, &b.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 1; i < P; i += 2) write_point(st, i, 2.0, 1);
    write_point(st, 0, 1.0, 1); /* also done in b, same result: no conflict */
    close_ok(&st);

    const char *inputs[2] = {pa, pb};
    long taken[2] = {-1, -1};
    int rc = store_merge_counts(out, inputs, 2, taken);
    if (rc != ADV_OK) print_error("merge: %s\n", adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    assert_int_equal(taken[0], 4); /* 0, 2, 4, 6 */
    assert_int_equal(taken[1], 3); /* 1, 3, 5 */
    assert_no_tmp_files();
    hid_t f = open_ro(out);
    for (long i = 0; i < P; i++) check_point(f, i, i % 2 ? 2.0 : 1.0, 1);
    assert_int_equal(attr_i64(f, "shard_index"), 0);
    assert_int_equal(attr_i64(f, "shard_count"), 1);
    H5Fclose(f);
    StoreStatus s;
    assert_int_equal(store_status_of(out, &s), ADV_OK);
    assert_int_equal(s.counts[RUN_PENDING] + s.counts[RUN_RUNNING], 0);
    assert_int_equal(s.in_shard, P);

    /* the other order gives the same union */
    const char *reversed[2] = {pb, pa};
    assert_int_equal(store_merge(out, reversed, 2), ADV_OK);
    f = open_ro(out);
    for (long i = 0; i < P; i++) check_point(f, i, i % 2 ? 2.0 : 1.0, 1);
    H5Fclose(f);

    /* a different grid: the union of both, by key (pc's points after the merge's) */
    Fixture c;
    char pc[512], out2[512];
    make_layout(&c, 50, 0, 1, 0);
    path_in_dir(pc, sizeof pc, "othergrid.h5");
    path_in_dir(out2, sizeof out2, "merged2.h5");
    st = open_ok(pc, &c.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 3, 5.0, 0);
    { /* point 4 as the driver writes it: summary/trained_as names its own row */
        TrainSummary sum;
        make_summary(&sum, 4, RUN_DONE, 5.0);
        sum.trained_as = 4;
        Trajectory *t = make_traj(4);
        StoreWorker w;
        make_worker(&w, 4);
        assert_int_equal(store_write_point(st, 4, &sum, t, &w, NULL), ADV_OK);
        trajectory_destroy(&t);
    }
    close_ok(&st);
    const char *both[2] = {out, pc};
    assert_int_equal(store_merge_counts(out2, both, 2, taken), ADV_OK);
    assert_int_equal(taken[0], P);
    assert_int_equal(taken[1], 2);
    /* the moved row names its new row, and its checksum says so: every point verifies */
    long first = -2;
    assert_int_equal(verify_count(out2, &first), 0);
    int64_t rep4 = -1;
    hid_t f2 = open_ro(out2);
    read_row(f2, "summary/trained_as", P + 4, H5T_NATIVE_INT64, &rep4);
    H5Fclose(f2);
    assert_int_equal(rep4, P + 4);
    f = open_ro(out2);
    hsize_t dims[3];
    assert_int_equal(dims_of(f, "status", dims), 1);
    assert_int_equal(dims[0], 2 * P);
    for (long i = 0; i < P; i++) check_point(f, i, i % 2 ? 2.0 : 1.0, 1);
    check_point_at(f, P + 3, 3, 5.0, 0); /* no weights in pc: fill values there */
    for (long i = 0; i < P; i++)
        if (i != 3 && i != 4) check_pending(f, P + i);
    int64_t seed[2 * P];
    read_all(f, "params/seed", H5T_NATIVE_INT64, seed);
    for (long i = 0; i < P; i++) assert_true(seed[i] == 4900 + i && seed[P + i] == 5000 + i);
    H5Fclose(f);
    assert_int_equal(store_status_of(out2, &s), ADV_OK);
    assert_int_equal(s.n_points, 2 * P);
    assert_int_equal(s.counts[RUN_PENDING], P - 2);
    struct stat sb;
    assert_no_tmp_files();
    /* an input written before checksums: its rows get theirs in the output (nothing to verify before) */
    char old[512], out4[512];
    path_in_dir(old, sizeof old, "nochecksum.h5");
    path_in_dir(out4, sizeof out4, "merged4.h5");
    copy_without(pc, old, "checksum");
    const char *with_old[2] = {pa, old};
    assert_int_equal(store_merge(out4, with_old, 2), ADV_OK);
    assert_int_equal(verify_count(out4, &first), 0);
    assert_int_equal(store_status_of(out4, &s), ADV_OK);
    assert_int_equal(s.counts[RUN_DONE] + s.counts[RUN_FAILED] + s.counts[RUN_DIVERGED], 4 + 2);
    /* a non-sweep input is refused */
    char text[512];
    path_in_dir(text, sizeof text, "merge-notes.h5");
    write_text_file(text, "x\n");
    const char *bad2[2] = {pa, text};
    char out3[512];
    path_in_dir(out3, sizeof out3, "merged3.h5");
    assert_int_equal(store_merge(out3, bad2, 2), ADV_ERR_INPUT);
    assert_int_not_equal(stat(out3, &sb), 0);
}

/* A point final in two inputs must agree bit for bit, else nothing is written; a
 * weights-less input gives fill rows. */
static void test_merge_overlap(void **state) {
    (void)state;
    Fixture a, b;
    make_layout(&a, 51, 0, 1, 1);
    make_layout(&b, 51, 0, 1, 0);
    char pa[512], pb[512], out[512];
    path_in_dir(pa, sizeof pa, "ov-a.h5");
    path_in_dir(pb, sizeof pb, "ov-b.h5");
    path_in_dir(out, sizeof out, "ov-out.h5");
    Store *st = open_ok(pa, &a.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 0, 1.0, 1);
    write_point(st, 1, 1.0, 1); /* failed in a */
    close_ok(&st);
    st = open_ok(pb, &b.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 0, 1.0, 0); /* the same result as in a (a has weights, b not: not compared) */
    TrainSummary sum;
    make_summary(&sum, 2, RUN_DONE, 3.0);
    Trajectory *t = make_traj(2);
    StoreWorker w;
    make_worker(&w, 2);
    assert_int_equal(store_write_point(st, 2, &sum, t, &w, NULL), ADV_OK); /* only in b */
    trajectory_destroy(&t);
    close_ok(&st);
    const char *inputs[2] = {pa, pb};
    long taken[2];
    int rc = store_merge_counts(out, inputs, 2, taken);
    if (rc != ADV_OK) print_error("merge: %s\n", adv_errmsg());
    assert_int_equal(rc, ADV_OK);
    assert_int_equal(taken[0], 2);
    assert_int_equal(taken[1], 1);
    hid_t f = open_ro(out);
    check_point(f, 0, 1.0, 1);
    check_point(f, 1, 1.0, 1);
    int8_t s8;
    double v, W0[NW];
    read_row(f, "status", 2, H5T_NATIVE_INT8, &s8);
    assert_int_equal(s8, RUN_DONE);
    read_row(f, "summary/min_surrogate", 2, H5T_NATIVE_DOUBLE, &v);
    assert_true(same_double(v, sum.min_surrogate));
    read_row(f, "weights/W0", 2, H5T_NATIVE_DOUBLE, W0); /* b has no weights: fill */
    for (int k = 0; k < NW; k++) assert_true(isnan(W0[k]));
    for (long i = 3; i < P; i++) check_pending(f, i);
    H5Fclose(f);

    /* different results for one point (a value, a trajectory entry, or failed vs done): refused,
     * naming the point and both files; no output, no temporary file */
    struct stat sb;
    for (int variant = 0; variant < 3; variant++) {
        char pc[512], outc[512];
        path_in_dir(pc, sizeof pc, "ov-c.h5");
        path_in_dir(outc, sizeof outc, "ov-conflict.h5");
        Fixture c;
        make_layout(&c, 51, 0, 1, 0);
        st = open_ok(pc, &c.layout, STORE_SERIAL, STORE_FRESH);
        long i = variant == 2 ? 1 : 0; /* point 1 failed in a */
        make_summary(&sum, i, RUN_DONE, 1.0);
        if (variant == 0) sum.min_surrogate = nextafter(sum.min_surrogate, 1.0); /* one bit */
        t = make_traj(i);
        if (variant == 1) t->dist[2] = -t->dist[2];
        make_worker(&w, i);
        assert_int_equal(store_write_point(st, i, &sum, t, &w, NULL), ADV_OK);
        trajectory_destroy(&t);
        close_ok(&st);
        const char *clash[2] = {pa, pc};
        assert_int_equal(store_merge(outc, clash, 2), ADV_ERR_INPUT);
        const char *want[3] = {"/summary/min_surrogate differs", "/traj/dist differs", "/status differs"};
        if (!strstr(adv_errmsg(), want[variant])) print_error("variant %d: %s\n", variant, adv_errmsg());
        assert_non_null(strstr(adv_errmsg(), "1 point holds different results"));
        assert_non_null(strstr(adv_errmsg(), want[variant]));
        char label[64];
        snprintf(label, sizeof label, "m=%ld", 16 + 2 * i);
        assert_non_null(strstr(adv_errmsg(), label));
        assert_non_null(strstr(adv_errmsg(), pa));
        assert_non_null(strstr(adv_errmsg(), pc));
        assert_non_null(strstr(adv_errmsg(), "nothing written"));
        assert_int_not_equal(stat(outc, &sb), 0);
        assert_no_tmp_files();
        unlink(pc);
    }
}

/* Set the numerics_version attribute of a file (as another advsweep would have written it). */
static void set_numerics(const char *path, int64_t v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t a = H5Aopen(f, "numerics_version", H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    H5Fclose(f);
}

/* --extend: the union, old rows bit for bit, new rows pending, kept rows final or skipped. */
static void test_extend(void **state) {
    (void)state;
    Fixture a, b;
    make_layout(&a, 53, 0, 1, 1);
    char path[512];
    path_in_dir(path, sizeof path, "extend.h5");
    Store *st = open_ok(path, &a.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < 5; i++) write_point(st, i, 0.75, 1);
    assert_int_equal(store_mark_running(st, 6), ADV_OK); /* killed while running */
    close_ok(&st);
    /* the new job: a's points 2..6 (its 0..4) and 4 new ones, with more room per point */
    make_layout(&b, 54, 0, 1, 1);
    for (long i = 0; i < 5; i++) b.configs[i] = a.configs[2 + i];
    b.layout.records_max = K + 3;
    st = open_ok(path, &b.layout, STORE_SERIAL, STORE_EXTEND);
    assert_int_equal(store_points(st), P + 2);
    assert_int_equal(store_added(st), 2);
    for (long i = 0; i < 5; i++) assert_int_equal(store_rows(st)[i], 2 + i);
    assert_int_equal(store_rows(st)[5], P);
    assert_int_equal(store_rows(st)[6], P + 1);
    const int8_t *s = store_status(st);
    for (long i = 0; i < 5; i++) assert_int_equal(s[i], status_of_point(i)); /* carried over */
    assert_int_equal(s[5], RUN_PENDING);   /* in the job: not final, runs */
    assert_int_equal(s[6], RUN_RUNNING);   /* in the job: redone */
    assert_int_equal(s[P], RUN_PENDING);
    close_ok(&st);
    assert_no_tmp_files();
    hid_t f = open_ro(path);
    hsize_t dims[3];
    assert_int_equal(dims_of(f, "traj/step", dims), 2);
    assert_true(dims[0] == P + 2 && dims[1] == K + 3);
    assert_int_equal(attr_i64(f, "records_max"), K + 3);
    assert_attr_str(f, "job_name", "test");
    int64_t steps[K + 3];
    for (long i = 0; i < 5; i++) { /* bit for bit, padded to the new width */
        read_row(f, "traj/step", i, H5T_NATIVE_INT64, steps);
        Trajectory *t = make_traj(i);
        for (long k = 0; k < K + 3; k++) assert_int_equal(steps[k], k < t->count ? t->step[k] : -1);
        trajectory_destroy(&t);
        TrainSummary want;
        make_summary(&want, i, status_of_point(i), 0.75);
        double v;
        read_row(f, "summary/min_surrogate", i, H5T_NATIVE_DOUBLE, &v);
        assert_true(same_double(v, want.min_surrogate));
        double W[NW];
        read_row(f, "weights/W", i, H5T_NATIVE_DOUBLE, W);
        const StorePointData *x = make_extra(i);
        for (long k = 0; k < x->n_trained; k++) assert_true(same_double(W[k], x->W[k]));
        int32_t status;
        read_row(f, "summary/status", i, H5T_NATIVE_INT32, &status);
        assert_int_equal(status, status_of_point(i));
    }
    for (long i = P; i < P + 2; i++) check_pending(f, i);
    /* /plan/trained_as: the job's points answer themselves, a's others keep theirs */
    int64_t rep[P + 2];
    read_all(f, "plan/trained_as", H5T_NATIVE_INT64, rep);
    for (long i = 0; i < P + 2; i++) assert_int_equal(rep[i], i);
    /* the runs table agrees with the datasets */
    hid_t rt = H5Tcreate(H5T_COMPOUND, sizeof(int64_t) + sizeof(int32_t) + sizeof(int64_t));
    H5Tinsert(rt, "index", 0, H5T_NATIVE_INT64);
    H5Tinsert(rt, "status", 8, H5T_NATIVE_INT32);
    H5Tinsert(rt, "m", 12, H5T_NATIVE_INT64);
    unsigned char runs[(P + 2) * 20];
    read_all(f, "runs", rt, runs);
    H5Tclose(rt);
    int8_t s8[P + 2];
    int64_t m[P + 2];
    read_all(f, "status", H5T_NATIVE_INT8, s8);
    read_all(f, "params/m", H5T_NATIVE_INT64, m);
    for (long i = 0; i < P + 2; i++) {
        int64_t index, rm;
        int32_t rs;
        memcpy(&index, runs + 20 * i, 8);
        memcpy(&rs, runs + 20 * i + 8, 4);
        memcpy(&rm, runs + 20 * i + 12, 8);
        assert_int_equal(index, i);
        assert_int_equal(rs, s8[i]);
        assert_int_equal(rm, m[i]);
    }
    H5Fclose(f);

    /* extending again with a's job: a's points 0, 1 are in the file: nothing to add, a plain resume */
    st = open_ok(path, &a.layout, STORE_SERIAL, STORE_EXTEND);
    assert_int_equal(store_added(st), 0);
    for (long i = 0; i < P; i++) assert_int_equal(store_rows(st)[i], i);
    close_ok(&st);
    /* and with b's job, whose new points are pending: a's 0..1 are not in it; 5, 6 are; kept ones
     * that are not final become skipped only when a job lacks them (none here) */
    Fixture c;
    make_layout(&c, 55, 0, 1, 1);
    c.configs[0] = a.configs[6]; /* running in the file; c lacks every other unfinished point */
    st = open_ok(path, &c.layout, STORE_SERIAL, STORE_EXTEND);
    s = store_status(st);
    assert_int_equal(store_points(st), P + 2 + P - 1);
    assert_int_equal(s[6], RUN_RUNNING);    /* in c */
    assert_int_equal(s[5], RUN_SKIPPED);    /* pending, not in c */
    assert_int_equal(s[P], RUN_SKIPPED);    /* b's new points */
    assert_int_equal(s[P + 1], RUN_SKIPPED);
    for (long i = 0; i < 5; i++) assert_int_equal(s[i], status_of_point(i));
    close_ok(&st);

    /* a file written before checksums: extended, its finished rows get their checksums */
    char old[512];
    path_in_dir(old, sizeof old, "extend-nochecksum.h5");
    copy_without(path, old, "checksum");
    Fixture d;
    make_layout(&d, 56, 0, 1, 1);
    st = open_ok(old, &d.layout, STORE_SERIAL, STORE_EXTEND);
    assert_int_equal(store_added(st), P);
    close_ok(&st);
    long first = -2;
    assert_int_equal(verify_count(old, &first), 0);
    StoreStatus ss;
    assert_int_equal(store_status_of(old, &ss), ADV_OK);
    assert_int_equal(ss.counts[RUN_DONE] + ss.counts[RUN_FAILED] + ss.counts[RUN_DIVERGED], 5);

    /* another numerics version: refused by resume and extend, the file untouched */
    set_numerics(path, ADVSWEEP_NUMERICS_VERSION + 1);
    size_t len;
    unsigned char *before = slurp(path, &len);
    st = (Store *)1;
    assert_int_equal(store_open(&st, path, &c.layout, STORE_SERIAL, STORE_EXTEND), ADV_ERR_INPUT);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "numerics version"));
    assert_int_equal(store_open(&st, path, &c.layout, STORE_SERIAL, STORE_RESUME), ADV_ERR_INPUT);
    assert_true(same_bytes(before, len, path));
    const char *inputs[1] = {path};
    char out[512];
    path_in_dir(out, sizeof out, "extend-merged.h5");
    assert_int_equal(store_merge(out, inputs, 1), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "numerics version"));
    free(before);
    assert_no_tmp_files();
}

/* /worker/blas_kernel: each point's kernel, written with its row; store_other_kernels
 * counts the finished points of another kernel (a resume under another kernel);
 * merge and --extend copy it, and their blas_kernel attribute says "mixed" when the
 * files' kernels differ; a file written before the dataset resumes without it. */
static void test_blas_kernels(void **state) {
    (void)state;
    Fixture a, b;
    make_layout(&a, 57, 0, 1, 0);
    a.layout.blas_kernel = "Haswell (OpenBLAS's choice)";
    char pa[512], pb[512], out[512];
    path_in_dir(pa, sizeof pa, "kernel-a.h5");
    path_in_dir(pb, sizeof pb, "kernel-b.h5");
    path_in_dir(out, sizeof out, "kernel-merged.h5");
    Store *st = open_ok(pa, &a.layout, STORE_SERIAL, STORE_FRESH);
    for (long i = 0; i < 4; i++) write_point(st, i, 1.0, 0); /* make_worker: odd points Prescott, even Haswell */
    assert_int_equal(store_mark_running(st, 5), ADV_OK);   /* not finished: not counted */
    close_ok(&st);
    st = open_ok(pa, &a.layout, STORE_SERIAL, STORE_RESUME);
    long n = -1;
    char names[64];
    assert_int_equal(store_other_kernels(st, "Haswell", &n, names, sizeof names), ADV_OK);
    assert_int_equal(n, 2); /* points 1 and 3 */
    assert_string_equal(names, "Prescott");
    assert_int_equal(store_other_kernels(st, "Zen", &n, names, sizeof names), ADV_OK);
    assert_int_equal(n, 4);
    assert_string_equal(names, "Haswell, Prescott");
    assert_int_equal(store_other_kernels(st, "Zen", &n, names, 12), ADV_OK); /* no room: cut */
    assert_int_equal(n, 4);
    assert_true(strlen(names) < 12 && !strncmp(names, "Haswell", 7));
    close_ok(&st);
    hid_t f = open_ro(pa);
    assert_attr_str(f, "blas_kernel", "Haswell (OpenBLAS's choice)");
    H5Fclose(f);

    /* merge: the same kernel chosen otherwise is the same kernel (even points: Haswell) */
    char pe[512];
    path_in_dir(pe, sizeof pe, "kernel-e.h5");
    Fixture e;
    make_layout(&e, 57, 0, 1, 0);
    e.layout.blas_kernel = "Haswell (OpenBLAS's choice)";
    st = open_ok(pe, &e.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 6, 1.0, 0);
    close_ok(&st);
    make_layout(&b, 57, 0, 1, 0);
    b.layout.blas_kernel = "Haswell (OPENBLAS_CORETYPE set by the user)";
    st = open_ok(pb, &b.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 4, 1.0, 0);
    close_ok(&st);
    const char *same[2] = {pe, pb};
    assert_int_equal(store_merge(out, same, 2), ADV_OK);
    f = open_ro(out);
    assert_attr_str(f, "blas_kernel", "Haswell (OpenBLAS's choice)");
    H5Fclose(f);
    /* another kernel in the attributes (rows that name none, as older files): "mixed" */
    b.layout.blas_kernel = "Prescott (OPENBLAS_CORETYPE set by the user)";
    st = open_ok(pb, &b.layout, STORE_SERIAL, STORE_FRESH);
    TrainSummary sum;
    make_summary(&sum, 4, status_of_point(4), 1.0);
    Trajectory *t = make_traj(4);
    StoreWorker w;
    make_worker(&w, 4);
    w.blas_kernel[0] = '\0';
    assert_int_equal(store_write_point(st, 4, &sum, t, &w, NULL), ADV_OK);
    trajectory_destroy(&t);
    close_ok(&st);
    assert_int_equal(store_merge(out, same, 2), ADV_OK);
    f = open_ro(out);
    assert_attr_str(f, "blas_kernel", "mixed (per point: /worker/blas_kernel)");
    H5Fclose(f);
    /* another kernel in the rows of one input (resumed under another kernel; its attribute
     * is the creating run's): "mixed", each row's kernel copied with it */
    const char *one[1] = {pa};
    assert_int_equal(store_merge(out, one, 1), ADV_OK);
    f = open_ro(out);
    assert_attr_str(f, "blas_kernel", "mixed (per point: /worker/blas_kernel)");
    for (long i = 0; i < 4; i++) check_point(f, i, 1.0, 0);
    H5Fclose(f);
    long first = -2;
    assert_int_equal(verify_count(out, &first), 0);

    /* --extend by a run of another kernel: "mixed" too, the old rows' kernels kept */
    Fixture c;
    make_layout(&c, 58, 0, 1, 0);
    c.layout.blas_kernel = "Zen (OpenBLAS's choice)";
    st = open_ok(pa, &c.layout, STORE_SERIAL, STORE_EXTEND);
    assert_int_equal(store_added(st), P);
    close_ok(&st);
    f = open_ro(pa);
    assert_attr_str(f, "blas_kernel", "mixed (per point: /worker/blas_kernel)");
    for (long i = 0; i < 4; i++) check_point(f, i, 1.0, 0);
    H5Fclose(f);
    assert_int_equal(verify_count(pa, &first), 0);

    /* a file written before /worker/blas_kernel (its rows' checksums without it): resumes
     * and writes points without it, no error, nothing to count */
    Fixture d;
    make_layout(&d, 59, 0, 1, 0);
    char pd[512], old[512];
    path_in_dir(pd, sizeof pd, "kernel-d.h5");
    path_in_dir(old, sizeof old, "kernel-old.h5");
    st = open_ok(pd, &d.layout, STORE_SERIAL, STORE_FRESH);
    make_summary(&sum, 0, RUN_DONE, 1.0);
    t = make_traj(0);
    make_worker(&w, 0);
    w.blas_kernel[0] = '\0'; /* unrecorded, as the old writer left it */
    assert_int_equal(store_write_point(st, 0, &sum, t, &w, NULL), ADV_OK);
    close_ok(&st);
    copy_without(pd, old, "worker/blas_kernel");
    st = open_ok(old, &d.layout, STORE_SERIAL, STORE_RESUME);
    assert_int_equal(store_other_kernels(st, "Zen", &n, names, sizeof names), ADV_OK);
    assert_int_equal(n, 0);
    assert_string_equal(names, "");
    make_worker(&w, 1);
    make_summary(&sum, 1, RUN_DONE, 1.0);
    trajectory_destroy(&t);
    t = make_traj(1);
    assert_int_equal(store_write_point(st, 1, &sum, t, &w, NULL), ADV_OK);
    trajectory_destroy(&t);
    close_ok(&st);
    f = open_ro(old);
    assert_int_equal(H5Lexists(f, "worker/blas_kernel", H5P_DEFAULT), 0);
    H5Fclose(f);
    assert_int_equal(verify_count(old, &first), 0);
    assert_no_tmp_files();
}

static void write_data_file(const char *path, int x_rank, hsize_t n, hsize_t d, hsize_t ny, int y_int, int with_y) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t xd[2] = {n, d};
    hid_t sp = H5Screate_simple(x_rank, xd, NULL);
    hid_t ds = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double *x = calloc(n * d, sizeof(double));
    for (hsize_t k = 0; k < n * d; k++) x[k] = 0.25 * (double)k;
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    free(x);
    H5Dclose(ds);
    H5Sclose(sp);
    if (with_y) {
        sp = H5Screate_simple(1, &ny, NULL);
        ds = H5Dcreate2(f, "y", y_int ? H5T_STD_I32LE : H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int32_t *y = calloc(ny, sizeof(int32_t));
        for (hsize_t k = 0; k < ny; k++) y[k] = k % 2 ? 1 : -1;
        H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
        free(y);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

static void read_data_fails(const char *path, const char *expect) {
    double *X = (double *)1, *y = (double *)1;
    long n = 5, d = 5;
    int rc = store_read_data(path, &X, &y, &n, &d);
    if (rc != ADV_ERR_INPUT || !strstr(adv_errmsg(), expect))
        print_error("%s: got %d '%s', want '%s'\n", path, rc, adv_errmsg(), expect);
    assert_int_equal(rc, ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), expect));
    assert_null(X);
    assert_null(y);
}

static void test_read_data(void **state) {
    (void)state;
    char path[512];
    path_in_dir(path, sizeof path, "data.h5");
    write_data_file(path, 2, 4, 3, 4, 1, 1);
    double *X = NULL, *y = NULL;
    long n = 0, d = 0;
    assert_int_equal(store_read_data(path, &X, &y, &n, &d), ADV_OK);
    assert_int_equal(n, 4);
    assert_int_equal(d, 3);
    for (long k = 0; k < 12; k++) assert_true(X[k] == 0.25 * (double)k);
    for (long k = 0; k < 4; k++) assert_true(y[k] == (k % 2 ? 1.0 : -1.0));
    free(X);
    free(y);

    write_data_file(path, 2, 4, 3, 5, 0, 1);
    read_data_fails(path, "/y has shape (5)");
    write_data_file(path, 1, 4, 3, 4, 0, 1);
    read_data_fails(path, "/x has rank 1");
    write_data_file(path, 2, 4, 3, 4, 0, 0);
    read_data_fails(path, "no dataset /y");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    read_data_fails(path, "no dataset /x");
    write_text_file(path, "x,y\n1,2\n");
    read_data_fails(path, "not an HDF5 file");
    char missing[512];
    path_in_dir(missing, sizeof missing, "nothere.h5");
    read_data_fails(missing, "no such file");
}

/* Beyond the 64 KiB header-message limit of compact attributes. */
static void test_long_job_text(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 52, 0, 1, 0);
    size_t len = 100000;
    char *text = malloc(len + 1);
    for (size_t k = 0; k < len; k++) text[k] = k % 61 == 60 ? '\n' : (char)('a' + k % 26);
    text[len] = '\0';
    fx.layout.job_text = text;
    char path[512];
    path_in_dir(path, sizeof path, "long.h5");
    Store *st = open_ok(path, &fx.layout, STORE_SERIAL, STORE_FRESH);
    write_point(st, 0, 0.0, 0);
    close_ok(&st);
    hid_t f = open_ro(path);
    assert_attr_str(f, "job_text", text);
    check_point(f, 0, 0.0, 0);
    H5Fclose(f);
    free(text);
}

/* The serial part never initialised MPI (the parallel HDF5 is fine without it). */
static void test_no_mpi_needed(void **state) {
    (void)state;
    int initialized = 1;
    MPI_Initialized(&initialized);
    assert_int_equal(initialized, 0);
}

/* ==== MPI part ======================================================================== */

static void bcast_dir(void) { MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, MPI_COMM_WORLD); }

/* Every rank writes the points i % size == rank, independently. */
static void test_mpi_write(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 60, 0, 1, 1);
    char path[512];
    path_in_dir(path, sizeof path, "mpi.h5");
    Store *st = open_ok(path, &fx.layout, comm_world(), STORE_FRESH);
    assert_int_equal(store_points(st), P);
    for (long i = g_rank; i < P; i += g_size) write_point(st, i, 0.75, 1);
    close_ok(&st);
    MPI_Barrier(MPI_COMM_WORLD);
    hid_t f = open_ro(path);
    for (long i = 0; i < P; i++) check_point(f, i, 0.75, 1);
    char *mpiver = attr_str(f, "mpi_version");
    assert_true(strlen(mpiver) > 0);
    free(mpiver);
    assert_int_equal(attr_i64(f, "ranks"), g_size);
    H5Fclose(f);
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Resume keeps the points; retry resets failed/diverged on every rank's copy. */
static void test_mpi_resume_reset(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 60, 0, 1, 1);
    char path[512];
    path_in_dir(path, sizeof path, "mpi.h5");
    Store *st = open_ok(path, &fx.layout, comm_world(), STORE_RESUME);
    for (long i = 0; i < P; i++) assert_int_equal(store_status(st)[i], status_of_point(i));
    long count = -1;
    assert_int_equal(store_reset_failed(st, NULL, &count), ADV_OK);
    assert_int_equal(count, 3);
    for (long i = 0; i < P; i++)
        assert_int_equal(store_status(st)[i], status_of_point(i) == RUN_DONE ? RUN_DONE : RUN_PENDING);
    /* rerun them on the last rank */
    if (g_rank == g_size - 1)
        for (long i = 0; i < P; i++)
            if (status_of_point(i) != RUN_DONE) write_point(st, i, 0.75, 1);
    close_ok(&st);
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0) {
        hid_t f = open_ro(path);
        for (long i = 0; i < P; i++) check_point(f, i, 0.75, 1);
        H5Fclose(f);
        StoreStatus s;
        assert_int_equal(store_status_of(path, &s), ADV_OK);
        assert_int_equal(s.counts[RUN_DONE], 4);
        assert_int_equal(s.counts[RUN_PENDING], 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Refusals reach every rank with the same message; files untouched. */
static void test_mpi_refusals(void **state) {
    (void)state;
    Fixture fx;
    make_layout(&fx, 61, 0, 1, 0);
    char path[512], text[512];
    path_in_dir(path, sizeof path, "mpi.h5");
    path_in_dir(text, sizeof text, "mpi-notes.h5");
    if (g_rank == 0) write_text_file(text, "notes\n");
    MPI_Barrier(MPI_COMM_WORLD);
    size_t len, tlen;
    unsigned char *before = slurp(path, &len), *tbefore = slurp(text, &tlen);
    Store *st = NULL;
    assert_int_equal(store_open(&st, path, &fx.layout, comm_world(), STORE_RESUME), ADV_ERR_INPUT);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "lacks 7 of this job's 7 points"));
    assert_non_null(strstr(adv_errmsg(), "--extend"));
    assert_int_equal(store_open(&st, text, &fx.layout, comm_world(), STORE_RESUME), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "not an HDF5 file"));
    MPI_Barrier(MPI_COMM_WORLD);
    assert_true(same_bytes(before, len, path));
    assert_true(same_bytes(tbefore, tlen, text));
    free(before);
    free(tbefore);
    /* STORE_FRESH never replaces the text file (it replaces sweep files: test_resume_and_refusals) */
    tbefore = slurp(text, &tlen);
    assert_int_equal(store_open(&st, text, &fx.layout, comm_world(), STORE_FRESH), ADV_ERR_INPUT);
    assert_null(st);
    assert_non_null(strstr(adv_errmsg(), "not an advsweep sweep file"));
    MPI_Barrier(MPI_COMM_WORLD);
    assert_true(same_bytes(tbefore, tlen, text));
    free(tbefore);

    /* STORE_EXTEND, collectively: every rank gets rank 0's rows and writes its own new points */
    st = open_ok(path, &fx.layout, comm_world(), STORE_EXTEND);
    long P0 = store_points(st) - P;
    assert_int_equal(store_added(st), P);
    for (long i = 0; i < P; i++) assert_int_equal(store_rows(st)[i], P0 + i);
    long rows[P];
    for (long i = 0; i < P; i++) rows[i] = store_rows(st)[i];
    long all[P];
    MPI_Allreduce(rows, all, P, MPI_LONG, MPI_MAX, MPI_COMM_WORLD); /* the same on every rank */
    for (long i = 0; i < P; i++) assert_int_equal(all[i], rows[i]);
    for (long i = g_rank; i < P; i += g_size) {
        TrainSummary sum;
        make_summary(&sum, i, status_of_point(i), 4.0);
        Trajectory *t = make_traj(i);
        StoreWorker w;
        make_worker(&w, i);
        assert_int_equal(store_write_point(st, rows[i], &sum, t, &w, NULL), ADV_OK);
        trajectory_destroy(&t);
    }
    close_ok(&st);
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0) {
        hid_t f = open_ro(path);
        for (long i = 0; i < P; i++) check_point_at(f, P0 + i, i, 4.0, 0);
        for (long i = 0; i < P; i++) check_point(f, i, 0.75, 1); /* the file's own points, untouched */
        H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* ---- main ------------------------------------------------------------------------------ */

static void remove_dir(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

static void make_dir(void) {
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/test_store.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

int main(int argc, char **argv) {
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    int serial = argc > 1 && !strcmp(argv[1], "--serial");
    if (serial) {
        make_dir();
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_layout_of_new_file), cmocka_unit_test(test_write_points_serial),
            cmocka_unit_test(test_status_written_last), cmocka_unit_test(test_killed_writer),
            cmocka_unit_test(test_resume_and_refusals), cmocka_unit_test(test_checksums), cmocka_unit_test(test_rekeyed_point_keeps_verifying),
            cmocka_unit_test(test_reset_failed_serial), cmocka_unit_test(test_checkpoints),
            cmocka_unit_test(test_status_of),           cmocka_unit_test(test_merge_shards),
            cmocka_unit_test(test_merge_overlap),
        cmocka_unit_test(test_extend),       cmocka_unit_test(test_blas_kernels),
            cmocka_unit_test(test_read_data),
            cmocka_unit_test(test_long_job_text),       cmocka_unit_test(test_no_mpi_needed),
        };
        int failed = cmocka_run_group_tests_name("store (serial, no MPI)", tests, NULL, NULL);
        if (!failed) remove_dir();
        return failed;
    }
    MPI_Init(&argc, &argv);
    g_mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_rank == 0) make_dir();
    bcast_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpi_write),
        cmocka_unit_test(test_mpi_resume_reset),
        cmocka_unit_test(test_mpi_refusals),
    };
    char name[64];
    snprintf(name, sizeof name, "store (MPI rank %d of %d)", g_rank, g_size);
    int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (g_rank == 0 && !any) remove_dir();
    MPI_Finalize();
    return any;
}
