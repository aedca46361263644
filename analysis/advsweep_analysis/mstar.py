"""mstar.py — the width requirement m* with censoring and budget stability (issue 8, item 5).

An *observation* is one training run asked about one target loss tau: did min L_A reach tau,
and when? With per-target data (/targets/*, SPEC-issue8-layout.md) every target of a run is an
observation, for the group whose epsilon is tau: one training run answers every epsilon of the
file when training does not depend on epsilon (lr_rule free, or lr and steps given; under
lr_rule theorem a run answers only its own epsilon, the one it was trained for). Older files
give one observation per point: its own epsilon, from eps_step.

At a budget B (a fraction of each run's own steps_planned T) an observation is
    reached   if 1 <= step(tau) <= B
    failed    (definite) if not reached, the run ended by plateau or divergence, and steps_run <= B
    censored  otherwise: still improving at B, or stopped by the budget. NOT a failure.
    unknown   the point has no result (pending, running, failed).
Older files have no outcome: a run that did not reach epsilon counts as censored (budget),
except for diverged points (definite failures).

Per group and width, with N seeds and a required fraction F (default 1: every seed):
    qualifies   reached >= F*N                    (holds whatever the undecided seeds do)
    fails       reached + censored + unknown < F*N (cannot qualify)
    undecided   otherwise
m* is the smallest width that qualifies, reported as
    exact        every smaller width of the grid fails, and the smallest width does not qualify
    le_smallest  the smallest width of the grid qualifies: m* <= that width (a bound)
    gt_largest   every width fails: m* > the largest width ("not reached within the grid")
    between      widths before the first qualifying one are undecided: lo <= m* <= hi
    unknown      no width qualifies and not every width fails (m* >= lo, perhaps beyond the grid)
m* is budget-stable when m*(T/2) and m*(T) are both exact and equal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .load import DIVERGED, DONE, Points, _py
from .width import _sort_key, group_keys

# Observation classes at a budget.
FAILED, REACHED, CENSORED, UNKNOWN = 0, 1, 2, 3
CLASS_NAMES = {FAILED: "failed", REACHED: "reached", CENSORED: "censored", UNKNOWN: "unknown"}
# Run outcomes (/summary/outcome, /targets/outcome).
O_REACHED, O_PLATEAU, O_BUDGET, O_DIVERGED = 0, 1, 2, 3
OUTCOME_NAMES = {O_REACHED: "reached", O_PLATEAU: "plateau", O_BUDGET: "budget", O_DIVERGED: "diverged"}
BUDGETS = (0.25, 0.5, 1.0)
BUDGET_TEXT = {0.25: "T/4", 0.5: "T/2", 1.0: "T"}
NOT_GROUP_KEYS = ("m", "seed", "targets")   # targets follows epsilon; it is never a group of its own
_TOL = 1e-9


def budget_text(f: float) -> str:
    return BUDGET_TEXT.get(f, f"{f:g}·T")


def _same(a, b) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


@dataclass
class Observations:
    """One row per (training run, target) answered, plus one per point without a result."""
    keys: list              # group keys; 'epsilon' among them (= tau)
    group: list             # (M,) tuple of key values per observation
    m: np.ndarray           # (M,) int64
    seed: np.ndarray        # (M,) int64
    tau: np.ndarray         # (M,) float64
    step: np.ndarray        # (M,) int64, first t >= 1 with L_A <= tau, -1 none
    outcome: np.ndarray     # (M,) int64 per target: 0 reached, 1 plateau, 2 budget, 3 diverged, -1 no result
    steps_run: np.ndarray   # (M,) int64
    steps_planned: np.ndarray  # (M,) int64
    point: np.ndarray       # (M,) row of Points the observation was read from
    per_target: np.ndarray  # (M,) bool: from /targets (else from eps_step)
    shared: np.ndarray      # (M,) bool: answered by another point's training (trained_as != index)
    runs: int = 0           # distinct training runs with a result
    duplicates: int = 0     # observations dropped because their (group, m, seed) cell was taken

    def __len__(self) -> int:
        return int(self.m.shape[0])

    def classify(self, fraction: float = 1.0) -> np.ndarray:
        """(M,) class at budget B = floor(fraction * steps_planned) of each run."""
        T = self.steps_planned.astype(float)
        B = np.floor(fraction * T + _TOL)
        has = self.outcome >= 0
        reached = has & (self.step >= 1) & (self.step <= B)
        definite = np.isin(self.outcome, (O_PLATEAU, O_DIVERGED)) & (self.steps_run <= B)
        out = np.full(len(self), CENSORED, np.int64)
        out[has & ~reached & definite] = FAILED
        out[reached] = REACHED
        out[~has] = UNKNOWN
        return out


def width_keys(points: Points) -> list:
    """Grouping keys of m*: every varying parameter but m, seed and targets; epsilon always."""
    keys = group_keys(points, exclude=NOT_GROUP_KEYS)
    if "epsilon" not in keys:
        keys.append("epsilon")
    return keys


def epsilon_free_training(points: Points) -> np.ndarray:
    """(N,) bool: epsilon does not enter the point's training, so its run's answer for another
    target tau is the experiment of the group epsilon = tau: lr_rule free, or both the step size
    (lr > 0) and the step count (steps > 0) given (docs/layout.md, /plan/trained_as)."""
    N = len(points)
    rule = np.asarray(points.params.get("lr_rule", np.full(N, ""))).astype(str)
    lr = np.asarray(points.params.get("lr", np.zeros(N)), float)
    steps = np.asarray(points.params.get("steps", np.zeros(N)), float)
    with np.errstate(invalid="ignore"):
        return (rule == "free") | ((lr > 0) & (steps > 0))


def _column(points: Points, name, fill):
    v = points.summary.get(name)
    if v is None:
        return np.full(len(points), fill, np.int64)
    v = np.asarray(v, float)
    return np.where(np.isfinite(v), v, fill).astype(np.int64)


def observations(points: Points, keys=None) -> Observations:
    """The observations of `points` (see the module comment), grouped by `keys` (default
    width_keys(points))."""
    keys = width_keys(points) if keys is None else list(keys)
    N = len(points)
    st = points.status
    has = (st == DONE) | (st == DIVERGED)
    eps = np.asarray(points.params["epsilon"], float)
    m_all = np.asarray(points.params["m"]).astype(np.int64)
    seed_all = np.asarray(points.params["seed"]).astype(np.int64)
    eps_step = _column(points, "eps_step", -1)
    steps_run = _column(points, "steps_run", -1)
    planned = _column(points, "steps_planned", -1)
    planned = np.where(planned > 0, planned, np.maximum(steps_run, 1))
    outcome = _column(points, "outcome", -1)
    trained = _column(points, "trained_as", -1)
    trained = np.where(trained >= 0, trained, points.index)
    eps_free = epsilon_free_training(points)
    Q = points.n_targets
    tau_t = points.targets.get("tau", np.zeros((N, 0)))
    step_t = points.targets.get("step", np.zeros((N, 0), np.int64))
    out_t = points.targets.get("outcome", np.zeros((N, 0), np.int64))
    cols = {k: points.value(k) for k in keys if k != "epsilon"}

    def gkey(i, tau):
        return tuple(float(tau) if k == "epsilon" else _py(cols[k][i]) for k in keys)

    rows = {}         # (group, m, seed) -> observation tuple
    taken = set()     # (sweep, run, tau) answered
    dup = 0

    def add(i, tau, step, out, per_target):
        nonlocal dup
        cell = (gkey(i, tau), int(m_all[i]), int(seed_all[i]))
        if cell in rows:
            dup += 1
            return
        rows[cell] = (tau, int(step), int(out), int(steps_run[i]), int(planned[i]), i, per_target,
                      bool(trained[i] != points.index[i]))

    def derived_outcome(i, step):
        if step >= 0:
            return O_REACHED
        if st[i] == DIVERGED:
            return O_DIVERGED
        o = int(outcome[i])
        return o if o in (O_PLATEAU, O_BUDGET, O_DIVERGED) else O_BUDGET   # older files: budget (censored)

    result = np.nonzero(has)[0]
    # 1. each point with a result answers its own epsilon
    for i in result:
        j = None
        if Q:
            own = np.nonzero(np.isfinite(tau_t[i]) & np.isclose(tau_t[i], eps[i], rtol=1e-9, atol=0.0))[0]
            j = int(own[0]) if own.size else None
        if j is not None:
            o = int(out_t[i, j])
            if o < 0:
                o = derived_outcome(i, int(step_t[i, j]))
            add(i, float(eps[i]), int(step_t[i, j]), o, True)
        else:
            add(i, float(eps[i]), int(eps_step[i]), derived_outcome(i, int(eps_step[i])), False)
        taken.add((int(points.sweep[i]), int(trained[i]), round(float(eps[i]), 12)))
    # 2. a run whose training does not depend on epsilon also answers its other targets
    if Q:
        for i in result:
            if not eps_free[i]:
                continue
            for j in np.nonzero(np.isfinite(tau_t[i]))[0]:
                tau = float(tau_t[i, j])
                key = (int(points.sweep[i]), int(trained[i]), round(tau, 12))
                if key in taken:
                    continue
                taken.add(key)
                o = int(out_t[i, j])
                add(i, tau, int(step_t[i, j]), o if o >= 0 else derived_outcome(i, int(step_t[i, j])), True)
    # 3. points without a result and no answer: unknown seeds
    for i in np.nonzero(~has)[0]:
        cell = (gkey(i, eps[i]), int(m_all[i]), int(seed_all[i]))
        if cell not in rows:
            rows[cell] = (float(eps[i]), -1, -1, -1, int(planned[i]) if planned[i] > 0 else 1, int(i), False, False)

    cells = list(rows)
    vals = [rows[c] for c in cells]

    def arr(k, dt):
        return np.array([v[k] for v in vals], dtype=dt) if vals else np.zeros(0, dt)

    runs = len({(int(points.sweep[i]), int(trained[i])) for i in result})
    return Observations(keys=keys, group=[c[0] for c in cells], m=np.array([c[1] for c in cells], np.int64),
                        seed=np.array([c[2] for c in cells], np.int64), tau=arr(0, float), step=arr(1, np.int64),
                        outcome=arr(2, np.int64), steps_run=arr(3, np.int64), steps_planned=arr(4, np.int64),
                        point=arr(5, np.int64), per_target=arr(6, bool), shared=arr(7, bool), runs=runs,
                        duplicates=dup)


# ----------------------------------------------------------------------------------------------
# m* of one group at one budget

@dataclass
class Cell:
    """One width of one group at one budget."""
    m: int
    seeds: int
    reached: int
    failed: int
    censored: int
    unknown: int
    state: str          # 'yes' (qualifies), 'no' (fails), 'undecided'

    def text(self) -> str:
        s = f"{self.reached}/{self.seeds}"
        extra = [f"{n} {w}" for n, w in ((self.censored, "cens"), (self.unknown, "unk")) if n]
        return s + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class MStar:
    """m* of one group at one budget: an exact width, a bound, or unknown."""
    status: str             # 'exact', 'le_smallest', 'gt_largest', 'between', 'unknown'
    value: int | None       # the exact width (status exact), else None
    lo: int | None          # m* >= lo (between, unknown)
    hi: int | None          # m* <= hi (between, le_smallest)
    smallest: int
    largest: int

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def kind(self) -> str:
        """'exact', 'bound' (<= smallest, > largest), 'undecided' (between), 'unknown'."""
        return {"exact": "exact", "le_smallest": "bound", "gt_largest": "bound", "between": "undecided"}.get(
            self.status, "unknown")

    def text(self) -> str:
        if self.status == "exact":
            return str(self.value)
        if self.status == "le_smallest":
            return f"≤ {self.hi}"
        if self.status == "gt_largest":
            return f"> {self.largest}"
        if self.status == "between":
            return f"≤ {self.hi} (undecided below)" if self.lo == self.smallest else f"between {self.lo} and {self.hi}"
        if self.lo is None:
            return "unknown (no results)"
        return f"unknown (≥ {self.lo})" if self.lo > self.smallest else "unknown"

    def long_text(self) -> str:
        t = self.text()
        return {"le_smallest": f"{t} (the smallest width of the grid already reaches)",
                "gt_largest": f"{t} (not reached within the grid)",
                "between": f"{t} (censored or unknown seeds leave widths undecided)",
                "unknown": f"{t} (no width qualifies, censored or unknown seeds)"}.get(self.status, t)


def m_star_of(cells) -> MStar:
    """m* from the Cells of one group at one budget (ascending m)."""
    ms = [c.m for c in cells]
    smallest, largest = ms[0], ms[-1]
    first_yes = next((k for k, c in enumerate(cells) if c.state == "yes"), None)
    first_open = next((k for k, c in enumerate(cells) if c.state != "no"), None)
    if first_open is None:
        return MStar("gt_largest", None, None, None, smallest, largest)
    if all(c.reached + c.failed + c.censored == 0 for c in cells):
        return MStar("unknown", None, None, None, smallest, largest)
    if first_yes is None:
        return MStar("unknown", None, ms[first_open], None, smallest, largest)
    if first_yes == first_open:
        if first_yes == 0:
            return MStar("le_smallest", None, None, smallest, smallest, largest)
        return MStar("exact", ms[first_yes], None, None, smallest, largest)
    return MStar("between", None, ms[first_open], ms[first_yes], smallest, largest)


def cells_of(m, cls, fraction: float = 1.0) -> list:
    """Cells (one per width, ascending) from the widths `m` and classes `cls` of one group."""
    out = []
    for w in np.unique(m):
        c = cls[m == w]
        n = int(c.size)
        r, f, ce, u = (int(np.sum(c == k)) for k in (REACHED, FAILED, CENSORED, UNKNOWN))
        need = fraction * n - _TOL
        state = "yes" if r >= need else ("no" if r + ce + u < need else "undecided")
        out.append(Cell(m=int(w), seeds=n, reached=r, failed=f, censored=ce, unknown=u, state=state))
    return out


@dataclass
class MStarRow:
    """m* of one group at each budget, with the per-(m, seed) classes behind it."""
    group: dict
    m: np.ndarray                    # (k,) widths of the group's observations
    seed: np.ndarray                 # (k,) their seeds
    classes: dict                    # budget fraction -> (k,) class
    cells: dict                      # budget fraction -> [Cell]
    by_budget: dict                  # budget fraction -> MStar
    fraction: float = 1.0
    per_target: int = 0              # observations read from /targets
    stats: object = None             # seeds.SeedStats, filled by seeds.seed_statistics
    extra: dict = field(default_factory=dict)

    @property
    def m_star(self) -> MStar:
        """m* at the full budget T."""
        return self.by_budget[max(self.by_budget)]

    @property
    def stable(self) -> bool:
        """Budget-stable: m*(T/2) and m*(T) exact and equal."""
        a, b = self.by_budget.get(0.5), self.by_budget.get(1.0)
        return bool(a is not None and b is not None and a.exact and b.exact and a.value == b.value)

    @property
    def n_seeds(self) -> int:
        return int(np.unique(self.seed).size)

    @property
    def widths(self) -> list:
        return [c.m for c in self.cells[max(self.cells)]]

    def fit_value(self):
        """(m* for exponent fits, or None, reason when None)."""
        s = self.m_star
        if not s.exact:
            return None, {"le_smallest": "bound ≤ smallest width", "gt_largest": "not reached within the grid",
                          "between": "undecided (censored/unknown seeds)", "unknown": "unknown"}[s.status]
        if not self.stable:
            return None, "not budget-stable"
        return s.value, ""

    def counts(self, budget: float = 1.0) -> dict:
        c = self.classes[budget]
        return {CLASS_NAMES[k]: int(np.sum(c == k)) for k in CLASS_NAMES}


def m_star_table(points: Points, fraction: float = 1.0, budgets=BUDGETS, keys=None, obs=None) -> list:
    """MStarRow per group (sorted), at each budget fraction of T (must include 1.0)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    budgets = tuple(sorted(set(budgets) | {1.0}))
    obs = observations(points, keys) if obs is None else obs
    classes = {b: obs.classify(b) for b in budgets}
    by_group = {}
    for k, g in enumerate(obs.group):
        by_group.setdefault(g, []).append(k)
    rows = []
    for g in sorted(by_group, key=_sort_key):
        idx = np.array(by_group[g], np.int64)
        order = idx[np.lexsort((obs.seed[idx], obs.m[idx]))]
        m, seed = obs.m[order], obs.seed[order]
        cls = {b: classes[b][order] for b in budgets}
        cells = {b: cells_of(m, cls[b], fraction) for b in budgets}
        rows.append(MStarRow(group=dict(zip(obs.keys, g)), m=m, seed=seed, classes=cls, cells=cells,
                             by_budget={b: m_star_of(cells[b]) for b in budgets}, fraction=fraction,
                             per_target=int(obs.per_target[order].sum())))
    return rows


def nonmonotone_seeds(row: MStarRow, budget: float = 1.0) -> list:
    """(seed, m1, m2) for each seed of the group that reaches at m1 but definitively fails at a
    larger m2 (the smallest such m1, and the first failing m2 above it)."""
    out = []
    cls = row.classes[budget]
    for s in np.unique(row.seed):
        sel = row.seed == s
        ms, cs = row.m[sel], cls[sel]
        hit = ms[cs == REACHED]
        if hit.size == 0:
            continue
        m1 = int(hit.min())
        later = ms[(cs == FAILED) & (ms > m1)]
        if later.size:
            out.append((int(s), m1, int(later.min())))
    return out
