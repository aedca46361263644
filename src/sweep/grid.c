/* grid.c: not yet written */
typedef int placeholder_grid_t;
