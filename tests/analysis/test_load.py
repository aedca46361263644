"""load.py: reading layout-1 files, string decoding, merging shards, concatenating sweeps."""
import numpy as np
import pytest

import synth
from synth import DIVERGED, DONE, FAILED, PENDING, RUNNING, SKIPPED, point, write_sweep
from advsweep_analysis import load, read_sweep, SweepError


def small_grid(**const):
    return synth.grid([8, 16, 32], [0.5, 0.1], [1, 2], lambda m, e, s: m >= 16, **const)


def test_reads_params_summary_and_decodes_strings(tmp_path):
    pts = small_grid(attack="fgsm")
    write_sweep(tmp_path / "s.h5", pts, job_name="wide")
    p = read_sweep(tmp_path / "s.h5")
    assert len(p) == len(pts)
    assert p.params["attack"].dtype.kind == "U" and set(p.params["attack"]) == {"fgsm"}
    assert p.params["data_file"][0] == ""
    assert np.isinf(p.params["R"]).all()
    assert p.params["m"].dtype == np.int64
    assert p.sweeps[0].job_name == "wide" and len(p.sweeps[0].grid_hash) == 16
    assert p.sweeps[0].attrs["tool"] == "advsweep" and p.sweeps[0].attrs["layout_version"] == 1
    assert p.varying() == ["m", "epsilon", "seed"]
    assert p.constant("attack") == "fgsm" and p.constant("m") is None
    np.testing.assert_allclose(p.summary["min_surrogate"][:2], [0.5 * 2.0, 0.5 * 2.0])  # m=8 fails
    assert p.traj["surrogate_loss"].shape == (len(pts), synth.K_DEFAULT)
    assert (p.traj_length == 24).all() and (p.eval_length == synth.E_DEFAULT - 1).all()
    assert p.counts()["done"] == len(pts)


def test_partial_file_counts_pending_running(tmp_path):
    pts = small_grid()
    pts[0] = point(status=PENDING, m=8, epsilon=0.5, seed=1)
    pts[1] = point(status=RUNNING, m=8, epsilon=0.5, seed=2)
    pts[2] = point(status=FAILED, m=16, epsilon=0.5, seed=1, reason="out of memory")
    pts[3] = point(status=DIVERGED, m=16, epsilon=0.5, seed=2, reason="NaN at step 16")
    write_sweep(tmp_path / "s.h5", pts)
    p = load([tmp_path / "s.h5"])
    c = p.counts()
    assert (c["pending"], c["running"], c["failed"], c["diverged"], c["done"]) == (1, 1, 1, 1, len(pts) - 4)
    assert p.reason[2] == "out of memory" and p.reason[3] == "NaN at step 16"


def test_skipped_points_are_counted(tmp_path):
    """Status 5 (skipped: the width search did not need the point) is a status of its own, not unknown."""
    pts = small_grid()
    for i in (0, 1, 5):
        pts[i] = point(status=SKIPPED, **pts[i]["params"])
    write_sweep(tmp_path / "s.h5", pts)
    c = load([tmp_path / "s.h5"]).counts()
    assert c["skipped"] == 3 and c["unknown"] == 0 and c["done"] == len(pts) - 3 and c["total"] == len(pts)
    # merged with a file where those points ran: the result wins; pending beats skipped
    other = list(small_grid())
    other[5] = point(status=PENDING, **other[5]["params"])
    write_sweep(tmp_path / "t.h5", other)
    p = load([tmp_path / "s.h5", tmp_path / "t.h5"])
    assert p.status[0] == DONE and p.status[1] == DONE and p.status[5] == PENDING
    # a file without any result names the skipped points in its one-line error
    write_sweep(tmp_path / "none.h5", [point(status=SKIPPED, **pt["params"]) for pt in pts])
    with pytest.raises(SweepError, match=f"{len(pts)} skipped"):
        load([tmp_path / "none.h5"])


def test_merge_shards_same_grid_hash(tmp_path):
    full = small_grid()
    a = [pt if i % 2 == 0 else point(status=PENDING, **pt["params"]) for i, pt in enumerate(full)]
    b = [pt if i % 2 == 1 else point(status=PENDING, **pt["params"]) for i, pt in enumerate(full)]
    ha = write_sweep(tmp_path / "a.h5", a, shard_index=0, shard_count=2)
    hb = write_sweep(tmp_path / "b.h5", b, shard_index=1, shard_count=2)
    assert ha == hb
    only_a = load([tmp_path / "a.h5"])
    assert only_a.counts()["pending"] == len(full) // 2
    assert only_a.counts()["not_assigned"] == len(full) // 2
    p = load([tmp_path / "a.h5", tmp_path / "b.h5"])
    assert len(p) == len(full) and len(p.sweeps) == 1
    assert p.counts()["done"] == len(full)
    assert not p.warnings
    np.testing.assert_allclose(p.summary["min_surrogate"], [pt["summary"]["min_surrogate"] for pt in full])
    assert set(p.source[1::2]) == {str(tmp_path / "b.h5")}


def test_merge_conflicting_done_results_warns(tmp_path):
    full = small_grid()
    other = [dict(pt) for pt in full]
    other[3] = point(min_surrogate=0.123, **full[3]["params"])
    write_sweep(tmp_path / "a.h5", full)
    write_sweep(tmp_path / "b.h5", other)
    p = load([tmp_path / "a.h5", tmp_path / "b.h5"])
    assert len(p) == len(full)
    assert any("different results" in w and "point 3" in w for w in p.warnings)
    assert p.summary["min_surrogate"][3] == full[3]["summary"]["min_surrogate"]  # first file wins


def test_merge_done_beats_failed(tmp_path):
    full = small_grid()
    bad = list(full)
    bad[0] = point(status=FAILED, reason="killed", **full[0]["params"])
    write_sweep(tmp_path / "a.h5", bad)
    write_sweep(tmp_path / "b.h5", full)
    p = load([tmp_path / "a.h5", tmp_path / "b.h5"])
    assert p.status[0] == DONE and p.counts()["failed"] == 0


def test_different_hashes_are_concatenated(tmp_path):
    write_sweep(tmp_path / "h2.h5", small_grid(H=2), job_name="h2")
    write_sweep(tmp_path / "h4.h5", small_grid(H=4), job_name="h4")
    p = load([tmp_path / "h2.h5", tmp_path / "h4.h5"])
    assert len(p.sweeps) == 2 and len(p) == 2 * len(small_grid())
    assert "H" in p.varying() and "sweep" not in p.varying()
    # equal parameters in two sweeps: 'sweep' keeps them apart
    write_sweep(tmp_path / "again.h5", small_grid(H=2), job_name="again", grid_hash_value="00000000000000aa")
    q = load([tmp_path / "h2.h5", tmp_path / "again.h5"])
    assert q.varying(exclude=("m", "seed")) == ["epsilon", "sweep"]


def test_same_file_twice_is_read_once(tmp_path):
    write_sweep(tmp_path / "a.h5", small_grid())
    p = load([tmp_path / "a.h5", tmp_path / "a.h5"])
    assert len(p) == len(small_grid())
    assert any("more than once" in w for w in p.warnings)


@pytest.mark.parametrize("kind,needle", [
    ("text", "not an HDF5 file"),
    ("plain", "no layout_version/tool attribute"),
    ("newer", "layout version 2 is newer"),
    ("empty", "empty sweep (0 points)"),
    ("pending", "no done points"),
    ("tool", "tool is 'other'"),
    ("missing", "no such file"),
    ("nostatus", "missing /status"),
    ("truncated", "cannot open as HDF5"),
])
def test_bad_input_raises_sweep_error(tmp_path, kind, needle):
    path = synth.write_bad(tmp_path, kind)
    with pytest.raises(SweepError) as e:
        load([path])
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_new_layout_targets_and_runs_columns(tmp_path):
    pts = synth.free_grid([8, 16], [0.2, 0.1, 0.05], [1, 2], lambda m, s, tau: 100 if m >= 16 else -1, T=500)
    write_sweep(tmp_path / "n.h5", pts, issue8=True)
    p = load([tmp_path / "n.h5"])
    assert p.n_targets == 3 and p.targets["tau"].shape == (len(pts), 3)
    np.testing.assert_allclose(p.targets["tau"][0], [0.2, 0.1, 0.05])
    assert p.targets["step"][-1].tolist() == [100, 100, 100] and p.targets["step"][0].tolist() == [-1, -1, -1]
    assert p.targets["outcome"][0].tolist() == [1, 1, 1]          # plateau
    assert p.params["lr_rule"][0] == "free" and p.params["targets"][0] == "0.2,0.1,0.05"
    assert "outcome" in p.summary and "trained_as" in p.summary
    import h5py
    with h5py.File(tmp_path / "n.h5", "r") as f:
        assert p.runs_columns == list(f["runs"].dtype.names)
    assert "summary_lr" in p.runs_columns and p.runs_value("summary_lr")[0] == 0.01
    sub = p.select(p.params["m"] == 16)
    assert sub.n_targets == 3 and len(sub) == len(pts) // 2


def test_old_layout_still_loads_without_new_datasets(tmp_path):
    write_sweep(tmp_path / "o.h5", small_grid())          # no /targets, outcome, trained_as, lr_rule
    p = load([tmp_path / "o.h5"])
    assert p.n_targets == 0 and p.targets == {}
    assert "outcome" not in p.summary and "lr_rule" not in p.params
    assert p.runs_columns[:2] == ["index", "status"] and "summary_lr" in p.runs_columns
    # partial /targets: warned and ignored
    write_sweep(tmp_path / "q.h5", small_grid(), issue8=True, omit=("targets/outcome",))
    q = load([tmp_path / "q.h5"])
    assert q.n_targets == 0 and any("/targets/outcome missing" in w for w in q.warnings)


def test_merge_shards_and_concat_with_targets(tmp_path):
    full = synth.free_grid([8, 16, 32], [0.2, 0.1], [1], lambda m, s, tau: 50, T=500)

    def pending(pt):
        q = point(status=PENDING, **pt["params"])
        q["plan_trained_as"] = pt["summary"]["trained_as"]
        return q

    a = [pt if i % 2 == 0 else pending(pt) for i, pt in enumerate(full)]
    b = [pt if i % 2 == 1 else pending(pt) for i, pt in enumerate(full)]
    write_sweep(tmp_path / "a.h5", a, shard_index=0, shard_count=2, issue8=True)
    write_sweep(tmp_path / "b.h5", b, shard_index=1, shard_count=2, issue8=True)
    p = load([tmp_path / "a.h5", tmp_path / "b.h5"])
    assert p.counts()["done"] == len(full) and (p.targets["step"] == 50).all()
    # a shard owns the points of its training runs (trained_as % N), not index % N
    only_a = load([tmp_path / "a.h5"])
    owner = np.array([pt["summary"]["trained_as"] for pt in full])
    assert (only_a.assigned == (owner % 2 == 0)).all() and not (only_a.assigned == (np.arange(len(full)) % 2 == 0)).all()
    # an older sweep beside a new one: its rows get padding
    write_sweep(tmp_path / "old.h5", small_grid(), job_name="old")
    q = load([tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "old.h5"])
    assert len(q.sweeps) == 2 and q.targets["tau"].shape == (len(full) + len(small_grid()), 2)
    assert np.isnan(q.targets["tau"][len(full):]).all() and (q.targets["step"][len(full):] == -1).all()
