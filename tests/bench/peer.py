#!/usr/bin/env python3
"""peer.py — advsweep against PyTorch on the same PGD-k training step, in one run.

For each shape it runs `advsweep bench` (parsing its text output) and
tests/bench/peer_torch.py alternately, --rounds times, each with the same
OMP_NUM_THREADS and the same OPENBLAS_CORETYPE, and prints one table of the
medians over rounds: ms per step of advsweep (f64, and f32 when its bench has a
precision option) and of PyTorch (f64, f32), the speed-ups, and the OpenBLAS core
each side reported. A benchmark, not a test: run it on an idle machine.

Usage: tests/bench/peer.py [--shape SPEC]... [--rounds N] [--repeats R] [--markdown]
(see --help and tests/bench/README.md).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KEYS = ("threads", "m", "H", "n", "d", "k")
# The targets (issue 10): 2 threads, PGD-10, n = 256, d = 32, H = 2, m in {256, 1024};
# and a sweep-sized shape: n = 48, d = 8, PGD-5, 1 thread, m = 64.
DEFAULT_SHAPES = ("threads=2,k=10,n=256,d=32,H=2,m=256", "threads=2,k=10,n=256,d=32,H=2,m=1024",
                  "threads=1,k=5,n=48,d=8,H=2,m=64")
PRECISIONS = ("f64", "f32")


class Failure(Exception):
    """A run failed or printed something we cannot read: exit 1 with this line."""


def die(msg, code=2):
    print(f"peer.py: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_shape(spec):
    shape = {"threads": 2, "m": 256, "H": 2, "n": 256, "d": 32, "k": 10}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in shape:
            die(f"--shape '{spec}': bad item '{item}' (expected KEY=VALUE with KEY one of {', '.join(KEYS)})")
        if not value.strip().isdigit() or int(value) < 1:
            die(f"--shape '{spec}': bad value '{value}' for {key} (must be an integer >= 1)")
        shape[key] = int(value)
    if shape["d"] < 2:
        die(f"--shape '{spec}': d must be >= 2")
    return shape


def shape_text(s):
    return f"m={s['m']} H={s['H']} n={s['n']} d={s['d']} k={s['k']}"


def run(cmd, env, what):
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    except OSError as e:
        raise Failure(f"{what}: cannot run {cmd[0]}: {e}")
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output on stderr)"])[-1]
        raise Failure(f"{what}: exit {proc.returncode}: {tail}")
    return proc.stdout


# ----- advsweep bench --------------------------------------------------------------

def parse_bench(out, shape, precision):
    """ms/step and BLAS kernel from `advsweep bench` text output (src/cli/cmd_bench.c):
    a first line '... N OpenMP threads, <x> precision, ...; BLAS kernel NAME (...)',
    a header whose last column is ms/step, one row per m starting with m H n d k."""
    lines = out.splitlines()
    if not lines:
        raise Failure("advsweep bench printed nothing")
    first = lines[0]
    kernel = re.search(r"BLAS kernel (\S+)", first)
    threads = re.search(r"(\d+) OpenMP threads", first)
    if threads and int(threads.group(1)) != shape["threads"]:
        raise Failure(f"advsweep bench ran {threads.group(1)} threads, not {shape['threads']}: {first}")
    said = re.search(r"\b(single|double) precision\b|\b(f32|f64)\b", first)
    if said:
        word = said.group(1) or said.group(2)
        if {"single": "f32", "double": "f64"}.get(word, word) != precision:
            raise Failure(f"advsweep bench was asked for {precision} but says: {first}")
    header = next((line for line in lines if "ms/step" in line), None)
    if header is None or header.split()[-1] != "ms/step":
        raise Failure(f"advsweep bench: no header ending in ms/step in its output:\n{out}")
    want = [shape[key] for key in ("m", "H", "n", "d", "k")]
    for line in lines:
        tok = line.split()
        if len(tok) > 5 and all(t.isdigit() for t in tok[:5]) and [int(t) for t in tok[:5]] == want:
            return float(tok[-1]), kernel.group(1) if kernel else "?"
    raise Failure(f"advsweep bench: no row for {shape_text(shape)} in its output:\n{out}")


def bench_supports_precision(binary):
    out = run([binary, "bench", "--help"], dict(os.environ), "advsweep bench --help")
    return "precision" in out


def advsweep_run(binary, shape, precision, repeats, env, with_flag):
    cmd = [binary, "bench", "--m", str(shape["m"]), "--H", str(shape["H"]), "--n", str(shape["n"]),
           "--d", str(shape["d"]), "--k", str(shape["k"]), "--repeats", str(repeats)]
    if with_flag:
        cmd += ["--precision", precision]
    return parse_bench(run(cmd, env, f"advsweep bench ({shape_text(shape)}, {precision})"), shape, precision)


def probe_kernel(binary):
    """The kernel advsweep runs when OPENBLAS_CORETYPE is not set (OpenBLAS's or its own choice)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("OPENBLAS_CORETYPE", None)
    tiny = {"threads": 1, "m": 8, "H": 1, "n": 8, "d": 2, "k": 1}
    return advsweep_run(binary, tiny, "f64", 1, env, False)[1]


# ----- the PyTorch peer ----------------------------------------------------------------

def torch_run(python, shape, precisions, repeats, span, env):
    cmd = [python, str(HERE / "peer_torch.py"), "--json", "--m", str(shape["m"]), "--H", str(shape["H"]),
           "--n", str(shape["n"]), "--d", str(shape["d"]), "--k", str(shape["k"]), "--repeats", str(repeats),
           "--span", str(span), "--precision", ",".join(precisions)]
    out = run(cmd, env, f"peer_torch.py ({shape_text(shape)})")
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f"peer_torch.py: unreadable output:\n{out}")
    if res["threads"] != shape["threads"]:
        raise Failure(f"peer_torch.py ran {res['threads']} threads, not {shape['threads']}")
    return res


# ----- the table -----------------------------------------------------------------------

def cell(values, ranges):
    if not values:
        return "n/a"
    med = statistics.median(values)
    text = f"{med:.3g}" if med < 10 else f"{med:.1f}"
    if ranges and len(values) > 1:
        text += f" ({min(values):.3g}–{max(values):.3g})"
    return text


def ratio(num, den):
    if not num or not den:
        return "n/a"
    return f"{statistics.median(num) / statistics.median(den):.2f}×"


def print_table(rows, markdown):
    head = ["shape", "threads", "advsweep f64", "torch f64", "torch f32", "advsweep f32",
            "torch f64 / advsweep f64", "torch f32 / advsweep f64", "torch f32 / advsweep f32",
            "BLAS advsweep", "BLAS torch"]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="advsweep bench vs the PyTorch peer (tests/bench/peer_torch.py), alternated in one run with "
                    "the same threads and BLAS kernel. Prints ms per training step (median over rounds).",
        epilog="SPEC: comma-separated KEY=VALUE of threads, m, H, n, d, k (missing keys: threads=2, m=256, H=2, "
               "n=256, d=32, k=10). Default shapes: " + "; ".join(DEFAULT_SHAPES))
    ap.add_argument("--shape", action="append", metavar="SPEC", help="a shape to measure (repeatable)")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of advsweep and torch per shape (default 3)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="timings per run, each side reports their median (advsweep bench --repeats; default 5)")
    ap.add_argument("--span", type=float, default=0.3,
                    help="seconds per torch timing (default 0.3, as advsweep bench's step timings)")
    ap.add_argument("--precision", default="f64,f32",
                    help="precisions to measure (default f64,f32; advsweep f32 only when its bench has --precision)")
    ap.add_argument("--coretype", default=None,
                    help="OPENBLAS_CORETYPE for both sides (default: $OPENBLAS_CORETYPE, else the kernel advsweep "
                         "runs when it is unset)")
    ap.add_argument("--advsweep", default=None, help="advsweep binary (default $ADVSWEEP_BIN, build/advsweep)")
    ap.add_argument("--python", default="/usr/bin/python3", help="Python with torch (default /usr/bin/python3)")
    ap.add_argument("--ranges", action="store_true", help="add (min–max over rounds) to each time")
    ap.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    args = ap.parse_args(argv)

    shapes = [parse_shape(s) for s in (args.shape or DEFAULT_SHAPES)]
    if args.rounds < 1 or args.repeats < 1:
        die("--rounds and --repeats must be >= 1")
    if not args.span > 0:
        die("--span must be > 0")
    precisions = [p for p in args.precision.split(",") if p]
    if not precisions or any(p not in PRECISIONS for p in precisions):
        die(f"--precision: bad list '{args.precision}' (f64, f32)")
    binary = args.advsweep or os.environ.get("ADVSWEEP_BIN") or str(ROOT / "build" / "advsweep")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        die(f"advsweep binary '{binary}' not found: build it or pass --advsweep")
    python = shutil.which(args.python) or args.python
    if subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0:
        die(f"{python} cannot import torch (Debian: apt-get install python3-torch, or pass --python)")

    try:
        with_flag = bench_supports_precision(binary)
        adv_precisions = [p for p in precisions if p == "f64" or with_flag]
        core, core_from = args.coretype, "--coretype"
        if not core and os.environ.get("OPENBLAS_CORETYPE"):
            core, core_from = os.environ["OPENBLAS_CORETYPE"], "$OPENBLAS_CORETYPE"
        if not core:
            core, core_from = probe_kernel(binary), "the kernel advsweep runs here when it is unset"
        print(f"peer.py: OPENBLAS_CORETYPE={core} for both sides ({core_from}); {args.rounds} rounds, "
              f"each run the median of {args.repeats} timings; advsweep {binary}"
              f"{'' if with_flag else ' (its bench has no --precision: f64 only)'}", flush=True)

        times = {}  # (shape index, side, precision) -> [ms per round]
        kernels = {}  # (shape index, side) -> set of core names
        for rnd in range(args.rounds):
            for i, s in enumerate(shapes):
                env = dict(os.environ, OMP_NUM_THREADS=str(s["threads"]), OPENBLAS_CORETYPE=core)
                env.pop("OPENBLAS_NUM_THREADS", None)
                note = []
                for p in adv_precisions:
                    ms, kernel = advsweep_run(binary, s, p, args.repeats, env, with_flag)
                    times.setdefault((i, "advsweep", p), []).append(ms)
                    kernels.setdefault((i, "advsweep"), set()).add(kernel)
                    note.append(f"advsweep {p} {ms:.3g}")
                res = torch_run(python, s, precisions, args.repeats, args.span, env)
                for p in precisions:
                    times.setdefault((i, "torch", p), []).append(res["ms_per_step"][p])
                    note.append(f"torch {p} {res['ms_per_step'][p]:.3g}")
                kernels.setdefault((i, "torch"), set()).add(res["openblas_core"] or f"not OpenBLAS: {res['library']}")
                print(f"  round {rnd + 1}/{args.rounds}, {shape_text(s)}, {s['threads']} threads: "
                      + ", ".join(note) + " ms/step", file=sys.stderr, flush=True)
    except Failure as e:
        die(str(e), code=1)

    rows, mismatch = [], []
    for i, s in enumerate(shapes):
        t = {(side, p): times.get((i, side, p), []) for side in ("advsweep", "torch") for p in PRECISIONS}
        ka = ", ".join(sorted(kernels.get((i, "advsweep"), {"n/a"})))
        kt = ", ".join(sorted(kernels.get((i, "torch"), {"n/a"})))
        if ka.lower() != kt.lower():
            mismatch.append(shape_text(s))
        rows.append([shape_text(s), str(s["threads"]),
                     cell(t["advsweep", "f64"], args.ranges), cell(t["torch", "f64"], args.ranges),
                     cell(t["torch", "f32"], args.ranges), cell(t["advsweep", "f32"], args.ranges),
                     ratio(t["torch", "f64"], t["advsweep", "f64"]), ratio(t["torch", "f32"], t["advsweep", "f64"]),
                     ratio(t["torch", "f32"], t["advsweep", "f32"]), ka, kt])
    print("ms per training step (median over rounds); a / b = how many times faster b is than a")
    print_table(rows, args.markdown)
    if mismatch:
        print(f"peer.py: warning: the two sides ran different BLAS kernels for {'; '.join(mismatch)}: "
              "the comparison is not like for like", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
