/* lifeline.c — ranks die with their job.
 *
 * When mpirun (or srun's step daemon) is killed, Open MPI's ranks used to live
 * on for a second or more and could finish a point and write it into a file
 * that a new run may already own. A rank started by an MPI launcher therefore
 * watches its launcher (its parent process: mpirun for local ranks, orted or
 * slurmstepd on other nodes) and, on the same host, the master (rank 0):
 *   - Linux delivers SIGKILL when the parent exits (PR_SET_PDEATHSIG), at once;
 *   - a watchdog thread checks every LIFELINE_PERIOD seconds that the parent
 *     is still the parent and the master still exists, and ends the process
 *     (_exit(ADV_INTERRUPTED)) when not: a worker waiting for a dead master,
 *     or training, stops within that period;
 *   - lifeline_check() does the same check synchronously; run.c calls it just
 *     before a point's rows are written, so no row follows the job's end.
 * A rank ended this way leaves the file as a kill -9 does: its point stays
 * "running" and is redone on resume. A process not started by a launcher
 * (`advsweep run` alone, e.g. under nohup) has no lifeline: its parent shell
 * may go away and the sweep goes on.
 *
 * The thread makes no MPI call (the thread level stays FUNNELED).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <mpi.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"
#include "internal.h"

#define LIFELINE_PERIOD 0.05 /* seconds between the watchdog's checks */

static struct {
    int active;        /* launched by an MPI launcher: the checks apply */
    int watching;      /* the watchdog thread runs */
    pid_t parent;      /* at lifeline_begin */
    pid_t master;      /* rank 0's pid when it runs on this host, else 0 */
    int rank;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* lifeline_end wakes the thread at once: ranks leave together */
    int stop;            /* under lock: lifeline_end asks the thread to return */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* Started by an MPI launcher (not a singleton MPI_Init): Open MPI's mpirun,
 * a PMIx or PMI launcher (srun --mpi=pmix, hydra). */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
        if (getenv(vars[k])) return 1;
    return 0;
}

/* What is gone ("" when nothing). Async-signal-safe calls only. */
static const char *loss(void) {
    if (getppid() != g.parent) return "its launcher (parent process) exited";
    if (g.master > 0 && kill(g.master, 0) != 0 && errno == ESRCH) return "the master (rank 0) exited";
    return "";
}

static void die(const char *why) {
    char line[256];
    int n = snprintf(line, sizeof line, "advsweep: rank %d: %s; stopping without writing more\n", g.rank, why);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n); /* may fail: the launcher held the pipe */
        (void)w;
    }
    _exit(ADV_INTERRUPTED);
}

static void *watch(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g.lock);
    while (!g.stop) {
        const char *why = loss();
        if (why[0]) die(why);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(LIFELINE_PERIOD * 1e9);
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&g.wake, &g.lock, &until);
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

void lifeline_begin(Comm *c) {
    /* Collective: rank 0's host and pid, so that workers beside it can watch it. */
    struct {
        char host[64];
        long pid;
    } master = {"", (long)getpid()};
    gethostname(master.host, sizeof master.host - 1);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    MPI_Bcast(&master, (int)sizeof master, MPI_BYTE, 0, c->comm);
    if (!launched() || g.active) return;
    g.active = 1;
    g.rank = c->rank;
    g.parent = getppid();
    g.master = c->rank != 0 && strcmp(host, master.host) == 0 ? (pid_t)master.pid : 0;
    g.stop = 0;
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    lifeline_check(); /* the parent may have gone before prctl took effect */
    int err = pthread_create(&g.thread, NULL, watch, NULL);
    g.watching = err == 0;
    if (err) adv_warn("rank %d: cannot start the lifeline thread (%s); checking before writes only", c->rank, strerror(err));
}

void lifeline_check(void) {
    if (!g.active) return;
    const char *why = loss();
    if (why[0]) die(why);
}

void lifeline_end(void) {
    if (g.watching) {
        pthread_mutex_lock(&g.lock);
        g.stop = 1;
        pthread_cond_signal(&g.wake);
        pthread_mutex_unlock(&g.lock);
        pthread_join(g.thread, NULL);
        g.watching = 0;
    }
    g.active = 0;
}
