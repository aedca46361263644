/* grid.c — the point source of a plain job: every training run of the grid
 * (or of the --where subset) that still has a selected point to write, in
 * this shard, costliest first (the longest-first list schedule the planner
 * assumes), skipping runs that would not finish before the deadline.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    Drive *d;
    long *queue;   /* (todo) representatives, costliest first; -1 once handed out */
    long n, cursor;
} Grid;

static long grid_next(void *ctx, int rank) {
    Grid *g = ctx;
    (void)rank;
    for (long k = g->cursor; k < g->n; k++) {
        long rep = g->queue[k];
        if (rep < 0 || !drive_fits(g->d, rep)) continue;
        g->queue[k] = -1;
        while (g->cursor < g->n && g->queue[g->cursor] < 0) g->cursor++;
        return rep;
    }
    return DISPATCH_DONE;
}

static void grid_done(void *ctx, const Report *r) {
    (void)ctx;
    (void)r; /* the file holds the result; the grid needs nothing from it */
}

static long grid_left(void *ctx) {
    Grid *g = ctx;
    return drive_points_left(g->d, NULL);
}

static void grid_destroy(void *ctx) {
    Grid *g = ctx;
    free(g->queue);
    free(g);
}

int source_grid(Source *s, Drive *d) {
    Grid *g = xcalloc(1, sizeof *g);
    g->d = d;
    long *order = xcalloc((size_t)d->P + 1, sizeof(long));
    sweep_order(order, d->costs, d->P);
    g->queue = xcalloc((size_t)d->P + 1, sizeof(long));
    for (long k = 0; k < d->P; k++) {
        long i = order[k];
        if (d->costs[i].trained_as != i || !drive_in_shard(d, i)) continue;
        if (drive_open(d, i)) g->queue[g->n++] = i;
    }
    free(order);
    memset(s, 0, sizeof *s);
    s->ctx = g;
    s->todo = g->n;
    s->next = grid_next;
    s->done = grid_done;
    s->left = grid_left;
    s->destroy = grid_destroy;
    return ADV_OK;
}
