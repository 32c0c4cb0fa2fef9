"""Argument checks of :func:`shinnet.contract.cumulants`, before any work (issue 10, items 5, 10, 13).

Integers where integers are meant (``order="4"``, ``max_edges=2.5`` are refused), no truncation
that would be silently ignored (``max_edges`` with the degree expansion), devices that exist
(``device="cuda"`` without CUDA), a torch ``nn.Sequential`` read as a model, and the pre-flight
cost check of :mod:`shinnet.preflight` at the model's sizes.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

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
                           diagrams: Any = None) -> tuple[Any, int, int | None, int | None]:
    """Validate and price a :func:`~shinnet.contract.cumulants` request; returns
    ``(model_or_shin, order, max_degree, max_edges)`` with a torch module converted and integers
    normalised.  Raises ``TypeError``/``ValueError`` naming the argument, ``RuntimeError`` for a
    missing device, :class:`shinnet.preflight.RequestTooLarge` for what cannot finish.
    Cost: well under a second."""
    from shinnet.model import as_model
    from shinnet.preflight import check_request

    if expansion not in ("degree", "resummed", "auto"):
        raise ValueError(f"expansion must be 'degree', 'resummed' or 'auto', got {expansion!r}")
    torch = sys.modules.get("torch")  # only a torch object can be an nn.Module: no import needed
    if torch is not None and isinstance(model_or_shin, torch.nn.Module):
        model_or_shin = as_model(model_or_shin, "cumulants")
    order, max_degree, max_edges = check_truncations(order, max_degree, max_edges, expansion, min_order=1)
    check_device(backend, device)
    sizes = _sizes(model_or_shin)
    if sizes is not None and diagrams is None:
        d, m = sizes
        if expansion in ("degree", "auto") and max_degree is not None:
            check_request(order, max_degree, d=d, m=m, representation=representation, max_diagrams=max_diagrams,
                          max_flops=max_flops, what=f"cumulants(order={order}, max_degree={max_degree})")
        if expansion in ("resummed", "auto") and max_edges is not None:
            check_request(order, max_edges, d=d, m=m, expansion="resummed", max_diagrams=max_diagrams,
                          max_flops=max_flops,
                          what=f"cumulants(order={order}, expansion='resummed', max_edges={max_edges})")
    return model_or_shin, order, max_degree, max_edges
