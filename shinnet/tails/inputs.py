"""Input checks and the output map for tail probabilities.

``P(psi(f) > t)`` for a monotone output activation ``psi`` is a tail of ``f`` itself: for
non-decreasing psi, ``P(psi(f) > t) = P(f > s(t))`` with the generalized inverse
``s(t) = sup{u : psi(u) <= t}`` (``-inf`` when ``psi > t`` everywhere, ``+inf`` when ``psi <= t``
everywhere); for non-increasing psi, ``P(psi(f) > t) = P(f < s'(t)) = P(-f > -s'(t))`` with
``s'(t) = inf{u : psi(u) <= t}``, i.e. the upper tail of the network with ``(a, c) -> (-a, -c)``.
A psi that is not monotone has no such reduction and is refused before any work.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.polynomial import polynomial as npoly

from shinnet import activations
from shinnet.activations import Activation
from shinnet.model import TwoLayerMLP

__all__ = ["check_thresholds", "monotonicity", "generalized_inverse", "thresholds_on_f", "NotMonotoneError"]

#: registered activations known to be non-decreasing on the real line
_NON_DECREASING = frozenset(
    {"identity", "linear", "relu", "tanh", "sigmoid", "logistic", "erf", "softplus", "heaviside", "step", "sign"}
)
_GRID = np.concatenate([-np.logspace(3, -3, 400), [0.0], np.logspace(-3, 3, 400)])
_FAR = 1e8  # |u| beyond which psi is taken to have reached its limit


class NotMonotoneError(ValueError):
    """``P(psi(f) > t)`` was asked for a psi that is not monotone."""


def check_thresholds(t: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """``t`` as a flat float64 array (and its original shape); NaN and inf are refused."""
    bad = f"t must be a real number or a 1-d sequence of real thresholds, got {t!r}"
    if isinstance(t, (str, bytes)):
        raise TypeError(bad)
    try:
        raw = np.asarray(t)
        arr = None if np.iscomplexobj(raw) else np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{bad} ({exc})") from None
    if arr is None:
        raise TypeError(bad)
    if arr.ndim > 1:
        raise ValueError(f"t must be a scalar or a 1-d sequence of thresholds, got shape {arr.shape}")
    flat = np.atleast_1d(arr).copy()
    if flat.size == 0:
        raise ValueError("t must hold at least one threshold")
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"thresholds must be finite, got {flat[~np.isfinite(flat)][:3]}")
    return flat, arr.shape


def monotonicity(psi: str | Activation) -> int:
    """+1 for a non-decreasing psi, -1 for a non-increasing one; raises :class:`NotMonotoneError`.

    Registered monotone activations are known by name; a polynomial is monotone iff its
    derivative has no real root of odd multiplicity; any other psi is checked on a log-spaced
    grid over ``[-1e3, 1e3]`` (a heuristic: a wiggle between grid points goes unseen).
    """
    act = activations.get(psi)
    if act.name in _NON_DECREASING:
        return 1
    coeffs = getattr(act, "coefficients", None)
    if coeffs is not None:
        c = np.trim_zeros(np.asarray(coeffs, dtype=np.float64), "b")
        if c.size <= 1:
            raise NotMonotoneError(f"psi = {act.name!r} is constant: P(psi(f) > t) does not depend on f")
        dc = npoly.polyder(c)
        roots = npoly.polyroots(dc) if dc.size > 1 else np.array([])
        real = np.sort([r.real for r in roots if abs(r.imag) <= 1e-9 * max(1.0, abs(r))])
        probes = np.concatenate([[-1e6], (real[:-1] + real[1:]) / 2 if real.size > 1 else [], [1e6]])
        signs = np.sign(npoly.polyval(probes, dc))
        signs = signs[signs != 0]
        if signs.size and np.all(signs == signs[0]):
            return int(signs[0])
        raise NotMonotoneError(f"psi = {act.name!r} is not monotone (its derivative changes sign); "
                               "P(psi(f) > t) is not a tail of f")
    vals = np.asarray(act.value(_GRID.copy()), dtype=np.float64)
    diffs = np.diff(vals)
    if np.all(diffs >= 0):
        return 1
    if np.all(diffs <= 0):
        return -1
    raise NotMonotoneError(f"psi = {act.name!r} is not monotone (e.g. {act.name}({_GRID[np.argmax(diffs < 0)]:.3g}) "
                           "decreases where it elsewhere increases); P(psi(f) > t) is not a tail of f")


def generalized_inverse(psi: Activation, t: float, direction: int) -> float:
    """``sup{u : psi(u) <= t}`` (direction +1) or ``inf{u : psi(u) <= t}`` (direction -1), by bisection
    to adjacent doubles; ``+-inf`` when the set is everything or nothing. Cost ~ 2100 psi calls."""

    def le(u: float) -> bool:
        return bool(np.asarray(psi.value(np.array([u])), dtype=np.float64)[0] <= t)

    lo_end, hi_end = -_FAR * direction, _FAR * direction  # le(lo_end) expected True, le(hi_end) False
    if not le(lo_end):
        return -math.inf * direction
    if le(hi_end):
        return math.inf * direction
    lo, hi = lo_end, hi_end
    for _ in range(2100):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if le(mid):
            lo = mid
        else:
            hi = mid
    return lo


def thresholds_on_f(mlp: TwoLayerMLP, t: np.ndarray, output: bool) -> tuple[TwoLayerMLP, np.ndarray]:
    """The network and thresholds whose upper tail ``P(g > s)`` equals ``P(psi(f) > t)``.

    ``output=False``: ``(mlp, t)``.  ``output=True``: non-decreasing psi gives ``(mlp, s(t))``;
    non-increasing psi gives ``(-f, -s'(t))``.  Thresholds may be ``+-inf`` (probability 0 or 1).
    """
    if not output:
        return mlp, t
    sgn = monotonicity(mlp.output)
    s = np.array([generalized_inverse(mlp.output, float(v), sgn) for v in t])
    if sgn > 0:
        return mlp, s
    return mlp.replace(a=-mlp.a, c=-mlp.c), -s
