/* main.c — the advsweep executable: dispatch to a subcommand. Stays thin. */
#include <stdio.h>
#include <string.h>

#include "advsweep/blas.h"
#include "advsweep/common.h"
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
            "  merge    combine sweep files of the same job (shards, clusters)\n"
            "  bench    measure this machine's DGEMM rate and training-step rate\n"
            "\n"
            "advsweep COMMAND --help shows a command's options; --version prints the version.\n"
            "exit status: 0 ok, 1 internal error, 2 bad input (nothing written), 3 interrupted (rerun to resume), 4 I/O error\n");
}

int main(int argc, char **argv) {
    blas_kernel_select(argv); /* before anything else: may re-execute with better BLAS kernels */
    if (argc < 2) {
        usage(stderr);
        return ADV_ERR_INPUT;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("advsweep %s\n", ADVSWEEP_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train}, {"run", cmd_run},     {"plan", cmd_plan},
                    {"status", cmd_status}, {"merge", cmd_merge}, {"bench", cmd_bench}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "advsweep: error: unknown command '%s' (try advsweep --help)\n", cmd);
    return ADV_ERR_INPUT;
}
