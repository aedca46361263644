"""Sweeps that grow: point keys, `run --extend` (atomic under kill -9), `merge`
of any files by key, `run --where` and `status --where`; the real binary under
mpirun, real HDF5 files, and the analysis on a merged file."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import ROOT, digest, mpi_env, results, run, status

BASE = """\
name: grow
seeds: 2
fixed: {d: 6, n: 16, delta: 0.1, steps: 60, H: 1, eval_count: 2, eval_steps: 5, eval_restarts: 2, pgd_steps: 3}
grid:
  m: [4, 8]
  epsilon: [0.2, 0.05]
  attack: [none, pgd]
"""


def job(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def analysis_load():
    import importlib
    sys.path.insert(0, str(ROOT / "analysis"))
    return importlib.import_module("advsweep_analysis.load")


def by_key(path):
    """{key: {dataset: row bytes}} of the finished points of a file (timings and workers aside)."""
    out = {}
    with h5py.File(path, "r", locking=False) as f:
        keys = f["plan/key"][()].astype(str)
        st = f["status"][()]
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        skip = {"summary/wall_time", "summary/trained_as", "worker/rank", "worker/host", "worker/threads", "runs",
                "plan/flops", "plan/trained_as", "plan/key", "checksum"}  # the checksum covers timings and workers
        data = {n: f[n][()] for n in names  # the dimension scales (/point: the row index) are no result
                if n not in skip and f[n].shape[:1] == st.shape and "CLASS" not in f[n].attrs}
        for i, k in enumerate(keys):
            if st[i] in (1, 2, 3):
                row = {}
                for n, a in data.items():
                    v = a[i]
                    if v.ndim and v.dtype.kind == "f":  # compare up to the narrower file's width
                        v = v[~np.isnan(v)] if n.startswith(("traj/", "eval/", "targets/")) else v
                    elif v.ndim and n.endswith("step"):
                        v = v[v >= 0]
                    row[n] = np.asarray(v).tobytes()
                out[k] = row
    return out


def wall_by_key(path):
    with h5py.File(path, "r", locking=False) as f:
        return dict(zip(f["plan/key"][()].astype(str), f["summary/wall_time"][()]))


def test_extend_carries_every_result_and_runs_only_the_new_points(advsweep, tmp_path):
    base = job(tmp_path, "base.yaml", BASE)
    out = tmp_path / "grow.h5"
    run([advsweep, "run", str(base), "-o", str(out), "-q"], ranks=3, check=0)
    old = by_key(out)
    old_wall = wall_by_key(out)
    assert len(old) == 16
    # more widths, one more seed: 2 x 2 x 3 widths x 3 seeds = 36 points, 16 of them in the file
    more = job(tmp_path, "more.yaml", BASE.replace("seeds: 2", "seeds: 3").replace("m: [4, 8]", "m: [4, 8, 16]"))
    proc = run([advsweep, "run", str(more), "-o", str(out)], ranks=2, check=2)
    assert "lacks 20 of this job's 36 points" in proc.stderr and "--extend" in proc.stderr
    proc = run([advsweep, "run", str(more), "-o", str(out), "--extend"], ranks=3, check=0)
    assert "extended with 20 new points" in proc.stdout
    assert "to run" in proc.stdout
    # the union: old rows first, every old result bit for bit, never retrained (same wall time)
    new = by_key(out)
    assert len(new) == 36
    wall = wall_by_key(out)
    for k, row in old.items():
        assert new[k] == row, k
        assert wall[k] == old_wall[k]
    # and every point equals a fresh run of the bigger job, by key
    fresh = tmp_path / "fresh.h5"
    run([advsweep, "run", str(more), "-o", str(fresh), "-q"], ranks=3, check=0)
    ref = by_key(fresh)
    assert sorted(ref) == sorted(new)
    for k in ref:
        assert ref[k] == new[k], k
    with h5py.File(out, "r") as f:
        assert f.attrs["n_points"] == 36
        assert list(f["status"][()]) == [1] * 36
        rep = f["plan/trained_as"][()]
        keys = f["plan/key"][()].astype(str)
        assert len(set(keys)) == 36
        # a run answers both epsilons of its point (lr_rule free): members point at a row of the union
        eps = f["params/epsilon"][()]
        for i in range(36):
            r = rep[i]
            assert eps[r] == 0.2 and all(f[f"params/{p}"][r] == f[f"params/{p}"][i] for p in ("m", "seed", "attack"))
    # the old job resumes the union (its points are all there): nothing to run, nothing rewritten
    before = digest(out)
    proc = run([advsweep, "run", str(base), "-o", str(out)], check=0)
    assert "0 to run" in proc.stdout
    # a smaller job extends nothing: kept points stay, finished
    less = job(tmp_path, "less.yaml", BASE.replace("m: [4, 8]", "m: [8]"))
    run([advsweep, "run", str(less), "-o", str(out), "--extend", "-q"], check=0)
    assert by_key(out) == new
    del before


def test_extend_with_a_new_epsilon_gives_new_keys(advsweep, tmp_path):
    """targets (auto = every epsilon of the job) is part of a point's key: a new epsilon gives the
    group new targets, hence new points; naming the targets from the start keeps the keys."""
    base = job(tmp_path, "base.yaml", BASE.replace("attack: [none, pgd]", "attack: [none]"))
    out = tmp_path / "eps.h5"
    run([advsweep, "run", str(base), "-o", str(out), "-q"], check=0)
    more = job(tmp_path, "more.yaml", BASE.replace("attack: [none, pgd]", "attack: [none]")
               .replace("epsilon: [0.2, 0.05]", "epsilon: [0.2, 0.1, 0.05]"))
    proc = run([advsweep, "run", str(more), "-o", str(out)], check=2)
    assert "lacks 12 of this job's 12 points" in proc.stderr
    # with the targets named in advance, adding the epsilon adds only its points
    fixed = BASE.replace("attack: [none, pgd]", "attack: [none]").replace("H: 1,", "H: 1, targets: '0.1',")
    out2 = tmp_path / "eps2.h5"
    run([advsweep, "run", str(job(tmp_path, "t1.yaml", fixed)), "-o", str(out2), "-q"], check=0)
    fixed_more = fixed.replace("epsilon: [0.2, 0.05]", "epsilon: [0.2, 0.1, 0.05]")
    proc = run([advsweep, "run", str(job(tmp_path, "t2.yaml", fixed_more)), "-o", str(out2)], check=2)
    assert "lacks 4 of this job's 12 points" in proc.stderr


def test_extend_refuses_another_numerics_version(advsweep, tmp_path):
    base = job(tmp_path, "base.yaml", BASE)
    out = tmp_path / "num.h5"
    run([advsweep, "run", str(base), "-o", str(out), "-q", "--where", "m=4,attack=none"], check=0)
    with h5py.File(out, "r+") as f:
        f.attrs["numerics_version"] = np.int64(f.attrs["numerics_version"] + 1)
    before = digest(out)
    more = job(tmp_path, "more.yaml", BASE.replace("m: [4, 8]", "m: [4, 8, 16]"))
    for extra in (["--extend"], []):
        proc = run([advsweep, "run", str(more), "-o", str(out)] + extra, check=2)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "numerics version" in proc.stderr
        assert digest(out) == before
    proc = run([advsweep, "merge", "-o", str(tmp_path / "m.h5"), str(out)], check=2)
    assert "numerics version" in proc.stderr and not (tmp_path / "m.h5").exists()


BIG = """\
name: big
fixed: {d: 4, n: 8, delta: 0.1, H: 1, m: 4, eval_count: 1, eval_steps: 2, eval_restarts: 1, attack: none,
        record_dense: 19999, record_max: 20000}
grid:
  steps: [5, 20000]
  seed: {from: 1, to: 120, step: 1}
"""


def leftovers(directory, name):
    """What a writer of `name` leaves beside it: temporaries, reserves, locks."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(name + "."))


def test_kill9_during_extension_leaves_old_or_complete_new(advsweep, tmp_path):
    """An extension copies every row into a new file and renames it: kill -9 at several moments of it
    (after the rename, then the temporary file just created, 20, 80 and 200 ms into the copying)
    leaves either the old file byte for byte or the complete union, never a mixture; the next run
    takes over the dead writer's lock and removes the temporary file and reserve it left. (The
    moments are where the kill lands; the test passes on the invariant, whatever the timing.)"""
    base = job(tmp_path, "big.yaml", BIG)
    out = tmp_path / "big.h5"
    # the steps=5 points done, the others pending: a file of ~100 MB of trajectory rows
    run([advsweep, "run", str(base), "-o", str(out), "-q", "--where", "steps=5"], check=0)
    old_rows = by_key(out)
    assert len(old_rows) == 120
    with h5py.File(out, "r") as f:
        old_keys = list(f["plan/key"][()].astype(str))
    more = job(tmp_path, "bigger.yaml", BIG.replace("to: 120", "to: 125"))
    pristine = tmp_path / "pristine.h5"
    pristine.write_bytes(out.read_bytes())
    old_digest = digest(pristine)
    outcomes, left_behind = [], []
    for moment in ("renamed", 0.0, 0.02, 0.08, 0.2):
        out.write_bytes(pristine.read_bytes())
        ino = out.stat().st_ino
        proc = subprocess.Popen([advsweep, "run", str(more), "-o", str(out), "-q", "--extend", "--where", "steps=5"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=mpi_env(), start_new_session=True)
        tmp = Path(f"{out}.tmp.{proc.pid}")
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if moment == "renamed":
                if out.stat().st_ino != ino:
                    break
            elif tmp.exists():
                time.sleep(moment)
                break
            time.sleep(0.002)
        mid = tmp.exists() and proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        # the previous kill's temporaries are gone: this run took over its lock and removed them
        for name in left_behind:
            assert not (tmp_path / name).exists(), (name, stderr)
        if left_behind:
            assert b"removed its unfinished big.h5.tmp." in stderr, stderr
        left_behind = [n for n in leftovers(tmp_path, "big.h5") if n.startswith(f"big.h5.tmp.{proc.pid}")]
        if digest(out) == old_digest:
            outcomes.append("old" + (" (killed mid-extension)" if mid else ""))
            continue
        # else: the complete union, every old result intact, the new points there (pending or being run)
        with h5py.File(out, "r") as f:
            keys = list(f["plan/key"][()].astype(str))
            assert keys[:240] == old_keys
            assert len(keys) == 250 and f.attrs["n_points"] == 250
            st = f["status"][()]
            assert set(st[240:]) <= {0, 1, 4}
        new_rows = by_key(out)
        for k, row in old_rows.items():
            assert new_rows[k] == row
        outcomes.append("new")
    print("kill -9 outcomes:", outcomes)
    assert outcomes[0] == "new"  # killed after the rename: the union is in place
    assert "old (killed mid-extension)" in outcomes  # a kill just after the temporary file appeared
    # and a rerun completes whichever file was left, removing what the last kill left
    proc = run([advsweep, "run", str(more), "-o", str(out), "-q", "--extend", "--where", "steps=5"], check=0)
    assert by_key(out).keys() >= old_rows.keys()
    assert len([s for s in status(out) if s == 1]) == 125
    assert leftovers(tmp_path, "big.h5") == [], proc.stderr


def test_merge_files_of_different_jobs(advsweep, tmp_path):
    a = job(tmp_path, "a.yaml", BASE.replace("attack: [none, pgd]", "attack: [none]"))
    b = job(tmp_path, "b.yaml", BASE.replace("m: [4, 8]", "m: [8, 16]"))
    fa, fb, out = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "ab.h5"
    run([advsweep, "run", str(a), "-o", str(fa), "-q"], check=0)
    run([advsweep, "run", str(b), "-o", str(fb), "-q"], ranks=3, check=0)
    proc = run([advsweep, "merge", "-o", str(out), str(fa), str(fb)], check=0)
    assert "merged 2 files" in proc.stdout
    ra, rb, rab = by_key(fa), by_key(fb), by_key(out)
    shared = set(ra) & set(rb)
    assert len(shared) == 4  # m=8, attack none, 2 epsilons, 2 seeds
    assert set(rab) == set(ra) | set(rb) and len(rab) == 8 + 16 - 4
    for k in rab:
        assert rab[k] == (ra.get(k) or rb[k])
    with h5py.File(out, "r") as f:
        assert f.attrs["job_name"] == b"grow"
        assert "a.h5" in f.attrs["merged_from"].decode() and "b.h5" in f.attrs["merged_from"].decode()
        trained = f["summary/trained_as"][()]
        for i, r in enumerate(trained):  # remapped to the merged file's rows
            assert f["params/m"][r] == f["params/m"][i] and f["params/seed"][r] == f["params/seed"][i]
    # every point intact: the rows whose summary/trained_as was remapped carry their new checksum
    proc = run([advsweep, "status", "--verify", str(out)], check=0)
    assert f"{len(rab)} finished points verified, 0 damaged" in proc.stdout, proc.stdout
    st = status(out)
    done = int(np.sum(st == 1))
    assert len(rab) == len(st)
    # the analysis reads it like any sweep, every point
    rep = tmp_path / "report"
    proc = subprocess.run([sys.executable, str(ROOT / "analysis" / "report.py"), str(out), "-o", str(rep)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "damaged" not in proc.stderr, proc.stderr
    text = (rep / "report.md").read_text()
    assert "pgd" in text and "none" in text
    assert f"{done} of {len(st)} points are done and analysed" in text
    # and grows like any sweep: --extend resumes over it (it refuses damaged points)
    c = job(tmp_path, "c.yaml", BASE.replace("m: [4, 8]", "m: [4, 8, 16, 32]").replace("seeds: 2", "seeds: 1"))
    run([advsweep, "run", str(c), "-o", str(out), "--extend", "-q"], check=0)
    grown = status(out)
    assert len(grown) > len(st) and np.all(np.isin(grown, (1, 2, 3)))
    proc = run([advsweep, "status", "--verify", str(out)], check=0)
    assert f"{len(grown)} finished points verified, 0 damaged" in proc.stdout, proc.stdout
    # a shared point with other results: refused, naming it and both files; nothing written
    bad = tmp_path / "b-other.h5"
    bad.write_bytes(fb.read_bytes())
    with h5py.File(bad, "r+") as f:
        keys = f["plan/key"][()].astype(str)
        i = [j for j, k in enumerate(keys) if k in shared][0]
        f["summary/min_surrogate"][i] = np.nextafter(f["summary/min_surrogate"][i], 1.0)
        # an intact result that differs (another build, say): its checksum matches its rows
        # (without it the row is damaged, and merge takes the point from a.h5 instead)
        f["checksum"][i] = analysis_load().point_checksums(f, [i])[0]
    out2 = tmp_path / "conflict.h5"
    proc = run([advsweep, "merge", "-o", str(out2), str(fa), str(bad)], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "1 point holds different results" in proc.stderr and "min_surrogate" in proc.stderr
    assert "a.h5" in proc.stderr and "b-other.h5" in proc.stderr and "nothing written" in proc.stderr
    assert not out2.exists()
    assert not list(tmp_path.glob("conflict.h5.tmp.*"))


def test_where_runs_a_subset_and_status_counts_it(advsweep, tmp_path):
    base = job(tmp_path, "base.yaml", BASE)
    out = tmp_path / "where.h5"
    proc = run([advsweep, "run", str(base), "-o", str(out), "--where", "attack=pgd,m<=4"], ranks=2, check=0)
    st = status(out)
    with h5py.File(out, "r") as f:
        m = f["params/m"][()]
        attack = f["params/attack"][()].astype(str)
    sel = (attack == "pgd") & (m <= 4)
    assert all(st[sel] == 1) and all(st[~sel] == 0)
    proc = run([advsweep, "status", "--where", "attack=pgd", str(out)], check=0)
    assert "8 matching --where 'attack=pgd'" in proc.stdout and "4 done" in proc.stdout and "4 pending" in proc.stdout
    before = digest(out)
    for expr, name in (("atack=pgd", "unknown parameter 'atack' (did you mean 'attack'?)"),
                       ("attack=pdg", "unknown value 'pdg'"), ("m=5", "has m = 5 (m takes 4, 8)"),
                       ("m>=16", "m>=16 holds for no point"), ("m=4,m=8", "matches no point")):
        for cmd in (["run", str(base), "-o", str(out)], ["status", str(out)]):
            proc = run([advsweep] + cmd + ["--where", expr], check=2)
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert name in proc.stderr, (expr, proc.stderr)
            assert digest(out) == before
    # the rest later: a plain rerun completes the file
    run([advsweep, "run", str(base), "-o", str(out), "-q"], check=0)
    assert all(status(out) == 1)
