"""An independent float64 replay of two-layer adversarial training (eq. 4).

advsweep trains the two-layer net under PGD and FGSM, relu and softplus, with and
without the projection onto B(R), storing the training set and the initial weights.
This file re-implements the whole training loop in numpy from the paper's
definitions and the documented attack (docs: README "Attacks"), starting from the
stored data and W0, and must agree with every recorded surrogate loss and the final
weights to 1e-9 relative. At the symmetric init f(W0, x) = 0 and grad_x = 0 exactly,
so the first attacks return x itself: the replay relies on that too (the old
single-GEMV evaluation left ~1e-16 noise that PGD normalised into full steps)."""
import math

import h5py
import numpy as np
import pytest

from conftest import run

T = 40
JOB = f"""\
name: replay
options: {{store_weights: true}}
fixed: {{model: twolayer, m: 16, d: 5, n: 12, delta: 0.15, lr: 0.6, steps: {T},
         pgd_steps: 4, eval_count: 1, eval_steps: 2, eval_restarts: 1, record_dense: 50, record_max: 64}}
grid:
  attack: [pgd, fgsm]
  activation: [relu, softplus]
  R: [inf, 0.8]
"""


def sigma(act, z):
    return np.maximum(z, 0) if act == "relu" else np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def dsigma(act, z):
    return (z > 0).astype(float) if act == "relu" else 1.0 / (1.0 + np.exp(-z))


def loss(f, y):
    t = -y * f
    return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))


def dloss(f, y):
    t = -y * f
    s = np.where(t >= 0, 1.0 / (1.0 + np.exp(-np.where(t >= 0, t, 0))), np.exp(np.minimum(t, 0)) /
                 (1.0 + np.exp(np.minimum(t, 0))))
    return -y * s


class TwoLayer:
    """f = m^-1/2 sum_{r<m/2} a_r (sigma(w_r.x) - sigma(wbar_r.x)), a_{m/2+r} = -a_r."""

    def __init__(self, a, act):
        self.m, self.act = len(a), act
        self.h = self.m // 2
        self.a = a[: self.h]
        assert np.array_equal(a[self.h:], -self.a)

    def forward(self, W, X):
        Z1, Z2 = X @ W[: self.h].T, X @ W[self.h:].T
        f = (sigma(self.act, Z1) - sigma(self.act, Z2)) @ self.a / math.sqrt(self.m)
        return f, (Z1, Z2)

    def grads(self, W, X, df, cache):
        Z1, Z2 = cache
        G1 = (df[:, None] * self.a[None, :]) * dsigma(self.act, Z1) / math.sqrt(self.m)
        G2 = (df[:, None] * self.a[None, :]) * dsigma(self.act, Z2) / math.sqrt(self.m)
        dX = G1 @ W[: self.h] - G2 @ W[self.h:]
        dW = np.concatenate([G1.T @ X, -(G2.T @ X)])
        return dW, dX


def project_ball(v, x, delta):
    """Exact projection of v onto B(x) = sphere ∩ ball(x, delta) (attack.h)."""
    nv = np.linalg.norm(v)
    if not nv > 0:
        return x.copy()
    u = v / nv
    if np.sum((u - x) ** 2) <= delta * delta:
        return u
    theta = 2 * math.asin(delta / 2)
    t = u - (u @ x) * x
    return math.cos(theta) * x + math.sin(theta) * t / np.linalg.norm(t)


def ascent(Xcur, G, X, eta, delta):
    out = Xcur.copy()
    for i in range(len(X)):
        g = G[i]
        n2 = g @ g
        if not n2 > 0:
            continue  # a zero gradient keeps the point: the attack returns x exactly
        out[i] = project_ball(Xcur[i] + eta / math.sqrt(n2) * g, X[i], delta)
    return out


def attack(net, W, X, y, kind, k, eta, delta):
    if kind == "fgsm":
        f, cache = net.forward(W, X)
        _, G = net.grads(W, X, dloss(f, y), cache)
        return ascent(X, G, X, delta, delta)
    best, cur = X.copy(), X.copy()
    best_loss = None
    for step in range(k + 1):
        f, cache = net.forward(W, cur)
        l = loss(f, y)
        if best_loss is None:
            best_loss = l.copy()
        else:
            better = l > best_loss
            best[better], best_loss[better] = cur[better], l[better]
        if step == k:
            break
        _, G = net.grads(W, cur, dloss(f, y), cache)
        cur = ascent(cur, G, X, eta, delta)
    return best


def replay(f, i):
    act = f["params/activation"][i].decode()
    kind = f["params/attack"][i].decode()
    m, d, n = (int(f[f"params/{p}"][i]) for p in ("m", "d", "n"))
    delta, lr, R = (float(f[f"params/{p}"][i]) for p in ("delta", "lr", "R"))
    k = int(f["params/pgd_steps"][i])
    X, y = f["data/X"][i, :n, :d], f["data/y"][i, :n]
    W0 = f["weights/W0"][i, : m * d].reshape(m, d)
    net = TwoLayer(f["weights/fixed"][i, :m], act)
    W, losses = W0.copy(), []
    for t in range(T + 1):
        Xadv = attack(net, W, X, y, kind, k, 2.5 * delta / k, delta)
        fx, cache = net.forward(W, Xadv)
        losses.append(loss(fx, y).mean())
        if t == 0:
            assert np.array_equal(Xadv, X), "the attack at the symmetric init must return x"
            assert np.all(fx == 0.0)
        if t == T:
            break
        dW, _ = net.grads(W, Xadv, dloss(fx, y) / n, cache)
        W = W - lr * dW
        dist = np.linalg.norm(W - W0)
        if math.isfinite(R) and dist > R:
            W = W0 + R / dist * (W - W0)
    return np.array(losses), W, W0


def test_two_layer_replay_agrees(advsweep, tmp_path):
    job = tmp_path / "replay.yaml"
    job.write_text(JOB)
    out = tmp_path / "replay.h5"
    run([advsweep, "run", str(job), "-q", "-o", str(out)], ranks=2, check=0)
    with h5py.File(out, "r") as f:
        P = f["status"].shape[0]
        assert P == 8 and np.all(f["status"][()] == 1)
        projected = 0
        for i in range(P):
            losses, W, W0 = replay(f, i)
            steps = f["traj/step"][i, : f["traj/length"][i]]
            assert np.array_equal(steps, np.arange(T + 1))  # every step recorded
            recorded = f["traj/surrogate_loss"][i, : T + 1]
            rel = np.max(np.abs(recorded - losses) / np.abs(losses))
            assert rel < 1e-9, f"point {i}: surrogate losses differ by {rel:.3g} relative"
            m, d = W.shape
            Wc = f["weights/W"][i, : m * d].reshape(m, d)
            moved = np.linalg.norm(W - W0)
            assert moved > 0.1
            assert np.linalg.norm((Wc - W0) - (W - W0)) <= 1e-9 * moved, f"point {i}: W - W0 differs"
            R = float(f["params/R"][i])
            if math.isfinite(R):
                projected += abs(np.linalg.norm(Wc - W0) - R) < 1e-12 * R
            assert float(f["summary/init_surrogate"][i]) == math.log(2.0)  # f(W0, x) = 0 exactly
        assert projected >= 2, "the finite-R points should end on the boundary of B(R)"
