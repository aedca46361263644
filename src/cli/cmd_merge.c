/* cmd_merge.c — `advsweep merge` (being written). */
#include "advsweep/common.h"
#include "cli.h"

int cmd_merge(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail(adv_err(ADV_ERR_INTERNAL, "advsweep merge is not built yet"));
}
