/* rng.h — explicit, seedable random state (xoshiro256**).
 *
 * Every random draw in advsweep comes from an Rng passed in as an argument,
 * seeded from (seed, purpose, index). Nothing seeds from the clock, the rank
 * or the process id, so a grid point's result depends only on its parameters.
 */
#ifndef ADVSWEEP_RNG_H
#define ADVSWEEP_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

/* Purposes: one independent stream per kind of randomness. */
enum {
    RNG_DATA = 1,    /* training inputs and labels */
    RNG_INIT = 2,    /* network initialisation */
    RNG_ATTACK = 3,  /* training attack (index = step) */
    RNG_EVAL = 4,    /* strong evaluation attack (index = step) */
    RNG_TEACHER = 5, /* teacher network of the realisable data generator */
    RNG_BENCH = 6,
};

/* Seed `rng` from (seed, purpose, index) through splitmix64. */
void rng_seed(Rng *rng, uint64_t seed, uint64_t purpose, uint64_t index);
uint64_t rng_next(Rng *rng);
/* Uniform in [0, 1). */
double rng_uniform(Rng *rng);
/* Standard normal (Box-Muller; consumes two uniforms per call). */
double rng_normal(Rng *rng);
/* Fill v[0..n) with independent N(0, sd^2). */
void rng_fill_normal(Rng *rng, double *v, long n, double sd);
/* A point uniform on the unit sphere of R^d, written to x[0..d). */
void rng_sphere(Rng *rng, double *x, int d);

#endif
