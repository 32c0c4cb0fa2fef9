"""erf and GELU: activations built from the normal cdf, with closed-form derivative means
(MATH.md section 2).

Gaussian convolution keeps them closed: ``E[Phi(rZ+b)] = Phi(b / sqrt(1+r^2))`` and
``E[phi(rZ+b)] = phi(b/s) / s`` with ``s = sqrt(1+r^2)``; differentiating in ``b`` gives every
derivative mean, with ``phi^(j)(y) = (-1)^j He_j(y) phi(y)``.  Cost O(m k_max).  The He_j
recurrence is evaluated at ``|b|/s``; errors are a few ulps of the terms, i.e. relative
accuracy ~1e-14 except near zeros of He_j, where the error is ~1e-16 times the neighbouring
values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf as _erf_np
from scipy.special import ndtr

from shinnet.activations import backend_ops as ops
from shinnet.activations.base import Activation, as_unit_arrays
from shinnet.activations.flops import TRANSCENDENTAL_FLOPS as _T
from shinnet.activations.flops import closed_form_flops
from shinnet.hermite import hermite_he

__all__ = ["Erf", "GELU", "normal_pdf_derivative_means"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_MINUS_INV_SQRT2 = -1.0 / math.sqrt(2.0)  # a Python float keeps float32 inputs float32


def normal_pdf_derivative_means(j_max: int, r: np.ndarray, b: np.ndarray, variance: float = 1.0) -> np.ndarray:
    """``P_j = E[phi_v^(j)(rZ+b)]``, j = 0..j_max, for the ``N(0, v)`` density ``phi_v``.

    ``phi_v * N(b, r^2) = phi_{v + r^2}(b)``, so with ``s = sqrt(v + r^2)``, ``y = b / s``:
    ``P_j = (-1)^j s^-(j+1) He_j(y) phi(y)``.  Shape (m, j_max + 1).
    """
    s = np.sqrt(variance + r * r)
    y = b / s
    he = hermite_he(j_max, y)
    js = np.arange(j_max + 1)
    sign = np.where(js % 2 == 0, 1.0, -1.0)
    return sign * he * (_INV_SQRT_2PI * np.exp(-0.5 * y * y) / s)[:, None] * s[:, None] ** (-js[None, :].astype(float))


class Erf(Activation):
    """``erf(z) = 2 Phi(sqrt(2) z) - 1``.

    ``E[erf(rZ+b)] = erf(b / s)`` with ``s = sqrt(1 + 2 r^2)``; since ``erf'(z) = 2 sqrt(2)
    phi(sqrt(2) z)`` = ``2 sqrt(pi)^-1 e^(-z^2)`` is twice the ``N(0, 1/2)`` density,
    ``E[erf^(k)(rZ+b)] = 2 E[phi_{1/2}^(k-1)(rZ+b)]`` for k >= 1.
    """

    name = "erf"
    flops = 10.0
    accuracy = "closed form (Gaussian convolution); relative error ~1e-14, any r >= 0 and b"

    def value(self, z: Any) -> Any:
        return ops.erf(z)

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Closed form: ``m (3 T + 6 + (T + 7) (k_max + 1))`` (sqrt, erf, exp once per unit; per
        order the He recurrence, ``s^-j`` (pow) and the products)."""
        return closed_form_flops(k_max, m, 3.0 * _T + 6.0, _T + 7.0)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        if k_max < 0:
            raise ValueError(f"k_max must be >= 0, got {k_max}")
        r, b = as_unit_arrays(r, b)
        out = np.empty((r.size, k_max + 1))
        out[:, 0] = _erf_np(b / np.sqrt(1.0 + 2.0 * r * r))
        if k_max >= 1:
            out[:, 1:] = 2.0 * normal_pdf_derivative_means(k_max - 1, r, b, variance=0.5)
        return out


class GELU(Activation):
    """Exact GELU ``gelu(z) = z Phi(z)``.

    ``gelu^(k)(z) = k phi^(k-2)(z) + z phi^(k-1)(z)`` (k >= 1, with ``phi^(-1) = Phi``), and
    Stein's ``E[(rZ+b) g(rZ+b)] = b E[g] + r^2 E[g']`` give, with ``P_j = E[phi^(j)(rZ+b)]``
    and ``P_{-1} = Phi(b / sqrt(1+r^2))``:
    ``E[gelu^(k)(rZ+b)] = k P_{k-2} + b P_{k-1} + r^2 P_k`` (the first term absent at k = 0).
    """

    name = "gelu"
    flops = 13.0
    accuracy = (
        "closed form (Gaussian convolution); relative error <= 1e-13 for k <= 24, 0 <= r <= 5, "
        "|b| <= 5, and <= 1e-12 against mpmath for r up to 1e4, b in [-3, 5], k <= 24 (k <= 40 "
        "at r = 1), except near zeros of (r, b) -> E[gelu^(k)(rZ+b)] (then absolute, relative to "
        "the three terms k P_(k-2), b P_(k-1), r^2 P_k)"
    )

    def value(self, z: Any) -> Any:
        return z * (0.5 * ops.erfc(z * _MINUS_INV_SQRT2))

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Closed form: ``m (3 T + 8 + (T + 12) (k_max + 1))`` (sqrt, Phi, exp once per unit; per
        order the He recurrence, ``s^-j`` (pow) and the Stein combination)."""
        return closed_form_flops(k_max, m, 3.0 * _T + 8.0, _T + 12.0)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        if k_max < 0:
            raise ValueError(f"k_max must be >= 0, got {k_max}")
        r, b = as_unit_arrays(r, b)
        p = np.empty((r.size, k_max + 2))  # p[:, j + 1] = P_j, j = -1..k_max
        p[:, 0] = ndtr(b / np.sqrt(1.0 + r * r))
        p[:, 1:] = normal_pdf_derivative_means(k_max, r, b)
        ks = np.arange(k_max + 1, dtype=np.float64)
        out = b[:, None] * p[:, :-1] + (r * r)[:, None] * p[:, 1:]
        out[:, 1:] += ks[1:] * p[:, 0:k_max]  # k P_{k-2}: p[:, k-1] holds P_{k-2}
        return out
