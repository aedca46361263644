"""width.py — the fraction-of-trials width requirement (used by the capacity table) and helpers.

The report's m* is mstar.py's (censoring, budgets T/4, T/2, T, bounds); this module keeps the
simpler rule below for capacity sweeps, whose criterion (accuracy 1) has no budget reading.

For each combination of the other axes (every parameter that varies in the
sweep, except m and seed) and each width m, a seed is a *trial* when its point
has a result (status done or diverged; a diverged point counts as not
reaching epsilon). m* is the smallest m whose fraction of successful trials is
at least `fraction`. Points without a result (pending, running, failed) are
counted, never dropped: they make m* *provisional*. A group whose fraction is
never reached is "not reached" within the grid; nothing is extrapolated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .load import DIVERGED, DONE, FAILED, Points, _py

_TOL = 1e-12


def fmt_value(v) -> str:
    """Compact text of a parameter value (used in labels and tables)."""
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:g}"
    return str(v)


KEY_TEXT = {"epsilon": "ε", "delta": "δ"}


def group_label(group: dict, sweep_labels=None) -> str:
    """'attack=pgd, H=2' for {'attack': 'pgd', 'H': 2}; 'all' for {}."""
    if not group:
        return "all"
    parts = []
    for k, v in group.items():
        if k == "sweep" and sweep_labels is not None:
            parts.append(f"sweep={sweep_labels[int(v)]}")
        else:
            parts.append(f"{KEY_TEXT.get(k, k)}={fmt_value(v)}")
    return ", ".join(parts)


def _sort_key(t):
    return tuple((0, v) if isinstance(v, (int, float)) else (1, "" if v is None else str(v)) for v in t)


def group_indices(points: Points, keys) -> dict:
    """{tuple of values of `keys`: index array}, in sorted key order."""
    cols = [points.value(k) for k in keys]
    groups = {}
    for i in range(len(points)):
        groups.setdefault(tuple(_py(c[i]) for c in cols), []).append(i)
    return {k: np.array(groups[k], dtype=np.int64) for k in sorted(groups, key=_sort_key)}


def group_keys(points: Points, exclude=("m", "seed")) -> list:
    """The grouping of the width requirement: the varying parameters minus `exclude`."""
    return points.varying(exclude=tuple(exclude))


def reached_epsilon(points: Points) -> np.ndarray:
    """(N,) bool: the point is done and min_surrogate <= epsilon."""
    ms = np.asarray(points.summary["min_surrogate"], float)
    eps = np.asarray(points.params["epsilon"], float)
    with np.errstate(invalid="ignore"):
        return points.done & np.isfinite(ms) & (ms <= eps)


def dist_in_R(points: Points) -> np.ndarray:
    """(N,) final_dist / R where R is finite, final_dist itself where R = inf."""
    d = np.asarray(points.summary["final_dist"], float)
    R = np.asarray(points.params.get("R", np.full(len(points), np.inf)), float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(R) & (R > 0), d / R, d)


def has_result(points: Points) -> np.ndarray:
    """(N,) bool: the point counts as a trial (done or diverged)."""
    return (points.status == DONE) | (points.status == DIVERGED)


@dataclass
class WidthCell:
    """One width of one group."""
    m: int
    trials: int          # seeds with a result (done + diverged)
    successes: int
    diverged: int
    failed: int
    pending: int         # pending + running + unknown status
    seeds: int           # all points at this width

    @property
    def fraction(self) -> float:
        return self.successes / self.trials if self.trials else math.nan

    @property
    def missing(self) -> int:
        return self.failed + self.pending

    def text(self) -> str:
        s = f"{self.successes}/{self.trials}"
        extra = []
        if self.diverged:
            extra.append(f"{self.diverged} div")
        if self.failed:
            extra.append(f"{self.failed} fail")
        if self.pending:
            extra.append(f"{self.pending} pend")
        return s + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class WidthRow:
    """m* of one group."""
    group: dict                  # values of the grouping keys
    m_star: int | None
    status: str                  # 'reached', 'not reached', 'no data'
    provisional: bool            # seeds without a result at m <= m* (or anywhere if not reached)
    max_m: int                   # largest width of the group's grid
    cells: list = field(default_factory=list)   # WidthCell per width, ascending
    fraction: float = 1.0

    @property
    def label(self) -> str:
        return group_label(self.group)

    def counts(self) -> dict:
        return {k: sum(getattr(c, k) for c in self.cells)
                for k in ("seeds", "trials", "successes", "diverged", "failed", "pending")}

    @property
    def min_m(self) -> int:
        return int(self.cells[0].m) if self.cells else 0

    def m_text(self) -> str:
        """m* as shown: a width, "≤ m" when the smallest width of the grid already qualifies (a bound),
        "> m" when no width qualifies (not reached within the grid), "–" without data."""
        if self.m_star is not None:
            t = f"≤ {self.m_star}" if self.m_star == self.min_m else str(self.m_star)
            return t + (" (provisional)" if self.provisional else "")
        if self.status == "not reached":
            return f"> {self.max_m}" + (" (so far)" if self.provisional else "")
        return "–"

    def status_text(self) -> str:
        if self.status == "reached":
            bound = " (≤ the smallest width: a bound)" if self.m_star == self.min_m else ""
            return "reached" + bound + (" (provisional: seeds missing)" if self.provisional else "")
        if self.status == "not reached":
            return f"not reached within m ≤ {self.max_m}" + (" (so far: seeds missing)" if self.provisional else "")
        return "no data"


def width_requirement(points: Points, fraction: float = 1.0, success=None, trial=None, keys=None) -> list:
    """m* for each group of `keys` (default: group_keys(points)).

    success: (N,) bool, default reached_epsilon(points); trial: (N,) bool, the
    points that count in the denominator, default has_result(points).
    Returns a list of WidthRow in sorted group order."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    if keys is None:
        keys = group_keys(points)
    success = reached_epsilon(points) if success is None else np.asarray(success, bool)
    trial = has_result(points) if trial is None else np.asarray(trial, bool)
    m_all = np.asarray(points.params["m"]).astype(np.int64)
    st = points.status
    rows = []
    for key, idx in group_indices(points, keys).items():
        cells = []
        for m in np.unique(m_all[idx]):
            sel = idx[m_all[idx] == m]
            t = trial[sel]
            s_st = st[sel]
            cells.append(WidthCell(
                m=int(m), trials=int(t.sum()), successes=int((success[sel] & t).sum()),
                diverged=int(np.sum(s_st == DIVERGED)), failed=int(np.sum((s_st == FAILED) & ~t)),
                pending=int(np.sum(~t & (s_st != FAILED))), seeds=int(sel.size)))
        m_star = next((c.m for c in cells if c.trials and c.fraction >= fraction - _TOL), None)
        if m_star is not None:
            status = "reached"
            provisional = any(c.missing for c in cells if c.m <= m_star)
        elif any(c.trials for c in cells):
            status = "not reached"
            provisional = any(c.missing for c in cells)
        else:
            status = "no data"
            provisional = True
        rows.append(WidthRow(group=dict(zip(keys, key)), m_star=m_star, status=status, provisional=provisional,
                             max_m=int(max(c.m for c in cells)), cells=cells, fraction=fraction))
    return rows


# ----------------------------------------------------------------------------------------------
# capacity: clean vs robust interpolation against n*d

CRITERIA = ("acc", "loss", "either")


def interpolates(points: Points, criterion: str = "acc") -> np.ndarray:
    """(N,) bool: done and the training set is interpolated.

    attack none: final_clean_acc == 1 ('acc'); others: final_robust_acc == 1.
    'loss': min_surrogate <= epsilon; 'either': one of the two."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}")
    attack = np.asarray(points.params.get("attack", np.full(len(points), "none"))).astype(str)
    clean = np.asarray(points.summary["final_clean_acc"], float)
    robust = np.asarray(points.summary["final_robust_acc"], float)
    with np.errstate(invalid="ignore"):
        acc = np.where(attack == "none", clean >= 1.0 - 1e-12, robust >= 1.0 - 1e-12)
    loss = reached_epsilon(points)
    ok = {"acc": acc, "loss": loss, "either": acc | loss}[criterion]
    return points.done & ok


def is_capacity(points: Points) -> bool:
    """A capacity sweep: n or d varies."""
    return bool({"n", "d"} & set(points.varying()))


@dataclass
class CapacityRow:
    """Width for clean and for robust interpolation at one (n, d) of one group."""
    group: dict                 # other keys (without n, d, attack)
    n: int
    d: int
    clean: WidthRow | None      # attack none
    robust: dict                # attack -> WidthRow

    @property
    def nd(self) -> int:
        return int(self.n) * int(self.d)


def capacity_requirement(points: Points, fraction: float = 1.0, criterion: str = "acc") -> list:
    """Smallest width for clean (attack none) and robust (other attacks) interpolation, per (n, d)."""
    keys = group_keys(points)
    for k in ("n", "d", "attack"):
        if k not in keys:
            keys.append(k)
    rows = width_requirement(points, fraction, success=interpolates(points, criterion), keys=keys)
    out = {}
    for r in rows:
        g = {k: v for k, v in r.group.items() if k not in ("n", "d", "attack")}
        key = (tuple(g.items()), r.group["n"], r.group["d"])
        row = out.setdefault(key, CapacityRow(group=g, n=r.group["n"], d=r.group["d"], clean=None, robust={}))
        if r.group["attack"] == "none":
            row.clean = r
        else:
            row.robust[r.group["attack"]] = r
    return sorted(out.values(), key=lambda c: (_sort_key(tuple(c.group.values())), c.nd, c.n))
