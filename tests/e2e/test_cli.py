"""advsweep's command line: help, version, bad input, `train -o`."""
import os
import subprocess

import h5py
import numpy as np
import pytest

from conftest import ROOT, run, assert_same_results

FAST = ["--m", "16", "--d", "6", "--n", "16", "--steps", "40", "--eval_count", "2", "--eval_steps", "5"]


def test_help_and_version(advsweep):
    out = run([advsweep, "--version"], check=0).stdout
    assert out.startswith("advsweep ")
    assert "(" in out and out.strip().endswith(")")  # the source revision
    top = run([advsweep, "--help"], check=0).stdout
    for cmd in ("train", "run", "plan", "status", "merge", "bench"):
        assert cmd in top
    train = run([advsweep, "train", "--help"], check=0).stdout
    for param in ("--m ", "--H ", "--delta", "--attack", "--R ", "--epsilon", "--c_alpha"):
        assert param in train
    assert run([advsweep], check=2).stderr
    assert "unknown command" in run([advsweep, "frobnicate"], check=2).stderr


BAD = [
    (["--m", "0"], "m"), (["--m", "-3"], "m"), (["--model", "twolayer", "--m", "15"], "m"),
    (["--H", "0"], "H"), (["--d", "1"], "d"), (["--n", "0"], "n"),
    (["--delta", "2"], "delta"), (["--delta", "-0.1"], "delta"),
    (["--epsilon", "0"], "epsilon"), (["--lr", "0"], "lr"), (["--lr", "-1"], "lr"),
    (["--model", "resnet"], "model"), (["--activation", "tanh"], "activation"),
    (["--loss", "hinge"], "loss"), (["--attack", "cw"], "attack"),
    (["--data", "file", "--data_file", "/nonexistent.h5"], "nonexistent"),
    (["--frobnicate", "1"], "frobnicate"),
]


@pytest.mark.parametrize("args,name", BAD)
def test_bad_train_input(advsweep, tmp_path, args, name):
    out = tmp_path / "out.h5"
    proc = run([advsweep, "train", *args, "-o", str(out)], check=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("advsweep: error:") and name in lines[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_data_files(advsweep, tmp_path):
    noth5 = tmp_path / "x.h5"
    noth5.write_text("not hdf5")
    proc = run([advsweep, "train", *FAST, "--data", "file", "--data_file", str(noth5)], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1
    nox = tmp_path / "nox.h5"
    with h5py.File(nox, "w") as f:
        f["y"] = np.ones(16)
    proc = run([advsweep, "train", *FAST, "--data", "file", "--data_file", str(nox)], check=2)
    assert "/x" in proc.stderr or "x" in proc.stderr
    badlabels = tmp_path / "bad.h5"
    with h5py.File(badlabels, "w") as f:
        f["x"] = np.random.default_rng(0).normal(size=(16, 6))
        f["y"] = np.zeros(16)
    proc = run([advsweep, "train", *FAST, "--data", "file", "--data_file", str(badlabels)], check=2)
    assert "label" in proc.stderr


def test_user_data_file_projected_with_warning(advsweep, tmp_path):
    rng = np.random.default_rng(1)
    data = tmp_path / "data.h5"
    with h5py.File(data, "w") as f:
        f["x"] = 3 * rng.normal(size=(16, 6))
        f["y"] = np.where(rng.random(16) < 0.5, -1.0, 1.0)
    proc = run([advsweep, "train", *FAST, "--data", "file", "--data_file", str(data), "--delta", "0"], check=0)
    assert "projected" in proc.stderr and "16 of 16" in proc.stderr
    assert proc.stdout.startswith("done")


def test_train_output_file_layout(advsweep, tmp_path):
    out = tmp_path / "one.h5"
    proc = run([advsweep, "train", *FAST, "--attack", "pgd", "-o", str(out)], check=0)
    assert proc.stdout.startswith("done") and "min L_A" in proc.stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["layout_version"] == 1
        assert f.attrs["n_points"] == 1
        assert f["status"][0] == 1
        assert f["params/m"][0] == 16 and f["params/attack"][0] == b"pgd"
        n = f["traj/length"][0]
        steps = f["traj/step"][0, :n]
        assert steps[0] == 0 and steps[-1] == 40 and np.all(np.diff(steps) > 0)
        assert np.all(np.isnan(f["traj/surrogate_loss"][0, n:]))
        runs = f["runs"][()]
        assert runs["min_surrogate"][0] == f["summary/min_surrogate"][0]
        assert f["summary/steps_run"][0] == 40


def test_train_is_bit_identical(advsweep, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    args = [advsweep, "train", *FAST, "--pgd_restarts", "2", "--pgd_random_start", "1"]
    run(args + ["-o", str(a)], check=0)
    run(args + ["-o", str(b)], check=0)
    assert_same_results(a, b)


def git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def test_version_names_the_source_revision(advsweep):
    described = git("describe", "--always", "--dirty", "--tags")
    if described.returncode != 0:
        pytest.skip("not a git checkout")
    out = run([advsweep, "--version"], check=0).stdout.strip()
    # the binary may have been built before the last edit: compare the commit, not -dirty
    head = described.stdout.strip().removesuffix("-dirty")
    assert f"(git {head}" in out, (out, head)


def test_revision_fallbacks_without_git(tmp_path):
    """A `git archive` tarball knows its commit (export-subst); a bare copy says unknown."""
    if git("rev-parse", "HEAD").returncode != 0:
        pytest.skip("not a git checkout")
    tar = tmp_path / "src.tar"
    assert git("archive", "--format=tar", "-o", str(tar), "HEAD").returncode == 0
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["tar", "-xf", str(tar), "-C", str(src)], check=True)
    out = tmp_path / "rev.h"
    script = src / "cmake" / "revision.cmake"
    subprocess.run(["cmake", f"-DSOURCE_DIR={src}", f"-DOUTPUT={out}", "-P", str(script)], check=True)
    short = git("rev-parse", "--short", "HEAD").stdout.strip()
    assert f'"source archive of {short} ' in out.read_text()
    (src / "cmake" / "REVISION").unlink()  # neither git nor an archive
    subprocess.run(["cmake", f"-DSOURCE_DIR={src}", f"-DOUTPUT={out}", "-P", str(script)], check=True)
    assert "revision unknown" in out.read_text()
