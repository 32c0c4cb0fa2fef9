"""Closed-form power-Hermite coefficients ``C_{p,k} = E[sigma(rZ+b)^p He_k(Z)]`` (MATH.md section 8):
relu (truncated Gaussian moments), heaviside, sign and polynomials.  Rules have the signature
``rule(act, p_max, k_max, r, b) -> (m, p_max + 1, k_max + 1)`` and are called with ``r > 0``.
"""

from __future__ import annotations

from math import ceil, factorial

import numpy as np
from numpy.polynomial import polynomial as npoly
from scipy.special import erfcx, ndtr

from shinnet.activations.base import Activation
from shinnet.activations.closed_forms import Polynomial
from shinnet.hermite import hermite_he

__all__ = ["relu_truncated_moments", "relu_rule", "heaviside_rule", "sign_rule", "polynomial_rule", "step_hermite"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_SQRT_HALF_PI = np.sqrt(0.5 * np.pi)

def relu_truncated_moments(p_max: int, beta: np.ndarray) -> np.ndarray:
    """``I_p(beta) = E[(Z + beta)_+^p]`` for p = 0..p_max, shape (m, p_max + 1).

    ``I_0 = Phi(beta)``, ``I_1 = phi(beta) + beta Phi(beta)``, ``I_p = beta I_{p-1} + (p-1) I_{p-2}``
    (integrate ``Z (Z+beta)_+^{p-1}`` by parts).  The forward recurrence cancels for
    ``beta < -1`` (``I_p`` is its minimal solution), so there the ratios ``J_p / J_{p-1}``
    (``J = I / phi``) come from the backward continued fraction ``rho_p = p / (rho_{p+1} - beta)``,
    started ``60 + p_max + 600 / beta^2`` terms out, and ``J_0 = sqrt(pi/2) erfcx(-beta/sqrt 2)``.
    Relative accuracy ~1e-14 for p <= 20.  Cost O(m (p_max + 600/beta^2)).
    """
    beta = np.asarray(beta, dtype=np.float64)
    out = np.empty(beta.shape + (p_max + 1,))
    phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
    j0 = _SQRT_HALF_PI * erfcx(-beta / np.sqrt(2.0))  # Phi(beta) / phi(beta), no underflow
    fwd = beta >= -1.0
    if np.any(fwd):
        bf = beta[fwd]
        out[fwd, 0] = ndtr(bf)
        if p_max >= 1:
            out[fwd, 1] = phi[fwd] + bf * out[fwd, 0]
        for p in range(2, p_max + 1):
            out[fwd, p] = bf * out[fwd, p - 1] + (p - 1) * out[fwd, p - 2]
    back = ~fwd
    if np.any(back):
        bb = beta[back]
        n_terms = p_max + 60 + int(ceil(600.0 / float(np.min(bb * bb))))
        rho = np.zeros_like(bb)
        ratios = np.empty((bb.size, p_max + 1))
        for p in range(n_terms, 0, -1):
            rho = p / (rho - bb)
            if p <= p_max:
                ratios[:, p] = rho
        j = j0[back].copy()
        out[back, 0] = j * phi[back]
        for p in range(1, p_max + 1):
            j = j * ratios[:, p]
            out[back, p] = j * phi[back]
    return out


def relu_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """relu: ``C_{p,k} = r^p d^k I_p / d beta^k`` with ``beta = b / r`` (MATH.md section 8).

    ``d^k I_p = p!/(p-k)! I_{p-k}`` for k <= p (since ``I_p' = p I_{p-1}``), and
    ``p! (-1)^(k-p-1) He_{k-p-1}(beta) phi(beta)`` for k > p (since ``I_0' = phi``).
    Cost O(m (p_max k_max + p_max + 600/beta^2)).
    """
    beta = b / r
    moments = relu_truncated_moments(p_max, beta)
    phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
    he = hermite_he(max(k_max - 1, 0), beta)
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    for p in range(1, p_max + 1):
        rp = r**p
        for k in range(k_max + 1):
            if k <= p:
                out[:, p, k] = rp * (factorial(p) / factorial(p - k)) * moments[:, p - k]
            else:
                out[:, p, k] = rp * factorial(p) * (-1.0) ** (k - p - 1) * he[:, k - p - 1] * phi
    return out


def step_hermite(k_max: int, beta: np.ndarray) -> np.ndarray:
    """``E[1(Z > -beta) He_k(Z)]``: ``Phi(beta)`` at k = 0, ``(-1)^(k-1) He_{k-1}(beta) phi(beta)``
    for k >= 1 (``He_k phi = -(He_{k-1} phi)'``).  Shape (m, k_max + 1)."""
    out = np.empty((beta.size, k_max + 1))
    out[:, 0] = ndtr(beta)
    if k_max >= 1:
        phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
        he = hermite_he(k_max - 1, beta)
        for k in range(1, k_max + 1):
            out[:, k] = (-1.0) ** (k - 1) * he[:, k - 1] * phi
    return out


def heaviside_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """heaviside: ``H^p = H`` for p >= 1, so ``C_{p,k} = E[1(Z > -b/r) He_k(Z)]``.  Cost O(m p k)."""
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    out[:, 1:, :] = step_hermite(k_max, b / r)[:, None, :]
    return out


def sign_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sign: ``sign^p = 1`` for even p and ``= 2 H - 1`` for odd p (r > 0).  Cost O(m p k)."""
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    step = 2.0 * step_hermite(k_max, b / r)
    step[:, 0] -= 1.0
    out[:, 0::2, 0] = 1.0
    out[:, 1::2, :] = step[:, None, :]
    return out


def polynomial_rule(act: Activation, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Polynomial sigma: ``sigma^p`` is the polynomial ``polypow(c, p)``, whose Hermite
    coefficients are exact (Gaussian raw moments).  Cost O(m p_max (p_max q)^2), q = deg sigma."""
    coefficients = np.asarray(act.coefficients, dtype=np.float64)  # type: ignore[attr-defined]
    out = np.zeros((r.size, p_max + 1, k_max + 1))
    out[:, 0, 0] = 1.0
    for p in range(1, p_max + 1):
        out[:, p, :] = Polynomial(npoly.polypow(coefficients, p)).hermite_coefficients(k_max, r, b)
    return out
