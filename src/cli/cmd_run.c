/* cmd_run.c — `advsweep run`: options, then the collective sweep (comm module). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/comm.h"
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
            "finished points are kept, points that were running are redone.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE     sweep file (default: NAME.h5, NAME from the job file)\n"
            "  --fresh               replace an existing file instead of resuming it\n"
            "  --retry-failed        rerun points that failed or diverged\n"
            "  --time-limit DUR      stop handing out points that would not finish within DUR\n"
            "                        (seconds, MM:SS, HH:MM:SS or D-HH:MM:SS; SLURM_JOB_END_TIME is also used)\n"
            "  --grace SECONDS       after SIGTERM/SIGINT, let running points finish for this long (default 60),\n"
            "                        then abandon them (they are redone on resume)\n"
            "  --rate GFLOPS         per-rank rate for time estimates before any point finished (advsweep bench)\n"
            "  --shard I/N           run only points with index %% N == I (job arrays; merge with advsweep merge)\n"
            "  --print-default       print the embedded default job file and exit\n"
            "  -q, --quiet           no line per point\n"
            "\n"
            "exit status: 0 every point done/failed/diverged, 3 interrupted (rerun to resume),\n"
            "             2 bad input (nothing written), 1 or 4 errors\n");
}

int cmd_run(int argc, char **argv) {
    RunOptions opt = {0};
    opt.grace = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--print-default")) {
            fputs(job_default_text(), stdout);
            return 0;
        } else if (!strcmp(a, "--fresh")) {
            opt.fresh = 1;
        } else if (!strcmp(a, "--retry-failed")) {
            opt.retry_failed = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            opt.quiet = 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--time-limit") || !strcmp(a, "--grace") ||
                   !strcmp(a, "--rate") || !strcmp(a, "--shard")) {
            if (!value) return cli_fail(adv_err(ADV_ERR_INPUT, "option %s needs a value", a));
            i++;
            char *end;
            if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
                opt.output = value;
            } else if (!strcmp(a, "--time-limit")) {
                opt.time_limit = cli_parse_duration(value);
                if (opt.time_limit <= 0)
                    return cli_fail(adv_err(ADV_ERR_INPUT, "option --time-limit: bad duration '%s'", value));
            } else if (!strcmp(a, "--grace")) {
                opt.grace = strtod(value, &end);
                if (*end || end == value || opt.grace < 0)
                    return cli_fail(adv_err(ADV_ERR_INPUT, "option --grace: bad value '%s' (seconds >= 0)", value));
            } else if (!strcmp(a, "--rate")) {
                opt.rate_gflops = strtod(value, &end);
                if (*end || end == value || !(opt.rate_gflops > 0))
                    return cli_fail(adv_err(ADV_ERR_INPUT, "option --rate: bad value '%s' (GFLOP/s > 0)", value));
            } else {
                if (sscanf(value, "%d/%d", &opt.shard_index, &opt.shard_count) != 2 || opt.shard_count < 1 ||
                    opt.shard_index < 0 || opt.shard_index >= opt.shard_count)
                    return cli_fail(adv_err(ADV_ERR_INPUT, "option --shard: bad value '%s' (I/N with 0 <= I < N)", value));
            }
        } else if (a[0] == '-') {
            return cli_fail(adv_err(ADV_ERR_INPUT, "unknown option '%s' (see advsweep run --help)", a));
        } else if (!opt.job_path) {
            opt.job_path = a;
        } else {
            return cli_fail(adv_err(ADV_ERR_INPUT, "more than one job file given ('%s' and '%s')", opt.job_path, a));
        }
    }
    signals_install(opt.grace); /* before MPI starts: SLURM may signal at any moment */
    Comm *world = NULL;
    int rc = comm_session_begin(&argc, &argv, &world);
    if (rc != ADV_OK) return cli_fail(rc);
    int rank = comm_rank(world);
    rc = sweep_run(world, &opt);
    if (rc != ADV_OK && rank == 0) {
        if (rc == ADV_INTERRUPTED) fprintf(stderr, "advsweep: %s\n", adv_errmsg());
        else cli_fail(rc);
    }
    comm_session_end(&world);
    return rc;
}
