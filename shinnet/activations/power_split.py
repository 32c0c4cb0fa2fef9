"""Power-Hermite coefficients of steep logistic-family units by asymptote + remainder
(MATH.md section 8; the one-power case is :mod:`shinnet.activations.transition`).

For ``sigma`` in {sigmoid, tanh, softplus, silu} with asymptote ``A`` (step, sign, relu, relu):

    C_{p,k} = E[A(rZ+b)^p He_k(Z)]  +  E[(sigma^p - A^p)(rZ+b) He_k(Z)]

The first term is a closed form (:mod:`shinnet.activations.power_closed`: ``H^p = H``,
``sign^p``, truncated moments of relu); the remainder ``sigma^p - A^p`` decays like
``|x|^(p-1) e^-|x|`` away from the transition and is integrated on
:func:`shinnet.activations.graded_rule.transition_rule` (panels graded towards ``z0 = -b/r``).
The remainders are evaluated without cancellation (``expm1``/``log1p`` forms below), so the
result is accurate relative to ``C_{p,k}`` itself, not only to the Cauchy-Schwarz scale
``sqrt(E[sigma^2p] k!)`` of the fixed-rule quadrature.  Cost O(m n p_max k_max), n ~ 2,700.
"""

from __future__ import annotations

from math import comb
from typing import Any, Callable

import numpy as np

from shinnet.activations.power_closed import heaviside_rule, relu_rule, sign_rule
from shinnet.activations.quadrature import unit_chunks
from shinnet.activations.smooth import SiLU, Sigmoid, Softplus, Tanh
from shinnet.activations.graded_rule import transition_rule
from shinnet.activations.transition import SPLIT_MIN_R
from shinnet.hermite import hermite_he

__all__ = ["steep_split_name", "steep_units", "split_power_hermite", "power_remainder"]

_CLASSES = {Sigmoid: "sigmoid", Tanh: "tanh", Softplus: "softplus", SiLU: "silu"}
_ASYMPTOTE = {"sigmoid": heaviside_rule, "tanh": sign_rule, "softplus": relu_rule, "silu": relu_rule}


def steep_split_name(act: Any) -> str | None:
    """The split name of a built-in logistic-family activation (exact class match), else None."""
    return _CLASSES.get(type(act))


def _sigmoid_pow(x: np.ndarray, p: int) -> np.ndarray:
    a = np.abs(x)
    L = np.log1p(np.exp(-a))  # -log s(|x|)
    return np.where(x > 0, np.expm1(-p * L), np.exp(-p * (a + L)))


def _tanh_pow(x: np.ndarray, p: int) -> np.ndarray:
    e = np.exp(-2.0 * np.abs(x))
    u = 2.0 * e / (1.0 + e)  # 1 - tanh|x|
    with np.errstate(divide="ignore"):  # x = 0: u = 1, tanh^p - 1 = -1 exactly
        d = np.expm1(p * np.log1p(-u))  # tanh|x|^p - 1
    return d if p % 2 == 0 else np.sign(x) * d


def _softplus_pow(x: np.ndarray, p: int) -> np.ndarray:
    a = np.abs(x)
    L = np.log1p(np.exp(-a))
    pos = sum(comb(p, j) * a ** (p - j) * L**j for j in range(1, p + 1))  # (x + L)^p - x^p
    return np.where(x > 0, pos, L**p)


def _silu_pow(x: np.ndarray, p: int) -> np.ndarray:
    a = np.abs(x)
    L = np.log1p(np.exp(-a))
    return np.where(x > 0, x**p * np.expm1(-p * L), x**p * np.exp(-p * (a + L)))


_REMAINDER: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "sigmoid": _sigmoid_pow,
    "tanh": _tanh_pow,
    "softplus": _softplus_pow,
    "silu": _silu_pow,
}


def power_remainder(name: str, x: np.ndarray, p: int) -> np.ndarray:
    """``sigma(x)^p - A(x)^p`` elementwise, without cancellation (module docstring)."""
    return _REMAINDER[name](np.asarray(x, dtype=np.float64), int(p))


def split_power_hermite(name: str, p_max: int, k_max: int, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``C[j, p, k] = E[sigma(r_j Z + b_j)^p He_k(Z)]`` (m, p_max + 1, k_max + 1) for ``r > 0``
    (meant for ``r > SPLIT_MIN_R[name]``).  Cost O(m n p_max k_max), n nodes per unit."""
    out = _ASYMPTOTE[name](None, p_max, k_max, r, b)  # type: ignore[arg-type]
    if p_max == 0 or r.size == 0:
        return out
    n_est = 20 * (64 + 2 * 40)
    for sl in unit_chunks(r.size, n_est * (k_max + 3)):
        z, w = transition_rule(r[sl], b[sl])
        x = r[sl, None] * z + b[sl, None]
        he = hermite_he(k_max, z)
        for p in range(1, p_max + 1):
            out[sl, p, :] += np.einsum("un,unk->uk", power_remainder(name, x, p) * w, he)
    return out


def steep_units(name: str | None, r: np.ndarray) -> np.ndarray:
    """Mask of the units that take the split route (``r > SPLIT_MIN_R[name]``)."""
    if name is None:
        return np.zeros(r.shape, dtype=bool)
    return r > SPLIT_MIN_R[name]
