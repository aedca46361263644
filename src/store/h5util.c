/* h5util.c — HDF5 helpers of the storage module: errors, identifiers,
 * attributes, rows, and the storage form of parameters and summary fields.
 *
 * Knows the schema's types (internal.h), not its workflow: creating, resuming
 * and merging sweep files is store.c / read.c. Must not print (errors go
 * through adv_err) and must not call MPI.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "internal.h"

const char *const TRAJ_NAMES[N_TRAJ] = {"step", "surrogate_loss", "clean_loss", "clean_acc", "dist"};
const char *const EVAL_NAMES[N_EVAL] = {"step", "robust_loss", "robust_acc"};

/* ---- errors and handles ----------------------------------------------------------- */

void h5_init(void) {
    static int done = 0;
    if (done) return;
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    done = 1;
}

typedef struct {
    char text[2048]; /* the whole innermost description, before folding */
} H5Reason;

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data) {
    H5Reason *r = data;
    if (n == 0 && e->desc) snprintf(r->text, sizeof r->text, "%s", e->desc);
    return 0;
}

/* HDF5's system-call errors read "file write failed: time = <ctime with a
 * newline>, filename = ..., errno = 28, error message = 'No space left on
 * device', buf = ...": keep "file write failed: No space left on device".
 * Any other text: newlines and runs of blanks become one space. */
static void fold_reason(char *text) {
    const char *em = strstr(text, "error message = '");
    if (em) {
        char what[100], why[96];
        const char *colon = strchr(text, ':');
        size_t head = colon && colon < em ? (size_t)(colon - text) : 0;
        snprintf(what, sizeof what, "%.*s", (int)(head < 99 ? head : 99), text);
        em += strlen("error message = '");
        size_t n = strcspn(em, "'");
        snprintf(why, sizeof why, "%.*s", (int)n, em);
        snprintf(text, sizeof(((H5Reason *)0)->text), "%s%s%s", what, head ? ": " : "", why);
    }
    char *out = text;
    int blank = 0;
    for (const char *p = text; *p; p++) {
        int sp = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
        if (sp && (blank || out == text)) continue;
        *out++ = sp ? ' ' : *p;
        blank = sp;
    }
    while (out > text && out[-1] == ' ') out--;
    *out = '\0';
}

int h5_fail(int code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    H5Reason r = {{0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &r);
    H5Eclear2(H5E_DEFAULT);
    fold_reason(r.text);
    if (r.text[0]) return adv_err(code, "%s (HDF5: %s)", msg, r.text);
    return adv_err(code, "%s", msg);
}

int h5_in_file(int rc, const char *path) {
    if (rc == ADV_OK || strstr(adv_errmsg(), path)) return rc;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", adv_errmsg());
    return adv_err(rc, "%s: %s", path, msg);
}

void h5_close(hid_t *id) {
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

hid_t h5_fapl_serial(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if (H5Pset_fapl_sec2(fapl) < 0 || H5Pset_file_locking(fapl, 0, 1) < 0 || H5Pset_sieve_buf_size(fapl, 0) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

int h5_is_hdf5(const char *path) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return -adv_err(ADV_ERR_INPUT, "%s: no such file", path);
        return -adv_err(ADV_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) return -adv_err(ADV_ERR_INPUT, "%s: is a directory, not an HDF5 file", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -adv_err(ADV_ERR_IO, "%s: cannot read (%s)", path, strerror(errno));
    int found = 0;
    for (off_t at = 0; at + 8 <= sb.st_size && !found; at = at ? at * 2 : 512) {
        unsigned char buf[8];
        if (pread(fd, buf, 8, at) != 8) break;
        found = memcmp(buf, sig, 8) == 0;
    }
    close(fd);
    return found;
}

int h5_is_sweep(const char *path) {
    h5_init();
    int is = h5_is_hdf5(path);
    if (is <= 0) return is;
    hid_t fapl = h5_fapl_serial(), f = H5I_INVALID_HID;
    int sweep = 0;
    if (fapl >= 0) f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f >= 0 && h5_attr_exists(f, A_TOOL)) {
        char tool[64] = "";
        sweep = h5_attr_read_str(f, A_TOOL, tool, sizeof tool) == ADV_OK && !strcmp(tool, TOOL_NAME);
    }
    h5_close(&f);
    h5_close(&fapl);
    H5Eclear2(H5E_DEFAULT);
    return sweep;
}

int h5_open_sweep(hid_t *file, const char *path, unsigned flags) {
    h5_init();
    *file = H5I_INVALID_HID;
    int is = h5_is_hdf5(path);
    if (is < 0) return -is;
    if (is == 0) return adv_err(ADV_ERR_INPUT, "%s: not an HDF5 file", path);
    int rc = ADV_OK;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID;
    H5TRY(fapl = h5_fapl_serial(), "%s: cannot set up file access", path);
    H5TRY(f = H5Fopen(path, flags, fapl), "%s: cannot open as HDF5", path);
    if (!h5_attr_exists(f, A_TOOL) || !h5_attr_exists(f, A_LAYOUT_VERSION)) {
        rc = adv_err(ADV_ERR_INPUT, "%s: not an advsweep sweep file (no %s/%s attribute)", path, A_TOOL,
                     A_LAYOUT_VERSION);
        goto cleanup;
    }
    char tool[64];
    int64_t version = 0;
    CHECK(h5_attr_read_line(f, A_TOOL, tool, sizeof tool));
    if (strcmp(tool, TOOL_NAME) != 0) {
        rc = adv_err(ADV_ERR_INPUT, "%s: not an advsweep sweep file (tool is '%s')", path, tool);
        goto cleanup;
    }
    CHECK(h5_attr_read_i64(f, A_LAYOUT_VERSION, &version));
    if (version > STORE_LAYOUT_VERSION || version < 1) {
        rc = adv_err(ADV_ERR_INPUT, "%s: layout version %lld is not supported by this advsweep (reads version %d)",
                     path, (long long)version, STORE_LAYOUT_VERSION);
        goto cleanup;
    }
    if (!h5_has_dataset(f, D_STATUS)) {
        rc = adv_err(ADV_ERR_INPUT, "%s: not a complete sweep file (no /%s)", path, D_STATUS);
        goto cleanup;
    }
    hsize_t dims[3] = {0};
    int rank = h5_dims(f, D_STATUS, dims);
    if (rank != 1 || dims[0] > (hsize_t)STORE_MAX_POINTS) {
        rc = adv_err(ADV_ERR_INPUT, "%s: /%s is not a vector of at most %ld points (a damaged file?)", path, D_STATUS,
                     STORE_MAX_POINTS);
        goto cleanup;
    }
    *file = f;
    f = H5I_INVALID_HID;
cleanup:
    h5_close(&f);
    h5_close(&fapl);
    return h5_in_file(rc, path);
}

/* ---- attributes ----------------------------------------------------------------------- */

hid_t h5_str_type(size_t bytes) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, bytes ? bytes : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

int h5_attr_exists(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

int h5_attr_write_str(hid_t obj, const char *name, const char *value) {
    int rc = ADV_OK;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    if (!value) value = "";
    H5TRY(type = h5_str_type(strlen(value) + 1), "cannot make a string type");
    H5TRY(space = H5Screate(H5S_SCALAR), "cannot make a dataspace");
    H5TRY(attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), "cannot create attribute %s", name);
    H5TRY(H5Awrite(attr, type, value), "cannot write attribute %s", name);
cleanup:
    h5_close(&attr);
    h5_close(&space);
    h5_close(&type);
    return rc;
}

int h5_attr_write_i64(hid_t obj, const char *name, int64_t value) {
    int rc = ADV_OK;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    H5TRY(space = H5Screate(H5S_SCALAR), "cannot make a dataspace");
    H5TRY(attr = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
            "cannot create attribute %s", name);
    H5TRY(H5Awrite(attr, H5T_NATIVE_INT64, &value), "cannot write attribute %s", name);
cleanup:
    h5_close(&attr);
    h5_close(&space);
    return rc;
}

int h5_attr_update_i64(hid_t obj, const char *name, int64_t value) {
    int rc = ADV_OK;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    if (!h5_attr_exists(obj, name)) return h5_attr_write_i64(obj, name, value);
    H5TRY(attr = H5Aopen(obj, name, H5P_DEFAULT), "cannot open attribute %s", name);
    H5TRY(space = H5Aget_space(attr), "cannot read the shape of attribute %s", name);
    H5TRY(type = H5Aget_type(attr), "cannot read the type of attribute %s", name);
    if (H5Sget_simple_extent_npoints(space) != 1 || H5Tget_class(type) != H5T_INTEGER) {
        /* Not one integer (a damaged or foreign file): H5Awrite would read past `value`. */
        h5_close(&attr);
        H5TRY(H5Adelete(obj, name), "cannot replace attribute %s", name);
        rc = h5_attr_write_i64(obj, name, value);
        goto cleanup;
    }
    H5TRY(H5Awrite(attr, H5T_NATIVE_INT64, &value), "cannot write attribute %s", name);
cleanup:
    h5_close(&type);
    h5_close(&space);
    h5_close(&attr);
    return rc;
}

/* 1 if the attribute holds exactly one value: reading an array into one would overrun it. */
static int attr_is_single(hid_t attr) {
    hid_t space = H5Aget_space(attr);
    if (space < 0) return 0;
    int one = H5Sget_simple_extent_npoints(space) == 1;
    H5Sclose(space);
    return one;
}

int h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t len) {
    int rc = ADV_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    char *tmp = NULL;
    buf[0] = '\0';
    H5TRY(attr = H5Aopen(obj, name, H5P_DEFAULT), "cannot open attribute %s", name);
    H5TRY(ftype = H5Aget_type(attr), "cannot read the type of attribute %s", name);
    if (H5Tget_class(ftype) != H5T_STRING || !attr_is_single(attr)) {
        rc = adv_err(ADV_ERR_INPUT, "attribute %s is not a string", name);
        goto cleanup;
    }
    if (H5Tis_variable_str(ftype) > 0) {
        char *value = NULL;
        H5TRY(mtype = H5Tcopy(H5T_C_S1), "cannot make a string type");
        H5TRY(H5Tset_size(mtype, H5T_VARIABLE), "cannot make a string type");
        H5TRY(H5Aread(attr, mtype, &value), "cannot read attribute %s", name);
        snprintf(buf, len, "%s", value ? value : "");
        H5free_memory(value);
    } else {
        size_t size = H5Tget_size(ftype);
        tmp = xcalloc(size + 1, 1);
        H5TRY(mtype = h5_str_type(size + 1), "cannot make a string type");
        H5TRY(H5Aread(attr, mtype, tmp), "cannot read attribute %s", name);
        snprintf(buf, len, "%s", tmp);
    }
cleanup:
    free(tmp);
    h5_close(&mtype);
    h5_close(&ftype);
    h5_close(&attr);
    return rc;
}

int h5_attr_read_line(hid_t obj, const char *name, char *buf, size_t len) {
    int rc = h5_attr_read_str(obj, name, buf, len);
    for (char *q = buf; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return rc;
}

int h5_attr_read_i64(hid_t obj, const char *name, int64_t *value) {
    int rc = ADV_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    H5TRY(attr = H5Aopen(obj, name, H5P_DEFAULT), "cannot open attribute %s", name);
    H5TRY(ftype = H5Aget_type(attr), "cannot read the type of attribute %s", name);
    if (H5Tget_class(ftype) != H5T_INTEGER || !attr_is_single(attr)) {
        rc = adv_err(ADV_ERR_INPUT, "attribute %s is not an integer", name);
        goto cleanup;
    }
    H5TRY(H5Aread(attr, H5T_NATIVE_INT64, value), "cannot read attribute %s", name);
cleanup:
    h5_close(&ftype);
    h5_close(&attr);
    return rc;
}

/* ---- datasets ------------------------------------------------------------------------- */

int h5_has_dataset(hid_t loc, const char *name) {
    /* H5Lexists needs every intermediate group to exist: check prefixes. */
    char part[256];
    size_t len = strlen(name);
    if (len >= sizeof part) return 0;
    for (size_t i = 0; i <= len; i++) {
        if (name[i] == '/' || name[i] == '\0') {
            memcpy(part, name, i);
            part[i] = '\0';
            if (i > 0 && H5Lexists(loc, part, H5P_DEFAULT) <= 0) return 0;
        }
    }
    hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    int is = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    return is;
}

int h5_dims(hid_t loc, const char *name, hsize_t dims[3]) {
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) {
        h5_fail(ADV_ERR_IO, "cannot open /%s", name);
        return -1;
    }
    hid_t space = H5Dget_space(ds);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (rank > 3) rank = -1;
    if (rank >= 0) H5Sget_simple_extent_dims(space, dims, NULL);
    if (rank < 0) h5_fail(ADV_ERR_IO, "cannot read the shape of /%s", name);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return rank;
}

static int row_io(hid_t ds, long index, hid_t memtype, void *buf, int write, const char *what) {
    int rc = ADV_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t dims[8], start[8] = {0}, count[8];
    H5TRY(fspace = H5Dget_space(ds), "cannot read the shape of %s", what);
    int rank = H5Sget_simple_extent_ndims(fspace);
    if (rank < 1 || rank > 8) {
        rc = adv_err(ADV_ERR_IO, "%s has an unexpected rank %d", what, rank);
        goto cleanup;
    }
    H5Sget_simple_extent_dims(fspace, dims, NULL);
    if (index < 0 || (hsize_t)index >= dims[0]) {
        rc = adv_err(ADV_ERR_INTERNAL, "%s: row %ld out of range (%llu rows)", what, index,
                     (unsigned long long)dims[0]);
        goto cleanup;
    }
    start[0] = (hsize_t)index;
    count[0] = 1;
    for (int k = 1; k < rank; k++) count[k] = dims[k];
    H5TRY(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), "cannot select a row of %s", what);
    H5TRY(mspace = H5Screate_simple(rank, count, NULL), "cannot make a dataspace");
    if (write)
        H5TRY(H5Dwrite(ds, memtype, mspace, fspace, H5P_DEFAULT, buf), "cannot write row %ld of %s", index, what);
    else
        H5TRY(H5Dread(ds, memtype, mspace, fspace, H5P_DEFAULT, buf), "cannot read row %ld of %s", index, what);
cleanup:
    h5_close(&mspace);
    h5_close(&fspace);
    return rc;
}

int h5_write_row(hid_t ds, long index, hid_t memtype, const void *buf, const char *what) {
    return row_io(ds, index, memtype, (void *)buf, 1, what);
}

int h5_read_row(hid_t ds, long index, hid_t memtype, void *buf, const char *what) {
    return row_io(ds, index, memtype, buf, 0, what);
}

int h5_read_all(hid_t loc, const char *name, hid_t memtype, void *buf, hsize_t count) {
    int rc = ADV_OK;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID;
    H5TRY(ds = H5Dopen2(loc, name, H5P_DEFAULT), "cannot open /%s", name);
    H5TRY(space = H5Dget_space(ds), "cannot read the shape of /%s", name);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0 || (hsize_t)n != count) {
        rc = adv_err(ADV_ERR_INPUT, "/%s holds %lld values, not %llu", name, (long long)n, (unsigned long long)count);
        goto cleanup;
    }
    H5TRY(H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "cannot read /%s", name);
cleanup:
    h5_close(&space);
    h5_close(&ds);
    return rc;
}

int h5_read_keys(hid_t f, char (*keys)[STORE_KEY_HEX + 1], long P) {
    hid_t t = h5_str_type(STORE_KEY_HEX + 1);
    if (t < 0) return h5_fail(ADV_ERR_IO, "cannot make a string type");
    int rc = h5_read_all(f, D_PLAN_KEY, t, keys, (hsize_t)P);
    H5Tclose(t);
    return rc;
}

int h5_is_vector(hid_t loc, const char *name, hsize_t P) {
    hsize_t dims[3] = {0};
    if (!h5_has_dataset(loc, name)) return 0;
    int rank = h5_dims(loc, name, dims);
    H5Eclear2(H5E_DEFAULT);
    return rank == 1 && dims[0] == P;
}

/* ---- parameters and summary fields ------------------------------------------------------ */

size_t param_bytes(const ParamSpec *p) {
    switch (p->type) {
    case PARAM_CHOICE: return CHOICE_BYTES;
    case PARAM_TEXT: return TEXT_BYTES;
    default: return 8;
    }
}

hid_t param_type(const ParamSpec *p, int native) {
    switch (p->type) {
    case PARAM_INT: return H5Tcopy(native ? H5T_NATIVE_INT64 : H5T_STD_I64LE);
    case PARAM_REAL: return H5Tcopy(native ? H5T_NATIVE_DOUBLE : H5T_IEEE_F64LE);
    default: return h5_str_type(param_bytes(p));
    }
}

void param_pack(void *dst, const TrainConfig *cfg, const ParamSpec *p) {
    const char *field = (const char *)cfg + p->offset;
    switch (p->type) {
    case PARAM_INT: memcpy(dst, field, sizeof(int64_t)); break;
    case PARAM_REAL: memcpy(dst, field, sizeof(double)); break;
    case PARAM_CHOICE: {
        text_copy(dst, CHOICE_BYTES, choice_name(p->name, *(const int *)field));
        break;
    }
    case PARAM_TEXT:
        text_copy(dst, TEXT_BYTES, field);
        break;
    }
}

size_t summary_bytes(const SummaryField *f) {
    switch (f->type) {
    case FIELD_I32: return 4;
    case FIELD_TEXT: return f->size;
    default: return 8;
    }
}

hid_t summary_type(const SummaryField *f, int native) {
    switch (f->type) {
    case FIELD_I32: return H5Tcopy(native ? H5T_NATIVE_INT32 : H5T_STD_I32LE);
    case FIELD_I64: return H5Tcopy(native ? H5T_NATIVE_INT64 : H5T_STD_I64LE);
    case FIELD_F64: return H5Tcopy(native ? H5T_NATIVE_DOUBLE : H5T_IEEE_F64LE);
    default: return h5_str_type(f->size);
    }
}

int summary_is_status(const SummaryField *f) { return strcmp(f->name, SUMMARY_STATUS) == 0; }

void summary_fill(void *dst, const SummaryField *f) {
    switch (f->type) {
    case FIELD_I32: {
        int32_t v = summary_is_status(f) ? RUN_PENDING : -1;
        memcpy(dst, &v, 4);
        break;
    }
    case FIELD_I64: {
        int64_t v = -1;
        memcpy(dst, &v, 8);
        break;
    }
    case FIELD_F64: {
        double v = NAN;
        memcpy(dst, &v, 8);
        break;
    }
    case FIELD_TEXT: memset(dst, 0, f->size); break;
    }
}

/* ---- the runs table ---------------------------------------------------------------------- */

void runs_type_free(RunsType *rt) {
    h5_close(&rt->type);
    free(rt->off_param);
    free(rt->off_summary);
    rt->off_param = NULL;
    rt->off_summary = NULL;
}

static int insert_member(hid_t compound, const char *name, size_t offset, hid_t member) {
    int rc = ADV_OK;
    if (member < 0) return h5_fail(ADV_ERR_IO, "cannot make the type of runs member %s", name);
    H5TRY(H5Tinsert(compound, name, offset, member), "cannot add member %s to the runs table", name);
cleanup:
    H5Tclose(member);
    return rc;
}

int runs_type_build(RunsType *rt, int native) {
    int rc = ADV_OK;
    memset(rt, 0, sizeof *rt);
    rt->type = H5I_INVALID_HID;
    rt->off_param = xcalloc((size_t)N_PARAMS, sizeof(size_t));
    rt->off_summary = xcalloc((size_t)N_SUMMARY_FIELDS, sizeof(size_t));
    size_t size = 8 + 4;
    rt->off_index = 0;
    rt->off_status = 8;
    for (int i = 0; i < N_PARAMS; i++) {
        rt->off_param[i] = size;
        size += param_bytes(&PARAMS[i]);
    }
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        if (summary_is_status(&SUMMARY_FIELDS[j])) {
            rt->off_summary[j] = (size_t)-1;
            continue;
        }
        rt->off_summary[j] = size;
        size += summary_bytes(&SUMMARY_FIELDS[j]);
    }
    rt->size = size;
    H5TRY(rt->type = H5Tcreate(H5T_COMPOUND, size), "cannot make the runs table type");
    CHECK(insert_member(rt->type, RUNS_INDEX, rt->off_index, H5Tcopy(native ? H5T_NATIVE_INT64 : H5T_STD_I64LE)));
    CHECK(insert_member(rt->type, RUNS_STATUS, rt->off_status, H5Tcopy(native ? H5T_NATIVE_INT32 : H5T_STD_I32LE)));
    for (int i = 0; i < N_PARAMS; i++)
        CHECK(insert_member(rt->type, PARAMS[i].name, rt->off_param[i], param_type(&PARAMS[i], native)));
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        const SummaryField *f = &SUMMARY_FIELDS[j];
        if (rt->off_summary[j] == (size_t)-1) continue;
        char name[128];
        snprintf(name, sizeof name, "%s%s", param_find(f->name) || !strcmp(f->name, RUNS_INDEX) ? RUNS_COLLISION_PREFIX : "",
                 f->name);
        CHECK(insert_member(rt->type, name, rt->off_summary[j], summary_type(f, native)));
    }
cleanup:
    if (rc != ADV_OK) runs_type_free(rt);
    return rc;
}

void runs_pack_summary(const RunsType *rt, unsigned char *row, const TrainSummary *sum) {
    int32_t status = sum ? sum->status : RUN_PENDING;
    memcpy(row + rt->off_status, &status, 4);
    for (int j = 0; j < N_SUMMARY_FIELDS; j++) {
        const SummaryField *f = &SUMMARY_FIELDS[j];
        if (rt->off_summary[j] == (size_t)-1) continue;
        unsigned char *dst = row + rt->off_summary[j];
        if (!sum) {
            summary_fill(dst, f);
        } else if (f->type == FIELD_TEXT) {
            text_copy((char *)dst, f->size, (const char *)sum + f->offset);
        } else {
            memcpy(dst, (const char *)sum + f->offset, summary_bytes(f));
        }
    }
}

void text_copy(char *dst, size_t size, const char *src) {
    memset(dst, 0, size);
    if (src && size > 1) memcpy(dst, src, strnlen(src, size - 1));
}

/* ---- files --------------------------------------------------------------------------------- */

char *store_tmp_name(const char *path) {
    size_t len = strlen(path) + 48;
    char *tmp = xcalloc(len, 1);
    /* Reserve the name with O_EXCL, so that the file we later truncate, fill
     * and remove on failure is one we made: never a user's PATH.tmp.PID. */
    for (int k = 0; k < 1000; k++) {
        if (k == 0) snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(tmp, len, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            return tmp;
        }
        if (errno != EEXIST) break; /* e.g. an unwritable directory: the name is free, creating it fails later */
    }
    return tmp;
}

int store_publish(const char *tmp, const char *path) {
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (rename(tmp, path) != 0)
        return adv_err(ADV_ERR_IO, "%s: cannot move the new file into place (%s)", path, strerror(errno));
    return ADV_OK;
}

int store_copy_file(const char *from, const char *to) {
    int rc = ADV_OK;
    int in = open(from, O_RDONLY), out = -1;
    char *buf = NULL;
    if (in < 0) {
        rc = adv_err(ADV_ERR_IO, "%s: cannot read (%s)", from, strerror(errno));
        goto cleanup;
    }
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0) {
        rc = adv_err(ADV_ERR_IO, "%s: cannot create (%s)", to, strerror(errno));
        goto cleanup;
    }
    enum { CHUNK = 1 << 20 };
    buf = xcalloc(CHUNK, 1);
    for (;;) {
        ssize_t got = read(in, buf, CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc = adv_err(ADV_ERR_IO, "%s: read error (%s)", from, strerror(errno));
            goto cleanup;
        }
        if (got == 0) break;
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write(out, buf + done, (size_t)(got - done));
            if (put < 0 && errno == EINTR) continue;
            if (put < 0) {
                rc = adv_err(ADV_ERR_IO, "%s: write error (%s)", to, strerror(errno));
                goto cleanup;
            }
            done += put;
        }
    }
cleanup:
    free(buf);
    if (out >= 0 && close(out) != 0 && rc == ADV_OK)
        rc = adv_err(ADV_ERR_IO, "%s: write error (%s)", to, strerror(errno));
    if (in >= 0) close(in);
    return rc;
}

int store_reserve(const char *path, double bytes, double reserve, char **reserve_path) {
    *reserve_path = NULL;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct statvfs vfs;
    const double MB = 1024.0 * 1024.0;
    const char *skip = getenv("ADVSWEEP_SKIP_SPACE_CHECK"); /* tests: let HDF5 itself meet a full disk */
    if (!(skip && !strcmp(skip, "1")) && statvfs(dir, &vfs) == 0 && vfs.f_frsize > 0) {
        double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
        if (avail < bytes + reserve)
            return adv_err(ADV_ERR_IO, "%s: not enough space in %s (the file needs about %.3g MB, %.3g MB are free)",
                           path, dir, (bytes + reserve) / MB, avail / MB);
    }
    size_t len = strlen(path) + 16;
    char *name = xcalloc(len, 1);
    snprintf(name, len, "%s.reserve", path);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        int err = errno;
        free(name);
        return adv_err(ADV_ERR_IO, "%s: cannot write in %s (%s)", path, dir, strerror(err));
    }
    int err = posix_fallocate(fd, 0, (off_t)reserve); /* glibc writes zeros where fallocate is unsupported */
    close(fd);
    if (err != 0) {
        unlink(name);
        free(name);
        if (err == ENOSPC || err == EDQUOT)
            return adv_err(ADV_ERR_IO, "%s: not enough space in %s (%s)", path, dir, strerror(err));
        return adv_err(ADV_ERR_IO, "%s: cannot write in %s (%s)", path, dir, strerror(err));
    }
    *reserve_path = name;
    return ADV_OK;
}

void store_reserve_drop(char **reserve_path) {
    if (!reserve_path || !*reserve_path) return;
    unlink(*reserve_path);
    free(*reserve_path);
    *reserve_path = NULL;
}
