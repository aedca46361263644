"""`advsweep run` end to end: real MPI ranks, one parallel HDF5 file, resume,
kill -9, SIGTERM, shards and merge, failed and diverged points."""
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import assert_same_results, digest, everything, mpi_env, run, status

JOB = """\
name: e2e
seeds: 2
fixed: {d: 6, n: 16, delta: 0.1, epsilon: 0.05, c_alpha: 20, steps: 80, H: 1,
        eval_count: 2, eval_steps: 5, eval_restarts: 2, pgd_steps: 3}
grid:
  m: [4, 8, 16]
  attack: [none, pgd]
"""

# Long enough to be interrupted (a few seconds per point).
SLOW_JOB = """\
name: slow
seeds: 2
fixed: {d: 8, n: 32, delta: 0.1, epsilon: 0.05, steps: 300, H: 2,
        eval_count: 2, eval_steps: 5, eval_restarts: 2, pgd_steps: 5}
grid:
  m: [128, 256, 512]
  attack: [none, pgd]
"""


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    (d / "e2e.yaml").write_text(JOB)
    (d / "slow.yaml").write_text(SLOW_JOB)
    return d


@pytest.fixture(scope="module")
def reference(advsweep, jobs, tmp_path_factory):
    """The serial, uninterrupted run every other run must reproduce bit for bit."""
    out = tmp_path_factory.mktemp("ref") / "ref.h5"
    proc = run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out)], check=0)
    assert "12 points" in proc.stdout
    assert np.all(status(out) == 1)
    return out


@pytest.fixture(scope="module")
def slow_reference(advsweep, jobs, tmp_path_factory):
    out = tmp_path_factory.mktemp("slowref") / "slow.h5"
    run([advsweep, "run", str(jobs / "slow.yaml"), "-o", str(out), "-q"], ranks=3, check=0)
    return out


@pytest.mark.parametrize("ranks", [2, 3])
def test_rank_count_does_not_change_results(advsweep, jobs, reference, tmp_path, ranks):
    out = tmp_path / f"r{ranks}.h5"
    run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out)], ranks=ranks, check=0)
    assert_same_results(reference, out)
    with h5py.File(out, "r") as f:
        workers = set(f["worker/rank"][()])
        assert 0 not in workers  # the master only dispatches
        assert f.attrs["ranks"] == ranks


# Wide enough that OpenBLAS splits its GEMMs over threads (m n m = 256 x 64 x 256).
THREADED_JOB = """\
name: threaded
fixed: {d: 16, n: 64, steps: 8, H: 2, attack: pgd, pgd_steps: 3, eval_count: 1, eval_steps: 2}
grid:
  m: [256]
  seed: [1, 2]
"""


def test_threads_default_to_a_share_of_the_cores_and_do_not_change_results(advsweep, tmp_path):
    job = tmp_path / "threaded.yaml"
    job.write_text(THREADED_JOB)
    unset = mpi_env()
    del unset["OMP_NUM_THREADS"]
    cores = len(os.sched_getaffinity(0))

    def header(proc):
        line = proc.stdout.splitlines()[0]
        assert "thread" in line, line
        return line

    # serial, OMP_NUM_THREADS unset: the one training rank takes every core
    serial = tmp_path / "serial.h5"
    line = header(run([advsweep, "run", str(job), "-o", str(serial)], check=0, env=unset))
    want = f"{cores} thread{'s' if cores > 1 else ''} per rank ({cores} core{'s' if cores > 1 else ''} / 1 training rank"
    assert want in line, line
    with h5py.File(serial, "r") as f:
        assert f.attrs["omp_threads"] == cores
    # a set OMP_NUM_THREADS is kept, and the results are the same bits as with every core
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.h5"
        line = header(run([advsweep, "run", str(job), "-o", str(out)], ranks=3, check=0, env=mpi_env(threads)))
        assert f"{threads} thread{'s' if threads > 1 else ''} per rank (OMP_NUM_THREADS)" in line, line
        with h5py.File(out, "r") as f:
            assert f.attrs["omp_threads"] == threads
        assert_same_results(serial, out)
    # unset under mpirun: the two workers share the cores (mpirun may also bind them)
    shared = tmp_path / "shared.h5"
    line = header(run([advsweep, "run", str(job), "-o", str(shared)], ranks=3, check=0, env=unset))
    assert "/ 2 training ranks on the node" in line, line
    with h5py.File(shared, "r") as f:
        assert 1 <= f.attrs["omp_threads"] <= max(1, cores // 2)
    assert_same_results(serial, shared)


def test_rerun_resumes_and_rewrites_nothing(advsweep, jobs, reference, tmp_path):
    out = tmp_path / "resume.h5"
    run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out)], check=0)
    before = everything(out)
    proc = run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out)], ranks=2, check=0)
    assert "0 to run" in proc.stdout
    after = everything(out)  # every dataset, wall times and worker ranks included: nothing was rewritten
    assert sorted(before) == sorted(after)
    for name in before:
        assert before[name] == after[name], name


def test_other_job_refused_and_file_untouched(advsweep, jobs, reference, tmp_path):
    out = tmp_path / "other.h5"
    run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out)], check=0)
    before = digest(out)
    # a job with points the file lacks: refused, saying how to extend; the file untouched
    other = tmp_path / "other.yaml"
    other.write_text(JOB.replace("m: [4, 8, 16]", "m: [4, 8, 32]"))
    proc = run([advsweep, "run", str(other), "-o", str(out)], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "lacks 4 of this job's 12 points" in proc.stderr and "--extend" in proc.stderr
    assert digest(out) == before
    # a changed fixed parameter is another point (its key differs)
    changed = tmp_path / "changed.yaml"
    changed.write_text(JOB.replace("steps: 80", "steps: 81"))
    proc = run([advsweep, "run", str(changed), "-o", str(out)], check=2)
    assert "lacks 12 of this job's 12 points" in proc.stderr
    assert digest(out) == before
    # a job whose points the file holds resumes it, whatever its grid: nothing to run, nothing written
    subset = tmp_path / "subset.yaml"
    subset.write_text(JOB.replace("m: [4, 8, 16]", "m: [16, 4]"))
    proc = run([advsweep, "run", str(subset), "-o", str(out)], check=0)
    assert "0 to run" in proc.stdout
    run([advsweep, "run", str(other), "-o", str(out), "--fresh"], check=0)
    with h5py.File(out, "r") as f:
        assert f.attrs["n_points"] == 12


def test_not_a_sweep_file_refused(advsweep, jobs, tmp_path):
    out = tmp_path / "precious.h5"
    out.write_text("user data, not HDF5")
    proc = run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out)], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert out.read_text() == "user data, not HDF5"


def interrupt(advsweep, job, out, sig, after, ranks=3, extra=()):
    env = mpi_env()
    proc = subprocess.Popen(["mpirun", "-n", str(ranks), advsweep, "run", str(job), "-o", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    # wait until some points are done, then interrupt
    deadline = time.time() + 120
    while time.time() < deadline:
        if out.exists():
            try:
                if np.count_nonzero(status(out) == 1) >= after:
                    break
            except OSError:
                pass
        time.sleep(0.05)
    if sig == signal.SIGKILL:
        # mpirun and every rank, at once (Open MPI puts the ranks in process groups of their own;
        # a rank left alive would still hold the file's lock, and a rerun would rightly be refused)
        ranks = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in ranks:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    else:
        # As SLURM does (--signal, scancel --signal): the ranks get the signal and
        # mpirun passes their exit status on. (A signal to mpirun itself makes it
        # kill the job and exit 1, whatever the ranks return.)
        subprocess.run(["pkill", f"-{sig.name[3:]}", "-x", "advsweep", "-P", str(proc.pid)])
    out_text, err_text = proc.communicate(timeout=120)
    return proc.returncode, out_text, err_text


def test_kill9_then_rerun_gives_the_uninterrupted_result(advsweep, jobs, slow_reference, tmp_path):
    out = tmp_path / "killed.h5"
    code, _, _ = interrupt(advsweep, jobs / "slow.yaml", out, signal.SIGKILL, after=2)
    assert code != 0
    st = status(out)  # still a readable sweep file
    assert 0 < np.count_nonzero(st == 1) < len(st)
    run([advsweep, "run", str(jobs / "slow.yaml"), "-o", str(out), "-q"], ranks=2, check=0)
    assert_same_results(slow_reference, out)


def test_sigterm_exits_3_then_resume_completes(advsweep, jobs, slow_reference, tmp_path):
    out = tmp_path / "term.h5"
    code, stdout, stderr = interrupt(advsweep, jobs / "slow.yaml", out, signal.SIGTERM, after=1,
                                     extra=("--grace", "0"))
    assert code == 3, (stdout, stderr)
    st = status(out)
    assert np.count_nonzero(st == 1) < len(st)
    run([advsweep, "run", str(jobs / "slow.yaml"), "-o", str(out), "-q"], check=0)
    assert_same_results(slow_reference, out)


def test_time_limit_hands_out_only_what_fits(advsweep, jobs, tmp_path):
    out = tmp_path / "tl.h5"
    proc = run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(out), "--time-limit", "5", "--rate", "1e-9"],
               check=3)
    assert np.all(status(out) == 0)
    assert "rerun" in proc.stderr


def test_time_limit_stops_points_that_overran_their_estimate(advsweep, tmp_path):
    """Points estimated to fit (a huge --rate) that outlast the time limit: at the limit the
    run stops as on a stop request (grace, then abandoned, exit 3) instead of running on
    until the batch system kills it; a rerun redoes them."""
    from test_interrupt import ENDLESS
    job = tmp_path / "endless.yaml"
    job.write_text(ENDLESS)
    out = tmp_path / "tl.h5"
    start = time.monotonic()
    proc = run([advsweep, "run", str(job), "-o", str(out), "--time-limit", "3", "--grace", "1", "--rate", "1e9"],
               ranks=3, check=3, timeout=120)
    assert time.monotonic() - start < 60, "the run went on past its time limit"
    assert "time limit reached with points running" in proc.stderr, proc.stderr
    assert "abandoned" in proc.stdout and "rerun" in proc.stderr
    assert not np.any(status(out) == 1)


def test_shards_and_merge_equal_one_run(advsweep, jobs, reference, tmp_path):
    parts = []
    for i in range(3):
        part = tmp_path / f"shard{i}.h5"
        run([advsweep, "run", str(jobs / "e2e.yaml"), "-o", str(part), "--shard", f"{i}/3"], check=0)
        st = status(part)
        assert all((st[k] == 1) == (k % 3 == i) for k in range(len(st)))
        parts.append(str(part))
    merged = tmp_path / "merged.h5"
    run([advsweep, "merge", "-o", str(merged), *parts], check=0)
    assert np.all(status(merged) == 1)
    res_ref = {k: v for k, v in __import__("conftest").results(reference).items()}
    res_m = __import__("conftest").results(merged)
    for name in res_ref:
        if name.startswith(("params", "summary", "traj", "eval", "status")):
            assert res_ref[name].tobytes() == res_m[name].tobytes(), name


FAILING_JOB = """\
name: failing
fixed: {d: 2, n: 40, steps: 20, eval_count: 1, eval_steps: 2, m: 8, H: 2}
grid:
  delta: [0.01, 1.9]       # 1.9: opposite labels cannot be 3.8 apart: the point fails
  lr: [0.01, 1e200]        # 1e200: the point diverges
"""


def test_failed_and_diverged_points_are_results(advsweep, tmp_path):
    job = tmp_path / "failing.yaml"
    job.write_text(FAILING_JOB)
    out = tmp_path / "failing.h5"
    run([advsweep, "run", str(job), "-o", str(out)], ranks=2, check=0)
    with h5py.File(out, "r") as f:
        st = f["status"][()]
        reasons = [r.decode() for r in f["reason"][()]]
        delta, lr = f["params/delta"][()], f["params/lr"][()]
    for k in range(len(st)):
        if delta[k] > 1:
            assert st[k] == 2 and "cannot place" in reasons[k]
        elif lr[k] > 1:
            assert st[k] == 3 and "step" in reasons[k]
        else:
            assert st[k] == 1 and reasons[k] == ""
    proc = run([advsweep, "run", str(job), "-o", str(out), "--retry-failed"], check=0)
    assert "3 failed or diverged points will be rerun" in proc.stdout
    assert np.array_equal(status(out), st)


def test_status_command(advsweep, jobs, reference, tmp_path):
    proc = run([advsweep, "status", str(reference)], check=0)
    assert "12" in proc.stdout and "done" in proc.stdout
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    proc = run([advsweep, "status", str(bad)], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text,fragment", [
    ("name: x\ngrid:\n  m: [0, 8]\n", "m"),
    ("name: x\ngrid:\n  frobnicate: [1]\n", "frobnicate"),
    ("name: x\ngrid: [\n", "YAML"),
    ("name: x\nfixed: {model: twolayer, m: 15}\n", "even"),
])
def test_bad_job_files(advsweep, tmp_path, text, fragment):
    job = tmp_path / "bad.yaml"
    job.write_text(text)
    out = tmp_path / "bad.h5"
    proc = run([advsweep, "run", str(job), "-o", str(out)], check=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not out.exists()
    # under mpirun: the same one line from advsweep (mpirun adds its own notice)
    proc = run([advsweep, "run", str(job), "-o", str(out)], ranks=2, check=2)
    ours = [l for l in proc.stderr.splitlines() if l.startswith("advsweep")]
    assert ours == lines
    assert not out.exists()
    assert run([advsweep, "run", str(tmp_path / "missing.yaml")], check=2).stderr.count("\n") == 1
