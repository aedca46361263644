"""seeds.py — seed statistics of the width requirement (issue 8, item 6). Numpy only.

Per group, at the full budget T, every seed at every width is a binary outcome: reached (1) or
definite failure (0); censored and unknown seeds are left out (counted). From them:

- P(reach | m), a logistic curve in log m: logit P = a + b log m, fitted by Newton/IRLS with a
  weak ridge on the slope (in standardised log m) so that perfectly separated seeds still give
  a finite, steep curve; and the isotonic (monotone non-decreasing) fit of the per-width
  fractions (pool-adjacent-violators), drawn beside it.
- m*_q, the smallest width in [smallest, largest of the grid] with fitted P >= q (q = 0.5, 0.9):
  the crossing of the curve, or the bound "≤ smallest" (P >= q already there) or "> largest"
  (never within the grid). Nothing is extrapolated.
- Intervals by the bootstrap over seeds: seeds are drawn with replacement (each drawn seed
  brings all its widths), the fit and m*_q are recomputed, and the 2.5 and 97.5 percentiles
  of the replicates are the 95% interval (replicates beyond the grid count as beyond it). The
  random generator is seeded (rng_seed, group number), so a report is reproducible.
- Exponents of m*_0.5 along an axis (log m*_0.5 on log 1/eps, log H or log R): least squares
  over the groups whose m*_0.5 lies within the grid, with a bootstrap interval from the same
  seed resampling applied to every group of the line.
- Non-monotone seeds: reached at m1 but a definite failure at some m2 > m1 (mstar.nonmonotone_seeds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .fit import PowerFit, axis_x, fit_power_law, paper_exponent
from .mstar import CENSORED, FAILED, REACHED, UNKNOWN, nonmonotone_seeds

QUANTILES = (0.5, 0.9)
N_BOOT = 1000
RIDGE = 1e-2          # penalty on the slope in standardised log m (weak: a few seeds already outweigh it)
FEW_SEEDS = 10        # below this many seeds a group is warned about
LEVEL = 0.95


# ----------------------------------------------------------------------------------------------
# logistic regression, vectorised over weight rows (bootstrap replicates)

def logistic_fit(x, y, w=None, ridge: float = RIDGE, iters: int = 100):
    """Fit logit P = a + b x by penalised maximum likelihood for each row of weights w.

    x, y: (n,) abscissae and 0/1 outcomes; w: (n,) or (B, n) non-negative weights (bootstrap
    multiplicities), default 1. Returns (a, b, ok), arrays of shape (B,) (or scalars for 1-D w):
    ok is False where a row has only one class (a is then infinite: no finite fit)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    one = w is None or np.ndim(w) == 1
    W = np.ones((1, x.size)) if w is None else np.atleast_2d(np.asarray(w, float))
    mu = float(np.mean(x)) if x.size else 0.0
    sd = float(np.std(x)) if x.size else 1.0
    sd = sd if sd > 0 else 1.0
    xs = (x - mu) / sd
    npos = W @ y
    nneg = W @ (1.0 - y)
    ok = (npos > 0) & (nneg > 0)
    Bn = W.shape[0]
    a = np.zeros(Bn)
    b = np.zeros(Bn)
    tot = np.maximum(W.sum(axis=1), 1e-300)
    a[ok] = np.log(npos[ok] / nneg[ok])        # intercept-only start
    for _ in range(iters):
        eta = np.clip(a[:, None] + b[:, None] * xs[None, :], -35, 35)
        p = 1.0 / (1.0 + np.exp(-eta))
        r = W * (y[None, :] - p)
        g0 = r.sum(axis=1)
        g1 = (r * xs).sum(axis=1) - ridge * b
        v = W * p * (1 - p)
        h00 = v.sum(axis=1) + 1e-12 * tot
        h01 = (v * xs).sum(axis=1)
        h11 = (v * xs * xs).sum(axis=1) + ridge
        det = h00 * h11 - h01 * h01
        da = (h11 * g0 - h01 * g1) / det
        db = (h00 * g1 - h01 * g0) / det
        step = np.maximum(np.abs(da), np.abs(db))
        scale = np.where(step > 5.0, 5.0 / np.maximum(step, 1e-300), 1.0)   # damped Newton
        da, db = np.where(ok, da * scale, 0.0), np.where(ok, db * scale, 0.0)
        a += da
        b += db
        if float(np.max(np.abs(np.concatenate([da, db])), initial=0.0)) < 1e-10:
            break
    # back to x: logit = a + b (x - mu)/sd
    A = a - b * mu / sd
    Bc = b / sd
    A = np.where(ok, A, np.where(npos > 0, np.inf, -np.inf))
    Bc = np.where(ok, Bc, 0.0)
    if one:
        return float(A[0]), float(Bc[0]), bool(ok[0])
    return A, Bc, ok


def logistic_p(a, b, x):
    """P = 1 / (1 + exp(-(a + b x)))."""
    with np.errstate(over="ignore", invalid="ignore"):
        eta = np.asarray(a, float)[..., None] + np.asarray(b, float)[..., None] * np.asarray(x, float)
        return 1.0 / (1.0 + np.exp(-np.nan_to_num(eta, nan=0.0, posinf=700, neginf=-700)))


def crossing(a, b, q: float, lo: float, hi: float):
    """The smallest log m in [lo, hi] with P >= q under logit P = a + b log m: a value in
    [lo, hi], -inf ('≤ smallest': P >= q at lo) or +inf ('> largest'). Vectorised."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    lq = math.log(q / (1.0 - q))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        at_lo = a + b * lo
        at_hi = a + b * hi
        cross = np.where(b > 0, (lq - a) / b, np.nan)
    out = np.where(at_lo >= lq, -np.inf, np.where(at_hi >= lq, cross, np.inf))
    return out


def isotonic(y, w):
    """Pool-adjacent-violators: the non-decreasing sequence closest to y in weighted least squares."""
    blocks = []   # [value, weight, count]
    for v, ww in zip(np.asarray(y, float), np.asarray(w, float)):
        blocks.append([v, ww, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            tw = w1 + w2
            blocks.append([(v1 * w1 + v2 * w2) / tw if tw > 0 else 0.5 * (v1 + v2), tw, c1 + c2])
    out = []
    for v, _, c in blocks:
        out += [v] * c
    return np.array(out)


# ----------------------------------------------------------------------------------------------
# per group

@dataclass
class Quantile:
    """m*_q of one group with its bootstrap interval."""
    q: float
    value: float             # width (continuous), -inf = '≤ smallest', +inf = '> largest', NaN = not estimable
    ci: tuple                # (low, high), same conventions
    smallest: int
    largest: int
    n_boot: int = 0

    def _one(self, v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if v == -math.inf:
            return f"≤ {self.smallest}"
        if v == math.inf:
            return f"> {self.largest}"
        return f"{v:.3g}"

    def text(self) -> str:
        s = self._one(self.value)
        if self.n_boot and not any(isinstance(c, float) and math.isnan(c) for c in self.ci):
            s += f" [{self._one(self.ci[0])}, {self._one(self.ci[1])}]"
        return s

    @property
    def within(self) -> bool:
        return math.isfinite(self.value)


@dataclass
class SeedStats:
    """Seed statistics of one group at budget T."""
    n_seeds: int
    n_binary: int            # (m, seed) outcomes used: reached or definite failure
    n_censored: int
    n_unknown: int
    widths: list             # grid widths of the group
    k: list                  # reached per width (binary outcomes only)
    n: list                  # binary outcomes per width
    iso: list                # isotonic P per width (NaN where n = 0)
    a: float = math.nan      # logit P = a + b log m
    b: float = math.nan
    fit_ok: bool = False
    note: str = ""
    quantiles: dict = field(default_factory=dict)   # q -> Quantile
    iso_quantiles: dict = field(default_factory=dict)  # q -> smallest grid width with isotonic P >= q, or None
    nonmonotone: list = field(default_factory=list)   # (seed, m1, m2)

    @property
    def few_seeds(self) -> bool:
        return self.n_seeds < FEW_SEEDS

    def p(self, m):
        return logistic_p(self.a, self.b, np.log(np.asarray(m, float)))


def _binary(row, budget=1.0):
    cls = row.classes[budget]
    use = (cls == REACHED) | (cls == FAILED)
    return use, cls


def _rng(rng_seed, stream):
    return np.random.default_rng([int(rng_seed), int(stream)])


def _seed_weights(seeds_of_obs, unique_seeds, n_boot, rng):
    """(n_boot, n_obs) multiplicities: seeds drawn with replacement, each brings its observations."""
    S = unique_seeds.size
    draws = rng.integers(0, S, size=(n_boot, S))
    counts = np.zeros((n_boot, S))
    np.add.at(counts, (np.repeat(np.arange(n_boot), S), draws.ravel()), 1.0)
    pos = np.searchsorted(unique_seeds, seeds_of_obs)
    return counts[:, pos]


def _percentiles(v, level=LEVEL):
    v = np.asarray(v, float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    lo = np.percentile(v, 50 * (1 - level), method="lower")     # order statistics: no arithmetic on inf
    hi = np.percentile(v, 50 * (1 + level), method="higher")
    return (float(lo), float(hi))


def group_stats(row, n_boot: int = N_BOOT, rng_seed: int = 0, stream: int = 0,
                quantiles=QUANTILES) -> SeedStats:
    """SeedStats of one mstar.MStarRow (binary outcomes at budget T)."""
    use, cls = _binary(row)
    widths = row.widths
    m, y, s = row.m[use].astype(float), (cls[use] == REACHED).astype(float), row.seed[use]
    k = [int(np.sum(y[m == w])) for w in widths]
    n = [int(np.sum(m == w)) for w in widths]
    frac = np.array([ki / ni if ni else np.nan for ki, ni in zip(k, n)])
    has = np.array(n) > 0
    iso = np.full(len(widths), np.nan)
    if has.any():
        iso[has] = isotonic(frac[has], np.array(n, float)[has])
    st = SeedStats(n_seeds=row.n_seeds, n_binary=int(use.sum()), n_censored=int(np.sum(cls == CENSORED)),
                   n_unknown=int(np.sum(cls == UNKNOWN)), widths=list(widths), k=k, n=n, iso=iso.tolist(),
                   nonmonotone=nonmonotone_seeds(row))
    lo, hi = math.log(widths[0]), math.log(widths[-1])
    for q in quantiles:
        hit = [w for w, p in zip(widths, iso) if p == p and p >= q - 1e-12]
        st.iso_quantiles[q] = hit[0] if hit else None
    distinct = np.unique(m).size
    if use.sum() == 0:
        st.note = "no binary outcome (all censored or unknown)"
        st.quantiles = {q: Quantile(q, math.nan, (math.nan, math.nan), widths[0], widths[-1]) for q in quantiles}
        return st
    if distinct < 2 and 0 < y.mean() < 1:
        st.note = "one width with outcomes: no curve"
        st.quantiles = {q: Quantile(q, math.nan, (math.nan, math.nan), widths[0], widths[-1]) for q in quantiles}
        return st
    x = np.log(m)
    a, b, ok = logistic_fit(x, y)
    st.a, st.b, st.fit_ok = a, b, ok
    if not ok:
        st.note = "every seed reached" if y.min() == 1 else "no seed reached"
    boot = None
    if n_boot > 0:
        useeds = np.unique(s)
        W = _seed_weights(s, useeds, n_boot, _rng(rng_seed, stream))
        A, Bc, _ = logistic_fit(x, y, W)
        boot = (A, Bc)
    for q in quantiles:
        v = float(crossing(a, b, q, lo, hi))
        ci = (math.nan, math.nan)
        if boot is not None:
            ci = _percentiles(crossing(boot[0], boot[1], q, lo, hi))
        st.quantiles[q] = Quantile(q, _exp(v), (_exp(ci[0]), _exp(ci[1])), widths[0], widths[-1],
                                   n_boot=n_boot if boot is not None else 0)
    return st


def _exp(v):
    if math.isnan(v) or math.isinf(v):
        return v
    return math.exp(v)


def seed_statistics(rows, n_boot: int = N_BOOT, rng_seed: int = 0, quantiles=QUANTILES) -> list:
    """Fill row.stats (SeedStats) for each mstar.MStarRow; returns rows."""
    for k, r in enumerate(rows):
        r.stats = group_stats(r, n_boot=n_boot, rng_seed=rng_seed, stream=k, quantiles=quantiles)
    return rows


# ----------------------------------------------------------------------------------------------
# exponent of m*_q along an axis, with a bootstrap interval

@dataclass
class BootExponent:
    """Fit of m*_q against one axis for one line (the other keys' values)."""
    group: dict
    axis: str
    q: float
    x: list                   # axis values (1/eps for epsilon) of groups with m*_q within the grid
    m_q: list
    left_out: int             # groups whose m*_q is a bound or not estimable
    fit: PowerFit
    ci: tuple = (math.nan, math.nan)   # bootstrap percentile interval of the exponent
    n_boot: int = 0
    n_valid: int = 0          # replicates with a possible fit (>= 3 groups within the grid)
    paper: float | None = None
    paper_source: str = ""

    def ci_text(self, digits=2) -> str:
        if not self.n_valid or math.isnan(self.ci[0]):
            return "–"
        return f"[{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}] ({self.n_valid}/{self.n_boot} replicates)"


def bootstrap_exponents(rows, axis: str = "epsilon", q: float = 0.5, n_boot: int = N_BOOT, rng_seed: int = 0,
                        model=None, min_points: int = 3) -> list:
    """BootExponent per line of `rows` (MStarRow with stats) along `axis`."""
    lines = {}
    for r in rows:
        if axis in r.group and r.stats is not None:
            rest = tuple((k, v) for k, v in r.group.items() if k != axis)
            lines.setdefault(rest, []).append(r)
    out = []
    for li, (rest, rs) in enumerate(lines.items()):
        rs = [r for r in rs if math.isfinite(axis_x(axis, r.group[axis]))]
        rs.sort(key=lambda r: axis_x(axis, r.group[axis]))
        xs_all = np.array([axis_x(axis, r.group[axis]) for r in rs], float)
        est = [r.stats.quantiles.get(q) for r in rs]
        inside = [e is not None and e.within for e in est]
        xs = [float(x) for x, ok in zip(xs_all, inside) if ok]
        mq = [e.value for e, ok in zip(est, inside) if ok]
        fit = fit_power_law(xs, mq, min_points=min_points)
        p, src = paper_exponent(dict(rest).get("model", model), axis)
        be = BootExponent(group=dict(rest), axis=axis, q=q, x=xs, m_q=mq, left_out=len(rs) - len(xs), fit=fit,
                          paper=p, paper_source=src)
        if n_boot > 0 and len(rs) >= min_points:
            # one seed resampling per replicate, shared by every group of the line
            useeds = np.unique(np.concatenate([r.seed for r in rs]))
            rng = _rng(rng_seed, 100003 + li)
            draws = rng.integers(0, useeds.size, size=(n_boot, useeds.size))
            counts = np.zeros((n_boot, useeds.size))
            np.add.at(counts, (np.repeat(np.arange(n_boot), useeds.size), draws.ravel()), 1.0)
            Y = np.full((n_boot, len(rs)), np.nan)
            for g, r in enumerate(rs):
                use, cls = _binary(r)
                if not use.any():
                    continue
                m = r.m[use].astype(float)
                y = (cls[use] == REACHED).astype(float)
                W = counts[:, np.searchsorted(useeds, r.seed[use])]
                A, Bc, _ = logistic_fit(np.log(m), y, W)
                w = r.widths
                Y[:, g] = crossing(A, Bc, q, math.log(w[0]), math.log(w[-1]))
            X = np.log(xs_all)
            mask = np.isfinite(Y)
            cnt = mask.sum(axis=1)
            Xb = np.where(mask, X[None, :], 0.0)
            Yb = np.where(mask, Y, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                xm = Xb.sum(axis=1) / cnt
                ym = Yb.sum(axis=1) / cnt
                dx = np.where(mask, X[None, :] - xm[:, None], 0.0)
                sxx = (dx * dx).sum(axis=1)
                slope = (dx * (Yb - ym[:, None])).sum(axis=1) / sxx
            valid = (cnt >= min_points) & (sxx > 1e-12)
            be.n_boot = n_boot
            be.n_valid = int(valid.sum())
            if be.n_valid:
                be.ci = _percentiles(slope[valid])
        out.append(be)
    return out
