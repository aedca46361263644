"""fit.py: t quantiles, power-law fits, and the known answer m* = c / eps^2 -> exponent 2."""
import math

import numpy as np
import pytest

import synth
from advsweep_analysis import fit_exponents, fit_power_law, load, t_quantile, width_requirement
from advsweep_analysis.fit import t_cdf

# t_{0.975, df} from standard tables
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 5: 2.571, 10: 2.228, 30: 2.042, 120: 1.980}


@pytest.mark.parametrize("df,t", sorted(T975.items()))
def test_t_quantile_matches_table(df, t):
    assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-3)
    assert t_cdf(t_quantile(0.9, df), df) == pytest.approx(0.9, abs=1e-10)
    assert t_quantile(0.025, df) == pytest.approx(-t, abs=1e-3)


def test_exact_power_law():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    f = fit_power_law(x, 3.0 * x ** 1.5)
    assert f.ok and f.exponent == pytest.approx(1.5) and f.ci_low == pytest.approx(1.5)
    assert math.exp(f.log_prefactor) == pytest.approx(3.0)


def test_noisy_power_law_interval():
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 100, 12)
    f = fit_power_law(x, 2.0 * x ** 0.7 * np.exp(rng.normal(0, 0.1, x.size)))
    assert f.ci_low < 0.7 < f.ci_high and f.halfwidth < 0.1


def test_too_few_points():
    f = fit_power_law([1, 2], [3, 4])
    assert not f.ok and "fit not possible" in f.note and "2 points" in f.note
    assert not fit_power_law([2, 2, 2], [1, 2, 3]).ok          # one distinct x
    assert fit_power_law([1, 2, 3, np.nan, -1], [1, 2, 3, 4, 5]).n_points == 3


def test_known_answer_exponent_two(tmp_path):
    """Success exactly when m >= c / eps^2 on a grid of widths 2^(k/4): the fit must find 2."""
    ms = sorted({int(round(8 * 2 ** (k / 4))) for k in range(41)})
    eps = list(np.geomspace(0.6, 0.07, 6))
    pts = synth.grid(ms, eps, [1, 2], lambda m, e, s: m >= 10.0 / e ** 2, model="twolayer")
    pts += synth.grid(ms, [0.6, 0.3, 0.01], [1, 2], lambda m, e, s: m >= 10.0 / e ** 2, model="twolayer",
                      attack="fgsm")   # eps=0.01 needs m >= 1e5: not reached
    synth.write_sweep(tmp_path / "k.h5", pts)
    p = load([tmp_path / "k.h5"])
    rows = width_requirement(p)
    exps = {e.group["attack"]: e for e in fit_exponents(rows, model=p.constant("model"))}
    f = exps["pgd"].fit
    assert f.ok and f.n_points == 6
    assert abs(f.exponent - 2.0) <= 0.2
    assert f.ci_low <= 2.0 <= f.ci_high
    assert exps["pgd"].paper == 2.0                          # Theorem 5.1, two-layer
    fg = exps["fgsm"]
    assert not fg.fit.ok and len(fg.x) == 2 and fg.not_reached == [pytest.approx(100.0)]
