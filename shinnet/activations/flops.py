"""The FLOP convention for computing Gaussian derivative means (MATH.md section 7; docs/activations.md).

``Activation.derivative_means_flops(k_max, m, r, b)`` charges what
``gaussian_derivative_means(k_max, r, b)`` runs, with these conventions (the ones of
:func:`shinnet.activations.power_hermite.power_hermite_flops`):

* one arithmetic operation costs 1, one transcendental function (exp, log, pow, erf, ndtr,
  cos, sin, sqrt) costs :data:`TRANSCENDENTAL_FLOPS`, one evaluation of the activation costs
  its ``flops``;
* a quadrature is charged per unit and per node: the activation (or the integrand) at the node
  plus the per-node work for the ``k_max + 1`` moments (the functions below); the per-unit work
  after the sums (scaling by ``r^-k``, error estimates, choosing a route) is
  :func:`unit_flops` per route;
* tables shared by all units of a call (the fixed rules' nodes and weights, ``He_k`` at the
  2,400 shared nodes: O(n k_max), independent of m) are not charged;
* a route that runs only on the units an error test selects is charged on every unit it may run
  on (the logistic family's derivative route: all units with a small enough norm).

The count depends on the norms ``r`` (which units are steep, the graded rules' sizes), never on
the biases.  Cost of counting: O(m).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "TRANSCENDENTAL_FLOPS",
    "unit_flops",
    "hermite_node_flops",
    "graded_node_flops",
    "fourier_node_flops",
    "taylor_node_flops",
    "closed_form_flops",
    "count_norms",
]

#: FLOPs charged for one exp / log / pow / erf / ndtr / cos / sin / sqrt (a convention; MATH.md section 7)
TRANSCENDENTAL_FLOPS = 10.0


def unit_flops(k_max: int) -> float:
    """Per unit and per route, after the sums: ``10 (k_max + 1)`` (scaling by ``r^-k``, the error
    estimate, the choice of the most accurate route)."""
    return 10.0 * (k_max + 1)


def hermite_node_flops(cost: float, k_max: int) -> float:
    """One node of the Hermite (Stein) route on a shared rule: the argument ``r z + b`` (2), the
    integrand (``cost``), the weight and its magnitude (2), and the two sums against ``He_k`` and
    ``|He_k|`` (``4 (k_max + 1)``)."""
    return float(cost) + 4.0 + 4.0 * (k_max + 1)


def graded_node_flops(cost: float, k_max: int) -> float:
    """One node of a per-unit (graded) rule: :func:`hermite_node_flops` plus the node and weight
    (``mid + h x``, ``h w``, the normal density: ``6 + T``), ``He_k`` at the node (``3 k_max``) and
    ``|He_k|`` (``k_max + 1``)."""
    return hermite_node_flops(cost, k_max) + 6.0 + TRANSCENDENTAL_FLOPS + 3.0 * k_max + (k_max + 1)


def fourier_node_flops(k_max: int) -> float:
    """One node of the logistic sigmoid's Fourier route: the damped weight (``4 + T``), the phase
    and its cosine and sine (``1 + 2 T``), the argument-error factor (3), and 9 per k >= 1 (term,
    sum, error term, next power)."""
    if k_max < 1:
        return 0.0
    return 8.0 + 3.0 * TRANSCENDENTAL_FLOPS + 9.0 * k_max


def taylor_node_flops(k_max: int) -> float:
    """One node of the logistic sigmoid's derivative route: the argument (2), the Taylor
    recurrence of :func:`shinnet.activations.sigmoid_core.sigmoid_taylor` (``T + 3`` and
    ``5 n + 6`` at step n = 1..k_max, then ``4 (k_max + 1)`` for the factorials, errors and
    signs) and the two weighted sums with the pointwise error terms (``7 (k_max + 1)``)."""
    k = int(k_max)
    return 5.0 + TRANSCENDENTAL_FLOPS + 2.5 * k * (k + 1) + 6.0 * k + 11.0 * (k + 1)


def closed_form_flops(k_max: int, m: int, per_unit: float, per_degree: float) -> float:
    """``m (per_unit + per_degree (k_max + 1))``: a closed form doing ``per_unit`` operations once
    per unit and ``per_degree`` per derivative order."""
    return float(m) * (float(per_unit) + float(per_degree) * (k_max + 1))


def count_norms(m: int, r: Any) -> np.ndarray:
    """The norms a count uses: ``r`` as a 1-d float64 array of length m, or m ones when ``r`` is
    None (callers that know only sizes).  Raises ValueError on a length mismatch."""
    if r is None:
        return np.ones(int(m))
    out = np.atleast_1d(np.asarray(r, dtype=np.float64))
    if out.size == 1:
        out = np.full(int(m), float(out[0]))
    if out.ndim != 1 or out.size != int(m):
        raise ValueError(f"r must have shape ({int(m)},) for a count over m = {int(m)} units, got {out.shape}")
    return out
