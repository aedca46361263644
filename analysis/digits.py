#!/usr/bin/env python3
"""Export the handwritten digits that Debian's python3-sklearn ships as an advsweep data file.

    analysis/digits.py -o digits.h5 --pair 4,9 --dim 16 --per-class 50
    analysis/digits.py -o digits-oddeven.h5 --odd-even --dim 8 --per-class 100

Reads sklearn/datasets/data/digits.csv.gz (1797 images of 8x8 pixels, 0-16, with the
digit in the last column) directly, without importing scikit-learn. Keeps the chosen
classes (a pair: the first digit is y = +1, the second y = -1; or odd = +1 vs even = -1),
takes `--per-class` images of each class (the first ones in the file, or a random
subset with --seed), centres them, optionally projects onto the top `--dim` principal
directions (SVD of the kept images), and scales every row to unit norm: the layout
`advsweep` reads for data=file (/x: n x d float64 on the unit sphere, /y: n labels +-1).
It prints the smallest distance between two points of opposite labels: perturbation
radii delta below half of it keep the perturbation sets apart (Definition 3.1).

Refuses to overwrite an existing file. Options follow advsweep's rules (no option twice, no
abbreviations, plain decimal numbers). Exit status 0, or 2 with one line on bad input.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
from pathlib import Path

SEARCH = [
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
    "/usr/local/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
]


def fail(msg: str) -> "None":
    print(f"digits.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def reexec_with_debian_python():
    """The first python3 on PATH may lack numpy/h5py: rerun with Debian's."""
    try:
        import h5py  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
        fail("needs numpy and h5py (Debian: apt-get install python3-numpy python3-h5py)")


def find_csv(given: str | None) -> Path:
    if given:
        p = Path(given)
        if not p.is_file():
            fail(f"--source {given}: no such file")
        return p
    for candidate in SEARCH:
        if os.path.isfile(candidate):
            return Path(candidate)
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    if spec and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if p.is_file():
            return p
    fail("digits.csv.gz not found: install Debian's python3-sklearn (or give --source PATH)")


def load(path: Path):
    import numpy as np
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",")
    if data.ndim != 2 or data.shape[1] != 65:
        fail(f"{path}: expected 65 columns (64 pixels and the digit), found {data.shape}")
    return data[:, :64], data[:, 64].astype(int)


def parse_args(argv):
    """advsweep's option rules (advsweep_analysis/cli.py): no option twice, no abbreviations,
    plain decimal numbers; a bad option is one line, exit 2."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from advsweep_analysis.cli import StrictParser, int_arg

    ap = StrictParser(prog="digits.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", required=True, help="HDF5 file to write (must not exist)")
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--pair", help="two digits A,B: A is y = +1, B is y = -1 (e.g. 4,9)")
    which.add_argument("--odd-even", action="store_true", help="odd digits y = +1 vs even digits y = -1")
    ap.add_argument("--dim", type=int_arg, default=0, help="project onto the top DIM principal directions (0 = all 64)")
    ap.add_argument("--per-class", type=int_arg, default=0, help="images per class (0 = all)")
    ap.add_argument("--seed", type=int_arg, default=-1,
                    help="choose the images at random with this seed (default: the first ones)")
    ap.add_argument("--source", help="path of digits.csv.gz (default: Debian's python3-sklearn)")
    return ap.parse_args(argv)


def export(args):
    import h5py
    import numpy as np
    out = Path(args.output)
    if out.exists():
        fail(f"{out} exists; it is not replaced (remove it or choose another name)")
    if not out.parent.is_dir():
        fail(f"{out.parent}: no such directory")
    src = find_csv(args.source)
    pixels, digit = load(src)
    if args.pair:
        parts = args.pair.split(",")
        if len(parts) != 2 or not all(len(t) == 1 and t in "0123456789" for t in parts):
            fail(f"--pair {args.pair!r}: expected two digits A,B")
        a, b = int(parts[0]), int(parts[1])
        if not (0 <= a <= 9 and 0 <= b <= 9) or a == b:
            fail(f"--pair {args.pair!r}: expected two different digits 0-9")
        classes = [(+1.0, digit == a), (-1.0, digit == b)]
        what = f"digit {a} (y=+1) vs digit {b} (y=-1)"
    else:
        classes = [(+1.0, digit % 2 == 1), (-1.0, digit % 2 == 0)]
        what = "odd digits (y=+1) vs even digits (y=-1)"
    rng = np.random.default_rng(args.seed) if args.seed >= 0 else None
    rows, labels = [], []
    for label, mask in classes:
        idx = np.flatnonzero(mask)
        if args.per_class < 0:
            fail("--per-class must be >= 0")
        if args.per_class:
            if args.per_class > len(idx):
                fail(f"--per-class {args.per_class}: class y={label:+g} has only {len(idx)} images")
            idx = np.sort(rng.choice(idx, args.per_class, replace=False)) if rng is not None else idx[: args.per_class]
        rows.append(pixels[idx])
        labels.append(np.full(len(idx), label))
    X, y = np.concatenate(rows), np.concatenate(labels)
    X = X - X.mean(axis=0)
    if args.dim:
        if not 2 <= args.dim <= 64:
            fail(f"--dim {args.dim}: must be in 2..64")
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        basis = vt[: args.dim]
        basis *= np.where(basis[np.arange(args.dim), np.abs(basis).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
        X = X @ basis.T
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0):
        fail("an image is the mean image: it has no direction on the sphere")
    X = X / norms[:, None]
    pos, neg = X[y > 0], X[y < 0]
    gap = np.sqrt(np.maximum(((pos[:, None, :] - neg[None, :, :]) ** 2).sum(-1), 0)).min()
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    tmp = out.with_name(out.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f["x"], f["y"] = X, y
        f.attrs.update({"source": str(src), "source_sha256": digest, "classes": what,
                        "dim": X.shape[1], "per_class": args.per_class, "seed": args.seed,
                        "min_opposite_distance": gap, "tool": "advsweep analysis/digits.py"})
    os.replace(tmp, out)
    print(f"{out}: n = {len(y)}, d = {X.shape[1]}, {what}; smallest distance between opposite labels "
          f"{gap:.4f} (perturbation sets apart for delta < {gap / 2:.4f})")


if __name__ == "__main__":
    reexec_with_debian_python()
    export(parse_args(sys.argv[1:]))
