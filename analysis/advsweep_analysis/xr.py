"""xr.py — sweep files as an xarray.Dataset on the grid (Debian's python3-xarray).

    ds = to_xarray(["sweep.h5"])          # dims: the grid axes (root attribute `axes`), e.g. m, epsilon, seed
    ds["min_surrogate"].sel(epsilon=0.1).mean("seed")

Dimensions are the grid axes of the files (the `axes` attribute, in file order; when it is
absent, every varying parameter but `targets`), plus `sweep` when the files hold several grids.
Coordinates are the sorted distinct values of each axis. Variables, over those dimensions:
`status`, `reason`, every summary field under its /runs name (the summary's `lr` is
`summary_lr`), every parameter that varies without being an axis, and with per-target data
`targets_tau`, `targets_step`, `targets_outcome` over an extra `target` dimension. Parameters
constant across the files are attributes. Cells of the grid without a point are NaN (numbers)
or "" (text); integer variables with such holes become float.

Combined with load(): files with equal grid_hash are merged as shards.
"""
from __future__ import annotations

import numpy as np

from .load import RUNS_COLLISION_PREFIX, SweepError, _py, load
from .width import _sort_key


def _axes(points) -> list:
    names = []
    for s in points.sweeps:
        ax = s.attrs.get("axes")
        if isinstance(ax, (list, tuple)):
            ax = ",".join(map(str, ax))
        for a in (str(ax).split(",") if ax else []):
            a = a.strip()
            if a and a in points.params and a not in names:
                names.append(a)
    if not names:
        names = points.varying(exclude=("targets", "sweep"))
    # an axis of one file may be constant in another: keep it only if it takes several values
    return [a for a in names if len({_py(v) for v in points.params[a]}) > 1 or len(points.sweeps) == 1]


def _holes(values: np.ndarray, shape, cells, extra=()):
    """An array of `shape` + extra filled from values at `cells` (tuples of indices)."""
    kind = values.dtype.kind
    if kind in "US":
        out = np.full(shape + extra, "", dtype=values.dtype)
    elif kind == "b":
        out = np.zeros(shape + extra, bool)
    else:
        out = np.full(shape + extra, np.nan)
    out[cells] = values
    return out


def to_xarray(files, require_done: bool = False):
    """xarray.Dataset of the sweep file(s) `files` (a path or a list of paths) on its grid."""
    import xarray as xr

    if isinstance(files, (str, bytes)) or hasattr(files, "__fspath__"):
        files = [files]
    points = load(list(files), require_done=require_done)
    dims = _axes(points)
    if len(points.sweeps) > 1:
        dims = ["sweep"] + dims
    coords, pos = {}, []
    for d in dims:
        col = points.sweep if d == "sweep" else points.params[d]
        vals = sorted({_py(v) for v in col}, key=lambda v: _sort_key((v,)))
        where = {v: k for k, v in enumerate(vals)}
        pos.append(np.array([where[_py(v)] for v in col], np.int64))
        coords[d] = np.array(vals) if d != "sweep" else np.arange(len(points.sweeps))
    shape = tuple(len(coords[d]) for d in dims)
    flat = np.ravel_multi_index(tuple(pos), shape) if dims else np.zeros(len(points), np.int64)
    if np.unique(flat).size != flat.size:
        varying = [n for n in points.varying(exclude=tuple(dims)) if n != "targets"]
        raise SweepError(f"{', '.join(map(str, files))}: several points share one cell of the grid "
                         f"({', '.join(dims) or 'no axes'})"
                         + (f"; {', '.join(varying)} also vary" if varying else ""))
    cells = tuple(pos)
    full = np.unique(flat).size == int(np.prod(shape))

    data = {}

    def put(name, values, extra_dims=()):
        values = np.asarray(values)
        extra = tuple(values.shape[1:])
        if full and values.dtype.kind not in "US":
            arr = np.zeros(shape + extra, dtype=values.dtype)
            arr[cells] = values
        else:
            arr = _holes(values, shape, cells, extra)
        data[name] = (tuple(dims) + tuple(extra_dims), arr)

    put("status", points.status.astype(np.int64))
    put("reason", points.reason.astype(str))
    for n in points.summary_names:
        put(RUNS_COLLISION_PREFIX + n if n in points.params else n, points.summary[n])
    constant = {}
    for n in points.param_names:
        if n in dims:
            continue
        vals = {_py(v) for v in points.params[n]}
        if len(vals) == 1:
            v = vals.pop()
            constant[n] = "nan" if v is None else v
        else:
            put(n, points.params[n])
    if points.n_targets:
        for n in ("tau", "step", "outcome"):
            put(f"targets_{n}", points.targets[n], extra_dims=("target",))
    attrs = dict(constant)
    attrs["job_name"] = ",".join(s.job_name for s in points.sweeps)
    attrs["grid_hash"] = ",".join(s.grid_hash for s in points.sweeps)
    attrs["files"] = ",".join(p for s in points.sweeps for p in s.paths)
    ds = xr.Dataset(data_vars=data, coords=coords, attrs=attrs)
    return ds
