/* comm.h — the MPI side of a sweep: session, master/worker dispatch, signals.
 *
 * The only module that includes mpi.h. Its contract carries no MPI types: a
 * Comm wraps a communicator; comm_handle() gives the Fortran handle that the
 * storage module takes. The world communicator is taken in exactly one place,
 * comm_session_begin(); everything else receives a Comm.
 *
 * Protocol (sweep_run): rank 0 is the master, ranks 1..N-1 are workers; with
 * one rank the same loop runs serially on rank 0. A worker reports ready (with
 * its last point's outcome) and receives the next point index or STOP. The
 * master hands out pending points costliest first (sweep_order), skips points
 * whose estimated time exceeds what is left before the deadline, and waits
 * with MPI_Test plus a short sleep instead of Open MPI's busy-polling blocking
 * calls, so it costs almost no CPU. Workers write their points' rows to the
 * shared file themselves (independent I/O), status last.
 */
#ifndef ADVSWEEP_COMM_H
#define ADVSWEEP_COMM_H

#include <stdint.h>

typedef struct Comm Comm;

/* Initialise MPI (thread level FUNNELED: only the main thread calls MPI; the
 * OpenMP threads inside BLAS do not) and wrap MPI_COMM_WORLD. */
int comm_session_begin(int *argc, char ***argv, Comm **world);
/* Finalise MPI and free *world (sets it to NULL). */
void comm_session_end(Comm **world);

int comm_rank(const Comm *c);
int comm_size(const Comm *c);
/* The communicator's Fortran handle, for store_open(). */
int64_t comm_handle(const Comm *c);

/* Collective: every rank gets root's text (a new string the caller frees). */
int comm_bcast_text(Comm *c, char **text, int root);
/* Collective: the largest rc over all ranks, and rank 0's message for it
 * becomes every rank's adv_errmsg() when rc came from rank 0. */
int comm_agree(Comm *c, int rc);
/* Collective barrier that sleeps instead of spinning (MPI_Ibarrier + test + nanosleep). */
void comm_idle_barrier(Comm *c);

/* What `advsweep run` asks for. */
typedef struct {
    const char *job_path;   /* NULL: the embedded default job */
    const char *output;     /* NULL: NAME.h5 in the current directory */
    int fresh;              /* replace an existing file instead of resuming */
    int retry_failed;       /* rerun failed and diverged points */
    int quiet;              /* no per-point lines */
    double time_limit;      /* seconds from start; 0 = none (SLURM_JOB_END_TIME is used when set) */
    double grace;           /* seconds a running point may continue after SIGTERM/SIGINT */
    double rate_gflops;     /* per-rank rate for time estimates before any point finished; 0 = learn */
    int shard_index, shard_count; /* run points with index % count == index (0/1: all) */
} RunOptions;

/* Run a sweep. Collective on c. Call signals_install() first (before MPI
 * starts, so that an early SIGTERM is caught too): a stop requested before
 * dispatch hands out nothing and returns ADV_INTERRUPTED. Returns ADV_OK when every point of the shard
 * is done, failed or diverged; ADV_INTERRUPTED when a signal or the deadline
 * stopped it with points left (rerun the same command to resume);
 * ADV_ERR_INPUT for a bad job file or a file of another job (nothing written). */
int sweep_run(Comm *c, const RunOptions *opt);

/* ---- data files (datafiles.c; no MPI: plan calls it too) ----
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
typedef struct Job Job;
int sweep_bind_data(Job *job, const char *job_path, int verbose);

/* ---- stopping a sweep (signals.c) ----
 *
 * A stop request is SIGINT (Ctrl-C), SIGTERM, or a request file FILE.stop
 * beside the sweep file FILE (written by `advsweep stop FILE`; the master
 * polls for it at most once a second and removes it when it acts on it). The
 * first request stops the handing out of points; running points may finish
 * for the grace period, then they are abandoned (they stay "running" in the
 * file and are redone on resume). A second request, or `advsweep stop --now`,
 * abandons them at once; a third Ctrl-C exits at once (status 130). Rank 0
 * prints one line when it sees a request. The master relays the abort to the
 * workers, so a request that reaches only rank 0 stops every rank.
 *
 * Sequence in `advsweep run`: signals_install (before MPI starts) ->
 * comm_session_begin -> signals_take_terminal -> ... -> signals_begin ->
 * dispatch, calling signals_poll while waiting and training (comm_wait_sleeping
 * and signals_progress do) and signals_worker_done when a worker got its last
 * work -> signals_end -> signals_release_terminal. */

#define SIGNALS_STOP_SUFFIX ".stop"                 /* FILE.h5.stop */
#define SIGNALS_STOP_HEADER "advsweep stop request\n" /* first line of a request file */

/* Install the SIGTERM/SIGINT handlers (not collective; before MPI starts, so
 * that an early SIGTERM from SLURM is caught too). After the first request,
 * `grace` seconds until running points are abandoned. */
void signals_install(double grace);
/* Rank 0, interactive under mpirun: make this process's group the terminal's
 * foreground group, so that Ctrl-C reaches rank 0 instead of mpirun (which
 * would kill the job). Does nothing without a controlling terminal, when the
 * launcher is not in the foreground (a background job), or on other ranks.
 * Not collective. */
void signals_take_terminal(const Comm *c);
/* Give the terminal back to the launcher (also done at exit). Async-signal-safe. */
void signals_release_terminal(void);

/* Collective on c: start relaying requests between the ranks; rank 0 watches
 * sweep_path + SIGNALS_STOP_SUFFIX (NULL: no file), removing a request older
 * than this process (a stale one, with a warning). */
void signals_begin(Comm *c, const char *sweep_path);
/* Not collective; cheap; call often on every rank: the master checks the
 * stop file (at most once a second) and relays an abort; a worker takes the
 * master's abort into signals_abort_flag(). */
void signals_poll(void);
/* A TrainHooks.progress that calls signals_poll(). */
void signals_progress(void *ctx, int64_t step, int64_t steps, double surrogate);
/* Master: `worker` was sent its last work (it will train no more). */
void signals_worker_done(int worker);
/* Collective on c: the end of the dispatch (every worker got its last work). */
void signals_end(Comm *c);

int signals_stop_requested(void);
/* Pointer for TrainHooks.abort_flag: non-zero once running points must stop. */
volatile int *signals_abort_flag(void);
/* Seconds since the first stop request was noticed, or -1. */
double signals_since_stop(void);

#endif
