"""Ranks die with their job: after `kill -9` of mpirun no rank writes another row
(src/comm/lifeline.c), and a rerun completes to the uninterrupted results."""
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import assert_same_results, digest, mpi_env, run, status

# Many short points, so that workers are always close to writing one.
JOB = """\
name: lifeline
fixed: {d: 6, n: 16, delta: 0.1, steps: 300, H: 1, m: 16,
        eval_count: 2, eval_steps: 3, eval_restarts: 1, pgd_steps: 3}
grid:
  attack: [none, pgd]
  seed: {from: 1, to: 20, step: 1}
"""


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    path = tmp_path_factory.mktemp("lifeline") / "lifeline.yaml"
    path.write_text(JOB)
    return path


@pytest.fixture(scope="module")
def reference(advsweep, job, tmp_path_factory):
    out = tmp_path_factory.mktemp("lifeline-ref") / "ref.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], check=0)
    return out


def children(pid):
    """Processes whose parent is pid (the ranks mpirun started on this host)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid):
    """Running, not a zombie (an orphan's zombie may wait for a PID 1 that never reaps)."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def snapshot(path):
    st = os.stat(path)
    return digest(path), st.st_mtime_ns, status(path).tolist()


@pytest.mark.parametrize("after", [2, 9])
def test_no_row_after_mpirun_is_killed(advsweep, job, reference, tmp_path, after):
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen(["mpirun", "-n", "3", advsweep, "run", str(job), "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mpi_env(),
                            start_new_session=True)
    ranks = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            ranks = children(proc.pid)
            try:
                if len(ranks) == 3 and np.count_nonzero(status(out) == 1) >= after:
                    break
            except (OSError, KeyError):
                pass
            time.sleep(0.02)
        assert len(ranks) == 3, "mpirun did not start 3 ranks"
        assert np.count_nonzero(status(out) == 1) < len(status(out)), "the sweep ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)  # mpirun only: the ranks are not signalled
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # The ranks are told at once (parent-death signal) or within 50 ms (watchdog).
    time.sleep(0.5)
    first = snapshot(out)
    time.sleep(3)
    assert not [pid for pid in ranks if alive(pid)], "ranks outlived mpirun"
    assert snapshot(out) == first, "a rank wrote into the file after mpirun was killed"
    st = np.array(first[2])
    assert 0 < np.count_nonzero(st == 1) < len(st)
    # Points that were running stay "running" and are redone: same results as one run.
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=3, check=0)
    assert np.all(status(out) == 1)
    assert_same_results(reference, out)


def test_a_run_without_launcher_outlives_its_parent(advsweep, job, reference, tmp_path):
    """`nohup advsweep run ... &` from a shell that then exits: no lifeline, the sweep goes on."""
    out = tmp_path / "nohup.h5"
    shell = subprocess.Popen(["sh", "-c", f'"{advsweep}" run "{job}" -o "{out}" -q >/dev/null 2>&1 & echo $!'],
                             stdout=subprocess.PIPE, text=True, env=mpi_env())
    pid = int(shell.stdout.readline())
    shell.wait(timeout=30)  # the parent is gone from here on
    deadline = time.time() + 300
    while alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert np.all(status(out) == 1)
    assert_same_results(reference, out)
