"""advsweep_analysis — read advsweep sweep files (docs/layout.md) and report on them.

For notebooks:

    import sys; sys.path.insert(0, "analysis")
    from advsweep_analysis import load, width_requirement, fit_exponents
    pts = load(["sweep.h5"])                      # merges shards with equal grid_hash
    rows = width_requirement(pts, fraction=1.0)   # m* per group of the other axes
    exps = fit_exponents(rows, axis="epsilon", model=pts.constant("model"))

    # issue 8: m* with censoring and budgets, seed statistics; issue 11: xarray
    from advsweep_analysis import m_star_table, seed_statistics, bootstrap_exponents, to_xarray
    ms = m_star_table(pts)                        # MStarRow per group: .by_budget {0.25, 0.5, 1.0: MStar}, .stable
    seed_statistics(ms, n_boot=1000, rng_seed=0)  # row.stats: P(reach | m), m*_0.5, m*_0.9, non-monotone seeds
    exps = fit_exponents(ms, "epsilon")           # exact, budget-stable m* only; .left_out says what was not
    ds = to_xarray(["sweep.h5"])                  # xarray.Dataset on the grid axes

Matplotlib is imported only by advsweep_analysis.plots (and build_report).
"""
from .fit import PowerFit, fit_exponents, fit_power_law, paper_exponent, t_quantile
from .load import STATUS_NAMES, Points, SweepError, combine, load, read_sweep
from .report import build_report, main, write_csv, write_width_csv
from .mstar import (BUDGETS, MStar, MStarRow, Observations, m_star_table, nonmonotone_seeds, observations,
                    width_keys)
from .seeds import BootExponent, SeedStats, bootstrap_exponents, logistic_fit, seed_statistics
from .xr import to_xarray
from .width import (capacity_requirement, dist_in_R, group_keys, interpolates, is_capacity, reached_epsilon,
                    width_requirement)

__all__ = [
    "PowerFit", "fit_exponents", "fit_power_law", "paper_exponent", "t_quantile",
    "STATUS_NAMES", "Points", "SweepError", "combine", "load", "read_sweep",
    "build_report", "main", "write_csv", "write_width_csv",
    "capacity_requirement", "dist_in_R", "group_keys", "interpolates", "is_capacity", "reached_epsilon",
    "width_requirement",
    "BUDGETS", "MStar", "MStarRow", "Observations", "m_star_table", "nonmonotone_seeds", "observations",
    "width_keys", "BootExponent", "SeedStats", "bootstrap_exponents", "logistic_fit", "seed_statistics",
    "to_xarray",
]
