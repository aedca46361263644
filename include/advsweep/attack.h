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

/* The same functions in double (the reference) and in float (_f32), from one
 * template (attack.c). In f32 the points, gradients and network passes are float;
 * losses, norms, distances and the projection's reductions are double, and the
 * random points of B(x) are drawn in double and rounded. The contracts, for both:
 *
 * attack_work_create(n_max, d, delta)
 *     scratch for attacks on batches of at most n_max points in R^d with radius
 *     delta (the uniform-cap sampler's table is built here); attack_work_destroy
 *     accepts NULL and nulls the handle.
 * attack_run(Xadv, loss_out, spec, net, nw, aw, X, y, n, rng)
 *     Xadv (n, d) = A(W, X) row by row; labels y (n). Uses nw for the net's passes
 *     (its activations are overwritten) and draws randomness from rng. If loss_out
 *     != NULL it receives the per-sample loss at Xadv when the attack evaluated it
 *     (pgd), else it is left alone and the function returns 0; returns 1 when
 *     loss_out was filled.
 * ball_project(v, x, d, delta)   project v (d) onto B(x) in place, as above; v == 0 becomes x.
 * ball_sample(out, x, aw, rng)   out (d) = a uniform random point of B(x), for the (d, delta)
 *                                aw was created with.
 * ball_violation(&sphere_err, &ball_err, Xadv, X, n, d, delta)
 *     the largest |x'| - 1 and |x' - x| - delta over rows (for tests and checks). */
typedef struct AttackWork AttackWork;
typedef struct AttackWork_f32 AttackWork_f32;

/* Bytes that attack_work_create allocates for (n_max, d) with elem-byte values (the
 * planner's memory of a run). */
double attack_work_bytes(long n_max, long d, size_t elem);

AttackWork *attack_work_create(long n_max, long d, double delta);
void attack_work_destroy(AttackWork **aw);
int attack_run(double *Xadv, double *loss_out, const AttackSpec *spec, const Net *net, NetWork *nw, AttackWork *aw,
               const double *X, const double *y, long n, Rng *rng);
void ball_project(double *v, const double *x, long d, double delta);
void ball_sample(double *out, const double *x, const AttackWork *aw, Rng *rng);
void ball_violation(double *sphere_err, double *ball_err, const double *Xadv, const double *X, long n, long d,
                    double delta);

AttackWork_f32 *attack_work_create_f32(long n_max, long d, double delta);
void attack_work_destroy_f32(AttackWork_f32 **aw);
int attack_run_f32(float *Xadv, double *loss_out, const AttackSpec *spec, const Net_f32 *net, NetWork_f32 *nw,
                   AttackWork_f32 *aw, const float *X, const double *y, long n, Rng *rng);
void ball_project_f32(float *v, const float *x, long d, double delta);
void ball_sample_f32(float *out, const float *x, const AttackWork_f32 *aw, Rng *rng);
void ball_violation_f32(double *sphere_err, double *ball_err, const float *Xadv, const float *X, long n, long d,
                        double delta);

#endif
