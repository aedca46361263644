"""load.py and /checksum (docs/layout.md): a finished point whose rows no longer
match its checksum is warned about and excluded, never used; files without
checksums read as before. (tests/e2e/test_reliability.py checks that these
checksums are the C writer's, bit for bit, on real sweeps.)"""
import importlib

import h5py
import numpy as np

import synth
from synth import PENDING, point, write_sweep
from advsweep_analysis import load as load_files, read_sweep

L = importlib.import_module("advsweep_analysis.load")


def with_checksums(path):
    """Give a synthetic file the /checksum the writer would: every finished point's."""
    with h5py.File(path, "r+") as f:
        status = f["status"][()]
        rows = np.nonzero(np.isin(status, (L.DONE, L.FAILED, L.DIVERGED)))[0]
        sums = np.zeros(status.shape[0], np.uint64)
        sums[rows] = L.point_checksums(f, rows)
        f.create_dataset("checksum", data=sums, fillvalue=0)
    return path


def small(tmp_path, name="s.h5"):
    pts = synth.grid([8, 16, 32], [0.5, 0.1], [1, 2], lambda m, e, s: m >= 16)
    pts[5] = point(status=PENDING, m=16, epsilon=0.1, seed=2)
    write_sweep(tmp_path / name, pts)
    return tmp_path / name


def test_no_checksums_reads_as_before(tmp_path):
    p = read_sweep(small(tmp_path))
    assert not any("damaged" in w for w in p.warnings)
    assert p.counts()["damaged"] == 0 and p.counts()["done"] == len(p) - 1


def test_a_changed_value_is_warned_about_and_excluded(tmp_path):
    path = with_checksums(small(tmp_path))
    p = read_sweep(path)
    assert p.counts()["damaged"] == 0 and not any("damaged" in w for w in p.warnings)
    with h5py.File(path, "r+") as f:  # one value in the middle of point 3's trajectory
        ds = f["traj/clean_loss"]
        ds[3, 5] = np.nextafter(ds[3, 5], np.inf)
    p = read_sweep(path)
    assert p.status[3] == L.DAMAGED and not p.done[3]
    assert p.counts()["damaged"] == 1 and p.counts()["done"] == len(p) - 2
    (warning,) = [w for w in p.warnings if "damaged" in w]
    assert "1 damaged point(s) excluded (3:" in warning and "--retry-damaged" in warning


def test_a_status_turned_done_without_rows_is_damaged(tmp_path):
    path = with_checksums(small(tmp_path))
    with h5py.File(path, "r+") as f:
        f["status"][5] = L.DONE  # pending, no checksum
    p = read_sweep(path)
    assert p.status[5] == L.DAMAGED


def test_an_intact_copy_wins_the_merge(tmp_path):
    good = with_checksums(small(tmp_path, "a.h5"))
    bad = with_checksums(small(tmp_path, "b.h5"))
    with h5py.File(bad, "r+") as f:
        f["summary/min_surrogate"][2] = 123.0
    p = load_files([bad, good])
    assert len(p) == 12 and p.counts()["damaged"] == 0
    assert p.source[2] == str(good) and p.summary["min_surrogate"][2] != 123.0
    assert any("damaged" in w for w in p.warnings)


def test_checksums_survive_wider_rows(tmp_path):
    """A file rebuilt with more trajectory columns (padding = the fill value) keeps its checksums."""
    path = with_checksums(small(tmp_path))
    with h5py.File(path, "r+") as f:
        for name in ("traj/clean_loss", "traj/step"):
            old = f[name][()]
            fill = np.zeros(1, old.dtype)
            f[name].id.get_create_plist().get_fill_value(fill)
            del f[name]
            wide = np.concatenate([old, np.full((old.shape[0], 7), fill[0], old.dtype)], axis=1)
            f.create_dataset(name, data=wide, fillvalue=fill[0])
    p = read_sweep(path)
    assert p.counts()["damaged"] == 0
