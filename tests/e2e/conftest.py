"""Shared fixtures for the end-to-end tests: the real advsweep binary, real
mpirun ranks and real HDF5 files read back with h5py."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def find_binary():
    env = os.environ.get("ADVSWEEP_BIN")
    if env:
        return env
    for build in ("build-test", "build"):
        candidate = ROOT / build / "advsweep"
        if candidate.exists():
            return str(candidate)
    pytest.fail("advsweep binary not found: build it or set ADVSWEEP_BIN")


@pytest.fixture(scope="session")
def advsweep():
    return find_binary()


def mpi_env(threads=1):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    env.pop("SLURM_JOB_END_TIME", None)
    return env


def run(cmd, ranks=None, check=None, timeout=300, **kw):
    """Run a command (under mpirun -n RANKS when given); returns CompletedProcess."""
    if ranks is not None:
        cmd = ["mpirun", "-n", str(ranks)] + list(cmd)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=kw.pop("env", mpi_env()), **kw)
    if check is not None and proc.returncode != check:
        raise AssertionError(f"{' '.join(map(str, cmd))}: exit {proc.returncode}, want {check}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


sys.path.insert(0, str(ROOT / "tests"))
import h5same  # noqa: E402  (the comparison the SLURM test uses too)


def results(path):
    """Every per-point dataset of a sweep file, minus timing and worker identity."""
    return h5same.results(path)[0]


def assert_same_results(a, b):
    ra, rb = results(a), results(b)
    assert sorted(ra) == sorted(rb)
    for name in ra:
        x, y = ra[name], rb[name]
        assert x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), f"{name} differs between {a} and {b}"


def everything(path):
    """Every dataset and root attribute of a file, as bytes."""
    out = {}
    with h5py.File(path, "r", locking=False) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()].tobytes())
                     if isinstance(obj, h5py.Dataset) else None)
        for key, value in f.attrs.items():
            if key not in ("ranks", "omp_threads"):  # resume records the current run size
                out["@" + key] = str(value)
    return out


def status(path):
    with h5py.File(path, "r", locking=False) as f:
        return f["status"][()]
