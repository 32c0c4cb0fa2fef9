"""The conditional network ``f_y`` and its vertex weights for a batch of nodes (MATH.md section 9).

    f_y(x) = c + sum_j a_j sigma(w'_j . x + b_j + alpha_j . y),   W' = W (I - V V^T),  alpha = W V

Given y, ``f_y`` is again a two-layer MLP in ``x ~ N(0, I_d)``.  Its unit rows ``u'_j``, norms
``r'_j`` and Gram matrix do not depend on y; only the weights do:

    lam_{j,k}(y) = a_j r'_j^k E[sigma^(k)(r'_j Z + b_j + alpha_j . y)]

Units inside span V (``|w'_j| <= inside_tol * |w_j|``) are constants given y: their ``w'_j`` is set
to exactly 0 and they enter ``c'(y)`` through ``lam_{j,0}(y) = a_j sigma(b_j + alpha_j . y)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shinnet.model import TwoLayerMLP

__all__ = ["ConditionalSplit", "conditional_split", "conditional_mlp", "conditional_weights", "conditional_weights_flops",
           "INSIDE_TOL"]

#: a unit is inside span V when |w'_j| <= INSIDE_TOL * |w_j| (rounding of the projection)
INSIDE_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class ConditionalSplit:
    """The y-independent parts of ``f_y`` (MATH.md section 9).

    Attributes
    ----------
    mlp : TwoLayerMLP
        The unconditional model.
    V : ndarray (d, r)
    W_perp : ndarray (m, d)
        ``W (I - V V^T)`` with the rows of inside units set to 0.
    alpha : ndarray (m, r)
        ``W V``.
    r_perp : ndarray (m,)
        ``|w'_j|`` (0 for inside units).
    U_perp : ndarray (m, d)
        Unit rows ``w'_j / r'_j`` (``e_1`` for inside units, as :meth:`TwoLayerMLP.unit_rows`).
    inside : ndarray (m,) bool
        Units inside span V.
    """

    mlp: TwoLayerMLP
    V: np.ndarray
    W_perp: np.ndarray
    alpha: np.ndarray
    r_perp: np.ndarray
    U_perp: np.ndarray
    inside: np.ndarray

    @property
    def r(self) -> int:
        return int(self.V.shape[1])

    @property
    def exact(self) -> bool:
        """All units inside span V: ``f_y`` is a constant and ``E[psi(f)]`` an r-dim integral."""
        return bool(np.all(self.inside))

    def biases(self, nodes: np.ndarray) -> np.ndarray:
        """``b'(y) = b + alpha y`` for every node: shape (B, m)."""
        return self.mlp.b[None, :] + nodes @ self.alpha.T

    def constant(self, nodes: np.ndarray) -> np.ndarray:
        """``c'(y) = c + sum_{j inside} a_j sigma(b_j + alpha_j . y)``, shape (B,)."""
        a = self.mlp.a[self.inside]
        if a.size == 0:
            return np.full(nodes.shape[0], float(self.mlp.c))
        z = self.mlp.b[self.inside][None, :] + nodes @ self.alpha[self.inside].T
        return float(self.mlp.c) + np.asarray(self.mlp.hidden.value(z), dtype=np.float64) @ a


def _check_V(V: Any, d: int) -> np.ndarray:
    V = np.asarray(V, dtype=np.float64)
    if V.ndim == 1:
        V = V[:, None]
    if V.ndim != 2 or V.shape[0] != d or V.shape[1] > d:
        raise ValueError(f"V must have shape (d, r) with d = {d} and r <= d, got {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("V must be finite")
    if V.shape[1] and np.abs(V.T @ V - np.eye(V.shape[1])).max() > 1e-10:
        raise ValueError("V must have orthonormal columns (V^T V = I within 1e-10)")
    return V


def conditional_split(mlp: TwoLayerMLP, V: Any) -> ConditionalSplit:
    """Project the first layer off ``span V`` once (cost 4 m d r + 3 m d flops)."""
    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"conditional_split needs a TwoLayerMLP, got {type(mlp).__name__}")
    V = _check_V(V, mlp.d)
    W = np.asarray(mlp.W, dtype=np.float64)
    alpha = W @ V
    W_perp = W - alpha @ V.T
    r_full = np.linalg.norm(W, axis=1)
    r_perp = np.linalg.norm(W_perp, axis=1)
    inside = r_perp <= INSIDE_TOL * np.maximum(r_full, np.finfo(float).tiny)
    W_perp[inside] = 0.0
    r_perp[inside] = 0.0
    U = np.zeros_like(W_perp)
    U[~inside] = W_perp[~inside] / r_perp[~inside, None]
    U[inside, 0] = 1.0
    for arr in (V, W_perp, alpha, r_perp, U, inside):
        arr.setflags(write=False)
    return ConditionalSplit(mlp=mlp, V=V, W_perp=W_perp, alpha=alpha, r_perp=r_perp, U_perp=U, inside=inside)


def _nodes(nodes: Any, r: int) -> np.ndarray:
    y = np.asarray(nodes, dtype=np.float64)
    if y.ndim == 1 and r == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != r:
        raise ValueError(f"nodes must have shape (B, r) with r = {r}, got {np.shape(nodes)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("nodes must be finite")
    return y


def conditional_mlp(mlp: TwoLayerMLP, V: Any, y: Any) -> TwoLayerMLP:
    """``f_y`` for one node y (r,) as a TwoLayerMLP: ``W' = W (I - V V^T)``, ``b' = b + W V y``.

    The per-node rebuild (and the reference for :func:`conditional_weights`): inside units get
    ``w'_j = 0`` exactly, so ``shin_tensors`` treats them as constants.
    """
    split = conditional_split(mlp, V)
    y = _nodes(np.atleast_1d(np.asarray(y, dtype=np.float64))[None, :], split.r)
    return mlp.replace(W=np.array(split.W_perp), b=split.biases(y)[0])


def conditional_weights(split: ConditionalSplit, nodes: Any, max_degree: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Vertex weights of ``f_y`` for all nodes at once (MATH.md section 9).

    Parameters
    ----------
    split : ConditionalSplit
    nodes : array (B, r)
    max_degree : int
        K.

    Returns
    -------
    lam : ndarray (B, K+1, m)
        ``lam[i, k, j] = a_j r'_j^k E[sigma^(k)(r'_j Z + b'_j(y_i))]``; for inside units
        ``lam[i, 0, j] = a_j sigma(b'_j(y_i))`` and 0 for k >= 1 (as :func:`shinnet.shin_tensors`).
    c : ndarray (B,)
        The output bias ``c`` for every node (inside units are in ``lam[:, 0]``).
    flops : float
        ``2 B m r`` (biases) + ``hidden.hermite_coefficients_flops`` of the ``B m_live`` live units at
        their norms ``r'_j`` (the price :func:`shinnet.shin_tensors` charges, docs/activations.md) +
        ``cost(sigma)`` per inside unit and node + ``B m (K+1)`` (the products with ``a_j``).
    """
    mlp = split.mlp
    y = _nodes(nodes, split.r)
    K = int(max_degree)
    B, m = y.shape[0], mlp.m
    bias = split.biases(y)
    out = np.zeros((B, K + 1, m))
    live = ~split.inside
    if np.any(live):
        r_live = np.broadcast_to(split.r_perp[live], (B, int(live.sum()))).reshape(-1)
        gamma = np.asarray(mlp.hidden.hermite_coefficients(K, r_live, bias[:, live].reshape(-1)), dtype=np.float64)
        out[:, :, live] = (gamma.reshape(B, -1, K + 1) * mlp.a[live][None, :, None]).transpose(0, 2, 1)
    if np.any(split.inside):
        values = np.asarray(mlp.hidden.value(bias[:, split.inside]), dtype=np.float64)
        out[:, 0, split.inside] = values * mlp.a[split.inside]
    return out, np.full(B, float(mlp.c)), conditional_weights_flops(split, B, K)


def conditional_weights_flops(split: ConditionalSplit, n_nodes: int, max_degree: int) -> float:
    """The FLOPs :func:`conditional_weights` charges for ``n_nodes`` nodes (so a planner can price it
    before the nodes exist: the count depends on the projected norms ``r'_j``, not on the nodes):
    ``2 B m r`` (biases) + ``hidden.hermite_coefficients_flops(K, B m_live, r'_live)`` (docs/activations.md)
    + ``cost(sigma)`` per inside unit and node + ``B m (K+1)`` (the products with ``a_j``).  Cost O(B m)."""
    mlp, B, K = split.mlp, int(n_nodes), int(max_degree)
    m = int(mlp.m)
    live = ~split.inside
    n_live = int(live.sum())
    r_live = np.tile(split.r_perp[live], B)
    coefficients = float(mlp.hidden.hermite_coefficients_flops(K, B * n_live, r_live)) if n_live and B else 0.0
    return 2.0 * B * m * split.r + coefficients + B * (m - n_live) * float(mlp.hidden.flops) + B * m * (K + 1)
