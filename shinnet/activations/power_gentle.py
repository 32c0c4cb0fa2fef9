"""Power-Hermite coefficients of gently sloped logistic-family units (MATH.md section 8).

``C_{p,k} = E[sigma(rZ+b)^p He_k(Z)] = r^k E[(sigma^p)^(k)(rZ+b)]`` (Stein).  Two routes:

* **Hermite route** ``sum_i w_i sigma(r z_i + b)^p He_k(z_i)`` on the 2,400-node panel rule of
  :func:`shinnet.activations.quadrature.normal_rule`.  Its terms have size ``sqrt(k!)`` however
  small ``C_{p,k}`` is (``~r^k`` at small r): absolute errors ~1e-16 sqrt(k!), i.e. 1e-10 relative
  and worse on the small entries at r ~ 0.5;
* **derivative route** ``r^k sum_i w_i (sigma^p)^(k)(r z_i + b)`` with pointwise derivatives of
  ``sigma^p`` from Taylor-mode arithmetic: the Taylor coefficients of ``sigma`` at each node
  (:func:`shinnet.activations.sigmoid_core.sigmoid_taylor`, which loses at most ~2 digits), raised
  to the power p by truncated Cauchy products.  No ``He_k`` cancellation: measured 1e-16 .. 1e-15
  absolute where the Hermite route erred by 1e-13 .. 1e-12 (p <= 4, k <= 12).  Used for every
  entry of the units with ``r <= 1.25`` in the logistic sigmoid's units (tanh: ``r <= 0.625``),
  the range where the ``p = 1`` code found it best (:mod:`shinnet.activations.sigmoid_core`);
  above that the Gaussian average of the oscillating derivative starts to cancel and the Hermite
  route is used.

Cost: Hermite route O(m n p k) with n = 2,400; derivative route O(m n p k^2) for the units with
small r.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from shinnet.activations.backend_ops import softplus
from shinnet.activations.quadrature import EPS, normal_rule, unit_chunks
from shinnet.activations.sigmoid_core import sigmoid_numpy, sigmoid_taylor
from shinnet.hermite import hermite_he

__all__ = ["gentle_power_hermite", "taylor_coefficients"]

#: the derivative route runs for r <= this (logistic-sigmoid units; tanh's r is doubled)
_DERIVATIVE_MAX_R = 1.25


def _value(name: str, x: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return sigmoid_numpy(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "softplus":
        return softplus(x)
    return x * sigmoid_numpy(x)  # silu


def taylor_coefficients(name: str, x: np.ndarray, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Taylor coefficients ``a_n = sigma^(n)(x) / n!`` (n <= k_max) of sigma in {sigmoid, tanh,
    softplus, silu} at the points x, and their magnitudes (``|a_n|`` plus the size of the terms
    that cancelled in computing them).  Shapes ``x.shape + (k_max + 1,)``.  Cost O(size(x) k_max^2)."""
    inv = np.array([1.0 / factorial(n) for n in range(k_max + 2)])
    if name == "tanh":  # tanh(x) = 2 s(2x) - 1: tanh^(n)(x) = 2^(n+1) s^(n)(2x)
        vals, errs = sigmoid_taylor(2.0 * x, k_max)
        scale = 2.0 ** np.arange(1, k_max + 2) * inv[: k_max + 1]
        a, mag = vals * scale, (np.abs(vals) + errs / EPS) * scale
        a[..., 0] = np.tanh(x)
        mag[..., 0] = np.abs(a[..., 0])
        return a, mag
    vals, errs = sigmoid_taylor(x, k_max)
    beta = vals * inv[: k_max + 1]
    bmag = (np.abs(vals) + errs / EPS) * inv[: k_max + 1]
    if name == "sigmoid":
        return beta, bmag
    a = np.empty_like(beta)
    mag = np.empty_like(beta)
    if name == "softplus":  # softplus^(n) = s^(n-1): a_n = beta_(n-1) / n
        n = np.arange(1, k_max + 1)
        a[..., 1:] = beta[..., :-1] / n
        mag[..., 1:] = bmag[..., :-1] / n
        a[..., 0] = softplus(x)
        mag[..., 0] = np.abs(a[..., 0])
        return a, mag
    # silu = x s: a_n = x beta_n + beta_(n-1)
    xx = np.asarray(x)[..., None]
    a[...] = xx * beta
    a[..., 1:] += beta[..., :-1]
    mag[...] = np.abs(xx) * bmag
    mag[..., 1:] += bmag[..., :-1]
    return a, mag


def _cauchy(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Truncated product of power series (last axis = degree)."""
    out = np.empty_like(u)
    for n in range(u.shape[-1]):
        out[..., n] = np.einsum("...j,...j->...", u[..., : n + 1], v[..., n::-1])
    return out


def _derivative_route(name: str, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    z, w = normal_rule()
    fact = np.array([float(factorial(k)) for k in range(k_max + 1)])
    ks = np.arange(k_max + 1)
    C = np.zeros((r.size, p_max + 1, k_max + 1))
    for sl in unit_chunks(r.size, z.size * (k_max + 1) * 3):
        x = r[sl, None] * z[None, :] + b[sl, None]
        a = taylor_coefficients(name, x, k_max)[0]
        power = a
        rk = r[sl, None] ** ks[None, :]
        for p in range(1, p_max + 1):
            if p > 1:
                power = _cauchy(power, a)
            C[sl, p] = np.einsum("i,uik->uk", w, power) * fact * rk
    return C


def _hermite_route(name: str, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    z, w = normal_rule()
    he = hermite_he(k_max, z)
    C = np.zeros((r.size, p_max + 1, k_max + 1))
    for sl in unit_chunks(r.size, z.size * 3):
        values = _value(name, r[sl, None] * z[None, :] + b[sl, None])
        power = np.broadcast_to(w, values.shape)
        for p in range(1, p_max + 1):
            power = power * values
            C[sl, p] = power @ he
    return C


def gentle_power_hermite(name: str, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``C[j, p, k]`` (m, p_max + 1, k_max + 1) for ``0 < r <=`` the split threshold: the derivative
    route for small slopes, the Hermite route otherwise (module docstring).  ``C[:, 0, k] = delta_k0``."""
    slope = 2.0 * r if name == "tanh" else r
    small = slope <= _DERIVATIVE_MAX_R
    C = np.zeros((r.size, p_max + 1, k_max + 1))
    if p_max >= 1 and np.any(small):
        C[small] = _derivative_route(name, p_max, k_max, r[small], b[small])
    if p_max >= 1 and np.any(~small):
        C[~small] = _hermite_route(name, p_max, k_max, r[~small], b[~small])
    C[:, 0, 0] = 1.0
    return C
