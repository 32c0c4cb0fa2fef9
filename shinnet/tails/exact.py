"""Exact tails when f depends on few directions (the rank-r case of MATH.md section 9).

If every row ``w_j`` lies in a span ``V`` (d x r, orthonormal, r <= 2), then
``f(x) = g(y) = c + sum_j a_j sigma(alpha_j . y + b_j)`` with ``y = V^T x ~ N(0, I_r)``, and

    P(f > t) = integral phi_r(y) 1[g(y) > t] dy.

r = 1: the set ``{g > t}`` is a union of intervals whose ends are the level crossings
``g(y) = t``; they are found by a sign scan over a grid that contains every kink of sigma
(``y = -b_j / alpha_j``), refined by Brent's method, and the probability is the sum of normal
masses of the intervals (``ndtr`` differences taken on the side of the smaller tail, so relative
accuracy holds far out).  For relu g is linear between kinks and the answer is exact to
rounding; for smooth sigma two crossings within one grid cell would go unseen, so the scan is
repeated on a grid twice as fine and any change is reported as the error signal.
r = 2: the inner direction is exact as above; the outer by adaptive Gauss-Kronrod
(``scipy.integrate.quad``) over ``[-L, L]`` with its error estimate.
The single unit ``c + a sigma(w.x + b)`` (monotone sigma) is a normal tail in closed form.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import ndtr

from shinnet.model import TwoLayerMLP
from shinnet.tails.inputs import generalized_inverse, monotonicity

__all__ = ["active_span", "interval_mass", "superlevel_mass_1d", "exact_tail", "single_unit_tail"]

HALF_WIDTH = 39.0  # ndtr(-39) ~ 1e-333: nothing beyond matters in float64
_KINKED = frozenset({"relu", "heaviside", "step", "sign"})  # activations with a kink/jump at 0
_MAX_GRID = 20001


def active_span(W: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Orthonormal basis (d x r) of the row span of W; singular values below ``tol * s_max`` dropped."""
    if not np.any(W):
        return np.zeros((W.shape[1], 0))
    _, s, vt = np.linalg.svd(W, full_matrices=False)
    r = int(np.sum(s > tol * s[0]))
    return vt[:r].T.copy()


def interval_mass(lo: np.ndarray, hi: np.ndarray) -> float:
    """``sum_i P(lo_i < Z < hi_i)``, each term from the tail on its own side (relative accuracy far out)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    right = lo >= 0
    mass = np.where(right, ndtr(-lo) - ndtr(-hi), ndtr(hi) - ndtr(lo))
    return float(np.sum(mass))


def _grid_1d(alpha: np.ndarray, b: np.ndarray, kinked: bool, refine: int) -> np.ndarray:
    """Scan grid on [-L, L]: kinks of every unit plus a uniform grid on the scale of the fastest unit."""
    scale = float(np.max(np.abs(alpha))) if alpha.size else 1.0
    n = int(min(_MAX_GRID, max(401, 40.0 * HALF_WIDTH * scale))) * refine
    pts = [np.linspace(-HALF_WIDTH, HALF_WIDTH, n)]
    nz = alpha != 0
    if kinked and np.any(nz):
        k = -b[nz] / alpha[nz]
        pts.append(k[np.abs(k) < HALF_WIDTH])
    return np.unique(np.concatenate(pts))


def superlevel_mass_1d(g: Any, t: float, grid: np.ndarray) -> tuple[float, int]:
    """``P(g(Z) > t)`` for ``Z ~ N(0, 1)`` from the sign changes of ``g - t`` on ``grid`` (vectorised g).

    Returns (probability, number of crossings).  Cost: one g call on the grid plus ~40 per crossing.
    """
    vals = np.asarray(g(grid), dtype=np.float64) - t
    above = vals > 0
    change = np.nonzero(above[1:] != above[:-1])[0]
    ends = []
    for i in change:
        a, b = grid[i], grid[i + 1]
        fa, fb = vals[i], vals[i + 1]
        if fa == 0.0 or fb == 0.0:
            ends.append(a if fa == 0.0 else b)
            continue
        ends.append(brentq(lambda u: float(np.asarray(g(np.array([u])))[0]) - t, a, b, xtol=1e-15, rtol=1e-15))
    # intervals of {g > t}: start at -L if above[0], alternate at crossings, end at +L
    bounds = ([-math.inf] if above[0] else []) + ends + ([math.inf] if above[-1] else [])
    lo, hi = np.array(bounds[0::2]), np.array(bounds[1::2])
    return interval_mass(lo, hi), len(ends)


def single_unit_tail(mlp: TwoLayerMLP, t: np.ndarray) -> np.ndarray | None:
    """Closed form for one effective unit: ``P(c + a sigma(w.x + b) > t)``, monotone sigma.

    ``h(u) = c + a sigma(u)`` is monotone and ``z = w.x + b ~ N(b, |w|^2)``: for non-decreasing h,
    ``P = P(z > s) = Phi(-(s - b)/|w|)`` with ``s = sup{u : h(u) <= t}``; for non-increasing h,
    ``P = P(z < s') = Phi((s' - b)/|w|)`` with ``s' = inf{u : h(u) <= t}``: a normal tail.
    None when more than one unit has ``a_j != 0`` or sigma is not monotone.  Cost ~2100 sigma calls per t.
    """
    live = np.nonzero(mlp.a != 0)[0]
    if live.size != 1:
        return None
    try:
        sgn = monotonicity(mlp.hidden)
    except ValueError:
        return None
    j = int(live[0])
    a, r, b = float(mlp.a[j]), float(np.linalg.norm(mlp.W[j])), float(mlp.b[j])
    h = _Affine(mlp.hidden, a, mlp.c)
    direction = sgn if a > 0 else -sgn
    out = np.empty(t.size)
    for i, tv in enumerate(t):
        if r == 0.0:
            out[i] = float(h.value(np.array([b]))[0] > tv)
            continue
        s = generalized_inverse(h, float(tv), direction)
        if direction > 0:
            out[i] = 0.0 if s == math.inf else 1.0 if s == -math.inf else float(ndtr(-(s - b) / r))
        else:
            out[i] = 0.0 if s == -math.inf else 1.0 if s == math.inf else float(ndtr((s - b) / r))
    return out


class _Affine:
    """``u -> c + a sigma(u)`` with the ``value`` interface :func:`generalized_inverse` needs."""

    def __init__(self, act: Any, a: float, c: float) -> None:
        self.act, self.a, self.c = act, a, c

    def value(self, z: np.ndarray) -> np.ndarray:
        return self.c + self.a * np.asarray(self.act.value(z), dtype=np.float64)


def _exact_1d(mlp: TwoLayerMLP, v: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alpha, b, a = mlp.W @ v, mlp.b, mlp.a
    act = mlp.hidden

    def g(y: np.ndarray) -> np.ndarray:
        return np.asarray(act.value(np.outer(y, alpha) + b), dtype=np.float64) @ a + mlp.c

    kinked = act.name in _KINKED
    coarse, fine = _grid_1d(alpha, b, kinked, 1), _grid_1d(alpha, b, kinked, 2)
    p = np.empty(t.size)
    err = np.zeros(t.size)
    for i, tv in enumerate(t):
        p[i], n1 = superlevel_mass_1d(g, tv, coarse)
        if act.name not in _KINKED:  # piecewise linear/constant g: the scan with kinks is exact
            p2, n2 = superlevel_mass_1d(g, tv, fine)
            err[i] = abs(p2 - p[i]) + (0.0 if n1 == n2 else max(p[i], p2))
            p[i] = p2
    return p, err


def _exact_2d(mlp: TwoLayerMLP, V: np.ndarray, t: np.ndarray, epsrel: float) -> tuple[np.ndarray, np.ndarray]:
    alpha, b, a = mlp.W @ V, mlp.b, mlp.a
    act = mlp.hidden
    kinked = act.name in _KINKED
    grid = _grid_1d(alpha[:, 1], b, False, 1)

    def inner(y1: float, tv: float) -> float:
        bb = b + alpha[:, 0] * y1

        def g(y2: np.ndarray) -> np.ndarray:
            return np.asarray(act.value(np.outer(y2, alpha[:, 1]) + bb), dtype=np.float64) @ a + mlp.c

        pts = grid
        if kinked:
            nz = alpha[:, 1] != 0
            k = -bb[nz] / alpha[nz, 1]
            pts = np.unique(np.concatenate([grid, k[np.abs(k) < HALF_WIDTH]]))
        return superlevel_mass_1d(g, tv, pts)[0]

    p, err = np.empty(t.size), np.empty(t.size)
    for i, tv in enumerate(t):
        val, e = quad(lambda y1: math.exp(-0.5 * y1 * y1) / math.sqrt(2 * math.pi) * inner(y1, tv),
                      -HALF_WIDTH / 4, HALF_WIDTH / 4, epsabs=0.0, epsrel=epsrel, limit=400)
        p[i], err[i] = val, e
    return p, err


def exact_tail(mlp: TwoLayerMLP, t: np.ndarray, max_rank: int = 2, epsrel: float = 1e-9) -> dict[str, Any] | None:
    """``P(f > t)`` exactly when the rows of W span at most ``max_rank`` dimensions, else None.

    Returns a dict with ``probability``, ``error`` (absolute, per t), ``method``, ``rank``.
    Cost: r = 1 about ``2 m (n_grid + 40 n_crossings)`` per t (n_grid <= 40001); r = 2 that times
    the outer Gauss-Kronrod evaluations (typically 100-2000).
    """
    single = single_unit_tail(mlp, t)
    if single is not None:
        return {"probability": single, "error": np.full(t.size, 1e-15), "method": "single_unit", "rank": 1}
    V = active_span(mlp.W[mlp.a != 0]) if np.any(mlp.a != 0) else np.zeros((mlp.d, 0))
    r = V.shape[1]
    if r == 0:
        live = mlp.a != 0
        value = mlp.c + float(np.asarray(mlp.hidden.value(mlp.b[live].copy())) @ mlp.a[live]) if np.any(live) else mlp.c
        return {"probability": (value > t).astype(float), "error": np.zeros(t.size), "method": "constant", "rank": 0}
    if r > max_rank:
        return None
    if r == 1:
        p, err = _exact_1d(mlp, V[:, 0], t)
        return {"probability": p, "error": err, "method": "exact_1d", "rank": 1}
    p, err = _exact_2d(mlp, V, t, epsrel)
    return {"probability": p, "error": err, "method": "exact_2d", "rank": 2}
