"""Probabilists' Hermite polynomials and Gaussian quadrature rules (MATH.md section 2).

``He_k`` satisfies ``He_0 = 1``, ``He_1 = x``, ``He_{k+1} = x He_k - k He_{k-1}`` and
``E[He_k(Z) He_l(Z)] = k! delta_kl`` for ``Z ~ N(0, 1)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import roots_legendre

__all__ = ["hermite_he", "gauss_hermite_rule", "gauss_legendre_normal_rule"]


def hermite_he(k_max: int, x: np.ndarray) -> np.ndarray:
    """Values ``He_0(x) .. He_{k_max}(x)`` by the three-term recurrence.

    Parameters
    ----------
    k_max : int
        Highest degree (>= 0).
    x : array_like, any shape S

    Returns
    -------
    ndarray, shape S + (k_max + 1,), float64.  Cost O(k_max * size(x)).
    """
    if k_max < 0:
        raise ValueError(f"k_max must be >= 0, got {k_max}")
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape + (k_max + 1,), dtype=np.float64)
    out[..., 0] = 1.0
    if k_max >= 1:
        out[..., 1] = x
    for k in range(1, k_max):
        out[..., k + 1] = x * out[..., k] - k * out[..., k - 1]
    return out


@lru_cache(maxsize=16)
def gauss_hermite_rule(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights with ``sum_i w_i g(z_i) ~= E[g(Z)]``, ``Z ~ N(0, 1)``.

    Exact for polynomials of degree <= 2 n_nodes - 1.  Returned arrays are read-only.
    """
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


@lru_cache(maxsize=16)
def gauss_legendre_normal_rule(n_nodes: int = 2000, half_width: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre rule on ``[-half_width, half_width]`` with the normal density folded in.

    ``sum_i w_i g(z_i) ~= E[g(Z)]``.  Unlike Gauss-Hermite it resolves integrands whose
    features sit at a fixed scale (tanh at moderate r), at the price of truncating the
    Gaussian at ``half_width`` (mass beyond 15 sigma is ~1e-50).  MATH.md section 8.
    """
    # scipy's rule costs O(n) (asymptotic expansions); numpy's leggauss is O(n^3) (seconds at 2000)
    x, w = roots_legendre(n_nodes)
    z = half_width * x
    w = half_width * w * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w
