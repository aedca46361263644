/* cmd_plan.c — `advsweep plan`: count a job's points, estimate their cost and
 * memory, and suggest a SLURM request (or print it as sbatch options).
 * Reads the job only; runs nothing, writes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/drive.h"
#include "advsweep/common.h"
#include "advsweep/memory.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"
#include "cli.h"

#define MB (1024.0 * 1024.0)

static void plan_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep plan [JOBFILE] [--rate GFLOPS] [--ranks N] [--cpus-per-task C]\n"
            "                     [--mem-per-rank MB | --mem-limit SIZE] [--max-time HH:MM:SS] [--sbatch]\n"
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
            "  --mem-limit SIZE     the same as a size (4G, 512M; a number alone is MB). Without\n"
            "                       either, inside a SLURM allocation (SLURM_MEM_PER_CPU or\n"
            "                       SLURM_MEM_PER_NODE set) the allocation is the budget; elsewhere a\n"
            "                       point larger than this machine allows one rank is only warned\n"
            "                       about (plan usually runs on a login node, not where points run)\n"
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

/* Was --mem-per-rank on the command line (before "--")? */
static int parser_mem_per_rank_seen(int argc, char **argv) {
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strncmp(argv[i], "--mem-per-rank", 14) || !strncmp(argv[i], "--mem_per_rank", 14)) return 1;
    return 0;
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

enum { OPT_HELP, OPT_DEFAULT, OPT_SBATCH, OPT_RATE, OPT_RANKS, OPT_CPUS, OPT_MEM, OPT_MAX_TIME, OPT_MEM_LIMIT };
static const CliOption PLAN_OPTIONS[] = {
    [OPT_HELP] = {"help", 'h', 0, NULL},
    [OPT_DEFAULT] = {"print-default", 0, 0, NULL},
    [OPT_SBATCH] = {"sbatch", 0, 0, NULL},
    [OPT_RATE] = {"rate", 0, 1, "rate in GFLOP/s"},
    [OPT_RANKS] = {"ranks", 0, 1, "number of ranks"},
    [OPT_CPUS] = {"cpus-per-task", 0, 1, "number of CPUs"},
    [OPT_MEM] = {"mem-per-rank", 0, 1, "size in MB"},
    [OPT_MAX_TIME] = {"max-time", 0, 1, "duration"},
    [OPT_MEM_LIMIT] = {"mem-limit", 0, 1, "size"},
};

int cmd_plan(int argc, char **argv) {
    const char *path = NULL;
    PlanRequest req = {.cpus_per_task = 1};
    int sbatch = 0, help = 0, print_default = 0, mem_limit_given = 0;
    CliParser parser;
    int rc = cli_parser_begin(&parser, "plan", argc, argv, PLAN_OPTIONS, sizeof PLAN_OPTIONS / sizeof PLAN_OPTIONS[0], 0);
    const char *value;
    double v;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        switch (k) {
        case CLI_BAD: rc = ADV_ERR_INPUT; break;
        case CLI_POSITIONAL:
            if (path) rc = adv_err(ADV_ERR_INPUT, "more than one job file ('%s', '%s')", path, value);
            path = value;
            break;
        case OPT_HELP: help = 1; break;
        case OPT_DEFAULT: print_default = 1; break;
        case OPT_SBATCH: sbatch = 1; break;
        case OPT_RATE:
            rc = cli_real(&req.rate_gflops, "--rate", value, 0, 1, "GFLOP/s");
            req.rate_measured = 1;
            break;
        case OPT_RANKS: rc = cli_long(&req.ranks, "--ranks", value, 1, 1000000); break;
        case OPT_CPUS: rc = cli_long(&req.cpus_per_task, "--cpus-per-task", value, 1, 100000); break;
        case OPT_MEM: rc = cli_real(&req.mem_per_rank_mb, "--mem-per-rank", value, 0, 1, "MB"); break;
        case OPT_MEM_LIMIT:
            rc = cli_size(&v, "--mem-limit", value);
            mem_limit_given = 1;
            if (rc == ADV_OK) req.mem_per_rank_mb = v / MB;
            break;
        case OPT_MAX_TIME:
            v = cli_parse_duration(value);
            if (!(v > 0))
                rc = adv_err(ADV_ERR_INPUT,
                             "option --max-time: bad value '%s' (SECONDS, MM:SS, HH:MM:SS or D-HH:MM:SS, > 0)", value);
            req.max_hours = v / 3600.0;
            break;
        }
    }
    cli_parser_end(&parser);
    if (rc == ADV_OK && mem_limit_given && parser_mem_per_rank_seen(argc, argv))
        rc = adv_err(ADV_ERR_INPUT, "options --mem-per-rank and --mem-limit say the same; give one");
    if (rc != ADV_OK) return cli_fail(ADV_ERR_INPUT);
    if (help) {
        plan_usage(stdout);
        return 0;
    }
    if (print_default) {
        fputs(job_default_text(), stdout);
        return 0;
    }

    Job *job = NULL;
    rc = path ? job_load(&job, path) : job_parse(&job, job_default_text(), "(default job)");
    if (rc == ADV_OK) rc = drive_bind_data(job, path, 1); /* the data files' shapes are the points' */
    if (rc != ADV_OK) {
        job_destroy(&job);
        return cli_fail(rc);
    }
    PointCost *costs = NULL;
    SweepPlan plan;
    rc = sweep_costs(&costs, job);
    if (rc == ADV_OK && !(req.mem_per_rank_mb > 0)) {
        /* No budget given: SLURM's allocation when inside one; else this machine, as a warning. */
        MemBudget mem;
        mem_budget(&mem, 0, NULL, 1);
        int in_slurm = getenv("SLURM_MEM_PER_CPU") || getenv("SLURM_MEM_PER_NODE");
        rc = sweep_check_memory(job, costs, NULL, &mem);
        if (rc != ADV_OK && !in_slurm) {
            adv_warn("%s", adv_errmsg());
            rc = ADV_OK;
        }
    }
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
        for (long k = 0; k < job_data_file_count(job); k++) {
            long at = -1;
            TrainConfig cfg;
            for (long i = 0; i < n && at < 0; i++) {
                job_point(&cfg, job, i);
                if (cfg.data == DATA_FILE && !strcmp(cfg.data_file, job_data_file_path(job, k))) at = i;
            }
            if (at >= 0)
                printf("data         %s: n = %lld points, d = %lld (data_file %s)\n", job_data_file_path(job, k),
                       (long long)cfg.n, (long long)cfg.d, job_data_file(job, k));
        }
        printf("points       %ld", n);
        if (*job_axes(job)) printf(" (axes: %s)", job_axes(job));
        long runs = 0;
        for (long i = 0; i < n; i++) runs += costs[i].trained_as == i;
        if (runs < n)
            printf("\nruns         %ld training runs: points that differ only in epsilon share one (it answers every "
                   "epsilon; the cost below counts each run once)", runs);
        int stops = 0;
        for (long i = 0; i < n && !stops; i++) {
            TrainConfig cfg;
            job_point(&cfg, job, i);
            stops = cfg.early_stop > 0 || cfg.plateau_window > 0;
        }
        if (stops)
            printf("\nbound        the estimates assume every run goes to its step cap; early stops and plateaus end "
                   "runs sooner");
        if (job_search(job)->on)
            printf("\nsearch       over %s: the estimates are for the whole grid, of which the search trains only what "
                   "its m* table needs (jobs/width-map-search.yaml: a third of the core-hours)",
                   job_search(job)->axis->name);
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
    { /* what `run` without -o would refuse, said now */
        char out[128];
        snprintf(out, sizeof out, "%s.h5", job_name(job));
        long nd = job_data_file_count(job);
        const char **inputs = xcalloc((size_t)nd + 1, sizeof *inputs), **roles = xcalloc((size_t)nd + 1, sizeof *roles);
        int count = 0;
        if (path) inputs[count] = path, roles[count++] = "job file";
        for (long k = 0; k < nd; k++) inputs[count] = job_data_file_path(job, k), roles[count++] = "data file";
        if (store_check_output(out, inputs, roles, count) != ADV_OK)
            adv_warn("advsweep run would refuse its default output: %s", adv_errmsg());
        free(inputs);
        free(roles);
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
