"""The analysis on files of the real binary: a width search's file (skipped points, auto
parameters, a string grid axis) through report.py, to_xarray beside xarray's own open, and the
netCDF4 recipe of docs/layout.md (Debian's python3-xarray, python3-h5netcdf, python3-netcdf4)."""
import csv
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import ROOT, run

sys.path.insert(0, str(ROOT / "analysis"))
from advsweep_analysis import load, to_xarray  # noqa: E402

REPORT = ROOT / "analysis" / "report.py"

# jobs/demo-search.yaml, smaller: a search over m with attack (a string) as a grid axis, every
# auto parameter left auto (lr, c_alpha, pgd_step, early_stop_target).
JOB = """\
name: small-search
seeds: 2
fixed: {model: deep, H: 2, d: 8, n: 24, delta: 0.1, lr_rule: free, steps: 800, early_stop: 1,
        plateau_window: 200, plateau_tol: 0.001, pgd_steps: 5, eval_steps: 4, eval_restarts: 1, eval_count: 2}
grid:
  m: {from: 2, to: 64, factor: 2}
  epsilon: [0.2, 0.1]
  attack: [none, pgd]
search: {axis: m, target: epsilon}
"""


@pytest.fixture(scope="module")
def searched(advsweep, tmp_path_factory):
    d = tmp_path_factory.mktemp("search")
    (d / "s.yaml").write_text(JOB)
    run([advsweep, "run", "s.yaml", "-q"], ranks=3, check=0, cwd=d)
    path = d / "small-search.h5"
    with h5py.File(path, "r") as f:
        assert 5 in set(f["status"][()])             # the search left points skipped
    return path


def report(*args):
    return subprocess.run([sys.executable, str(REPORT), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def table(text, heading):
    part = text[text.index(heading):].split("\n")
    start = next(k for k, line in enumerate(part) if line.startswith("|"))
    head = [c.strip() for c in part[start].strip().strip("|").split(" | ")]
    rows = []
    for line in part[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return head, rows


def test_report_on_a_search_file(searched, tmp_path):
    r = report(searched, "-o", tmp_path / "rep", "--bootstrap", "0", "--csv")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "rep" / "report.md").read_text()
    with h5py.File(searched, "r") as f:
        st = f["status"][()]
        lr_used = f["summary/lr"][()][st == 1]
        m_done = f["params/m"][()][st == 1]
        assert f["params/c_alpha"][0] == 0 and f["params/lr"][0] == 0 and f["params/pgd_step"][0] == 0
    # skipped points are counted as such, not as an unknown status
    head, rows = table(text, "## Points")
    got = dict(zip(head, rows[0]))
    assert "unknown status" not in head
    assert int(got["skipped"]) == int(np.sum(st == 5)) > 0 and int(got["done"]) == int(np.sum(st == 1))
    assert int(got["points"]) == st.size
    with open(tmp_path / "rep" / "points.csv") as fh:
        assert sum(row["status_name"] == "skipped" for row in csv.DictReader(fh)) == int(np.sum(st == 5))
    # auto parameters read auto, with what the training used (train_plan: c_alpha 40 under lr_rule free)
    _, rows = table(text, "## Fixed parameters")
    fixed = {row[0]: row[1] for row in rows}
    assert fixed["c_alpha"] == "auto (40, lr_rule free)"
    assert fixed["pgd_step"] == "auto (2.5 δ / k = 0.05)"
    assert fixed["early_stop_target"] == "auto (the smallest target, 0.1)"
    np.testing.assert_allclose(lr_used, 40.0 / (m_done * 2 ** 2), rtol=1e-12)   # α = c_alpha / (m H²)
    lo, hi = float(lr_used.min()), float(lr_used.max())
    assert fixed["lr"] == f"auto (α used, summary_lr: {lo:.4g} to {hi:.4g})"


def test_to_xarray_while_xarray_has_the_file_open(searched, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    with xr.open_dataset(searched, engine="h5netcdf") as held:
        before = held["status"].values.copy()
        ds = to_xarray([searched])                  # was: "file locking flag values don't match"
        assert dict(ds.sizes) == {"m": 6, "epsilon": 2, "attack": 2, "seed": 2, "target": 2}
        assert int((ds["status"] == 5).sum()) == int(np.sum(before == 5))
        assert load([searched]).counts()["skipped"] == int(np.sum(before == 5))
        r = report(searched, "-o", tmp_path / "rep", "--bootstrap", "0")   # another process: unaffected
        assert r.returncode == 0, r.stderr
        assert np.array_equal(held["status"].values, before)              # xarray's handle still reads


def layout_recipe():
    """The netCDF4 recipe of docs/layout.md, as written there."""
    text = (ROOT / "docs" / "layout.md").read_text()
    block = re.search(r"h5py lists them:\n\n```python\n(.*?)```", text, re.S)
    assert block, "docs/layout.md: the netCDF4 recipe is gone"
    return block.group(1)


RUN_RECIPE = """\
import sys, h5py, xarray as xr
F = sys.argv[1]
{recipe}
print(sorted(ds.coords), [int(v) for v in ds["status"].values], list(ds["m"].values))
ds.load()
for G in ("params", "summary", "plan", "worker", "traj", "eval", "targets"):
    with h5py.File(F, "r") as f:
        strings = [k for k, v in f[G].items() if isinstance(v, h5py.Dataset) and v.dtype.kind == "S"]
    xr.open_dataset(F, engine="netcdf4", group=G, drop_variables=strings).load()
"""


def test_netcdf4_recipe_with_a_string_axis(searched):
    """netcdf-c 4.9.0 crashes reading fixed-length strings; `attack` is a grid axis, hence a string
    coordinate read at open: the recipe drops it (and every other string) and does not crash."""
    pytest.importorskip("xarray")
    netCDF4 = pytest.importorskip("netCDF4")
    code = RUN_RECIPE.format(recipe=layout_recipe())
    proc = subprocess.run([sys.executable, "-c", code, str(searched)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    with h5py.File(searched, "r") as f:
        want = (f"{sorted(['epsilon', 'm', 'point', 'seed'])} {[int(v) for v in f['status'][()]]} "
                f"{list(f['params/m'][()])}")
    assert proc.stdout.strip() == want
    # what the page used to say: dropping `reason` alone crashes on this version (a string axis)
    if tuple(int(x) for x in netCDF4.__netcdf4libversion__.split(".")[:3] if x.isdigit()) <= (4, 9, 0):
        old = ("import sys, xarray as xr; "
               "xr.open_dataset(sys.argv[1], engine='netcdf4', drop_variables=['reason']).load()")
        proc = subprocess.run([sys.executable, "-c", old, str(searched)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode != 0
