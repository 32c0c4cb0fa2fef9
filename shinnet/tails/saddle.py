"""Saddlepoint on the resummed cumulant generating function (MATH.md section 8, E = 0 exact).

Approximation: the units are independent except for a Gaussian coupling,

    K(s) = c s + sum_u K_u(s) + (kappa_2 - sum_u Var Y_u) s^2 / 2,

``K_u`` the exact per-unit CGF (:mod:`shinnet.tails.unit_cgf`; the E = 0 term of section 8 summed
over every cumulant order) and ``kappa_2 - sum_u Var Y_u = sum_k lam_k^T Rt^(o)k lam_k / k!`` the
cosine terms of ``kappa_2`` (exact to the Hermite degree K, :mod:`shinnet.tails.moments`).  So K
has the exact ``kappa_1, kappa_2`` and the exact E = 0 parts of every higher cumulant; the E >= 1
parts of ``kappa_n`` (n >= 3), i.e. the non-Gaussian effects of the cosines between units, are
what it leaves out.  ``P(f > t)`` is Lugannani-Rice at ``K'(theta) = t``.

Error signals (absolute, per t): ``dependence = P * max(share * w^2 / 2, |expm1(theta^3 k3x / 6)|)``
with ``share = |cross part| / kappa_2`` (the coupling's share of the variance: a relative error eps
in the CGF near the saddlepoint moves ``log P ~ -w^2/2`` by ``eps w^2/2``) and ``k3x`` the part of
``kappa_3`` (to cosine order E <= 2, :func:`shinnet.tails.moments.conditional_third`) that K leaves
out: its cubic CGF term at the tilt theta is the first missing term (both zero for orthogonal
units, where the method is exact up to Lugannani-Rice), and ``saddlepoint = P |lambda_4/8 - 5 lambda_3^2/24|`` (the
standard O(1/n) correction with the tilted standardized cumulants at theta).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from shinnet.model import TwoLayerMLP
from shinnet.series.tail import lugannani_rice
from shinnet.tails.moments import DEFAULT_DEGREE, conditional_mean_var, conditional_third, split_model
from shinnet.tails.unit_cgf import unit_cgf

__all__ = ["saddlepoint_tails"]


def _solve(K: Any, t: float, lo: float, hi: float) -> float:
    """theta with ``K'(theta) = t`` (K' increasing) inside the open domain (lo, hi): doubling steps
    from 0 (halfway to a finite edge instead of past it), then Brent."""
    k0 = K(0.0)
    if t == k0[1]:
        return 0.0
    sgn = 1.0 if t > k0[1] else -1.0
    edge = hi if sgn > 0 else lo
    a, b = 0.0, sgn / math.sqrt(max(k0[2], 1e-300))
    for _ in range(400):
        if math.isfinite(edge) and sgn * (b - edge) >= 0:
            b = a + 0.5 * (edge - a)
        if sgn * (K(b)[1] - t) > 0:
            break
        a, b = b, 2.0 * b
    else:
        raise ValueError(f"could not bracket the saddlepoint for t = {t}")
    return brentq(lambda s: K(s)[1] - t, min(a, b), max(a, b), xtol=1e-14, rtol=1e-13, maxiter=200)


def saddlepoint_tails(mlp: TwoLayerMLP, t: np.ndarray, degree: int = DEFAULT_DEGREE) -> dict[str, Any]:
    """Lugannani-Rice ``P(f > t)`` on the resummed CGF (see the module docstring), per t.

    Returns a dict: ``probability`` (T,), ``budget`` (dict name -> (T,) absolute), ``theta``,
    ``share`` (coupling share of kappa_2), ``flops``, ``failed`` (T,) bool (no saddlepoint).
    Cost: ``~2 m^2 K`` for the coupling plus ``~800 m (1 + cost sigma)`` per CGF call (~40 per t).
    """
    cg = unit_cgf(mlp)
    split = split_model(mlp, np.zeros((mlp.d, 0)))
    mean, var, bound, flops = conditional_mean_var(mlp, split, np.zeros((1, 0)), degree)
    k3, fl3 = conditional_third(mlp, split, np.zeros((1, 0)), min(degree, 8))
    flops += fl3
    k0 = cg(0.0)
    k3_cross = float(k3[0] - k0[3])  # the part of kappa_3 (to cosine order 2) that K leaves out
    cross = float(var[0] - k0[2])
    share = abs(cross) / max(float(var[0]), 1e-300)

    def K(s: float) -> np.ndarray:
        out = cg(s).copy()
        out[0] += 0.5 * cross * s * s
        out[1] += cross * s
        out[2] += cross
        return out

    kappa1, kappa2 = float(k0[1]), float(var[0])
    T = t.size
    p, dep, lr, theta = np.zeros(T), np.zeros(T), np.zeros(T), np.full(T, np.nan)
    failed = np.zeros(T, dtype=bool)
    for i, tv in enumerate(t):
        try:
            th = _solve(K, float(tv), *cg.domain)
        except ValueError:
            failed[i] = True
            p[i] = float(ndtr(-(tv - kappa1) / math.sqrt(kappa2)))
            continue
        theta[i] = th
        if abs(th) * math.sqrt(kappa2) < 1e-6:
            p[i] = float(ndtr(-(tv - kappa1) / math.sqrt(kappa2)))
            continue
        kk = K(th)
        k0c = kk[0] - kappa1 * th
        p[i] = lugannani_rice(float(tv) - kappa1, th, k0c, kk[2])
        half_w2 = max(th * (tv - kappa1) - k0c, 0.0)
        lam3, lam4 = kk[3] / kk[2] ** 1.5, kk[4] / kk[2] ** 2
        lr[i] = p[i] * abs(lam4 / 8 - 5 * lam3**2 / 24)
        dep[i] = p[i] * max(share * half_w2, abs(math.expm1(min(abs(k3_cross * th**3) / 6.0, 50.0))))
    p = np.clip(p, 0.0, 1.0)
    return {"probability": p, "budget": {"dependence": dep, "saddlepoint": lr}, "theta": theta, "share": share,
            "flops": flops + cg.evaluations, "failed": failed}
