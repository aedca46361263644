"""report.py: report.md with valid PNG figures, the CSV, the command line and its errors."""
import csv
import os
import re
import subprocess
import sys

import h5py
import pytest

import synth
from synth import DIVERGED, FAILED, PENDING, RUNNING, SKIPPED, point, write_sweep
from advsweep_analysis import build_report, load, write_csv

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis", "report.py")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MS = [4, 8, 16, 32, 64, 128, 256]
EPS = [0.4, 0.2, 0.1, 0.05]


def mixed_sweep(path, issue8=True, **kw):
    """Two attacks x 4 eps x 7 widths x 2 seeds, R finite, with a few failed/diverged/pending points.
    Non-reaching runs end on a plateau at step 12 of T = 30 (definite failures from T/2 on).

    Known answers (all seeds reach where m >= c/eps^2; pgd c = 0.5, fgsm c = 0.25):
    pgd   eps 0.4: m=4 diverged + failed -> exact 8; 0.2 -> 16; 0.1 -> 64; 0.05 -> 256
    fgsm  eps 0.4, 0.2 -> <= 4 (bound); 0.1 -> 32; 0.05 -> 128 (256 pending/running: not needed)"""
    pts = []
    for attack, c in (("pgd", 0.5), ("fgsm", 0.25)):
        pts += synth.grid(MS, EPS, [1, 2], lambda m, e, s, c=c: m >= c / e ** 2, failed_at=12, attack=attack,
                          R=2.0)
    pts[0] = point(status=DIVERGED, reason="NaN at step 16", min_surrogate=1.0, **pts[0]["params"])
    pts[1] = point(status=FAILED, reason="out of memory", **pts[1]["params"])
    pts[-1] = point(status=PENDING, **pts[-1]["params"])
    pts[-2] = point(status=RUNNING, **pts[-2]["params"])
    write_sweep(path, pts, job_name="mixed", issue8=issue8, **kw)
    return pts


def table_rows(text, heading):
    """The rows (lists of cells) of the first table after `heading`."""
    part = text[text.index(heading):]
    lines = part.split("\n")
    start = next(k for k, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows


def run_report(*args, cwd=None):
    """analysis/report.py run by this interpreter, as a user would; the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k != "ADVSWEEP_DEBUG"}
    return subprocess.run([sys.executable, os.path.abspath(REPORT), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def assert_png(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == PNG_MAGIC and head[12:16] == b"IHDR", path
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert w > 100 and h > 100


def images(md_path):
    text = open(md_path).read()
    return [os.path.join(os.path.dirname(md_path), p) for p in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)]


def test_report_md_and_figures(tmp_path):
    mixed_sweep(tmp_path / "s.h5")
    p = load([tmp_path / "s.h5"])
    md = build_report(p, str(tmp_path / "out"), csv_out=True)
    text = open(md).read()
    imgs = images(md)
    names = {os.path.basename(i) for i in imgs}
    assert {"width_requirement.png", "trajectories.png", "surrogate_vs_robust.png", "laziness.png",
            "success_map.png"} <= names
    for i in imgs:
        assert_png(i)
    assert "p_reach.png" in names
    # counts of every status are in the report, and the failed/diverged points are listed
    assert "| mixed[" in text and "| 112 | 108 | 1 | 1 | 1 | 1 |" in text
    assert "out of memory" in text and "NaN at step 16" in text
    assert "1 pending, 1 running" in text
    assert "109 training runs produced the 109 points with a result. They ended: 1 diverged, 66 reached, 42 plateau." in text
    # the width table, the exponents beside the paper's and a reading
    assert "## Width requirement m*" in text and "Theorem 4.1" in text
    assert re.search(r"m\* grows like \(1/ε\)\^[0-9.]+±[0-9.]+ for attack=pgd", text)
    assert "final_dist/R" in text             # R is finite: distance in units of R
    # the m* table: bounds as bounds, exact values where every smaller width failed definitively
    rows = {(r[0], r[1]): r for r in table_rows(text, "## Width requirement m*")}
    head = ["status", "m*(T/4)", "m*(T/2)", "m*(T)", "stable"]
    got = {k: dict(zip(head, r[2:7])) for k, r in rows.items()}
    assert got[("pgd", "0.4")]["m*(T)"] == "8" and got[("pgd", "0.4")]["status"] == "exact"
    assert got[("pgd", "0.2")]["m*(T)"] == "16" and got[("pgd", "0.1")]["m*(T)"] == "64"
    assert got[("pgd", "0.05")]["m*(T)"] == "256" and got[("pgd", "0.05")]["stable"] == "yes"
    assert got[("fgsm", "0.4")]["m*(T)"] == "≤ 4" and got[("fgsm", "0.4")]["status"] == "bound"
    assert got[("fgsm", "0.1")]["m*(T)"] == "32" and got[("fgsm", "0.05")]["m*(T)"] == "128"
    # T/4 = step 7: the failures (plateau at 12) are not yet definite, the reaches at step 8 (eps 0.05) not yet
    assert got[("fgsm", "0.05")]["m*(T/4)"].startswith("unknown")
    assert "fewer than 10 seeds" in text
    assert os.path.exists(tmp_path / "out" / "points.csv")
    assert os.path.exists(tmp_path / "out" / "width_requirement.csv")


@pytest.mark.parametrize("issue8", [False, True])
def test_csv_columns_are_the_runs_names(tmp_path, issue8):
    mixed_sweep(tmp_path / "s.h5", issue8=issue8)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        runs = list(f["runs"].dtype.names)
    out = write_csv(load([tmp_path / "s.h5"]), str(tmp_path / "points.csv"))
    with open(out) as fh:
        header = next(csv.reader(fh))
    assert header[:len(runs)] == runs                   # same names, same order as /runs
    assert len(set(header)) == len(header)              # no duplicate columns (pandas would say lr.1)
    assert header.count("lr") == 1 and "summary_lr" in header
    assert ("outcome" in header) == issue8 and ("lr_rule" in header) == issue8


def test_csv_is_tidy(tmp_path):
    pts = mixed_sweep(tmp_path / "s.h5")
    p = load([tmp_path / "s.h5"])
    out = write_csv(p, str(tmp_path / "points.csv"))
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(pts)
    for col in ("sweep", "grid_hash", "index", "status", "status_name", "reason", "m", "epsilon", "attack", "seed",
                "R", "min_surrogate", "final_robust_loss", "final_dist", "reached_epsilon", "dist_over_R",
                "summary_lr", "lr"):
        assert col in rows[0]
    assert [r["status_name"] for r in rows[:2]] == ["diverged", "failed"]
    assert [r["status"] for r in rows[:2]] == ["3", "2"]          # /runs holds the code
    assert rows[5]["lr"] == "0.0" and rows[5]["summary_lr"] == "0.01"   # parameter vs step size used
    assert rows[1]["reason"] == "out of memory"
    assert rows[-1]["status_name"] == "pending" and rows[-1]["min_surrogate"] == "" and rows[-1]["m"] == "256"
    assert rows[5]["attack"] == "pgd" and rows[5]["R"] == "2.0"
    done = [r for r in rows if r["status_name"] == "done"]
    assert {r["reached_epsilon"] for r in done} == {"0", "1"}
    assert float(done[0]["dist_over_R"]) == pytest.approx(float(done[0]["final_dist"]) / 2.0)


def test_capacity_section(tmp_path):
    pts = []
    for n in (8, 16, 32):
        for attack, factor in (("none", 1), ("pgd", 4)):
            for m in (8, 16, 32, 64, 128, 256):
                ok = m >= factor * n / 2
                pts.append(point(m=m, n=n, attack=attack, seed=1,
                                 summary={"final_clean_acc": 1.0 if ok else 0.9,
                                          "final_robust_acc": 1.0 if ok else 0.5}))
    write_sweep(tmp_path / "c.h5", pts)
    md = build_report(load([tmp_path / "c.h5"]), str(tmp_path / "out"), max_panels=2)
    text = open(md).read()
    assert "## Capacity" in text and "Theorem 6.1" in text
    assert "robust interpolation needs 4× the clean width" in text
    assert_png(tmp_path / "out" / "capacity.png")


def test_skipped_points_in_the_status_table(tmp_path):
    """A width search's file: points it did not need are skipped (status 5), counted in their own
    column, never as 'unknown status'; the points.csv names them."""
    pts = synth.grid(MS, EPS, [1, 2], lambda m, e, s: m >= 0.5 / e ** 2, failed_at=12)
    skipped = [i for i, pt in enumerate(pts) if pt["params"]["m"] >= 128 and pt["params"]["epsilon"] >= 0.1]
    for i in skipped:
        pts[i] = point(status=SKIPPED, **pts[i]["params"])
    write_sweep(tmp_path / "s.h5", pts, job_name="search", issue8=True)
    md = build_report(load([tmp_path / "s.h5"]), str(tmp_path / "out"), n_boot=0, csv_out=True)
    text = open(md).read()
    head = text[text.index("## Points"):].split("\n")[2]
    assert head == "| sweep | points | done | diverged | failed | running | pending | skipped |"
    row = table_rows(text, "## Points")[0]
    assert row[1:] == [str(len(pts)), str(len(pts) - len(skipped)), "0", "0", "0", "0", str(len(skipped))]
    assert "unknown status" not in text and f"{len(skipped)} were skipped (status 5)" in text
    with open(tmp_path / "out" / "points.csv") as fh:
        names = [r["status_name"] for r in csv.DictReader(fh)]
    assert names.count("skipped") == len(skipped) and "unknown" not in names
    # m* is what the full grid gives: the skipped widths are above every threshold
    full = tmp_path / "full.h5"
    write_sweep(full, synth.grid(MS, EPS, [1, 2], lambda m, e, s: m >= 0.5 / e ** 2, failed_at=12), issue8=True)
    full_text = open(build_report(load([full]), str(tmp_path / "full"), n_boot=0)).read()
    cut = lambda t: [r[:6] for r in table_rows(t, "## Width requirement m*")]  # noqa: E731
    assert cut(text) == cut(full_text)


def test_single_point_train_file(tmp_path):
    write_sweep(tmp_path / "t.h5", [point(m=64)])          # `advsweep train -o` writes P = 1
    md = build_report(load([tmp_path / "t.h5"]), str(tmp_path / "out"))
    text = open(md).read()
    assert "fit not possible" in text
    for i in images(md):
        assert_png(i)


def test_cli_merges_shards_and_writes_csv(tmp_path):
    full = synth.grid(MS, EPS, [1, 2], lambda m, e, s: m >= 0.5 / e ** 2)
    a = [pt if i % 2 == 0 else point(status=PENDING, **pt["params"]) for i, pt in enumerate(full)]
    b = [pt if i % 2 == 1 else point(status=PENDING, **pt["params"]) for i, pt in enumerate(full)]
    write_sweep(tmp_path / "a.h5", a, shard_index=0, shard_count=2)
    write_sweep(tmp_path / "b.h5", b, shard_index=1, shard_count=2)
    out = tmp_path / "rep"
    r = run_report(tmp_path / "a.h5", tmp_path / "b.h5", "-o", out, "--csv", "--fraction", "0.5",
                   cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out / "report.md")
    text = (out / "report.md").read_text()
    assert f"{len(full)} of {len(full)} points are done" in text and "The sweep is complete" in text
    assert "half" not in r.stderr and "Traceback" not in r.stderr
    with open(out / "points.csv") as fh:
        assert len(list(csv.DictReader(fh))) == len(full)


@pytest.mark.parametrize("kind", ["text", "plain", "newer", "empty", "pending", "tool", "nostatus", "truncated",
                                  "missing"])
def test_cli_bad_input_exit_2_one_line(tmp_path, kind):
    path = synth.write_bad(tmp_path, kind)
    r = run_report(path, "-o", tmp_path / "out")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("report.py: error: ") and str(path) in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "report.md").exists()


def test_cli_bad_fraction(tmp_path):
    mixed_sweep(tmp_path / "s.h5")
    r = run_report(tmp_path / "s.h5", "-o", tmp_path / "out", "--fraction", "1.5")
    assert r.returncode == 2 and "--fraction" in r.stderr and "Traceback" not in r.stderr


def test_cli_warns_on_conflicting_shards(tmp_path):
    full = synth.grid([8, 16, 32], [0.2, 0.1], [1], lambda m, e, s: m >= 16)
    other = list(full)
    other[2] = point(min_surrogate=0.001, **full[2]["params"])
    write_sweep(tmp_path / "a.h5", full)
    write_sweep(tmp_path / "b.h5", other)
    r = run_report(tmp_path / "a.h5", tmp_path / "b.h5", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    warn = [line for line in r.stderr.splitlines() if line.startswith("report.py: warning: ")]
    assert len(warn) == 1 and "different results" in warn[0] and "Traceback" not in r.stderr
    assert "different results" in (tmp_path / "out" / "report.md").read_text()


def test_missing_trajectories_and_two_sweeps(tmp_path):
    """Datasets beyond the required ones may be absent (warned); different grid hashes sit side by side."""
    write_sweep(tmp_path / "h2.h5", synth.grid([8, 16, 32], [0.2, 0.1, 0.05], [1], lambda m, e, s: m >= 16,
                                               failed_at=12, H=2), job_name="depth2", issue8=True,
                omit=("traj/step", "traj/surrogate_loss", "traj/clean_loss", "traj/clean_acc", "traj/dist",
                      "traj/length"))
    write_sweep(tmp_path / "h4.h5", synth.grid([8, 16, 32], [0.2, 0.1, 0.05], [1], lambda m, e, s: m >= 32,
                                               failed_at=12, H=4), job_name="depth4", issue8=True)
    p = load([tmp_path / "h2.h5", tmp_path / "h4.h5"])
    assert any("/traj/step" in w for w in p.warnings)
    md = build_report(p, str(tmp_path / "out"))
    text = open(md).read()
    assert "2 sweeps with different grid hashes" in text and "depth2" in text and "depth4" in text
    rows = {(r[0], r[1]): r for r in table_rows(text, "## Width requirement m*")}
    assert rows[("2", "0.1")][2:6] == ["exact", "unknown", "16", "16"]    # T/4 = step 7: nothing decided yet
    assert rows[("4", "0.1")][2:7] == ["exact", "unknown", "32", "32", "yes"]
    h = text[text.index("## Width requirement against H"):]
    assert "fit not possible (2 points; needs 3)" in h.split("##")[1]   # 2 depths: said, not fitted
    for i in images(md):
        assert_png(i)


def test_fixed_parameters_table(tmp_path):
    mixed_sweep(tmp_path / "s.h5")
    text = open(build_report(load([tmp_path / "s.h5"]), str(tmp_path / "out"), n_boot=0)).read()
    fixed = {r[0]: r[1] for r in table_rows(text, "## Fixed parameters")}
    assert fixed["data_file"] == "(none)" and fixed["n"] == "64" and fixed["d"] == "16"
    assert fixed["delta"] == "0.1" and fixed["H"] == "2" and fixed["R"] == "2"
    assert fixed["lr_rule"] == "free" and fixed["c_alpha"] == "1" and fixed["plateau_window"] == "0"
    assert fixed["T (steps_planned)"] == "30"
    for varying in ("m", "epsilon", "attack", "seed", "targets"):    # targets follows epsilon here
        assert varying not in fixed
    assert "Varying: `m`, `attack`, `epsilon`, `targets`, `seed`." in text


def test_fixed_parameters_auto_values(tmp_path):
    """Parameters stored as 0 = auto (pgd_step, lr, steps, c_alpha, early_stop_target) read "auto" with
    what they resolved to (train_plan in src/train/train.c), never as the internal 0."""
    auto = dict(lr=0.0, pgd_step=0.0, c_alpha=0.0, early_stop_target=0.0, early_stop=1, delta=0.1, pgd_steps=5)
    write_sweep(tmp_path / "a.h5", synth.grid([8, 16, 32], [0.2, 0.1, 0.05], [1, 2], lambda m, e, s: m >= 16,
                                              lr_rule="theorem", targets="0.2,0.1,0.05", **auto), issue8=True)
    text = open(build_report(load([tmp_path / "a.h5"]), str(tmp_path / "a"), n_boot=0)).read()
    fixed = {r[0]: r[1] for r in table_rows(text, "## Fixed parameters")}
    assert fixed["pgd_step"] == "auto (2.5 δ / k = 0.05)"
    assert fixed["lr"] == "auto (α used, summary_lr: 0.01)"          # the summary's step size
    assert fixed["c_alpha"] == "auto (400, lr_rule theorem)"
    assert fixed["early_stop_target"] == "auto (the smallest target, 0.05)"     # of every point's list
    # lr given: c_alpha does not enter; early_stop off: its target does not either; free rule: 40
    write_sweep(tmp_path / "b.h5", synth.grid([8, 16], [0.1], [1], lambda m, e, s: m >= 16, lr_rule="free",
                                              **{**auto, "lr": 0.5, "early_stop": 0}), issue8=True)
    write_sweep(tmp_path / "c.h5", synth.grid([8, 16], [0.1], [1], lambda m, e, s: m >= 16, lr_rule="free",
                                              **auto), issue8=True, job_name="free")
    text = open(build_report(load([tmp_path / "b.h5", tmp_path / "c.h5"]), str(tmp_path / "b"), n_boot=0)).read()
    fixed = {r[0]: r[1:] for r in table_rows(text, "## Fixed parameters")}
    assert fixed["c_alpha"] == ["auto (unused: lr given)", "auto (40, lr_rule free)"]
    assert fixed["early_stop_target"][0] == "auto (unused: early_stop 0)" and fixed["lr"][0] == "0.5"
    assert fixed["early_stop_target"][1] == "auto (the smallest target, 0.1)"
    assert not any(c == "0" for r in fixed for c in fixed[r] if r in ("pgd_step", "lr", "c_alpha", "early_stop_target"))


def test_mstar_csv_bounds_name_their_width(tmp_path):
    """m_star.csv: a bound says which (status and bounding width), for m* and for m*_q."""
    mixed_sweep(tmp_path / "s.h5")
    build_report(load([tmp_path / "s.h5"]), str(tmp_path / "out"), n_boot=20, csv_out=True)
    with open(tmp_path / "out" / "m_star.csv") as fh:
        rows = {(r["attack"], r["epsilon"]): r for r in csv.DictReader(fh)}
    r = rows[("fgsm", "0.4")]                          # every seed reaches at every width: ≤ 4
    assert r["m_star_T"] == "≤ 4" and r["m_star_T_status"] == "le_smallest" and r["m_star_T_hi"] == "4"
    assert r["m_smallest"] == "4" and r["m_largest"] == "256"
    assert r["m_q50"] == "-inf" and r["m_q50_status"] == "le_smallest" and r["m_q50_bound"] == "4"
    assert r["m_q90_status"] == "le_smallest" and r["m_q90_bound"] == "4"
    r = rows[("pgd", "0.1")]                           # exact 64: the crossing lies within the grid
    assert r["m_star_T"] == "64" and r["m_star_T_value"] == "64"
    assert r["m_q50_status"] == "within" and r["m_q50_bound"] == "" and 4 <= float(r["m_q50"]) <= 256
    # nothing reaches at any width: > the largest, with the width
    write_sweep(tmp_path / "n.h5", synth.grid([8, 16, 32], [0.1, 0.05], [1, 2], lambda m, e, s: e > 0.06,
                                              failed_at=12), issue8=True)
    build_report(load([tmp_path / "n.h5"]), str(tmp_path / "n"), n_boot=0, csv_out=True)
    with open(tmp_path / "n" / "m_star.csv") as fh:
        rows = {r["epsilon"]: r for r in csv.DictReader(fh)}
    r = rows["0.05"]
    assert r["m_star_T_status"] == "gt_largest" and r["m_star_T_lo"] == "32" and r["m_star_T_hi"] == ""
    assert r["m_q50"] == "inf" and r["m_q50_status"] == "gt_largest" and r["m_q50_bound"] == "32"


def test_cli_bootstrap_is_reproducible(tmp_path):
    write_sweep(tmp_path / "s.h5", synth.logistic_seeds({0.1: 40.0, 0.05: 90.0}, 3.0, n_seeds=12,
                                                        widths=[8, 16, 32, 64, 128, 256]), issue8=True)
    outs = []
    for k, seed in enumerate(("3", "3", "4")):
        out = tmp_path / f"r{k}"
        r = run_report(tmp_path / "s.h5", "-o", out, "--bootstrap", "200", "--bootstrap-seed", seed, "--csv",
                       "--max-panels", "2")
        assert r.returncode == 0, r.stderr
        outs.append((out / "m_star.csv").read_text())
    assert outs[0] == outs[1] and outs[0] != outs[2]
    assert "200 bootstrap replicates" in (tmp_path / "r0" / "report.md").read_text()
    r = run_report(tmp_path / "s.h5", "-o", tmp_path / "bad", "--bootstrap", "-1")
    assert r.returncode == 2 and "--bootstrap" in r.stderr and "Traceback" not in r.stderr
