"""Gaussian quadrature of derivative means, with rounding-error estimates (MATH.md sections 2, 8).

Two real-axis routes compute ``M_k = E[sigma^(k)(r Z + b)]``, ``Z ~ N(0, 1)``:

* **derivative route**: ``M_k = sum_i w_i sigma^(k)(r z_i + b)`` from exact pointwise
  derivatives.  Accurate when the integrand does not oscillate (small ``r``, or far from the
  activation's singularities), because it has no ``r^-k`` amplification;
* **Hermite (Stein) route**: ``M_k = r^-k sum_i w_i sigma(r z_i + b) He_k(z_i)``.  Accurate for
  large ``r``, where ``r^k M_k`` is not small next to ``E|sigma(rZ+b) He_k(Z)|``.

Each route also returns an a-priori rounding-error estimate ``eps * sum_i w_i |term_i|``
(times a small degree-dependent factor): the size of the terms that cancel.  Activations
pick, per unit and per k, the route with the smaller estimate (:func:`most_accurate`).

The rule is composite Gauss-Legendre on ``[-15, 15]`` (60 panels of 40 nodes, 2,400 nodes) with
the normal density folded in.  Panels keep every weight accurate to ~1e-16 (single 2,000-node
Legendre rules from numpy/scipy carry ~1e-13 relative weight errors near the centre), and a
panel half-width of 0.25 integrates functions with a singularity at distance ``delta`` from
the real Z-axis with error ~ ``rho^-80``, ``rho = delta/0.25 + sqrt(1 + (delta/0.25)^2)``:
below 1e-30 for ``delta >= 0.15`` (tanh at ``r = 5`` has ``delta = pi / (2 r) = 0.31``).
The mass outside ``[-15, 15]`` is 7e-51.

That bound needs ``delta ~ c / r`` not too small: for ``r >`` :data:`STEEP_R` the Hermite route
switches to per-unit panels graded towards the transition ``z0 = -b/r``
(:func:`shinnet.activations.graded_rule.transition_rule`, plus panels of width 1 in ``x = rz + b``
on ``[-40, 40]``), ~4,000 nodes per unit.  The logistic family does better still for steep
units (asymptote + remainder, :mod:`shinnet.activations.transition`).
"""

from __future__ import annotations

from abc import abstractmethod
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from shinnet.activations.base import Activation
from shinnet.activations.flops import count_norms, graded_node_flops, hermite_node_flops, unit_flops
from shinnet.activations.graded_rule import transition_rule, transition_rule_nodes
from shinnet.hermite import hermite_he

__all__ = [
    "EPS",
    "composite_legendre_rule",
    "normal_rule",
    "unit_chunks",
    "derivative_route",
    "hermite_route",
    "most_accurate",
    "hermite_route_flops",
    "EstimatedActivation",
]

EPS = float(np.finfo(np.float64).eps)
#: above this norm the Hermite route uses per-unit panels around the transition (the fixed
#: rule resolves functions analytic in |Im x| < 0.15 r only up to here for unit-width features)
STEEP_R = 10.0
#: the steep rule has panels of width 1 in the activation's argument on [-40, 40]
STEEP_X_WINDOW = 40.0
#: elements (units x nodes x degrees) processed at once, to bound memory (~100 MB)
_CHUNK_ELEMENTS = 2_000_000


@lru_cache(maxsize=8)
def composite_legendre_rule(lo: float, hi: float, panels: int, nodes_per_panel: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on ``[lo, hi]`` (read-only arrays).

    Exact for piecewise polynomials of degree ``< 2 nodes_per_panel`` on the panels.
    """
    if not (hi > lo and panels >= 1 and nodes_per_panel >= 1):
        raise ValueError(f"bad rule: [{lo}, {hi}], panels={panels}, nodes_per_panel={nodes_per_panel}")
    x, w = np.polynomial.legendre.leggauss(nodes_per_panel)
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * (edges[1:] - edges[:-1])
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


@lru_cache(maxsize=4)
def normal_rule(half_width: float = 15.0, panels: int = 60, nodes_per_panel: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``z_i`` and weights ``w_i`` with ``sum_i w_i g(z_i) ~= E[g(Z)]``, ``Z ~ N(0, 1)``.

    Composite Gauss-Legendre on ``[-half_width, half_width]`` with the density folded in
    (module docstring for the accuracy argument).  Read-only arrays of 2,400 entries by default.
    """
    z, w = composite_legendre_rule(-half_width, half_width, panels, nodes_per_panel)
    w = w * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    w.setflags(write=False)
    return z, w


def unit_chunks(m: int, per_unit: int) -> list[slice]:
    """Slices of ``range(m)`` such that each chunk holds about ``_CHUNK_ELEMENTS`` elements."""
    size = max(1, _CHUNK_ELEMENTS // max(per_unit, 1))
    return [slice(i, min(i + size, m)) for i in range(0, m, size)] or [slice(0, 0)]


def derivative_route(
    derivatives: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    k_max: int,
    r: np.ndarray,
    b: np.ndarray,
    rule: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``M_k = E[sigma^(k)(rZ+b)] ~= sum_i w_i sigma^(k)(r z_i + b)`` with an error estimate.

    Parameters
    ----------
    derivatives : callable ``(x, k_max) -> (values, errors)``
        Pointwise ``sigma^(k)(x)`` for k = 0..k_max, shape ``x.shape + (k_max + 1,)``, and a
        bound on their absolute rounding errors (same shape).
    k_max : int
    r, b : ndarray, shape (m,)
    rule : (nodes, weights), optional
        A rule for ``E[g(Z)]``; default :func:`normal_rule`.  A coarser one (Gauss-Hermite)
        is enough when ``sigma^(k)(r z + b)`` is analytic in a wide strip around real ``z``.

    Returns
    -------
    means, errors : ndarray, shape (m, k_max + 1).  ``errors`` = propagated pointwise errors
    plus ``eps (n_nodes)^(1/2) sum_i w_i |sigma^(k)|`` for the summation.  Cost
    O(m n_nodes k_max) plus the derivative evaluations.
    """
    z, w = normal_rule() if rule is None else rule
    means = np.empty((r.size, k_max + 1))
    errors = np.empty((r.size, k_max + 1))
    for sl in unit_chunks(r.size, z.size * (k_max + 1)):
        x = r[sl, None] * z[None, :] + b[sl, None]
        values, point_err = derivatives(x, k_max)
        means[sl] = np.einsum("i,uik->uk", w, values)
        errors[sl] = np.einsum("i,uik->uk", w, point_err + 4.0 * EPS * np.abs(values))
    return means, errors


def hermite_route(
    value: Callable[[np.ndarray], np.ndarray],
    k_max: int,
    r: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``M_k = r^-k E[sigma(rZ+b) He_k(Z)]`` (Stein's lemma, MATH.md section 2) with an error estimate.

    The estimate is ``(k + 4) eps r^-k sum_i w_i |sigma(r z_i + b) He_k(z_i)|``; it is infinite
    at ``r = 0`` for k >= 1 (this route cannot divide by ``r^k`` there).  ``value`` must be
    accurate to a few ulps.  Cost O(m n_nodes k_max).
    """
    z, w = normal_rule()
    he = hermite_he(k_max, z)  # (n, K+1)
    abs_he = np.abs(he)
    ks = np.arange(k_max + 1)
    gamma = np.empty((r.size, k_max + 1))
    size = np.empty((r.size, k_max + 1))
    steep = r > STEEP_R
    gentle = np.flatnonzero(~steep)
    for sl in unit_chunks(gentle.size, z.size * 2):
        idx = gentle[sl]
        sig = value(r[idx, None] * z[None, :] + b[idx, None]) * w[None, :]
        gamma[idx] = sig @ he
        size[idx] = np.abs(sig) @ abs_he
    if np.any(steep):
        gamma[steep], size[steep] = _steep_hermite_sums(value, k_max, r[steep], b[steep])
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(r[:, None] > 0, r[:, None] ** (-ks[None, :].astype(np.float64)), np.inf)
        scale[:, 0] = 1.0
        means = gamma * scale
        errors = (ks[None, :] + 4.0) * EPS * size * scale
    means[~np.isfinite(means)] = np.nan
    errors[~np.isfinite(errors)] = np.inf
    return means, errors


def _steep_hermite_sums(
    value: Callable[[np.ndarray], np.ndarray], k_max: int, r: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``sum_i w_i sigma(r z_i + b) He_k(z_i)`` and ``sum_i |...|`` on the per-unit rule of
    :func:`shinnet.activations.transition.transition_rule` (graded towards ``x = 0``, plus
    panels of width 1 in ``x`` on ``[-40, 40]``), for units steeper than :data:`STEEP_R`."""
    gamma = np.empty((r.size, k_max + 1))
    size = np.empty_like(gamma)
    for sl in _steep_chunks(r.size, k_max):
        zz, ww = transition_rule(r[sl], b[sl], x_window=STEEP_X_WINDOW)
        sig = value(r[sl, None] * zz + b[sl, None]) * ww
        he = hermite_he(k_max, zz)
        gamma[sl] = np.einsum("un,unk->uk", sig, he)
        size[sl] = np.einsum("un,unk->uk", np.abs(sig), np.abs(he))
    return gamma, size


def _steep_chunks(m: int, k_max: int) -> list[slice]:
    """The unit chunks of :func:`_steep_hermite_sums` (each chunk gets its own graded rule)."""
    return unit_chunks(m, 6000 * (k_max + 3))


def hermite_route_flops(cost: float, k_max: int, r: np.ndarray) -> float:
    """FLOPs :func:`hermite_route` spends for an integrand of ``cost`` on the units of norms ``r``
    (:mod:`shinnet.activations.flops`): 2,400 nodes of :func:`hermite_node_flops` per unit with
    ``r <=`` :data:`STEEP_R`; for steeper units, per chunk of :func:`_steep_hermite_sums`,
    :func:`transition_rule_nodes` (x window 40) nodes of :func:`graded_node_flops`; plus
    :func:`unit_flops` per unit.  Cost O(m)."""
    n_shared = normal_rule()[0].size
    steep = r[r > STEEP_R]
    total = float(r.size - steep.size) * n_shared * hermite_node_flops(cost, k_max)
    per_node = graded_node_flops(cost, k_max)
    for sl in _steep_chunks(steep.size, k_max):
        if sl.stop > sl.start:
            nodes = transition_rule_nodes(float(np.max(steep[sl])), STEEP_X_WINDOW)
            total += float(sl.stop - sl.start) * nodes * per_node
    return total + r.size * unit_flops(k_max)


def most_accurate(*candidates: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise, the candidate ``(means, errors)`` with the smallest error estimate."""
    means = np.stack([c[0] for c in candidates])
    errors = np.stack([c[1] for c in candidates])
    errors = np.where(np.isfinite(means) & ~np.isnan(errors), errors, np.inf)
    best = np.argmin(errors, axis=0)
    pick = np.take_along_axis(means, best[None], axis=0)[0]
    err = np.take_along_axis(errors, best[None], axis=0)[0]
    return pick, err


class EstimatedActivation(Activation):
    """An activation whose derivative means come with an estimate of their absolute error.

    Subclasses implement :meth:`gaussian_derivative_means_with_error`;
    :meth:`gaussian_derivative_means` drops the estimate.
    """

    @abstractmethod
    def gaussian_derivative_means_with_error(self, k_max: int, r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(E[sigma^(k)(rZ+b)], estimated absolute error)``, each of shape (m, k_max + 1)."""

    #: the quadrature routes are verified against mpmath up to this degree (docs/activations.md)
    max_accurate_degree: int | None = 24

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        k_max = self.check_degree(k_max)
        return self.gaussian_derivative_means_with_error(k_max, r, b)[0]

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """The Hermite route on every unit (:func:`hermite_route_flops` with ``cost(sigma)``);
        subclasses with more routes add theirs.  ``b`` never changes the count."""
        return hermite_route_flops(float(self.flops), int(k_max), count_norms(m, r))
