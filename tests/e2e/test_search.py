"""The adaptive width search (a job's `search:` section) end to end: the real
binary under mpirun, real files, and the analysis's m* table computed from the
search's file against the same table from the full grid."""
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from conftest import ROOT, digest, everything, mpi_env, run, status

sys.path.insert(0, str(ROOT / "analysis"))
from advsweep_analysis.load import load  # noqa: E402
from advsweep_analysis.mstar import m_star_table  # noqa: E402

GRID = """\
name: small
seeds: 3
fixed: {d: 6, n: 16, delta: 0.1, H: 1, steps: 400, early_stop: 1, plateau_window: 80, plateau_tol: 0.001,
        eval_count: 1, eval_steps: 3, eval_restarts: 1, pgd_steps: 3}
grid:
  m: [2, 3, 4, 6, 8, 12, 16, 24, 32, 48]
  epsilon: [0.2, 0.1, 0.05]
  attack: [none, pgd]
"""
SEARCH = GRID + "search: {axis: m, target: epsilon}\n"


def table(path, fraction=1.0, budgets=(0.5, 1.0)):
    pts = load([str(path)], require_done=False)
    rows = m_star_table(pts, fraction=fraction, budgets=budgets)
    return {(r.group.get("attack"), round(r.group["epsilon"], 9), b): r.by_budget[b].text()
            for r in rows for b in budgets}


def by_key(path):
    with h5py.File(path, "r", locking=False) as f:
        keys = f["plan/key"][()].astype(str)
        st = f["status"][()]
        cols = {n: f[n][()] for n in ("summary/min_surrogate", "summary/steps_run", "targets/step", "traj/surrogate_loss")}
    return {k: tuple(cols[n][i].tobytes() for n in cols) for i, k in enumerate(keys) if st[i] == 1}, dict(zip(keys, st))


@pytest.fixture(scope="module")
def full(advsweep, tmp_path_factory):
    d = tmp_path_factory.mktemp("full")
    (d / "grid.yaml").write_text(GRID)
    out = d / "full.h5"
    run([advsweep, "run", str(d / "grid.yaml"), "-o", str(out), "-q"], ranks=3, check=0)
    return out


def test_search_reproduces_the_full_grids_table(advsweep, full, tmp_path):
    job = tmp_path / "search.yaml"
    job.write_text(SEARCH)
    out = tmp_path / "search.h5"
    proc = run([advsweep, "run", str(job), "-o", str(out)], ranks=3, check=0)
    assert "a search over m" in proc.stdout
    assert "every seed has results on both sides of every threshold" in proc.stdout
    assert "skipped (not needed)" in proc.stdout
    # the analysis computes the same m* table (T/2 and T) from both files
    assert table(out) == table(full)
    st = status(out)
    runs_search = len(set(h5py.File(out, "r")["plan/trained_as"][()][np.isin(st, (1, 2, 3))]))
    assert runs_search < 60  # of 60 training runs of the grid
    assert set(st) <= {1, 2, 3, 5} and 5 in set(st)  # finished or skipped: nothing pending
    # what it ran is bit for bit what the full grid has for the same points
    mine, _ = by_key(out)
    ref, _ = by_key(full)
    for k, v in mine.items():
        assert ref[k] == v
    # status counts the skipped points
    proc = run([advsweep, "status", str(out)], check=0)
    assert "skipped" in proc.stdout and "nothing left to run" in proc.stdout
    # rerun: nothing to do, nothing rewritten
    before = everything(out)
    proc = run([advsweep, "run", str(job), "-o", str(out)], check=0)
    assert "(0 run now)" in proc.stdout
    assert everything(out) == before  # every dataset and attribute (but the run's size)
    # skipped points run later with --where (a search job then runs as a grid)
    with h5py.File(out, "r") as f:
        m = f["params/m"][()]
        skipped_48 = int(np.sum((st == 5) & (m == 48)))
    assert skipped_48 > 0
    run([advsweep, "run", str(job), "-o", str(out), "--where", "m=48", "-q"], ranks=2, check=0)
    st2 = status(out)
    assert all(st2[m == 48] == 1)
    assert table(out) == table(full)


def test_search_at_many_ranks_gives_the_same_table(advsweep, full, tmp_path):
    # 7 workers for 2 groups of 3 seeds: idle workers run widths ahead of the
    # frontiers; that changes what is skipped, never a result or the table
    job = tmp_path / "search.yaml"
    job.write_text(SEARCH)
    out = tmp_path / "many.h5"
    proc = run([advsweep, "run", str(job), "-o", str(out)], ranks=8, check=0)
    assert "every seed has results on both sides of every threshold" in proc.stdout
    assert table(out) == table(full)
    assert set(status(out)) <= {1, 2, 3, 5}
    mine, _ = by_key(out)
    ref, _ = by_key(full)
    for k, v in mine.items():
        assert ref[k] == v


def test_search_with_a_fraction_rule(advsweep, full, tmp_path):
    job = tmp_path / "frac.yaml"
    job.write_text(GRID + "search: {axis: m, target: epsilon, rule: fraction 0.6, budgets: [1]}\n")
    out = tmp_path / "frac.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=3, check=0)
    assert table(out, 0.6, (1.0,)) == table(full, 0.6, (1.0,))


def test_search_on_a_file_with_the_full_grid_runs_nothing(advsweep, full, tmp_path):
    copy = tmp_path / "copy.h5"
    copy.write_bytes(full.read_bytes())
    job = tmp_path / "search.yaml"
    job.write_text(SEARCH)
    proc = run([advsweep, "run", str(job), "-o", str(copy)], check=0)  # the same points: it resumes the file
    assert "(0 run now), 0 points skipped" in proc.stdout
    assert all(status(copy) == 1)


def test_interrupted_search_resumes(advsweep, full, tmp_path):
    job = tmp_path / "search.yaml"
    job.write_text(SEARCH)
    out = tmp_path / "resumed.h5"
    proc = subprocess.Popen(["mpirun", "-n", "3", advsweep, "run", str(job), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mpi_env())
    seen = 0
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists():
            seen = int(np.sum(np.isin(status(out), (1, 2, 3))))
            if seen >= 6:
                break
        time.sleep(0.05)
    run([advsweep, "stop", str(out)], check=0)
    stdout, _ = proc.communicate(timeout=300)
    if proc.returncode == 3:  # stopped with the search open: the rerun continues it
        assert "unresolved (rerun the same command to continue)" in stdout
        assert 5 not in set(status(out))  # nothing skipped while the search is open
    else:  # it finished before the stop arrived
        assert proc.returncode == 0
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=2, check=0)
    assert table(out) == table(full)


def test_search_bad_input(advsweep, full, tmp_path):
    copy = tmp_path / "keep.h5"
    copy.write_bytes(full.read_bytes())
    before = digest(copy)
    cases = [
        ("search: {axis: n, target: epsilon}\n", "the search axis 'n' is not a grid axis (grid axes: m, epsilon, attack)"),
        ("search: {axis: m, target: eps}\n", "key 'target': 'eps' is not a parameter"),
        ("search: {axis: m, target: R}\n", "'R' is not a loss target"),
    ]
    for section, message in cases:
        job = tmp_path / "bad.yaml"
        job.write_text(GRID + section)
        for cmd in (["run", str(job), "-o", str(copy)], ["plan", str(job)]):
            proc = run([advsweep] + cmd, check=2)
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert message in proc.stderr, proc.stderr
        assert digest(copy) == before
    job = tmp_path / "search.yaml"
    job.write_text(SEARCH)
    proc = run([advsweep, "run", str(job), "-o", str(copy), "--shard", "0/2"], check=2)
    assert "a search job is not sharded" in proc.stderr
