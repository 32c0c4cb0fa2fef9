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

:class:`shinnet.tensors.blocks.BlockVertices` (built above the engine) serves the block tensors
through the vertex-tensor protocol with block labels as keys, so the degree engine's network
builder, path cache, norm table and :class:`ResummedArrays` (the backend seam) serve both
expansions.
"""

from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from shinnet.contract.backends import ArrayProvider
from shinnet.kernels.checks import check_fits
from shinnet.kernels.norms import factored_dense_rows

__all__ = ["ResummedArrays", "single_label"]


def single_label(p: int, k: int) -> tuple[tuple[tuple[int, int], ...], int]:
    """The block label of one vertex ``(p, k)`` standing alone (its k legs all leave it)."""
    return (((int(p), int(k)),), int(k))


class ResummedArrays(ArrayProvider):
    """:class:`ArrayProvider` that also serves ``("rgram", m)``: ``R^{(o)m} - I`` (zero diagonal).

    Built from the Gram matrix once (``2 m^2 d`` FLOPs) plus ``m^2`` per Hadamard power, all
    charged to ``extra_flops``.  For a batch of block vertex objects (B second layers on one U)
    a dense block tensor is built for all rows at once, ``T[b] = sum_u w_B[b, u] u_u^{(x)legs}``,
    as one chunked (B, m) x (m, d^legs) product (``2 B m d^legs`` FLOPs, charged to
    ``dense_build_flops``) instead of B separate builds.
    """

    def _numpy(self, source: tuple[Hashable, ...]) -> np.ndarray:
        if source[0] == "dense" and self.batch and all(_factored_block(o) for o in self.objects):
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


def _factored_block(obj: Any) -> bool:
    """Whether ``obj`` serves block tensors in factored form (``U``, ``weights`` and
    ``max_dense_bytes``, no dense advice), so a batch's dense tensors can be built as one product."""
    return (getattr(obj, "U", None) is not None and hasattr(obj, "max_dense_bytes")
            and not getattr(obj, "advice", None))
