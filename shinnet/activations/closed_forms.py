"""Activations whose Gaussian derivative means have closed forms (MATH.md section 2)."""

from __future__ import annotations

from math import comb, factorial
from typing import Any, Sequence

import numpy as np
from scipy.special import ndtr

from shinnet.activations.base import Activation, as_unit_arrays
from shinnet.activations.flops import TRANSCENDENTAL_FLOPS as _T
from shinnet.activations.flops import closed_form_flops
from shinnet.hermite import hermite_he

__all__ = ["ReLU", "Polynomial", "gaussian_raw_moments"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


class ReLU(Activation):
    """``relu(z) = max(z, 0)``.

    With ``alpha = b / r``: ``E[relu(rZ+b)] = r phi(alpha) + b Phi(alpha)``,
    ``E[relu'] = Phi(alpha)``, and for k >= 2
    ``E[relu^(k)(rZ+b)] = (-1)^k r^{-(k-1)} He_{k-2}(alpha) phi(alpha)`` (MATH.md section 2).
    At ``r = 0`` the unit is the constant ``relu(b)``: derivative means are those of a
    point mass (``relu'(b)`` = 1 if b > 0; the distributional k >= 2 terms are 0 for b != 0).
    """

    name = "relu"
    flops = 1.0

    def value(self, z: Any) -> Any:
        return z * (z > 0)

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Closed form: ``m (2 T + 7 + (T + 6) (k_max + 1))`` -- alpha, phi (exp), Phi, the k = 0
        mean once per unit; per order the He recurrence (3), ``r^-(k-1)`` (pow) and 3 products."""
        return closed_form_flops(k_max, m, 2.0 * _T + 7.0, _T + 6.0)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        r, b = as_unit_arrays(r, b)
        out = np.zeros((r.size, k_max + 1))
        pos = r > 0
        rp, bp = r[pos], b[pos]
        alpha = bp / rp
        phi = _INV_SQRT_2PI * np.exp(-0.5 * alpha * alpha)
        cdf = ndtr(alpha)
        out[pos, 0] = rp * phi + bp * cdf
        if k_max >= 1:
            out[pos, 1] = cdf
        if k_max >= 2:
            he = hermite_he(k_max - 2, alpha)
            for k in range(2, k_max + 1):
                out[pos, k] = (-1) ** k * rp ** (-(k - 1)) * he[:, k - 2] * phi
        zero = ~pos
        if np.any(zero):
            out[zero, 0] = np.maximum(b[zero], 0.0)
            if k_max >= 1:
                out[zero, 1] = (b[zero] > 0).astype(np.float64)
        return out


def gaussian_raw_moments(n_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``E[(rZ+b)^n]`` for n = 0..n_max, shape (m, n_max + 1).

    ``E[(rZ+b)^n] = sum_{j even} binom(n, j) b^{n-j} r^j (j-1)!!``.  Cost O(m n_max^2).
    """
    r, b = as_unit_arrays(r, b)
    out = np.zeros((r.size, n_max + 1))
    double_fact = [1.0]  # (j-1)!! for even j = 0, 2, 4, ...
    for j in range(2, n_max + 1, 2):
        double_fact.append(double_fact[-1] * (j - 1))
    for n in range(n_max + 1):
        acc = np.zeros(r.size)
        for j in range(0, n + 1, 2):
            acc += comb(n, j) * b ** (n - j) * r**j * double_fact[j // 2]
        out[:, n] = acc
    return out


class Polynomial(Activation):
    """``sigma(z) = sum_i c_i z^i`` (ascending coefficients).

    ``sigma^(k)(z) = sum_{i>=k} c_i i!/(i-k)! z^{i-k}``, and its Gaussian mean uses the raw
    moments ``E[(rZ+b)^n]`` (exact).  Cost O(m p^2) for degree p.
    """

    def __init__(self, coefficients: Sequence[float], name: str | None = None):
        c = np.asarray(coefficients, dtype=np.float64).ravel()
        if c.size == 0:
            raise ValueError("polynomial needs at least one coefficient")
        if not np.all(np.isfinite(c)):
            raise ValueError("polynomial coefficients must be finite")
        nz = np.nonzero(c)[0]
        c = c[: (nz[-1] + 1 if nz.size else 1)]
        c.setflags(write=False)
        self.coefficients = c
        self.polynomial_degree = int(c.size - 1)
        self.name = name or "polynomial(" + ", ".join(f"{v:g}" for v in c) + ")"
        self.flops = float(2 * self.polynomial_degree)

    def value(self, z: Any) -> Any:
        acc = z * 0 + float(self.coefficients[-1])
        for coef in self.coefficients[-2::-1]:
            acc = acc * z + float(coef)
        return acc

    def derivative_means_flops(self, k_max: int, m: int, r: Any = None, b: Any = None) -> float:
        """Closed form, per unit: the raw moments (``n // 2 + 1`` terms of ``2 T + 5`` for each
        n <= p: two pows, the products and the sum) and ``3 (p - k + 1)`` per order k <= min(k_max, p)."""
        p = int(self.polynomial_degree or 0)
        moments = sum((n // 2 + 1) * (2.0 * _T + 5.0) for n in range(p + 1))
        means = sum(3.0 * (p - k + 1) for k in range(min(int(k_max), p) + 1))
        return closed_form_flops(k_max, m, moments + means, 0.0)

    def gaussian_derivative_means(self, k_max: int, r: Any, b: Any) -> np.ndarray:
        r, b = as_unit_arrays(r, b)
        p = self.polynomial_degree
        moments = gaussian_raw_moments(p, r, b)
        out = np.zeros((r.size, k_max + 1))
        for k in range(min(k_max, p) + 1):
            for i in range(k, p + 1):
                out[:, k] += self.coefficients[i] * (factorial(i) // factorial(i - k)) * moments[:, i - k]
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Polynomial) and np.array_equal(self.coefficients, other.coefficients)

    def __hash__(self) -> int:
        return hash(("polynomial", self.coefficients.tobytes()))
