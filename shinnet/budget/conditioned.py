"""Conditioned candidates for the budget planner (MATH.md section 9; :mod:`shinnet.budget`).

A conditioned estimate (:func:`shinnet.conditioning.estimate_conditioned`) refines its outer
rule adaptively, so its node count is not known before it runs.  The planner therefore prices
it with a **cap** and runs it with ``max_nodes`` = that cap: the price is an upper bound of what
the run spends, never below it.

**When.** Only when the budget makes conditioning plausibly affordable (the directions sweep,
``4 m^2 (d + K) + 2 m d^2``, at most :data:`DIRECTIONS_SHARE` of the budget), the walk is over
the default ladders with ``representation="auto"``, the Gaussian inner runs on hidden-unit Gram
sums (``m <= 4096`` and ``K m^2 < 2 m sum_k d^k``, the rule of the conditioning code), and
:func:`shinnet.conditioning.choose_rank` (the ``condition="auto"`` rule: energy share >= 0.8 and
the next eigenvalue of M <= 10% of the top) picks r in {1, 2}.  The directions are computed once
(rank 1 first; rank 2 only when rank 1 does not qualify) and charged to planning; the runs reuse
them (``directions=``) and do not charge them again.  Units all inside span V (the exact case,
whose level-set breakpoints make the first mesh unbounded) get no candidate.

**Rungs** ``(r, N)``: node caps :data:`NODE_CAPS` (r = 1) and :data:`NODE_CAPS_R2` (r = 2: the
nested rules start at 60^2 = 3,600 nodes), inner order 2 (Gaussian ``f_y``, ``variance="resummed"``),
K = ``shinnet.defaults.DEFAULT_MAX_DEGREE``.  The ladder closes once a run converged below its
cap (a larger cap would rerun the same refinement).

**Price of rung (r, N)** (every term an upper bound of what the run reports):

- nodes ``n = max(N, n0)``, ``n0`` the first mesh (``60^(r-1) * 15 * (4 + kinked inside units)``;
  :func:`shinnet.conditioning.quadrature.integrate_gaussian` stops refining before it would pass
  ``max_nodes``, but always evaluates the first mesh);
- one batched engine call of b nodes costs ``c(b)`` = the plan of the order-2 ``gram`` diagrams
  with the batch b (:func:`shinnet.budget.pricing.plan_degree`, the engine's own accounting:
  contractions, Gram matrix and Hadamard powers) -- affine, ``F + b p`` (checked on b = 1, 2, 512;
  the larger slope and intercept are used);
- calls: every refinement round evaluates at least 30 new nodes in batches of at most 512, so
  at most ``floor(n / 30) + ceil(n / 512) + 1`` calls;
- advice per node: the vertex weights ``2 m r + m (K+1) (11 + cost(sigma))`` and the exact
  same-unit variance tail ``20 m``.

Cost of pricing: three path searches of order-2 diagrams, no FLOPs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from math import ceil
from typing import Any

import numpy as np

from shinnet import defaults
from shinnet.budget.pricing import Price, plan_degree
from shinnet.conditioning import (AUTO_MAX_RANK, active_directions, choose_rank, conditional_split,
                                  deterministic_kinks, estimate_conditioned)
from shinnet.contract.representations import is_auto

__all__ = ["ConditionedPrice", "ConditionedLadder", "conditioned_ladder", "NODE_CAPS", "NODE_CAPS_R2",
           "DIRECTIONS_SHARE", "MIN_SHARE"]

#: node caps of the r = 1 rungs, in walking order
NODE_CAPS: tuple[int, ...] = (64, 256, 1024, 4096)
#: node caps of the r = 2 rungs (nested rules start at 3,600 nodes)
NODE_CAPS_R2: tuple[int, ...] = (4096, 16384)
#: the directions are computed only when their sweep costs at most this share of the budget
DIRECTIONS_SHARE = 0.1
#: the least energy share inside span V (as the ``condition="auto"`` rule)
MIN_SHARE = 0.8
_BATCH = 512  # node_batch of estimate_conditioned
_MEMORY = float(2**29)  # InnerEstimator's per-batch memory limit


@dataclass(frozen=True)
class ConditionedPrice(Price):
    """:class:`~shinnet.budget.pricing.Price` of a conditioned rung: ``order`` is the inner order
    (2), ``truncation`` the node cap N; ``r`` the directions, ``nodes`` the nodes priced
    (``max(N, first mesh)``)."""

    r: int = 1
    nodes: int = 0


@dataclass
class ConditionedLadder:
    """The conditioned rungs of one model: ``rungs`` [(r, N), ...], their prices, their runs."""

    directions: Any
    r: int
    max_degree: int
    first_mesh: int
    batch_fixed: float
    node_flops: float
    node_advice: float
    planning_flops: float
    rungs: list[tuple[int, int]]

    def price(self, rung: tuple[int, int], limit: float = float("inf")) -> Price | None:
        """Upper bound of the rung's ``flops_with_advice`` (module docstring); None above ``limit``."""
        n = max(int(rung[1]), self.first_mesh)
        calls = n // 30 + ceil(n / _BATCH) + 1
        flops = calls * self.batch_fixed + n * self.node_flops
        out = ConditionedPrice("conditioned", 2, int(rung[1]), flops, n * self.node_advice, self.max_degree,
                               r=self.r, nodes=n)
        return out if out.total <= limit else None

    def run(self, mlp: Any, rung: tuple[int, int], backend: str = "numpy") -> Any:
        """``estimate_conditioned(mlp, r, directions=..., order=2, max_nodes=N)``."""
        return estimate_conditioned(mlp, self.r, directions=self.directions, order=2, max_degree=self.max_degree,
                                    max_nodes=int(rung[1]), backend=backend)

    @staticmethod
    def closes(est: Any) -> str | None:
        """Why the ladder closes after this run (it converged below its cap), else None."""
        info = est.details.get("condition", {})
        if info.get("converged"):
            return f"converged within {info.get('nodes')} nodes (a larger node cap reruns the same refinement)"
        return None


def _directions_sweep(m: int, d: int, K: int) -> float:
    return 4.0 * m * m * (d + K) + 2.0 * m * d * d


def conditioned_ladder(mlp: Any, budget: float, cache: Any, representation: str = "auto") -> ConditionedLadder | None:
    """The conditioned ladder of ``mlp`` for ``budget`` (None when conditioning is not a candidate:
    module docstring).  Spends the directions' FLOPs (``planning_flops``) when it computes them."""
    m, d, K = int(mlp.m), int(mlp.d), int(defaults.DEFAULT_MAX_DEGREE)
    if not is_auto(representation) or d < 2 or m > 4096 or not K * m**2 < 2 * m * sum(d**k for k in range(1, K + 1)):
        return None
    if _directions_sweep(m, d, K) > DIRECTIONS_SHARE * budget:
        return None
    spent, ad, r = 0.0, None, 0
    for rank in range(1, min(AUTO_MAX_RANK, d - 1) + 1):
        ad = active_directions(mlp, rank, max_degree=K)
        spent += float(ad.flops)
        if choose_rank(ad, max_rank=rank) == rank:
            r = rank
            break
        ev = np.asarray(ad.eigenvalues, dtype=np.float64)
        if ev.size <= rank + 1 or not ev[rank + 1] <= 0.1 * ev[0]:
            break  # the next rank fails the eigenvalue gap of the rule already: no second sweep
    if r == 0 or ad is None or float(ad.energy_share) < MIN_SHARE:
        return _empty(spent)
    split = conditional_split(mlp, np.asarray(ad.V))
    if split.exact:
        return _empty(spent)
    kinks = deterministic_kinks(split)
    n_kinked = int(split.inside.sum()) if kinks is not None else 0
    first = 60 ** (r - 1) * 15 * (4 + n_kinked)
    costs = {}
    for b in (1, 2, _BATCH):
        out = plan_degree(d, m, 2, K, cache, "gram", memory_limit=_MEMORY, batch=b)
        assert out is not None and out[1] == 0.0  # gram networks read no dense tensor
        costs[b] = out[0]
    slope = max(costs[2] - costs[1], (costs[_BATCH] - costs[1]) / (_BATCH - 1))
    fixed = max(costs[1] - slope, costs[_BATCH] - _BATCH * slope, 0.0)
    advice = 2.0 * m * r + m * (K + 1) * (11.0 + float(mlp.hidden.flops)) + 20.0 * m
    caps = NODE_CAPS if r == 1 else NODE_CAPS_R2
    return ConditionedLadder(dataclasses.replace(ad, flops=0.0), r, K, first, fixed, slope, advice, spent,
                             [(r, n) for n in caps])


def _empty(spent: float) -> ConditionedLadder:
    """No rungs, but the directions' sweep was spent (the planner charges it)."""
    return ConditionedLadder(None, 0, 0, 0, 0.0, 0.0, 0.0, spent, [])
