/* data.c — training sets on the unit sphere: compatible random labels, a
 * teacher network, Appendix D's shattering clusters, and user arrays.
 * Randomness only from (seed, RNG_DATA) and (seed, RNG_TEACHER).
 * Must not use MPI or HDF5.
 */
#include "advsweep/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/rng.h"

/* Tries allowed to place one point before the generator gives up. */
enum { PLACE_TRIES = 20000 };

Dataset *dataset_create(long n, long d) {
    Dataset *ds = xcalloc(1, sizeof *ds);
    ds->n = n;
    ds->d = d;
    ds->X = xcalloc((size_t)(n * d), sizeof(double));
    ds->y = xcalloc((size_t)n, sizeof(double));
    return ds;
}

void dataset_destroy(Dataset **ds) {
    if (!ds || !*ds) return;
    free((*ds)->X);
    free((*ds)->y);
    free(*ds);
    *ds = NULL;
}

static double dist2(const double *a, const double *b, long d) {
    double s = 0.0;
    for (long k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
    return s;
}

/* 1 if x is more than `sep` away from every placed point of label != label. */
static int compatible(const Dataset *ds, long placed, const double *x, double label, double sep) {
    double sep2 = sep * sep;
    for (long j = 0; j < placed; j++)
        if (ds->y[j] != label && !(dist2(ds->X + j * ds->d, x, ds->d) > sep2)) return 0;
    return 1;
}

/* f(x) = sum_r a_r (relu(w_r . x) - E relu(w_r . x)): centred so both labels are common. */
typedef struct {
    long width, d;
    double *w;    /* (width, d) */
    double *a;    /* (width) */
    double *mean; /* (width) E_x relu(w_r . x) for x uniform on the sphere */
} Teacher;

static double teacher_label(const Teacher *t, const double *x) {
    double f = 0.0;
    for (long r = 0; r < t->width; r++) {
        double z = 0.0;
        for (long k = 0; k < t->d; k++) z += t->w[r * t->d + k] * x[k];
        f += t->a[r] * ((z > 0 ? z : 0.0) - t->mean[r]);
    }
    return f >= 0 ? 1.0 : -1.0;
}

/* Uniform points, labels fair coins (teacher == NULL) or the teacher's sign,
 * kept only when 2 delta away from every opposite label. */
static int generate_compatible(Dataset *ds, const TrainConfig *cfg, const Teacher *teacher, Rng *rng) {
    double sep = 2.0 * cfg->delta;
    for (long i = 0; i < ds->n; i++) {
        double *x = ds->X + i * ds->d;
        double label = teacher ? 0.0 : ((rng_next(rng) >> 63) ? 1.0 : -1.0);
        long tries = 0;
        for (;;) {
            rng_sphere(rng, x, (int)ds->d);
            if (teacher) label = teacher_label(teacher, x);
            if (compatible(ds, i, x, label, sep)) break;
            if (++tries >= PLACE_TRIES)
                /* short enough for a point's reason (STATUS_REASON_MAX) with the fix in it */
                return adv_err(ADV_ERR_INPUT,
                               "cannot place n=%lld points 2*delta=%g from opposite labels; lower n or delta, or "
                               "raise d",
                               (long long)cfg->n, sep);
        }
        ds->y[i] = label;
    }
    return ADV_OK;
}

/* x = (c + s t) / |c + s t| with t the unit tangent image of e_j at c. */
static void cluster_point(double *x, const double *c, long d, long j, double s) {
    double cj = c[j];
    double tnorm = sqrt(fmax(1.0 - cj * cj, 1e-300));
    double norm2 = 0.0;
    for (long k = 0; k < d; k++) {
        double t = ((k == j ? 1.0 : 0.0) - cj * c[k]) / tnorm;
        x[k] = c[k] + s * t;
        norm2 += x[k] * x[k];
    }
    double inv = 1.0 / sqrt(norm2);
    for (long k = 0; k < d; k++) x[k] *= inv;
}

static int generate_shatter(Dataset *ds, const TrainConfig *cfg, Rng *rng) {
    long d = ds->d, clusters = (ds->n + d - 1) / d;
    double *centres = xcalloc((size_t)(clusters * d), sizeof(double));
    double sep2 = (6.0 * cfg->delta) * (6.0 * cfg->delta);
    int rc = ADV_OK;
    for (long c = 0; c < clusters && rc == ADV_OK; c++) {
        double *centre = centres + c * d;
        long tries = 0;
        for (;;) {
            rng_sphere(rng, centre, (int)d);
            int ok = 1;
            for (long j = 0; j < c && ok; j++) ok = dist2(centres + j * d, centre, d) > sep2;
            if (ok) break;
            if (++tries >= PLACE_TRIES) {
                rc = adv_err(ADV_ERR_INPUT,
                             "cannot place %ld shatter clusters 6*delta=%g apart; lower n or delta, or raise d",
                             clusters, 6.0 * cfg->delta);
                break;
            }
        }
    }
    double spread = cfg->shatter_spread * cfg->delta;
    for (long i = 0; i < ds->n && rc == ADV_OK; i++) {
        cluster_point(ds->X + i * d, centres + (i / d) * d, d, i % d, spread);
        ds->y[i] = (rng_next(rng) >> 63) ? 1.0 : -1.0;
    }
    free(centres);
    return rc;
}

int data_generate(Dataset **out, const TrainConfig *cfg) {
    *out = NULL;
    if (cfg->data == DATA_FILE)
        return adv_err(ADV_ERR_INTERNAL, "data=file is read by the storage module, not generated");
    Dataset *ds = dataset_create(cfg->n, cfg->d);
    Rng rng;
    rng_seed(&rng, (uint64_t)cfg->seed, RNG_DATA, 0);
    int rc;
    if (cfg->data == DATA_TEACHER) {
        Teacher t = {cfg->teacher_width, cfg->d, NULL, NULL, NULL};
        t.w = xcalloc((size_t)(t.width * t.d), sizeof(double));
        t.a = xcalloc((size_t)t.width, sizeof(double));
        t.mean = xcalloc((size_t)t.width, sizeof(double));
        Rng trng;
        rng_seed(&trng, (uint64_t)cfg->seed, RNG_TEACHER, 0);
        rng_fill_normal(&trng, t.w, t.width * t.d, 1.0);
        rng_fill_normal(&trng, t.a, t.width, 1.0);
        /* E relu(u_1) for u uniform on the sphere of R^d = Gamma(d/2) / (2 sqrt(pi) Gamma((d+1)/2)) */
        double dd = (double)t.d, e_relu = exp(lgamma(dd / 2) - lgamma((dd + 1) / 2)) / (2 * sqrt(3.14159265358979323846));
        for (long r = 0; r < t.width; r++) {
            double norm2 = 0.0;
            for (long k = 0; k < t.d; k++) norm2 += t.w[r * t.d + k] * t.w[r * t.d + k];
            t.mean[r] = sqrt(norm2) * e_relu;
        }
        rc = generate_compatible(ds, cfg, &t, &rng);
        free(t.w);
        free(t.a);
        free(t.mean);
    } else if (cfg->data == DATA_SHATTER) {
        rc = generate_shatter(ds, cfg, &rng);
    } else {
        rc = generate_compatible(ds, cfg, NULL, &rng);
    }
    if (rc != ADV_OK) {
        dataset_destroy(&ds);
        return rc;
    }
    *out = ds;
    return ADV_OK;
}

int data_from_arrays(Dataset **out, const double *X, const double *y, long n, long d, long *projected) {
    *out = NULL;
    *projected = 0;
    if (n < 1 || d < 2) return adv_err(ADV_ERR_INPUT, "data file: need n >= 1 rows of d >= 2 columns (got %ld x %ld)", n, d);
    Dataset *ds = dataset_create(n, d);
    for (long i = 0; i < n; i++) {
        if (y[i] != 1.0 && y[i] != -1.0) {
            dataset_destroy(&ds);
            return adv_err(ADV_ERR_INPUT, "data file: label y[%ld] = %g (labels must be +1 or -1)", i, y[i]);
        }
        double norm2 = 0.0;
        for (long k = 0; k < d; k++) {
            if (!isfinite(X[i * d + k])) {
                dataset_destroy(&ds);
                return adv_err(ADV_ERR_INPUT, "data file: x[%ld][%ld] is not finite", i, k);
            }
            norm2 += X[i * d + k] * X[i * d + k];
        }
        if (!(norm2 > 0)) {
            dataset_destroy(&ds);
            return adv_err(ADV_ERR_INPUT, "data file: row x[%ld] is zero and cannot be put on the sphere", i);
        }
        double norm = sqrt(norm2);
        if (fabs(norm - 1.0) > 1e-9) ++*projected;
        for (long k = 0; k < d; k++) ds->X[i * d + k] = X[i * d + k] / norm;
        ds->y[i] = y[i];
    }
    *out = ds;
    return ADV_OK;
}

double data_min_opposite_distance(const Dataset *ds) {
    double best = INFINITY;
    for (long i = 0; i < ds->n; i++)
        for (long j = i + 1; j < ds->n; j++)
            if (ds->y[i] != ds->y[j]) {
                double dd = sqrt(dist2(ds->X + i * ds->d, ds->X + j * ds->d, ds->d));
                if (dd < best) best = dd;
            }
    return best;
}
