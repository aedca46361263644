/* options.c — parameter options shared by the subcommands, read from PARAMS[]. */
#include <stdlib.h>
#include <string.h>

#include "advsweep/common.h"
#include "cli.h"

int cli_fail(int code) {
    fprintf(stderr, "advsweep: error: %s\n", adv_errmsg());
    return code;
}

int cli_param_option(TrainConfig *cfg, int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0) return 0;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    char key[64];
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (len >= sizeof key) return 0;
    memcpy(key, name, len);
    key[len] = '\0';
    for (char *c = key; *c; c++)
        if (*c == '-') *c = '_'; /* --pgd-steps == --pgd_steps */
    const ParamSpec *p = param_find(key);
    if (!p) return 0;
    const char *value;
    if (eq) value = eq + 1;
    else if (*i + 1 < argc) value = argv[++*i];
    else {
        adv_err(ADV_ERR_INPUT, "option --%s needs a value", key);
        return -1;
    }
    return param_set(cfg, p, value) == ADV_OK ? 1 : -1;
}

void cli_print_params(FILE *out) {
    fprintf(out, "Training parameters (also the keys of job files):\n");
    for (int i = 0; i < N_PARAMS; i++) {
        const ParamSpec *p = &PARAMS[i];
        fprintf(out, "  --%-18s %s [default %s]\n", p->name, p->help, p->default_text[0] ? p->default_text : "\"\"");
    }
}

double cli_parse_duration(const char *text) {
    if (!text || !*text) return -1;
    long days = 0;
    const char *dash = strchr(text, '-');
    if (dash) {
        char *end;
        days = strtol(text, &end, 10);
        if (end != dash || days < 0) return -1;
        text = dash + 1;
    }
    double parts[3];
    int count = 0;
    const char *p = text;
    while (count < 3) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0) return -1;
        parts[count++] = v;
        if (*end == ':') p = end + 1;
        else if (*end == '\0') break;
        else return -1;
    }
    double seconds = 0;
    if (dash && count == 1) seconds = parts[0] * 3600; /* D-HH */
    else
        for (int k = 0; k < count; k++) seconds = seconds * 60 + parts[k];
    return seconds + 86400.0 * (double)days;
}
