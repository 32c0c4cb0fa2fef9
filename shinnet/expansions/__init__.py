"""The expansion layer: the only code that knows both models and the engine (issue 11).

    TwoLayerMLP --(expansion: degree | resummed | auto | registered)--> vertex tensors
                --(shinnet.contract: diagrams, networks, pruning, sums)--> CumulantResult

:func:`cumulants` and :func:`cumulants_batch` (public as ``shinnet.cumulants``,
``shinnet.cumulants_batch``) check the request, build one
:class:`shinnet.contract.options.ContractOptions` and dispatch through the registry
(:mod:`shinnet.expansions.registry`); :func:`cumulants_weight_batch` sums a
:class:`shinnet.tensors.weight_batch.WeightBatch` (conditioning).
"""

from __future__ import annotations

from shinnet.expansions.api import cumulants, cumulants_batch
from shinnet.expansions.auto import choose_expansion, settling
from shinnet.expansions.registry import (
    Expansion,
    expansions,
    get_expansion,
    register_expansion,
    unregister_expansion,
)
from shinnet.expansions.weight_batch import WeightBatch, cumulants_weight_batch

__all__ = [
    "cumulants",
    "cumulants_batch",
    "cumulants_weight_batch",
    "WeightBatch",
    "Expansion",
    "expansions",
    "get_expansion",
    "register_expansion",
    "unregister_expansion",
    "choose_expansion",
    "settling",
]
