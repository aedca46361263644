#!/usr/bin/env python3
"""search_bench.py FULL.h5 SEARCH.h5 [--fraction F] [--budgets 0.5,1] — the adaptive width search
against the full grid (README "Adaptive width search"; a benchmark, not a test).

FULL.h5: the full grid of a job (e.g. jobs/width-map.yaml); SEARCH.h5: the same job with a
`search:` section (e.g. jobs/width-map-search.yaml), run on its own. Prints

  - the m* table of both files as the analysis computes it (mstar.m_star_table at the given
    budgets and success fraction) and every entry that differs;
  - the training runs each file holds and their core-hours: the sum over runs of
    wall_time x threads (what each run measured), and the search's runs priced at the full
    grid's wall times of the same points (matched by key: the same computation, measured on
    the same machine in the same conditions as the full grid, so the ratio does not depend on
    how loaded the machine was during either run);
  - bit-identity: every run the search made has the full grid's result, bit for bit.

Exit 0 when the tables agree, 1 otherwise.
"""
import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))
from advsweep_analysis.load import load  # noqa: E402
from advsweep_analysis.mstar import m_star_table  # noqa: E402


def point_names(f, g):
    """The parameters both files have (the key's content, the numerics version being equal)."""
    return sorted(k for k in g["params"] if k in f["params"])


def params_key(f, i, names):
    return tuple(f[f"params/{n}"][i].item() if f[f"params/{n}"].dtype.kind != "S" else f[f"params/{n}"][i].decode()
                 for n in names)


def runs(f, names):
    """{parameters of each finished training run's representative: core-seconds (wall x threads)}."""
    st, rep = f["status"][()], f["plan/trained_as"][()]
    wall, threads = f["summary/wall_time"][()], f["worker/threads"][()]
    return {params_key(f, i, names): float(wall[i]) * max(int(threads[i]), 1)
            for i in np.nonzero((rep == np.arange(st.size)) & np.isin(st, (1, 2, 3)))[0]}


def table(path, fraction, budgets):
    rows = m_star_table(load([str(path)], require_done=False), fraction=fraction, budgets=budgets)
    return {(tuple(sorted((k, v) for k, v in r.group.items())), b): r.by_budget[b].text() for r in rows for b in budgets}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("full")
    ap.add_argument("search")
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--budgets", default="0.5,1")
    a = ap.parse_args(argv)
    budgets = tuple(float(b) for b in a.budgets.split(","))
    tf, ts = table(a.full, a.fraction, budgets), table(a.search, a.fraction, budgets)
    diff = [k for k in sorted(set(tf) | set(ts)) if tf.get(k) != ts.get(k)]
    print(f"m* table ({len(tf)} entries: groups x budgets {budgets}, fraction {a.fraction}): "
          f"{len(tf) - len(diff)} equal, {len(diff)} differ")
    for k in diff:
        print(f"  {dict(k[0])} at {k[1]}*T: full {tf.get(k)}, search {ts.get(k)}")

    with h5py.File(a.full, "r", locking=False) as f, h5py.File(a.search, "r", locking=False) as g:
        names = point_names(f, g)
        rf, rs = runs(f, names), runs(g, names)
    ch_full, ch_search = sum(rf.values()) / 3600, sum(rs.values()) / 3600
    priced = sum(rf[k] for k in rs if k in rf) / 3600  # the same points: bit-identical results (checked below)
    missing = sum(1 for k in rs if k not in rf)
    print(f"training runs: full grid {len(rf)}, search {len(rs)} ({100 * len(rs) / len(rf):.1f} %)")
    print(f"core-hours measured by each run: full grid {ch_full:.3f}, search {ch_search:.3f} "
          f"({100 * ch_search / ch_full:.1f} %)")
    print(f"core-hours of the search's runs at the full grid's times: {priced:.3f} ({100 * priced / ch_full:.1f} % "
          f"of the full grid){f'; {missing} runs not in the full grid' if missing else ''}")

    # bit-identity of what both ran (wall time aside)
    same = differ = 0
    with h5py.File(a.full, "r", locking=False) as f, h5py.File(a.search, "r", locking=False) as g:
        names = [n for n in ("summary/min_surrogate", "summary/steps_run", "summary/outcome", "targets/step",
                             "traj/surrogate_loss", "eval/robust_loss")]
        pnames = point_names(f, g)
        index = {params_key(f, i, pnames): i for i in range(f["status"].shape[0])}
        fst, gst = f["status"][()], g["status"][()]
        fcols = {n: f[n][()] for n in names}
        gcols = {n: g[n][()] for n in names}
        for i in np.nonzero(np.isin(gst, (1, 2, 3)))[0]:
            j = index.get(params_key(g, i, pnames))
            if j is None or fst[j] not in (1, 2, 3):
                continue
            ok = all(np.array_equal(fcols[n][j], gcols[n][i], equal_nan=True) for n in names)
            same += ok
            differ += not ok
    print(f"results of the points both ran: {same} bit-identical, {differ} differ")
    return 0 if not diff and not differ else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
