"""The resummed expansion (MATH.md section 8): model -> power-shin block tensors -> the engine.

    kappa_n = sum_{E >= 0} kappa_n^[E],   same-unit terms exact (vertex weights kap = a^p K_{p,k}),
                                          the series in the cosines truncated at E <= max_edges

A model (or a batch of second layers, :mod:`shinnet.expansions.batch`) becomes rows of
:class:`shinnet.tensors.power_shin.PowerShinTensors`, each wrapped as
:class:`shinnet.tensors.blocks.BlockVertices` (block tensors keyed by block label) and summed by
:func:`shinnet.contract.resummed.resummed_cumulants`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shinnet.contract.representation_registry import representation_names
from shinnet.contract.options import ContractOptions
from shinnet.contract.result import CumulantResult
from shinnet.contract.resummed import resummed_cumulants
from shinnet.expansions.batch import vertex_rows
from shinnet.model import TwoLayerMLP
from shinnet.preflight import check_request
from shinnet.tensors.blocks import BlockVertices

__all__ = ["resummed_forms", "run_resummed", "run_resummed_batch", "preflight_resummed", "check_resummed_request"]


def resummed_forms() -> tuple[str, ...]:
    """The representations the resummed expansion takes now: "auto" and the registered ones
    (built in: "hidden", "dspace"); read from the registry at call time, so a registration counts."""
    return representation_names("resummed", auto=True)


def check_resummed_request(order: Any, max_edges: Any, options: ContractOptions, diagrams: Any) -> None:
    """What the resummed expansion refuses, before any work: no ``max_edges``, a non-integer
    order or cosine order, ``contract_mode`` other than "tree", ``diagrams=`` (its classes come
    from :func:`shinnet.enumerate.resummed_diagrams`), a representation other than
    :func:`resummed_forms`.  O(1)."""
    if max_edges is None:
        raise ValueError("expansion='resummed' needs max_edges (the cosine order E_max)")
    if options.contract_mode != "tree":
        raise ValueError("the resummed expansion supports contract_mode='tree' only")
    if diagrams is not None:
        raise ValueError("diagrams= is for the degree expansion; the resummed classes come from "
                         "shinnet.enumerate.resummed_diagrams")
    forms = resummed_forms()
    if options.representation not in forms:
        raise ValueError(f"the resummed expansion's representation is one of {forms}, "
                         f"got {options.representation!r}")
    for name, value in (("order", order), ("max_edges", max_edges)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")


def _sum_rows(rows: list[Any], batch: bool, order: int, max_edges: int, options: ContractOptions,
              exact_variance: Any, build_flops: float) -> CumulantResult:
    blocks = [BlockVertices(t, max_dense_bytes=options.memory_limit) for t in rows]
    return resummed_cumulants(blocks, batch, int(order), int(max_edges), options, exact_variance=exact_variance,
                              build_flops=build_flops)


def run_resummed(model_or_tensors: Any, order: int, options: ContractOptions, *, max_degree: int | None = None,
                 max_edges: int | None = None, diagrams: Any = None, exact_variance: Any = None) -> CumulantResult:
    """``cumulants(..., expansion="resummed")``: a TwoLayerMLP (its power-shin tensors are built
    here, :func:`shinnet.tensors.power_shin.power_shin_tensors`) or a ``PowerShinTensors`` holding
    powers <= order and degrees <= max_edges.  ``max_degree`` and ``options.hypercontractive`` are
    not used."""
    check_resummed_request(order, max_edges, options, diagrams)
    rows, batch, build_flops = vertex_rows(model_or_tensors, None, int(order), int(max_edges))
    return _sum_rows(rows, batch, order, max_edges, options, exact_variance, build_flops)


def run_resummed_batch(models: Any, order: int, options: ContractOptions, *, max_degree: int | None = None,
                       max_edges: int | None = None, second_layers: Any = None, diagrams: Any = None,
                       exact_variance: Any = None) -> CumulantResult:
    """``cumulants_batch(..., expansion="resummed")``: a TwoLayerMLP with ``second_layers`` (B, m),
    a sequence of TwoLayerMLPs sharing the first layer, or a ``PowerShinBatch``.  ``K_{p,k}`` is
    computed once and scaled per row; ``tol_mode="relative"`` is refused (before any work)."""
    check_resummed_request(order, max_edges, options, diagrams)
    if options.relative:
        raise ValueError("tol_mode='relative' is not supported for batches of second layers; use an absolute tol")
    if not isinstance(models, (TwoLayerMLP, list, tuple)):
        models = list(models)
    rows, batch, build_flops = vertex_rows(models, second_layers, int(order), int(max_edges))
    return _sum_rows(rows, batch, order, max_edges, options, exact_variance, build_flops)


def preflight_resummed(order: int, max_degree: int | None, max_edges: int | None, *, d: int, m: int,
                       representation: str = "auto", max_diagrams: float | None = None,
                       max_flops: float | None = None) -> None:
    """Price ``(order, max_edges)`` at sizes (d, m) before any work (:func:`shinnet.preflight.check_request`)."""
    if max_edges is not None:
        check_request(order, max_edges, d=d, m=m, expansion="resummed", max_diagrams=max_diagrams,
                      max_flops=max_flops,
                      what=f"cumulants(order={order}, expansion='resummed', max_edges={max_edges})")
