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

**Rungs** ``(r, N)`` (inner order 2) and ``(r, N, 3, K)`` (inner order 3), per r, walked in this
order: the order-2 rungs with node caps :data:`NODE_CAPS` (r = 1) or :data:`NODE_CAPS_R2` (r = 2: the
nested rules start at 60^2 = 3,600 nodes), Gaussian ``f_y`` (``variance="resummed"``), K =
``shinnet.defaults.DEFAULT_MAX_DEGREE``; then the order-3 rungs :data:`ORDER3_RUNGS` (r = 1) or
:data:`ORDER3_RUNGS_R2`: ``kappa_3`` of ``f_y`` and one series term (``series_order`` 1) at the same
K = 4 (the engine's ``auto`` representation materialises dense ``T_4`` per node: ~90x an order-2
node at d = 16, m = 512, first mesh ~5e9 FLOPs).  K = 3 order-3 rungs (dense ``T_3``, ~4x an
order-2 node, ~3e8 at the first mesh) were measured and left out (docs/benchmarks.md, "Budget
planner: order-3 conditioned rungs"): their kappa_2 loses the cross-unit degree-4 terms, and the
walk returned them where the order-2 run was 7-8x more accurate (relu_shift), never where they
were better (max): their error budgets come out near or below the order-2 ones, whose budget has
no kappa_3 term.  Order 3 comes after order 2 of the same r, not interleaved by price: a run that did not
converge within its cap is limited by the outer rule, which a better inner does not help, and a
converged order-2 run makes every larger order-2 cap free to skip.  After a run that converged below
its cap the walk skips the later rungs of the same (order, K) (a larger cap reruns the same
refinement) and the next inner's caps below the nodes it needed, and goes on to the next inner;
the ladder closes when none is left (:meth:`ConditionedLadder.advance`).

**Price of rung (r, N, order, K)** (every term an upper bound of what the run reports):

- nodes ``n = max(N, n0)``, ``n0`` the first mesh (``60^(r-1) * 15 * (4 + kinked inside units)``;
  :func:`shinnet.conditioning.quadrature.integrate_gaussian` stops refining before it would pass
  ``max_nodes``, but always evaluates the first mesh);
- one batched engine call of b nodes costs ``c(b)`` = the plan of the inner's diagrams with the
  batch b (:func:`shinnet.budget.pricing.plan_degree`, the engine's own accounting: contractions,
  Gram matrix and Hadamard powers, and at order 3 the dense ``T_k`` it materialises per node,
  ``2 m d^k`` each, as advice), in the representation the engine will choose (order 2: ``gram``,
  as the conditioning code forces it; order 3: ``auto``; order 2 adds its kappa_3 budget term, one
  order-3 call at degree ``min(SKEW_DEGREE, K)`` in ``auto``).  ``c`` is planned at
  :data:`_PROBE_BATCHES` and bounded by a line ``F + b p`` through all of them (slope = the largest
  secant from b = 1, intercept = the largest ``c(b) - b p``): the plan's cost flattens as b grows
  (shared Gram work is amortised), so the secant from b = 1 is the steepest (checked at every
  9th batch size up to 512 in tests/budget/test_conditioned_ladder.py);
- calls: every refinement round evaluates at least 30 new nodes in batches of at most 512, so
  at most ``floor(n / 30) + ceil(n / 512) + 1`` calls;
- advice per node: the vertex weights as :func:`shinnet.conditioning.split.conditional_weights`
  charges them (``2 m r`` + the activation's ``hermite_coefficients_flops`` at the live units'
  norms ``r'_j``, which do not depend on the node + ``cost(sigma)`` per inside unit + ``m (K+1)``)
  and the exact same-unit variance tail ``20`` per live unit.

An (order, K) whose 512-node batch fits no representation within the inner's memory limit
(the engine would halve the batch, which the call count above does not bound) gets no rungs.

Cost of pricing: path searches of the order-2 and order-3 diagrams at a few batch sizes (cached),
no FLOPs.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from math import ceil
from typing import Any

import numpy as np

from shinnet import defaults
from shinnet.budget.pricing import Price, plan_degree
from shinnet.conditioning import (AUTO_MAX_RANK, FirstMeshWarning, active_directions, choose_rank, conditional_split,
                                  deterministic_kinks, estimate_conditioned)
from shinnet.conditioning.split import conditional_weights_flops
from shinnet.conditioning.inner import SKEW_DEGREE
from shinnet.contract.representations import is_auto

__all__ = ["ConditionedPrice", "ConditionedLadder", "conditioned_ladder", "NODE_CAPS", "NODE_CAPS_R2",
           "ORDER3_RUNGS", "ORDER3_RUNGS_R2", "DIRECTIONS_SHARE", "MIN_SHARE"]

#: node caps of the r = 1 order-2 rungs, in walking order
NODE_CAPS: tuple[int, ...] = (64, 256, 1024, 4096)
#: node caps of the r = 2 order-2 rungs (nested rules start at 3,600 nodes)
NODE_CAPS_R2: tuple[int, ...] = (4096, 16384)
#: (K, node cap) of the r = 1 order-3 rungs, in walking order (after the order-2 rungs); K = the
#: order-2 rungs' K, so that an order-3 run refines the order-2 one by kappa_3 only (K = 3 rungs,
#: 20x cheaper, were measured and left out: module docstring)
ORDER3_RUNGS: tuple[tuple[int, int], ...] = ((4, 64), (4, 256), (4, 1024))
#: (K, node cap) of the r = 2 order-3 rungs
ORDER3_RUNGS_R2: tuple[tuple[int, int], ...] = ((4, 4096),)
#: the directions are computed only when their sweep costs at most this share of the budget
DIRECTIONS_SHARE = 0.1
#: the least energy share inside span V (as the ``condition="auto"`` rule)
MIN_SHARE = 0.8
_BATCH = 512  # node_batch of estimate_conditioned
_MEMORY = float(2**29)  # InnerEstimator's per-batch memory limit
#: batch sizes at which one engine call is planned (the line through them bounds every batch size)
_PROBE_BATCHES: tuple[int, ...] = (1, 2, 3, 8, 30, 64, 256, 511, 512)


@dataclass(frozen=True)
class ConditionedPrice(Price):
    """:class:`~shinnet.budget.pricing.Price` of a conditioned rung: ``order`` is the inner order
    (2 or 3), ``truncation`` the node cap N, ``n_terms`` the inner's K; ``r`` the directions,
    ``nodes`` the nodes priced (``max(N, first mesh)``)."""

    r: int = 1
    nodes: int = 0


def rung_spec(rung: tuple[int, ...], max_degree: int) -> tuple[int, int, int, int]:
    """``(r, N, order, K)`` of a rung: ``(r, N)`` is order 2 at ``max_degree``, ``(r, N, order, K)`` as given."""
    if len(rung) == 2:
        return int(rung[0]), int(rung[1]), 2, int(max_degree)
    return int(rung[0]), int(rung[1]), int(rung[2]), int(rung[3])


@dataclass
class ConditionedLadder:
    """The conditioned rungs of one model: ``rungs`` [(r, N), ..., (r, N, 3, K), ...], their prices, their runs.

    ``terms[(order, K)]`` = (FLOPs per engine call, FLOPs per node, advice per node) of the
    module docstring's price."""

    directions: Any
    r: int
    max_degree: int
    first_mesh: int
    terms: dict[tuple[int, int], tuple[float, float, float]]
    planning_flops: float
    rungs: list[tuple[int, ...]]

    def price(self, rung: tuple[int, ...], limit: float = float("inf")) -> Price | None:
        """Upper bound of the rung's ``flops_with_advice`` (module docstring); None above ``limit``."""
        r, cap, order, K = rung_spec(rung, self.max_degree)
        fixed, per_node, advice = self.terms[(order, K)]
        n = max(cap, self.first_mesh)
        calls = n // 30 + ceil(n / _BATCH) + 1
        out = ConditionedPrice("conditioned", order, cap, calls * fixed + n * per_node, n * advice, K, r=r, nodes=n)
        return out if out.total <= limit else None

    def run(self, mlp: Any, rung: tuple[int, ...], backend: str = "numpy") -> Any:
        """``estimate_conditioned(mlp, r, directions=..., order=order, max_degree=K, max_nodes=N)``."""
        r, cap, order, K = rung_spec(rung, self.max_degree)
        with warnings.catch_warnings():  # a cap below the first mesh is priced at the mesh (module docstring)
            warnings.simplefilter("ignore", FirstMeshWarning)
            return estimate_conditioned(mlp, r, directions=self.directions, order=order, max_degree=K,
                                        max_nodes=cap, backend=backend)

    @staticmethod
    def closes(est: Any) -> str | None:
        """Why the rungs of this run's (order, K) end here (it converged below its cap), else None."""
        info = est.details.get("condition", {})
        if info.get("converged"):
            return f"converged within {info.get('nodes')} nodes (a larger node cap reruns the same refinement)"
        return None

    def advance(self, est: Any, rungs: list[tuple[int, ...]], position: int) -> tuple[int, str | None]:
        """The walk's next position in ``rungs`` after ``est`` ran the rung before ``position``, and why
        the ladder closes (None while rungs are left).  A run that converged below its cap skips the
        later rungs of its (order, K), and the next inner's rungs whose cap is below the nodes it
        needed (the outer rule refines to the same kinks and curvature of g; a smaller cap would
        stop it short, measured: order 2 converged at 390 nodes, order 3 at 300, on a net where
        caps 64 and 256 only repeated the coarse refinement)."""
        why = self.closes(est)
        if why is None:
            return position, None
        ran = rung_spec(rungs[position - 1], self.max_degree)
        needed = int(est.details["condition"].get("nodes", 0))
        while position < len(rungs):
            nxt = rung_spec(rungs[position], self.max_degree)
            if nxt[2:] != ran[2:] and nxt[1] >= needed:
                break
            position += 1
        return position, (why if position >= len(rungs) else None)


def _directions_sweep(m: int, d: int, K: int) -> float:
    return 4.0 * m * m * (d + K) + 2.0 * m * d * d


def _call_line(d: int, m: int, order: int, K: int, cache: Any) -> tuple[float, float, float, float]:
    """(fixed, per node) of the contractions + setup and of the dense advice of one engine call:
    lines ``F + b p`` at or above the plan at every probe batch b (module docstring)."""
    rep = "gram" if order == 2 else "auto"
    plans = {b: plan_degree(d, m, order, K, cache, rep, memory_limit=_MEMORY, batch=b) for b in _PROBE_BATCHES}
    out: list[float] = []
    for i in (0, 1):
        c = {b: float(v[i]) for b, v in plans.items()}  # type: ignore[index]
        slope = max(max((c[b] - c[1]) / (b - 1) for b in c if b > 1), 0.0)
        out += [max(max(c[b] - b * slope for b in c), 0.0), slope]
    return out[0], out[1], out[2], out[3]


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
    rungs: list[tuple[int, ...]] = [(r, n) for n in (NODE_CAPS if r == 1 else NODE_CAPS_R2)]
    rungs += [(r, n, 3, k) for k, n in (ORDER3_RUNGS if r == 1 else ORDER3_RUNGS_R2)]
    live = ~np.asarray(split.inside)
    n_live = int(live.sum())
    terms: dict[tuple[int, int], tuple[float, float, float]] = {}
    for order, k in sorted({rung_spec(g, K)[2:] for g in rungs}):
        try:
            fixed, slope, dense_fixed, dense_slope = _call_line(d, m, order, k, cache)
        except MemoryError:
            continue  # the engine would halve the batch: not priced, not offered
        assert order > 2 or dense_fixed + dense_slope == 0.0  # gram networks read no dense tensor
        if order == 2:  # the Gaussian inner's kappa_3 budget term: one order-3 call ("auto") per batch
            extra = _call_line(d, m, 3, min(SKEW_DEGREE, k), cache)
            fixed, slope, dense_fixed, dense_slope = (a + b for a, b in zip((fixed, slope, dense_fixed, dense_slope),
                                                                             extra))
        # the dense intercept is charged per call with the contractions' (it is ~0: dense is per node)
        # per node, as conditional_weights charges it (one implementation) + the same-unit tail
        advice = conditional_weights_flops(split, 1, k) + 20.0 * n_live + dense_slope
        terms[(order, k)] = (fixed + dense_fixed, slope, advice)
    rungs = [g for g in rungs if rung_spec(g, K)[2:] in terms]
    return ConditionedLadder(dataclasses.replace(ad, flops=0.0), r, K, first, terms, spent, rungs)


def _empty(spent: float) -> ConditionedLadder:
    """No rungs, but the directions' sweep was spent (the planner charges it)."""
    return ConditionedLadder(None, 0, 0, 0, {}, spent, [])
