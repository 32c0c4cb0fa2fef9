"""Vertex tensors of a two-layer MLP (MATH.md sections 2 and 8): the layer between the model and
the contraction engine.

- :mod:`shinnet.tensors.shin`: shin tensors ``T_k`` (Hermite coefficient tensors), factored
  ``sum_j a_j h_k(j) w_j^(x)k`` and dense, with operator norms (:mod:`shinnet.kernels.norms`).
- :mod:`shinnet.tensors.power_shin`: power-shin tensors ``K_{p,k}`` of the resummed expansion.
- :mod:`shinnet.tensors.cumulant_vertices`: cumulant vertices of the series layer.
- :mod:`shinnet.tensors.blocks`, :mod:`shinnet.tensors.weight_batch`: resummed block tensors; per-node
  conditional vertex weights (MATH.md 8, 9).
- array kernels and validation shared with the engine live in :mod:`shinnet.kernels`.

Everything here satisfies the vertex-tensor protocol of :mod:`shinnet.contract.vertices`.
"""

from __future__ import annotations

from shinnet.tensors.shin import (
    ShinTensors,
    shin_tensors,
)
from shinnet.tensors.power_shin import (
    PowerShinTensors,
    PowerShinBatch,
    power_shin_tensors,
    power_shin_batch,
    unit_cumulants,
    check_second_layers,
    hidden_unit_value,
)
from shinnet.tensors.cumulant_vertices import (
    cumulant_vertices,
    cumulant_vertices_flops,
)

from shinnet.tensors.blocks import BlockVertices
from shinnet.tensors.weight_batch import WeightBatch

__all__ = [
    "ShinTensors", "shin_tensors", "PowerShinTensors", "PowerShinBatch", "power_shin_tensors", "power_shin_batch",
    "unit_cumulants", "check_second_layers", "hidden_unit_value", "cumulant_vertices", "cumulant_vertices_flops",
    "BlockVertices", "WeightBatch",
]
