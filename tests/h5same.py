#!/usr/bin/env python3
"""h5same.py A.h5 B.h5 — do two advsweep sweep files hold the same results, bit for bit?

Compares every dataset (docs/layout.md) except the ones that legitimately
differ between runs of the same points: summary/wall_time, the wall_time
column of /runs, /worker/* (who ran a point) and /checksum (it covers those). Also compares the root
attributes job_text and grid_hash. Prints one line per difference; exit 0
when equal, 1 when different, 2 when a file cannot be read.

    h5same.py --done-only A.h5 B.h5   also requires every point of both to be done
"""
import sys

import h5py
import numpy as np

VOLATILE = {"summary/wall_time", "worker/rank", "worker/host", "worker/threads", "checksum"}
VOLATILE_RUN_FIELDS = {"wall_time"}


def results(path):
    out = {}
    with h5py.File(path, "r", locking=False) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name not in VOLATILE:
                data = obj[()]
                if obj.dtype.names:
                    keep = [n for n in obj.dtype.names if n not in VOLATILE_RUN_FIELDS]
                    data = np.array([tuple(row[n] for n in keep) for row in data])
                out[name] = data
        f.visititems(visit)
        attrs = {k: f.attrs[k] for k in ("job_text", "grid_hash")}
    return out, attrs


def main(argv):
    done_only = "--done-only" in argv
    files = [a for a in argv if a != "--done-only"]
    if len(files) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    try:
        (ra, aa), (rb, ab) = results(files[0]), results(files[1])
    except (OSError, KeyError) as e:
        print(f"h5same.py: cannot read: {e}", file=sys.stderr)
        return 2
    diffs = []
    for k in aa:
        if aa[k] != ab[k]:
            diffs.append(f"attribute {k} differs")
    for name in sorted(set(ra) | set(rb)):
        if name not in ra or name not in rb:
            diffs.append(f"{name}: only in {files[0] if name in ra else files[1]}")
            continue
        x, y = ra[name], rb[name]
        if x.shape != y.shape:
            diffs.append(f"{name}: shape {x.shape} vs {y.shape}")
        elif x.tobytes() != y.tobytes():
            rows = [i for i in range(x.shape[0]) if x[i].tobytes() != y[i].tobytes()] if x.ndim else []
            diffs.append(f"{name}: differs in {len(rows)} point(s), first {rows[:5]}")
    if done_only:
        for f, r in zip(files, (ra, rb)):
            bad = np.flatnonzero(r["status"] != 1)
            if bad.size:
                diffs.append(f"{f}: {bad.size} point(s) not done, first {bad[:5].tolist()}")
    for d in diffs:
        print(d)
    n = ra["status"].shape[0]
    if not diffs:
        print(f"same results: {n} points, {len(ra)} datasets compared "
              f"(ignoring {', '.join(sorted(VOLATILE))}, runs.wall_time)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
