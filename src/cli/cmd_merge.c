/* cmd_merge.c — `advsweep merge -o OUT.h5 IN.h5...`: combine sweep files of any
 * jobs (shards, runs on several clusters, other grids) by point key into a new
 * file. Serial; the inputs are only read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/store.h"
#include "cli.h"

static void merge_usage(FILE *out) {
    fprintf(out,
            "usage: advsweep merge -o OUT.h5 IN.h5 [IN.h5 ...]\n"
            "\n"
            "Combine sweep files of any jobs (shards, runs on several clusters, other grids) into\n"
            "OUT.h5: the union of their points, matched by point key (every parameter, the data file's\n"
            "contents, the numerics version), the first input's rows first. Each point takes its\n"
            "finished result (done, failed or diverged), else the most advanced status (running,\n"
            "pending, skipped); every per-point dataset comes along (weights and data too). A point\n"
            "finished in several inputs must hold bit-identical results there (timings and worker\n"
            "identity aside): otherwise the merge names the conflicting points and writes nothing.\n"
            "Inputs of another numerics version are refused. OUT.h5 is written under a temporary\n"
            "name and renamed when complete; the analysis reads it like any sweep file. OUT.h5 must\n"
            "not be one of the inputs (the same file under any name), and an existing OUT.h5 is\n"
            "replaced only if it is a sweep file.\n");
}

int cmd_merge(int argc, char **argv) {
    static const CliOption options[] = {{"help", 'h', 0, NULL}, {"output", 'o', 1, "file name"}};
    const char *out = NULL;
    const char **inputs = xcalloc((size_t)argc + 1, sizeof(char *));
    int n = 0, help = 0;
    CliParser parser;
    int rc = cli_parser_begin(&parser, "merge", argc, argv, options, 2, 0);
    const char *value;
    for (int k; rc == ADV_OK && (k = cli_next(&parser, &value)) != CLI_END;) {
        if (k == CLI_BAD) rc = ADV_ERR_INPUT;
        else if (k == CLI_POSITIONAL) inputs[n++] = value;
        else if (k == 0) help = 1;
        else out = value;
    }
    cli_parser_end(&parser);
    if (rc != ADV_OK) goto done;
    if (help) {
        merge_usage(stdout);
        free(inputs);
        return 0;
    }
    if (!out) {
        rc = adv_err(ADV_ERR_INPUT, "merge needs an output file: -o OUT.h5 (see advsweep merge --help)");
        goto done;
    }
    if (n == 0) {
        rc = adv_err(ADV_ERR_INPUT, "merge needs at least one input file (see advsweep merge --help)");
        goto done;
    }
    char target[4096];
    rc = store_output_target(out, target, sizeof target); /* a symlink: its target is written, the link stays */
    if (rc != ADV_OK) goto done;
    out = target;
    rc = store_check_output(out, inputs, NULL, n); /* never an input, never a file that is not a sweep */
    if (rc != ADV_OK) goto done;
    long *taken = xcalloc((size_t)n, sizeof(long));
    rc = store_merge_counts(out, inputs, n, taken);
    if (rc == ADV_OK) {
        StoreStatus s;
        rc = store_status_of(out, &s);
        if (rc == ADV_OK) {
            printf("merged %d file%s into %s: %ld points, %ld done, %ld failed, %ld diverged, %ld pending, %ld running, "
                   "%ld skipped;",
                   n, n == 1 ? "" : "s", out, s.n_points, s.counts[RUN_DONE], s.counts[RUN_FAILED],
                   s.counts[RUN_DIVERGED], s.counts[RUN_PENDING], s.counts[RUN_RUNNING], s.counts[RUN_SKIPPED]);
            for (int j = 0; j < n; j++) printf("%s %ld from %s", j ? "," : "", taken[j], inputs[j]);
            printf("\n");
        }
    }
    free(taken);
done:
    free(inputs);
    return rc == ADV_OK ? 0 : cli_fail(rc);
}
