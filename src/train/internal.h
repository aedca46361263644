/* internal.h — the trainer shared by train.c and bench.c (not a public header). */
#ifndef ADVSWEEP_TRAIN_INTERNAL_H
#define ADVSWEEP_TRAIN_INTERNAL_H

#include "advsweep/train.h"

/* Every buffer of one run, allocated once by trainer_create. */
typedef struct {
    const TrainConfig *cfg; /* borrowed */
    const TrainPlan *plan;  /* borrowed */
    const Dataset *data;    /* borrowed */
    NetShape shape;
    Net *net;               /* W_t (trained) and the fixed A, a */
    double *W0;             /* (n_trained) initial weights: centre of B(R) */
    double W0_norm2;        /* |W0|^2 (1 if zero) */
    double *grad;           /* (n_trained) grad L_A(W_t) */
    NetWork *nw;            /* activations of the last forward pass */
    AttackWork *aw;         /* attack scratch */
    double *Xadv;           /* (n, d) training attack's points */
    double *aw_eval_points; /* (n, d) evaluation attack's points */
    double *f;              /* (n) outputs of the last forward pass */
    double *df;             /* (n) dL/df */
} Trainer;

/* Initialise the net from (seed, RNG_INIT) and allocate everything. */
Trainer *trainer_create(const TrainConfig *cfg, const TrainPlan *plan, const Dataset *data);
void trainer_destroy(Trainer **tr);
/* Training attack at step t (stream (seed, RNG_ATTACK, t)), then the forward
 * pass at the attacked points: surrogate loss L_A(W_t) and its accuracy. */
void trainer_attack_forward(Trainer *tr, int64_t t, double *surrogate, double *acc);
/* grad = grad L_A(W_t) from the activations of trainer_attack_forward. */
void trainer_gradient(Trainer *tr);
/* W_{t+1} = P_B(R)(W_t - alpha grad). Returns |W_{t+1} - W0| / |W0| when R = inf
 * (0 with a projection, which keeps W bounded). */
double trainer_apply(Trainer *tr);

/* Relative distance |W - W0| / |W0| beyond which an unprojected run counts as diverged. */
#define WEIGHT_BLOWUP 1e8
/* Distance from W0 in the units of R. */
double trainer_dist(const Trainer *tr);

#endif
