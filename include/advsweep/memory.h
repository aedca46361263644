/* memory.h — how much memory one rank may use, checked before anything is
 * allocated: a point that needs more is refused with one line (exit 2) instead
 * of an abort in the allocator or a node driven into swap.
 *
 * Sources, the least of them wins:
 *   MemAvailable (/proc/meminfo)                    the node's, shared by its ranks
 *   the cgroup's limit less its usage                the job's (cgroup v2 memory.max /
 *     (every level of the process's cgroup)            memory.current, v1 memory.limit_in_bytes /
 *                                                      memory.usage_in_bytes), shared by its ranks
 *   SLURM_MEM_PER_CPU x SLURM_CPUS_PER_TASK (MB)     one task's: per rank already
 *   SLURM_MEM_PER_NODE (MB)                          the node's, shared by its ranks
 * A node's memory is divided among the ranks of that node that train. An
 * explicit limit (--mem-limit) replaces all of them. Nothing here knows MPI:
 * the caller says how many ranks share the node. Reads files only; not
 * collective.
 */
#ifndef ADVSWEEP_MEMORY_H
#define ADVSWEEP_MEMORY_H

#include <stddef.h>

#include "advsweep/config.h"

typedef struct {
    double bytes;     /* what one rank may use; INFINITY when nothing is known */
    char source[200]; /* how: "MemAvailable 22.9 GB shared by 2 ranks on this node", "--mem-limit 4 GB" */
} MemBudget;

/* The budget of one rank among `ranks_on_node` training ranks of this node
 * (>= 1); explicit_bytes > 0 (--mem-limit) replaces the detected sources.
 * `option` names the explicit limit in messages ("--mem-limit"). */
void mem_budget(MemBudget *out, double explicit_bytes, const char *option, int ranks_on_node);

/* ADV_ERR_INPUT, one line, when a point needing `bytes` does not fit:
 * "WHAT needs 43.2 GB of memory (m=.., H=.., n=.., d=..), more than the 7.6 GB
 * a rank may use here (SOURCE); ..." (what: "point 17", "this configuration").
 * ADV_OK otherwise. */
int mem_check(const TrainConfig *cfg, double bytes, const MemBudget *b, const char *what);

/* A size: a number with an optional unit K, M, G, T (powers of 1024; also KB,
 * KiB, ..., any case); no unit means MB. > 0. Returns the bytes, or -1. */
double mem_parse_size(const char *text);

/* "512 KB", "4.1 MB", "43.2 GB" into buf. */
void mem_format(char *buf, size_t len, double bytes);

#endif
