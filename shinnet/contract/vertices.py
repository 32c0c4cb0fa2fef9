"""The vertex-tensor protocol: the one thing the engine consumes (issue 11).

``contract`` knows nothing of models.  Every term it sums is a tensor network whose vertices
are served by an object with these methods (keys are whatever the diagrams use: a Hermite degree
k for shin tensors, a block label ``(((p, k), ...), legs)`` for the resummed expansion's block
tensors):

    weights(key) -> (m,) array        the factored form  T_key = sum_u weights[u] u_u^(x)legs
    dense(key)   -> (d,)*legs array   the same tensor, materialised
    op_norm(key, q) -> float          ||mat_{q, legs-q}(T_key)||_op   (pruning bounds)
    degree_of(key) -> int             legs of the vertex
    mean() -> float                   kappa_1 (the order-1 cumulant)

Optional attributes: ``U`` (m, d), the unit rows of the factored form (without it only dense
networks are built); ``advice`` (dense tensors given directly: they override the factored
weights, so only dense networks are built); ``max_dense_bytes``.

Builders live above the engine (:mod:`shinnet.tensors`); the expansions
(:mod:`shinnet.expansions`) turn a model into these objects.
"""

from __future__ import annotations

from typing import Any, Hashable, Protocol, runtime_checkable

import numpy as np

__all__ = ["VertexTensors", "REQUIRED_METHODS", "check_vertex_tensors", "sizes"]

REQUIRED_METHODS = ("weights", "dense", "op_norm", "degree_of", "mean")


@runtime_checkable
class VertexTensors(Protocol):
    """What the engine reads from a set of vertex tensors (see the module docstring)."""

    def weights(self, key: Hashable) -> np.ndarray: ...

    def dense(self, key: Hashable) -> np.ndarray: ...

    def op_norm(self, key: Hashable, q: int) -> float: ...

    def degree_of(self, key: Hashable) -> int: ...

    def mean(self) -> float: ...


def check_vertex_tensors(obj: Any, what: str = "vertex tensors") -> Any:
    """Return ``obj`` if it has every method of :class:`VertexTensors`; else ``TypeError``
    naming the first missing one.  O(1)."""
    for attr in REQUIRED_METHODS:
        if not callable(getattr(obj, attr, None)):
            raise TypeError(f"expected {what} (an object with {', '.join(REQUIRED_METHODS)}; e.g. "
                            f"shinnet.shin_tensors(model, K)); {type(obj).__name__} has no method {attr!r}")
    return obj


def sizes(obj: Any) -> tuple[int, int | None]:
    """``(d, m)``; ``m`` is None when only dense vertices can be used: objects without ``U``,
    and objects carrying dense advice (advice overrides the factored weights, so factored or
    Gram networks would contract the wrong tensors)."""
    U = getattr(obj, "U", None)
    if U is not None and not getattr(obj, "advice", None):
        U = np.asarray(U)
        return int(U.shape[1]), int(U.shape[0])
    if U is not None:
        return int(np.asarray(U).shape[1]), None
    return int(np.asarray(obj.dense(1)).shape[0]), None
