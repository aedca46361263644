/* search.c — the adaptive width search: the point source of a job with a
 * `search: {axis: m, target: epsilon, rule: all | fraction F, budgets: [...]}`
 * section. It finds m* for every combination of the other axes without
 * training the whole grid, and reproduces exactly the table the analysis
 * (analysis/advsweep_analysis/mstar.py) computes from the full grid.
 *
 * Terms. A *group* is a combination of the other axes (the training runs that
 * differ only in the width and the seed); its *cells* are its widths, in
 * ascending order, each with S seeds. One run answers every target tau of its
 * group (the epsilon values, when epsilon does not enter training) at every
 * budget B = b * T: a *criterion* is one (tau, b). At a budget, a run's answer
 * for tau is reached (1 <= step <= B), failed (not reached, ended by plateau or
 * divergence by B) or censored (still improving at B, or stopped by the step
 * cap: not a failure); a failed point, or a seed not run, is unknown. A cell
 * is, with need = F * S:
 *     yes        reached >= need
 *     no         reached + censored + unknown < need  (unknown: not run, or failed)
 *     undecided  neither, with every seed run
 *     open       neither, with seeds not run: more runs decide it
 * and m* is the smallest width that is yes: exact if every smaller width is
 * no, "between" if some are undecided, "> largest" if every width is no,
 * unknown if none is yes and some is undecided (the analysis's m_star_of).
 *
 * Why a scan from the smallest width and not a bisection: the table's m* is
 * exact only if every smaller width *fails*, which needs a definite failure
 * (plateau, divergence) at each of them; a width far below m* cannot be
 * inferred from one near it (a budget-censored seed there would make m* a
 * range). So every width below m* needs a run anyway, and each costs little
 * (one failing seed settles a width under the all-seeds rule; the narrow nets
 * are cheap), while the expensive wide nets above m* are never trained. Each
 * criterion's *frontier* is its smallest width not yet settled; the search
 * runs seeds there (the seed that failed at the largest width so far first,
 * so that a failing width is found with one run) and moves up as widths
 * settle. When m* is found, the width below it is completed too, so that
 * every seed has results on both sides of the threshold (the monotonicity
 * check). Nothing assumes monotonicity: observations against it are
 * reported, not used.
 *
 * Parallelism: a run certainly needed (the first at an open frontier, the
 * completion of a found threshold) is handed out first, costliest first; a
 * worker with nothing certain gets the run most likely to be needed next:
 * more seeds at a frontier that already has one out, then the seeds of the
 * widths above a frontier, nearest first, up to the largest width. So no rank
 * idles while a group is unresolved: a worker waits only when every seed of
 * every width an open criterion may still need is run or running (the widths
 * below all of a group's frontiers are settled and never needed). What runs
 * early changes only which points are skipped, never a result or the table:
 * a width's state once settled is the state the full grid gives it. Points
 * never needed become skipped (runnable later with --where or a job without
 * search). The search resumes from the file's results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { U_UNRUN, U_OUT, U_KNOWN };
enum { C_REACHED, C_FAILED, C_CENSORED, C_UNKNOWN };
enum { S_OPEN, S_YES, S_NO, S_UNDECIDED };

typedef struct {
    long rep;          /* the training run's representative point (job index) */
    int group, k, s;   /* group, width position (ascending), seed position */
    int state;         /* U_* */
    int status, outcome;
    long steps_run, steps_planned;
    long *step;        /* (group's n_targets) first step with L_A <= tau, -1 */
} Unit;

typedef struct {
    int frontier;      /* smallest width not settled (K: all settled) */
    int first_open;    /* first width that is not no (-1 none yet) */
    int first_yes;     /* the smallest yes width once found (-1) */
    int resolved;
} Criterion;

typedef struct {
    long key;          /* a point index naming the group (its coordinates, width and seed at 0) */
    int n_targets;
    double tau[TARGETS_MAX]; /* the group's targets (epsilon values of its points), descending */
    long *cell;        /* (K * S) unit index of width k, seed s; -1 if the grid lacks it */
    Criterion *crit;   /* (n_targets * n_budgets), target-major */
    int done;          /* every criterion resolved and its thresholds completed */
} Group;

typedef struct {
    Drive *d;
    const JobSearch *spec;
    int K, S, n_budgets;
    double budgets[JOB_SEARCH_BUDGETS];
    double *width;     /* (K) ascending */
    int n_groups;
    Group *groups;
    long n_units;
    Unit *units;
    long *by_rep;      /* (P) unit of a representative point, -1 */
    int *hard;         /* (S) the largest width at which each seed failed a target so far (-1) */
    long *fix;         /* runs to redo: final representative with members not written (an interruption) */
    long n_fix;
    long out, handed, skipped;
    double need;       /* F * S - tolerance */
} Search;

/* ---- classification (as mstar.py) ------------------------------------------------------------ */

static int classify(const Unit *u, int q, double b) {
    if (u->state != U_KNOWN || (u->status != RUN_DONE && u->status != RUN_DIVERGED)) return C_UNKNOWN;
    long T = u->steps_planned > 0 ? u->steps_planned : (u->steps_run > 1 ? u->steps_run : 1);
    double B = floor(b * (double)T + 1e-9);
    long step = u->step[q];
    if (step >= 1 && (double)step <= B) return C_REACHED;
    int definite = u->status == RUN_DIVERGED || u->outcome == OUTCOME_PLATEAU || u->outcome == OUTCOME_DIVERGED;
    if (definite && (double)u->steps_run <= B) return C_FAILED;
    return C_CENSORED;
}

/* State of width k of group g for target q at budget b; *running = seeds out. */
static int cell_state(const Search *s, const Group *g, int k, int q, double b, int *unrun, int *running) {
    int reached = 0, failed = 0, censored = 0, unknown = 0, open = 0, out = 0;
    for (int j = 0; j < s->S; j++) {
        long u = g->cell[k * s->S + j];
        if (u < 0) continue;
        const Unit *x = &s->units[u];
        if (x->state != U_KNOWN) {
            open++;
            out += x->state == U_OUT;
            continue;
        }
        switch (classify(x, q, b)) {
        case C_REACHED: reached++; break;
        case C_FAILED: failed++; break;
        case C_CENSORED: censored++; break;
        default: unknown++; break;
        }
    }
    if (unrun) *unrun = open - out;
    if (running) *running = out;
    (void)failed;
    if (reached >= s->need) return S_YES;
    if (reached + censored + unknown + open < s->need) return S_NO;
    return open ? S_OPEN : S_UNDECIDED;
}

/* Move criterion c of group g up past every settled width. */
static void advance(Search *s, Group *g, int q, int bi) {
    Criterion *c = &g->crit[q * s->n_budgets + bi];
    while (!c->resolved) {
        if (c->frontier >= s->K) {
            c->resolved = 1;
            break;
        }
        int st = cell_state(s, g, c->frontier, q, s->budgets[bi], NULL, NULL);
        if (st == S_OPEN) break;
        if (st == S_YES) {
            c->first_yes = c->frontier;
            c->resolved = 1;
            break;
        }
        if (st == S_UNDECIDED && c->first_open < 0) c->first_open = c->frontier;
        c->frontier++;
    }
}

static int unit_done(const Search *s, long u) { return u < 0 || s->units[u].state == U_KNOWN; }

/* The group is done: every criterion resolved, and the widths at and below each found
 * threshold have every seed's result. */
static int group_check_done(Search *s, Group *g) {
    if (g->done) return 1;
    for (int c = 0; c < g->n_targets * s->n_budgets; c++) {
        const Criterion *x = &g->crit[c];
        if (!x->resolved) return 0;
        if (x->first_yes < 0) continue;
        for (int k = x->first_yes - 1; k <= x->first_yes; k++)
            for (int j = 0; k >= 0 && j < s->S; j++)
                if (!unit_done(s, g->cell[k * s->S + j])) return 0;
    }
    g->done = 1;
    return 1;
}

static void group_update(Search *s, Group *g) {
    for (int q = 0; q < g->n_targets; q++)
        for (int b = 0; b < s->n_budgets; b++) advance(s, g, q, b);
    group_check_done(s, g);
}

/* ---- what to run next -------------------------------------------------------------------------- */

/* The unrun seed of width k to try first: the one that failed at the largest width so far. */
static long pick_seed(const Search *s, const Group *g, int k) {
    long best = -1;
    int best_hard = -2;
    for (int j = 0; j < s->S; j++) {
        long u = g->cell[k * s->S + j];
        if (u < 0 || s->units[u].state != U_UNRUN) continue;
        if (s->hard[j] > best_hard) best = u, best_hard = s->hard[j];
    }
    return best;
}

typedef struct {
    long unit;
    double score; /* 2: certainly needed; (0, 1): how likely it will be */
} Candidate;

static void consider(Candidate *best, const Search *s, long u, double score) {
    if (u < 0 || s->units[u].state != U_UNRUN) return;
    if (!drive_fits(s->d, s->units[u].rep)) return;
    double cost = s->d->costs[s->units[u].rep].cost;
    double best_cost = best->unit >= 0 ? s->d->costs[s->units[best->unit].rep].cost : 0;
    /* certain runs: costliest first (the planner's list schedule); likely ones: most likely, then cheapest */
    int better = score > best->score ||
                 (score == best->score && best->unit >= 0 && (score >= 2 ? cost > best_cost : cost < best_cost));
    if (best->unit < 0 || better) best->unit = u, best->score = score;
}

static long search_choose(Search *s) {
    Candidate best = {-1, -1};
    for (int gi = 0; gi < s->n_groups; gi++) {
        Group *g = &s->groups[gi];
        if (g->done) continue;
        for (int q = 0; q < g->n_targets; q++)
            for (int bi = 0; bi < s->n_budgets; bi++) {
                const Criterion *c = &g->crit[q * s->n_budgets + bi];
                if (c->resolved) {
                    if (c->first_yes < 0) continue;
                    for (int k = c->first_yes - 1; k <= c->first_yes; k++) /* both sides of the threshold */
                        for (int j = 0; k >= 0 && j < s->S; j++) consider(&best, s, g->cell[k * s->S + j], 2);
                    continue;
                }
                int k = c->frontier, unrun = 0, running = 0;
                cell_state(s, g, k, q, s->budgets[bi], &unrun, &running);
                if (unrun && !running) consider(&best, s, pick_seed(s, g, k), 2); /* the frontier must be settled */
                else if (unrun) consider(&best, s, pick_seed(s, g, k), 0.5);     /* more seeds where one is out */
                /* Every width above, should the ones below fail: nearest first, the widest
                 * (costliest, least likely needed) last, so that a worker waits only when
                 * no width an open criterion may still need has a seed left to run. */
                for (int up = 1; k + up < s->K; up++) consider(&best, s, pick_seed(s, g, k + up), 0.4 / up);
            }
    }
    return best.unit;
}

static void update_todo(Search *s) {
    long certain = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        Group *g = &s->groups[gi];
        if (g->done) continue;
        for (int c = 0; c < g->n_targets * s->n_budgets; c++)
            if (!g->crit[c].resolved) certain++;
    }
    s->d->src.todo = s->d->finished + s->out + (certain ? 1 : 0) + s->n_fix;
}

static long search_next(void *ctx, int rank) {
    Search *s = ctx;
    (void)rank;
    long rep = -1;
    while (s->n_fix > 0 && rep < 0) { /* runs whose members an interruption left unwritten */
        long r = s->fix[--s->n_fix];
        if (drive_fits(s->d, r)) rep = r;
    }
    if (rep < 0) {
        long u = search_choose(s);
        if (u >= 0) {
            s->units[u].state = U_OUT;
            rep = s->units[u].rep;
        }
    }
    if (rep >= 0) {
        s->out++;
        s->handed++;
        update_todo(s);
        return rep;
    }
    return s->out > 0 ? DISPATCH_WAIT : DISPATCH_DONE;
}

static void unit_set(Search *s, Unit *u, int status, int outcome, long steps_run, long steps_planned, int n,
                     const double *tau, const long *step) {
    const Group *g = &s->groups[u->group];
    u->state = U_KNOWN;
    u->status = status;
    u->outcome = outcome;
    u->steps_run = steps_run;
    u->steps_planned = steps_planned;
    for (int q = 0; q < g->n_targets; q++) {
        u->step[q] = -1;
        for (int j = 0; j < n; j++)
            if (tau[j] == g->tau[q]) u->step[q] = step[j];
    }
    /* how hard the seed is: it missed the smallest target at this width */
    if (u->step[g->n_targets - 1] < 0 && u->k > s->hard[u->s]) s->hard[u->s] = u->k;
}

static void search_done(void *ctx, const Report *r) {
    Search *s = ctx;
    s->out--;
    long u = r->index >= 0 && r->index < s->d->P ? s->by_rep[r->index] : -1;
    if (u >= 0) {
        Unit *x = &s->units[u];
        if (r->status == RUN_RUNNING || r->rc != ADV_OK) x->state = U_UNRUN; /* abandoned: may run again */
        else unit_set(s, x, r->status, r->outcome, r->steps_run, r->steps_planned, r->n_targets, r->tau, r->step);
        group_update(s, &s->groups[x->group]);
    }
    update_todo(s);
}

static long search_left(void *ctx) {
    Search *s = ctx;
    long open = s->n_fix;
    for (int gi = 0; gi < s->n_groups; gi++) open += !group_check_done(s, &s->groups[gi]);
    return open;
}

/* ---- the table, the monotonicity check, skipped points ------------------------------------------ */

/* "H=2, attack=pgd" (the group's other axes). */
static void group_label(const Search *s, const Group *g, char *buf, size_t len) {
    const Job *job = s->d->job;
    TrainConfig cfg;
    job_point(&cfg, job, g->key);
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < job_axis_count(job) && used + 1 < len; a++) {
        const ParamSpec *p = job_axis(job, a);
        if (p == s->spec->axis || !strcmp(p->name, "seed")) continue;
        if (p == s->spec->target && g->n_targets > 1) continue;
        char v[CONFIG_TEXT_MAX];
        param_format(v, sizeof v, &cfg, p);
        if (p->type == PARAM_REAL && isfinite(param_value(&cfg, p))) snprintf(v, sizeof v, "%g", param_value(&cfg, p));
        int w = snprintf(buf + used, len - used, "%s%s=%s", used ? ", " : "", p->name, v);
        if (w > 0) used += (size_t)w;
    }
    if (!used) snprintf(buf, len, "all");
}

static void mstar_text(const Search *s, const Criterion *c, char *buf, size_t len) {
    const double *w = s->width;
    if (!c->resolved) snprintf(buf, len, "?");
    else if (c->first_yes >= 0 && c->first_open < 0)
        snprintf(buf, len, c->first_yes == 0 ? "<=%g" : "%g", w[c->first_yes]);
    else if (c->first_yes >= 0) snprintf(buf, len, "%g..%g", w[c->first_open], w[c->first_yes]);
    else if (c->first_open < 0) snprintf(buf, len, ">%g", w[s->K - 1]);
    else snprintf(buf, len, "unknown(>=%g)", w[c->first_open]);
}

static const char *budget_name(double b, char *buf, size_t len) {
    if (b == 1) return "T";
    if (b == 0.5) return "T/2";
    if (b == 0.25) return "T/4";
    snprintf(buf, len, "%g*T", b);
    return buf;
}

static void print_table(const Search *s) {
    const char *axis = s->spec->axis->name;
    printf("advsweep run: search: %s* (the smallest %s where %s of the %d seed%s reach L_A <= epsilon; a..b: "
           "undecided widths between, budget-censored seeds):\n",
           axis, axis, s->spec->fraction >= 1 ? "all" : "the required fraction", s->S, s->S == 1 ? "" : "s");
    for (int gi = 0; gi < s->n_groups; gi++) {
        const Group *g = &s->groups[gi];
        char label[512], bname[32];
        group_label(s, g, label, sizeof label);
        for (int bi = 0; bi < s->n_budgets; bi++) {
            char line[2048];
            int used = snprintf(line, sizeof line, "  %s, %s:", label, budget_name(s->budgets[bi], bname, sizeof bname));
            for (int q = 0; q < g->n_targets && used > 0 && (size_t)used < sizeof line; q++) {
                char t[64];
                mstar_text(s, &g->crit[q * s->n_budgets + bi], t, sizeof t);
                used += snprintf(line + used, sizeof line - (size_t)used, " %g->%s", g->tau[q], t);
            }
            printf("%s\n", line);
        }
    }
}

/* Seeds that reach a target at one width and definitely fail it at a wider one (at T). */
static void check_monotone(const Search *s) {
    long count = 0;
    char examples[1024] = "";
    size_t used = 0;
    int bT = s->n_budgets - 1;
    for (int bi = 0; bi < s->n_budgets; bi++)
        if (s->budgets[bi] == 1) bT = bi;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const Group *g = &s->groups[gi];
        for (int q = 0; q < g->n_targets; q++)
            for (int j = 0; j < s->S; j++) {
                int reached_at = -1;
                for (int k = 0; k < s->K; k++) {
                    long u = g->cell[k * s->S + j];
                    if (u < 0 || s->units[u].state != U_KNOWN) continue;
                    int cls = classify(&s->units[u], q, s->budgets[bT]);
                    if (cls == C_REACHED && reached_at < 0) reached_at = k;
                    if (cls == C_FAILED && reached_at >= 0) {
                        if (count++ < 3 && used + 200 < sizeof examples) {
                            char label[256];
                            group_label(s, g, label, sizeof label);
                            TrainConfig cfg;
                            job_point(&cfg, s->d->job, s->units[u].rep);
                            used += (size_t)snprintf(examples + used, sizeof examples - used,
                                                     "%s%s, seed=%lld: %g reached at %s=%g, not at %g", used ? "; " : "",
                                                     label, (long long)cfg.seed, g->tau[q], s->spec->axis->name,
                                                     s->width[reached_at], s->width[k]);
                        }
                        break;
                    }
                }
            }
    }
    /* both sides of every threshold: every seed has a result at m* and at the width below */
    long missing = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const Group *g = &s->groups[gi];
        for (int c = 0; c < g->n_targets * s->n_budgets; c++) {
            const Criterion *x = &g->crit[c];
            if (x->first_yes < 1) continue;
            for (int k = x->first_yes - 1; k <= x->first_yes; k++)
                for (int j = 0; j < s->S; j++) {
                    long u = g->cell[k * s->S + j];
                    missing += u >= 0 && (s->units[u].state != U_KNOWN ||
                                          (s->units[u].status != RUN_DONE && s->units[u].status != RUN_DIVERGED));
                }
        }
    }
    if (missing) printf("advsweep run: search: %ld seed result%s missing beside a threshold (failed points)\n", missing,
                        missing == 1 ? "" : "s");
    else printf("advsweep run: search: every seed has results on both sides of every threshold\n");
    if (count)
        printf("advsweep run: search: %ld non-monotone observation%s (a seed reaches a target at one width and fails "
               "it at a wider one): %s%s\n",
               count, count == 1 ? "" : "s", examples, count > 3 ? "; ..." : "");
    else printf("advsweep run: search: no non-monotone observation\n");
}

static int search_finish(void *ctx) {
    Search *s = ctx;
    Drive *d = s->d;
    if (search_left(s) > 0) {
        if (!d->opt->quiet) {
            long open = 0;
            for (int gi = 0; gi < s->n_groups; gi++) open += !s->groups[gi].done;
            printf("advsweep run: search: %ld of %d group%s unresolved (rerun the same command to continue)\n", open,
                   s->n_groups, s->n_groups == 1 ? "" : "s");
        }
        return ADV_OK;
    }
    /* every point the search did not need: skipped, runnable later with --where */
    const int8_t *status = store_status(d->st);
    long *rows = xcalloc((size_t)d->P + 1, sizeof(long)), n = 0;
    for (long i = 0; i < d->P; i++)
        if (!drive_is_final(status[d->rows[i]]) && status[d->rows[i]] != RUN_SKIPPED) rows[n++] = d->rows[i];
    int rc = store_mark_skipped(d->st, rows, n);
    free(rows);
    s->skipped = n;
    if (rc != ADV_OK || d->opt->quiet) return rc;
    long runs = 0;
    for (long u = 0; u < s->n_units; u++) runs += s->units[u].state == U_KNOWN;
    printf("advsweep run: search: %ld of %ld training runs needed (%ld run now), %ld points skipped\n", runs,
           s->n_units, s->handed, n);
    print_table(s);
    check_monotone(s);
    fflush(stdout);
    return ADV_OK;
}

static void search_destroy(void *ctx) {
    Search *s = ctx;
    if (!s) return;
    for (int gi = 0; gi < s->n_groups; gi++) {
        free(s->groups[gi].cell);
        free(s->groups[gi].crit);
    }
    for (long u = 0; u < s->n_units; u++) free(s->units[u].step);
    free(s->groups);
    free(s->units);
    free(s->by_rep);
    free(s->hard);
    free(s->fix);
    free(s->width);
    free(s);
}

/* ---- setup -------------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int source_search(Source *src, Drive *d) {
    const Job *job = d->job;
    const JobSearch *spec = job_search(job);
    if (d->opt->shard_count > 1)
        return adv_err(ADV_ERR_INPUT, "option --shard: a search job is not sharded (the search decides from all its "
                                      "runs); run it with more ranks, or with --where as a grid");
    int n_axes = job_axis_count(job), ax = -1, seed_ax = -1;
    for (int a = 0; a < n_axes; a++) {
        if (job_axis(job, a) == spec->axis) ax = a;
        if (!strcmp(job_axis(job, a)->name, "seed")) seed_ax = a;
    }
    if (ax < 0) return adv_err(ADV_ERR_INTERNAL, "search: no axis %s", spec->axis->name);
    Search *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->spec = spec;
    s->n_budgets = spec->n_budgets;
    memcpy(s->budgets, spec->budgets, sizeof s->budgets);
    qsort(s->budgets, (size_t)s->n_budgets, sizeof(double), cmp_double);
    s->K = (int)job_axis_length(job, ax);
    s->S = job_seeds(job) > 1 ? (int)job_seeds(job) : seed_ax >= 0 ? (int)job_axis_length(job, seed_ax) : 1;
    s->need = spec->fraction * s->S - 1e-9;
    /* widths ascending: position k is axis coordinate order[k] */
    long *order = xcalloc((size_t)s->K, sizeof(long));
    s->width = xcalloc((size_t)s->K, sizeof(double));
    {
        long *coords = xcalloc((size_t)n_axes + 1, sizeof(long));
        double *v = xcalloc((size_t)s->K, sizeof(double));
        for (int k = 0; k < s->K; k++) {
            coords[ax] = k;
            TrainConfig cfg;
            job_point(&cfg, job, job_point_index(job, coords));
            v[k] = param_value(&cfg, spec->axis);
        }
        for (int k = 0; k < s->K; k++) order[k] = k;
        for (int a = 1; a < s->K; a++) /* insertion sort of the coordinates by value */
            for (int b = a; b > 0 && v[order[b]] < v[order[b - 1]]; b--) {
                long t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        for (int k = 0; k < s->K; k++) s->width[k] = v[order[k]];
        free(v);
        free(coords);
    }
    long *pos_of = xcalloc((size_t)s->K, sizeof(long)); /* axis coordinate -> ascending position */
    for (int k = 0; k < s->K; k++) pos_of[order[k]] = k;
    /* units: every training run of the job, grouped */
    s->by_rep = xcalloc((size_t)d->P, sizeof(long));
    s->units = xcalloc((size_t)d->P, sizeof(Unit));
    s->groups = xcalloc((size_t)d->P, sizeof(Group)); /* at most one per run; trimmed by use */
    s->hard = xcalloc((size_t)s->S, sizeof(int));
    for (int j = 0; j < s->S; j++) s->hard[j] = -1;
    long *coords = xcalloc((size_t)n_axes + 1, sizeof(long));
    for (long i = 0; i < d->P; i++) {
        s->by_rep[i] = -1;
        if (d->costs[i].trained_as != i) continue;
        job_point_coords(job, i, coords);
        int k = (int)pos_of[coords[ax]];
        int seed = job_seeds(job) > 1 ? (int)coords[n_axes] : seed_ax >= 0 ? (int)coords[seed_ax] : 0;
        coords[ax] = 0;
        if (job_seeds(job) > 1) coords[n_axes] = 0;
        else if (seed_ax >= 0) coords[seed_ax] = 0;
        long key = job_point_index(job, coords);
        int gi = 0;
        while (gi < s->n_groups && s->groups[gi].key != key) gi++; /* groups are few */
        Group *g = &s->groups[gi];
        if (gi == s->n_groups) {
            s->n_groups++;
            g->key = key;
            g->cell = xcalloc((size_t)(s->K * s->S), sizeof(long));
            for (int c = 0; c < s->K * s->S; c++) g->cell[c] = -1;
            long n = job_training_members(job, i, d->members);
            for (long m = 0; m < n && g->n_targets < TARGETS_MAX; m++) {
                TrainConfig cfg;
                job_point(&cfg, job, d->members[m]);
                int seen = 0;
                for (int q = 0; q < g->n_targets; q++) seen |= g->tau[q] == cfg.epsilon;
                if (!seen) g->tau[g->n_targets++] = cfg.epsilon;
            }
            for (int a = 1; a < g->n_targets; a++) /* descending, as /targets */
                for (int b = a; b > 0 && g->tau[b] > g->tau[b - 1]; b--) {
                    double t = g->tau[b];
                    g->tau[b] = g->tau[b - 1];
                    g->tau[b - 1] = t;
                }
            g->crit = xcalloc((size_t)(g->n_targets * s->n_budgets), sizeof(Criterion));
            for (int c = 0; c < g->n_targets * s->n_budgets; c++) g->crit[c].first_open = g->crit[c].first_yes = -1;
        }
        Unit *u = &s->units[s->n_units];
        u->rep = i;
        u->group = gi;
        u->k = k;
        u->s = seed;
        u->state = U_UNRUN;
        u->step = xcalloc((size_t)g->n_targets, sizeof(long));
        g->cell[k * s->S + seed] = s->n_units;
        s->by_rep[i] = s->n_units++;
    }
    free(coords);
    free(pos_of);
    free(order);
    /* what the file already holds: resume the search where it stopped */
    s->fix = xcalloc((size_t)s->n_units + 1, sizeof(long));
    long *rows = xcalloc((size_t)s->n_units + 1, sizeof(long));
    StoreOutcome *known = xcalloc((size_t)s->n_units + 1, sizeof(StoreOutcome));
    for (long u = 0; u < s->n_units; u++) rows[u] = d->rows[s->units[u].rep];
    int rc = store_read_outcomes(d->st, rows, s->n_units, known);
    for (long u = 0; rc == ADV_OK && u < s->n_units; u++) {
        if (!drive_is_final(known[u].status)) continue;
        unit_set(s, &s->units[u], known[u].status, known[u].outcome, known[u].steps_run, known[u].steps_planned,
                 known[u].n_targets, known[u].tau, known[u].step);
        if (drive_open(d, s->units[u].rep)) s->fix[s->n_fix++] = s->units[u].rep;
    }
    free(known);
    free(rows);
    if (rc != ADV_OK) {
        search_destroy(s);
        return rc;
    }
    for (int gi = 0; gi < s->n_groups; gi++) group_update(s, &s->groups[gi]);
    memset(src, 0, sizeof *src);
    src->ctx = s;
    src->next = search_next;
    src->done = search_done;
    src->left = search_left;
    src->finish = search_finish;
    src->destroy = search_destroy;
    update_todo(s);
    src->todo = s->d->src.todo; /* update_todo writes d->src, which is *src only after the copy below */
    return ADV_OK;
}
