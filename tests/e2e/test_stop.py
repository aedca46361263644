"""`advsweep stop FILE` from another shell: the run writing FILE (real mpirun,
real ranks, started in a session of its own, so no signal can reach it) stops
as on a first Ctrl-C, through the request file FILE.stop that its master
polls; a second request abandons the running points; stale requests and bad
input are handled without touching anything that is not ours."""
import subprocess
import time

import pytest

from conftest import assert_same_results, digest, mpi_env, run, status
# the same jobs and reference run as the Ctrl-C tests (module-scoped: made once here)
from test_interrupt import POINTS, WORKERS, counts, endless_job, reference, slow_job  # noqa: F401


def start(advsweep, job, out, *extra, ranks=3):
    cmd = [advsweep, "run", str(job), "-o", str(out), *extra]
    if ranks:
        cmd = ["mpirun", "-n", str(ranks)] + cmd
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mpi_env(),
                            start_new_session=True)


def wait_until(predicate, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("timed out")


def running(out, n):
    return lambda: out.exists() and counts(out) is not None and counts(out)["running"] >= n


def test_stop_from_another_shell(advsweep, slow_job, reference, tmp_path):
    out = tmp_path / "slow.h5"
    proc = start(advsweep, slow_job, out, "--grace", "300")
    wait_until(running(out, WORKERS), proc)
    before = counts(out)["done"]
    stop = run([advsweep, "stop", str(out)], check=0, cwd=tmp_path)
    assert "stop requested" in stop.stdout and "running" in stdout_line(stop)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 3, (stdout, stderr)
    assert f"advsweep run: stop requested ({out}.stop): no new points" in stderr
    assert "rerun to resume" in stderr
    assert not (tmp_path / "slow.h5.stop").exists()  # consumed by the run
    after = counts(out)
    assert after["running"] == 0 and after["done"] <= before + 2 * WORKERS and after["done"] < POINTS
    run([advsweep, "run", str(slow_job), "-o", str(out), "-q"], ranks=3, check=0)
    assert_same_results(reference, out)


def status_counts(advsweep, out):
    """The counts line of `advsweep status OUT`, as {name: count}, and the whole text."""
    text = run([advsweep, "status", str(out)], check=0).stdout
    line = text.splitlines()[1].replace(" (no live writer: rerun to resume)", "")
    return {item.split(" ", 1)[1]: int(item.split(" ", 1)[0]) for item in line.strip().split(", ")}, text


def stdout_line(proc):
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return lines[0]


@pytest.mark.parametrize("second", [["stop"], ["stop", "--now"]])
def test_second_stop_or_now_abandons(advsweep, endless_job, tmp_path, second):
    out = tmp_path / "endless.h5"
    proc = start(advsweep, endless_job, out, "--grace", "300")
    wait_until(running(out, WORKERS), proc)
    # while the run lives, its points are running
    shown, text = status_counts(advsweep, out)
    assert shown["running"] == WORKERS and "interrupted" not in shown and "being written by run" in text, text
    run([advsweep, "stop", str(out)], check=0)
    wait_until(lambda: not (tmp_path / "endless.h5.stop").exists(), proc)  # the master took the first
    run([advsweep, *second, str(out)], check=0)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 3, (stdout, stderr)
    assert "abandoning the running points now" in stderr
    assert "abandoned (will be redone on resume)" in stdout
    abandoned = counts(out)["running"]
    assert abandoned >= 1  # left "running" in the file, so that a rerun redoes them
    # but no writer lives: status calls them what they are
    shown, text = status_counts(advsweep, out)
    assert shown["interrupted"] == abandoned and "running" not in shown, text
    assert f"{abandoned} interrupted (no live writer: rerun to resume)" in text and "being written" not in text


def test_stop_now_at_once(advsweep, endless_job, tmp_path):
    out = tmp_path / "endless.h5"
    proc = start(advsweep, endless_job, out, "--grace", "300", ranks=None)  # serial: no mpirun
    wait_until(running(out, 1), proc)
    run([advsweep, "stop", "--now", str(out)], check=0)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 3, (stdout, stderr)
    assert "stop --now requested" in stderr and "abandoning the running points now" in stderr
    assert counts(out)["running"] == 1
    assert "1 interrupted (no live writer: rerun to resume)" in status_counts(advsweep, out)[1]


def test_stale_request_is_removed_by_the_next_run(advsweep, tmp_path):
    job = tmp_path / "quick.yaml"
    job.write_text("name: quick\nfixed: {d: 4, n: 8, steps: 5, eval_count: 1, eval_steps: 2, H: 1}\n"
                   "grid:\n  m: [4, 8]\n")
    out = tmp_path / "quick.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], check=0)
    before = digest(out)
    proc = run([advsweep, "stop", str(out)], check=0)
    assert "no point is running" in proc.stdout
    assert digest(out) == before  # the sweep file is only read
    again = run([advsweep, "stop", str(out)], check=0)
    assert "already waiting" in again.stdout
    time.sleep(1.1)  # the request is older than the next run
    proc = run([advsweep, "run", str(job), "-o", str(out), "-q", "--fresh"], check=0)
    assert "older than this run" in proc.stderr
    assert not (tmp_path / "quick.h5.stop").exists()
    assert list(status(out)) == [1, 1]


@pytest.mark.parametrize("make", ["missing", "not-hdf5", "foreign-stop-file", "no-file"])
def test_bad_input(advsweep, tmp_path, make):
    job = tmp_path / "quick.yaml"
    job.write_text("name: quick\nfixed: {d: 4, n: 8, steps: 5, eval_count: 1, eval_steps: 2, H: 1}\n"
                   "grid:\n  m: [4]\n")
    target = tmp_path / "x.h5"
    args = [str(target)]
    if make == "not-hdf5":
        target.write_text("not a sweep file")
    elif make == "foreign-stop-file":
        run([advsweep, "run", str(job), "-o", str(target), "-q"], check=0)
        (tmp_path / "x.h5.stop").write_text("my notes\n")
    elif make == "no-file":
        args = []
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    proc = run([advsweep, "stop", *args], check=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("advsweep: error: "), proc.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files  # nothing written or changed
