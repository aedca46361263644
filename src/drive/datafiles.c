/* datafiles.c — a job's data files (data=file points), opened and checked
 * before anything runs: their names resolved against the job file's
 * directory, their contents read and checked (store_data_info), their shape
 * and content digest bound to the job (job_bind_data).
 *
 * Uses the store and the job only (plan calls it without MPI).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/drive.h"
#include "advsweep/common.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"

/* `text` relative to the directory of `job_path` (as is when absolute or
 * without a job file), into buf. */
static void relative_to_job(char *buf, size_t len, const char *text, const char *job_path) {
    const char *slash = job_path ? strrchr(job_path, '/') : NULL;
    if (text[0] == '/' || !slash) snprintf(buf, len, "%s", text);
    else snprintf(buf, len, "%.*s/%s", (int)(slash - job_path), job_path, text);
}

int drive_bind_data(Job *job, const char *job_path, int verbose) {
    const char *origin = job_path ? job_path : "(default job)";
    for (long k = 0; k < job_data_file_count(job); k++) {
        const char *text = job_data_file(job, k);
        char where[PATH_MAX + CONFIG_TEXT_MAX], real[PATH_MAX];
        relative_to_job(where, sizeof where, text, job_path);
        if (!realpath(where, real)) {
            int e = errno;
            if (strcmp(where, text) != 0)
                return adv_err(ADV_ERR_INPUT,
                               "%s: key 'data_file': data file %s: %s (a relative data_file is relative to the job "
                               "file's directory: looked for %s)",
                               origin, text, strerror(e), where);
            return adv_err(ADV_ERR_INPUT, "%s: key 'data_file': data file %s: %s", origin, text, strerror(e));
        }
        StoreDataInfo info;
        TRY(store_data_info(real, &info));
        TRY(job_bind_data(job, k, real, info.n, info.d, info.digest));
        if (verbose && info.off_sphere > 0)
            adv_warn("data file %s: %ld of %ld rows are not on the unit sphere and are projected onto it (by every point)",
                     real, info.off_sphere, info.n);
    }
    return ADV_OK;
}
