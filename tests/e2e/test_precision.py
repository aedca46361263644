"""The precision parameter end to end: a grid axis stored in /params, f32 points
whose stored weights are floats that reproduce the recorded losses, and
`advsweep bench --precision`."""
import re

import h5py
import numpy as np
import pytest

from conftest import run
from test_outputs import forward

PRECISION_JOB = """\
name: precision
options: {store_weights: true}
fixed: {d: 5, n: 12, delta: 0.1, steps: 40, eval_count: 1, eval_steps: 3, m: 10}
grid:
  model: [deep, twolayer]
  precision: [f64, f32]
"""


def test_precision_is_a_grid_axis(advsweep, tmp_path):
    job = tmp_path / "precision.yaml"
    job.write_text(PRECISION_JOB)
    out = tmp_path / "precision.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=2, check=0)
    with h5py.File(out, "r") as f:
        assert np.all(f["status"][()] == 1)
        assert [p.decode() for p in f["params/precision"][()]] == ["f64", "f32", "f64", "f32"]
        for i in range(4):
            n, d = int(f["params/n"][i]), int(f["params/d"][i])
            X, y = f["data/X"][i, :n, :d], f["data/y"][i, :n]
            nt = 2 * 10 * 10 if f["params/model"][i] == b"deep" else 10 * d
            W, W0 = f["weights/W"][i, :nt], f["weights/W0"][i, :nt]
            f32 = f["params/precision"][i] == b"f32"
            # f32 keeps its weights in float; both precisions start from the same draw
            assert np.array_equal(W, W.astype(np.float32)) == f32
            if f32:
                assert np.array_equal(W0, f["weights/W0"][i - 1, :nt].astype(np.float32))
            z = forward(f, i, X.astype(np.float32).astype(np.float64) if f32 else X)
            clean = np.mean(np.logaddexp(0, -y * z))
            assert clean == pytest.approx(f["summary/final_clean_loss"][i], rel=1e-5 if f32 else 1e-9)
        # f32 follows f64 closely on these short runs
        s = f["summary/final_surrogate"][()]
        assert s[1] == pytest.approx(s[0], rel=1e-3) and s[3] == pytest.approx(s[2], rel=1e-3)


def test_train_stores_the_precision(advsweep, tmp_path):
    out = tmp_path / "one.h5"
    run([advsweep, "train", "-q", "--precision", "f32", "--steps", "5", "--m", "8", "-o", str(out)], check=0)
    with h5py.File(out, "r") as f:
        assert f["params/precision"][0] == b"f32"
    proc = run([advsweep, "train", "--precision", "f16"], check=2)
    assert proc.stderr.count("\n") == 1 and "precision" in proc.stderr and "f16" in proc.stderr


def test_bench_precision(advsweep):
    assert "precision" in run([advsweep, "bench", "--help"], check=0).stdout
    small = ["--m", "8", "--n", "8", "--d", "4", "--k", "1", "--repeats", "1"]
    for precision, word in (("f32", "single"), ("f64", "double")):
        lines = run([advsweep, "bench", "--precision", precision] + small, check=0).stdout.splitlines()
        assert f"{word} precision" in lines[0]
        assert lines[1].split()[-1] == "ms/step"
        row = lines[2].split()
        assert [int(t) for t in row[:5]] == [8, 2, 8, 4, 1] and float(row[-1]) > 0
    proc = run([advsweep, "bench", "--precision", "f16"], check=2)
    assert proc.stderr.count("\n") == 1 and re.search(r"--precision.*f16", proc.stderr)
