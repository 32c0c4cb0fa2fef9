"""Vertex objects and arrays of the resummed expansion's networks (MATH.md section 8).

Both forms of a resummed term are tensor networks whose vertices are *blocks* of the diagram,
keyed by a :data:`shinnet.enumerate.blocks.BlockLabel` ``(sorted (p_v, k_v) keys, legs)``:

- hidden-unit form of (G, p): every block is a single vertex ``(((p, k),), k)`` carrying
  ``kap[:, p, k]``, and each distinct edge of multiplicity m is the zero-diagonal m x m matrix
  ``Rt^{(o)m} = R^{(o)m} - I`` (source ``("rgram", m)``);
- d-space form: the quotient networks ``Net(G/pi)`` of :mod:`shinnet.enumerate.blocks`, whose
  block tensors ``T_B = sum_u w_B[u] u_u^{(x)legs}``, ``w_B = prod_{v in B} kap[:, p_v, k_v]``, are
  served dense, factored (weights + U copies) or in m-space (full Gram powers) exactly like
  shin tensors.

:class:`BlockVertices` adapts :class:`shinnet.power_shin.PowerShinTensors` to the vertex-tensor
protocol with block labels as keys, so the degree engine's network builder, path cache, norm
table and :class:`ResummedArrays` (the backend seam) serve both expansions.
"""

from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from shinnet.contract.backends import ArrayProvider

__all__ = ["BlockVertices", "ResummedArrays", "single_label"]


def single_label(p: int, k: int) -> tuple[tuple[tuple[int, int], ...], int]:
    """The block label of one vertex ``(p, k)`` standing alone (its k legs all leave it)."""
    return (((int(p), int(k)),), int(k))


class BlockVertices:
    """Block tensors ``T_B`` of a :class:`PowerShinTensors`, keyed by block label.

    Parameters
    ----------
    tensors : PowerShinTensors
    max_dense_bytes : float
        Largest dense block tensor built (``MemoryError`` before allocating beyond).

    Notes
    -----
    ``weights(label)`` costs ``m |B|``; ``dense(label)`` costs ``2 m d^legs`` (memoised);
    ``op_norm(label, q)`` is the norm of the ``d^q x d^(legs-q)`` matricisation, computed as for
    a shin tensor with weights ``w_B`` (:meth:`shinnet.shin.ShinTensors.op_norm`), memoised.
    """

    def __init__(self, tensors: Any, max_dense_bytes: float = 2.0**31) -> None:
        self.tensors = tensors
        self.U = tensors.U
        self.c = float(tensors.c)
        self.build_flops = float(tensors.build_flops)
        self.max_dense_bytes = float(max_dense_bytes)
        self._weights: dict[Hashable, np.ndarray] = {}
        self._dense: dict[Hashable, np.ndarray] = {}
        self._norms: dict[tuple[Hashable, int], float] = {}

    @staticmethod
    def _split(label: Any) -> tuple[tuple[tuple[int, int], ...], int]:
        try:
            keys, legs = label
            keys = tuple((int(p), int(k)) for p, k in keys)
            legs = int(legs)
        except (TypeError, ValueError):
            raise ValueError(f"a block label is (((p, k), ...), legs), got {label!r}") from None
        if not keys or legs < 0:
            raise ValueError(f"a block label needs at least one vertex and legs >= 0, got {label!r}")
        return keys, legs

    def degree_of(self, label: Any) -> int:
        """Legs of the block (edge copies leaving it)."""
        return self._split(label)[1]

    def mean(self) -> float:
        """``kappa_1 = c + sum_u kap[u, 1, 0]``."""
        return float(self.tensors.mean())

    def weights(self, label: Any) -> np.ndarray:
        """``w_B = prod_{v in B} kap[:, p_v, k_v]``, shape (m,)."""
        keys, _ = self._split(label)
        w = self._weights.get(keys)
        if w is None:
            w = self.tensors.block_weights(keys)
            w.setflags(write=False)
            self._weights[keys] = w
        return w

    def dense(self, label: Any) -> np.ndarray:
        """``T_B``, shape (d,)*legs (memoised; refused beyond ``max_dense_bytes``)."""
        keys, legs = self._split(label)
        T = self._dense.get((keys, legs))
        if T is None:
            T = self.tensors.block_tensor(keys, legs, max_bytes=self.max_dense_bytes)
            T.setflags(write=False)
            self._dense[(keys, legs)] = T
        return T

    def op_norm(self, label: Any, q: int) -> float:
        """``||mat_{q, legs-q}(T_B)||_op`` (Frobenius for q in {0, legs}; ``|sum w_B|`` at legs 0)."""
        from shinnet.shin import ShinTensors

        keys, legs = self._split(label)
        q = min(int(q), legs - int(q))
        hit = self._norms.get(((keys, legs), q))
        if hit is None:
            w = self.weights(label)
            if legs == 0:
                hit = abs(float(w.sum()))
            else:
                lam = np.zeros((legs + 1, w.shape[0]))
                lam[legs] = w
                hit = float(ShinTensors(lam=lam, U=self.U, c=0.0).op_norm(legs, q))
            self._norms[((keys, legs), q)] = hit
        return hit


class ResummedArrays(ArrayProvider):
    """:class:`ArrayProvider` that also serves ``("rgram", m)``: ``R^{(o)m} - I`` (zero diagonal).

    Built from the Gram matrix once (``2 m^2 d`` FLOPs) plus ``m^2`` per Hadamard power, all
    charged to ``extra_flops``.  For a batch of :class:`BlockVertices` (B second layers on one U)
    a dense block tensor is built for all rows at once, ``T[b] = sum_u w_B[b, u] u_u^{(x)legs}``,
    as one chunked (B, m) x (m, d^legs) product (``2 B m d^legs`` FLOPs, charged to
    ``dense_build_flops``) instead of B separate builds.
    """

    def _numpy(self, source: tuple[Hashable, ...]) -> np.ndarray:
        if source[0] == "dense" and self.batch and all(isinstance(o, BlockVertices) for o in self.objects):
            return self._batched_dense(source[1])
        if source[0] != "rgram":
            return super()._numpy(source)
        power = int(source[1])
        if power < 1:
            raise ValueError(f"an edge multiplicity is >= 1, got {power}")
        full = self._numpy(("gram", power))
        full = np.array(full, copy=True)
        np.fill_diagonal(full, 0.0)  # exactly: R_uu^m - 1 = 0
        return full

    def _batched_dense(self, label: Any) -> np.ndarray:
        """``T_B`` for every row, shape (B,) + (d,)*legs; refused (MemoryError) beyond the rows'
        ``max_dense_bytes`` before allocating."""
        from shinnet.shin_checks import check_fits
        from shinnet.shin_norms import factored_dense_rows

        first = self.objects[0]
        legs = first.degree_of(label)
        W = np.stack([o.weights(label) for o in self.objects])  # (B, m)
        U = np.asarray(first.U, dtype=np.float64)
        m, d = U.shape
        size = d**legs
        check_fits("batched block tensor", W.shape[0] * size, first.max_dense_bytes,
                   f"B = {W.shape[0]} rows of d^legs = {d}^{legs} entries")
        out = factored_dense_rows(W, U, legs)
        if legs > 0:
            self.dense_build_flops += 2.0 * W.shape[0] * m * float(size)
        return out.reshape((W.shape[0],) + (d,) * legs)
