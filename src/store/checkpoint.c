/* checkpoint.c — mid-point checkpoints beside a sweep file: PATH.ckpt/KEY, one
 * file per training run being trained (KEY: the /plan/key of the file row whose
 * run it is), holding the trainer's state (train.h, TrainHooks.checkpoint: an
 * opaque blob) so that a killed or preempted long point continues where it was
 * instead of at step 0.
 *
 * A file (docs/layout.md): a fixed header — the line "advsweep-checkpoint 1",
 * the point's key, the numerics version, the environment the state was made in
 * (BLAS kernel and threads: the continuation is bit-identical only there), the
 * state's length (u64 LE) and its SHA-256 — then the state. Written under
 * KEY.tmp.PID, fsynced and renamed into place, so a kill at any moment leaves
 * the previous checkpoint or the complete new one. A file that does not check
 * out (another point's key or numerics version, another environment, a short
 * or damaged file) is removed with a warning and training starts over: a
 * checkpoint only ever saves time, it never decides a result.
 *
 * Only names this module makes are ever removed (32 hex digits, with or
 * without .tmp.PID), and the directory only when it is empty. No MPI; not
 * collective; each worker saves and loads its own runs'. Must not print
 * except adv_warn.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "advsweep/common.h"
#include "advsweep/sha256.h"
#include "internal.h"

#define CKPT_LINE "advsweep-checkpoint 1\n"

typedef struct {
    char line[sizeof CKPT_LINE - 1];
    char key[STORE_KEY_HEX + 1];
    unsigned char numerics[4]; /* u32 LE */
    char env[CHECKPOINT_ENV_BYTES];
    unsigned char bytes[8]; /* u64 LE */
    unsigned char sha[32];
} CkptFileHeader;

static void ckpt_dir(char *buf, size_t len, const char *path) { snprintf(buf, len, "%s.ckpt", path); }

static void ckpt_file(char *buf, size_t len, const char *path, const char *key) {
    snprintf(buf, len, "%s.ckpt/%s", path, key);
}

/* A name this module makes: KEY or KEY.tmp.PID. */
static int ours(const char *name) {
    for (int i = 0; i < STORE_KEY_HEX; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
    const char *rest = name + STORE_KEY_HEX;
    if (!*rest) return 1;
    if (strncmp(rest, ".tmp.", 5) != 0 || !rest[5]) return 0;
    for (rest += 5; *rest; rest++)
        if (*rest < '0' || *rest > '9') return 0;
    return 1;
}

static int valid_key(const char *key) { return key && strlen(key) == STORE_KEY_HEX && ours(key); }

static int write_all(int fd, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return put < 0 ? errno : ENOSPC;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

int checkpoint_save(const char *path, const char *key, const char *env, const void *const *parts, const size_t *lens,
                    int n) {
    if (!valid_key(key)) return adv_err(ADV_ERR_INTERNAL, "checkpoint_save: no key");
    char dir[4200], name[4300], tmp[4400];
    ckpt_dir(dir, sizeof dir, path);
    ckpt_file(name, sizeof name, path, key);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
    CkptFileHeader h;
    memset(&h, 0, sizeof h);
    memcpy(h.line, CKPT_LINE, sizeof h.line);
    snprintf(h.key, sizeof h.key, "%s", key);
    for (int i = 0; i < 4; i++) h.numerics[i] = (unsigned char)((uint32_t)ADVSWEEP_NUMERICS_VERSION >> (8 * i));
    snprintf(h.env, sizeof h.env, "%s", env ? env : "");
    uint64_t bytes = 0;
    Sha256 s;
    sha256_init(&s);
    for (int k = 0; k < n; k++) {
        sha256_update(&s, parts[k], lens[k]);
        bytes += lens[k];
    }
    sha256_final(&s, h.sha);
    for (int i = 0; i < 8; i++) h.bytes[i] = (unsigned char)(bytes >> (8 * i));
    int fd = -1;
    /* another worker may remove the directory when it empties it (checkpoint_remove): retry */
    for (int attempt = 0; fd < 0 && attempt < 5; attempt++) {
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return adv_err(ADV_ERR_IO, "%s: cannot make the checkpoint directory (%s)", dir, strerror(errno));
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* our own name: a leftover of ours at most */
        if (fd < 0 && errno != ENOENT) break;
    }
    if (fd < 0) return adv_err(ADV_ERR_IO, "%s: cannot write a checkpoint (%s)", tmp, strerror(errno));
    int err = write_all(fd, &h, sizeof h);
    for (int k = 0; k < n && !err; k++) err = write_all(fd, parts[k], lens[k]);
    if (!err && fsync(fd) != 0 && errno != EINVAL) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, name) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return adv_err(ADV_ERR_IO, "%s: cannot write a checkpoint (%s)", name, strerror(err));
    }
    return ADV_OK;
}

struct StoreCheckpoint {
    FILE *f;
    char name[4300];
    uint64_t left;          /* bytes of the state not read yet */
    unsigned char sha[32];  /* what the header says */
    Sha256 s;               /* of what was read */
    int bad;
};

/* Removes a checkpoint that does not check out, with one warning. */
static void reject(const char *name, const char *why) {
    adv_warn("%s: checkpoint %s; removed, the point starts over", name, why);
    unlink(name);
}

int checkpoint_open(const char *path, const char *key, const char *env, Checkpoint **out, size_t *bytes) {
    *out = NULL;
    *bytes = 0;
    if (!valid_key(key)) return ADV_OK;
    char name[4300];
    ckpt_file(name, sizeof name, path, key);
    FILE *f = fopen(name, "rb");
    if (!f) return errno == ENOENT ? ADV_OK : adv_err(ADV_ERR_IO, "%s: cannot read (%s)", name, strerror(errno));
    CkptFileHeader h;
    char why[256] = "";
    uint64_t n = 0;
    uint32_t numerics = 0;
    struct stat sb;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.line, CKPT_LINE, sizeof h.line) != 0)
        snprintf(why, sizeof why, "is not a checkpoint");
    else if (h.key[STORE_KEY_HEX] != '\0' || strcmp(h.key, key) != 0)
        snprintf(why, sizeof why, "belongs to another point");
    if (!why[0]) {
        for (int i = 3; i >= 0; i--) numerics = numerics << 8 | h.numerics[i];
        h.env[sizeof h.env - 1] = '\0';
        if (numerics != ADVSWEEP_NUMERICS_VERSION)
            snprintf(why, sizeof why, "is of numerics version %u, this advsweep's is %d", (unsigned)numerics,
                     ADVSWEEP_NUMERICS_VERSION);
        else if (strcmp(h.env, env ? env : "") != 0)
            snprintf(why, sizeof why, "was made with %s, this rank runs %s (the continuation would not be "
                     "bit-identical)", h.env, env ? env : "");
    }
    if (!why[0]) {
        for (int i = 7; i >= 0; i--) n = n << 8 | h.bytes[i];
        if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size != sizeof h + n) snprintf(why, sizeof why, "is cut short");
    }
    if (why[0]) {
        fclose(f);
        reject(name, why);
        return ADV_OK;
    }
    Checkpoint *c = xcalloc(1, sizeof *c);
    c->f = f;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->left = n;
    memcpy(c->sha, h.sha, sizeof c->sha);
    sha256_init(&c->s);
    *out = c;
    *bytes = (size_t)n;
    return ADV_OK;
}

int checkpoint_read(Checkpoint *c, void *buf, size_t len) {
    if (!c || c->bad) return ADV_ERR_IO;
    if (!buf) { /* the end: all of it, and its SHA-256 */
        unsigned char sha[32];
        sha256_final(&c->s, sha);
        if (c->left != 0 || memcmp(sha, c->sha, 32) != 0) {
            c->bad = 1;
            reject(c->name, c->left ? "was not read to its end" : "is damaged (its SHA-256 does not match)");
            return ADV_ERR_IO;
        }
        return ADV_OK;
    }
    if ((uint64_t)len > c->left || (len && fread(buf, len, 1, c->f) != 1)) {
        c->bad = 1;
        reject(c->name, "cannot be read");
        return ADV_ERR_IO;
    }
    sha256_update(&c->s, buf, len);
    c->left -= len;
    return ADV_OK;
}

void checkpoint_close(Checkpoint **c) {
    if (!c || !*c) return;
    fclose((*c)->f);
    free(*c);
    *c = NULL;
}

void checkpoint_remove(const char *path, const char *key) {
    if (!valid_key(key)) return;
    char name[4300], dir[4200];
    ckpt_file(name, sizeof name, path, key);
    unlink(name);
    ckpt_dir(dir, sizeof dir, path);
    rmdir(dir); /* only when it is empty: other points may still be training */
}

int checkpoint_exists(const char *path, const char *key) {
    if (!valid_key(key)) return 0;
    char name[4300];
    ckpt_file(name, sizeof name, path, key);
    return access(name, F_OK) == 0;
}

int checkpoint_prune(const char *path, int (*keep)(void *ctx, const char *key), void *ctx) {
    char dir[4200];
    ckpt_dir(dir, sizeof dir, path);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int left = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!ours(e->d_name)) {
            left++; /* not ours: never touched */
            continue;
        }
        char key[STORE_KEY_HEX + 1];
        memcpy(key, e->d_name, STORE_KEY_HEX);
        key[STORE_KEY_HEX] = '\0';
        /* a temporary is a kill's leftover (the writer holds the lock: nobody saves yet) */
        int is_tmp = e->d_name[STORE_KEY_HEX] != '\0';
        if (!is_tmp && keep && keep(ctx, key)) {
            left++;
            continue;
        }
        char name[4500];
        snprintf(name, sizeof name, "%s/%s", dir, e->d_name);
        if (unlink(name) != 0) left++;
    }
    closedir(d);
    if (!left) rmdir(dir);
    return left;
}
