/* checkpoint.c — mid-point checkpoints beside a sweep file: PATH.ckpt/ROW, one
 * file per training run being trained (ROW: the file row of the point whose
 * run it is), holding the trainer's state (train.h, TrainHooks.checkpoint: an
 * opaque blob) so that a killed or preempted long point continues where it
 * was instead of at step 0.
 *
 * A file: the line "advsweep-checkpoint 1", the point's key (/plan/key; 32
 * hex digits, or empty in files without keys), the state's length (u64 LE)
 * and its SHA-256, then the state. Written under PATH.ckpt/ROW.tmp.PID,
 * fsynced and renamed into place, so a kill at any moment leaves the previous
 * checkpoint or the complete new one. A file that does not check out (another
 * point's key, a short or damaged file) is removed with a warning and
 * training starts over: a checkpoint only ever saves time. Removed when the
 * point's rows are written; creating a sweep file removes what an earlier
 * file of that name left. No MPI; not collective; workers write their own.
 * Must not print except adv_warn.
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
    unsigned char bytes[8]; /* u64 LE */
    unsigned char sha[32];
} CkptFileHeader;

static void ckpt_dir(char *buf, size_t len, const char *path) { snprintf(buf, len, "%s.ckpt", path); }

static void ckpt_file(char *buf, size_t len, const char *path, long row) {
    snprintf(buf, len, "%s.ckpt/%ld", path, row);
}

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

int checkpoint_save(const char *path, long row, const char *key, const void *state, size_t bytes) {
    char dir[4200], name[4300], tmp[4400];
    ckpt_dir(dir, sizeof dir, path);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return adv_err(ADV_ERR_IO, "%s: cannot make the checkpoint directory (%s)", dir, strerror(errno));
    ckpt_file(name, sizeof name, path, row);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
    CkptFileHeader h;
    memset(&h, 0, sizeof h);
    memcpy(h.line, CKPT_LINE, sizeof h.line);
    snprintf(h.key, sizeof h.key, "%s", key ? key : "");
    for (int i = 0; i < 8; i++) h.bytes[i] = (unsigned char)((uint64_t)bytes >> (8 * i));
    Sha256 s;
    sha256_init(&s);
    sha256_update(&s, state, bytes);
    sha256_final(&s, h.sha);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return adv_err(ADV_ERR_IO, "%s: cannot write a checkpoint (%s)", tmp, strerror(errno));
    int err = write_all(fd, &h, sizeof h);
    if (!err) err = write_all(fd, state, bytes);
    if (!err && fsync(fd) != 0 && errno != EINVAL) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, name) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return adv_err(ADV_ERR_IO, "%s: cannot write a checkpoint (%s)", name, strerror(err));
    }
    return ADV_OK;
}

int checkpoint_load(const char *path, long row, const char *key, void **state, size_t *bytes) {
    *state = NULL;
    *bytes = 0;
    char name[4300];
    ckpt_file(name, sizeof name, path, row);
    FILE *f = fopen(name, "rb");
    if (!f) return errno == ENOENT ? ADV_OK : adv_err(ADV_ERR_IO, "%s: cannot read (%s)", name, strerror(errno));
    CkptFileHeader h;
    const char *why = NULL;
    unsigned char *buf = NULL;
    uint64_t n = 0;
    struct stat sb;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.line, CKPT_LINE, sizeof h.line) != 0) why = "not a checkpoint";
    else if (h.key[STORE_KEY_HEX] != '\0' || strcmp(h.key, key ? key : "") != 0) why = "another point's";
    if (!why) {
        for (int i = 7; i >= 0; i--) n = n << 8 | h.bytes[i];
        if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size != sizeof h + n) why = "cut short";
    }
    if (!why) {
        buf = malloc(n ? (size_t)n : 1);
        if (!buf) why = "too large to read";
        else if (n && fread(buf, (size_t)n, 1, f) != 1) why = "unreadable";
    }
    if (!why) {
        unsigned char sha[32];
        Sha256 s;
        sha256_init(&s);
        sha256_update(&s, buf, (size_t)n);
        sha256_final(&s, sha);
        if (memcmp(sha, h.sha, 32) != 0) why = "damaged (its SHA-256 does not match)";
    }
    fclose(f);
    if (why) {
        free(buf);
        adv_warn("%s: checkpoint %s; removed, the point starts over", name, why);
        unlink(name);
        return ADV_OK;
    }
    *state = buf;
    *bytes = (size_t)n;
    return ADV_OK;
}

void checkpoint_remove(const char *path, long row) {
    char name[4300], dir[4200];
    ckpt_file(name, sizeof name, path, row);
    unlink(name);
    ckpt_dir(dir, sizeof dir, path);
    rmdir(dir); /* only when it is empty: other points may still be training */
}

void checkpoint_clear(const char *path) {
    char dir[4200];
    ckpt_dir(dir, sizeof dir, path);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char name[4500];
        snprintf(name, sizeof name, "%s/%s", dir, e->d_name);
        unlink(name);
    }
    closedir(d);
    rmdir(dir);
}
