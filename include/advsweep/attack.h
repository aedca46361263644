/* attack.h — perturbation functions A(W, x) in B(x) (Definition 3.2).
 *
 * B(x) = {x' on the unit sphere : |x' - x|_2 <= delta}. Every attack returns
 * points of B(x). The projection "back onto the sphere and into the ball"
 * (ball_project) is the exact Euclidean projection of a point v != 0 onto
 * B(x): normalise u = v / |v|; if |u - x| <= delta keep u; otherwise move from
 * x along the great circle towards u to the angle theta = 2 asin(delta / 2),
 * x' = cos(theta) x + sin(theta) t with t the unit tangent (u - (u.x) x)/|.|,
 * which lies at distance exactly delta from x. (For points on the sphere the
 * nearest point of a spherical cap is the one of smallest angle to v.)
 *
 *   none    identity
 *   random  a uniform point of B(x) (surface measure on the cap; exact sampler)
 *   fgsm    x' = P(x + delta g / |g|), g = grad_x l(f(W, x), y); g = 0 keeps x
 *   pgd     k steps x <- P(x + eta g / |g|) from x (or a random point of B(x));
 *           each restart keeps, per sample, the point of highest loss among
 *           its start and its k iterates; restarts after the first start at a
 *           random point; the worst point over restarts is returned.
 *
 * Must not use MPI or HDF5.
 */
#ifndef ADVSWEEP_ATTACK_H
#define ADVSWEEP_ATTACK_H

#include "advsweep/nn.h"
#include "advsweep/rng.h"

typedef struct {
    int kind;         /* ATTACK_* */
    long steps;       /* k (pgd) */
    double step;      /* eta (pgd), resolved: never 0 */
    long restarts;    /* >= 1 (pgd) */
    int random_start; /* first restart from a random point (pgd) */
    double delta;
    int loss;         /* LOSS_* */
} AttackSpec;

/* Scratch for attacks on batches of at most n_max points in R^d with radius
 * delta (the uniform-cap sampler's table is built here). */
typedef struct AttackWork AttackWork;
AttackWork *attack_work_create(long n_max, long d, double delta);
void attack_work_destroy(AttackWork **aw);

/* Xadv (n, d) = A(W, X) row by row; labels y (n). Uses nw for the net's
 * passes (its activations are overwritten) and draws randomness from rng.
 * If loss_out != NULL it receives the per-sample loss at Xadv when the attack
 * evaluated it (pgd), else it is left alone and the function returns 0;
 * returns 1 when loss_out was filled. */
int attack_run(double *Xadv, double *loss_out, const AttackSpec *spec, const Net *net, NetWork *nw, AttackWork *aw,
               const double *X, const double *y, long n, Rng *rng);

/* Project v (d) onto B(x) in place, as described above. v == 0 becomes x. */
void ball_project(double *v, const double *x, long d, double delta);

/* out (d) = a uniform random point of B(x), for the (d, delta) aw was created with. */
void ball_sample(double *out, const double *x, const AttackWork *aw, Rng *rng);

/* The largest |x'| - 1 and |x' - x| - delta over rows (for tests and checks). */
void ball_violation(double *sphere_err, double *ball_err, const double *Xadv, const double *X, long n, long d,
                    double delta);

#endif
