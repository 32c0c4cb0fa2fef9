"""Vertex tensors for a batch of vertex *weights* on one set of unit rows (MATH.md sections 3, 9).

``cumulants_batch`` batches second layers: row b has ``lam_b[k] = A[b] * gamma_k``.  Conditioning
(MATH.md section 9) needs a batch whose per-unit coefficients differ per row:
``lam_b[k, j] = a_j r'_j^k E[sigma^(k)(r'_j Z + b_j + alpha_j . y_b)]``, one row per quadrature
node ``y_b``, all rows on the same unit rows ``U'``.  The engine already sums any batch of
vertex objects that share ``U`` (every weight vector carries the batch index; paths, Gram powers
and diagrams are shared); :class:`WeightBatch` supplies those objects from one ``(B, K+1, m)``
weight array, with the dense tensors of all rows built as one product ``(B, m) @ (m, d^k)``
(:func:`shinnet.kernels.norms.factored_dense_rows`) instead of B separate builds.  Its rows
satisfy :class:`shinnet.contract.vertices.VertexTensors`; they are summed by
:func:`shinnet.expansions.weight_batch.cumulants_weight_batch`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from shinnet.kernels import norms as shin_norms
from shinnet.kernels.checks import check_fits
from shinnet.tensors.shin import ShinTensors

__all__ = ["WeightBatch"]


class WeightBatch:
    """B factored shin-tensor sets ``T_k^(b) = sum_j lam[b, k, j] u_j^{(x)k}`` on shared rows ``U``.

    Parameters
    ----------
    lam : array (B, K+1, m)
        Per-row CP weights; ``lam[b, 0].sum() + c[b]`` is row b's mean.
    U : array (m, d)
        Unit rows shared by every row (rows of constant units may be any unit vector: their
        weights at k >= 1 must be 0).
    c : array (B,) or float
        Output bias per row.
    build_flops : float
        FLOPs spent computing ``lam`` (charged once, on row 0).

    Notes
    -----
    ``rows`` are vertex-tensor objects (``U``, ``weights(k)``, ``dense(k)``, ``op_norm(k, p)``,
    ``degree_of(k)``, ``mean()``) that read from this batch; ``dense(k)`` of any row builds the
    dense tensors of all rows at once (2 B m d^k flops, memory B d^k) and keeps them.
    """

    def __init__(self, lam: Any, U: Any, c: Any = 0.0, build_flops: float = 0.0) -> None:
        lam = np.asarray(lam, dtype=np.float64)
        U = np.asarray(U, dtype=np.float64)
        if lam.ndim != 3 or U.ndim != 2 or lam.shape[2] != U.shape[0] or lam.shape[0] == 0:
            raise ValueError(f"lam must have shape (B, K+1, m) with m = rows of U; got lam {lam.shape}, U {U.shape}")
        if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(U))):
            raise ValueError("lam and U must be finite")
        c = np.broadcast_to(np.asarray(c, dtype=np.float64), (lam.shape[0],)).copy()
        if not np.all(np.isfinite(c)):
            raise ValueError("c must be finite")
        self.lam = lam
        self.lam.setflags(write=False)
        self.U = U
        self.U.setflags(write=False)
        self.c = c
        self.build_flops = float(build_flops)
        self._dense: dict[int, np.ndarray] = {}
        self.rows = [_Row(self, b) for b in range(lam.shape[0])]

    @property
    def size(self) -> int:
        """B, the number of rows."""
        return int(self.lam.shape[0])

    @property
    def max_degree(self) -> int:
        return int(self.lam.shape[1] - 1)

    def dense_all(self, k: int, max_bytes: float | None = None) -> np.ndarray:
        """Dense ``T_k`` of every row, shape (B,) + (d,)*k: one (B, m) @ (m, d^k) product."""
        hit = self._dense.get(k)
        if hit is None:
            d = self.U.shape[1]
            check_fits(f"dense({k}) for {self.size} rows", self.size * d**k, max_bytes,
                       f"B d^k = {self.size} x {d}^{k} float64 entries")
            hit = shin_norms.factored_dense_rows(self.lam[:, k, :], self.U, k).reshape((self.size,) + (d,) * k)
            hit.setflags(write=False)
            self._dense[k] = hit
        return hit


class _Row:
    """Row b of a :class:`WeightBatch` as a vertex-tensor object (keys are degrees)."""

    def __init__(self, parent: WeightBatch, b: int) -> None:
        self._parent = parent
        self._b = b
        self.U = parent.U
        self.build_flops = parent.build_flops if b == 0 else 0.0
        self._shin: Any = None

    @property
    def advice(self) -> Mapping[int, Any]:
        """No dense advice: every degree is factored (the engine may use factored/gram networks)."""
        return MappingProxyType({})

    @property
    def max_degree(self) -> int:
        return self._parent.max_degree

    def degree_of(self, key: int) -> int:
        k = int(key)
        if not 0 <= k <= self._parent.max_degree:
            raise ValueError(f"degree {key} is out of range 0..{self._parent.max_degree}")
        return k

    def weights(self, key: int) -> np.ndarray:
        return self._parent.lam[self._b, self.degree_of(key)]

    def mean(self) -> float:
        return float(self._parent.c[self._b] + self._parent.lam[self._b, 0].sum())

    def dense(self, key: int) -> np.ndarray:
        k = self.degree_of(key)
        if k == 0:
            return np.array(self.mean())
        return self._parent.dense_all(k)[self._b]

    def shin(self) -> Any:
        """This row as a :class:`shinnet.ShinTensors` (built on first use; for norms)."""
        if self._shin is None:
            self._shin = ShinTensors(lam=self._parent.lam[self._b], U=self.U, c=float(self._parent.c[self._b]))
        return self._shin

    def op_norm(self, key: int, p: int, **kwargs: Any) -> float:
        return self.shin().op_norm(self.degree_of(key), p, **kwargs)
