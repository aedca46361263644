"""report.py — report.md (figures, tables, a plain reading of each) and the tidy CSV; the CLI.

    report.py FILE.h5 [FILE.h5 ...] -o OUTDIR [--fraction F] [--csv] [--max-panels N]
              [--capacity-criterion acc|loss|either]

Bad input (not HDF5, not a sweep, newer layout, empty sweep) gives one line
`report.py: error: ...` on stderr and exit status 2; warnings (merge conflicts,
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

from .fit import AXIS_TEXT, fit_exponents, fit_power_law
from .load import DIVERGED, DONE, FAILED, STATUS_NAMES, Points, SweepError, load
from .width import (CRITERIA, KEY_TEXT, capacity_requirement, dist_in_R, fmt_value, group_indices, group_keys,
                    group_label, is_capacity, reached_epsilon, width_requirement)

PROG = "report.py"
MAX_LISTED = 30   # failed/diverged points listed one by one in the report


# ----------------------------------------------------------------------------------------------
# CSV

def write_csv(points: Points, path: str) -> str:
    """One row per point: sweep, index, status, reason, every parameter, every summary field,
    reached_epsilon and dist_over_R. Summary cells of points without a result (pending,
    running) are left empty."""
    params, summary = points.param_names, points.summary_names
    reached = reached_epsilon(points)
    dist = dist_in_R(points) if "final_dist" in points.summary else np.full(len(points), np.nan)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sweep", "job_name", "grid_hash", "index", "status", "status_code", "reason", "source"]
                   + params + summary + ["reached_epsilon", "dist_over_R"])
        for i in range(len(points)):
            info = points.sweeps[int(points.sweep[i])]
            st = int(points.status[i])
            result = st in (DONE, DIVERGED, FAILED)
            row = [int(points.sweep[i]), info.job_name, info.grid_hash, int(points.index[i]),
                   STATUS_NAMES.get(st, "unknown"), st, str(points.reason[i]), str(points.source[i])]
            row += [_cell(points.params[n][i]) for n in params]
            row += [_cell(points.summary[n][i]) if result else "" for n in summary]
            row += [(int(bool(reached[i])) if st in (DONE, DIVERGED) else ""),
                    (_cell(dist[i]) if result else "")]
            w.writerow(row)
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


def width_keys(points: Points) -> list:
    """Grouping keys of the width requirement: every varying parameter but m and seed,
    with epsilon always present (it is the fit's abscissa)."""
    keys = group_keys(points)
    if "epsilon" not in keys:
        keys.append("epsilon")
    return keys


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


def _section_status(points: Points) -> str:
    lines = ["## Points", ""]
    rows = []
    for s in points.sweeps:
        sub = points.select(points.sweep == s.sweep)
        c = sub.counts()
        pend = f"{c['pending']}" + (f" ({c['not_assigned']} in shards not given)" if c["not_assigned"] else "")
        rows.append([s.label, c["total"], c["done"], c["diverged"], c["failed"], c["running"], pend]
                    + ([c["unknown"]] if c["unknown"] else []))
    c = points.counts()
    header = ["sweep", "points", "done", "diverged", "failed", "running", "pending"] + \
        (["unknown status"] if c["unknown"] else [])
    lines.append(_table(header, rows))
    missing = c["pending"] + c["running"] + c["unknown"]
    text = (f"{c['done']} of {c['total']} points are done and analysed; {c['diverged']} diverged "
            f"(counted as not reaching ε), {c['failed']} failed (no result), and {missing} have no result yet "
            f"({c['pending']} pending, {c['running']} running).")
    if missing or c["failed"]:
        text += " Groups with seeds still missing are marked provisional below."
    else:
        text += " The sweep is complete."
    lines += ["", text]
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
        rows.append([_label(e.group, points), len(e.x), len(e.not_reached),
                     (f"{f.exponent:.2f}" if f.ok else "–"),
                     (f"[{f.ci_low:.2f}, {f.ci_high:.2f}]" if f.ok else f.note),
                     (f"{e.paper:g} — {e.paper_source}" if e.paper is not None else "–")])
    return _table(["line", "reached", "not reached", f"exponent p, m* ∝ ({AXIS_TEXT.get(axis, axis)})^p",
                   "95% CI", "paper bound"], rows)


def _read_exponents(exps, points, axis) -> list:
    sentences = []
    ax = AXIS_TEXT.get(axis, axis)
    for e in exps:
        lab = _label(e.group, points)
        where = "" if lab == "all" else f" for {lab}"
        if e.fit.ok:
            s = (f"m* grows like ({ax})^{e.fit.exponent:.2f}±{e.fit.halfwidth:.2f}{where} "
                 f"(95% CI {e.fit.ci_low:.2f} to {e.fit.ci_high:.2f}, {_plural(e.fit.n_points, 'point')})")
            cmp = _compare(e.fit, e.paper, e.paper_source)
            if cmp:
                s += f", {cmp}"
            if e.not_reached:
                s += (f"; {_plural(len(e.not_reached), 'value')} of {ax} never reached within the grid "
                      f"{'is' if len(e.not_reached) == 1 else 'are'} left out, so the exponent may be underestimated")
            if e.provisional:
                s += f"; {e.provisional} of these m* {'is' if e.provisional == 1 else 'are'} provisional"
        else:
            s = f"The fit is not possible{where} {e.fit.note.replace('fit not possible ', '')}"
            if e.not_reached:
                s += f", and {_plural(len(e.not_reached), 'value')} of {ax} did not reach ε within the grid"
        sentences.append(s + ".")
    return sentences


def _section_width(points, rows, exps, fraction, outdir, fig_path) -> str:
    keys = list(rows[0].group) if rows else []
    lines = ["## Width requirement m*", "",
             f"m* is the smallest width of the grid at which {_frac_text(fraction)} of the seeds reach "
             f"min_t L_A(W_t) ≤ ε. Seeds count when they have a result (done, or diverged = not reached); "
             f"failed, pending and running seeds are not counted and make m* provisional. "
             f"“Not reached” means no width of the grid qualified; nothing is extrapolated. "
             f"The column “by m” gives successes/seeds with a result at each width.", ""]
    table = []
    for r in rows:
        table.append([fmt_value(r.group[k]) if k != "sweep" else points.sweep_label(r.group[k]) for k in keys]
                     + [r.m_star if r.m_star is not None else "–", r.status_text(),
                        " ".join(f"{c.m}:{c.text()}" for c in r.cells)])
    lines.append(_table([KEY_TEXT.get(k, k) for k in keys] + ["m*", "status", "by m"], table))
    lines += ["", _img(fig_path, outdir, "m* against 1/epsilon"), "", "Fitted exponents (least squares of "
              "log m* on log 1/ε over the reached points; 95% t interval):", "",
              _exponent_table(exps, points, "epsilon"), ""]
    n = len(rows)
    reached = sum(r.status == "reached" for r in rows)
    nr = [r for r in rows if r.status == "not reached"]
    nodata = sum(r.status == "no data" for r in rows)
    prov = sum(r.provisional for r in rows if r.status != "no data")
    text = (f"{reached} of {_plural(n, 'group')} reached ε in {_frac_text(fraction)} of their seeds within "
            f"the grid")
    if nr:
        text += (f"; {len(nr)} did not (largest width tried: {max(r.max_m for r in nr)}), e.g. "
                 + "; ".join(_label(r.group, points) for r in nr[:3]))
    if nodata:
        text += f"; {nodata} have no result yet"
    text += "."
    if prov:
        text += f" {prov} of these conclusions are provisional because seeds are still missing."
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
    lines.append(_table(["attack", "done runs", "median final surrogate", "median final robust",
                         "median robust/surrogate", "surrogate ≤ ε", "robust ≤ ε"], rows))
    text = ("; ".join(sentences) + ".") if sentences else "No done run has finite final losses."
    text = text[0].upper() + text[1:]
    if not_drawn:
        text += (f" {_plural(not_drawn, 'run')} with non-finite or non-positive losses "
                 f"{'is' if not_drawn == 1 else 'are'} not drawn.")
    lines += ["", "**Reading.** " + text]
    return "\n".join(lines)


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
             "Fraction of seeds with min L_A ≤ ε over (m, ε); grey: no result yet; red x: diverged or failed "
             "seeds in the cell; white frame: m*.", ""]
    lines += [_img(p, outdir, "success map") for p in paths]
    nonmono = []
    for r in rows:
        fr = [c.fraction for c in r.cells if c.trials]
        if any(b < a - 1e-12 for a, b in zip(fr, fr[1:])):
            nonmono.append(r)
    full = sum(1 for r in rows for c in r.cells if c.trials and c.fraction >= 1 - 1e-12)
    cells = sum(1 for r in rows for c in r.cells if c.trials)
    text = f"{full} of {_plural(cells, 'cell')} with results have every seed reaching ε."
    if nonmono:
        text += (f" In {_plural(len(nonmono), 'group')} the fraction is not monotone in m (a wider network "
                 f"did worse), e.g. {nonmono[0].label}.")
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
        rows.append([_label(c.group, points), c.n, c.d, c.nd,
                     (c.clean.m_star if c.clean and c.clean.m_star is not None else
                      ("not reached" if c.clean and c.clean.status == "not reached" else "–"))]
                    + [(c.robust[a].m_star if a in c.robust and c.robust[a].m_star is not None else
                        ("not reached" if a in c.robust and c.robust[a].status == "not reached" else "–"))
                       for a in attacks])
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
        reached = [(nd, r.m_star) for nd, r in pts if r.m_star is not None]
        nr = sum(r.status == "not reached" for _, r in pts)
        f = fit_power_law([p[0] for p in reached], [p[1] for p in reached])
        s = (f"{lab}: m* ∝ (n·d)^{f.exponent:.2f}±{f.halfwidth:.2f}" if f.ok
             else f"{lab}: {f.note}")
        if nr:
            s += f", {nr} n·d not reached within the grid"
        sentences.append(s)
    ratios = []
    for c in cap:
        if c.clean is not None and c.clean.m_star:
            for a, r in c.robust.items():
                if r.m_star:
                    ratios.append(r.m_star / c.clean.m_star)
    if ratios:
        sentences.append(f"where both are reached, robust interpolation needs {_num(float(np.median(ratios)))}× "
                         f"the clean width (median over {_plural(len(ratios), 'comparison')}, range "
                         f"{_num(min(ratios))} to {_num(max(ratios))})")
    text = "; ".join(sentences) + "."
    lines += ["", "**Reading.** " + text[0].upper() + text[1:]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------

def build_report(points: Points, outdir: str, fraction: float = 1.0, csv_out: bool = False,
                 max_panels: int = 24, capacity_criterion: str = "acc") -> str:
    """Write report.md and its figures (and points.csv, width_requirement.csv with csv_out)
    into outdir; return the path of report.md."""
    from . import plots  # matplotlib only once there is something to draw

    os.makedirs(outdir, exist_ok=True)
    fig = lambda name: os.path.join(outdir, name)  # noqa: E731
    labels = [s.label for s in points.sweeps]
    keys = width_keys(points)
    rows = width_requirement(points, fraction=fraction, keys=keys)
    model = points.constant("model")
    exps = fit_exponents(rows, axis="epsilon", model=model)

    jobs = ", ".join(sorted({s.job_name or "?" for s in points.sweeps}))
    parts = [f"# advsweep report: {jobs}", "",
             f"Width requirement of adversarial training (Gao et al. 2019), from "
             f"{_plural(sum(len(s.paths) for s in points.sweeps), 'file')}. Varying: "
             + (", ".join(KEY_TEXT.get(k, k) for k in points.varying()) or "nothing") + ".",
             "", _section_files(points), "", _section_status(points)]

    w = plots.plot_width_requirement(rows, exps, fig("width_requirement.png"), sweep_labels=labels,
                                     fraction=fraction)
    parts += ["", _section_width(points, rows, exps, fraction, outdir, w)]
    for axis in ("H", "R"):
        if axis in keys:
            sec = _section_other_exponents(points, rows, axis, outdir, fig(f"width_vs_{axis}.png"), plots)
            if sec:
                parts += ["", sec]

    traj_keys = keys
    tpaths, omitted = plots.plot_trajectories(points, traj_keys, fig("trajectories.png"), max_panels=max_panels,
                                              sweep_labels=labels)
    parts += ["", _section_trajectories(points, traj_keys, tpaths, omitted, outdir)]

    gpath, not_drawn = plots.plot_gap(points, fig("surrogate_vs_robust.png"))
    parts += ["", _section_gap(points, gpath, not_drawn, outdir)]

    lpaths = plots.plot_laziness(points, keys, fig("laziness.png"), sweep_labels=labels)
    parts += ["", _section_laziness(points, keys, lpaths, outdir)]

    spaths = plots.plot_success_map(rows, fig("success_map.png"), sweep_labels=labels)
    parts += ["", _section_success_map(rows, spaths, outdir)]

    if is_capacity(points):
        cap = capacity_requirement(points, fraction=fraction, criterion=capacity_criterion)
        cpath = plots.plot_capacity(cap, fig("capacity.png"), sweep_labels=labels)
        parts += ["", _section_capacity(points, cap, capacity_criterion, cpath, outdir)]

    if csv_out:
        write_csv(points, fig("points.csv"))
        write_width_csv(rows, points, fig("width_requirement.csv"))
        parts += ["", "## Data", "", "- [points.csv](points.csv): one row per point (parameters, summary, "
                  "status).", "- [width_requirement.csv](width_requirement.csv): m* per group and width."]
    path = fig("report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(parts) + "\n")
    return path


def write_width_csv(rows, points: Points, path: str) -> str:
    """One row per (group, width): the group's keys, m, seeds, trials, successes, fraction,
    diverged, failed, pending, and the group's m_star and status."""
    keys = list(rows[0].group) if rows else []
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys + ["m", "seeds", "trials", "successes", "fraction", "diverged", "failed", "pending",
                           "m_star", "status", "provisional"])
        for r in rows:
            for c in r.cells:
                w.writerow([_cell(r.group[k]) for k in keys]
                           + [c.m, c.seeds, c.trials, c.successes, _cell(float(c.fraction)), c.diverged,
                              c.failed, c.pending, "" if r.m_star is None else r.m_star, r.status,
                              int(r.provisional)])
    return path


# ----------------------------------------------------------------------------------------------
# command line

def _fraction(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]: {text}")
    return v


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Report on advsweep sweep files: width requirement m*, fitted exponents, "
        "trajectories, robust gap, laziness, success map, capacity.")
    p.add_argument("files", nargs="+", metavar="FILE.h5", help="sweep files; equal grid_hash = merged shards")
    p.add_argument("-o", "--outdir", required=True, metavar="OUTDIR", help="directory for report.md and figures")
    p.add_argument("--fraction", type=_fraction, default=1.0, metavar="F",
                   help="fraction of seeds that must reach epsilon at m* (default 1.0: all seeds)")
    p.add_argument("--csv", action="store_true", help="also write points.csv and width_requirement.csv")
    p.add_argument("--max-panels", type=int, default=24, metavar="N",
                   help="at most N trajectory panels (groups); 0 = all (default 24)")
    p.add_argument("--capacity-criterion", choices=CRITERIA, default="acc",
                   help="interpolation test of capacity sweeps: accuracy 1, min surrogate <= eps, or either "
                        "(default acc)")
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
                            max_panels=args.max_panels, capacity_criterion=args.capacity_criterion)
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
