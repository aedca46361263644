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
            "usage: advsweep status [--failed | --verify] [--where EXPR] FILE.h5 [FILE.h5 ...]\n"
            "\n"
            "Show how many points of each sweep file are done, failed, diverged, pending, running\n"
            "(being trained by the live run writing the file), interrupted (were running when the\n"
            "run that wrote the file stopped or died, and no run holds the file now: a rerun redoes\n"
            "them) or skipped (not needed by the width search, or kept from an older job by\n"
            "--extend; a job or --where that includes them runs them), the job, when the file was\n"
            "created, and an estimate of the time left. Works on a file that a running sweep is\n"
            "writing.\n"
            "\n"
            "The estimate: each worker's rate is (planned FLOPs of the finished points) / (their\n"
            "training seconds); the time left is (planned FLOPs of this shard's pending and running\n"
            "points) / rate / workers, with workers = ranks - 1 (at least 1) of the run that wrote\n"
            "the file.\n"
            "\n"
            "  --failed       list the failed and diverged points instead, each with its parameters\n"
            "                 and the reason recorded for it (/reason)\n"
            "  --where EXPR   count (or list) only the points EXPR selects, e.g. 'attack=pgd,m<=64'\n"
            "                 (as advsweep run --where; a typo, or an EXPR that matches nothing: exit 2)\n"
            "  --verify       recompute the checksum of every finished point (docs/layout.md, /checksum)\n"
            "                 and list the damaged ones; exit 4 if any is (rerun them with\n"
            "                 advsweep run --retry-damaged)\n"
            "\n"
            "A file that a live run is writing says so (its lock FILE.lock: host, pid, start).\n");
}

/* "3d 04h", "2h 05m", "4m 10s", "12s" */
static void format_duration(char *buf, size_t len, double seconds) {
    long s = (long)llround(seconds);
    if (s >= 86400) snprintf(buf, len, "%ldd %02ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600) snprintf(buf, len, "%ldh %02ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60) snprintf(buf, len, "%ldm %02lds", s / 60, s % 60);
    else snprintf(buf, len, "%lds", s);
}

static void print_status(const char *path, const StoreStatus *s, const char *where, long total) {
    static const char *const names[RUN_STATUSES] = {"pending", "done", "failed", "diverged", "running", "skipped"};
    static const int order[RUN_STATUSES] = {RUN_DONE, RUN_FAILED, RUN_DIVERGED, RUN_PENDING, RUN_RUNNING, RUN_SKIPPED};
    printf("%s: job '%s', created %s, %ld point%s", path, s->job_name[0] ? s->job_name : "?",
           s->created[0] ? s->created : "?", where ? total : s->n_points, (where ? total : s->n_points) == 1 ? "" : "s");
    if (where) printf(", %ld matching --where '%s'", s->n_points, where);
    int sharded = s->shard_count > 1 && !where;
    if (sharded) printf(", %ld in this file's shard %d/%d", s->in_shard, s->shard_index, s->shard_count);
    printf("\n  ");
    /* "running" in the file is the truth only while a writer lives: a run that stopped
     * (Ctrl-C, advsweep stop) or died leaves its points "running" so that a rerun redoes them */
    char holder[512];
    int live = store_lock_holder(path, holder, sizeof holder);
    for (int k = 0; k < RUN_STATUSES; k++) {
        int st = order[k];
        if (st == RUN_SKIPPED && s->counts[st] == 0) continue; /* only where a search or an extension made some */
        int interrupted = st == RUN_RUNNING && !live && s->counts[st] > 0;
        printf("%s%ld %s", k ? ", " : "", s->counts[st], interrupted ? "interrupted" : names[st]);
        if (sharded && s->shard_counts[st] != s->counts[st]) printf(" (%ld in shard)", s->shard_counts[st]);
        if (interrupted) printf(" (no live writer: rerun to resume)");
    }
    printf("\n");
    if (live) printf("  being written by %s\n", holder);
    if (where) return; /* no ETA for a subset: the rate would mix in the other points */
    if (s->with_checkpoint)
        printf("  %ld of the points left continue%s from a checkpoint on resume (%s.ckpt)\n", s->with_checkpoint,
               s->with_checkpoint == 1 ? "s" : "", path);
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

/* "m=64, attack=pgd" from the job's axes and the point's own parameters (rows of an extended
 * or merged file are not the job's indices). */
static void label_of(char *buf, size_t len, const Job *job, const TrainConfig *cfg) {
    buf[0] = '\0';
    if (!job) return;
    size_t used = 0;
    for (int a = 0; a < job_axis_count(job) && used + 1 < len; a++) {
        const ParamSpec *p = job_axis(job, a);
        char v[CONFIG_TEXT_MAX];
        param_format(v, sizeof v, cfg, p);
        if (p->type == PARAM_REAL && isfinite(param_value(cfg, p))) snprintf(v, sizeof v, "%g", param_value(cfg, p));
        int w = snprintf(buf + used, len - used, "%s%s=%s", used ? ", " : "", p->name, v);
        if (w > 0) used += (size_t)w;
    }
    if (job_seeds(job) > 1 && used + 1 < len) snprintf(buf + used, len - used, "%sseed=%lld", used ? ", " : "", (long long)cfg->seed);
}

/* `status --failed`: every failed or diverged point (that `where` selects) with its reason. */
static int print_failures(const char *path, Where *where) {
    StoreFailure *f = NULL;
    long n = 0;
    char *text = NULL;
    TRY(store_failures_of(path, &f, &n, &text));
    Job *job = NULL;
    if (text[0] && job_parse(&job, text, path) != ADV_OK) job = NULL; /* e.g. a `train -o` file: no labels */
    TrainConfig *cfg = xcalloc((size_t)n + 1, sizeof *cfg);
    int rc = ADV_OK;
    for (long i = 0; i < n && rc == ADV_OK; i++) rc = store_configs_of(path, f[i].index, 1, &cfg[i]);
    long failed = 0, shown = 0;
    for (long i = 0; rc == ADV_OK && i < n; i++) {
        f[i].index = where && !where_match(where, &cfg[i]) ? -1 - f[i].index : f[i].index; /* not selected */
        if (f[i].index < 0) continue;
        shown++;
        failed += f[i].status == RUN_FAILED;
    }
    if (rc == ADV_OK) {
        if (shown == 0) printf("%s: no point%s failed or diverged\n", path, where ? " matching --where" : "");
        else printf("%s: %ld failed, %ld diverged%s\n", path, failed, shown - failed, where ? " (matching --where)" : "");
    }
    for (long i = 0; rc == ADV_OK && i < n; i++) {
        if (f[i].index < 0) continue;
        char label[512];
        label_of(label, sizeof label, job, &cfg[i]);
        printf("  point %ld%s%s%s: %s: %s\n", f[i].index, label[0] ? " (" : "", label, label[0] ? ")" : "",
               f[i].status == RUN_FAILED ? "failed" : "diverged", f[i].reason);
    }
    free(cfg);
    job_destroy(&job);
    free(text);
    free(f);
    return rc;
}

/* `status --verify`: ADV_OK when every finished point matches its checksum; ADV_ERR_IO naming the damaged. */
static int print_verify(const char *path) {
    StoreVerify v;
    TRY(store_verify(path, &v));
    if (!v.has_checksums) {
        printf("%s: no checksums (written by an advsweep before they existed): nothing to verify\n", path);
        return ADV_OK;
    }
    printf("%s: %ld finished point%s verified, %ld damaged\n", path, v.checked, v.checked == 1 ? "" : "s", v.n_damaged);
    if (v.n_damaged == 0) return ADV_OK;
    char *text = NULL;
    StoreFailure *f = NULL;
    long nf = 0;
    Job *job = NULL;
    if (store_failures_of(path, &f, &nf, &text) == ADV_OK && text[0] && job_parse(&job, text, path) != ADV_OK) job = NULL;
    for (long k = 0; k < v.n_damaged; k++) {
        char label[512] = "";
        TrainConfig cfg;
        if (store_configs_of(path, v.damaged[k], 1, &cfg) == ADV_OK) label_of(label, sizeof label, job, &cfg);
        printf("  point %ld%s%s%s: damaged (its rows no longer match its checksum)\n", v.damaged[k],
               label[0] ? " (" : "", label, label[0] ? ")" : "");
    }
    job_destroy(&job);
    free(text);
    free(f);
    long n = v.n_damaged, first = v.damaged[0];
    free(v.damaged);
    return adv_err(ADV_ERR_IO, "%s: %ld damaged point%s (first: %ld); rerun %s with advsweep run --retry-damaged", path,
                   n, n == 1 ? "" : "s", first, n == 1 ? "it" : "them");
}

static int match_where(void *ctx, const TrainConfig *cfg) { return where_match(ctx, cfg); }

int cmd_status(int argc, char **argv) {
    static const CliOption options[] = {{"help", 'h', 0, NULL},
                                        {"failed", 0, 0, NULL},
                                        {"where", 0, 1, "expression"},
                                        {"verify", 0, 0, NULL}};
    const char **files = xcalloc((size_t)argc + 1, sizeof(char *));
    int n = 0, help = 0, failed = 0, verify = 0;
    const char *where_text = NULL;
    CliParser parser;
    int rc = cli_parser_begin(&parser, "status", argc, argv, options, 4, 0);
    const char *value;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        if (k == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (k == CLI_POSITIONAL) files[n++] = value;
        else if (k == 0) help = 1;
        else if (k == 1) failed = 1;
        else if (k == 3) verify = 1;
        else where_text = value;
    }
    cli_parser_end(&parser);
    if (rc == ADV_OK && verify && (failed || where_text))
        rc = adv_err(ADV_ERR_INPUT, "status --verify checks every finished point: it takes no --failed or --where");
    if (rc == ADV_OK && !help && n == 0)
        rc = adv_err(ADV_ERR_INPUT, "status needs a sweep file (see advsweep status --help)");
    Where *where = NULL;
    if (rc == ADV_OK && !help && where_text) rc = where_parse(&where, where_text);
    if (rc != ADV_OK || help) {
        free(files);
        if (help) status_usage(stdout);
        return help ? 0 : cli_fail(ADV_ERR_INPUT);
    }
    int first = 0;
    for (int i = 0; i < n; i++) {
        StoreStatus s;
        long matched = 0;
        Where *w = NULL; /* afresh per file: what matched counts per file */
        if (where) where_parse(&w, where_text);
        if (verify) rc = print_verify(files[i]);
        else if (failed) rc = print_failures(files[i], w);
        else if (w) {
            rc = store_status_where(files[i], match_where, w, &s, &matched);
            if (rc == ADV_OK) rc = where_check_used(w, matched, files[i]);
        } else rc = store_status_of(files[i], &s);
        where_destroy(&w);
        if (rc != ADV_OK) {
            fflush(stdout);
            cli_fail(rc);
            if (!first) first = rc;
            continue;
        }
        if (!failed && !verify) {
            StoreStatus all;
            long total = where && store_status_of(files[i], &all) == ADV_OK ? all.n_points : s.n_points;
            print_status(files[i], &s, where ? where_text : NULL, total);
        }
    }
    fflush(stdout);
    where_destroy(&where);
    free(files);
    return first;
}
