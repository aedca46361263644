"""advsweep_analysis — read advsweep sweep files (docs/layout.md) and report on them.

For notebooks:

    import sys; sys.path.insert(0, "analysis")
    from advsweep_analysis import load, width_requirement, fit_exponents
    pts = load(["sweep.h5"])                      # merges shards with equal grid_hash
    rows = width_requirement(pts, fraction=1.0)   # m* per group of the other axes
    exps = fit_exponents(rows, axis="epsilon", model=pts.constant("model"))

Matplotlib is imported only by advsweep_analysis.plots (and build_report).
"""
from .fit import PowerFit, fit_exponents, fit_power_law, paper_exponent, t_quantile
from .load import STATUS_NAMES, Points, SweepError, combine, load, read_sweep
from .report import build_report, main, write_csv, write_width_csv
from .width import (capacity_requirement, dist_in_R, group_keys, interpolates, is_capacity, reached_epsilon,
                    width_requirement)

__all__ = [
    "PowerFit", "fit_exponents", "fit_power_law", "paper_exponent", "t_quantile",
    "STATUS_NAMES", "Points", "SweepError", "combine", "load", "read_sweep",
    "build_report", "main", "write_csv", "write_width_csv",
    "capacity_requirement", "dist_in_R", "group_keys", "interpolates", "is_capacity", "reached_epsilon",
    "width_requirement",
]
