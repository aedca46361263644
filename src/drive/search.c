/* search.c — the adaptive width search (placeholder until implemented). */
#include "internal.h"

int source_search(Source *s, Drive *d) { return source_grid(s, d); }
