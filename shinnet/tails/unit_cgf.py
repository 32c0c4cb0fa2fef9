"""Per-unit cumulant generating functions ``K_u(s) = log E exp(s a_u sigma(r_u Z + b_u))`` and their
s-derivatives (the E = 0 vertex of MATH.md section 8, summed over the power p).

``out[n]`` = ``K_u^(n)(s)`` for n = 0..4, every unit, one s.  Closed forms: polynomial sigma of degree
<= 2 (``Y = lam (Z + delta')^2 + const``: noncentral chi-square, ``K^(n) = 2^(n-1) lam^n [(n-1)!/q^n +
delta n!/q^(n+1)]``, ``q = 1 - 2 lam s``, domain ``q > 0``).  Otherwise composite Gauss-Legendre on
``[-L, L]``, ``L = 12 + 1.2 |s a r|`` (the tilted density ``exp(s Y - z^2/2)`` peaks at
``|z| <= |s a r| sup|sigma'|``, and ``sup|sigma'| <= 1.2`` for the registered activations), split
at the unit's kink ``z = -b/r`` for kinked sigma, 2 x 24 panels of 16 nodes: the tilted moments
``E[Y^n e^(sY)]`` in log-sum-exp form give the cumulants of the tilted law, which are the derivatives.
Cost ``~800 m`` activation calls per s.  Polynomials of degree >= 3 have no CGF (refused).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from shinnet.model import TwoLayerMLP

__all__ = ["UnitCGF", "unit_cgf"]

_KINKED = frozenset({"relu", "heaviside", "step", "sign"})
_XG, _WG = leggauss(16)
_PANELS = 24


class UnitCGF:
    """``K_u^(n)(s)`` for the units of one network; ``domain = (s_lo, s_hi)`` where every K_u is finite."""

    def __init__(self, mlp: TwoLayerMLP) -> None:
        r = np.linalg.norm(mlp.W, axis=1)
        live = (r > 0) & (mlp.a != 0)
        act = mlp.hidden
        const = mlp.a[~live] @ np.asarray(act.value(mlp.b[~live].copy()), dtype=np.float64) if np.any(~live) else 0.0
        self.shift = float(mlp.c + const)
        self.a, self.r, self.b, self.act = mlp.a[live], r[live], mlp.b[live], act
        self.evaluations = 0.0
        coeffs = getattr(act, "coefficients", None)
        self.poly = None
        self.domain = (-math.inf, math.inf)
        if coeffs is not None:
            c = np.trim_zeros(np.asarray(coeffs, dtype=np.float64), "b")
            if c.size > 3:
                raise ValueError(f"sigma = {act.name!r} has degree {c.size - 1} >= 3: E exp(s sigma(rZ+b)) is infinite "
                                 "for s != 0 of one sign, the unit CGF method does not apply")
            c = np.concatenate([c, np.zeros(3 - c.size)])
            self.poly = c
            lam = self.a * c[2] * self.r**2
            pos, neg = lam > 0, lam < 0
            hi = float(np.min(1 / (2 * lam[pos]))) if np.any(pos) else math.inf
            lo = float(np.max(1 / (2 * lam[neg]))) if np.any(neg) else -math.inf
            self.domain = (lo, hi)

    def __call__(self, s: float) -> np.ndarray:
        """Array (5,): ``sum_u K_u^(n)(s)`` for n = 0..4 (the shift c enters n = 0, 1)."""
        per = self._poly(s) if self.poly is not None else self._quad(s)
        out = per.sum(axis=1)
        out[0] += self.shift * s
        out[1] += self.shift
        return out

    def _poly(self, s: float) -> np.ndarray:
        c0, c1, c2 = self.poly
        out = np.zeros((5, self.a.size))
        if c2 == 0.0:  # Gaussian unit: a (c1 (rZ + b) + c0)
            mean, var = self.a * (c1 * self.b + c0), (self.a * c1 * self.r) ** 2
            out[0], out[1], out[2] = mean * s + 0.5 * var * s * s, mean + var * s, var
            return out
        # a sigma(rZ+b) = lam (Z + e)^2 + k,  lam = a c2 r^2, e = (b + c1/(2 c2)) / r, k = a (c0 - c1^2/(4 c2))
        lam = self.a * c2 * self.r**2
        e = (self.b + c1 / (2 * c2)) / self.r
        k = self.a * (c0 - c1**2 / (4 * c2))
        q = 1.0 - 2.0 * lam * s
        if np.any(q <= 0):
            raise ValueError(f"s = {s} is outside the domain {self.domain} of the unit CGFs")
        delta = e * e
        out[0] = -0.5 * np.log(q) + delta * lam * s / q + k * s
        for n in range(1, 5):
            out[n] = 2.0 ** (n - 1) * lam**n * (math.factorial(n - 1) / q**n + delta * math.factorial(n) / q ** (n + 1))
        out[1] += k
        self.evaluations += 10.0 * self.a.size
        return out

    def _quad(self, s: float) -> np.ndarray:
        m = self.a.size
        half = 12.0 + 1.2 * abs(s) * np.abs(self.a) * self.r  # (m,)
        if self.act.name in _KINKED:
            kink = np.clip(-self.b / self.r, -half, half)
            left = np.linspace(-half, kink, _PANELS + 1).T
            right = np.linspace(kink, half, _PANELS + 1).T[:, 1:]
            edges = np.concatenate([left, right], axis=1)
        else:
            edges = np.linspace(-half, half, 2 * _PANELS + 1).T  # (m, P+1)
        lo, hi = edges[:, :-1], edges[:, 1:]
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        z = (mid[:, :, None] + rad[:, :, None] * _XG).reshape(m, -1)
        logw = np.log(np.maximum((rad[:, :, None] * _WG).reshape(m, -1), 1e-300))
        logw += -0.5 * z * z - 0.5 * math.log(2 * math.pi)
        y = self.a[:, None] * np.asarray(self.act.value(self.r[:, None] * z + self.b[:, None]), dtype=np.float64)
        self.evaluations += float(z.size) * (1 + self.act.flops)
        expo = logw + s * y
        top = expo.max(axis=1, keepdims=True)
        p = np.exp(expo - top)
        mass = p.sum(axis=1)
        out = np.empty((5, m))
        out[0] = np.log(mass) + top[:, 0]
        p = p / mass[:, None]
        mu = (p * y).sum(axis=1)
        dev = y - mu[:, None]
        c2 = (p * dev**2).sum(axis=1)
        c3 = (p * dev**3).sum(axis=1)
        c4 = (p * dev**4).sum(axis=1) - 3 * c2 * c2
        out[1], out[2], out[3], out[4] = mu, c2, c3, c4
        return out


def unit_cgf(mlp: TwoLayerMLP) -> UnitCGF:
    """The per-unit CGF object of ``mlp`` (see :class:`UnitCGF`)."""
    return UnitCGF(mlp)
