/* fuzz_sweepfile.c — libFuzzer target: the readers of files a user hands to
 * advsweep — store_status_of and store_failures_of (status, status --failed), store_merge_counts (merge, the file
 * first and second), store_open with STORE_RESUME (run on an existing file)
 * and store_read_data (data=file).
 *
 * An input is either
 *   - raw: it starts with the HDF5 signature and is the file itself (seeds:
 *     small sweep files written by `advsweep run`), which mostly exercises
 *     HDF5's own parser; or
 *   - a recipe: a list of edits applied with the HDF5 API to a real sweep file
 *     made at start-up by store_open/store_write_point (3 points: done,
 *     running, pending; stored weights): delete an attribute, dataset or
 *     group; replace it with another type, rank or shape (up to 2^40 rows,
 *     chunked and unallocated), with a string, a group, a soft, hard or
 *     external link; overwrite its values with the input's bytes. This keeps
 *     the container valid so the fuzzer reaches our checks, not HDF5's.
 *
 * FUZZ_SAVE_FILE=PATH saves the file an input made (e.g. to keep a recipe's
 * finding as a raw input that does not depend on the template's layout).
 *
 * Contract checked on every reader (an abort is a libFuzzer crash): the return
 * code is ADV_OK, ADV_ERR_INPUT or ADV_ERR_IO; a refusal is one non-empty line
 * that names the file; no HDF5 identifier stays open; a failed merge leaves no
 * output and no temporary file; a merged file reads back with store_status_of.
 */
#include <dirent.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"
#include "advsweep/train.h"
#include "internal.h" /* schema names */

#define TEMPLATE_JOB                                                                                        \
    "name: fuzz\n"                                                                                          \
    "fixed: {d: 2, n: 3, m: 4, H: 1, steps: 3, record_dense: 2, record_max: 4, eval_count: 1, eval_steps: 1, " \
    "eval_restarts: 1}\n"                                                                                   \
    "grid: {attack: [none, pgd, fgsm]}\n"                                                                   \
    "options: {store_weights: true}\n"

static char g_dir[512], g_template[600], g_input[600], g_output[600];
static unsigned char *g_template_bytes;
static size_t g_template_size;
static StoreLayout g_layout;
static TrainConfig *g_configs;
static double *g_flops;
static Job *g_job;

/* Objects of the template that a recipe can edit: root attributes, then links. */
#define MAX_TARGETS 256
static char g_target[MAX_TARGETS][128];
static int g_target_is_attr[MAX_TARGETS];
static int g_targets;

__attribute__((format(printf, 1, 2))) static void broken(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_sweepfile: contract broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void need(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_sweepfile: set-up failed: %s: %s\n", what, adv_errmsg());
        exit(1);
    }
}

/* ---- the template ------------------------------------------------------------------ */

static void make_template(void) {
    need(job_parse(&g_job, TEMPLATE_JOB, "template") == ADV_OK, "job_parse");
    long P = job_points(g_job);
    PointCost *costs = NULL;
    need(sweep_costs(&costs, g_job) == ADV_OK, "sweep_costs");
    g_configs = xcalloc((size_t)P, sizeof *g_configs);
    g_flops = xcalloc((size_t)P, sizeof *g_flops);
    StoreLayout *l = &g_layout;
    for (long i = 0; i < P; i++) {
        job_point(&g_configs[i], g_job, i);
        g_flops[i] = costs[i].cost;
        if (costs[i].records > l->records_max) l->records_max = costs[i].records;
        if (costs[i].evals > l->evals_max) l->evals_max = costs[i].evals;
        if (costs[i].n_trained > l->weights_max) l->weights_max = costs[i].n_trained;
        if (costs[i].n_fixed > l->fixed_max) l->fixed_max = costs[i].n_fixed;
        if (g_configs[i].n > l->data_n_max) l->data_n_max = g_configs[i].n;
        if (g_configs[i].d > l->data_d_max) l->data_d_max = g_configs[i].d;
    }
    free(costs);
    l->n_points = P;
    l->configs = g_configs;
    l->cost_flops = g_flops;
    l->job_text = job_text(g_job);
    l->job_name = job_name(g_job);
    l->axes = job_axes(g_job);
    l->shard_index = 0;
    l->shard_count = 1;
    l->store_weights = 1;
    l->ranks = 1;
    l->omp_threads = 1;
    l->blas_version = "fuzz";

    Store *st = NULL;
    need(store_open(&st, g_template, l, STORE_SERIAL, STORE_FRESH) == ADV_OK, "store_open");
    /* point 0 done, with every array; point 1 running; point 2 pending */
    TrainSummary sum;
    memset(&sum, 0, sizeof sum);
    sum.status = RUN_DONE;
    sum.lr = 0.5;
    sum.min_surrogate = 0.25;
    sum.wall_time = 0.125;
    sum.steps_planned = sum.steps_run = 3;
    Trajectory *t = trajectory_create(l->records_max, l->evals_max);
    t->count = l->records_max;
    for (long k = 0; k < t->count; k++) t->step[k] = k, t->surrogate[k] = 1.0 / (double)(k + 1);
    t->eval_count = l->evals_max;
    for (long k = 0; k < t->eval_count; k++) t->eval_step[k] = k, t->robust_loss[k] = 0.5;
    StoreWorker w = {.rank = 1, .threads = 1, .host = "fuzzhost"};
    double W[64] = {0.5}, X[64] = {0.25}, y[8] = {1, -1, 1};
    StorePointData extra = {W, W, W, l->weights_max, l->fixed_max, X, y, g_configs[0].n, g_configs[0].d};
    need(l->weights_max <= 64 && l->fixed_max <= 64 && g_configs[0].n * g_configs[0].d <= 64, "template sizes");
    need(store_mark_running(st, 0) == ADV_OK, "store_mark_running");
    need(store_write_point(st, 0, &sum, t, &w, &extra) == ADV_OK, "store_write_point");
    need(store_mark_running(st, 1) == ADV_OK, "store_mark_running");
    need(store_close(&st) == ADV_OK, "store_close");
    trajectory_destroy(&t);

    FILE *f = fopen(g_template, "rb");
    need(f != NULL, "read the template");
    fseek(f, 0, SEEK_END);
    g_template_size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    g_template_bytes = xcalloc(g_template_size, 1);
    need(fread(g_template_bytes, 1, g_template_size, f) == g_template_size, "read the template");
    fclose(f);
}

static herr_t add_link_target(hid_t loc, const char *name, const H5L_info_t *info, void *data) {
    (void)loc, (void)info, (void)data;
    if (g_targets < MAX_TARGETS) snprintf(g_target[g_targets++], sizeof g_target[0], "/%s", name);
    return 0;
}

static herr_t add_attr_target(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)loc, (void)info, (void)data;
    if (g_targets < MAX_TARGETS) {
        g_target_is_attr[g_targets] = 1;
        snprintf(g_target[g_targets++], sizeof g_target[0], "%s", name);
    }
    return 0;
}

static void list_targets(void) {
    hid_t f = H5Fopen(g_template, H5F_ACC_RDONLY, H5P_DEFAULT);
    need(f >= 0, "open the template");
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, add_attr_target, NULL);
    H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, add_link_target, NULL);
    H5Fclose(f);
    need(g_targets > 20, "the template's objects");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/advsweep-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    need(mkdtemp(g_dir) != NULL, "mkdtemp");
    snprintf(g_template, sizeof g_template, "%s/template.h5", g_dir);
    snprintf(g_input, sizeof g_input, "%s/input.h5", g_dir);
    snprintf(g_output, sizeof g_output, "%s/merged.h5", g_dir);
    make_template();
    list_targets();
    return 0;
}

/* Removes the scratch directory when libFuzzer exits normally. */
__attribute__((destructor)) static void clean_up(void) {
    if (!g_dir[0]) return;
    unlink(g_input);
    unlink(g_output);
    unlink(g_template);
    rmdir(g_dir);
}

/* ---- recipes --------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} Bytes;

static unsigned take(Bytes *b) {
    if (!b->n) return 0;
    b->n--;
    return *b->p++;
}

/* Fill buf with the input's bytes (cycled; zeros when it is used up). */
static void take_fill(Bytes *b, unsigned char *buf, size_t len) {
    size_t have = b->n;
    for (size_t k = 0; k < len; k++) buf[k] = have ? b->p[k % have] : 0;
    size_t used = len < have ? len : have;
    b->p += used;
    b->n -= used;
}

static hid_t make_type(unsigned code) {
    switch (code % 12) {
    case 0: return H5Tcopy(H5T_NATIVE_INT8);
    case 1: return H5Tcopy(H5T_NATIVE_INT32);
    case 2: return H5Tcopy(H5T_NATIVE_INT64);
    case 3: return H5Tcopy(H5T_NATIVE_UINT64);
    case 4: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case 5: return H5Tcopy(H5T_NATIVE_FLOAT);
    case 6: return h5_str_type(1);
    case 7: return h5_str_type(300);
    case 8: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        return t;
    }
    case 9: { /* a compound with some of /runs's member names */
        hid_t t = H5Tcreate(H5T_COMPOUND, 16);
        H5Tinsert(t, RUNS_STATUS, 0, H5T_NATIVE_INT32);
        H5Tinsert(t, RUNS_INDEX, 8, H5T_NATIVE_INT64);
        return t;
    }
    case 10: {
        hsize_t n = 3;
        return H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, &n);
    }
    default: return H5Tcopy(H5T_NATIVE_UINT8);
    }
}

static hsize_t make_dim(unsigned code) {
    static const hsize_t dims[] = {0, 1, 2, 3, 4, 5, 64, (hsize_t)1 << 20, (hsize_t)1 << 32, (hsize_t)1 << 40};
    return dims[code % (sizeof dims / sizeof dims[0])];
}

/* Write the input's bytes over a small dataset or attribute (in its own type; strings included). */
static void overwrite(hid_t obj, int is_attr, Bytes *b) {
    hid_t type = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    if (type >= 0 && space >= 0 && count > 0 && size > 0 && (size_t)count <= (1u << 16) / size &&
        H5Tdetect_class(type, H5T_VLEN) <= 0 && !H5Tis_variable_str(type)) {
        unsigned char *buf = xcalloc((size_t)count, size);
        take_fill(b, buf, (size_t)count * size);
        if (is_attr) H5Awrite(obj, type, buf);
        else H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
}

/* A new dataset (or root attribute) `name` of a type, rank and shape taken from the input. */
static void create_object(hid_t f, const char *name, int is_attr, Bytes *b) {
    hid_t type = make_type(take(b));
    int rank = (int)(take(b) % 5);
    hsize_t dims[4], maxdims[4], chunk[4];
    hsize_t total = 1;
    for (int k = 0; k < rank; k++) {
        dims[k] = make_dim(take(b));
        maxdims[k] = H5S_UNLIMITED;
        chunk[k] = dims[k] < 1 ? 1 : dims[k] > 16 ? 16 : dims[k];
        total = dims[k] && total > UINT64_MAX / dims[k] ? UINT64_MAX : total * dims[k];
    }
    hid_t space = rank ? H5Screate_simple(rank, dims, is_attr ? NULL : maxdims) : H5Screate(H5S_SCALAR);
    hid_t obj = H5I_INVALID_HID;
    if (is_attr) {
        if (total <= 4096) obj = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    } else {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (rank) H5Pset_chunk(dcpl, rank, chunk);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        obj = H5Dcreate2(f, name, type, space, lcpl, dcpl, H5P_DEFAULT);
        H5Pclose(lcpl);
        H5Pclose(dcpl);
    }
    if (obj >= 0 && take(b) % 2) overwrite(obj, is_attr, b);
    if (obj >= 0 && is_attr) H5Aclose(obj);
    else if (obj >= 0) H5Dclose(obj);
    H5Sclose(space);
    H5Tclose(type);
}

static void remove_target(hid_t f, int t) {
    if (g_target_is_attr[t]) {
        if (H5Aexists(f, g_target[t]) > 0) H5Adelete(f, g_target[t]);
    } else if (H5Lexists(f, g_target[t], H5P_DEFAULT) > 0) {
        H5Ldelete(f, g_target[t], H5P_DEFAULT);
    }
}

/* Apply up to 16 edits to the copy of the template at g_input. */
static void apply_recipe(Bytes *b) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1);
    hid_t f = H5Fopen(g_input, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0) return;
    for (int op = 0; op < 16 && b->n; op++) {
        unsigned kind = take(b) % 9;
        int t = (int)(take(b) % (unsigned)g_targets), other = (int)(take(b) % (unsigned)g_targets);
        const char *name = g_target[t];
        int is_attr = g_target_is_attr[t];
        switch (kind) {
        case 0: remove_target(f, t); break;
        case 1: /* another type, rank or shape */
        case 2:
            remove_target(f, t);
            create_object(f, name, is_attr, b);
            break;
        case 3: { /* new values of the existing object */
            hid_t obj = is_attr ? (H5Aexists(f, name) > 0 ? H5Aopen(f, name, H5P_DEFAULT) : H5I_INVALID_HID)
                                : (H5Lexists(f, name, H5P_DEFAULT) > 0 ? H5Oopen(f, name, H5P_DEFAULT) : H5I_INVALID_HID);
            if (obj >= 0 && (is_attr || H5Iget_type(obj) == H5I_DATASET)) overwrite(obj, is_attr, b);
            if (obj >= 0 && is_attr) H5Aclose(obj);
            else if (obj >= 0) H5Oclose(obj);
            break;
        }
        case 4: /* a group where a dataset was (or a dataset inside a group) */
            if (is_attr) break;
            remove_target(f, t);
            {
                hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (g >= 0) H5Gclose(g);
            }
            break;
        case 5: /* a soft link to another object (itself: a loop), or to nothing */
            if (is_attr) break;
            remove_target(f, t);
            H5Lcreate_soft(take(b) % 4 ? g_target[other] : "/nowhere", f, name, H5P_DEFAULT, H5P_DEFAULT);
            break;
        case 6: /* a hard link to another object (a group inside itself: a cycle) */
            if (is_attr || g_target_is_attr[other]) break;
            remove_target(f, t);
            H5Lcreate_hard(f, g_target[other], f, name, H5P_DEFAULT, H5P_DEFAULT);
            break;
        case 7: /* an external link into the template */
            if (is_attr || g_target_is_attr[other]) break;
            remove_target(f, t);
            H5Lcreate_external(g_template, g_target[other], f, name, H5P_DEFAULT, H5P_DEFAULT);
            break;
        default: { /* an attribute of a root attribute's name on a dataset, or a new root attribute */
            char extra[32];
            snprintf(extra, sizeof extra, "extra%u", take(b) % 4);
            create_object(f, is_attr ? name : extra, 1, b);
            break;
        }
        }
        H5Eclear2(H5E_DEFAULT);
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
}

/* ---- the readers under test -------------------------------------------------------------- */

static void check_no_open_ids(const char *what) {
    ssize_t open = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open != 0) broken("%s leaves %zd HDF5 identifier(s) open", what, open);
}

static void check_rc(const char *what, int rc, int allow_ok) {
    const char *msg = adv_errmsg();
    if (rc == ADV_OK) {
        if (!allow_ok) broken("%s: accepted", what);
        return;
    }
    if (rc != ADV_ERR_INPUT && rc != ADV_ERR_IO) broken("%s returned %d: %s", what, rc, msg);
    if (!msg[0]) broken("%s: empty error message", what);
    if (strchr(msg, '\n')) broken("%s: message of more than one line: %s", what, msg);
    if (!strstr(msg, g_dir)) broken("%s: message does not name the file: %s", what, msg);
}

/* Only the input, the template and (after a merge that worked) the output may be in g_dir. */
static void check_no_leftovers(const char *what, int output_allowed) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "input.h5") || !strcmp(n, "template.h5")) continue;
        if (output_allowed && !strcmp(n, "merged.h5")) continue;
        closedir(d);
        broken("%s leaves %s in the directory", what, n);
    }
    closedir(d);
}

static void merge_one(const char *first, const char *second) {
    const char *inputs[2] = {first, second};
    long taken[2] = {-1, -1};
    int rc = store_merge_counts(g_output, inputs, 2, taken);
    check_rc("store_merge_counts", rc, 1);
    check_no_open_ids("store_merge_counts");
    check_no_leftovers("store_merge_counts", rc == ADV_OK);
    if (rc == ADV_OK) {
        if (taken[0] < 0 || taken[1] < 0 || taken[0] + taken[1] > 3) broken("merge took %ld + %ld points", taken[0], taken[1]);
        StoreStatus s;
        int back = store_status_of(g_output, &s);
        if (back != ADV_OK) broken("a merged file does not read back: %s", adv_errmsg());
        check_no_open_ids("store_status_of (merged)");
        unlink(g_output);
    }
}

/* status always; then one of: merge with the input first, merge with it
 * second, read it as a data file, resume into it (each opens files several
 * times, and an HDF5 open costs milliseconds under ASan). */
static void run_readers(unsigned which) {
    StoreStatus s;
    int rc = store_status_of(g_input, &s);
    check_rc("store_status_of", rc, 1);
    check_no_open_ids("store_status_of");
    if (rc == ADV_OK) {
        long sum = 0;
        for (int k = 0; k < 5; k++) sum += s.counts[k];
        if (s.n_points < 0 || sum > s.n_points || s.shard_count < 1) broken("status: %ld points, %ld counted", s.n_points, sum);
    }
    StoreFailure *fail = NULL;
    long n_fail = 0;
    char *text = NULL;
    rc = store_failures_of(g_input, &fail, &n_fail, &text);
    check_rc("store_failures_of", rc, 1);
    check_no_open_ids("store_failures_of");
    if (rc == ADV_OK && (!text || n_fail < 0 || (n_fail > 0) != (fail != NULL))) broken("failures: %ld", n_fail);
    for (long k = 0; k < n_fail; k++)
        if (strlen(fail[k].reason) >= sizeof fail[k].reason) broken("an unterminated reason");
    free(fail);
    free(text);
    switch (which % 4) {
    case 0: merge_one(g_input, g_template); break;
    case 1: merge_one(g_template, g_input); break;
    case 2: {
        double *X = NULL, *y = NULL;
        long n = 0, d = 0;
        rc = store_read_data(g_input, &X, &y, &n, &d);
        check_rc("store_read_data", rc, 1);
        check_no_open_ids("store_read_data");
        if (rc == ADV_OK && (n < 1 || d < 1 || !X || !y)) broken("data: n = %ld, d = %ld", n, d);
        free(X);
        free(y);
        break;
    }
    default: { /* resume: it rewrites two attributes of a file it accepts */
        Store *st = NULL;
        rc = store_open(&st, g_input, &g_layout, STORE_SERIAL, STORE_RESUME);
        check_rc("store_open (resume)", rc, 1);
        if (rc == ADV_OK) {
            if (store_points(st) != g_layout.n_points) broken("resume: %ld points", store_points(st));
            rc = store_close(&st);
            check_rc("store_close", rc, 1);
        } else if (st) {
            broken("store_open failed but *out is not NULL");
        }
        check_no_open_ids("store_open (resume)");
        check_no_leftovers("store_open (resume)", 0);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    int raw = size >= 8 && memcmp(data, sig, 8) == 0;
    FILE *f = fopen(g_input, "wb");
    if (!f) broken("cannot write %s", g_input);
    if (raw) fwrite(data, 1, size, f);
    else fwrite(g_template_bytes, 1, g_template_size, f);
    fclose(f);
    if (!raw) {
        Bytes b = {data, size};
        apply_recipe(&b);
    }
    check_no_open_ids("the recipe");
    const char *save = getenv("FUZZ_SAVE_FILE"); /* keep the file a recipe made (a raw regression input) */
    if (save && *save && store_copy_file(g_input, save) != ADV_OK) broken("cannot save %s", save);
    run_readers(size ? data[size - 1] : 0); /* the last byte chooses the second reader (HDF5 ignores bytes past its end) */
    return 0;
}
