/* where.c — `--where EXPR`: a subset of points named by parameter values.
 *
 *   expr   := clause (',' clause)*
 *   clause := NAME op values
 *   op     := '=' | '!=' | '<' | '<=' | '>' | '>='
 *   values := item ('|' item)*        (one item for < <= > >=)
 *   item   := VALUE | VALUE '..' VALUE (a range, inclusive; numeric parameters)
 *
 * Values are read with param_set, so they follow the parameter's own rules
 * (strict numbers, choices by name, "auto", "inf"), and a typo is refused with
 * the parameter's message. Pure text and TrainConfig: must not use MPI or HDF5.
 */
#include "advsweep/sweep.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "advsweep/common.h"

#define WHERE_MAX_CLAUSES 64
#define WHERE_MAX_ITEMS 256   /* items of one clause */
#define WHERE_MAX_TEXT 4096
#define WHERE_SEEN_MAX 12      /* distinct values remembered per clause, for messages */
#define REAL_TOL 5e-6          /* relative: what %g's 6 significant digits keep */

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const OP_TEXT[] = {"=", "!=", "<", "<=", ">", ">="};

typedef struct {
    TrainConfig lo, hi; /* the value (lo) or the range lo..hi, in the parameter's field */
    int range;
    char text[256];     /* as written, for messages */
    long used;          /* points whose parameter value satisfies this item */
} Item;

typedef struct {
    const ParamSpec *p;
    int op;
    int n_items;
    Item *items;
    char seen[WHERE_SEEN_MAX][64]; /* values the parameter takes (first few), for messages */
    int n_seen, more_seen;
} Clause;

struct Where {
    char *text;
    int n;
    Clause clause[WHERE_MAX_CLAUSES];
};

const char *where_text(const Where *w) { return w ? w->text : ""; }

void where_destroy(Where **w) {
    if (!w || !*w) return;
    for (int k = 0; k < (*w)->n; k++) free((*w)->clause[k].items);
    free((*w)->text);
    free(*w);
    *w = NULL;
}

/* ---- parsing --------------------------------------------------------------------------- */

/* Copy [a, b) without surrounding blanks into out. */
static void trimmed(char *out, size_t len, const char *a, const char *b) {
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    size_t n = (size_t)(b - a) < len - 1 ? (size_t)(b - a) : len - 1;
    memcpy(out, a, n);
    out[n] = '\0';
}

/* Levenshtein distance of two short names (for "did you mean"). */
static int distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 40 || lb > 40) return 99;
    int row[41];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int best = sub < up + 1 ? sub : up + 1;
            row[j] = best < row[j - 1] + 1 ? best : row[j - 1] + 1;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_name(const char *name) {
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < N_PARAMS; i++) {
        int d = distance(name, PARAMS[i].name);
        if (d < bd) bd = d, best = PARAMS[i].name;
    }
    if (best) return adv_err(ADV_ERR_INPUT, "--where: unknown parameter '%s' (did you mean '%s'?)", name, best);
    return adv_err(ADV_ERR_INPUT, "--where: unknown parameter '%s' (advsweep train --help lists them)", name);
}

static int numeric(const ParamSpec *p) { return p->type == PARAM_INT || p->type == PARAM_REAL; }

/* One value into cfg's field for p (param_set's message, prefixed). */
static int read_value(TrainConfig *cfg, const ParamSpec *p, const char *text) {
    if (param_set(cfg, p, text) == ADV_OK) return ADV_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", adv_errmsg());
    return adv_err(ADV_ERR_INPUT, "--where: %s", msg);
}

static int parse_item(Item *it, const ParamSpec *p, const char *text, const char *clause) {
    memset(it, 0, sizeof *it);
    config_defaults(&it->lo);
    config_defaults(&it->hi);
    snprintf(it->text, sizeof it->text, "%s", text);
    if (!*text) return adv_err(ADV_ERR_INPUT, "--where: '%s': a value is missing", clause);
    const char *dots = p->type == PARAM_TEXT ? NULL : strstr(text, "..");
    if (!dots) return read_value(&it->lo, p, text);
    if (!numeric(p))
        return adv_err(ADV_ERR_INPUT, "--where: '%s': a range a..b needs a numeric parameter (%s takes names)", clause,
                       p->name);
    char a[256], b[256];
    trimmed(a, sizeof a, text, dots);
    trimmed(b, sizeof b, dots + 2, text + strlen(text));
    if (!*a || !*b) return adv_err(ADV_ERR_INPUT, "--where: '%s': a range is written a..b", clause);
    TRY(read_value(&it->lo, p, a));
    TRY(read_value(&it->hi, p, b));
    if (param_value(&it->lo, p) > param_value(&it->hi, p))
        return adv_err(ADV_ERR_INPUT, "--where: '%s': the range %s is empty (%s > %s)", clause, text, a, b);
    it->range = 1;
    return ADV_OK;
}

static int parse_clause(Clause *c, const char *text) {
    /* the operator: the first of = ! < > (names never contain them) */
    const char *op = text;
    while (*op && !strchr("=!<>", *op)) op++;
    char name[128];
    trimmed(name, sizeof name, text, op);
    if (!*op) {
        if (!*name) return adv_err(ADV_ERR_INPUT, "--where: an empty condition (two commas, or one at an end)");
        return adv_err(ADV_ERR_INPUT, "--where: '%s' has no operator (use = != < <= > >=, e.g. m<=64)", text);
    }
    if (!*name) return adv_err(ADV_ERR_INPUT, "--where: '%s' names no parameter", text);
    c->p = param_find(name);
    if (!c->p) return unknown_name(name);
    const char *rest;
    if (op[0] == '!' && op[1] == '=') c->op = OP_NE, rest = op + 2;
    else if (op[0] == '<' && op[1] == '=') c->op = OP_LE, rest = op + 2;
    else if (op[0] == '>' && op[1] == '=') c->op = OP_GE, rest = op + 2;
    else if (op[0] == '<') c->op = OP_LT, rest = op + 1;
    else if (op[0] == '>') c->op = OP_GT, rest = op + 1;
    else if (op[0] == '=') c->op = OP_EQ, rest = op + 1 + (op[1] == '='); /* == is = */
    else return adv_err(ADV_ERR_INPUT, "--where: '%s': unknown operator (use = != < <= > >=)", text);
    if (*rest && strchr("=!<>", *rest))
        return adv_err(ADV_ERR_INPUT, "--where: '%s': unknown operator (use = != < <= > >=)", text);
    if (c->op >= OP_LT && !numeric(c->p))
        return adv_err(ADV_ERR_INPUT, "--where: '%s': %s needs a numeric parameter (%s takes names: use = or !=)", text,
                       OP_TEXT[c->op], c->p->name);
    /* items */
    int n = 1;
    for (const char *q = rest; *q; q++) n += *q == '|';
    if (n > WHERE_MAX_ITEMS) return adv_err(ADV_ERR_INPUT, "--where: '%s': more than %d values", text, WHERE_MAX_ITEMS);
    if (c->op >= OP_LT && n > 1)
        return adv_err(ADV_ERR_INPUT, "--where: '%s': %s takes one value (a list needs = or !=)", text, OP_TEXT[c->op]);
    c->items = xcalloc((size_t)n, sizeof(Item));
    const char *a = rest;
    for (int k = 0; k < n; k++) {
        const char *b = strchr(a, '|');
        if (!b) b = a + strlen(a);
        char value[256];
        trimmed(value, sizeof value, a, b);
        c->n_items = k + 1;
        TRY(parse_item(&c->items[k], c->p, value, text));
        if (c->items[k].range && c->op >= OP_LT)
            return adv_err(ADV_ERR_INPUT, "--where: '%s': %s takes a value, not a range", text, OP_TEXT[c->op]);
        a = *b ? b + 1 : b;
    }
    return ADV_OK;
}

int where_parse(Where **out, const char *expr) {
    *out = NULL;
    if (!expr) expr = "";
    if (strlen(expr) > WHERE_MAX_TEXT)
        return adv_err(ADV_ERR_INPUT, "--where: longer than %d characters", WHERE_MAX_TEXT);
    const char *p = expr;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return adv_err(ADV_ERR_INPUT, "--where: empty (e.g. --where 'attack=pgd,m<=64')");
    Where *w = xcalloc(1, sizeof *w);
    w->text = xstrdup(expr);
    int rc = ADV_OK;
    const char *a = expr;
    for (;;) {
        const char *b = strchr(a, ',');
        if (!b) b = a + strlen(a);
        if (w->n == WHERE_MAX_CLAUSES) {
            rc = adv_err(ADV_ERR_INPUT, "--where: more than %d conditions", WHERE_MAX_CLAUSES);
            break;
        }
        char clause[WHERE_MAX_TEXT + 1];
        trimmed(clause, sizeof clause, a, b);
        Clause *c = &w->clause[w->n++];
        rc = parse_clause(c, clause);
        if (rc != ADV_OK || !*b) break;
        a = b + 1;
    }
    if (rc != ADV_OK) where_destroy(&w);
    *out = w;
    return rc;
}

/* ---- matching -------------------------------------------------------------------------- */

static int real_cmp(double x, double v) {
    if (x == v) return 0;
    if (isfinite(x) && isfinite(v) && fabs(x - v) <= REAL_TOL * fmax(fabs(x), fabs(v))) return 0;
    return x < v ? -1 : 1;
}

/* -1, 0, 1: the point's value against the item's bound `b`. */
static int cmp_value(const ParamSpec *p, const TrainConfig *cfg, const TrainConfig *b) {
    const char *x = (const char *)cfg + p->offset, *y = (const char *)b + p->offset;
    switch (p->type) {
    case PARAM_INT: {
        int64_t u = *(const int64_t *)x, v = *(const int64_t *)y;
        return (u > v) - (u < v);
    }
    case PARAM_REAL: return real_cmp(*(const double *)x, *(const double *)y);
    case PARAM_CHOICE: return *(const int *)x != *(const int *)y;
    case PARAM_TEXT: return strcmp(x, y) != 0;
    }
    return 1;
}

static int item_holds(const Clause *c, const Item *it, const TrainConfig *cfg) {
    if (it->range) return cmp_value(c->p, cfg, &it->lo) >= 0 && cmp_value(c->p, cfg, &it->hi) <= 0;
    int d = cmp_value(c->p, cfg, &it->lo);
    switch (c->op) {
    case OP_EQ:
    case OP_NE: return d == 0;
    case OP_LT: return d < 0;
    case OP_LE: return d <= 0;
    case OP_GT: return d > 0;
    case OP_GE: return d >= 0;
    }
    return 0;
}

static void remember(Clause *c, const TrainConfig *cfg) {
    char v[CONFIG_TEXT_MAX];
    param_format(v, sizeof v, cfg, c->p);
    if (c->p->type == PARAM_REAL && isfinite(param_value(cfg, c->p))) snprintf(v, sizeof v, "%g", param_value(cfg, c->p));
    for (int k = 0; k < c->n_seen; k++)
        if (!strcmp(c->seen[k], v)) return;
    if (c->n_seen == WHERE_SEEN_MAX) {
        c->more_seen = 1;
        return;
    }
    size_t n = strlen(v) < sizeof c->seen[0] - 1 ? strlen(v) : sizeof c->seen[0] - 1;
    memcpy(c->seen[c->n_seen], v, n);
    c->seen[c->n_seen++][n] = '\0';
}

int where_match(Where *w, const TrainConfig *cfg) {
    int all = 1;
    for (int k = 0; k < w->n; k++) {
        Clause *c = &w->clause[k];
        int any = 0;
        for (int j = 0; j < c->n_items; j++)
            if (item_holds(c, &c->items[j], cfg)) {
                c->items[j].used++;
                any = 1;
            }
        remember(c, cfg);
        if (c->op == OP_NE) any = !any;
        all &= any;
    }
    return all;
}

int where_check_used(const Where *w, long matched, const char *what) {
    for (int k = 0; k < w->n; k++) {
        const Clause *c = &w->clause[k];
        for (int j = 0; j < c->n_items; j++) {
            if (c->items[j].used) continue;
            char takes[WHERE_SEEN_MAX * 66 + 8] = "";
            for (int s = 0; s < c->n_seen; s++) {
                strcat(takes, s ? ", " : "");
                strcat(takes, c->seen[s]);
            }
            if (c->more_seen) strcat(takes, ", ...");
            if (c->op >= OP_LT)
                return adv_err(ADV_ERR_INPUT, "--where: %s%s%s holds for no point of %s (%s takes %s)", c->p->name,
                               OP_TEXT[c->op], c->items[j].text, what, c->p->name, takes);
            return adv_err(ADV_ERR_INPUT, "--where: %s%s%s: no point of %s has %s %s %s (%s takes %s)", c->p->name,
                           OP_TEXT[c->op], c->items[j].text, what, c->p->name, c->items[j].range ? "in" : "=",
                           c->items[j].text, c->p->name, takes);
        }
    }
    if (matched == 0) return adv_err(ADV_ERR_INPUT, "--where '%s' matches no point of %s", w->text, what);
    return ADV_OK;
}
