/* comm.h — the MPI side of a sweep: session, the master/worker protocol, signals.
 *
 * The only module that includes mpi.h. Its contract carries no MPI types: a
 * Comm wraps a communicator; comm_handle() gives the Fortran handle that the
 * storage module takes. The world communicator is taken in exactly one place,
 * comm_session_begin(); everything else receives a Comm.
 *
 * Protocol (dispatch_run): rank 0 is the master, ranks 1..N-1 are workers;
 * with one rank the same loop runs serially on rank 0. A worker reports ready
 * (with its last unit's result) and receives the next unit or STOP. What the
 * units are, their order, the deadline and what a result means belong to the
 * point source (src/drive: the grid, the width search); the master only asks
 * it and waits with MPI_Test plus a short sleep instead of Open MPI's
 * busy-polling blocking calls, so it costs almost no CPU.
 */
#ifndef ADVSWEEP_COMM_H
#define ADVSWEEP_COMM_H

#include <stdint.h>

#include "advsweep/memory.h"

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
/* Collective: the memory one training rank may use (memory.h), the least over
 * the ranks that train (all but the master when there are several), each
 * sharing its node with the other training ranks there; explicit_bytes > 0
 * (--mem-limit) replaces what is detected. Every rank gets the same result. */
void comm_mem_budget(Comm *c, double explicit_bytes, MemBudget *out);

/* Collective: how many training ranks share the caller's node (MPI's shared-memory
 * split): all of them in a serial run, the node's ranks less the master otherwise
 * (the master only dispatches); at least 1. */
int comm_node_workers(Comm *c);

/* Collective: root's values[0..n) on every rank. */
void comm_bcast_longs(Comm *c, long *values, int n, int root);

/* ---- the master/worker protocol (dispatch.c) ---- */

#define DISPATCH_DONE (-1L) /* PointSource.next: nothing more to hand out to anyone */
#define DISPATCH_WAIT (-2L) /* PointSource.next: nothing now; ask again after the next result */
#define DISPATCH_RESULT_MAX 4096 /* doubles in one unit's result */

/* What the master asks (rank 0 only; never concurrently). */
typedef struct {
    void *ctx;
    /* The next unit (>= 0) for the free worker `rank`, DISPATCH_WAIT or DISPATCH_DONE.
     * After DONE it is not asked again for that worker; a WAIT worker is asked
     * again after every result. */
    long (*next)(void *ctx, int rank);
    /* Unit `unit` finished on `rank` with result[0..len). */
    void (*done)(void *ctx, long unit, const double *result, int rank);
} PointSource;

/* What a worker does (every rank but the master; rank 0 when alone). */
typedef struct {
    void *ctx;
    /* Run `unit`; write its result into result[0..len) (zeros when left alone). */
    void (*run)(void *ctx, long unit, double *result, int len);
} PointWorker;

/* Collective on c: hand out src's units until it is done. Rank 0 asks src,
 * ranks 1..N-1 run units with w and report results of `len` doubles; with one
 * rank, rank 0 runs them itself. A source that answers WAIT while no unit is
 * out would wait for ever: it is taken as DONE. Calls signals_worker_done for
 * each worker that got STOP. */
int dispatch_run(Comm *c, const PointSource *src, const PointWorker *w, int len);

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
/* Not collective: the run is over (drive_run returned), so a later stop request
 * has nothing to stop and is not announced; a launcher's SIGTERM to the ranks still
 * exiting after another rank's failure would otherwise add a misleading line. */
void signals_finished(void);
/* Rank 0, not collective: from wall-clock time `at` (adv_now()) on, act as on a
 * first stop request (no new points; the running ones get the grace period, then
 * are abandoned, saving their checkpoints) unless one came before: the run's time
 * limit, for points that overran their estimate or were started on checkpoints
 * (drive_fits; the next run continues them). */
void signals_deadline(double at);
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

/* ---- ranks die with their job (lifeline.c) ----
 *
 * A rank started by mpirun or srun ends itself (exit 3, nothing more written;
 * its point stays "running" and is redone on resume) once its launcher (its
 * parent process) or, on the same host, rank 0 is gone: the parent-death
 * signal, a watchdog thread checking every 50 ms, and lifeline_check. No-ops
 * in a process that no launcher started (`advsweep run` under nohup). */

/* Collective on c (rank 0's pid and host): start watching. */
void lifeline_begin(Comm *c);
/* Not collective, immediate: end this rank now if its job is gone. Call it
 * just before writing a point's rows. */
void lifeline_check(void);
/* Stop watching (not collective): once every row is written, since rank 0 may
 * then finish and exit before the others. */
void lifeline_end(void);

#endif
