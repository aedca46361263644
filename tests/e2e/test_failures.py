"""Failures that say why (the real binary, real ranks): each failed or diverged
point's line in `run`'s output gives its reason, `status --failed` lists them,
and a sweep in which every point failed exits non-zero naming the distinct
reasons."""
import re

import h5py
import numpy as np
import pytest

from conftest import run, status

MIXED = """\
name: mixed
fixed: {d: 2, n: 40, steps: 20, eval_count: 1, eval_steps: 2, m: 8, H: 2}
grid:
  delta: [0.01, 1.9]       # 1.9: opposite labels cannot be 3.8 apart: the point fails
  lr: [0.01, 1e200]        # 1e200: the point diverges
"""

# Data files are checked before anything runs (a missing one is exit 2), so the
# points here fail as they train: no 40 points in d = 2 have opposite labels
# 3.8 (or 3.9) apart.
ALL_FAIL = """\
name: allfail
fixed: {d: 2, n: 40, steps: 5, eval_count: 1, eval_steps: 2, H: 1}
grid:
  delta: [1.9, 1.95]
  m: [4, 8, 16]
"""


def reasons_of(path):
    with h5py.File(path, "r", locking=False) as f:
        return f["status"][()], [r.decode() for r in f["reason"][()]]


def point_lines(stdout):
    """{point index: its line} from run's per-point lines."""
    return {int(m.group(1)): line for line in stdout.splitlines()
            if (m := re.match(r"\[\d+/\d+\] point (\d+) ", line))}


@pytest.mark.parametrize("ranks", [None, 2])
def test_each_failed_or_diverged_line_gives_its_reason(advsweep, tmp_path, ranks):
    job = tmp_path / "mixed.yaml"
    job.write_text(MIXED)
    out = tmp_path / "mixed.h5"
    proc = run([advsweep, "run", str(job), "-o", str(out)], ranks=ranks, check=0)
    st, reasons = reasons_of(out)
    lines = point_lines(proc.stdout)
    assert sorted(lines) == list(range(len(st)))
    assert {2, 3} <= set(st)  # the job has both kinds
    for k, s in enumerate(st):
        if s == 2:
            assert reasons[k] and f": failed: {reasons[k]};" in lines[k], lines[k]
        elif s == 3:
            assert reasons[k] and f": diverged: {reasons[k]};" in lines[k], lines[k]
        else:
            assert "failed" not in lines[k] and "diverged" not in lines[k]


def test_status_failed_lists_them(advsweep, tmp_path):
    job = tmp_path / "mixed.yaml"
    job.write_text(MIXED)
    out = tmp_path / "mixed.h5"
    run([advsweep, "run", str(job), "-o", str(out), "-q"], check=0)
    st, reasons = reasons_of(out)
    proc = run([advsweep, "status", "--failed", str(out)], check=0)
    lines = proc.stdout.splitlines()
    bad = [k for k, s in enumerate(st) if s in (2, 3)]
    assert lines[0] == f"{out}: {int(np.sum(st == 2))} failed, {int(np.sum(st == 3))} diverged"
    assert len(lines) == 1 + len(bad)
    for line, k in zip(lines[1:], bad):
        kind = "failed" if st[k] == 2 else "diverged"
        assert line.startswith(f"  point {k} (delta=")  # labelled by the grid's values
        assert line.endswith(f": {kind}: {reasons[k]}")
    # a file without failures, and input that is not a sweep file
    good = tmp_path / "good.h5"
    good_job = tmp_path / "good.yaml"
    good_job.write_text(MIXED.replace("[0.01, 1.9]", "[0.01]").replace("[0.01, 1e200]", "[0.01]"))
    run([advsweep, "run", str(good_job), "-o", str(good), "-q"], check=0)
    assert run([advsweep, "status", "--failed", str(good)], check=0).stdout == f"{good}: no point failed or diverged\n"
    junk = tmp_path / "junk.h5"
    junk.write_text("junk")
    proc = run([advsweep, "status", "--failed", str(junk)], check=2)
    assert len(proc.stderr.strip().splitlines()) == 1 and "junk.h5" in proc.stderr


@pytest.mark.parametrize("ranks", [None, 2])
def test_every_point_failed_exits_non_zero_with_the_reasons(advsweep, tmp_path, ranks):
    job = tmp_path / "allfail.yaml"
    job.write_text(ALL_FAIL)
    out = tmp_path / "allfail.h5"
    for attempt in range(3):  # the first run, a rerun with nothing left, a --retry-failed: the same verdict
        extra = ["--retry-failed"] if attempt == 2 else []
        proc = run([advsweep, "run", str(job), "-o", str(out), *extra], ranks=ranks, cwd=tmp_path)
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("advsweep: error:")]
        assert len(errors) == 1, proc.stderr
        assert "every point failed (6 points" in errors[0]
        assert "2*delta=3.8" in errors[0] and "2*delta=3.9" in errors[0] and errors[0].count("(3 points)") == 2
        assert list(status(out)) == [2] * 6  # the results are in the file all the same
        if attempt == 2:
            assert "6 failed or diverged points will be rerun" in proc.stdout
            assert len(point_lines(proc.stdout)) == 6


def test_a_long_reason_keeps_its_fix_and_no_trailing_space(advsweep, tmp_path):
    # the reason of a point is a fixed field: this one fits whole, with the fix
    job = tmp_path / "crowded.yaml"
    job.write_text("name: crowded\nfixed: {d: 8, n: 200, steps: 5, eval_count: 1, eval_steps: 2, m: 4, H: 1}\n"
                   "grid:\n  delta: [1.9]\n  seed: [1, 2]\n")
    out = tmp_path / "crowded.h5"
    proc = run([advsweep, "run", str(job), "-o", str(out)], check=1)
    reason = "cannot place n=200 points 2*delta=3.8 from opposite labels; lower n or delta, or raise d"
    lines = point_lines(proc.stdout)
    assert len(lines) == 2
    for line in lines.values():
        assert f": failed: {reason}; " in line, line
    errors = [line for line in proc.stderr.splitlines() if line.startswith("advsweep: error:")]
    assert len(errors) == 1 and errors[0].endswith(f": {reason} (2 points)"), proc.stderr
    _, reasons = reasons_of(out)
    assert reasons == [reason, reason]
    listed = run([advsweep, "status", "--failed", str(out)], check=0).stdout.splitlines()[1:]
    assert len(listed) == 2 and all(line.endswith(f": failed: {reason}") for line in listed), listed
