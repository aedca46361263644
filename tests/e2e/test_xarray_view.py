"""The sweep file as a netCDF-4 dataset (the real binary, real ranks): xarray
opens it with engine="h5netcdf" and no phony_dims, with a named `point`
dimension, the varying parameters as coordinates, named trajectory columns,
and values equal to h5py's. With Debian's python3-xarray and python3-h5netcdf."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import run

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")

JOB = """\
name: view
seeds: 2
fixed: {d: 4, n: 12, H: 1, steps: 30, eval_count: 2, eval_steps: 2, record_dense: 5, record_max: 12}
grid:
  m: [4, 8]
  attack: [none, fgsm]
  epsilon: [0.3, 0.1]
options: {store_weights: true}
"""

GROUPS = ["params", "summary", "plan", "worker", "traj", "eval", "targets", "weights", "data"]


def expected_dims(group, name, ndim):
    """A dataset's dimensions: `point`, then its columns' dimension by group."""
    columns = {"traj": ("record",), "eval": ("eval",), "targets": ("target",),
               "data": ("sample", "feature")}.get(group, ())
    if group == "weights":
        columns = ("fixed_weight",) if name == "fixed" else ("weight",)
    return ("point",) + columns[: ndim - 1]


@pytest.fixture(scope="module")
def sweep(advsweep, tmp_path_factory):
    d = tmp_path_factory.mktemp("view")
    (d / "view.yaml").write_text(JOB)
    run([advsweep, "run", "view.yaml", "-q"], ranks=2, check=0, cwd=d)
    return d / "view.h5"


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if a.dtype.kind == "f":
        assert np.array_equal(a, b, equal_nan=True)
    else:
        assert np.array_equal(a, b)


def test_root_has_point_and_the_axes_as_coordinates(sweep):
    with xr.open_dataset(sweep, engine="h5netcdf") as ds, h5py.File(sweep, "r") as f:
        P = f["status"].shape[0]
        assert P == 2 * 2 * 2 * 2
        assert dict(ds.sizes) == {"point": P}
        same(ds["point"].values, np.arange(P))
        # the parameters that vary are coordinates; fixed ones are not
        assert {"m", "attack", "epsilon", "seed"} <= set(ds.coords)
        assert not {"H", "d", "n", "steps"} & set(ds.coords)
        for name in ("m", "attack", "epsilon", "seed"):
            assert ds[name].dims == ("point",)
            same(ds[name].values, f["params/" + name][()])
        for name in ("status", "reason"):
            assert ds[name].dims == ("point",)
            same(ds[name].values, f[name][()])
        assert set(ds["status"].values) == {1}
        # selecting by coordinate works as a user would do it
        sel = ds.status.where((ds.m == 8) & (ds.attack == b"fgsm"), drop=True)
        assert sel.sizes["point"] == 4


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_opens_with_named_dimensions(sweep, group):
    with xr.open_dataset(sweep, engine="h5netcdf", group=group) as ds, h5py.File(sweep, "r") as f:
        P = f["status"].shape[0]
        names = [k for k, v in f[group].items() if isinstance(v, h5py.Dataset) and "CLASS" not in v.attrs]
        assert names and sorted(ds.data_vars) == sorted(names)
        for name in names:
            h, v = f[group][name], ds[name]
            assert v.dims == expected_dims(group, name, h.ndim), (group, name, v.dims)
            assert v.sizes["point"] == P
            same(v.values, h[()])
        for dim in set(ds.dims) - {"point"}:  # the column dimensions are coordinates 0..n-1
            same(ds[dim].values, np.arange(ds.sizes[dim]))


def test_trajectory_columns(sweep):
    with xr.open_dataset(sweep, engine="h5netcdf", group="traj") as ds, h5py.File(sweep, "r") as f:
        K = f.attrs["records_max"]
        assert ds.sizes["record"] == K and ds["surrogate_loss"].dims == ("point", "record")
        # a point's trajectory, as the file has it
        n = int(ds["length"][3])
        same(ds["surrogate_loss"][3, :n].values, f["traj/surrogate_loss"][3, :n])


def test_merged_extended_and_single_point_files_open(advsweep, sweep, tmp_path):
    (tmp_path / "view.yaml").write_text(JOB.replace("store_weights: true", "store_weights: false"))
    for i in range(2):
        run([advsweep, "run", "view.yaml", "-q", "--shard", f"{i}/2", "-o", f"s{i}.h5"], check=0, cwd=tmp_path)
    run([advsweep, "merge", "-o", "all.h5", "s0.h5", "s1.h5"], check=0, cwd=tmp_path)
    bigger = JOB.replace("m: [4, 8]", "m: [4, 8, 16]").replace("store_weights: true", "store_weights: false")
    (tmp_path / "bigger.yaml").write_text(bigger)
    run([advsweep, "run", "bigger.yaml", "-q", "--extend", "-o", "all.h5"], check=0, cwd=tmp_path)
    run([advsweep, "train", "--m", "4", "--steps", "5", "-q", "-o", "one.h5"], check=0, cwd=tmp_path)
    for name, points in (("s0.h5", 16), ("all.h5", 24), ("one.h5", 1)):
        with xr.open_dataset(tmp_path / name, engine="h5netcdf") as ds, h5py.File(tmp_path / name, "r") as f:
            assert dict(ds.sizes) == {"point": points}
            same(ds["status"].values, f["status"][()])
            if points > 1:
                assert {"m", "attack", "epsilon", "seed"} <= set(ds.coords)
                same(ds["m"].values, f["params/m"][()])
        with xr.open_dataset(tmp_path / name, engine="h5netcdf", group="summary") as ds:
            assert ds["min_surrogate"].dims == ("point",)


def test_netcdf4_opens_the_file(sweep):
    """netCDF4 (netcdf-c) opens it and reads its numbers; arrays of fixed-length strings are
    not read here: netcdf-c 4.9.0 (Debian 12) crashes on them (Unidata/netcdf-c#2159, fixed
    in 4.9.1), which docs/layout.md documents."""
    pytest.importorskip("netCDF4")
    code = ("import netCDF4, sys; d = netCDF4.Dataset(sys.argv[1]); "
            "print([int(v) for v in d['status'][:]], [int(v) for v in d['m'][:]], "
            "d.groups['traj']['surrogate_loss'].dimensions)")
    proc = subprocess.run([sys.executable, "-c", code, str(sweep)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(sweep, "r") as f:
        assert proc.stdout.strip() == (f"{[int(v) for v in f['status'][()]]} {[int(v) for v in f['params/m'][()]]} "
                                       "('point', 'record')")
