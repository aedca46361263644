/* load.c — a configuration's training set: generated, or read from a user file. */
#include <stdlib.h>

#include "advsweep/common.h"
#include "internal.h"

int store_training_set_digest(Dataset **out, const TrainConfig *cfg, uint64_t *digest) {
    *out = NULL;
    if (cfg->data != DATA_FILE) return data_generate(out, cfg);
    double *X = NULL, *y = NULL;
    long n = 0, d = 0, projected = 0;
    TRY(store_read_data(cfg->data_file, &X, &y, &n, &d));
    int rc;
    if (n != cfg->n || d != cfg->d)
        rc = adv_err(ADV_ERR_INPUT, "data file %s holds n=%ld points in d=%ld, but n=%lld, d=%lld were given",
                     cfg->data_file, n, d, (long long)cfg->n, (long long)cfg->d);
    else
        rc = data_from_arrays(out, X, y, n, d, &projected);
    /* No warning about rows off the sphere here: it would come once per point.
     * Whoever checks the data up front (store_data_info) says it once per file. */
    if (rc == ADV_OK && digest) *digest = data_digest_of(X, y, n, d);
    free(X);
    free(y);
    return rc;
}

int store_training_set(Dataset **out, const TrainConfig *cfg) { return store_training_set_digest(out, cfg, NULL); }
