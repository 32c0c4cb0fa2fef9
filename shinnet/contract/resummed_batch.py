"""Inputs and reports of the resummed engine for one model or a batch of second layers
(MATH.md section 8).

A batch shares the first layer (``W``, ``b``, the hidden activation) and varies the second:
row b has ``a = A[b]``, so its vertex weights are ``kap_b[u, p, k] = A[b, u]^p K_{p,k}(r_u, b_u)``
with ``K_{p,k}`` computed once (:func:`shinnet.power_shin.power_shin_batch`).  Every weight
vector then carries the batch index (hidden-unit form: ``kap`` vectors (B, m); d-space: block
weights (B, m), dense block tensors (B, d^legs)); the Gram powers, path searches and ``lambda*``
(a function of U only) are shared.  This module turns the caller's input into those vertex rows
and builds the per-row convergence reports.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from shinnet.contract.diagnostics import ConvergenceWarning
from shinnet.contract.lambda_star import resummed_report, warn_if_asymptotic

__all__ = ["power_vertex_object", "vertex_rows", "batch_reports"]


def power_vertex_object(model_or_tensors: Any, order: int, max_edges: int) -> Any:
    """``power_shin_tensors(model, order, max_edges)`` for a model; a ``PowerShinTensors`` is
    checked to hold powers up to ``order`` and degrees up to ``max_edges``."""
    from shinnet.model import TwoLayerMLP

    if isinstance(model_or_tensors, TwoLayerMLP):
        from shinnet.power_shin import power_shin_tensors

        return power_shin_tensors(model_or_tensors, max_power=max(int(order), 1), max_degree=int(max_edges))
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
    from shinnet.model import TwoLayerMLP

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
    from shinnet.model import TwoLayerMLP
    from shinnet.power_shin import PowerShinBatch, power_shin_batch

    P, K = max(int(order), 1), int(max_edges)
    if second_layers is not None:
        if not isinstance(model_or_tensors, TwoLayerMLP):
            raise ValueError("second_layers is only used with a single TwoLayerMLP (its first layer is shared)")
        pb = power_shin_batch(model_or_tensors, second_layers, P, K)
    elif isinstance(model_or_tensors, PowerShinBatch):
        pb = model_or_tensors
        for t in pb.rows:
            power_vertex_object(t, order, max_edges)
    elif isinstance(model_or_tensors, (list, tuple)):
        if not model_or_tensors:
            raise ValueError("empty batch")
        first, A, c = _batch_of_models(model_or_tensors)
        pb = power_shin_batch(first, A, P, K, c=c)
    else:
        obj = power_vertex_object(model_or_tensors, order, max_edges)
        return [obj], False, float(obj.build_flops)
    return list(pb.rows), True, float(pb.build_flops)


def batch_reports(terms: dict[int, list[np.ndarray]], lam: Any, exact_variance: Any, batch: bool,
                  warn: bool) -> dict[int, Any]:
    """Convergence reports from the terms ``kappa_n^[E]`` (arrays (B,) per E).

    Single model: ``{n: ResummedReport}``.  Batch: ``{n: tuple of B ResummedReport}``, row b's
    report at ``[n][b]`` (lambda* is shared, so every row's ``asymptotic`` agrees).  ``exact_variance``
    is a float (single) or an array (B,) (batch), giving the n = 2 reports' ``exact_tail``.
    With ``warn``, one :class:`ConvergenceWarning` when lambda* >= 1.
    """
    B = int(np.asarray(next(iter(terms.values()))[0]).shape[0]) if terms else 1
    ev = None if exact_variance is None else np.broadcast_to(np.asarray(exact_variance, dtype=np.float64), (B,))

    def row(n: int, b: int) -> Any:
        return resummed_report(n, [float(t[b]) for t in terms[n]], lam.at(n),
                               float(ev[b]) if (ev is not None and n == 2) else None)

    if not batch:
        reports = {n: row(n, 0) for n in terms}
        if warn:
            warn_if_asymptotic(reports)
        return reports
    out = {n: tuple(row(n, b) for b in range(B)) for n in terms}
    bad = [n for n, reps in sorted(out.items()) if reps and reps[0].asymptotic]
    if warn and bad:
        warnings.warn(
            f"resummed expansion (batch of {B} second layers): lambda* >= 1, so the series in the cosines is only "
            "asymptotic (MATH.md section 8) for " + ", ".join(f"kappa_{n} (lambda*~{lam.at(n):.3g})" for n in bad)
            + "; per-row best partial sums are in result.convergence[n][b].best_value",
            ConvergenceWarning, stacklevel=3,
        )
    return out
