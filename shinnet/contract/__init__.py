"""The contraction engine: Wick diagrams -> tensor networks -> cotengra (MATH.md sections 3-5).

The engine knows nothing of models: it sums diagrams whose vertices are served by vertex-tensor
objects (:mod:`shinnet.contract.vertices`).  ``run_engine`` (:mod:`shinnet.contract.engine`) and
``resummed_cumulants`` (:mod:`shinnet.contract.resummed`) take those objects and one
:class:`ContractOptions`; the model-aware calls ``shinnet.cumulants`` / ``cumulants_batch`` live in
:mod:`shinnet.expansions`.  ``paths(...)`` reports the contraction plans.  See docs/contract.md.
"""

from __future__ import annotations

from shinnet.contract.backends import ArrayProvider, backends, register_backend
from shinnet.contract.bounds import EXACT_MAX_ORDER, NormTable, best_bound, order_bound
from shinnet.contract.diagnostics import ConvergenceWarning, is_diverging
from shinnet.contract.executor import DiagramExecutor, InlineExecutor
from shinnet.contract.network import REPRESENTATIONS, Network, build_network
from shinnet.contract.options import ContractOptions
from shinnet.contract.pathcache import PathCache, default_optimizer
from shinnet.contract.representation_registry import Representation, lookup_representation, register_representation
from shinnet.contract.report import PathRecord, paths
from shinnet.contract.result import ConvergenceReport, CumulantResult, DiagramRecord

__all__ = [
    "Representation",
    "lookup_representation",
    "register_representation",
    "ContractOptions",
    "paths",
    "CumulantResult",
    "DiagramRecord",
    "DiagramExecutor",
    "InlineExecutor",
    "ConvergenceReport",
    "ConvergenceWarning",
    "PathCache",
    "PathRecord",
    "Network",
    "NormTable",
    "REPRESENTATIONS",
    "EXACT_MAX_ORDER",
    "ArrayProvider",
    "best_bound",
    "order_bound",
    "build_network",
    "backends",
    "register_backend",
    "default_optimizer",
    "is_diverging",
]
