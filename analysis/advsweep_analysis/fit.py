"""fit.py — power-law fits  y = c * x^p  by least squares in log-log space, with t intervals.

Numpy and the standard library only (no scipy): the Student-t quantile comes
from the regularized incomplete beta function below. Also the exponents the
paper's width bounds imply, to print beside the measured ones. A measured
exponent is a finding: nothing here assumes it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Exponent of the width bound in each axis, by model (Gao et al. 2019).
#   Theorem 4.1 (deep, projected GD):      m >= Theta(R^9 H^16 / eps^7)
#   Theorem 5.1 (two-layer, smooth, GD):   m = Omega(R^4 / eps^2)
PAPER_BOUNDS = {
    ("deep", "epsilon"): (7.0, "Theorem 4.1 (m ≥ R⁹H¹⁶/ε⁷)"),
    ("deep", "H"): (16.0, "Theorem 4.1 (m ≥ R⁹H¹⁶/ε⁷)"),
    ("deep", "R"): (9.0, "Theorem 4.1 (m ≥ R⁹H¹⁶/ε⁷)"),
    ("twolayer", "epsilon"): (2.0, "Theorem 5.1 (m = Ω(R⁴/ε²))"),
    ("twolayer", "R"): (4.0, "Theorem 5.1 (m = Ω(R⁴/ε²))"),
}
AXIS_TEXT = {"epsilon": "1/ε", "H": "H", "R": "R", "nd": "n·d"}


def paper_exponent(model, axis):
    """(exponent, source text) of the paper's bound for `model` along `axis`, or (None, '')."""
    return PAPER_BOUNDS.get((model, axis), (None, ""))


# ----------------------------------------------------------------------------------------------
# Student t

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) for a, b > 0, 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df > 0 degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with t_cdf(t, df) = p, 0 < p < 1 (bisection to ~1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------------------------
# power-law fit

@dataclass
class PowerFit:
    """log y = log_prefactor + exponent * log x, fitted on n_points points."""
    ok: bool
    n_points: int
    exponent: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    log_prefactor: float = math.nan
    stderr: float = math.nan
    level: float = 0.95
    note: str = ""

    @property
    def halfwidth(self) -> float:
        return 0.5 * (self.ci_high - self.ci_low)

    def predict(self, x):
        return np.exp(self.log_prefactor) * np.asarray(x, float) ** self.exponent

    def text(self, digits: int = 2) -> str:
        if not self.ok:
            return self.note
        return (f"{self.exponent:.{digits}f} ± {self.halfwidth:.{digits}f} "
                f"({self.level:.0%} CI {self.ci_low:.{digits}f} to {self.ci_high:.{digits}f}, {self.n_points} points)")


def fit_power_law(x, y, level: float = 0.95, min_points: int = 3) -> PowerFit:
    """Least-squares fit of log y on log x, with a two-sided t interval for the exponent.

    Points with non-finite or non-positive x or y are ignored. Needs `min_points`
    (>= 3, so that the residual variance has a degree of freedom) at two or more
    distinct x; otherwise returns ok=False with a note saying why."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = np.log(x[keep]), np.log(y[keep])
    n = int(x.size)
    min_points = max(int(min_points), 3)
    if n < min_points or np.unique(x).size < 2:
        distinct = np.unique(x).size
        why = f"{n} point{'s' if n != 1 else ''}" + (f" at {distinct} distinct x" if distinct < n else "")
        return PowerFit(ok=False, n_points=n, level=level, note=f"fit not possible ({why}; needs {min_points})")
    xm = x.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - y.mean())) / sxx)
    intercept = float(y.mean() - slope * xm)
    resid = y - (intercept + slope * x)
    dof = n - 2
    s2 = float(np.sum(resid ** 2) / dof)
    se = math.sqrt(s2 / sxx)
    t = t_quantile(0.5 + level / 2.0, dof)
    return PowerFit(ok=True, n_points=n, exponent=slope, ci_low=slope - t * se, ci_high=slope + t * se,
                    log_prefactor=intercept, stderr=se, level=level)


# ----------------------------------------------------------------------------------------------
# exponents of m* along one axis

@dataclass
class ExponentRow:
    """Fit of m* against one axis for one combination of the other axes."""
    group: dict                    # the other axes' values (without the fitted axis)
    axis: str                      # 'epsilon' (fitted against 1/eps), 'H', 'R', 'nd'
    x: list                        # axis values (1/eps for 'epsilon') of reached points
    m_star: list                   # their m*
    not_reached: list              # axis values (same transform) where m* was not reached
    fit: PowerFit
    paper: float | None = None     # exponent implied by the paper's bound, if any
    paper_source: str = ""
    provisional: int = 0           # reached points whose m* may still change (seeds missing)
    extra: dict = field(default_factory=dict)
    left_out: dict = field(default_factory=dict)   # reason -> number of axis values not fitted

    @property
    def n_left_out(self) -> int:
        return sum(self.left_out.values())

    def left_out_text(self) -> str:
        return ", ".join(f"{n} {why}" for why, n in self.left_out.items()) if self.left_out else "none"


def axis_x(axis: str, value):
    """The abscissa used for `axis`: 1/epsilon for 'epsilon', the value itself otherwise."""
    if value is None:
        return math.nan
    v = float(value)
    if axis == "epsilon":
        return 1.0 / v if v > 0 else math.nan
    return v


def fit_exponents(rows, axis: str = "epsilon", model=None, level: float = 0.95, min_points: int = 3) -> list:
    """Fit m* ~ x^p along `axis` for each combination of the other group keys.

    `rows` are width.WidthRow or mstar.MStarRow (their .group must contain `axis`); `model` is
    the sweep's model when it is not itself a group key. Unreached points are kept aside
    (never extrapolated) and do not enter the fit. An MStarRow enters only with an exact,
    budget-stable m* (MStarRow.fit_value); the others are counted in .left_out by reason."""
    lines = {}
    for r in rows:
        if axis not in r.group:
            continue
        rest = tuple((k, v) for k, v in r.group.items() if k != axis)
        lines.setdefault(rest, []).append(r)
    out = []
    for rest, rs in lines.items():
        group = dict(rest)
        xs, ms, nr, prov, left = [], [], [], 0, {}
        for r in sorted(rs, key=lambda r: axis_x(axis, r.group[axis])):
            xv = axis_x(axis, r.group[axis])
            if not math.isfinite(xv):
                continue
            if hasattr(r, "fit_value"):
                v, why = r.fit_value()
                if v is not None:
                    xs.append(xv)
                    ms.append(v)
                else:
                    left[why] = left.get(why, 0) + 1
                    if r.m_star.status == "gt_largest":
                        nr.append(xv)
                continue
            if r.m_star is not None:
                xs.append(xv)
                ms.append(r.m_star)
                prov += int(r.provisional)
            elif r.status == "not reached":
                nr.append(xv)
        fit = fit_power_law(xs, ms, level=level, min_points=min_points)
        p, src = paper_exponent(group.get("model", model), axis)
        out.append(ExponentRow(group=group, axis=axis, x=xs, m_star=ms, not_reached=nr, fit=fit,
                               paper=p, paper_source=src, provisional=prov, left_out=left))
    return out
