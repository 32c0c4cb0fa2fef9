"""Gaussian means of logistic-sigmoid derivatives, the numerical core of tanh, sigmoid, silu
and softplus (MATH.md sections 2 and 8).

``s(z) = 1 / (1 + e^-z)``.  Everything reduces to ``M_k(r, b) = E[s^(k)(r Z + b)]``:

* ``tanh(z) = 2 s(2z) - 1``, so ``E[tanh^(k)(rZ+b)] = 2^(k+1) M_k(2r, 2b)`` (k >= 1);
* ``softplus' = s``, so ``E[softplus^(k)] = M_{k-1}`` (k >= 1);
* ``silu(z) = z s(z)``, ``silu^(k)(z) = z s^(k)(z) + k s^(k-1)(z)``, and by Stein
  ``E[(rZ+b) g(rZ+b)] = b E[g] + r^2 E[g']``, so ``E[silu^(k)] = b M_k + r^2 M_{k+1} + k M_{k-1}``.

``M_k`` is computed three ways, each with a rounding-error estimate, and the most accurate is
kept per unit and per k (:func:`shinnet.activations.quadrature.most_accurate`):

1. derivative route with pointwise ``s^(k)`` from Taylor-mode arithmetic (:func:`sigmoid_taylor`;
   the textbook polynomials in ``s`` lose 11 digits to cancellation at k = 24, this does not);
2. Hermite route ``r^-k E[s(rZ+b) He_k(Z)]``;
3. Fourier route, for k >= 1: with ``F[s'](w) = pi w / sinh(pi w)``,
   ``M_k = (1/pi) int_0^inf w^(k-1) (pi w / sinh(pi w)) cos(w b + (k-1) pi/2) e^(-r^2 w^2 / 2) dw``
   (no cancellation when ``|b|`` is moderate, whatever ``r``).

For ``0 <= r <= 10``, ``|b| <= 10`` (tanh: ``r <= 5``, ``|b| <= 5``) and k <= 26 the kept
estimate is below 1e-12 relative except where ``M_k`` is itself near a zero of ``(r, b) ->
M_k``; tests/activations/test_activations.py checks the values against 60-digit mpmath quadrature.
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np

from shinnet.activations.base import as_unit_arrays
from shinnet.activations.flops import (
    TRANSCENDENTAL_FLOPS,
    fourier_node_flops,
    taylor_node_flops,
    unit_flops,
)
from shinnet.activations.quadrature import (
    EPS,
    composite_legendre_rule,
    derivative_route,
    hermite_route,
    hermite_route_flops,
    most_accurate,
    normal_rule,
    unit_chunks,
)
from shinnet.activations.transition import by_norm, by_norm_flops

#: relative error estimate below which the derivative route is not tried
_GOOD_ENOUGH = 1e-13
#: the derivative route is tried only for r <= 1.25: on a grid r in [1, 10], |b| <= 10,
#: k <= 26 it never beat the Hermite/Fourier routes for r >= 1.5
_DERIVATIVE_ROUTE_MAX_R = 1.25
#: (panels, nodes per panel) on [-15, 15] for the derivative route: s^(k)(r z + b) is analytic
#: in the strip |Im z| < pi / r (>= 2.5 here), so panels of width 1 with 20 nodes converge
#: like 10^-40.  (Gauss-Hermite with 100 nodes is not enough: at r = 1.25, b = -10 the
#: integrand grows like e^(1.25 m z) into the tail and GH-100 errs by 1e-3 at k = 26.)
_DERIVATIVE_ROUTE_PANELS = (30, 20)

#: FLOPs charged for one :func:`sigmoid_numpy` (exp, abs, add, divide, select)
SIGMOID_FLOPS = TRANSCENDENTAL_FLOPS + 4.0

__all__ = [
    "SIGMOID_FLOPS",
    "sigmoid_numpy",
    "sigmoid_taylor",
    "sigmoid_fourier_route",
    "sigmoid_derivative_means",
    "sigmoid_means_flops",
]


def sigmoid_numpy(x: np.ndarray) -> np.ndarray:
    """``s(x)`` to full relative precision on both tails (numpy)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@lru_cache(maxsize=4)
def _inverse_factorials(k_max: int) -> np.ndarray:
    out = np.array([1.0 / factorial(j) for j in range(k_max + 1)])
    out.setflags(write=False)
    return out


def sigmoid_taylor(x: np.ndarray, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``s^(k)(x)``, k = 0..k_max, and estimates of their rounding errors.

    With ``t = -|x|`` and ``c = e^t <= 1``, ``s(t + h) = c e^h / (1 + c e^h)``; the Taylor
    coefficients ``beta_n = s^(n)(t) / n!`` satisfy the series-division recurrence
    ``(1 + c) beta_n = c / n! - c sum_{j=1}^{n} beta_{n-j} / j!``.  For ``x > 0`` use
    ``s(x) = 1 - s(-x)``: ``s^(n)(x) = (-1)^(n+1) s^(n)(-x)`` for n >= 1.

    The error estimate is ``4 eps n! mag_n`` with ``mag_n = c (1/n! + sum_j |beta_{n-j}| / j!)
    / (1 + c)``, the size of the terms that cancel in step n.  Measured against 50-digit
    mpmath on x in [-12, 0], k <= 26: the actual error never exceeded ``2.6 eps n! mag_n``
    (a formal running error bound, which compounds the earlier steps' bounds, overestimates
    by up to 1e11 near x = 0).  The textbook polynomials in ``s`` lose 11 digits at k = 24;
    this recurrence loses at most ~2.  Cost O(size(x) k_max^2).

    Returns
    -------
    values, errors : ndarray, shape ``x.shape + (k_max + 1,)``.
    """
    x = np.asarray(x, dtype=np.float64)
    c = np.exp(-np.abs(x))
    inv = _inverse_factorials(k_max)
    beta = np.empty(x.shape + (k_max + 1,))
    mag = np.empty_like(beta)
    d0 = 1.0 + c
    beta[..., 0] = c / d0
    mag[..., 0] = beta[..., 0]
    for n in range(1, k_max + 1):
        tail = inv[n:0:-1]  # 1/n!, ..., 1/1!  paired with beta_0 .. beta_{n-1}
        acc = beta[..., :n] @ tail
        mag[..., n] = c * (inv[n] + np.abs(beta[..., :n]) @ tail) / d0
        beta[..., n] = c * (inv[n] - acc) / d0
    fact = np.array([float(factorial(n)) for n in range(k_max + 1)])
    values = beta * fact
    errors = (4.0 * EPS) * mag * fact
    pos = x > 0
    if np.any(pos):
        flip = np.where(np.arange(k_max + 1) % 2 == 0, -1.0, 1.0)  # (-1)^(n+1)
        values[pos] = values[pos] * flip
        values[pos, 0] = 1.0 / (1.0 + c[pos])
    return values, errors


@lru_cache(maxsize=2)
def _omega_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on ``[0, 40]`` (40 panels x 40 Gauss-Legendre nodes) times ``g(w)/pi``.

    ``g(w) = pi w / sinh(pi w)`` has poles at ``w = +-i n``, distance 1 from the real axis, so
    the panel half-width 0.5 gives convergence factor ``(2 + sqrt 5)^-80 ~ 1e-50``.  The
    truncated tail is below ``40^25 e^(-40 pi) ~ 3e-15`` times the peak of the k = 26 integrand
    ``8^25 e^(-26)``, i.e. ~1e-27 relative.
    """
    w_nodes, w_weights = composite_legendre_rule(0.0, 40.0, 40, 40)
    g = np.pi * w_nodes / np.sinh(np.pi * w_nodes)
    weights = w_weights * g / np.pi
    weights.setflags(write=False)
    return w_nodes, weights


def sigmoid_fourier_route(k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``M_k`` for k >= 1 by the Fourier integral (module docstring); k = 0 is reported as NaN
    with an infinite error.  The error estimate is ``eps sum |term| (k + 4 + w |b|)`` (the last
    term for the argument reduction in ``cos(w b)``).  Cost O(m n_w k_max), n_w = 1,600.
    """
    om, wt = _omega_rule()
    means = np.full((r.size, k_max + 1), np.nan)
    errors = np.full((r.size, k_max + 1), np.inf)
    for sl in unit_chunks(r.size, om.size * 4):
        rr, bb = r[sl, None], b[sl, None]
        base = wt[None, :] * np.exp(-0.5 * (rr * om[None, :]) ** 2)
        phase = om[None, :] * bb
        cos, sin = np.cos(phase), np.sin(phase)
        arg_err = 4.0 + om[None, :] * np.abs(bb)
        trig = (cos, -sin, -cos, sin)  # Re[i^(k-1) e^(i w b)] for (k-1) mod 4 = 0, 1, 2, 3
        power = np.ones_like(base)
        for k in range(1, k_max + 1):
            term = base * power * trig[(k - 1) % 4]
            means[sl, k] = term.sum(axis=1)
            errors[sl, k] = EPS * (np.abs(base * power) * (arg_err + k)).sum(axis=1)
            power = power * om[None, :]
    return means, errors


def sigmoid_derivative_means(k_max: int, r: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """``M_k = E[s^(k)(r Z + b)]`` for k = 0..k_max, and an estimate of the absolute error.

    The most accurate of the derivative, Hermite and Fourier routes per entry (module
    docstring) for ``r <= 10``; for steeper units the split route of
    :mod:`shinnet.activations.transition` (step + remainder on a rule graded towards the
    transition).  ``r = 0`` gives the pointwise derivatives ``s^(k)(b)``.

    Returns
    -------
    means, errors : ndarray, shape (m, k_max + 1).  Cost O(m k_max^2 n) with n = 2,400 nodes.
    """
    if k_max < 0:
        raise ValueError(f"k_max must be >= 0, got {k_max}")
    r, b = as_unit_arrays(r, b)
    return by_norm("sigmoid", k_max, r, b, _gentle_sigmoid_means)


def _gentle_sigmoid_means(k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fixed-rule routes (module docstring), verified for ``r <= 10``."""
    means, errors = hermite_route(sigmoid_numpy, k_max, r, b)
    if k_max >= 1:
        means, errors = most_accurate((means, errors), sigmoid_fourier_route(k_max, r, b))
    # the derivative route costs O(k_max^2) per node: run it only where the others are not
    # already at ~100 ulps (small r, or large |b| with moderate r)
    need = np.any(errors > _GOOD_ENOUGH * np.abs(means), axis=1)
    sel = need & (r <= _DERIVATIVE_ROUTE_MAX_R)
    if np.any(sel):
        rule = normal_rule(15.0, *_DERIVATIVE_ROUTE_PANELS)
        derivative = derivative_route(sigmoid_taylor, k_max, r[sel], b[sel], rule=rule)
        means[sel], errors[sel] = most_accurate((means[sel], errors[sel]), derivative)
    return means, errors


def sigmoid_means_flops(k_max: int, r: np.ndarray) -> float:
    """FLOPs :func:`sigmoid_derivative_means` ``(k_max, r, b)`` spends (:mod:`shinnet.activations.flops`):
    the split route for ``r > 10`` (:func:`shinnet.activations.transition.split_flops`); below, the
    Hermite route (:func:`hermite_route_flops` with :data:`SIGMOID_FLOPS`), the Fourier route for
    ``k_max >= 1`` (1,600 nodes of :func:`fourier_node_flops` per unit) and the derivative route
    (600 nodes of :func:`taylor_node_flops`) on every unit with ``r <= 1.25``, whether or not the
    error test runs it there.  Independent of b.  Cost O(m)."""
    return by_norm_flops("sigmoid", int(k_max), np.asarray(r, dtype=np.float64), _gentle_sigmoid_flops)


def _gentle_sigmoid_flops(k_max: int, r: np.ndarray) -> float:
    """FLOPs of :func:`_gentle_sigmoid_means` (see :func:`sigmoid_means_flops`)."""
    total = hermite_route_flops(SIGMOID_FLOPS, k_max, r)
    if k_max >= 1:
        total += r.size * (_omega_rule()[0].size * fourier_node_flops(k_max) + unit_flops(k_max))
    eligible = int(np.count_nonzero(r <= _DERIVATIVE_ROUTE_MAX_R))
    nodes = normal_rule(15.0, *_DERIVATIVE_ROUTE_PANELS)[0].size
    return total + eligible * (nodes * taylor_node_flops(k_max) + unit_flops(k_max))
