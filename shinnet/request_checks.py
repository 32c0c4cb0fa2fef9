"""Checks every estimator request passes before any work (issue 10, items 5, 9, 10).

- :func:`validate_request`: types and ranges of ``order``, ``max_degree``, ``max_edges``,
  ``series_order``, ``tol``, ``expansion``, each error naming the argument;
- :func:`preflight`: the pre-flight cost check of :mod:`shinnet.preflight` at the model's sizes;
- :func:`check_scale`: a model whose cumulants would overflow float64 is refused naming the
  parameter that makes it so;
- :func:`constant_estimate`: the exact answer ``psi(c')`` for a constant f (``kappa_2 = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from shinnet import defaults
from shinnet.model import TwoLayerMLP
from shinnet.preflight import RequestCost, check_request
from shinnet.result import Estimate
from shinnet.validation import as_int, check_device, check_truncations

__all__ = ["Request", "check_device", "validate_request", "preflight", "check_scale", "constant_estimate", "EXPANSIONS"]

EXPANSIONS = ("degree", "resummed", "auto")
#: log10 of the largest cumulant scale accepted (float64 overflows at 1.8e308)
_MAX_LOG10_SCALE = 300.0


@dataclass(frozen=True)
class Request:
    """A validated request: integers where integers are meant, defaults filled in."""

    order: int
    max_degree: int | None
    max_edges: int | None
    series_order: int
    expansion: str
    tol: float


def validate_request(order: Any, max_degree: Any, max_edges: Any, expansion: Any, series_order: Any,
                     tol: Any) -> Request:
    """Check the arguments of :func:`shinnet.estimate` (before any work).

    Raises ``TypeError`` for non-integers (``order="4"``, ``max_edges=2.5``) and ``ValueError`` for
    out-of-range values or contradictory combinations (``max_edges`` with ``expansion="degree"``,
    which would be silently ignored), each message naming the argument.
    """
    if expansion not in EXPANSIONS:
        raise ValueError(f"expansion must be one of {EXPANSIONS}, got {expansion!r}")
    order, max_degree, max_edges = check_truncations(order, max_degree, max_edges, expansion, min_order=2)
    if max_edges is None and expansion != "degree":
        max_edges = defaults.DEFAULT_MAX_EDGES
    if expansion != "resummed" and max_degree is None:
        raise ValueError(f"expansion={expansion!r} needs max_degree (the Hermite degree truncation K)")
    q = order - 2 if series_order is None else as_int("series_order", series_order)
    if not 0 <= q <= order - 2:
        raise ValueError(f"series_order must be in [0, order - 2] = [0, {order - 2}], got {series_order}")
    if isinstance(tol, (str, bytes)) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be a number >= 0, got {tol!r}")
    if not math.isfinite(float(tol)) or float(tol) < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return Request(order, max_degree, max_edges, q, expansion, float(tol))


def preflight(mlp: TwoLayerMLP, req: Request, representation: str = "auto", max_diagrams: float | None = None,
              max_flops: float | None = None) -> list[RequestCost]:
    """Price the request at the model's sizes (:func:`shinnet.preflight.check_request`); raises
    :class:`shinnet.preflight.RequestTooLarge` with the cost and what to ask instead.  ``auto``
    prices both expansions (it may run both).  Cost: well under a second."""
    out = []
    kw = dict(d=mlp.d, m=mlp.m, max_diagrams=max_diagrams, max_flops=max_flops)
    if req.expansion in ("degree", "auto"):
        out.append(check_request(req.order, int(req.max_degree), expansion="degree", representation=representation,
                                 what=f"estimate(order={req.order}, max_degree={req.max_degree})", **kw))
    if req.expansion in ("resummed", "auto"):
        out.append(check_request(req.order, int(req.max_edges), expansion="resummed",
                                 what=f"estimate(order={req.order}, expansion='resummed', max_edges={req.max_edges})",
                                 **kw))
    return out


def check_scale(mlp: TwoLayerMLP, order: int) -> None:
    """Refuse a model whose cumulants up to ``order`` would overflow float64.

    ``|f - E f| <= sum_j |a_j| |sigma(w_j.x + b_j) - E sigma|`` and the registered activations grow
    at most like ``C (1 + |z|)^p`` (p = 1, or the degree of a polynomial activation), so ``kappa_n``
    scales like ``S^n`` with ``S = sum_j |a_j| (1 + r_j + |b_j|)^p``.  When ``n log10 S > 300`` the
    error names the parameter (``a``, ``W`` or ``b``) that makes the largest unit term large.
    Cost O(m d).
    """
    r, _ = mlp.unit_rows()
    p = max(1, int(mlp.hidden.polynomial_degree or 1))
    with np.errstate(over="ignore", divide="ignore"):
        log_terms = np.log10(np.abs(mlp.a)) + p * np.log10(1.0 + r + np.abs(mlp.b))
    finite = np.isfinite(log_terms)
    if not np.any(finite):
        return
    top = float(log_terms[finite].max())
    log_scale = top + math.log10(float(np.sum(10.0 ** (log_terms[finite] - top))))
    if order * log_scale <= _MAX_LOG10_SCALE:
        return
    j = int(np.argmax(np.where(finite, log_terms, -np.inf)))
    shares = {"a": math.log10(abs(float(mlp.a[j]))), "W": p * math.log10(1.0 + float(r[j])),
              "b": p * math.log10(1.0 + abs(float(mlp.b[j])))}
    name = max(shares, key=shares.__getitem__)
    what = {"a": f"|a[{j}]| = {abs(float(mlp.a[j])):.3g}", "W": f"|W[{j}]| = {float(r[j]):.3g} (row norm)",
            "b": f"|b[{j}]| = {abs(float(mlp.b[j])):.3g}"}[name]
    raise ValueError(
        f"{name} is out of range for order {order}: {what}, so sum_j |a_j| (1 + |w_j| + |b_j|)^{p} = "
        f"1e{log_scale:.0f} and kappa_{order} ~ 1e{order * log_scale:.0f} would overflow float64. "
        f"Rescale {name} (e.g. standardise the inputs, or f -> f / s for the identity output) or lower the order"
    )


def constant_estimate(mlp: TwoLayerMLP, order: int, q: int, wall: float, details: dict[str, Any]) -> Estimate:
    """The exact answer for a constant f: ``E[psi(f)] = psi(c')``, ``kappa_1 = c'``, ``kappa_n = 0``
    for n >= 2 (every cumulant beyond the mean of a constant vanishes).  Cost O(m)."""
    c1 = mlp.constant_value()
    value = float(np.asarray(mlp.output.value(np.array([c1])), dtype=np.float64)[0])
    kappa = {1: c1, **{n: 0.0 for n in range(2, order + 1)}}
    return Estimate(
        value=value, method="degree", stderr=None,
        error_budget={"pruned": 0.0, "degree_truncation": 0.0, "series_last_term": 0.0},
        flops=float(2 * mlp.m), flops_with_advice=float(2 * mlp.m), wall_time=wall, kappa=kappa,
        details={**details, "order": order, "series_order": q, "exact": "constant f: E[psi(f)] = psi(c')",
                 "unreliable_reasons": []},
        reliable=True,
    )
