/* cmd_status.c — `advsweep status` (being written). */
#include "advsweep/common.h"
#include "cli.h"

int cmd_status(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail(adv_err(ADV_ERR_INTERNAL, "advsweep status is not built yet"));
}
