#!/usr/bin/env python3
"""peer_torch.py — the training step that `advsweep bench` times, written in PyTorch.

A peer benchmark, not a test: it times, in float64 and float32, the same PGD-k
adversarial training step as src/train/bench.c (the backend's attack_forward,
gradient and update, include/advsweep/backend.h), written the way a PyTorch user would write it
(autograd for both gradients; plain tensor ops for the projections):

  net (eq. 1)   x0 = A x, x(h) = relu(W(h) x(h-1)), f = a . x(H); only W(1..H) trained;
                A, W(h) ~ N(0, 2/m), a ~ N(0, 1)
  loss          l(f, y) = log(1 + exp(-y f)), L = mean_i l(f_i, y_i)
  attack        PGD-k from x (1 restart, no random start): k times
                x <- P_B(x0)(x + eta g / |g|), g = grad_x l (torch.autograd.grad),
                P the exact projection onto B(x0) = sphere ∩ ball(x0, delta) (ball_project
                in src/attack/attack.c); per sample the point of highest loss among the
                start and the k iterates is kept (k + 1 forwards, k input gradients)
  step          forward at the attacked points, L.backward(), W -= alpha grad, then
                the projection onto B(R): |W(h) - W0(h)|_F <= R / sqrt(m) per layer
                (train_project in src/train/train.c)

Parameters as in `advsweep bench`: delta = 0.05, eta = 2.5 delta / k, alpha =
c_alpha eps / (m H^2) = 10 / m, R = 1, data uniform on the unit sphere with random
labels. Timing as in bench.c: warm up, then R timings of repeated steps (at least
--span seconds and 2 steps each); ms per step is their median.

Threads: torch.set_num_threads(OMP_NUM_THREADS). The BLAS is whatever torch loads
(Debian's python3-torch: libblas.so.3, i.e. OpenBLAS when that is the alternative);
its kernel follows OPENBLAS_CORETYPE like advsweep's. Reports torch's BLAS_INFO, the
loaded BLAS library and OpenBLAS's core name (openblas_get_corename).

tests/bench/peer.py runs this script beside `advsweep bench`;
tests/bench/test_peer_torch.py checks the step against advsweep's own trajectory.
"""
import argparse
import ctypes
import json
import math
import os
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"f64": torch.float64, "f32": torch.float32}


# ----- the problem ---------------------------------------------------------------

class Problem:
    """Data, fixed weights, trained weights and the step's constants, in one dtype."""

    def __init__(self, X, y, A, a, Ws, delta, k, eta, lr, R, dtype):
        self.dtype = dtype
        self.X = X.to(dtype).contiguous()       # (n, d) points on the unit sphere
        self.y = y.to(dtype).contiguous()       # (n) labels +-1
        self.A = A.to(dtype).contiguous()       # (m, d) fixed
        self.a = a.to(dtype).contiguous()       # (m) fixed
        self.W = [w.to(dtype).clone().requires_grad_(True) for w in Ws]  # H x (m, m), trained
        self.W0 = [w.detach().clone() for w in self.W]                  # centre of B(R)
        self.m, self.d = self.A.shape
        self.delta, self.k, self.eta, self.lr, self.R = float(delta), int(k), float(eta), float(lr), float(R)
        self.theta = 2.0 * math.asin(self.delta / 2.0)  # angular radius of the cap B(x)

    def weights(self):
        return [w.detach() for w in self.W]


def bench_problem(m, H, n, d, k, dtype, seed=1):
    """The shape and constants of `advsweep bench` (same distributions, torch's generator)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    X /= X.norm(dim=1, keepdim=True)
    y = torch.where(torch.rand(n, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0).to(torch.float64)
    sd = math.sqrt(2.0 / m)
    A = torch.randn(m, d, generator=g, dtype=torch.float64) * sd
    Ws = [torch.randn(m, m, generator=g, dtype=torch.float64) * sd for _ in range(H)]
    a = torch.randn(m, generator=g, dtype=torch.float64)
    delta, c_alpha, eps = 0.05, 400.0, 0.1
    return Problem(X, y, A, a, Ws, delta=delta, k=k, eta=2.5 * delta / k, lr=c_alpha * eps / (m * H * H), R=1.0,
                   dtype=dtype)


def sweep_problem(path, index, dtype):
    """Point `index` of a sweep file written with store_weights: true (docs/layout.md):
    its data, fixed weights and initial weights, and its resolved constants."""
    import h5py
    import numpy as np

    with h5py.File(path, "r", locking=False) as f:
        p = {name: f["params/" + name][index] for name in f["params"]}
        text = {k: v.decode() for k, v in p.items() if isinstance(v, bytes)}
        if (text["model"], text["activation"], text["input_layer"], text["loss"], text["attack"]) != \
                ("deep", "relu", "linear", "logistic", "pgd"):
            raise ValueError(f"{path}: point {index} is not the bench's problem (deep relu net, linear input, "
                             "logistic loss, pgd)")
        if int(p["pgd_restarts"]) != 1 or int(p["pgd_random_start"]) != 0:
            raise ValueError(f"{path}: point {index}: the peer step has 1 restart and no random start")
        m, H, n, d, k = (int(p[x]) for x in ("m", "H", "n", "d", "pgd_steps"))
        delta = float(p["delta"])
        eta = float(p["pgd_step"]) or 2.5 * delta / k
        lr = float(f["summary/lr"][index])
        X = torch.from_numpy(np.array(f["data/X"][index, :n, :d]))
        y = torch.from_numpy(np.array(f["data/y"][index, :n]))
        W0 = torch.from_numpy(np.array(f["weights/W0"][index, :H * m * m])).reshape(H, m, m)
        fixed = np.array(f["weights/fixed"][index])
        A, a = torch.from_numpy(fixed[:m * d].reshape(m, d)), torch.from_numpy(fixed[m * d:m * d + m])
    return Problem(X, y, A, a, list(W0), delta=delta, k=k, eta=eta, lr=lr, R=float(p["R"]), dtype=dtype)


# ----- the net and the attack ------------------------------------------------------

def forward(pb, X):
    """f(W, X) (n): x0 = A x, x(h) = relu(W(h) x(h-1)), f = a . x(H)."""
    x = F.linear(X, pb.A)
    for W in pb.W:
        x = torch.relu(F.linear(x, W))
    return torch.mv(x, pb.a)


def sample_losses(f, y):
    """l(f_i, y_i) = log(1 + exp(-y_i f_i)) per sample (n)."""
    return F.softplus(-y * f)


def ball_project(V, X0, delta, theta):
    """Row-wise exact projection of V onto B(X0) = sphere ∩ ball(X0, delta) (attack.c's
    ball_project): u = v/|v|; keep u if |u - x0| <= delta, else the point at angle theta
    from x0 on the great circle towards u. v = 0 (or non-finite) becomes x0."""
    norm2 = (V * V).sum(dim=1, keepdim=True)
    ok = (norm2 > 0) & torch.isfinite(norm2)
    U = V / norm2.sqrt()
    c = (U * X0).sum(dim=1, keepdim=True)
    inside = ((U - X0) ** 2).sum(dim=1, keepdim=True) <= delta * delta
    T = U - c * X0  # tangent part of u at x0
    tnorm2 = (T * T).sum(dim=1, keepdim=True)
    flat = tnorm2 < 1e-28  # u = -x0: every direction is as near; attack.c's any_tangent
    if bool(flat.any()):
        kmin = X0.abs().argmin(dim=1, keepdim=True)
        E = torch.zeros_like(X0).scatter_(1, kmin, 1.0)
        Tany = E - X0.gather(1, kmin) * X0
        Tany = Tany / Tany.norm(dim=1, keepdim=True)
        T = torch.where(flat, Tany, T)
        tnorm2 = torch.where(flat, torch.ones_like(tnorm2), tnorm2)
    cap = math.cos(theta) * X0 + (math.sin(theta) / tnorm2.sqrt()) * T
    return torch.where(ok, torch.where(inside, U, cap), X0)


def ascent_step(Xcur, G, X0, eta, delta, theta):
    """Xcur_i <- P_B(X0_i)(Xcur_i + eta G_i / |G_i|); rows with G_i = 0 (or non-finite) stay."""
    norm2 = (G * G).sum(dim=1, keepdim=True)
    ok = (norm2 > 0) & torch.isfinite(norm2)
    return torch.where(ok, ball_project(Xcur + (eta / norm2.sqrt()) * G, X0, delta, theta), Xcur)


def pgd_attack(pb):
    """PGD-k from X with per-sample best-iterate selection (attack_run, 1 restart)."""
    X0, y = pb.X, pb.y
    Xcur, Xadv, best = X0, None, None
    for step in range(pb.k + 1):
        last = step == pb.k
        if last:  # the last iterate needs its loss only
            with torch.no_grad():
                loss = sample_losses(forward(pb, Xcur), y)
        else:
            Xcur = Xcur.detach().requires_grad_(True)
            loss = sample_losses(forward(pb, Xcur), y)
            (G,) = torch.autograd.grad(loss.sum(), Xcur)  # per-sample input gradients
            Xcur, loss = Xcur.detach(), loss.detach()
        if step == 0:
            Xadv, best = Xcur, loss
        else:
            better = (loss > best) | torch.isnan(loss)
            best = torch.where(better, loss, best)
            Xadv = torch.where(better[:, None], Xcur, Xadv)
        if last:
            break
        with torch.no_grad():
            Xcur = ascent_step(Xcur, G, X0, pb.eta, pb.delta, pb.theta)
    return Xadv


def surrogate(pb):
    """L_A(W) at the current weights without a step (for checks)."""
    Xadv = pgd_attack(pb)
    with torch.no_grad():
        return sample_losses(forward(pb, Xadv), pb.y).mean()


def train_step(pb):
    """One step of projected adversarial gradient descent; returns L_A(W_t) (a 0-d tensor)
    at the weights before the update, as advsweep's trajectory records it."""
    Xadv = pgd_attack(pb)
    loss = sample_losses(forward(pb, Xadv), pb.y).mean()
    loss.backward()
    with torch.no_grad():
        radius = pb.R / math.sqrt(pb.m)
        for W, W0 in zip(pb.W, pb.W0):
            W -= pb.lr * W.grad  # V = W - alpha grad
            W.grad = None
            if math.isfinite(pb.R):  # W = P_B(R)(V), layer by layer
                D = W - W0
                dist2 = float((D * D).sum())
                if dist2 > radius * radius:
                    W.copy_(W0 + (radius / math.sqrt(dist2)) * D)
    return loss.detach()


# ----- timing and the BLAS in use ---------------------------------------------------

def time_steps(pb, span):
    """Seconds per step over at least `span` seconds and 2 steps (bench.c's time_steps)."""
    reps, t0 = 0, time.perf_counter()
    while True:
        train_step(pb)
        reps += 1
        t1 = time.perf_counter()
        if t1 - t0 >= span and reps >= 2:
            return (t1 - t0) / reps


def measure(pb, repeats, span):
    time_steps(pb, 0.05)  # warm up (allocator, thread pool, first-call dispatch)
    times = [time_steps(pb, span) for _ in range(max(1, repeats))]
    return 1e3 * statistics.median(times), [1e3 * t for t in times]


def blas_info():
    """torch's BLAS as configured, the BLAS library actually loaded, and OpenBLAS's core."""
    cfg = torch.__config__.show()
    info = {"blas_info": None, "library": None, "openblas_core": None, "openblas_config": None}
    found = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    if found:
        info["blas_info"] = found.group(1)  # "generic" for Debian's build: the libblas.so.3 alternative
    try:
        maps = [line.split()[-1] for line in open("/proc/self/maps") if "/" in line]
    except OSError:
        maps = []
    libs = sorted({p for p in maps if any(s in os.path.basename(p) for s in ("blas", "mkl"))})
    openblas = [p for p in libs if "openblas" in os.path.basename(p)]
    info["library"] = ", ".join(libs) or None
    if openblas:
        lib = ctypes.CDLL(openblas[0])  # already loaded: the same instance torch uses
        for name in ("openblas_get_corename", "openblas_get_config"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                info[name.replace("get_", "").replace("corename", "core")] = fn().decode()
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch peer of `advsweep bench`: ms per PGD-k training step "
                                 "of the deep net, f64 and f32.")
    ap.add_argument("--m", type=int, default=256, help="width (default 256)")
    ap.add_argument("--H", type=int, default=2, help="trained layers (default 2)")
    ap.add_argument("--n", type=int, default=256, help="training points (default 256)")
    ap.add_argument("--d", type=int, default=32, help="input dimension (default 32)")
    ap.add_argument("--k", type=int, default=10, help="PGD steps (default 10)")
    ap.add_argument("--repeats", type=int, default=5, help="timings; ms/step is their median (default 5)")
    ap.add_argument("--span", type=float, default=0.3, help="seconds per timing, as bench.c (default 0.3)")
    ap.add_argument("--precision", default="f64,f32", help="comma-separated: f64, f32 (default both)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: OMP_NUM_THREADS, which must then be set)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout (for tests/bench/peer.py)")
    args = ap.parse_args(argv)
    for name in ("m", "H", "n", "k", "repeats"):
        if getattr(args, name) < 1:
            ap.exit(2, f"peer_torch.py: --{name} must be >= 1\n")
    if args.d < 2:
        ap.exit(2, "peer_torch.py: --d must be >= 2\n")
    precisions = [p for p in args.precision.split(",") if p]
    bad = [p for p in precisions if p not in DTYPES]
    if bad or not precisions:
        ap.exit(2, f"peer_torch.py: --precision: unknown '{','.join(bad)}' (f64, f32)\n")
    threads = args.threads
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        if not env.isdigit() or int(env) < 1:
            ap.exit(2, "peer_torch.py: set OMP_NUM_THREADS (or --threads) so that both sides use the same count\n")
        threads = int(env)
    torch.set_num_threads(threads)

    result = {"m": args.m, "H": args.H, "n": args.n, "d": args.d, "k": args.k, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
              "ms_per_step": {}, "timings_ms": {}}
    for p in precisions:
        pb = bench_problem(args.m, args.H, args.n, args.d, args.k, DTYPES[p])
        result["ms_per_step"][p], result["timings_ms"][p] = measure(pb, args.repeats, args.span)
    result.update(blas_info())
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"peer_torch: torch {result['torch']}, {result['threads']} threads, median of {args.repeats}; "
          f"BLAS {result['blas_info']} -> {result['library']}; OpenBLAS core {result['openblas_core']}")
    print(f"{'m':>6} {'H':>3} {'n':>5} {'d':>4} {'k':>3}  " + "  ".join(f"{p + ' ms/step':>12}" for p in precisions))
    print(f"{args.m:6d} {args.H:3d} {args.n:5d} {args.d:4d} {args.k:3d}  " +
          "  ".join(f"{result['ms_per_step'][p]:12.3f}" for p in precisions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
