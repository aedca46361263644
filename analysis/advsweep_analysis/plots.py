"""plots.py — the report's figures, one PNG each (matplotlib, Agg backend: headless).

Each function draws from already-computed tables (width.WidthRow, fit.ExponentRow,
width.CapacityRow) or from load.Points, writes PNG file(s) and returns their
paths. Nothing here decides what a result means; failed, diverged, pending
and unreached points are drawn (marked), never dropped silently.
"""
from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402
import numpy as np  # noqa: E402

from .fit import AXIS_TEXT  # noqa: E402
from .load import DIVERGED, DONE, Points  # noqa: E402
from .width import dist_in_R, group_indices, group_label  # noqa: E402

DPI = 100
PER_FIGURE = 12


def _colors(n):
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(max(n, 1))]


def _panel_grid(n):
    ncols = min(n, 3)
    nrows = int(math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path, tight=True):
    """Write and close. tight=False for figures already laid out by tight_layout (saves a draw)."""
    fig.savefig(path, dpi=DPI, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return path


def _pages(items, per_figure=PER_FIGURE):
    return [items[i:i + per_figure] for i in range(0, len(items), per_figure)] or [[]]


def _paged_path(path, page, pages):
    if pages == 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}_{page + 1}{ext}"


def _sub(group, drop):
    return {k: v for k, v in group.items() if k not in drop}


def _label(group, sweep_labels):
    return group_label(group, sweep_labels)


# ----------------------------------------------------------------------------------------------

def plot_width_requirement(rows, fits, path, axis="epsilon", sweep_labels=None, fraction=1.0):
    """m* at budget T against 1/epsilon (or another axis), log-log, one colour per combination of
    the other keys (mstar.MStarRow).

    Filled circles: exact and budget-stable (these enter the fit); hollow circles: exact but not
    budget-stable; down triangles at the smallest width: m* <= that width; up triangles at the
    largest width: not reached within the grid (m* > it); vertical bars: undecided between two
    widths (censored or unknown seeds); dotted bars: unknown, at least the lower end. Lines are
    shifted slightly along x so that they do not hide each other. Dashed: the power-law fit."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    lines = {}
    for r in rows:
        if axis in r.group:
            lines.setdefault(tuple(_sub(r.group, (axis,)).items()), []).append(r)
    fit_by_group = {tuple(f.group.items()): f for f in fits}
    colors = _colors(len(lines))
    seen = set()
    for li, (color, (key, rs)) in enumerate(zip(colors, lines.items())):
        group = dict(key)
        shift = math.exp(0.025 * (li - (len(lines) - 1) / 2))    # lines side by side, not on top of each other
        tx = (lambda v: shift / v) if axis == "epsilon" else (lambda v: shift * v)
        pts = sorted(((tx(float(r.group[axis])), r) for r in rs if r.group[axis] is not None
                      and math.isfinite(float(r.group[axis])) and float(r.group[axis]) > 0), key=lambda p: p[0])
        f = fit_by_group.get(key)
        label = _label(group, sweep_labels)
        if f is not None and f.fit.ok:
            label += f": p = {f.fit.exponent:.2f} ± {f.fit.halfwidth:.2f}"
        ax.plot([], [], "o", color=color, label=label)
        exact = [(x, r.m_star.value) for x, r in pts if r.m_star.exact]
        if exact:
            ax.plot(*zip(*exact), "-", color=color, lw=1, alpha=0.5)
        for x, r in pts:
            s = r.m_star
            if s.exact and r.stable:
                ax.scatter([x], [s.value], color=color, marker="o", zorder=3)
                seen.add("stable")
            elif s.exact:
                ax.scatter([x], [s.value], facecolors="none", edgecolors=color, marker="o", zorder=3)
                seen.add("unstable")
            elif s.status == "le_smallest":
                ax.scatter([x], [s.hi], marker="v", facecolors="none", edgecolors=color, s=60, zorder=3)
                seen.add("le")
            elif s.status == "gt_largest":
                ax.scatter([x], [s.largest], marker="^", facecolors="none", edgecolors=color, s=60, zorder=3)
                seen.add("gt")
            elif s.status == "between":
                ax.plot([x, x], [s.lo, s.hi], "-", color=color, lw=3, alpha=0.5)
                seen.add("between")
            elif s.status == "unknown" and s.lo is not None:
                ax.plot([x, x], [s.lo, s.largest], ":", color=color, lw=2, alpha=0.7)
                seen.add("unknown")
        if f is not None and f.fit.ok:
            xx = np.geomspace(min(f.x), max(f.x), 50)
            ax.plot(xx, f.fit.predict(xx), "--", color=color, lw=1.2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(AXIS_TEXT.get(axis, axis))
    ax.set_ylabel("m* at budget T")
    who = "all seeds" if fraction >= 1.0 else f"≥ {fraction:.0%} of seeds"
    title = f"width requirement: {who} reach min L_A ≤ ε"
    bounds = sorted({(f.paper, f.paper_source) for f in fits if f.paper is not None})
    if bounds:
        title += "\npaper: " + "; ".join(f"{src} → exponent {p:g}" for p, src in bounds)
    ax.set_title(title, fontsize=10)
    legend = {"stable": ("o", "full", "exact, budget-stable (fitted)"),
              "unstable": ("o", "none", "exact, not budget-stable"),
              "le": ("v", "none", "≤ smallest width"), "gt": ("^", "none", "not reached (> largest width)")}
    for k, (mk, fill, text) in legend.items():
        if k in seen:
            ax.scatter([], [], marker=mk, facecolors="gray" if fill == "full" else "none", edgecolors="gray",
                       label=text)
    if "between" in seen:
        ax.plot([], [], "-", color="gray", lw=3, alpha=0.5, label="undecided between widths")
    if "unknown" in seen:
        ax.plot([], [], ":", color="gray", lw=2, alpha=0.7, label="unknown: ≥ the lower end (or beyond)")
    ax.plot([], [], "--", color="gray", label="power-law fit")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.grid(True, which="both", alpha=0.2)
    return _save(fig, path)


def plot_success_map(rows, path, sweep_labels=None, per_figure=PER_FIGURE):
    """Heatmap of the fraction of seeds reaching epsilon within T over (m, epsilon), one panel per
    combination of the other keys (mstar.MStarRow). Text: reached/seeds, '+c' censored; grey: no
    result; red x: definite failures in the cell; white frame: exact m*."""
    panels = {}
    for r in rows:
        panels.setdefault(tuple(_sub(r.group, ("epsilon",)).items()), []).append(r)
    items = list(panels.items())
    pages = _pages(items, per_figure)
    out = []
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("#cccccc")
    for page, chunk in enumerate(pages):
        fig, axes = _panel_grid(len(chunk))
        for ax, (key, rs) in zip(axes, chunk):
            ms = sorted({c.m for r in rs for c in r.cells[1.0]})
            eps = sorted({float(r.group.get("epsilon", math.nan)) for r in rs}, reverse=True)
            grid = np.full((len(eps), len(ms)), np.nan)
            bad, text = [], []
            for r in rs:
                yi = eps.index(float(r.group.get("epsilon", math.nan)))
                for c in r.cells[1.0]:
                    xi = ms.index(c.m)
                    known = c.seeds - c.unknown
                    grid[yi, xi] = c.reached / known if known else np.nan
                    if c.failed:
                        bad.append((xi, yi))
                    text.append((xi, yi, (f"{c.reached}/{known}" + (f"+{c.censored}c" if c.censored else ""))
                                 if known else "–"))
                if r.m_star.exact:
                    xi = ms.index(r.m_star.value)
                    ax.add_patch(plt.Rectangle((xi - 0.5, yi - 0.5), 1, 1, fill=False, ec="white", lw=2))
            im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto",
                           origin="upper", interpolation="nearest")
            if len(ms) * len(eps) <= 80:
                for xi, yi, t in text:
                    v = grid[yi, xi]
                    ax.text(xi, yi, t, ha="center", va="center", fontsize=6,
                            color="black" if (not np.isnan(v) and v > 0.6) else "white")
            if bad:
                ax.scatter([b[0] + 0.3 for b in bad], [b[1] - 0.3 for b in bad], marker="x", color="red", s=18,
                           label="definite failures")
                ax.legend(fontsize=6, loc="lower right")
            ax.set_xticks(range(len(ms)))
            ax.set_xticklabels([str(m) for m in ms], rotation=90, fontsize=7)
            ax.set_yticks(range(len(eps)))
            ax.set_yticklabels([f"{e:g}" for e in eps], fontsize=7)
            ax.set_xlabel("m")
            ax.set_ylabel("ε")
            ax.set_title(_label(dict(key), sweep_labels), fontsize=8)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="reached / seeds with a result")
        fig.suptitle("fraction of seeds with min L_A ≤ ε within T (+c: censored; frame: exact m*)", fontsize=10)
        fig.tight_layout()
        out.append(_save(fig, _paged_path(path, page, len(pages)), tight=False))
    return out


def plot_p_reach(rows, path, sweep_labels=None, per_figure=PER_FIGURE, max_panels=0):
    """P(reach | m) per group (mstar.MStarRow with .stats): the per-width fraction of seeds reaching
    (dots; binary outcomes only, censored left out), the logistic fit in log m (line), the isotonic
    fit (grey steps), and m*_0.5, m*_0.9 (vertical lines, bootstrap interval shaded).

    Returns (paths, number of groups not drawn because of max_panels)."""
    items = [r for r in rows if r.stats is not None]
    shown = items[:max_panels] if max_panels and max_panels > 0 else items
    omitted = len(items) - len(shown)
    pages = _pages(shown, per_figure)
    out = []
    qcolor = {0.5: "tab:blue", 0.9: "tab:red"}
    for page, chunk in enumerate(pages):
        fig, axes = _panel_grid(len(chunk))
        for ax, r in zip(axes, chunk):
            st = r.stats
            w = np.array(st.widths, float)
            n = np.array(st.n, float)
            frac = np.where(n > 0, np.array(st.k, float) / np.maximum(n, 1), np.nan)
            ax.scatter(w[n > 0], frac[n > 0], s=12 + 4 * n[n > 0], color="black", zorder=3,
                       label="fraction reached")
            iso = np.array(st.iso, float)
            if np.isfinite(iso).any():
                ax.step(w[np.isfinite(iso)], iso[np.isfinite(iso)], where="post", color="gray", lw=1,
                        label="isotonic")
            if st.fit_ok:
                mm = np.geomspace(w[0], w[-1], 200)
                ax.plot(mm, st.p(mm), "-", color="tab:green", lw=1.5, label="logistic in log m")
            for q, qt in st.quantiles.items():
                c = qcolor.get(q, "tab:purple")
                ax.axhline(q, color=c, ls=":", lw=0.8)
                if qt.within:
                    ax.axvline(qt.value, color=c, ls="--", lw=1, label=f"m*_{q:g} = {qt.text()}")
                    lo = qt.ci[0] if math.isfinite(qt.ci[0]) else w[0]
                    hi = qt.ci[1] if math.isfinite(qt.ci[1]) else w[-1]
                    if qt.n_boot and not (math.isnan(lo) or math.isnan(hi)):
                        ax.axvspan(lo, hi, color=c, alpha=0.12)
                else:
                    ax.plot([], [], "--", color=c, label=f"m*_{q:g}: {qt.text()}")
            ax.set_xscale("log")
            ax.set_xlim(w[0] / 1.25, w[-1] * 1.25)   # also when no outcome is drawn (all censored)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xlabel("m")
            ax.set_ylabel("P(reach ε within T | m)")
            extra = []
            if st.n_censored:
                extra.append(f"{st.n_censored} censored left out")
            if st.nonmonotone:
                extra.append(f"{len(st.nonmonotone)} non-monotone seeds")
            ax.set_title(f"{_label(r.group, sweep_labels)}\n{st.n_seeds} seeds"
                         + (", " + ", ".join(extra) if extra else ""), fontsize=8)
            ax.legend(fontsize=6, loc="lower right")
            ax.grid(True, which="both", alpha=0.2)
        fig.suptitle("success probability P(reach | m) per group (bootstrap 95% intervals shaded)", fontsize=10)
        fig.tight_layout()
        out.append(_save(fig, _paged_path(path, page, len(pages)), tight=False))
    return out, omitted


def plot_trajectories(points: Points, keys, path, max_panels=24, sweep_labels=None, per_figure=PER_FIGURE):
    """Surrogate loss against step per width (log scale), strong-attack robust loss on top
    (markers), epsilon as a horizontal line; one panel per group of `keys`.

    Returns (paths, number of groups not drawn because of max_panels)."""
    groups = list(group_indices(points, keys).items())
    shown = groups[:max_panels] if max_panels and max_panels > 0 else groups
    omitted = len(groups) - len(shown)
    m_all = np.asarray(points.params["m"]).astype(np.int64)
    m_levels = sorted(set(m_all.tolist()))
    cmap = plt.get_cmap("viridis")
    m_color = {m: cmap(i / max(len(m_levels) - 1, 1)) for i, m in enumerate(m_levels)}
    surr, step = points.traj["surrogate_loss"], points.traj["step"]
    rob, estep = points.evals["robust_loss"], points.evals["step"]
    pages = _pages(shown, per_figure)
    out = []
    for page, chunk in enumerate(pages):
        fig, axes = _panel_grid(len(chunk))
        for ax, (key, idx) in zip(axes, chunk):
            group = dict(zip(keys, key))
            st = points.status[idx]
            n_div = int(np.sum(st == DIVERGED))
            n_res = int(np.sum((st == DONE) | (st == DIVERGED)))
            segs, seg_colors, esegs, ecolors, div_pts = [], [], [], [], []
            seen_m, positive = [], False
            for i in idx:
                if points.status[i] not in (DONE, DIVERGED):
                    continue
                m = int(m_all[i])
                color = m_color[m]
                if m not in seen_m:
                    seen_m.append(m)
                L = int(points.traj_length[i])
                x, y = step[i, :L].astype(float), surr[i, :L]
                ok = np.isfinite(y) & (x >= 0) & (y > 0)
                positive |= bool(ok.any())
                if ok.any():
                    segs.append(np.column_stack([x[ok], y[ok]]))
                    seg_colors.append(color)
                Le = int(points.eval_length[i])
                xe, ye = estep[i, :Le].astype(float), rob[i, :Le]
                oke = np.isfinite(ye) & (xe >= 0) & (ye > 0)
                if oke.any():
                    esegs.append(np.column_stack([xe[oke], ye[oke]]))
                    ecolors.append(color)
                if points.status[i] == DIVERGED and ok.any():
                    div_pts.append(segs[-1][-1])
            if segs:
                ax.add_collection(LineCollection(segs, colors=seg_colors, linewidths=0.9, alpha=0.8))
            if esegs:
                ax.add_collection(LineCollection(esegs, colors=ecolors, linewidths=0.7, alpha=0.8,
                                                 linestyles="dotted"))
                ax.scatter(np.concatenate(esegs)[:, 0], np.concatenate(esegs)[:, 1], s=5,
                           c=[c for s, c in zip(esegs, ecolors) for _ in range(len(s))], zorder=3)
            if div_pts:
                ax.scatter(*np.array(div_pts).T, marker="x", color="red", s=40, linewidths=1.5, zorder=4)
            for m in sorted(seen_m):
                ax.plot([], [], "-", color=m_color[m], label=f"m={m}")
            ax.autoscale_view()
            eps = np.asarray(points.params["epsilon"], float)[idx]
            for e in np.unique(eps):
                ax.axhline(e, color="black", ls="--", lw=0.9)
            if positive:
                ax.set_yscale("log")
            ax.set_xscale("symlog", linthresh=1.0)
            ax.xaxis.set_minor_locator(NullLocator())   # symlog minor ticks are slow and add nothing
            ax.set_xlabel("step t")
            ax.set_ylabel("loss")
            counts = f"{n_res} runs" + (f", {n_div} diverged (x)" if n_div else "")
            missing = len(idx) - n_res
            if missing:
                counts += f", {missing} without result"
            ax.set_title(f"{_label(group, sweep_labels)}\n{counts}", fontsize=8)
            ax.plot([], [], ":", marker="o", ms=2.5, color="gray", label="robust (strong attack)")
            ax.plot([], [], "--", color="black", label="ε")
            ax.legend(fontsize=6, ncol=2)
            ax.grid(True, which="both", alpha=0.2)
        fig.suptitle("surrogate loss L_A(W_t) (lines) and strong-attack robust loss (dots)", fontsize=10)
        fig.tight_layout()
        out.append(_save(fig, _paged_path(path, page, len(pages)), tight=False))
    return out, omitted


def plot_gap(points: Points, path):
    """Final strong-attack robust loss against final surrogate loss, coloured by attack.

    Returns (path, number of points with a result that could not be drawn)."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    attack = np.asarray(points.params.get("attack", np.full(len(points), "?"))).astype(str)
    x = np.asarray(points.summary["final_surrogate"], float)
    y = np.asarray(points.summary["final_robust_loss"], float)
    has = (points.status == DONE) | (points.status == DIVERGED)
    drawable = has & np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    attacks = sorted(set(attack[has].tolist()))
    for color, a in zip(_colors(len(attacks)), attacks):
        sel = drawable & (attack == a) & (points.status == DONE)
        ax.scatter(x[sel], y[sel], s=14, color=color, alpha=0.7, label=f"attack={a}")
        sel = drawable & (attack == a) & (points.status == DIVERGED)
        if sel.any():
            ax.scatter(x[sel], y[sel], s=30, color=color, marker="x", label=f"attack={a}, diverged")
    if drawable.any():
        lo, hi = min(x[drawable].min(), y[drawable].min()), max(x[drawable].max(), y[drawable].max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="robust = surrogate")
        ax.set_xscale("log")
        ax.set_yscale("log")
    not_drawn = int(np.sum(has & ~drawable))
    ax.set_xlabel("final surrogate loss L_A (training attack)")
    ax.set_ylabel("final robust loss (strong attack)")
    ax.set_title("surrogate vs robust loss" + (f" ({not_drawn} non-finite not drawn)" if not_drawn else ""),
                 fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.2)
    return _save(fig, path), not_drawn


def plot_laziness(points: Points, keys, path, sweep_labels=None, per_figure=PER_FIGURE):
    """final_dist (/R when R is finite) against m, one panel per group of `keys` minus epsilon,
    one colour per epsilon: seeds as dots, the median as a line, diverged as red x."""
    panel_keys = [k for k in keys if k != "epsilon"]
    groups = list(group_indices(points, panel_keys).items())
    pages = _pages(groups, per_figure)
    y_all = dist_in_R(points)
    m_all = np.asarray(points.params["m"]).astype(float)
    eps_all = np.asarray(points.params["epsilon"], float)
    R_all = np.asarray(points.params.get("R", np.full(len(points), np.inf)), float)
    out = []
    for page, chunk in enumerate(pages):
        fig, axes = _panel_grid(len(chunk))
        for ax, (key, idx) in zip(axes, chunk):
            has = np.isin(points.status[idx], (DONE, DIVERGED))
            idx_r = idx[has & np.isfinite(y_all[idx])]
            eps_levels = sorted(set(eps_all[idx_r].tolist()))
            positive = False
            for color, e in zip(_colors(len(eps_levels)), eps_levels):
                sel = idx_r[eps_all[idx_r] == e]
                done = sel[points.status[sel] == DONE]
                div = sel[points.status[sel] == DIVERGED]
                ax.scatter(m_all[done], y_all[done], s=10, color=color, alpha=0.6)
                if div.size:
                    ax.scatter(m_all[div], y_all[div], s=30, color="red", marker="x")
                ms = sorted(set(m_all[done].tolist()))
                med = [np.median(y_all[done][m_all[done] == m]) for m in ms]
                ax.plot(ms, med, "-", color=color, label=f"ε={e:g}")
                positive |= bool(np.any(y_all[sel] > 0))
            ax.set_xscale("log")
            if positive:
                ax.set_yscale("log")
            Rv = set(R_all[idx].tolist())
            finite = all(math.isfinite(r) for r in Rv)
            ax.set_ylabel("final_dist / R" if finite else "final_dist (R = inf)")
            ax.set_xlabel("m")
            n_div = int(np.sum(points.status[idx] == DIVERGED))
            ax.set_title(_label(dict(zip(panel_keys, key)), sweep_labels)
                         + (f"\n{n_div} diverged (red x)" if n_div else ""), fontsize=8)
            if eps_levels:
                ax.legend(fontsize=6)
            ax.grid(True, which="both", alpha=0.2)
        fig.suptitle("laziness: distance from initialisation at the end of training", fontsize=10)
        fig.tight_layout()
        out.append(_save(fig, _paged_path(path, page, len(pages)), tight=False))
    return out


def plot_capacity(cap_rows, path, sweep_labels=None):
    """Smallest width for clean (attack none, solid) and robust (dashed) interpolation against n·d.
    Triangles: not reached within the grid (drawn at the largest width)."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    series = {}
    for c in cap_rows:
        g = tuple(c.group.items())
        if c.clean is not None:
            series.setdefault((g, "none"), []).append((c.nd, c.clean))
        for a, r in c.robust.items():
            series.setdefault((g, a), []).append((c.nd, r))
    for color, ((g, a), pts) in zip(_colors(len(series)), sorted(series.items(), key=lambda kv: str(kv[0]))):
        pts.sort(key=lambda p: p[0])
        label = _label(dict(g), sweep_labels)
        label = ("clean (attack=none)" if a == "none" else f"robust (attack={a})") + \
            ("" if label == "all" else f", {label}")
        style = "-o" if a == "none" else "--s"
        reached = [(nd, r.m_star) for nd, r in pts if r.m_star is not None]
        if reached:
            ax.plot(*zip(*reached), style, color=color, ms=5, label=label)
        else:
            ax.plot([], [], style, color=color, label=label + " (none reached)")
        nr = [(nd, r.max_m) for nd, r in pts if r.status == "not reached"]
        if nr:
            ax.scatter(*zip(*nr), marker="^", facecolors="none", edgecolors=color, s=60)
    ax.scatter([], [], marker="^", facecolors="none", edgecolors="gray", label="not reached (> largest m)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n·d")
    ax.set_ylabel("smallest width that interpolates")
    ax.set_title("capacity: clean vs robust interpolation", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.grid(True, which="both", alpha=0.2)
    return _save(fig, path)
