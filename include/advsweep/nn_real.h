/* nn_real.h — the typed half of nn.h, included twice by it: NN_REAL = double with
 * the plain names, NN_REAL = float with the _f32 suffix. The contracts are in nn.h.
 * Do not include directly. */
#if !defined(NN_REAL) || !defined(NN_NAME)
#error "nn_real.h is included by advsweep/nn.h only"
#endif

typedef struct {
    NetShape shape;
    long n_trained;        /* H*m*m (deep) or m*d (two-layer) */
    NN_REAL *trained;      /* (n_trained) */
    NN_REAL *A;            /* (m, d) deep only, else NULL; fixed */
    NN_REAL *a;            /* (m) fixed */
    NN_REAL *fixed_arena;  /* owns A and a */
} NN_NAME(Net);

typedef struct {
    long n_max, m, d, planes; /* planes = H + 1 (deep) or 1 (two-layer) */
    NN_REAL *Z;    /* (planes, n_max, m) */
    NN_REAL *Xa;   /* (planes, n_max, m) */
    NN_REAL *G;    /* (n_max, m) */
    NN_REAL *G2;   /* (n_max, max(m, d)) */
    double flops;
} NN_NAME(NetWork);

NN_NAME(Net) *NN_NAME(net_create)(const NetShape *shape);
void NN_NAME(net_destroy)(NN_NAME(Net) **net);
void NN_NAME(net_copy)(NN_NAME(Net) *dst, const Net *src);
NN_NAME(NetWork) *NN_NAME(network_create)(const NetShape *shape, long n_max);
void NN_NAME(network_destroy)(NN_NAME(NetWork) **wk);
void NN_NAME(net_forward)(NN_REAL *f, const NN_NAME(Net) *net, NN_NAME(NetWork) *wk, const NN_REAL *X, long n);
void NN_NAME(net_backward)(NN_REAL *dW, NN_REAL *dX, const NN_REAL *df, const NN_NAME(Net) *net,
                           NN_NAME(NetWork) *wk, const NN_REAL *X, long n);

#undef NN_REAL
#undef NN_NAME
