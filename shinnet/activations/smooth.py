"""The logistic family: sigmoid, tanh, silu, softplus (MATH.md sections 2 and 8).

All four reduce to ``M_k(r, b) = E[s^(k)(r Z + b)]`` of the logistic sigmoid ``s``, computed
by :func:`shinnet.activations.sigmoid_core.sigmoid_derivative_means` (three quadrature
routes, the most accurate kept per entry, each with an error estimate):

* ``E[tanh(rZ+b)] = 2 M_0(2r, 2b) - 1``, ``E[tanh^(k)(rZ+b)] = 2^(k+1) M_k(2r, 2b)`` (k >= 1);
* ``E[softplus^(k)(rZ+b)] = M_{k-1}(r, b)`` (k >= 1); k = 0 by direct quadrature;
* ``E[silu^(k)(rZ+b)] = b M_k + r^2 M_{k+1} + k M_{k-1}`` (Stein: ``E[(rZ+b) g(rZ+b)] =
  b E[g] + r^2 E[g']``); k = 0 also by direct quadrature, keeping the more accurate.

Steep units (``r`` above :data:`shinnet.activations.transition.SPLIT_MIN_R`: 10 for sigmoid and
softplus, 5 for tanh and silu) use the split route of :mod:`shinnet.activations.transition`
instead (asymptote step / sign / relu in closed form + remainder on a graded rule); a fixed rule
cannot resolve the transition of width ``1/r`` (issue 10).  Degrees above 24 are refused
(``max_accurate_degree``).

FLOP counts use the convention that one transcendental function (exp, log, tanh, erf) costs
:data:`TRANSCENDENTAL_FLOPS`; ``derivative_means_flops`` counts the quadrature nodes each route
runs (:mod:`shinnet.activations.flops`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shinnet.activations import backend_ops as ops
from shinnet.activations.base import as_unit_arrays
from shinnet.activations.flops import TRANSCENDENTAL_FLOPS, count_norms, unit_flops
from shinnet.activations.quadrature import EPS, EstimatedActivation, hermite_route, hermite_route_flops, most_accurate
from shinnet.activations.sigmoid_core import SIGMOID_FLOPS, sigmoid_derivative_means, sigmoid_means_flops
from shinnet.activations.transition import by_norm, by_norm_flops

__all__ = ["TRANSCENDENTAL_FLOPS", "Sigmoid", "Tanh", "SiLU", "Softplus"]

_ACCURACY = (
    "quadrature: for r <= {split:g} the most accurate of derivative / Hermite / Fourier routes "
    "(2,400-node composite Gauss-Legendre), for r > {split:g} {asym} + remainder on panels graded "
    "towards the transition z = -b/r (shinnet.activations.transition). Verified against mpmath "
    "for k <= 24 (k > 24 is refused): relative error <= 1e-12 for {range} and for every b in "
    "[-3, 5] at r in {{200, 1000, 2000, 1e4}}, except near zeros of (r, b) -> E[sigma^(k)(rZ+b)], "
    "where the absolute error is <= 1e-12 (|M_k| + |b| |M_(k+1)| + r^2 |M_(k+2)|) + 1e-14 |M_(k+1)| "
    "(the sensitivity to relative changes of 1e-12 in r and b, or 1e-14 absolute in b); "
    "gaussian_derivative_means_with_error returns a per-entry estimate"
)


class Sigmoid(EstimatedActivation):
    """The logistic sigmoid ``s(z) = 1 / (1 + e^-z)``; derivative means ``M_k(r, b)``."""

    name = "sigmoid"
    flops = SIGMOID_FLOPS
    accuracy = _ACCURACY.format(split=10.0, asym="step", range="0 <= r <= 10, |b| <= 10")

    def value(self, z: Any) -> Any:
        return ops.sigmoid(z)

    def gaussian_derivative_means_with_error(self, k_max: int, r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        return sigmoid_derivative_means(self.check_degree(k_max), r, b)

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """:func:`shinnet.activations.sigmoid_core.sigmoid_means_flops` (b never changes it)."""
        return sigmoid_means_flops(int(k_max), count_norms(m, r))


class Tanh(EstimatedActivation):
    """``tanh(z) = 2 s(2z) - 1``: ``E[tanh^(k)(rZ+b)] = 2^(k+1) M_k(2r, 2b)`` for k >= 1."""

    name = "tanh"
    flops = TRANSCENDENTAL_FLOPS
    accuracy = _ACCURACY.format(split=5.0, asym="sign", range="0 <= r <= 5, |b| <= 5")

    def value(self, z: Any) -> Any:
        return ops.do("tanh", z)

    def gaussian_derivative_means_with_error(self, k_max: int, r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        k_max = self.check_degree(k_max)
        r, b = as_unit_arrays(r, b)
        return by_norm("tanh", k_max, r, b, self._gentle)

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Split route for ``r > 5``, else the sigmoid's count at ``2 r`` plus the rescaling
        (:func:`unit_flops`).  b never changes it."""
        return by_norm_flops("tanh", int(k_max), count_norms(m, r),
                             lambda k, rr: sigmoid_means_flops(k, 2.0 * rr) + rr.size * unit_flops(k))

    @staticmethod
    def _gentle(k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, errors = sigmoid_derivative_means(k_max, 2.0 * r, 2.0 * b)
        scale = 2.0 ** np.arange(1, k_max + 2, dtype=np.float64)
        means, errors = means * scale, errors * scale
        means[:, 0] -= 1.0
        errors[:, 0] += EPS
        return means, errors


class Softplus(EstimatedActivation):
    """``softplus(z) = log(1 + e^z)``; ``softplus' = s``, so ``E[softplus^(k)] = M_{k-1}``."""

    name = "softplus"
    flops = 2.0 * TRANSCENDENTAL_FLOPS + 3.0
    accuracy = _ACCURACY.format(split=10.0, asym="relu", range="0 <= r <= 10, |b| <= 10")

    def value(self, z: Any) -> Any:
        return ops.softplus(z)

    def gaussian_derivative_means_with_error(self, k_max: int, r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        k_max = self.check_degree(k_max)
        r, b = as_unit_arrays(r, b)
        return by_norm("softplus", k_max, r, b, self._gentle)

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Split route for ``r > 10``, else the Hermite route at k = 0 and the sigmoid's count at
        ``k_max - 1``.  b never changes it."""
        return by_norm_flops("softplus", int(k_max), count_norms(m, r), self._gentle_flops)

    def _gentle_flops(self, k_max: int, r: np.ndarray) -> float:
        total = hermite_route_flops(float(self.flops), 0, r)
        return total + (sigmoid_means_flops(k_max - 1, r) if k_max >= 1 else 0.0)

    @staticmethod
    def _gentle(k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean0, err0 = hermite_route(ops.softplus, 0, r, b)
        if k_max == 0:
            return mean0, err0
        means, errors = sigmoid_derivative_means(k_max - 1, r, b)
        return np.hstack([mean0, means]), np.hstack([err0, errors])


class SiLU(EstimatedActivation):
    """``silu(z) = z s(z)`` (swish): ``E[silu^(k)] = b M_k + r^2 M_{k+1} + k M_{k-1}``."""

    name = "silu"
    flops = TRANSCENDENTAL_FLOPS + 5.0
    accuracy = _ACCURACY.format(split=5.0, asym="relu", range="0 <= r <= 5, |b| <= 5")

    def value(self, z: Any) -> Any:
        return z * ops.sigmoid(z)

    def gaussian_derivative_means_with_error(self, k_max: int, r: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        k_max = self.check_degree(k_max)
        r, b = as_unit_arrays(r, b)
        return by_norm("silu", k_max, r, b, self._gentle)

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Split route for ``r > 5``, else the sigmoid's count at ``k_max + 1``, the direct Hermite
        route at k = 0 and the Stein combination (:func:`unit_flops`).  b never changes it."""
        return by_norm_flops("silu", int(k_max), count_norms(m, r), self._gentle_flops)

    def _gentle_flops(self, k_max: int, r: np.ndarray) -> float:
        return (sigmoid_means_flops(k_max + 1, r) + hermite_route_flops(float(self.flops), 0, r)
                + r.size * unit_flops(k_max))

    def _gentle(self, k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, e = sigmoid_derivative_means(k_max + 1, r, b)
        ks = np.arange(k_max + 1, dtype=np.float64)
        bb, r2 = b[:, None], (r * r)[:, None]
        prev = np.hstack([np.zeros((r.size, 1)), m[:, :k_max]])  # M_{k-1}; k = 0 term is 0
        prev_err = np.hstack([np.zeros((r.size, 1)), e[:, :k_max]])
        parts = (bb * m[:, :-1], r2 * m[:, 1:], ks * prev)
        means = parts[0] + parts[1] + parts[2]
        errors = (
            np.abs(bb) * e[:, :-1]
            + r2 * e[:, 1:]
            + ks * prev_err
            + 3.0 * EPS * (np.abs(parts[0]) + np.abs(parts[1]) + np.abs(parts[2]))
        )
        direct = hermite_route(self._numpy_value, 0, r, b)
        means[:, :1], errors[:, :1] = most_accurate((means[:, :1], errors[:, :1]), direct)
        return means, errors

    @staticmethod
    def _numpy_value(z: np.ndarray) -> np.ndarray:
        return z * ops.sigmoid(z)
