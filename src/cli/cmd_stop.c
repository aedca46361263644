/* cmd_stop.c — `advsweep stop [--now] FILE.h5...`: ask the run writing a sweep
 * file to stop, from any shell on any node that sees the file.
 *
 * The request is a small file FILE.h5.stop beside the sweep file (no PIDs, so
 * it works across nodes on a shared filesystem); the run's master polls for
 * it at most once a second, acts on it as on a first Ctrl-C (a second request,
 * or --now, abandons the running points) and removes it. Writes nothing but
 * that file, created under a temporary name and linked into place, so a
 * reader never sees half of it and an existing file is never overwritten
 * unless it is an earlier request. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "advsweep/comm.h"
#include "advsweep/common.h"
#include "advsweep/store.h"
#include "cli.h"

static void stop_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep stop [--now] FILE.h5 [FILE.h5 ...]\n"
            "\n"
            "Ask the `advsweep run` writing FILE.h5 to stop, as a first Ctrl-C in its terminal\n"
            "would: no new points are handed out, running points may finish within the run's\n"
            "--grace period, then it exits with status 3 (rerun the same command to resume).\n"
            "Works from any shell on any node that sees the file: the request is the file\n"
            "FILE.h5" SIGNALS_STOP_SUFFIX ", which the run checks about once a second and removes.\n"
            "A second `advsweep stop` abandons the running points at once, as a second Ctrl-C.\n"
            "A request left when no run is active is removed, unused, by the next run.\n"
            "(On NFS the run may see the request only after the attribute cache expires.)\n"
            "\n"
            "  --now    abandon the running points at once (they are redone on resume)\n");
}

/* 1: an advsweep request (mode "now" in *now), 0: absent, -1: some other file. */
static int existing_request(const char *path, int *now) {
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strncmp(buf, SIGNALS_STOP_HEADER, strlen(SIGNALS_STOP_HEADER)) != 0) return -1;
    *now = strstr(buf, "\nmode: now\n") != NULL;
    return 1;
}

static int request_stop(const char *sweep, int now) {
    StoreStatus s;
    int rc = store_status_of(sweep, &s); /* a sweep file, or we write nothing */
    if (rc != ADV_OK) return rc;
    char path[4096], tmp[4200], host[256] = "?", target[4096];
    /* beside the file the run writes: through a symlink, its target (the run resolved it the same way) */
    if ((rc = store_output_target(sweep, target, sizeof target)) != ADV_OK) return rc;
    if (snprintf(path, sizeof path, "%s%s", target, SIGNALS_STOP_SUFFIX) >= (int)sizeof path)
        return adv_err(ADV_ERR_INPUT, "%s: path too long", sweep);
    gethostname(host, sizeof host - 1);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s-%ld", path, host, (long)getpid());
    int earlier_now = 0, got = existing_request(path, &earlier_now);
    if (got < 0)
        return adv_err(ADV_ERR_INPUT, "%s exists and is not an advsweep stop request: not touching it", path);
    if (got > 0 && (earlier_now || !now)) {
        printf("advsweep stop: %s: a stop%s request is already waiting (%s)\n", sweep, earlier_now ? " --now" : "",
               path);
        return ADV_OK;
    }
    char when[64];
    time_t t = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
    const char *user = getenv("USER");
    char text[1024];
    int len = snprintf(text, sizeof text, "%smode: %s\nfrom: %s@%s\ntime: %s\n", SIGNALS_STOP_HEADER,
                       now ? "now" : "stop", user && *user ? user : "?", host, when);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return adv_err(ADV_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    int ok = write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok) {
        if (got > 0) ok = rename(tmp, path) == 0; /* --now over our own earlier request */
        else if (link(tmp, path) != 0) {
            /* EEXIST: another request landed meanwhile (fine); else a filesystem without links */
            ok = errno == EEXIST || (errno != EEXIST && access(path, F_OK) != 0 && rename(tmp, path) == 0);
        }
    }
    int saved = errno;
    unlink(tmp);
    if (!ok) return adv_err(ADV_ERR_IO, "cannot write %s: %s", path, strerror(saved));
    long running = s.counts[RUN_RUNNING];
    if (running > 0)
        printf("advsweep stop: %s: %s requested (%ld point%s running): the run hands out no new points and %s; "
               "it exits with status 3, rerun it to resume\n",
               sweep, now ? "stop --now" : "stop", running, running == 1 ? "" : "s",
               now ? "abandons the running ones" : "lets the running ones finish within its --grace period");
    else
        printf("advsweep stop: %s: %s requested; no point is running now (if no run is active, the next run "
               "removes the request unused)\n",
               sweep, now ? "stop --now" : "stop");
    return ADV_OK;
}

int cmd_stop(int argc, char **argv) {
    static const CliOption options[] = {{"help", 'h', 0, NULL}, {"now", 0, 0, NULL}};
    const char **files = xcalloc((size_t)argc + 1, sizeof(char *));
    int n = 0, help = 0, now = 0;
    CliParser parser;
    int rc = cli_parser_begin(&parser, "stop", argc, argv, options, 2, 0);
    const char *value;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        if (k == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (k == CLI_POSITIONAL) files[n++] = value;
        else if (k == 0) help = 1;
        else now = 1;
    }
    cli_parser_end(&parser);
    if (rc == ADV_OK && !help && n == 0)
        rc = adv_err(ADV_ERR_INPUT, "stop needs a sweep file (see advsweep stop --help)");
    if (rc != ADV_OK || help) {
        free(files);
        if (help) stop_usage(stdout);
        return help ? 0 : cli_fail(ADV_ERR_INPUT);
    }
    /* every file checked before any request is written */
    for (int i = 0; i < n; i++) {
        StoreStatus s;
        if ((rc = store_status_of(files[i], &s)) != ADV_OK) {
            free(files);
            return cli_fail(rc);
        }
    }
    for (int i = 0; i < n && rc == ADV_OK; i++) rc = request_stop(files[i], now);
    free(files);
    return rc == ADV_OK ? 0 : cli_fail(rc);
}
