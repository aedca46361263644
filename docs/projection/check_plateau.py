#!/usr/bin/env python3
"""Was the projection job's plateau rule premature? Compare its file with a run of the
same job without the rule (every run to its own T).

    check_plateau.py projection.h5 projection-noplateau.h5

The second file comes from the same job with `plateau_window: 0`, e.g.
    sed 's/^  plateau_window: 200.*/  plateau_window: 0/' jobs/projection.yaml > noplateau.yaml
    OMP_NUM_THREADS=1 mpirun -n 3 advsweep run noplateau.yaml -o projection-noplateau.h5

Prints, per (H, R, attack, epsilon), how many points reached their own epsilon in each
file, and lists every point that reached it only without the rule (a premature plateau
stop), with the step it reached epsilon at and min L_A at the plateau stop. Points are
matched by their parameters; both files must hold the same grid. Exit 2 on bad input.
"""
import sys

KEYS = ("H", "m", "R", "epsilon", "attack", "seed")


def fail(message):
    print(f"check_plateau.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def load(path):
    import h5py
    import numpy as np
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: cannot open as HDF5 ({e.strerror or e})")
    with f:
        try:
            cols = [f["params"][k][:] for k in KEYS]
            summ = {k: f["summary"][k][:] for k in ("eps_step", "outcome", "steps_run", "min_surrogate")}
            status = f["status"][:]
        except KeyError as e:
            fail(f"{path}: not a projection sweep file (no {e})")
    rows = {}
    for i in range(len(status)):
        if status[i] != 1:
            continue
        key = tuple(c[i].decode() if isinstance(c[i], bytes) else float(c[i]) for c in cols)
        rows[key] = {k: v[i] for k, v in summ.items()}
    return rows, np


def main(argv):
    if len(argv) != 3:
        fail("usage: check_plateau.py PLATEAU.h5 NOPLATEAU.h5")
    new, np = load(argv[1])
    old, _ = load(argv[2])
    if set(new) != set(old):
        fail(f"{argv[1]} and {argv[2]} do not hold the same done points")
    groups = {}
    premature = []
    for key, r in sorted(new.items()):
        o = old[key]
        g = groups.setdefault((key[0], key[2], key[4], key[3]), [0, 0, 0])
        g[0] += 1
        g[1] += int(r["eps_step"] >= 0)
        g[2] += int(o["eps_step"] >= 0)
        if o["eps_step"] >= 0 and r["eps_step"] < 0:
            premature.append((key, int(o["eps_step"]), int(r["steps_run"]), float(r["min_surrogate"])))
    print("H,R,attack,epsilon,points,reached_with_plateau_rule,reached_without")
    for (H, R, attack, eps), (n, a, b) in sorted(groups.items()):
        print(f"{H:g},{R:g},{attack},{eps:g},{n},{a},{b}")
    plateau = sum(int(r["outcome"] == 1) for r in new.values())
    print(f"\n{plateau} plateau stops; {len(premature)} premature (the point reached its epsilon without the rule):")
    for key, step, stop, mn in premature:
        label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in zip(KEYS, key))
        print(f"  {label}: stopped at step {stop} with min L_A {mn:.4f}; without the rule reached at step {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
