"""Block tensors of the resummed expansion: the vertex tensors of its networks (MATH.md section 8).

A block B of a resummed diagram (a set of vertices ``(p_v, k_v)`` merged by a partition, with
``legs`` edge copies leaving it) carries the tensor

    T_B = sum_u w_B[u] u_u^{(x)legs},      w_B = prod_{v in B} kap[:, p_v, k_v],

keyed by a block label ``(sorted (p_v, k_v) keys, legs)``
(:data:`shinnet.enumerate.blocks.BlockLabel`).  :class:`BlockVertices` adapts a
:class:`shinnet.tensors.power_shin.PowerShinTensors` to the vertex-tensor protocol
(:mod:`shinnet.contract.vertices`) with block labels as keys, so the engine's network builder,
path cache, norm table and array provider serve the resummed expansion as they serve shin tensors.
"""

from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from shinnet.kernels.op_norm_choice import factored_op_norm

__all__ = ["BlockVertices"]


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
    ``op_norm(label, q)`` is the norm of the ``d^q x d^(legs-q)`` matricisation, computed from
    ``w_B`` and ``U`` by the method ``"auto"`` picks (:func:`shinnet.kernels.op_norm_choice.factored_op_norm`:
    for small m the exact m x m eigenproblem, whose Gram matrix and Hadamard-power factors are
    kept across labels), memoised.
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
        self._hidden: dict[object, np.ndarray] = {}

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
        keys, legs = self._split(label)
        q = min(int(q), legs - int(q))
        hit = self._norms.get(((keys, legs), q))
        if hit is None:
            w = self.weights(label)
            if legs == 0:
                hit = abs(float(w.sum()))
            else:
                cached = self._dense.get((keys, legs))
                hit = factored_op_norm(
                    w, self.U, q, legs - q, dense=None if cached is None else (lambda: cached), cache=self._hidden
                ).value
            self._norms[((keys, legs), q)] = hit
        return hit
