/* grid.c — the expanded grid, seen point by point through job_point: labels,
 * the fingerprint, and each point's validation and cost.
 *
 * Only the public Job interface is used here, so everything below depends on
 * what a point's configuration is, never on how the job file spelled it.
 * Must not use MPI or HDF5.
 */
#include "advsweep/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"

/* The shortest "%g" text that reads back as v (0.1, not 0.10000000000000001). */
static void shortest(char *buf, size_t len, double v) {
    if (!isfinite(v)) return; /* param_format's "inf" */
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void job_point_label(char *buf, size_t len, const Job *job, long index) {
    if (!len) return;
    buf[0] = '\0';
    TrainConfig cfg;
    job_point(&cfg, job, index);
    const char *axes = job_axes(job);
    size_t used = 0;
    while (*axes && used + 1 < len) {
        const char *comma = strchr(axes, ',');
        size_t n = comma ? (size_t)(comma - axes) : strlen(axes);
        char name[64], value[CONFIG_TEXT_MAX];
        snprintf(name, sizeof name, "%.*s", (int)n, axes);
        const ParamSpec *p = param_find(name);
        if (p) {
            param_format(value, sizeof value, &cfg, p);
            if (p->type == PARAM_REAL) shortest(value, sizeof value, param_value(&cfg, p));
            int w = snprintf(buf + used, len - used, "%s%s=%s", used ? ", " : "", name, value);
            used = w < 0 ? used : (size_t)w + used >= len ? len - 1 : used + (size_t)w;
        }
        axes += n + (comma != NULL);
    }
}

/* Size of the bytes behind parameter p in a TrainConfig. */
static size_t field_size(const ParamSpec *p) {
    switch (p->type) {
    case PARAM_INT: return sizeof(int64_t);
    case PARAM_REAL: return sizeof(double);
    case PARAM_CHOICE: return sizeof(int);
    case PARAM_TEXT: return CONFIG_TEXT_MAX;
    }
    return 0;
}

uint64_t job_grid_hash(const Job *job) {
    long points = job_points(job);
    uint64_t h = adv_hash("advsweep-grid-v1", 16, 0);
    TrainConfig cfg, prev;
    enum { ITEM = CONFIG_TEXT_MAX + 64 };
    /* "name=value;" of every parameter, reformatted only when its field changed. */
    char *items = xcalloc((size_t)N_PARAMS, ITEM);
    size_t *lens = xcalloc((size_t)N_PARAMS, sizeof *lens);
    char value[CONFIG_TEXT_MAX];
    const ParamSpec *data_file = param_find("data_file");
    uint64_t digest;
    int digest_item = 0; /* data_file's item holds a digest: reformat it for a point that has none */
    for (long i = 0; i < points; i++) {
        job_point(&cfg, job, i);
        for (int k = 0; k < N_PARAMS; k++) {
            const ParamSpec *p = &PARAMS[k];
            char *item = items + (size_t)k * ITEM;
            if (p == data_file && cfg.data == DATA_FILE && job_data_digest(job, cfg.data_file, &digest)) {
                /* the content, not the path: regenerated data is another grid, a moved file the same */
                int w = snprintf(item, ITEM, "data_file=#%016llx;", (unsigned long long)digest);
                lens[k] = (size_t)w;
                digest_item = 1;
            } else if (i == 0 || (p == data_file && digest_item) ||
                       memcmp((char *)&cfg + p->offset, (char *)&prev + p->offset, field_size(p))) {
                if (p == data_file) digest_item = 0;
                param_format(value, sizeof value, &cfg, p);
                int w = snprintf(item, ITEM, "%s=%s;", p->name, value);
                lens[k] = (size_t)w < ITEM ? (size_t)w : ITEM - 1;
            }
            h = adv_hash(item, lens[k], h);
        }
        h = adv_hash("\n", 1, h); /* end of a point */
        memcpy(&prev, &cfg, sizeof prev);
    }
    free(items);
    free(lens);
    char count[32];
    int w = snprintf(count, sizeof count, "points=%ld", points);
    return adv_hash(count, (size_t)w, h);
}

int sweep_costs(PointCost **costs, const Job *job) {
    long points = job_points(job);
    PointCost *out = xcalloc((size_t)(points > 0 ? points : 1), sizeof *out);
    TrainConfig cfg, prev;
    for (long i = 0; i < points; i++) {
        job_point(&cfg, job, i);
        /* Replicates differ only in the seed, which changes neither validity nor cost. */
        if (i > 0 && cfg.seed != prev.seed) {
            int64_t seed = cfg.seed;
            cfg.seed = prev.seed;
            int same = !memcmp(&cfg, &prev, sizeof cfg);
            cfg.seed = seed;
            if (same) {
                out[i] = out[i - 1];
                memcpy(&prev, &cfg, sizeof prev);
                continue;
            }
        }
        TrainPlan plan;
        if (train_plan(&plan, &cfg) != ADV_OK) {
            char msg[512], label[256];
            snprintf(msg, sizeof msg, "%s", adv_errmsg());
            job_point_label(label, sizeof label, job, i);
            free(out);
            *costs = NULL;
            if (label[0]) return adv_err(ADV_ERR_INPUT, "point %ld (%s): %s", i, label, msg);
            return adv_err(ADV_ERR_INPUT, "point %ld: %s", i, msg);
        }
        out[i] = (PointCost){
            .cost = plan.cost,
            .bytes = plan.bytes,
            .records = plan.records,
            .evals = plan.evals,
            .n_trained = plan.n_trained,
            .n_fixed = plan.n_fixed,
            .n_targets = plan.n_targets,
        };
        memcpy(&prev, &cfg, sizeof prev); /* padding too (job_point copies it) */
    }
    /* A point whose result another point's run gives costs nothing of its own. */
    for (long i = 0; i < points; i++) {
        out[i].trained_as = job_training_rep(job, i);
        if (out[i].trained_as != i) out[i].cost = 0;
    }
    *costs = out;
    return ADV_OK;
}
