"""Argument checks of :func:`shinnet.cumulants`, before any work (issue 10, items 5, 10, 13).

A registered expansion name (:func:`shinnet.expansions.registry.get_expansion`), integers where
integers are meant (``order="4"``, ``max_edges=2.5`` are refused), no truncation that would be
silently ignored (``max_edges`` with the degree expansion), devices that exist
(``device="cuda"`` without CUDA), a torch ``nn.Sequential`` read as a model, and the expansion's
pre-flight cost check (:mod:`shinnet.preflight`) at the model's sizes.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from shinnet.expansions.registry import Expansion, get_expansion
from shinnet.model import as_model
from shinnet.validation import check_device, check_truncations

__all__ = ["check_cumulant_request", "check_device"]


def _sizes(obj: Any) -> tuple[int, int] | None:
    """(d, m) of a model or a vertex object with ``U``; None when unknown."""
    d, m = getattr(obj, "d", None), getattr(obj, "m", None)
    if isinstance(d, (int, np.integer)) and isinstance(m, (int, np.integer)):
        return int(d), int(m)
    U = getattr(obj, "U", None)
    if U is not None:
        shape = np.shape(U)
        if len(shape) == 2:
            return int(shape[1]), int(shape[0])
    return None


def check_cumulant_request(model_or_shin: Any, order: Any, max_degree: Any, max_edges: Any, expansion: str,
                           backend: str, device: Any, representation: str = "auto",
                           max_diagrams: float | None = None, max_flops: float | None = None,
                           diagrams: Any = None) -> tuple[Expansion, Any, int, int | None, int | None]:
    """Validate and price a :func:`~shinnet.cumulants` request; returns
    ``(expansion, model_or_shin, order, max_degree, max_edges)`` with the registered
    :class:`Expansion`, a torch module converted and integers normalised.  Raises
    ``TypeError``/``ValueError`` naming the argument (an unknown expansion: the registered ones),
    ``RuntimeError`` for a missing device, :class:`shinnet.preflight.RequestTooLarge` for what
    cannot finish.  Cost: well under a second."""
    exp = get_expansion(expansion)
    torch = sys.modules.get("torch")  # only a torch object can be an nn.Module: no import needed
    if torch is not None and isinstance(model_or_shin, torch.nn.Module):
        model_or_shin = as_model(model_or_shin, "cumulants")
    order, max_degree, max_edges = check_truncations(order, max_degree, max_edges, exp.name, min_order=1)
    check_device(backend, device)
    sizes = _sizes(model_or_shin)
    if sizes is not None and diagrams is None and exp.preflight is not None:
        d, m = sizes
        exp.preflight(order, max_degree, max_edges, d=d, m=m, representation=representation,
                      max_diagrams=max_diagrams, max_flops=max_flops)
    return exp, model_or_shin, order, max_degree, max_edges
