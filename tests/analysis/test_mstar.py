"""mstar.py: observations from per-target steps, censoring, m* bounds, budgets T/4, T/2, T, stability."""
import math

import numpy as np
import pytest

import synth
from synth import PENDING, point, target_point, write_sweep
from advsweep_analysis import (fit_exponents, load, m_star_table, nonmonotone_seeds, observations,
                               width_keys)
from advsweep_analysis.mstar import CENSORED, FAILED, REACHED, UNKNOWN

T = 1000
OK = 100       # step at which a reaching run meets its target (<= T/4)


def run(m, seed, eps, how, **kw):
    """One point with its own epsilon as its only target: 'R' reached at step OK, 'F' plateau (definite
    failure, ends at step 200), 'C' stopped by the budget (censored), 'P' pending."""
    if how == "P":
        return point(status=PENDING, m=m, seed=seed, epsilon=eps, lr_rule="theorem", **kw)
    if how == "R":
        return target_point({eps: OK}, steps_planned=T, m=m, seed=seed, epsilon=eps, lr_rule="theorem", **kw)
    ending = {"F": "plateau", "C": "budget"}[how]
    return target_point({eps: -1}, ending=ending, steps_planned=T, steps_run=200 if how == "F" else T, m=m,
                        seed=seed, epsilon=eps, lr_rule="theorem", **kw)


def group(eps, pattern, widths=(8, 16, 32, 64)):
    """Points of one group: pattern[k] is the string of per-seed outcomes at widths[k]."""
    return [run(m, s + 1, eps, how) for m, col in zip(widths, pattern) for s, how in enumerate(col)]


CASES = {   # epsilon: (pattern at widths 8, 16, 32, 64; expected status; text at T)
    0.9: (["FFF", "RRR", "RRR", "RRR"], "exact", "16"),
    0.8: (["RRR", "RRR", "RRR", "RRR"], "le_smallest", "≤ 8"),
    0.7: (["FFF", "FFR", "FRF", "RFF"], "gt_largest", "> 64"),
    0.6: (["FFF", "RCR", "RRR", "RRR"], "between", "between 16 and 32"),
    0.5: (["FFF", "CCC", "CRC", "CCR"], "unknown", "unknown (≥ 16)"),
    0.4: (["FFF", "RPR", "RRR", "RRR"], "between", "between 16 and 32"),   # a pending seed, not a censored one
    0.3: (["CCC", "FFF", "RRR", "RRR"], "between", "≤ 32 (undecided below)"),
    0.25: (["FCR", "RRR", "RRR", "RRR"], "exact", "16"),     # one definite failure decides a width (F = 1)
    0.2: (["CCC", "CCC", "CCC", "CCC"], "unknown", "unknown"),             # all censored: NOT "> 64"
}


@pytest.fixture
def cases_file(tmp_path):
    pts = [pt for eps, (pattern, _, _) in CASES.items() for pt in group(eps, pattern)]
    write_sweep(tmp_path / "c.h5", pts, issue8=True)
    return tmp_path / "c.h5"


def test_m_star_exact_bounds_between_unknown(cases_file):
    rows = {r.group["epsilon"]: r for r in m_star_table(load([cases_file]))}
    assert set(rows) == set(CASES)
    for eps, (_, status, text) in CASES.items():
        s = rows[eps].m_star
        assert (eps, s.status, s.text()) == (eps, status, text)
    assert rows[0.9].m_star.value == 16 and rows[0.9].m_star.exact
    for eps in (0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):     # a bound is never a plain number
        assert rows[eps].m_star.value is None and not rows[eps].m_star.text().isdigit()
    assert (rows[0.6].m_star.lo, rows[0.6].m_star.hi) == (16, 32)
    c16 = rows[0.6].cells[1.0][1]
    assert (c16.m, c16.reached, c16.censored, c16.failed, c16.state) == (16, 2, 1, 0, "undecided")
    c16 = rows[0.4].cells[1.0][1]
    assert (c16.reached, c16.unknown, c16.state) == (2, 1, "undecided")
    assert rows[0.2].counts()["censored"] == 12 and rows[0.2].counts()["failed"] == 0


def test_fraction_below_one_with_censoring(cases_file):
    # at least half of the seeds: 0.6 qualifies at 16 already (2 of 3 reached); 0.5: 1 of 3 reached + 2
    # censored at 32 stays undecided (1 < 1.5), 16 has 0 reached and 3 censored: undecided
    rows = {r.group["epsilon"]: r for r in m_star_table(load([cases_file]), fraction=0.5)}
    assert rows[0.6].m_star.text() == "16"
    assert rows[0.7].m_star.text() == "> 64"          # 1 of 3 at each width: fails definitively
    assert rows[0.5].m_star.status == "unknown"


def test_outcome_classification_from_target_steps(tmp_path):
    # one run, three targets: 0.2 met at step 100, 0.1 at 400, 0.05 never; plateau at step 600 of T = 1000
    pts = [target_point({0.2: 100, 0.1: 400, 0.05: -1}, ending=ending, steps_planned=T, steps_run=600, m=8,
                        seed=k + 1, epsilon=0.2, lr_rule="free")
           for k, ending in enumerate(("plateau", "budget", "diverged"))]
    write_sweep(tmp_path / "t.h5", pts, issue8=True)
    p = load([tmp_path / "t.h5"])
    assert p.n_targets == 3
    obs = observations(p)
    assert len(obs) == 9 and obs.per_target.all()             # every target of every run is an observation
    got = {(int(obs.seed[k]), float(obs.tau[k])): k for k in range(len(obs))}
    cls = {b: obs.classify(b) for b in (0.25, 0.5, 1.0)}

    def at(seed, tau):
        return tuple(int(cls[b][got[(seed, tau)]]) for b in (0.25, 0.5, 1.0))

    for seed in (1, 2, 3):
        assert at(seed, 0.2) == (REACHED, REACHED, REACHED)           # step 100 <= 250
        assert at(seed, 0.1) == (CENSORED, REACHED, REACHED)          # step 400: after T/4
    assert at(1, 0.05) == (CENSORED, CENSORED, FAILED)                # plateau at 600: definite from 600 on
    assert at(2, 0.05) == (CENSORED, CENSORED, CENSORED)              # budget: censored, never a failure
    assert at(3, 0.05) == (CENSORED, CENSORED, FAILED)                # diverged at 600
    # the per-target step wins over anything else: eps_step belongs to epsilon = 0.2 only
    assert set(np.unique(obs.tau)) == {0.2, 0.1, 0.05}


def test_old_layout_uses_eps_step_and_censors(tmp_path):
    """A file without /targets and outcome: one observation per point from eps_step; a run that did not
    reach epsilon counts as censored (its ending is unknown), a diverged one as a failure."""
    pts = synth.grid([8, 16, 32], [0.2, 0.1], [1, 2], lambda m, e, s: m >= 16)
    pts[1] = point(status=synth.DIVERGED, min_surrogate=1.0, **pts[1]["params"])   # eps 0.2, m 8, seed 2
    write_sweep(tmp_path / "old.h5", pts)                # issue8=False: the older layout
    p = load([tmp_path / "old.h5"])
    assert p.n_targets == 0 and "outcome" not in p.summary
    obs = observations(p)
    assert len(obs) == 12 and not obs.per_target.any()
    c = obs.classify(1.0)
    assert list(c[(obs.m == 8) & (obs.tau == 0.2)]) == [CENSORED, FAILED]   # not reached: censored; diverged
    assert list(c[(obs.m == 8) & (obs.tau == 0.1)]) == [CENSORED, CENSORED]
    assert (c[obs.m >= 16] == REACHED).all()
    rows = {r.group["epsilon"]: r for r in m_star_table(p)}
    assert rows[0.1].m_star.status == "between" and rows[0.1].m_star.text() == "≤ 16 (undecided below)"
    assert rows[0.2].m_star.text() == "16"                # the diverged seed fails m = 8 definitively


def test_shared_runs_answer_every_epsilon_once(tmp_path):
    """lr_rule free: the points of one (m, seed) share a training run; each (run, target) is one
    observation, for the group of epsilon = target."""
    eps = [0.2, 0.1, 0.05]
    pts = synth.free_grid([8, 16], eps, [1, 2], lambda m, s, tau: 100 if m >= 16 else -1, T=T)
    write_sweep(tmp_path / "f.h5", pts, issue8=True)
    obs = observations(load([tmp_path / "f.h5"]))
    assert len(obs) == 3 * 2 * 2 and obs.runs == 4
    assert int(obs.shared.sum()) == 2 * 2 * 2             # the two smaller epsilons are copies of the first
    # a pending copy is answered by its run: no unknown seeds
    pts2 = list(pts)
    k = next(i for i, pt in enumerate(pts) if pt["params"]["epsilon"] == 0.05)
    pts2[k] = point(status=PENDING, **pts[k]["params"])
    write_sweep(tmp_path / "g.h5", pts2, issue8=True)
    obs2 = observations(load([tmp_path / "g.h5"]))
    assert len(obs2) == 12 and not (obs2.classify(1.0) == UNKNOWN).any()


def test_theorem_rule_answers_only_its_own_epsilon(tmp_path):
    pt = target_point({0.1: 50, 0.05: 80}, steps_planned=T, m=8, seed=1, epsilon=0.1, lr_rule="theorem")
    write_sweep(tmp_path / "t.h5", [pt], issue8=True)
    obs = observations(load([tmp_path / "t.h5"]))
    assert len(obs) == 1 and obs.tau[0] == 0.1 and obs.step[0] == 50


def budget_file(tmp_path):
    """lr_rule free, T = 1000, widths 4..64, 3 seeds, targets 0.2 and 0.1. The first step at or below tau is
    1000 * (8/m) * (0.1/tau) (never above T); m = 4 plateaus at step 100 without reaching.

    tau 0.1: m=8 at 1000, 16 at 500, 32 at 250 -> m*(T/4) between 8 and 32, m*(T/2) between 8 and 16,
             m*(T) = 8 exact; not stable.
    tau 0.2: m=8 at 500, 16 at 250 -> m*(T/4) between 8 and 16, m*(T/2) = m*(T) = 8: stable."""
    def first(m, s, tau):
        if m < 8:
            return -1
        t = int(round(1000 * (8 / m) * (0.1 / tau)))
        return t if t <= T else -1

    pts = synth.free_grid([4, 8, 16, 32, 64], [0.2, 0.1], [1, 2, 3], first,
                          ending=lambda m, s: ("plateau", 100) if m < 8 else ("budget", T), T=T)
    write_sweep(tmp_path / "b.h5", pts, issue8=True)
    return tmp_path / "b.h5"


def test_budgets_quarter_half_full_and_stability(tmp_path):
    rows = {r.group["epsilon"]: r for r in m_star_table(load([budget_file(tmp_path)]))}
    r = rows[0.1]
    assert [r.by_budget[b].text() for b in (0.25, 0.5, 1.0)] == ["between 8 and 32", "between 8 and 16", "8"]
    assert not r.stable
    r = rows[0.2]
    assert [r.by_budget[b].text() for b in (0.25, 0.5, 1.0)] == ["between 8 and 16", "8", "8"]
    assert r.stable
    assert rows[0.2].fit_value() == (8, "") and rows[0.1].fit_value() == (None, "not budget-stable")


def test_exponent_fits_use_stable_exact_values_only(tmp_path):
    """m* = 3.2/eps at five epsilons; at 0.4 it is only a bound (the smallest width), at 0.05 it is reached
    only after T/2 (not budget-stable): the fit uses the other three and says what it left out."""
    widths = [8, 16, 32, 64, 128, 256]
    eps_list = [0.4, 0.2, 0.1, 0.05, 0.025]
    pts = []
    for e in eps_list:
        need = 3.2 / e                                    # 8, 16, 32, 64, 128
        for m in widths:
            for s in (1, 2):
                if m >= need:
                    step = 100 if e != 0.05 or m > need else 700   # eps 0.05 at m = 64: only after T/2
                    pts.append(target_point({e: step}, steps_planned=T, m=m, seed=s, epsilon=e, lr_rule="theorem"))
                else:
                    pts.append(target_point({e: -1}, ending="plateau", steps_planned=T, steps_run=150, m=m, seed=s,
                                            epsilon=e, lr_rule="theorem"))
    write_sweep(tmp_path / "e.h5", pts, issue8=True)
    rows = m_star_table(load([tmp_path / "e.h5"]))
    byeps = {r.group["epsilon"]: r for r in rows}
    assert byeps[0.4].m_star.text() == "≤ 8"                # smallest width: a bound, left out
    assert byeps[0.05].m_star.text() == "64" and not byeps[0.05].stable
    e = fit_exponents(rows, "epsilon")[0]
    assert e.x == pytest.approx([5.0, 10.0, 40.0]) and e.m_star == [16, 32, 128]
    assert e.left_out == {"bound ≤ smallest width": 1, "not budget-stable": 1}
    assert e.fit.ok and e.fit.exponent == pytest.approx(1.0)


def test_nonmonotone_seeds_counted(tmp_path):
    # seed 1: reached at 16, plateau at 32 -> non-monotone; seed 2: reached at 16, censored at 32 -> not
    pts = group(0.1, ["FFF", "RRR", "FCR", "RRR"])
    write_sweep(tmp_path / "n.h5", pts, issue8=True)
    r = m_star_table(load([tmp_path / "n.h5"]))[0]
    assert nonmonotone_seeds(r) == [(1, 16, 32)]
    assert r.m_star.text() == "16"


def test_width_keys_ignore_targets(tmp_path):
    pts = [run(m, 1, e, "R") for m in (8, 16) for e in (0.1, 0.05)]      # targets differs with epsilon
    write_sweep(tmp_path / "k.h5", pts, issue8=True)
    p = load([tmp_path / "k.h5"])
    assert "targets" in p.varying() and width_keys(p) == ["epsilon"]
    assert math.isclose(p.targets["tau"][0, 0], pts[0]["params"]["epsilon"])


def test_given_step_size_and_count_make_training_epsilon_free(tmp_path):
    pt = target_point({0.1: 50, 0.05: 80}, steps_planned=T, m=8, seed=1, epsilon=0.1, lr_rule="theorem",
                      lr=0.5, steps=T)
    write_sweep(tmp_path / "t.h5", [pt], issue8=True)
    obs = observations(load([tmp_path / "t.h5"]))
    assert sorted(obs.tau.tolist()) == [0.05, 0.1] and sorted(obs.step.tolist()) == [50, 80]
