"""Model -> vertex rows of the resummed expansion, for one model or a batch of second layers
(MATH.md section 8).

A batch shares the first layer (``W``, ``b``, the hidden activation) and varies the second:
row b has ``a = A[b]``, so its vertex weights are ``kap_b[u, p, k] = A[b, u]^p K_{p,k}(r_u, b_u)``
with ``K_{p,k}`` computed once (:func:`shinnet.tensors.power_shin.power_shin_batch`).  Every weight
vector then carries the batch index; the Gram powers, path searches and ``lambda*`` (a function
of U only) are shared by the engine (:func:`shinnet.contract.resummed.resummed_cumulants`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shinnet.model import TwoLayerMLP
from shinnet.tensors import power_shin

__all__ = ["power_vertex_object", "vertex_rows"]


def power_vertex_object(model_or_tensors: Any, order: int, max_edges: int) -> Any:
    """``power_shin_tensors(model, order, max_edges)`` for a model; a ``PowerShinTensors`` is
    checked to hold powers up to ``order`` and degrees up to ``max_edges``."""
    if isinstance(model_or_tensors, TwoLayerMLP):
        # looked up on the module at call time (tests count the FLOPs by wrapping it)
        return power_shin.power_shin_tensors(model_or_tensors, max_power=max(int(order), 1), max_degree=int(max_edges))
    for attr in ("block_weights", "block_tensor", "weights", "mean"):
        if not callable(getattr(model_or_tensors, attr, None)):
            raise TypeError(f"the resummed expansion needs a TwoLayerMLP or a PowerShinTensors; "
                            f"{type(model_or_tensors).__name__} has no method {attr!r}")
    P, K = int(model_or_tensors.max_power), int(model_or_tensors.max_degree)
    if P < order or K < max_edges:
        raise ValueError(f"PowerShinTensors hold powers <= {P} and degrees <= {K}; order {order} and max_edges "
                         f"{max_edges} need powers <= {order} and degrees <= {max_edges}")
    return model_or_tensors


def _batch_of_models(models: Sequence[Any]) -> tuple[Any, np.ndarray, np.ndarray]:
    """(first model, A (B, m), c (B,)) for models sharing the first layer; ValueError otherwise."""
    first = models[0]
    for i, mdl in enumerate(models):
        if not isinstance(mdl, TwoLayerMLP):
            raise TypeError(f"a resummed batch is one TwoLayerMLP with second_layers, or a sequence of "
                            f"TwoLayerMLPs; item {i} is a {type(mdl).__name__}")
        same = (mdl.W.shape == first.W.shape and np.array_equal(mdl.W, first.W) and np.array_equal(mdl.b, first.b)
                and (mdl.hidden is first.hidden or mdl.hidden.name == first.hidden.name))
        if not same:
            raise ValueError(f"a batch must share the first layer (W, b and the hidden activation); model {i} differs")
    return first, np.stack([mdl.a for mdl in models]), np.array([mdl.c for mdl in models], dtype=np.float64)


def vertex_rows(model_or_tensors: Any, second_layers: Any, order: int, max_edges: int) -> tuple[list[Any], bool, float]:
    """The vertex-weight objects of one call: ``(rows, batch, build_flops)``.

    Parameters
    ----------
    model_or_tensors : TwoLayerMLP, PowerShinTensors, PowerShinBatch or sequence of TwoLayerMLP
        With ``second_layers`` (B, m), a single TwoLayerMLP gives the batch ``a = A[b]``; a sequence
        of models sharing the first layer is a batch with their own ``a`` and ``c``.
    second_layers : array (B, m) or None

    Returns
    -------
    rows : list of PowerShinTensors
        One (single model) or B (batch).
    batch : bool
    build_flops : float
        ``K_{p,k}`` once plus the per-row scaling (batch), or the single object's build cost.
    """
    P, K = max(int(order), 1), int(max_edges)
    if second_layers is not None:
        if not isinstance(model_or_tensors, TwoLayerMLP):
            raise ValueError("second_layers is only used with a single TwoLayerMLP (its first layer is shared)")
        pb = power_shin.power_shin_batch(model_or_tensors, second_layers, P, K)
    elif isinstance(model_or_tensors, power_shin.PowerShinBatch):
        pb = model_or_tensors
        for t in pb.rows:
            power_vertex_object(t, order, max_edges)
    elif isinstance(model_or_tensors, (list, tuple)):
        if not model_or_tensors:
            raise ValueError("empty batch")
        first, A, c = _batch_of_models(model_or_tensors)
        pb = power_shin.power_shin_batch(first, A, P, K, c=c)
    else:
        obj = power_vertex_object(model_or_tensors, order, max_edges)
        return [obj], False, float(obj.build_flops)
    return list(pb.rows), True, float(pb.build_flops)
