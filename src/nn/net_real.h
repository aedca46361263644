/* net_real.h — forward/backward of both nets in one element type, included twice by
 * net.c: REAL = double with the plain names (the reference), REAL = float with _f32
 * (SGEMM). Every operation is written once here, so f32 is f64 with the element type
 * changed; only the GEMM/GEMV calls and NAME() differ. With REAL = double this is,
 * operation for operation, the code before f32 existed: its results are unchanged.
 *
 * The elementwise passes around each GEMM are ADV_VECTOR (common.h): compiled for
 * AVX-512F, AVX2 and the baseline, chosen at load time, bit-identical across clones.
 * The activation itself is evaluated in double (act_value) and rounded: the same
 * function of z in both precisions, and deterministic, so equal pre-activations of
 * the two-layer net's halves give equal activations.
 */
#if !defined(REAL) || !defined(NAME) || !defined(GEMM) || !defined(GEMV)
#error "define REAL, NAME, GEMM and GEMV before including net_real.h"
#endif

#define NET NAME(Net)
#define NETWORK NAME(NetWork)

/* ----- allocation ------------------------------------------------------ */

NET *NAME(net_create)(const NetShape *shape) {
    NetSizes sz = net_sizes(shape, 0, sizeof(REAL));
    NET *net = xcalloc(1, sizeof *net);
    net->shape = *shape;
    net->n_trained = sz.trained;
    net->trained = xaligned((size_t)sz.trained * sizeof(REAL));
    net->fixed_arena = xaligned((size_t)sz.fixed * sizeof(REAL));
    net->A = sz.input_weights ? net->fixed_arena : NULL;
    net->a = net->fixed_arena + sz.input_weights;
    return net;
}

void NAME(net_destroy)(NET **net) {
    if (!net || !*net) return;
    free((*net)->trained);
    free((*net)->fixed_arena);
    free(*net);
    *net = NULL;
}

void NAME(net_copy)(NET *dst, const Net *src) {
    NetSizes sz = net_sizes(&src->shape, 0, sizeof(REAL));
    for (long i = 0; i < sz.trained; i++) dst->trained[i] = (REAL)src->trained[i];
    for (long i = 0; i < sz.fixed; i++) dst->fixed_arena[i] = (REAL)src->fixed_arena[i];
}

NETWORK *NAME(network_create)(const NetShape *shape, long n_max) {
    NetSizes sz = net_sizes(shape, n_max, sizeof(REAL));
    NETWORK *wk = xcalloc(1, sizeof *wk);
    wk->n_max = n_max;
    wk->m = shape->m;
    wk->d = shape->d;
    wk->planes = sz.planes;
    wk->Z = xaligned((size_t)(sz.plane * sz.planes) * sizeof(REAL));
    wk->Xa = xaligned((size_t)(sz.plane * sz.planes) * sizeof(REAL));
    wk->G = xaligned((size_t)sz.plane * sizeof(REAL));
    wk->G2 = xaligned((size_t)sz.scratch * sizeof(REAL)); /* doubles as the two-layer net's (n, d) product */
    return wk;
}

void NAME(network_destroy)(NETWORK **wk) {
    if (!wk || !*wk) return;
    free((*wk)->Z);
    free((*wk)->Xa);
    free((*wk)->G);
    free((*wk)->G2);
    free(*wk);
    *wk = NULL;
}

/* ----- forward ------------------------------------------------------------ */

/* Xa = sigma(Z) elementwise over count entries. */
ADV_VECTOR static void NAME(activate)(REAL *restrict Xa, const REAL *restrict Z, long count, int activation) {
    if (activation == ACT_RELU) {
#pragma omp parallel for schedule(static) if (count >= ADV_OMP_MIN_WORK)
        for (long i = 0; i < count; i++) Xa[i] = Z[i] > 0 ? Z[i] : (REAL)0;
    } else {
#pragma omp parallel for schedule(static) if (count >= ADV_OMP_MIN_WORK)
        for (long i = 0; i < count; i++) Xa[i] = (REAL)act_value(activation, Z[i]);
    }
}

/* D[i][r] = sigma(Z[i][r]) - sigma(Z[i][half + r]) for r < half, rows of stride 2 half:
 * the two halves of the two-layer net, exactly 0 where they are equal. */
ADV_VECTOR static void NAME(pair_difference)(REAL *restrict D, const REAL *restrict Z, long n, long half,
                                             int activation) {
#pragma omp parallel for schedule(static) if (2 * n * half >= ADV_OMP_MIN_WORK)
    for (long i = 0; i < n; i++) {
        const REAL *z = Z + i * 2 * half;
        REAL *out = D + i * 2 * half;
        if (activation == ACT_RELU)
            for (long r = 0; r < half; r++)
                out[r] = (z[r] > 0 ? z[r] : (REAL)0) - (z[half + r] > 0 ? z[half + r] : (REAL)0);
        else
            for (long r = 0; r < half; r++)
                out[r] = (REAL)act_value(activation, z[r]) - (REAL)act_value(activation, z[half + r]);
    }
}

void NAME(net_forward)(REAL *f, const NET *net, NETWORK *wk, const REAL *X, long n) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    long plane = n * m;
    if (s->model == MODEL_TWOLAYER) {
        /* Eq. (4) as paired half-sums: f = m^-1/2 sum_{r<m/2} a_r (sigma(w_r.x) - sigma(wbar_r.x)),
         * with a'_r = -a_r. The halves go through two GEMMs of one shape, so at the symmetric
         * init (wbar_r == w_r) they are bitwise equal and f(W0, x) is exactly 0. */
        long half = m / 2;
        const REAL *W1 = net->trained, *W2 = net->trained + half * d;
        // Z[:, :m/2] = X W1^T,  Z[:, m/2:] = X W2^T   (n,d) x (d,m/2) -> (n,m/2) each
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)half, (int)d, 1, X, (int)d, W1, (int)d, 0, wk->Z,
             (int)m);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)half, (int)d, 1, X, (int)d, W2, (int)d, 0,
             wk->Z + half, (int)m);
        NAME(pair_difference)(wk->Xa, wk->Z, n, half, s->activation);
        // f = (sigma(Z1) - sigma(Z2)) a[:m/2] / sqrt(m)
        GEMV(CblasRowMajor, CblasNoTrans, (int)n, (int)half, (REAL)(1.0 / sqrt((double)m)), wk->Xa, (int)m, net->a,
             1, 0, f, 1);
        wk->flops += (double)n * net_flops_forward(s);
        return;
    }
    /* x(0) = A x goes straight into the feature plane; only relu(A x) needs Z[0] kept for its mask. */
    int relu_input = s->input_layer == INPUT_RELU;
    // x(0) (or Z0) = X A^T   (n,d) x (d,m) -> (n,m)
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)d, 1, X, (int)d, net->A, (int)d, 0,
         relu_input ? wk->Z : wk->Xa, (int)m);
    if (relu_input) NAME(activate)(wk->Xa, wk->Z, plane, ACT_RELU);
    for (long h = 1; h <= s->H; h++) {
        const REAL *W = net->trained + (h - 1) * m * m;
        REAL *Zh = wk->Z + h * plane;
        // Z(h) = X(h-1) W(h)^T   (n,m) x (m,m) -> (n,m)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)m, 1, wk->Xa + (h - 1) * plane, (int)m,
             W, (int)m, 0, Zh, (int)m);
        NAME(activate)(wk->Xa + h * plane, Zh, plane, s->activation);
    }
    // f = X(H) a
    GEMV(CblasRowMajor, CblasNoTrans, (int)n, (int)m, 1, wk->Xa + s->H * plane, (int)m, net->a, 1, 0, f, 1);
    wk->flops += (double)n * net_flops_forward(s);
}

/* ----- backward ----------------------------------------------------------- */

/* G[i][j] = scale * df[i] * a[j] * sigma'(Z[i][j]): dL/dZ of the top layer in one pass. */
ADV_VECTOR static void NAME(top_gradient)(REAL *restrict G, const REAL *restrict Z, const REAL *restrict df,
                                          const REAL *restrict a, long n, long m, REAL scale, int activation) {
#pragma omp parallel for schedule(static) if (n * m >= ADV_OMP_MIN_WORK)
    for (long i = 0; i < n; i++) {
        REAL gi = scale * df[i];
        const REAL *z = Z + i * m;
        REAL *g = G + i * m;
        if (activation == ACT_RELU)
            for (long j = 0; j < m; j++) g[j] = z[j] > 0 ? gi * a[j] : (REAL)0;
        else
            for (long j = 0; j < m; j++) g[j] = gi * a[j] * (REAL)act_deriv(activation, z[j]);
    }
}

/* The two-layer net's pairs: G[i][r] = scale df[i] a[r] sigma'(Z[i][r]) and
 * G[i][half + r] = scale df[i] a[r] sigma'(Z[i][half + r]) for r < half (rows of stride 2 half). */
ADV_VECTOR static void NAME(top_gradient_pairs)(REAL *restrict G, const REAL *restrict Z, const REAL *restrict df,
                                                const REAL *restrict a, long n, long half, REAL scale,
                                                int activation) {
#pragma omp parallel for schedule(static) if (2 * n * half >= ADV_OMP_MIN_WORK)
    for (long i = 0; i < n; i++) {
        REAL gi = scale * df[i];
        const REAL *z = Z + i * 2 * half;
        REAL *g = G + i * 2 * half;
        if (activation == ACT_RELU)
            for (long r = 0; r < half; r++) {
                REAL ga = gi * a[r];
                g[r] = z[r] > 0 ? ga : (REAL)0;
                g[half + r] = z[half + r] > 0 ? ga : (REAL)0;
            }
        else
            for (long r = 0; r < half; r++) {
                REAL ga = gi * a[r];
                g[r] = ga * (REAL)act_deriv(activation, z[r]);
                g[half + r] = ga * (REAL)act_deriv(activation, z[half + r]);
            }
    }
}

/* G *= sigma'(Z) elementwise (relu: G = 0 where Z <= 0, written as a select so it vectorises). */
ADV_VECTOR static void NAME(mask_gradient)(REAL *restrict G, const REAL *restrict Z, long count, int activation) {
    if (activation == ACT_RELU) {
#pragma omp parallel for schedule(static) if (count >= ADV_OMP_MIN_WORK)
        for (long i = 0; i < count; i++) G[i] = Z[i] > 0 ? G[i] : (REAL)0;
    } else {
#pragma omp parallel for schedule(static) if (count >= ADV_OMP_MIN_WORK)
        for (long i = 0; i < count; i++) G[i] *= (REAL)act_deriv(activation, Z[i]);
    }
}

/* D -= P over count entries: one exact subtraction of two products of one shape. */
ADV_VECTOR static void NAME(subtract)(REAL *restrict D, const REAL *restrict P, long count) {
    for (long i = 0; i < count; i++) D[i] -= P[i];
}

void NAME(net_backward)(REAL *dW, REAL *dX, const REAL *df, const NET *net, NETWORK *wk, const REAL *X, long n) {
    const NetShape *s = &net->shape;
    long m = s->m, d = s->d;
    long plane = n * m;
    wk->flops += (double)n * net_flops_backward(s, dW != NULL, dX != NULL);
    if (s->model == MODEL_TWOLAYER) {
        /* G[:, :m/2] = df a sigma'(Z1) / sqrt m and G[:, m/2:] = df a sigma'(Z2) / sqrt m with the
         * same a[:m/2] (a'_r = -a_r carries the sign): equal at the symmetric init. */
        long half = m / 2;
        const REAL *W1 = net->trained, *W2 = net->trained + half * d;
        NAME(top_gradient_pairs)(wk->G, wk->Z, df, net->a, n, half, (REAL)(1.0 / sqrt((double)m)), s->activation);
        // dW1 = G1^T X,  dW2 = -G2^T X   (m/2,n) x (n,d) -> (m/2,d) each
        if (dW) {
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)half, (int)d, (int)n, 1, wk->G, (int)m, X, (int)d, 0,
                 dW, (int)d);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)half, (int)d, (int)n, -1, wk->G + half, (int)m, X,
                 (int)d, 0, dW + half * d, (int)d);
        }
        /* dX = G1 W1 - G2 W2: two products of one shape, then one exact subtraction, so the
         * input gradient is exactly 0 at the symmetric init (no cancellation inside a GEMM). */
        if (dX) {
            // dX = G1 W1,  P = G2 W2   (n,m/2) x (m/2,d) -> (n,d) each
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)half, 1, wk->G, (int)m, W1, (int)d,
                 0, dX, (int)d);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)half, 1, wk->G + half, (int)m, W2,
                 (int)d, 0, wk->G2, (int)d);
            NAME(subtract)(dX, wk->G2, n * d);
        }
        return;
    }
    REAL *G = wk->G, *Gnext = wk->G2;
    NAME(top_gradient)(G, wk->Z + s->H * plane, df, net->a, n, m, 1, s->activation);
    for (long h = s->H; h >= 1; h--) {
        const REAL *W = net->trained + (h - 1) * m * m;
        // dW(h) = G^T X(h-1)   (m,n) x (n,m) -> (m,m)
        if (dW)
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)m, (int)n, 1, G, (int)m,
                 wk->Xa + (h - 1) * plane, (int)m, 0, dW + (h - 1) * m * m, (int)m);
        if (h == 1 && !dX) break;
        // G' = G W(h)   (n,m) x (m,m) -> (n,m): dL/dx(h-1)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)m, 1, G, (int)m, W, (int)m, 0, Gnext,
             (int)m);
        if (h > 1) NAME(mask_gradient)(Gnext, wk->Z + (h - 1) * plane, plane, s->activation);
        else if (s->input_layer == INPUT_RELU) NAME(mask_gradient)(Gnext, wk->Z, plane, ACT_RELU);
        REAL *swap = G;
        G = Gnext;
        Gnext = swap;
    }
    // dX = G A   (n,m) x (m,d) -> (n,d)
    if (dX)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)m, 1, G, (int)m, net->A, (int)d, 0, dX,
             (int)d);
}

#undef NET
#undef NETWORK
#undef REAL
#undef NAME
#undef GEMM
#undef GEMV
