"""synth.py — write synthetic advsweep sweep files (docs/layout.md, layout version 1) for the tests.

This is the layout seen from the reader's side: every dataset and attribute a
layout-1 file has, with the types the C writer uses (int64 integers, float64
reals, fixed-length ASCII strings, int8 /status). It fabricates numbers; it
trains nothing.

    pts = [point(m=64, epsilon=0.1, seed=1, min_surrogate=0.05), point(m=8, status=PENDING), ...]
    write_sweep(path, pts)

A point is a dict: {"params": {...all parameters...}, "status": int, "reason": str,
"summary": {...}, "traj": {...}, "eval": {...}, "targets": {...}}; point() fills in whatever is
not given.

Issue 8 (SPEC-issue8-layout.md): write_sweep(..., issue8=True) also writes the parameters
lr_rule, targets, plateau_window, plateau_tol, the summary fields outcome and trained_as, the
datasets /targets/{tau,step,outcome} and the root attribute targets_max. target_point() makes a
point from its per-target first steps; free_grid() a grid whose points that differ only in
epsilon share one training run (lr_rule free). Without issue8 the file is the older layout.
"""
from __future__ import annotations

import hashlib
import math

import h5py
import numpy as np

PENDING, DONE, FAILED, DIVERGED, RUNNING, SKIPPED = 0, 1, 2, 3, 4, 5

# name -> (kind, default); kinds: "i" int64, "f" float64, "c" choice (S16), "t" text (S256).
# Order and defaults as PARAMS[] in src/util/config.c.
PARAMS = {
    "model": ("c", "deep"), "activation": ("c", "relu"), "input_layer": ("c", "linear"),
    "loss": ("c", "logistic"), "m": ("i", 256), "H": ("i", 2), "d": ("i", 16), "n": ("i", 64),
    "delta": ("f", 0.1), "data": ("c", "sphere"), "data_file": ("t", ""), "teacher_width": ("i", 8),
    "shatter_spread": ("f", 0.5), "attack": ("c", "pgd"), "pgd_steps": ("i", 5), "pgd_step": ("f", 0.0),
    "pgd_restarts": ("i", 1), "pgd_random_start": ("i", 0), "eval_steps": ("i", 20), "eval_restarts": ("i", 4),
    "eval_count": ("i", 8), "R": ("f", math.inf), "epsilon": ("f", 0.1), "lr": ("f", 0.0), "steps": ("i", 0),
    "c_alpha": ("f", 1.0), "c_T": ("f", 1.0), "max_steps": ("i", 1000), "early_stop": ("i", 0),
    "early_stop_target": ("f", 0.0), "record_dense": ("i", 100), "record_max": ("i", 256), "seed": ("i", 1),
}
# Issue 8's new parameters (written only with issue8=True).
PARAMS_NEW = {"lr_rule": ("c", "free"), "targets": ("t", ""), "plateau_window": ("i", 0),
              "plateau_tol": ("f", 0.0)}
SUMMARY_NEW = {"outcome": "i4", "trained_as": "i"}
OUTCOMES = {"reached": 0, "plateau": 1, "budget": 2, "diverged": 3}
# /summary/NAME: name -> kind ("i4" int32, "i" int64, "f" float64, "s" S96)
SUMMARY = {
    "status": "i4", "reason": "s", "lr": "f", "steps_planned": "i", "steps_run": "i", "min_surrogate": "f",
    "min_step": "i", "eps_step": "i", "init_surrogate": "f", "final_surrogate": "f", "final_clean_loss": "f",
    "final_clean_acc": "f", "final_surrogate_acc": "f", "final_robust_loss": "f", "final_robust_acc": "f",
    "final_dist": "f", "max_dist": "f", "wall_time": "f", "flops": "f", "diverged_step": "i",
    "data_points": "i",
}
TRAJ = ("surrogate_loss", "clean_loss", "clean_acc", "dist")
EVAL = ("robust_loss", "robust_acc")
K_DEFAULT = 24   # records_max of the synthetic files (small: tests stay fast)
E_DEFAULT = 6    # evals_max

_NUMPY = {"i": np.int64, "f": np.float64, "i4": np.int32}


def point(status=DONE, min_surrogate=None, reason="", summary=None, traj=None, evals=None, **params):
    """One synthetic point. Parameters not given take config.c's defaults.

    For a point with a result (done or diverged) the summary and a trajectory
    are fabricated around `min_surrogate` (default epsilon / 2): the surrogate
    loss decays geometrically from 0.69 to it over the first 10 of 30 steps, then
    stays; eps_step is the first step at or below epsilon; the strong-attack loss
    is 1.5x the surrogate; the distance from init grows like 1/sqrt(m)."""
    unknown = set(params) - set(PARAMS) - set(PARAMS_NEW)
    if unknown:
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    p = {k: v for k, (_, v) in {**PARAMS, **PARAMS_NEW}.items()}
    p.update(params)
    if not p["targets"]:
        p["targets"] = f"{p['epsilon']:g}"
    pt = {"params": p, "status": int(status), "reason": reason, "summary": {}, "traj": {}, "eval": {},
          "targets": {}}
    if status in (DONE, DIVERGED):
        ms = p["epsilon"] / 2 if min_surrogate is None else float(min_surrogate)
        steps = 30
        t = np.arange(0, steps + 1)
        surr = 0.69 * (ms / 0.69) ** (np.minimum(t, 10) / 10)
        if status == DIVERGED:
            surr[steps // 2 + 1:] = np.nan
        dist = 2.0 / math.sqrt(p["m"]) * (1 - np.exp(-t / 10))
        ev_t = np.linspace(0, steps, E_DEFAULT - 1).astype(np.int64)
        rob = 1.5 * np.interp(ev_t, t, np.nan_to_num(surr, nan=ms))
        run = steps if status == DONE else steps // 2
        pt["traj"] = {"step": t, "surrogate_loss": surr, "clean_loss": 0.5 * surr,
                      "clean_acc": np.minimum(1.0, 0.5 + t / steps), "dist": dist}
        pt["eval"] = {"step": ev_t, "robust_loss": rob, "robust_acc": np.minimum(1.0, 0.4 + ev_t / steps)}
        final = ms if status == DONE else math.nan
        pt["summary"] = {
            "lr": 0.01, "steps_planned": steps, "steps_run": run, "min_surrogate": ms,
            "min_step": min(run, 10), "eps_step": _first_at_or_below(surr[:run + 1], p["epsilon"]),
            "init_surrogate": 0.69,
            "final_surrogate": final, "final_clean_loss": 0.5 * final, "final_clean_acc": 1.0,
            "final_surrogate_acc": 1.0, "final_robust_loss": 1.5 * final, "final_robust_acc": 1.0,
            "final_dist": float(dist[run]), "max_dist": float(dist[run]), "wall_time": 0.1, "flops": 1e6,
            "diverged_step": (run + 1 if status == DIVERGED else -1), "data_points": p["n"],
        }
    pt["summary"].update(summary or {})
    pt["traj"].update(traj or {})
    pt["eval"].update(evals or {})
    return pt


def target_point(first, ending="plateau", steps_planned=1000, steps_run=None, trained_as=None,
                 status=None, **params):
    """An issue-8 point whose training first met target tau at step first[tau] (-1: never).

    first: {tau: first step}; the point's own epsilon must be one of the taus (default: the
    largest). ending: why the run ended if its smallest target was not met ('plateau', 'budget',
    'diverged'); steps_run defaults to the smallest target's step when met (early stop), else
    steps_planned for 'budget' and steps_planned // 2 for 'plateau' and 'diverged'.
    trained_as: index of the point whose training this row copies (default: its own index)."""
    steps = first
    taus = sorted(steps, reverse=True)
    params.setdefault("epsilon", taus[0])
    eps = params["epsilon"]
    if not any(math.isclose(eps, t) for t in taus):
        raise ValueError(f"epsilon {eps} is not a target {taus}")
    params.setdefault("targets", ",".join(f"{t:g}" for t in taus))
    smallest_met = steps[taus[-1]] >= 0
    if steps_run is None:
        steps_run = steps[taus[-1]] if smallest_met else (steps_planned if ending == "budget" else steps_planned // 2)
    reached = [t for t in taus if steps[t] >= 0]
    ms = 0.99 * min(reached) if reached else 1.5 * taus[0]
    if status is None:
        status = DIVERGED if (ending == "diverged" and not smallest_met) else DONE
    pt = point(status=status, min_surrogate=ms, **params)
    own = next(t for t in taus if math.isclose(eps, t))
    code = OUTCOMES[ending]
    pt["summary"].update({"steps_planned": steps_planned, "steps_run": steps_run, "eps_step": steps[own],
                          "outcome": 0 if smallest_met else code,
                          "diverged_step": steps_run if (code == 3 and not smallest_met) else -1})
    if trained_as is not None:
        pt["summary"]["trained_as"] = trained_as
    pt["targets"] = {"tau": taus, "step": [steps[t] for t in taus],
                     "outcome": [0 if steps[t] >= 0 else code for t in taus]}
    return pt


def free_grid(m_values, eps_values, seeds, first_step, ending=lambda m, s: ("plateau", None), T=1000, **const):
    """Points for every (epsilon, m, seed) with lr_rule free: the points of one (m, seed) share one
    training run (trained_as = the index of the largest epsilon's point) whose targets are all of
    eps_values. first_step(m, seed, tau) -> first step with L_A <= tau or -1; ending(m, seed) ->
    (ending, steps_run or None) as in target_point."""
    taus = sorted(eps_values, reverse=True)
    cells = [(m, s) for m in m_values for s in seeds]
    pts = []
    for e in taus:
        for k, (m, s) in enumerate(cells):
            end, run = ending(m, s)
            extra = {k2: (v(m, e, s) if callable(v) else v) for k2, v in const.items()}
            pts.append(target_point({t: int(first_step(m, s, t)) for t in taus}, ending=end, steps_planned=T,
                                    steps_run=run, trained_as=k, m=int(m), seed=int(s), epsilon=float(e),
                                    lr_rule="free", **extra))
    return pts


def _first_at_or_below(losses, eps) -> int:
    """First t >= 1 with losses[t] <= eps (the C writer's eps_step), -1 if none."""
    hit = np.nonzero(np.asarray(losses[1:]) <= eps * (1 + 1e-12))[0]
    return int(hit[0]) + 1 if hit.size else -1


def grid_hash(points) -> str:
    """16 hex digits over every point's parameters (the reader only compares it)."""
    h = hashlib.sha256()
    for pt in points:
        h.update(repr(sorted(pt["params"].items())).encode())
    return h.hexdigest()[:16]


def _strings(values, length):
    return np.array([str(v).encode("ascii") for v in values], dtype=f"S{length}")


def write_sweep(path, points, *, job_name="synth", grid_hash_value=None, axes=None, shard_index=0, shard_count=1,
                records_max=K_DEFAULT, evals_max=E_DEFAULT, layout_version=1, tool="advsweep", attrs=None,
                omit=(), issue8=False):
    """Write `points` as a layout-`layout_version` sweep file at `path`; return the grid hash.

    attrs: extra/overriding root attributes (None value = leave out). omit: dataset
    paths not to write (to make broken files). issue8: also the issue-8 parameters, summary fields
    and /targets datasets (SPEC-issue8-layout.md)."""
    P = len(points)
    K, E = records_max, evals_max
    gh = grid_hash_value or grid_hash(points)
    if axes is None:
        axes = [k for k in (*PARAMS, *(PARAMS_NEW if issue8 else ())) if k != "targets"
                and len({repr(pt["params"][k]) for pt in points}) > 1]
    root = {
        "layout_version": np.int64(layout_version), "tool": np.bytes_(tool), "tool_version": np.bytes_("0.1.0"),
        "job_text": np.bytes_(f"name: {job_name}\n"), "job_name": np.bytes_(job_name), "grid_hash": np.bytes_(gh),
        "created": np.bytes_("2024-01-01T00:00:00Z"), "n_points": np.int64(P), "records_max": np.int64(K),
        "evals_max": np.int64(E), "axes": np.bytes_(",".join(axes)), "shard_index": np.int64(shard_index),
        "shard_count": np.int64(shard_count), "hdf5_version": np.bytes_("1.14.0"),
        "mpi_version": np.bytes_("Open MPI 4.1"), "blas_version": np.bytes_("OpenBLAS 0.3"),
        "omp_threads": np.int64(1), "ranks": np.int64(2),
    }
    Q = max([len(pt["targets"].get("tau", [])) for pt in points] + [1])
    if issue8:
        root["targets_max"] = np.int64(Q)
    for k, v in (attrs or {}).items():
        if v is None:
            root.pop(k, None)
        else:
            root[k] = np.bytes_(v) if isinstance(v, str) else v

    def put(f, name, data):
        if name not in omit:
            f.create_dataset(name, data=data)

    with h5py.File(path, "w") as f:
        for k, v in root.items():
            f.attrs[k] = v
        status = np.array([pt["status"] for pt in points], dtype=np.int8)
        put(f, "status", status)
        put(f, "reason", _strings([pt["reason"] for pt in points], 96))
        params = {}
        for name, (kind, _) in {**PARAMS, **(PARAMS_NEW if issue8 else {})}.items():
            vals = [pt["params"][name] for pt in points]
            params[name] = (_strings(vals, 16) if kind == "c" else _strings(vals, 256) if kind == "t"
                            else np.array(vals, dtype=_NUMPY[kind]))
            put(f, f"params/{name}", params[name])
        summary = {}
        for name, kind in {**SUMMARY, **(SUMMARY_NEW if issue8 else {})}.items():
            if name == "trained_as":
                vals = np.array([pt["summary"].get("trained_as", i if pt["status"] in (DONE, DIVERGED) else -1)
                                 for i, pt in enumerate(points)], dtype=np.int64)
            elif name == "outcome":
                vals = np.array([pt["summary"].get("outcome", _outcome(pt)) for pt in points], dtype=np.int32)
            elif name == "status":
                vals = status.astype(np.int32)
            elif name == "reason":
                vals = _strings([pt["reason"] for pt in points], 96)
            else:
                fill = np.nan if kind == "f" else -1      # the writer's fill values: NaN, -1, ""
                vals = np.array([pt["summary"].get(name, fill) for pt in points], dtype=_NUMPY[kind])
            summary[name] = vals
            put(f, f"summary/{name}", vals)
        for group, names, width in (("traj", TRAJ, K), ("eval", EVAL, E)):
            step = np.full((P, width), -1, np.int64)
            vals = {n: np.full((P, width), np.nan) for n in names}
            length = np.zeros(P, np.int32)
            src = "traj" if group == "traj" else "eval"
            for i, pt in enumerate(points):
                if "step" not in pt[src]:
                    continue
                s = np.asarray(pt[src]["step"])[:width]
                step[i, :s.size] = s
                length[i] = s.size
                for n in names:
                    v = np.asarray(pt[src][n], float)[:width]
                    vals[n][i, :v.size] = v
            put(f, f"{group}/step", step)
            for n in names:
                put(f, f"{group}/{n}", vals[n])
            put(f, f"{group}/length", length)
        if issue8:
            # written at creation for every point (a pending point may carry "plan_trained_as")
            put(f, "plan/trained_as", np.array([pt.get("plan_trained_as", pt["summary"].get("trained_as", i))
                                                for i, pt in enumerate(points)], dtype=np.int64))
            tau = np.full((P, Q), np.nan)
            tstep = np.full((P, Q), -1, np.int64)
            tout = np.full((P, Q), -1, np.int8)
            for i, pt in enumerate(points):
                t = pt["targets"]
                if pt["status"] not in (DONE, DIVERGED):
                    continue
                if not t:       # a point made by point(): its own epsilon only
                    es = int(pt["summary"].get("eps_step", -1))
                    t = {"tau": [pt["params"]["epsilon"]], "step": [es], "outcome": [0 if es >= 0 else _outcome(pt)]}
                n = len(t["tau"])
                tau[i, :n], tstep[i, :n], tout[i, :n] = t["tau"], t["step"], t["outcome"]
            put(f, "targets/tau", tau)
            put(f, "targets/step", tstep)
            put(f, "targets/outcome", tout)
        put(f, "worker/rank", np.zeros(P, np.int32))
        put(f, "worker/host", _strings(["node01"] * P, 64))
        put(f, "worker/threads", np.ones(P, np.int32))
        # /runs: index, status (int32), every parameter, every summary field but status; a
        # summary field named like a parameter (lr) is "summary_lr" (as src/store writes it;
        # docs/layout.md does not say). The reader does not use /runs.
        def runs_name(n):
            return f"summary_{n}" if n in params else n
        fields = [("index", np.int64), ("status", np.int32)]
        fields += [(n, params[n].dtype) for n in params]
        fields += [(runs_name(n), summary[n].dtype) for n in summary if n != "status"]
        runs = np.zeros(P, dtype=fields)
        runs["index"] = np.arange(P)
        runs["status"] = status
        for n in params:
            runs[n] = params[n]
        for n in summary:
            if n != "status":
                runs[runs_name(n)] = summary[n]
        put(f, "runs", runs)
    return gh


def _outcome(pt):
    """The summary outcome of a point made by point(): reached / plateau (done) / diverged; -1 without result."""
    if pt["status"] == DIVERGED:
        return 3
    if pt["status"] != DONE:
        return -1
    return 0 if pt["summary"].get("eps_step", -1) >= 0 else 1


def grid(m_values, eps_values, seeds, success, failed_at=None, **const):
    """Points for every (m, epsilon, seed), done, reaching epsilon exactly when success(m, eps, seed).

    A point that does not reach ends at step 30 (= T), or at `failed_at` (a plateau found
    early: with issue8, a definite failure at every budget >= failed_at). Extra keyword
    arguments are parameters held fixed (or callables of (m, eps, seed))."""
    pts = []
    for eps in eps_values:
        for m in m_values:
            for s in seeds:
                extra = {k: (v(m, eps, s) if callable(v) else v) for k, v in const.items()}
                ok = success(m, eps, s)
                summary = {"steps_run": failed_at} if (failed_at is not None and not ok) else None
                pts.append(point(m=int(m), epsilon=float(eps), seed=int(s),
                                 min_surrogate=eps * (0.5 if ok else 2.0), summary=summary, **extra))
    return pts


LOGISTIC_WIDTHS = [int(round(8 * 2 ** (k / 2))) for k in range(15)]       # 8 ... 1024, sqrt(2) apart


def logistic_seeds(eps_m50, b, n_seeds, rng_seed=7, widths=None):
    """Seeds whose outcome at width m is drawn from P(reach | m) = 1/(1 + (m50/m)^b): reached at step 50,
    else a definite failure (plateau at step 100). One group per epsilon."""
    widths = LOGISTIC_WIDTHS if widths is None else widths
    rng = np.random.default_rng(rng_seed)
    pts = []
    for eps, m50 in eps_m50.items():
        for m in widths:
            p = 1.0 / (1.0 + (m50 / m) ** b)
            for s in range(1, n_seeds + 1):
                if rng.random() < p:
                    pts.append(target_point({eps: 50}, steps_planned=1000, m=m, seed=s, epsilon=eps,
                                            lr_rule="theorem"))
                else:
                    pts.append(target_point({eps: -1}, ending="plateau", steps_planned=1000, steps_run=100, m=m,
                                            seed=s, epsilon=eps, lr_rule="theorem"))
    return pts


def write_bad(directory, kind):
    """A broken input file in `directory`; returns its path (for 'missing', a path that does not exist).

    kinds: text (not HDF5), plain (HDF5 without the sweep attributes), newer (layout_version 2),
    empty (P = 0), pending (no point done), tool (tool attribute not advsweep), nostatus (no /status),
    truncated (cut after 4 KiB), missing."""
    import os
    path = os.path.join(str(directory), f"{kind}.h5")
    ok = grid([8, 16], [0.1], [1], lambda m, e, s: m >= 16)
    if kind == "text":
        with open(path, "w") as fh:
            fh.write("this is not HDF5\n")
    elif kind == "plain":
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    elif kind == "newer":
        write_sweep(path, ok, layout_version=2)
    elif kind == "empty":
        write_sweep(path, [])
    elif kind == "pending":
        write_sweep(path, [point(status=PENDING, m=8), point(status=RUNNING, m=16)])
    elif kind == "tool":
        write_sweep(path, ok, tool="other")
    elif kind == "nostatus":
        write_sweep(path, ok, omit=("status",))
    elif kind == "truncated":          # e.g. copied while being written
        whole = path + ".whole"
        write_sweep(whole, ok)
        with open(whole, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read()[:4096])
    elif kind != "missing":
        raise ValueError(kind)
    return path
