/* test_checkpoint.c — mid-point checkpoints of the trainer (train.c, TrainHooks
 * checkpoint/resume, the backends' state): a run continued from its state at
 * any step ends bit-identical to an uninterrupted one (summary, per-target
 * steps, trajectory, evaluations, final weights, counted FLOPs), for both
 * precisions, the two-layer net, a projection, a plateau window (also on a noisy
 * loss, where the best loss so far is state of its own) and early stop;
 * a run abandoned with abort_flag saves its state first; a state that does not
 * fit the run, or does not check out once read, is ignored (the run starts at
 * step 0). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/data.h"
#include "advsweep/train.h"

enum { MAX_BLOBS = 512 };

typedef struct {
    unsigned char *blob[MAX_BLOBS];
    size_t bytes[MAX_BLOBS];
    int n;
    int abort_after; /* raise the abort flag after this many checkpoints (0: never) */
    volatile int *flag;
} Saved;

static int keep(void *ctx, const void *const *parts, const size_t *lens, int n) {
    Saved *s = ctx;
    if (s->n < MAX_BLOBS) {
        size_t bytes = 0;
        for (int k = 0; k < n; k++) bytes += lens[k];
        unsigned char *blob = malloc(bytes), *p = blob;
        for (int k = 0; k < n; k++) p = (unsigned char *)memcpy(p, parts[k], lens[k]) + lens[k];
        s->blob[s->n] = blob;
        s->bytes[s->n] = bytes;
        s->n++;
    }
    if (s->abort_after && s->n >= s->abort_after && s->flag) *s->flag = 1;
    return 0;
}

/* A saved state read back in order (TrainHooks.resume_read); `fail_at_end`: its
 * final check fails (a damaged checkpoint noticed after the weights were read). */
typedef struct {
    const unsigned char *blob;
    size_t bytes, pos;
    int fail_at_end;
} Reader;

static int read_back(void *ctx, void *buf, size_t len) {
    Reader *r = ctx;
    if (!buf) return r->fail_at_end || r->pos != r->bytes;
    if (len > r->bytes - r->pos) return 1;
    memcpy(buf, r->blob + r->pos, len);
    r->pos += len;
    return 0;
}

/* Hooks that resume from blob (bytes long) through rd. */
static TrainHooks resuming(Reader *rd, const unsigned char *blob, size_t bytes, int64_t *from) {
    *rd = (Reader){blob, bytes, 0, 0};
    TrainHooks h = {0};
    h.checkpoint_ctx = rd;
    h.resume_read = read_back;
    h.resume_bytes = bytes;
    h.resumed_step = from;
    return h;
}

static void release(Saved *s) {
    for (int k = 0; k < s->n; k++) free(s->blob[k]);
    s->n = 0;
}

typedef struct {
    TrainSummary sum;
    Trajectory *traj;
    double *W;
    long nt;
} Result;

static int train(Result *r, const TrainConfig *cfg, TrainHooks *hooks) {
    TrainPlan plan;
    assert_int_equal(train_plan(&plan, cfg), ADV_OK);
    Dataset *ds = NULL;
    assert_int_equal(data_generate(&ds, cfg), ADV_OK);
    r->traj = trajectory_create(plan.records, plan.evals);
    r->nt = plan.n_trained;
    r->W = calloc((size_t)plan.n_trained, sizeof(double));
    hooks->W_out = r->W;
    int rc = train_run(&r->sum, r->traj, cfg, ds, hooks);
    dataset_destroy(&ds);
    return rc;
}

static void result_free(Result *r) {
    trajectory_destroy(&r->traj);
    free(r->W);
}

/* Bit for bit, the wall time aside. */
static void assert_same(const Result *a, const Result *b) {
    TrainSummary x = a->sum, y = b->sum;
    x.wall_time = y.wall_time = 0;
    assert_memory_equal(&x, &y, sizeof x);
    assert_int_equal(a->traj->count, b->traj->count);
    assert_int_equal(a->traj->eval_count, b->traj->eval_count);
    long n = a->traj->count, e = a->traj->eval_count;
    assert_memory_equal(a->traj->step, b->traj->step, (size_t)n * sizeof(int64_t));
    assert_memory_equal(a->traj->surrogate, b->traj->surrogate, (size_t)n * sizeof(double));
    assert_memory_equal(a->traj->clean_loss, b->traj->clean_loss, (size_t)n * sizeof(double));
    assert_memory_equal(a->traj->clean_acc, b->traj->clean_acc, (size_t)n * sizeof(double));
    assert_memory_equal(a->traj->dist, b->traj->dist, (size_t)n * sizeof(double));
    assert_memory_equal(a->traj->eval_step, b->traj->eval_step, (size_t)e * sizeof(int64_t));
    assert_memory_equal(a->traj->robust_loss, b->traj->robust_loss, (size_t)e * sizeof(double));
    assert_memory_equal(a->traj->robust_acc, b->traj->robust_acc, (size_t)e * sizeof(double));
    assert_memory_equal(a->W, b->W, (size_t)a->nt * sizeof(double));
}

static TrainConfig base(void) {
    TrainConfig cfg;
    config_defaults(&cfg);
    cfg.m = 16;
    cfg.H = 2;
    cfg.d = 6;
    cfg.n = 24;
    cfg.delta = 0.1;
    cfg.epsilon = 0.05;
    cfg.attack = ATTACK_PGD;
    cfg.pgd_steps = 3;
    cfg.pgd_random_start = 1; /* the attack draws random numbers every step */
    cfg.c_alpha = 20;
    cfg.steps = 120;
    cfg.eval_count = 4;
    cfg.eval_steps = 3;
    cfg.eval_restarts = 2;
    cfg.record_dense = 10;
    cfg.record_max = 40; /* geometric records after the dense ones */
    cfg.seed = 3;
    return cfg;
}

/* Resume from the state at every step of a run (checkpoint_every tiny): each ends like the
 * uninterrupted run, which ended for `why` (so that the stopping rule's state mattered). */
static void check_every_step(const TrainConfig *cfg, int why) {
    Result ref;
    TrainHooks none = {0};
    assert_int_equal(train(&ref, cfg, &none), ADV_OK);
    if (ref.sum.outcome != why) fprintf(stderr, "outcome %d, steps_run %lld\n", ref.sum.outcome, (long long)ref.sum.steps_run);
    assert_int_equal(ref.sum.outcome, why);
    Saved saved = {0};
    TrainHooks h = {0};
    h.checkpoint_ctx = &saved;
    h.checkpoint = keep;
    h.checkpoint_every = 1e-12;
    Result with;
    assert_int_equal(train(&with, cfg, &h), ADV_OK);
    assert_same(&ref, &with); /* saving changes nothing */
    assert_true(saved.n >= ref.sum.steps_run - 1);
    for (int k = 0; k < saved.n; k += 1 + k / 8) { /* every early step, then thinner */
        int64_t from = -2;
        Reader rd;
        TrainHooks r = resuming(&rd, saved.blob[k], saved.bytes[k], &from);
        Result cont;
        assert_int_equal(train(&cont, cfg, &r), ADV_OK);
        assert_int_equal(from, k + 1); /* the state before step k + 1 */
        assert_same(&ref, &cont);
        result_free(&cont);
    }
    release(&saved);
    result_free(&with);
    result_free(&ref);
}

static void test_resume_deep_f64_and_f32(void **state) {
    (void)state;
    TrainConfig cfg = base();
    check_every_step(&cfg, OUTCOME_BUDGET);
    cfg.precision = PRECISION_F32;
    check_every_step(&cfg, OUTCOME_BUDGET);
}

static void test_resume_two_layer_projection_plateau(void **state) {
    (void)state;
    TrainConfig cfg = base();
    cfg.model = MODEL_TWOLAYER;
    cfg.activation = ACT_SOFTPLUS;
    cfg.R = 1.0;
    cfg.plateau_window = 8; /* the plateau rule's ring of best losses is part of the state */
    cfg.plateau_tol = 0.05;
    check_every_step(&cfg, OUTCOME_PLATEAU);
    cfg = base();
    cfg.early_stop = 3;
    cfg.epsilon = 0.4;
    check_every_step(&cfg, OUTCOME_REACHED);
}

/* A noisy loss (random-ball attack, large steps): the best loss so far is not the current
 * one, so the stopping rule's best and its plateau ring are state of their own. */
static void test_resume_noisy_plateau(void **state) {
    (void)state;
    TrainConfig cfg = base();
    cfg.attack = ATTACK_RANDOM;
    cfg.c_alpha = 400;
    cfg.record_max = 400; /* every step recorded */
    cfg.plateau_window = 6;
    cfg.plateau_tol = 0.01;
    Result ref;
    TrainHooks none = {0};
    assert_int_equal(train(&ref, &cfg, &none), ADV_OK);
    int rises = 0; /* steps t >= 2 whose loss is above the best before them */
    double best = INFINITY;
    for (long k = 1; k < ref.traj->count; k++) {
        if (k >= 2 && ref.traj->surrogate[k] > best) rises++;
        best = fmin(best, ref.traj->surrogate[k]);
    }
    assert_true(rises >= 3);
    result_free(&ref);
    check_every_step(&cfg, OUTCOME_PLATEAU);
}

static void test_abandoned_run_saves_its_state(void **state) {
    (void)state;
    TrainConfig cfg = base();
    Result ref;
    TrainHooks none = {0};
    assert_int_equal(train(&ref, &cfg, &none), ADV_OK);
    volatile int flag = 0;
    Saved saved = {.abort_after = 5, .flag = &flag};
    TrainHooks h = {0};
    h.checkpoint_ctx = &saved;
    h.checkpoint = keep;
    h.checkpoint_every = 1e-12;
    h.abort_flag = &flag;
    Result cut;
    assert_int_equal(train(&cut, &cfg, &h), ADV_INTERRUPTED);
    assert_int_equal(saved.n, 6); /* five, then one more when abandoned */
    int64_t from = -2;
    Reader rd;
    TrainHooks r = resuming(&rd, saved.blob[saved.n - 1], saved.bytes[saved.n - 1], &from);
    Result cont;
    assert_int_equal(train(&cont, &cfg, &r), ADV_OK);
    assert_int_equal(from, 6);
    assert_same(&ref, &cont);
    release(&saved);
    result_free(&cont);
    result_free(&cut);
    result_free(&ref);
}

static void test_a_state_that_does_not_fit_is_ignored(void **state) {
    (void)state;
    TrainConfig cfg = base();
    Saved saved = {0};
    TrainHooks h = {0};
    h.checkpoint_ctx = &saved;
    h.checkpoint = keep;
    h.checkpoint_every = 1e-12;
    Result ref;
    assert_int_equal(train(&ref, &cfg, &h), ADV_OK);
    unsigned char *blob = saved.blob[20];
    size_t bytes = saved.bytes[20];
    TrainConfig other[4];
    for (int k = 0; k < 4; k++) other[k] = cfg;
    other[0].steps = 121;                  /* another plan */
    other[1].precision = PRECISION_F32;    /* another backend */
    other[2].m = 18;                       /* other weights */
    other[3].record_max = 41;              /* another schedule */
    for (int k = 0; k < 6; k++) {
        const TrainConfig *c = k < 4 ? &other[k] : &cfg;
        Result fresh, tried;
        TrainHooks none = {0};
        assert_int_equal(train(&fresh, c, &none), ADV_OK);
        int64_t from = -2;
        Reader rd;
        /* k = 4: the right run, a cut state; k = 5: its final check fails after the weights
         * were read into the run (they are W0 again: the run starts over from its seed) */
        TrainHooks r = resuming(&rd, blob, k == 4 ? bytes - 1 : bytes, &from);
        rd.fail_at_end = k == 5;
        assert_int_equal(train(&tried, c, &r), ADV_OK);
        assert_int_equal(from, -1);
        assert_same(&fresh, &tried);
        result_free(&fresh);
        result_free(&tried);
    }
    release(&saved);
    result_free(&ref);
}

int main(int argc, char **argv) {
    (void)argc;
    blas_kernel_select(argv); /* run under the kernel advsweep itself selects */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_deep_f64_and_f32),
        cmocka_unit_test(test_resume_two_layer_projection_plateau),
        cmocka_unit_test(test_resume_noisy_plateau),
        cmocka_unit_test(test_abandoned_run_saves_its_state),
        cmocka_unit_test(test_a_state_that_does_not_fit_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
