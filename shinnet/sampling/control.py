"""Control variates from exact moments of f (MATH.md section 10).

With ``kappa_1 = E f`` and ``kappa_2 = Var f`` known exactly, ``z_1 = f - kappa_1`` and
``z_2 = (f - kappa_1)^2 - kappa_2`` have mean zero, and for any coefficients ``beta``

    mu = mean(y) - beta . mean(z)

is an estimator of ``E[y]``.  The best ``beta`` is the regression of y on z; estimating it from
the same points makes the estimator biased by O(1/N).  Here the points come in R independent
replicates (RQMC scrambles, or groups of plain Monte Carlo samples) and replicate r uses
``beta_(-r)``, the regression on all *other* replicates: independent of replicate r, so
``E[mu_r] = E[y] - E[beta_(-r)] . E[zbar_r] = E[y]`` exactly (leave-one-replicate-out).

Exact moments:

* :func:`exact_mean_f`: ``kappa_1 = c + sum_j a_j E[sigma(r_j Z + b_j)]`` (section 2, shin_0), O(m d);
* :func:`exact_variance`: ``kappa_2 = sum_j a_j^2 Var sigma(r_j Z + b_j) + sum_{i != j} a_i a_j
  sum_{k>=1} gamma_ik gamma_jk rho_ij^k / k!`` (Mehler's formula; MATH.md section 8's kappa_2 with
  every same-unit term exact), truncated at degree K with the rigorous bound
  ``|tail_ij| <= |rho_ij|^(K+1) sqrt(T_i T_j)``, ``T_i = Var sigma_i - sum_{k<=K} gamma_ik^2/k!``
  (Cauchy-Schwarz).  Cost ``2 m^2 d + m^2 (3K + 3)`` in row blocks: not free at large m.
"""

from __future__ import annotations

from math import factorial


import numpy as np

from shinnet.activations.power_hermite import power_hermite_coefficients, power_hermite_flops
from shinnet.model import TwoLayerMLP

__all__ = ["exact_mean_f", "exact_mean_flops", "exact_variance", "cv_combine", "VARIANCE_DEGREE"]

#: Hermite degree of the cross terms of :func:`exact_variance` (coefficients are accurate to k <= 24)
VARIANCE_DEGREE = 20


def exact_mean_f(mlp: TwoLayerMLP) -> float:
    """``E[f] = c + sum_j a_j E[sigma(r_j Z + b_j)]`` (MATH.md section 2, ``shin_0``).  Cost O(m d)."""
    r = np.linalg.norm(mlp.W, axis=1)
    means = mlp.hidden.gaussian_derivative_means(0, r, mlp.b)[:, 0]
    return float(mlp.c + np.dot(mlp.a, means))


def exact_mean_flops(mlp: TwoLayerMLP) -> float:
    """FLOPs charged for :func:`exact_mean_f`: row norms ``2 m d`` plus the 1-d means (as the advice
    accounting prices a power-Hermite coefficient) plus the dot product."""
    return 2.0 * mlp.m * mlp.d + power_hermite_flops(mlp.hidden, 1, 0, mlp.m) + 2.0 * mlp.m


def exact_variance(mlp: TwoLayerMLP, max_degree: int = VARIANCE_DEGREE, block_bytes: int = 64 * 2**20) -> dict[str, float]:
    """``Var f`` from 1-d integrals and Mehler's series over pairs of units (see the module docstring).

    Returns ``{"value", "tail_bound", "flops", "max_degree"}``: ``|Var f - value| <= tail_bound``
    (exact arithmetic).  Memory: row blocks of ``block_bytes``.  Cost ``2 m^2 d + m^2 (3K + 3)``
    plus the coefficients.
    """
    m, d, K = mlp.m, mlp.d, int(max_degree)
    r, U = mlp.unit_rows()
    gam = mlp.hidden.hermite_coefficients(K, r, mlp.b)  # (m, K + 1)
    C = power_hermite_coefficients(mlp.hidden, 2, 0, r, mlp.b)[:, :, 0]
    unit_var = np.maximum(C[:, 2] - C[:, 1] ** 2, 0.0)
    inv_fact = np.array([1.0 / factorial(k) for k in range(K + 1)])
    kept = (gam[:, 1:] ** 2 * inv_fact[1:]).sum(axis=1)
    energy_tail = np.maximum(unit_var - kept, 0.0)
    lam = mlp.a[:, None] * gam  # (m, K + 1)
    tail_w = np.abs(mlp.a) * np.sqrt(energy_tail)
    value = float(np.sum(mlp.a**2 * unit_var))
    bound = 0.0
    rows = max(1, int(block_bytes) // (16 * m))
    for lo in range(0, m, rows):
        hi = min(m, lo + rows)
        G = U[lo:hi] @ U.T
        G[np.arange(hi - lo), np.arange(lo, hi)] = 0.0  # distinct units only
        P = G.copy()
        for k in range(1, K + 1):
            value += float(np.einsum("i,i->", lam[lo:hi, k], P @ lam[:, k])) * inv_fact[k]
            P *= G
        bound += float(tail_w[lo:hi] @ (np.abs(P) @ tail_w))
    flops = 2.0 * m * m * d + m * m * (3.0 * K + 3.0) + power_hermite_flops(mlp.hidden, 2, K, m)
    return {"value": value, "tail_bound": bound, "flops": flops, "max_degree": K}


def cv_combine(stats: dict[str, np.ndarray], y_shift: np.ndarray) -> dict[str, np.ndarray]:
    """Leave-one-replicate-out control-variate estimates from per-replicate sums.

    ``stats`` holds per replicate r (R >= 2): ``n (R,)``, ``sy (R, T)``, ``syy (R, T)``, ``sz (R, C)``,
    ``szz (R, C, C)``, ``syz (R, T, C)`` of responses ``y - y_shift`` (T of them) and mean-zero
    controls z (C >= 0).  Returns per response: ``value`` (mean of the replicate estimates
    ``mu_r``), ``replicate`` (R, T) the ``mu_r``, ``beta`` (T, C) pooled, ``var_y`` and ``resid_var``
    (pooled per-point variances), ``plain`` (mean of y).  Cost O(R (T C^2 + C^3)).
    """
    n, sy, syy = stats["n"].astype(float), stats["sy"], stats["syy"]
    sz, szz, syz = stats["sz"], stats["szz"], stats["syz"]
    R, T = sy.shape
    C = sz.shape[1]
    tot = {k: v.sum(axis=0) for k, v in stats.items()}

    def beta_of(nn: float, s_y: np.ndarray, s_z: np.ndarray, s_zz: np.ndarray, s_yz: np.ndarray) -> np.ndarray:
        if C == 0:
            return np.zeros((T, 0))
        czz = (s_zz - np.outer(s_z, s_z) / nn) / (nn - 1)
        cyz = (s_yz - np.outer(s_y, s_z) / nn) / (nn - 1)
        return np.linalg.lstsq(czz, cyz.T, rcond=1e-12)[0].T  # (T, C); lstsq: singular when z is degenerate

    rep = np.empty((R, T))
    for i in range(R):
        b = beta_of(tot["n"] - n[i], tot["sy"] - sy[i], tot["sz"] - sz[i], tot["szz"] - szz[i], tot["syz"] - syz[i])
        rep[i] = sy[i] / n[i] - b @ (sz[i] / n[i]) + y_shift
    N = float(tot["n"])
    beta = beta_of(N, tot["sy"], tot["sz"], tot["szz"], tot["syz"])
    var_y = np.maximum((tot["syy"] - tot["sy"] ** 2 / N) / (N - 1), 0.0)
    if C:
        cyz = (tot["syz"] - np.outer(tot["sy"], tot["sz"]) / N) / (N - 1)
        resid = np.maximum(var_y - np.einsum("tc,tc->t", beta, cyz), 0.0)
    else:
        resid = var_y
    return {"value": rep.mean(axis=0), "replicate": rep, "beta": beta, "var_y": var_y, "resid_var": resid,
            "plain": tot["sy"] / N + y_shift}


