/* options.c — the one option parser of every subcommand (getopt_long), the
 * parameter options generated from PARAMS[], and strict values for options.
 *
 * Rules, the same for every command: --opt=value and --opt value; -o value
 * and -ovalue; no abbreviations; an option given twice is refused; a missing
 * value is never taken from the next option; `--` ends the options. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "advsweep/memory.h"
#include "cli.h"

int cli_fail(int code) {
    fprintf(stderr, "advsweep: error: %s\n", adv_errmsg());
    return code;
}

/* ---- the parser ------------------------------------------------------------------ */

int cli_parser_begin(CliParser *p, const char *command, int argc, char **argv, const CliOption *opts, int n_opts,
                     int stop_at_positional) {
    memset(p, 0, sizeof *p);
    p->command = command;
    p->argc = argc;
    p->argv = argv;
    p->opts = opts;
    p->n_opts = n_opts;
    /* A long option per name, plus the dashed spelling of names with an
     * underscore (--pgd-steps == --pgd_steps); both map to one option. */
    int n_long = 0;
    for (int i = 0; i < n_opts; i++) n_long += 1 + (strchr(opts[i].name, '_') != NULL);
    p->longopts = xcalloc((size_t)n_long + 1, sizeof(struct option));
    p->dashed = xcalloc((size_t)n_long + 1, sizeof(char *));
    p->seen = xcalloc((size_t)n_opts + 1, 1);
    char *s = p->optstring;
    *s++ = stop_at_positional ? '+' : '-'; /* '-': positionals come back in order, as option 1 */
    *s++ = ':';                            /* a missing value returns ':' */
    int k = 0;
    for (int i = 0; i < n_opts; i++) {
        for (int spelling = 0; spelling < 2; spelling++) {
            const char *name = opts[i].name;
            if (spelling == 1) {
                if (!strchr(name, '_')) break;
                char *d = xstrdup(name);
                for (char *c = d; *c; c++)
                    if (*c == '_') *c = '-';
                p->dashed[k] = d;
                name = d;
            }
            p->longopts[k] = (struct option){name, opts[i].takes_value ? required_argument : no_argument, NULL,
                                             256 + i};
            k++;
        }
        if (opts[i].short_name) {
            if ((size_t)(s - p->optstring) + 3 >= sizeof p->optstring) return adv_err(ADV_ERR_INTERNAL, "too many short options");
            *s++ = opts[i].short_name;
            if (opts[i].takes_value) *s++ = ':';
        }
    }
    *s = '\0';
    optind = 0; /* GNU: reinitialise (main's global options ran before) */
    opterr = 0;
    return ADV_OK;
}

void cli_parser_end(CliParser *p) {
    if (!p->longopts) return;
    for (int i = 0; p->longopts[i].name; i++) free(p->dashed[i]);
    free(p->dashed);
    free(p->longopts);
    free(p->seen);
    p->longopts = NULL;
}

/* The option as the user wrote it, for messages: "--grace", "-o". */
static void option_text(char *buf, size_t len, const char *element) {
    size_t n = strcspn(element, "=");
    if (element[0] == '-' && element[1] != '-') n = element[1] ? 2 : 1;
    snprintf(buf, len, "%.*s", (int)n, element);
}

/* A value that is really the next option: "-o", "--fresh" (not "-", not "-3", not "-.5"). */
static int looks_like_option(const char *v) {
    if (v[0] != '-' || v[1] == '\0') return 0;
    if ((v[1] >= '0' && v[1] <= '9') || v[1] == '.') return 0;
    return 1;
}

static const char *long_name_of(const CliOption *o, char *buf, size_t len) {
    if (o->name[0]) snprintf(buf, len, "--%s", o->name);
    else snprintf(buf, len, "-%c", o->short_name);
    return buf;
}

/* "a" or "an" before a value's name ("an expression", "a file name"). */
static const char *article(const char *what) { return strchr("aeiouAEIOU", what[0]) && what[0] ? "an" : "a"; }

/* Record nothing more: the message is in adv_errmsg(). */
static int bad(int code) {
    (void)code;
    return CLI_BAD;
}

int cli_next(CliParser *p, const char **value) {
    *value = NULL;
    if (p->tail > 0) /* after "--": the rest are positionals */
        return p->tail < p->argc ? (*value = p->argv[p->tail++], CLI_POSITIONAL) : CLI_END;
    int longindex = -1;
    int c = getopt_long(p->argc, p->argv, p->optstring, p->longopts, &longindex);
    char shown[80], name[80];
    if (c == -1) {
        p->tail = optind;
        return cli_next(p, value);
    }
    if (c == 1) { /* a positional argument, in order */
        *value = optarg;
        return CLI_POSITIONAL;
    }
    if (c == '?') {
        if (optopt > 0 && optopt < 256)
            return bad(adv_err(ADV_ERR_INPUT, "unknown option '-%c' (see advsweep%s%s --help)", optopt, *p->command ? " " : "", p->command));
        option_text(shown, sizeof shown, p->argv[optind - 1]);
        if (optopt >= 256) /* a flag given a value: --fresh=1 */
            return bad(adv_err(ADV_ERR_INPUT, "option %s takes no value ('%s')", shown, p->argv[optind - 1]));
        return bad(adv_err(ADV_ERR_INPUT, "unknown option '%s' (see advsweep%s%s --help)", shown, *p->command ? " " : "", p->command));
    }
    int index = -1;
    if (c == ':' ? optopt >= 256 : c >= 256) index = (c == ':' ? optopt : c) - 256;
    else
        for (int i = 0; i < p->n_opts; i++)
            if (p->opts[i].short_name == (c == ':' ? optopt : c)) index = i;
    if (index < 0) return bad(adv_err(ADV_ERR_INTERNAL, "option parser: unexpected option code %d", c));
    const CliOption *o = &p->opts[index];
    const char *what = o->value_name ? o->value_name : "value";
    int is_long = c == ':' ? optopt >= 256 : c >= 256;
    /* A value in the next element ("--grace 30", "-o F") rather than attached ("--grace=30", "-oF"). */
    int separate = c != ':' && o->takes_value && optarg == p->argv[optind - 1];
    if (is_long) {
        /* the element holding the option */
        const char *element = p->argv[optind - 1 - separate];
        option_text(shown, sizeof shown, element);
        if (c == ':') return bad(adv_err(ADV_ERR_INPUT, "option %s needs %s %s", shown, article(what), what));
        /* getopt_long takes unambiguous prefixes (--gra for --grace): we do not */
        const char *full = p->longopts[longindex].name;
        if (strlen(full) != strcspn(element + 2, "="))
            return bad(adv_err(ADV_ERR_INPUT, "unknown option '%s' (options are not abbreviated: did you mean --%s?)",
                           shown, full));
    } else {
        snprintf(shown, sizeof shown, "-%c", c == ':' ? optopt : c);
        if (c == ':') return bad(adv_err(ADV_ERR_INPUT, "option %s needs %s %s", shown, article(what), what));
    }
    if (o->takes_value) {
        *value = optarg;
        /* "--data_file -o x.h5": the value is missing, "-o" is the next option */
        if (separate && looks_like_option(optarg))
            return bad(adv_err(ADV_ERR_INPUT, "option %s needs %s %s, found the option '%s' (write %s=%s if that is the value)",
                           shown, article(what), what, optarg, is_long ? shown : long_name_of(o, name, sizeof name), optarg));
    }
    if (p->seen[index]) {
        if (o->name[0] && o->short_name)
            return bad(adv_err(ADV_ERR_INPUT, "option %s is given more than once (-%c and --%s are the same option)",
                           shown, o->short_name, o->name));
        if (strchr(o->name, '_'))
            return bad(adv_err(ADV_ERR_INPUT, "option --%s is given more than once (a dash and an underscore are the same)",
                           o->name));
        return bad(adv_err(ADV_ERR_INPUT, "option %s is given more than once", long_name_of(o, name, sizeof name)));
    }
    p->seen[index] = 1;
    return index;
}

/* ---- the training parameters as options ----------------------------------------------- */

CliOption *cli_param_options(int *count, const CliOption *extra, int n_extra) {
    CliOption *opts = xcalloc((size_t)(N_PARAMS + n_extra), sizeof(CliOption));
    for (int i = 0; i < n_extra; i++) opts[i] = extra[i];
    for (int i = 0; i < N_PARAMS; i++)
        opts[n_extra + i] = (CliOption){PARAMS[i].name, 0, 1, "value"};
    *count = N_PARAMS + n_extra;
    return opts;
}

void cli_print_params(FILE *out) {
    fprintf(out, "Training parameters (also the keys of job files; --NAME VALUE or --NAME=VALUE,\n"
                 "an underscore may be written as a dash):\n");
    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        fprintf(out, "  --%-18s %s [default %s]\n", p->name, p->help, p->default_text[0] ? p->default_text : "\"\"");
    }
}

/* ---- values of options ------------------------------------------------------------------ */

int cli_long(long *out, const char *option, const char *text, long min, long max) {
    long long v;
    int rc = adv_parse_int(text, &v);
    if (rc != 0 || v < min || v > max) {
        if (max == LONG_MAX)
            return adv_err(ADV_ERR_INPUT, "option %s: bad value '%s' (must be a whole number >= %ld)", option, text, min);
        return adv_err(ADV_ERR_INPUT, "option %s: bad value '%s' (must be a whole number in %ld..%ld)", option, text,
                       min, max);
    }
    *out = (long)v;
    return ADV_OK;
}

int cli_real(double *out, const char *option, const char *text, double min, int min_open, const char *unit) {
    double v;
    int rc = adv_parse_real(text, &v, 0);
    if (rc != 0 || !isfinite(v) || (min_open ? !(v > min) : !(v >= min)))
        return adv_err(ADV_ERR_INPUT, "option %s: bad value '%s' (must be %s %s %g)", option, text, unit,
                       min_open ? ">" : ">=", min);
    *out = v;
    return ADV_OK;
}

/* A run of digits with an optional fraction ("12", "12.5"): seconds or a clock field. */
static int clock_field(const char *s, size_t n, double *out, int fraction_ok) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || (fraction_ok && buf[i] == '.'))) return -1;
    double v;
    if (adv_parse_real(buf, &v, 0) != 0) return -1;
    *out = v;
    return 0;
}

double cli_parse_duration(const char *text) {
    if (!text || !*text) return -1;
    double days = 0;
    const char *dash = strchr(text, '-');
    if (dash) {
        if (clock_field(text, (size_t)(dash - text), &days, 0) != 0) return -1;
        text = dash + 1;
    }
    double parts[3];
    int count = 0;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ":");
        if (count == 3) return -1;
        /* only the last field (seconds, or a lone number) may have a fraction */
        if (clock_field(p, n, &parts[count], p[n] == '\0') != 0) return -1;
        count++;
        if (p[n] == '\0') break;
        p += n + 1;
    }
    for (int k = 1; k < count; k++)
        if (parts[k] >= 60) return -1; /* MM:SS with 75 seconds is a typo */
    double seconds = 0;
    if (dash && count == 1) seconds = parts[0] * 3600; /* D-HH */
    else if (dash && count == 2) seconds = parts[0] * 3600 + parts[1] * 60; /* D-HH:MM */
    else
        for (int k = 0; k < count; k++) seconds = seconds * 60 + parts[k];
    return seconds + 86400.0 * days;
}

int cli_size(double *out, const char *option, const char *text) {
    double v = mem_parse_size(text);
    if (v < 0)
        return adv_err(ADV_ERR_INPUT, "option %s: bad value '%s' (a size such as 4G, 512M or 1500 (MB), > 0)", option,
                       text);
    *out = v;
    return ADV_OK;
}
