"""Ctrl-C in a real terminal: an interactive bash on a pseudo-terminal (job
control on, as in a user's terminal) runs `mpirun -n 3 advsweep run ...` (real
mpirun, real ranks) or `advsweep run` alone, and the test types Ctrl-C (byte
0x03, which the terminal turns into SIGINT for its foreground process group).

The first Ctrl-C stops the handing out of points, says so at once, lets the
running points finish and exits 3 ("rerun to resume"); a second one abandons
them at once; the shell gets its terminal back in working order; a rerun
completes the file to exactly the uninterrupted result."""
import os
import pty
import re
import select
import signal
import time

import numpy as np
import pytest

from conftest import assert_same_results, mpi_env, run, status

# Points of a few seconds each, so that Ctrl-C lands while some run.
SLOW = """\
name: slow
seeds: 2
fixed: {d: 8, n: 32, delta: 0.1, epsilon: 0.05, steps: 200, H: 2,
        eval_count: 2, eval_steps: 5, eval_restarts: 2, pgd_steps: 5}
grid:
  m: [128, 256]
  attack: [none, pgd]
"""
# For the tests that abandon running points: a point must outlast any grace
# period and polling interval on any machine, however fast its BLAS kernel.
ENDLESS = SLOW.replace("steps: 200,", "steps: 1000000,")
assert ENDLESS != SLOW
POINTS = 8
WORKERS = 2
CTRL_C = "\x03"
ENTER = "\r"  # what a terminal's Enter key sends


class Terminal:
    """bash -i on a pseudo-terminal: what a user's terminal window runs."""

    def __init__(self, cwd):
        env = mpi_env()
        env.update(PS1="$ ", TERM="dumb", INPUTRC="/dev/null")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: session leader with the pty as controlling terminal
            os.chdir(cwd)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
        self.out = ""
        self.pump(0.5)

    def pump(self, seconds):
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.1))
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                self.out += data.decode(errors="replace")

    def type(self, text):
        os.write(self.fd, text.encode())

    def wait_for(self, pattern, timeout=300, since=0):
        """Pump output until `pattern` (a regex) appears after offset `since`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.out[since:])
            if m:
                return m
            self.pump(0.1)
        raise AssertionError(f"no {pattern!r} in the terminal within {timeout} s:\n{self.out[since:]}")

    def wait_until(self, predicate, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            self.pump(0.1)
        raise AssertionError(f"condition not reached within {timeout} s:\n{self.out}")

    def command(self, line):
        """Type a command line; returns the offset of its output."""
        start = len(self.out)
        self.type(line + f"; echo EXIT=$?{ENTER}")
        return start

    def exit_status(self, since, timeout=300):
        return int(self.wait_for(r"EXIT=(\d+)", timeout, since).group(1))

    def assert_usable(self):
        """The shell has its terminal back and Enter ends a line again."""
        start = len(self.out)
        self.type(f"echo OK-$((40 + 2)){ENTER}")
        self.wait_for(r"OK-42", 30, start)

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)


@pytest.fixture
def term(tmp_path):
    t = Terminal(tmp_path)
    yield t
    t.close()


@pytest.fixture(scope="module")
def slow_job(tmp_path_factory):
    path = tmp_path_factory.mktemp("job") / "slow.yaml"
    path.write_text(SLOW)
    return path


@pytest.fixture(scope="module")
def endless_job(tmp_path_factory):
    path = tmp_path_factory.mktemp("job") / "endless.yaml"
    path.write_text(ENDLESS)
    return path


@pytest.fixture(scope="module")
def reference(advsweep, slow_job, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "slow.h5"
    run([advsweep, "run", str(slow_job), "-o", str(out), "-q"], ranks=3, check=0)
    return out


def counts(path):
    try:
        st = status(path)
    except (OSError, KeyError):
        return None
    return {k: int(np.count_nonzero(st == v)) for k, v in (("done", 1), ("running", 4))}


def done_at_least(path, n):
    c = counts(path) if path.exists() else None
    return c is not None and c["done"] >= n


def test_first_ctrl_c_under_mpirun(advsweep, slow_job, reference, term, tmp_path):
    out = tmp_path / "slow.h5"
    start = term.command(f"mpirun -n 3 {advsweep} run {slow_job} -o {out} --grace 300")
    term.wait_until(lambda: done_at_least(out, 1))
    before = counts(out)["done"]
    term.type(CTRL_C)
    at = len(term.out)
    term.wait_for(r"advsweep run: Ctrl-C: no new points", 60, at)  # said at once, not at the end
    term.type(f"oops{ENTER}")  # a line typed meanwhile must not stop mpirun (SIGTTIN)
    code = term.exit_status(start)
    text = term.out[start:]
    assert code == 3, text
    assert "rerun to resume" in text
    assert "Stopped" not in text
    assert text.count("advsweep run: Ctrl-C: no new points") == 1
    # mpirun did not kill the job: the running points finished, none was left "running"
    after = counts(out)
    assert after["running"] == 0, text
    assert before <= after["done"] <= before + 2 * WORKERS and after["done"] < POINTS, (before, after)
    term.assert_usable()
    # rerun to resume: the uninterrupted result
    run([advsweep, "run", str(slow_job), "-o", str(out), "-q"], ranks=3, check=0)
    assert_same_results(reference, out)


def test_second_ctrl_c_abandons_at_once(advsweep, slow_job, reference, term, tmp_path):
    out = tmp_path / "slow.h5"
    start = term.command(f"mpirun -n 3 {advsweep} run {slow_job} -o {out} --grace 300")
    term.wait_until(lambda: out.exists() and counts(out) is not None and counts(out)["running"] == WORKERS)
    term.type(CTRL_C)
    term.wait_for(r"Ctrl-C: no new points", 60, start)
    term.type(CTRL_C)  # only rank 0 sees it: the master relays the abort to the workers
    term.wait_for(r"second stop request: abandoning the running points now", 60, start)
    code = term.exit_status(start)
    text = term.out[start:]
    assert code == 3 and "rerun to resume" in text, text
    assert "abandoned (will be redone on resume)" in text
    assert counts(out)["running"] >= 1  # abandoned points stay "running" in the file
    term.assert_usable()
    run([advsweep, "run", str(slow_job), "-o", str(out), "-q"], ranks=2, check=0)
    assert_same_results(reference, out)


def test_grace_period_ends_running_points(advsweep, endless_job, term, tmp_path):
    out = tmp_path / "endless.h5"
    start = term.command(f"mpirun -n 3 {advsweep} run {endless_job} -o {out} --grace 1")
    term.wait_until(lambda: out.exists() and counts(out) is not None and counts(out)["running"] == WORKERS)
    term.type(CTRL_C)
    term.wait_for(r"grace period of 1 s over: abandoning the running points", 120, start)
    assert term.exit_status(start) == 3
    assert counts(out)["running"] >= 1
    term.assert_usable()


def test_ctrl_c_without_mpirun(advsweep, slow_job, reference, term, tmp_path):
    out = tmp_path / "slow.h5"
    start = term.command(f"{advsweep} run {slow_job} -o {out} --grace 300")
    term.wait_until(lambda: done_at_least(out, 1))
    before = counts(out)["done"]
    term.type(CTRL_C)
    term.wait_for(r"advsweep run: Ctrl-C: no new points", 60, start)
    code = term.exit_status(start)
    text = term.out[start:]
    assert code == 3 and "rerun to resume" in text, text
    after = counts(out)
    assert after["running"] == 0 and before <= after["done"] <= before + 2 and after["done"] < POINTS
    term.assert_usable()
    run([advsweep, "run", str(slow_job), "-o", str(out), "-q"], check=0)
    assert_same_results(reference, out)


def test_background_run_leaves_the_terminal_alone(advsweep, slow_job, term, tmp_path):
    out = tmp_path / "slow.h5"
    term.type(f"mpirun -n 3 {advsweep} run {slow_job} -o {out} -q > run.log 2>&1 &{ENTER}")
    term.wait_until(lambda: out.exists() and counts(out) is not None and counts(out)["running"] == WORKERS)
    term.assert_usable()  # the shell still reads its terminal: the background job did not take it
    start = len(term.out)
    term.type(f"kill -INT %1; wait; echo GONE{ENTER}")
    term.wait_for(r"GONE", 120, start)
