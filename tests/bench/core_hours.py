#!/usr/bin/env python3
"""What one run per epsilon group (issue 8, item 3) and the stopping rules (item 4) save.

    tests/bench/core_hours.py SWEEP.h5 [--baseline NOSTOP.h5]

From a finished sweep file it reports, in the planner's FLOP-equivalents
(/plan/flops: GEMM FLOPs plus per-pass and elementwise work, linear in the steps)
and in measured seconds:

  per point   every point trained on its own to its step cap T (the old method)
  per run     one training run per group of points that differ only in epsilon,
              each to T (item 3 alone)
  stopped     the same runs as they really ended (reached / plateau / budget /
              diverged at steps_run): planned cost x (steps_run + 1) / (T + 1)
              (item 3 and 4)

and the measured wall time of the runs (summary/wall_time, counted once per run).
Seconds for "per point" and "per run" are extrapolated from the measured runs:
wall_time x (T + 1) / (steps_run + 1). --baseline gives a file of the same job
run with the stopping rules off, whose measured wall times check that
extrapolation (the ratio of the extrapolated to the measured seconds).
Not a test: it reports, it asserts nothing.
"""
import argparse
import os
import sys

if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
    try:
        import h5py  # noqa: F401
    except ImportError:
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
import h5py
import numpy as np


def read(path):
    with h5py.File(path, "r", locking=False) as f:
        status = f["status"][()]
        if not np.all(np.isin(status, (1, 2, 3))):
            sys.exit(f"core_hours.py: error: {path} is not finished ({np.sum(~np.isin(status, (1, 2, 3)))} points left)")
        rep = f["plan/trained_as"][()] if "plan/trained_as" in f else np.arange(len(status))
        return dict(status=status, rep=rep, flops=f["plan/flops"][()], T=f["summary/steps_planned"][()],
                    run=f["summary/steps_run"][()], wall=f["summary/wall_time"][()], counted=f["summary/flops"][()],
                    outcome=f["summary/outcome"][()] if "summary/outcome" in f else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep")
    ap.add_argument("--baseline", help="the same job run with early_stop 0 and plateau_window 0")
    a = ap.parse_args()
    s = read(a.sweep)
    P = len(s["status"])
    own = s["rep"] == np.arange(P)
    members = np.bincount(s["rep"], minlength=P)[own]
    cost = s["flops"][own]
    frac = (s["run"][own] + 1) / (s["T"][own] + 1)
    wall = s["wall"][own]
    wall_full = wall / frac
    per_point = float(np.sum(cost * members))
    per_run = float(np.sum(cost))
    stopped = float(np.sum(cost * frac))
    print(f"{a.sweep}: {P} points, {own.sum()} training runs")
    if s["outcome"] is not None:
        names = {0: "reached", 1: "plateau", 2: "budget", 3: "diverged", -1: "failed"}
        counts = {names[k]: int(np.sum(s["outcome"][own] == k)) for k in names if np.any(s["outcome"][own] == k)}
        print("  runs ended: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"  {'':28s} {'FLOP-equiv.':>12s} {'share':>7s} {'core-hours':>11s}")
    for label, value, seconds in (("per point, each to T", per_point, float(np.sum(wall_full * members))),
                                  ("one run per group, to T", per_run, float(np.sum(wall_full))),
                                  ("one run per group, stopped", stopped, float(np.sum(wall)))):
        print(f"  {label:28s} {value:12.4g} {value / per_point:7.1%} {seconds / 3600:11.3g}")
    print(f"  core-hours of the last line are measured (sum of wall_time, one per run); the others extrapolate them")
    counted = float(np.sum(s["counted"][own]))
    print(f"  counted GEMM FLOPs of the stopped runs (summary/flops): {counted:.4g}")
    if a.baseline:
        b = read(a.baseline)
        bown = b["rep"] == np.arange(len(b["status"]))
        if bown.sum() != own.sum() or not np.array_equal(np.flatnonzero(bown), np.flatnonzero(own)):
            sys.exit("core_hours.py: error: the baseline is not the same grid of runs")
        full = float(np.sum(b["counted"][bown]))
        full_points = float(np.sum(b["counted"][bown] * members))
        print(f"  baseline {a.baseline} (the same runs, stopping off): counted GEMM FLOPs {full:.4g} to T; "
              f"stopped / to T = {counted / full:.1%}; stopped / (every point to T) = {counted / full_points:.1%}")
        print(f"  (measured wall: {float(np.sum(b['wall'][bown])):.4g} s to T vs {float(np.sum(wall)):.4g} s stopped; "
              f"seconds depend on the machine's load when each ran, the FLOP counts do not)")


if __name__ == "__main__":
    main()
