"""report.py — report.md (figures, tables, a plain reading of each) and the tidy CSV; the CLI.

    report.py FILE.h5 [FILE.h5 ...] -o OUTDIR [--fraction F] [--csv] [--max-panels N]
              [--capacity-criterion acc|loss|either] [--bootstrap N] [--bootstrap-seed S]

Options follow advsweep's rules (cli.py: no option twice, no abbreviations, plain decimal
numbers). Bad input (a bad option, not HDF5, not a sweep, newer layout, empty sweep) gives one
line `report.py: error: ...` on stderr and exit status 2; warnings (merge conflicts,
missing datasets) go to stderr as `report.py: warning: ...` and into the report.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import warnings

import numpy as np

from .cli import StrictParser, int_arg, real_arg
from .fit import AXIS_TEXT, fit_exponents, fit_power_law
from .load import DIVERGED, DONE, FAILED, STATUS_NAMES, Points, SweepError, load
from .mstar import (BUDGETS, CLASS_NAMES, OUTCOME_NAMES, budget_text, m_star_table, observations,
                    width_keys)
from .seeds import FEW_SEEDS, N_BOOT, QUANTILES, bootstrap_exponents, seed_statistics
from .width import (CRITERIA, KEY_TEXT, capacity_requirement, dist_in_R, fmt_value, group_indices,
                    group_label, is_capacity, reached_epsilon)

PROG = "report.py"
MAX_LISTED = 30   # failed/diverged points listed one by one in the report


# ----------------------------------------------------------------------------------------------
# CSV

EXTRA_COLUMNS = ("sweep", "job_name", "grid_hash", "status_name", "source", "reached_epsilon", "dist_over_R")


def csv_columns(points: Points) -> list:
    """Column names of points.csv: the /runs columns, named and ordered as in /runs (the summary's
    lr is summary_lr), then EXTRA_COLUMNS (not in /runs)."""
    return list(points.runs_columns) + [c for c in EXTRA_COLUMNS if c not in points.runs_columns]


def write_csv(points: Points, path: str) -> str:
    """One row per point: the /runs columns (index, status code, every parameter, every summary
    field, reason), then sweep, job_name, grid_hash, status_name, source, reached_epsilon and
    dist_over_R. Summary cells of points without a result (pending, running) are left empty."""
    runs = list(points.runs_columns)
    extra = [c for c in EXTRA_COLUMNS if c not in runs]
    params = set(points.params) | {"index", "status", "reason"}
    reached = reached_epsilon(points)
    dist = dist_in_R(points) if "final_dist" in points.summary else np.full(len(points), np.nan)
    cols = {}
    for c in runs:
        try:
            cols[c] = points.runs_value(c)
        except KeyError:
            cols[c] = None
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(runs + extra)
        for i in range(len(points)):
            info = points.sweeps[int(points.sweep[i])]
            st = int(points.status[i])
            result = st in (DONE, DIVERGED, FAILED)
            row = [("" if cols[c] is None or (c not in params and not result) else _cell(cols[c][i]))
                   for c in runs]
            more = {"sweep": int(points.sweep[i]), "job_name": info.job_name, "grid_hash": info.grid_hash,
                    "status_name": STATUS_NAMES.get(st, "unknown"), "source": str(points.source[i]),
                    "reached_epsilon": (int(bool(reached[i])) if st in (DONE, DIVERGED) else ""),
                    "dist_over_R": (_cell(dist[i]) if result else "")}
            w.writerow(row + [more[c] for c in extra])
    return path


def _cell(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return v


# ----------------------------------------------------------------------------------------------
# markdown helpers

def _md_escape(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _table(header, rows) -> str:
    out = ["| " + " | ".join(_md_escape(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _num(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.{digits}g}"


def _plural(n, word) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _img(path, outdir, alt) -> str:
    return f"![{alt}]({os.path.relpath(path, outdir)})"


def _label(group, points) -> str:
    return group_label(group, [s.label for s in points.sweeps])


# ----------------------------------------------------------------------------------------------
# sections

def _section_files(points: Points) -> str:
    lines = ["## Input", ""]
    rows = []
    for s in points.sweeps:
        a = s.attrs
        shards = ", ".join(f"{i}/{c}" for i, c in s.shards) if any(c > 1 for _, c in s.shards) else "–"
        rows.append([s.sweep, s.job_name, s.grid_hash, a.get("tool_version", "?"), a.get("created", "?"),
                     s.n_points, shards, "<br>".join(s.paths)])
    lines.append(_table(["sweep", "job", "grid hash", "tool", "created", "points", "shards", "files"], rows))
    if len(points.sweeps) > 1:
        lines += ["", f"{len(points.sweeps)} sweeps with different grid hashes are analysed side by side"
                  + (" (the column `sweep` separates points with equal parameters)."
                     if "sweep" in points.varying() else ".")]
    return "\n".join(lines)


def _const_text(v) -> str:
    if v is None:
        return "nan"
    if isinstance(v, str) and v == "":
        return "(none)"
    return fmt_value(v)


# Parameters whose value 0 in /params means "auto" (PARAM_ZERO_AUTO in src/util/config.c), resolved
# per point by train_plan (src/train/train.c).
AUTO_PARAMS = ("pgd_step", "lr", "steps", "c_alpha", "early_stop_target")


def _one_value(points: Points, name, sel):
    """The value of parameter `name` if the points `sel` share one, else None."""
    if name not in points.params:
        return None
    u = {_pyv(v) for v in points.params[name][sel]}
    return u.pop() if len(u) == 1 else None


def _used_text(points: Points, field, res):
    """The summary field over the points with a result: 'v', 'lo to hi', or None without results."""
    if field not in points.summary or not res.any():
        return None
    v = np.asarray(points.summary[field], float)[res]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    return _num(lo, 6) if lo == hi else f"{_num(lo, 4)} to {_num(hi, 4)}"


def _smallest_target(points: Points, sel):
    """The smallest target of the points `sel` (epsilon and the `targets` list: config_targets) if
    they share one, else None."""
    eps = np.asarray(points.params["epsilon"], float)[sel]
    texts = points.params.get("targets", np.full(len(points), ""))[sel]
    out = set()
    for e, t in zip(eps, texts):
        vals = [float(e)]
        for part in str(t).split(","):
            try:
                vals.append(float(part))
            except ValueError:      # "auto" or empty: epsilon only
                pass
        out.add(min(vals))
    return out.pop() if len(out) == 1 else None


def _auto_text(points: Points, name, sel, res) -> str:
    """'auto' and what it resolved to, for a parameter of AUTO_PARAMS stored as 0: the value the
    file records (summary_lr, steps_planned) or the rule of train_plan applied to the sweep's
    constant parameters."""
    one = lambda n: _one_value(points, n, sel)  # noqa: E731
    if name == "lr":
        used = _used_text(points, "lr", res)
        rule = one("lr_rule")
        how = f"lr_rule {rule}" if rule else "lr_rule"
        return f"auto (α used, summary_lr: {used})" if used else f"auto (from {how})"
    if name == "steps":
        used = _used_text(points, "steps_planned", res)
        return f"auto (T used, steps_planned: {used})" if used else "auto (from lr_rule)"
    if name == "c_alpha":
        lr = one("lr")
        if isinstance(lr, (int, float)) and lr > 0:
            return "auto (unused: lr given)"
        rule = one("lr_rule")
        if rule in ("free", "theorem"):
            return f"auto ({400 if rule == 'theorem' else 40}, lr_rule {rule})"
        return "auto (40 under lr_rule free, 400 under theorem)"
    if name == "pgd_step":
        delta, k = one("delta"), one("pgd_steps")
        if isinstance(delta, (int, float)) and isinstance(k, int) and k > 0:
            return f"auto (2.5 δ / k = {_num(2.5 * delta / k, 6)})"
        return "auto (2.5 δ / k)"
    if name == "early_stop_target":
        if one("early_stop") == 0:
            return "auto (unused: early_stop 0)"
        t = _smallest_target(points, sel)
        return f"auto (the smallest target, {fmt_value(t)})" if t is not None else "auto (the smallest target)"
    return "auto"


def _section_fixed(points: Points) -> str:
    """Every parameter constant across each sweep (one column per sweep), and the step budget T.
    A parameter of AUTO_PARAMS at 0 is shown as auto with what it resolved to."""
    cols = []
    for s in points.sweeps:
        sel = points.sweep == s.sweep
        res = sel & ((points.status == DONE) | (points.status == DIVERGED))
        vals = {}
        for n in points.param_names:
            u = {_pyv(v) if not isinstance(_pyv(v), float) or _pyv(v) == _pyv(v) else None
                 for v in points.params[n][sel]}
            if len(u) != 1:
                vals[n] = None                      # varies
                continue
            v = u.pop()
            auto = n in AUTO_PARAMS and isinstance(v, (int, float)) and v == 0
            vals[n] = _auto_text(points, n, sel, res) if auto else _const_text(v)
        for name, field in (("T (steps_planned)", "steps_planned"), ("α (step size used, summary_lr)", "lr")):
            if field in points.summary and res.any():
                v = np.asarray(points.summary[field], float)[res]
                v = v[np.isfinite(v)]
                vals[name] = (("–" if v.size == 0 else _num(float(v[0]), 6)) if np.unique(v).size <= 1
                              else None)
        for attr in ("targets_max",):
            if attr in s.attrs:
                vals[attr + " (attribute)"] = str(s.attrs[attr])
        cols.append(vals)
    names = [n for n in cols[0] if any(c.get(n) is not None for c in cols)]
    for c in cols[1:]:
        names += [n for n in c if n not in names and c[n] is not None]
    rows = [[n] + [c.get(n) if c.get(n) is not None else "varies" for c in cols] for n in names]
    varying = [n for n in points.param_names if all(c.get(n) is None for c in cols)]
    lines = ["## Fixed parameters", "",
             "Every parameter that takes one value in the sweep" + ("s" if len(cols) > 1 else "")
             + " (one column per sweep); T and α are the runs' step budget and step size (summary fields). "
             "“auto” is a parameter stored as 0, with what the training resolved it to.", "",
             _table(["parameter"] + [s.label for s in points.sweeps], rows)]
    if varying:
        lines += ["", "Varying: " + ", ".join(f"`{n}`" for n in varying) + "."]
    return "\n".join(lines)


def _outcome_line(points: Points) -> str:
    """How the training runs ended (counted once per run: trained_as), when the files record it."""
    if "outcome" not in points.summary:
        return ""
    res = np.nonzero((points.status == DONE) | (points.status == DIVERGED))[0]
    if res.size == 0:
        return ""
    tr = np.asarray(points.summary.get("trained_as", points.index), float)[res]
    tr = np.where(np.isfinite(tr) & (tr >= 0), tr, points.index[res]).astype(np.int64)
    runs = {}
    for i, t in zip(res, tr):
        runs.setdefault((int(points.sweep[i]), int(t)), i)
    out = np.asarray(points.summary["outcome"], float)
    counts = {}
    for i in runs.values():
        o = int(out[i]) if np.isfinite(out[i]) else -1
        name = OUTCOME_NAMES.get(o, "not recorded")
        counts[name] = counts.get(name, 0) + 1
    text = (f"{_plural(len(runs), 'training run')} produced the {res.size} points with a result"
            + (" (points that differ only in ε share one run: trained_as)" if len(runs) < res.size else "")
            + ". They ended: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    if counts.get("budget"):
        text += (f" {_plural(counts['budget'], 'run')} stopped at the step budget while still improving: "
                 f"censored, not failures.")
    return text


def _section_status(points: Points) -> str:
    lines = ["## Points", ""]
    c = points.counts()
    # skipped (status 5: the width search did not need them), damaged (excluded) and codes this reader
    # does not know get a column only where a sweep has them
    extra = [(k, h) for k, h in (("skipped", "skipped"), ("damaged", "damaged"), ("unknown", "unknown status"))
             if c[k]]
    rows = []
    for s in points.sweeps:
        sub = points.select(points.sweep == s.sweep)
        cs = sub.counts()
        pend = f"{cs['pending']}" + (f" ({cs['not_assigned']} in shards not given)" if cs["not_assigned"] else "")
        rows.append([s.label, cs["total"], cs["done"], cs["diverged"], cs["failed"], cs["running"], pend]
                    + [cs[k] for k, _ in extra])
    header = ["sweep", "points", "done", "diverged", "failed", "running", "pending"] + [h for _, h in extra]
    lines.append(_table(header, rows))
    missing = c["pending"] + c["running"] + c["unknown"]
    text = (f"{c['done']} of {c['total']} points are done and analysed; {c['diverged']} diverged "
            f"(definite failures), {c['failed']} failed (no result), and {missing} have no result yet "
            f"({c['pending']} pending, {c['running']} running"
            + (f", {c['unknown']} with a status code this reader does not know" if c["unknown"] else "") + ").")
    if c["skipped"]:
        text += (f" {c['skipped']} {'was' if c['skipped'] == 1 else 'were'} skipped (status 5): the adaptive "
                 f"width search did not need them (or `--extend` kept them from an older job); they have no "
                 f"result, count as unknown seeds below, and `advsweep run JOB --where EXPR` runs them.")
    if c["damaged"]:
        text += f" {c['damaged']} damaged (rows that no longer match their checksums) are excluded."
    if missing or c["failed"]:
        text += " Seeds without a result are unknown below: they leave m* undecided where they could change it."
    elif c["skipped"]:
        text += " Every other point has a result."
    else:
        text += " The sweep is complete."
    lines += ["", text]
    ol = _outcome_line(points)
    if ol:
        lines += ["", ol]
    if points.warnings:
        lines += ["", "Warnings:", ""] + [f"- {_md_escape(w)}" for w in points.warnings]
    bad = np.nonzero((points.status == FAILED) | (points.status == DIVERGED))[0]
    if bad.size:
        keys = points.varying()
        lines += ["", f"### Failed and diverged points ({bad.size})", ""]
        rows = []
        for i in bad[:MAX_LISTED]:
            rows.append([points.sweeps[int(points.sweep[i])].label, int(points.index[i]),
                         STATUS_NAMES[int(points.status[i])]]
                        + [fmt_value(_pyv(points.value(k)[i])) for k in keys] + [points.reason[i] or "–"])
        lines.append(_table(["sweep", "index", "status"] + [KEY_TEXT.get(k, k) for k in keys] + ["reason"], rows))
        if bad.size > MAX_LISTED:
            lines += ["", f"... and {bad.size - MAX_LISTED} more (all are in the CSV, `--csv`)."]
    return "\n".join(lines)


def _frac_text(fraction) -> str:
    return "all" if fraction >= 1.0 else f"at least {fraction:.0%}"


def _pyv(v):
    return v.item() if isinstance(v, np.generic) else v


def _compare(fit, paper, source) -> str:
    if paper is None:
        return ""
    if fit.ci_low == fit.ci_high == fit.exponent == 0.0:
        return (f"flat: m* is the same at every value in the grid, so the exponent is below what the width "
                f"grid resolves (a finer grid of m would be needed to compare with the exponent {paper:g} of {source})")
    if fit.ci_low <= 0.0 <= fit.ci_high:
        return f"too uncertain (the interval includes 0) to compare with the exponent {paper:g} of {source}"
    if fit.ci_high < paper:
        return (f"below the exponent {paper:g} of {source} (that bound is sufficient, not necessary, "
                f"so a smaller measured exponent does not contradict it)")
    if fit.ci_low > paper:
        return f"above the exponent {paper:g} of {source}"
    return f"consistent with the exponent {paper:g} of {source}"


def _exponent_table(exps, points, axis) -> str:
    rows = []
    for e in exps:
        f = e.fit
        rows.append([_label(e.group, points), len(e.x), e.left_out_text() if hasattr(e, "left_out_text") else "–",
                     (f"{f.exponent:.2f}" if f.ok else "–"),
                     (f"[{f.ci_low:.2f}, {f.ci_high:.2f}]" if f.ok else f.note),
                     (f"{e.paper:g} — {e.paper_source}" if e.paper is not None else "–")])
    return _table(["line", "fitted (exact, stable)", "left out", f"exponent p, m* ∝ ({AXIS_TEXT.get(axis, axis)})^p",
                   "95% CI", "paper bound"], rows)


def _read_exponents(exps, points, axis) -> list:
    sentences = []
    ax = AXIS_TEXT.get(axis, axis)
    for e in exps:
        lab = _label(e.group, points)
        where = "" if lab == "all" else f" for {lab}"
        left = (f"; {_plural(e.n_left_out, 'value')} of {ax} left out ({e.left_out_text()})"
                if e.n_left_out else "")
        if e.fit.ok:
            s = (f"m* grows like ({ax})^{e.fit.exponent:.2f}±{e.fit.halfwidth:.2f}{where} "
                 f"(95% CI {e.fit.ci_low:.2f} to {e.fit.ci_high:.2f}, {_plural(e.fit.n_points, 'exact budget-stable point')})")
            cmp = _compare(e.fit, e.paper, e.paper_source)
            if cmp:
                s += f", {cmp}"
            s += left
            if e.not_reached:
                s += " (values not reached within the grid would raise the exponent)"
        else:
            s = f"The fit is not possible{where} {e.fit.note.replace('fit not possible ', '')}" + left
        sentences.append(s + ".")
    return sentences


def _q_text(r, q) -> str:
    st = r.stats
    if st is None or q not in st.quantiles:
        return "–"
    return st.quantiles[q].text()


def _mstar_cells_text(r) -> str:
    return " ".join(f"{c.m}:{c.text()}" for c in r.cells[1.0])


def _section_width(points, obs, rows, exps, fraction, outdir, fig_path, n_boot) -> str:
    keys = list(rows[0].group) if rows else []
    n_per = int(np.sum(obs.per_target & (obs.outcome >= 0)))
    n_res = int(np.sum(obs.outcome >= 0))
    lines = ["## Width requirement m*", "",
             f"For each group (ε and every other varying parameter but m and seed) and width m, each seed at "
             f"budget B is *reached* (first step with L_A ≤ ε is ≤ B), a *definite failure* (not reached and "
             f"the run ended by plateau or divergence by step B) or *censored* (still improving at B, or "
             f"stopped by the step budget: not a failure); seeds without a result are *unknown*. A width "
             f"qualifies when {_frac_text(fraction)} of its seeds reached, whatever the censored and unknown "
             f"ones would do; m* is the smallest width that qualifies, given only as exact when every smaller "
             f"width of the grid fails definitively. Otherwise it is a bound: “≤ m” when the smallest width "
             f"already qualifies, “> m” when every width fails (not reached within the grid), “between a "
             f"and b” when censored or unknown seeds leave widths undecided, or unknown. B is T/4, T/2 and T "
             f"of each run's own budget T (steps_planned); m* is *budget-stable* when m*(T/2) = m*(T), both "
             f"exact. Only budget-stable exact values enter the exponent fits.", ""]
    if n_res:
        if n_per == n_res:
            lines += [f"All {n_res} observations come from the per-target steps (/targets): "
                      f"{_plural(obs.runs, 'training run')} answer every ε of the file.", ""]
        else:
            lines += [f"{n_per} of {n_res} observations come from per-target steps; the other {n_res - n_per} "
                      f"from eps_step of files without /targets (older layout: a run that did not reach ε is "
                      f"counted as censored, since its ending is not recorded; diverged runs count as failures).",
                      ""]
    table = []
    for r in rows:
        st = r.stats
        table.append([fmt_value(r.group[k]) if k != "sweep" else points.sweep_label(r.group[k]) for k in keys]
                     + [r.m_star.kind] + [r.by_budget[b].text() for b in BUDGETS]
                     + ["yes" if r.stable else "no", _q_text(r, 0.5), _q_text(r, 0.9), r.n_seeds,
                        r.counts(1.0)["censored"], (len(st.nonmonotone) if st is not None else "–"),
                        _mstar_cells_text(r)])
    lines.append(_table([KEY_TEXT.get(k, k) for k in keys]
                        + ["status", "m*(T/4)", "m*(T/2)", "m*(T)", "stable", "m*₀.₅ [95% CI]", "m*₀.₉ [95% CI]",
                           "seeds", "censored", "non-monotone", "by m at T: reached/seeds"], table))
    lines += ["", "m*₀.₅, m*₀.₉: the widths where the fitted P(reach | m) crosses 0.5 and 0.9 (section Seed "
              "statistics)" + (f", with {n_boot}-replicate bootstrap intervals over seeds." if n_boot
                               else " (no bootstrap intervals).")
              + " “by m”: seeds reaching ε within T / seeds, with censored (cens) and unknown (unk) counts."]
    few = [r for r in rows if r.n_seeds < FEW_SEEDS]
    if few:
        lines += ["", f"**Warning:** {len(few)} of {_plural(len(rows), 'group')} have fewer than {FEW_SEEDS} seeds "
                  f"(as few as {min(r.n_seeds for r in few)}): m* over “{_frac_text(fraction)} seeds” drifts with "
                  f"the number of seeds, and the intervals of m*_q are rough."]
    lines += ["", _img(fig_path, outdir, "m* against 1/epsilon"), "",
              "Fitted exponents (least squares of log m* on log 1/ε over the exact, budget-stable m*; 95% t "
              "interval; the other groups are left out and counted):", "",
              _exponent_table(exps, points, "epsilon"), ""]
    n = len(rows)
    kinds = {}
    for r in rows:
        kinds[r.m_star.status] = kinds.get(r.m_star.status, 0) + 1
    stable = sum(r.stable for r in rows)
    text = (f"At the full budget T, {kinds.get('exact', 0)} of {_plural(n, 'group')} have an exact m*, "
            f"{stable} of them budget-stable")
    parts = []
    if kinds.get("le_smallest"):
        parts.append(f"{kinds['le_smallest']} only a bound ≤ the smallest width")
    if kinds.get("gt_largest"):
        parts.append(f"{kinds['gt_largest']} not reached within the grid (m* > "
                     f"{max(r.m_star.largest for r in rows if r.m_star.status == 'gt_largest')})")
    if kinds.get("between"):
        parts.append(f"{kinds['between']} undecided between widths")
    if kinds.get("unknown"):
        parts.append(f"{kinds['unknown']} unknown")
    if parts:
        text += "; " + ", ".join(parts)
    text += "."
    unstable = [r for r in rows if r.m_star.exact and not r.stable]
    if unstable:
        r = unstable[0]
        text += (f" {_plural(len(unstable), 'exact m*')} changed between T/2 and T (e.g. {_label(r.group, points)}: "
                 f"{r.by_budget[0.5].text()} at T/2, {r.m_star.text()} at T): there m* measures the step "
                 f"budget as much as the width.")
    text = " ".join([text] + _read_exponents(exps, points, "epsilon"))
    lines += ["**Reading.** " + text]
    return "\n".join(lines)


def _section_other_exponents(points, rows, axis, outdir, fig_path, plots) -> str:
    model = points.constant("model")
    exps = fit_exponents(rows, axis=axis, model=model)
    if not exps:
        return ""
    plots.plot_width_requirement(rows, exps, fig_path, axis=axis,
                                 sweep_labels=[s.label for s in points.sweeps], fraction=rows[0].fraction)
    lines = [f"## Width requirement against {axis}", "",
             _img(fig_path, outdir, f"m* against {axis}"), "", _exponent_table(exps, points, axis), "",
             "**Reading.** " + " ".join(_read_exponents(exps, points, axis))]
    return "\n".join(lines)


def _section_seeds(points, rows, boots, paths, omitted, outdir, n_boot, rng_seed) -> str:
    lines = ["## Seed statistics", "",
             "Per group, every (m, seed) at budget T is a binary outcome, reached or definite failure "
             "(censored and unknown seeds are left out and counted). P(reach | m) is fitted as a logistic "
             "curve in log m (maximum likelihood, a weak ridge on the slope so that separated seeds give a "
             "steep finite curve) and, without a model, as the isotonic (non-decreasing) fit of the per-width "
             "fractions. m*_q is the smallest width within the grid where the logistic P ≥ q (“≤ m” when "
             "it holds at the smallest width, “> m” when at no width of the grid). "
             + (f"Intervals: {n_boot} bootstrap replicates over seeds (a seed drawn brings all its widths), "
                f"percentiles 2.5 and 97.5, random generator seeded with {rng_seed}: the report is "
                f"reproducible." if n_boot else "No bootstrap (--bootstrap 0)."), ""]
    lines += [_img(p, outdir, "P(reach | m)") for p in paths]
    if omitted:
        lines += ["", f"{_plural(omitted, 'further group')} not drawn (raise `--max-panels`)."]
    table = []
    for r in rows:
        st = r.stats
        table.append([_label(r.group, points), st.n_seeds, st.n_binary, st.n_censored, st.n_unknown,
                      (f"{st.b:.2f}" if st.fit_ok else st.note or "–"), _q_text(r, 0.5), _q_text(r, 0.9),
                      " / ".join(("–" if st.iso_quantiles.get(q) is None else str(st.iso_quantiles[q]))
                                 for q in QUANTILES),
                      len(st.nonmonotone)])
    lines += ["", _table(["group", "seeds", "binary outcomes", "censored", "unknown", "slope b (logit per log m)",
                          "m*₀.₅ [95% CI]", "m*₀.₉ [95% CI]", "isotonic m*₀.₅ / m*₀.₉", "non-monotone seeds"],
                         table)]
    if boots:
        brows = []
        for b in boots:
            f = b.fit
            brows.append([AXIS_TEXT.get(b.axis, b.axis), _label(b.group, points), len(b.x), b.left_out,
                          f"{f.exponent:.2f}" if f.ok else f.note, b.ci_text(),
                          f"{b.paper:g}" if b.paper is not None else "–"])
        lines += ["", "Exponent of m*₀.₅ (least squares of log m*₀.₅ on the log of the axis over the groups with "
                  "m*₀.₅ within the grid; bootstrap percentile interval, the same seed resampling applied to "
                  "every group of the line):", "",
                  _table(["axis", "line", "groups fitted", "left out (bounds)", "exponent", "bootstrap 95% CI",
                          "paper"], brows)]
    nm = [(r, t) for r in rows for t in r.stats.nonmonotone]
    if nm:
        lines += ["", f"### Non-monotone seeds ({len(nm)})", "",
                  "A seed that reaches ε at width m1 within T but fails definitively (plateau or divergence) at "
                  "a larger width m2:", ""]
        lines.append(_table(["group", "seed", "reached at m1", "definite failure at m2"],
                            [[_label(r.group, points), s, m1, m2] for r, (s, m1, m2) in nm[:MAX_LISTED]]))
        if len(nm) > MAX_LISTED:
            lines += ["", f"... and {len(nm) - MAX_LISTED} more (m_star.csv counts them per group)."]
    few = sum(r.n_seeds < FEW_SEEDS for r in rows)
    text = (f"{sum(1 for r in rows if r.stats.fit_ok)} of {_plural(len(rows), 'group')} have both outcomes "
            f"and a fitted curve.")
    n_nm = len({(id(r), t[0]) for r, t in nm})
    text += (f" {_plural(n_nm, 'seed')} in {len({id(r) for r, _ in nm})} groups are non-monotone in m (a wider "
             f"network failed where a narrower one reached)." if nm else " No seed is non-monotone in m.")
    if few:
        text += (f" **{few} groups have fewer than {FEW_SEEDS} seeds**: their curves and intervals rest on few "
                 f"outcomes per width.")
    lines += ["", "**Reading.** " + text]
    return "\n".join(lines)


def _section_trajectories(points, keys, paths, omitted, outdir) -> str:
    lines = ["## Trajectories", "",
             "Surrogate loss L_A(W_t) per width (lines, colour = m), the strong-attack robust-loss estimate "
             "(dotted, dots) and ε (dashed). Diverged runs end in a red x.", ""]
    lines += [_img(p, outdir, "trajectories") for p in paths]
    if omitted:
        lines += ["", f"{_plural(omitted, 'further group')} not drawn (raise `--max-panels`)."]
    done = points.done
    init = np.asarray(points.summary.get("init_surrogate", np.full(len(points), np.nan)), float)[done]
    fin = np.asarray(points.summary["final_surrogate"], float)[done]
    eps = np.asarray(points.params["epsilon"], float)[done]
    rob = np.asarray(points.summary["final_robust_loss"], float)[done]
    n_div = int(np.sum(points.status == DIVERGED))
    with np.errstate(invalid="ignore"):
        below = int(np.sum(fin <= eps))
        rob_above = int(np.sum((fin <= eps) & (rob > eps)))
    text = (f"Across {_plural(int(done.sum()), 'done run')} the surrogate loss went from a median "
            f"{_num(float(np.nanmedian(init)) if np.isfinite(init).any() else math.nan)} at t = 0 to a median "
            f"{_num(float(np.nanmedian(fin)) if np.isfinite(fin).any() else math.nan)} at the last step; "
            f"{below} ended at or below ε")
    text += (f", and for {rob_above} of those the strong attack's loss is still above ε." if below else ".")
    if n_div:
        text += f" {_plural(n_div, 'run')} diverged."
    lines += ["", "**Reading.** " + text]
    return "\n".join(lines)


def _section_gap(points, path, not_drawn, outdir) -> str:
    lines = ["## Surrogate vs robust loss", "",
             _img(path, outdir, "robust vs surrogate loss"), ""]
    attack = np.asarray(points.params.get("attack", np.full(len(points), "?"))).astype(str)
    x = np.asarray(points.summary["final_surrogate"], float)
    y = np.asarray(points.summary["final_robust_loss"], float)
    eps = np.asarray(points.params["epsilon"], float)
    rows, sentences = [], []
    for a in sorted(set(attack[points.done].tolist())):
        sel = points.done & (attack == a) & np.isfinite(x) & np.isfinite(y)
        if not sel.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(x[sel] > 0, y[sel] / x[sel], np.nan)
        med_ratio = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else math.nan
        frac_rob = float(np.mean(y[sel] <= eps[sel]))
        frac_sur = float(np.mean(x[sel] <= eps[sel]))
        rows.append([a, int(sel.sum()), _num(float(np.median(x[sel]))), _num(float(np.median(y[sel]))),
                     _num(med_ratio), f"{frac_sur:.0%}", f"{frac_rob:.0%}"])
        sentences.append(f"for attack={a} the strong attack's loss is a median {_num(med_ratio)}× the final "
                         f"surrogate ({frac_sur:.0%} of runs end with surrogate ≤ ε, {frac_rob:.0%} with "
                         f"robust loss ≤ ε)")
    lines.append(_table(["attack", "done points", "median final surrogate", "median final robust",
                         "median robust/surrogate", "surrogate ≤ ε", "robust ≤ ε"], rows))
    text = ("; ".join(sentences) + ".") if sentences else "No done run has finite final losses."
    text = text[0].upper() + text[1:]
    if not_drawn:
        text += (f" {_plural(not_drawn, 'run')} with non-finite or non-positive losses "
                 f"{'is' if not_drawn == 1 else 'are'} not drawn.")
    lines += ["", "**Reading.** " + text]
    return "\n".join(lines)


def _runs_view(points, keys):
    """The rows that trained (trained_as == index) and the keys without epsilon, when some
    points share another point's run; else the points and keys as they are."""
    tr = np.asarray(points.summary.get("trained_as", points.index), float)
    own = (tr == points.index) | (tr < 0)
    if own.all():
        return points, list(keys)
    return points.select(own), [k for k in keys if k != "epsilon"]


def _section_laziness(points, keys, paths, outdir) -> str:
    lines = ["## Laziness", "",
             "Distance from initialisation at the end of training, `final_dist` (in units of R: divided by R "
             "when R is finite), against m.", ""]
    lines += [_img(p, outdir, "distance from init") for p in paths]
    y = dist_in_R(points)
    m = np.asarray(points.params["m"]).astype(float)
    lazy_keys = list(keys)
    rows, sentences = [], []
    for key, idx in group_indices(points, lazy_keys).items():
        idx = idx[points.done[idx] & np.isfinite(y[idx])]
        if idx.size == 0:
            continue
        ms = sorted(set(m[idx].tolist()))
        med = [float(np.median(y[idx][m[idx] == v])) for v in ms]
        f = fit_power_law(ms, med)
        lab = _label(dict(zip(lazy_keys, key)), points)
        rows.append([lab, _plural(len(ms), "width"), _num(med[0]), _num(med[-1]),
                     f"{f.exponent:.2f} ± {f.halfwidth:.2f}" if f.ok else f.note])
        if f.ok:
            sentences.append(f"{'' if lab == 'all' else lab + ': '}m^{f.exponent:.2f}±{f.halfwidth:.2f}")
    lines += ["", _table(["group", "widths", "median at smallest m", "median at largest m",
                          "exponent of median in m"], rows)]
    R = np.asarray(points.params.get("R", np.full(len(points), np.inf)), float)
    finite = points.done & np.isfinite(R) & np.isfinite(y)
    text = ("The median final distance changes like " + "; ".join(sentences[:6])
            + (f" (and {len(sentences) - 6} more groups)" if len(sentences) > 6 else "") + "."
            if sentences else "Too few widths for a trend in m.")
    if finite.any():
        top = float(np.max(y[finite]))
        at_edge = int(np.sum(y[finite] >= 0.99))
        text += (f" With finite R the largest final_dist/R is {_num(top)}; {at_edge} of {int(finite.sum())} runs "
                 f"end on the boundary of B(R) (≥ 0.99 R).")
    lines += ["", "**Reading.** " + text]
    return "\n".join(lines)


def _section_success_map(rows, paths, outdir) -> str:
    lines = ["## Success map", "",
             "Fraction of seeds with a result that reach ε within T over (m, ε); +Nc: censored seeds in the "
             "cell; grey: no result yet; red x: definite failures in the cell; white frame: exact m*.", ""]
    lines += [_img(p, outdir, "success map") for p in paths]
    nonmono = []
    for r in rows:
        fr = [c.reached / c.seeds for c in r.cells[1.0] if c.seeds]
        if any(b < a - 1e-12 for a, b in zip(fr, fr[1:])):
            nonmono.append(r)
    full = sum(1 for r in rows for c in r.cells[1.0] if c.seeds and c.reached == c.seeds)
    cells = sum(1 for r in rows for c in r.cells[1.0] if c.seeds)
    text = f"{full} of {_plural(cells, 'cell')} have every seed reaching ε."
    if nonmono:
        text += (f" In {_plural(len(nonmono), 'group')} the fraction is not monotone in m (a wider network "
                 f"did worse), e.g. {group_label(nonmono[0].group)}.")
    else:
        text += " Within each group the fraction never decreases with m."
    lines += ["", "**Reading.** " + text]
    return "\n".join(lines)


def _section_capacity(points, cap, criterion, path, outdir) -> str:
    crit = {"acc": "final clean accuracy 1 for attack none, final strong-attack robust accuracy 1 otherwise",
            "loss": "min_t L_A ≤ ε", "either": "accuracy 1 or min_t L_A ≤ ε"}[criterion]
    lines = ["## Capacity: clean vs robust interpolation", "",
             f"Smallest width whose seeds interpolate the training set (criterion: {crit}) for clean training "
             f"(attack none) and for adversarial training, against n·d. Theorem 6.1: a robust-interpolation "
             f"class needs VC-dimension Ω(nd), while O(n log n) suffices for clean interpolation.", "",
             _img(path, outdir, "capacity"), ""]
    attacks = sorted({a for c in cap for a in c.robust})
    rows = []
    for c in cap:
        rows.append([_label(c.group, points), c.n, c.d, c.nd, c.clean.m_text() if c.clean else "–"]
                    + [c.robust[a].m_text() if a in c.robust else "–" for a in attacks])
    lines.append(_table(["group", "n", "d", "n·d", "clean m*"] + [f"robust m* ({a})" for a in attacks], rows))
    sentences = []
    has_clean = any(c.clean is not None for c in cap)
    if not has_clean:
        sentences.append("The sweep has no attack=none runs, so clean interpolation is not measured")
    series = {}
    for c in cap:
        if c.clean is not None:
            series.setdefault(("none", tuple(c.group.items())), []).append((c.nd, c.clean))
        for a, r in c.robust.items():
            series.setdefault((a, tuple(c.group.items())), []).append((c.nd, r))
    for (a, g), pts in series.items():
        lab = ("clean" if a == "none" else f"robust ({a})") + ("" if not g else f", {_label(dict(g), points)}")
        reached = [(nd, r.m_star) for nd, r in pts if r.m_star is not None and r.m_star != r.min_m]
        nr = sum(r.status == "not reached" for _, r in pts)
        nb = sum(r.m_star is not None and r.m_star == r.min_m for _, r in pts)
        f = fit_power_law([p[0] for p in reached], [p[1] for p in reached])
        s = (f"{lab}: m* ∝ (n·d)^{f.exponent:.2f}±{f.halfwidth:.2f}" if f.ok
             else f"{lab}: {f.note}")
        if nr:
            s += f", {nr} n·d not reached within the grid"
        if nb:
            s += f", {nb} n·d only bounded (≤ the smallest width) and left out of the fit"
        sentences.append(s)
    ratios = []
    for c in cap:
        if c.clean is not None and c.clean.m_star and c.clean.m_star != c.clean.min_m:   # exact, not a bound
            for a, r in c.robust.items():
                if r.m_star and r.m_star != r.min_m:
                    ratios.append(r.m_star / c.clean.m_star)
    if ratios:
        sentences.append(f"where both are exact, robust interpolation needs {_num(float(np.median(ratios)))}× "
                         f"the clean width (median over {_plural(len(ratios), 'comparison')}, range "
                         f"{_num(min(ratios))} to {_num(max(ratios))})")
    text = "; ".join(sentences) + "."
    lines += ["", "**Reading.** " + text[0].upper() + text[1:]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------

def build_report(points: Points, outdir: str, fraction: float = 1.0, csv_out: bool = False,
                 max_panels: int = 24, capacity_criterion: str = "acc", n_boot: int = N_BOOT,
                 rng_seed: int = 0) -> str:
    """Write report.md and its figures (and points.csv, width_requirement.csv, m_star.csv,
    observations.csv with csv_out) into outdir; return the path of report.md.

    n_boot: bootstrap replicates over seeds for the intervals of m*_q and of the exponents of
    m*_0.5 (0 = none); rng_seed: seed of their random generator."""
    from . import plots  # matplotlib only once there is something to draw

    os.makedirs(outdir, exist_ok=True)
    fig = lambda name: os.path.join(outdir, name)  # noqa: E731
    labels = [s.label for s in points.sweeps]
    keys = width_keys(points)
    obs = observations(points, keys)
    rows = m_star_table(points, fraction=fraction, obs=obs)
    seed_statistics(rows, n_boot=n_boot, rng_seed=rng_seed)
    model = points.constant("model")
    exps = fit_exponents(rows, axis="epsilon", model=model)
    boots = []
    for axis in ("epsilon", "H", "R"):
        if axis in keys:
            boots += bootstrap_exponents(rows, axis=axis, n_boot=n_boot, rng_seed=rng_seed, model=model)

    jobs = ", ".join(sorted({s.job_name or "?" for s in points.sweeps}))
    parts = [f"# advsweep report: {jobs}", "",
             f"Width requirement of adversarial training (Gao et al. 2019), from "
             f"{_plural(sum(len(s.paths) for s in points.sweeps), 'file')}. Varying: "
             + (", ".join(KEY_TEXT.get(k, k) for k in points.varying()) or "nothing") + ".",
             "", _section_files(points), "", _section_fixed(points), "", _section_status(points)]

    w = plots.plot_width_requirement(rows, exps, fig("width_requirement.png"), sweep_labels=labels,
                                     fraction=fraction)
    parts += ["", _section_width(points, obs, rows, exps, fraction, outdir, w, n_boot)]
    for axis in ("H", "R"):
        if axis in keys:
            sec = _section_other_exponents(points, rows, axis, outdir, fig(f"width_vs_{axis}.png"), plots)
            if sec:
                parts += ["", sec]

    ppaths, pomitted = plots.plot_p_reach(rows, fig("p_reach.png"), sweep_labels=labels, max_panels=max_panels)
    parts += ["", _section_seeds(points, rows, boots, ppaths, pomitted, outdir, n_boot, rng_seed)]

    # Trajectories, final losses and distances belong to training runs: where points that
    # differ only in epsilon share one run, each run is drawn and counted once (without epsilon).
    runs, run_keys = _runs_view(points, keys)
    tpaths, omitted = plots.plot_trajectories(runs, run_keys, fig("trajectories.png"), max_panels=max_panels,
                                              sweep_labels=labels)
    parts += ["", _section_trajectories(runs, run_keys, tpaths, omitted, outdir)]

    gpath, not_drawn = plots.plot_gap(points, fig("surrogate_vs_robust.png"))
    parts += ["", _section_gap(points, gpath, not_drawn, outdir)]

    lpaths = plots.plot_laziness(runs, run_keys, fig("laziness.png"), sweep_labels=labels)
    parts += ["", _section_laziness(runs, run_keys, lpaths, outdir)]

    spaths = plots.plot_success_map(rows, fig("success_map.png"), sweep_labels=labels)
    parts += ["", _section_success_map(rows, spaths, outdir)]

    if is_capacity(points):
        cap = capacity_requirement(points, fraction=fraction, criterion=capacity_criterion)
        cpath = plots.plot_capacity(cap, fig("capacity.png"), sweep_labels=labels)
        parts += ["", _section_capacity(points, cap, capacity_criterion, cpath, outdir)]

    if csv_out:
        write_csv(points, fig("points.csv"))
        write_width_csv(rows, points, fig("width_requirement.csv"))
        write_mstar_csv(rows, points, fig("m_star.csv"))
        write_observations_csv(obs, fig("observations.csv"))
        parts += ["", "## Data", "",
                  "- [points.csv](points.csv): one row per point; the columns of /runs with their names "
                  "(the summary's step size is `summary_lr`), then sweep, job_name, grid_hash, status_name, "
                  "source, reached_epsilon, dist_over_R.",
                  "- [width_requirement.csv](width_requirement.csv): per group, width and budget: seeds "
                  "reached / failed / censored / unknown.",
                  "- [m_star.csv](m_star.csv): per group: m* at T/4, T/2, T (status, value, bounds), "
                  "stable, m*_q (status, bounding width) with bootstrap intervals, seed counts, non-monotone "
                  "seeds.",
                  "- [observations.csv](observations.csv): one row per (training run, target): step, "
                  "outcome, class at T/4, T/2, T."]
    path = fig("report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(parts) + "\n")
    return path


def _group_cells(rows, points):
    keys = list(rows[0].group) if rows else []
    return keys, lambda r: [_cell(r.group[k]) for k in keys]


def write_width_csv(rows, points: Points, path: str) -> str:
    """One row per (group, width, budget): the group's keys, m, budget (T/4, T/2, T), its step
    fraction, seeds, reached, failed, censored, unknown, state (yes = qualifies, no = fails,
    undecided), and the group's m* at that budget (text and status)."""
    keys, gv = _group_cells(rows, points)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys + ["m", "budget", "budget_fraction", "seeds", "reached", "failed", "censored", "unknown",
                           "state", "m_star", "m_star_status"])
        for r in rows:
            for b in sorted(r.cells):
                ms = r.by_budget[b]
                for c in r.cells[b]:
                    w.writerow(gv(r) + [c.m, budget_text(b), b, c.seeds, c.reached, c.failed, c.censored,
                                        c.unknown, c.state, ms.text(), ms.status])
    return path


def _qcell(v):
    """m*_q cell: a width, -inf (≤ the smallest width), inf (> the largest), nan (not estimable)."""
    return _cell(float(v))


def _qstatus(v, smallest, largest):
    """(status, bounding width) of an m*_q value: within (a width in the grid's range), le_smallest
    (≤ the smallest width), gt_largest (> the largest), not_estimable."""
    v = float(v)
    if math.isnan(v):
        return "not_estimable", ""
    if v == -math.inf:
        return "le_smallest", smallest
    if v == math.inf:
        return "gt_largest", largest
    return "within", ""


def _mstar_cells(ms):
    """m_star_B, _status, _value, _lo, _hi of one MStar. _lo: m* ≥ lo (between, unknown), m* > lo
    (gt_largest: lo is the largest width); _hi: m* ≤ hi (between, le_smallest: the smallest width)."""
    if ms is None:
        return [""] * 5
    lo = ms.largest if ms.status == "gt_largest" else ms.lo
    return [ms.text(), ms.status, "" if ms.value is None else ms.value, "" if lo is None else lo,
            "" if ms.hi is None else ms.hi]


def write_mstar_csv(rows, points: Points, path: str) -> str:
    """One row per group: keys; for each budget T4, T2, T: m_star_B (text), m_star_B_status
    (exact, le_smallest, gt_largest, between, unknown), m_star_B_value (exact width or empty),
    m_star_B_lo, m_star_B_hi (bounds, or empty: m* ≥ lo for between and unknown, m* > lo = the
    largest width for gt_largest, m* ≤ hi for between and le_smallest, where hi is the smallest
    width); stable (0/1); seeds; reached, failed, censored, unknown at T; m_smallest, m_largest
    (the group's grid of widths); for q = 50, 90: m_qQ (a width, -inf: ≤ the smallest width, inf:
    > the largest, nan: not estimable), m_qQ_status (within, le_smallest, gt_largest,
    not_estimable), m_qQ_bound (the bounding width of le_smallest and gt_largest, else empty),
    m_qQ_low, m_qQ_high (the bootstrap interval, the same conventions as m_qQ); iso_m_q50,
    iso_m_q90; logit_a, logit_b (logit P = a + b ln m); nonmonotone_seeds."""
    keys, gv = _group_cells(rows, points)
    tags = {0.25: "T4", 0.5: "T2", 1.0: "T"}
    head = list(keys)
    for b in BUDGETS:
        t = tags[b]
        head += [f"m_star_{t}", f"m_star_{t}_status", f"m_star_{t}_value", f"m_star_{t}_lo", f"m_star_{t}_hi"]
    head += ["stable", "seeds", "reached", "failed", "censored", "unknown", "m_smallest", "m_largest"]
    for q in QUANTILES:
        t = f"m_q{int(round(q * 100))}"
        head += [t, f"{t}_status", f"{t}_bound", f"{t}_low", f"{t}_high"]
    head += [f"iso_m_q{int(round(q * 100))}" for q in QUANTILES] + ["logit_a", "logit_b", "nonmonotone_seeds"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        for r in rows:
            row = gv(r)
            for b in BUDGETS:
                row += _mstar_cells(r.by_budget.get(b))
            c = r.counts(1.0)
            widths = np.unique(np.asarray(r.m, np.int64))
            smallest, largest = (int(widths[0]), int(widths[-1])) if widths.size else ("", "")
            row += [int(r.stable), r.n_seeds, c["reached"], c["failed"], c["censored"], c["unknown"], smallest,
                    largest]
            st = r.stats
            for q in QUANTILES:
                qt = st.quantiles.get(q) if st is not None else None
                if qt is None:
                    row += [""] * 5
                    continue
                status, bound = _qstatus(qt.value, qt.smallest, qt.largest)
                row += [_qcell(qt.value), status, bound, _qcell(qt.ci[0]), _qcell(qt.ci[1])]
            row += [("" if st is None or st.iso_quantiles.get(q) is None else st.iso_quantiles[q]) for q in QUANTILES]
            row += ([_cell(float(st.a)), _cell(float(st.b)), len(st.nonmonotone)] if st is not None else [""] * 3)
            w.writerow(row)
    return path


def write_observations_csv(obs, path: str) -> str:
    """One row per observation (training run x target, and points without a result): the group
    keys (epsilon = the target tau), m, seed, step, outcome (reached, plateau, budget, diverged,
    or empty without a result), steps_run, steps_planned, point (row index in the sweep table),
    per_target (1: from /targets), shared (1: another point's training), class_T4, class_T2,
    class_T (reached, failed, censored, unknown)."""
    cls = {b: obs.classify(b) for b in BUDGETS}
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(obs.keys) + ["m", "seed", "step", "outcome", "steps_run", "steps_planned", "point",
                                     "per_target", "shared", "class_T4", "class_T2", "class_T"])
        for k in range(len(obs)):
            w.writerow([_cell(v) for v in obs.group[k]]
                       + [int(obs.m[k]), int(obs.seed[k]), int(obs.step[k]),
                          OUTCOME_NAMES.get(int(obs.outcome[k]), ""), int(obs.steps_run[k]),
                          int(obs.steps_planned[k]), int(obs.point[k]), int(obs.per_target[k]), int(obs.shared[k])]
                       + [CLASS_NAMES[int(cls[b][k])] for b in BUDGETS])
    return path


# ----------------------------------------------------------------------------------------------
# command line

def _fraction(text):
    v = real_arg(text)
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]: {text}")
    return v


def _count(text):
    v = int_arg(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return v


def parser() -> argparse.ArgumentParser:
    """The command line (advsweep's option rules: cli.StrictParser)."""
    p = StrictParser(
        prog=PROG, description="Report on advsweep sweep files: width requirement m* (censoring, budgets "
        "T/4, T/2, T, stability), seed statistics (P(reach | m), m*_0.5, m*_0.9, bootstrap), fitted "
        "exponents, trajectories, robust gap, laziness, success map, capacity.")
    p.add_argument("files", nargs="+", metavar="FILE.h5", help="sweep files; equal grid_hash = merged shards")
    p.add_argument("-o", "--outdir", required=True, metavar="OUTDIR", help="directory for report.md and figures")
    p.add_argument("--fraction", type=_fraction, default=1.0, metavar="F",
                   help="fraction of seeds that must reach epsilon at m* (default 1.0: all seeds)")
    p.add_argument("--csv", action="store_true",
                   help="also write points.csv, width_requirement.csv, m_star.csv and observations.csv")
    p.add_argument("--max-panels", type=_count, default=24, metavar="N",
                   help="at most N trajectory panels (groups); 0 = all (default 24)")
    p.add_argument("--capacity-criterion", choices=CRITERIA, default="acc",
                   help="interpolation test of capacity sweeps: accuracy 1, min surrogate <= eps, or either "
                        "(default acc)")
    p.add_argument("--bootstrap", type=_count, default=N_BOOT, metavar="N",
                   help=f"bootstrap replicates over seeds for the intervals of m*_q and of exponents "
                        f"(default {N_BOOT}; 0 = no intervals)")
    p.add_argument("--bootstrap-seed", type=_count, default=0, metavar="S",
                   help="seed of the bootstrap's random generator (default 0): equal seeds, equal report")
    return p


def _error(msg: str, code: int = 2) -> int:
    print(f"{PROG}: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    # NaN-heavy partial sweeps make numpy and matplotlib chatty; the report says what is missing.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        return _run(args)


def _run(args) -> int:
    try:
        points = load(args.files)
        for w in points.warnings:
            print(f"{PROG}: warning: {' '.join(w.split())}", file=sys.stderr)
        try:
            os.makedirs(args.outdir, exist_ok=True)
        except OSError as e:
            return _error(f"{args.outdir}: cannot create output directory ({e.strerror or e})")
        path = build_report(points, args.outdir, fraction=args.fraction, csv_out=args.csv,
                            max_panels=args.max_panels, capacity_criterion=args.capacity_criterion,
                            n_boot=args.bootstrap, rng_seed=args.bootstrap_seed)
    except SweepError as e:
        return _error(str(e))
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except Exception as e:  # a bug: one line unless asked for the traceback
        if os.environ.get("ADVSWEEP_DEBUG"):
            raise
        return _error(f"internal error: {type(e).__name__}: {e} (set ADVSWEEP_DEBUG=1 for a traceback)", 1)
    print(path)
    return 0
