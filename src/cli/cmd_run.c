/* cmd_run.c — `advsweep run` (being written). */
#include "advsweep/common.h"
#include "cli.h"

int cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail(adv_err(ADV_ERR_INTERNAL, "advsweep run is not built yet"));
}
