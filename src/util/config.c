/* config.c — the one table of training parameters, and its parser/printer. */
#include "advsweep/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "advsweep/common.h"

static const char *const MODEL_NAMES[] = {"deep", "twolayer", NULL};
static const char *const ACT_NAMES[] = {"relu", "softplus", "quadrelu", NULL};
static const char *const INPUT_NAMES[] = {"linear", "relu", NULL};
static const char *const LOSS_NAMES[] = {"logistic", "square", NULL};
static const char *const DATA_NAMES[] = {"sphere", "teacher", "shatter", "file", NULL};
static const char *const ATTACK_NAMES[] = {"none", "random", "fgsm", "pgd", NULL};
static const char *const LR_RULE_NAMES[] = {"free", "theorem", NULL};
static const char *const PRECISION_NAMES[] = {"f64", "f32", NULL};

#define OFF(field) offsetof(TrainConfig, field)
#define BIG 9.0e15 /* largest integer we accept: exact in a double */

const ParamSpec PARAMS[] = {
    {"model", PARAM_CHOICE, OFF(model), "deep", 0, 0, 0, MODEL_NAMES,
     "network: deep (eq. 1, trains W1..WH) or twolayer (eq. 4, symmetric init, trains all w)"},
    {"activation", PARAM_CHOICE, OFF(activation), "relu", 0, 0, 0, ACT_NAMES,
     "activation sigma: relu, softplus (smooth, Assumption 5.1), quadrelu = relu(z)^2 (two-layer, App. C.2)"},
    {"input_layer", PARAM_CHOICE, OFF(input_layer), "linear", 0, 0, 0, INPUT_NAMES,
     "deep net first layer: linear x0 = A x (eq. 1 as written) or relu x0 = relu(A x) (Allen-Zhu et al.)"},
    {"loss", PARAM_CHOICE, OFF(loss), "logistic", 0, 0, 0, LOSS_NAMES,
     "loss l(f, y): logistic log(1 + exp(-y f)) or square (f - y)^2 / 2"},
    {"m", PARAM_INT, OFF(m), "64", 1, BIG, 0, NULL, "width (even for the two-layer net)"},
    {"H", PARAM_INT, OFF(H), "2", 1, 1000, 0, NULL, "depth: number of trained m x m layers (deep net)"},
    {"d", PARAM_INT, OFF(d), "8", 2, BIG, 0, NULL, "input dimension; inputs lie on the unit sphere of R^d"},
    {"n", PARAM_INT, OFF(n), "48", 1, BIG, 0, NULL, "number of training points"},
    {"delta", PARAM_REAL, OFF(delta), "0.1", 0, 2, PARAM_MAX_OPEN, NULL,
     "perturbation radius: B(x) = {x' on the sphere : |x' - x| <= delta}"},
    {"data", PARAM_CHOICE, OFF(data), "sphere", 0, 0, 0, DATA_NAMES,
     "training data: sphere (uniform, random labels, 2 delta-compatible), teacher (labels of a random "
     "two-layer net, compatible), shatter (Theorem 6.1 clusters), file (HDF5 /x, /y)"},
    {"data_file", PARAM_TEXT, OFF(data_file), "", 0, 0, 0, NULL, "HDF5 file with /x (n x d) and /y (n) for data=file"},
    {"teacher_width", PARAM_INT, OFF(teacher_width), "8", 1, 1e6, 0, NULL, "hidden units of the teacher network (data=teacher)"},
    {"shatter_spread", PARAM_REAL, OFF(shatter_spread), "0.5", 0, 1, PARAM_MIN_OPEN, NULL,
     "radius of each shattering cluster in units of delta (data=shatter)"},
    {"attack", PARAM_CHOICE, OFF(attack), "pgd", 0, 0, 0, ATTACK_NAMES,
     "training attack A: none, random (uniform in B(x)), fgsm, pgd"},
    {"pgd_steps", PARAM_INT, OFF(pgd_steps), "5", 1, 1e6, 0, NULL, "PGD steps k of the training attack"},
    {"pgd_step", PARAM_REAL, OFF(pgd_step), "auto", 0, 1e6, PARAM_MIN_OPEN | PARAM_ZERO_AUTO, NULL,
     "PGD step length eta; auto = 2.5 delta / k"},
    {"pgd_restarts", PARAM_INT, OFF(pgd_restarts), "1", 1, 1e6, 0, NULL,
     "PGD restarts (the worst point per sample is kept; restarts after the first start at random)"},
    {"pgd_random_start", PARAM_INT, OFF(pgd_random_start), "0", 0, 1, 0, NULL,
     "1 = the first PGD restart also starts at a random point of B(x)"},
    {"eval_steps", PARAM_INT, OFF(eval_steps), "20", 1, 1e6, 0, NULL, "PGD steps of the strong evaluation attack"},
    {"eval_restarts", PARAM_INT, OFF(eval_restarts), "4", 1, 1e6, 0, NULL,
     "restarts of the strong evaluation attack (first from x, others random)"},
    {"eval_count", PARAM_INT, OFF(eval_count), "8", 0, 1e5, 0, NULL,
     "robust-loss evaluations spread evenly over the run (plus step 0 and the last step)"},
    {"R", PARAM_REAL, OFF(R), "inf", 0, INFINITY, PARAM_MIN_OPEN | PARAM_ALLOW_INF, NULL,
     "radius of B(R): |W(h) - W0(h)|_F <= R / sqrt(m) (deep), |W - W0|_F <= R (two-layer); inf = no projection"},
    {"epsilon", PARAM_REAL, OFF(epsilon), "0.1", 0, 1e300, PARAM_MIN_OPEN, NULL,
     "target surrogate loss epsilon (success: some L_A(W_t) <= epsilon, t >= 1)"},
    {"targets", PARAM_TEXT, OFF(targets), "auto", 0, 0, 0, NULL,
     "target losses answered by the same run, comma-separated (first step with L_A <= each is recorded); "
     "auto = the job's epsilon values; epsilon is always one of them"},
    {"lr_rule", PARAM_CHOICE, OFF(lr_rule), "free", 0, 0, 0, LR_RULE_NAMES,
     "rule for an auto step size: free = c_alpha / (m H^2) (deep) or c_alpha (two-layer), epsilon-free, T = "
     "max_steps; theorem = Thm 4.1 / 5.1: alpha proportional to epsilon and T derived from it"},
    {"lr", PARAM_REAL, OFF(lr), "auto", 0, 1e300, PARAM_MIN_OPEN | PARAM_ZERO_AUTO, NULL,
     "step size alpha; auto = from lr_rule"},
    {"steps", PARAM_INT, OFF(steps), "1000", 1, BIG, PARAM_ZERO_AUTO, NULL,
     "gradient steps T; auto = max_steps (free) or c_T R^2 / (m eps alpha) (deep), c_T sqrt(m) / alpha "
     "(two-layer) (theorem), capped at max_steps"},
    {"c_alpha", PARAM_REAL, OFF(c_alpha), "auto", 0, 1e300, PARAM_MIN_OPEN | PARAM_ZERO_AUTO, NULL,
     "constant of the step-size rule; auto = 40 (free) or 400 (theorem): the same step at epsilon = 0.1, "
     "calibrated so that the default problem converges in 1000 steps"},
    {"c_T", PARAM_REAL, OFF(c_T), "1", 0, 1e300, PARAM_MIN_OPEN, NULL, "constant of the step-count rule (theorem)"},
    {"max_steps", PARAM_INT, OFF(max_steps), "1000", 1, BIG, 0, NULL, "cap on a derived T; T itself under lr_rule free"},
    {"early_stop", PARAM_INT, OFF(early_stop), "0", 0, BIG, 0, NULL,
     "stop after this many consecutive steps with L_A <= early_stop_target (outcome reached); 0 = off"},
    {"early_stop_target", PARAM_REAL, OFF(early_stop_target), "auto", 0, 1e300, PARAM_MIN_OPEN | PARAM_ZERO_AUTO, NULL,
     "early-stop threshold; auto = the smallest target"},
    {"plateau_window", PARAM_INT, OFF(plateau_window), "0", 0, BIG, 0, NULL,
     "stop as a plateau when min_t L_A improved by less than plateau_tol (relative) over this many steps; 0 = off"},
    {"plateau_tol", PARAM_REAL, OFF(plateau_tol), "1e-3", 0, 1, PARAM_MIN_OPEN | PARAM_MAX_OPEN, NULL,
     "relative improvement of min_t L_A below which a window of steps counts as a plateau"},
    {"record_dense", PARAM_INT, OFF(record_dense), "100", 1, 1e7, 0, NULL, "record every step up to this one"},
    {"record_max", PARAM_INT, OFF(record_max), "256", 2, 1e7, 0, NULL,
     "at most this many trajectory records (geometrically spaced after record_dense)"},
    {"precision", PARAM_CHOICE, OFF(precision), "f64", 0, 0, 0, PRECISION_NAMES,
     "arithmetic of weights and activations: f64 (the reference) or f32 (SGEMM; losses, norms and distances "
     "still accumulate in double; same data and initialisation, rounded)"},
    {"seed", PARAM_INT, OFF(seed), "1", 0, BIG, 0, NULL, "seed of data, initialisation and attack streams"},
};
const int N_PARAMS = (int)(sizeof PARAMS / sizeof PARAMS[0]);

const ParamSpec *param_find(const char *name) {
    for (int i = 0; i < N_PARAMS; i++)
        if (strcmp(PARAMS[i].name, name) == 0) return &PARAMS[i];
    return NULL;
}

static int range_error(const ParamSpec *p, const char *text) {
    char lo[64], hi[64];
    snprintf(lo, sizeof lo, "%s %g", (p->flags & PARAM_MIN_OPEN) ? ">" : ">=", p->min);
    if (isinf(p->max))
        snprintf(hi, sizeof hi, "%s", (p->flags & PARAM_ALLOW_INF) ? " or inf" : "");
    else
        snprintf(hi, sizeof hi, " and %s %g", (p->flags & PARAM_MAX_OPEN) ? "<" : "<=", p->max);
    return adv_err(ADV_ERR_INPUT, "parameter %s: bad value '%s' (must be %s%s%s)", p->name, text, lo, hi,
                   (p->flags & PARAM_ZERO_AUTO) ? ", or auto" : "");
}

static int in_range(const ParamSpec *p, double v) {
    if (isinf(v) && v > 0) return (p->flags & PARAM_ALLOW_INF) != 0;
    if (isnan(v)) return 0;
    if ((p->flags & PARAM_MIN_OPEN) ? !(v > p->min) : !(v >= p->min)) return 0;
    if ((p->flags & PARAM_MAX_OPEN) ? !(v < p->max) : !(v <= p->max)) return 0;
    return 1;
}

/* Why text, a number but for its form, is not written plain ("+8", "08"); NULL if that is not it. */
static const char *not_plain(const char *text, int integer) {
    long long i;
    double r;
    if (text[0] == '+' && text[1] != '-' && (integer ? adv_parse_int(text + 1, &i) : adv_parse_real(text + 1, &r, 1)) == 0)
        return "plain decimal: no '+' sign";
    const char *digits = text + (text[0] == '-');
    if (integer && digits[0] == '0' && digits[1] && strspn(digits, "0123456789") == strlen(digits))
        return "plain decimal: no leading zeros";
    return NULL;
}

int param_set(TrainConfig *cfg, const ParamSpec *p, const char *text) {
    char *field = (char *)cfg + p->offset;
    /* Strict: the text is the value, nothing around it (" 8", "0x40", "8x" and,
     * for an integer, "1e3" are refused), in job files as on the command line. */
    if (!*text && p->type != PARAM_TEXT)
        return adv_err(ADV_ERR_INPUT, "parameter %s: bad value '' (empty)", p->name);
    if ((p->flags & PARAM_ZERO_AUTO) && strcmp(text, "auto") == 0) { /* stored as 0 */
        if (p->type == PARAM_INT) *(int64_t *)field = 0;
        else *(double *)field = 0.0;
        return ADV_OK;
    }
    switch (p->type) {
    case PARAM_INT: {
        long long v;
        int prc = adv_parse_int(text, &v);
        if (prc == -2 || (prc == 0 && fabs((double)v) > BIG))
            return adv_err(ADV_ERR_INPUT, "parameter %s: bad value '%s' (out of range)", p->name, text);
        if (prc != 0)
            return adv_err(ADV_ERR_INPUT, "parameter %s: bad value '%s' (%s)", p->name, text,
                           not_plain(text, 1) ? not_plain(text, 1) : "must be an integer");
        if (!in_range(p, (double)v)) return range_error(p, text);
        *(int64_t *)field = (int64_t)v;
        return ADV_OK;
    }
    case PARAM_REAL: {
        double v;
        int prc = adv_parse_real(text, &v, 1);
        if (prc == -2) return adv_err(ADV_ERR_INPUT, "parameter %s: bad value '%s' (out of range)", p->name, text);
        if (prc != 0)
            return adv_err(ADV_ERR_INPUT, "parameter %s: bad value '%s' (%s)", p->name, text,
                           not_plain(text, 0) ? not_plain(text, 0) : "must be a number");
        if (!in_range(p, v)) return range_error(p, text);
        *(double *)field = v;
        return ADV_OK;
    }
    case PARAM_CHOICE:
        for (int i = 0; p->choices[i]; i++)
            if (strcmp(p->choices[i], text) == 0) {
                *(int *)field = i;
                return ADV_OK;
            }
        {
            char list[256] = "";
            for (int i = 0; p->choices[i]; i++) {
                if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, p->choices[i], sizeof list - strlen(list) - 1);
            }
            return adv_err(ADV_ERR_INPUT, "parameter %s: unknown value '%s' (one of: %s)", p->name, text, list);
        }
    case PARAM_TEXT:
        if (strlen(text) >= CONFIG_TEXT_MAX)
            return adv_err(ADV_ERR_INPUT, "parameter %s: value longer than %d characters", p->name, CONFIG_TEXT_MAX - 1);
        snprintf(field, CONFIG_TEXT_MAX, "%s", text);
        return ADV_OK;
    }
    return adv_err(ADV_ERR_INTERNAL, "parameter %s: unknown type", p->name);
}

void param_format(char *buf, size_t len, const TrainConfig *cfg, const ParamSpec *p) {
    const char *field = (const char *)cfg + p->offset;
    if ((p->flags & PARAM_ZERO_AUTO) && param_value(cfg, p) == 0.0) {
        snprintf(buf, len, "auto");
        return;
    }
    switch (p->type) {
    case PARAM_INT: snprintf(buf, len, "%lld", (long long)*(const int64_t *)field); break;
    case PARAM_REAL: {
        double v = *(const double *)field;
        if (isinf(v)) snprintf(buf, len, "inf");
        else snprintf(buf, len, "%.17g", v);
        break;
    }
    case PARAM_CHOICE: snprintf(buf, len, "%s", p->choices[*(const int *)field]); break;
    case PARAM_TEXT: snprintf(buf, len, "%s", field); break;
    }
}

double param_value(const TrainConfig *cfg, const ParamSpec *p) {
    const char *field = (const char *)cfg + p->offset;
    switch (p->type) {
    case PARAM_INT: return (double)*(const int64_t *)field;
    case PARAM_REAL: return *(const double *)field;
    case PARAM_CHOICE: return (double)*(const int *)field;
    case PARAM_TEXT: return 0.0;
    }
    return 0.0;
}

void config_defaults(TrainConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < N_PARAMS; i++) {
        int rc = param_set(cfg, &PARAMS[i], PARAMS[i].default_text);
        (void)rc; /* defaults are valid by construction; test_config checks it */
    }
}

const char *choice_name(const char *param, int value) {
    const ParamSpec *p = param_find(param);
    if (!p || p->type != PARAM_CHOICE || value < 0) return "?";
    for (int i = 0; p->choices[i]; i++)
        if (i == value) return p->choices[i];
    return "?";
}

int config_validate(const TrainConfig *c) {
    if (c->model == MODEL_TWOLAYER && c->m % 2 != 0)
        return adv_err(ADV_ERR_INPUT, "parameter m: bad value '%lld' (the two-layer net needs an even width)",
                       (long long)c->m);
    if (c->model == MODEL_DEEP && c->activation == ACT_QUADRELU)
        return adv_err(ADV_ERR_INPUT,
                       "parameter activation: bad value 'quadrelu' (quadratic relu is defined for model=twolayer only)");
    if (c->model == MODEL_TWOLAYER && c->input_layer != INPUT_LINEAR)
        return adv_err(ADV_ERR_INPUT, "parameter input_layer: bad value 'relu' (only the deep net has an input layer)");
    if (c->data == DATA_FILE && c->data_file[0] == '\0')
        return adv_err(ADV_ERR_INPUT, "parameter data_file: missing (data=file needs an HDF5 file with /x and /y)");
    if (c->data != DATA_FILE && c->data_file[0] != '\0')
        return adv_err(ADV_ERR_INPUT, "parameter data_file: given but data=%s (set data=file to use it)",
                       choice_name("data", c->data));
    double targets[TARGETS_MAX];
    if (config_targets(targets, c) < 0) return ADV_ERR_INPUT;
    if (c->record_dense >= c->record_max)
        return adv_err(ADV_ERR_INPUT, "parameter record_dense: bad value '%lld' (must be < record_max = %lld)",
                       (long long)c->record_dense, (long long)c->record_max);
    return ADV_OK;
}

/* Ascending order for qsort. */
static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int config_targets(double *out, const TrainConfig *c) {
    double v[TARGETS_MAX + 1];
    int count = 0;
    v[count++] = c->epsilon;
    const char *p = c->targets;
    while (isspace((unsigned char)*p)) p++;
    if (strcmp(p, "auto") != 0 && *p) {
        for (;;) {
            char *end;
            errno = 0;
            double t = strtod(p, &end);
            const char *q = end;
            while (isspace((unsigned char)*q)) q++;
            if (end == p || errno || !(t > 0) || !isfinite(t) || (*q && *q != ','))
                return adv_err(ADV_ERR_INPUT,
                               "parameter targets: bad value '%s' (must be positive numbers separated by commas, or auto)",
                               c->targets), -1;
            if (count == TARGETS_MAX + 1)
                return adv_err(ADV_ERR_INPUT, "parameter targets: more than %d targets", TARGETS_MAX), -1;
            v[count++] = t;
            if (!*q) break;
            p = q + 1;
            while (isspace((unsigned char)*p)) p++;
        }
    }
    qsort(v, (size_t)count, sizeof v[0], by_value);
    int distinct = 0;
    for (int i = count - 1; i >= 0; i--) /* descending, without repeats */
        if (distinct == 0 || v[i] != out[distinct - 1]) {
            if (distinct == TARGETS_MAX)
                return adv_err(ADV_ERR_INPUT, "parameter targets: more than %d targets", TARGETS_MAX), -1;
            out[distinct++] = v[i];
        }
    return distinct;
}
