/* main.c — the advsweep executable: dispatch to a subcommand. Stays thin. */
#include <stdio.h>
#include <string.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
#include "advsweep_revision.h" /* generated at build time: ADVSWEEP_REVISION */
#include "cli.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: advsweep COMMAND [options]\n"
            "\n"
            "Measure how wide a network must be for adversarial training to succeed\n"
            "(Gao et al. 2019, \"Convergence of Adversarial Training in Overparametrized Neural Networks\").\n"
            "\n"
            "commands:\n"
            "  train    train one configuration and print a summary (-o FILE.h5 to keep it)\n"
            "  run      run a sweep (a job file, or the embedded default) over MPI ranks into one HDF5 file\n"
            "  plan     count a job's points, estimate cost and memory, suggest a SLURM request\n"
            "  status   progress of a sweep file (also while it runs)\n"
            "  stop     ask the run writing a sweep file to stop (from any shell or node), as Ctrl-C would\n"
            "  merge    combine sweep files of the same job (shards, clusters)\n"
            "  bench    measure this machine's DGEMM rate and training-step rate\n"
            "\n"
            "advsweep COMMAND --help shows a command's options; --version prints the version and source revision.\n"
            "exit status: 0 ok, 1 internal error, 2 bad input (nothing written), 3 interrupted (rerun to resume), 4 I/O error\n");
}

int main(int argc, char **argv) {
    blas_kernel_select(argv); /* before anything else: may re-execute with better BLAS kernels */
    static const CliOption options[] = {{"help", 'h', 0, NULL}, {"version", 0, 0, NULL}};
    CliParser parser;
    int rc = cli_parser_begin(&parser, "", argc, argv, options, 2, 1), help = 0, version = 0;
    const char *cmd = NULL;
    for (int k; rc == ADV_OK && !cmd && (k = cli_next(&parser, &cmd)) != CLI_END;) {
        if (k == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (k == 0) help = 1;
        else if (k == 1) version = 1;
    }
    int first = parser.tail > 0 ? parser.tail - 1 : argc; /* argv[first] is the command */
    cli_parser_end(&parser);
    if (rc != ADV_OK) {
        fprintf(stderr, "advsweep: error: %s\n", adv_errmsg());
        return ADV_ERR_INPUT;
    }
    if (help && !cmd) {
        usage(stdout);
        return 0;
    }
    if (version && !cmd) {
        printf("advsweep %s (%s)\n", ADVSWEEP_VERSION, ADVSWEEP_REVISION);
        return 0;
    }
    if (!cmd) {
        usage(stderr);
        return ADV_ERR_INPUT;
    }
    if (help || version) {
        fprintf(stderr, "advsweep: error: --%s goes alone or after the command (advsweep %s --help)\n",
                help ? "help" : "version", cmd);
        return ADV_ERR_INPUT;
    }
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train}, {"run", cmd_run},     {"plan", cmd_plan},
                    {"status", cmd_status}, {"stop", cmd_stop},   {"merge", cmd_merge},
                    {"bench", cmd_bench}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - first, argv + first);
    fprintf(stderr, "advsweep: error: unknown command '%s' (try advsweep --help)\n", cmd);
    return ADV_ERR_INPUT;
}
