/* attack.c — perturbation functions on B(x) = sphere ∩ ball(x, delta).
 *
 * Batched: every pass of the network runs over all n points at once (one
 * GEMM per layer); the per-sample work (normalise the gradient, step,
 * project) is one fused loop. Nothing is allocated per call.
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

struct AttackWork {
    long n_max, d;
    double delta, theta; /* theta = 2 asin(delta / 2): angular radius of the cap */
    double *Xcur;        /* (n_max, d) current iterate */
    double *G;           /* (n_max, d) input gradients */
    double *f;           /* (n_max) outputs */
    double *df;          /* (n_max) dl/df */
    double *loss_cur;    /* (n_max) */
    double *loss_best;   /* (n_max) */
    /* Uniform-cap sampler: the polar angle phi has density ∝ sin^(d-2) phi on
     * [0, theta]; a piecewise-constant envelope over CAP_CELLS cells (exact
     * maxima, since the density is unimodal) drives rejection sampling. */
    double cell_max[CAP_CELLS]; /* envelope (relative to the global max) */
    double cell_cum[CAP_CELLS]; /* cumulative envelope mass */
    double peak;                /* log of the density's maximum on [0, theta] */
};

static double log_density(double phi, long d) { return d > 2 ? (double)(d - 2) * log(sin(phi)) : 0.0; }

AttackWork *attack_work_create(long n_max, long d, double delta) {
    AttackWork *aw = xcalloc(1, sizeof *aw);
    aw->n_max = n_max;
    aw->d = d;
    aw->delta = delta;
    aw->theta = 2.0 * asin(delta / 2.0);
    aw->Xcur = xaligned((size_t)(n_max * d) * sizeof(double));
    aw->G = xaligned((size_t)(n_max * d) * sizeof(double));
    aw->f = xaligned((size_t)n_max * sizeof(double));
    aw->df = xaligned((size_t)n_max * sizeof(double));
    aw->loss_cur = xaligned((size_t)n_max * sizeof(double));
    aw->loss_best = xaligned((size_t)n_max * sizeof(double));
    if (aw->theta > 0) {
        double h = aw->theta / CAP_CELLS;
        double peak = aw->theta >= M_PI / 2 ? log_density(M_PI / 2, d) : log_density(aw->theta, d);
        aw->peak = peak;
        double cum = 0.0;
        for (int c = 0; c < CAP_CELLS; c++) {
            double lo = c * h, hi = (c + 1) * h;
            double top = fmax(lo > 0 ? log_density(lo, d) : -INFINITY, log_density(hi, d));
            if (lo < M_PI / 2 && hi > M_PI / 2) top = log_density(M_PI / 2, d);
            aw->cell_max[c] = exp(top - peak);
            cum += aw->cell_max[c] * h;
            aw->cell_cum[c] = cum;
        }
    }
    return aw;
}

void attack_work_destroy(AttackWork **aw) {
    if (!aw || !*aw) return;
    free((*aw)->Xcur);
    free((*aw)->G);
    free((*aw)->f);
    free((*aw)->df);
    free((*aw)->loss_cur);
    free((*aw)->loss_best);
    free(*aw);
    *aw = NULL;
}

/* ----- geometry of B(x) ----------------------------------------------------- */

/* A unit vector orthogonal to x (|x| = 1): the axis where x is smallest, orthogonalised. */
static void any_tangent(double *t, const double *x, long d) {
    long k_min = 0;
    for (long k = 1; k < d; k++)
        if (fabs(x[k]) < fabs(x[k_min])) k_min = k;
    double norm2 = 0.0;
    for (long k = 0; k < d; k++) {
        t[k] = (k == k_min ? 1.0 : 0.0) - x[k_min] * x[k];
        norm2 += t[k] * t[k];
    }
    double inv = 1.0 / sqrt(norm2);
    for (long k = 0; k < d; k++) t[k] *= inv;
}

void ball_project(double *v, const double *x, long d, double delta) {
    double norm2 = 0.0;
    for (long k = 0; k < d; k++) norm2 += v[k] * v[k];
    if (!(norm2 > 0) || !isfinite(norm2)) {
        memcpy(v, x, (size_t)d * sizeof(double));
        return;
    }
    double inv = 1.0 / sqrt(norm2), c = 0.0;
    for (long k = 0; k < d; k++) {
        v[k] *= inv; /* u = v / |v| on the sphere */
        c += v[k] * x[k];
    }
    double dist2 = 0.0;
    for (long k = 0; k < d; k++) dist2 += (v[k] - x[k]) * (v[k] - x[k]);
    if (dist2 <= delta * delta) return;
    /* Outside the cap: the point at angle theta from x on the great circle towards u. */
    double theta = 2.0 * asin(delta / 2.0);
    double tnorm2 = 0.0;
    for (long k = 0; k < d; k++) {
        v[k] -= c * x[k]; /* tangent part of u */
        tnorm2 += v[k] * v[k];
    }
    if (tnorm2 < 1e-28) { /* u = -x: every direction is as near; take a fixed one */
        any_tangent(v, x, d);
        tnorm2 = 1.0;
    }
    double tinv = 1.0 / sqrt(tnorm2), ct = cos(theta), st = sin(theta);
    for (long k = 0; k < d; k++) v[k] = ct * x[k] + st * tinv * v[k];
}

void ball_sample(double *out, const double *x, const AttackWork *aw, Rng *rng) {
    long d = aw->d;
    if (!(aw->theta > 0)) {
        memcpy(out, x, (size_t)d * sizeof(double));
        return;
    }
    /* The polar angle: a cell by its envelope mass, a uniform point in it, accepted
     * with probability density / envelope. */
    double phi, h = aw->theta / CAP_CELLS;
    for (;;) {
        double u = rng_uniform(rng) * aw->cell_cum[CAP_CELLS - 1];
        int lo = 0, hi = CAP_CELLS - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (aw->cell_cum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        phi = (lo + rng_uniform(rng)) * h;
        if (phi <= 0) continue;
        if (rng_uniform(rng) * aw->cell_max[lo] <= exp(log_density(phi, d) - aw->peak)) break;
    }
    /* A uniform tangent direction at x, then the point at angle phi along it. */
    double *t = out, c = 0.0, norm2 = 0.0;
    for (long k = 0; k < d; k++) t[k] = rng_normal(rng);
    for (long k = 0; k < d; k++) c += t[k] * x[k];
    for (long k = 0; k < d; k++) {
        t[k] -= c * x[k];
        norm2 += t[k] * t[k];
    }
    if (norm2 < 1e-28) {
        any_tangent(t, x, d);
        norm2 = 1.0;
    }
    double inv = 1.0 / sqrt(norm2), cp = cos(phi), sp = sin(phi);
    for (long k = 0; k < d; k++) out[k] = cp * x[k] + sp * inv * t[k];
}

void ball_violation(double *sphere_err, double *ball_err, const double *Xadv, const double *X, long n, long d,
                    double delta) {
    double se = -INFINITY, be = -INFINITY;
    for (long i = 0; i < n; i++) {
        double norm2 = 0.0, dist2 = 0.0;
        for (long k = 0; k < d; k++) {
            norm2 += Xadv[i * d + k] * Xadv[i * d + k];
            dist2 += (Xadv[i * d + k] - X[i * d + k]) * (Xadv[i * d + k] - X[i * d + k]);
        }
        se = fmax(se, fabs(sqrt(norm2) - 1.0));
        be = fmax(be, sqrt(dist2) - delta);
    }
    *sphere_err = se;
    *ball_err = be;
}

/* ----- attacks ------------------------------------------------------------------ */

/* Losses and dl/df at the points of the last forward pass. */
static void losses(double *loss, double *df, const double *f, const double *y, long n, int kind) {
    for (long i = 0; i < n; i++) {
        loss[i] = loss_value(kind, f[i], y[i]);
        if (df) df[i] = loss_deriv(kind, f[i], y[i]);
    }
}

/* Xnext_i = P_{B(X_i)}(Xcur_i + eta G_i / |G_i|); rows with G_i = 0 stay. */
static void ascent_step(double *Xcur, const double *G, const double *X, long n, long d, double eta, double delta) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        const double *g = G + i * d;
        double norm2 = 0.0;
        for (long k = 0; k < d; k++) norm2 += g[k] * g[k];
        if (!(norm2 > 0) || !isfinite(norm2)) continue;
        double s = eta / sqrt(norm2);
        double *x = Xcur + i * d;
        for (long k = 0; k < d; k++) x[k] += s * g[k];
        ball_project(x, X + i * d, d, delta);
    }
}

int attack_run(double *Xadv, double *loss_out, const AttackSpec *spec, const Net *net, NetWork *nw, AttackWork *aw,
               const double *X, const double *y, long n, Rng *rng) {
    long d = net->shape.d;
    size_t rows = (size_t)(n * d) * sizeof(double);
    switch (spec->kind) {
    case ATTACK_NONE: memcpy(Xadv, X, rows); return 0;
    case ATTACK_RANDOM:
        for (long i = 0; i < n; i++) ball_sample(Xadv + i * d, X + i * d, aw, rng);
        return 0;
    case ATTACK_FGSM:
        net_forward(aw->f, net, nw, X, n);
        losses(aw->loss_cur, aw->df, aw->f, y, n, spec->loss);
        net_backward(NULL, aw->G, aw->df, net, nw, X, n);
        memcpy(Xadv, X, rows);
        ascent_step(Xadv, aw->G, X, n, d, spec->delta, spec->delta);
        return 0;
    default: break;
    }
    /* PGD with restarts; Xadv holds, per sample, the worst point seen. */
    for (long r = 0; r < spec->restarts; r++) {
        if (r == 0 && !spec->random_start) memcpy(aw->Xcur, X, rows);
        else
            for (long i = 0; i < n; i++) ball_sample(aw->Xcur + i * d, X + i * d, aw, rng);
        for (long step = 0; step <= spec->steps; step++) {
            net_forward(aw->f, net, nw, aw->Xcur, n);
            int last = step == spec->steps;
            losses(aw->loss_cur, last ? NULL : aw->df, aw->f, y, n, spec->loss);
            if (r == 0 && step == 0) {
                memcpy(Xadv, aw->Xcur, rows);
                memcpy(aw->loss_best, aw->loss_cur, (size_t)n * sizeof(double));
            } else {
                for (long i = 0; i < n; i++)
                    if (aw->loss_cur[i] > aw->loss_best[i] || isnan(aw->loss_cur[i])) {
                        aw->loss_best[i] = aw->loss_cur[i];
                        memcpy(Xadv + i * d, aw->Xcur + i * d, (size_t)d * sizeof(double));
                    }
            }
            if (last) break;
            net_backward(NULL, aw->G, aw->df, net, nw, aw->Xcur, n);
            ascent_step(aw->Xcur, aw->G, X, n, d, spec->step, spec->delta);
        }
    }
    if (loss_out) memcpy(loss_out, aw->loss_best, (size_t)n * sizeof(double));
    return loss_out != NULL;
}
