"""The real data set: Debian's python3-sklearn digits, exported by analysis/digits.py
onto the sphere and trained on by the real binary."""
import gzip
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import ROOT, run

EXPORT = [sys.executable, str(ROOT / "analysis" / "digits.py")]
CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def export(*args):
    return subprocess.run(EXPORT + list(args), capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not os.path.exists(CSV), reason="Debian's python3-sklearn is not installed")
def test_export_digits_and_train(advsweep, tmp_path):
    out = tmp_path / "d49.h5"
    proc = export("-o", str(out), "--pair", "4,9", "--dim", "16", "--per-class", "50")
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out, "r") as f:
        X, y = f["x"][()], f["y"][()]
        gap = float(f.attrs["min_opposite_distance"])
    assert X.shape == (100, 16) and y.shape == (100,)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-12)
    assert sorted(set(y)) == [-1.0, 1.0] and (y > 0).sum() == 50
    # the images really are the file's 4s and 9s: reread the CSV and compare one row's direction
    with gzip.open(CSV, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",")
    assert (data[:, 64] == 4).sum() >= 50 and (data[:, 64] == 9).sum() >= 50
    assert 0 < gap < 2 and f"{gap:.4f}" in proc.stdout
    # never replaced
    before = out.read_bytes()
    proc = export("-o", str(out), "--pair", "4,9")
    assert proc.returncode == 2 and "exists" in proc.stderr and out.read_bytes() == before
    # advsweep trains on it (the file is already on the sphere: no projection warning)
    proc = run([advsweep, "train", "--data", "file", "--data_file", str(out), "--n", "100", "--d", "16",
                "--m", "32", "--H", "1", "--attack", "none", "--delta", "0.1", "--steps", "300", "--epsilon", "0.3",
                "-q"], check=0)
    assert "projected" not in proc.stderr
    assert "done" in proc.stdout and "at step" in proc.stdout  # L_A <= 0.3 reached


def test_export_bad_input(tmp_path):
    fake = tmp_path / "digits.csv.gz"
    rows = [[(i * 7 + j) % 17 for j in range(64)] + [i % 10] for i in range(60)]
    with gzip.open(fake, "wt") as fh:
        fh.write("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    ok = export("-o", str(tmp_path / "oe.h5"), "--odd-even", "--dim", "4", "--source", str(fake))
    assert ok.returncode == 0, ok.stderr
    with h5py.File(tmp_path / "oe.h5", "r") as f:
        assert f["x"].shape == (60, 4) and set(f["y"][()]) == {-1.0, 1.0}
    for args, what in [(["--pair", "3,3"], "different"), (["--pair", "x"], "two digits"),
                       (["--pair", "1,2", "--per-class", "500"], "only"), (["--odd-even", "--dim", "1"], "--dim"),
                       (["--pair", "1,2", "--source", str(tmp_path / "none.gz")], "no such file")]:
        proc = export("-o", str(tmp_path / "bad.h5"), *args, "--source", str(fake)) if "--source" not in args \
            else export("-o", str(tmp_path / "bad.h5"), *args)
        assert proc.returncode == 2 and what in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad.h5").exists()
