/* net.c — forward/backward of the deep net (eq. 1) and the two-layer net (eq. 4).
 *
 * BLAS does the O(n m^2) work; the elementwise work (activation, its
 * derivative, the loss derivative times the output weights) is fused into one
 * pass per layer around each GEMM. Nothing is allocated per call.
 * Must not use MPI, HDF5 or anything about attacks and training.
 */
#include "advsweep/nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/config.h"

/* ----- activations and losses ----------------------------------------- */

double act_value(int activation, double z) {
    switch (activation) {
    case ACT_SOFTPLUS: return (z > 0 ? z : 0.0) + log1p(exp(-fabs(z)));
    case ACT_QUADRELU: return z > 0 ? z * z : 0.0;
    default: return z > 0 ? z : 0.0;
    }
}

double act_deriv(int activation, double z) {
    switch (activation) {
    case ACT_SOFTPLUS: return 1.0 / (1.0 + exp(-z));
    case ACT_QUADRELU: return z > 0 ? 2.0 * z : 0.0;
    default: return z > 0 ? 1.0 : 0.0;
    }
}

double loss_value(int loss, double f, double y) {
    if (loss == LOSS_SQUARE) return 0.5 * (f - y) * (f - y);
    double t = -y * f; /* log(1 + e^t) = max(t, 0) + log1p(e^-|t|) */
    return (t > 0 ? t : 0.0) + log1p(exp(-fabs(t)));
}

double loss_deriv(int loss, double f, double y) {
    if (loss == LOSS_SQUARE) return f - y;
    double t = -y * f; /* d/df log(1 + e^{-y f}) = -y sigmoid(-y f) */
    double s = t >= 0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t));
    return -y * s;
}

/* ----- allocation ------------------------------------------------------ */

static long trained_count(const NetShape *s) {
    return s->model == MODEL_DEEP ? s->H * s->m * s->m : s->m * s->d;
}

Net *net_create(const NetShape *shape) {
    Net *net = xcalloc(1, sizeof *net);
    net->shape = *shape;
    net->n_trained = trained_count(shape);
    net->trained = xaligned((size_t)net->n_trained * sizeof(double));
    long fixed = (shape->model == MODEL_DEEP ? shape->m * shape->d : 0) + shape->m;
    net->fixed_arena = xaligned((size_t)fixed * sizeof(double));
    net->A = shape->model == MODEL_DEEP ? net->fixed_arena : NULL;
    net->a = net->fixed_arena + (shape->model == MODEL_DEEP ? shape->m * shape->d : 0);
    return net;
}

void net_destroy(Net **net) {
    if (!net || !*net) return;
    free((*net)->trained);
    free((*net)->fixed_arena);
    free(*net);
    *net = NULL;
}

void net_init(Net *net, Rng *rng) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    if (s->model == MODEL_DEEP) {
        double sd = sqrt(2.0 / (double)m);
        rng_fill_normal(rng, net->A, m * d, sd);
        rng_fill_normal(rng, net->trained, net->n_trained, sd);
        rng_fill_normal(rng, net->a, m, 1.0);
        return;
    }
    long half = m / 2;
    for (long r = 0; r < half; r++) {
        double *w = net->trained + r * d;
        if (s->activation == ACT_QUADRELU) {
            rng_sphere(rng, w, (int)d); /* uniform on the sphere of radius sqrt(d), App. C.2 */
            for (long k = 0; k < d; k++) w[k] *= sqrt((double)d);
        } else {
            rng_fill_normal(rng, w, d, 1.0);
        }
        memcpy(net->trained + (half + r) * d, w, (size_t)d * sizeof(double)); /* wbar_r = w_r */
        net->a[r] = (rng_next(rng) >> 63) ? 1.0 : -1.0;
        net->a[half + r] = -net->a[r]; /* a'_r = -a_r */
    }
}

NetWork *network_create(const NetShape *shape, long n_max) {
    NetWork *wk = xcalloc(1, sizeof *wk);
    wk->n_max = n_max;
    wk->m = shape->m;
    wk->d = shape->d;
    wk->planes = shape->model == MODEL_DEEP ? shape->H + 1 : 1;
    size_t plane = (size_t)n_max * (size_t)shape->m;
    wk->Z = xaligned(plane * (size_t)wk->planes * sizeof(double));
    wk->Xa = xaligned(plane * (size_t)wk->planes * sizeof(double));
    wk->G = xaligned(plane * sizeof(double));
    /* G2 doubles as the two-layer net's (n, d) product scratch */
    wk->G2 = xaligned((size_t)n_max * (size_t)(shape->m > shape->d ? shape->m : shape->d) * sizeof(double));
    return wk;
}

void network_destroy(NetWork **wk) {
    if (!wk || !*wk) return;
    free((*wk)->Z);
    free((*wk)->Xa);
    free((*wk)->G);
    free((*wk)->G2);
    free(*wk);
    *wk = NULL;
}

/* ----- FLOP model -------------------------------------------------------- */

double net_flops_forward(const NetShape *s) {
    double m = (double)s->m, d = (double)s->d;
    if (s->model == MODEL_DEEP) return 2.0 * (m * d + (double)s->H * m * m + m);
    return 2.0 * (m * d + m);
}

double net_flops_backward(const NetShape *s, int want_dW, int want_dX) {
    double m = (double)s->m, d = (double)s->d, H = (double)s->H;
    if (s->model == MODEL_TWOLAYER) return (want_dW ? 2.0 * m * d : 0.0) + (want_dX ? 2.0 * m * d : 0.0);
    double flops = want_dW ? 2.0 * H * m * m : 0.0;
    /* propagation G <- G W(h): needed below layer H for dW(1..H-1), and down to x for dX */
    if (want_dX) flops += 2.0 * H * m * m + 2.0 * m * d;
    else if (want_dW) flops += 2.0 * (H - 1.0) * m * m;
    return flops;
}

/* ----- forward ------------------------------------------------------------ */

/* Xa = sigma(Z) elementwise over count entries. */
static void activate(double *restrict Xa, const double *restrict Z, long count, int activation) {
    if (activation == ACT_RELU) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < count; i++) Xa[i] = Z[i] > 0 ? Z[i] : 0.0;
    } else {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < count; i++) Xa[i] = act_value(activation, Z[i]);
    }
}

/* D[i][r] = sigma(Z[i][r]) - sigma(Z[i][half + r]) for r < half, rows of stride 2 half:
 * the two halves of the two-layer net, exactly 0 where they are equal. */
static void pair_difference(double *restrict D, const double *restrict Z, long n, long half, int activation) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        const double *z = Z + i * 2 * half;
        double *out = D + i * 2 * half;
        if (activation == ACT_RELU)
            for (long r = 0; r < half; r++) out[r] = (z[r] > 0 ? z[r] : 0.0) - (z[half + r] > 0 ? z[half + r] : 0.0);
        else
            for (long r = 0; r < half; r++) out[r] = act_value(activation, z[r]) - act_value(activation, z[half + r]);
    }
}

void net_forward(double *f, const Net *net, NetWork *wk, const double *X, long n) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    long plane = n * m;
    if (s->model == MODEL_TWOLAYER) {
        /* Eq. (4) as paired half-sums: f = m^-1/2 sum_{r<m/2} a_r (sigma(w_r.x) - sigma(wbar_r.x)),
         * with a'_r = -a_r. The halves go through two GEMMs of one shape, so at the symmetric
         * init (wbar_r == w_r) they are bitwise equal and f(W0, x) is exactly 0. */
        long half = m / 2;
        const double *W1 = net->trained, *W2 = net->trained + half * d;
        // Z[:, :m/2] = X W1^T,  Z[:, m/2:] = X W2^T   (n,d) x (d,m/2) -> (n,m/2) each
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)half, (int)d, 1.0, X, (int)d, W1, (int)d,
                    0.0, wk->Z, (int)m);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)half, (int)d, 1.0, X, (int)d, W2, (int)d,
                    0.0, wk->Z + half, (int)m);
        pair_difference(wk->Xa, wk->Z, n, half, s->activation);
        // f = (sigma(Z1) - sigma(Z2)) a[:m/2] / sqrt(m)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)half, 1.0 / sqrt((double)m), wk->Xa, (int)m, net->a, 1,
                    0.0, f, 1);
        wk->flops += (double)n * net_flops_forward(s);
        return;
    }
    /* x(0) = A x goes straight into the feature plane; only relu(A x) needs Z[0] kept for its mask. */
    int relu_input = s->input_layer == INPUT_RELU;
    // x(0) (or Z0) = X A^T   (n,d) x (d,m) -> (n,m)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)d, 1.0, X, (int)d, net->A, (int)d, 0.0,
                relu_input ? wk->Z : wk->Xa, (int)m);
    if (relu_input) activate(wk->Xa, wk->Z, plane, ACT_RELU);
    for (long h = 1; h <= s->H; h++) {
        const double *W = net->trained + (h - 1) * m * m;
        double *Zh = wk->Z + h * plane;
        // Z(h) = X(h-1) W(h)^T   (n,m) x (m,m) -> (n,m)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)m, 1.0, wk->Xa + (h - 1) * plane,
                    (int)m, W, (int)m, 0.0, Zh, (int)m);
        activate(wk->Xa + h * plane, Zh, plane, s->activation);
    }
    // f = X(H) a
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)m, 1.0, wk->Xa + s->H * plane, (int)m, net->a, 1, 0.0, f,
                1);
    wk->flops += (double)n * net_flops_forward(s);
}

/* ----- backward ----------------------------------------------------------- */

/* G[i][j] = scale * df[i] * a[j] * sigma'(Z[i][j]): dL/dZ of the top layer in one pass. */
static void top_gradient(double *restrict G, const double *restrict Z, const double *restrict df,
                         const double *restrict a, long n, long m, double scale, int activation) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        double gi = scale * df[i];
        const double *z = Z + i * m;
        double *g = G + i * m;
        if (activation == ACT_RELU)
            for (long j = 0; j < m; j++) g[j] = z[j] > 0 ? gi * a[j] : 0.0;
        else
            for (long j = 0; j < m; j++) g[j] = gi * a[j] * act_deriv(activation, z[j]);
    }
}

/* The two-layer net's pairs: G[i][r] = scale df[i] a[r] sigma'(Z[i][r]) and
 * G[i][half + r] = scale df[i] a[r] sigma'(Z[i][half + r]) for r < half (rows of stride 2 half). */
static void top_gradient_pairs(double *restrict G, const double *restrict Z, const double *restrict df,
                               const double *restrict a, long n, long half, double scale, int activation) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        double gi = scale * df[i];
        const double *z = Z + i * 2 * half;
        double *g = G + i * 2 * half;
        for (long r = 0; r < half; r++) {
            double ga = gi * a[r];
            if (activation == ACT_RELU) {
                g[r] = z[r] > 0 ? ga : 0.0;
                g[half + r] = z[half + r] > 0 ? ga : 0.0;
            } else {
                g[r] = ga * act_deriv(activation, z[r]);
                g[half + r] = ga * act_deriv(activation, z[half + r]);
            }
        }
    }
}

/* G *= sigma'(Z) elementwise. */
static void mask_gradient(double *restrict G, const double *restrict Z, long count, int activation) {
    if (activation == ACT_RELU) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < count; i++)
            if (!(Z[i] > 0)) G[i] = 0.0;
    } else {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < count; i++) G[i] *= act_deriv(activation, Z[i]);
    }
}

void net_backward(double *dW, double *dX, const double *df, const Net *net, NetWork *wk, const double *X, long n) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    long plane = n * m;
    wk->flops += (double)n * net_flops_backward(s, dW != NULL, dX != NULL);
    if (s->model == MODEL_TWOLAYER) {
        /* G[:, :m/2] = df a sigma'(Z1) / sqrt m and G[:, m/2:] = df a sigma'(Z2) / sqrt m with the
         * same a[:m/2] (a'_r = -a_r carries the sign): equal at the symmetric init. */
        long half = m / 2;
        const double *W1 = net->trained, *W2 = net->trained + half * d;
        top_gradient_pairs(wk->G, wk->Z, df, net->a, n, half, 1.0 / sqrt((double)m), s->activation);
        // dW1 = G1^T X,  dW2 = -G2^T X   (m/2,n) x (n,d) -> (m/2,d) each
        if (dW) {
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)half, (int)d, (int)n, 1.0, wk->G, (int)m, X,
                        (int)d, 0.0, dW, (int)d);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)half, (int)d, (int)n, -1.0, wk->G + half, (int)m,
                        X, (int)d, 0.0, dW + half * d, (int)d);
        }
        /* dX = G1 W1 - G2 W2: two products of one shape, then one exact subtraction, so the
         * input gradient is exactly 0 at the symmetric init (no cancellation inside a GEMM). */
        if (dX) {
            // dX = G1 W1,  P = G2 W2   (n,m/2) x (m/2,d) -> (n,d) each
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)half, 1.0, wk->G, (int)m, W1,
                        (int)d, 0.0, dX, (int)d);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)half, 1.0, wk->G + half,
                        (int)m, W2, (int)d, 0.0, wk->G2, (int)d);
            long count = n * d;
            for (long i = 0; i < count; i++) dX[i] -= wk->G2[i];
        }
        return;
    }
    double *G = wk->G, *Gnext = wk->G2;
    top_gradient(G, wk->Z + s->H * plane, df, net->a, n, m, 1.0, s->activation);
    for (long h = s->H; h >= 1; h--) {
        const double *W = net->trained + (h - 1) * m * m;
        // dW(h) = G^T X(h-1)   (m,n) x (n,m) -> (m,m)
        if (dW)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)m, (int)n, 1.0, G, (int)m,
                        wk->Xa + (h - 1) * plane, (int)m, 0.0, dW + (h - 1) * m * m, (int)m);
        if (h == 1 && !dX) break;
        // G' = G W(h)   (n,m) x (m,m) -> (n,m): dL/dx(h-1)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)m, 1.0, G, (int)m, W, (int)m, 0.0,
                    Gnext, (int)m);
        if (h > 1) mask_gradient(Gnext, wk->Z + (h - 1) * plane, plane, s->activation);
        else if (s->input_layer == INPUT_RELU) mask_gradient(Gnext, wk->Z, plane, ACT_RELU);
        double *swap = G;
        G = Gnext;
        Gnext = swap;
    }
    // dX = G A   (n,m) x (m,d) -> (n,d)
    if (dX)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)m, 1.0, G, (int)m, net->A, (int)d,
                    0.0, dX, (int)d);
}

/* ----- naive references ---------------------------------------------------- */

/* One sample through the net with plain loops; fills z[p*m + j], xa[p*m + j]. */
static double forward_one(const Net *net, const double *x, double *z, double *xa) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    if (s->model == MODEL_TWOLAYER) {
        for (long r = 0; r < m; r++) {
            double dot = 0.0;
            for (long k = 0; k < d; k++) dot += net->trained[r * d + k] * x[k];
            z[r] = dot;
            xa[r] = act_value(s->activation, dot);
        }
        double f = 0.0, half = (double)(m / 2);
        for (long r = 0; r < (long)half; r++) f += net->a[r] * (xa[r] - xa[(long)half + r]); /* a'_r = -a_r */
        return f / sqrt((double)m);
    }
    for (long j = 0; j < m; j++) {
        double dot = 0.0;
        for (long k = 0; k < d; k++) dot += net->A[j * d + k] * x[k];
        z[j] = dot;
        xa[j] = s->input_layer == INPUT_RELU ? act_value(ACT_RELU, dot) : dot;
    }
    for (long h = 1; h <= s->H; h++) {
        const double *W = net->trained + (h - 1) * m * m;
        for (long j = 0; j < m; j++) {
            double dot = 0.0;
            for (long k = 0; k < m; k++) dot += W[j * m + k] * xa[(h - 1) * m + k];
            z[h * m + j] = dot;
            xa[h * m + j] = act_value(s->activation, dot);
        }
    }
    double f = 0.0;
    for (long j = 0; j < m; j++) f += net->a[j] * xa[s->H * m + j];
    return f;
}

static long planes_of(const NetShape *s) { return s->model == MODEL_DEEP ? s->H + 1 : 1; }

void net_forward_naive(double *f, const Net *net, const double *X, long n) {
    const NetShape *s = &net->shape;
    double *z = xcalloc((size_t)(planes_of(s) * s->m), sizeof(double));
    double *xa = xcalloc((size_t)(planes_of(s) * s->m), sizeof(double));
    for (long i = 0; i < n; i++) f[i] = forward_one(net, X + i * s->d, z, xa);
    free(z);
    free(xa);
}

void net_backward_naive(double *dW, double *dX, const double *df, const Net *net, const double *X, long n) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    double *z = xcalloc((size_t)(planes_of(s) * m), sizeof(double));
    double *xa = xcalloc((size_t)(planes_of(s) * m), sizeof(double));
    double *g = xcalloc((size_t)m, sizeof(double)), *gprev = xcalloc((size_t)m, sizeof(double));
    if (dW) memset(dW, 0, (size_t)net->n_trained * sizeof(double));
    for (long i = 0; i < n; i++) {
        const double *x = X + i * d;
        forward_one(net, x, z, xa);
        double *dx = dX ? dX + i * d : NULL;
        if (dx) memset(dx, 0, (size_t)d * sizeof(double));
        if (s->model == MODEL_TWOLAYER) {
            for (long r = 0; r < m; r++) {
                double gr = df[i] * net->a[r] * act_deriv(s->activation, z[r]) / sqrt((double)m);
                for (long k = 0; k < d; k++) {
                    if (dW) dW[r * d + k] += gr * x[k];
                    if (dx) dx[k] += gr * net->trained[r * d + k];
                }
            }
            continue;
        }
        for (long j = 0; j < m; j++) g[j] = df[i] * net->a[j] * act_deriv(s->activation, z[s->H * m + j]);
        for (long h = s->H; h >= 1; h--) {
            const double *W = net->trained + (h - 1) * m * m;
            for (long j = 0; j < m; j++)
                for (long k = 0; k < m; k++)
                    if (dW) dW[(h - 1) * m * m + j * m + k] += g[j] * xa[(h - 1) * m + k];
            for (long k = 0; k < m; k++) {
                double acc = 0.0;
                for (long j = 0; j < m; j++) acc += g[j] * W[j * m + k];
                double deriv = h > 1 ? act_deriv(s->activation, z[(h - 1) * m + k])
                                     : (s->input_layer == INPUT_RELU ? act_deriv(ACT_RELU, z[k]) : 1.0);
                gprev[k] = acc * deriv;
            }
            memcpy(g, gprev, (size_t)m * sizeof(double));
        }
        if (dx)
            for (long k = 0; k < d; k++) {
                double acc = 0.0;
                for (long j = 0; j < m; j++) acc += g[j] * net->A[j * d + k];
                dx[k] = acc;
            }
    }
    free(z);
    free(xa);
    free(g);
    free(gprev);
}
