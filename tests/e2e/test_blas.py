"""The BLAS kernel: advsweep reports it, stores it, and replaces a generic fallback.

OpenBLAS misreads some CPUs (Xeons with AVX-512 under Debian's 0.3.21) and runs its
Prescott (SSE3) kernels. The misread is reproduced for real: OPENBLAS_CORETYPE=Prescott
makes OpenBLAS load those kernels, and ADVSWEEP_BLAS_ASSUME_DEFAULT=1 tells advsweep to
take that as OpenBLAS's own choice rather than the user's."""
import os

import h5py
import pytest

from conftest import mpi_env, run

BENCH = ["bench", "--m", "32", "--n", "16", "--d", "4", "--k", "1", "--repeats", "1"]
LEVELS = {"prescott": 0, "sandybridge": 1, "haswell": 2, "zen": 2, "skylakex": 3, "cooperlake": 3}


def best_core():
    flags = open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0].split()
    if all(f in flags for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl")):
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return "Sandybridge" if "avx" in flags else None


def env_with(**extra):
    env = mpi_env(threads=1)
    for k in ("OPENBLAS_CORETYPE", "ADVSWEEP_BLAS_SELECT", "ADVSWEEP_BLAS_ASSUME_DEFAULT", "ADVSWEEP_BLAS_SELECTED"):
        env.pop(k, None)
    env.update(extra)
    return env


def kernel_line(out):
    line = out.splitlines()[0]
    assert "BLAS kernel " in line, line
    return line.split("BLAS kernel ", 1)[1]


def test_default_kernel_is_reported_and_never_generic(advsweep):
    kernel = kernel_line(run([advsweep] + BENCH, check=0, env=env_with()).stdout)
    best = best_core()
    if best:
        assert LEVELS.get(kernel.split()[0].lower(), 0) >= LEVELS[best.lower()], kernel


def test_generic_fallback_is_replaced_once(advsweep):
    best = best_core()
    if not best:
        pytest.skip("this CPU has no kernel better than SSE3")
    proc = run([advsweep] + BENCH, check=0, env=env_with(OPENBLAS_CORETYPE="Prescott", ADVSWEEP_BLAS_ASSUME_DEFAULT="1"))
    assert kernel_line(proc.stdout) == f"{best} (selected by advsweep: OpenBLAS chose Prescott)"
    notes = [l for l in proc.stderr.splitlines() if "OPENBLAS_CORETYPE" in l]
    assert len(notes) == 1 and f"OPENBLAS_CORETYPE={best}" in notes[0], proc.stderr


def test_user_choice_is_respected_and_opt_out_warns(advsweep):
    proc = run([advsweep] + BENCH, check=0, env=env_with(OPENBLAS_CORETYPE="Prescott"))
    assert kernel_line(proc.stdout) == "Prescott (OPENBLAS_CORETYPE set by the user)"
    assert proc.stderr == ""
    best = best_core()
    if not best:
        return
    proc = run([advsweep] + BENCH, check=0,
               env=env_with(OPENBLAS_CORETYPE="Prescott", ADVSWEEP_BLAS_ASSUME_DEFAULT="1", ADVSWEEP_BLAS_SELECT="0"))
    assert kernel_line(proc.stdout).startswith("Prescott (OpenBLAS's choice; this CPU supports")
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 1 and f"set OPENBLAS_CORETYPE={best}" in warnings[0], proc.stderr


def test_sweep_on_ranks_selects_once_and_stores_kernel(advsweep, tmp_path):
    best = best_core()
    if not best:
        pytest.skip("this CPU has no kernel better than SSE3")
    out = tmp_path / "k.h5"
    proc = run([advsweep, "train", "--m", "8", "--n", "8", "--d", "4", "--steps", "3", "-q", "-o", str(out)], check=0,
               env=env_with(OPENBLAS_CORETYPE="Prescott", ADVSWEEP_BLAS_ASSUME_DEFAULT="1"))
    assert f"(BLAS {best})" in proc.stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["blas_kernel"].decode() == f"{best} (selected by advsweep: OpenBLAS chose Prescott)"
    job = tmp_path / "j.yaml"
    job.write_text("name: k\nfixed: {m: 8, n: 8, d: 4, steps: 3, eval_count: 1, eval_steps: 2}\n"
                   "grid: {seed: [1, 2, 3]}\n")
    proc = run([advsweep, "run", str(job), "-q", "-o", str(tmp_path / "run.h5")], ranks=3, check=0,
               env=env_with(OPENBLAS_CORETYPE="Prescott", ADVSWEEP_BLAS_ASSUME_DEFAULT="1"))
    notes = [l for l in proc.stderr.splitlines() if "OPENBLAS_CORETYPE" in l]
    assert len(notes) == 1, proc.stderr  # rank 0 only
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f.attrs["blas_kernel"].decode().startswith(f"{best} (selected by advsweep")


def test_resume_under_another_kernel_warns_and_records_each_points(advsweep, tmp_path):
    """Results differ in the last bits between kernels: each point records the kernel that trained
    it (/worker/blas_kernel), a resume under another kernel says so once, and a merge of files of
    several kernels records "mixed" (docs/layout.md)."""
    job = tmp_path / "j.yaml"
    job.write_text("name: k\nfixed: {m: 8, n: 8, d: 4, steps: 3, eval_count: 1, eval_steps: 2}\n"
                   "grid: {seed: [1, 2, 3, 4]}\n")
    out = tmp_path / "k.h5"
    run([advsweep, "run", str(job), "-q", "-o", str(out), "--where", "seed<=2"], ranks=2, check=0, env=env_with())
    with h5py.File(out, "r") as f:
        kernels = f["worker/blas_kernel"][()].astype(str)
        default = f.attrs["blas_kernel"].decode().split()[0]
    assert list(kernels) == [default, default, "", ""]
    if default.lower() == "prescott":
        pytest.skip("the default kernel is Prescott already")
    # a resume under the same kernel: nothing to say
    proc = run([advsweep, "run", str(job), "-q", "-o", str(out), "--where", "seed<=3"], ranks=2, check=0,
               env=env_with())
    assert "another BLAS kernel" not in proc.stderr, proc.stderr
    # under Prescott (the user's choice): one line, naming the count and both kernels
    proc = run([advsweep, "run", str(job), "-q", "-o", str(out)], ranks=2, check=0,
               env=env_with(OPENBLAS_CORETYPE="Prescott"))
    lines = [l for l in proc.stderr.splitlines() if "another BLAS kernel" in l]
    assert len(lines) == 1, proc.stderr
    assert f"3 finished points of the file were trained under another BLAS kernel ({default}) than this run's " \
           "(Prescott)" in lines[0], lines[0]
    assert "/worker/blas_kernel" in lines[0]
    with h5py.File(out, "r") as f:
        assert list(f["worker/blas_kernel"][()].astype(str)) == [default] * 3 + ["Prescott"]
        assert list(f["status"][()]) == [1] * 4
        assert f.attrs["blas_kernel"].decode().split()[0] == default  # the creating run's
    # a file of other points made under Prescott; the merge of both: "mixed", each row's kernel kept
    other_job = tmp_path / "o.yaml"
    other_job.write_text(job.read_text().replace("[1, 2, 3, 4]", "[5, 6]"))
    other = tmp_path / "o.h5"
    run([advsweep, "run", str(other_job), "-q", "-o", str(other)], ranks=2, check=0,
        env=env_with(OPENBLAS_CORETYPE="Prescott"))
    merged = tmp_path / "m.h5"
    run([advsweep, "merge", "-o", str(merged), str(out), str(other)], check=0, env=env_with())
    with h5py.File(merged, "r") as f:
        assert f.attrs["blas_kernel"].decode() == "mixed (per point: /worker/blas_kernel)"
        assert list(f["worker/blas_kernel"][()].astype(str)) == [default] * 3 + ["Prescott"] * 3
    assert "6 finished points verified, 0 damaged" in run([advsweep, "status", "--verify", str(merged)], check=0).stdout
