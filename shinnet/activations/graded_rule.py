"""A per-unit quadrature rule for ``E[g(Z)]`` graded towards the transition ``z0 = -b/r`` of a
steep unit ``sigma(rZ + b)`` (MATH.md sections 2 and 8; the accuracy argument is in
:mod:`shinnet.activations.transition`).

Composite Gauss-Legendre (20 nodes per panel) on ``[-16, 16]`` with the normal density folded in;
edges ``z0 +- 2^j / (4 r)`` (j = 0, 1, ...), ``z0`` itself, a uniform grid of width 1/2, and
optionally the integers of ``x = r z + b`` in a window.  Every panel near ``z0`` lies inside some
``[z0 + a, z0 + 2a]``: a singularity at ``z0 + i c / r`` is >= 3 half-widths from its centre.
"""

from __future__ import annotations

from math import ceil, log2

import numpy as np

__all__ = ["transition_rule", "transition_rule_nodes"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_HALF_WIDTH = 16.0
_UNIFORM = 0.5
_FINEST = 0.25
_NODES = 20


def _levels(r_max: float) -> int:
    """Geometric edges on each side of ``z0`` for a call whose steepest unit has norm ``r_max``."""
    return 2 + int(ceil(log2(max(2.0 * r_max / _FINEST, 2.0))))


def transition_rule_nodes(r_max: float, x_window: float = 0.0) -> int:
    """Nodes per unit of :func:`transition_rule` for a call whose largest norm is ``r_max``:
    ``20 (2 L + 65 + n_x)`` with ``L = 2 + ceil(log2(8 r_max))`` (geometric edges per side),
    65 uniform edges and ``n_x = 2 floor(x_window) + 1`` window edges (0 without a window);
    zero-width panels are evaluated too.  Cost O(1)."""
    n_uniform = np.arange(-_HALF_WIDTH, _HALF_WIDTH + 0.5 * _UNIFORM, _UNIFORM).size
    n_window = 2 * int(np.floor(x_window)) + 1 if x_window > 0 else 0
    return _NODES * (2 * _levels(float(r_max)) + n_uniform + n_window)


def transition_rule(r: np.ndarray, b: np.ndarray, x_window: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit nodes ``z`` and weights ``w`` (each (m, n)) with ``sum_i w_i g(z_i) ~= E[g(Z)]``,
    panels graded towards ``z0 = -b/r`` (module docstring).  Needs ``r > 0``.

    ``x_window > 0`` adds edges at the integers ``x = r z + b`` in ``[-x_window, x_window]``
    (panels of width <= 1 in the activation's argument there: features of a user activation
    away from ``x = 0``).  Zero-width panels (clipped edges) get zero weight.  Cost
    O(m n log n), n as in the module docstring (+ 20 per window edge).
    """
    levels = _levels(float(np.max(r)))
    z0 = np.clip(-b / r, -_HALF_WIDTH, _HALF_WIDTH)
    geo = _FINEST * 2.0 ** np.arange(levels)
    steps = geo[None, :] / r[:, None]
    uniform = np.arange(-_HALF_WIDTH, _HALF_WIDTH + 0.5 * _UNIFORM, _UNIFORM)
    parts = [z0[:, None] - steps, z0[:, None], z0[:, None] + steps, np.broadcast_to(uniform, (r.size, uniform.size))]
    if x_window > 0:
        xs = np.arange(-np.floor(x_window), np.floor(x_window) + 1.0)
        parts.append((xs[None, :] - b[:, None]) / r[:, None])
    edges = np.concatenate(parts, axis=1)
    edges = np.sort(np.clip(edges, -_HALF_WIDTH, _HALF_WIDTH), axis=1)
    x, wl = np.polynomial.legendre.leggauss(_NODES)
    half = 0.5 * (edges[:, 1:] - edges[:, :-1])
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    z = (mid[:, :, None] + half[:, :, None] * x).reshape(r.size, -1)
    w = (half[:, :, None] * wl).reshape(r.size, -1) * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return z, w
