/* cmd_status.c — `advsweep status FILE...`: progress of sweep files, also while
 * a sweep writes them (the store reads without file locking). Serial; never
 * writes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"
#include "cli.h"

static void status_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep status [--failed] FILE.h5 [FILE.h5 ...]\n"
            "\n"
            "Show how many points of each sweep file are done, failed, diverged, pending or running\n"
            "(running: being trained when the file was last written; a rerun redoes them), the\n"
            "job, when the file was created, and an estimate of the time left. Works on a file that\n"
            "a running sweep is writing.\n"
            "\n"
            "The estimate: each worker's rate is (planned FLOPs of the finished points) / (their\n"
            "training seconds); the time left is (planned FLOPs of this shard's pending and running\n"
            "points) / rate / workers, with workers = ranks - 1 (at least 1) of the run that wrote\n"
            "the file.\n"
            "\n"
            "  --failed   list the failed and diverged points instead, each with its parameters\n"
            "             and the reason recorded for it (/reason)\n");
}

/* "3d 04h", "2h 05m", "4m 10s", "12s" */
static void format_duration(char *buf, size_t len, double seconds) {
    long s = (long)llround(seconds);
    if (s >= 86400) snprintf(buf, len, "%ldd %02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600) snprintf(buf, len, "%ldh %02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60) snprintf(buf, len, "%ldm %02lds", s / 60, s % 60);
    else snprintf(buf, len, "%lds", s);
}

static void print_status(const char *path, const StoreStatus *s) {
    static const char *const names[5] = {"pending", "done", "failed", "diverged", "running"};
    static const int order[5] = {RUN_DONE, RUN_FAILED, RUN_DIVERGED, RUN_PENDING, RUN_RUNNING};
    printf("%s: job '%s', created %s, %ld point%s", path, s->job_name[0] ? s->job_name : "?",
           s->created[0] ? s->created : "?", s->n_points, s->n_points == 1 ? "" : "s");
    int sharded = s->shard_count > 1;
    if (sharded) printf(", %ld in this file's shard %d/%d", s->in_shard, s->shard_index, s->shard_count);
    printf("\n  ");
    for (int k = 0; k < 5; k++) {
        int st = order[k];
        printf("%s%ld %s", k ? ", " : "", s->counts[st], names[st]);
        if (sharded && s->shard_counts[st] != s->counts[st]) printf(" (%ld in shard)", s->shard_counts[st]);
    }
    printf("\n");
    long left = s->shard_counts[RUN_PENDING] + s->shard_counts[RUN_RUNNING];
    long workers = s->ranks > 1 ? s->ranks - 1 : 1;
    if (left == 0) {
        printf("  nothing left to run%s\n", sharded ? " in this shard" : "");
    } else if (s->done_wall > 0 && s->done_flops_planned > 0 && s->pending_flops_planned > 0) {
        double rate = s->done_flops_planned / s->done_wall; /* planned FLOP/s of one worker */
        double eta = s->pending_flops_planned / rate / (double)workers;
        char text[32];
        format_duration(text, sizeof text, eta);
        printf("  ETA ~%s for %ld point%s left, with %ld worker%s at %.3g GFLOP/s each (from %ld finished point%s)\n",
               text, left, left == 1 ? "" : "s", workers, workers == 1 ? "" : "s", rate * 1e-9,
               s->counts[RUN_DONE] + s->counts[RUN_DIVERGED],
               s->counts[RUN_DONE] + s->counts[RUN_DIVERGED] == 1 ? "" : "s");
    } else {
        printf("  ETA unknown: %ld point%s left, none finished yet to measure the rate\n", left, left == 1 ? "" : "s");
    }
}

/* `status --failed`: every failed or diverged point with its reason. */
static int print_failures(const char *path) {
    StoreFailure *f = NULL;
    long n = 0;
    char *text = NULL;
    TRY(store_failures_of(path, &f, &n, &text));
    Job *job = NULL;
    if (text[0] && job_parse(&job, text, path) != ADV_OK) job = NULL; /* e.g. a `train -o` file: no labels */
    long failed = 0;
    for (long i = 0; i < n; i++) failed += f[i].status == RUN_FAILED;
    if (n == 0) printf("%s: no point failed or diverged\n", path);
    else printf("%s: %ld failed, %ld diverged\n", path, failed, n - failed);
    for (long i = 0; i < n; i++) {
        char label[512] = "";
        if (job && f[i].index < job_points(job)) job_point_label(label, sizeof label, job, f[i].index);
        printf("  point %ld%s%s%s: %s: %s\n", f[i].index, label[0] ? " (" : "", label, label[0] ? ")" : "",
               f[i].status == RUN_FAILED ? "failed" : "diverged", f[i].reason);
    }
    job_destroy(&job);
    free(text);
    free(f);
    return ADV_OK;
}

int cmd_status(int argc, char **argv) {
    static const CliOption options[] = {{"help", 'h', 0, NULL}, {"failed", 0, 0, NULL}};
    const char **files = xcalloc((size_t)argc + 1, sizeof(char *));
    int n = 0, help = 0, failed = 0;
    CliParser parser;
    int rc = cli_parser_begin(&parser, "status", argc, argv, options, 2, 0);
    const char *value;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        if (k == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (k == CLI_POSITIONAL) files[n++] = value;
        else if (k == 0) help = 1;
        else failed = 1;
    }
    cli_parser_end(&parser);
    if (rc == ADV_OK && !help && n == 0)
        rc = adv_err(ADV_ERR_INPUT, "status needs a sweep file (see advsweep status --help)");
    if (rc != ADV_OK || help) {
        free(files);
        if (help) status_usage(stdout);
        return help ? 0 : cli_fail(ADV_ERR_INPUT);
    }
    int first = 0;
    for (int i = 0; i < n; i++) {
        StoreStatus s;
        rc = failed ? print_failures(files[i]) : store_status_of(files[i], &s);
        if (rc != ADV_OK) {
            fflush(stdout);
            cli_fail(rc);
            if (!first) first = rc;
            continue;
        }
        if (!failed) print_status(files[i], &s);
    }
    fflush(stdout);
    free(files);
    return first;
}
