/* cmd_plan.c — `advsweep plan`: count a job's points, estimate their cost and
 * memory, and suggest a SLURM request (or print it as sbatch options).
 * Reads the job only; runs nothing, writes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/sweep.h"
#include "cli.h"

#define MB (1024.0 * 1024.0)

static void plan_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep plan [JOBFILE] [--rate GFLOPS] [--ranks N] [--cpus-per-task C]\n"
            "                     [--mem-per-rank MB] [--max-time HH:MM:SS] [--sbatch]\n"
            "       advsweep plan --print-default\n"
            "\n"
            "Reads a job file (without one: the embedded default sweep), checks every point,\n"
            "and prints the number of points, the axes, the total GFLOP, the costliest point's\n"
            "estimated time and memory, the core-hours and a suggested SLURM request.\n"
            "\n"
            "  --rate GFLOPS        achieved rate of one rank (the last line of `advsweep bench`\n"
            "                       run with the same OMP_NUM_THREADS); default: a guess of\n"
            "                       %.0f GFLOP/s per core x cpus-per-task\n"
            "  --ranks N            MPI ranks including the master (default: suggest; the master\n"
            "                       only dispatches, so N ranks run N-1 points at a time)\n"
            "  --cpus-per-task C    threads per rank (OMP_NUM_THREADS); default 1\n"
            "  --mem-per-rank MB    memory per rank: a point that needs more is refused (exit 2)\n"
            "  --max-time T         the partition's time limit (SECONDS, MM:SS, HH:MM:SS or\n"
            "                       D-HH:MM:SS): caps --time; beyond it the sweep resubmits\n"
            "  --sbatch             print only one line of sbatch options, e.g.\n"
            "                       --ntasks=5 --cpus-per-task=2 --time=01:23:00\n"
            "  --print-default      print the embedded default job file and exit\n"
            "\n"
            "The suggestion: points go out costliest first to the next free worker; workers are\n"
            "added until the estimated makespan approaches the costliest point; --time is the\n"
            "makespan x 1.3 + 5 minutes, rounded up to a minute. Estimates scale with the rate.\n",
            SWEEP_DEFAULT_GFLOPS_PER_CORE);
}

/* "HH:MM:SS", or "D-HH:MM:SS" from one day on (SLURM's formats). */
static void format_duration(char *buf, size_t len, double seconds) {
    long s = (long)ceil(seconds - 1e-6);
    if (s < 0) s = 0;
    long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
    if (d) snprintf(buf, len, "%ld-%02ld:%02ld:%02ld", d, h, m, s % 60);
    else snprintf(buf, len, "%02ld:%02ld:%02ld", h, m, s % 60);
}

/* A human-sized duration for estimates ("40 s", "12.5 min", "3.2 h"). */
static void format_estimate(char *buf, size_t len, double seconds) {
    if (seconds < 90) snprintf(buf, len, "%.3g s", seconds);
    else if (seconds < 5400) snprintf(buf, len, "%.3g min", seconds / 60);
    else snprintf(buf, len, "%.3g h", seconds / 3600);
}

static int number_option(double *out, const char *opt, const char *text, int integer) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v > 0) || !isfinite(v) || (integer && v != floor(v)))
        return adv_err(ADV_ERR_INPUT, "option %s: bad value '%s' (must be a %s > 0)", opt, text,
                       integer ? "whole number" : "number");
    *out = v;
    return ADV_OK;
}

int cmd_plan(int argc, char **argv) {
    const char *path = NULL;
    PlanRequest req = {.cpus_per_task = 1};
    int sbatch = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            plan_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--print-default")) {
            fputs(job_default_text(), stdout);
            return 0;
        }
        if (!strcmp(a, "--sbatch")) {
            sbatch = 1;
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (path) return cli_fail(adv_err(ADV_ERR_INPUT, "more than one job file ('%s', '%s')", path, a));
            path = a;
            continue;
        }
        /* --opt VALUE or --opt=VALUE */
        char opt[32];
        const char *eq = strchr(a, '='), *value;
        snprintf(opt, sizeof opt, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        static const char *const known[] = {"--rate", "--ranks", "--cpus-per-task", "--mem-per-rank", "--max-time"};
        int k = 0;
        while (k < 5 && strcmp(opt, known[k])) k++;
        if (k == 5) return cli_fail(adv_err(ADV_ERR_INPUT, "unknown option '%s' (see advsweep plan --help)", a));
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else return cli_fail(adv_err(ADV_ERR_INPUT, "option %s needs a value", opt));
        double v = 0;
        switch (k) {
        case 0:
            if (number_option(&v, opt, value, 0)) return cli_fail(ADV_ERR_INPUT);
            req.rate_gflops = v;
            req.rate_measured = 1;
            break;
        case 1:
            if (number_option(&v, opt, value, 1)) return cli_fail(ADV_ERR_INPUT);
            req.ranks = (long)v;
            break;
        case 2:
            if (number_option(&v, opt, value, 1)) return cli_fail(ADV_ERR_INPUT);
            req.cpus_per_task = (long)v;
            break;
        case 3:
            if (number_option(&v, opt, value, 0)) return cli_fail(ADV_ERR_INPUT);
            req.mem_per_rank_mb = v;
            break;
        case 4:
            v = cli_parse_duration(value);
            if (!(v > 0))
                return cli_fail(adv_err(ADV_ERR_INPUT,
                                        "option --max-time: bad value '%s' (SECONDS, MM:SS, HH:MM:SS or D-HH:MM:SS)",
                                        value));
            req.max_hours = v / 3600.0;
            break;
        }
    }

    Job *job = NULL;
    int rc = path ? job_load(&job, path) : job_parse(&job, job_default_text(), "(default job)");
    if (rc != ADV_OK) return cli_fail(rc);
    PointCost *costs = NULL;
    SweepPlan plan;
    rc = sweep_costs(&costs, job);
    if (rc == ADV_OK) rc = sweep_plan(&plan, job, costs, &req);
    if (rc != ADV_OK) {
        free(costs);
        job_destroy(&job);
        return cli_fail(rc);
    }

    double rate = req.rate_gflops > 0 ? req.rate_gflops : SWEEP_DEFAULT_GFLOPS_PER_CORE * (double)plan.cpus_per_task;
    char limit[32], wall[32], est[32], label[256];
    format_duration(limit, sizeof limit, plan.time_limit_hours * 3600);
    format_duration(wall, sizeof wall, plan.wall_hours * 3600);
    char mem[48] = "";
    if (req.mem_per_rank_mb > 0)
        snprintf(mem, sizeof mem, " --mem-per-cpu=%.0fM", ceil(req.mem_per_rank_mb / (double)plan.cpus_per_task));

    if (sbatch) {
        printf("--ntasks=%ld --cpus-per-task=%ld --time=%s%s\n", plan.ranks, plan.cpus_per_task, limit, mem);
    } else {
        long n = plan.points, costliest = 0, biggest = 0;
        for (long i = 1; i < n; i++) {
            if (costs[i].cost > costs[costliest].cost) costliest = i;
            if (costs[i].bytes > costs[biggest].bytes) biggest = i;
        }
        if (path) printf("job          %s (name: %s)\n", path, job_name(job));
        else printf("job          embedded default (name: %s; advsweep plan --print-default shows it)\n", job_name(job));
        printf("points       %ld", n);
        if (*job_axes(job)) printf(" (axes: %s)", job_axes(job));
        printf("\ntotal        %.4g GFLOP-equivalents (GEMM FLOPs + per-pass and elementwise work)\n", plan.total_cost / 1e9);
        job_point_label(label, sizeof label, job, costliest);
        format_estimate(est, sizeof est, sweep_point_seconds(&costs[costliest], rate));
        printf("costliest    point %ld%s%s%s: %.4g GFLOP, ~%s, %.3g MB\n", costliest, *label ? " (" : "", label,
               *label ? ")" : "", costs[costliest].cost / 1e9, est, costs[costliest].bytes / MB);
        if (costs[biggest].bytes > costs[costliest].bytes) {
            job_point_label(label, sizeof label, job, biggest);
            printf("largest      point %ld (%s): %.3g MB\n", biggest, label, costs[biggest].bytes / MB);
        }
        if (req.rate_gflops > 0) printf("rate         %.3g GFLOP/s per rank (--rate)\n", rate);
        else
            printf("rate         %.3g GFLOP/s per rank (a guess: %.3g per core x %ld; measure it with advsweep bench)\n",
                   rate, SWEEP_DEFAULT_GFLOPS_PER_CORE, plan.cpus_per_task);
        printf("core-hours   %.3g of work (%ld cpus per rank); the request below holds %.3g\n", plan.core_hours,
               plan.cpus_per_task, (double)(plan.ranks * plan.cpus_per_task) * plan.wall_hours);
        printf("request      %ld rank%s", plan.ranks, plan.ranks == 1 ? "" : "s");
        if (plan.ranks > 1) printf(" (1 master + %ld worker%s)", plan.ranks - 1, plan.ranks == 2 ? "" : "s");
        printf(" x %ld cpus, estimated wall %s, time limit %s%s\n", plan.cpus_per_task, wall, limit,
               req.ranks > 0 ? "" : " (suggested)");
        printf("sbatch       --ntasks=%ld --cpus-per-task=%ld --time=%s%s\n", plan.ranks, plan.cpus_per_task, limit, mem);
        if (plan.needs_resubmits)
            printf("note         the estimated wall time exceeds --max-time: the sweep needs a chain of\n"
                   "             resubmissions (each run resumes the same file)\n");
        else if (req.max_hours > 0 && plan.time_limit_hours >= req.max_hours)
            printf("note         --max-time leaves less than the usual 30%% margin: plan for a resubmission\n");
    }
    if (req.max_hours > 0) {
        double longest = plan.max_cost / (rate * 1e9);
        if (longest > req.max_hours * 3600) {
            format_estimate(est, sizeof est, longest);
            adv_warn("the costliest point alone takes ~%s, longer than --max-time: it cannot finish within one job",
                     est);
        }
    }
    free(costs);
    job_destroy(&job);
    return 0;
}
