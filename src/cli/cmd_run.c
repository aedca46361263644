/* cmd_run.c — `advsweep run`: options, then the collective sweep (comm module). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/comm.h"
#include "advsweep/drive.h"
#include "advsweep/common.h"
#include "advsweep/sweep.h"
#include "cli.h"

static void run_usage(FILE *out) {
    fprintf(out,
            "usage: [mpirun -n N] advsweep run [JOBFILE] [options]\n"
            "\n"
            "Run every point of a sweep into one HDF5 file (docs/layout.md). Rank 0 dispatches points\n"
            "(costliest first) to ranks 1..N-1; with one rank it runs them itself. Without JOBFILE the\n"
            "embedded default sweep runs (see --print-default). Rerunning the same command resumes:\n"
            "finished points are kept, points that were running are redone. Points are matched by key\n"
            "(every parameter, the data file's contents, the numerics version), so any job whose points\n"
            "the file holds resumes it; a job with points the file lacks needs --extend. A job with a\n"
            "search: section trains only the points its width search needs (the rest become skipped).\n"
            "Every data file (data=file) is opened and checked first: a relative data_file is relative\n"
            "to the job file's directory, and n and d come from the file unless the job gives them.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE     sweep file (default: NAME.h5, NAME from the job file)\n"
            "  --fresh               replace an existing sweep file instead of resuming it (never a file\n"
            "                        that is not a sweep file; the output is never the job or a data file)\n"
            "  --extend              add the job's points the file lacks: the file becomes the union, every\n"
            "                        finished result kept bit for bit (built under a temporary name, renamed)\n"
            "  --where EXPR          run only the points EXPR selects, e.g. 'attack=pgd,m<=64,seed=1..3'\n"
            "                        (= != < <= > >=, ranges a..b, lists a|b; a search job then runs them as a grid)\n"
            "  --retry-failed        rerun points that failed or diverged\n"
            "  --retry-damaged       rerun finished points whose rows no longer match their checksum (a resume\n"
            "                        refuses a file with such points otherwise; advsweep status --verify lists them)\n"
            "  --time-limit DUR      stop handing out points that would not finish within DUR\n"
            "                        (seconds, MM:SS, HH:MM:SS or D-HH:MM:SS; SLURM_JOB_END_TIME is also used)\n"
            "  --grace SECONDS       after a stop request, let running points finish for this long (default 60),\n"
            "                        then abandon them (they are redone on resume)\n"
            "  --rate GFLOPS         per-rank rate for time estimates before any point finished (advsweep bench)\n"
            "  --shard I/N           run only points with index %% N == I (job arrays; merge with advsweep merge)\n"
            "  --mem-limit SIZE      memory one rank may use (4G, 512M; a number alone is MB); default: what the\n"
            "                        node, its cgroup and SLURM allow, shared by the node's ranks. A point that\n"
            "                        needs more is refused before anything runs (exit 2)\n"
            "  --checkpoint SECONDS  a point that trains longer than SECONDS saves its state every SECONDS\n"
            "                        (default 300) in FILE.ckpt/; killed or abandoned, it continues from there\n"
            "                        on resume, to the same result; 0: no checkpoints\n"
            "  --print-default       print the embedded default job file and exit\n"
            "  -q, --quiet           no line per point\n"
            "\n"
            "Stopping: Ctrl-C (also under mpirun), SIGTERM, or `advsweep stop FILE` from any shell or node:\n"
            "no new points are handed out, running points may finish for --grace seconds, exit status 3.\n"
            "A second request abandons the running points at once; a third Ctrl-C exits at once.\n"
            "\n"
            "A failed or diverged point's line says why; advsweep status --failed FILE lists them.\n"
            "\n"
            "exit status: 0 every point done/failed/diverged (not all failed), 3 interrupted (rerun to resume),\n"
            "             2 bad input (nothing written), 1 every point failed (the distinct reasons are\n"
            "             printed) or an internal error, 4 I/O error\n");
}

enum { OPT_HELP, OPT_OUTPUT, OPT_FRESH, OPT_RETRY, OPT_TIME_LIMIT, OPT_GRACE, OPT_RATE, OPT_SHARD, OPT_DEFAULT, OPT_QUIET,
       OPT_EXTEND, OPT_WHERE, OPT_MEM_LIMIT, OPT_RETRY_DAMAGED, OPT_CHECKPOINT };
static const CliOption RUN_OPTIONS[] = {
    [OPT_HELP] = {"help", 'h', 0, NULL},
    [OPT_OUTPUT] = {"output", 'o', 1, "file name"},
    [OPT_FRESH] = {"fresh", 0, 0, NULL},
    [OPT_RETRY] = {"retry-failed", 0, 0, NULL},
    [OPT_TIME_LIMIT] = {"time-limit", 0, 1, "duration"},
    [OPT_GRACE] = {"grace", 0, 1, "number of seconds"},
    [OPT_RATE] = {"rate", 0, 1, "rate in GFLOP/s"},
    [OPT_SHARD] = {"shard", 0, 1, "shard I/N"},
    [OPT_DEFAULT] = {"print-default", 0, 0, NULL},
    [OPT_QUIET] = {"quiet", 'q', 0, NULL},
    [OPT_EXTEND] = {"extend", 0, 0, NULL},
    [OPT_WHERE] = {"where", 0, 1, "expression"},
    [OPT_MEM_LIMIT] = {"mem-limit", 0, 1, "size"},
    [OPT_RETRY_DAMAGED] = {"retry-damaged", 0, 0, NULL},
    [OPT_CHECKPOINT] = {"checkpoint", 0, 1, "number of seconds"},
};

/* "I/N" with 0 <= I < N, both plain decimal. */
static int parse_shard(RunOptions *opt, const char *value) {
    const char *slash = strchr(value, '/');
    char left[32];
    long long i, n;
    if (slash && (size_t)(slash - value) < sizeof left) {
        snprintf(left, sizeof left, "%.*s", (int)(slash - value), value);
        if (adv_parse_int(left, &i) == 0 && adv_parse_int(slash + 1, &n) == 0 && left[0] != '+' && left[0] != '-' &&
            slash[1] != '+' && slash[1] != '-' && n >= 1 && n <= 1000000 && i >= 0 && i < n) {
            opt->shard_index = (int)i;
            opt->shard_count = (int)n;
            return ADV_OK;
        }
    }
    return adv_err(ADV_ERR_INPUT, "option --shard: bad value '%s' (I/N with 0 <= I < N)", value);
}

int cmd_run(int argc, char **argv) {
    RunOptions opt = {0};
    opt.grace = 60;
    opt.checkpoint_every = 300;
    CliParser parser;
    int rc = cli_parser_begin(&parser, "run", argc, argv, RUN_OPTIONS, sizeof RUN_OPTIONS / sizeof RUN_OPTIONS[0], 0);
    int help = 0, print_default = 0;
    const char *value;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        switch (k) {
        case CLI_BAD: rc = ADV_ERR_INPUT; break;
        case CLI_POSITIONAL:
            if (opt.job_path)
                rc = adv_err(ADV_ERR_INPUT, "more than one job file given ('%s' and '%s')", opt.job_path, value);
            opt.job_path = value;
            break;
        case OPT_HELP: help = 1; break;
        case OPT_DEFAULT: print_default = 1; break;
        case OPT_FRESH: opt.fresh = 1; break;
        case OPT_RETRY: opt.retry_failed = 1; break;
        case OPT_RETRY_DAMAGED: opt.retry_damaged = 1; break;
        case OPT_QUIET: opt.quiet = 1; break;
        case OPT_OUTPUT: opt.output = value; break;
        case OPT_TIME_LIMIT:
            opt.time_limit = cli_parse_duration(value);
            if (!(opt.time_limit > 0))
                rc = adv_err(ADV_ERR_INPUT,
                             "option --time-limit: bad value '%s' (SECONDS, MM:SS, HH:MM:SS or D-HH:MM:SS, > 0)", value);
            break;
        case OPT_GRACE: rc = cli_real(&opt.grace, "--grace", value, 0, 0, "seconds"); break;
        case OPT_RATE: rc = cli_real(&opt.rate_gflops, "--rate", value, 0, 1, "GFLOP/s"); break;
        case OPT_SHARD: rc = parse_shard(&opt, value); break;
        case OPT_EXTEND: opt.extend = 1; break;
        case OPT_WHERE: opt.where = value; break;
        case OPT_MEM_LIMIT: rc = cli_size(&opt.mem_limit, "--mem-limit", value); break;
        case OPT_CHECKPOINT: rc = cli_real(&opt.checkpoint_every, "--checkpoint", value, 0, 0, "seconds"); break;
        }
    }
    cli_parser_end(&parser);
    if (rc != ADV_OK) return cli_fail(ADV_ERR_INPUT);
    if (help) {
        run_usage(stdout);
        return 0;
    }
    if (print_default) {
        fputs(job_default_text(), stdout);
        return 0;
    }
    if (opt.output && !*opt.output) return cli_fail(adv_err(ADV_ERR_INPUT, "option --output: empty file name"));
    signals_install(opt.grace); /* before MPI starts: SLURM may signal at any moment */
    Comm *world = NULL;
    rc = comm_session_begin(&argc, &argv, &world);
    if (rc != ADV_OK) return cli_fail(rc);
    int rank = comm_rank(world);
    signals_take_terminal(world); /* Ctrl-C in mpirun's terminal reaches rank 0, not mpirun */
    rc = drive_run(world, &opt);
    signals_finished();
    signals_release_terminal();
    if (rc != ADV_OK && rank == 0) {
        if (rc == ADV_INTERRUPTED) fprintf(stderr, "advsweep: %s\n", adv_errmsg());
        else cli_fail(rc);
    }
    comm_session_end(&world);
    return rc;
}
