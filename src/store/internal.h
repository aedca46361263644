/* internal.h — shared by the storage module's files (src/store only; not a public header).
 *
 * The schema (every dataset and attribute name of docs/layout.md) lives here,
 * with the HDF5 helpers that store.c (writer), read.c (status, merge) and
 * data.c (user data files) share. Nothing outside src/store includes it.
 */
#ifndef ADVSWEEP_STORE_INTERNAL_H
#define ADVSWEEP_STORE_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "advsweep/store.h"

/* ---- schema (docs/layout.md) ------------------------------------------------ */

#define TOOL_NAME "advsweep"

/* root attributes */
#define A_LAYOUT_VERSION "layout_version"
#define A_TOOL "tool"
#define A_TOOL_VERSION "tool_version"
#define A_JOB_TEXT "job_text"
#define A_JOB_NAME "job_name"
#define A_GRID_HASH "grid_hash"
#define A_CREATED "created"
#define A_N_POINTS "n_points"
#define A_RECORDS_MAX "records_max"
#define A_EVALS_MAX "evals_max"
#define A_AXES "axes"
#define A_SHARD_INDEX "shard_index"
#define A_SHARD_COUNT "shard_count"
#define A_HDF5_VERSION "hdf5_version"
#define A_MPI_VERSION "mpi_version"
#define A_BLAS_VERSION "blas_version"
#define A_BLAS_KERNEL "blas_kernel" /* the building run's (rank 0's) kernel, or BLAS_KERNEL_MIXED */
#define A_OMP_THREADS "omp_threads"
#define A_RANKS "ranks"
#define A_TARGETS_MAX "targets_max"
#define A_NUMERICS_VERSION "numerics_version"
#define A_MERGED_FROM "merged_from"
#define A_CHECKSUM_VERSION "checksum_version" /* the checksum rule (checksum.c); absent = 1 */

/* groups */
#define G_PARAMS "params"
#define G_SUMMARY "summary"
#define G_TRAJ "traj"
#define G_EVAL "eval"
#define G_WORKER "worker"
#define G_PLAN "plan"
#define G_WEIGHTS "weights"
#define G_DATA "data"
#define G_TARGETS "targets"

/* datasets */
#define D_STATUS "status"             /* (P) int8, written last */
#define D_REASON "reason"             /* (P) string REASON_BYTES */
#define D_RUNS "runs"                 /* (P) compound */
#define D_PLAN_FLOPS "plan/flops"     /* (P) float64 */
#define D_PLAN_TRAINED_AS "plan/trained_as" /* (P) int64: the point whose training run answers this one */
#define D_PLAN_KEY "plan/key"     /* (P) string STORE_KEY_HEX + 1: the point's key */
#define D_SUMMARY_TRAINED_AS "summary/trained_as"
#define D_TRAJ_LENGTH "traj/length"   /* (P) int32 */
#define D_EVAL_LENGTH "eval/length"   /* (P) int32 */
#define D_WORKER_RANK "worker/rank"   /* (P) int32 */
#define D_WORKER_HOST "worker/host"   /* (P) string HOST_BYTES */
#define D_WORKER_THREADS "worker/threads" /* (P) int32 */
#define D_WORKER_BLAS_KERNEL "worker/blas_kernel" /* (P) string KERNEL_BYTES: the kernel that trained it, "" unknown */
#define D_WEIGHTS_W0 "weights/W0"     /* (P, Nw) */
#define D_WEIGHTS_W "weights/W"       /* (P, Nw) */
#define D_WEIGHTS_FIXED "weights/fixed" /* (P, Nf) */
#define D_DATA_X "data/X"             /* (P, N, D) */
#define D_DATA_Y "data/y"             /* (P, N) */
#define D_SUMMARY_WALL "summary/wall_time"
#define D_TARGETS_TAU "targets/tau"         /* (P, Q) float64, NaN padded, descending */
#define D_TARGETS_STEP "targets/step"       /* (P, Q) int64: first t >= 1 with L_A <= tau, -1 */
#define D_TARGETS_OUTCOME "targets/outcome" /* (P, Q) int8: OUTCOME_*, -1 padded */
#define D_CHECKSUM "checksum"               /* (P) uint64: the point's checksum (checksum.c), 0 = none */

/* /traj/NAME (P, K) and /eval/NAME (P, E); index 0 is "step" (int64), the rest float64 */
#define N_TRAJ 5
#define N_EVAL 3
extern const char *const TRAJ_NAMES[N_TRAJ];
extern const char *const EVAL_NAMES[N_EVAL];

/* members of /runs besides the parameters and summary fields */
#define RUNS_INDEX "index"
#define RUNS_STATUS "status"
#define RUNS_COLLISION_PREFIX "summary_" /* a summary field named like a parameter (lr) */
#define SUMMARY_STATUS "status"          /* the summary field that mirrors /status */

/* The grid's limit (sweep.h): a sweep file with a longer /status is damaged,
 * and reading it would allocate without bound. */
#define STORE_MAX_POINTS 1000000L
/* Largest row (one point's values of one dataset) that merge copies. */
#define STORE_MAX_ROW_BYTES (1024L << 20)
/* Largest user data file: n x d values (1 GiB as float64). */
#define STORE_MAX_DATA_VALUES (1L << 27)

#define REASON_BYTES STATUS_REASON_MAX
#define CHOICE_BYTES 16
#define TEXT_BYTES CONFIG_TEXT_MAX
#define HOST_BYTES 64
#define KERNEL_BYTES STORE_KERNEL_BYTES
/* The blas_kernel attribute of a file whose points were trained under several kernels. */
#define BLAS_KERNEL_MIXED "mixed (per point: /worker/blas_kernel)"

/* ---- errors and handles --------------------------------------------------------- */

/* Initialise the library once and silence its error printing. */
void h5_init(void);

/* adv_err(code, fmt, ...) with " (HDF5: innermost error)" appended when the
 * HDF5 error stack holds one; clears the stack. */
int h5_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns rc; when rc is an error whose message does not name `path`, the
 * message becomes "PATH: message" (readers' errors name the file at fault). */
int h5_in_file(int rc, const char *path);

/* `if ((expr) < 0)`: record an ADV_ERR_IO message and jump to cleanup (needs `rc`). */
#define H5TRY(expr, ...)                              \
    do {                                                \
        if ((expr) < 0) {                               \
            rc = h5_fail(ADV_ERR_IO, __VA_ARGS__);      \
            goto cleanup;                               \
        }                                               \
    } while (0)
/* Propagate an advsweep return code to cleanup (needs `rc`). */
#define CHECK(expr)                                     \
    do {                                                \
        rc = (expr);                                    \
        if (rc != ADV_OK) goto cleanup;                 \
    } while (0)

/* Close any kind of identifier and set it to H5I_INVALID_HID. Accepts invalid ids. */
void h5_close(hid_t *id);

/* File access for serial use: sec2 driver, no file locking, no data sieve
 * buffer (every raw write reaches the file at once). Caller closes. */
hid_t h5_fapl_serial(void);

/* 1 if `path` holds the HDF5 signature (at 0, 512, 1024, ...), 0 if it does
 * not, or minus an error code (ADV_ERR_INPUT: missing, a directory; ADV_ERR_IO:
 * unreadable) after recording its message. */
int h5_is_hdf5(const char *path);

/* 1 if `path` is an HDF5 file whose root attribute `tool` is "advsweep" (a
 * sweep file of any layout version, complete or not: ours to replace), 0 if it
 * is anything else, or minus an error code as h5_is_hdf5 (with its message). */
int h5_is_sweep(const char *path);

/* Open a sweep file read-only (or RDWR) with h5_fapl_serial and check it is
 * one: ADV_ERR_INPUT "PATH: ..." if not HDF5, not a sweep, or a newer layout;
 * ADV_ERR_IO if unreadable. */
int h5_open_sweep(hid_t *file, const char *path, unsigned flags);

/* ---- attributes ------------------------------------------------------------------- */

hid_t h5_str_type(size_t bytes); /* fixed-length, NUL-terminated ASCII; caller closes */
int h5_attr_write_str(hid_t obj, const char *name, const char *value);
int h5_attr_write_i64(hid_t obj, const char *name, int64_t value);
/* Overwrite an existing scalar integer attribute in place. */
int h5_attr_update_i64(hid_t obj, const char *name, int64_t value);
/* Read a string attribute (fixed or variable length) into buf[0..len), truncated. */
int h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t len);
/* h5_attr_read_str for one-line texts (tool, names, hashes, dates): control
 * characters become '?', since the text goes into messages and listings. */
int h5_attr_read_line(hid_t obj, const char *name, char *buf, size_t len);
int h5_attr_read_i64(hid_t obj, const char *name, int64_t *value);
int h5_attr_exists(hid_t obj, const char *name);

/* ---- datasets --------------------------------------------------------------------- */

/* dims of dataset `name` (at most 3); returns its rank or -1 with an error. */
int h5_dims(hid_t loc, const char *name, hsize_t dims[3]);
/* Does the link `name` (a path) exist and name a dataset? */
int h5_has_dataset(hid_t loc, const char *name);

/* Write / read row `index` (all of dims[1..]) of a dataset whose first
 * dimension is the point index. `buf` holds the whole row in `memtype`. */
int h5_write_row(hid_t ds, long index, hid_t memtype, const void *buf, const char *what);
int h5_read_row(hid_t ds, long index, hid_t memtype, void *buf, const char *what);
/* Read all of dataset `name` in `memtype` into buf, which holds `count`
 * values: ADV_ERR_INPUT if the dataset holds another number (a damaged file
 * must not make HDF5 write past buf). */
int h5_read_all(hid_t loc, const char *name, hid_t memtype, void *buf, hsize_t count);
/* /plan/key, all P rows, into keys (NUL-terminated; validity is the caller's check). */
int h5_read_keys(hid_t f, char (*keys)[STORE_KEY_HEX + 1], long P);
/* 1 if `name` is a dataset of shape (P). */
int h5_is_vector(hid_t loc, const char *name, hsize_t P);

/* ---- parameters, summary fields, the runs table ----------------------------------- */

size_t param_bytes(const ParamSpec *p);          /* storage size of one value */
hid_t param_type(const ParamSpec *p, int native); /* caller closes */
void param_pack(void *dst, const TrainConfig *cfg, const ParamSpec *p);

hid_t summary_type(const SummaryField *f, int native); /* caller closes */
size_t summary_bytes(const SummaryField *f);
/* The fill value of a summary field: NaN, -1 (0 for status) or "". */
void summary_fill(void *dst, const SummaryField *f);
int summary_is_status(const SummaryField *f);

/* The packed compound row of /runs: index, status (int32), every parameter,
 * every summary field but status (RUNS_COLLISION_PREFIX before a name that a
 * parameter already uses). */
typedef struct {
    hid_t type;          /* compound, packed, `size` bytes */
    size_t size;
    size_t off_index, off_status;
    size_t *off_param;   /* (N_PARAMS) */
    size_t *off_summary; /* (N_SUMMARY_FIELDS); (size_t)-1 for status */
} RunsType;
int runs_type_build(RunsType *rt, int native);
void runs_type_free(RunsType *rt);
/* Summary part (and status) of a row from sum; fills when sum is NULL. */
void runs_pack_summary(const RunsType *rt, unsigned char *row, const TrainSummary *sum);

/* dst[0..size) = src truncated to size-1 characters, zero-padded. */
void text_copy(char *dst, size_t size, const char *src);

/* ---- a file's points (points.c) --------------------------------------------------- */

/* A sweep file opened read-only with its point table. */
typedef struct {
    char *path;
    hid_t file;
    long P;
    char (*key)[STORE_KEY_HEX + 1]; /* (P) stored, or computed from /params for files written before keys */
    int has_keys;        /* /plan/key was there */
    int8_t *status;      /* (P) /status when opened */
    int numerics;        /* the numerics version of its results (0: before keys and /targets) */
    hsize_t K, E, Q, Nw, Nf, N, D; /* row sizes of /traj, /eval, /targets, /weights, /data (0: absent) */
    int64_t shard_index, shard_count;
    char job_name[64];
} FilePoints;

/* Open `path` and read its table (keys computed when absent and the numerics
 * allow: a file of another version has empty keys). ADV_ERR_INPUT if it is not
 * a sweep file. Close with file_points_close (accepts a zeroed or closed one). */
int file_points_open(FilePoints *fp, const char *path);
void file_points_close(FilePoints *fp);
/* ADV_ERR_INPUT naming the file when its numerics version is not this advsweep's. */
int file_points_check_numerics(const FilePoints *fp);
/* Rows a..a+n of /params as configurations (parameters the file lacks: their defaults). */
int file_points_configs(const FilePoints *fp, long a, long n, TrainConfig *out);
/* Why a resume misses the layout's points (map[i] < 0) when some have a data file, for the
 * refusal: which of them the file holds but for their data's content (the data changed),
 * or that a key holds the data's content; "" when no missing point has a data file. */
void file_points_missing_hint(char *buf, size_t len, const FilePoints *fp, const StoreLayout *l, const long *map);
/* Why two configurations of one job have one key, to follow "are the same point":
 * " (every parameter equal)", or ": ..." naming their data files of identical content. */
void store_same_point_why(char *buf, size_t len, const TrainConfig *a, const TrainConfig *b);

/* ---- building files (store.c, compose.c) ---------------------------------------------- */

/* Create the complete file `tmp` for layout l with keys[P] (nothing published;
 * every dataset allocated with fill values, parameters, plan and keys written). */
int store_build_file(const char *tmp, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1]);
/* Fingerprint of a file's rows: the first 64 bits of the hash of its keys in order. */
uint64_t store_keys_fingerprint(const char (*keys)[STORE_KEY_HEX + 1], long P);

/* Copy rows src_rows[k] of every per-point result dataset of `src` into rows
 * dst_rows[k] of `dst` (n pairs), padding narrower rows with the output's fill
 * values: /status, /reason, /summary, /traj, /eval, /targets, /worker,
 * /weights, /data (what both have). Not /params, /plan or /runs (built from
 * the layout; rebuild /runs with store_rebuild_runs). */
int store_copy_rows(hid_t dst, hid_t src, const char *src_path, const long *src_rows, const long *dst_rows, long n);
/* Rewrite every row of /runs from /params (configs), /summary and /status. */
int store_rebuild_runs(hid_t file, const TrainConfig *configs, long P);
/* Extend the file at `path` with the points of l that it lacks (rows appended;
 * old rows keep their index), atomically; map[i] receives layout point i's row. */
int store_extend_file(const char *path, const StoreLayout *l, const char (*keys)[STORE_KEY_HEX + 1],
                      const FilePoints *old, long *map);

/* ---- checksums (checksum.c) -------------------------------------------------------- */

/* The checksum rule a writer of this version uses for the files it creates
 * (docs/layout.md, /checksum): 1 = result rows only; 2 = also /params,
 * /plan/key, /runs and the final status. */
#define CHECKSUM_VERSION 2
/* Mark a file being created as written under CHECKSUM_VERSION. */
int checksum_mark_version(hid_t file);
/* The rule of a file's checksums: its checksum_version, 1 when absent. */
int checksum_rule(hid_t file);
/* The datasets a point's checksum covers, opened on `file` (P rows), under
 * the file's rule (its checksum_version attribute; 1 when absent). */
typedef struct ChecksumSet ChecksumSet;
int checksum_open(ChecksumSet **out, hid_t file, long P, const char *path);
void checksum_close(ChecksumSet **cs);
int checksum_version_of(const ChecksumSet *cs);
/* The checksums of rows [a, a + n) as the file holds them now; status[k]:
 * the final status of row a + k (rule 2 covers it; the writer passes the
 * status it is about to write, a verifier the one it read). */
int checksum_rows(ChecksumSet *cs, long a, long n, const int8_t *status, uint64_t *out);
/* Recompute every final point's checksum (status done, failed, diverged) and
 * compare with /checksum: damaged[i] = 1 where they differ (damaged: P
 * entries, caller's). *has = 0 for a file without /checksum (nothing is
 * compared). */
int checksum_verify(hid_t file, const char *path, long P, const int8_t *status, unsigned char *damaged,
                    long *n_damaged, long *n_checked, int *has);
/* Recompute and write /checksum of rows[0..n) that are final (their /status),
 * after a writer changed a covered row of an intact point (a new /plan/key). */
int checksum_refresh_rows(hid_t file, const char *path, long P, const long *rows, long n);
/* A damaged row about to be rerun (--retry-damaged): its /params row, /plan/key
 * and the parameter columns of its /runs row rewritten from the job's point
 * (cfg, key), so that the rerun's result is filed under what was run. */
int checksum_restore_point(hid_t file, const char *path, long row, const TrainConfig *cfg, const char *key);
/* "5, 17, 230, ..." (at most 8) of the damaged points into buf. */
void checksum_list(char *buf, size_t len, const unsigned char *damaged, long P, long n_damaged);

/* ---- netCDF-4 dimensions (dims.c) ------------------------------------------------- */

/* Make the file being built a netCDF-4 dataset: dimension scales /point,
 * /traj/record, /eval/eval, /targets/target (and the optional arrays')
 * attached to every per-point dataset, and a root soft link to each parameter
 * that varies between the layout's points, named in the `coordinates`
 * attribute of /status and /reason. Serial, while the file is built. */
int store_attach_dims(hid_t file, const StoreLayout *l);

/* ---- user data files (data.c) ---------------------------------------------------- */

/* The content digest of a data file's arrays as read (float64, before any
 * projection onto the sphere): the shape, then the bytes of /x and /y. */
uint64_t data_digest_of(const double *X, const double *y, long n, long d);

/* ---- mid-point checkpoints (checkpoint.c): PATH.ckpt/KEY ------------------------------ */

#define CHECKPOINT_ENV_BYTES 128 /* the environment text stored with a checkpoint */
int checkpoint_save(const char *path, const char *key, const char *env, const void *const *parts, const size_t *lens,
                    int n);
/* An open checkpoint (store.h: StoreCheckpoint). open: ADV_OK with *c NULL when there
 * is none, or none whose header checks out (removed, warned). read: the next len bytes;
 * buf NULL: the end (ADV_ERR_IO, removed and warned, unless all was read and its
 * SHA-256 matches). */
typedef struct StoreCheckpoint Checkpoint;
int checkpoint_open(const char *path, const char *key, const char *env, Checkpoint **c, size_t *bytes);
int checkpoint_read(Checkpoint *c, void *buf, size_t len);
void checkpoint_close(Checkpoint **c);
/* The checkpoint of key, and PATH.ckpt when that leaves it empty. */
void checkpoint_remove(const char *path, const char *key);
/* 1 when point `key` of the sweep file `path` has a (complete) checkpoint. */
int checkpoint_exists(const char *path, const char *key);
/* Remove PATH.ckpt's checkpoints whose key keep() rejects (keep NULL: all) and
 * every temporary left by a kill; then the directory if empty. Touches only
 * names checkpoint.c makes. Returns the entries left. */
int checkpoint_prune(const char *path, int (*keep)(void *ctx, const char *key), void *ctx);

/* ---- files ------------------------------------------------------------------------ */

/* "PATH.tmp.PID" (or "PATH.tmp.PID.N"), reserved as an empty file created
 * with O_EXCL, so that it is never a user's file; caller frees (and removes it
 * unless it was renamed into place). */
char *store_tmp_name(const char *path);
/* fsync `tmp` and rename it to `path`. */
int store_publish(const char *tmp, const char *path);
/* Byte copy of a file. */
int store_copy_file(const char *from, const char *to);

/* Room for a new file of `bytes` of raw data plus `reserve` of metadata at
 * `path` (its directory's filesystem): ADV_ERR_IO "PATH: not enough space ...
 * (needs about X MB, Y MB free)" when the filesystem has less; otherwise a
 * reserve file `path`.reserve of `reserve` bytes is allocated (*reserve_path,
 * caller frees) while HDF5 allocates the raw data, and deleted
 * (store_reserve_drop) just before the metadata is flushed, or before the
 * close of a build that failed: HDF5's metadata flush then has room. (A flush
 * that fails leaves a file id that no close can release, and HDF5 crashes in
 * H5F__close_cb at exit.) ADVSWEEP_SKIP_SPACE_CHECK=1 skips the comparison
 * (tests: HDF5 meets the full disk itself). */
int store_reserve(const char *path, double bytes, double reserve, char **reserve_path);
void store_reserve_drop(char **reserve_path);

#endif
