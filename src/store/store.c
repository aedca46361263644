/* store.c — the sweep file's writer (docs/layout.md): create or resume, write
 * points independently from any rank, reset failed points, close.
 *
 * Creation is serial: rank 0 builds the whole file (every dataset allocated
 * early, with fill values, all parameters and the params part of /runs)
 * under PATH.tmp.PID with the sec2 driver, closes it, fsyncs it and renames
 * it into place. Then every rank opens it (MPI-IO, or sec2 with STORE_SERIAL)
 * and from then on only raw rows are written, each point's /status last; no
 * metadata changes, so a kill at any moment leaves a readable file.
 *
 * Uses MPI only through what parallel HDF5 brings along (hdf5.h includes
 * mpi.h); never in STORE_SERIAL mode, which works without MPI_Init. Must not
 * print: errors go through adv_err.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "internal.h"

struct Store {
    char *path;
    hid_t file;
    int parallel;     /* 0: STORE_SERIAL (sec2), 1: MPI-IO on comm */
    MPI_Comm comm;    /* MPI_COMM_NULL when serial */
    int rank, size;
    long P, K, E, Q;  /* points, trajectory records, evaluations, targets */
    long Nw, Nf, N, D; /* optional /weights and /data sizes (0 when absent) */
    int8_t *status;   /* (P) this process's copy of /status */
    long *rows;       /* (n_layout) the file row of each layout point */
    long n_layout, added;
    RunsType runs;    /* native row type of /runs */
    unsigned char *row; /* (runs.size) scratch row */
    hid_t t_reason, t_host, t_kernel; /* string types */
    hid_t *t_summary;               /* (N_SUMMARY_FIELDS) native types */
    hid_t d_status, d_reason, d_runs;
    hid_t *d_summary;               /* (N_SUMMARY_FIELDS) */
    hid_t d_traj[N_TRAJ], d_traj_len;
    hid_t d_eval[N_EVAL], d_eval_len;
    hid_t d_wrank, d_whost, d_wthreads;
    hid_t d_wkernel;                /* /worker/blas_kernel (H5I_INVALID_HID in files written before it) */
    hid_t d_tau, d_tstep, d_toutcome;
    hid_t d_w0, d_w, d_fixed, d_x, d_y; /* H5I_INVALID_HID when absent */
    StoreLock *lock;     /* rank 0: the file's writer lock, held from before any change until closed */
    hid_t d_checksum;    /* H5I_INVALID_HID in files written before checksums */
    ChecksumSet *cs;     /* the rows a checksum covers (NULL without /checksum) */
    long damaged_reset;  /* damaged points reset to pending by STORE_RETRY_DAMAGED */
    hid_t d_key;         /* /plan/key (H5I_INVALID_HID in files without keys) */
};

/* ---- small helpers ------------------------------------------------------------------ */

static long at_least_one(long v) { return v > 0 ? v : 1; }

static void hash_text(char buf[17], uint64_t hash) { snprintf(buf, 17, "%016llx", (unsigned long long)hash); }

static void now_iso8601(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void mpi_version(char *buf, size_t len) {
    int initialized = 0, finalized = 0;
    buf[0] = '\0';
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return;
    char text[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int n = 0;
    MPI_Get_library_version(text, &n);
    text[strcspn(text, "\r\n")] = '\0';
    snprintf(buf, len, "%s", text);
}

/* Copy the current message before wrapping it (adv_errmsg's buffer is reused). */
static int rewrap(int code, const char *suffix) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", adv_errmsg());
    return adv_err(code, "%s%s", msg, suffix);
}

/* Collective: rank 0's rc (and message) on every rank. */
static int share_rc(MPI_Comm comm, int rc) {
    struct {
        int rc;
        char msg[1000];
    } m;
    memset(&m, 0, sizeof m);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        m.rc = rc;
        snprintf(m.msg, sizeof m.msg, "%s", adv_errmsg());
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, 0, comm);
    if (rank != 0 && m.rc != ADV_OK) adv_err(m.rc, "%s", m.msg);
    return m.rc;
}

/* Collective: the largest rc of all ranks; ranks that were fine name the problem. */
static int agree_rc(MPI_Comm comm, int rc, const char *path) {
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm);
    if (worst != ADV_OK && rc == ADV_OK) adv_err(worst, "%s: another rank failed to open the file", path);
    return worst;
}

/* ---- creation (serial, rank 0) ---------------------------------------------------------- */

/* A contiguous dataset allocated at creation. `fill` (in `mtype`) is written
 * everywhere at allocation; NULL: no fill (the caller writes every element). */
static int create_dataset(hid_t *out, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                          const hsize_t *dims, const void *fill) {
    int rc = ADV_OK;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    H5TRY(space = H5Screate_simple(rank, dims, NULL), "cannot make the dataspace of /%s", name);
    H5TRY(dcpl = H5Pcreate(H5P_DATASET_CREATE), "cannot make a property list");
    H5TRY(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "cannot set the layout of /%s", name);
    H5TRY(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "cannot set the allocation of /%s", name);
    if (fill) {
        /* An empty string is HDF5's own default fill (zeros): leave it undefined, since netCDF
         * 4.9.0 crashes opening a file with a string dataset whose fill value is user-defined. */
        int default_fill = H5Tget_class(mtype) == H5T_STRING;
        for (size_t k = 0, n = H5Tget_size(mtype); default_fill && k < n; k++)
            default_fill = ((const unsigned char *)fill)[k] == 0;
        if (!default_fill) H5TRY(H5Pset_fill_value(dcpl, mtype, fill), "cannot set the fill value of /%s", name);
        H5TRY(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC), "cannot set the fill time of /%s", name);
    } else {
        H5TRY(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "cannot set the fill time of /%s", name);
    }
    H5TRY(ds = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "cannot create /%s", name);
    if (out) {
        *out = ds;
        ds = H5I_INVALID_HID;
    }
cleanup:
    h5_close(&ds);
    h5_close(&dcpl);
    h5_close(&space);
    return rc;
}

/* A (P) dataset written completely from buf. */
static int create_written(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t P, const void *buf) {
    int rc = ADV_OK;
    hid_t ds = H5I_INVALID_HID;
    CHECK(create_dataset(&ds, loc, name, ftype, mtype, 1, &P, NULL));
    H5TRY(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "cannot write /%s", name);
cleanup:
    h5_close(&ds);
    return rc;
}

static int create_group(hid_t file, const char *name) {
    int rc = ADV_OK;
    hid_t g = H5I_INVALID_HID;
    H5TRY(g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "cannot create group /%s", name);
cleanup:
    h5_close(&g);
    return rc;
}

uint64_t store_keys_fingerprint(const char (*keys)[STORE_KEY_HEX + 1], long P) {
    AdvHash128 h = {0, 0};
    for (long i = 0; i < P; i++) adv_hash128_update(&h, keys[i], STORE_KEY_HEX);
    char hex[STORE_KEY_HEX + 1];
    adv_hash128_hex(&h, hex);
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) v = v << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return v;
}

static int write_root_attributes(hid_t file, const StoreLayout *l, long K, long E,
                                 const char (*keys)[STORE_KEY_HEX + 1]) {
    char hash[17], created[32], h5ver[32], mpiver[256];
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(h5ver, sizeof h5ver, "%u.%u.%u", maj, min, rel);
    hash_text(hash, store_keys_fingerprint(keys, l->n_points)); /* the file's rows, by key */
    now_iso8601(created, sizeof created);
    mpi_version(mpiver, sizeof mpiver);
    TRY(h5_attr_write_i64(file, A_LAYOUT_VERSION, STORE_LAYOUT_VERSION));
    TRY(h5_attr_write_str(file, A_TOOL, TOOL_NAME));
    TRY(h5_attr_write_str(file, A_TOOL_VERSION, ADVSWEEP_VERSION));
    TRY(h5_attr_write_str(file, A_JOB_TEXT, l->job_text));
    TRY(h5_attr_write_str(file, A_JOB_NAME, l->job_name));
    TRY(h5_attr_write_str(file, A_GRID_HASH, hash));
    TRY(h5_attr_write_str(file, A_CREATED, created));
    TRY(h5_attr_write_i64(file, A_N_POINTS, l->n_points));
    TRY(h5_attr_write_i64(file, A_RECORDS_MAX, K));
    TRY(h5_attr_write_i64(file, A_EVALS_MAX, E));
    TRY(h5_attr_write_str(file, A_AXES, l->axes));
    TRY(h5_attr_write_i64(file, A_SHARD_INDEX, l->shard_index));
    TRY(h5_attr_write_i64(file, A_SHARD_COUNT, l->shard_count));
    TRY(h5_attr_write_str(file, A_HDF5_VERSION, h5ver));
    TRY(h5_attr_write_str(file, A_MPI_VERSION, mpiver));
    TRY(h5_attr_write_str(file, A_BLAS_VERSION, l->blas_version));
    TRY(h5_attr_write_str(file, A_BLAS_KERNEL, l->blas_kernel));
    TRY(h5_attr_write_i64(file, A_OMP_THREADS, l->omp_threads));
    TRY(h5_attr_write_i64(file, A_RANKS, l->ranks));
    TRY(h5_attr_write_i64(file, A_TARGETS_MAX, at_least_one(l->targets_max)));
    TRY(h5_attr_write_i64(file, A_NUMERICS_VERSION, ADVSWEEP_NUMERICS_VERSION));
    return ADV_OK;
}

/* Every /params/NAME, every /summary/NAME, /plan/flops, /plan/key and the /runs rows. */
static int create_point_tables(hid_t file, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1]) {
    int rc = ADV_OK;
    hsize_t P = (hsize_t)l->n_points;
    hid_t ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    RunsType frt = {.type = H5I_INVALID_HID}, mrt = {.type = H5I_INVALID_HID};
    unsigned char *buf = NULL;

    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        size_t bytes = param_bytes(p);
        char name[128];
        snprintf(name, sizeof name, "%s/%s", G_PARAMS, p->name);
        buf = xcalloc(P, bytes);
        for (hsize_t k = 0; k < P; k++) param_pack(buf + k * bytes, &l->configs[k], p);
        H5TRY(ftype = param_type(p, 0), "cannot make the type of /%s", name);
        H5TRY(mtype = param_type(p, 1), "cannot make the type of /%s", name);
        CHECK(create_written(file, name, ftype, mtype, P, buf));
        h5_close(&mtype);
        h5_close(&ftype);
        free(buf);
        buf = NULL;
    }
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        const SummaryField *f = &SUMMARY_FIELDS[j];
        char name[128];
        unsigned char fill[512];
        snprintf(name, sizeof name, "%s/%s", G_SUMMARY, f->name);
        if (summary_bytes(f) > sizeof fill) {
            rc = adv_err(ADV_ERR_INTERNAL, "summary field %s is too large", f->name);
            goto cleanup;
        }
        summary_fill(fill, f);
        H5TRY(ftype = summary_type(f, 0), "cannot make the type of /%s", name);
        H5TRY(mtype = summary_type(f, 1), "cannot make the type of /%s", name);
        CHECK(create_dataset(NULL, file, name, ftype, mtype, 1, &P, fill));
        h5_close(&mtype);
        h5_close(&ftype);
    }
    {
        double *flops = xcalloc(P, sizeof(double));
        for (hsize_t k = 0; k < P; k++) flops[k] = l->cost_flops ? l->cost_flops[k] : NAN;
        rc = create_written(file, D_PLAN_FLOPS, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, P, flops);
        free(flops);
        if (rc != ADV_OK) goto cleanup;
        int64_t *rep = xcalloc(P, sizeof(int64_t));
        for (hsize_t k = 0; k < P; k++) rep[k] = l->trained_as ? (int64_t)l->trained_as[k] : (int64_t)k;
        rc = create_written(file, D_PLAN_TRAINED_AS, H5T_STD_I64LE, H5T_NATIVE_INT64, P, rep);
        free(rep);
        if (rc != ADV_OK) goto cleanup;
        H5TRY(ftype = h5_str_type(STORE_KEY_HEX + 1), "cannot make a string type");
        CHECK(create_written(file, D_PLAN_KEY, ftype, ftype, P, keys));
        h5_close(&ftype);
    }
    /* /runs: index, pending status, parameters, summary fill values; in blocks of rows. */
    CHECK(runs_type_build(&frt, 0));
    CHECK(runs_type_build(&mrt, 1));
    CHECK(create_dataset(&ds, file, D_RUNS, frt.type, mrt.type, 1, &P, NULL));
    H5TRY(fspace = H5Dget_space(ds), "cannot read the shape of /%s", D_RUNS);
    const hsize_t block = 4096;
    buf = xcalloc(block, mrt.size);
    for (hsize_t a = 0; a < P; a += block) {
        hsize_t n = P - a < block ? P - a : block;
        memset(buf, 0, n * mrt.size);
        for (hsize_t k = 0; k < n; k++) {
            unsigned char *row = buf + k * mrt.size;
            int64_t index = (int64_t)(a + k);
            memcpy(row + mrt.off_index, &index, 8);
            for (int i = 0; i < N_PARAMS; i++) param_pack(row + mrt.off_param[i], &l->configs[a + k], &PARAMS[i]);
            runs_pack_summary(&mrt, row, NULL);
        }
        H5TRY(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &a, NULL, &n, NULL), "cannot select rows of /%s", D_RUNS);
        H5TRY(mspace = H5Screate_simple(1, &n, NULL), "cannot make a dataspace");
        H5TRY(H5Dwrite(ds, mrt.type, mspace, fspace, H5P_DEFAULT, buf), "cannot write /%s", D_RUNS);
        h5_close(&mspace);
    }
cleanup:
    free(buf);
    runs_type_free(&mrt);
    runs_type_free(&frt);
    h5_close(&mspace);
    h5_close(&fspace);
    h5_close(&ds);
    h5_close(&mtype);
    h5_close(&ftype);
    return rc;
}

static int create_matrices(hid_t file, const StoreLayout *l, long K, long E) {
    int rc = ADV_OK;
    hsize_t P = (hsize_t)l->n_points;
    const int64_t minus1_64 = -1;
    const int32_t minus1_32 = -1, zero32 = 0;
    const int8_t pending = RUN_PENDING;
    const double nan = NAN;
    char name[128];
    hid_t reason = H5I_INVALID_HID, host = H5I_INVALID_HID, kernel = H5I_INVALID_HID;
    char empty[REASON_BYTES > HOST_BYTES ? REASON_BYTES : HOST_BYTES] = {0};

    CHECK(create_dataset(NULL, file, D_STATUS, H5T_STD_I8LE, H5T_NATIVE_INT8, 1, &P, &pending));
    H5TRY(reason = h5_str_type(REASON_BYTES), "cannot make a string type");
    CHECK(create_dataset(NULL, file, D_REASON, reason, reason, 1, &P, empty));
    for (int g = 0; g < 2; g++) {
        const char *group = g == 0 ? G_TRAJ : G_EVAL;
        const char *const *names = g == 0 ? TRAJ_NAMES : EVAL_NAMES;
        int count = g == 0 ? N_TRAJ : N_EVAL;
        hsize_t dims[2] = {P, (hsize_t)(g == 0 ? K : E)};
        for (int k = 0; k < count; k++) {
            snprintf(name, sizeof name, "%s/%s", group, names[k]);
            if (k == 0) CHECK(create_dataset(NULL, file, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 2, dims, &minus1_64));
            else CHECK(create_dataset(NULL, file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, &nan));
        }
        CHECK(create_dataset(NULL, file, g == 0 ? D_TRAJ_LENGTH : D_EVAL_LENGTH, H5T_STD_I32LE, H5T_NATIVE_INT32, 1,
                             &P, &zero32));
    }
    CHECK(create_dataset(NULL, file, D_WORKER_RANK, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &P, &minus1_32));
    H5TRY(host = h5_str_type(HOST_BYTES), "cannot make a string type");
    CHECK(create_dataset(NULL, file, D_WORKER_HOST, host, host, 1, &P, empty));
    CHECK(create_dataset(NULL, file, D_WORKER_THREADS, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &P, &zero32));
    H5TRY(kernel = h5_str_type(KERNEL_BYTES), "cannot make a string type");
    CHECK(create_dataset(NULL, file, D_WORKER_BLAS_KERNEL, kernel, kernel, 1, &P, empty));
    const uint64_t no_checksum = 0;
    CHECK(create_dataset(NULL, file, D_CHECKSUM, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, &P, &no_checksum));
    hsize_t targets[2] = {P, (hsize_t)at_least_one(l->targets_max)};
    const int8_t minus1_8 = -1;
    CHECK(create_group(file, G_TARGETS));
    CHECK(create_dataset(NULL, file, D_TARGETS_TAU, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, targets, &nan));
    CHECK(create_dataset(NULL, file, D_TARGETS_STEP, H5T_STD_I64LE, H5T_NATIVE_INT64, 2, targets, &minus1_64));
    CHECK(create_dataset(NULL, file, D_TARGETS_OUTCOME, H5T_STD_I8LE, H5T_NATIVE_INT8, 2, targets, &minus1_8));
    if (l->store_weights) {
        hsize_t w[2] = {P, (hsize_t)at_least_one(l->weights_max)};
        hsize_t f[2] = {P, (hsize_t)at_least_one(l->fixed_max)};
        hsize_t x[3] = {P, (hsize_t)at_least_one(l->data_n_max), (hsize_t)at_least_one(l->data_d_max)};
        CHECK(create_group(file, G_WEIGHTS));
        CHECK(create_group(file, G_DATA));
        CHECK(create_dataset(NULL, file, D_WEIGHTS_W0, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, w, &nan));
        CHECK(create_dataset(NULL, file, D_WEIGHTS_W, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, w, &nan));
        CHECK(create_dataset(NULL, file, D_WEIGHTS_FIXED, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, f, &nan));
        CHECK(create_dataset(NULL, file, D_DATA_X, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, x, &nan));
        CHECK(create_dataset(NULL, file, D_DATA_Y, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, x, &nan));
    }
cleanup:
    h5_close(&kernel);
    h5_close(&host);
    h5_close(&reason);
    return rc;
}

/* The bytes of the datasets store_build_file makes (contiguous, allocated at creation). */
static double layout_bytes(const StoreLayout *l, long K, long E) {
    double row = 1 + REASON_BYTES + 8 + 8 + 12 + 8 + STORE_KEY_HEX + 1; /* status, reason, plan, runs index and
                                                                         status, checksum, key */
    for (int i = 0; i < N_PARAMS; i++) row += 2.0 * (double)param_bytes(&PARAMS[i]); /* params and runs */
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) row += 2.0 * (double)summary_bytes(&SUMMARY_FIELDS[j]);
    row += 8.0 * (N_TRAJ * (double)K + N_EVAL * (double)E) + 8 + 4 + HOST_BYTES + 4 + KERNEL_BYTES;
    row += 17.0 * (double)at_least_one(l->targets_max);
    if (l->store_weights)
        row += 8.0 * (2.0 * (double)at_least_one(l->weights_max) + (double)at_least_one(l->fixed_max) +
                      (double)at_least_one(l->data_n_max) * ((double)at_least_one(l->data_d_max) + 1));
    return row * (double)l->n_points;
}

/* Room for the metadata HDF5 writes when the file is flushed: object headers (a few
 * hundred bytes per dataset, aggregated in 2 KiB blocks), group tables, the job text,
 * with a margin of about 2 (the layout's files hold 10-30 KiB of metadata). */
static double metadata_bytes(const StoreLayout *l) {
    return 16.0 * 1024 + 2.0 * (double)(l->job_text ? strlen(l->job_text) : 0) +
           1280.0 * (N_PARAMS + N_SUMMARY_FIELDS + 40); /* 256 of them for the dimension-scale attributes */
}

int store_build_file(const char *tmp, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1]) {
    int rc = ADV_OK;
    long K = at_least_one(l->records_max), E = at_least_one(l->evals_max);
    hid_t fapl = H5I_INVALID_HID, fcpl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    char *reserve = NULL;
    CHECK(store_reserve(tmp, layout_bytes(l, K, E), metadata_bytes(l), &reserve));
    H5TRY(fapl = h5_fapl_serial(), "cannot set up file access");
    H5TRY(fcpl = H5Pcreate(H5P_FILE_CREATE), "cannot make a property list");
    /* A job text beyond the 64 KiB object-header message limit needs dense attribute storage. */
    if (l->job_text && strlen(l->job_text) > 32 * 1024) {
        H5TRY(H5Pset_attr_phase_change(fcpl, 0, 0), "cannot set dense attribute storage");
        H5TRY(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18), "cannot set the file format");
    }
    H5TRY(file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl), "cannot create the file");
    CHECK(write_root_attributes(file, l, K, E, keys));
    CHECK(checksum_mark_version(file)); /* the rule its checksums follow (and an extended or merged file's) */
    /* /status first: its storage comes first in the file. */
    CHECK(create_group(file, G_PARAMS));
    CHECK(create_group(file, G_SUMMARY));
    CHECK(create_group(file, G_TRAJ));
    CHECK(create_group(file, G_EVAL));
    CHECK(create_group(file, G_WORKER));
    CHECK(create_group(file, G_PLAN));
    CHECK(create_matrices(file, l, K, E));
    CHECK(create_point_tables(file, l, keys));
    CHECK(store_attach_dims(file, l)); /* a netCDF-4 view: xarray.open_dataset(F, engine="h5netcdf") */
    /* The metadata is written now, into the room the reserve kept free. (A metadata flush
     * that fails poisons the file id for good: even the close fails and HDF5 crashes at exit.) */
    store_reserve_drop(&reserve);
    H5TRY(H5Fflush(file, H5F_SCOPE_LOCAL), "%s: cannot write", tmp);
    H5TRY(H5Fclose(file), "%s: cannot close", tmp);
    file = H5I_INVALID_HID;
cleanup:
    if (file >= 0) {
        /* A failed build (disk full) leaves dirty metadata that the close must write: give it
         * the reserve's room and the raw data's (the file is discarded), then close for good. */
        store_reserve_drop(&reserve);
        if (truncate(tmp, 0) != 0) { /* nothing more to do: the close below still runs */
        }
        H5Fclose(file);
        H5Eclear2(H5E_DEFAULT);
        file = H5I_INVALID_HID;
    }
    store_reserve_drop(&reserve);
    h5_close(&fcpl);
    h5_close(&fapl);
    return rc;
}

/* Build the complete file under a temporary name and rename it to `path`. */
static int create_file(const char *path, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1]) {
    char *tmp = store_tmp_name(path);
    int rc = store_build_file(tmp, l, keys);
    if (rc == ADV_OK) rc = store_publish(tmp, path);
    if (rc != ADV_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        if (strncmp(msg, tmp, strlen(tmp)) != 0 && strncmp(msg, path, strlen(path)) != 0)
            adv_err(rc, "%s: %s", path, msg);
    }
    if (rc != ADV_OK) unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- resume and extend (serial, rank 0) ----------------------------------------------- */

/* Does the file have room for the layout's rows? (0 and a message naming what is short) */
static int has_room(const FilePoints *fp, const StoreLayout *l, char *why, size_t len) {
    struct {
        const char *what;
        hsize_t have, need;
    } rows[] = {
        {"trajectory records", fp->K, (hsize_t)at_least_one(l->records_max)},
        {"evaluations", fp->E, (hsize_t)at_least_one(l->evals_max)},
        {"targets", fp->Q, (hsize_t)at_least_one(l->targets_max)},
        {"trained weights", fp->Nw, l->store_weights ? (hsize_t)at_least_one(l->weights_max) : 0},
        {"fixed weights", fp->Nf, l->store_weights ? (hsize_t)at_least_one(l->fixed_max) : 0},
        {"data rows", fp->N, l->store_weights ? (hsize_t)at_least_one(l->data_n_max) : 0},
        {"data columns", fp->D, l->store_weights ? (hsize_t)at_least_one(l->data_d_max) : 0},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        if (rows[k].have < rows[k].need) {
            if (rows[k].have == 0 && k >= 3) snprintf(why, len, "it was created without stored weights");
            else
                snprintf(why, len, "it has room for %llu %s per point, this job needs %llu", (unsigned long long)rows[k].have,
                         rows[k].what, (unsigned long long)rows[k].need);
            return 0;
        }
    return 1;
}

static void label_of(char *buf, size_t len, const StoreLayout *l, long i) {
    char text[256] = "";
    if (l->label) l->label(text, sizeof text, i, l->label_ctx);
    if (text[0]) snprintf(buf, len, "point %ld (%s)", i, text);
    else snprintf(buf, len, "point %ld", i);
}

/* Every finished point of the file must still hold what was written (its
 * checksum): a damaged one is refused, never resumed over silently, unless
 * the run was asked to redo them (*damaged: P flags, the caller frees). */
static int check_damaged(const char *path, const FilePoints *fp, int retry, unsigned char **damaged) {
    unsigned char *flags = xcalloc((size_t)fp->P + 1, 1);
    long n_damaged = 0, n_checked = 0;
    int has = 0;
    int rc = checksum_verify(fp->file, path, fp->P, fp->status, flags, &n_damaged, &n_checked, &has);
    if (rc == ADV_OK && n_damaged && !retry) {
        char list[160];
        checksum_list(list, sizeof list, flags, fp->P, n_damaged);
        rc = adv_err(ADV_ERR_IO,
                     "%s: %ld finished point%s damaged (%s: the rows no longer match the checksum); rerun %s with "
                     "--retry-damaged (advsweep status --verify lists them)",
                     path, n_damaged, n_damaged == 1 ? " is" : "s are", list, n_damaged == 1 ? "it" : "them");
    }
    if (rc == ADV_OK && n_damaged) {
        *damaged = flags;
        flags = NULL;
    }
    free(flags);
    return rc;
}

/* --retry-damaged: job points not found by key that a damaged row holds (its
 * /plan/key changed, its /params did not: they key to the job point). */
static int find_damaged(const FilePoints *fp, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1],
                        const unsigned char *damaged, long *map, long *rekey, long *n_rekey, long *missing,
                        long *first_missing) {
    KeyIndex *jobs = NULL;
    int rc = ADV_OK;
    key_index_build(&jobs, keys, l->n_points);
    for (long r = 0; rc == ADV_OK && r < fp->P; r++) {
        if (!damaged[r] || key_index_find(jobs, fp->key[r]) >= 0) continue;
        TrainConfig cfg;
        char k[1][STORE_KEY_HEX + 1];
        rc = file_points_configs(fp, r, 1, &cfg);
        if (rc == ADV_OK) rc = store_keys_of(k, &cfg, 1);
        long i = rc == ADV_OK ? key_index_find(jobs, k[0]) : -1;
        if (i >= 0 && map[i] < 0) {
            map[i] = r;
            rekey[(*n_rekey)++] = i;
            (*missing)--;
        }
    }
    key_index_destroy(&jobs);
    *first_missing = -1;
    for (long i = 0; i < l->n_points && *first_missing < 0; i++)
        if (map[i] < 0) *first_missing = i;
    return rc;
}

/* The existing file at `path`: check it can hold this layout, map the layout's
 * points to its rows by key, and extend it if asked and needed. */
static int open_existing(const char *path, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1], int mode,
                         int retry_damaged, long *map, long *added, unsigned char **damaged_out) {
    int rc = ADV_OK;
    FilePoints fp;
    KeyIndex *index = NULL;
    hid_t f = H5I_INVALID_HID;
    long *rekey = NULL;
    *added = 0;
    rc = file_points_open(&fp, path);
    if (rc == ADV_ERR_INPUT) /* --fresh replaces only a sweep file (an incomplete or newer one) */
        rc = rewrap(rc, h5_is_sweep(path) == 1 ? "; refusing to overwrite it (use --fresh to replace it)"
                                               : "; refusing to touch it (remove it yourself or choose another "
                                                 "output file with -o)");
    if (rc != ADV_OK) return rc;
    CHECK(file_points_check_numerics(&fp));
    CHECK(check_damaged(path, &fp, retry_damaged, damaged_out));
    if (fp.shard_index != l->shard_index || fp.shard_count != l->shard_count) {
        rc = adv_err(ADV_ERR_INPUT,
                     "%s holds shard %lld of %lld, not shard %d of %d; use the file of that shard, --fresh, or "
                     "another output file",
                     path, (long long)fp.shard_index, (long long)fp.shard_count, l->shard_index, l->shard_count);
        goto cleanup;
    }
    long dup = key_index_build(&index, (const char(*)[STORE_KEY_HEX + 1])fp.key, fp.P);
    if (dup >= 0) {
        rc = adv_err(ADV_ERR_INPUT, "%s: rows %ld and %ld hold the same point (key %s; a damaged file?)", path,
                     key_index_find(index, fp.key[dup]), dup, fp.key[dup]);
        goto cleanup;
    }
    long missing = 0, first_missing = -1, n_rekey = 0;
    rekey = xcalloc((size_t)l->n_points + 1, sizeof(long)); /* job points found under their "unreadable" key */
    for (long i = 0; i < l->n_points; i++) {
        map[i] = key_index_find(index, keys[i]);
        if (map[i] < 0 && l->configs[i].data == DATA_FILE) {
            /* A point whose data file could not be read when it was planned has no result that
             * depends on the contents (it failed, or never ran): it is this point. */
            char alt[STORE_KEY_HEX + 1];
            point_key(alt, &l->configs[i], "unreadable");
            long r = key_index_find(index, alt);
            if (r >= 0 && fp.status[r] != RUN_DONE && fp.status[r] != RUN_DIVERGED) {
                map[i] = r;
                rekey[n_rekey++] = i;
            }
        }
        if (map[i] < 0 && missing++ == 0) first_missing = i;
    }
    if (*damaged_out && missing) /* a damaged row whose /plan/key changed: found by its /params */
        CHECK(find_damaged(&fp, l, keys, *damaged_out, map, rekey, &n_rekey, &missing, &first_missing));
    char why[256] = "";
    int room = has_room(&fp, l, why, sizeof why);
    if (missing == 0 && room) {
        /* resume: the run records its own size (for status's ETA), in place, before any rank opens the file */
        long fp_P = fp.P;
        file_points_close(&fp);
        hid_t fapl = h5_fapl_serial();
        f = fapl < 0 ? fapl : H5Fopen(path, H5F_ACC_RDWR, fapl);
        if (fapl >= 0) H5Pclose(fapl);
        H5TRY(f, "%s: cannot open for writing", path);
        CHECK(h5_attr_update_i64(f, A_RANKS, l->ranks));
        CHECK(h5_attr_update_i64(f, A_OMP_THREADS, l->omp_threads));
        if (n_rekey) { /* the rows found under their "unreadable" key take the key of the readable file */
            hid_t ds = H5Dopen2(f, D_PLAN_KEY, H5P_DEFAULT), t = h5_str_type(STORE_KEY_HEX + 1);
            for (long k = 0; rc == ADV_OK && k < n_rekey; k++)
                rc = ds < 0 || t < 0 ? h5_fail(ADV_ERR_IO, "%s: cannot open /%s", path, D_PLAN_KEY)
                                     : h5_write_row(ds, map[rekey[k]], t, keys[rekey[k]], "/plan/key");
            if (ds >= 0) H5Dclose(ds);
            if (t >= 0) H5Tclose(t);
            CHECK(rc);
            long n_intact = 0; /* their rows: the key is covered (a damaged one is reset below) */
            for (long k = 0; k < n_rekey; k++)
                if (!*damaged_out || !(*damaged_out)[map[rekey[k]]]) rekey[n_intact++] = map[rekey[k]];
            CHECK(checksum_refresh_rows(f, path, fp_P, rekey, n_intact));
        }
        if (*damaged_out) /* rerun as the job's point: its parameters and key as the job has them */
            for (long i = 0; i < l->n_points; i++)
                if ((*damaged_out)[map[i]]) CHECK(checksum_restore_point(f, path, map[i], &l->configs[i], keys[i]));
        H5TRY(H5Fclose(f), "%s: cannot close", path);
        f = H5I_INVALID_HID;
        goto cleanup;
    }
    if (mode != STORE_EXTEND) {
        char example[320];
        if (missing) {
            char hint[1024];
            label_of(example, sizeof example, l, first_missing);
            file_points_missing_hint(hint, sizeof hint, &fp, l, map);
            rc = adv_err(ADV_ERR_INPUT,
                         "%s lacks %ld of this job's %ld points (e.g. %s)%s; add them with --extend (keeps every "
                         "result of the file), or use --fresh or another output file",
                         path, missing, l->n_points, example, hint);
        } else {
            rc = adv_err(ADV_ERR_INPUT,
                         "%s holds every point of this job but %s; rebuild it with --extend (keeps every result), or "
                         "use --fresh or another output file",
                         path, why);
        }
        goto cleanup;
    }
    CHECK(store_extend_file(path, l, keys, &fp, map));
    *added = missing;
cleanup:
    free(rekey);
    key_index_destroy(&index);
    file_points_close(&fp);
    h5_close(&f);
    return h5_in_file(rc, path);
}

static int check_layout(const StoreLayout *l) {
    if (!l || l->n_points < 1 || !l->configs)
        return adv_err(ADV_ERR_INTERNAL, "store_open: a layout with at least one point is needed");
    if (l->shard_count < 1 || l->shard_index < 0 || l->shard_index >= l->shard_count)
        return adv_err(ADV_ERR_INTERNAL, "store_open: bad shard %d of %d", l->shard_index, l->shard_count);
    return ADV_OK;
}

/* An existing file at `path` that we may replace: a sweep file (ours), never
 * anything else, --fresh or not. */
static int check_replaceable(const char *path) {
    int is = h5_is_sweep(path);
    if (is == 1) return ADV_OK;
    if (is == 0)
        return adv_err(ADV_ERR_INPUT,
                       "%s exists and is not an advsweep sweep file, which advsweep never replaces (remove it "
                       "yourself or choose another output file with -o)",
                       path);
    return rewrap(-is, "; refusing to replace it");
}

/* Rank 0: leave a file at `path` that this job can write into; map[i] = the row of point i;
 * *damaged (file rows; NULL when none) the damaged points to reset (retry_damaged). */
static int prepare_file(const char *path, const StoreLayout *l, int mode, int retry_damaged, long *map, long *added,
                        unsigned char **damaged) {
    TRY(check_layout(l));
    char (*keys)[STORE_KEY_HEX + 1] = xcalloc((size_t)l->n_points, sizeof *keys);
    int rc = store_keys_of(keys, l->configs, l->n_points);
    KeyIndex *index = NULL;
    if (rc == ADV_OK) {
        long dup = key_index_build(&index, (const char(*)[STORE_KEY_HEX + 1])keys, l->n_points);
        if (dup >= 0) {
            char a[320], b[320], why[1024];
            long first = key_index_find(index, keys[dup]);
            label_of(a, sizeof a, l, first);
            label_of(b, sizeof b, l, dup);
            store_same_point_why(why, sizeof why, &l->configs[first], &l->configs[dup]);
            rc = adv_err(ADV_ERR_INPUT, "%s and %s are the same point%s", a, b, why);
        }
        key_index_destroy(&index);
    }
    struct stat sb;
    *added = 0;
    if (rc == ADV_OK && stat(path, &sb) == 0 && mode == STORE_FRESH) rc = check_replaceable(path);
    if (rc == ADV_OK && mode != STORE_FRESH && stat(path, &sb) == 0) {
        rc = open_existing(path, l, (const char(*)[STORE_KEY_HEX + 1])keys, mode, retry_damaged, map, added, damaged);
    } else if (rc == ADV_OK) {
        checkpoint_prune(path, NULL, NULL); /* what an earlier file of this name left is not this file's */
        rc = create_file(path, l, (const char(*)[STORE_KEY_HEX + 1])keys);
        for (long i = 0; i < l->n_points; i++) map[i] = i;
    }
    free(keys);
    return rc;
}

int store_check_output(const char *path, const char *const *inputs, const char *const *roles, int n) {
    h5_init();
    for (int k = 0; k < n; k++)
        if (inputs[k] && adv_same_file(path, inputs[k]))
            return adv_err(ADV_ERR_INPUT, "output %s is the %s %s (the same file); choose another output file (-o)",
                           path, roles && roles[k] ? roles[k] : "input", inputs[k]);
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOTDIR) /* a file where a directory of the path should be */
        return adv_err(ADV_ERR_INPUT, "%s: cannot write there: a component of the path is not a directory", path);
    if (stat(path, &sb) == 0 || errno != ENOENT) return check_replaceable(path);
    return ADV_OK;
}

/* ---- open (every rank) ----------------------------------------------------------------- */

static int reset_damaged(Store *st, const unsigned char *damaged);
static void prune_checkpoints(Store *st);

static void store_free(Store *st) {
    if (!st) return;
    h5_close(&st->d_y);
    h5_close(&st->d_x);
    h5_close(&st->d_fixed);
    h5_close(&st->d_w);
    h5_close(&st->d_w0);
    h5_close(&st->d_toutcome);
    h5_close(&st->d_tstep);
    h5_close(&st->d_tau);
    h5_close(&st->d_wkernel);
    h5_close(&st->d_wthreads);
    h5_close(&st->d_whost);
    h5_close(&st->d_wrank);
    h5_close(&st->d_eval_len);
    for (int k = N_EVAL - 1; k >= 0; k--) h5_close(&st->d_eval[k]);
    h5_close(&st->d_traj_len);
    for (int k = N_TRAJ - 1; k >= 0; k--) h5_close(&st->d_traj[k]);
    if (st->d_summary)
        for (int j = N_SUMMARY_FIELDS - 1; j >= 0; j--) h5_close(&st->d_summary[j]);
    if (st->t_summary)
        for (int j = N_SUMMARY_FIELDS - 1; j >= 0; j--) h5_close(&st->t_summary[j]);
    h5_close(&st->d_runs);
    h5_close(&st->d_reason);
    checksum_close(&st->cs);
    h5_close(&st->d_key);
    h5_close(&st->d_checksum);
    h5_close(&st->d_status);
    h5_close(&st->t_kernel);
    h5_close(&st->t_host);
    h5_close(&st->t_reason);
    runs_type_free(&st->runs);
    free(st->d_summary);
    free(st->t_summary);
    free(st->status);
    free(st->rows);
    free(st->row);
    free(st->path);
    free(st);
}

static Store *store_alloc(const char *path) {
    Store *st = xcalloc(1, sizeof *st);
    st->path = xstrdup(path);
    st->comm = MPI_COMM_NULL;
    st->file = st->t_reason = st->t_host = st->t_kernel = H5I_INVALID_HID;
    st->runs.type = H5I_INVALID_HID;
    st->d_status = st->d_reason = st->d_runs = H5I_INVALID_HID;
    st->d_summary = xcalloc((size_t)N_SUMMARY_FIELDS, sizeof(hid_t));
    st->t_summary = xcalloc((size_t)N_SUMMARY_FIELDS, sizeof(hid_t));
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) st->d_summary[j] = st->t_summary[j] = H5I_INVALID_HID;
    for (int k = 0; k < N_TRAJ; k++) st->d_traj[k] = H5I_INVALID_HID;
    for (int k = 0; k < N_EVAL; k++) st->d_eval[k] = H5I_INVALID_HID;
    st->d_traj_len = st->d_eval_len = H5I_INVALID_HID;
    st->d_wrank = st->d_whost = st->d_wthreads = st->d_wkernel = H5I_INVALID_HID;
    st->d_tau = st->d_tstep = st->d_toutcome = H5I_INVALID_HID;
    st->d_w0 = st->d_w = st->d_fixed = st->d_x = st->d_y = H5I_INVALID_HID;
    st->d_checksum = st->d_key = H5I_INVALID_HID;
    return st;
}

static int open_ds(hid_t *out, const Store *st, const char *name) {
    *out = H5Dopen2(st->file, name, H5P_DEFAULT);
    if (*out < 0) return h5_fail(ADV_ERR_IO, "%s: cannot open /%s", st->path, name);
    return ADV_OK;
}

static int dim_of(const Store *st, const char *name, int k, long *out) {
    hsize_t dims[3] = {0};
    int rank = h5_dims(st->file, name, dims);
    if (rank <= k) return rank < 0 ? ADV_ERR_IO : adv_err(ADV_ERR_IO, "%s: /%s has rank %d", st->path, name, rank);
    *out = (long)dims[k];
    return ADV_OK;
}

/* Open the file for points and every dataset handle. */
static int open_handles(Store *st) {
    int rc = ADV_OK;
    hid_t fapl = H5I_INVALID_HID;
    char name[128];
    if (st->parallel) {
        H5TRY(fapl = H5Pcreate(H5P_FILE_ACCESS), "cannot make a property list");
        H5TRY(H5Pset_fapl_mpio(fapl, st->comm, MPI_INFO_NULL), "cannot set up MPI-IO");
        H5TRY(H5Pset_file_locking(fapl, 0, 1), "cannot disable file locking");
    } else {
        H5TRY(fapl = h5_fapl_serial(), "cannot set up file access");
    }
    H5TRY(st->file = H5Fopen(st->path, H5F_ACC_RDWR, fapl), "%s: cannot open for writing", st->path);
    CHECK(dim_of(st, D_STATUS, 0, &st->P));
    CHECK(dim_of(st, "traj/step", 1, &st->K));
    CHECK(dim_of(st, "eval/step", 1, &st->E));
    CHECK(open_ds(&st->d_status, st, D_STATUS));
    CHECK(open_ds(&st->d_reason, st, D_REASON));
    CHECK(open_ds(&st->d_runs, st, D_RUNS));
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        snprintf(name, sizeof name, "%s/%s", G_SUMMARY, SUMMARY_FIELDS[j].name);
        CHECK(open_ds(&st->d_summary[j], st, name));
        H5TRY(st->t_summary[j] = summary_type(&SUMMARY_FIELDS[j], 1), "cannot make a type");
    }
    for (int k = 0; k < N_TRAJ; k++) {
        snprintf(name, sizeof name, "%s/%s", G_TRAJ, TRAJ_NAMES[k]);
        CHECK(open_ds(&st->d_traj[k], st, name));
    }
    for (int k = 0; k < N_EVAL; k++) {
        snprintf(name, sizeof name, "%s/%s", G_EVAL, EVAL_NAMES[k]);
        CHECK(open_ds(&st->d_eval[k], st, name));
    }
    CHECK(open_ds(&st->d_traj_len, st, D_TRAJ_LENGTH));
    CHECK(open_ds(&st->d_eval_len, st, D_EVAL_LENGTH));
    CHECK(open_ds(&st->d_wrank, st, D_WORKER_RANK));
    CHECK(open_ds(&st->d_whost, st, D_WORKER_HOST));
    CHECK(open_ds(&st->d_wthreads, st, D_WORKER_THREADS));
    /* files written before it: the kernel goes unrecorded (no metadata changes while points run) */
    if (h5_has_dataset(st->file, D_WORKER_BLAS_KERNEL)) CHECK(open_ds(&st->d_wkernel, st, D_WORKER_BLAS_KERNEL));
    CHECK(dim_of(st, D_TARGETS_TAU, 1, &st->Q));
    CHECK(open_ds(&st->d_tau, st, D_TARGETS_TAU));
    CHECK(open_ds(&st->d_tstep, st, D_TARGETS_STEP));
    CHECK(open_ds(&st->d_toutcome, st, D_TARGETS_OUTCOME));
    if (h5_has_dataset(st->file, D_WEIGHTS_W)) {
        CHECK(dim_of(st, D_WEIGHTS_W, 1, &st->Nw));
        CHECK(dim_of(st, D_WEIGHTS_FIXED, 1, &st->Nf));
        CHECK(dim_of(st, D_DATA_X, 1, &st->N));
        CHECK(dim_of(st, D_DATA_X, 2, &st->D));
        CHECK(open_ds(&st->d_w0, st, D_WEIGHTS_W0));
        CHECK(open_ds(&st->d_w, st, D_WEIGHTS_W));
        CHECK(open_ds(&st->d_fixed, st, D_WEIGHTS_FIXED));
        CHECK(open_ds(&st->d_x, st, D_DATA_X));
        CHECK(open_ds(&st->d_y, st, D_DATA_Y));
    }
    if (h5_has_dataset(st->file, D_PLAN_KEY)) CHECK(open_ds(&st->d_key, st, D_PLAN_KEY));
    if (h5_has_dataset(st->file, D_CHECKSUM)) {
        CHECK(open_ds(&st->d_checksum, st, D_CHECKSUM));
        CHECK(checksum_open(&st->cs, st->file, st->P, st->path));
    }
    H5TRY(st->t_reason = h5_str_type(REASON_BYTES), "cannot make a string type");
    H5TRY(st->t_host = h5_str_type(HOST_BYTES), "cannot make a string type");
    H5TRY(st->t_kernel = h5_str_type(KERNEL_BYTES), "cannot make a string type");
    CHECK(runs_type_build(&st->runs, 1));
    st->row = xcalloc(1, st->runs.size);
    st->status = xcalloc((size_t)st->P, 1);
    CHECK(store_refresh_status(st));
cleanup:
    h5_close(&fapl);
    return h5_in_file(rc, st->path);
}

int store_open(Store **out, const char *path, const StoreLayout *layout, int64_t comm_f, int mode) {
    *out = NULL;
    h5_init();
    Store *st = store_alloc(path);
    st->parallel = comm_f != STORE_SERIAL;
    if (st->parallel) {
        st->comm = MPI_Comm_f2c((MPI_Fint)comm_f);
        MPI_Comm_rank(st->comm, &st->rank);
        MPI_Comm_size(st->comm, &st->size);
    } else {
        st->size = 1;
    }
    int rc = ADV_OK, retry_damaged = (mode & STORE_RETRY_DAMAGED) != 0;
    mode &= ~STORE_RETRY_DAMAGED;
    unsigned char *damaged = NULL;
    st->n_layout = layout ? layout->n_points : 0;
    st->rows = xcalloc((size_t)st->n_layout + 1, sizeof(long));
    if (st->rank == 0) {
        rc = store_lock_acquire(&st->lock, path, "run"); /* before anything is read or changed */
        if (rc == ADV_OK)
            rc = h5_in_file(prepare_file(path, layout, mode, retry_damaged, st->rows, &st->added, &damaged), path);
    }
    if (st->parallel) rc = share_rc(st->comm, rc);
    if (rc != ADV_OK) {
        free(damaged);
        store_lock_release(&st->lock);
        store_free(st);
        return rc;
    }
    if (st->parallel) { /* every rank writes the rows rank 0 found */
        MPI_Bcast(st->rows, (int)st->n_layout, MPI_LONG, 0, st->comm);
        MPI_Bcast(&st->added, 1, MPI_LONG, 0, st->comm);
    }
    rc = open_handles(st);
    if (st->parallel) rc = agree_rc(st->comm, rc, path);
    if (rc == ADV_OK) rc = reset_damaged(st, damaged);
    free(damaged);
    if (rc == ADV_OK && st->rank == 0) prune_checkpoints(st); /* before any rank trains */
    if (rc != ADV_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        store_close(&st);
        adv_err(rc, "%s", msg);
        return rc;
    }
    *out = st;
    return ADV_OK;
}

long store_damaged_reset(const Store *st) { return st ? st->damaged_reset : 0; }

/* ---- status --------------------------------------------------------------------------- */

long store_points(const Store *st) { return st ? st->P : 0; }

const long *store_rows(const Store *st) { return st ? st->rows : NULL; }

long store_added(const Store *st) { return st ? st->added : 0; }

const int8_t *store_status(const Store *st) { return st ? st->status : NULL; }

int store_refresh_status(Store *st) {
    int rc = ADV_OK;
    H5TRY(H5Dread(st->d_status, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->status), "%s: cannot read /%s",
            st->path, D_STATUS);
cleanup:
    return rc;
}

int store_other_kernels(Store *st, const char *kernel, long *count, char *names, size_t len) {
    enum { MAX_NAMED = 8 };
    int rc = ADV_OK, n_named = 0, more = 0;
    char named[MAX_NAMED][KERNEL_BYTES];
    *count = 0;
    if (len) names[0] = '\0';
    if (!st || st->d_wkernel < 0) return ADV_OK;
    char *all = xcalloc((size_t)st->P + 1, KERNEL_BYTES);
    H5TRY(H5Dread(st->d_wkernel, st->t_kernel, H5S_ALL, H5S_ALL, H5P_DEFAULT, all), "%s: cannot read /%s", st->path,
          D_WORKER_BLAS_KERNEL);
    for (long i = 0; i < st->P; i++) {
        int s = st->status[i];
        if (s != RUN_DONE && s != RUN_FAILED && s != RUN_DIVERGED) continue;
        char *k = all + (size_t)i * KERNEL_BYTES;
        k[KERNEL_BYTES - 1] = '\0';
        if (!k[0] || !strcmp(k, kernel ? kernel : "")) continue; /* unknown, or this run's */
        (*count)++;
        int seen = 0;
        for (int j = 0; j < n_named && !seen; j++) seen = !strcmp(named[j], k);
        if (!seen && n_named < MAX_NAMED) memcpy(named[n_named++], k, KERNEL_BYTES);
        else if (!seen) more = 1;
    }
    size_t used = 0;
    for (int j = 0; j < n_named + more && used < len; j++) {
        int w = snprintf(names + used, len - used, "%s%s", j ? ", " : "", j < n_named ? named[j] : "...");
        used = w < 0 ? len : used + (size_t)w;
    }
cleanup:
    free(all);
    return rc;
}

/* ---- points --------------------------------------------------------------------------- */

static int check_index(const Store *st, long index, const char *what) {
    if (!st) return adv_err(ADV_ERR_INTERNAL, "%s: no store", what);
    if (index < 0 || index >= st->P)
        return adv_err(ADV_ERR_INTERNAL, "%s: point %ld out of range (%ld points)", what, index, st->P);
    return ADV_OK;
}

/* /runs row `index`: status and summary from sum (fill values when NULL). */
static int write_runs_row(Store *st, long index, const TrainSummary *sum, int32_t status) {
    TRY(h5_read_row(st->d_runs, index, st->runs.type, st->row, "/runs"));
    runs_pack_summary(&st->runs, st->row, sum);
    memcpy(st->row + st->runs.off_status, &status, 4);
    return h5_write_row(st->d_runs, index, st->runs.type, st->row, "/runs");
}

static int write_status(Store *st, long index, int status) {
    int8_t s = (int8_t)status;
    TRY(h5_write_row(st->d_status, index, H5T_NATIVE_INT8, &s, "/status"));
    st->status[index] = s;
    return ADV_OK;
}

/* One summary field's row from sum (fill value when NULL; status as given). */
static int write_summary_field(Store *st, int j, long index, const TrainSummary *sum, int32_t status) {
    const SummaryField *f = &SUMMARY_FIELDS[j];
    unsigned char value[512] = {0};
    char what[96];
    snprintf(what, sizeof what, "/%s/%s", G_SUMMARY, f->name);
    if (summary_bytes(f) > sizeof value) return adv_err(ADV_ERR_INTERNAL, "summary field %s is too large", f->name);
    if (summary_is_status(f) && f->type == FIELD_I32) memcpy(value, &status, 4);
    else if (!sum) summary_fill(value, f);
    else if (f->type == FIELD_TEXT) text_copy((char *)value, f->size, (const char *)sum + f->offset);
    else memcpy(value, (const char *)sum + f->offset, summary_bytes(f));
    return h5_write_row(st->d_summary[j], index, st->t_summary[j], value, what);
}

/* A whole row of n values of which the first `count` come from src (NaN after). */
static int write_padded(hid_t ds, long index, long n, const double *src, long count, const char *what) {
    double *row = xcalloc((size_t)n, sizeof(double));
    for (long k = 0; k < n; k++) row[k] = k < count && src ? src[k] : NAN;
    int rc = h5_write_row(ds, index, H5T_NATIVE_DOUBLE, row, what);
    free(row);
    return rc;
}

static int write_steps(hid_t ds, long index, long n, const int64_t *src, long count, const char *what) {
    int64_t *row = xcalloc((size_t)n, sizeof(int64_t));
    for (long k = 0; k < n; k++) row[k] = k < count && src ? src[k] : -1;
    int rc = h5_write_row(ds, index, H5T_NATIVE_INT64, row, what);
    free(row);
    return rc;
}

static int write_trajectory(Store *st, long index, const Trajectory *tr) {
    long count = tr ? tr->count : 0, ecount = tr ? tr->eval_count : 0;
    if (count > st->K || ecount > st->E)
        return adv_err(ADV_ERR_INTERNAL, "%s: point %ld has %ld records and %ld evaluations; the file has room for %ld and %ld",
                       st->path, index, count, ecount, st->K, st->E);
    TRY(write_steps(st->d_traj[0], index, st->K, tr ? tr->step : NULL, count, "/traj/step"));
    const double *traj_cols[N_TRAJ - 1] = {tr ? tr->surrogate : NULL, tr ? tr->clean_loss : NULL,
                                           tr ? tr->clean_acc : NULL, tr ? tr->dist : NULL};
    for (int k = 1; k < N_TRAJ; k++) TRY(write_padded(st->d_traj[k], index, st->K, traj_cols[k - 1], count, TRAJ_NAMES[k]));
    TRY(write_steps(st->d_eval[0], index, st->E, tr ? tr->eval_step : NULL, ecount, "/eval/step"));
    const double *eval_cols[N_EVAL - 1] = {tr ? tr->robust_loss : NULL, tr ? tr->robust_acc : NULL};
    for (int k = 1; k < N_EVAL; k++) TRY(write_padded(st->d_eval[k], index, st->E, eval_cols[k - 1], ecount, EVAL_NAMES[k]));
    int32_t len = (int32_t)count, elen = (int32_t)ecount;
    TRY(h5_write_row(st->d_traj_len, index, H5T_NATIVE_INT32, &len, "/traj/length"));
    TRY(h5_write_row(st->d_eval_len, index, H5T_NATIVE_INT32, &elen, "/eval/length"));
    return ADV_OK;
}

/* /targets/{tau,step,outcome} rows of a point: its n_targets values, padded. */
static int write_targets(Store *st, long index, const TrainSummary *sum) {
    long count = sum ? sum->n_targets : 0;
    if (count > st->Q)
        return adv_err(ADV_ERR_INTERNAL, "%s: point %ld has %ld targets; the file has room for %ld", st->path, index,
                       count, st->Q);
    int8_t *outcome = xcalloc((size_t)st->Q, 1);
    for (long q = 0; q < st->Q; q++) outcome[q] = q < count ? sum->target_outcome[q] : -1;
    int rc = h5_write_row(st->d_toutcome, index, H5T_NATIVE_INT8, outcome, "/targets/outcome");
    free(outcome);
    TRY(rc);
    TRY(write_padded(st->d_tau, index, st->Q, sum ? sum->target_tau : NULL, count, "/targets/tau"));
    return write_steps(st->d_tstep, index, st->Q, sum ? sum->target_step : NULL, count, "/targets/step");
}

static int write_extra(Store *st, long index, const StorePointData *x) {
    if (!x || st->d_w < 0) return ADV_OK;
    if (x->n_trained > st->Nw || x->n_fixed > st->Nf || x->n > st->N || x->d > st->D)
        return adv_err(ADV_ERR_INTERNAL,
                       "%s: point %ld has %ld trained and %ld fixed weights and data (%ld, %ld); the file has room "
                       "for %ld, %ld and (%ld, %ld)",
                       st->path, index, x->n_trained, x->n_fixed, x->n, x->d, st->Nw, st->Nf, st->N, st->D);
    TRY(write_padded(st->d_w0, index, st->Nw, x->W0, x->W0 ? x->n_trained : 0, "/weights/W0"));
    TRY(write_padded(st->d_w, index, st->Nw, x->W, x->W ? x->n_trained : 0, "/weights/W"));
    TRY(write_padded(st->d_fixed, index, st->Nf, x->fixed, x->fixed ? x->n_fixed : 0, "/weights/fixed"));
    /* (N, D) block with the (n, d) data in its corner: one contiguous write. */
    double *X = xcalloc((size_t)(st->N * st->D), sizeof(double));
    for (long r = 0; r < st->N; r++)
        for (long c = 0; c < st->D; c++) X[r * st->D + c] = x->X && r < x->n && c < x->d ? x->X[r * x->d + c] : NAN;
    int rc = h5_write_row(st->d_x, index, H5T_NATIVE_DOUBLE, X, "/data/X");
    free(X);
    TRY(rc);
    return write_padded(st->d_y, index, st->N, x->y, x->y ? x->n : 0, "/data/y");
}

int store_write_point(Store *st, long index, const TrainSummary *sum, const Trajectory *traj,
                      const StoreWorker *worker, const StorePointData *extra) {
    TRY(check_index(st, index, "store_write_point"));
    if (store_lock_lost(st->lock))
        return adv_err(ADV_ERR_IO, "%s: another process took the file's lock; not writing point %ld", st->path, index);
    if (!sum) return adv_err(ADV_ERR_INTERNAL, "store_write_point: no summary");
    char reason[REASON_BYTES];
    text_copy(reason, sizeof reason, sum->reason);
    TRY(h5_write_row(st->d_reason, index, st->t_reason, reason, "/reason"));
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) TRY(write_summary_field(st, j, index, sum, sum->status));
    TRY(write_trajectory(st, index, traj));
    TRY(write_targets(st, index, sum));
    int32_t wrank = worker ? worker->rank : -1, wthreads = worker ? worker->threads : 0;
    char host[HOST_BYTES];
    text_copy(host, sizeof host, worker ? worker->host : "");
    TRY(h5_write_row(st->d_wrank, index, H5T_NATIVE_INT32, &wrank, "/worker/rank"));
    TRY(h5_write_row(st->d_whost, index, st->t_host, host, "/worker/host"));
    TRY(h5_write_row(st->d_wthreads, index, H5T_NATIVE_INT32, &wthreads, "/worker/threads"));
    if (st->d_wkernel >= 0) {
        char kernel[KERNEL_BYTES];
        text_copy(kernel, sizeof kernel, worker ? worker->blas_kernel : "");
        TRY(h5_write_row(st->d_wkernel, index, st->t_kernel, kernel, "/" D_WORKER_BLAS_KERNEL));
    }
    TRY(write_extra(st, index, extra));
    TRY(write_runs_row(st, index, sum, sum->status));
    if (st->cs) { /* what the file now holds for this point, read back */
        uint64_t checksum = 0;
        const int8_t final = (int8_t)sum->status; /* covered (rule 2), written after the checksum */
        TRY(checksum_rows(st->cs, index, 1, &final, &checksum));
        TRY(h5_write_row(st->d_checksum, index, H5T_NATIVE_UINT64, &checksum, "/checksum"));
    }
    return write_status(st, index, sum->status); /* last: status == 1 means complete */
}

int store_mark_running(Store *st, long index) {
    TRY(check_index(st, index, "store_mark_running"));
    for (int j = 0; j < N_SUMMARY_FIELDS; j++)
        if (summary_is_status(&SUMMARY_FIELDS[j])) TRY(write_summary_field(st, j, index, NULL, RUN_RUNNING));
    TRY(h5_read_row(st->d_runs, index, st->runs.type, st->row, "/runs"));
    int32_t running = RUN_RUNNING;
    memcpy(st->row + st->runs.off_status, &running, 4);
    TRY(h5_write_row(st->d_runs, index, st->runs.type, st->row, "/runs"));
    return write_status(st, index, RUN_RUNNING);
}

/* Back to pending: status first (from then on the rows are not a result), then
 * reason, summary and the runs row to their fill values, and no checksum. */
static int reset_point(Store *st, long index) {
    char reason[REASON_BYTES] = {0};
    TRY(write_status(st, index, RUN_PENDING));
    TRY(h5_write_row(st->d_reason, index, st->t_reason, reason, "/reason"));
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) TRY(write_summary_field(st, j, index, NULL, RUN_PENDING));
    TRY(write_runs_row(st, index, NULL, RUN_PENDING));
    const uint64_t none = 0;
    if (st->d_checksum >= 0) TRY(h5_write_row(st->d_checksum, index, H5T_NATIVE_UINT64, &none, "/checksum"));
    return ADV_OK;
}

/* Collective: rank 0 resets the points flagged in damaged (rank 0's; NULL: none). */
static int reset_damaged(Store *st, const unsigned char *damaged) {
    int rc = ADV_OK;
    long n = 0;
    if (st->rank == 0 && damaged)
        for (long i = 0; rc == ADV_OK && i < st->P; i++)
            if (damaged[i]) rc = reset_point(st, i), n++;
    if (st->parallel) {
        MPI_Bcast(&n, 1, MPI_LONG, 0, st->comm);
        if (n > 0) {
            if (H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0 && rc == ADV_OK)
                rc = h5_fail(ADV_ERR_IO, "%s: cannot flush", st->path);
            MPI_Barrier(st->comm);
            rc = share_rc(st->comm, rc);
            if (rc == ADV_OK && st->rank != 0) rc = store_refresh_status(st);
        }
    }
    st->damaged_reset = n;
    return rc;
}

int store_reset_failed(Store *st, const unsigned char *mask, long *count) {
    if (!st) return adv_err(ADV_ERR_INTERNAL, "store_reset_failed: no store");
    int rc = ADV_OK;
    long n = 0;
    if (st->rank == 0) {
        rc = store_refresh_status(st);
        for (long i = 0; rc == ADV_OK && i < st->P; i++)
            if ((st->status[i] == RUN_FAILED || st->status[i] == RUN_DIVERGED) && (!mask || mask[i])) {
                rc = reset_point(st, i);
                n++;
            }
    }
    if (st->parallel) {
        /* flush (MPI_File_sync on every rank) + barrier: rank 0's writes become visible */
        if (H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0 && rc == ADV_OK)
            rc = h5_fail(ADV_ERR_IO, "%s: cannot flush", st->path);
        MPI_Barrier(st->comm);
        rc = share_rc(st->comm, rc);
        MPI_Bcast(&n, 1, MPI_LONG, 0, st->comm);
        if (rc == ADV_OK && st->rank != 0) rc = store_refresh_status(st);
    }
    if (count) *count = n;
    return rc;
}

int store_mark_skipped(Store *st, const long *rows, long n) {
    if (n > 0 && store_lock_lost(st->lock))
        return adv_err(ADV_ERR_IO, "%s: another process took the file's lock; not marking points skipped", st->path);
    for (long k = 0; k < n; k++) {
        TRY(check_index(st, rows[k], "store_mark_skipped"));
        int s = st->status[rows[k]];
        if (s == RUN_DONE || s == RUN_FAILED || s == RUN_DIVERGED || s == RUN_SKIPPED) continue;
        for (int j = 0; j < N_SUMMARY_FIELDS; j++)
            if (summary_is_status(&SUMMARY_FIELDS[j])) TRY(write_summary_field(st, j, rows[k], NULL, RUN_SKIPPED));
        TRY(h5_read_row(st->d_runs, rows[k], st->runs.type, st->row, "/runs"));
        int32_t skipped = RUN_SKIPPED;
        memcpy(st->row + st->runs.off_status, &skipped, 4);
        TRY(h5_write_row(st->d_runs, rows[k], st->runs.type, st->row, "/runs"));
        TRY(write_status(st, rows[k], RUN_SKIPPED));
    }
    return ADV_OK;
}

/* Index of the summary field `name`. */
static int summary_index(const char *name) {
    for (int j = 0; j < N_SUMMARY_FIELDS; j++)
        if (!strcmp(SUMMARY_FIELDS[j].name, name)) return j;
    return -1;
}

int store_read_outcomes(Store *st, const long *rows, long n, StoreOutcome *out) {
    int j_out = summary_index("outcome"), j_run = summary_index("steps_run"), j_plan = summary_index("steps_planned");
    if (j_out < 0 || j_run < 0 || j_plan < 0) return adv_err(ADV_ERR_INTERNAL, "store_read_outcomes: summary fields");
    double *tau = xcalloc((size_t)st->Q, sizeof(double));
    int64_t *step = xcalloc((size_t)st->Q, sizeof(int64_t));
    int rc = ADV_OK;
    for (long k = 0; k < n && rc == ADV_OK; k++) {
        long r = rows[k];
        StoreOutcome *o = &out[k];
        memset(o, 0, sizeof *o);
        o->outcome = OUTCOME_NONE;
        if ((rc = check_index(st, r, "store_read_outcomes")) != ADV_OK) break;
        o->status = st->status[r];
        if (o->status != RUN_DONE && o->status != RUN_DIVERGED && o->status != RUN_FAILED) continue;
        int32_t outcome = -1;
        int64_t run = -1, planned = -1;
        if ((rc = h5_read_row(st->d_summary[j_out], r, H5T_NATIVE_INT32, &outcome, "/summary/outcome")) != ADV_OK) break;
        if ((rc = h5_read_row(st->d_summary[j_run], r, H5T_NATIVE_INT64, &run, "/summary/steps_run")) != ADV_OK) break;
        if ((rc = h5_read_row(st->d_summary[j_plan], r, H5T_NATIVE_INT64, &planned, "/summary/steps_planned")) != ADV_OK)
            break;
        if ((rc = h5_read_row(st->d_tau, r, H5T_NATIVE_DOUBLE, tau, "/targets/tau")) != ADV_OK) break;
        if ((rc = h5_read_row(st->d_tstep, r, H5T_NATIVE_INT64, step, "/targets/step")) != ADV_OK) break;
        o->outcome = outcome;
        o->steps_run = (long)run;
        o->steps_planned = (long)planned;
        for (long q = 0; q < st->Q && q < TARGETS_MAX && isfinite(tau[q]); q++) {
            o->tau[q] = tau[q];
            o->step[q] = (long)step[q];
            o->n_targets = (int)q + 1;
        }
    }
    free(tau);
    free(step);
    return rc;
}

/* ---- mid-point checkpoints ------------------------------------------------------------- */

typedef struct {
    char (*keys)[STORE_KEY_HEX + 1]; /* sorted: the keys of the points that are not final */
    long n;
} OpenKeys;

static int key_cmp(const void *a, const void *b) { return strcmp(a, b); }

static int keep_open(void *ctx, const char *key) {
    const OpenKeys *k = ctx;
    return k->n > 0 && bsearch(key, k->keys, (size_t)k->n, sizeof *k->keys, key_cmp) != NULL;
}

/* Rank 0, at open: the checkpoints of final points or of keys not in the file go
 * (a kill between a point's status and its checkpoint's removal leaves one). */
static void prune_checkpoints(Store *st) {
    char dir[4200];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s.ckpt", st->path);
    if (stat(dir, &sb) != 0) return;
    OpenKeys k = {xcalloc((size_t)st->P + 1, sizeof *k.keys), 0};
    hid_t t = h5_str_type(STORE_KEY_HEX + 1);
    if (st->d_key >= 0 && t >= 0 && H5Dread(st->d_key, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, k.keys) >= 0) {
        long n = 0;
        for (long i = 0; i < st->P; i++)
            if (!(st->status[i] == RUN_DONE || st->status[i] == RUN_FAILED || st->status[i] == RUN_DIVERGED)) {
                memmove(k.keys[n], k.keys[i], sizeof *k.keys);
                k.keys[n++][STORE_KEY_HEX] = '\0';
            }
        k.n = n;
        qsort(k.keys, (size_t)k.n, sizeof *k.keys, key_cmp);
        checkpoint_prune(st->path, keep_open, &k);
    }
    H5Eclear2(H5E_DEFAULT);
    if (t >= 0) H5Tclose(t);
    free(k.keys);
}

/* The key of file row `row` ("" without /plan/key). */
static void row_key(Store *st, long row, char key[STORE_KEY_HEX + 1]) {
    key[0] = '\0';
    if (st->d_key < 0 || row < 0 || row >= st->P) return;
    hid_t t = h5_str_type(STORE_KEY_HEX + 1);
    if (t < 0 || h5_read_row(st->d_key, row, t, key, "/plan/key") != ADV_OK) key[0] = '\0';
    key[STORE_KEY_HEX] = '\0';
    if (t >= 0) H5Tclose(t);
}

int store_checkpoint_save(Store *st, long row, const char *env, const void *const *parts, const size_t *lens, int n) {
    char key[STORE_KEY_HEX + 1];
    row_key(st, row, key);
    if (!key[0]) return ADV_OK; /* a file without keys: no checkpoints */
    return checkpoint_save(st->path, key, env, parts, lens, n);
}

int store_checkpoint_open(Store *st, long row, const char *env, StoreCheckpoint **ck, size_t *bytes) {
    char key[STORE_KEY_HEX + 1];
    row_key(st, row, key);
    *ck = NULL;
    *bytes = 0;
    if (!key[0]) return ADV_OK;
    return checkpoint_open(st->path, key, env, ck, bytes);
}

int store_checkpoint_read(StoreCheckpoint *ck, void *buf, size_t len) { return checkpoint_read(ck, buf, len); }

void store_checkpoint_close(StoreCheckpoint **ck) { checkpoint_close(ck); }

void store_checkpoint_remove(Store *st, long row) {
    char key[STORE_KEY_HEX + 1];
    row_key(st, row, key);
    if (key[0]) checkpoint_remove(st->path, key);
}

int store_close(Store **stp) {
    if (!stp || !*stp) return ADV_OK;
    Store *st = *stp;
    *stp = NULL;
    int rc = ADV_OK;
    char path[1024];
    snprintf(path, sizeof path, "%s", st->path);
    hid_t file = st->file;
    StoreLock *lock = st->lock;
    st->file = H5I_INVALID_HID;
    st->lock = NULL;
    store_free(st); /* datasets first, then the file */
    if (file >= 0 && H5Fclose(file) < 0) rc = h5_fail(ADV_ERR_IO, "%s: cannot close", path);
    store_lock_release(&lock); /* last: the file is complete and closed */
    return rc;
}
