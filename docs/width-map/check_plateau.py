#!/usr/bin/env python3
"""Does the plateau rule stop runs that would still have reached the targets?

    docs/width-map/check_plateau.py SWEEP.h5 [--min-m 6] [--factor 4] [--jobs 2] [-o CHECK.csv]

Reruns every training run of SWEEP.h5 that ended as *plateau* (and has m >= --min-m)
with the same parameters, the plateau rule off and --factor times the step budget
(`advsweep train ... -o`), and reports, per target, how many of them reach it after
all, and how late. A plateau stop is the method's "definite failure"; this measures
how often that is premature. Reads the sweep file only; writes its own temporary
files and, with -o, a CSV of one row per rerun.
"""
import argparse
import concurrent.futures as cf
import csv
import math
import os
import subprocess
import sys
import tempfile

if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
    try:
        import h5py  # noqa: F401
    except ImportError:
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
AUTO = {"pgd_step", "lr", "steps", "c_alpha", "early_stop_target"}  # stored as 0 when "auto"
BIN = os.environ.get("ADVSWEEP_BIN", os.path.join(HERE, "..", "..", "build", "advsweep"))


def text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (float, np.floating)):
        return "inf" if math.isinf(v) else repr(float(v))
    return str(int(v))


def rerun(args):
    params, budget, tmpdir, index = args
    out = os.path.join(tmpdir, f"p{index}.h5")
    cmd = [BIN, "train", "-q", "-o", out]
    for name, value in params.items():
        if name in ("steps", "plateau_window", "max_steps"):
            continue
        if name == "data_file" and not value:
            continue
        if name in AUTO and float(value) == 0:
            value = "auto"
        cmd += [f"--{name}", value]
    cmd += ["--steps", str(budget), "--plateau_window", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode != 0:
        return index, None, proc.stderr.strip()
    with h5py.File(out, "r") as f:
        steps = f["targets/step"][0]
        outcome = int(f["summary/outcome"][0])
    os.remove(out)
    return index, (steps, outcome), ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep")
    ap.add_argument("--min-m", type=int, default=6)
    ap.add_argument("--factor", type=float, default=4.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("-o", "--csv")
    a = ap.parse_args()
    with h5py.File(a.sweep, "r", locking=False) as f:
        P = f["status"].shape[0]
        rep = f["plan/trained_as"][()]
        outcome = f["summary/outcome"][()]
        m = f["params/m"][()]
        runs = [i for i in range(P) if rep[i] == i and outcome[i] == 1 and m[i] >= a.min_m]
        names = list(f["params"].keys())
        params = {i: {n: text(f["params"][n][i]) for n in names} for i in runs}
        tau = f["targets/tau"][0]
        tau = tau[np.isfinite(tau)]
        old_steps = {i: f["targets/step"][i][: len(tau)] for i in runs}
        old_T = {i: int(f["summary/steps_planned"][i]) for i in runs}
        stopped = {i: int(f["summary/steps_run"][i]) for i in runs}
    print(f"{a.sweep}: {len(runs)} runs ended as plateau with m >= {a.min_m}; rerunning each with the plateau rule "
          f"off and {a.factor:g} x its step budget")
    results = {}
    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(a.jobs) as pool:
        jobs = [(params[i], int(old_T[i] * a.factor), tmp, i) for i in runs]
        for index, res, err in pool.map(rerun, jobs):
            if res is None:
                sys.exit(f"check_plateau.py: error: point {index}: {err}")
            results[index] = res
    print(f"{'target':>10s} {'not reached at plateau':>23s} {'reached in the rerun':>21s} {'median step':>12s}")
    rows = []
    for q, t in enumerate(tau):
        missing = [i for i in runs if old_steps[i][q] < 0]
        later = [int(results[i][0][q]) for i in missing if results[i][0][q] >= 0]
        med = f"{int(np.median(later))}" if later else "-"
        print(f"{t:10.4g} {len(missing):23d} {len(later):21d} {med:>12s}")
    for i in runs:
        steps, out = results[i]
        rows.append({"index": i, **{k: params[i][k] for k in ("H", "m", "attack", "seed")},
                     "plateau_step": stopped[i], "rerun_budget": int(old_T[i] * a.factor), "rerun_outcome": out,
                     **{f"step_{t:.4g}": int(steps[q]) for q, t in enumerate(tau)}})
    if a.csv:
        with open(a.csv, "x", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    ended = {0: "reached", 1: "plateau", 2: "budget", 3: "diverged"}
    counts = {}
    for i in runs:
        counts[ended[results[i][1]]] = counts.get(ended[results[i][1]], 0) + 1
    print("reruns ended: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
