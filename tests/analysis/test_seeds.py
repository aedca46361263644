"""seeds.py: P(reach | m) from seeds drawn from a known logistic, m*_q, bootstrap intervals, exponents."""
import math

import numpy as np
import pytest

import synth
from synth import logistic_seeds, target_point, write_sweep
from advsweep_analysis import bootstrap_exponents, load, logistic_fit, m_star_table, seed_statistics
from advsweep_analysis.seeds import crossing, isotonic

T = 1000
WIDTHS = synth.LOGISTIC_WIDTHS


def test_logistic_fit_recovers_parameters_directly():
    rng = np.random.default_rng(3)
    x = np.repeat(np.log(np.array(WIDTHS, float)), 80)
    a0, b0 = -2.0 * math.log(40.0), 2.0
    y = (rng.random(x.size) < 1 / (1 + np.exp(-(a0 + b0 * x)))).astype(float)
    a, b, ok = logistic_fit(x, y)
    assert ok and b == pytest.approx(b0, rel=0.15) and -a / b == pytest.approx(math.log(40.0), abs=0.1)
    # only one class: no finite fit, flagged
    assert logistic_fit(x, np.ones_like(x))[2] is False
    # separated seeds: a finite, steep curve crossing 0.5 between the last failure and the first reach
    a, b, ok = logistic_fit(np.log([8, 8, 16, 16, 32, 32.0]), np.array([0, 0, 0, 0, 1, 1.0]))
    assert ok and b > 3 and 16 < math.exp(float(crossing(a, b, 0.5, math.log(8), math.log(32)))) < 32


def test_isotonic_pools_violators():
    assert isotonic([0.0, 0.5, 0.3, 1.0, 0.9], [1, 1, 1, 1, 1]).tolist() == pytest.approx([0, 0.4, 0.4, 0.95, 0.95])
    assert isotonic([1.0, 0.0], [3, 1]).tolist() == pytest.approx([0.75, 0.75])


def test_known_p_reach_recovered_with_bootstrap_interval(tmp_path):
    m50, b = 60.0, 2.5
    write_sweep(tmp_path / "s.h5", logistic_seeds({0.1: m50}, b, n_seeds=40), issue8=True)
    rows = m_star_table(load([tmp_path / "s.h5"]))
    seed_statistics(rows, n_boot=400, rng_seed=1)
    st = rows[0].stats
    assert st.n_seeds == 40 and st.n_binary == 40 * len(WIDTHS) and st.n_censored == 0
    assert st.fit_ok and st.b == pytest.approx(b, rel=0.3)
    q50, q90 = st.quantiles[0.5], st.quantiles[0.9]
    true90 = m50 * 9 ** (1 / b)
    assert q50.value == pytest.approx(m50, rel=0.2) and q90.value == pytest.approx(true90, rel=0.3)
    assert q50.ci[0] < m50 < q50.ci[1] and q90.ci[0] < true90 < q90.ci[1]
    assert q50.ci[1] / q50.ci[0] < 2.0                     # 40 seeds: a usable interval
    assert st.p(m50) == pytest.approx(0.5, abs=0.12)
    # isotonic estimate: a grid width near m50
    assert m50 / 2 <= st.iso_quantiles[0.5] <= m50 * 2
    # reproducible: the same seed gives the same interval, another seed another one
    again = m_star_table(load([tmp_path / "s.h5"]))
    seed_statistics(again, n_boot=400, rng_seed=1)
    assert again[0].stats.quantiles[0.5].ci == q50.ci
    other = m_star_table(load([tmp_path / "s.h5"]))
    seed_statistics(other, n_boot=400, rng_seed=2)
    assert other[0].stats.quantiles[0.5].ci != q50.ci


def test_bounds_of_m_q_are_bounds(tmp_path):
    pts = logistic_seeds({0.1: 1.0}, 20.0, n_seeds=5, widths=[8, 16, 32])           # always reaches
    pts += logistic_seeds({0.05: 1e6}, 20.0, n_seeds=5, widths=[8, 16, 32])         # never reaches
    write_sweep(tmp_path / "b.h5", pts, issue8=True)
    rows = {r.group["epsilon"]: r for r in seed_statistics(m_star_table(load([tmp_path / "b.h5"])), n_boot=50)}
    assert rows[0.1].stats.quantiles[0.5].text().startswith("≤ 8")
    assert rows[0.05].stats.quantiles[0.9].text().startswith("> 32")
    assert rows[0.1].stats.quantiles[0.5].value == -math.inf and not rows[0.1].stats.quantiles[0.5].within


def test_censored_seeds_left_out_of_p_reach(tmp_path):
    pts = logistic_seeds({0.1: 16.0}, 50.0, n_seeds=4, widths=[8, 16, 32, 64])
    # two more seeds, censored everywhere (budget): they must not count as failures
    pts += [target_point({0.1: -1}, ending="budget", steps_planned=T, m=m, seed=s, epsilon=0.1, lr_rule="theorem")
            for m in (8, 16, 32, 64) for s in (5, 6)]
    write_sweep(tmp_path / "c.h5", pts, issue8=True)
    r = seed_statistics(m_star_table(load([tmp_path / "c.h5"])), n_boot=0)[0]
    assert r.stats.n_censored == 8 and r.stats.n_binary == 16 and r.n_seeds == 6
    assert r.stats.k[-1] == r.stats.n[-1] == 4                   # P(reach | 64) = 4/4, not 4/6


def test_bootstrap_exponent_of_m50(tmp_path):
    """m50 = 0.4 / eps^2 at four epsilons (exponent 2 in 1/eps): the point estimate and the bootstrap
    interval over seeds recover it."""
    eps_m50 = {e: 0.4 / e ** 2 for e in (0.2, 0.1, 0.07, 0.05)}     # 10, 40, 82, 160
    write_sweep(tmp_path / "x.h5", logistic_seeds(eps_m50, 3.0, n_seeds=20), issue8=True)
    rows = seed_statistics(m_star_table(load([tmp_path / "x.h5"])), n_boot=300, rng_seed=0)
    be = bootstrap_exponents(rows, "epsilon", n_boot=300, rng_seed=0)
    assert len(be) == 1
    e = be[0]
    assert e.fit.ok and e.fit.n_points == 4 and e.fit.exponent == pytest.approx(2.0, abs=0.35)
    assert e.n_valid == 300 and e.ci[0] < 2.0 < e.ci[1] and e.ci[1] - e.ci[0] < 1.5
