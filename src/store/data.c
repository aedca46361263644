/* data.c — read a user's training data file: /x (n, d) and /y (n), any
 * numeric types, as float64. Read-only, serial, no MPI. Every problem is an
 * ADV_ERR_INPUT whose message names the file and says what is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "internal.h"

/* Shape of a numeric dataset `name`, or an ADV_ERR_INPUT message. */
static int numeric_shape(hid_t f, const char *path, const char *name, int *rank, hsize_t dims[3]) {
    int rc = ADV_OK;
    hid_t ds = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    if (!h5_has_dataset(f, name))
        return adv_err(ADV_ERR_INPUT, "data file %s: no dataset /%s (expected /x with shape (n, d) and /y with shape (n))",
                       path, name);
    H5TRY(ds = H5Dopen2(f, name, H5P_DEFAULT), "data file %s: cannot open /%s", path, name);
    H5TRY(type = H5Dget_type(ds), "data file %s: cannot read the type of /%s", path, name);
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        rc = adv_err(ADV_ERR_INPUT, "data file %s: /%s is not numeric", path, name);
        goto cleanup;
    }
    H5TRY(space = H5Dget_space(ds), "data file %s: cannot read the shape of /%s", path, name);
    *rank = H5Sget_simple_extent_ndims(space);
    if (*rank < 0 || *rank > 3) {
        rc = adv_err(ADV_ERR_INPUT, "data file %s: /%s has rank %d", path, name, *rank);
        goto cleanup;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
cleanup:
    h5_close(&space);
    h5_close(&type);
    h5_close(&ds);
    if (rc == ADV_ERR_IO) rc = ADV_ERR_INPUT; /* an unreadable data file is bad input */
    return rc;
}

int store_read_data(const char *path, double **X, double **y, long *n, long *d) {
    h5_init();
    *X = *y = NULL;
    *n = *d = 0;
    int is = h5_is_hdf5(path);
    if (is < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        return adv_err(ADV_ERR_INPUT, "data file %s", msg);
    }
    if (is == 0) return adv_err(ADV_ERR_INPUT, "data file %s: not an HDF5 file", path);
    int rc = ADV_OK;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID;
    double *xb = NULL, *yb = NULL;
    int xrank = 0, yrank = 0;
    hsize_t xd[3] = {0}, yd[3] = {0};
    H5TRY(fapl = h5_fapl_serial(), "cannot set up file access");
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) {
        rc = h5_fail(ADV_ERR_INPUT, "data file %s: cannot open as HDF5", path);
        goto cleanup;
    }
    CHECK(numeric_shape(f, path, "x", &xrank, xd));
    if (xrank != 2) {
        rc = adv_err(ADV_ERR_INPUT, "data file %s: /x has rank %d; expected shape (n, d)", path, xrank);
        goto cleanup;
    }
    if (xd[0] < 1 || xd[1] < 1) {
        rc = adv_err(ADV_ERR_INPUT, "data file %s: /x is empty (shape (%llu, %llu))", path, (unsigned long long)xd[0],
                     (unsigned long long)xd[1]);
        goto cleanup;
    }
    CHECK(numeric_shape(f, path, "y", &yrank, yd));
    /* (n) or a column/row vector (n, 1) / (1, n) */
    hsize_t ycount = 1;
    for (int k = 0; k < yrank; k++) ycount *= yd[k];
    int yshape = yrank == 1 || (yrank == 2 && (yd[0] == 1 || yd[1] == 1));
    if (!yshape || ycount != xd[0]) {
        char shape[96] = "(";
        for (int k = 0; k < yrank; k++) {
            char part[32];
            snprintf(part, sizeof part, "%s%llu", k ? ", " : "", (unsigned long long)yd[k]);
            strncat(shape, part, sizeof shape - strlen(shape) - 2);
        }
        strcat(shape, ")");
        rc = adv_err(ADV_ERR_INPUT, "data file %s: /y has shape %s but /x has n = %llu rows; expected /y of shape (%llu)",
                     path, shape, (unsigned long long)xd[0], (unsigned long long)xd[0]);
        goto cleanup;
    }
    if (xd[0] > (hsize_t)STORE_MAX_DATA_VALUES || xd[1] > (hsize_t)STORE_MAX_DATA_VALUES / xd[0]) {
        rc = adv_err(ADV_ERR_INPUT, "data file %s: /x has %llu x %llu values, more than %ld", path,
                     (unsigned long long)xd[0], (unsigned long long)xd[1], STORE_MAX_DATA_VALUES);
        goto cleanup;
    }
    xb = xcalloc((size_t)(xd[0] * xd[1]), sizeof(double));
    yb = xcalloc((size_t)xd[0], sizeof(double));
    if (h5_read_all(f, "x", H5T_NATIVE_DOUBLE, xb, xd[0] * xd[1]) != ADV_OK ||
        h5_read_all(f, "y", H5T_NATIVE_DOUBLE, yb, xd[0]) != ADV_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        rc = adv_err(ADV_ERR_INPUT, "data file %s: %s", path, msg);
        goto cleanup;
    }
    *X = xb;
    *y = yb;
    *n = (long)xd[0];
    *d = (long)xd[1];
    xb = yb = NULL;
cleanup:
    free(yb);
    free(xb);
    h5_close(&f);
    h5_close(&fapl);
    return rc;
}

uint64_t data_digest_of(const double *X, const double *y, long n, long d) {
    char head[64];
    int w = snprintf(head, sizeof head, "advsweep-data\nn=%ld\nd=%ld\n", n, d);
    uint64_t h = adv_hash(head, (size_t)w, 0);
    h = adv_hash(X, (size_t)(n * d) * sizeof(double), h);
    return adv_hash(y, (size_t)n * sizeof(double), h);
}

int store_data_info(const char *path, StoreDataInfo *out) {
    memset(out, 0, sizeof *out);
    double *X = NULL, *y = NULL;
    long n = 0, d = 0, projected = 0;
    TRY(store_read_data(path, &X, &y, &n, &d));
    Dataset *ds = NULL;
    int rc = data_from_arrays(&ds, X, y, n, d, &projected); /* labels, finite values, no zero rows */
    if (rc != ADV_OK) {
        char msg[900];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        const char *what = strncmp(msg, "data file: ", 11) ? msg : msg + 11;
        rc = adv_err(ADV_ERR_INPUT, "data file %s: %s", path, what);
    } else {
        out->n = n;
        out->d = d;
        out->off_sphere = projected;
        out->digest = data_digest_of(X, y, n, d);
    }
    dataset_destroy(&ds);
    free(X);
    free(y);
    return rc;
}

int store_data_digest(const char *path, uint64_t *digest) {
    double *X = NULL, *y = NULL;
    long n = 0, d = 0;
    TRY(store_read_data(path, &X, &y, &n, &d));
    *digest = data_digest_of(X, y, n, d);
    free(X);
    free(y);
    return ADV_OK;
}
