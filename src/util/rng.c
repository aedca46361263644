/* rng.c — xoshiro256** seeded through splitmix64 from (seed, purpose, index). */
#include "advsweep/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *rng, uint64_t seed, uint64_t purpose, uint64_t index) {
    /* Mix the three words so that nearby seeds give unrelated streams. */
    uint64_t state = seed;
    uint64_t a = splitmix64(&state);
    state = a ^ (purpose * 0xD1B54A32D192ED03ULL);
    uint64_t b = splitmix64(&state);
    state = b ^ (index * 0x8CB92BA72F3D8DD7ULL);
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&state);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(Rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(Rng *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; }

double rng_normal(Rng *rng) {
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - rng_uniform(rng);
    double u2 = rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_fill_normal(Rng *rng, double *v, long n, double sd) {
    for (long i = 0; i < n; i++) v[i] = sd * rng_normal(rng);
}

void rng_sphere(Rng *rng, double *x, int d) {
    double norm2;
    do {
        norm2 = 0.0;
        for (int k = 0; k < d; k++) {
            x[k] = rng_normal(rng);
            norm2 += x[k] * x[k];
        }
    } while (norm2 < 1e-300);
    double inv = 1.0 / sqrt(norm2);
    for (int k = 0; k < d; k++) x[k] *= inv;
}
