/* dims.c — the sweep file as a netCDF-4 dataset: HDF5 dimension scales (the
 * high-level H5DS library) on every dataset, so that
 * xarray.open_dataset(F, engine="h5netcdf") opens it without phony_dims, with
 * a named `point` dimension and the parameters that vary as coordinates.
 *
 *   /point              (P) int64 0..P-1: axis 0 of every per-point dataset
 *   /traj/record        (K) the columns of the trajectories; /eval/eval (E), /targets/target (Q)
 *                       likewise; /weights/weight, /weights/fixed_weight, /data/sample and
 *                       /data/feature for the optional stored arrays
 *   /NAME               a soft link to /params/NAME for each parameter whose value
 *                       differs between points (the grid axes), listed in the
 *                       `coordinates` attribute of /status and /reason (CF), so
 *                       xarray makes them coordinates of the root group
 *
 * Runs once, serially, while the file is built (store_build_file), before any
 * rank opens it: only attributes and links, no raw data of a point.
 */
#include <stdlib.h>
#include <string.h>

#include <hdf5_hl.h>

#include "advsweep/common.h"
#include "internal.h"

#define D_POINT "point"

/* A coordinate variable 0..n-1 named `name` (under loc), made a dimension scale. */
static int make_scale(hid_t file, const char *path, const char *dim_name, hsize_t n) {
    int rc = ADV_OK;
    hid_t space = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    int64_t *index = xcalloc(n ? n : 1, sizeof(int64_t));
    for (hsize_t k = 0; k < n; k++) index[k] = (int64_t)k;
    H5TRY(space = H5Screate_simple(1, &n, NULL), "cannot make the dataspace of /%s", path);
    H5TRY(ds = H5Dcreate2(file, path, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
          "cannot create /%s", path);
    H5TRY(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, index), "cannot write /%s", path);
    H5TRY(H5DSset_scale(ds, dim_name), "cannot make /%s a dimension scale", path);
cleanup:
    free(index);
    h5_close(&ds);
    h5_close(&space);
    return rc;
}

/* The datasets of the file (paths relative to the root), in visiting order. */
typedef struct {
    char **paths;
    long count, cap;
} PathList;

static herr_t collect(hid_t obj, const char *name, const H5O_info_t *info, void *op_data) {
    (void)obj;
    PathList *l = op_data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 128;
        char **grown = xcalloc((size_t)l->cap, sizeof *grown);
        if (l->count) memcpy(grown, l->paths, (size_t)l->count * sizeof *grown);
        free(l->paths);
        l->paths = grown;
    }
    l->paths[l->count++] = xstrdup(name);
    return 0;
}

/* The scale of axis k >= 1 of dataset `path` (group/name): by the group it lives in. */
static const char *column_scale(const char *path, int k) {
    if (!strncmp(path, G_TRAJ "/", strlen(G_TRAJ) + 1)) return G_TRAJ "/record";
    if (!strncmp(path, G_EVAL "/", strlen(G_EVAL) + 1)) return G_EVAL "/eval";
    if (!strncmp(path, G_TARGETS "/", strlen(G_TARGETS) + 1)) return G_TARGETS "/target";
    if (!strcmp(path, D_WEIGHTS_FIXED)) return G_WEIGHTS "/fixed_weight";
    if (!strncmp(path, G_WEIGHTS "/", strlen(G_WEIGHTS) + 1)) return G_WEIGHTS "/weight";
    if (!strncmp(path, G_DATA "/", strlen(G_DATA) + 1)) return k == 1 ? G_DATA "/sample" : G_DATA "/feature";
    return NULL;
}

/* Parameters whose value is not the same at every point, as root soft links and the
 * `coordinates` list (space separated; names taken at the root are left out). */
static int link_varying_parameters(hid_t file, const StoreLayout *l, char *coords, size_t len) {
    coords[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        size_t bytes = param_bytes(p);
        unsigned char *first = xcalloc(1, bytes), *other = xcalloc(1, bytes);
        param_pack(first, &l->configs[0], p);
        int varies = 0;
        for (long k = 1; k < l->n_points && !varies; k++) {
            param_pack(other, &l->configs[k], p);
            varies = memcmp(first, other, bytes) != 0;
        }
        free(first);
        free(other);
        if (!varies || H5Lexists(file, p->name, H5P_DEFAULT) != 0) continue; /* e.g. `data` beside /data */
        if (used + strlen(p->name) + 2 > len) break;
        char target[128];
        snprintf(target, sizeof target, "/%s/%s", G_PARAMS, p->name);
        /* soft, not hard: h5py's visititems (H5Ovisit) still names the dataset params/NAME */
        if (H5Lcreate_soft(target, file, p->name, H5P_DEFAULT, H5P_DEFAULT) < 0)
            return h5_fail(ADV_ERR_IO, "cannot link /%s to /%s", p->name, target);
        used += (size_t)snprintf(coords + used, len - used, "%s%s", used ? " " : "", p->name);
    }
    return ADV_OK;
}

int store_attach_dims(hid_t file, const StoreLayout *l) {
    int rc = ADV_OK;
    PathList list = {0};
    hid_t ds = H5I_INVALID_HID, scale = H5I_INVALID_HID, space = H5I_INVALID_HID;
    char coords[4096];
    hsize_t P = (hsize_t)l->n_points;
    /* every dataset there is now (the scales made below are not in the list) */
    H5TRY(H5Ovisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, collect, &list), "cannot list the datasets");
    CHECK(make_scale(file, D_POINT, D_POINT, P));
    for (long j = 0; j < list.count; j++) {
        const char *path = list.paths[j];
        hsize_t dims[3] = {0};
        int rank = h5_dims(file, path, dims);
        if (rank < 1 || rank > 3 || dims[0] != P) continue; /* not per point */
        H5TRY(ds = H5Dopen2(file, path, H5P_DEFAULT), "cannot open /%s", path);
        H5TRY(scale = H5Dopen2(file, D_POINT, H5P_DEFAULT), "cannot open /%s", D_POINT);
        H5TRY(H5DSattach_scale(ds, scale, 0), "cannot attach /%s to /%s", D_POINT, path);
        h5_close(&scale);
        for (int k = 1; k < rank; k++) {
            const char *column = column_scale(path, k);
            char own[256];
            if (!column) { /* a dataset this file does not know by group: a dimension of its own */
                snprintf(own, sizeof own, "%s_dim%d", path, k);
                column = own;
            }
            if (!h5_has_dataset(file, column)) {
                const char *slash = strrchr(column, '/');
                CHECK(make_scale(file, column, slash ? slash + 1 : column, dims[k]));
            }
            H5TRY(scale = H5Dopen2(file, column, H5P_DEFAULT), "cannot open /%s", column);
            hsize_t have[3] = {0};
            H5TRY(space = H5Dget_space(scale), "cannot read the shape of /%s", column);
            int scale_rank = H5Sget_simple_extent_ndims(space);
            if (scale_rank == 1) H5Sget_simple_extent_dims(space, have, NULL);
            h5_close(&space);
            if (scale_rank != 1 || have[0] != dims[k]) {
                rc = adv_err(ADV_ERR_INTERNAL, "/%s has %llu columns on axis %d, its dimension /%s %llu", path,
                             (unsigned long long)dims[k], k, column, (unsigned long long)have[0]);
                goto cleanup;
            }
            H5TRY(H5DSattach_scale(ds, scale, (unsigned)k), "cannot attach /%s to /%s", column, path);
            h5_close(&scale);
        }
        h5_close(&ds);
    }
    CHECK(link_varying_parameters(file, l, coords, sizeof coords));
    if (coords[0]) {
        static const char *const with_coords[] = {D_STATUS, D_REASON};
        for (size_t k = 0; k < sizeof with_coords / sizeof with_coords[0]; k++) {
            H5TRY(ds = H5Dopen2(file, with_coords[k], H5P_DEFAULT), "cannot open /%s", with_coords[k]);
            CHECK(h5_attr_write_str(ds, "coordinates", coords));
            h5_close(&ds);
        }
    }
cleanup:
    h5_close(&space);
    h5_close(&scale);
    h5_close(&ds);
    for (long j = 0; j < list.count; j++) free(list.paths[j]);
    free(list.paths);
    return rc;
}
