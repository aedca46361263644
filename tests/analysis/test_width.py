"""width.py: m*, fraction of seeds, not reached, provisional, diverged/failed counting, capacity."""

import synth
from synth import DIVERGED, FAILED, PENDING, RUNNING, point, write_sweep
from advsweep_analysis import capacity_requirement, is_capacity, load, width_requirement

MS = [8, 16, 32, 64]


def rows_by_eps(rows):
    return {r.group["epsilon"]: r for r in rows}


def test_fraction_below_one(tmp_path):
    # seed s succeeds from m >= 8 * 2**(s-1): at m=8 1/4, 16 2/4, 32 3/4, 64 4/4
    pts = synth.grid(MS, [0.1], [1, 2, 3, 4], lambda m, e, s: m >= 8 * 2 ** (s - 1))
    write_sweep(tmp_path / "s.h5", pts)
    p = load([tmp_path / "s.h5"])
    assert [width_requirement(p, f)[0].m_star for f in (1.0, 0.75, 0.5, 0.25, 0.1)] == [64, 32, 16, 8, 8]
    r = width_requirement(p, 0.5)[0]
    assert [c.fraction for c in r.cells] == [0.25, 0.5, 0.75, 1.0]
    assert [(c.successes, c.trials) for c in r.cells] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert r.status == "reached" and not r.provisional


def test_not_reached_is_reported_not_extrapolated(tmp_path):
    pts = synth.grid(MS, [0.5, 0.01], [1, 2], lambda m, e, s: e > 0.1 and m >= 16)
    write_sweep(tmp_path / "s.h5", pts)
    rows = rows_by_eps(width_requirement(load([tmp_path / "s.h5"])))
    assert rows[0.5].m_star == 16 and rows[0.5].status == "reached"
    assert rows[0.01].m_star is None and rows[0.01].status == "not reached" and rows[0.01].max_m == 64
    assert "not reached within m ≤ 64" in rows[0.01].status_text()


def test_grouping_uses_varying_params_only(tmp_path):
    pts = synth.grid(MS, [0.1], [1, 2], lambda m, e, s: m >= 32, attack="pgd", H=3)
    pts += synth.grid(MS, [0.1], [1, 2], lambda m, e, s: m >= 16, attack="fgsm", H=3)
    write_sweep(tmp_path / "s.h5", pts)
    rows = width_requirement(load([tmp_path / "s.h5"]))
    assert [r.group for r in rows] == [{"attack": "fgsm"}, {"attack": "pgd"}]
    assert [r.m_star for r in rows] == [16, 32]


def test_pending_smaller_width_makes_m_star_provisional(tmp_path):
    pts = synth.grid(MS, [0.1], [1, 2], lambda m, e, s: m >= 32)
    pts[0] = point(status=PENDING, m=8, epsilon=0.1, seed=1)           # m=8 seed 1 not run yet
    pts[7] = point(status=RUNNING, m=64, epsilon=0.1, seed=2)          # above m*: does not matter
    write_sweep(tmp_path / "s.h5", pts)
    r = width_requirement(load([tmp_path / "s.h5"]))[0]
    assert r.m_star == 32 and r.provisional
    assert (r.cells[0].trials, r.cells[0].pending) == (1, 1)
    assert (r.cells[-1].trials, r.cells[-1].pending) == (1, 1)


def test_diverged_count_as_failure_failed_are_excluded(tmp_path):
    pts = synth.grid(MS, [0.1], [1, 2], lambda m, e, s: m >= 16)
    pts[2] = point(status=DIVERGED, m=16, epsilon=0.1, seed=1, min_surrogate=0.01)  # would have reached
    pts[3] = point(status=FAILED, m=16, epsilon=0.1, seed=2, reason="error")
    write_sweep(tmp_path / "s.h5", pts)
    p = load([tmp_path / "s.h5"])
    r = width_requirement(p)[0]
    c16 = r.cells[1]
    assert (c16.m, c16.trials, c16.successes, c16.diverged, c16.failed) == (16, 1, 0, 1, 1)
    assert r.m_star == 32 and r.provisional            # the failed seed at m=16 leaves it open
    assert r.counts()["diverged"] == 1 and r.counts()["failed"] == 1


def test_no_data_group(tmp_path):
    pts = synth.grid(MS, [0.5], [1], lambda m, e, s: True)
    pts += [point(status=PENDING, m=m, epsilon=0.2, seed=1) for m in MS]
    write_sweep(tmp_path / "s.h5", pts)
    rows = rows_by_eps(width_requirement(load([tmp_path / "s.h5"])))
    assert rows[0.2].status == "no data" and rows[0.2].m_star is None
    assert rows[0.5].m_star == 8


def test_capacity_clean_vs_robust(tmp_path):
    pts = []
    for n in (8, 16, 32):
        for attack, factor in (("none", 1), ("pgd", 4)):
            for m in (8, 16, 32, 64, 128, 256, 512):
                for s in (1, 2):
                    ok = m >= factor * n * 4 / 8     # clean: m >= n*d/8, robust: 4x that (d = 4)
                    pts.append(point(m=m, n=n, d=4, attack=attack, seed=s, epsilon=0.1,
                                     summary={"final_clean_acc": 1.0 if ok else 0.9,
                                              "final_robust_acc": 1.0 if ok else 0.5}))
    write_sweep(tmp_path / "c.h5", pts)
    p = load([tmp_path / "c.h5"])
    assert is_capacity(p)
    cap = capacity_requirement(p)
    assert [(c.nd, c.clean.m_star, c.robust["pgd"].m_star) for c in cap] == [(32, 8, 16), (64, 8, 32),
                                                                             (128, 16, 64)]
