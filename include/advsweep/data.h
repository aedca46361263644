/* data.h — training sets on the unit sphere (Sec. 3.3) and their generators.
 *
 * Every generator draws from Rng streams seeded by (cfg->seed, RNG_DATA) and
 * (cfg->seed, RNG_TEACHER) only, so all grid points with the same seed, n, d,
 * delta and generator train on the same data, whatever their width or attack.
 * User data arrives as plain arrays (the storage module reads the file).
 * Must not use MPI or HDF5.
 */
#ifndef ADVSWEEP_DATA_H
#define ADVSWEEP_DATA_H

#include "advsweep/config.h"

typedef struct {
    long n, d;
    double *X; /* (n, d) rows on the unit sphere */
    double *y; /* (n) labels, +1 or -1 */
} Dataset;

/* An empty (zero) dataset of n points in R^d. Free with dataset_destroy. */
Dataset *dataset_create(long n, long d);
/* Frees *ds and sets it to NULL; accepts NULL. */
void dataset_destroy(Dataset **ds);

/* Generate cfg->n points in R^cfg->d with generator cfg->data (sphere,
 * teacher or shatter). On success *out owns a new dataset. Returns
 * ADV_ERR_INPUT with a one-line reason, and *out == NULL, when the request is
 * impossible (e.g. n points cannot be placed with opposite labels 2 delta apart).
 *
 * sphere:  uniform points, fair random labels, any two points with different
 *          labels more than 2 delta apart (so their perturbation sets are
 *          disjoint: Definition 3.1's compatibility), by rejection with a
 *          bounded number of tries per point.
 * teacher: uniform points labelled by the sign of a random two-layer relu net
 *          of cfg->teacher_width units, f(x) = sum_r a_r (relu(w_r.x) - E relu(w_r.x))
 *          (centred so that both labels are common), with the same 2 delta rule.
 * shatter: Appendix D's construction moved onto the sphere: ceil(n/d) centres
 *          more than 6 delta apart, each with d points at distance
 *          shatter_spread * delta along the tangent images of e_1..e_d, labels
 *          random. This is the set a robust-interpolation class must shatter;
 *          it is not 2 delta-compatible by design (train it with attack none). */
int data_generate(Dataset **out, const TrainConfig *cfg);

/* Adopt user arrays X (n, d) and y (n): rows not of unit norm (|1 - |x|| > 1e-9)
 * are projected onto the sphere and counted in *projected; labels must be +1
 * or -1 (0/1 labels are not guessed). Returns ADV_ERR_INPUT naming the first
 * bad row. */
int data_from_arrays(Dataset **out, const double *X, const double *y, long n, long d, long *projected);

/* Smallest distance between two points with different labels (INFINITY if
 * all labels agree). O(n^2 d). */
double data_min_opposite_distance(const Dataset *ds);

#endif
