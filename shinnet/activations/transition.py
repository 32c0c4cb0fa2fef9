"""Large-norm quadrature: the transition of width ``1/r`` resolved (MATH.md sections 2 and 8).

For a steep unit (large ``r = |w|``) ``sigma(rZ + b)`` changes over a width ``~1/r`` around
``z0 = -b/r``; a fixed rule on ``Z`` cannot see that (tanh's He_1 coefficient came out 0.61
instead of 0.80 at ``r = 1000``).  Two ingredients fix it:

* :func:`shinnet.activations.graded_rule.transition_rule`: per-unit composite Gauss-Legendre
  nodes on ``[-16, 16]`` (normal density folded in) whose panels are graded towards ``z0`` -- edges
  ``z0 +- 2^j h / r``, ``h = 1/4`` -- merged with a uniform grid of width 1/2.  Every panel
  lies inside some ``[z0 + a, z0 + 2a]``, so a singularity at ``z0 + i pi / r`` (the poles of the
  logistic family) is at least 3 half-widths from its centre: Bernstein ``rho >= 3 + sqrt 8``,
  and 20 nodes per panel converge like ``5.8^-40 ~ 1e-30``.  A jump or kink exactly at ``z0``
  is an edge.  The mass beyond 16 sigma is ``< 1e-56``.
* splitting ``sigma = A + g`` into an asymptote ``A`` with closed-form Gaussian Hermite
  coefficients (step, sign or relu, with ``beta = b/r``) and a remainder ``g`` that decays like
  ``e^-|x|``.  Only ``g`` is integrated, so the cancellation of the Stein/Hermite route
  (``E[sigma He_k]`` is a sum of terms of size ``sqrt(k!)``) is confined to the small
  remainder, and the result is accurate relative to ``gamma_k`` itself:

      sigmoid = H + g,   g(x) = -sign(x) s(-|x|)
      tanh    = sign + g,   g(x) = -sign(x) (1 - tanh|x|)
      softplus = relu + g,  g(x) = log1p(e^-|x|)
      silu    = relu + g,   g(x) = -|x| s(-|x|)

Cost: ``n = 20 (64 + 2 L)`` nodes per unit, ``L = 2 + ceil(log2(2 r))`` (about 2,700 at
``r = 1000``), O(m n k_max) flops.  Used for ``r`` above each activation's threshold
(:data:`SPLIT_MIN_R`); below it the fixed-rule routes of :mod:`sigmoid_core` are verified.
"""

from __future__ import annotations

from math import ceil, log2
from typing import Callable

import numpy as np
from scipy.special import erf, ndtr

from shinnet.activations.flops import TRANSCENDENTAL_FLOPS, graded_node_flops, unit_flops
from shinnet.activations.graded_rule import transition_rule, transition_rule_nodes
from shinnet.activations.power_closed import relu_truncated_moments
from shinnet.activations.quadrature import EPS, unit_chunks
from shinnet.hermite import hermite_he

__all__ = [
    "SPLIT_MIN_R",
    "asymptote_hermite",
    "split_hermite",
    "split_derivative_means",
    "by_norm",
    "split_flops",
    "by_norm_flops",
]

#: above this norm (in the activation's own units) the split route is used
SPLIT_MIN_R = {"sigmoid": 10.0, "softplus": 10.0, "tanh": 5.0, "silu": 5.0}

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _remainder_sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return -np.sign(x) * e / (1.0 + e)


def _remainder_tanh(x: np.ndarray) -> np.ndarray:
    e = np.exp(-2.0 * np.abs(x))
    return -np.sign(x) * 2.0 * e / (1.0 + e)


def _remainder_softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(x)))


def _remainder_silu(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return -np.abs(x) * e / (1.0 + e)


#: FLOPs charged for one evaluation of each remainder g (exp / log1p count TRANSCENDENTAL_FLOPS)
_REMAINDER_FLOPS = {
    "sigmoid": TRANSCENDENTAL_FLOPS + 5.0,
    "tanh": TRANSCENDENTAL_FLOPS + 6.0,
    "softplus": 2.0 * TRANSCENDENTAL_FLOPS + 2.0,
    "silu": TRANSCENDENTAL_FLOPS + 6.0,
}

#: name -> (asymptote, remainder g = sigma - asymptote)
_SPLITS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": ("step", _remainder_sigmoid),
    "tanh": ("sign", _remainder_tanh),
    "softplus": ("relu", _remainder_softplus),
    "silu": ("relu", _remainder_silu),
}


def _abs_hermite(k_max: int, x: np.ndarray) -> np.ndarray:
    """``|He|_k(|x|)``: the recurrence on magnitudes, a bound on the terms that cancel in He_k(x)."""
    return hermite_he(k_max, np.abs(x)) if k_max >= 0 else np.zeros(x.shape + (0,))


def asymptote_hermite(kind: str, k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E[A(rZ+b) He_k(Z)]`` for ``A`` in {"step", "sign", "relu"} and the size of its terms.

    With ``beta = b/r``: step ``Phi(beta)``, ``(-1)^(k-1) He_(k-1)(beta) phi(beta)``; sign
    ``erf(beta / sqrt 2)``, twice the step for k >= 1; relu ``r I_1(beta)`` (k = 0, the stable
    truncated moment), ``r Phi(beta)`` (k = 1), ``(-1)^k r He_(k-2)(beta) phi(beta)``.
    Returns two (m, k_max + 1) arrays.  Cost O(m k_max).
    """
    beta = b / r
    phi = _INV_SQRT_2PI * np.exp(-0.5 * beta * beta)
    ks = np.arange(k_max + 1)
    out = np.empty((r.size, k_max + 1))
    size = np.empty_like(out)
    shift = 2 if kind == "relu" else 1
    he = hermite_he(max(k_max - shift, 0), beta)
    mag = _abs_hermite(max(k_max - shift, 0), beta)
    scale = r[:, None] if kind == "relu" else (2.0 if kind == "sign" else 1.0)
    hi = ks[ks >= shift]
    sign = np.where((hi - shift) % 2 == 0, 1.0, -1.0)  # (-1)^(k-1) for steps, (-1)^k for relu
    body = sign * he[:, hi - shift] * phi[:, None]
    out[:, hi] = scale * body
    size[:, hi] = np.abs(scale * mag[:, hi - shift] * phi[:, None])
    if kind == "step":
        out[:, 0] = ndtr(beta)
    elif kind == "sign":
        out[:, 0] = erf(beta / np.sqrt(2.0))
    elif kind == "relu":
        out[:, 0] = r * relu_truncated_moments(1, beta)[:, 1]
        if k_max >= 1:
            out[:, 1] = r * ndtr(beta)
            size[:, 1] = np.abs(out[:, 1])
    else:
        raise ValueError(f"unknown asymptote {kind!r}")
    size[:, 0] = np.abs(out[:, 0])
    return out, size


def split_hermite(name: str, k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``gamma_k = E[sigma(rZ+b) He_k(Z)]`` = asymptote (closed form) + remainder (quadrature on
    :func:`transition_rule`), for ``name`` in :data:`SPLIT_MIN_R`; ``r > 0``.

    Returns ``(gamma, error)`` of shape (m, k_max + 1); ``error = (k + 4) eps (size of the
    asymptote's terms + sum_i w_i |g He_k|)``, a rounding estimate (the discretisation error is
    below 1e-25 of the remainder, module docstring).  Cost O(m n k_max), n ~ 20 (64 + 2 log2 r).
    """
    kind, remainder = _SPLITS[name]
    gamma, size = asymptote_hermite(kind, k_max, r, b)
    for sl in _split_chunks(r, k_max):
        z, w = transition_rule(r[sl], b[sl])
        g = remainder(r[sl, None] * z + b[sl, None]) * w
        he = hermite_he(k_max, z)  # (u, n, K+1)
        gamma[sl] += np.einsum("un,unk->uk", g, he)
        size[sl] += np.einsum("un,unk->uk", np.abs(g), np.abs(he))
    ks = np.arange(k_max + 1)
    return gamma, (ks[None, :] + 4.0) * EPS * size


def _split_chunks(r: np.ndarray, k_max: int) -> list[slice]:
    """The unit chunks of :func:`split_hermite` (each chunk gets its own graded rule)."""
    if r.size == 0:
        return []
    chunk_n = 20 * (64 + 2 * (3 + int(ceil(log2(max(8.0 * float(np.max(r)), 2.0))))))
    return unit_chunks(r.size, chunk_n * (k_max + 3))


def split_flops(name: str, k_max: int, r: np.ndarray) -> float:
    """FLOPs :func:`split_derivative_means` spends on the units of norms ``r``
    (:mod:`shinnet.activations.flops`): per chunk of :func:`split_hermite`,
    :func:`transition_rule_nodes` nodes per unit of :func:`graded_node_flops` (integrand: the
    remainder g), plus per unit the asymptote's closed form (``2 T + 6 (k_max + 1)``) and
    :func:`unit_flops`.  Cost O(m)."""
    per_node = graded_node_flops(_REMAINDER_FLOPS[name], k_max)
    total = r.size * (2.0 * TRANSCENDENTAL_FLOPS + 6.0 * (k_max + 1) + unit_flops(k_max))
    for sl in _split_chunks(r, k_max):
        if sl.stop > sl.start:
            total += float(sl.stop - sl.start) * transition_rule_nodes(float(np.max(r[sl]))) * per_node
    return total


def by_norm_flops(name: str, k_max: int, r: np.ndarray, gentle: Callable[[int, np.ndarray], float]) -> float:
    """FLOPs of :func:`by_norm`: :func:`split_flops` on the units with ``r > SPLIT_MIN_R[name]``,
    ``gentle(k_max, r)`` (the count of the fixed-rule routes) on the rest.  Cost O(m)."""
    steep = r > SPLIT_MIN_R[name]
    total = split_flops(name, k_max, r[steep]) if np.any(steep) else 0.0
    if not np.all(steep):
        total += gentle(k_max, r[~steep])
    return total


def split_derivative_means(name: str, k_max: int, r: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E[sigma^(k)(rZ+b)] = r^-k gamma_k`` (Stein) from :func:`split_hermite`, with its error
    estimate scaled alike.  For steep units (``r`` above :data:`SPLIT_MIN_R`)."""
    gamma, err = split_hermite(name, k_max, r, b)
    with np.errstate(over="ignore", under="ignore"):
        scale = r[:, None] ** -np.arange(k_max + 1, dtype=np.float64)[None, :]
    return gamma * scale, err * scale


def by_norm(
    name: str,
    k_max: int,
    r: np.ndarray,
    b: np.ndarray,
    gentle: Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Derivative means and error estimates: :func:`split_derivative_means` for the units with
    ``r > SPLIT_MIN_R[name]``, ``gentle(k_max, r, b)`` (the fixed-rule routes) for the rest."""
    steep = r > SPLIT_MIN_R[name]
    if not np.any(steep):
        return gentle(k_max, r, b)
    means = np.empty((r.size, k_max + 1))
    errors = np.empty_like(means)
    means[steep], errors[steep] = split_derivative_means(name, k_max, r[steep], b[steep])
    if not np.all(steep):
        means[~steep], errors[~steep] = gentle(k_max, r[~steep], b[~steep])
    return means, errors
