"""xr.py: to_xarray — grid axes as dimensions, summary fields as variables (Debian's python3-xarray)."""
import math

import numpy as np
import pytest
import xarray as xr                                   # required: .ci/deps installs python3-xarray

import synth
from synth import PENDING, point, write_sweep
from advsweep_analysis import SweepError, build_report, load, to_xarray


MS = [8, 16, 32]
EPS = [0.2, 0.1]


def test_dims_coords_and_values(tmp_path):
    pts = synth.free_grid(MS, EPS, [1, 2], lambda m, s, tau: int(100 * m / (tau * 100)) if m >= 16 else -1, T=1000)
    write_sweep(tmp_path / "s.h5", pts, issue8=True)
    ds = to_xarray(tmp_path / "s.h5")
    assert isinstance(ds, xr.Dataset)
    assert dict(ds.sizes) == {"epsilon": 2, "m": 3, "seed": 2, "target": 2}
    assert list(ds["m"].values) == MS and list(ds["epsilon"].values) == sorted(EPS) and list(ds["seed"].values) == [1, 2]
    assert ds["min_surrogate"].dims == ("m", "epsilon", "seed")          # the order of the axes attribute
    assert ds["targets_step"].dims == ("m", "epsilon", "seed", "target")
    for pt in pts:
        p = pt["params"]
        cell = ds.sel(m=p["m"], epsilon=p["epsilon"], seed=p["seed"])
        assert float(cell["min_surrogate"]) == pytest.approx(pt["summary"]["min_surrogate"])
        assert int(cell["eps_step"]) == pt["summary"]["eps_step"]
        assert int(cell["trained_as"]) == pt["summary"]["trained_as"]
        assert list(cell["targets_tau"].values) == pt["targets"]["tau"]
    assert "summary_lr" in ds and float(ds["summary_lr"].max()) == 0.01      # the /runs name of the summary's lr
    assert ds.attrs["lr"] == 0.0 and ds.attrs["H"] == 2 and ds.attrs["lr_rule"] == "free"
    assert "targets" in ds.attrs                     # constant here (the union of the epsilons)
    assert (ds["status"] == synth.DONE).all()


def test_old_layout_and_holes(tmp_path):
    pts = synth.grid(MS, EPS, [1, 2, 3], lambda m, e, s: m >= 16)
    pts = pts[:-1]                                    # the last cell of the grid has no point
    pts[0] = point(status=PENDING, **pts[0]["params"])
    write_sweep(tmp_path / "o.h5", pts, axes=["m", "epsilon", "seed"])
    ds = to_xarray([str(tmp_path / "o.h5")])
    assert ds["min_surrogate"].dims == ("m", "epsilon", "seed") and "target" not in ds.dims
    assert math.isnan(float(ds["min_surrogate"].sel(m=32, epsilon=0.1, seed=3)))   # missing cell
    first = pts[0]["params"]
    assert int(ds["status"].sel(m=first["m"], epsilon=first["epsilon"], seed=first["seed"])) == PENDING
    assert float(ds["min_surrogate"].sel(m=16, epsilon=0.2, seed=2)) == pytest.approx(0.1)
    assert np.isnan(ds["status"].sel(m=32, epsilon=0.1, seed=3))    # integer variable with a hole: float


def test_points_sharing_a_cell_are_refused(tmp_path):
    pts = [point(m=8, seed=1, H=2), point(m=8, seed=1, H=3)]
    write_sweep(tmp_path / "d.h5", pts, axes=["m"])       # H varies but is not an axis
    with pytest.raises(SweepError) as e:
        to_xarray(tmp_path / "d.h5")
    assert "share one cell" in str(e.value) and "H" in str(e.value)


@pytest.mark.parametrize("first", ["h5netcdf", "h5py-default", "h5py-locking"])
def test_file_already_open_in_this_process(tmp_path, first):
    """to_xarray, load and report while the same file is open here with other file-locking flags
    (xarray's h5netcdf and h5py.File use the default; HDF5 refuses a second open with other flags)."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "s.h5"
    write_sweep(path, synth.grid(MS, EPS, [1, 2], lambda m, e, s: m >= 16), axes=["m", "epsilon", "seed"])
    if first == "h5netcdf":
        pytest.importorskip("h5netcdf")
        held = xr.open_dataset(path, engine="h5netcdf", phony_dims="sort")   # synth files have no scales
        before = held["status"].values.copy()
    else:
        held = h5py.File(path, "r") if first == "h5py-default" else h5py.File(path, "r", locking=True)
        before = held["status"][()]
    try:
        ds = to_xarray([str(path)])
        assert int(ds["status"].count()) == len(before) and (ds["status"] == synth.DONE).all()
        build_report(load([path]), str(tmp_path / "out"), n_boot=0)
        # the other open still works after ours closed
        again = held["status"].values if first == "h5netcdf" else held["status"][()]
        assert np.array_equal(again, before)
    finally:
        held.close()
