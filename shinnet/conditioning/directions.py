"""Active directions: where the non-Gaussian Hermite energy of f lives (MATH.md section 9).

    M = sum_{k=2..K} T_k :_{k-1} T_k / (k-1)!      (contract all but one index of T_k with itself)
      = U^T [ sum_k (lam_k lam_k^T) o G^{(o)(k-1)} / (k-1)! ] U          (factored, G = U U^T)

``V`` = the top r eigenvectors of M.  The diagnostic is the share of the degree >= 2 energy
``sum_{k>=2} ||T_k||^2 / k!`` that lies in ``span V``: the tensors projected on ``V^{(x)k}`` are
``sum_j lam_jk (V^T u_j)^{(x)k}``, whose squared norm is ``lam_k^T (P P^T)^{(o)k} lam_k`` with
``P = U V`` (m x r).  No d^k array is formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import factorial
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from shinnet.model import TwoLayerMLP
from shinnet.tensors.shin import shin_tensors

__all__ = ["ActiveDirections", "active_directions", "directions_matrix", "energies_in_span"]

#: entries of one row chunk of the Gram matrix (32 MiB of float64)
_CHUNK_ENTRIES = 4 * 2**20


@dataclass(frozen=True)
class ActiveDirections:
    """Top eigen-directions of the non-Gaussian energy matrix M (MATH.md section 9).

    Attributes
    ----------
    V : ndarray (d, r)
        Orthonormal columns: the top r eigenvectors of M (sign fixed: largest entry positive).
    eigenvalues : ndarray (d,)
        All eigenvalues of M, descending.
    energy : dict k -> float
        ``||T_k||^2 / k!`` for k = 2..K (the degree-k part of Var f).
    energy_inside : dict k -> float
        ``||T_k restricted to V^{(x)k}||^2 / k!``.
    energy_share : float
        ``sum_k energy_inside[k] / sum_k energy[k]`` (0 when there is no degree >= 2 energy).
    energy_share_by_degree : dict k -> float
    max_degree : int
        K used.
    energy_share_by_rank : tuple of float
        ``energy_share_by_rank[i]``: the share inside the span of the first i + 1 columns of V.
    flops : float
        FLOPs spent (Gram sweeps, M, eigendecomposition, projected energies).
    """

    V: np.ndarray
    eigenvalues: np.ndarray
    energy: Mapping[int, float]
    energy_inside: Mapping[int, float]
    energy_share: float
    energy_share_by_degree: Mapping[int, float]
    max_degree: int
    flops: float = 0.0
    energy_share_by_rank: tuple[float, ...] = ()
    M: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def r(self) -> int:
        """Number of directions."""
        return int(self.V.shape[1])

    @property
    def energy_remainder(self) -> float:
        """``1 - energy_share``: the share outside ``V^{(x)k}`` (remainder and mixed terms)."""
        return 1.0 - self.energy_share


def _row_chunks(m: int, width: int) -> list[slice]:
    rows = max(1, _CHUNK_ENTRIES // max(width, 1))
    return [slice(s, min(m, s + rows)) for s in range(0, m, rows)]


def directions_matrix(lam: np.ndarray, U: np.ndarray, max_degree: int) -> tuple[np.ndarray, dict[int, float], float]:
    """``M`` (d x d) and the energies ``||T_k||^2 / k!`` (k = 2..K) in one chunked Gram sweep.

    Parameters
    ----------
    lam : array (K'+1, m), K' >= max_degree
    U : array (m, d)
    max_degree : int
        K >= 2.

    Returns
    -------
    M, energy, flops
        Cost ``4 m^2 d + 4 m^2 K + 2 m d^2`` flops, memory O(chunk * m + m d).
    """
    m, d = U.shape
    K = int(max_degree)
    M = np.zeros((d, d))
    energy = {k: 0.0 for k in range(2, K + 1)}
    for I in _row_chunks(m, m):
        G = U[I] @ U.T
        P = G.copy()  # G^{(o)(k-1)} as k runs
        A = np.zeros_like(G)
        for k in range(2, K + 1):
            outer = lam[k][I, None] * lam[k][None, :]
            A += outer * (P / factorial(k - 1))
            P *= G  # now G^{(o)k}
            energy[k] += float(np.sum(outer * P)) / factorial(k)
        M += U[I].T @ (A @ U)
    flops = 4.0 * m * m * d + 4.0 * m * m * max(K - 1, 0) + 2.0 * m * d * d
    return 0.5 * (M + M.T), energy, flops


def energies_in_span(lam: np.ndarray, U: np.ndarray, V: np.ndarray, max_degree: int) -> tuple[dict[int, float], float]:
    """``||T_k projected on V^{(x)k}||^2 / k! = lam_k^T (P P^T)^{(o)k} lam_k / k!``, ``P = U V``.

    Cost ``2 m d r + 2 m^2 r + 3 m^2 K`` flops.
    """
    m = U.shape[0]
    K = int(max_degree)
    out = {k: 0.0 for k in range(2, K + 1)}
    if V.shape[1] == 0:
        return out, 0.0
    P = U @ V
    for I in _row_chunks(m, m):
        G = P[I] @ P.T
        Q = G.copy()
        for k in range(2, K + 1):
            Q *= G
            out[k] += float(lam[k][I] @ (Q @ lam[k])) / factorial(k)
    return out, 2.0 * m * U.shape[1] * V.shape[1] + 2.0 * m * m * V.shape[1] + 3.0 * m * m * K


def active_directions(mlp: Any, r: int, max_degree: int = 4) -> ActiveDirections:
    """The r directions carrying the most degree >= 2 Hermite energy of f (MATH.md section 9).

    Parameters
    ----------
    mlp : TwoLayerMLP
    r : int
        Number of directions, 0 <= r <= d.
    max_degree : int
        K >= 2: degrees 2..K enter M and the energies.

    Returns
    -------
    ActiveDirections

    Notes
    -----
    Cost: shin coefficients (O(m K)), one Gram sweep for M and the energies
    (``4 m^2 (d + K) + 2 m d^2``), a d x d eigendecomposition (``~10 d^3``), one sweep of the
    projected Gram (``2 m^2 r + 3 m^2 K``).  Memory O(m * chunk + m d).
    """
    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"active_directions needs a TwoLayerMLP, got {type(mlp).__name__}")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r <= mlp.d:
        raise ValueError(f"r must be an integer in 0..d = 0..{mlp.d}, got {r!r}")
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or max_degree < 2:
        raise ValueError(f"max_degree must be an integer >= 2 (M uses degrees 2..K), got {max_degree!r}")
    K = int(max_degree)
    shin = shin_tensors(mlp, K)
    lam, U = np.asarray(shin.lam), np.asarray(shin.U)
    M, energy, flops = directions_matrix(lam, U, K)
    d = U.shape[1]
    evals, evecs = np.linalg.eigh(M)
    order = np.argsort(-evals, kind="stable")
    evals, evecs = evals[order], evecs[:, order]
    V = evecs[:, : int(r)].copy()
    for i in range(V.shape[1]):
        if V[np.argmax(np.abs(V[:, i])), i] < 0:
            V[:, i] = -V[:, i]
    total = sum(energy.values())
    by_rank = []
    f2 = 0.0
    for i in range(1, V.shape[1] + 1):
        inside, fl = energies_in_span(lam, U, V[:, :i], K)
        f2 += fl
        by_rank.append(float(sum(inside.values()) / total) if total > 0 else 0.0)
    inside, _ = energies_in_span(lam, U, V, K) if V.shape[1] == 0 else (inside, 0.0)
    share = float(sum(inside.values()) / total) if total > 0 else 0.0
    by_degree = {k: (inside[k] / energy[k] if energy[k] > 0 else 0.0) for k in energy}
    V.setflags(write=False)
    evals.setflags(write=False)
    M.setflags(write=False)
    return ActiveDirections(
        V=V, eigenvalues=evals, energy=MappingProxyType(dict(energy)), energy_inside=MappingProxyType(dict(inside)),
        energy_share=share, energy_share_by_degree=MappingProxyType(by_degree), max_degree=K,
        flops=float(shin.build_flops) + flops + 10.0 * d**3 + f2, energy_share_by_rank=tuple(by_rank), M=M,
    )


def choose_rank(directions: ActiveDirections, max_rank: int = 3, min_share: float = 0.8,
                gap: float = 0.1) -> int:
    """The rank ``condition="auto"`` conditions on (MATH.md section 9: r follows the spectrum of M).

    The smallest r <= ``max_rank`` (and <= ``directions.r``) such that span of the first r
    directions holds at least ``min_share`` of the degree >= 2 energy and the next eigenvalue of
    M is at most ``gap`` times the largest (all large eigenvalues together: conditioning on one of
    two equal directions leaves a chi-square-like remainder).  0 when no r qualifies (no
    concentrated structure: the plain estimate runs).
    """
    ev = np.asarray(directions.eigenvalues)
    if ev.size == 0 or ev[0] <= 0:
        return 0
    for r in range(1, min(int(max_rank), directions.r) + 1):
        nxt = float(ev[r]) if r < ev.size else 0.0
        if directions.energy_share_by_rank[r - 1] >= min_share and nxt <= gap * float(ev[0]):
            return r
    return 0
