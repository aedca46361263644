"""Targets through the command line and the file: `train --targets ... -o` records, for
every target, the first step with L_A <= tau, equal to a scan of the recorded losses."""
import h5py
import numpy as np

from conftest import run


def test_train_targets_in_file(advsweep, tmp_path):
    out = tmp_path / "t.h5"
    run([advsweep, "train", "--m", "16", "--d", "6", "--n", "16", "--steps", "120", "--record_dense", "50",
         "--record_max", "200", "--eval_count", "1", "--eval_steps", "3", "--epsilon", "0.3",
         "--targets", "0.6,0.45,0.1,1e-9", "-q", "-o", str(out)], check=0)
    with h5py.File(out, "r") as f:
        tau = f["targets/tau"][0]
        steps = f["targets/step"][0]
        outcome = f["targets/outcome"][0]
        n = f["traj/length"][0]
        assert np.array_equal(f["traj/step"][0, :n], np.arange(121))
        L = f["traj/surrogate_loss"][0, :n]
        assert list(tau) == [0.6, 0.45, 0.3, 0.1, 1e-9]
        for t, s, o in zip(tau, steps, outcome):
            hit = np.flatnonzero(L[1:] <= t)
            assert s == (hit[0] + 1 if hit.size else -1)
            assert o == (0 if s >= 0 else 2)  # reached, else budget (no plateau rule): censored
        assert f["summary/eps_step"][0] == steps[2]
        assert f["summary/outcome"][0] == 2 and f.attrs["targets_max"] == 5
