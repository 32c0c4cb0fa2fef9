"""Step activations: heaviside and sign, with closed-form derivative means (MATH.md section 2).

``H(z) = 1[z > 0]`` (``H(0) = 1/2``), ``H' = delta``.  With ``alpha = b / r``:
``E[H(rZ+b)] = Phi(alpha)`` and, since ``H^(k) = relu^(k+1)``, for k >= 1
``E[H^(k)(rZ+b)] = E[delta^(k-1)(rZ+b)] = (-1)^(k+1) r^-k He_{k-1}(alpha) phi(alpha)``;
the Hermite coefficients ``gamma_k = r^k E[H^(k)]`` are computed without the ``r^-k``.
``sign = 2 H - 1``.  At ``r = 0`` the unit is the constant ``H(b)``: the derivative means are 0
for ``b != 0`` and infinite (a delta at its own singularity) for ``b = 0``, which raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import erf, ndtr

from shinnet.activations import backend_ops as ops
from shinnet.activations.base import Activation, as_unit_arrays
from shinnet.activations.flops import TRANSCENDENTAL_FLOPS as _T
from shinnet.activations.flops import closed_form_flops
from shinnet.hermite import hermite_he

__all__ = ["Heaviside", "Sign"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_ACCURACY = (
    "closed form; relative error ~1e-14 (He_(k-1)(b/r) recurrence), any r > 0 and b; "
    "r = 0 is the constant unit (derivative means 0 for b != 0, an error for b = 0)"
)


def _delta_hermite(k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``gamma_k = r^k E[H^(k)(rZ+b)] = (-1)^(k+1) He_{k-1}(alpha) phi(alpha)`` for k = 1..k_max,
    ``r > 0``; shape (m, k_max)."""
    alpha = b / r
    he = hermite_he(k_max - 1, alpha)
    sign = np.where(np.arange(1, k_max + 1) % 2 == 0, -1.0, 1.0)
    return sign * he * np.exp(-0.5 * alpha * alpha - _LOG_SQRT_2PI)[:, None]


def _step_derivative_means(k_max: int, r: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """``scale * E[H^(k)(rZ+b)]`` for k = 1..k_max; shape (m, k_max)."""
    out = np.zeros((r.size, k_max))
    pos = r > 0
    if np.any(pos):
        rp, bp = r[pos], b[pos]
        ks = np.arange(1, k_max + 1, dtype=np.float64)
        alpha = bp / rp
        # r^-k phi(alpha) in log space, so tiny r does not overflow r^-k before phi underflows
        log_mag = -ks[None, :] * np.log(rp)[:, None] - 0.5 * (alpha * alpha)[:, None] - _LOG_SQRT_2PI
        he = hermite_he(k_max - 1, alpha)
        sign = np.where(np.arange(1, k_max + 1) % 2 == 0, -1.0, 1.0)
        with np.errstate(over="ignore", invalid="ignore"):
            vals = scale * sign * he * np.exp(log_mag)
        vals[np.exp(log_mag) == 0.0] = 0.0
        out[pos] = vals
    if np.any((r == 0) & (b == 0)):
        raise ValueError(
            "derivative means of a step activation at r = 0, b = 0 are infinite "
            "(a delta at its own singularity); hermite_coefficients is finite there"
        )
    return out


class Heaviside(Activation):
    """``H(z) = 1[z > 0]`` with ``H(0) = 1/2``.  See the module docstring."""

    name = "heaviside"
    flops = 1.0
    accuracy = _ACCURACY

    def value(self, z: Any) -> Any:
        return 0.5 * (ops.do("sign", z) + 1.0)

    def _mean0(self, r: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > 0, ndtr(b / np.where(r > 0, r, 1.0)), 0.5 * (np.sign(b) + 1.0))

    _scale = 1.0

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Closed form: ``m (2 T + 4 + (T + 9) (k_max + 1))`` (Phi or erf and log r once per unit;
        per order the He recurrence, the exponent and its exp, the products)."""
        return closed_form_flops(k_max, m, 2.0 * _T + 4.0, _T + 9.0)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        if k_max < 0:
            raise ValueError(f"k_max must be >= 0, got {k_max}")
        r, b = as_unit_arrays(r, b)
        out = np.empty((r.size, k_max + 1))
        out[:, 0] = self._mean0(r, b)
        if k_max >= 1:
            out[:, 1:] = _step_derivative_means(k_max, r, b, self._scale)
        return out

    def hermite_coefficients(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        """``gamma_k = E[sigma(rZ+b) He_k(Z)]``: ``(-1)^(k+1) scale He_{k-1}(b/r) phi(b/r)`` for
        k >= 1 (0 at r = 0, including b = 0)."""
        if k_max < 0:
            raise ValueError(f"k_max must be >= 0, got {k_max}")
        r, b = as_unit_arrays(r, b)
        out = np.zeros((r.size, k_max + 1))
        out[:, 0] = self._mean0(r, b)
        pos = r > 0
        if k_max >= 1 and np.any(pos):
            out[pos, 1:] = self._scale * _delta_hermite(k_max, r[pos], b[pos])
        return out


class Sign(Heaviside):
    """``sign(z) = 2 H(z) - 1`` (``sign(0) = 0``); ``E[sign(rZ+b)] = erf(b / (sqrt(2) r))``."""

    name = "sign"
    _scale = 2.0

    def value(self, z: Any) -> Any:
        return ops.do("sign", z)

    def _mean0(self, r: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > 0, erf(b / (np.sqrt(2.0) * np.where(r > 0, r, 1.0))), np.sign(b))
