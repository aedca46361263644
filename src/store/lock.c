/* lock.c — one writer per sweep file: the lock file PATH.lock beside PATH.
 *
 * Works on local disks and on shared filesystems (NFS, Lustre), so it uses
 * neither flock nor fcntl locks (not coherent across NFS clients everywhere)
 * but the two operations that are atomic on every POSIX filesystem and on NFS:
 * link(2) of a complete, uniquely named file onto PATH.lock (fails with EEXIST
 * when it exists; its content is never partial), and rename(2).
 *
 *   PATH.lock          the holder: host, boot id, pid namespace, pid and its
 *                      start time, start date, command, a random token. Its
 *                      mtime is the heartbeat, refreshed every
 *                      ADVSWEEP_LOCK_HEARTBEAT seconds (5) by a thread of the
 *                      holder.
 *   PATH.lock.takeover held (same format) while one process replaces a dead
 *                      holder's lock: takeovers are serialised, so a live lock
 *                      is never replaced.
 *
 * A holder is dead when it ran on this host (same host name, boot id and pid
 * namespace) and its pid is gone or now belongs to a process started at
 * another time; or, from any host, when its heartbeat is older than
 * ADVSWEEP_LOCK_TIMEOUT seconds (60). Ages are measured against the
 * filesystem's own clock (the mtime of a file just written there), so clock
 * skew between nodes does not matter. A heartbeat older than three intervals
 * but not yet past the timeout is waited for: the holder either refreshes it
 * (alive: refused) or it becomes stale (taken over).
 *
 * Takeover: create PATH.lock.takeover (link, exclusive); re-read PATH.lock:
 * if it is still the dead holder's (same token), rename our complete lock
 * file over it — one atomic step, never a moment without a lock — then
 * remove the takeover file. A crashed taker's takeover file is judged like
 * a lock (dead pid on this host, or older than the timeout).
 *
 * No HDF5, no MPI: plain POSIX, callable on any rank (the store calls it on
 * rank 0). Messages go through adv_err; the heartbeat thread only warns
 * (adv_warn) and never touches adv_err's buffer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "advsweep/store.h"

#define LOCK_SUFFIX ".lock"
#define TAKEOVER_SUFFIX ".lock.takeover"
#define LOCK_MAGIC "advsweep-lock 1"
#define LOCK_TEXT_MAX 2048

/* ---- who we are ------------------------------------------------------------------- */

typedef struct {
    char host[256];
    char boot_id[64];
    char pidns[64];
    long pid;
    unsigned long long pid_start; /* /proc/PID/stat field 22: clock ticks after boot */
    char started[32];             /* ISO 8601 UTC */
    char command[32];
    char token[40];
} Holder;

static void read_line_file(const char *path, char *buf, size_t len) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(buf, (int)len, f)) buf[strcspn(buf, "\r\n")] = '\0';
    fclose(f);
}

/* Field 22 of /proc/PID/stat (after the command name, which may hold spaces
 * and parentheses): the process's start time. 0 when unknown; -1 when there
 * is no such process or it is a zombie (dead, waiting for its parent). */
static long long proc_start(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ESRCH) {
            struct stat sb;
            if (stat("/proc/self/stat", &sb) == 0) return -1; /* /proc works: the pid is gone */
            return kill((pid_t)pid, 0) == 0 || errno == EPERM ? 0 : -1;
        }
        return 0;
    }
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) return -1; /* vanished while we read */
    buf[got] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p++;
    for (int field = 3; field <= 22 && p; field++) { /* p is before field `field` */
        while (*p == ' ') p++;
        if (field == 3 && (*p == 'Z' || *p == 'X')) return -1; /* killed, not yet reaped: gone */
        if (field == 22) return strtoll(p, NULL, 10);
        p = strchr(p, ' ');
    }
    return 0;
}

static void self_holder(Holder *h, const char *command) {
    memset(h, 0, sizeof *h);
    gethostname(h->host, sizeof h->host - 1);
    read_line_file("/proc/sys/kernel/random/boot_id", h->boot_id, sizeof h->boot_id);
    ssize_t n = readlink("/proc/self/ns/pid", h->pidns, sizeof h->pidns - 1);
    h->pidns[n > 0 ? n : 0] = '\0';
    h->pid = (long)getpid();
    long long start = proc_start(h->pid);
    h->pid_start = start > 0 ? (unsigned long long)start : 0;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(h->started, sizeof h->started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(h->command, sizeof h->command, "%s", command && *command ? command : "advsweep");
    unsigned char r[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY);
    int ok = fd >= 0 && read(fd, r, sizeof r) == (ssize_t)sizeof r;
    if (fd >= 0) close(fd);
    if (!ok) {
        static unsigned counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = adv_hash(h->host, strlen(h->host), (uint64_t)h->pid ^ ((uint64_t)ts.tv_nsec << 20) ^ ++counter);
        uint64_t b = adv_hash(&ts, sizeof ts, a);
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 8);
    }
    for (int i = 0; i < 16; i++) snprintf(h->token + 2 * i, 3, "%02x", r[i]);
}

static int holder_text(char *buf, size_t len, const Holder *h) {
    return snprintf(buf, len,
                    LOCK_MAGIC "\nhost=%s\nboot_id=%s\npidns=%s\npid=%ld\npid_start=%llu\nstarted=%s\ncommand=%s\n"
                    "token=%s\n",
                    h->host, h->boot_id, h->pidns, h->pid, h->pid_start, h->started, h->command, h->token);
}

/* 0 if text is a lock written by holder_text, -1 if not. */
static int holder_parse(Holder *h, const char *text) {
    memset(h, 0, sizeof *h);
    if (strncmp(text, LOCK_MAGIC "\n", strlen(LOCK_MAGIC) + 1) != 0) return -1;
    int have_token = 0, have_pid = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        size_t n = strcspn(line, "\n");
        char item[300];
        if (n >= sizeof item) continue;
        memcpy(item, line, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        if (!eq) continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(item, "host")) snprintf(h->host, sizeof h->host, "%s", v);
        else if (!strcmp(item, "boot_id")) snprintf(h->boot_id, sizeof h->boot_id, "%s", v);
        else if (!strcmp(item, "pidns")) snprintf(h->pidns, sizeof h->pidns, "%s", v);
        else if (!strcmp(item, "pid")) h->pid = strtol(v, NULL, 10), have_pid = h->pid > 0;
        else if (!strcmp(item, "pid_start")) h->pid_start = strtoull(v, NULL, 10);
        else if (!strcmp(item, "started")) snprintf(h->started, sizeof h->started, "%s", v);
        else if (!strcmp(item, "command")) snprintf(h->command, sizeof h->command, "%s", v);
        else if (!strcmp(item, "token")) snprintf(h->token, sizeof h->token, "%s", v), have_token = h->token[0] != 0;
    }
    return have_token && have_pid ? 0 : -1;
}

/* ---- timing ------------------------------------------------------------------------- */

static double env_seconds(const char *name, double fallback, double min) {
    const char *v = getenv(name);
    double x;
    if (v && *v && adv_parse_real(v, &x, 0) == 0 && x >= min) return x;
    return fallback;
}

double store_lock_heartbeat(void) { return env_seconds("ADVSWEEP_LOCK_HEARTBEAT", 5.0, 0.05); }
double store_lock_timeout(void) { return env_seconds("ADVSWEEP_LOCK_TIMEOUT", 60.0, 0.1); }

static double mtime_of(const struct stat *sb) { return (double)sb->st_mtim.tv_sec + 1e-9 * (double)sb->st_mtim.tv_nsec; }

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- files -------------------------------------------------------------------------- */

/* dir of path ("." when none) into buf. */
static void dir_of(char *buf, size_t len, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, len, ".");
    else if (slash == path) snprintf(buf, len, "/");
    else snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* ---- which file a name writes --------------------------------------------------------- */

/* A lock file's identity is its directory (as an inode: every spelling of the
 * directory, through symlinked directories or bind mounts, reaches the same
 * one) and its name there. So a sweep file's lock is unique once the last
 * component of its name is no symbolic link: the chain of links is followed
 * (each hop relative to the link's own directory, as the kernel does), which
 * reaches the same directory entry as realpath(3) but keeps the caller's
 * relative spelling for messages, and works for a link whose target does
 * not exist yet (a run creates the target, it does not replace the link).
 * Hard links (one inode, two entries) cannot be mapped to one name this way:
 * see single_name below. */
/* 0, or the errno that stops it (ELOOP, ENAMETOOLONG, readlink's), with the
 * name where it stopped in out. No message: store_lock_holder is read-only. */
static int resolve(const char *path, char *out, size_t len) {
    char cur[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
    if (strlen(path) >= sizeof cur) return ENAMETOOLONG;
    snprintf(cur, sizeof cur, "%s", path);
    int err = 0;
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) break; /* a file, a directory, or nothing yet */
        if (hops == 40) {
            err = ELOOP;
            break;
        }
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0) break; /* no filesystem we know makes one; the open reports it */
        if ((size_t)n >= sizeof target - 1) {
            err = ENAMETOOLONG;
            break;
        }
        target[n] = '\0';
        const char *slash = strrchr(cur, '/');
        int w = target[0] == '/' || !slash ? snprintf(next, sizeof next, "%s", target)
                                           : snprintf(next, sizeof next, "%.*s/%s", (int)(slash - cur), cur, target);
        if (w < 0 || (size_t)w >= sizeof next) {
            err = ENAMETOOLONG;
            break;
        }
        memcpy(cur, next, (size_t)w + 1);
    }
    if (!err && strlen(cur) >= len) err = ENAMETOOLONG;
    snprintf(out, len, "%s", cur);
    return err;
}

int store_output_target(const char *path, char *out, size_t len) {
    if (!path || !*path) return adv_err(ADV_ERR_INPUT, "empty output file name");
    int err = resolve(path, out, len);
    if (err == ELOOP) return adv_err(ADV_ERR_INPUT, "%s: too many levels of symbolic links", path);
    if (err == ENAMETOOLONG) return adv_err(ADV_ERR_INPUT, "%s: the file name is too long", path);
    if (err) return adv_err(ADV_ERR_IO, "%s: cannot read the symbolic link %s (%s)", path, out, strerror(err));
    return ADV_OK;
}

/* ADV_ERR_INPUT for a path that cannot name a file (missing directory, not a
 * directory), ADV_ERR_IO for a filesystem that refuses (read-only, full,
 * permission); the message names the sweep file and the reason. */
static int place_error(const char *path, int err) {
    char dir[PATH_MAX];
    dir_of(dir, sizeof dir, path);
    struct stat sb;
    if (err == ENOENT || err == ENOTDIR) {
        if (stat(dir, &sb) != 0)
            return adv_err(ADV_ERR_INPUT, "%s: cannot write there: directory %s does not exist", path, dir);
        if (!S_ISDIR(sb.st_mode)) return adv_err(ADV_ERR_INPUT, "%s: cannot write there: %s is not a directory", path, dir);
        return adv_err(ADV_ERR_INPUT, "%s: cannot write there (%s)", path, strerror(err));
    }
    if (err == ENAMETOOLONG) return adv_err(ADV_ERR_INPUT, "%s: the file name is too long", path);
    return adv_err(ADV_ERR_IO, "%s: cannot write in %s (%s)", path, dir, strerror(err));
}

static unsigned tmp_counter;

/* A new file "BASE.HOST.PID.N" holding text, fsynced; its mtime (the
 * filesystem's "now") in *now. -errno on failure. */
static int write_unique(char *name, size_t len, const char *base, const char *host, const char *text, double *now) {
    snprintf(name, len, "%s.%.64s.%ld.%u", base, host, (long)getpid(), __atomic_add_fetch(&tmp_counter, 1, __ATOMIC_RELAXED));
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return -errno;
    size_t n = strlen(text);
    ssize_t put = write(fd, text, n);
    int err = put == (ssize_t)n ? 0 : put < 0 ? errno : ENOSPC;
    if (!err && fsync(fd) != 0 && errno != EINVAL) err = errno;
    struct stat sb;
    if (!err && fstat(fd, &sb) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (err) {
        unlink(name);
        return -err;
    }
    *now = mtime_of(&sb);
    return 0;
}

/* link(tmp, target) as an exclusive create: 0 done, 1 target exists, -errno.
 * On NFS a retransmitted link may report EEXIST after it succeeded: the link
 * count of tmp tells. Filesystems without hard links fall back to O_EXCL. */
static int link_exclusive(const char *tmp, const char *target, const char *text) {
    if (link(tmp, target) == 0) return 0;
    int err = errno;
    struct stat sb;
    if (err == EEXIST) return stat(tmp, &sb) == 0 && sb.st_nlink == 2 ? 0 : 1;
    if (err != EPERM && err != ENOTSUP && err != EOPNOTSUPP && err != ENOSYS && err != EMLINK) return -err;
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0644); /* no hard links: O_EXCL (atomic on NFSv3+) */
    if (fd < 0) return errno == EEXIST ? 1 : -errno;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(target);
        return -EIO;
    }
    return 0;
}

/* What a lock file says, and when it was last refreshed. */
typedef struct {
    int parsed;      /* 1 if the text is a lock of ours */
    Holder h;
    double mtime;
    char text[LOCK_TEXT_MAX];
} LockFile;

/* 0 read, 1 no such file, -errno. Opening revalidates NFS attributes (close-to-open). */
static int lock_read(LockFile *lf, const char *name) {
    memset(lf, 0, sizeof *lf);
    int fd = open(name, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? 1 : -errno;
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 ? 0 : -errno;
    ssize_t got = rc == 0 ? read(fd, lf->text, sizeof lf->text - 1) : 0;
    close(fd);
    if (rc) return rc;
    lf->text[got > 0 ? got : 0] = '\0';
    lf->mtime = mtime_of(&sb);
    lf->parsed = holder_parse(&lf->h, lf->text) == 0;
    return 0;
}

enum { HOLDER_LIVE, HOLDER_DEAD, HOLDER_SUSPECT };

/* Is the holder of lf alive, judged at filesystem time `now`? why[] says how we know. */
static int judge(const LockFile *lf, const Holder *me, double now, char *why, size_t len) {
    double age = now - lf->mtime, timeout = store_lock_timeout(), suspect = 3 * store_lock_heartbeat();
    if (lf->parsed && !strcmp(lf->h.host, me->host) && !strcmp(lf->h.boot_id, me->boot_id) &&
        !strcmp(lf->h.pidns, me->pidns) && me->boot_id[0]) {
        long long start = proc_start(lf->h.pid);
        if (start < 0) {
            snprintf(why, len, "pid %ld is gone", lf->h.pid);
            return HOLDER_DEAD;
        }
        if (start > 0 && lf->h.pid_start > 0 && (unsigned long long)start != lf->h.pid_start) {
            snprintf(why, len, "pid %ld now belongs to another process", lf->h.pid);
            return HOLDER_DEAD;
        }
        snprintf(why, len, "running");
        return HOLDER_LIVE;
    }
    if (age > timeout) {
        snprintf(why, len, "no heartbeat for %.0f s, more than ADVSWEEP_LOCK_TIMEOUT = %g s", age, timeout);
        return HOLDER_DEAD;
    }
    snprintf(why, len, "heartbeat %.0f s ago", age > 0 ? age : 0);
    return age > suspect ? HOLDER_SUSPECT : HOLDER_LIVE;
}

static void describe(char *buf, size_t len, const LockFile *lf) {
    if (lf->parsed)
        snprintf(buf, len, "%s on host %s, pid %ld, since %s", lf->h.command, lf->h.host, lf->h.pid, lf->h.started);
    else
        snprintf(buf, len, "an unknown process (the lock file holds no advsweep lock)");
}

/* ---- the heartbeat ---------------------------------------------------------------------- */

struct StoreLock {
    char *path;      /* the sweep file, as given */
    char *lockpath;  /* PATH.lock */
    Holder me;
    int refs;        /* acquisitions of this path by this process */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    volatile int lost;
    StoreLock *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static StoreLock *registry;

/* Does lockpath still hold our token? 1 yes, 0 no (or gone). */
static int still_ours(const StoreLock *l, int fd) {
    char buf[LOCK_TEXT_MAX];
    ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    if (got <= 0) return 0;
    buf[got] = '\0';
    Holder h;
    return holder_parse(&h, buf) == 0 && !strcmp(h.token, l->me.token);
}

static void *heartbeat_main(void *arg) {
    StoreLock *l = arg;
    double every = store_lock_heartbeat();
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + every;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
        if (l->stopping || l->lost) continue;
        pthread_mutex_unlock(&l->mu);
        int fd = open(l->lockpath, O_RDONLY);
        int ours = fd >= 0 && still_ours(l, fd);
        if (ours) futimens(fd, NULL); /* now, by the filesystem's clock (NFS: server time) */
        if (fd >= 0) close(fd);
        pthread_mutex_lock(&l->mu);
        if (!ours && !l->stopping) {
            l->lost = 1;
            adv_warn("%s: the lock %s was removed or taken over by another process; this run no longer owns the file",
                     l->path, l->lockpath);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void heartbeat_start(StoreLock *l) {
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with the main thread */
    l->thread_started = pthread_create(&l->thread, NULL, heartbeat_main, l) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void heartbeat_stop(StoreLock *l) {
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        l->thread_started = 0;
    }
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
}

/* ---- acquire and release -------------------------------------------------------------- */

/* Remove a dead taker's takeover file, if it is still the one judged (token). */
static void clear_takeover(const char *name, const LockFile *dead, const Holder *me) {
    char aside[PATH_MAX + 256];
    snprintf(aside, sizeof aside, "%s.dead.%.64s.%ld", name, me->host, (long)getpid());
    if (rename(name, aside) != 0) return;
    LockFile now;
    if (lock_read(&now, aside) == 0 && !strcmp(now.text, dead->text)) {
        unlink(aside);
        return;
    }
    if (link(aside, name) == 0 || errno == EEXIST) unlink(aside); /* not the one judged: put it back */
}

/* One attempt at replacing the dead lock `dead` by our complete file `mine`
 * (consumed on success). 0 done, 1 try again, -errno. */
static int take_over(const char *lockpath, const LockFile *dead, const char *mine, const Holder *me, const char *text) {
    char takeover[PATH_MAX + 32], tmp[PATH_MAX + 256];
    size_t base = strlen(lockpath) - strlen(LOCK_SUFFIX);
    snprintf(takeover, sizeof takeover, "%.*s%s", (int)base, lockpath, TAKEOVER_SUFFIX);
    double now = 0;
    int rc = write_unique(tmp, sizeof tmp, takeover, me->host, text, &now);
    if (rc < 0) return rc;
    rc = link_exclusive(tmp, takeover, text);
    unlink(tmp);
    if (rc < 0) return rc;
    if (rc == 1) { /* another taker: alive (wait for it) or dead (clear its file) */
        LockFile t;
        char why[160];
        if (lock_read(&t, takeover) == 0 && judge(&t, me, now, why, sizeof why) == HOLDER_DEAD)
            clear_takeover(takeover, &t, me);
        else
            sleep_seconds(0.05);
        return 1;
    }
    LockFile again;
    int r = lock_read(&again, lockpath);
    int done = 0;
    if (r == 0 && !strcmp(again.text, dead->text)) done = rename(mine, lockpath) == 0 ? 0 : -errno;
    else done = 1; /* someone else took it over or it was released: start again */
    unlink(takeover);
    return done;
}

/* Is `name` the dead writer's temporary of sweep file `base`: BASE.tmp.PID,
 * BASE.tmp.PID.N, each optionally followed by .reserve (PID = pid)? */
static int dead_temporary(const char *name, const char *base, long pid) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0) return 0;
    const char *p = name + n + 5;
    char *end;
    if (*p < '0' || *p > '9') return 0;
    errno = 0;
    long got = strtol(p, &end, 10);
    if (errno || got != pid) return 0;
    p = end;
    if (p[0] == '.' && p[1] >= '0' && p[1] <= '9') { /* store_tmp_name's .N */
        strtol(p + 1, &end, 10);
        p = end;
    }
    return !*p || !strcmp(p, ".reserve");
}

/* Remove the temporaries the dead holder `dead` of `path` left (a kill -9 during
 * run --extend: a copy of the whole file). Their names and total size into
 * what[] ("" when none). */
static void remove_dead_temporaries(const char *path, const Holder *dead, char *what, size_t len) {
    what[0] = '\0';
    if (dead->pid <= 0) return;
    char dir[PATH_MAX];
    dir_of(dir, sizeof dir, path);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    if (!d) return;
    double bytes = 0;
    int count = 0;
    size_t used = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!dead_temporary(e->d_name, base, dead->pid)) continue;
        char name[PATH_MAX + 256];
        snprintf(name, sizeof name, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(name, &sb) != 0 || !S_ISREG(sb.st_mode)) continue; /* ours are plain files, never links */
        if (unlink(name) != 0) continue;
        bytes += (double)sb.st_size;
        int w = snprintf(what + used, used < len ? len - used : 0, "%s%s", count ? ", " : "", e->d_name);
        if (w > 0) used += (size_t)w;
        count++;
    }
    closedir(d);
    if (count && used < len)
        snprintf(what + used, len - used, " (%.3g MB)", bytes / (1024.0 * 1024.0));
}

static StoreLock *registry_find(const char *lockpath) {
    for (StoreLock *l = registry; l; l = l->next) /* a forked child does not inherit its parent's locks */
        if (!strcmp(l->lockpath, lockpath) && l->me.pid == (long)getpid()) return l;
    return NULL;
}

/* Hard links: one file, several directory entries, each with a lock of its
 * own, so two names would let two writers in. advsweep never makes one (a
 * sweep file is created by rename of a new temporary: one name), so a count
 * above 1 is a user's `ln` (or a hard-linking backup): refused, with the
 * other name and its writer when it is in the same directory. Checked before
 * the lock is taken; a link made after a writer started does not let a second
 * one in either, since that one sees the count. */
static int single_name(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink <= 1) return ADV_OK;
    char dir[PATH_MAX], other[PATH_MAX + 256] = "", holder[600] = "";
    if (store_lock_holder(path, holder, sizeof holder)) return ADV_OK; /* this name's writer: refused by name */
    int live = 0;
    dir_of(dir, sizeof dir, path);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, base) || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char name[PATH_MAX + 256];
        if (slash) snprintf(name, sizeof name, "%.*s/%s", (int)(slash - path), path, e->d_name);
        else snprintf(name, sizeof name, "%s", e->d_name);
        struct stat ob;
        if (lstat(name, &ob) != 0 || ob.st_dev != sb.st_dev || ob.st_ino != sb.st_ino) continue;
        live = store_lock_holder(name, holder, sizeof holder);
        if (!other[0] || live) snprintf(other, sizeof other, "%s", name);
        if (live) break;
    }
    if (d) closedir(d);
    long links = (long)sb.st_nlink;
    if (live)
        return adv_err(ADV_ERR_INPUT,
                       "%s has %ld names (hard links) and %s, another of them, is being written by %s; a sweep file "
                       "is written through one name only: wait for that run to finish or stop it (advsweep stop %s)",
                       path, links, other, holder, other);
    return adv_err(ADV_ERR_INPUT,
                   "%s has %ld names (hard links%s%s%s); a sweep file is written through one name only, so that "
                   "one lock guards it: remove the other names, or write a copy (cp %s NEW.h5)",
                   path, links, other[0] ? "; " : ", the others in other directories", other,
                   other[0] ? (links > 2 ? " is another" : " is the other") : "", path);
}

int store_lock_acquire(StoreLock **out, const char *given, const char *command) {
    *out = NULL;
    char path[PATH_MAX];
    TRY(store_output_target(given, path, sizeof path)); /* every name of one file: one lock */
    size_t plen = strlen(path);
    if (plen + 64 >= PATH_MAX) return adv_err(ADV_ERR_INPUT, "%s: the file name is too long", path);
    if (path[plen - 1] == '/') return adv_err(ADV_ERR_INPUT, "%s: names a directory, not a file", path);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return adv_err(ADV_ERR_INPUT, "%s: is a directory, not a file", path);
    TRY(single_name(path));
    char lockpath[PATH_MAX];
    snprintf(lockpath, sizeof lockpath, "%s%s", path, LOCK_SUFFIX);

    pthread_mutex_lock(&registry_mu);
    StoreLock *held = registry_find(lockpath);
    if (held) { /* this process holds it already (train -o, then store_open) */
        held->refs++;
        pthread_mutex_unlock(&registry_mu);
        *out = held;
        return ADV_OK;
    }
    pthread_mutex_unlock(&registry_mu);

    StoreLock *l = xcalloc(1, sizeof *l);
    l->path = xstrdup(path);
    l->lockpath = xstrdup(lockpath);
    l->refs = 1;
    self_holder(&l->me, command);
    char text[LOCK_TEXT_MAX], tmp[PATH_MAX + 256];
    holder_text(text, sizeof text, &l->me);

    int rc = ADV_OK, waited = 0;
    double timeout = store_lock_timeout(), wait_until = 0;
    for (int attempt = 0;; attempt++) {
        double now = 0;
        int w = write_unique(tmp, sizeof tmp, lockpath, l->me.host, text, &now);
        if (w < 0) {
            rc = place_error(path, -w);
            break;
        }
        int r = link_exclusive(tmp, lockpath, text);
        if (r == 0) {
            unlink(tmp);
            break;
        }
        if (r < 0) {
            unlink(tmp);
            rc = place_error(path, -r);
            break;
        }
        LockFile cur;
        int got = lock_read(&cur, lockpath);
        if (got != 0) { /* released meanwhile (or unreadable: retry a few times) */
            unlink(tmp);
            if (got < 0 && attempt > 20) {
                rc = adv_err(ADV_ERR_IO, "%s: cannot read the lock %s (%s)", path, lockpath, strerror(-got));
                break;
            }
            continue;
        }
        char why[160], who[400];
        int verdict = judge(&cur, &l->me, now, why, sizeof why);
        describe(who, sizeof who, &cur);
        if (verdict == HOLDER_LIVE) {
            unlink(tmp);
            rc = adv_err(ADV_ERR_INPUT,
                         "%s is being written by %s (%s); wait for it to finish, stop it (advsweep stop %s), "
                         "or choose another output file",
                         path, who, why, path);
            break;
        }
        if (verdict == HOLDER_SUSPECT) {
            unlink(tmp);
            if (!waited) {
                adv_warn("%s: its lock is held by %s, %s; waiting up to %.0f s for a new heartbeat before taking it over",
                         path, who, why, timeout);
                waited = 1;
                wait_until = adv_now() + timeout + 10;
            }
            if (adv_now() > wait_until) {
                rc = adv_err(ADV_ERR_INPUT, "%s is locked by %s (%s), neither alive nor stale; remove %s if it is dead",
                             path, who, why, lockpath);
                break;
            }
            sleep_seconds(0.5);
            continue;
        }
        int t = take_over(lockpath, &cur, tmp, &l->me, text);
        if (t == 0) {
            char left[1024];
            left[0] = '\0';
            if (cur.parsed) remove_dead_temporaries(path, &cur.h, left, sizeof left);
            if (left[0]) adv_warn("%s: took over the lock of %s (%s); removed its unfinished %s", path, who, why, left);
            else adv_warn("%s: took over the lock of %s (%s)", path, who, why);
            break;
        }
        unlink(tmp);
        if (t < 0) {
            rc = place_error(path, -t);
            break;
        }
        if (attempt > 10000) {
            rc = adv_err(ADV_ERR_IO, "%s: cannot take the lock %s (too much contention)", path, lockpath);
            break;
        }
    }
    if (rc != ADV_OK) {
        free(l->lockpath);
        free(l->path);
        free(l);
        return rc;
    }
    heartbeat_start(l);
    pthread_mutex_lock(&registry_mu);
    l->next = registry;
    registry = l;
    pthread_mutex_unlock(&registry_mu);
    *out = l;
    return ADV_OK;
}

int store_lock_lost(const StoreLock *l) { return l ? l->lost : 0; }

int store_lock_release(StoreLock **lp) {
    if (!lp || !*lp) return ADV_OK;
    StoreLock *l = *lp;
    *lp = NULL;
    pthread_mutex_lock(&registry_mu);
    if (--l->refs > 0) {
        pthread_mutex_unlock(&registry_mu);
        return ADV_OK;
    }
    for (StoreLock **p = &registry; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pthread_mutex_unlock(&registry_mu);
    heartbeat_stop(l);
    /* Move it aside, then check it is ours: a lock taken over meanwhile is put back. */
    char aside[PATH_MAX + 256];
    snprintf(aside, sizeof aside, "%s.release.%.64s.%ld", l->lockpath, l->me.host, (long)getpid());
    if (rename(l->lockpath, aside) == 0) {
        LockFile lf;
        if (lock_read(&lf, aside) == 0 && lf.parsed && !strcmp(lf.h.token, l->me.token)) unlink(aside);
        else if (link(aside, l->lockpath) == 0 || errno == EEXIST) unlink(aside);
    }
    free(l->lockpath);
    free(l->path);
    free(l);
    return ADV_OK;
}

int store_lock_holder(const char *given, char *buf, size_t len) {
    char lockpath[PATH_MAX], path[PATH_MAX];
    if (len) buf[0] = '\0';
    if (!given || resolve(given, path, sizeof path) != 0 || strlen(path) + 16 >= sizeof lockpath) return 0;
    snprintf(lockpath, sizeof lockpath, "%s%s", path, LOCK_SUFFIX);
    LockFile lf;
    if (lock_read(&lf, lockpath) != 0) return 0;
    Holder me;
    self_holder(&me, NULL);
    /* "now" on the lock's filesystem without writing there: our clock (status is read-only). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    char why[160], who[400];
    int verdict = judge(&lf, &me, now, why, sizeof why);
    describe(who, sizeof who, &lf);
    snprintf(buf, len, "%s (%s)", who, why);
    return verdict == HOLDER_DEAD ? 0 : 1;
}
