"""``tail_probability(mlp, t)``: ``P(f > t)`` (or ``P(psi(f) > t)``) from the weights.

Methods (each reports its own error signals; ``method="auto"`` lets them decide per t):

* ``exact`` -- f depends on at most two directions (rank of the live rows of W <= 2) or is one
  unit: level-crossing integration / closed form (:mod:`shinnet.tails.exact`).  Always preferred.
* ``conditioning`` -- exact outer integral along the dominating direction(s), normal inner tail
  (:mod:`shinnet.tails.conditioned`, :mod:`shinnet.tails.conditioned2`, MATH.md section 9).
* ``saddlepoint`` -- Lugannani-Rice on the resummed CGF (:mod:`shinnet.tails.saddle`, section 8).

``auto``: exact when it applies; otherwise both others, and per t the one whose summed budget is
the smaller fraction of its value.  ``details["unreliable"][i]`` is True when the chosen budget
exceeds ``reliable_rtol`` of the value (the budgets are error *signals*, not bounds, except
``exact``'s and the ``degree`` parts).  Values are clipped to [0, 1] and made non-increasing in t
(``details["monotone_adjusted"]`` counts the thresholds that needed it).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shinnet.model import TwoLayerMLP
from shinnet.tails.conditioned import conditioned_tail
from shinnet.tails.conditioned2 import conditioned_tail_2d
from shinnet.tails.direction import dominating_points
from shinnet.tails.exact import exact_tail
from shinnet.tails.inputs import check_thresholds, thresholds_on_f
from shinnet.tails.moments import DEFAULT_DEGREE
from shinnet.tails.result import TailEstimate
from shinnet.tails.saddle import saddlepoint_tails

__all__ = ["tail_probability", "METHODS"]

METHODS = ("auto", "exact", "conditioning", "saddlepoint")
_BUDGET_KEYS = ("exact", "quadrature", "degree", "inner", "dependence", "saddlepoint")


def _run_exact(net: TwoLayerMLP, s: np.ndarray, max_rank: int) -> dict[str, Any] | None:
    out = exact_tail(net, s, max_rank=max_rank)
    if out is None:
        return None
    return {"probability": out["probability"], "budget": {"exact": out["error"]}, "method": out["method"],
            "flops": 0.0, "extra": {"rank": out["rank"]}}


def _run_conditioning(net: TwoLayerMLP, s: np.ndarray, degree: int, rtol: float, seed: int,
                      condition_rank: int) -> dict[str, Any]:
    """Per t: r = 1 along the best dominating point; with ``condition_rank = 2`` and a second distinct
    dominating point, r = 2 on both (the value) and ``inner = max(|P_2 - P_1|, skew signal)``."""
    T = s.size
    p = np.zeros(T)
    budget = {"quadrature": np.zeros(T), "degree": np.zeros(T), "inner": np.zeros(T)}
    radius, rank, flops = np.zeros(T), np.zeros(T, dtype=int), 0.0
    one_dir, lr3 = np.zeros(T), np.zeros(T)
    for i, tv in enumerate(s):
        dps = dominating_points(net, float(tv), seed=seed)
        flops += dps[0].flops
        radius[i] = dps[0].radius
        o = conditioned_tail(net, float(tv), degree=degree, rtol=rtol, direction=dps[0].direction)
        o["radius"] = dps[0].radius
        p[i], one_dir[i], lr3[i], rank[i] = o["probability"], o["probability"], o["lr3"], 1
        for k, v in o["budget"].items():
            budget[k][i] = v
        flops += o["flops"]
        if condition_rank == 2 and len(dps) > 1 and net.d >= 2 and dps[0].radius > 0:
            v1 = dps[0].direction
            v2 = dps[1].direction - v1 * (v1 @ dps[1].direction)
            if np.linalg.norm(v2) > 1e-3:
                V = np.stack([v1, v2 / np.linalg.norm(v2)], axis=1)
                o2 = conditioned_tail_2d(net, float(tv), V, max(dps[0].radius, dps[1].radius),
                                         degree=min(degree, 12), rtol=max(rtol, 1e-2))
                flops += o2["flops"]
                budget["inner"][i] = max(budget["inner"][i], abs(o2["probability"] - p[i]))
                p[i], rank[i] = o2["probability"], 2
                budget["quadrature"][i] = o2["budget"]["quadrature"]
                budget["degree"][i] = o2["budget"]["degree"]
    return {"probability": p, "budget": budget, "method": "conditioning", "flops": flops,
            "extra": {"radius": radius, "rank": rank, "one_direction": one_dir, "one_direction_lr3": lr3}}


def _run_saddlepoint(net: TwoLayerMLP, s: np.ndarray, degree: int) -> dict[str, Any]:
    o = saddlepoint_tails(net, s, degree=degree)
    budget = dict(o["budget"])
    budget["dependence"] = np.where(o["failed"], np.maximum(o["probability"], 1.0), budget["dependence"])
    return {"probability": o["probability"], "budget": budget, "method": "saddlepoint", "flops": o["flops"],
            "extra": {"theta": o["theta"], "coupling_share": o["share"], "failed": o["failed"]}}


def _relative(res: dict[str, Any]) -> np.ndarray:
    total = np.sum([np.abs(v) for v in res["budget"].values()], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(res["probability"] > 0, total / res["probability"], np.where(total > 0, np.inf, 0.0))
    return rel


def tail_probability(mlp: TwoLayerMLP, t: Any, *, output: bool = False, method: str = "auto",
                     degree: int = DEFAULT_DEGREE, rtol: float = 1e-3, reliable_rtol: float = 0.3,
                     max_exact_rank: int = 2, condition_rank: int = 2, seed: int = 0) -> TailEstimate:
    """``P(f > t)``, or with ``output=True`` ``P(psi(f) > t)`` for monotone psi, for every threshold.

    Parameters
    ----------
    mlp : TwoLayerMLP
    t : float or 1-d sequence of finite floats
    output : bool
        Tail of ``y = psi(f)``; psi must be monotone (``NotMonotoneError`` otherwise), and
        ``P(psi(f) > t) = P(f > psi^{-1}(t))`` (generalized inverse; decreasing psi flips f).
    method : {"auto", "exact", "conditioning", "saddlepoint"}
        ``"exact"`` raises when f depends on more than ``max_exact_rank`` directions.
    degree : int
        Hermite degree K of the cosine series in the conditional variances.
    rtol : float
        Target relative accuracy of the conditioning's outer quadrature.
    reliable_rtol : float
        A value whose relative budget exceeds this is flagged ``unreliable``.
    max_exact_rank : int
        1 or 2.
    condition_rank : int
        1: condition on the best dominating direction only; 2 (default): also on the second
        dominating point when one exists (the r = 1 answer then feeds the ``inner`` signal).
    seed : int
        Seeds the random starts of the dominating-point search.

    Returns
    -------
    TailEstimate
        ``value`` (float for scalar t, else (T,)); ``error_budget`` (absolute, per t: ``exact``, ``inner``,
        ``quadrature``, ``degree``, ``dependence``, ``saddlepoint``); ``details``: ``method``
        (per t), ``unreliable`` (per t), ``relative_budget``, ``thresholds_on_f``, the candidates'
        values (``candidates``) and per-method diagnostics.
    """
    start = time.perf_counter()
    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"mlp must be a TwoLayerMLP, got {type(mlp).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if condition_rank not in (1, 2):
        raise ValueError(f"condition_rank must be 1 or 2, got {condition_rank!r}")
    if max_exact_rank not in (1, 2):
        raise ValueError(f"max_exact_rank must be 1 or 2, got {max_exact_rank!r}")
    if not (isinstance(degree, (int, np.integer)) and 1 <= degree <= 60):
        raise ValueError(f"degree must be an integer in 1..60, got {degree!r}")
    flat, shape = check_thresholds(t)
    net, s = thresholds_on_f(mlp, flat, output)
    T = flat.size
    value = np.where(s == -np.inf, 1.0, 0.0)
    budget = {k: np.zeros(T) for k in _BUDGET_KEYS}
    chosen = np.array(["limit"] * T, dtype=object)
    rel_out = np.zeros(T)
    finite = np.isfinite(s)
    flops, candidates, extras = 0.0, {}, {}
    if np.any(finite):
        sf = s[finite]
        runs = []
        ex = _run_exact(net, sf, max_exact_rank) if method in ("auto", "exact") else None
        if method == "exact" and ex is None:
            raise ValueError(f"method='exact' needs f to depend on at most {max_exact_rank} directions; "
                             "the live rows of W span more (use 'auto')")
        if ex is not None:
            runs = [ex]
        else:
            if method in ("auto", "conditioning"):
                runs.append(_run_conditioning(net, sf, degree, rtol, seed, condition_rank))
            if method in ("auto", "saddlepoint"):
                runs.append(_run_saddlepoint(net, sf, degree))
        rels = np.array([_relative(r) for r in runs])
        pick = np.argmin(rels, axis=0)
        idx = np.nonzero(finite)[0]
        for j, r in enumerate(runs):
            sel = pick == j
            value[idx[sel]] = r["probability"][sel]
            for k, v in r["budget"].items():
                budget[k][idx[sel]] = np.asarray(v)[sel]
            chosen[idx[sel]] = r["method"]
            rel_out[idx[sel]] = rels[j][sel]
            flops += r["flops"]
            candidates[r["method"]] = r["probability"]
            extras[r["method"]] = r["extra"]
    if not np.all(np.isfinite(value)):
        bad = flat[~np.isfinite(value)]
        raise FloatingPointError(f"tail_probability produced non-finite values at t = {bad[:3]} (methods {set(chosen)})")
    value = np.clip(value, 0.0, 1.0)
    order = np.argsort(s, kind="stable")
    mono = np.minimum.accumulate(value[order])
    adjusted = int(np.sum(mono < value[order]))
    value[order] = mono
    unreliable = ~(rel_out <= reliable_rtol)
    budget = {k: v for k, v in budget.items() if np.any(v)}
    scalar = shape == ()
    out_value: Any = float(value[0]) if scalar else value
    out_budget = {k: (float(v[0]) if scalar else v) for k, v in budget.items()}
    details = {"thresholds": flat, "thresholds_on_f": s, "method": list(chosen), "unreliable": unreliable,
               "relative_budget": rel_out, "reliable_rtol": reliable_rtol, "monotone_adjusted": adjusted,
               "candidates": candidates, "diagnostics": extras, "output": bool(output)}
    label = chosen[0] if len(set(chosen)) == 1 else "mixed"
    return TailEstimate(value=out_value, method=f"tail:{label}", error_budget=out_budget, flops=flops,
                        flops_with_advice=flops, wall_time=time.perf_counter() - start, details=details)
