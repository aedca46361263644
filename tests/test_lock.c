/* test_lock.c — one writer per sweep file (src/store/lock.c), with real
 * processes (fork) and real lock files in a temporary directory:
 *
 *   a live holder is refused and named; a process may take its own lock twice;
 *   a holder killed with SIGKILL on this host is taken over; a holder on
 *   another host is judged by its heartbeat (fresh: refused; stale: taken over;
 *   late: waited for); a reused pid is not mistaken for the holder; an
 *   unknown lock file is judged by its age; the heartbeat refreshes the mtime;
 *   a lock taken away is noticed and never removed by the loser; 16 processes
 *   racing for a new file or for one dead holder's lock: exactly one wins;
 *   paths that cannot hold a file are refused with the right code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "advsweep/common.h"
#include "advsweep/store.h"

static char g_dir[256];
static int g_n;

static void path_in(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s.%d", g_dir, name, ++g_n);
}

static char *read_text(const char *path) {
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void set_age(const char *path, double seconds) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec t[2] = {now, now};
    t[1].tv_sec -= (time_t)seconds;
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static double age_of(const char *path) {
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)(now.tv_sec - sb.st_mtim.tv_sec) + 1e-9 * (double)(now.tv_nsec - sb.st_mtim.tv_nsec);
}

static void nap(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A lock file as another process would have written it. */
static void forge(const char *lockpath, const char *host, long pid, unsigned long long pid_start, const char *token) {
    char boot[64] = "", ns[64] = "";
    if (!strcmp(host, "SELF")) {
        static char me[256];
        gethostname(me, sizeof me - 1);
        host = me;
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
        if (f) {
            if (fgets(boot, sizeof boot, f)) boot[strcspn(boot, "\n")] = 0;
            fclose(f);
        }
        ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
        ns[n > 0 ? n : 0] = 0;
    }
    char text[1024];
    snprintf(text, sizeof text,
             "advsweep-lock 1\nhost=%s\nboot_id=%s\npidns=%s\npid=%ld\npid_start=%llu\nstarted=2020-01-01T00:00:00Z\n"
             "command=run\ntoken=%s\n",
             host, boot, ns, pid, pid_start, token);
    write_text(lockpath, text);
}

static unsigned long long start_of(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')') + 2;
    for (int field = 3; field < 22; field++) p = strchr(p, ' ') + 1;
    return strtoull(p, NULL, 10);
}

static void fast_clock(void) {
    setenv("ADVSWEEP_LOCK_HEARTBEAT", "0.1", 1);
    setenv("ADVSWEEP_LOCK_TIMEOUT", "2", 1);
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_live_holder_refused_and_named(void **state) {
    (void)state;
    fast_clock();
    char path[512], lockpath[600];
    path_in(path, sizeof path, "a.h5");
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    StoreLock *lock = NULL;
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    char *text = read_text(lockpath);
    assert_non_null(text);
    char want[64];
    snprintf(want, sizeof want, "pid=%ld\n", (long)getpid());
    assert_non_null(strstr(text, want));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) { /* another process: refused, one line naming the holder */
        StoreLock *other = NULL;
        int rc = store_lock_acquire(&other, path, "run");
        char buf[1024];
        snprintf(buf, sizeof buf, "%d %s", rc, adv_errmsg());
        if (write(fds[1], buf, strlen(buf) + 1) < 0) _exit(3);
        _exit(other == NULL ? 0 : 1);
    }
    char msg[1024] = "";
    close(fds[1]);
    ssize_t got = read(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    assert_true(got > 0);
    int wstatus;
    waitpid(child, &wstatus, 0);
    assert_int_equal(WEXITSTATUS(wstatus), 0);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char pid_text[64];
    snprintf(pid_text, sizeof pid_text, "pid %ld", (long)getpid());
    assert_int_equal(atoi(msg), ADV_ERR_INPUT);
    assert_non_null(strstr(msg, host));
    assert_non_null(strstr(msg, pid_text));
    assert_non_null(strstr(msg, "since 20"));
    assert_null(strchr(msg, '\n'));
    char holder[512];
    assert_int_equal(store_lock_holder(path, holder, sizeof holder), 1);
    assert_non_null(strstr(holder, pid_text));
    /* the same process may take it again (train -o, then store_open) */
    StoreLock *again = NULL;
    assert_int_equal(store_lock_acquire(&again, path, "run"), ADV_OK);
    assert_ptr_equal(again, lock);
    store_lock_release(&again);
    assert_null(again);
    assert_true(exists(lockpath));
    store_lock_release(&lock);
    assert_false(exists(lockpath));
    assert_int_equal(store_lock_holder(path, holder, sizeof holder), 0);
}

static void test_killed_holder_taken_over(void **state) {
    (void)state;
    fast_clock();
    char path[512], lockpath[600];
    path_in(path, sizeof path, "b.h5");
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    pid_t child = fork();
    if (child == 0) {
        StoreLock *l = NULL;
        if (store_lock_acquire(&l, path, "run") != ADV_OK) _exit(1);
        kill(getpid(), SIGKILL); /* as kill -9: no release */
        _exit(2);
    }
    int wstatus;
    waitpid(child, &wstatus, 0);
    assert_true(WIFSIGNALED(wstatus));
    assert_true(exists(lockpath));
    StoreLock *lock = NULL;
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK); /* pid gone: at once, no timeout */
    char want[64];
    snprintf(want, sizeof want, "pid=%ld\n", (long)getpid());
    assert_non_null(strstr(read_text(lockpath), want));
    store_lock_release(&lock);
    assert_false(exists(lockpath));
    /* killed but not reaped yet (a zombie): dead too */
    child = fork();
    if (child == 0) {
        StoreLock *l = NULL;
        if (store_lock_acquire(&l, path, "run") != ADV_OK) _exit(1);
        kill(getpid(), SIGKILL);
    }
    char stat_path[64];
    snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", (long)child);
    for (int k = 0; k < 1000; k++) { /* until it is a zombie */
        char *st = read_text(stat_path);
        if (st && strstr(st, ") Z ")) break;
        nap(0.01);
    }
    assert_non_null(strstr(read_text(stat_path), ") Z "));
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    store_lock_release(&lock);
    waitpid(child, NULL, 0);
}

static void test_reused_pid_is_not_the_holder(void **state) {
    (void)state;
    fast_clock();
    char path[512], lockpath[600];
    path_in(path, sizeof path, "c.h5");
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    /* our parent's pid, but a start time that is not its own: the holder is gone */
    forge(lockpath, "SELF", (long)getppid(), start_of(getppid()) + 12345, "aaaa");
    StoreLock *lock = NULL;
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    store_lock_release(&lock);
    /* the parent itself, with its real start time: alive */
    forge(lockpath, "SELF", (long)getppid(), start_of(getppid()), "bbbb");
    set_age(lockpath, 3600); /* same host: the pid decides, not the heartbeat */
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_ERR_INPUT);
    assert_null(lock);
    assert_non_null(strstr(read_text(lockpath), "token=bbbb"));
    unlink(lockpath);
}

static void test_other_host_judged_by_heartbeat(void **state) {
    (void)state;
    fast_clock();
    char path[512], lockpath[600];
    path_in(path, sizeof path, "d.h5");
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    StoreLock *lock = NULL;
    forge(lockpath, "node-elsewhere", 1234, 99, "cccc"); /* fresh heartbeat */
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "node-elsewhere"));
    assert_non_null(strstr(adv_errmsg(), "pid 1234"));
    set_age(lockpath, 30); /* older than ADVSWEEP_LOCK_TIMEOUT: node lost */
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    assert_null(strstr(read_text(lockpath), "node-elsewhere"));
    store_lock_release(&lock);
    /* late (more than 3 heartbeats) but not stale: waited for, then taken over */
    forge(lockpath, "node-elsewhere", 1234, 99, "dddd");
    set_age(lockpath, 1);
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    store_lock_release(&lock);
    /* an unknown file in the lock's place: its age alone decides */
    write_text(lockpath, "not a lock\n");
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "unknown"));
    set_age(lockpath, 30);
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    store_lock_release(&lock);
    assert_false(exists(lockpath));
}

static void test_heartbeat_and_lost_lock(void **state) {
    (void)state;
    fast_clock();
    char path[512], lockpath[600];
    path_in(path, sizeof path, "e.h5");
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    StoreLock *lock = NULL;
    assert_int_equal(store_lock_acquire(&lock, path, "run"), ADV_OK);
    set_age(lockpath, 100);
    nap(0.5);
    assert_true(age_of(lockpath) < 5); /* refreshed */
    assert_false(store_lock_lost(lock));
    /* someone replaces it (a takeover after a long suspension): noticed, and never removed by us */
    forge(lockpath, "node-elsewhere", 77, 1, "eeee");
    nap(0.5);
    assert_true(store_lock_lost(lock));
    store_lock_release(&lock);
    assert_true(exists(lockpath));
    assert_non_null(strstr(read_text(lockpath), "token=eeee"));
    unlink(lockpath);
}

/* n processes start at once on `path`; returns the number that got the lock
 * (each holds it until all have tried). */
static int race(const char *path, int n) {
    int go[2], done[2], hold[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t kids[64];
    for (int k = 0; k < n; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            close(go[1]);
            close(done[0]);
            close(hold[1]);
            char c;
            if (read(go[0], &c, 1) < 0) _exit(3); /* wait for the start (EOF) */
            StoreLock *l = NULL;
            int rc = store_lock_acquire(&l, path, "run");
            char r = rc == ADV_OK ? 'W' : rc == ADV_ERR_INPUT && strstr(adv_errmsg(), "is being written by") ? 'R' : 'E';
            if (write(done[1], &r, 1) < 0) _exit(3);
            if (read(hold[0], &c, 1) < 0) _exit(3); /* hold until every process has tried */
            store_lock_release(&l);
            _exit(0);
        }
    }
    close(go[0]);
    close(done[1]);
    close(hold[0]);
    close(go[1]); /* start */
    int won = 0, refused = 0;
    for (int k = 0; k < n; k++) {
        char r = 0;
        assert_int_equal(read(done[0], &r, 1), 1);
        won += r == 'W';
        refused += r == 'R';
    }
    close(hold[1]);
    for (int k = 0; k < n; k++) waitpid(kids[k], NULL, 0);
    close(done[0]);
    assert_int_equal(won + refused, n);
    return won;
}

static void test_races_have_one_winner(void **state) {
    (void)state;
    fast_clock();
    char path[512], lockpath[600];
    for (int round = 0; round < 3; round++) {
        path_in(path, sizeof path, "race.h5");
        snprintf(lockpath, sizeof lockpath, "%s.lock", path);
        assert_int_equal(race(path, 16), 1); /* a new file */
        assert_false(exists(lockpath));
        forge(lockpath, "node-elsewhere", 5, 5, "ffff"); /* one dead holder, 16 takers */
        set_age(lockpath, 60);
        assert_int_equal(race(path, 16), 1);
        assert_false(exists(lockpath));
        pid_t child = fork(); /* a holder killed on this host, 16 takers */
        if (child == 0) {
            StoreLock *l = NULL;
            if (store_lock_acquire(&l, path, "run") != ADV_OK) _exit(1);
            kill(getpid(), SIGKILL);
        }
        waitpid(child, NULL, 0);
        assert_int_equal(race(path, 16), 1);
        assert_false(exists(lockpath));
    }
    /* nothing left behind but what the test made */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c 'race.*lock' > /dev/null", g_dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_bad_places(void **state) {
    (void)state;
    StoreLock *lock = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", g_dir);
    assert_int_equal(store_lock_acquire(&lock, path, "train -o"), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "does not exist"));
    assert_int_equal(store_lock_acquire(&lock, g_dir, "train -o"), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "directory"));
    snprintf(path, sizeof path, "%s/plain", g_dir);
    write_text(path, "x");
    snprintf(path, sizeof path, "%s/plain/x.h5", g_dir);
    assert_int_equal(store_lock_acquire(&lock, path, "train -o"), ADV_ERR_INPUT);
    assert_non_null(strstr(adv_errmsg(), "not a directory"));
    assert_int_equal(store_lock_acquire(&lock, "", "train -o"), ADV_ERR_INPUT);
    assert_null(lock);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/advsweep-test-lock-%ld", (long)getpid());
    if (mkdir(g_dir, 0755) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_holder_refused_and_named), cmocka_unit_test(test_killed_holder_taken_over),
        cmocka_unit_test(test_reused_pid_is_not_the_holder),  cmocka_unit_test(test_other_host_judged_by_heartbeat),
        cmocka_unit_test(test_heartbeat_and_lost_lock),        cmocka_unit_test(test_races_have_one_winner),
        cmocka_unit_test(test_bad_places),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) return 1;
    return failed;
}
