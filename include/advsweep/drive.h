/* drive.h — `advsweep run`: a job, its file and a point source, over the
 * master/worker protocol of comm.h.
 *
 * The driver owns everything of a sweep but the messages: reading and
 * broadcasting the job, the plan (costs, training groups), the file layout
 * and its memory budget, opening/extending the file, the point sources (the
 * full grid or a --where subset of it; the adaptive width search of a job's
 * `search:` section), what a worker does with a unit (train, write its rows)
 * and every line printed. It never includes mpi.h: ranks talk only through
 * comm.h (dispatch_run, comm_agree, comm_bcast_*).
 */
#ifndef ADVSWEEP_DRIVE_H
#define ADVSWEEP_DRIVE_H

#include "advsweep/comm.h"
#include "advsweep/sweep.h"

/* What `advsweep run` asks for. */
typedef struct {
    const char *job_path;   /* NULL: the embedded default job */
    const char *output;     /* NULL: NAME.h5 in the current directory */
    int fresh;              /* replace an existing file instead of resuming */
    int extend;             /* add the job's points the file lacks (STORE_EXTEND) */
    const char *where;      /* run only the points this --where expression selects (NULL: all) */
    int retry_failed;       /* rerun failed and diverged points */
    int retry_damaged;      /* rerun finished points whose rows no longer match their checksum */
    int quiet;              /* no per-point lines */
    double time_limit;      /* seconds from start; 0 = none (SLURM_JOB_END_TIME is used when set) */
    double grace;           /* seconds a running point may continue after SIGTERM/SIGINT */
    double rate_gflops;     /* per-rank rate for time estimates before any point finished; 0 = learn */
    double mem_limit;       /* bytes one rank may use (--mem-limit); 0 = detect (comm_mem_budget) */
    double checkpoint_every; /* seconds between a long point's checkpoints (--checkpoint); 0 = none */
    int shard_index, shard_count; /* run training runs whose row % count == index (0/1: all) */
} RunOptions;

/* Run a sweep. Collective on c. Call signals_install() first (before MPI
 * starts, so that an early SIGTERM is caught too): a stop requested before
 * dispatch hands out nothing and returns ADV_INTERRUPTED. Returns ADV_OK when
 * every point the source must run (the shard's, the --where subset's, or what
 * the search needs) is done, failed or diverged; ADV_INTERRUPTED when a stop
 * request or the deadline left some (rerun the same command to resume);
 * ADV_ERR_INPUT for a bad job file, a bad --where, or a file this job cannot
 * use (nothing written). */
int drive_run(Comm *c, const RunOptions *opt);

/* ---- data files (datafiles.c; plan calls it too) ----
 *
 * Open and check every data file of the job's data=file points before
 * anything runs, and bind it to the job (job_bind_data): a relative
 * data_file is relative to the directory of job_path (the current directory
 * when job_path is NULL, the embedded job); the points get the file's
 * absolute path, and its n and d unless the job gives them. ADV_ERR_INPUT
 * with one line naming the file (missing, not HDF5, bad /x or /y, labels
 * not +-1, ...) or the parameter whose value differs from the file's. With
 * verbose, one warning per file whose rows are not on the unit sphere.
 * Not collective (every rank may call it; only one should be verbose). */
int drive_bind_data(Job *job, const char *job_path, int verbose);

#endif
