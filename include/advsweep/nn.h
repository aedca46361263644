/* nn.h — the paper's networks: forward and backward passes over a batch, on CBLAS.
 *
 * Shape legend (row-major everywhere; one row per sample):
 *   n  samples in the batch          d  input dimension
 *   m  width                         H  trained layers of the deep net
 *   X  (n, d) inputs                 f  (n) outputs
 *
 * Deep net, eq. (1):  x0 = A x (or relu(A x), option), xbar(h) = W(h) x(h-1),
 *   x(h) = sigma(xbar(h)) for h = 1..H, f = a . x(H). Trained: W(1..H) only.
 *   Init: A, W(h) entries N(0, 2/m); a entries N(0, 1).
 * Two-layer net, eq. (4): f = (1/sqrt m) sum_r a_r sigma(w_r . x), with rows
 *   w_{m/2+r} = w_r and a_{m/2+r} = -a_r at init, so f(W0, x) = 0. Trained: all w.
 *   Evaluated as the paired half-sums m^-1/2 sum_{r<m/2} a_r (sigma(w_r.x) - sigma(w_{m/2+r}.x))
 *   (a_{m/2+r} = -a_r is fixed), each half through its own GEMM of the same shape, so
 *   f(W0, x) == 0.0 and the input gradient == 0.0 exactly at the symmetric init.
 *   Init: w_r ~ N(0, I_d) (relu, softplus) or uniform on the sphere of radius
 *   sqrt(d) (quadrelu, App. C.2); a_r uniform in {+1, -1}.
 *
 * Precision: every structure and BLAS function exists in double (Net, net_forward:
 * the reference) and in float (Net_f32, net_forward_f32: SGEMM), from one template.
 * Activations are evaluated in double and rounded; the initialisation is drawn in
 * double only (net_copy_f32 rounds it). Each *_naive function is a slow per-sample
 * loop in double kept beside the BLAS version for the tests. Nothing here knows
 * about MPI, HDF5, attacks or training.
 */
#ifndef ADVSWEEP_NN_H
#define ADVSWEEP_NN_H

#include <stddef.h>

#include "advsweep/rng.h"

typedef struct {
    int model;       /* MODEL_DEEP | MODEL_TWOLAYER (config.h) */
    int activation;  /* ACT_* */
    int input_layer; /* INPUT_* (deep only) */
    long m, H, d;    /* H is ignored by the two-layer net */
} NetShape;

/* Every size of a network and its workspace, from one place (allocations, the
 * planner's memory and the file layout all read it). The byte figures are
 * doubles, exact for any real machine and finite for any request (m and n
 * reach 9e15: H m^2 does not fit in a long); a count that does not fit in a
 * long is LONG_MAX — such a net is refused by the memory check before anything
 * is allocated. */
typedef struct {
    long trained;      /* trained weights: H m^2 (deep) or m d (two-layer) */
    long blocks, block; /* ... as blocks of B(R) (eq. 2 / Sec. 5): H of m^2 (deep) or 1 of m d */
    long fixed;        /* fixed weights, A then a: m d + m (deep) or m (two-layer) */
    long input_weights; /* of which A: m d (deep) or 0 (two-layer); a follows */
    long planes;       /* activation planes kept for backward: H + 1 (deep) or 1 */
    long plane;        /* entries of one plane: n_max m */
    long scratch;      /* entries of the second backward scratch G2: n_max max(m, d) */
    size_t elem;       /* bytes per value: 8 (f64) or 4 (f32) */
    double trained_bytes; /* trained * elem */
    double param_bytes; /* Net: trained and fixed arenas */
    double work_bytes;  /* NetWork of n_max samples: Z, Xa (planes each), G, G2 */
} NetSizes;

/* Sizes of a net of `shape` and of its workspace for n_max samples, with values of
 * `elem` bytes. Pure arithmetic. */
NetSizes net_sizes(const NetShape *shape, long n_max, size_t elem);

/* The typed half: the same structures and functions in double (the reference:
 * Net, net_forward, ...) and in float (Net_f32, net_forward_f32, ...), from one
 * template (nn_real.h). The contracts, for both:
 *
 * Net: parameters in two arenas (trained, fixed) with pointers carved out of them.
 *   trained  deep: (H, m, m) W(h)[j][k], row j = output unit | two-layer: (m, d) rows w_r
 *   A        (m, d) deep only (NULL for two-layer); fixed
 *   a        (m) output weights; fixed
 * NetWork: activations of one batch, kept by net_forward for net_backward.
 *   Z   (planes, n_max, m) pre-activations; Z[0] = A x only with the relu input layer, W x (two-layer)
 *   Xa  (planes, n_max, m) post-activations x(h); x(0) = A x or relu(A x)
 *   G   (n_max, m) backward scratch;  G2 (n_max, max(m, d)) backward scratch
 *   flops: running count of floating-point operations of the GEMM/GEMV model
 *
 * net_create(shape)        a network of `shape` (parameters zero); free with net_destroy
 *                          (accepts NULL and *net == NULL, sets *net to NULL).
 * net_copy(dst, src)       dst's parameters = src's (a double Net), rounded to the element
 *                          type: the f32 net starts from the same draw as the f64 one.
 * network_create(shape, n) workspace for batches of at most n samples; network_destroy.
 * net_forward(f, net, wk, X, n)
 *     f[i] = f(W, X[i]) for i < n (n <= wk->n_max). Keeps activations in wk.
 * net_backward(dW, dX, df, net, wk, X, n)
 *     after net_forward(…, X, n) on the same X: with df[i] = dL/df_i,
 *     dW (n_trained) = sum_i df[i] * df_i/dW    (skipped when dW == NULL)
 *     dX (n, d)      = df[i] * df_i/dx_i         (skipped when dX == NULL)
 *     Overwrites wk's scratch; the activations stay valid.
 * At the two-layer net's symmetric init both precisions give f == 0 and dX == 0 exactly. */
#define NN_REAL double
#define NN_NAME(name) name
#include "advsweep/nn_real.h"
#define NN_REAL float
#define NN_NAME(name) name##_f32
#include "advsweep/nn_real.h"

/* Draw the paper's initialisation from rng (in double; net_copy rounds it for f32). */
void net_init(Net *net, Rng *rng);

/* Slow references: same contracts, no workspace, no BLAS. */
void net_forward_naive(double *f, const Net *net, const double *X, long n);
void net_backward_naive(double *dW, double *dX, const double *df, const Net *net, const double *X, long n);

/* FLOPs of one forward pass and of one backward pass per sample (the model
 * used by `advsweep bench` and the planner; elementwise work not counted). */
double net_flops_forward(const NetShape *shape);
double net_flops_backward(const NetShape *shape, int want_dW, int want_dX);

/* Activation and its derivative (ACT_*). */
double act_value(int activation, double z);
double act_deriv(int activation, double z);

/* Losses: l(f, y) and dl/df, labels y in {+1, -1}. Logistic is computed without
 * overflow for any finite f. */
double loss_value(int loss, double f, double y);
double loss_deriv(int loss, double f, double y);

#endif
