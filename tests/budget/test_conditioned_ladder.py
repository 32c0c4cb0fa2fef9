"""The conditioned ladder's order-3 rungs (shinnet/budget/conditioned.py; issue 13 item 4).

Checks: the order-3 rungs (``kappa_3`` of ``f_y``, dense ``T_k`` per node) are priced at or above
what their capped runs report, and not vacuously; the per-call line bounds the engine's plan at
every batch size; a converged run skips the larger caps of its (order, K) and goes on to the next
inner; the walk over a grid of budgets that reaches the order-3 rungs spends at most twice the
budget, plans no worse with more budget, and reports what ran.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import shinnet
from shinnet.budget.conditioned import _MEMORY, _call_line, conditioned_ladder, rung_spec
from shinnet.budget.pricing import plan_degree
from shinnet.conditioning import conditional_split
from shinnet.conditioning.split import conditional_weights
from shinnet.contract import PathCache
from reference import check_walk_accounting, one_direction_mlp


ONE_DIRECTION = one_direction_mlp(6, 32, 1)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _ladder():
    ladder = conditioned_ladder(ONE_DIRECTION, 1e9, PathCache())
    assert ladder is not None and ladder.r == 1
    return ladder


def test_order3_rungs_follow_the_order2_rungs_of_the_same_r():
    ladder = _ladder()
    specs = [rung_spec(g, ladder.max_degree) for g in ladder.rungs]
    orders = [s[2] for s in specs]
    assert orders == [2, 2, 2, 2, 3, 3, 3] and [s[1] for s in specs[4:]] == [64, 256, 1024]
    assert {s[2:] for s in specs} == {(2, 4), (3, 4)}  # order 3 at the order-2 rungs' K
    # order 3 costs more per node than order 2 (dense T_4 per node: 2 m d^4 = 82,944 FLOPs here)
    per_node = {key: t[1] + t[2] for key, t in ladder.terms.items()}
    assert per_node[(3, 4)] > 10 * per_node[(2, 4)] and per_node[(3, 4)] > 2 * 32 * 6**4


@pytest.mark.parametrize("order,K", [(2, 4), (3, 3), (3, 4)])
def test_call_line_bounds_the_plan_at_every_batch(order, K):
    d, m = ONE_DIRECTION.d, ONE_DIRECTION.m
    fixed, per_node, dense_fixed, dense_per_node = _call_line(d, m, order, K, PathCache())
    assert (dense_per_node > 0) == (order == 3)  # order 3 materialises dense T_k per node, order 2 does not
    assert dense_fixed == 0.0 and dense_per_node == pytest.approx(2.0 * m * sum(d**k for k in range(1, K + 1)) * (
        order == 3), rel=0.5)  # at most 2 m d^k per degree k, at least the top degree's
    cache = PathCache()
    rep = "gram" if order == 2 else "auto"
    for b in list(range(1, 513, 9)) + [511, 512]:
        flops, dense, _ = plan_degree(d, m, order, K, cache, rep, memory_limit=_MEMORY, batch=b)
        assert flops <= fixed + b * per_node * (1 + 1e-12) and dense <= b * dense_per_node * (1 + 1e-12)
    # and the line is not loose at the full batch (measured: 0.87 of the line for order 3, K = 3)
    flops, dense, _ = plan_degree(d, m, order, K, cache, rep, memory_limit=_MEMORY, batch=512)
    assert flops + dense >= 0.8 * (fixed + 512 * (per_node + dense_per_node))
    if order == 3 and K == 4:  # the ladder charges that dense advice per node
        ladder = _ladder()
        split = conditional_split(ONE_DIRECTION, np.asarray(ladder.directions.V))
        _, _, weights = conditional_weights(split, np.zeros((1, ladder.r)), K)  # the code's own charge, 1 node
        tail = 20.0 * int((~split.inside).sum())
        assert ladder.terms[(3, 4)][2] == pytest.approx(weights + tail + dense_per_node, rel=1e-12)


def test_order3_price_bounds_what_the_capped_run_spends():
    ladder = _ladder()
    for rung in [g for g in ladder.rungs if len(g) == 4]:
        p = ladder.price(rung)
        est = _quiet(ladder.run, ONE_DIRECTION, rung)
        info = est.details["condition"]
        assert est.method == "conditioned" and est.details["order"] == 3 and est.details["max_degree"] == rung[3]
        assert p.order == 3 and p.n_terms == rung[3] and p.truncation == rung[1]
        assert info["nodes"] <= max(rung[1], ladder.first_mesh)
        assert est.flops_with_advice <= p.total  # the cap's price bounds the spend
        assert est.flops_with_advice >= 0.3 * p.total * info["nodes"] / p.nodes  # and is not vacuous
        assert est.flops_with_advice - est.flops <= p.advice  # advice (vertex weights, dense T_k) bounded too
    # the converged order-3 value and the converged order-2 one agree (measured: 2e-8 apart)
    o2 = _quiet(ladder.run, ONE_DIRECTION, (1, 4096))
    assert est.details["condition"]["converged"] and abs(est.value - o2.value) < 1e-6


def test_a_converged_run_skips_the_larger_caps_of_its_inner():
    ladder = _ladder()
    rungs = [(1, 64), (1, 256), (1, 1024), (1, 64, 3, 3), (1, 256, 3, 3), (1, 1024, 3, 3), (1, 64, 3, 4)]

    def ran(converged: bool, nodes: int) -> SimpleNamespace:
        return SimpleNamespace(details={"condition": {"converged": converged, "nodes": nodes}})

    assert ladder.advance(ran(False, 60), rungs, 1) == (1, None)
    assert ladder.advance(ran(True, 60), rungs, 1) == (3, None)  # on to the first order-3 rung
    assert ladder.advance(ran(True, 60), rungs, 4) == (6, None)  # K = 3 converged: on to K = 4
    # converged at 300 nodes: the order-3 caps 64 and 256 would stop short of it
    assert ladder.advance(ran(True, 300), rungs, 2) == (5, None)
    pos, why = ladder.advance(ran(True, 300), rungs, 6)
    assert pos == 7 and why is not None and "converged" in why
    pos, why = ladder.advance(ran(True, 60), rungs, 7)
    assert pos == 7 and why is not None


def test_walk_reaching_order3_rungs_stays_within_twice_the_budget_and_plans_no_worse():
    cache = PathCache()
    previous, ran_order3 = None, []
    for budget in (1e7, 3e7, 1e8, 3e8, 1e9):
        est = _quiet(shinnet.estimate, ONE_DIRECTION, budget_flops=budget, cache=cache)
        choice = est.details["budget_choice"]
        check_walk_accounting(est, budget)
        best = choice.runs[choice.chosen]
        assert est.method == best.price.expansion
        if best.price.expansion == "conditioned":  # details are the returned run's own
            assert est.details["order"] == best.price.order and est.details["max_degree"] == best.price.n_terms
        if previous is not None:
            assert choice.planned_error <= previous.planned_error
        previous = choice
        ran_order3.append(sum(r.price.expansion == "conditioned" and r.price.order == 3 for r in choice.runs))
    # measured: order 2 converges at 390 nodes within the 1024 cap at 3e7; the order-3 caps 64 and 256 are
    # skipped (below 390 nodes) and (r=1, 1024, 3, 4), priced 1.7e8, runs from 3e8 on and converges at 300
    assert ran_order3 == [0, 0, 0, 1, 1]
    assert "converged" in previous.closed["conditioned"]  # the ladder is spent
