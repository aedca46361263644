"""What a sweep file holds, read back as a user would: reloading stored
weights reproduces the recorded losses; the analysis report runs on real
files; `advsweep plan` and `status` on real jobs."""
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import ROOT, run

WEIGHTS_JOB = """\
name: weights
seeds: 2
options: {store_weights: true}
fixed: {d: 5, n: 12, delta: 0.1, steps: 30, eval_count: 1, eval_steps: 3}
grid:
  model: [deep, twolayer]
  activation: [relu, softplus]
  m: [6, 10]
"""


def forward(f, i, X):
    """f(W, x) for point i, from the stored weights and the documented layout."""
    model = f["params/model"][i].decode()
    act = f["params/activation"][i].decode()
    m, d = int(f["params/m"][i]), int(f["params/d"][i])
    sigma = {"relu": lambda z: np.maximum(z, 0), "softplus": lambda z: np.logaddexp(0, z),
             "quadrelu": lambda z: np.maximum(z, 0) ** 2}[act]
    W = f["weights/W"][i]
    fixed = f["weights/fixed"][i]
    if model == "deep":
        H = int(f["params/H"][i])
        A, a = fixed[: m * d].reshape(m, d), fixed[m * d: m * d + m]
        Ws = W[: H * m * m].reshape(H, m, m)
        x = X @ A.T
        if f["params/input_layer"][i].decode() == "relu":
            x = np.maximum(x, 0)
        for h in range(H):
            x = sigma(x @ Ws[h].T)
        return x @ a
    a = fixed[:m]
    w = W[: m * d].reshape(m, d)
    return sigma(X @ w.T) @ a / np.sqrt(m)


def test_stored_weights_reproduce_the_recorded_losses(advsweep, tmp_path):
    job = tmp_path / "weights.yaml"
    job.write_text(WEIGHTS_JOB)
    out = tmp_path / "weights.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=2, check=0)
    with h5py.File(out, "r") as f:
        assert np.all(f["status"][()] == 1)
        for i in range(f.attrs["n_points"]):
            n, d = int(f["params/n"][i]), int(f["params/d"][i])
            X, y = f["data/X"][i, :n, :d], f["data/y"][i, :n]
            assert np.allclose(np.linalg.norm(X, axis=1), 1)
            z = forward(f, i, X)
            clean = np.mean(np.logaddexp(0, -y * z))
            assert clean == pytest.approx(f["summary/final_clean_loss"][i], rel=1e-9)
            assert np.mean(y * z > 0) == f["summary/final_clean_acc"][i]
            if f["params/model"][i] == b"twolayer":  # the symmetric initialisation: f(W0, x) = 0
                m = int(f["params/m"][i])
                a = f["weights/fixed"][i, :m]
                w0 = f["weights/W0"][i, : m * d].reshape(m, d)
                z0 = X @ w0.T
                z0 = np.maximum(z0, 0) if f["params/activation"][i] == b"relu" else np.logaddexp(0, z0)
                assert np.allclose(z0 @ a, 0, atol=1e-12)


def test_report_on_a_real_sweep(advsweep, tmp_path):
    job = tmp_path / "small.yaml"
    job.write_text("name: small\nseeds: 2\nfixed: {d: 6, n: 16, steps: 200, eval_count: 2, eval_steps: 3}\n"
                   "grid:\n  m: [2, 4, 8, 16]\n  epsilon: [0.2, 0.1]\n  attack: [none, pgd]\n")
    out = tmp_path / "small.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=3, check=0)
    report = tmp_path / "report"
    py = sys.executable if "h5py" in sys.modules else "/usr/bin/python3"
    proc = subprocess.run([py, str(ROOT / "analysis" / "report.py"), str(out), "-o", str(report), "--csv"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = (report / "report.md").read_text()
    assert "## Width requirement m*" in text and "32 of 32 points are done" in text
    for png in ("width_requirement.png", "trajectories.png", "success_map.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (report / "points.csv").read_text().splitlines()
    assert len(rows) == 1 + 32


def test_plan_on_the_default_and_a_bad_budget(advsweep):
    proc = run([advsweep, "plan"], check=0)
    assert "126" in proc.stdout and "sbatch" in proc.stdout
    line = run([advsweep, "plan", "--sbatch"], check=0).stdout.strip()
    assert line.startswith("--ntasks=") and "--cpus-per-task=" in line and "--time=" in line
    proc = run([advsweep, "plan", "--mem-per-rank", "0.001"], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1 and "MB" in proc.stderr


def test_status_while_a_sweep_runs(advsweep, tmp_path):
    job = tmp_path / "long.yaml"
    job.write_text("name: long\nfixed: {d: 8, n: 32, steps: 300, H: 2}\ngrid:\n  m: [128, 192, 256]\n")
    out = tmp_path / "long.h5"
    proc = subprocess.Popen([advsweep, "run", str(job), "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        for _ in range(400):
            if out.exists():
                st = run([advsweep, "status", str(out)])
                if st.returncode == 0 and "running" in st.stdout:
                    seen = st.stdout
                    break
            subprocess.run(["sleep", "0.05"])
        assert "3 points" in seen, seen
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0
