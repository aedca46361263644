/* jobfile.c — job files: YAML (libyaml's document API) to a Job, the grid's
 * axes and ranges, the point numbering, and the embedded default job.
 *
 * A Job is immutable after job_parse. Point `index` is decoded as a mixed-radix
 * number: the replicate seed is the fastest digit, then the grid axes from the
 * last written to the first. Every message names ORIGIN:LINE (libyaml marks,
 * 1-based) and the key at fault. Must not use MPI or HDF5.
 */
#include "advsweep/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "advsweep/common.h"

#define JOB_MAX_POINTS 1000000L /* per range, and for the whole grid */
/* Limits on the YAML itself, checked on the event stream before the document
 * is built: libyaml's scanner costs O(depth) per token (40,000 nested '[' took
 * 26 s) and its anchor table is a list searched per anchor and per alias. A
 * job needs depth 3 (top level, grid, axis) and one node per value. */
#define JOB_MAX_DEPTH 64
#define JOB_MAX_NODES (2 * JOB_MAX_POINTS + 100000L)
#define JOB_MAX_ANCHORS 1000L   /* anchors (&a), and separately aliases (*a) */
#define JOB_MAX_BYTES (64L << 20) /* a 10^6-value list is 7 MB of text */
#define JOB_NAME_MAX 64
#define JOB_MAX_AXES 64         /* >= N_PARAMS, checked by job_parse */
#define RANGE_TOL 1e-9          /* ranges include `to` up to this relative error */
#define RANGE_DIGITS 12         /* real range values are rounded to 12 significant digits */

/* One value of an axis, as the TrainConfig field holds it. */
typedef struct {
    int64_t i;  /* PARAM_INT */
    double r;   /* PARAM_REAL */
    int c;      /* PARAM_CHOICE */
    char *text; /* PARAM_TEXT (owned) */
} AxisValue;

typedef struct {
    const ParamSpec *p;
    long count;
    AxisValue *values; /* (count) in the order written / generated */
} Axis;

/* A data file of data=file points: as written, and once bound (job_bind_data)
 * the file it resolved to, its shape and its content digest. */
typedef struct {
    char *text;      /* data_file as written in the job */
    char *path;      /* NULL until bound */
    long n, d;
    uint64_t digest;
} DataFile;

struct Job {
    char *text, *origin, *name, *axes;
    TrainConfig base; /* defaults <- fixed */
    int n_axes;
    Axis axis[JOB_MAX_AXES]; /* grid axes in the order written (each parameter once) */
    long seeds;       /* replicates: seed = base.seed + 0..seeds-1, fastest */
    long points;
    int store_weights;
    double store_weights_max_mb;
    long line_n, line_d; /* where the job gives n and d (fixed or grid), 0 = not given */
    DataFile *data;   /* (n_data) distinct data files of data=file points */
    long n_data, n_bound;
    JobSearch search;
};

/* ---- the embedded default ----------------------------------------------------- */

static const char DEFAULT_JOB[] =
    "# The embedded default sweep of advsweep (`advsweep run` with no job file).\n"
    "#\n"
    "# Question (Gao et al. 2019, Thm 4.1 and Sec. 6): how wide must the deep net\n"
    "# (eq. 1, H = 2 trained layers) be before gradient descent drives the surrogate\n"
    "# loss below epsilon, with and without a PGD attack during training?\n"
    "# Data: n = 48 random points on the sphere in d = 8, labels random but\n"
    "# 2 delta-compatible. Step size alpha = c_alpha / (m H^2) (lr_rule free,\n"
    "# c_alpha auto = 40): epsilon is only a target, so each (m, attack, seed) is\n"
    "# trained once and answers all three epsilons. A run stops at the first step\n"
    "# with L_A <= 0.05 (reached), when min L_A improved by less than 0.1 % over 400\n"
    "# steps (plateau), or at T = 2000 (budget: censored, not a failure).\n"
    "# Size: 7 widths x 3 epsilons x 2 attacks x 3 seeds = 126 points, 42 training\n"
    "# runs, about 10 s on 2 cores (mpirun -n 3: a master and 2 workers). Measured:\n"
    "# m = 2 plateaus for every seed; clean training reaches every epsilon from\n"
    "# m = 8, PGD training reaches every epsilon from m = 16 (at m = 8 two PGD seeds\n"
    "# are still improving at T: censored); report.py gives the bounds.\n"
    "name: demo\n"
    "description: >\n"
    "  Width needed to reach L_A <= eps: deep net H=2, d=8, n=48, delta=0.1,\n"
    "  m = 2..128, eps in {0.2, 0.1, 0.05}, no attack vs PGD-5, 3 seeds,\n"
    "  epsilon-free step, T <= 2000 with reach/plateau stopping.\n"
    "seeds: 3\n"
    "fixed:\n"
    "  model: deep\n"
    "  H: 2\n"
    "  d: 8\n"
    "  n: 48\n"
    "  delta: 0.1\n"
    "  data: sphere\n"
    "  lr_rule: free        # alpha = c_alpha / (m H^2): epsilon is only a target\n"
    "  steps: 2000          # T, the budget of every run\n"
    "  early_stop: 1        # stop at the first step with L_A <= 0.05 (reached)\n"
    "  plateau_window: 400  # stop when min L_A improved by < 0.1 % in 400 steps\n"
    "  plateau_tol: 0.001\n"
    "  pgd_steps: 5\n"
    "  eval_steps: 10       # the strong evaluation attack (robust-loss estimate)\n"
    "  eval_restarts: 2\n"
    "  eval_count: 4\n"
    "  seed: 1\n"
    "grid:\n"
    "  m: {from: 2, to: 128, factor: 2}\n"
    "  epsilon: [0.2, 0.1, 0.05]\n"
    "  attack: [none, pgd]\n";

const char *job_default_text(void) { return DEFAULT_JOB; }

const JobSearch *job_search(const Job *job) { return &job->search; }
int job_axis_count(const Job *job) { return job->n_axes; }
const ParamSpec *job_axis(const Job *job, int a) { return job->axis[a].p; }
long job_axis_length(const Job *job, int a) { return job->axis[a].count; }
long job_seeds(const Job *job) { return job->seeds; }

void job_point_coords(const Job *job, long index, long *coords) {
    long rest = index;
    coords[job->n_axes] = rest % job->seeds;
    rest /= job->seeds;
    for (int a = job->n_axes - 1; a >= 0; a--) {
        coords[a] = rest % job->axis[a].count;
        rest /= job->axis[a].count;
    }
}

long job_point_index(const Job *job, const long *coords) {
    long index = 0;
    for (int a = 0; a < job->n_axes; a++) index = index * job->axis[a].count + coords[a];
    return index * job->seeds + coords[job->n_axes];
}

/* ---- accessors ---------------------------------------------------------------- */

const char *job_text(const Job *job) { return job->text; }
const char *job_name(const Job *job) { return job->name; }
long job_points(const Job *job) { return job->points; }
const char *job_axes(const Job *job) { return job->axes; }
int job_store_weights(const Job *job) { return job->store_weights; }
double job_store_weights_max_mb(const Job *job) { return job->store_weights_max_mb; }

static void value_apply(TrainConfig *cfg, const ParamSpec *p, const AxisValue *v) {
    char *field = (char *)cfg + p->offset;
    switch (p->type) {
    case PARAM_INT: *(int64_t *)field = v->i; break;
    case PARAM_REAL: *(double *)field = v->r; break;
    case PARAM_CHOICE: *(int *)field = v->c; break;
    case PARAM_TEXT: snprintf(field, CONFIG_TEXT_MAX, "%s", v->text); break;
    }
}

/* The bound data file whose as-written name is `text`, or NULL. */
static const DataFile *bound_data(const Job *job, const char *text) {
    for (long k = 0; k < job->n_data; k++)
        if (job->data[k].path && !strcmp(job->data[k].text, text)) return &job->data[k];
    return NULL;
}

void job_point(TrainConfig *cfg, const Job *job, long index) {
    memcpy(cfg, &job->base, sizeof *cfg); /* padding too: equal points compare equal */
    long rest = index;
    long replicate = rest % job->seeds;
    rest /= job->seeds;
    for (int a = job->n_axes - 1; a >= 0; a--) {
        const Axis *ax = &job->axis[a];
        value_apply(cfg, ax->p, &ax->values[rest % ax->count]);
        rest /= ax->count;
    }
    cfg->seed += replicate;
    if (job->n_bound && cfg->data == DATA_FILE) {
        const DataFile *df = bound_data(job, cfg->data_file);
        if (df) { /* the file it resolved to; its shape unless the job gives one (job_bind_data checked it) */
            snprintf(cfg->data_file, sizeof cfg->data_file, "%s", df->path);
            if (!job->line_n) cfg->n = df->n;
            if (!job->line_d) cfg->d = df->d;
        }
    }
}

/* ---- data files ------------------------------------------------------------------ */

long job_data_file_count(const Job *job) { return job->n_data; }

const char *job_data_file(const Job *job, long k) { return k >= 0 && k < job->n_data ? job->data[k].text : NULL; }

const char *job_data_file_path(const Job *job, long k) {
    return k >= 0 && k < job->n_data ? job->data[k].path : NULL;
}

int job_data_digest(const Job *job, const char *path, uint64_t *digest) {
    for (long k = 0; k < job->n_data; k++)
        if (job->data[k].path && !strcmp(job->data[k].path, path)) {
            if (digest) *digest = job->data[k].digest;
            return 1;
        }
    return 0;
}

/* The value of n or d the job gives to its data=file points: the fixed value
 * or, for an axis, the first value differing from `want` (every combination
 * of axes is a point, so each value meets every data file). */
static int64_t given_value(const Job *job, const char *name, int64_t want) {
    const ParamSpec *p = param_find(name);
    for (int a = 0; a < job->n_axes; a++)
        if (job->axis[a].p == p) {
            for (long k = 0; k < job->axis[a].count; k++)
                if (job->axis[a].values[k].i != want) return job->axis[a].values[k].i;
            return want;
        }
    return *(const int64_t *)((const char *)&job->base + p->offset);
}

int job_bind_data(Job *job, long k, const char *path, long n, long d, uint64_t digest) {
    if (k < 0 || k >= job->n_data) return adv_err(ADV_ERR_INTERNAL, "job_bind_data: no data file %ld", k);
    DataFile *df = &job->data[k];
    if (strlen(path) >= CONFIG_TEXT_MAX)
        return adv_err(ADV_ERR_INPUT, "%s: key 'data_file': %s resolves to %s, longer than %d characters", job->origin,
                       df->text, path, CONFIG_TEXT_MAX - 1);
    int64_t gn = job->line_n ? given_value(job, "n", n) : n, gd = job->line_d ? given_value(job, "d", d) : d;
    if (gn != n)
        return adv_err(ADV_ERR_INPUT,
                       "%s:%ld: key 'n': data file %s holds n = %ld points, but the job gives n = %lld (leave n out "
                       "to take it from the file)",
                       job->origin, job->line_n, path, n, (long long)gn);
    if (gd != d)
        return adv_err(ADV_ERR_INPUT,
                       "%s:%ld: key 'd': data file %s holds points of dimension d = %ld, but the job gives d = %lld "
                       "(leave d out to take it from the file)",
                       job->origin, job->line_d, path, d, (long long)gd);
    if (!df->path) job->n_bound++;
    free(df->path);
    df->path = xstrdup(path);
    df->n = n;
    df->d = d;
    df->digest = digest;
    return ADV_OK;
}

/* The distinct data_file values that data=file points use. Every combination
 * of axis values is a point, so these are the data_file axis's values (or the
 * fixed one) whenever some point has data=file. */
static void collect_data_files(Job *job) {
    const ParamSpec *pd = param_find("data"), *pf = param_find("data_file");
    const Axis *data_axis = NULL, *file_axis = NULL;
    for (int a = 0; a < job->n_axes; a++) {
        if (job->axis[a].p == pd) data_axis = &job->axis[a];
        if (job->axis[a].p == pf) file_axis = &job->axis[a];
    }
    int any = data_axis ? 0 : job->base.data == DATA_FILE;
    for (long k = 0; data_axis && k < data_axis->count; k++) any |= data_axis->values[k].c == DATA_FILE;
    if (!any) return;
    long count = file_axis ? file_axis->count : 1;
    job->data = xcalloc((size_t)count, sizeof *job->data);
    for (long k = 0; k < count; k++) {
        const char *text = file_axis ? file_axis->values[k].text : job->base.data_file;
        if (!*text) continue; /* refused by validation (data=file needs a data_file) */
        job->data[job->n_data++].text = xstrdup(text);
    }
}

/* Position and stride of the epsilon axis in the expansion, or -1. */
static int epsilon_axis(const Job *job, long *stride) {
    const ParamSpec *ep = param_find("epsilon");
    long step = job->seeds;
    for (int a = job->n_axes - 1; a >= 0; a--) {
        if (job->axis[a].p == ep) {
            *stride = step;
            return a;
        }
        step *= job->axis[a].count;
    }
    return -1;
}

long job_training_rep(const Job *job, long index) {
    long stride;
    int a = epsilon_axis(job, &stride);
    if (a < 0) return index;
    TrainConfig cfg;
    job_point(&cfg, job, index);
    if (train_uses_epsilon(&cfg)) return index;
    long k = (index / stride) % job->axis[a].count;
    return index - k * stride;
}

long job_training_members(const Job *job, long rep, long *members) {
    long stride;
    int a = epsilon_axis(job, &stride);
    if (a < 0 || job_training_rep(job, rep) != rep || (rep / stride) % job->axis[a].count != 0) {
        if (members) members[0] = rep;
        return 1;
    }
    TrainConfig cfg;
    job_point(&cfg, job, rep);
    if (train_uses_epsilon(&cfg)) {
        if (members) members[0] = rep;
        return 1;
    }
    for (long k = 0; members && k < job->axis[a].count; k++) members[k] = rep + k * stride;
    return job->axis[a].count;
}

long job_training_group_max(const Job *job) {
    long stride;
    int a = epsilon_axis(job, &stride);
    return a < 0 ? 1 : job->axis[a].count;
}

void job_destroy(Job **job) {
    if (!job || !*job) return;
    Job *j = *job;
    for (int a = 0; a < j->n_axes; a++) {
        for (long k = 0; k < j->axis[a].count; k++) free(j->axis[a].values[k].text);
        free(j->axis[a].values);
    }
    for (long k = 0; k < j->n_data; k++) {
        free(j->data[k].text);
        free(j->data[k].path);
    }
    free(j->data);
    free(j->text);
    free(j->origin);
    free(j->name);
    free(j->axes);
    free(j);
    *job = NULL;
}

/* ---- parsing helpers ------------------------------------------------------------ */

typedef struct {
    const char *origin;
    yaml_document_t *doc;
    Job *job;
    long fixed_line[JOB_MAX_AXES], grid_line[JOB_MAX_AXES]; /* line of each parameter (by PARAMS index; 0 = not given) */
    long seeds_line, search_line, search_axis_line, search_target_line;
    TrainConfig scratch; /* defaults, then whatever param_set last wrote: parses one field at a time */
} Ctx;

static long line_of(const yaml_node_t *node) { return node ? (long)node->start_mark.line + 1 : 1; }

/* "ORIGIN:LINE: key 'K': MESSAGE" */
__attribute__((format(printf, 4, 5))) static int fail(const Ctx *c, const yaml_node_t *at, const char *key,
                                                      const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return adv_err(ADV_ERR_INPUT, "%s:%ld: key '%s': %s", c->origin, line_of(at), key, what);
}

/* Prefix the message param_set just recorded with "ORIGIN:LINE: ". */
static int fail_param(const Ctx *c, const yaml_node_t *at) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", adv_errmsg());
    return adv_err(ADV_ERR_INPUT, "%s:%ld: %s", c->origin, line_of(at), msg);
}

static yaml_node_t *node_at(const Ctx *c, int index) { return yaml_document_get_node(c->doc, index); }

static const char *scalar(const yaml_node_t *node) {
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* A plain empty / ~ / null scalar: "key:" with nothing after it. */
static int is_null(const yaml_node_t *node) {
    const char *s = scalar(node);
    if (!s || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *node_kind(const yaml_node_t *node) {
    switch (node->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

typedef struct {
    const char *name;
    long index; /* position in the mapping */
} KeyRef;

static int keyref_cmp(const void *a, const void *b) {
    const KeyRef *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : (x->index > y->index) - (x->index < y->index);
}

/* Checks that `map` is a mapping whose keys are distinct scalars. Reports the
 * first key in document order that is not a scalar, holds a NUL or repeats an
 * earlier key; duplicates are found by sorting (a mapping may have 10^6 keys). */
static int check_mapping(const Ctx *c, const yaml_node_t *map, const char *key) {
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, key, "expected a mapping (key: value, ...), found %s", node_kind(map));
    const yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    long n = (long)(map->data.mapping.pairs.top - pairs), bad = n;
    for (long i = 0; i < n && bad == n; i++) {
        const yaml_node_t *k = node_at(c, pairs[i].key);
        if (!scalar(k) || strlen(scalar(k)) != k->data.scalar.length) bad = i;
    }
    long dup = n, first = -1; /* the earliest key equal to an earlier one, and that one */
    if (bad > 1) {
        KeyRef *refs = xcalloc((size_t)bad, sizeof *refs);
        for (long i = 0; i < bad; i++) refs[i] = (KeyRef){scalar(node_at(c, pairs[i].key)), i};
        qsort(refs, (size_t)bad, sizeof *refs, keyref_cmp);
        for (long i = 1; i < bad; i++) /* refs[i] is the second of its name: the group's first repeat */
            if (!strcmp(refs[i].name, refs[i - 1].name) && (i == 1 || strcmp(refs[i - 1].name, refs[i - 2].name)) &&
                refs[i].index < dup)
                dup = refs[i].index, first = refs[i - 1].index;
        free(refs);
    }
    if (dup < n) {
        const yaml_node_t *k = node_at(c, pairs[dup].key);
        return fail(c, k, scalar(k), "duplicate key (first at line %ld)", line_of(node_at(c, pairs[first].key)));
    }
    if (bad < n) {
        const yaml_node_t *k = node_at(c, pairs[bad].key);
        if (!scalar(k))
            return adv_err(ADV_ERR_INPUT, "%s:%ld: keys must be scalars (found %s)", c->origin, line_of(k), node_kind(k));
        return adv_err(ADV_ERR_INPUT, "%s:%ld: a key contains a NUL character", c->origin, line_of(k));
    }
    return ADV_OK;
}

/* The text of a scalar value, or an error naming `key`. */
static int scalar_value(const char **out, const Ctx *c, const yaml_node_t *node, const char *key) {
    const char *s = scalar(node);
    if (!s) return fail(c, node, key, "expected a single value, found %s", node_kind(node));
    if (strlen(s) != node->data.scalar.length) return fail(c, node, key, "value contains a NUL character");
    if (is_null(node)) return fail(c, node, key, "missing value");
    *out = s;
    return ADV_OK;
}

static int parse_bool(int *out, const Ctx *c, const yaml_node_t *node, const char *key) {
    const char *s;
    TRY(scalar_value(&s, c, node, key));
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, ADV_OK;
        if (!strcasecmp(s, no[i])) return *out = 0, ADV_OK;
    }
    return fail(c, node, key, "bad value '%s' (must be true or false)", s);
}

static int parse_real(double *out, const Ctx *c, const yaml_node_t *node, const char *key) {
    const char *s = "";
    TRY(scalar_value(&s, c, node, key));
    double v; /* strict, as every number (common.h): "+2", "0x2" and " 2" are refused */
    if (adv_parse_real(s, &v, 0) != 0 || !isfinite(v))
        return fail(c, node, key, "bad value '%s' (must be a finite number, plain decimal)", s);
    *out = v;
    return ADV_OK;
}

static int parse_long(long *out, const Ctx *c, const yaml_node_t *node, const char *key, long lo, long hi) {
    const char *s = "";
    TRY(scalar_value(&s, c, node, key));
    long long v; /* strict, as every number (common.h): "+3", "03" and " 3" are refused */
    if (adv_parse_int(s, &v) != 0 || v < lo || v > hi)
        return fail(c, node, key, "bad value '%s' (must be an integer >= %ld and <= %ld, plain decimal)", s, lo, hi);
    *out = (long)v;
    return ADV_OK;
}

/* The parameter named by key node `k`, or an error (with a hint for a case slip). */
static int find_param(const ParamSpec **out, const Ctx *c, const yaml_node_t *k) {
    const char *name = scalar(k);
    *out = param_find(name);
    if (*out) return ADV_OK;
    for (int i = 0; i < N_PARAMS; i++)
        if (!strcasecmp(PARAMS[i].name, name))
            return fail(c, k, name, "unknown parameter (did you mean '%s'?)", PARAMS[i].name);
    return fail(c, k, name, "unknown parameter (advsweep train --help lists them)");
}

/* Record that parameter p is given in `section` at key node k; an error if the
 * other section already has it. */
static int claim_param(Ctx *c, const ParamSpec *p, const yaml_node_t *k, int in_grid) {
    long i = p - PARAMS;
    long other = in_grid ? c->fixed_line[i] : c->grid_line[i];
    if (other) return fail(c, k, p->name, "given both in fixed and in grid (also at line %ld)", other);
    (in_grid ? c->grid_line : c->fixed_line)[i] = line_of(k);
    return ADV_OK;
}

/* ---- grid axes -------------------------------------------------------------------- */

static void value_read(AxisValue *v, const TrainConfig *cfg, const ParamSpec *p) {
    const char *field = (const char *)cfg + p->offset;
    memset(v, 0, sizeof *v);
    switch (p->type) {
    case PARAM_INT: v->i = *(const int64_t *)field; break;
    case PARAM_REAL: v->r = *(const double *)field; break;
    case PARAM_CHOICE: v->c = *(const int *)field; break;
    case PARAM_TEXT: v->text = xstrdup(field); break;
    }
}

static int value_equal(const ParamSpec *p, const AxisValue *a, const AxisValue *b) {
    switch (p->type) {
    case PARAM_INT: return a->i == b->i;
    case PARAM_REAL: return a->r == b->r;
    case PARAM_CHOICE: return a->c == b->c;
    case PARAM_TEXT: return !strcmp(a->text, b->text);
    }
    return 0;
}

/* Parse `text` as a value of p (the table's range check) and append it to ax.
 * param_set touches only p's field, so one scratch configuration serves every
 * value (config_defaults per value was a fifth of planning a 10^6-point grid). */
static int axis_push(Axis *ax, long cap, Ctx *c, const yaml_node_t *at, const char *text) {
    if (param_set(&c->scratch, ax->p, text) != ADV_OK) return fail_param(c, at);
    if (ax->count >= cap) return fail(c, at, ax->p->name, "more than %ld values", JOB_MAX_POINTS);
    value_read(&ax->values[ax->count++], &c->scratch, ax->p);
    return ADV_OK;
}

/* Orders (value, position) for finding repeats by sorting; one comparator per type. */
typedef struct {
    const AxisValue *v;
    long index;
} ValueRef;

#define BY_INDEX(x, y) ((x)->index > (y)->index) - ((x)->index < (y)->index)
static int ref_cmp_int(const void *a, const void *b) {
    const ValueRef *x = a, *y = b;
    if (x->v->i != y->v->i) return x->v->i < y->v->i ? -1 : 1;
    return BY_INDEX(x, y);
}
static int ref_cmp_real(const void *a, const void *b) { /* never NaN (param_set refuses it); -0 == 0 as in value_equal */
    const ValueRef *x = a, *y = b;
    if (x->v->r != y->v->r) return x->v->r < y->v->r ? -1 : 1;
    return BY_INDEX(x, y);
}
static int ref_cmp_choice(const void *a, const void *b) {
    const ValueRef *x = a, *y = b;
    if (x->v->c != y->v->c) return x->v->c < y->v->c ? -1 : 1;
    return BY_INDEX(x, y);
}
static int ref_cmp_text(const void *a, const void *b) {
    const ValueRef *x = a, *y = b;
    int d = strcmp(x->v->text, y->v->text);
    return d ? d : BY_INDEX(x, y);
}
#undef BY_INDEX

/* Index of the first value (in order) equal to an earlier one, or -1. By
 * sorting: a list may hold 10^6 values (pairwise comparison took hours). */
static long first_repeat(const Axis *ax) {
    if (ax->count < 2) return -1;
    ValueRef *refs = xcalloc((size_t)ax->count, sizeof *refs);
    for (long k = 0; k < ax->count; k++) refs[k] = (ValueRef){&ax->values[k], k};
    int (*cmp)(const void *, const void *) = ax->p->type == PARAM_INT    ? ref_cmp_int
                                             : ax->p->type == PARAM_REAL   ? ref_cmp_real
                                             : ax->p->type == PARAM_CHOICE ? ref_cmp_choice
                                                                           : ref_cmp_text;
    qsort(refs, (size_t)ax->count, sizeof *refs, cmp);
    long repeat = -1;
    for (long k = 1; k < ax->count; k++) /* the second of a run of equal values is its first repeat */
        if (value_equal(ax->p, refs[k].v, refs[k - 1].v) && (k == 1 || !value_equal(ax->p, refs[k - 1].v, refs[k - 2].v)) &&
            (repeat < 0 || refs[k].index < repeat))
            repeat = refs[k].index;
    free(refs);
    return repeat;
}

/* The values in order; the first problem in order is reported: a bad value,
 * or a value listed a second time. */
static int axis_list(Axis *ax, Ctx *c, const yaml_node_t *seq) {
    const char *key = ax->p->name;
    const yaml_node_item_t *items = seq->data.sequence.items.start;
    long n = (long)(seq->data.sequence.items.top - items);
    if (n == 0) return fail(c, seq, key, "empty list (a grid axis needs at least one value)");
    if (n > JOB_MAX_POINTS) return fail(c, seq, key, "more than %ld values", JOB_MAX_POINTS);
    ax->values = xcalloc((size_t)n, sizeof(AxisValue));
    int rc = ADV_OK; /* of the first bad value; values before it are pushed */
    for (long k = 0; k < n && rc == ADV_OK; k++) {
        const yaml_node_t *item = node_at(c, items[k]);
        const char *text;
        rc = scalar_value(&text, c, item, key);
        if (rc == ADV_OK) rc = axis_push(ax, n, c, item, text);
    }
    long repeat = first_repeat(ax); /* before the bad value, so earlier in order */
    if (repeat >= 0) {
        const yaml_node_t *item = node_at(c, items[repeat]);
        return fail(c, item, key, "value '%s' is listed twice", scalar(item));
    }
    return rc;
}

/* Round a generated real to RANGE_DIGITS significant digits, so that
 * {from: 0.1, to: 0.3, step: 0.1} gives exactly [0.1, 0.2, 0.3]. */
static double tidy(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*g", RANGE_DIGITS, v);
    return strtod(buf, NULL);
}

/* {from: A, to: B, factor: F | step: S | count: N [, log: bool]} */
static int axis_range(Axis *ax, Ctx *c, const yaml_node_t *map) {
    const char *key = ax->p->name;
    TRY(check_mapping(c, map, key));
    const yaml_node_t *from = NULL, *to = NULL, *factor = NULL, *step = NULL, *count = NULL, *logn = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(node_at(c, p->key));
        const yaml_node_t *v = node_at(c, p->value);
        if (!strcmp(k, "from")) from = v;
        else if (!strcmp(k, "to")) to = v;
        else if (!strcmp(k, "factor")) factor = v;
        else if (!strcmp(k, "step")) step = v;
        else if (!strcmp(k, "count")) count = v;
        else if (!strcmp(k, "log")) logn = v;
        else
            return fail(c, node_at(c, p->key), key,
                        "unknown range key '%s' (a range is {from, to} and one of factor, step, count [, log])", k);
    }
    if (ax->p->type != PARAM_INT && ax->p->type != PARAM_REAL)
        return fail(c, map, key, "a range needs a numeric parameter (use a list)");
    if (!from || !to) return fail(c, map, key, "a range needs both 'from' and 'to'");
    int forms = !!factor + !!step + !!count;
    if (forms == 0) return fail(c, map, key, "a range needs one of 'factor', 'step' or 'count'");
    if (forms > 1) return fail(c, map, key, "a range takes only one of 'factor', 'step' and 'count'");
    if (logn && !count) return fail(c, logn, key, "'log' applies to count ranges only");

    /* The bounds go through the table, so their range messages are the table's. */
    TrainConfig tmp;
    config_defaults(&tmp);
    const char *text;
    TRY(scalar_value(&text, c, from, key));
    if (param_set(&tmp, ax->p, text) != ADV_OK) return fail_param(c, from);
    double A = param_value(&tmp, ax->p);
    TRY(scalar_value(&text, c, to, key));
    if (param_set(&tmp, ax->p, text) != ADV_OK) return fail_param(c, to);
    double B = param_value(&tmp, ax->p);
    if (!isfinite(A) || !isfinite(B)) return fail(c, map, key, "range bounds must be finite (list inf explicitly)");
    if (A > B) return fail(c, map, key, "from (%g) is greater than to (%g)", A, B);

    double F = 0, S = 0;
    long N = 0, n;
    int logspace = 0;
    if (factor) {
        TRY(parse_real(&F, c, factor, key));
        if (!(F > 1)) return fail(c, factor, key, "factor must be > 1 (got %g)", F);
        if (!(A > 0)) return fail(c, map, key, "a factor range needs from > 0 (got %g)", A);
        double est = log(B * (1 + RANGE_TOL) / A) / log(F); /* A F^k <= B (1 + tol) */
        if (!(est < (double)JOB_MAX_POINTS)) return fail(c, map, key, "the range has more than %ld points", JOB_MAX_POINTS);
        n = (long)floor(est) + 1;
    } else if (step) {
        TRY(parse_real(&S, c, step, key));
        if (!(S > 0)) return fail(c, step, key, "step must be > 0 (got %g)", S);
        double est = (B - A) / S;
        if (!(est < (double)JOB_MAX_POINTS)) return fail(c, map, key, "the range has more than %ld points", JOB_MAX_POINTS);
        n = (long)floor(est * (1 + RANGE_TOL) + RANGE_TOL) + 1;
    } else {
        if (logn) TRY(parse_bool(&logspace, c, logn, "log"));
        TRY(parse_long(&N, c, count, key, 1, JOB_MAX_POINTS));
        if (logspace && !(A > 0)) return fail(c, map, key, "a log-spaced range needs from > 0 (got %g)", A);
        n = N;
    }
    if (n > JOB_MAX_POINTS) return fail(c, map, key, "the range has more than %ld points", JOB_MAX_POINTS);

    ax->values = xcalloc((size_t)n, sizeof(AxisValue));
    for (long k = 0; k < n; k++) {
        double v;
        if (factor) v = A * pow(F, (double)k);
        else if (step) v = A + (double)k * S;
        else if (N == 1) v = A;
        else if (logspace) v = k == N - 1 ? B : exp(log(A) + (log(B) - log(A)) * (double)k / (double)(N - 1));
        else v = k == N - 1 ? B : A + (B - A) * (double)k / (double)(N - 1);
        if (v > B) v = B; /* within the tolerance: `to` itself */
        char buf[64];
        if (ax->p->type == PARAM_INT) snprintf(buf, sizeof buf, "%lld", (long long)llround(v));
        else snprintf(buf, sizeof buf, "%.17g", tidy(v));
        TRY(axis_push(ax, n, c, map, buf));
        if (ax->count >= 2 && value_equal(ax->p, &ax->values[ax->count - 2], &ax->values[ax->count - 1]))
            ax->count--; /* rounding to integers (or a degenerate range) repeated a value */
    }
    return ADV_OK;
}

/* ---- sections ----------------------------------------------------------------------- */

static int parse_fixed(Ctx *c, const yaml_node_t *map) {
    if (is_null(map)) return ADV_OK;
    TRY(check_mapping(c, map, "fixed"));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const ParamSpec *spec;
        TRY(find_param(&spec, c, k));
        TRY(claim_param(c, spec, k, 0));
        const char *text;
        if (v->type == YAML_SEQUENCE_NODE || v->type == YAML_MAPPING_NODE)
            return fail(c, v, spec->name, "fixed takes a single value, found %s (lists and ranges go in grid)",
                        node_kind(v));
        TRY(scalar_value(&text, c, v, spec->name));
        if (param_set(&c->job->base, spec, text) != ADV_OK) return fail_param(c, v);
    }
    return ADV_OK;
}

static int parse_grid(Ctx *c, const yaml_node_t *map) {
    if (is_null(map)) return ADV_OK;
    TRY(check_mapping(c, map, "grid"));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const ParamSpec *spec;
        TRY(find_param(&spec, c, k));
        TRY(claim_param(c, spec, k, 1));
        Axis *ax = &c->job->axis[c->job->n_axes++];
        ax->p = spec;
        if (v->type == YAML_SEQUENCE_NODE) TRY(axis_list(ax, c, v));
        else if (v->type == YAML_MAPPING_NODE) TRY(axis_range(ax, c, v));
        else
            return fail(c, v, spec->name,
                        "a grid axis is a list [a, b, ...] or a range {from: A, to: B, factor|step|count: X} "
                        "(a single value goes in fixed)");
    }
    return ADV_OK;
}

static int parse_options(Ctx *c, const yaml_node_t *map) {
    if (is_null(map)) return ADV_OK;
    TRY(check_mapping(c, map, "options"));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *name = scalar(k);
        if (!strcmp(name, "store_weights")) {
            TRY(parse_bool(&c->job->store_weights, c, v, name));
        } else if (!strcmp(name, "store_weights_max_mb")) {
            TRY(parse_real(&c->job->store_weights_max_mb, c, v, name));
            if (!(c->job->store_weights_max_mb > 0))
                return fail(c, v, name, "bad value '%s' (must be > 0)", scalar(v));
        } else {
            return fail(c, k, name, "unknown option (expected store_weights, store_weights_max_mb)");
        }
    }
    return ADV_OK;
}

/* search: {axis: m, target: epsilon, rule: all | fraction F, budgets: [0.5, 1]} — checked
 * against the grid in finish(), when every axis is known. */
static int parse_search(Ctx *c, const yaml_node_t *map) {
    if (is_null(map)) return ADV_OK;
    TRY(check_mapping(c, map, "search"));
    JobSearch *s = &c->job->search;
    s->on = 1;
    s->fraction = 1;
    s->n_budgets = 2; /* T/2 and T: what the analysis needs to call m* budget-stable */
    s->budgets[0] = 0.5;
    s->budgets[1] = 1;
    c->search_line = line_of(map);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *key = scalar(k), *text;
        if (!strcmp(key, "axis") || !strcmp(key, "target")) {
            TRY(scalar_value(&text, c, v, key));
            const ParamSpec *param = param_find(text);
            if (!param)
                return fail(c, v, key, "'%s' is not a parameter (advsweep train --help lists them)", text);
            if (!strcmp(key, "axis")) s->axis = param, c->search_axis_line = line_of(v);
            else s->target = param, c->search_target_line = line_of(v);
        } else if (!strcmp(key, "rule")) {
            TRY(scalar_value(&text, c, v, key));
            double f;
            if (!strcmp(text, "all")) s->fraction = 1;
            else if (!strncmp(text, "fraction ", 9) && adv_parse_real(text + 9, &f, 0) == 0 && f > 0 && f <= 1)
                s->fraction = f;
            else return fail(c, v, key, "bad value '%s' (all, or fraction F with 0 < F <= 1)", text);
        } else if (!strcmp(key, "budgets")) {
            if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, key, "a list of fractions of T, e.g. [0.5, 1]");
            s->n_budgets = 0;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                double b = 0;
                TRY(parse_real(&b, c, node_at(c, *it), key));
                if (!(b > 0 && b <= 1)) return fail(c, node_at(c, *it), key, "bad value %g (a fraction of T in (0, 1])", b);
                if (s->n_budgets == JOB_SEARCH_BUDGETS)
                    return fail(c, v, key, "more than %d budgets", JOB_SEARCH_BUDGETS);
                s->budgets[s->n_budgets++] = b;
            }
            int has_one = 0;
            for (int q = 0; q < s->n_budgets; q++) has_one |= s->budgets[q] == 1;
            if (!has_one) {
                if (s->n_budgets == JOB_SEARCH_BUDGETS) return fail(c, v, key, "more than %d budgets", JOB_SEARCH_BUDGETS);
                s->budgets[s->n_budgets++] = 1; /* T itself, always */
            }
        } else {
            return fail(c, k, key, "unknown key (expected axis, target, rule, budgets)");
        }
    }
    if (!s->axis) return fail(c, map, "search", "missing 'axis' (the widths to search, e.g. axis: m)");
    if (!s->target) return fail(c, map, "search", "missing 'target' (the loss threshold, target: epsilon)");
    return ADV_OK;
}

/* The search's axis must be a numeric grid axis of at least two values, and its
 * target the loss threshold epsilon. */
static int check_search(Ctx *c) {
    JobSearch *s = &c->job->search;
    if (!s->on) return ADV_OK;
    const Axis *ax = NULL;
    char axes[512] = "";
    for (int a = 0; a < c->job->n_axes; a++) {
        if (c->job->axis[a].p == s->axis) ax = &c->job->axis[a];
        if (strlen(axes) + strlen(c->job->axis[a].p->name) + 3 < sizeof axes) {
            if (a) strcat(axes, ", ");
            strcat(axes, c->job->axis[a].p->name);
        }
    }
    const char *name = s->axis->name;
    if (!ax)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'axis': the search axis '%s' is not a grid axis (grid axes: %s)",
                       c->origin, c->search_axis_line, name, axes[0] ? axes : "none");
    if (s->axis->type != PARAM_INT && s->axis->type != PARAM_REAL)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'axis': the search axis '%s' is not numeric", c->origin,
                       c->search_axis_line, name);
    if (!strcmp(name, "seed") || s->axis == s->target)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'axis': cannot search over '%s'", c->origin, c->search_axis_line, name);
    if (ax->count < 2)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'axis': the search axis '%s' has one value (nothing to search)",
                       c->origin, c->search_axis_line, name);
    if (strcmp(s->target->name, "epsilon") != 0)
        return adv_err(ADV_ERR_INPUT,
                       "%s:%ld: key 'target': '%s' is not a loss target (the search finds where L_A <= epsilon: "
                       "target: epsilon)",
                       c->origin, c->search_target_line, s->target->name);
    return ADV_OK;
}

static int parse_name(Ctx *c, const yaml_node_t *v) {
    const char *s;
    TRY(scalar_value(&s, c, v, "name"));
    size_t len = strlen(s);
    if (len > JOB_NAME_MAX) return fail(c, v, "name", "longer than %d characters", JOB_NAME_MAX);
    if (s[0] == '.' || s[0] == '-') return fail(c, v, "name", "bad value '%s' (must not start with '.' or '-')", s);
    for (const char *q = s; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '_' && *q != '.' && *q != '-')
            return fail(c, v, "name", "bad value '%s' (letters, digits, '_', '.' and '-' only)", s);
    free(c->job->name);
    c->job->name = xstrdup(s);
    return ADV_OK;
}

static int parse_root(Ctx *c, const yaml_node_t *root) {
    if (root->type != YAML_MAPPING_NODE)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: a job file is a mapping (name:, seeds:, fixed:, grid:, options:), found %s",
                       c->origin, line_of(root), node_kind(root));
    TRY(check_mapping(c, root, "(top level)"));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *key = scalar(k);
        if (!strcmp(key, "name")) TRY(parse_name(c, v));
        else if (!strcmp(key, "description")) continue; /* free text, not interpreted */
        else if (!strcmp(key, "seeds")) {
            TRY(parse_long(&c->job->seeds, c, v, key, 1, JOB_MAX_POINTS));
            c->seeds_line = line_of(k);
        } else if (!strcmp(key, "fixed")) TRY(parse_fixed(c, v));
        else if (!strcmp(key, "grid")) TRY(parse_grid(c, v));
        else if (!strcmp(key, "options")) TRY(parse_options(c, v));
        else if (!strcmp(key, "search")) TRY(parse_search(c, v));
        else
            return fail(c, k, key, "unknown key (expected name, description, seeds, fixed, grid, options, search)");
    }
    return ADV_OK;
}

/* The shortest "%.*g" text that reads back as v. */
static int shortest_text(char *buf, size_t len, double v) {
    for (int digits = 6; digits <= 17; digits++) {
        int w = snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return w;
    }
    return (int)strlen(buf);
}

/* Every point answers every epsilon of the job: `targets` becomes the explicit
 * list (if any) plus all epsilon values, so that points differing only in
 * epsilon can share one training run (job_training_rep). */
static int fill_targets(Ctx *c) {
    Job *job = c->job;
    const ParamSpec *tp = param_find("targets"), *ep = param_find("epsilon");
    long line = c->grid_line[tp - PARAMS];
    if (line)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'targets': not a grid axis (list the targets in fixed:; every "
                       "epsilon of the grid is one already)", c->origin, line);
    line = c->fixed_line[tp - PARAMS] ? c->fixed_line[tp - PARAMS] : 1;
    const Axis *eps = NULL;
    for (int a = 0; a < job->n_axes; a++)
        if (job->axis[a].p == ep) eps = &job->axis[a];
    /* the explicit list plus epsilon: the axis's first value when epsilon is an axis (the
     * fixed epsilon is then no point's) */
    TrainConfig first = job->base;
    if (eps) first.epsilon = eps->values[0].r;
    double targets[TARGETS_MAX];
    int count = config_targets(targets, &first);
    if (count < 0) return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'targets': %s", c->origin, line, adv_errmsg());
    char text[CONFIG_TEXT_MAX] = "";
    size_t used = 0;
    double all[TARGETS_MAX * 2];
    long n_all = 0;
    for (int q = 0; q < count; q++) all[n_all++] = targets[q];
    for (long k = 0; eps && k < eps->count && n_all < TARGETS_MAX * 2; k++) all[n_all++] = eps->values[k].r;
    for (long k = 0; k < n_all; k++) {
        int seen = 0;
        for (long j = 0; j < k; j++) seen |= all[j] == all[k];
        if (seen) continue;
        char value[40];
        int w = shortest_text(value, sizeof value, all[k]);
        if (used + (size_t)w + 2 >= sizeof text)
            return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'targets': the targets and epsilon values do not fit in %d "
                           "characters", c->origin, line, CONFIG_TEXT_MAX - 1);
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", used ? "," : "", value);
    }
    snprintf(job->base.targets, sizeof job->base.targets, "%s", text);
    double check[TARGETS_MAX];
    if (config_targets(check, &job->base) < 0)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'targets': %s", c->origin, line, adv_errmsg());
    return ADV_OK;
}

/* Seeds, the number of points and the axis names, once every section is read. */
static int finish(Ctx *c, const yaml_node_t *root) {
    Job *job = c->job;
    const ParamSpec *seed = param_find("seed");
    long seed_axis_line = c->grid_line[seed - PARAMS];
    if (job->seeds > 1 && seed_axis_line)
        return adv_err(ADV_ERR_INPUT,
                       "%s:%ld: key 'seeds': replicate seeds cannot be combined with a 'seed' grid axis (line %ld); "
                       "use one of them",
                       c->origin, c->seeds_line, seed_axis_line);
    if (job->seeds > 1 && (double)job->base.seed + (double)(job->seeds - 1) > seed->max)
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'seeds': seed %lld + %ld replicates exceeds the largest seed",
                       c->origin, c->seeds_line, (long long)job->base.seed, job->seeds);
    double points = (double)job->seeds;
    size_t axes_len = 8;
    for (int a = 0; a < job->n_axes; a++) {
        points *= (double)job->axis[a].count;
        axes_len += strlen(job->axis[a].p->name) + 1;
    }
    if (points > (double)JOB_MAX_POINTS) {
        long line = line_of(root);
        for (int a = 0; a < job->n_axes; a++)
            if (c->grid_line[job->axis[a].p - PARAMS] > 0) {
                line = c->grid_line[job->axis[a].p - PARAMS];
                break;
            }
        return adv_err(ADV_ERR_INPUT, "%s:%ld: key 'grid': %.0f points (with seeds), more than %ld", c->origin, line,
                       points, JOB_MAX_POINTS);
    }
    job->points = (long)points;
    const ParamSpec *pn = param_find("n"), *pdim = param_find("d");
    job->line_n = c->fixed_line[pn - PARAMS] ? c->fixed_line[pn - PARAMS] : c->grid_line[pn - PARAMS];
    job->line_d = c->fixed_line[pdim - PARAMS] ? c->fixed_line[pdim - PARAMS] : c->grid_line[pdim - PARAMS];
    collect_data_files(job);
    TRY(check_search(c));
    TRY(fill_targets(c));
    job->axes = xcalloc(axes_len, 1);
    for (int a = 0; a < job->n_axes; a++) {
        if (a) strcat(job->axes, ",");
        strcat(job->axes, job->axis[a].p->name);
    }
    if (job->seeds > 1) strcat(job->axes, job->n_axes ? ",seed" : "seed");
    return ADV_OK;
}

/* Line of a reader error: libyaml gives only the byte offset. */
static long offset_line(const char *text, size_t offset) {
    long line = 1;
    for (size_t i = 0; i < offset && text[i]; i++) line += text[i] == '\n';
    return line;
}

static int syntax_error(const yaml_parser_t *parser, const char *text, const char *origin) {
    long line = parser->error == YAML_READER_ERROR ? offset_line(text, parser->problem_offset)
                                                  : (long)parser->problem_mark.line + 1;
    return adv_err(ADV_ERR_INPUT, "%s:%ld: YAML syntax error: %s", origin, line,
                   parser->problem ? parser->problem : "unknown problem");
}

/* Walk the event stream (every document) once, refusing what would make the
 * document loader slow or large: nesting deeper than JOB_MAX_DEPTH, more than
 * JOB_MAX_NODES nodes, more than JOB_MAX_ANCHORS anchors or aliases. Stops at
 * the first excess, so the cost is bounded by what is allowed. Syntax errors
 * are reported as the loader would. */
static int check_limits(const char *text, const char *origin) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return adv_err(ADV_ERR_INTERNAL, "libyaml: cannot initialise a parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    long depth = 0, nodes = 0, anchors = 0, aliases = 0;
    int rc = ADV_OK;
    for (int end = 0; !end && rc == ADV_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(&parser, text, origin);
            break;
        }
        long line = (long)ev.start_mark.line + 1;
        const yaml_char_t *anchor = NULL;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT: anchor = ev.data.sequence_start.anchor; depth++; nodes++; break;
        case YAML_MAPPING_START_EVENT: anchor = ev.data.mapping_start.anchor; depth++; nodes++; break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_SCALAR_EVENT: anchor = ev.data.scalar.anchor; nodes++; break;
        case YAML_ALIAS_EVENT: aliases++; nodes++; break;
        case YAML_STREAM_END_EVENT: end = 1; break;
        default: break;
        }
        anchors += anchor != NULL;
        yaml_event_delete(&ev);
        if (depth > JOB_MAX_DEPTH)
            rc = adv_err(ADV_ERR_INPUT, "%s:%ld: lists and mappings nested more than %d deep (a job file needs 3)",
                         origin, line, JOB_MAX_DEPTH);
        else if (nodes > JOB_MAX_NODES)
            rc = adv_err(ADV_ERR_INPUT, "%s:%ld: more than %ld YAML nodes (a grid holds at most %ld points)", origin,
                         line, JOB_MAX_NODES, JOB_MAX_POINTS);
        else if (anchors > JOB_MAX_ANCHORS)
            rc = adv_err(ADV_ERR_INPUT, "%s:%ld: more than %ld YAML anchors (&name)", origin, line, JOB_MAX_ANCHORS);
        else if (aliases > JOB_MAX_ANCHORS)
            rc = adv_err(ADV_ERR_INPUT, "%s:%ld: more than %ld YAML aliases (*name)", origin, line, JOB_MAX_ANCHORS);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int job_parse(Job **out, const char *text, const char *origin) {
    *out = NULL;
    if (!origin) origin = "(job)";
    if (N_PARAMS > JOB_MAX_AXES) return adv_err(ADV_ERR_INTERNAL, "sweep: JOB_MAX_AXES < N_PARAMS");
    TRY(check_limits(text, origin));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return adv_err(ADV_ERR_INTERNAL, "libyaml: cannot initialise a parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = syntax_error(&parser, text, origin);
        yaml_parser_delete(&parser);
        return rc;
    }
    int rc = ADV_OK;
    Job *job = xcalloc(1, sizeof *job);
    job->text = xstrdup(text);
    job->origin = xstrdup(origin);
    job->name = xstrdup("sweep");
    job->seeds = 1;
    job->store_weights_max_mb = 1024;
    config_defaults(&job->base);
    Ctx c = {.origin = origin, .doc = &doc, .job = job};
    config_defaults(&c.scratch);

    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        rc = adv_err(ADV_ERR_INPUT, "%s:1: the job file is empty (expected fixed:, grid:, ...)", origin);
        goto cleanup;
    }
    rc = parse_root(&c, root);
    if (rc == ADV_OK) rc = finish(&c, root);
    if (rc == ADV_OK) { /* one document only */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = syntax_error(&parser, text, origin);
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&next);
            if (extra)
                rc = adv_err(ADV_ERR_INPUT, "%s:%ld: a job file holds one YAML document (found a second one)", origin,
                             line_of(extra));
            yaml_document_delete(&next);
        }
    }
    if (rc == ADV_OK) { /* every point, before anything runs */
        PointCost *costs = NULL;
        rc = sweep_costs(&costs, job);
        free(costs);
        if (rc != ADV_OK) {
            char msg[640];
            snprintf(msg, sizeof msg, "%s", adv_errmsg());
            rc = adv_err(rc, "%s: %s", origin, msg);
        }
    }

cleanup:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != ADV_OK) { /* messages quote the file's text: keep them one line */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", adv_errmsg());
        for (char *q = msg; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
        adv_err(rc, "%s", msg);
        job_destroy(&job);
    }
    *out = job;
    return rc;
}

int job_read_text(const char *path, char **text_out) {
    *text_out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return adv_err(ADV_ERR_INPUT, "cannot read job file %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *text = xcalloc(cap, 1);
    size_t got;
    while ((got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len > (size_t)JOB_MAX_BYTES) break; /* /dev/zero, a FIFO that never ends, a data file */
        if (len + 1 == cap) {
            char *bigger = xcalloc(cap * 2, 1);
            memcpy(bigger, text, len);
            free(text);
            text = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    int rc = ADV_OK;
    if (bad) rc = adv_err(ADV_ERR_INPUT, "cannot read job file %s: read error", path);
    else if (len > (size_t)JOB_MAX_BYTES)
        rc = adv_err(ADV_ERR_INPUT, "%s: larger than %ld MiB (not a job file?)", path, JOB_MAX_BYTES >> 20);
    else if (strlen(text) != len) rc = adv_err(ADV_ERR_INPUT, "%s: not a text file (contains NUL bytes)", path);
    if (rc != ADV_OK) free(text);
    else *text_out = text;
    return rc;
}

int job_load(Job **out, const char *path) {
    *out = NULL;
    char *text = NULL;
    TRY(job_read_text(path, &text));
    int rc = job_parse(out, text, path);
    free(text);
    return rc;
}
