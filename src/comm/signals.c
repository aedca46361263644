/* signals.c — stopping a sweep: SIGINT (Ctrl-C), SIGTERM and `advsweep stop`.
 *
 * The first request stops the handing out of points; running points may
 * finish for the grace period, then they are abandoned (redone on resume). A
 * second request, or the end of the grace period, abandons them at once. The
 * handlers only set flags, call alarm() and write(); everything else happens
 * in signals_poll(), which every rank calls while it waits or trains.
 *
 * Who sees a request: SLURM signals every rank; `advsweep stop` writes a file
 * that only the master reads; Ctrl-C reaches only rank 0 (see below). So the
 * master relays the abort to the workers over MPI (a duplicated communicator,
 * one control message per worker: ABORT, or END when it got its last work).
 *
 * Ctrl-C under mpirun: Open MPI (4.1) starts each rank in a process group of
 * its own and keeps mpirun in the terminal's foreground group, so the
 * terminal's SIGINT reaches only mpirun, which kills the job (SIGINT is not
 * among the signals it can forward: ess_base_forward_signals refuses it).
 * Rank 0 therefore makes its own group the terminal's foreground group
 * (tcsetpgrp) while the sweep runs — only when its parent's group (mpirun's)
 * holds the terminal, so a background job never takes it. mpirun, now in the
 * background, still polls the terminal to forward input to rank 0; a line the
 * user types would make its read() stop it with SIGTTIN (the shell then
 * reports it stopped and takes the terminal back). So, while rank 0 holds the
 * terminal, Enter does not end a line (ICRNL off; EOF and EOL disabled): typed
 * text never becomes readable, and Ctrl-C flushes it. Rank 0 restores the
 * terminal's settings and gives it back before it exits (also on a fatal
 * signal; not after SIGKILL: then `stty sane`). Without mpirun the process is
 * in the foreground already and nothing changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"
#include "internal.h"

enum { CTRL_END = 0, CTRL_ABORT = 1 };
enum { CAUSE_NONE, CAUSE_GRACE, CAUSE_SECOND };

static volatile sig_atomic_t requests;    /* stop requests so far (signals and files) */
static volatile sig_atomic_t abort_cause; /* CAUSE_* once abort_running rose */
static volatile int abort_running;
static unsigned grace_seconds;
static volatile sig_atomic_t announce;      /* this process prints the messages (rank 0) */
static double stop_time = -1;
static double deadline_at = INFINITY; /* signals_deadline: rank 0 stops at this time */
static time_t started;      /* wall clock at signals_install: older stop files are stale */

/* Messages written by the handlers: built beforehand (write() only in there). */
static char then_text[120], msg_int[320], msg_term[320], msg_second[200], msg_third[200];

/* the terminal rank 0 holds (signals_take_terminal) */
static volatile sig_atomic_t tty_fd = -1;
static volatile pid_t tty_saved_fg = -1;
static struct termios tty_saved; /* the settings to restore */

static struct {
    int active; /* between signals_begin and signals_end */
    MPI_Comm comm;
    int rank, size;
    /* worker */
    MPI_Request recv;
    int msg, received;
    /* master */
    MPI_Request *sends;
    int *out;
    unsigned char *sent;
    int abort_relayed;
    /* the stop file (master) */
    char stop_path[PATH_MAX];
    double next_check;
    int foreign_warned;
    int grace_announced;
} S;

static void say(const char *text) {
    if (!announce) return;
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void give_back_terminal(void) { /* async-signal-safe */
    if (tty_fd < 0) return;
    if (tcgetpgrp(tty_fd) == getpgrp()) { /* still ours (not taken back by the shell) */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGTTOU);
        sigprocmask(SIG_BLOCK, &block, &old);
        tcsetattr(tty_fd, TCSANOW, &tty_saved);
        tcsetpgrp(tty_fd, tty_saved_fg);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    close(tty_fd);
    tty_fd = -1;
}

static void on_fatal(int sig) { /* SA_RESETHAND: raise() then takes the default action */
    give_back_terminal();
    raise(sig);
}

static void on_alarm(int sig) {
    (void)sig;
    if (!abort_running) abort_cause = CAUSE_GRACE;
    abort_running = 1;
}

/* The first request (signal or file): no new points; abort after the grace period. */
static void first_request(void) {
    if (grace_seconds == 0) {
        abort_cause = CAUSE_GRACE;
        abort_running = 1;
    } else {
        alarm(grace_seconds);
    }
}

static void on_stop(int sig) {
    int n = ++requests;
    if (n == 1) {
        say(sig == SIGINT ? msg_int : msg_term);
        first_request();
    } else if (n == 2) {
        if (!abort_running) {
            abort_cause = CAUSE_SECOND;
            say(msg_second);
        }
        abort_running = 1;
    } else if (sig == SIGINT) { /* a third Ctrl-C: something hangs; leave now (the file stays resumable) */
        say(msg_third);
        give_back_terminal();
        _exit(130);
    }
}

/* The rank, before MPI is up: launchers say it in the environment. */
static int launcher_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        long long r;
        if (v && adv_parse_int(v, &r) == 0) return (int)r;
    }
    return 0; /* serial */
}

void signals_install(double grace) {
    grace_seconds = grace <= 0 ? 0 : (unsigned)(grace + 0.999);
    announce = launcher_rank() == 0;
    started = time(NULL);
    if (grace_seconds)
        snprintf(then_text, sizeof then_text, "the running points may finish within %u s, then they are abandoned",
                 grace_seconds);
    else
        snprintf(then_text, sizeof then_text, "the running points are abandoned (--grace 0)");
    snprintf(msg_int, sizeof msg_int,
             "advsweep run: Ctrl-C: no new points; %s (Ctrl-C again: abandon them now); rerun to resume\n", then_text);
    snprintf(msg_term, sizeof msg_term, "advsweep run: stop signal: no new points; %s; rerun to resume\n", then_text);
    snprintf(msg_second, sizeof msg_second,
             "advsweep run: second stop request: abandoning the running points now (they are redone on resume)\n");
    snprintf(msg_third, sizeof msg_third, "advsweep run: third Ctrl-C: exiting at once (rerun to resume)\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

void signals_finished(void) { announce = 0; }

void signals_deadline(double at) { deadline_at = at; }

/* ---- the terminal ------------------------------------------------------------------------ */

void signals_take_terminal(const Comm *c) {
    if (c->rank != 0 || tty_fd >= 0) return;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return; /* no controlling terminal: a batch job, srun, nohup */
    pid_t fg = tcgetpgrp(fd), me = getpgrp(), launcher = getpgid(getppid());
    struct termios tio;
    /* Only when the launcher holds the terminal and we lead a group of our own
     * (mpirun's layout); with TOSTOP set, mpirun could not print while in the
     * background, so the terminal stays with it. */
    if (fg < 0 || fg == me || fg != launcher || me != getpid() || tcgetattr(fd, &tio) != 0 || (tio.c_lflag & TOSTOP)) {
        close(fd);
        return;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTTOU);
    sigprocmask(SIG_BLOCK, &block, &old);
    int ok = tcsetpgrp(fd, me) == 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        close(fd);
        return;
    }
    tty_saved = tio;
    tty_saved_fg = fg;
    tty_fd = fd;
    /* Enter ends no line, so mpirun (background) never finds input to read */
    tio.c_iflag &= ~(tcflag_t)(ICRNL | INLCR);
    tio.c_cc[VEOF] = tio.c_cc[VEOL] = _POSIX_VDISABLE;
#ifdef VEOL2
    tio.c_cc[VEOL2] = _POSIX_VDISABLE;
#endif
    tcsetattr(fd, TCSANOW, &tio);
    /* Ctrl-Z would stop rank 0 behind the shell's back (it waits for mpirun): ignore it */
    signal(SIGTSTP, SIG_IGN);
    /* Ctrl-\ and crashes: give the terminal back, then the default action */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    static const int fatal[] = {SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGHUP};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, NULL);
    atexit(give_back_terminal);
}

void signals_release_terminal(void) { give_back_terminal(); }

/* ---- the stop file -------------------------------------------------------------------------- */

/* Read a stop request; 1 = ours (*now set), 0 = none, -1 = a file that is not a request. */
static int read_request(const char *path, int *now, struct stat *st) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t n = fstat(fd, st) == 0 ? read(fd, buf, sizeof buf - 1) : -1;
    close(fd);
    if (n < 0) return 0;
    buf[n] = '\0';
    if (strncmp(buf, SIGNALS_STOP_HEADER, strlen(SIGNALS_STOP_HEADER)) != 0) return -1;
    *now = strstr(buf, "\nmode: now\n") != NULL;
    return 1;
}

static void check_stop_file(void) {
    if (!S.stop_path[0]) return;
    double t = adv_now();
    if (t < S.next_check) return;
    S.next_check = t + 1.0; /* at most once a second: cheap on a shared filesystem */
    int now = 0;
    struct stat st;
    int got = read_request(S.stop_path, &now, &st);
    if (got < 0) {
        if (!S.foreign_warned) adv_warn("%s is not an advsweep stop request: ignored", S.stop_path);
        S.foreign_warned = 1;
        return;
    }
    if (got == 0) return;
    if (unlink(S.stop_path) != 0 && errno != ENOENT) return; /* consumed: a later `advsweep stop` is a new request */
    /* counted with the signals: block them so a Ctrl-C now cannot interleave */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    int n = ++requests;
    sigprocmask(SIG_SETMASK, &old, NULL);
    char text[PATH_MAX + 300];
    if (n == 1 && !now) {
        snprintf(text, sizeof text,
                 "advsweep run: stop requested (%s): no new points; %s (advsweep stop again: abandon them now); "
                 "rerun to resume\n",
                 S.stop_path, then_text);
        say(text);
        first_request();
    } else {
        if (n == 1) { /* --now: stop and abandon at once */
            snprintf(text, sizeof text,
                     "advsweep run: stop --now requested (%s): no new points; abandoning the running points now; "
                     "rerun to resume\n",
                     S.stop_path);
            say(text);
        } else if (!abort_running) {
            snprintf(text, sizeof text, "advsweep run: second stop request (%s): abandoning the running points now\n",
                     S.stop_path);
            say(text);
        }
        if (!abort_running) abort_cause = CAUSE_SECOND;
        abort_running = 1;
    }
}

/* ---- between the ranks -------------------------------------------------------------------- */

void signals_begin(Comm *c, const char *sweep_path) {
    memset(&S, 0, sizeof S);
    MPI_Comm_dup(c->comm, &S.comm); /* collective; its own tags, whatever the dispatch uses */
    S.rank = c->rank;
    S.size = c->size;
    if (S.rank == 0 && sweep_path) {
        snprintf(S.stop_path, sizeof S.stop_path, "%s%s", sweep_path, SIGNALS_STOP_SUFFIX);
        int now = 0;
        struct stat st;
        int got = read_request(S.stop_path, &now, &st);
        if (got > 0 && st.st_mtime < started) { /* from before this run: not for it */
            char when[64];
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&st.st_mtime));
            if (unlink(S.stop_path) == 0)
                adv_warn("removed %s: a stop request of %s, older than this run", S.stop_path, when);
        }
        check_stop_file();
    }
    if (S.size > 1) {
        if (S.rank == 0) {
            S.sends = xcalloc((size_t)S.size, sizeof(MPI_Request));
            S.out = xcalloc((size_t)S.size, sizeof(int));
            S.sent = xcalloc((size_t)S.size, 1);
            for (int w = 0; w < S.size; w++) S.sends[w] = MPI_REQUEST_NULL;
        } else {
            MPI_Irecv(&S.msg, 1, MPI_INT, 0, 0, S.comm, &S.recv);
        }
    }
    S.active = 1;
}

static void relay(int worker, int what) {
    if (S.sent[worker]) return;
    S.out[worker] = what;
    MPI_Isend(&S.out[worker], 1, MPI_INT, worker, 0, S.comm, &S.sends[worker]);
    S.sent[worker] = 1;
}

void signals_poll(void) {
    if (!S.active) return;
    if (S.rank == 0) {
        check_stop_file();
        if (adv_now() >= deadline_at) {
            deadline_at = INFINITY; /* once */
            if (requests == 0) {
                requests = 1;
                char text[320];
                snprintf(text, sizeof text,
                         "advsweep run: time limit reached with points running: no new points; %s (from their "
                         "checkpoints on resume, where they have one); rerun to resume\n",
                         then_text);
                say(text);
                first_request();
            }
        }
        if (abort_running && abort_cause == CAUSE_GRACE && requests > 0 && !S.grace_announced) {
            char text[160];
            snprintf(text, sizeof text, "advsweep run: grace period of %u s over: abandoning the running points\n",
                     grace_seconds);
            if (grace_seconds) say(text);
            S.grace_announced = 1;
        }
        if (abort_running && !S.abort_relayed && S.size > 1) {
            for (int w = 1; w < S.size; w++) relay(w, CTRL_ABORT);
            S.abort_relayed = 1;
        }
    } else if (S.size > 1 && !S.received) {
        int flag = 0;
        MPI_Test(&S.recv, &flag, MPI_STATUS_IGNORE);
        if (flag) {
            S.received = 1;
            if (S.msg == CTRL_ABORT) abort_running = 1;
        }
    }
}

void signals_progress(void *ctx, int64_t step, int64_t steps, double surrogate) {
    (void)ctx, (void)step, (void)steps, (void)surrogate;
    signals_poll();
}

void signals_worker_done(int worker) {
    if (S.active && S.rank == 0 && worker > 0 && worker < S.size) relay(worker, CTRL_END);
}

void signals_end(Comm *c) {
    (void)c;
    if (!S.active) return;
    signals_poll();
    if (S.size > 1) {
        if (S.rank == 0) {
            for (int w = 1; w < S.size; w++) relay(w, CTRL_END);
            int done = 0;
            while (!done) { /* tiny messages: complete at once; sleep rather than spin anyway */
                MPI_Testall(S.size, S.sends, &done, MPI_STATUSES_IGNORE);
                if (!done) comm_sleep(1e-3);
            }
        } else {
            while (!S.received) {
                int flag = 0;
                MPI_Test(&S.recv, &flag, MPI_STATUS_IGNORE);
                if (flag) {
                    S.received = 1;
                    if (S.msg == CTRL_ABORT) abort_running = 1;
                } else {
                    comm_sleep(1e-3);
                }
            }
        }
    }
    free(S.sends);
    free(S.out);
    free(S.sent);
    MPI_Comm_free(&S.comm);
    S.active = 0;
    S.sends = NULL;
    S.out = NULL;
    S.sent = NULL;
}

/* ---- state --------------------------------------------------------------------------------- */

int signals_stop_requested(void) {
    if (requests && stop_time < 0) stop_time = adv_now();
    return requests != 0;
}

volatile int *signals_abort_flag(void) { return &abort_running; }

double signals_since_stop(void) {
    if (!signals_stop_requested()) return -1;
    return adv_now() - stop_time;
}
