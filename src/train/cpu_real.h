/* cpu_real.h — the CPU backend in one element type, included twice by cpu.c:
 * REAL = double with the plain names (cpu_f64, the reference), REAL = float with
 * _f32 (cpu_f32). Weights, activations, points and gradients are REAL; losses,
 * norms and distances accumulate in double. With REAL = double every operation is
 * the one of the trainer before backends existed, so f64 results are unchanged.
 */
#if !defined(REAL) || !defined(NAME) || !defined(REAL_IS_DOUBLE)
#error "define REAL, NAME and REAL_IS_DOUBLE before including cpu_real.h"
#endif

#define RUN NAME(CpuRun)

/* Every buffer of one run, allocated once by create. */
typedef struct {
    const TrainConfig *cfg;  /* borrowed */
    const TrainPlan *plan;   /* borrowed */
    const Dataset *data;     /* borrowed */
    NetShape shape;
    NAME(Net) *net;          /* W_t (trained) and the fixed A, a */
    REAL *W0;                /* (n_trained) initial weights: centre of B(R) */
    double W0_norm2;         /* |W0|^2 (1 if zero) */
    REAL *grad;              /* (n_trained) grad L_A(W_t) */
    NAME(NetWork) *nw;       /* activations of the last forward pass */
    NAME(AttackWork) *aw;    /* attack scratch */
    const REAL *X;           /* (n, d) the training points: data->X (f64) or X_own */
    REAL *X_own;             /* (n, d) f32: data->X rounded; NULL for f64 */
    REAL *Xadv;              /* (n, d) training attack's points */
    REAL *Xeval;             /* (n, d) evaluation attack's points */
    REAL *f;                 /* (n) outputs of the last forward pass */
    REAL *df;                /* (n) dL/df */
    double *loss_buf;        /* (n) per-sample losses of the evaluation attack */
} RUN;

static double NAME(cpu_run_bytes)(const TrainConfig *cfg) {
    NetShape s = train_net_shape(cfg);
    long n = (long)cfg->n, d = (long)cfg->d;
    NetSizes z = net_sizes(&s, n, sizeof(REAL));
    double nd = (double)n * (double)d; /* in double: n and d may be huge (the request is then refused) */
    double bytes = z.param_bytes + 2.0 * z.trained_bytes /* W0, grad */
                   + z.work_bytes + attack_work_bytes(n, d, sizeof(REAL))
                   + (2.0 * nd + 2.0 * (double)n) * sizeof(REAL) /* Xadv, Xeval, f, df */
                   + (double)n * sizeof(double)                 /* loss_buf */
                   + (nd + (double)n) * sizeof(double);         /* the Dataset (double X, y) */
    if (!REAL_IS_DOUBLE) bytes += nd * sizeof(REAL); /* X_own */
    return bytes;
}

static BackendRun *NAME(cpu_create)(const TrainConfig *cfg, const TrainPlan *plan, const Dataset *data) {
    RUN *tr = xcalloc(1, sizeof *tr);
    tr->cfg = cfg;
    tr->plan = plan;
    tr->data = data;
    tr->shape = train_net_shape(cfg);
    /* The initialisation is drawn in double for both precisions and rounded for f32. */
    Net *init = net_create(&tr->shape);
    Rng rng;
    rng_seed(&rng, (uint64_t)cfg->seed, RNG_INIT, 0);
    net_init(init, &rng);
#if REAL_IS_DOUBLE
    tr->net = init;
#else
    tr->net = net_create_f32(&tr->shape);
    net_copy_f32(tr->net, init);
    net_destroy(&init);
#endif
    long n = data->n, d = data->d, nt = tr->net->n_trained;
    tr->W0 = xaligned((size_t)nt * sizeof(REAL));
    tr->grad = xaligned((size_t)nt * sizeof(REAL));
    memcpy(tr->W0, tr->net->trained, (size_t)nt * sizeof(REAL));
    for (long i = 0; i < nt; i++) tr->W0_norm2 += (double)tr->W0[i] * tr->W0[i];
    if (!(tr->W0_norm2 > 0)) tr->W0_norm2 = 1.0;
    tr->nw = NAME(network_create)(&tr->shape, n);
    tr->aw = NAME(attack_work_create)(n, d, cfg->delta);
#if REAL_IS_DOUBLE
    tr->X = data->X;
#else
    tr->X_own = xaligned((size_t)(n * d) * sizeof(REAL));
    for (long i = 0; i < n * d; i++) tr->X_own[i] = (REAL)data->X[i];
    tr->X = tr->X_own;
#endif
    tr->Xadv = xaligned((size_t)(n * d) * sizeof(REAL));
    tr->Xeval = xaligned((size_t)(n * d) * sizeof(REAL));
    tr->f = xaligned((size_t)n * sizeof(REAL));
    tr->df = xaligned((size_t)n * sizeof(REAL));
    tr->loss_buf = xcalloc((size_t)n, sizeof(double));
    return (BackendRun *)tr;
}

static void NAME(cpu_destroy)(BackendRun **run) {
    if (!run || !*run) return;
    RUN *t = (RUN *)*run;
    NAME(net_destroy)(&t->net);
    NAME(network_destroy)(&t->nw);
    NAME(attack_work_destroy)(&t->aw);
    free(t->W0);
    free(t->grad);
    free(t->X_own);
    free(t->Xadv);
    free(t->Xeval);
    free(t->f);
    free(t->df);
    free(t->loss_buf);
    free(t);
    *run = NULL;
}

/* Mean loss and accuracy of the last forward pass (in tr->f) against y, in double. */
static void NAME(batch_loss)(double *loss, double *acc, const RUN *tr) {
    const double *y = tr->data->y;
    long n = tr->data->n;
    double sum = 0.0, right = 0.0;
    for (long i = 0; i < n; i++) {
        sum += loss_value(tr->cfg->loss, tr->f[i], y[i]);
        right += y[i] * tr->f[i] > 0 ? 1.0 : 0.0;
    }
    *loss = sum / (double)n;
    *acc = right / (double)n;
}

static void NAME(cpu_attack_forward)(BackendRun *run, int64_t t, double *surrogate, double *acc) {
    RUN *tr = (RUN *)run;
    Rng rng;
    rng_seed(&rng, (uint64_t)tr->cfg->seed, RNG_ATTACK, (uint64_t)t);
    const Dataset *ds = tr->data;
    NAME(attack_run)(tr->Xadv, NULL, &tr->plan->attack, tr->net, tr->nw, tr->aw, tr->X, ds->y, ds->n, &rng);
    NAME(net_forward)(tr->f, tr->net, tr->nw, tr->Xadv, ds->n);
    NAME(batch_loss)(surrogate, acc, tr);
}

static void NAME(cpu_gradient)(BackendRun *run) {
    RUN *tr = (RUN *)run;
    const Dataset *ds = tr->data;
    long n = ds->n;
    /* dL_A/df_i = l'(f_i, y_i) / n, at the attacked points of the last forward pass */
    for (long i = 0; i < n; i++) tr->df[i] = (REAL)(loss_deriv(tr->cfg->loss, tr->f[i], ds->y[i]) / (double)n);
    NAME(net_backward)(tr->grad, NULL, tr->df, tr->net, tr->nw, tr->Xadv, n);
}

/* |W - W0|^2 over count entries, in double. */
static double NAME(sum_sq_diff)(const REAL *W, const REAL *W0, long count) {
    double s = 0.0;
    for (long i = 0; i < count; i++) {
        double e = (double)W[i] - W0[i];
        s += e * e;
    }
    return s;
}

static double NAME(cpu_dist)(const BackendRun *run) {
    const RUN *tr = (const RUN *)run;
    const NetShape *s = &tr->shape;
    NetSizes z = net_sizes(s, 0, sizeof(REAL));
    double worst = 0.0; /* the largest block distance, in the units of R (eq. 2 / Sec. 5) */
    for (long b = 0; b < z.blocks; b++)
        worst = fmax(worst, NAME(sum_sq_diff)(tr->net->trained + b * z.block, tr->W0 + b * z.block, z.block));
    return sqrt(worst) * (s->model == MODEL_DEEP ? sqrt((double)s->m) : 1.0);
}

/* Wb = W0b + scale (Wb - W0b) over count entries. */
ADV_VECTOR static void NAME(rescale)(REAL *restrict Wb, const REAL *restrict W0b, long count, double scale) {
    for (long i = 0; i < count; i++) Wb[i] = (REAL)(W0b[i] + scale * ((double)Wb[i] - W0b[i]));
}

void NAME(train_project)(REAL *W, const REAL *W0, const NetShape *s, double R) {
    if (!isfinite(R)) return;
    NetSizes z = net_sizes(s, 0, sizeof(REAL));
    long blocks = z.blocks, block = z.block;
    /* radius of each block of B(R): R / sqrt(m) per layer (deep, eq. 2), R for all of W (two-layer, Sec. 5) */
    double radius = s->model == MODEL_DEEP ? R / sqrt((double)s->m) : R;
    for (long b = 0; b < blocks; b++) {
        REAL *Wb = W + b * block;
        const REAL *W0b = W0 + b * block;
        double dist2 = NAME(sum_sq_diff)(Wb, W0b, block);
        if (!(dist2 > radius * radius)) continue;
        NAME(rescale)(Wb, W0b, block, radius / sqrt(dist2));
    }
}

/* W -= alpha g over count entries (threads for large nets: elementwise, so the result
 * does not depend on their number). */
ADV_VECTOR static void NAME(descend)(REAL *restrict W, const REAL *restrict g, long count, double alpha) {
#pragma omp parallel for schedule(static) if (count >= 2 * ADV_OMP_MIN_WORK)
    for (long i = 0; i < count; i++) W[i] = (REAL)(W[i] - alpha * g[i]);
}

static double NAME(cpu_update)(BackendRun *run) {
    RUN *tr = (RUN *)run;
    long count = tr->net->n_trained;
    NAME(descend)(tr->net->trained, tr->grad, count, tr->plan->lr); /* V = W - alpha grad */
    if (isfinite(tr->cfg->R)) {
        NAME(train_project)(tr->net->trained, tr->W0, &tr->shape, tr->cfg->R); /* W = P_B(R)(V): bounded */
        return 0.0;
    }
    return sqrt(NAME(sum_sq_diff)(tr->net->trained, tr->W0, count) / tr->W0_norm2);
}

static void NAME(cpu_clean)(BackendRun *run, double *loss, double *acc) {
    RUN *tr = (RUN *)run;
    NAME(net_forward)(tr->f, tr->net, tr->nw, tr->X, tr->data->n);
    NAME(batch_loss)(loss, acc, tr);
}

static void NAME(cpu_robust)(BackendRun *run, int64_t t, double *loss, double *acc) {
    RUN *tr = (RUN *)run;
    const Dataset *ds = tr->data;
    Rng rng;
    rng_seed(&rng, (uint64_t)tr->cfg->seed, RNG_EVAL, (uint64_t)t);
    NAME(attack_run)(tr->Xeval, tr->loss_buf, &tr->plan->eval, tr->net, tr->nw, tr->aw, tr->X, ds->y, ds->n, &rng);
    double sum_loss = 0.0, right = 0.0;
    for (long i = 0; i < ds->n; i++) sum_loss += tr->loss_buf[i];
    /* robust accuracy: the sign of f at the attack's worst point (one more forward) */
    NAME(net_forward)(tr->f, tr->net, tr->nw, tr->Xeval, ds->n);
    for (long i = 0; i < ds->n; i++) right += ds->y[i] * tr->f[i] > 0 ? 1.0 : 0.0;
    *loss = sum_loss / (double)ds->n;
    *acc = right / (double)ds->n;
}

static void NAME(cpu_weights)(const BackendRun *run, double *W0, double *W, double *fixed) {
    const RUN *tr = (const RUN *)run;
    NetSizes z = net_sizes(&tr->shape, 0, sizeof(REAL));
    for (long i = 0; W0 && i < z.trained; i++) W0[i] = tr->W0[i];
    for (long i = 0; W && i < z.trained; i++) W[i] = tr->net->trained[i];
    for (long i = 0; fixed && i < z.fixed; i++) fixed[i] = tr->net->fixed_arena[i];
}

static double NAME(cpu_flops)(const BackendRun *run) { return ((const RUN *)run)->nw->flops; }

/* State: the FLOPs counted (a double), then W_t (n_trained REALs), in place. */
static int NAME(cpu_state)(BackendRun *run, void **parts, size_t *lens, int max) {
    RUN *tr = (RUN *)run;
    if (max < 2) return 0;
    parts[0] = &tr->nw->flops;
    lens[0] = sizeof tr->nw->flops;
    parts[1] = tr->net->trained;
    lens[1] = (size_t)tr->net->n_trained * sizeof(REAL);
    return 2;
}

#undef RUN
#undef REAL
#undef NAME
#undef REAL_IS_DOUBLE
