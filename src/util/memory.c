/* memory.c — the memory one rank may use (memory.h): /proc/meminfo, the
 * cgroup, SLURM's allocation, an explicit limit. Reads files and the
 * environment only; no MPI, no HDF5, never allocates much (the point of it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "advsweep/common.h"
#include "advsweep/memory.h"

#define MiB (1024.0 * 1024.0)

void mem_format(char *buf, size_t len, double bytes) {
    static const char *const units[] = {"bytes", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    double v = bytes;
    while (v >= 1024 && u < 5) v /= 1024, u++;
    if (u == 0) snprintf(buf, len, "%.0f bytes", v);
    else snprintf(buf, len, "%.4g %s", v, units[u]);
}

double mem_parse_size(const char *text) {
    if (!text || !*text) return -1;
    size_t n = strlen(text), k = n;
    while (k > 0 && ((text[k - 1] >= 'a' && text[k - 1] <= 'z') || (text[k - 1] >= 'A' && text[k - 1] <= 'Z'))) k--;
    char num[64], unit[16];
    if (k == 0 || k >= sizeof num || n - k >= sizeof unit) return -1;
    memcpy(num, text, k);
    num[k] = '\0';
    memcpy(unit, text + k, n - k + 1);
    double v;
    if (adv_parse_real(num, &v, 0) != 0 || !(v > 0)) return -1;
    double scale;
    if (!unit[0]) scale = MiB;
    else {
        static const struct {
            const char *name;
            double scale;
        } UNITS[] = {{"b", 1},          {"k", 1024.0},      {"kb", 1024.0},     {"kib", 1024.0},
                     {"m", MiB},        {"mb", MiB},        {"mib", MiB},       {"g", 1024.0 * MiB},
                     {"gb", 1024.0 * MiB}, {"gib", 1024.0 * MiB}, {"t", MiB * MiB}, {"tb", MiB * MiB},
                     {"tib", MiB * MiB}};
        scale = 0;
        for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
            if (!strcasecmp(unit, UNITS[i].name)) scale = UNITS[i].scale;
        if (scale == 0) return -1;
    }
    double bytes = v * scale;
    return isfinite(bytes) && bytes >= 1 ? bytes : -1;
}

/* "MemAvailable:   23456789 kB" of /proc/meminfo, in bytes; -1 when unknown. */
static double meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13)) {
            kb = strtod(line + 13, NULL);
            break;
        }
    fclose(f);
    return kb >= 0 ? kb * 1024.0 : -1;
}

/* A number in a cgroup file ("max" or absent: -1). */
static double cgroup_number(const char *dir, const char *name) {
    char path[1200], text[64] = "";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(text, sizeof text, f) != NULL;
    fclose(f);
    if (!ok || !strncmp(text, "max", 3)) return -1;
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0) return -1;
    return v;
}

/* The least (limit - usage) over the levels of this process's memory cgroup
 * (v2 "0::/path", or v1 "N:memory:/path"); -1 when no level has a limit. */
static double cgroup_available(void) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[1024], rel[1024] = "";
    int v2 = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!a || !b) continue;
        *a = *b = '\0';
        const char *controllers = a + 1, *path = b + 1;
        if (!strcmp(line, "0") && !controllers[0] && !found) { /* v2 unified */
            snprintf(rel, sizeof rel, "%s", path);
            v2 = 1;
            found = 1;
        } else if (strstr(controllers, "memory")) { /* v1 memory controller */
            snprintf(rel, sizeof rel, "%s", path);
            v2 = 0;
            found = 1;
            break;
        }
    }
    fclose(f);
    if (!found) return -1;
    const char *root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
    const char *limit_name = v2 ? "memory.max" : "memory.limit_in_bytes";
    const char *usage_name = v2 ? "memory.current" : "memory.usage_in_bytes";
    double best = -1;
    /* from the process's own level up to the root */
    for (;;) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s%s", root, rel);
        double limit = cgroup_number(dir, limit_name);
        if (limit >= 0 && limit < 1e18) { /* v1 reports "no limit" as a huge number */
            double usage = cgroup_number(dir, usage_name);
            double left = limit - (usage > 0 ? usage : 0);
            if (left < 0) left = 0;
            if (best < 0 || left < best) best = left;
        }
        char *slash = strrchr(rel, '/');
        if (!slash || !rel[0] || !strcmp(rel, "/")) break;
        if (slash == rel) rel[1] = '\0';
        else *slash = '\0';
    }
    return best;
}

static double env_mb(const char *name) {
    const char *v = getenv(name);
    double x;
    if (!v || !*v) return -1;
    /* SLURM writes plain MB; accept a unit too */
    if (adv_parse_real(v, &x, 0) == 0) return x > 0 ? x * MiB : -1;
    return mem_parse_size(v);
}

void mem_budget(MemBudget *out, double explicit_bytes, const char *option, int ranks_on_node) {
    char size[32];
    if (ranks_on_node < 1) ranks_on_node = 1;
    if (explicit_bytes > 0) {
        out->bytes = explicit_bytes;
        mem_format(size, sizeof size, explicit_bytes);
        snprintf(out->source, sizeof out->source, "%s %s", option ? option : "the limit given", size);
        return;
    }
    out->bytes = INFINITY;
    snprintf(out->source, sizeof out->source, "no limit known");
    char share[64] = "";
    if (ranks_on_node > 1) snprintf(share, sizeof share, " shared by %d ranks on this node", ranks_on_node);
    struct {
        double node_bytes; /* for the whole node (divided among its ranks) or, if per_rank, one rank's */
        int per_rank;
        const char *what;
    } src[4] = {
        {meminfo_available(), 0, "MemAvailable"},
        {cgroup_available(), 0, "the cgroup's memory limit less its usage"},
        {-1, 1, "SLURM_MEM_PER_CPU x SLURM_CPUS_PER_TASK"},
        {env_mb("SLURM_MEM_PER_NODE"), 0, "SLURM_MEM_PER_NODE"},
    };
    double per_cpu = env_mb("SLURM_MEM_PER_CPU");
    if (per_cpu > 0) {
        const char *c = getenv("SLURM_CPUS_PER_TASK");
        long long cpus = 1;
        if (!c || adv_parse_int(c, &cpus) != 0 || cpus < 1) cpus = 1;
        src[2].node_bytes = per_cpu * (double)cpus;
    }
    for (int k = 0; k < 4; k++) {
        if (!(src[k].node_bytes >= 0)) continue;
        double rank = src[k].per_rank ? src[k].node_bytes : src[k].node_bytes / ranks_on_node;
        if (rank < out->bytes) {
            out->bytes = rank;
            mem_format(size, sizeof size, src[k].node_bytes);
            snprintf(out->source, sizeof out->source, "%s %s%s", src[k].what, size, src[k].per_rank ? "" : share);
        }
    }
}

int mem_check(const TrainConfig *cfg, double bytes, const MemBudget *b, const char *what) {
    if (!(bytes > b->bytes)) return ADV_OK;
    char need[32], have[32];
    mem_format(need, sizeof need, bytes);
    mem_format(have, sizeof have, b->bytes);
    return adv_err(ADV_ERR_INPUT,
                   "%s needs %s of memory (m=%lld, H=%lld, n=%lld, d=%lld), more than the %s a rank may use here (%s); "
                   "choose a smaller point, more memory per rank, or --mem-limit",
                   what, need, (long long)cfg->m, (long long)cfg->H, (long long)cfg->n, (long long)cfg->d, have,
                   b->source);
}
