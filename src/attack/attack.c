/* attack.c — perturbation functions on B(x) = sphere ∩ ball(x, delta).
 *
 * Batched: every pass of the network runs over all n points at once (one
 * GEMM per layer); the per-sample work (normalise the gradient, step,
 * project) is one fused loop. Nothing is allocated per call. The typed code
 * is attack_real.h, compiled here for double (the reference) and float; the
 * cap sampler's table is one double implementation below.
 * Must not use MPI or HDF5.
 */
#include "advsweep/attack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/config.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { CAP_CELLS = 512 };

/* Uniform-cap sampler: the polar angle phi has density ∝ sin^(d-2) phi on
 * [0, theta]; a piecewise-constant envelope over CAP_CELLS cells (exact
 * maxima, since the density is unimodal) drives rejection sampling. */
typedef struct {
    long d;
    double delta, theta;        /* theta = 2 asin(delta / 2): angular radius of the cap */
    double cell_max[CAP_CELLS]; /* envelope (relative to the global max) */
    double cell_cum[CAP_CELLS]; /* cumulative envelope mass */
    double peak;                /* log of the density's maximum on [0, theta] */
} CapSampler;

static double log_density(double phi, long d) { return d > 2 ? (double)(d - 2) * log(sin(phi)) : 0.0; }

static void cap_init(CapSampler *cap, long d, double delta) {
    cap->d = d;
    cap->delta = delta;
    cap->theta = 2.0 * asin(delta / 2.0);
    if (!(cap->theta > 0)) return;
    double h = cap->theta / CAP_CELLS;
    double peak = cap->theta >= M_PI / 2 ? log_density(M_PI / 2, d) : log_density(cap->theta, d);
    cap->peak = peak;
    double cum = 0.0;
    for (int c = 0; c < CAP_CELLS; c++) {
        double lo = c * h, hi = (c + 1) * h;
        double top = fmax(lo > 0 ? log_density(lo, d) : -INFINITY, log_density(hi, d));
        if (lo < M_PI / 2 && hi > M_PI / 2) top = log_density(M_PI / 2, d);
        cap->cell_max[c] = exp(top - peak);
        cum += cap->cell_max[c] * h;
        cap->cell_cum[c] = cum;
    }
}

/* The polar angle phi in (0, theta] of a uniform point of the cap: a cell by its
 * envelope mass, a uniform point in it, accepted with probability density / envelope. */
static double cap_angle(const CapSampler *cap, Rng *rng) {
    double phi, h = cap->theta / CAP_CELLS;
    for (;;) {
        double u = rng_uniform(rng) * cap->cell_cum[CAP_CELLS - 1];
        int lo = 0, hi = CAP_CELLS - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cap->cell_cum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        phi = (lo + rng_uniform(rng)) * h;
        if (phi <= 0) continue;
        if (rng_uniform(rng) * cap->cell_max[lo] <= exp(log_density(phi, cap->d) - cap->peak)) break;
    }
    return phi;
}

/* ----- the attacks, in double and in float ------------------------------------ */

#define REAL double
#define NAME(name) name
#define REAL_IS_DOUBLE 1
#include "attack_real.h"

#define REAL float
#define NAME(name) name##_f32
#define REAL_IS_DOUBLE 0
#include "attack_real.h"

double attack_work_bytes(long n_max, long d, size_t elem) {
    /* Xcur, G (n_max, d) and f, df (n_max) in the element type; the two loss rows in
     * double; f32 also keeps 2 d doubles for drawing a point of B(x) in double.
     * In double: a huge request must give a huge figure, not a wrapped one. */
    double n = (double)n_max, dd = (double)d;
    double bytes = (2.0 * n * dd + 2.0 * n) * (double)elem + 2.0 * n * sizeof(double);
    if (elem != sizeof(double)) bytes += 2.0 * dd * sizeof(double);
    return bytes + (double)(elem == sizeof(double) ? sizeof(AttackWork) : sizeof(AttackWork_f32));
}
