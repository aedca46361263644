"""A user's own files, safely (the real binary, real ranks, real HDF5 files):
no command overwrites a file that is not a sweep file or an input of its own
(--fresh included; compared by device and inode), and data files are opened
and checked before anything runs (shape from the file, paths relative to the
job file, content in the grid fingerprint, one sphere warning per file)."""
import os
import shutil
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import digest, mpi_env, run, status


def write_data(path, n, d, seed=0, scale=1.0):
    """n points on the sphere in d dimensions (times `scale`), labels +-1 alternating."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with h5py.File(path, "w") as f:
        f["x"] = scale * x
        f["y"] = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)


def job_text(name, data_file, extra="", grid="  m: [4, 8]\n"):
    return (f"name: {name}\n"
            "fixed:\n"
            "  data: file\n"
            f"  data_file: {data_file}\n"
            "  H: 1\n  attack: none\n  steps: 20\n  eval_count: 1\n  eval_steps: 2\n"
            f"{extra}"
            f"grid:\n{grid}")


def one_error(proc):
    """The single advsweep error line (mpirun may add lines of its own)."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("advsweep: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def snapshot(directory):
    return {p.name: digest(p) for p in sorted(directory.iterdir()) if p.is_file()}


# ---- never destroy what is not ours ------------------------------------------------------------

@pytest.mark.parametrize("ranks", [None, 2])
def test_a_job_named_like_its_data_file_never_replaces_it(advsweep, tmp_path, ranks):
    """Issue 11's story: job `digits01` with data file digits01.h5 in the same directory."""
    write_data(tmp_path / "digits01.h5", 20, 5)
    (tmp_path / "digits01.yaml").write_text(job_text("digits01", "digits01.h5"))
    before = snapshot(tmp_path)
    for extra in ([], ["--fresh"]):
        proc = run([advsweep, "run", "digits01.yaml", "-q", *extra], ranks=ranks, cwd=tmp_path)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        line = one_error(proc)
        assert "is the data file" in line and "digits01.h5" in line and "-o" in line
        assert snapshot(tmp_path) == before  # nothing written, nothing changed
    # plan says so before anything runs
    proc = run([advsweep, "plan", "digits01.yaml"], check=0, cwd=tmp_path)
    assert "would refuse its default output" in proc.stderr and "is the data file" in proc.stderr
    # with another output it runs, and the data file is untouched
    run([advsweep, "run", "digits01.yaml", "-q", "-o", "sweep.h5"], ranks=ranks, check=0, cwd=tmp_path)
    assert digest(tmp_path / "digits01.h5") == before["digits01.h5"]
    assert list(status(tmp_path / "sweep.h5")) == [1, 1]


def test_output_is_an_input_under_another_name(advsweep, tmp_path):
    data = tmp_path / "data" / "d.h5"
    data.parent.mkdir()
    write_data(data, 20, 5)
    job = tmp_path / "job.yaml"
    job.write_text(job_text("j", "data/d.h5"))
    os.symlink(data, tmp_path / "link.h5")
    os.link(data, tmp_path / "hard.h5")
    before = snapshot(tmp_path) | snapshot(data.parent)
    for out in ["./data/d.h5", "data/../data/d.h5", str(data), "link.h5", "hard.h5"]:
        for extra in ([], ["--fresh"]):
            proc = run([advsweep, "run", "job.yaml", "-q", "-o", out, *extra], cwd=tmp_path)
            assert proc.returncode == 2, (out, proc.stderr)
            assert "is the data file" in one_error(proc), out
    for out in ["job.yaml", "./job.yaml"]:
        proc = run([advsweep, "run", "job.yaml", "-q", "-o", out, "--fresh"], cwd=tmp_path)
        assert proc.returncode == 2 and "is the job file" in one_error(proc)
    # train -o: the data file is an input too (refused before training)
    proc = run([advsweep, "train", "--data", "file", "--data_file", "data/d.h5", "--m", "4", "--steps", "5",
                "-o", "hard.h5", "-q"], cwd=tmp_path)
    assert proc.returncode == 2 and "is the data file" in one_error(proc) and proc.stdout == ""
    assert snapshot(tmp_path) | snapshot(data.parent) == before
    assert os.path.islink(tmp_path / "link.h5")


def test_fresh_replaces_only_sweep_files(advsweep, tmp_path):
    write_data(tmp_path / "d.h5", 20, 5)
    (tmp_path / "job.yaml").write_text(job_text("j", "d.h5"))
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    other = tmp_path / "other.h5"  # somebody's HDF5 file
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3.0)
    before = snapshot(tmp_path)
    for out in (notes, other):
        for extra in ([], ["--fresh"]):
            proc = run([advsweep, "run", "job.yaml", "-q", "-o", str(out), *extra], cwd=tmp_path)
            assert proc.returncode == 2
            line = one_error(proc)
            # with --fresh or without, the same: advsweep never replaces it (--fresh would not help)
            assert "not an advsweep sweep file, which advsweep never replaces" in line and "--fresh" not in line
        proc = run([advsweep, "train", "--m", "4", "--steps", "5", "-q", "-o", str(out)], cwd=tmp_path)
        line = one_error(proc)
        assert proc.returncode == 2 and "never replaces" in line and "--fresh" not in line and proc.stdout == ""
        proc = run([advsweep, "merge", "-o", str(out), "s-none.h5"], cwd=tmp_path)
        assert proc.returncode == 2 and "never replaces" in one_error(proc) and "--fresh" not in one_error(proc)
    assert snapshot(tmp_path) == before
    # a sweep file of another job is ours: --fresh replaces it
    run([advsweep, "train", "--m", "4", "--steps", "5", "-q", "-o", "s.h5"], check=0, cwd=tmp_path)
    proc = run([advsweep, "run", "job.yaml", "-q", "-o", "s.h5"], cwd=tmp_path)
    assert proc.returncode == 2 and "lacks 2 of this job's 2 points" in one_error(proc) and "--fresh" in proc.stderr
    run([advsweep, "run", "job.yaml", "-q", "-o", "s.h5", "--fresh"], check=0, cwd=tmp_path)
    assert list(status(tmp_path / "s.h5")) == [1, 1]
    # a file named like our temporary name is never touched either
    tmp_name = tmp_path / f"t.h5.tmp.{os.getpid()}"
    tmp_name.write_text("not ours")
    run([advsweep, "train", "--m", "4", "--steps", "5", "-q", "-o", "t.h5"], check=0, cwd=tmp_path)
    assert tmp_name.read_text() == "not ours"


def test_merge_never_writes_over_an_input(advsweep, tmp_path):
    write_data(tmp_path / "d.h5", 20, 5)
    (tmp_path / "job.yaml").write_text(job_text("j", "d.h5"))
    for i in range(2):
        run([advsweep, "run", "job.yaml", "-q", "--shard", f"{i}/2", "-o", f"s{i}.h5"], check=0, cwd=tmp_path)
    os.symlink(tmp_path / "s0.h5", tmp_path / "alias.h5")
    (tmp_path / "readme.txt").write_text("x")
    before = snapshot(tmp_path)
    for out, what in [("s0.h5", "is the input"), ("./s1.h5", "is the input"), ("alias.h5", "is the input"),
                      ("readme.txt", "not an advsweep sweep file"), ("d.h5", "not an advsweep sweep file")]:
        proc = run([advsweep, "merge", "-o", out, "s0.h5", "s1.h5"], cwd=tmp_path)
        assert proc.returncode == 2 and what in one_error(proc), (out, proc.stderr)
    assert snapshot(tmp_path) == before
    run([advsweep, "merge", "-o", "all.h5", "s0.h5", "s1.h5"], check=0, cwd=tmp_path)
    assert list(status(tmp_path / "all.h5")) == [1, 1]


# ---- data checked up front ---------------------------------------------------------------------

@pytest.mark.parametrize("ranks", [None, 3])
def test_shape_comes_from_the_data_file(advsweep, tmp_path, ranks):
    write_data(tmp_path / "d.h5", 30, 5)
    (tmp_path / "job.yaml").write_text(job_text("j", "d.h5"))
    proc = run([advsweep, "plan", "job.yaml"], check=0, cwd=tmp_path)
    assert f"{tmp_path / 'd.h5'}: n = 30 points, d = 5" in proc.stdout
    run([advsweep, "run", "job.yaml", "-q", "-o", "s.h5"], ranks=ranks, check=0, cwd=tmp_path)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert list(f["params/n"][()]) == [30, 30] and list(f["params/d"][()]) == [5, 5]
        assert list(f["summary/data_points"][()]) == [30, 30]
        assert list(f["status"][()]) == [1, 1]
    # a job giving the same shape is the same job
    (tmp_path / "same.yaml").write_text(job_text("j", "d.h5", extra="  n: 30\n  d: 5\n"))
    run([advsweep, "run", "same.yaml", "-q", "-o", "s.h5"], check=0, cwd=tmp_path)


@pytest.mark.parametrize("extra,grid,param,given", [
    ("  n: 48\n", "  m: [4, 8]\n", "n", "48"),
    ("  d: 8\n", "  m: [4, 8]\n", "d", "8"),
    ("", "  n: [30, 20]\n", "n", "20"),  # an axis: every value meets the file
])
def test_a_shape_other_than_the_file_is_refused(advsweep, tmp_path, extra, grid, param, given):
    write_data(tmp_path / "d.h5", 30, 5)
    (tmp_path / "job.yaml").write_text(job_text("j", "d.h5", extra=extra, grid=grid))
    have = "30" if param == "n" else "5"
    for cmd, ranks in ((["plan"], None), (["run", "-q"], None), (["run", "-q"], 2)):
        proc = run([advsweep, cmd[0], "job.yaml", *cmd[1:]], ranks=ranks, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        line = one_error(proc)
        assert f"key '{param}'" in line and str(tmp_path / "d.h5") in line
        assert f"{param} = {have}" in line and f"{param} = {given}" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5", "job.yaml"]


def test_bad_data_is_refused_before_anything_runs(advsweep, tmp_path):
    bad = tmp_path / "labels.h5"
    with h5py.File(bad, "w") as f:
        f["x"] = np.eye(6)
        f["y"] = np.array([0.0, 1, 0, 1, 0, 1])
    (tmp_path / "a.yaml").write_text(job_text("a", "labels.h5"))
    (tmp_path / "b.yaml").write_text(job_text("b", "missing.h5"))
    (tmp_path / "c.yaml").write_text(job_text("c", "a.yaml"))
    for job, what in [("a.yaml", "labels must be +1 or -1"), ("b.yaml", "missing.h5"),
                      ("c.yaml", "not an HDF5 file")]:
        for cmd in ("plan", "run"):
            proc = run([advsweep, cmd, job], cwd=tmp_path)
            assert proc.returncode == 2 and what in one_error(proc), (job, cmd, proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml", "c.yaml", "labels.h5"]


def test_relative_data_file_is_relative_to_the_job_file(advsweep, tmp_path):
    proj = tmp_path / "proj"
    (proj / "jobs").mkdir(parents=True)
    (proj / "data").mkdir()
    write_data(proj / "data" / "d.h5", 24, 4)
    (proj / "jobs" / "j.yaml").write_text(job_text("j", "../data/d.h5"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # a decoy of another shape where the ranks' working directory would find it
    (elsewhere / "data").mkdir()
    write_data(elsewhere / "data" / "d.h5", 10, 3)
    run([advsweep, "run", "../proj/jobs/j.yaml", "-q"], ranks=2, check=0, cwd=elsewhere)
    with h5py.File(elsewhere / "j.h5", "r") as f:
        # the resolved, absolute path is what the points record
        assert {v.decode() for v in f["params/data_file"][()]} == {str(proj / "data" / "d.h5")}
        assert list(f["params/n"][()]) == [24, 24]
    # the same from the job's own directory and with an absolute job path: the same grid
    hash_of = lambda p: h5py.File(p, "r").attrs["grid_hash"]  # noqa: E731
    run([advsweep, "run", "j.yaml", "-q", "-o", str(tmp_path / "k.h5")], check=0, cwd=proj / "jobs")
    assert hash_of(tmp_path / "k.h5") == hash_of(elsewhere / "j.h5")
    # a missing relative file says where it looked
    (proj / "jobs" / "m.yaml").write_text(job_text("m", "nowhere.h5"))
    proc = run([advsweep, "plan", str(proj / "jobs" / "m.yaml")], cwd=elsewhere)
    assert proc.returncode == 2 and str(proj / "jobs" / "nowhere.h5") in one_error(proc)


@pytest.mark.parametrize("ranks", [None, 2])
def test_regenerated_data_is_never_mixed_with_old_results(advsweep, tmp_path, ranks):
    write_data(tmp_path / "d.h5", 20, 5, seed=1)
    (tmp_path / "job.yaml").write_text(job_text("j", "d.h5", grid="  m: [4, 8, 16]\n"))
    run([advsweep, "run", "job.yaml", "-q", "-o", "s.h5"], ranks=ranks, check=0, cwd=tmp_path)
    sweep_before = digest(tmp_path / "s.h5")
    # regenerated: same shape, other values (one bit of one value suffices)
    with h5py.File(tmp_path / "d.h5", "r+") as f:
        x = f["x"][()]
        x[3, 2] = np.nextafter(x[3, 2], 2.0)
        f["x"][...] = x
    proc = run([advsweep, "run", "job.yaml", "-q", "-o", "s.h5"], ranks=ranks, cwd=tmp_path)
    line = one_error(proc)
    assert proc.returncode == 2 and "lacks 3 of this job's 3 points" in line  # new data, new points
    # and it says why: the file holds these points but for the data's content
    assert "3 of them are in the file but for the content of their data file" in line, line
    assert f"{tmp_path / 'd.h5'} changed since they were written" in line and "key holds its data's content" in line
    assert digest(tmp_path / "s.h5") == sweep_before
    # data of another shape: no point matches but for the content; the key is still named
    write_data(tmp_path / "d.h5", 24, 5, seed=1)
    line = one_error(run([advsweep, "run", "job.yaml", "-q", "-o", "s.h5"], cwd=tmp_path))
    assert "lacks 3 of this job's 3 points" in line and "of them are in the file" not in line
    assert "a point's key holds its data file's content, not the file's name: changed data make new points" in line
    write_data(tmp_path / "d.h5", 20, 5, seed=1)
    with h5py.File(tmp_path / "d.h5", "r+") as f:
        assert f["x"][()].tobytes() != x.tobytes()  # x: the regenerated values
    # the same content under another name and place is the same data: resume accepts it
    with h5py.File(tmp_path / "d.h5", "r+") as f:
        x[3, 2] = np.nextafter(x[3, 2], -2.0)
        f["x"][...] = x
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(tmp_path / "d.h5", moved / "renamed.h5")
    (moved / "job.yaml").write_text(job_text("j", "renamed.h5", grid="  m: [4, 8, 16]\n"))
    proc = run([advsweep, "run", "job.yaml", "-o", str(tmp_path / "s.h5")], ranks=ranks, check=0, cwd=moved)
    assert "0 to run" in proc.stdout


def test_data_changed_during_a_run(advsweep, tmp_path):
    """A data file replaced while the sweep runs: its later points fail, naming the change; a rerun
    with the changed data is refused, saying that the file holds these points but for the data's
    content; the restored data resumes, and --retry-failed redoes the failed points."""
    write_data(tmp_path / "d.h5", 32, 6, seed=3)
    original = (tmp_path / "d.h5").read_bytes()
    grid = "  m: {from: 40, to: 100, step: 4}\n  seed: [1, 2]\n"  # 32 points
    (tmp_path / "job.yaml").write_text(job_text("j", "d.h5", grid=grid).replace("steps: 20", "steps: 400"))
    out = tmp_path / "s.h5"
    proc = subprocess.Popen([advsweep, "run", "job.yaml", "-q", "-o", str(out)], cwd=tmp_path, env=mpi_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and 1 in status(out):
            break
        time.sleep(0.05)
    write_data(tmp_path / "new.h5", 32, 6, seed=4)  # regenerated: same shape, other values
    os.replace(tmp_path / "new.h5", tmp_path / "d.h5")  # at once: no run reads a half-written file
    stdout, stderr = proc.communicate(timeout=600)
    st = status(out)
    failed = int(np.count_nonzero(st == 2))
    assert failed >= 1 and failed + int(np.count_nonzero(st == 1)) == 32, (stdout, stderr)
    shown = run([advsweep, "status", "--failed", str(out)], check=0).stdout
    assert shown.count("changed since the sweep started (its content is in the point's key)") == failed, shown
    before = digest(out)
    line = one_error(run([advsweep, "run", "job.yaml", "-q", "-o", str(out)], cwd=tmp_path))
    assert "lacks 32 of this job's 32 points" in line
    assert "32 of them are in the file but for the content of their data file" in line, line
    assert "changed since they were written" in line and "restore the data to resume" in line
    assert digest(out) == before
    (tmp_path / "d.h5").write_bytes(original)
    run([advsweep, "run", "job.yaml", "-q", "-o", str(out), "--retry-failed"], check=0, cwd=tmp_path)
    assert list(status(out)) == [1] * 32


def test_two_data_files_of_identical_content_are_one_data(advsweep, tmp_path):
    write_data(tmp_path / "a.h5", 20, 5)
    shutil.copy(tmp_path / "a.h5", tmp_path / "b.h5")
    (tmp_path / "job.yaml").write_text(job_text("j", "a.h5").replace("  data_file: a.h5\n", "")
                                       .replace("grid:\n", "grid:\n  data_file: [a.h5, b.h5]\n"))
    before = snapshot(tmp_path)
    proc = run([advsweep, "run", "job.yaml", "-q"], cwd=tmp_path)
    line = one_error(proc)
    assert proc.returncode == 2 and "are the same point: every parameter equal but data_file" in line, line
    assert f"data files {tmp_path / 'a.h5'} and {tmp_path / 'b.h5'} have identical content" in line
    assert "(every parameter equal)" not in line
    assert snapshot(tmp_path) == before
    # other content: other points
    write_data(tmp_path / "b.h5", 20, 5, seed=9)
    run([advsweep, "run", "job.yaml", "-q"], check=0, cwd=tmp_path)
    assert list(status(tmp_path / "j.h5")) == [1] * 4


def test_one_sphere_warning_per_file_for_68_points(advsweep, tmp_path):
    write_data(tmp_path / "off.h5", 16, 4, scale=3.0)  # every row off the sphere
    write_data(tmp_path / "on.h5", 16, 4, seed=2)
    grid = "  m: {from: 2, to: 35, step: 1}\n  seed: [1, 2]\n"  # 34 x 2 = 68 points
    text = job_text("w", "off.h5", grid=grid).replace("steps: 20", "steps: 3")
    (tmp_path / "w.yaml").write_text(text)
    proc = run([advsweep, "run", "w.yaml", "-q"], ranks=3, check=0, cwd=tmp_path)
    assert list(status(tmp_path / "w.h5")) == [1] * 68
    assert proc.stderr.count("not on the unit sphere") == 1, proc.stderr
    assert "16 of 16 rows" in proc.stderr
    proc = run([advsweep, "plan", "w.yaml"], check=0, cwd=tmp_path)
    assert proc.stderr.count("not on the unit sphere") == 1
    # two files, one of them off the sphere: still one warning, naming that file
    (tmp_path / "two.yaml").write_text(
        job_text("two", "off.h5", grid="  data_file: [off.h5, on.h5]\n  m: [2, 3, 4]\n")
        .replace("  data_file: off.h5\n", ""))
    proc = run([advsweep, "run", "two.yaml", "-q"], ranks=2, check=0, cwd=tmp_path)
    assert proc.stderr.count("not on the unit sphere") == 1 and "off.h5" in proc.stderr
