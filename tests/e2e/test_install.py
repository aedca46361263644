"""Installed use: `cmake --install` into a temporary prefix, then the installed
binary, the installed analysis/report.py and the installed slurm/submit
(--dry-run) run from there — with no checkout or build directory on PATH, and
after the whole tree is moved elsewhere (the layout is relative)."""
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest

from conftest import mpi_env, run

JOB = """\
name: tiny
seeds: 1
fixed: {d: 6, n: 16, steps: 200, eval_count: 2, eval_steps: 3, H: 1}
grid:
  m: [2, 8, 16]
  attack: [none, pgd]
"""


@pytest.fixture(scope="module")
def installed(advsweep, tmp_path_factory):
    build = Path(advsweep).resolve().parent
    if not (build / "CMakeCache.txt").exists():
        pytest.skip(f"{advsweep} is not in a CMake build directory")
    first = tmp_path_factory.mktemp("install") / "prefix"
    proc = subprocess.run(["cmake", "--install", str(build), "--prefix", str(first)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # relocatable: move the installed tree before using it
    prefix = first.parent / "moved"
    shutil.move(str(first), str(prefix))
    return prefix


def clean_env(prefix=None):
    """No checkout, no build directory and no other advsweep on PATH."""
    env = mpi_env()
    env["PATH"] = "/usr/bin:/bin"
    env.pop("ADVSWEEP_CONF", None)
    return env


def test_layout(installed):
    share = installed / "share" / "advsweep"
    assert os.access(installed / "bin" / "advsweep", os.X_OK)
    for path in ("slurm/submit", "slurm/sweep.sbatch", "slurm/jobenv.sh", "slurm/site.conf",
                 "analysis/report.py", "analysis/advsweep_analysis/report.py", "jobs/demo.yaml"):
        assert (share / path).is_file(), path
    assert os.access(share / "slurm" / "submit", os.X_OK)
    assert not list(share.rglob("__pycache__"))


def test_installed_binary_runs(installed, advsweep, tmp_path):
    binary = str(installed / "bin" / "advsweep")
    assert run([binary, "--version"], check=0).stdout == run([advsweep, "--version"], check=0).stdout
    # the installed demo job is the embedded default
    demo = (installed / "share" / "advsweep" / "jobs" / "demo.yaml").read_text()
    assert run([binary, "run", "--print-default"], check=0).stdout == demo


def test_installed_report_on_a_small_sweep(installed, tmp_path):
    binary = str(installed / "bin" / "advsweep")
    job = tmp_path / "tiny.yaml"
    job.write_text(JOB)
    out = tmp_path / "tiny.h5"
    run([binary, "run", str(job), "-o", str(out), "-q"], check=0, env=clean_env(), cwd=tmp_path)
    with h5py.File(out, "r") as f:
        assert list(f["status"][()]) == [1] * 6
    report = installed / "share" / "advsweep" / "analysis" / "report.py"
    proc = run(["/usr/bin/python3", str(report), str(out), "-o", str(tmp_path / "rep")], check=0,
               env=clean_env(), cwd="/")
    text = (tmp_path / "rep" / "report.md").read_text()
    assert text.startswith("# advsweep report: tiny") and "Width requirement" in text, proc.stdout


def submit(installed, tmp_path, conf_lines=(), *args):
    slurm = installed / "share" / "advsweep" / "slurm"
    conf = tmp_path / "site.conf"
    conf.write_text((slurm / "site.conf").read_text() + "\n" + "\n".join(conf_lines) + "\n")
    job = tmp_path / "tiny.yaml"
    job.write_text(JOB)
    return run([str(slurm / "submit"), "--dry-run", "--config", str(conf), *args, str(job)],
               env=clean_env(), cwd=tmp_path)


def test_installed_submit_finds_the_installed_binary(installed, tmp_path):
    proc = submit(installed, tmp_path)
    assert proc.returncode == 0, proc.stderr
    binary = (installed / "bin" / "advsweep").resolve()
    assert f"binary: {binary};" in proc.stdout
    assert "srun --mpi=pmix (SRUN_MPI)" in proc.stdout  # the default of site.conf
    slurm = (installed / "share" / "advsweep" / "slurm").resolve()
    assert f"{slurm}/sweep.sbatch" in proc.stdout and "dry run: nothing submitted" in proc.stdout
    assert "build/advsweep" not in proc.stdout


@pytest.mark.parametrize("value,shown", [("pmi2", "srun --mpi=pmi2 (SRUN_MPI)"),
                                         ("cray_shasta", "srun --mpi=cray_shasta"),
                                         ("", "the cluster's default MPI plugin")])
def test_srun_mpi_flavour_from_site_conf(installed, tmp_path, value, shown):
    proc = submit(installed, tmp_path, [f'SRUN_MPI="{value}"'])
    assert proc.returncode == 0, proc.stderr
    assert shown in proc.stdout


def test_bad_srun_mpi_refused(installed, tmp_path):
    proc = submit(installed, tmp_path, ['SRUN_MPI="pmix; rm -rf /"'])
    assert proc.returncode == 2
    assert "SRUN_MPI" in proc.stdout + proc.stderr


def test_site_binary_wins(installed, tmp_path, advsweep):
    proc = submit(installed, tmp_path, [f'ADVSWEEP="{advsweep}"'])
    assert proc.returncode == 0, proc.stderr
    assert f"binary: {advsweep};" in proc.stdout
