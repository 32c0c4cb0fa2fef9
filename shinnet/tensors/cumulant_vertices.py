"""Cumulant vertices ``K_{p,k}`` of the resummed expansion (MATH.md section 8).

With ``X = sigma(rZ+b)`` and the power-Hermite coefficients ``C_{p,k} = E[X^p He_k(Z)]``
(:func:`shinnet.activations.power_hermite.power_hermite_coefficients`), the cumulant vertices are
defined by

    sum_{p,k} K_{p,k} t^p s^k / (p! k!) = log sum_{p,k} C_{p,k} t^p s^k / (p! k!)

Because ``sum_k He_k(Z) s^k/k! = exp(sZ - s^2/2)``, the right side is
``log E[exp(tX + sZ)] - s^2/2``: for p >= 1, ``K_{p,k}`` is the joint cumulant of
(X taken p times, Z taken k times).  ``K_{1,k}`` is the Hermite coefficient ``gamma_k`` and
``K_{p,0} = kappa_p(X)``.  By the Cameron-Martin shift ``Z -> Z + s`` the generating function is
``log E[exp(t sigma(rZ + b + rs))]``, so ``K_{p,k} = r^k d^k/db^k kappa_p(sigma(rZ+b))``.
"""

from __future__ import annotations

from math import comb

import numpy as np

__all__ = ["cumulant_vertices", "cumulant_vertices_flops"]


def cumulant_vertices(C: np.ndarray) -> np.ndarray:
    """``K_{p,k}`` from ``C_{p,k}`` by the recursion of MATH.md section 8.

    Differentiating ``M = exp(L)`` in t gives

        K_{p,k} = C_{p,k} - sum_{q=1}^{p-1} sum_{l=0}^{k} binom(p-1, q) binom(k, l) K_{p-q,k-l} C_{q,l}.

    Parameters
    ----------
    C : ndarray, shape (m, P+1, K+1) (or (P+1, K+1) for one unit)
        Power-Hermite coefficients with ``C[..., 0, k] = delta_{k0}``.

    Returns
    -------
    ndarray, same shape, float64: ``K[..., p, k]`` for p >= 1; ``K[..., 0, :] = 0``
    (the generating function has no t-free part).
    Cost O(m P^2 K^2) FLOPs (:func:`cumulant_vertices_flops`).

    Raises
    ------
    ValueError
        If ``C`` has the wrong rank or ``C[..., 0, :]`` is not ``delta_{k0}`` (which would
        mean the array is not a table of power-Hermite coefficients).
    """
    C = np.asarray(C, dtype=np.float64)
    single = C.ndim == 2
    if single:
        C = C[None]
    if C.ndim != 3:
        raise ValueError(f"C must have shape (m, P+1, K+1) or (P+1, K+1), got {C.shape}")
    expected_row = np.zeros(C.shape[2])
    expected_row[0] = 1.0
    if not np.array_equal(C[:, 0, :], np.broadcast_to(expected_row, C[:, 0, :].shape)):
        raise ValueError("C[:, 0, k] must equal delta_{k0} (sigma^0 = 1): not a power-Hermite table")
    n_pow, n_deg = C.shape[1] - 1, C.shape[2] - 1
    K = np.zeros_like(C)
    for p in range(1, n_pow + 1):
        for k in range(n_deg + 1):
            acc = C[:, p, k].copy()
            for q in range(1, p):
                bq = comb(p - 1, q)
                for l in range(k + 1):
                    acc -= (bq * comb(k, l)) * K[:, p - q, k - l] * C[:, q, l]
            K[:, p, k] = acc
    return K[0] if single else K


def cumulant_vertices_flops(m: int, max_power: int, max_degree: int) -> float:
    """FLOPs of :func:`cumulant_vertices`: ``3 m sum_p (p-1) sum_k (k+1)``."""
    inner = sum(p - 1 for p in range(1, max_power + 1)) * sum(k + 1 for k in range(max_degree + 1))
    return 3.0 * m * inner
