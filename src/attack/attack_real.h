/* attack_real.h — the attacks in one element type, included twice by attack.c:
 * REAL = double with the plain names (the reference), REAL = float with _f32.
 * Points, gradients and network passes are REAL; every reduction (norms, inner
 * products, distances, losses) accumulates in double, and random points are drawn
 * in double and rounded. With REAL = double each operation is the one of the code
 * before f32 existed, so f64 results are unchanged.
 */
#if !defined(REAL) || !defined(NAME) || !defined(REAL_IS_DOUBLE)
#error "define REAL, NAME and REAL_IS_DOUBLE before including attack_real.h"
#endif

#define AW NAME(AttackWork)

struct AW {
    long n_max, d;
    REAL *Xcur;        /* (n_max, d) current iterate */
    REAL *G;           /* (n_max, d) input gradients */
    REAL *f;           /* (n_max) outputs */
    REAL *df;          /* (n_max) dl/df */
    double *loss_cur;  /* (n_max) */
    double *loss_best; /* (n_max) */
    double *row;       /* (2 d) f32 only: x and the tangent draw of ball_sample, in double */
    CapSampler cap;
};

AW *NAME(attack_work_create)(long n_max, long d, double delta) {
    AW *aw = xcalloc(1, sizeof *aw);
    aw->n_max = n_max;
    aw->d = d;
    aw->Xcur = xaligned((size_t)(n_max * d) * sizeof(REAL));
    aw->G = xaligned((size_t)(n_max * d) * sizeof(REAL));
    aw->f = xaligned((size_t)n_max * sizeof(REAL));
    aw->df = xaligned((size_t)n_max * sizeof(REAL));
    aw->loss_cur = xaligned((size_t)n_max * sizeof(double));
    aw->loss_best = xaligned((size_t)n_max * sizeof(double));
    if (!REAL_IS_DOUBLE) aw->row = xaligned((size_t)(2 * d) * sizeof(double));
    cap_init(&aw->cap, d, delta);
    return aw;
}

void NAME(attack_work_destroy)(AW **aw) {
    if (!aw || !*aw) return;
    free((*aw)->Xcur);
    free((*aw)->G);
    free((*aw)->f);
    free((*aw)->df);
    free((*aw)->loss_cur);
    free((*aw)->loss_best);
    free((*aw)->row);
    free(*aw);
    *aw = NULL;
}

/* ----- geometry of B(x) ----------------------------------------------------- */

/* A unit vector orthogonal to x (|x| = 1): the axis where x is smallest, orthogonalised. */
static void NAME(any_tangent)(REAL *t, const REAL *x, long d) {
    long k_min = 0;
    for (long k = 1; k < d; k++)
        if (fabs((double)x[k]) < fabs((double)x[k_min])) k_min = k;
    double norm2 = 0.0;
    for (long k = 0; k < d; k++) {
        t[k] = (REAL)((k == k_min ? 1.0 : 0.0) - (double)x[k_min] * x[k]);
        norm2 += (double)t[k] * t[k];
    }
    double inv = 1.0 / sqrt(norm2);
    for (long k = 0; k < d; k++) t[k] = (REAL)(t[k] * inv);
}

ADV_VECTOR void NAME(ball_project)(REAL *v, const REAL *x, long d, double delta) {
    double norm2 = 0.0;
    for (long k = 0; k < d; k++) norm2 += (double)v[k] * v[k];
    if (!(norm2 > 0) || !isfinite(norm2)) {
        memcpy(v, x, (size_t)d * sizeof(REAL));
        return;
    }
    double inv = 1.0 / sqrt(norm2), c = 0.0;
    for (long k = 0; k < d; k++) {
        v[k] = (REAL)(v[k] * inv); /* u = v / |v| on the sphere */
        c += (double)v[k] * x[k];
    }
#if !REAL_IS_DOUBLE
    /* A float x is a unit vector only to ~1e-7: the tangent part below takes u.x / |x|^2,
     * or near the antipode the residual u - c x would point along x. (In double |x| = 1
     * to 1e-16, below the antipode threshold, and the reference formula is kept.) */
    double xx = 0.0;
    for (long k = 0; k < d; k++) xx += (double)x[k] * x[k];
    c /= xx;
#endif
    double dist2 = 0.0;
    for (long k = 0; k < d; k++) {
        double e = (double)v[k] - x[k];
        dist2 += e * e;
    }
    if (dist2 <= delta * delta) return;
    /* Outside the cap: the point at angle theta from x on the great circle towards u. */
    double theta = 2.0 * asin(delta / 2.0);
    double tnorm2 = 0.0;
    for (long k = 0; k < d; k++) {
        v[k] = (REAL)(v[k] - c * x[k]); /* tangent part of u */
        tnorm2 += (double)v[k] * v[k];
    }
    if (tnorm2 < 1e-28) { /* u = -x: every direction is as near; take a fixed one */
        NAME(any_tangent)(v, x, d);
        tnorm2 = 1.0;
    }
    double tinv = 1.0 / sqrt(tnorm2), ct = cos(theta), st = sin(theta);
    for (long k = 0; k < d; k++) v[k] = (REAL)(ct * x[k] + st * tinv * v[k]);
}

void NAME(ball_sample)(REAL *out, const REAL *x, const AW *aw, Rng *rng) {
    long d = aw->d;
    if (!(aw->cap.theta > 0)) {
        memcpy(out, x, (size_t)d * sizeof(REAL));
        return;
    }
    double phi = cap_angle(&aw->cap, rng);
    /* A uniform tangent direction at x, then the point at angle phi along it, in double. */
#if REAL_IS_DOUBLE
    double *t = out;
    const double *xd = x;
#else
    double *t = aw->row, *xd = aw->row + d;
    for (long k = 0; k < d; k++) xd[k] = x[k];
#endif
    double c = 0.0, norm2 = 0.0;
    for (long k = 0; k < d; k++) t[k] = rng_normal(rng);
    for (long k = 0; k < d; k++) c += t[k] * xd[k];
    for (long k = 0; k < d; k++) {
        t[k] -= c * xd[k];
        norm2 += t[k] * t[k];
    }
    if (norm2 < 1e-28) {
        any_tangent(t, xd, d);
        norm2 = 1.0;
    }
    double inv = 1.0 / sqrt(norm2), cp = cos(phi), sp = sin(phi);
    for (long k = 0; k < d; k++) out[k] = (REAL)(cp * xd[k] + sp * inv * t[k]);
}

void NAME(ball_violation)(double *sphere_err, double *ball_err, const REAL *Xadv, const REAL *X, long n, long d,
                          double delta) {
    double se = -INFINITY, be = -INFINITY;
    for (long i = 0; i < n; i++) {
        double norm2 = 0.0, dist2 = 0.0;
        for (long k = 0; k < d; k++) {
            double v = Xadv[i * d + k], e = v - X[i * d + k];
            norm2 += v * v;
            dist2 += e * e;
        }
        se = fmax(se, fabs(sqrt(norm2) - 1.0));
        be = fmax(be, sqrt(dist2) - delta);
    }
    *sphere_err = se;
    *ball_err = be;
}

/* ----- attacks ------------------------------------------------------------------ */

/* Losses (double) and dl/df at the points of the last forward pass. */
ADV_VECTOR static void NAME(losses)(double *restrict loss, REAL *restrict df, const REAL *restrict f,
                                    const double *restrict y, long n, int kind) {
    for (long i = 0; i < n; i++) {
        loss[i] = loss_value(kind, f[i], y[i]);
        if (df) df[i] = (REAL)loss_deriv(kind, f[i], y[i]);
    }
}

/* Xnext_i = P_{B(X_i)}(Xcur_i + eta G_i / |G_i|); rows with G_i = 0 stay. */
ADV_VECTOR static void NAME(ascent_step)(REAL *Xcur, const REAL *G, const REAL *X, long n, long d, double eta,
                                         double delta) {
    /* per row: d entries and a square root, and asin, cos, sin when it leaves the cap */
#pragma omp parallel for schedule(static) if (n * (d + 100) >= ADV_OMP_MIN_WORK)
    for (long i = 0; i < n; i++) {
        const REAL *g = G + i * d;
        double norm2 = 0.0;
        for (long k = 0; k < d; k++) norm2 += (double)g[k] * g[k];
        if (!(norm2 > 0) || !isfinite(norm2)) continue;
        double s = eta / sqrt(norm2);
        REAL *x = Xcur + i * d;
        for (long k = 0; k < d; k++) x[k] = (REAL)(x[k] + s * g[k]);
        NAME(ball_project)(x, X + i * d, d, delta);
    }
}

int NAME(attack_run)(REAL *Xadv, double *loss_out, const AttackSpec *spec, const NAME(Net) *net, NAME(NetWork) *nw,
                     AW *aw, const REAL *X, const double *y, long n, Rng *rng) {
    long d = net->shape.d;
    size_t rows = (size_t)(n * d) * sizeof(REAL);
    switch (spec->kind) {
    case ATTACK_NONE: memcpy(Xadv, X, rows); return 0;
    case ATTACK_RANDOM:
        for (long i = 0; i < n; i++) NAME(ball_sample)(Xadv + i * d, X + i * d, aw, rng);
        return 0;
    case ATTACK_FGSM:
        NAME(net_forward)(aw->f, net, nw, X, n);
        NAME(losses)(aw->loss_cur, aw->df, aw->f, y, n, spec->loss);
        NAME(net_backward)(NULL, aw->G, aw->df, net, nw, X, n);
        memcpy(Xadv, X, rows);
        NAME(ascent_step)(Xadv, aw->G, X, n, d, spec->delta, spec->delta);
        return 0;
    default: break;
    }
    /* PGD with restarts; Xadv holds, per sample, the worst point seen. */
    for (long r = 0; r < spec->restarts; r++) {
        if (r == 0 && !spec->random_start) memcpy(aw->Xcur, X, rows);
        else
            for (long i = 0; i < n; i++) NAME(ball_sample)(aw->Xcur + i * d, X + i * d, aw, rng);
        for (long step = 0; step <= spec->steps; step++) {
            NAME(net_forward)(aw->f, net, nw, aw->Xcur, n);
            int last = step == spec->steps;
            NAME(losses)(aw->loss_cur, last ? NULL : aw->df, aw->f, y, n, spec->loss);
            if (r == 0 && step == 0) {
                memcpy(Xadv, aw->Xcur, rows);
                memcpy(aw->loss_best, aw->loss_cur, (size_t)n * sizeof(double));
            } else {
                for (long i = 0; i < n; i++)
                    if (aw->loss_cur[i] > aw->loss_best[i] || isnan(aw->loss_cur[i])) {
                        aw->loss_best[i] = aw->loss_cur[i];
                        memcpy(Xadv + i * d, aw->Xcur + i * d, (size_t)d * sizeof(REAL));
                    }
            }
            if (last) break;
            NAME(net_backward)(NULL, aw->G, aw->df, net, nw, aw->Xcur, n);
            NAME(ascent_step)(aw->Xcur, aw->G, X, n, d, spec->step, spec->delta);
        }
    }
    if (loss_out) memcpy(loss_out, aw->loss_best, (size_t)n * sizeof(double));
    return loss_out != NULL;
}

#undef AW
#undef REAL
#undef NAME
#undef REAL_IS_DOUBLE
