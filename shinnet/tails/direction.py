"""The dominating point: the most likely input that reaches the threshold.

``x*(t) = argmin { |x|^2 / 2 : f(x) >= t }``.  For ``x ~ N(0, I)`` the event ``f > t`` is, to
leading exponential order, ``exp(-|x*|^2 / 2)``-rare, and its mass sits near ``x*``: the direction
``x* / |x*|`` is the one the importance sampler shifts along and the conditioning integrates over
exactly.  Found by SLSQP (scipy) from several starts: the gradient of f at 0, the rows of the
units with the largest ``|a_j| |w_j|`` (their signs chosen to increase f), and a few seeded random
directions; each start is scaled along its ray to the first radius where ``f >= t``.
f may have several dominating points (symmetry); only the best one found is used, which is a
known weakness (the conditioning still integrates the other directions inside, the importance
sampler then under-covers them).  Gradients by central differences of sigma elementwise (works
for every activation); cost ``~(6 m d) * evaluations`` FLOPs, counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from shinnet.model import TwoLayerMLP

__all__ = ["DominatingPoint", "dominating_point", "dominating_points"]

_H = 1e-6
MAX_RADIUS = 38.0


@dataclass(frozen=True)
class DominatingPoint:
    """``x`` (d,), ``radius = |x|``, ``direction = x / |x|``, ``value = f(x)``, ``flops``; ``reached`` is
    False when no start reached t within ``MAX_RADIUS`` (then the probability is below ~1e-300)."""

    x: np.ndarray
    radius: float
    direction: np.ndarray
    value: float
    reached: bool
    flops: float


class _Counter:
    def __init__(self, mlp: TwoLayerMLP) -> None:
        self.mlp, self.flops = mlp, 0.0

    def f(self, x: np.ndarray) -> np.ndarray:
        self.flops += np.atleast_2d(x).shape[0] * self.mlp.flops_per_sample()
        return np.asarray(self.mlp.preactivation(np.atleast_2d(x)))

    def grad(self, x: np.ndarray) -> np.ndarray:
        mlp = self.mlp
        z = mlp.W @ x + mlp.b
        act = mlp.hidden
        ds = (np.asarray(act.value(z + _H)) - np.asarray(act.value(z - _H))) / (2 * _H)
        self.flops += 4.0 * mlp.m * mlp.d + 3.0 * mlp.m * act.flops
        return mlp.W.T @ (mlp.a * ds)


def _starts(mlp: TwoLayerMLP, ev: _Counter, n_random: int, seed: int) -> np.ndarray:
    d = mlp.d
    cands = [ev.grad(np.zeros(d))]
    score = np.abs(mlp.a) * np.linalg.norm(mlp.W, axis=1)
    for j in np.argsort(-score)[: min(4, mlp.m)]:
        cands.append(np.sign(mlp.a[j]) * mlp.W[j])
    rng = np.random.default_rng(seed)
    cands.extend(rng.standard_normal((n_random, d)))
    U = np.array([c / n if (n := np.linalg.norm(c)) > 0 else np.eye(d)[0] for c in cands])
    return np.concatenate([U, -U[1:]])


def dominating_points(mlp: TwoLayerMLP, t: float, n_random: int = 8, seed: int = 0, polish: int = 6,
                      slack: float = 2.0) -> list[DominatingPoint]:
    """Local solutions of ``argmin |x|`` subject to ``f(x) >= t`` from several starts, best first.

    Distinct solutions (cosine < 0.95 with every better one) whose radius is within ``slack`` of the
    best are returned; the flops of the whole search are charged to the first.  If ``f(0) >= t``
    the answer is ``[x = 0]`` (direction: the gradient's).
    """
    ev = _Counter(mlp)
    d = mlp.d
    f0 = float(ev.f(np.zeros(d))[0])
    g0 = ev.grad(np.zeros(d))
    if f0 >= t:
        u = g0 / np.linalg.norm(g0) if np.any(g0) else np.eye(d)[0]
        return [DominatingPoint(np.zeros(d), 0.0, u, f0, True, ev.flops)]
    U = _starts(mlp, ev, n_random, seed)
    radii = np.linspace(0.0, MAX_RADIUS, 381)[1:]
    vals = ev.f((radii[None, :, None] * U[:, None, :]).reshape(-1, d)).reshape(U.shape[0], radii.size)
    hit = vals >= t
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    order = [i for i in np.argsort(np.where(first >= 0, first, 10**9), kind="stable") if first[i] >= 0][:polish]
    if not order:
        return [DominatingPoint(U[0] * MAX_RADIUS, MAX_RADIUS, U[0], float(vals[0, -1]), False, ev.flops)]
    found = []
    for i in order:
        x0 = U[i] * radii[first[i]]
        res = minimize(lambda x: 0.5 * x @ x, x0, jac=lambda x: x, method="SLSQP",
                       constraints=[{"type": "ineq", "fun": lambda x: float(ev.f(x)[0]) - t, "jac": ev.grad}],
                       options={"maxiter": 200, "ftol": 1e-12})
        x = res.x if float(ev.f(res.x)[0]) >= t - 1e-6 * max(1.0, abs(t)) else x0
        found.append(x)
    found.sort(key=np.linalg.norm)
    best_r = float(np.linalg.norm(found[0]))
    keep: list[np.ndarray] = []
    for x in found:
        u = x / np.linalg.norm(x)
        if np.linalg.norm(x) <= best_r + slack and all(u @ (k / np.linalg.norm(k)) < 0.95 for k in keep):
            keep.append(x)
    out = []
    for j, x in enumerate(keep):
        rad = float(np.linalg.norm(x))
        out.append(DominatingPoint(x, rad, x / rad, float(ev.f(x)[0]), True, ev.flops if j == 0 else 0.0))
    return out


def dominating_point(mlp: TwoLayerMLP, t: float, n_random: int = 8, seed: int = 0, polish: int = 3) -> DominatingPoint:
    """The best of :func:`dominating_points` (``argmin |x|`` subject to ``f(x) >= t``)."""
    return dominating_points(mlp, t, n_random=n_random, seed=seed, polish=polish)[0]
