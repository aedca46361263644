/* config.h — every training parameter, declared once.
 *
 * TrainConfig holds one grid point's parameters. PARAMS[] describes each field
 * (name, type, default, valid range, help) and is the single table that the
 * command line (`advsweep train --NAME VALUE`), the job-file parser, the grid
 * expansion, the HDF5 schema (/params/NAME) and `--help` all read. Adding a
 * parameter is one field here plus one row in config.c.
 *
 * Pure data: no numerics, no MPI, no HDF5.
 */
#ifndef ADVSWEEP_CONFIG_H
#define ADVSWEEP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum { MODEL_DEEP, MODEL_TWOLAYER };
enum { ACT_RELU, ACT_SOFTPLUS, ACT_QUADRELU };
enum { INPUT_LINEAR, INPUT_RELU };
enum { LOSS_LOGISTIC, LOSS_SQUARE };
enum { DATA_SPHERE, DATA_TEACHER, DATA_SHATTER, DATA_FILE };
enum { ATTACK_NONE, ATTACK_RANDOM, ATTACK_FGSM, ATTACK_PGD };
enum { LR_RULE_FREE, LR_RULE_THEOREM };
enum { PRECISION_F64, PRECISION_F32 };

/* The numerics version: part of every point's key (sweep.h, point_key), so a
 * sweep file never mixes results of different numerics. BUMP IT in the same
 * commit as any change after which the same parameters give a different
 * result in any bit: the networks, activations and losses (src/nn), the
 * attacks and the projection (src/attack), the data generators (src/data),
 * training, schedules, stopping rules and what a run records (src/train), the
 * meaning of a parameter's value or of "auto", a changed default (the key
 * leaves parameters at their default out, so that adding a parameter keeps
 * every key), or the random streams. A new parameter whose default keeps the
 * old behaviour needs none. Version 1: the numerics of issue 8 (the first
 * layout with /targets). Files written by another version are refused by
 * resume, --extend and merge (docs/layout.md, "Point keys"). */
#define ADVSWEEP_NUMERICS_VERSION 1

#define CONFIG_TEXT_MAX 256
#define TARGETS_MAX 32 /* target losses one run answers (parameter `targets`) */

typedef struct {
    /* network (eq. 1 deep, eq. 4 two-layer) */
    int model;           /* MODEL_* */
    int activation;      /* ACT_* */
    int input_layer;     /* INPUT_*: deep net's x0 = A x (paper) or relu(A x) ([1]) */
    int loss;            /* LOSS_* */
    int64_t m;           /* width */
    int64_t H;           /* depth (deep net only) */
    /* data */
    int64_t d;           /* input dimension */
    int64_t n;           /* training points */
    double delta;        /* perturbation radius on the sphere, [0, 2) */
    int data;            /* DATA_* */
    char data_file[CONFIG_TEXT_MAX];
    int64_t teacher_width;
    double shatter_spread; /* cluster radius of the shattering set, in units of delta */
    /* training attack */
    int attack;          /* ATTACK_* */
    int64_t pgd_steps;   /* k */
    double pgd_step;     /* eta; 0 (auto) = 2.5 * delta / k */
    int64_t pgd_restarts;
    int64_t pgd_random_start; /* 0 or 1 */
    /* strong evaluation attack (robust-loss estimate) */
    int64_t eval_steps;
    int64_t eval_restarts;
    int64_t eval_count;  /* evaluations spread evenly over the run, plus step 0 and the end */
    /* projected gradient descent */
    double R;            /* radius of B(R); INFINITY = no projection */
    double epsilon;      /* target surrogate loss: success when some L_A(W_t) <= epsilon */
    char targets[CONFIG_TEXT_MAX]; /* more targets answered by the same run: "0.2,0.1"; "auto" = the
                                      job's epsilon values (always includes epsilon) */
    int lr_rule;         /* LR_RULE_*: how auto alpha and T are derived */
    double lr;           /* alpha; 0 (auto) = from lr_rule */
    int64_t steps;       /* T; 0 (auto) = from lr_rule */
    double c_alpha;      /* 0 (auto) = 400 (theorem) or 40 (free). theorem: alpha = c_alpha eps / (m H^2) (deep),
                            c_alpha eps (two-layer); free: alpha = c_alpha / (m H^2) (deep), c_alpha (two-layer) */
    double c_T;          /* theorem: T = c_T R^2 / (m eps alpha)  (deep), c_T sqrt(m) / alpha (two-layer) */
    int64_t max_steps;   /* cap on a derived T (free: T = max_steps) */
    int64_t early_stop;  /* stop after this many consecutive steps with L_A <= target; 0 = off */
    double early_stop_target; /* 0 (auto) = the smallest target */
    int64_t plateau_window; /* W: stop as "plateau" when min L_A improved by less than plateau_tol
                               (relative) over the last W steps; 0 = off */
    double plateau_tol;
    /* recording */
    int64_t record_dense; /* record every step up to here ... */
    int64_t record_max;   /* ... then geometrically, at most this many records in all */
    /* numerics */
    int precision;       /* PRECISION_*: the compute backend (cpu_f64 reference, cpu_f32) */
    int64_t seed;
} TrainConfig;

typedef enum { PARAM_INT, PARAM_REAL, PARAM_CHOICE, PARAM_TEXT } ParamType;

enum {
    PARAM_MIN_OPEN = 1u << 0,  /* value must be > min (not >=) */
    PARAM_MAX_OPEN = 1u << 1,  /* value must be < max */
    PARAM_ALLOW_INF = 1u << 2, /* "inf" accepted (REAL) */
    PARAM_ZERO_AUTO = 1u << 3, /* the text "auto" (stored as 0) means "derive it" */
};

typedef struct {
    const char *name;            /* --name on the command line, key in job files */
    ParamType type;
    size_t offset;               /* offsetof(TrainConfig, field) */
    const char *default_text;    /* parsed by config_defaults() */
    double min, max;             /* valid range (INT, REAL) */
    unsigned flags;              /* PARAM_* */
    const char *const *choices;  /* NULL-terminated names (CHOICE) */
    const char *help;
} ParamSpec;

extern const ParamSpec PARAMS[];
extern const int N_PARAMS;

/* The spec named `name`, or NULL. */
const ParamSpec *param_find(const char *name);

/* Parse `text` into cfg's field for `p`, checking its range. On bad input
 * returns ADV_ERR_INPUT with a message naming the parameter and the value,
 * and leaves cfg unchanged. */
int param_set(TrainConfig *cfg, const ParamSpec *p, const char *text);

/* Write the field's value as text ("inf" for an infinite REAL, the name for a
 * CHOICE) into buf[0..len). */
void param_format(char *buf, size_t len, const TrainConfig *cfg, const ParamSpec *p);

/* The field's numeric value (CHOICE: its index; TEXT: 0). */
double param_value(const TrainConfig *cfg, const ParamSpec *p);

/* Fill cfg with every parameter's default. */
void config_defaults(TrainConfig *cfg);

/* Checks that involve more than one parameter (odd m for the two-layer net,
 * quadratic relu only for the two-layer net, a data file for data=file, ...).
 * Returns ADV_ERR_INPUT with a one-line message on the first problem. */
int config_validate(const TrainConfig *cfg);

/* The run's targets: epsilon and the `targets` list, distinct, descending, into
 * out[0..TARGETS_MAX). Returns their count, or -1 after ADV_ERR_INPUT naming the
 * bad list. */
int config_targets(double *out, const TrainConfig *cfg);

/* ---- point identity (src/util/key.c) --------------------------------------------------- */

/* A point's key: 32 lowercase hex digits, the 128-bit fingerprint of its
 * canonical text (every parameter that differs from its default, the resolved
 * target set, the numerics version, and for data=file the content hash of the
 * data file; docs/layout.md "Point keys"). Equal keys mean the same computation. */
#define POINT_KEY_HEX 32
#define POINT_TEXT_MAX 65536 /* bound on the canonical text of any configuration */
/* data_hash: 32 hex digits of the data file's contents (store_data_hash) when
 * cfg->data is DATA_FILE; ignored otherwise (may be NULL). */
void point_key(char key[POINT_KEY_HEX + 1], const TrainConfig *cfg, const char *data_hash);
/* The canonical text behind point_key into buf[0..len); returns its full length. */
size_t point_canonical_text(char *buf, size_t len, const TrainConfig *cfg, const char *data_hash);
/* 1 if key is 32 lowercase hex digits. */
int point_key_valid(const char *key);

/* key -> position in an array of keys (borrowed; must outlive the table). */
typedef struct KeyIndex KeyIndex;
/* Returns the position of the first key equal to an earlier one, or -1 (the
 * earlier one is kept). */
long key_index_build(KeyIndex **out, const char (*keys)[POINT_KEY_HEX + 1], long n);
long key_index_find(const KeyIndex *t, const char *key); /* -1 if absent */
void key_index_destroy(KeyIndex **t);

/* Name of a CHOICE value, e.g. choice_name("attack", ATTACK_PGD) == "pgd". */
const char *choice_name(const char *param, int value);

#endif
