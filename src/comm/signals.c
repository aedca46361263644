/* signals.c — SIGTERM/SIGINT: stop handing out points, then, after a grace
 * period, abort running points. Async-signal-safe: the handlers only store
 * flags and call alarm(). */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"

static volatile sig_atomic_t stop_requested;
static volatile int abort_running;
static double stop_time = -1;

static void on_alarm(int sig) {
    (void)sig;
    abort_running = 1;
}

static unsigned grace_seconds;

static void on_stop(int sig) {
    (void)sig;
    if (stop_requested) { /* a second signal: abort now */
        abort_running = 1;
        return;
    }
    stop_requested = 1;
    if (grace_seconds == 0) abort_running = 1;
    else alarm(grace_seconds);
}

void signals_install(double grace) {
    grace_seconds = grace <= 0 ? 0 : (unsigned)(grace + 0.999);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

int signals_stop_requested(void) {
    if (stop_requested && stop_time < 0) stop_time = adv_now();
    return stop_requested != 0;
}

volatile int *signals_abort_flag(void) { return &abort_running; }

double signals_since_stop(void) {
    if (!signals_stop_requested()) return -1;
    return adv_now() - stop_time;
}
