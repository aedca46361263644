/* cli.h — subcommands of the advsweep executable (internal to src/cli). */
#ifndef ADVSWEEP_CLI_H
#define ADVSWEEP_CLI_H

#include <stdio.h>

#include "advsweep/config.h"

/* Each returns the process exit status (0 ok, 2 bad input, 3 interrupted, 1/4 errors). */
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Print "advsweep: error: MSG" for the last adv_err() and return code. */
int cli_fail(int code);

/* Apply "--NAME VALUE" for a training parameter. Returns 1 if argv[*i] was
 * one (advancing *i past its value), 0 if it is not a parameter option, or
 * -1 after recording an ADV_ERR_INPUT. */
int cli_param_option(TrainConfig *cfg, int argc, char **argv, int *i);

/* The parameter reference (for --help). */
void cli_print_params(FILE *out);

/* Parse a duration "SECONDS", "MM:SS", "HH:MM:SS" or "D-HH:MM:SS" into seconds; -1 if bad. */
double cli_parse_duration(const char *text);

#endif
