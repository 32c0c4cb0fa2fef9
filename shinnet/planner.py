"""Choosing the truncation (N, K, tol) for a FLOP budget (the rule behind ``estimate(budget_flops=...)``).

The rule (MATH.md sections 3 and 7):

1. **Candidates.** A fixed ladder of (cumulant order N, Hermite degree K), cheapest first:
   ``LADDER``.  Series order is always ``N - 2`` (all computed cumulants are used).
2. **Cost.** Each candidate's cost is predicted without contracting anything: the sum of
   cotengra's contraction costs for every diagram (``shinnet.contract.paths`` on the model's
   sizes; paths are cached, so successive candidates only plan their new diagrams) plus the cost
   of the advice (``ShinTensors.build_flops`` and ``2 m d^k`` per dense tensor of degree k <= K).
3. **Degree cap (never past divergence).** K is capped at the last degree where the
   hypercontractive proxy ``h_k = (N-1)^{k/2} sum_j |lam_kj| / sqrt(k!)`` (an upper bound on
   ``(N-1)^{k/2} ||F_k||_2``, whose summability is MATH.md section 3's sufficient condition for
   the degree-K cumulants of order N to converge) is still decreasing for ``k >= 3``, in the
   two-step sense ``h_k < max(h_{k-1}, h_{k-2})``.  For relu
   hidden units this typically stops at small K for N >= 3 -- which is the honest answer.
4. **Choice.** The most expensive candidate that passes the cap and whose predicted cost (with
   advice) fits in the budget; the cheapest candidate if none fits (and ``details`` says so).
5. **Pruning.** ``tol = 0``: the operator-norm bounds are too loose to prune at the sizes
   measured (docs/benchmarks.md), so pruning would only add bound-computation cost.

Cost of the rule itself: one path search per diagram shape of the largest candidate tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial, sqrt
from typing import Any

import numpy as np

__all__ = ["LADDER", "Choice", "choose_settings", "degree_cap", "predicted_flops"]

#: (N, K) candidates, cheapest first
LADDER: tuple[tuple[int, int], ...] = (
    (2, 2), (2, 4), (2, 6), (3, 3), (3, 4), (4, 4), (4, 5), (4, 6), (5, 5), (5, 6), (6, 6),
)


@dataclass(frozen=True)
class Choice:
    """The settings chosen for a budget and why."""

    order: int
    max_degree: int
    tol: float
    predicted_flops: float
    fits: bool
    degree_caps: dict[int, int]


def degree_cap(lam: np.ndarray, order: int, k_min: int = 2) -> int:
    """Largest K such that ``h_k = (order-1)^{k/2} ||lam_k||_1 / sqrt(k!)`` decreases on [3, K]
    (``h_k < max(h_{k-1}, h_{k-2})``: two-step, so that vanishing parities do not count as growth).

    ``lam`` has shape (K_max + 1, m).  For order 2, ``(n-1)^{k/2} = 1`` and the cap is the largest
    K whose h_k is still decreasing (the variance series always converges; this only stops
    spending on negligible degrees once they stop shrinking).
    """
    k_max = lam.shape[0] - 1
    h = [(order - 1) ** (k / 2) * float(np.abs(lam[k]).sum()) / sqrt(factorial(k)) for k in range(k_max + 1)]
    cap = min(k_min, k_max)
    for k in range(max(cap + 1, 3), k_max + 1):
        # compare with the larger of the two previous terms, so that parity zeros (even or odd
        # coefficients vanishing for unbiased odd/even activations) do not stop the ladder
        if h[k] >= max(h[k - 1], h[k - 2]) and h[k] > 0.0:
            break
        cap = k
    return cap


def predicted_flops(d: int, m: int, order: int, max_degree: int, cache: Any = None) -> tuple[float, float]:
    """(contraction FLOPs, dense-advice FLOPs) predicted from cotengra's path costs.

    Dense advice: ``2 m d^k`` for each degree ``k <= max_degree`` used by a dense representation.
    """
    from shinnet.contract import paths

    records = paths(order, max_degree, d, m, time_contraction=False, cache=cache)
    contraction = float(sum(r.flops for r in records))
    dense_degrees = {int(k) for r in records if r.representation in ("dense", "mixed") for k in r.diagram.degrees}
    advice = float(sum(2.0 * m * float(d) ** k for k in dense_degrees))
    return contraction, advice


def choose_settings(mlp: Any, budget_flops: float, backend: str = "numpy", ladder: tuple[tuple[int, int], ...] = LADDER,
                    cache: Any = None) -> Choice:
    """Apply the module's rule to ``mlp`` and a budget of ``budget_flops`` FLOPs (with advice).

    ``cache`` (a ``shinnet.contract.PathCache``) receives the paths searched while pricing the
    candidates; pass the same cache to ``cumulants`` so the chosen candidate is not searched again.
    """
    from shinnet.contract.pathcache import PathCache
    from shinnet.shin import shin_tensors

    if not budget_flops > 0:
        raise ValueError(f"budget_flops must be positive, got {budget_flops}")
    top_k = max(k for _, k in ladder)
    shin = shin_tensors(mlp, top_k)
    lam = np.asarray(shin.lam)
    caps = {n: degree_cap(lam, n) for n in sorted({n for n, _ in ladder})}
    cache = PathCache() if cache is None else cache
    best: Choice | None = None
    for order, k in ladder:
        if k > max(caps[order], 2):
            continue
        contraction, advice = predicted_flops(mlp.d, mlp.m, order, k, cache=cache)
        total = contraction + advice + float(shin.build_flops)
        if total > budget_flops:
            if best is None:
                best = Choice(order, k, 0.0, total, False, caps)
            break
        best = Choice(order, k, 0.0, total, True, caps)
    assert best is not None
    return best
