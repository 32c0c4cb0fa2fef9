"""The degree expansion (MATH.md section 3): model -> shin tensors -> the engine.

    kappa_1 = shin_0,   kappa_n = sum_G weight(G) val(G)   (connected loopless multigraphs on n
                                                            vertices, vertex degrees 1..K)

A :class:`shinnet.TwoLayerMLP` becomes its shin tensors ``T_0..T_K``
(:func:`shinnet.tensors.shin.shin_tensors`); any other object must satisfy the vertex-tensor
protocol (:func:`shinnet.contract.vertices.check_vertex_tensors`, the one check).  The sums are
:func:`shinnet.contract.engine.run_engine`'s.
"""

from __future__ import annotations

from typing import Any, Sequence

from shinnet.contract.engine import run_engine
from shinnet.contract.options import ContractOptions
from shinnet.contract.result import CumulantResult
from shinnet.contract.vertices import check_vertex_tensors
from shinnet.model import TwoLayerMLP
from shinnet.preflight import check_request
from shinnet.tensors import shin
from shinnet.tensors.power_shin import check_second_layers

__all__ = ["vertex_object", "run_degree", "run_degree_batch", "preflight_degree"]


def vertex_object(model_or_shin: Any, max_degree: int) -> Any:
    """Shin tensors ``T_0..T_K`` of a model (built here: ``shin_tensors``, O(m d + m K) plus the
    activation's Hermite coefficients), or a vertex-tensor object as given (checked)."""
    if isinstance(model_or_shin, TwoLayerMLP):
        # looked up on the module at call time (tests count the FLOPs by wrapping it)
        return shin.shin_tensors(model_or_shin, max_degree)
    return check_vertex_tensors(model_or_shin, "a TwoLayerMLP or a vertex-tensor object (ShinTensors)")


def run_degree(model_or_shin: Any, order: int, options: ContractOptions, *, max_degree: int | None = None,
               max_edges: int | None = None, diagrams: Any = None,
               exact_variance: float | None = None) -> CumulantResult:
    """``cumulants(..., expansion="degree")`` for one model: the shin tensors summed by the
    engine.  ``max_edges`` is not used (:func:`shinnet.validation.check_truncations` refuses it)."""
    if max_degree is None:
        raise ValueError("expansion='degree' needs max_degree (the Hermite degree truncation K)")
    obj = vertex_object(model_or_shin, max_degree)
    return run_engine([obj], False, order, max_degree, options, diagrams=diagrams, exact_variance=exact_variance)


def run_degree_batch(models: Any, order: int, options: ContractOptions, *, max_degree: int | None = None,
                     max_edges: int | None = None, second_layers: Any = None, diagrams: Any = None,
                     exact_variance: Any = None) -> CumulantResult:
    """``cumulants_batch(..., expansion="degree")``: one TwoLayerMLP with ``second_layers`` (B, m)
    (row b has ``a = A[b]``), or a sequence of models / vertex objects sharing ``U``; one shin
    tensor set per row, summed by one batched contraction per diagram."""
    if max_edges is not None:
        raise ValueError("max_edges is the resummed expansion's truncation; pass expansion='resummed'")
    if max_degree is None:
        raise ValueError("expansion='degree' needs max_degree (the Hermite degree truncation K)")
    if isinstance(models, TwoLayerMLP):
        A = check_second_layers(second_layers, models.m)
        items: Sequence[Any] = [models.replace(a=row) for row in A]
    else:
        items = list(models)
    if not items:
        raise ValueError("empty batch")
    objs = [vertex_object(x, max_degree) for x in items]
    return run_engine(objs, True, order, max_degree, options, diagrams=diagrams, exact_variance=exact_variance)


def preflight_degree(order: int, max_degree: int | None, max_edges: int | None, *, d: int, m: int,
                     representation: str = "auto", max_diagrams: float | None = None,
                     max_flops: float | None = None) -> None:
    """Price ``(order, max_degree)`` at sizes (d, m) before any work (:func:`shinnet.preflight.check_request`)."""
    if max_degree is not None:
        check_request(order, max_degree, d=d, m=m, representation=representation, max_diagrams=max_diagrams,
                      max_flops=max_flops, what=f"cumulants(order={order}, max_degree={max_degree})")
