"""shinnet: mechanistic estimates of two-layer MLP outputs from their weights.

The cumulants of ``f(x) = c + sum_j a_j sigma(w_j . x + b_j)`` under ``x ~ N(0, I)`` are sums
of connected Wick diagrams of the Hermite coefficient ("shin") tensors of f; shinnet
enumerates those diagrams, contracts them with cotengra, prunes them with operator-norm
bounds, and turns the cumulants into ``E[psi(f)]`` and tail probabilities.  See
``docs/mathematics.md``.

Heavy submodules load on first use, so ``import shinnet`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from shinnet.model import TwoLayerMLP
from shinnet.result import Estimate

# The function shadows its module (shinnet/estimate.py): importing the submodule would otherwise
# rebind ``shinnet.estimate`` to the module object, so bind the function eagerly (it is light).
from shinnet.estimate import estimate

# Same for ``hybrid`` (shinnet/hybrid.py): bound eagerly (scipy.stats loads only on first Sobol use).
from shinnet.hybrid import hybrid

__version__ = "0.1.0"

# public name -> module that defines it (loaded lazily)
_LAZY = {
    "shin_tensors": "shinnet.tensors.shin",
    "ShinTensors": "shinnet.tensors.shin",
    "monte_carlo": "shinnet.sampling",
    "cumulants": "shinnet.expansions",
    "cumulants_batch": "shinnet.expansions",
    "active_directions": "shinnet.conditioning",
    "estimate_conditioned": "shinnet.conditioning",
    "tail_probability": "shinnet.tails",
    "importance_sampling": "shinnet.tails",
    "BudgetError": "shinnet.budget",
    "BudgetWarning": "shinnet.budget",
    "RequestTooLarge": "shinnet.preflight",
    "RequestMemoryError": "shinnet.memory",
    "UnreliableEstimateWarning": "shinnet.reliability",
}
_SUBMODULES = {
    "activations", "zoo", "series", "enumerate", "contract", "tensors", "kernels", "expansions", "sampling", "hermite",
    "conditioning", "tails", "budget", "defaults", "preflight", "reliability", "memory",
}

# ``enumerate`` is a submodule, not exported by ``import *`` (it would shadow the builtin).
__all__ = ["TwoLayerMLP", "Estimate", "estimate", "hybrid", *_LAZY, *sorted(_SUBMODULES - {"enumerate"})]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return import_module(f"shinnet.{name}")
    raise AttributeError(f"module 'shinnet' has no attribute {name!r}")
