/* net.c — forward/backward of the deep net (eq. 1) and the two-layer net (eq. 4).
 *
 * BLAS does the O(n m^2) work; the elementwise work (activation, its
 * derivative, the loss derivative times the output weights) is fused into one
 * pass per layer around each GEMM (net_real.h, compiled for double and for
 * float). Nothing is allocated per call. Sizes, initialisation, the FLOP model
 * and the naive references are written once, in double.
 * Must not use MPI, HDF5 or anything about attacks and training.
 */
#include "advsweep/nn.h"

#include <cblas.h>
#include <limits.h>
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

/* ----- sizes ------------------------------------------------------------ */

/* A count computed in double (exact to 2^53, finite far beyond), as a long when it fits. */
static long count_of(double c) { return c < 9.0e18 ? (long)c : LONG_MAX; }

NetSizes net_sizes(const NetShape *s, long n_max, size_t elem) {
    NetSizes z;
    int deep = s->model == MODEL_DEEP;
    double m = (double)s->m, d = (double)s->d, n = (double)n_max, H = (double)s->H;
    double blocks = deep ? H : 1.0, block = deep ? m * m : m * d, input = deep ? m * d : 0.0;
    double planes = deep ? H + 1.0 : 1.0, plane = n * m, scratch = n * (m > d ? m : d);
    z.blocks = count_of(blocks);
    z.block = count_of(block);
    z.trained = count_of(blocks * block);
    z.input_weights = count_of(input);
    z.fixed = count_of(input + m);
    z.planes = count_of(planes);
    z.plane = count_of(plane);
    z.scratch = count_of(scratch);
    z.elem = elem;
    z.trained_bytes = blocks * block * (double)elem;
    z.param_bytes = (blocks * block + input + m) * (double)elem;
    z.work_bytes = (2.0 * planes * plane + plane + scratch) * (double)elem;
    return z;
}

/* ----- initialisation (double; net_copy rounds it for f32) ------------------ */

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

/* ----- forward and backward, in double and in float ---------------------------- */

#define REAL double
#define NAME(name) name
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#include "net_real.h"

#define REAL float
#define NAME(name) name##_f32
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#include "net_real.h"

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

static long planes_of(const NetShape *s) { return net_sizes(s, 0, sizeof(double)).planes; }

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
