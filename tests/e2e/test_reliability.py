"""Reliability end to end (issue 12): one writer per sweep file, disk full and
read-only filesystems, output paths checked before training, memory checked before
allocation, checksums, mid-point checkpoints.

Real processes, real mpirun ranks, real files; small tmpfs mounts for the full
and read-only filesystems (skipped where mounting is impossible)."""
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import ROOT, assert_same_results, digest, mpi_env, run, status

# A few seconds of training, serial: long enough that 20 starters all meet the lock.
MEDIUM = """\
name: medium
seeds: 2
fixed: {d: 8, n: 32, delta: 0.1, epsilon: 0.05, steps: 300, H: 2,
        eval_count: 2, eval_steps: 5, eval_restarts: 2, pgd_steps: 5}
grid:
  m: [64, 128]
  attack: [none, pgd]
"""
OTHER = MEDIUM.replace("name: medium", "name: other").replace("m: [64, 128]", "m: [32, 96]")
TINY = """\
name: tiny
seeds: 1
fixed: {d: 4, n: 8, steps: 5, H: 1, eval_count: 1, eval_steps: 2, eval_restarts: 1, pgd_steps: 1}
grid:
  m: [4, 8]
"""
HOST = socket.gethostname()


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    for name, text in (("medium", MEDIUM), ("other", OTHER), ("tiny", TINY)):
        (d / f"{name}.yaml").write_text(text)
    return d


@pytest.fixture(scope="module")
def reference(advsweep, jobs, tmp_path_factory):
    """Uninterrupted serial runs of each job: what every other run must reproduce."""
    d = tmp_path_factory.mktemp("ref")
    out = {}
    for name in ("medium", "other"):
        out[name] = d / f"{name}.h5"
        run([advsweep, "run", str(jobs / f"{name}.yaml"), "-o", str(out[name]), "-q"], check=0)
    return out


def one_line(text):
    lines = [x for x in text.strip().splitlines() if x]
    assert len(lines) == 1, text
    return lines[0]


def leftovers(directory, keep=()):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry))
    return out


def signal_job(proc, sig):
    """sig to mpirun (or the process) and to every rank it started (Open MPI puts
    ranks in process groups of their own)."""
    for pid in [proc.pid] + children(proc.pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def held_live_sweep(advsweep, job, out):
    """A live `mpirun -n 2` sweep of job into out, held still once a point is done
    (SIGSTOP: alive, its lock held) while the block runs; let go and waited for after
    it, so the Popen's returncode is set."""
    live = subprocess.Popen(["mpirun", "-n", "2", advsweep, "run", str(job), "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mpi_env(),
                            start_new_session=True)
    try:
        wait_for(lambda: some_done(out))
        signal_job(live, signal.SIGSTOP)
        yield live
    finally:
        signal_job(live, signal.SIGCONT)
        live.wait(timeout=600)


def some_done(path, n=1):
    try:
        return np.count_nonzero(status(path) == 1) >= n
    except (OSError, KeyError):
        return False


# ---- one writer per file ---------------------------------------------------------------------


def holder_pid(lock):
    try:
        for line in lock.read_text().splitlines():
            if line.startswith("pid="):
                return int(line[4:])
    except (OSError, ValueError):
        pass
    return None


def test_twenty_simultaneous_starts_one_writer(advsweep, jobs, reference, tmp_path):
    """20 runs of two different jobs start at once on a new file: exactly one
    runs, the 19 others refuse with one line naming the holder and change
    nothing; the file is exactly the winner's uninterrupted result. (The
    winner is held with SIGSTOP, once it has the lock, until the others are
    done, so that none of them comes after it finished.)"""
    out = tmp_path / "race.h5"
    lock = tmp_path / "race.h5.lock"
    procs = []
    for k in range(20):
        job = jobs / ("medium.yaml" if k % 2 == 0 else "other.yaml")
        procs.append(subprocess.Popen([advsweep, "run", str(job), "-o", str(out), "-q"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=mpi_env()))
    wait_for(lambda: holder_pid(lock) is not None, timeout=300)
    held = holder_pid(lock)
    os.kill(held, signal.SIGSTOP)
    try:
        others = [p for p in procs if p.pid != held]
        assert len(others) == 19
        results = [(p, *p.communicate(timeout=600)) for p in others]
    finally:
        os.kill(held, signal.SIGCONT)
    results += [(p, *p.communicate(timeout=600)) for p in procs if p.pid == held]
    winners = [p for p, _, _ in results if p.returncode == 0]
    assert len(winners) == 1, [(p.returncode, e) for p, _, e in results]
    winner = winners[0]
    assert winner.pid == held
    for p, _, err in results:
        if p is winner:
            continue
        assert p.returncode == 2, err
        line = one_line(err)
        assert f"{out} is being written by run on host {HOST}, pid {winner.pid}, since 20" in line, line
    job = "medium" if "medium.yaml" in winner.args[2] else "other"
    with h5py.File(out, "r", locking=False) as f:
        assert f.attrs["job_name"].decode() == job
    assert_same_results(reference[job], out)
    assert leftovers(tmp_path) == ["race.h5"]  # no lock, no temporary file


def test_fresh_train_and_merge_refused_under_a_live_sweep(advsweep, jobs, reference, tmp_path):
    out = tmp_path / "live.h5"
    with held_live_sweep(advsweep, jobs / "medium.yaml", out) as live:
        inode = os.stat(out).st_ino
        other = tmp_path / "other.h5"
        run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(other), "-q"], check=0)
        for cmd in ([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out), "--fresh"],
                    [advsweep, "run", str(jobs / "other.yaml"), "-o", str(out), "--fresh"],
                    [advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out), "--retry-failed"],
                    [advsweep, "train", "--steps", "5", "-o", str(out)],
                    [advsweep, "merge", "-o", str(out), str(other)]):
            proc = run(cmd, check=2)
            line = one_line(proc.stderr)
            assert f"{out} is being written by run on host {HOST}" in line and "since 20" in line, line
        assert os.stat(out).st_ino == inode  # not replaced
        shown = run([advsweep, "status", str(out)], check=0).stdout
        assert f"being written by run on host {HOST}" in shown
    code = live.returncode
    assert code == 0, live.stderr.read()
    assert_same_results(reference["medium"], out)
    assert not (tmp_path / "live.h5.lock").exists()
    assert "being written" not in run([advsweep, "status", str(out)], check=0).stdout


def test_kill9_then_rerun_takes_the_lock_over(advsweep, jobs, reference, tmp_path):
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen(["mpirun", "-n", "3", advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=mpi_env(), start_new_session=True)
    wait_for(lambda: some_done(out))
    signal_job(proc, signal.SIGSTOP)  # so that it cannot finish before the kill
    assert 0 < np.count_nonzero(status(out) == 1) < len(status(out))
    signal_job(proc, signal.SIGKILL)
    proc.communicate(timeout=60)
    lock = tmp_path / "killed.h5.lock"
    assert lock.exists()  # the dead holder's lock stays behind
    left = int(np.count_nonzero(status(out) == 4))
    shown = run([advsweep, "status", str(out)], check=0).stdout  # the killed run's points: not running
    assert ("running" not in shown.splitlines()[1]) == (left > 0), shown
    if left:
        assert f"{left} interrupted (no live writer: rerun to resume)" in shown, shown
    dead = int(dict(line.split("=", 1) for line in lock.read_text().splitlines()[1:])["pid"])
    # what a kill during a rebuild leaves (store_tmp_name's names, the reserve) goes with the takeover;
    # names that are not those of the dead holder's temporaries stay
    theirs = [f"killed.h5.tmp.{dead}", f"killed.h5.tmp.{dead}.reserve", f"killed.h5.tmp.{dead}.2",
              f"killed.h5.tmp.{dead}.2.reserve"]
    others = [f"killed.h5.tmp.{dead}0", f"killed.h5.tmp.{dead + 1}", f"killed.h5.tmp.{dead}.notes",
              f"killed.h5.tmp.{dead}.reserve.bak", f"other.h5.tmp.{dead}", f"killed.h5.tmp-{dead}"]
    for name in theirs + others:
        (tmp_path / name).write_bytes(b"\0" * 1000)
    os.symlink(tmp_path / "elsewhere", tmp_path / f"killed.h5.tmp.{dead}.3")  # never a link
    others.append(f"killed.h5.tmp.{dead}.3")
    rerun = run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out), "-q"], ranks=2, check=0)
    assert "took over the lock" in rerun.stderr and "is gone" in rerun.stderr
    assert f"removed its unfinished killed.h5.tmp.{dead}" in rerun.stderr
    assert_same_results(reference["medium"], out)
    assert not lock.exists()
    assert leftovers(tmp_path) == sorted(others + ["killed.h5"])


def test_no_second_writer_through_a_symlink_or_a_hard_link(advsweep, jobs, reference, tmp_path):
    """The lock belongs to the file, not to its name: with a live sweep, every
    writer through a symbolic link (relative, from another directory, a chain)
    is refused naming the holder, as through the file's own name; through a hard
    link too (the file then has two names: refused by every writer, the live
    one's name in the line). Nothing changes; `stop` through a link reaches the
    run; the rerun through the link finishes the same file."""
    out = tmp_path / "live.h5"
    other = tmp_path / "other.h5"
    run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(other), "-q"], check=0)
    (tmp_path / "sub").mkdir()
    sym, chain, rel, hard = tmp_path / "sym.h5", tmp_path / "chain.h5", tmp_path / "sub" / "rel.h5", tmp_path / "hard.h5"
    os.symlink("live.h5", sym)
    os.symlink("sym.h5", chain)
    os.symlink("../live.h5", rel)
    with held_live_sweep(advsweep, jobs / "medium.yaml", out) as live:
        holder = holder_pid(tmp_path / "live.h5.lock")
        before, inode = digest(out), os.stat(out).st_ino
        for name in (sym, chain, rel):
            target = str(out) if name != rel else str(tmp_path / "sub" / ".." / "live.h5")
            for cmd in ([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(name)],
                        [advsweep, "run", str(jobs / "other.yaml"), "-o", str(name), "--fresh"],
                        [advsweep, "run", str(jobs / "medium.yaml"), "-o", str(name), "--extend"],
                        [advsweep, "train", "--steps", "5", "-o", str(name)],
                        [advsweep, "merge", "-o", str(name), str(other)]):
                line = one_line(run(cmd, check=2).stderr)
                assert f"{target} is being written by run on host {HOST}, pid {holder}, since 20" in line, line
            assert f"being written by run on host {HOST}" in run([advsweep, "status", str(name)], check=0).stdout
        assert sorted(p.name for p in tmp_path.glob("*.lock")) == ["live.h5.lock"]  # no lock of a link's name
        os.link(out, hard)
        for cmd in ([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(hard)],
                    [advsweep, "run", str(jobs / "other.yaml"), "-o", str(hard), "--fresh"],
                    [advsweep, "train", "--steps", "5", "-o", str(hard)],
                    [advsweep, "merge", "-o", str(hard), str(other)]):
            line = one_line(run(cmd, check=2).stderr)
            assert (f"{hard} has 2 names (hard links) and {out}, another of them, is being written by run on host "
                    f"{HOST}, pid {holder}, since 20") in line, line
        line = one_line(run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out)], check=2).stderr)
        assert f"{out} is being written by run on host {HOST}, pid {holder}" in line, line  # its own name: the lock
        assert not (tmp_path / "hard.h5.lock").exists()
        assert digest(out) == before and os.stat(out).st_ino == inode and os.stat(out).st_nlink == 2
        os.unlink(hard)
        assert "stop requested" in run([advsweep, "stop", str(rel)], check=0).stdout
        assert (tmp_path / "live.h5.stop").exists() and not (tmp_path / "sub" / "rel.h5.stop").exists()
    code = live.returncode
    err = live.stderr.read()
    assert code in (0, 3), err  # stopped by the request through the link (or done just before it acted)
    run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(sym), "-q"], check=0)  # resumes the target
    assert_same_results(reference["medium"], out)
    assert os.readlink(sym) == "live.h5" and os.readlink(chain) == "sym.h5" and os.readlink(rel) == "../live.h5"
    assert leftovers(tmp_path) == ["chain.h5", "live.h5", "other.h5", "sub", "sym.h5"]
    assert leftovers(tmp_path / "sub") == ["rel.h5"]


def test_fresh_extend_train_merge_through_a_symlink_write_its_target(advsweep, jobs, tmp_path):
    """No live writer: --fresh, --extend, train -o and merge -o through a link
    replace the target (their temporary beside it, renamed over it) and leave
    the link a link; a link whose target does not exist yet creates the target.
    A hard-linked sweep file is refused with nothing changed."""
    real, links = tmp_path / "real", tmp_path / "links"
    real.mkdir()
    links.mkdir()
    target, sym = real / "f.h5", links / "sym.h5"
    os.symlink("../real/f.h5", sym)  # dangling for now
    direct = tmp_path / "direct.h5"
    run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(direct), "-q"], check=0)
    run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(sym), "-q"], check=0)
    assert target.is_file() and not target.is_symlink() and os.readlink(sym) == "../real/f.h5"
    assert_same_results(direct, target)

    inode = os.stat(target).st_ino
    run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(sym), "--fresh", "-q"], check=0)
    assert os.readlink(sym) == "../real/f.h5" and os.stat(target).st_ino != inode  # the target was replaced
    assert_same_results(direct, target)

    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(TINY.replace("m: [4, 8]", "m: [4, 8, 16]"))
    inode = os.stat(target).st_ino
    ext = run([advsweep, "run", str(bigger), "-o", str(sym), "--extend"], check=0)
    assert f"{links}/../real/f.h5 extended with 1 new point" in ext.stdout, ext.stdout  # messages name the target
    assert os.readlink(sym) == "../real/f.h5" and os.stat(target).st_ino != inode
    assert len(status(target)) == 3 and np.all(status(target) == 1)

    inode = os.stat(target).st_ino
    run([advsweep, "merge", "-o", str(sym), str(direct)], check=0)
    assert os.readlink(sym) == "../real/f.h5" and os.stat(target).st_ino != inode
    assert_same_results(direct, target)

    run([advsweep, "train", "--steps", "5", "-o", str(sym), "-q"], check=0)
    assert os.readlink(sym) == "../real/f.h5" and len(status(target)) == 1

    hard = real / "g.h5"
    os.link(target, hard)
    before = digest(target)
    via = f"{links}/../real"
    for name, shown, other in ((target, target, hard), (hard, hard, target), (sym, f"{via}/f.h5", f"{via}/g.h5")):
        for flags in ([], ["--fresh"], ["--extend"]):
            line = one_line(run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(name)] + flags, check=2).stderr)
            assert f"{shown} has 2 names (hard links; {other} is the other); a sweep file is written through one " \
                   "name only" in line, line
    line = one_line(run([advsweep, "train", "--steps", "5", "-o", str(hard)], check=2).stderr)
    assert f"{hard} has 2 names (hard links; {target} is the other)" in line, line
    assert digest(target) == before and os.stat(target).st_nlink == 2
    assert leftovers(real) == ["f.h5", "g.h5"] and leftovers(links) == ["sym.h5"]


# ---- output paths checked before training ---------------------------------------------------------


def test_bad_output_paths_refused_before_training(advsweep, jobs, tmp_path):
    missing = tmp_path / "no" / "such" / "x.h5"
    # a million steps would take hours: refused at once, nothing trained
    proc = run([advsweep, "train", "--steps", "1000000", "--m", "256", "-o", str(missing)], check=2, timeout=60)
    line = one_line(proc.stderr)
    assert "does not exist" in line and str(missing.parent) in line
    not_a_dir = tmp_path / "afile"
    not_a_dir.write_text("a file, not a directory\n")
    line = one_line(run([advsweep, "train", "--steps", "1000000", "-o", str(not_a_dir / "x.h5")], check=2,
                        timeout=60).stderr)
    assert "is not a directory" in line, line
    not_a_dir.unlink()
    for cmd in ([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(missing)],
                [advsweep, "train", "--steps", "1000000", "-o", str(tmp_path)],
                [advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(tmp_path)]):
        one_line(run(cmd, check=2, timeout=60).stderr)
    good = tmp_path / "good.h5"
    run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(good), "-q"], check=0)
    one_line(run([advsweep, "merge", "-o", str(missing), str(good)], check=2).stderr)
    assert leftovers(tmp_path) == ["good.h5"]


# ---- disk full and read-only ----------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs (root only)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def fill(directory, leave_kb):
    """Fill the filesystem of `directory` up to `leave_kb` KiB."""
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize - leave_kb * 1024
    if free > 0:
        with open(directory / "filler", "wb") as f:
            f.write(b"\1" * free)


@pytest.mark.parametrize("hdf5_path", [False, True], ids=["space-check", "hdf5-enospc"])
@pytest.mark.parametrize("ranks", [None, 2])
def test_run_into_a_full_disk(advsweep, small_fs, ranks, hdf5_path):
    """jobs/width-map.yaml needs 117 MB: one line, exit 4, no crash, nothing left behind.
    hdf5-enospc skips the space check, so HDF5 itself meets ENOSPC while creating."""
    env = mpi_env()
    if hdf5_path:
        env["ADVSWEEP_SKIP_SPACE_CHECK"] = "1"
    cmd = [advsweep, "run", str(ROOT / "jobs" / "width-map.yaml"), "-o", str(small_fs / "w.h5"), "-q"]
    if ranks:
        cmd = ["mpirun", "-q", "-n", str(ranks)] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 4, proc.stderr
    line = one_line(proc.stderr)
    assert ("No space left on device" if hdf5_path else "not enough space") in line, line
    assert leftovers(small_fs) == []


@pytest.mark.parametrize("hdf5_path", [False, True], ids=["space-check", "hdf5-enospc"])
def test_train_and_merge_into_a_full_disk_keep_the_earlier_file(advsweep, jobs, small_fs, tmp_path, hdf5_path):
    env = mpi_env()
    earlier = small_fs / "t.h5"
    run([advsweep, "train", "--steps", "5", "-q", "-o", str(earlier)], check=0)
    before = digest(earlier)
    fill(small_fs, 125 if hdf5_path else 16)  # room for the reserve (HDF5 then meets ENOSPC), or not
    if hdf5_path:
        env["ADVSWEEP_SKIP_SPACE_CHECK"] = "1"
    proc = run([advsweep, "train", "--steps", "5", "-q", "-o", str(earlier)], check=4, env=env)
    line = one_line(proc.stderr)
    assert ("No space left on device" if hdf5_path else "not enough space") in line, line
    assert digest(earlier) == before  # the earlier file intact
    src = tmp_path / "src.h5"
    run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(src), "-q"], check=0)
    (small_fs / "filler").unlink()
    fill(small_fs, 8)
    proc = run([advsweep, "merge", "-o", str(small_fs / "m.h5"), str(src)], check=4, env=env)
    line = one_line(proc.stderr)
    assert "space" in line, line
    assert leftovers(small_fs) == ["filler", "t.h5"]


def test_read_only_filesystem(advsweep, jobs, tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        sweep = mnt / "t.h5"
        run([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(sweep), "-q"], check=0)
        before = digest(sweep)
        assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)]).returncode == 0
        for cmd in ([advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(sweep)],
                    [advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(sweep), "--fresh"],
                    [advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(mnt / "new.h5")],
                    ["mpirun", "-q", "-n", "2", advsweep, "run", str(jobs / "tiny.yaml"), "-o", str(sweep)],
                    [advsweep, "train", "--steps", "1000000", "-o", str(mnt / "x.h5")],
                    [advsweep, "merge", "-o", str(mnt / "m.h5"), str(sweep)]):
            proc = run(cmd, check=4, timeout=120)
            assert "Read-only file system" in one_line(proc.stderr)
        assert digest(sweep) == before
        run([advsweep, "status", str(sweep)], check=0)  # reading still works
        assert leftovers(mnt) == ["t.h5"]
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


# ---- memory checked before allocation ----------------------------------------------------------------


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def no_slurm(env):
    for k in ("SLURM_MEM_PER_CPU", "SLURM_MEM_PER_NODE", "SLURM_CPUS_PER_TASK"):
        env.pop(k, None)
    return env


def test_oversized_points_refused_before_allocation(advsweep, jobs, tmp_path):
    env = no_slurm(mpi_env())
    # 175 TB: more than any machine has; refused at once, naming the parameters and the bytes
    proc = run([advsweep, "train", "--m", "1000000", "--H", "8", "-o", str(tmp_path / "x.h5")], check=2, env=env)
    line = one_line(proc.stderr)
    assert "m=1000000, H=8, n=48, d=8" in line and "TB of memory" in line and "MemAvailable" in line, line
    proc = run([advsweep, "bench", "--m", "1000000"], check=2, env=env)
    assert "m=1000000" in one_line(proc.stderr)
    # sizes whose element counts do not fit in 64 bits (H m^2 = 1e19): refused, not wrapped into a
    # small or negative figure that passes the check (then an abort, or a run that never ends)
    for args in (["--m", "100000000", "--H", "1000"], ["--m", "3037000500"],
                 ["--m", "2000000000", "--H", "1000", "--n", "100000000"]):
        proc = run([advsweep, "train", *args, "-o", str(tmp_path / "x.h5")], check=2, env=env, timeout=60)
        assert "PB of memory" in one_line(proc.stderr), (args, proc.stderr)
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: huge\nfixed: {H: 1000, m: 100000000}\ngrid: {seed: [1, 2]}\n")
    run([advsweep, "plan", str(huge), "--mem-limit", "1G"], check=2, env=env)
    proc = run([advsweep, "run", str(huge), "-o", str(tmp_path / "huge.h5")], check=2, env=env, timeout=60)
    assert "point 0 (the largest of 2" in one_line(proc.stderr) and "PB of memory" in proc.stderr
    huge.unlink()
    # an explicit limit, and SLURM's allocation, are budgets too
    proc = run([advsweep, "train", "--m", "3000", "--mem-limit", "100M"], check=2, env=env)
    assert "more than the 100 MB a rank may use here (--mem-limit 100 MB)" in one_line(proc.stderr)
    slurm = dict(env, SLURM_MEM_PER_CPU="100", SLURM_CPUS_PER_TASK="2")
    proc = run([advsweep, "train", "--m", "3000"], check=2, env=slurm)
    assert "SLURM_MEM_PER_CPU x SLURM_CPUS_PER_TASK 200 MB" in one_line(proc.stderr)
    run([advsweep, "train", "--m", "16", "--steps", "3", "-q"], check=0, env=slurm)  # a small one fits
    assert leftovers(tmp_path) == []


@pytest.mark.skipif((mem_available() or 0) > 30 * 2**30, reason="this machine could hold m=30000 (40 GB): "
                    "the test would train it")
def test_m30000_is_refused_not_allocated(advsweep):
    proc = run([advsweep, "train", "--m", "30000"], check=2, env=no_slurm(mpi_env()), timeout=60)
    assert "m=30000, H=2" in one_line(proc.stderr)


def test_sweep_refuses_a_point_that_does_not_fit_on_its_rank(advsweep, tmp_path):
    """The node's memory is shared by its training ranks: 600 MB for the node is 300 MB
    for each of 2 workers (the master trains nothing). Nothing is written."""
    job = tmp_path / "mem.yaml"
    job.write_text("name: mem\nfixed: {steps: 3, H: 2}\ngrid:\n  m: [16, 1000, 3000]\n")
    out = tmp_path / "mem.h5"
    env = dict(no_slurm(mpi_env()), SLURM_MEM_PER_NODE="600")
    proc = run(["mpirun", "-q", "-n", "3", advsweep, "run", str(job), "-o", str(out)], check=2, env=env)
    line = one_line(proc.stderr)
    assert "point 2 needs" in line and "m=3000, H=2, n=48, d=8" in line, line
    assert "SLURM_MEM_PER_NODE 600 MB shared by 2 ranks on this node" in line, line
    assert leftovers(tmp_path) == ["mem.yaml"]
    proc = run([advsweep, "run", str(job), "-o", str(out), "--mem-limit", "20M"], check=2, env=no_slurm(mpi_env()))
    assert "the largest of 2 training runs that do not fit" in one_line(proc.stderr)
    job.write_text("name: mem\nfixed: {steps: 3, H: 2}\ngrid:\n  m: [16, 32]\n")
    run(["mpirun", "-q", "-n", "3", advsweep, "run", str(job), "-o", str(out), "-q"], check=0, env=env)


def test_plan_checks_memory(advsweep, tmp_path):
    job = tmp_path / "mem.yaml"
    job.write_text("name: mem\nfixed: {steps: 3, H: 2}\ngrid:\n  m: [16, 1000000]\n")
    env = no_slurm(mpi_env())
    proc = run([advsweep, "plan", str(job)], check=0, env=env)  # a login node: only a warning
    assert "warning: point 1 needs" in proc.stderr
    proc = run([advsweep, "plan", str(job)], check=2, env=dict(env, SLURM_MEM_PER_NODE="4000"))
    assert "point 1 needs" in one_line(proc.stderr)
    proc = run([advsweep, "plan", str(job), "--mem-limit", "1G"], check=2, env=env)
    assert "m=1000000, H=2, n=48, d=8" in one_line(proc.stderr)


def test_cgroup_limit_is_a_budget(advsweep, tmp_path):
    """A real memory cgroup (v1 or v2) with a 300 MB limit: train refuses what does not fit in it."""
    v1 = "/sys/fs/cgroup/memory"
    base = v1 if os.path.isdir(v1) else "/sys/fs/cgroup"
    limit_file = "memory.limit_in_bytes" if base == v1 else "memory.max"
    group = os.path.join(base, f"advsweep-test-{os.getpid()}")
    try:
        os.mkdir(group)
        with open(os.path.join(group, limit_file), "w") as f:
            f.write(str(300 * 2**20))
    except OSError as e:
        pytest.skip(f"cannot make a memory cgroup here: {e}")
    try:
        def enter():
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        env = no_slurm(mpi_env())
        proc = subprocess.run([advsweep, "train", "--m", "3000"], capture_output=True, text=True, env=env,
                              preexec_fn=enter, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "the cgroup's memory limit less its usage" in one_line(proc.stderr)
        proc = subprocess.run([advsweep, "train", "--m", "16", "--steps", "3", "-q"], capture_output=True, text=True,
                              env=env, preexec_fn=enter, timeout=120)
        assert proc.returncode == 0, proc.stderr
    finally:
        os.rmdir(group)


# ---- checksums ---------------------------------------------------------------------------------------

# done, failed (delta 1.9 cannot be placed) and diverged (lr 1e200) points, with stored weights and data
MIXED = """\
name: mixed
seeds: 2
fixed: {d: 3, n: 24, steps: 40, eval_count: 2, eval_steps: 2, m: 8, H: 2}
grid:
  delta: [0.05, 1.9]
  lr: [0.01, 1e200]
options: {store_weights: true}
"""


def analysis_module():
    import importlib
    import sys
    sys.path.insert(0, str(ROOT / "analysis"))
    return importlib.import_module("advsweep_analysis.load")


def flip(path, dataset, row, col, byte=3):
    """Flip one bit of element (row, col) of a contiguous dataset, in the file's bytes."""
    with h5py.File(path, "r", locking=False) as f:
        ds = f[dataset]
        offset, per_row, size = ds.id.get_offset(), int(np.prod(ds.shape[1:])), ds.dtype.itemsize
    with open(path, "r+b") as fh:
        at = offset + (row * per_row + col) * size + byte
        fh.seek(at)
        b = fh.read(1)[0]
        fh.seek(at)
        fh.write(bytes([b ^ 0x10]))


def test_python_and_c_checksums_agree(advsweep, tmp_path):
    job = tmp_path / "mixed.yaml"
    job.write_text(MIXED)
    out = tmp_path / "mixed.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], ranks=2, check=0)
    load = analysis_module()
    with h5py.File(out, "r", locking=False) as f:
        st = f["status"][()]
        assert {1, 2, 3} <= set(st.tolist())
        stored = f["checksum"][()]
        assert np.all(stored != 0)
        assert np.array_equal(load.point_checksums(f, np.arange(len(st))), stored)
    assert "8 finished points verified, 0 damaged" in run([advsweep, "status", "--verify", str(out)], check=0).stdout


@pytest.mark.parametrize("ranks", [None, 3])
def test_a_flipped_byte_is_noticed_by_every_reader(advsweep, jobs, reference, tmp_path, ranks):
    """A bit flipped in the middle of a sweep file, inside a point's trajectory:
    status --verify, merge, the analysis and resume all notice it and name the
    point; --retry-damaged reruns it to the uninterrupted result."""
    out = tmp_path / "flipped.h5"
    out.write_bytes(reference["medium"].read_bytes())
    with h5py.File(out, "r", locking=False) as f:
        P, K = f["traj/clean_loss"].shape
        point = P // 2
        length = int(f["traj/length"][point])
    flip(out, "traj/clean_loss", point, length // 2)
    damaged = out.read_bytes()
    proc = run([advsweep, "status", "--verify", str(out)], check=4)
    assert f"{P - 1} finished points verified" not in proc.stdout and f"{P} finished points verified, 1 damaged" in \
        proc.stdout
    assert f"  point {point} (" in proc.stdout and "damaged" in one_line(proc.stderr)
    proc = run([advsweep, "merge", "-o", str(tmp_path / "m.h5"), str(out)], check=4)
    assert f"point {point}" in one_line(proc.stderr)
    proc = run([advsweep, "merge", "-o", str(tmp_path / "m.h5"), str(out), str(reference["medium"])], check=0)
    assert "damaged point (checksum) taken from other inputs" in proc.stderr
    assert_same_results(reference["medium"], tmp_path / "m.h5")
    report = run(["/usr/bin/python3", str(ROOT / "analysis" / "report.py"), str(out), "-o", str(tmp_path / "rep")],
                 check=0)
    assert f"1 damaged point(s) excluded ({point}:" in report.stderr
    load = analysis_module()
    points = load.read_sweep(str(out))
    assert points.status[point] == load.DAMAGED and points.counts()["damaged"] == 1
    proc = run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out)], ranks=ranks, check=4)
    assert f"1 finished point is damaged ({point}:" in proc.stderr and "--retry-damaged" in proc.stderr
    assert out.read_bytes() == damaged  # refused: nothing changed
    proc = run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out), "--retry-damaged"], ranks=ranks, check=0)
    assert "1 damaged points will be rerun" in proc.stdout and "1 to run" in proc.stdout
    assert_same_results(reference["medium"], out)
    assert "0 damaged" in run([advsweep, "status", "--verify", str(out)], check=0).stdout


# ---- mid-point checkpoints ----------------------------------------------------------------------

# One point of about 3 s (one thread, this project's machines).
LONG = """\
name: long
seeds: 1
fixed: {H: 2, n: 32, d: 8, steps: 2000, attack: pgd, pgd_steps: 5, epsilon: 0.001, delta: 0.1,
        eval_count: 4, eval_steps: 5, eval_restarts: 2}
grid:
  m: [128]
"""


@pytest.fixture(scope="module")
def long_job(advsweep, tmp_path_factory):
    """The job and its uninterrupted result (no checkpoints at all)."""
    d = tmp_path_factory.mktemp("long")
    job = d / "long.yaml"
    job.write_text(LONG)
    ref = d / "ref.h5"
    run([advsweep, "run", str(job), "-o", str(ref), "-q", "--checkpoint", "0"], check=0)
    assert not (d / "ref.h5.ckpt").exists()
    return job, ref


def test_kill9_at_random_moments_of_one_long_point(advsweep, long_job, tmp_path):
    """kill -9 at random moments of one long point, rerun until it is done: it
    continues from its checkpoints (later and later steps) and ends bit-identical
    to the uninterrupted run; its checkpoint is removed with it."""
    job, ref = long_job
    out = tmp_path / "long.h5"
    rng = random.Random(1212)
    with h5py.File(ref, "r", locking=False) as f:
        train_time = float(f["summary/wall_time"][0])  # kill moments scale with it (faster machines)
    cmd = [advsweep, "run", str(job), "-o", str(out), "--checkpoint", str(round(train_time / 12, 3))]
    kills, seen, logs = 0, [], ""
    for _ in range(40):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mpi_env())
        try:
            stdout, stderr = p.communicate(timeout=rng.uniform(0.15, 0.6) * train_time + 0.2)
            logs += stdout
            break
        except subprocess.TimeoutExpired:
            p.kill()  # SIGKILL
            logs += p.communicate()[0]  # a kill after the point was written: its line is here
            kills += 1
            ckpt = tmp_path / "long.h5.ckpt"
            if ckpt.is_dir():
                seen.append(sorted(x.name for x in ckpt.iterdir()))
    else:
        raise AssertionError("the point never finished in 40 runs")
    assert p.returncode == 0, stderr
    assert kills >= 2, kills
    with h5py.File(out, "r", locking=False) as f:
        key = f["plan/key"][0].decode()
    # one checkpoint, named by the point's key (and, after a kill while it was written, its temporary)
    assert any(key in names for names in seen), seen
    assert all(re.fullmatch(key + r"(\.tmp\.\d+)?", x) for names in seen for x in names), seen
    steps = re.findall(r"\(continued from step (\d+)\)", logs)
    assert len(steps) == 1 and int(steps[0]) > 0, logs  # the run that finished it continued
    assert_same_results(ref, out)
    assert leftovers(tmp_path) == ["long.h5"]  # no checkpoint, lock or temporary file left


def test_abandoned_point_continues_from_its_checkpoint(advsweep, long_job, tmp_path):
    """A stop with --grace 0 abandons the running point (under mpirun): it saves its
    state first, and the rerun continues from it to the uninterrupted result."""
    job, ref = long_job
    out = tmp_path / "long.h5"
    for bad in ("-1", "soon", "nan"):
        proc = run([advsweep, "run", str(job), "-o", str(out), "--checkpoint", bad], check=2)
        assert f"option --checkpoint: bad value '{bad}'" in one_line(proc.stderr)
    assert leftovers(tmp_path) == []
    proc = subprocess.Popen(["mpirun", "-n", "2", advsweep, "run", str(job), "-o", str(out), "--grace", "0",
                             "--checkpoint", "100"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=mpi_env())
    with h5py.File(ref, "r", locking=False) as f:
        train_time = float(f["summary/wall_time"][0])
    wait_for(lambda: np.count_nonzero(status(out) == 4) == 1 if out.exists() else False)
    time.sleep(train_time / 5)  # a few hundred steps in
    run([advsweep, "stop", "--now", str(out)], check=0)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0, stdout
    assert "abandoned (will be redone on resume), from its last checkpoint" in stdout, stdout
    assert len(list((tmp_path / "long.h5.ckpt").iterdir())) == 1
    proc = run([advsweep, "run", str(job), "-o", str(out)], ranks=2, check=0)
    steps = re.findall(r"\(continued from step (\d+)\)", proc.stdout)
    assert len(steps) == 1 and int(steps[0]) > 0, proc.stdout
    assert_same_results(ref, out)
    assert leftovers(tmp_path) == ["long.h5"]


def test_point_longer_than_the_time_limit_progresses_through_checkpoints(advsweep, long_job, tmp_path):
    """A point estimated longer than the time left (here: a tiny --rate) is left for the
    next job without checkpoints, and never starts; with them it starts, the time limit
    ends each run (exit 3, its state saved), and reruns with the same limit finish it,
    continuing from later and later steps, to the uninterrupted result."""
    job, ref = long_job
    out = tmp_path / "long.h5"
    with h5py.File(ref, "r", locking=False) as f:
        train_time = float(f["summary/wall_time"][0])
    limit = max(0.5, train_time / 3)
    cmd = [advsweep, "run", str(job), "-o", str(out), "--rate", "1e-6", "--time-limit", f"{limit:.3f}",
           "--grace", "0"]
    proc = run(cmd + ["--checkpoint", "0"], ranks=2, check=3)
    assert "starting a point" not in proc.stdout and list(status(out)) == [0], proc.stdout  # pending, never run
    assert "from a checkpoint" not in run([advsweep, "status", str(out)], check=0).stdout
    steps = []
    for _ in range(20):
        proc = run(cmd + ["--checkpoint", f"{limit / 4:.3f}"], ranks=2)
        assert proc.returncode in (0, 3), proc.stderr
        steps += [int(s) for s in re.findall(r"\(continued from step (\d+)\)", proc.stdout)]
        if proc.returncode == 0:
            break
        assert "starting a point of" in proc.stdout, proc.stdout
        assert "time limit reached with points running" in proc.stderr, proc.stderr
        assert list(status(out)) == [4]  # abandoned: redone, from its checkpoint, by the next run
        shown = run([advsweep, "status", str(out)], check=0).stdout
        assert f"1 of the points left continues from a checkpoint on resume ({out}.ckpt)" in shown, shown
    else:
        raise AssertionError("the point never finished in 20 runs")
    assert len(steps) >= 2 and steps == sorted(steps) and len(set(steps)) == len(steps), steps
    assert_same_results(ref, out)
    assert leftovers(tmp_path) == ["long.h5"]


def _set(path, what, point):
    """Change one value of a finished point in place, as a stray write would (issue 12)."""
    with h5py.File(path, "r+", locking=False) as f:
        assert f["status"][point] == 1
        if what == "status":  # done -> diverged: the rows of a done point filed as diverged
            f["status"][point] = 3
        elif what == "plan/key":
            key = f["plan/key"][point]
            f["plan/key"][point] = (b"0" if key[:1] != b"0" else b"1") + key[1:]
        elif what == "runs":
            row = f["runs"][point]
            row["m"] = 80
            f["runs"][point] = row
        else:  # params/m: 64 -> 80 (a width never run); params/seed
            f[what][point] = 80 if what == "params/m" else f[what][point] + 1


@pytest.mark.parametrize("what", ["params/m", "params/seed", "runs", "plan/key", "status"])
def test_a_changed_parameter_key_runs_row_or_status_is_damage(advsweep, jobs, reference, tmp_path, what):
    """The checksum (rule 2) covers what a point is, not only its results: a changed
    /params value, /runs value, /plan/key or final status is named by status --verify,
    never merged, warned about and excluded by the analysis, refused by a resume, and
    --retry-damaged reruns the job's point (its parameters and key restored) to the
    uninterrupted result."""
    out = tmp_path / "changed.h5"
    out.write_bytes(reference["medium"].read_bytes())
    with h5py.File(out, "r", locking=False) as f:
        assert f.attrs["checksum_version"] == 2
        P = f["status"].shape[0]
        point = int(np.nonzero(f["params/m"][()] == 64)[0][1])
    _set(out, what, point)
    damaged = out.read_bytes()
    proc = run([advsweep, "status", "--verify", str(out)], check=4)
    assert f"{P} finished points verified, 1 damaged" in proc.stdout and f"  point {point}" in proc.stdout
    proc = run([advsweep, "merge", "-o", str(tmp_path / "alone.h5"), str(out)], check=4)
    assert f"point {point}" in one_line(proc.stderr) and not (tmp_path / "alone.h5").exists()
    merged = tmp_path / "m.h5"
    if what == "plan/key":  # filed under a key no intact input has: nothing can replace it
        proc = run([advsweep, "merge", "-o", str(merged), str(out), str(reference["medium"])], check=4)
        assert f"point {point}" in one_line(proc.stderr) and not merged.exists()
    else:
        proc = run([advsweep, "merge", "-o", str(merged), str(out), str(reference["medium"])], check=0)
        assert "damaged point (checksum) taken from other inputs" in proc.stderr
        assert_same_results(reference["medium"], merged)
        assert "0 damaged" in run([advsweep, "status", "--verify", str(merged)], check=0).stdout
    report = run(["/usr/bin/python3", str(ROOT / "analysis" / "report.py"), str(out), "-o", str(tmp_path / "rep")],
                 check=0)
    assert f"1 damaged point(s) excluded ({point}:" in report.stderr
    load = analysis_module()
    points = load.read_sweep(str(out))
    assert points.status[point] == load.DAMAGED and points.counts()["damaged"] == 1
    proc = run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out)], check=4)
    assert f"1 finished point is damaged ({point}:" in proc.stderr and "--retry-damaged" in proc.stderr
    assert out.read_bytes() == damaged  # refused: nothing changed
    proc = run([advsweep, "run", str(jobs / "medium.yaml"), "-o", str(out), "--retry-damaged"], check=0)
    assert "1 damaged points will be rerun" in proc.stdout and "1 to run" in proc.stdout
    assert_same_results(reference["medium"], out)
    assert "0 damaged" in run([advsweep, "status", "--verify", str(out)], check=0).stdout


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_a_rule_1_file_still_verifies_and_merges_into_rule_2(advsweep, tmp_path):
    """fixtures/checksum_rule1.h5 was written by the advsweep before checksum rule 2
    (fixtures/checksum_rule1.yaml; done, diverged and failed points, stored weights):
    it verifies clean under rule 1, in C and in Python; damage to its results still
    shows; merge and --extend verify it under rule 1, then give its rows rule-2
    checksums, which then catch a changed parameter."""
    old = tmp_path / "old.h5"
    old.write_bytes((FIXTURES / "checksum_rule1.h5").read_bytes())
    load = analysis_module()
    with h5py.File(old, "r", locking=False) as f:
        assert "checksum_version" not in f.attrs and load.checksum_rule(f) == 1
        st = f["status"][()]
        assert {1, 2, 3} <= set(st.tolist())
        assert np.array_equal(load.point_checksums(f, np.arange(len(st))), f["checksum"][()])
    assert f"{len(st)} finished points verified, 0 damaged" in \
        run([advsweep, "status", "--verify", str(old)], check=0).stdout
    merged = tmp_path / "merged.h5"
    run([advsweep, "merge", "-o", str(merged), str(old)], check=0)
    with h5py.File(merged, "r", locking=False) as f:
        assert f.attrs["checksum_version"] == 2 and load.checksum_rule(f) == 2
        assert np.array_equal(load.point_checksums(f, np.arange(len(st))), f["checksum"][()])
    assert "0 damaged" in run([advsweep, "status", "--verify", str(merged)], check=0).stdout
    _set(merged, "params/m", 0)
    proc = run([advsweep, "status", "--verify", str(merged)], check=4)
    assert "1 damaged" in proc.stdout and "  point 0" in proc.stdout
    # damage to a rule-1 file's results still shows, and merge never legitimises it
    flip(old, "traj/clean_loss", 0, 1)
    proc = run([advsweep, "status", "--verify", str(old)], check=4)
    assert "1 damaged" in proc.stdout and "  point 0" in proc.stdout
    proc = run([advsweep, "merge", "-o", str(tmp_path / "m2.h5"), str(old)], check=4)
    assert "point 0" in one_line(proc.stderr) and not (tmp_path / "m2.h5").exists()
