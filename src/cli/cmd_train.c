/* cmd_train.c — `advsweep train`: one configuration, a one-line summary, and
 * with -o the same file layout as a sweep of one point. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep/memory.h"
#include "advsweep/store.h"
#include "advsweep/sweep.h"
#include "advsweep/train.h"
#include "cli.h"

static void train_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep train [--PARAM VALUE ...] [-o FILE.h5] [-q] [--mem-limit SIZE]\n"
            "       (--PARAM=VALUE works too; each option at most once)\n"
            "\n"
            "Train one configuration with projected adversarial gradient descent and print a\n"
            "one-line summary. -o FILE.h5 writes its trajectory and summary in the sweep layout\n"
            "(docs/layout.md) with one point; the output is checked (and locked) before training.\n"
            "-q: no progress line. With --data file, the data file is checked first and n and d come\n"
            "from it unless given (relative to the current directory). -o never overwrites the data\n"
            "file or a file that is not a sweep file. A configuration that needs more memory than\n"
            "this machine gives it (MemAvailable, the cgroup's limit, SLURM's allocation) or than\n"
            "--mem-limit SIZE (4G, 512M; a number alone is MB) is refused at once (exit 2).\n\n");
    cli_print_params(out);
}

static void show_progress(void *ctx, int64_t step, int64_t steps, double surrogate) {
    (void)ctx;
    fprintf(stderr, "\r  step %lld/%lld  L_A %.4g   ", (long long)step, (long long)steps, surrogate);
    fflush(stderr);
}

/* The `train` command line, recorded as the file's job text. */
static char *command_line(int argc, char **argv) {
    size_t len = 32;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    char *text = xcalloc(len, 1);
    strcat(text, "advsweep");
    for (int i = 0; i < argc; i++) {
        strcat(text, " ");
        strcat(text, argv[i]);
    }
    return text;
}

enum { OPT_HELP, OPT_OUTPUT, OPT_QUIET, OPT_MEM_LIMIT, N_OWN };

int cmd_train(int argc, char **argv) {
    TrainConfig cfg;
    config_defaults(&cfg);
    const char *out_path = NULL;
    int quiet = 0, given_n = 0, given_d = 0;
    double mem_limit = 0;
    static const CliOption own[N_OWN] = {{"help", 'h', 0, NULL},
                                         {"output", 'o', 1, "file name"},
                                         {"quiet", 'q', 0, NULL},
                                         {"mem-limit", 0, 1, "size"}};
    int n_opts;
    CliOption *opts = cli_param_options(&n_opts, own, N_OWN);
    char *text = command_line(argc, argv); /* before the parser reorders anything */
    CliParser parser;
    int rc = cli_parser_begin(&parser, "train", argc, argv, opts, n_opts, 0);
    const char *value;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        if (k == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (k == CLI_POSITIONAL)
            rc = adv_err(ADV_ERR_INPUT, "unexpected argument '%s' (train takes options only; see advsweep train --help)",
                         value);
        else if (k == OPT_HELP) {
            train_usage(stdout);
            cli_parser_end(&parser);
            free(opts);
            free(text);
            return 0;
        } else if (k == OPT_OUTPUT) out_path = value;
        else if (k == OPT_QUIET) quiet = 1;
        else if (k == OPT_MEM_LIMIT) rc = cli_size(&mem_limit, "--mem-limit", value);
        else {
            rc = param_set(&cfg, &PARAMS[k - N_OWN], value);
            given_n |= !strcmp(PARAMS[k - N_OWN].name, "n");
            given_d |= !strcmp(PARAMS[k - N_OWN].name, "d");
        }
    }
    cli_parser_end(&parser);
    free(opts);
    if (rc != ADV_OK) {
        free(text);
        return cli_fail(ADV_ERR_INPUT);
    }
    if (cfg.data == DATA_FILE && cfg.data_file[0]) { /* checked before training; n and d from the file unless given */
        StoreDataInfo info;
        rc = store_data_info(cfg.data_file, &info);
        if (rc == ADV_OK && given_n && cfg.n != info.n)
            rc = adv_err(ADV_ERR_INPUT, "parameter n: data file %s holds n = %ld points, but --n %lld was given",
                         cfg.data_file, info.n, (long long)cfg.n);
        if (rc == ADV_OK && given_d && cfg.d != info.d)
            rc = adv_err(ADV_ERR_INPUT, "parameter d: data file %s holds points of dimension d = %ld, but --d %lld was given",
                         cfg.data_file, info.d, (long long)cfg.d);
        if (rc == ADV_OK) {
            cfg.n = info.n;
            cfg.d = info.d;
            if (info.off_sphere > 0)
                adv_warn("data file %s: %ld of %ld rows are not on the unit sphere and are projected onto it",
                         cfg.data_file, info.off_sphere, info.n);
        }
    }
    char target[4096];
    if (rc == ADV_OK && out_path && (rc = store_output_target(out_path, target, sizeof target)) == ADV_OK)
        out_path = target; /* a symlink: its target is written (and locked), the link stays */
    if (rc == ADV_OK && out_path) { /* before training: never the data file, never a file that is not a sweep */
        const char *inputs[1] = {cfg.data == DATA_FILE ? cfg.data_file : NULL}, *roles[1] = {"data file"};
        rc = store_check_output(out_path, inputs, roles, 1);
    }
    TrainPlan plan;
    if (rc == ADV_OK) rc = train_plan(&plan, &cfg);
    Dataset *data = NULL;
    if (rc == ADV_OK) { /* before anything is allocated */
        MemBudget mem;
        mem_budget(&mem, mem_limit, "--mem-limit", 1);
        rc = mem_check(&cfg, plan.bytes, &mem, "this configuration");
    }
    StoreLock *lock = NULL; /* -o: taken before training, so a bad or busy output fails at once */
    if (rc == ADV_OK && out_path) rc = store_lock_acquire(&lock, out_path, "train -o");
    if (rc == ADV_OK) rc = store_training_set(&data, &cfg);
    if (rc != ADV_OK) {
        store_lock_release(&lock);
        free(text);
        return cli_fail(rc);
    }
    if (plan.steps_capped && !quiet)
        adv_warn("the step count derived from epsilon %s exceeds max_steps; training for T=%lld steps",
                 isinf(cfg.R) ? "and R = inf" : "", (long long)plan.steps);

    Trajectory *traj = trajectory_create(plan.records, plan.evals);
    TrainSummary sum;
    TrainHooks hooks = {0};
    int show = !quiet && isatty(STDERR_FILENO);
    if (show) hooks.progress = show_progress;
    rc = train_run(&sum, traj, &cfg, data, &hooks);
    if (show) fprintf(stderr, "\r%60s\r", "");
    if (rc == ADV_OK && out_path) {
        StoreLayout layout = {.n_points = 1,
                              .configs = &cfg,
                              .cost_flops = &plan.cost,
                              .records_max = plan.records,
                              .evals_max = plan.evals,
                              .targets_max = plan.n_targets,
                              .job_text = text,
                              .job_name = "train",
                              .axes = "",
                              .shard_index = 0,
                              .shard_count = 1,
                              .ranks = 1,
                              .omp_threads = omp_get_max_threads(),
                              .blas_version = openblas_get_config(),
                              .blas_kernel = blas_kernel_description()};
        Store *st = NULL;
        rc = store_open(&st, out_path, &layout, STORE_SERIAL, STORE_FRESH);
        StoreWorker worker = {0, 0, "", ""};
        gethostname(worker.host, sizeof worker.host - 1);
        snprintf(worker.blas_kernel, sizeof worker.blas_kernel, "%s", blas_kernel_name());
        if (rc == ADV_OK) rc = store_write_point(st, 0, &sum, traj, &worker, NULL);
        int close_rc = store_close(&st);
        if (rc == ADV_OK) rc = close_rc;
    }
    store_lock_release(&lock);
    free(text);
    if (rc == ADV_OK) {
        char eps_text[48] = "never";
        if (sum.eps_step >= 0) snprintf(eps_text, sizeof eps_text, "at step %lld", (long long)sum.eps_step);
        printf("%s m=%lld H=%lld attack=%s eps=%g R=%g: min L_A %.4g at step %lld, L_A <= eps %s; final L_A %.4g, "
               "robust %.4g (acc %.3f), clean acc %.3f, dist %.3g; T=%lld alpha=%.3g; %.2f s, %.2f GFLOP/s (BLAS %s)%s%s\n",
               sum.status == RUN_DONE ? "done" : "DIVERGED", (long long)cfg.m,
               (long long)(cfg.model == MODEL_DEEP ? cfg.H : 1), choice_name("attack", cfg.attack), cfg.epsilon,
               cfg.R, sum.min_surrogate, (long long)sum.min_step, eps_text, sum.final_surrogate,
               sum.final_robust_loss, sum.final_robust_acc, sum.final_clean_acc, sum.final_dist,
               (long long)sum.steps_planned, sum.lr, sum.wall_time, sum.flops / fmax(sum.wall_time, 1e-9) * 1e-9,
               blas_kernel_name(), sum.reason[0] ? ": " : "", sum.reason);
    }
    trajectory_destroy(&traj);
    dataset_destroy(&data);
    return rc == ADV_OK ? 0 : cli_fail(rc);
}
