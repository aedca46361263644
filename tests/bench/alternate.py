#!/usr/bin/env python3
"""alternate.py BIN... [--shape "ARGS"]... [--rounds N] — the same `advsweep bench`
shapes run by several binaries (e.g. before and after a change), alternated round by
round so that all see the same machine load; prints each binary's median ms/step and
its speed-up over the first binary (the ratio of medians, and the range of the
per-round ratios). A benchmark, not a test: meaningful on an idle node.

    OMP_NUM_THREADS=1 tests/bench/alternate.py old/advsweep build/advsweep \\
        --shape "--m 64 --n 48 --d 8 --k 5" --shape "--m 256 --n 256 --d 32 --k 10 --precision f32"
"""
import argparse
import shlex
import statistics
import subprocess
import sys


def ms_per_step(binary, args):
    out = subprocess.run([binary, "bench", *args], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    if len(rows) != 1:
        sys.exit(f"alternate.py: {binary} bench {' '.join(args)}: expected one row, got:\n{out}")
    return float(rows[0][-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--shape", action="append", help="advsweep bench arguments of one shape (repeatable)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5, help="advsweep bench --repeats (default 5)")
    a = ap.parse_args()
    shapes = a.shape or ["--m 64 --n 48 --d 8 --k 5"]
    times = {}
    for r in range(a.rounds):
        for s in shapes:
            for b in a.binaries:
                t = ms_per_step(b, shlex.split(s) + ["--repeats", str(a.repeats)])
                times.setdefault((s, b), []).append(t)
                print(f"round {r + 1} [{s}] {b}: {t} ms/step", file=sys.stderr, flush=True)
    for s in shapes:
        print(f"[{s}]")
        base = times[(s, a.binaries[0])]
        for b in a.binaries:
            t = times[(s, b)]
            ratios = [x / y for x, y in zip(base, t)]
            print(f"  {b}: median {statistics.median(t):.4g} ms/step; first/this {statistics.median(base) / statistics.median(t):.3f}"
                  f" (rounds {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
