"""Conditional mean and variance of ``f_y`` for a batch of nodes y (MATH.md sections 8, 9).

Given ``V`` (d x r orthonormal) and ``y``, ``f_y = c + sum_j a_j sigma(r'_j Z_j + beta_j(y))`` with
``r'_j = |w'_j|``, ``w'_j = (I - V V^T) w_j``, ``beta_j(y) = b_j + alpha_j . y``, ``alpha = W V``, and
``Z_j = u'_j . x`` standard normals with correlations ``R' = U' U'^T``.  Section 8 with the same-unit
parts exact:

    kappa_1(y) = c + sum_j a_j C_{1,0}(r'_j, beta_j)
    kappa_2(y) = sum_j a_j^2 (C_{2,0} - C_{1,0}^2) + sum_{k=1..K} lam_k^T Rt'^{(o)k} lam_k / k!

``lam_{j,k} = a_j C_{1,k}``, ``Rt' = R' - I``.  The dropped part ``k > K`` is bounded by
``sum_{i,j} |Rt'_ij|^(K+1) sqrt(T_i T_j)`` with ``T_j = a_j^2 Var sigma_j - sum_{k<=K} lam_{j,k}^2 / k!``
(Parseval per unit; ``|Rt_ij|^k <= |Rt_ij|^(K+1)`` and Cauchy-Schwarz over k): a rigorous bound.

The split into ``W'``, ``alpha``, ``r'``, ``U'`` is :func:`shinnet.conditioning.conditional_split`;
this module adds what tails need and ``shinnet.conditioning`` does not offer: the exact conditional
variance with same-unit parts in closed form, its rigorous degree bound, and a cosine-order-2
``kappa_3``, all batched over nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, factorial

import numpy as np

from shinnet.activations.power_hermite import power_hermite_coefficients
from shinnet.conditioning.split import conditional_split
from shinnet.model import TwoLayerMLP

__all__ = ["Split", "split_model", "conditional_mean_var", "conditional_third"]

DEFAULT_DEGREE = 24


@dataclass(frozen=True)
class Split:
    """The y-independent part of ``f_y``: norms ``r'`` (m,), unit rows ``U'`` (m, d), ``alpha`` (m, r),
    the off-diagonal cosines ``Rt'`` (m, m) and ``rho = max |Rt'|``."""

    r: np.ndarray
    U: np.ndarray
    alpha: np.ndarray
    Rt: np.ndarray
    rho: float


def split_model(mlp: TwoLayerMLP, V: np.ndarray) -> Split:
    """``W' = W (I - V V^T)``, ``alpha = W V`` (:func:`shinnet.conditioning.conditional_split`) and the
    off-diagonal cosines of the ``u'_j`` (inside units: zero rows).  Cost O(m d r + m^2 d)."""
    cs = conditional_split(mlp, V)
    inside = np.asarray(cs.inside)
    Rt = cs.U_perp @ cs.U_perp.T
    np.fill_diagonal(Rt, 0.0)
    Rt[inside, :] = 0.0
    Rt[:, inside] = 0.0
    rho = float(np.max(np.abs(Rt))) if Rt.size > 1 else 0.0
    return Split(r=np.asarray(cs.r_perp), U=np.asarray(cs.U_perp), alpha=np.asarray(cs.alpha), Rt=Rt, rho=rho)


def conditional_mean_var(mlp: TwoLayerMLP, split: Split, nodes: np.ndarray, degree: int = DEFAULT_DEGREE,
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``kappa_1(y)``, ``kappa_2(y)`` and the bound on the dropped Hermite degrees, for nodes (B, r).

    Returns ``(mean (B,), var (B,), var_bound (B,), flops)``.  Cost ``~2 B m^2 K`` for the cosine
    terms plus the power-Hermite coefficients of ``B m`` (unit, node) pairs.
    """
    nodes = np.atleast_2d(np.asarray(nodes, dtype=np.float64))
    B, m = nodes.shape[0], mlp.m
    beta = mlp.b[None, :] + nodes @ split.alpha.T  # (B, m)
    C = power_hermite_coefficients(mlp.hidden, 2, degree, np.tile(split.r, B), beta.ravel())
    C = C.reshape(B, m, 3, degree + 1)
    a = mlp.a
    mean = mlp.c + C[:, :, 1, 0] @ a
    unit_var = np.maximum(C[:, :, 2, 0] - C[:, :, 1, 0] ** 2, 0.0) * a**2  # (B, m)
    lam = np.ascontiguousarray(np.moveaxis(C[:, :, 1, 1:] * a[None, :, None], 2, 0))  # (K, B, m)
    var = unit_var.sum(axis=1)
    kept = np.zeros((B, m))
    Rk = np.ones_like(split.Rt)
    for k in range(1, degree + 1):
        Rk = Rk * split.Rt
        lk = lam[k - 1]
        var += ((lk @ Rk) * lk).sum(axis=1) / factorial(k)
        kept += lk**2 / factorial(k)
    root = np.sqrt(np.maximum(unit_var - kept, 0.0))  # (B, m)
    bound = ((root @ np.abs(split.Rt) ** (degree + 1)) * root).sum(axis=1)
    var = np.maximum(var, 0.0)
    flops = 2.0 * B * m * m * degree + 30.0 * B * m * degree
    return mean, var, bound, flops


def conditional_third(mlp: TwoLayerMLP, split: Split, nodes: np.ndarray, degree: int = 10) -> tuple[np.ndarray, float]:
    """``kappa_3(y)`` of ``f_y`` to cosine order E <= 2 (MATH.md section 8), for nodes (B, r).

        kappa_3 ~ sum_u kap^u_{3,0}                                      (E = 0, exact per unit)
                + 3 sum_k kap_{2,k}^T Rt^(o)k lam_k / k!                  (pairs, powers 2 + 1)
                + 3 sum_{k,l} sum_v lam^v_{k+l} P_k[v] P_l[v] / (k! l!)    (paths of p = 1 vertices)

    with ``P_k = Rt^(o)k lam_k``, ``kap_{2,k} = a^2 K_{2,k}``, ``K_{2,k} = C_{2,k} - sum_l binom(k,l)
    C_{1,k-l} C_{1,l}``; Hermite degrees ``k, l <= degree``.  Triangles (E >= 3) are left out, so this
    is an error *signal* for the normal inner tail, not an exact cumulant.
    Returns ``(kappa_3 (B,), flops)``.  Cost ``~2 B m^2 K + B m K^2``.
    """
    nodes = np.atleast_2d(np.asarray(nodes, dtype=np.float64))
    B, m = nodes.shape[0], mlp.m
    beta = mlp.b[None, :] + nodes @ split.alpha.T
    top = 2 * degree
    C = power_hermite_coefficients(mlp.hidden, 3, top, np.tile(split.r, B), beta.ravel()).reshape(B, m, 4, top + 1)
    a = mlp.a
    c1, c2, c3 = C[:, :, 1, 0], C[:, :, 2, 0], C[:, :, 3, 0]
    k3 = ((c3 - 3 * c2 * c1 + 2 * c1**3) * a**3).sum(axis=1)
    lam = np.ascontiguousarray(np.moveaxis(C[:, :, 1, :] * a[None, :, None], 2, 0))  # (2K+1, B, m)
    P = np.zeros((degree + 1, B, m))
    Rk = np.ones_like(split.Rt)
    for k in range(1, degree + 1):
        Rk = Rk * split.Rt
        P[k] = lam[k] @ Rk
        K2 = C[:, :, 2, k] - sum(comb(k, l) * C[:, :, 1, k - l] * C[:, :, 1, l] for l in range(k + 1))
        k3 += 3.0 * ((a**2 * K2) * P[k]).sum(axis=1) / factorial(k)
    for k in range(1, degree + 1):
        for l in range(1, degree + 1):
            k3 += 3.0 * (lam[k + l] * P[k] * P[l]).sum(axis=1) / (factorial(k) * factorial(l))
    flops = 2.0 * B * m * m * degree + 3.0 * B * m * degree * degree
    return k3, flops
