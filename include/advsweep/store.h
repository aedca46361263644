/* store.h — the sweep file (docs/layout.md): create, resume, write points,
 * read status, merge, and read user data files.
 *
 * The only module that includes hdf5.h. It never includes mpi.h itself and its
 * contract carries no MPI types: a communicator arrives as its Fortran handle
 * (MPI_Comm_c2f), and STORE_SERIAL means "this process alone, no MPI-IO".
 *
 * Crash safety: store_open creates a new file completely (every dataset, with
 * early allocation and fill values, all parameters written) under a temporary
 * name, flushes it and renames it into place, before any point runs. After
 * that no metadata changes; workers write raw rows independently, and a
 * point's status last. A kill at any moment leaves a readable file whose
 * status==1 rows are complete.
 */
#ifndef ADVSWEEP_STORE_H
#define ADVSWEEP_STORE_H

#include <stdint.h>

#include "advsweep/config.h"
#include "advsweep/train.h"

#define STORE_SERIAL ((int64_t)-1)
#define STORE_KEY_HEX 32 /* a point key: 32 hex digits (config.h, POINT_KEY_HEX) */
#define STORE_LAYOUT_VERSION 1

typedef struct Store Store;

/* Everything store_open needs to create a file (ignored fields when resuming
 * are checked: grid_hash must match). */
typedef struct {
    long n_points;              /* P */
    const TrainConfig *configs; /* (P) every point's parameters (borrowed) */
    const double *cost_flops;   /* (P) planned FLOPs per point, for ETAs (borrowed; may be NULL) */
    const long *trained_as;     /* (P) the point whose run answers each point (borrowed; NULL = itself) */
    long records_max;           /* K: max plan.records over points */
    long evals_max;             /* E: max plan.evals over points */
    long targets_max;           /* Q: max plan.n_targets over points (columns of /targets/\*) */
    const char *job_text;
    const char *job_name;
    const char *axes;           /* "m,attack,seed" */
    int shard_index, shard_count;
    int store_weights;          /* add /weights and /data (sizes below) */
    long weights_max;           /* Nw: max n_trained over points */
    long fixed_max;             /* Nf: max (m*d + m | m) over points */
    long data_n_max, data_d_max;
    int ranks, omp_threads;
    const char *blas_version;   /* stored in the blas_version attribute (NULL: "") */
    const char *blas_kernel;    /* the building run's kernel, blas_kernel_description() (NULL: ""); each point's: StoreWorker */
    /* Optional: names point i in messages ("m=64, attack=pgd, seed=2"). */
    void (*label)(char *buf, size_t len, long index, const void *ctx);
    const void *label_ctx;
} StoreLayout;

enum {
    STORE_RESUME = 0, /* open an existing file that holds every point of the layout, else create */
    STORE_FRESH = 1,  /* replace an existing sweep file (never any other file) */
    STORE_EXTEND = 2, /* as RESUME, and add the points the file lacks (a new file, renamed into place) */
    STORE_RETRY_DAMAGED = 0x100, /* with RESUME: damaged points (checksum) become pending instead of refused */
};

/* Open or create `path` for writing. Collective on the communicator comm_f
 * (every rank calls it with the same arguments; rank 0 creates, the others
 * wait, then all open with MPI-IO). Points are matched by key (config.h,
 * point_key), not by position: the layout's point i is the file's row
 * store_rows(st)[i]. STORE_RESUME opens a file that holds every point of the
 * layout (of this numerics version, with room for its rows); a file that lacks
 * some is refused with ADV_ERR_INPUT saying how to extend it. STORE_EXTEND
 * builds the union (old rows keep their index and results, bit for bit; the
 * layout's new points are appended; old rows the layout lacks and that are not
 * final become RUN_SKIPPED) under a temporary name and renames it into place:
 * a kill at any moment leaves the old file or the complete new one. A file of
 * another numerics version, or that is not a sweep file, is refused and left
 * untouched. On failure *out is NULL and nothing was changed. */
int store_open(Store **out, const char *path, const StoreLayout *layout, int64_t comm_f, int mode);
/* The file row of each layout point (layout->n_points entries, owned by the
 * store), the same on every rank; and how many rows were appended by
 * STORE_EXTEND (0 otherwise). */
const long *store_rows(const Store *st);
long store_added(const Store *st);
/* Resuming verifies every finished point's checksum (/checksum, docs/layout.md)
 * first: a damaged point is refused (ADV_ERR_IO, naming the points; nothing is
 * changed) unless mode has STORE_RETRY_DAMAGED, which makes them pending
 * again; store_damaged_reset gives how many (the same on every rank). */
long store_damaged_reset(const Store *st);

/* Refuse an output path that would destroy what is not ours: ADV_ERR_INPUT
 * (one line naming both) when `path` is the same file (device and inode, so
 * "./x.h5", "x.h5", symlinks and hard links all count) as one of
 * inputs[0..n) (roles[k] names it: "data file", "job file", "input"; roles may
 * be NULL), or when `path` exists and is not an advsweep sweep file. Touches
 * nothing. Serial. store_open refuses a non-sweep file by itself, --fresh
 * included; this check lets a command refuse before it starts any work. */
int store_check_output(const char *path, const char *const *inputs, const char *const *roles, int n);

/* P and this process's copy of /status (P entries, owned by the store).
 * store_refresh_status re-reads it from the file. Not collective. */
long store_points(const Store *st);
const int8_t *store_status(const Store *st);
int store_refresh_status(Store *st);

#define STORE_KERNEL_BYTES 32 /* /worker/blas_kernel: a kernel name, NUL-terminated */

/* Who ran a point, and how (stored under /worker). */
typedef struct {
    int rank;
    int threads;
    char host[64];
    char blas_kernel[STORE_KERNEL_BYTES]; /* the OpenBLAS kernel that trained it, blas_kernel_name() ("": unknown) */
} StoreWorker;

/* The finished points (done, failed, diverged) of the file that another BLAS
 * kernel than `kernel` trained (their /worker/blas_kernel; rows written before
 * the dataset existed name none and do not count): *count receives their
 * number and names (len bytes) the other kernels, ", "-separated, in order of
 * first appearance ("Prescott, Zen"; truncated with "..."). Results differ in
 * the last bits between kernels, so a resume under another kernel mixes them.
 * 0 in a file without /worker/blas_kernel. Not collective (rank 0 calls it
 * after store_open, before any point runs). */
int store_other_kernels(Store *st, const char *kernel, long *count, char *names, size_t len);

/* Optional per-point arrays when the file stores weights (any may be NULL). */
typedef struct {
    const double *W0, *W, *fixed; /* lengths n_trained, n_trained, fixed count */
    long n_trained, n_fixed;
    const double *X, *y;          /* (n, d), (n) */
    long n, d;
} StorePointData;

/* Mark point `index` running (status 4). Not collective (independent I/O). */
int store_mark_running(Store *st, long index);

/* Write point `index`: summary, trajectories, runs row, worker, optional data;
 * then its status (sum->status) last. Not collective. */
int store_write_point(Store *st, long index, const TrainSummary *sum, const Trajectory *traj,
                      const StoreWorker *worker, const StorePointData *extra);

/* Reset rows whose status is failed/diverged to pending (for --retry-failed),
 * only rows with mask[row] != 0 (mask of store_points entries; NULL: every
 * row), on rank 0; returns their count in *count. Collective (others wait). */
int store_reset_failed(Store *st, const unsigned char *mask, long *count);
/* Mark rows[0..n) skipped (status 5) unless they are final. Not collective. */
int store_mark_skipped(Store *st, const long *rows, long n);

/* Results of finished rows, for a search that resumes (not collective). */
typedef struct {
    int status;           /* RUN_* */
    int outcome;          /* OUTCOME_* of the run, -1 */
    long steps_run, steps_planned;
    int n_targets;
    double tau[TARGETS_MAX];
    long step[TARGETS_MAX];
} StoreOutcome;
int store_read_outcomes(Store *st, const long *rows, long n, StoreOutcome *out);

/* ---- mid-point checkpoints (checkpoint.c) ----
 * A long point's training state (TrainHooks.checkpoint: opaque bytes) in
 * PATH.ckpt/KEY beside the sweep file, KEY the /plan/key of file row `row`
 * (the row whose run it is), with the numerics version, `env` (the text of
 * what else a bit-identical continuation needs: BLAS kernel, threads) and a
 * SHA-256; written atomically (temporary name, fsync, rename), so a kill
 * leaves the previous checkpoint or the new one. Not collective: each worker
 * saves and loads its own runs'. save takes the state as n byte ranges.
 * open gives *ck NULL (ADV_OK) when there is none, or when the one there does
 * not check out (another key, numerics version or env, cut short: removed
 * with a warning); else *bytes is its state's length, read in order by
 * store_checkpoint_read(ck, buf, len), and store_checkpoint_read(ck, NULL, 0)
 * after the last byte returns ADV_OK only when its SHA-256 matches (else the
 * checkpoint is removed with a warning). remove: once the point's rows are
 * written. store_open (rank 0) removes the checkpoints of points that are
 * final or not in the file, and every checkpoint when it creates the file
 * (new, --fresh). A file without /plan/key gets none (save and open do
 * nothing). */
typedef struct StoreCheckpoint StoreCheckpoint;
int store_checkpoint_save(Store *st, long row, const char *env, const void *const *parts, const size_t *lens, int n);
int store_checkpoint_open(Store *st, long row, const char *env, StoreCheckpoint **ck, size_t *bytes);
int store_checkpoint_read(StoreCheckpoint *ck, void *buf, size_t len);
void store_checkpoint_close(StoreCheckpoint **ck); /* accepts NULL */
void store_checkpoint_remove(Store *st, long row);

/* Close. Collective on the communicator given to store_open. Accepts NULL. */
int store_close(Store **st);

/* ---- read-only, serial: safe while a sweep holds the file (no file locking) ---- */

typedef struct {
    long n_points;
    long counts[RUN_STATUSES]; /* by status: pending, done, failed, diverged, running, skipped */
    long in_shard;           /* points this file's shard owns */
    int shard_index, shard_count;
    double done_wall;        /* sum of wall_time over done/diverged points */
    double done_flops_planned; /* sum of planned FLOPs over them */
    double pending_flops_planned; /* planned FLOPs of pending + running points in this shard */
    long ranks;
    char job_name[64];
    char created[32];
    long shard_counts[RUN_STATUSES]; /* as counts, over this shard's points only */
    long with_checkpoint;            /* pending or running points with a checkpoint (PATH.ckpt/KEY) */
} StoreStatus;

/* Summarise the file at `path`. ADV_ERR_INPUT if it is not a sweep file (or a
 * newer layout), ADV_ERR_IO if it cannot be read. */
int store_status_of(const char *path, StoreStatus *out);

/* A failed or diverged point of a sweep file, and why (its /reason). */
typedef struct {
    long index;
    int status; /* RUN_FAILED or RUN_DIVERGED */
    char reason[STATUS_REASON_MAX];
} StoreFailure;

/* The failed and diverged points of the file at `path`, in index order:
 * *out (caller frees; NULL when none) with *count entries, and the file's job
 * text in *job_text (caller frees; "" when it has none), to label them.
 * Errors as store_status_of. Serial, read-only, works while a sweep runs. */
int store_failures_of(const char *path, StoreFailure **out, long *count, char **job_text);

/* The points of `path` whose rows no longer match their checksum (a byte
 * changed on disk or in transit): every finished point (done, failed,
 * diverged) is recomputed (docs/layout.md, /checksum). A file written before
 * checksums existed has has_checksums = 0 and nothing checked. Serial,
 * read-only, works while a sweep runs. Errors as store_status_of. */
typedef struct {
    long n_points;
    long checked;      /* finished points compared */
    long n_damaged;
    long *damaged;     /* (n_damaged) their indices, ascending; caller frees */
    int has_checksums;
} StoreVerify;
int store_verify(const char *path, StoreVerify *out);

/* The counts of the points of `path` for which match(ctx, cfg) holds (NULL:
 * every point); *matched (may be NULL) receives their number. No ETA fields. */
int store_status_where(const char *path, int (*match)(void *ctx, const TrainConfig *cfg), void *ctx,
                       StoreStatus *out, long *matched);

/* Combine sweep files of any jobs (shards, other clusters, other grids) into a
 * new file `out_path`: the union of their points by key, rows in the order of
 * the inputs (the first input's rows first). A point with a final result
 * (done, failed, diverged) in several inputs must hold bit-identical results
 * there (every result dataset; timings and worker identity aside), else
 * ADV_ERR_INPUT names the conflicting points and nothing is written. Each
 * point takes its final result, else the most advanced status (running,
 * pending, skipped). Inputs of another numerics version are refused. Inputs
 * are verified first (store_verify): a damaged point is taken from another
 * input that holds it intact (with a warning), and refused (ADV_ERR_IO,
 * naming the input and points) when none does. Writes to a temporary name
 * and renames on success. Serial. */
int store_merge(const char *out_path, const char *const *inputs, int n_inputs);
/* store_merge, and taken[j] (n_inputs entries; may be NULL) receives how many
 * points were taken from inputs[j] (points pending everywhere count for none). */
int store_merge_counts(const char *out_path, const char *const *inputs, int n_inputs, long *taken);

/* Rows a..a+n of the file's /params as configurations (serial, read-only). */
int store_configs_of(const char *path, long a, long n, TrainConfig *out);

/* Keys of configs[0..n) (point_key; data files hashed once per distinct path). */
int store_keys_of(char (*keys)[STORE_KEY_HEX + 1], const TrainConfig *configs, long n);
/* 32 hex digits of the content of a data file's /x and /y (as float64). */
int store_data_hash(const char *path, char hex[STORE_KEY_HEX + 1]);

/* ---- one writer per file (lock.c) ----
 *
 * Every command that writes a sweep file holds its lock PATH.lock (beside
 * PATH) while it writes: `run` (resume, --fresh, --retry-failed), `train -o`
 * and `merge -o` (the output). store_open and store_merge take it themselves;
 * a command may take it earlier (train -o: before training, so that a bad or
 * busy output path is refused at once). It works on local disks and shared
 * filesystems (NFS, Lustre): an exclusive create by link(2), a heartbeat (the
 * lock's mtime, refreshed every store_lock_heartbeat() seconds by a thread),
 * and a race-free takeover of a dead holder's lock (see lock.c). A holder is
 * dead when it ran on this host and its process is gone, or when its
 * heartbeat is older than store_lock_timeout() seconds. */
typedef struct StoreLock StoreLock;

/* Take the lock of `path` for `command` ("run", "train -o", "merge -o"), or
 * add a reference if this process holds it already. Not collective (call on
 * one rank). A live holder: ADV_ERR_INPUT, one line naming it (command, host,
 * pid, start time); nothing is changed. A path that cannot name a file there
 * (missing directory, a directory): ADV_ERR_INPUT; a filesystem that refuses
 * (read-only, full, permission): ADV_ERR_IO. A dead holder's lock is taken
 * over (one warning line); a holder whose heartbeat is late but not yet stale
 * is waited for. */
int store_lock_acquire(StoreLock **out, const char *path, const char *command);
/* The file a write to `path` must go to, into out: `path` itself, or, when its
 * last component is a symbolic link, the end of the chain of links (created
 * if missing), so that every name of one file has one lock and --fresh,
 * --extend and merge -o replace the target, not the link (their temporary is
 * made beside it, so the rename stays atomic). Commands that write resolve
 * their output once and use the result for everything (lock, file,
 * FILE.ckpt, FILE.stop); store_lock_acquire resolves again itself, and
 * refuses (ADV_ERR_INPUT) a file with more than one hard link, whose other
 * names would have locks of their own. ADV_ERR_INPUT for a loop or a name
 * too long, ADV_ERR_IO for a link that cannot be read. */
int store_output_target(const char *path, char *out, size_t len);
/* Drop a reference; the last one stops the heartbeat and removes the lock
 * (only if it is still ours). Accepts NULL; nulls the handle. */
int store_lock_release(StoreLock **lock);
/* 1 if the heartbeat found the lock removed or taken over by another process. */
int store_lock_lost(const StoreLock *lock);
/* 1 and a description ("run on host h, pid 12, since 2026-...Z (running)")
 * if `path` has a live (or not yet stale) holder, else 0. Read-only. */
int store_lock_holder(const char *path, char *buf, size_t len);
/* Seconds between heartbeats (ADVSWEEP_LOCK_HEARTBEAT, default 5) and the age
 * after which a heartbeat is stale (ADVSWEEP_LOCK_TIMEOUT, default 60). */
double store_lock_heartbeat(void);
double store_lock_timeout(void);

/* The training set of cfg: generated (data_generate) or, for data=file, read
 * from cfg->data_file and put on the sphere (silently: store_data_info tells
 * how many rows are off it, once per file). n and d must match cfg. *out
 * owns a new dataset. Not collective. */
int store_training_set(Dataset **out, const TrainConfig *cfg);
/* The same, and for data=file *digest (may be NULL) receives the content
 * digest of what was read (as store_data_digest), so that a caller can tell
 * that the file changed since it was checked. */
int store_training_set_digest(Dataset **out, const TrainConfig *cfg, uint64_t *digest);

/* What a user data file holds, checked as training will use it. */
typedef struct {
    long n, d;        /* shape of /x */
    long off_sphere;  /* rows whose norm is not 1 (training projects them onto the sphere) */
    uint64_t digest;  /* content digest (store_data_digest) */
} StoreDataInfo;

/* Read and check the data file at `path` completely (the datasets, their
 * shapes, labels +-1, finite values, no zero rows): ADV_ERR_INPUT naming the
 * file and the problem. Serial, read-only; prints nothing. */
int store_data_info(const char *path, StoreDataInfo *out);
/* The content digest of a data file: a 64-bit hash of its shape (n, d) and of
 * /x and /y as float64, bit for bit, before any projection onto the sphere,
 * so equal values stored as other types hash equal and regenerated data that
 * differs in any bit does not. Errors as store_read_data. */
int store_data_digest(const char *path, uint64_t *digest);

/* Read a user data file: /x (n, d) float64 and /y (n). The caller frees *X, *y.
 * ADV_ERR_INPUT with the reason (missing dataset, wrong shape, not HDF5). */
int store_read_data(const char *path, double **X, double **y, long *n, long *d);

#endif
