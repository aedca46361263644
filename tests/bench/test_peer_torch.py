"""The PyTorch peer (peer_torch.py) runs the same training step as advsweep.

advsweep trains a tiny deep net with PGD-3 and stores its data, initial and final
weights (store_weights: true); the peer starts from the same weights and data and
must reproduce advsweep's recorded surrogate loss L_A(W_t) at every step and its
final weights: to rounding in float64, to float32 rounding in float32. One point
runs without a projection, one with R small enough that B(R) is active; the attack
is long enough that the projection onto the cap B(x) is active too.

Skipped when torch is missing (python3-torch is not one of the suite's packages).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import peer_torch  # noqa: E402

JOB = """\
name: peer-check
options: {store_weights: true}
fixed: {model: deep, m: 16, H: 2, n: 12, d: 5, delta: 0.1, pgd_steps: 3, steps: 8,
        eval_count: 0, eval_steps: 1, eval_restarts: 1}
grid:
  R: [inf, 0.3]
"""
# (loss, weight) relative tolerances per precision
TOLERANCE = {torch.float64: (1e-12, 1e-12), torch.float32: (1e-5, 1e-4)}


def advsweep_binary():
    env = os.environ.get("ADVSWEEP_BIN")
    if env:
        return env
    for build in ("build-test", "build"):
        if (ROOT / build / "advsweep").exists():
            return str(ROOT / build / "advsweep")
    pytest.fail("advsweep binary not found: build it or set ADVSWEEP_BIN")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peer")
    (tmp / "job.yaml").write_text(JOB)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = tmp / "peer.h5"
    proc = subprocess.run([advsweep_binary(), "run", str(tmp / "job.yaml"), "-o", str(out), "-q"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("point", [0, 1], ids=["R=inf", "R=0.3"])
def test_peer_step_reproduces_advsweep(sweep, point, dtype):
    torch.set_num_threads(1)
    with h5py.File(sweep, "r", locking=False) as f:
        assert f["status"][point] == 1
        T = int(f["summary/steps_run"][point])
        length = int(f["traj/length"][point])
        assert list(f["traj/step"][point, :length]) == list(range(T + 1))  # every step recorded
        recorded = f["traj/surrogate_loss"][point, :length]
        m, H = int(f["params/m"][point]), int(f["params/H"][point])
        W0 = f["weights/W0"][point, :H * m * m]
        W_final = f["weights/W"][point, :H * m * m]
        R, final_dist = float(f["params/R"][point]), float(f["summary/final_dist"][point])

    pb = peer_torch.sweep_problem(sweep, point, dtype)
    # The attack reaches the boundary of B(x), so the cap projection is exercised.
    reach = (peer_torch.pgd_attack(pb) - pb.X).norm(dim=1)
    assert float(reach.max()) == pytest.approx(pb.delta, rel=1e-5)
    losses = [float(peer_torch.train_step(pb)) for _ in range(T)] + [float(peer_torch.surrogate(pb))]
    W = torch.cat([w.reshape(-1) for w in pb.weights()]).double().numpy()

    rel_loss, rel_w = TOLERANCE[dtype]
    assert recorded[-1] < 0.9 * recorded[0]  # it trains: a check that could fail
    np.testing.assert_allclose(losses, recorded, rtol=rel_loss, atol=0)
    moved = np.max(np.abs(W_final - W0))
    assert np.max(np.abs(W - W_final)) <= rel_w * moved
    if np.isfinite(R):  # the projection onto B(R) was active
        assert final_dist == pytest.approx(R, rel=1e-12)
