"""load.py — read advsweep sweep files (docs/layout.md, layout version 1) into one table.

It reads the layout and nothing else: no fitting, no plotting, no judgement of
results (that is width.py, fit.py, plots.py). Every problem with an input file
becomes a SweepError with a one-line message naming the file; the caller
decides how to report it.

Shapes (N = points in the combined table, K = trajectory records, E = evaluations):
    Points.params[name]   (N,)   int64 / float64 / str
    Points.summary[name]  (N,)   as in /summary (status and reason live in Points.status / .reason)
    Points.traj[name]     (N, K) /traj/* ("step" int64, padded with -1; values NaN-padded)
    Points.evals[name]    (N, E) /eval/*
    Points.traj_length, Points.eval_length  (N,)
    Points.targets[name]  (N, Q) /targets/{tau,step,outcome} (issue 8; Q = 0 in older files):
                          tau NaN-padded, step and outcome -1-padded
    Points.runs_columns   the column names of /runs, in file order (the CSV uses them)

Several files: those with equal `grid_hash` are merged point by point (a point
done in any of them counts; differing done results give a warning), files with
different hashes are concatenated as separate sweeps (column `sweep`).
"""
from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field

import h5py
import numpy as np

LAYOUT_VERSION = 1
TOOL = "advsweep"

# /status codes (docs/layout.md). SKIPPED: in the file but not run by the job that last wrote it
# (the adaptive width search did not need it, or --extend kept it from an older job); not final.
PENDING, DONE, FAILED, DIVERGED, RUNNING, SKIPPED = 0, 1, 2, 3, 4, 5
DAMAGED = -1  # not in files: a finished point whose rows no longer match its /checksum (excluded)
STATUS_NAMES = {PENDING: "pending", DONE: "done", FAILED: "failed", DIVERGED: "diverged", RUNNING: "running",
                SKIPPED: "skipped", DAMAGED: "damaged"}

# Display order of the parameters (the order of PARAMS[] in src/util/config.c).
# Only used to sort columns and labels; reading takes whatever /params holds.
PARAM_ORDER = (
    "model", "activation", "input_layer", "loss", "m", "H", "d", "n", "delta", "data", "data_file",
    "teacher_width", "shatter_spread", "attack", "pgd_steps", "pgd_step", "pgd_restarts",
    "pgd_random_start", "eval_steps", "eval_restarts", "eval_count", "R", "epsilon", "lr", "steps",
    "c_alpha", "lr_rule", "targets", "c_T", "max_steps", "early_stop", "early_stop_target", "plateau_window",
    "plateau_tol", "record_dense", "record_max", "precision", "seed",
)
SUMMARY_ORDER = (
    "lr", "steps_planned", "steps_run", "min_surrogate", "min_step", "eps_step", "init_surrogate",
    "final_surrogate", "final_clean_loss", "final_clean_acc", "final_surrogate_acc", "final_robust_loss",
    "final_robust_acc", "final_dist", "max_dist", "wall_time", "flops", "diverged_step", "data_points",
    "outcome", "trained_as",
)
TRAJ_FIELDS = ("step", "surrogate_loss", "clean_loss", "clean_acc", "dist")
EVAL_FIELDS = ("step", "robust_loss", "robust_acc")
TARGET_FIELDS = ("tau", "step", "outcome")   # /targets/* (issue 8), optional
# Prefix of a /runs column holding a summary field named like a parameter (src/store/h5util.c).
RUNS_COLLISION_PREFIX = "summary_"
REQUIRED = ("status", "params/m", "params/seed", "params/epsilon", "summary/min_surrogate")

# Merge precedence of one point's status across files with the same grid hash (as `advsweep
# merge`: a final result, else the most advanced of running, pending, skipped).
_RANK = {DONE: 5, DIVERGED: 4, FAILED: 3, RUNNING: 2, PENDING: 1, SKIPPED: 0, DAMAGED: -1}
# Summary fields that must agree when a point is done in two files (wall_time
# and flops may differ legitimately between machines).
_COMPARE = ("steps_run", "min_surrogate", "min_step", "eps_step", "final_surrogate", "final_robust_loss",
            "final_clean_acc", "final_dist")


class SweepError(Exception):
    """An input file cannot be analysed. str(e) is one line and names the file."""


@dataclass
class SweepInfo:
    """One sweep (one grid hash) of the combined table."""
    sweep: int               # id, the value of Points.sweep for its points
    grid_hash: str
    job_name: str
    paths: list              # files merged into it
    attrs: dict              # root attributes of the first file, decoded
    n_points: int
    shards: list             # (shard_index, shard_count) per file

    @property
    def label(self) -> str:
        return f"{self.job_name or 'sweep'}[{self.grid_hash[:8]}]"


@dataclass
class Points:
    """Every point of one or more sweeps, column-wise. See the module comment for shapes."""
    params: dict
    summary: dict
    status: np.ndarray       # (N,) int
    reason: np.ndarray       # (N,) str
    traj: dict
    traj_length: np.ndarray  # (N,) int
    evals: dict
    eval_length: np.ndarray  # (N,) int
    sweep: np.ndarray        # (N,) int, index into .sweeps
    index: np.ndarray        # (N,) point index within its sweep
    source: np.ndarray       # (N,) str, file the point's row was taken from
    assigned: np.ndarray     # (N,) bool, the point belongs to the shard of at least one given file
    sweeps: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    targets: dict = field(default_factory=dict)
    runs_columns: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def param_names(self) -> list:
        known = [n for n in PARAM_ORDER if n in self.params]
        return known + sorted(n for n in self.params if n not in PARAM_ORDER)

    @property
    def summary_names(self) -> list:
        known = [n for n in SUMMARY_ORDER if n in self.summary]
        return known + sorted(n for n in self.summary if n not in SUMMARY_ORDER)

    @property
    def done(self) -> np.ndarray:
        return self.status == DONE

    def value(self, name: str) -> np.ndarray:
        """Column `name`: a parameter, a summary field, or 'sweep', 'index', 'status'."""
        if name in self.params:
            return self.params[name]
        if name in self.summary:
            return self.summary[name]
        if name in ("sweep", "index", "status", "reason", "source"):
            return getattr(self, name)
        raise KeyError(name)

    def constant(self, name: str):
        """The value of parameter `name` if all points share it, else None."""
        if name not in self.params or len(self) == 0:
            return None
        vals = {_py(v) for v in self.params[name]}
        return vals.pop() if len(vals) == 1 else None

    def varying(self, exclude=()) -> list:
        """Parameters that take more than one value, minus `exclude`, in display order.

        'sweep' is added when two sweeps hold points with equal parameters, so
        that different sweeps are never pooled into one group."""
        names = [n for n in self.param_names if _n_unique(self.params[n]) > 1]
        if len(self.sweeps) > 1 and "sweep" not in exclude and self._sweeps_overlap(names):
            names.append("sweep")
        return [n for n in names if n not in exclude]

    def _sweeps_overlap(self, names) -> bool:
        cols = [self.params[n] for n in names]
        owner = {}
        for i in range(len(self)):
            key = tuple(_py(c[i]) for c in cols)
            s = int(self.sweep[i])
            if owner.setdefault(key, s) != s:
                return True
        return False

    def counts(self) -> dict:
        """Number of points per status name (pending, done, failed, diverged, running, skipped, damaged),
        plus 'unknown' (a code this reader does not know), 'total' and 'not_assigned'
        (pending points outside the shards of the files given)."""
        out = {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}
        out["unknown"] = int(len(self) - sum(out.values()))
        out["total"] = len(self)
        out["not_assigned"] = int(np.sum((self.status == PENDING) & ~self.assigned))
        return out

    def select(self, mask) -> "Points":
        """A new table with the rows where `mask` is true (same sweeps, same warnings)."""
        mask = np.asarray(mask, bool)
        return Points(
            params={k: v[mask] for k, v in self.params.items()},
            summary={k: v[mask] for k, v in self.summary.items()},
            status=self.status[mask], reason=self.reason[mask],
            traj={k: v[mask] for k, v in self.traj.items()}, traj_length=self.traj_length[mask],
            evals={k: v[mask] for k, v in self.evals.items()}, eval_length=self.eval_length[mask],
            sweep=self.sweep[mask], index=self.index[mask], source=self.source[mask],
            assigned=self.assigned[mask], sweeps=self.sweeps, warnings=self.warnings,
            targets={k: v[mask] for k, v in self.targets.items()}, runs_columns=self.runs_columns)

    @property
    def n_targets(self) -> int:
        """Q, the columns of /targets/* (0: no per-target data)."""
        return int(self.targets["tau"].shape[1]) if "tau" in self.targets else 0

    def runs_value(self, column: str) -> np.ndarray:
        """The values of /runs column `column` (a parameter, a summary field, summary_NAME, index, status,
        reason)."""
        if column == "index":
            return self.index
        if column == "status":
            return self.status
        if column == "reason":
            return self.reason
        if column in self.params:
            return self.params[column]
        if column in self.summary:
            return self.summary[column]
        if column.startswith(RUNS_COLLISION_PREFIX) and column[len(RUNS_COLLISION_PREFIX):] in self.summary:
            return self.summary[column[len(RUNS_COLLISION_PREFIX):]]
        raise KeyError(column)

    def sweep_label(self, s: int) -> str:
        return self.sweeps[int(s)].label


# ----------------------------------------------------------------------------------------------
# small helpers

def _py(v):
    """numpy scalar -> hashable Python value; NaN -> None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, float) and v != v:
        return None
    return v


def _n_unique(a: np.ndarray) -> int:
    return len({_py(v) for v in a})


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def decode_strings(a) -> np.ndarray:
    """Fixed-length (bytes) or object string data -> numpy str array, stripped of padding."""
    a = np.asarray(a)
    if a.dtype.kind in "SO":
        flat = [(x.decode("utf-8", "replace") if isinstance(x, (bytes, np.bytes_)) else str(x)).rstrip("\x00").strip()
                for x in a.ravel()]
        return np.array(flat, dtype=str).reshape(a.shape) if flat else np.zeros(a.shape, dtype="<U1")
    if a.dtype.kind == "U":
        return np.char.strip(a)
    return a


def _attr(value):
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace").rstrip("\x00")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            value = decode_strings(value)
        return value.item() if value.size == 1 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_int(value, what, path):
    try:
        v = int(value)
        if float(value) != v:
            raise ValueError
        return v
    except (TypeError, ValueError):
        raise SweepError(f"{path}: attribute {what} is not an integer ({value!r})") from None


# ----------------------------------------------------------------------------------------------
# one file

# File locking settings tried in turn. False first: a sweep being written holds its lock, and a
# reader must not wait for it or take it. HDF5 opens a file once per process and refuses a second
# open with other locking flags ("file locking flag values don't match"), so when the file is
# already open here (xarray.open_dataset(F, engine="h5netcdf") uses the default, h5py.File(F) too)
# the open that matches it is used: HDF5 then shares the open file and takes no new lock.
_LOCKING = (False, None, True, "best-effort")


def _open(path):
    err = None
    for locking in _LOCKING:
        try:
            return h5py.File(path, "r") if locking is None else h5py.File(path, "r", locking=locking)
        except TypeError:  # h5py < 3.5 has no locking argument (nor the check)
            return h5py.File(path, "r")
        except (OSError, ValueError) as e:
            if "locking flag" not in str(e):
                raise
            err = e
    raise err


def read_sweep(path: str) -> Points:
    """Read one sweep file. Raises SweepError (one line, naming `path`) for any bad input."""
    path = str(path)
    if not os.path.exists(path):
        raise SweepError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SweepError(f"{path}: is a directory, not a sweep file")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as e:
        raise SweepError(f"{path}: cannot read ({_short(e)})") from None
    if not is_hdf5:
        raise SweepError(f"{path}: not an HDF5 file")
    try:
        f = _open(path)
    except OSError as e:
        raise SweepError(f"{path}: cannot open as HDF5 ({_short(e)})") from None
    try:
        with f:
            return _read_open(f, path)
    except SweepError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
        raise SweepError(f"{path}: cannot read sweep data ({_short(e)}); "
                         "if the sweep is being written, try again") from None


def _read_open(f, path) -> Points:
    if "layout_version" not in f.attrs or "tool" not in f.attrs:
        raise SweepError(f"{path}: not an advsweep sweep file (no layout_version/tool attribute)")
    tool = _attr(f.attrs["tool"])
    if tool != TOOL:
        raise SweepError(f"{path}: not an advsweep sweep file (tool is {tool!r})")
    version = _as_int(_attr(f.attrs["layout_version"]), "layout_version", path)
    if version > LAYOUT_VERSION:
        raise SweepError(f"{path}: layout version {version} is newer than this reader supports "
                         f"({LAYOUT_VERSION}); use a newer analysis/")
    if version < 1:
        raise SweepError(f"{path}: bad layout_version {version}")
    attrs = {k: _attr(v) for k, v in f.attrs.items()}
    for name in REQUIRED:
        if name not in f:
            raise SweepError(f"{path}: not a complete layout-{LAYOUT_VERSION} sweep file (missing /{name})")

    # /status first: a point that turns done while we read is then simply not done yet.
    status = np.asarray(f["status"][()]).astype(np.int64).reshape(-1)
    P = status.shape[0]
    if P == 0:
        raise SweepError(f"{path}: empty sweep (0 points)")
    warnings = []
    damaged = damaged_points(f, status)
    if damaged.size:
        shown = ", ".join(str(i) for i in damaged[:8]) + (", ..." if damaged.size > 8 else "")
        warnings.append(f"{path}: {damaged.size} damaged point(s) excluded ({shown}: their rows no longer match "
                        f"their checksums); rerun them with advsweep run --retry-damaged")
        status[damaged] = DAMAGED
    n_attr = attrs.get("n_points")
    if n_attr is not None and int(n_attr) != P:
        warnings.append(f"{path}: attribute n_points = {n_attr} but /status has {P} rows; using {P}")

    def vector(ds, name):
        a = ds[()]
        a = np.asarray(a).reshape(-1) if np.ndim(a) <= 1 else np.asarray(a)
        if a.shape != (P,):
            raise SweepError(f"{path}: /{name} has shape {a.shape}, expected ({P},)")
        return decode_strings(a)

    params = {n: vector(ds, f"params/{n}") for n, ds in f["params"].items() if isinstance(ds, h5py.Dataset)}
    summary = {n: vector(ds, f"summary/{n}") for n, ds in f["summary"].items()
               if isinstance(ds, h5py.Dataset) and n not in ("status",)}
    if "reason" in f:
        reason = vector(f["reason"], "reason")
    elif "reason" in summary:
        reason = summary["reason"]
    else:
        reason = np.full(P, "", dtype="<U1")
    summary.pop("reason", None)
    for n in ("final_dist", "final_robust_loss", "final_surrogate", "final_clean_acc", "final_robust_acc"):
        if n not in summary:
            warnings.append(f"{path}: no /summary/{n}; treated as missing")
            summary[n] = np.full(P, np.nan)

    def matrix(group, names, what):
        out, missing = {}, []
        for n in names:
            key = f"{group}/{n}"
            if key not in f:
                missing.append(key)
                continue
            a = np.asarray(f[key][()])
            if a.ndim != 2 or a.shape[0] != P:
                raise SweepError(f"{path}: /{key} has shape {a.shape}, expected ({P}, columns)")
            out[n] = a.astype(np.int64) if n == "step" else a.astype(np.float64)
        K = max((a.shape[1] for a in out.values()), default=0)
        out = {n: _pad_cols(a, K) for n, a in out.items()}
        for n in names:
            if n not in out:
                out[n] = np.full((P, K), -1, np.int64) if n == "step" else np.full((P, K), np.nan)
        if f"{group}/length" in f:
            length = vector(f[f"{group}/length"], f"{group}/length").astype(np.int64)
        else:
            missing.append(f"{group}/length")
            length = (out["step"] >= 0).sum(axis=1)
        if missing:
            warnings.append(f"{path}: missing {', '.join('/' + m for m in missing)}; {what} treated as absent")
        return out, np.clip(length, 0, K)

    traj, traj_length = matrix("traj", TRAJ_FIELDS, "trajectories")
    evals, eval_length = matrix("eval", EVAL_FIELDS, "strong-attack evaluations")
    targets = _read_targets(f, path, P, warnings)
    runs_columns = _runs_columns(f, params, summary)

    shard_index = int(attrs.get("shard_index", 0) or 0)
    shard_count = int(attrs.get("shard_count", 1) or 1)
    # A point belongs to shard trained_as % N (its training run's shard; /plan/trained_as, issue 8),
    # in older files index % N.
    owner = np.arange(P)
    if "plan/trained_as" in f:
        t = vector(f["plan/trained_as"], "plan/trained_as").astype(np.int64)
        owner = np.where(t >= 0, t, owner)
    assigned = (owner % max(shard_count, 1)) == shard_index
    grid_hash = str(attrs.get("grid_hash", "") or "")
    if not grid_hash:
        warnings.append(f"{path}: no grid_hash attribute; not merged with other files")
        grid_hash = "file:" + os.path.abspath(path)
    info = SweepInfo(sweep=0, grid_hash=grid_hash, job_name=str(attrs.get("job_name", "") or ""),
                     paths=[path], attrs=attrs, n_points=P, shards=[(shard_index, shard_count)])
    return Points(params=params, summary=summary, status=status, reason=reason, traj=traj,
                  traj_length=traj_length, evals=evals, eval_length=eval_length,
                  sweep=np.zeros(P, np.int64), index=np.arange(P, dtype=np.int64),
                  source=np.full(P, path), assigned=assigned, sweeps=[info], warnings=warnings,
                  targets=targets, runs_columns=runs_columns)


# The rows a point's /checksum covers, and their canonical bytes: docs/layout.md and
# src/store/checksum.c (the same rule; tests compare the two).
CHECKSUM_GROUPS = ("reason", "summary", "traj", "eval", "targets", "worker", "weights", "data")
_BLOCK_BYTES = 32 << 20


def _is_scale(ds) -> bool:
    """A dimension scale (/traj/record and the like): never covered, even when its length is P."""
    cls = ds.attrs.get("CLASS")
    return isinstance(cls, (bytes, np.bytes_, str)) and (cls.decode() if isinstance(cls, bytes) else str(cls)) == "DIMENSION_SCALE"


def point_checksums(f, rows) -> np.ndarray:
    """The checksums of points `rows` (ascending indices) of an open sweep file, as it holds them now."""
    P = f["status"].shape[0]
    rows = np.asarray(rows, np.int64)
    names = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and n.split("/")[0] in CHECKSUM_GROUPS
                 and 1 <= o.ndim <= 3 and o.shape[0] == P and not _is_scale(o) else None)
    hashers = [hashlib.sha256() for _ in rows]
    for name in sorted(names):
        ds = f[name]
        fill = np.zeros(1, dtype=ds.dtype)
        ds.id.get_create_plist().get_fill_value(fill)
        elem = ds.dtype.itemsize
        fillb = np.frombuffer(fill.tobytes(), np.uint8)
        sublen = 1 if ds.ndim == 1 else ds.shape[-1]
        subrows = ds.shape[1] if ds.ndim == 3 else 1
        block = max(1, _BLOCK_BYTES // max(1, elem * sublen * subrows))
        for a in range(0, len(rows), block):
            sel = rows[a:a + block]
            data = np.ascontiguousarray(ds[sel[0]:sel[-1] + 1][sel - sel[0]])
            u8 = data.view(np.uint8).reshape(len(sel), subrows, sublen, elem)
            nonfill = np.any(u8 != fillb, axis=3)
            lengths = np.where(nonfill.any(axis=2), sublen - np.argmax(nonfill[:, :, ::-1], axis=2), 0)
            keep = np.where((lengths > 0).any(axis=1), subrows - np.argmax((lengths > 0)[:, ::-1], axis=1), 0)
            for k in np.nonzero(keep)[0]:
                h = hashers[a + k]
                h.update(name.encode() + b"\0" + struct.pack("<Q", int(keep[k])))
                for u in range(int(keep[k])):
                    n = int(lengths[k, u])
                    h.update(struct.pack("<Q", n) + u8[k, u, :n].tobytes())
    return np.array([int.from_bytes(h.digest()[:8], "little") or 1 for h in hashers], dtype=np.uint64)


def damaged_points(f, status) -> np.ndarray:
    """Indices of the finished points whose rows do not match /checksum (none in files without it)."""
    if "checksum" not in f:
        return np.zeros(0, np.int64)
    stored = np.asarray(f["checksum"][()], dtype=np.uint64).reshape(-1)
    rows = np.nonzero(np.isin(status, (DONE, FAILED, DIVERGED)))[0]
    if stored.shape != status.shape or rows.size == 0:
        return np.zeros(0, np.int64)
    return rows[point_checksums(f, rows) != stored[rows]]


def _read_targets(f, path, P, warnings) -> dict:
    """/targets/{tau,step,outcome} as (P, Q) arrays; an empty dict for files without them (older
    layout). All three or none: a partial set is warned about and ignored."""
    present = [n for n in TARGET_FIELDS if f"targets/{n}" in f]
    if not present:
        return {}
    if len(present) < len(TARGET_FIELDS):
        missing = ", ".join(f"/targets/{n}" for n in TARGET_FIELDS if n not in present)
        warnings.append(f"{path}: {missing} missing; per-target steps ignored (ε from eps_step)")
        return {}
    out = {}
    for n in TARGET_FIELDS:
        a = np.asarray(f[f"targets/{n}"][()])
        if a.ndim == 1 and a.shape[0] == P:      # Q = 1 written as a vector
            a = a.reshape(P, 1)
        if a.ndim != 2 or a.shape[0] != P:
            raise SweepError(f"{path}: /targets/{n} has shape {a.shape}, expected ({P}, targets_max)")
        out[n] = a.astype(np.float64) if n == "tau" else a.astype(np.int64)
    Q = {a.shape[1] for a in out.values()}
    if len(Q) != 1:
        raise SweepError(f"{path}: /targets/* have different numbers of columns ({sorted(Q)})")
    return out


def _runs_columns(f, params, summary) -> list:
    """The /runs column names in file order; for a file without /runs, the names the writer gives
    them (index, status, the parameters, the summary fields, prefixed summary_ when named like a
    parameter)."""
    runs = f.get("runs")
    if isinstance(runs, h5py.Dataset) and runs.dtype.names:
        return list(runs.dtype.names)
    names = ["index", "status"] + [n for n in PARAM_ORDER if n in params] + \
        sorted(n for n in params if n not in PARAM_ORDER)
    for n in ["reason"] + [n for n in SUMMARY_ORDER if n in summary] + \
            sorted(n for n in summary if n not in SUMMARY_ORDER):
        names.append(RUNS_COLLISION_PREFIX + n if (n in params or n == "index") else n)
    return names


def _targets_fill(n, rows, Q):
    return np.full((rows, Q), np.nan) if n == "tau" else np.full((rows, Q), -1, np.int64)


def _concat_targets(dicts, sizes):
    """Row-wise concatenation of /targets dicts; sweeps without them get padding (NaN / -1)."""
    if not any(dicts):
        return {}
    Q = max(d["tau"].shape[1] for d in dicts if d)
    out = {}
    for n in TARGET_FIELDS:
        parts = [_pad_cols(d[n], Q) if d else _targets_fill(n, s, Q) for d, s in zip(dicts, sizes)]
        out[n] = np.concatenate(parts)
    return out


# ----------------------------------------------------------------------------------------------
# several files

def _fill_like(a: np.ndarray, n: int):
    if a.dtype.kind in "US":
        return np.full(n, "", dtype=a.dtype)
    return np.full(n, np.nan)


def _pad_cols(a: np.ndarray, K: int) -> np.ndarray:
    if a.shape[1] >= K:
        return a
    fill = -1 if a.dtype.kind in "iu" else np.nan
    return np.concatenate([a, np.full((a.shape[0], K - a.shape[1]), fill, dtype=a.dtype)], axis=1)


def _union_names(dicts):
    """Keys of all dicts, in first-seen order."""
    names = []
    for d in dicts:
        names += [n for n in d if n not in names]
    return names


def _concat_dicts(dicts, sizes):
    names = _union_names(dicts)
    out = {}
    for n in names:
        example = next(d[n] for d in dicts if n in d)
        parts = [d[n] if n in d else _fill_like(example, s) for d, s in zip(dicts, sizes)]
        if any(p.dtype.kind in "US" for p in parts):
            parts = [p.astype(str) for p in parts]
        out[n] = np.concatenate(parts)
    return out


def _concat_matrices(dicts):
    K = max((v.shape[1] for d in dicts for v in d.values()), default=0)
    names = []
    for d in dicts:
        names += [n for n in d if n not in names]
    return {n: np.concatenate([_pad_cols(d[n], K) for d in dicts]) for n in names}


def _differs(a, b) -> np.ndarray:
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a = a.astype(float)
        b = b.astype(float)
        same = np.isclose(a, b, rtol=1e-9, atol=0.0) | (np.isnan(a) & np.isnan(b)) | (a == b)
        return ~same
    return a != b


def _merge_same_hash(parts) -> Points:
    """Point-by-point merge of files that share one grid hash."""
    base = parts[0]
    P = len(base)
    for p in parts[1:]:
        if len(p) != P:
            raise SweepError(f"{p.source[0]}: same grid_hash as {base.source[0]} but {len(p)} points "
                             f"instead of {P}")
    warnings = [w for p in parts for w in p.warnings]
    ranks = [np.array([_RANK.get(int(s), -1) for s in p.status]) for p in parts]
    choice = np.zeros(P, np.int64)
    best = ranks[0].copy()
    for j in range(1, len(parts)):
        better = ranks[j] > best
        choice[better] = j
        best[better] = ranks[j][better]

    # Conflicts: done in several files with different results.
    chosen_done = np.array([parts[choice[i]].status[i] == DONE for i in range(P)])
    conflicts = []
    for j, p in enumerate(parts):
        other = (p.status == DONE) & chosen_done & (choice != j)
        if not other.any():
            continue
        for i in np.nonzero(other)[0]:
            ref = parts[choice[i]]
            for n in _COMPARE:
                if n in p.summary and n in ref.summary and _differs(p.summary[n][i:i + 1], ref.summary[n][i:i + 1])[0]:
                    conflicts.append((int(i), n, ref.summary[n][i], p.summary[n][i], ref.source[0], p.source[0]))
                    break
    if conflicts:
        i, n, a, b, fa, fb = conflicts[0]
        warnings.append(f"grid {base.sweeps[0].grid_hash}: {len(conflicts)} point(s) done in several files with "
                        f"different results (e.g. point {i}: {n} = {a!r} in {fa}, {b!r} in {fb}); "
                        f"the first file's result is used")

    # Parameters must agree for a shared grid hash.
    mism = 0
    for p in parts[1:]:
        for n, v in base.params.items():
            if n in p.params:
                mism += int(np.sum(_differs(v, p.params[n]) if v.dtype.kind not in "US"
                                   else v != p.params[n].astype(str)))
    if mism:
        warnings.append(f"grid {base.sweeps[0].grid_hash}: files share the grid hash but {mism} parameter "
                        f"value(s) differ; the parameters of the file each point is taken from are used")

    def pick(cols):
        """Row i from cols[choice[i]]."""
        if cols[0].ndim == 2:
            K = max(c.shape[1] for c in cols)
            cols = [_pad_cols(c, K) for c in cols]
        if any(c.dtype.kind in "US" for c in cols):
            cols = [c.astype(str) for c in cols]
        out = cols[0].astype(np.result_type(*cols), copy=True)
        for j in range(1, len(cols)):
            sel = choice == j
            out[sel] = cols[j][sel]
        return out

    def pick_dict(attr):
        dicts = [getattr(p, attr) for p in parts]
        names = _union_names(dicts)
        out = {}
        for n in names:
            example = next(d[n] for d in dicts if n in d)
            if example.ndim == 2:
                fill = np.full((P, example.shape[1]), -1 if example.dtype.kind in "iu" else np.nan, example.dtype)
            else:
                fill = _fill_like(example, P)
            out[n] = pick([d.get(n, fill) for d in dicts])
        return out

    def pick_targets():
        if not any(p.targets for p in parts):
            return {}
        Q = max(p.n_targets for p in parts)
        return {n: pick([p.targets[n] if p.targets else _targets_fill(n, P, Q) for p in parts])
                for n in TARGET_FIELDS}

    info = base.sweeps[0]
    merged_info = SweepInfo(sweep=0, grid_hash=info.grid_hash, job_name=info.job_name,
                            paths=[q for p in parts for q in p.sweeps[0].paths], attrs=info.attrs, n_points=P,
                            shards=[s for p in parts for s in p.sweeps[0].shards])
    return Points(params=pick_dict("params"), summary=pick_dict("summary"),
                  status=pick([p.status for p in parts]), reason=pick([p.reason for p in parts]),
                  traj=pick_dict("traj"), traj_length=pick([p.traj_length for p in parts]),
                  evals=pick_dict("evals"), eval_length=pick([p.eval_length for p in parts]),
                  sweep=np.zeros(P, np.int64), index=np.arange(P, dtype=np.int64),
                  source=pick([p.source for p in parts]),
                  assigned=np.any([p.assigned for p in parts], axis=0),
                  sweeps=[merged_info], warnings=warnings, targets=pick_targets(),
                  runs_columns=_union_names([p.runs_columns for p in parts]))


def combine(parts) -> Points:
    """Merge files with equal grid hash, then concatenate the distinct sweeps."""
    if not parts:
        raise SweepError("no input files")
    by_hash = {}
    for p in parts:
        by_hash.setdefault(p.sweeps[0].grid_hash, []).append(p)
    sweeps = [_merge_same_hash(group) if len(group) > 1 else group[0] for group in by_hash.values()]
    if len(sweeps) == 1:
        return sweeps[0]
    sizes = [len(s) for s in sweeps]
    infos = []
    for k, s in enumerate(sweeps):
        i = s.sweeps[0]
        infos.append(SweepInfo(sweep=k, grid_hash=i.grid_hash, job_name=i.job_name, paths=i.paths,
                               attrs=i.attrs, n_points=i.n_points, shards=i.shards))
    return Points(params=_concat_dicts([s.params for s in sweeps], sizes),
                  summary=_concat_dicts([s.summary for s in sweeps], sizes),
                  status=np.concatenate([s.status for s in sweeps]),
                  reason=np.concatenate([s.reason.astype(str) for s in sweeps]),
                  traj=_concat_matrices([s.traj for s in sweeps]),
                  traj_length=np.concatenate([s.traj_length for s in sweeps]),
                  evals=_concat_matrices([s.evals for s in sweeps]),
                  eval_length=np.concatenate([s.eval_length for s in sweeps]),
                  sweep=np.concatenate([np.full(n, k, np.int64) for k, n in enumerate(sizes)]),
                  index=np.concatenate([s.index for s in sweeps]),
                  source=np.concatenate([s.source.astype(str) for s in sweeps]),
                  assigned=np.concatenate([s.assigned for s in sweeps]),
                  sweeps=infos, warnings=[w for s in sweeps for w in s.warnings],
                  targets=_concat_targets([s.targets for s in sweeps], sizes),
                  runs_columns=_union_names([s.runs_columns for s in sweeps]))


def load(paths, require_done: bool = True) -> Points:
    """Read, merge and concatenate sweep files.

    Raises SweepError for an unreadable or foreign file, and (require_done) when
    no point of the combined sweeps is done."""
    paths = [str(p) for p in paths]
    seen, unique, warnings = set(), [], []
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            warnings.append(f"{p}: given more than once; read once")
            continue
        seen.add(key)
        unique.append(p)
    pts = combine([read_sweep(p) for p in unique])
    pts.warnings[:0] = warnings
    if require_done and not pts.done.any():
        c = pts.counts()
        detail = ", ".join(f"{c[k]} {k}" for k in ("pending", "running", "skipped", "failed", "diverged", "unknown")
                           if c[k])
        what = " and ".join(paths) if len(paths) <= 2 else f"{len(paths)} files"
        raise SweepError(f"{what}: empty sweep: no done points yet ({detail or 'no points'})")
    return pts
