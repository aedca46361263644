/* cli.h — subcommands of the advsweep executable (internal to src/cli). */
#ifndef ADVSWEEP_CLI_H
#define ADVSWEEP_CLI_H

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include "advsweep/common.h"

#include "advsweep/config.h"

/* Each returns the process exit status (0 ok, 2 bad input, 3 interrupted, 1/4 errors). */
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_stop(int argc, char **argv);

/* Print "advsweep: error: MSG" for the last adv_err() and return code. */
int cli_fail(int code);

/* ---- options (options.c): one getopt_long parser for every command ---- */

/* One option of a command. */
typedef struct {
    const char *name;       /* long name without "--" (an underscore also matches a dash) */
    char short_name;        /* 'o' for -o, or 0 */
    int takes_value;        /* 1: --name VALUE or --name=VALUE */
    const char *value_name; /* for messages: "file name", "number of seconds"; NULL: "value" */
} CliOption;

typedef struct {
    const char *command; /* for "see advsweep COMMAND --help" */
    int argc;
    char **argv;
    const CliOption *opts;
    int n_opts;
    struct option *longopts;
    char **dashed;
    unsigned char *seen;
    char optstring[128];
    int tail; /* > 0 after "--" or the first positional of a stop_at_positional parser */
} CliParser;

enum { CLI_END = -1, CLI_POSITIONAL = -2, CLI_BAD = -3 };

/* Start parsing argv[1..argc) against opts. stop_at_positional: everything
 * from the first positional on is positional (main's global options before
 * the command). Free with cli_parser_end(). */
int cli_parser_begin(CliParser *p, const char *command, int argc, char **argv, const CliOption *opts, int n_opts,
                     int stop_at_positional);
/* The next option: its index in opts (>= 0) with *value its value (NULL for a
 * flag); CLI_POSITIONAL with *value the argument, in command-line order;
 * CLI_END; or CLI_BAD after recording ADV_ERR_INPUT with a one-line message
 * naming the option: an unknown or abbreviated option,
 * a missing value (also when the next element is an option: "--data_file -o
 * x.h5"), a value given to a flag, or an option given twice. */
int cli_next(CliParser *p, const char **value);
void cli_parser_end(CliParser *p);

/* opts = extra[0..n_extra) then one value option per training parameter
 * (PARAMS[] order, so index - n_extra is the PARAMS index). Caller frees. */
CliOption *cli_param_options(int *count, const CliOption *extra, int n_extra);

/* The parameter reference (for --help). */
void cli_print_params(FILE *out);

/* Strict option values: one line naming the option and the value on failure
 * (ADV_ERR_INPUT), *out unchanged. */
int cli_long(long *out, const char *option, const char *text, long min, long max);
int cli_real(double *out, const char *option, const char *text, double min, int min_open, const char *unit);

/* Parse a duration "SECONDS", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM" or
 * "D-HH:MM:SS" into seconds (only the last field may have a fraction); -1 if bad. */
double cli_parse_duration(const char *text);

#endif
