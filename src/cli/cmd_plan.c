/* cmd_plan.c — `advsweep plan` (being written). */
#include "advsweep/common.h"
#include "cli.h"

int cmd_plan(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail(adv_err(ADV_ERR_INTERNAL, "advsweep plan is not built yet"));
}
