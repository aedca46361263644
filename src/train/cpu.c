/* cpu.c — the CPU backends cpu_f64 (the reference) and cpu_f32, one template
 * (cpu_real.h) compiled for double and for float, and the backend registry.
 * Must not use MPI or HDF5.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/backend.h"
#include "advsweep/common.h"

#define REAL double
#define NAME(name) name
#define REAL_IS_DOUBLE 1
#include "cpu_real.h"

#define REAL float
#define NAME(name) name##_f32
#define REAL_IS_DOUBLE 0
#include "cpu_real.h"

const TrainBackend TRAIN_BACKEND_CPU_F64 = {
    "cpu_f64",  PRECISION_F64, sizeof(double), cpu_run_bytes, cpu_create, cpu_destroy, cpu_attack_forward,
    cpu_gradient, cpu_update,  cpu_dist,       cpu_clean,     cpu_robust, cpu_weights, cpu_flops,
    cpu_state,
};

const TrainBackend TRAIN_BACKEND_CPU_F32 = {
    "cpu_f32",        PRECISION_F32,  sizeof(float), cpu_run_bytes_f32, cpu_create_f32, cpu_destroy_f32,
    cpu_attack_forward_f32, cpu_gradient_f32, cpu_update_f32, cpu_dist_f32, cpu_clean_f32, cpu_robust_f32,
    cpu_weights_f32,  cpu_flops_f32, cpu_state_f32,
};

const TrainBackend *train_backend(int precision) {
    return precision == PRECISION_F32 ? &TRAIN_BACKEND_CPU_F32 : &TRAIN_BACKEND_CPU_F64;
}
