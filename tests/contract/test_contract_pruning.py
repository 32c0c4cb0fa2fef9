"""Operator-norm pruning (MATH.md section 5): bounds dominate values; budgets dominate what is dropped."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shinnet
from shinnet import TwoLayerMLP
from shinnet.contract import NormTable, best_bound, order_bound
from shinnet.expansions import cumulants

# power iteration / SVD norms are accurate to ~1e-10 relative; bounds are compared with that slack
_SLACK = 1e-8


def _model(d, m, seed, bias=0.5):
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=bias * rng.standard_normal(m),
                       a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), d=st.integers(2, 3), m=st.integers(2, 6))
def test_operator_norm_bound_dominates_every_diagram_value(seed, d, m):
    res = cumulants(_model(d, m, seed), 4, 3, compute_bounds=True)
    for r in res.diagrams:
        assert abs(r.value) <= r.bound * (1 + _SLACK) + 1e-300, (r.diagram, r.value, r.bound)


def test_best_bound_is_the_minimum_over_all_vertex_orders():
    shin = shinnet.shin_tensors(_model(3, 5, 1), 4)
    table = NormTable([shin])
    for dg in shinnet.enumerate.diagrams(4, 3)[::7]:
        bound, order, exact = best_bound(dg, table)
        brute = min(order_bound(dg, p, table)[0] for p in permutations(range(dg.order)))
        assert exact and bound[0] == pytest.approx(brute, rel=1e-12)
        assert order_bound(dg, order, table)[0] == pytest.approx(bound[0], rel=1e-12)


def test_zero_tolerance_prunes_nothing():
    res = cumulants(_model(3, 5, 2), 4, 3, tol=0.0, compute_bounds=True)
    assert res.n_pruned == 0 and res.n_stopped_early == 0
    assert all(v == 0 for v in res.pruned_budget.values())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), log_tol=st.floats(-6, -1), mode=st.sampled_from(["absolute", "relative"]))
def test_dropped_sum_never_exceeds_reported_budget(seed, log_tol, mode):
    model = _model(3, 5, seed)
    full = cumulants(model, 4, 3)
    pruned = cumulants(model, 4, 3, tol=10.0**log_tol, tol_mode=mode)
    for n in (2, 3, 4):
        dropped = abs(full.kappa[n] - pruned.kappa[n])
        assert dropped <= pruned.pruned_budget[n] * (1 + _SLACK) + 1e-15 * abs(full.kappa[n]), (n, dropped)


def test_pruning_removes_diagrams_and_reports_them():
    model = _model(3, 6, 3)
    res = cumulants(model, 4, 4, tol=1e-3, tol_mode="relative")
    assert res.n_pruned > 0
    assert sum(r.pruned for r in res.diagrams) == res.n_pruned
    for n in (2, 3, 4):
        assert res.pruned_budget[n] == pytest.approx(sum(r.budget for r in res.by_order(n) if r.pruned), rel=1e-12)


def test_ordered_contraction_equals_tree_contraction_and_early_stop_is_accounted():
    model = _model(3, 5, 4)
    tree = cumulants(model, 4, 3)
    ordered = cumulants(model, 4, 3, contract_mode="ordered")
    for n in (2, 3, 4):
        assert ordered.kappa[n] == pytest.approx(tree.kappa[n], rel=1e-12)
    stopped = cumulants(model, 4, 3, contract_mode="ordered", tol=1e-3)
    assert stopped.n_stopped_early + stopped.n_pruned > 0
    for n in (2, 3, 4):
        assert abs(tree.kappa[n] - stopped.kappa[n]) <= stopped.pruned_budget[n] * (1 + _SLACK) + 1e-15


def test_pruned_counts_per_order_match_the_records_in_both_expansions():
    model = _model(3, 6, 3)
    res = cumulants(model, 4, 4, tol=1e-3, tol_mode="relative")
    assert set(res.pruned) == {2, 3, 4}
    assert sum(res.pruned.values()) == res.n_pruned > 0
    for n in (2, 3, 4):
        assert res.pruned[n] == sum(r.pruned for r in res.by_order(n))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rs = cumulants(_model(8, 10, 2), 4, expansion="resummed", max_edges=3, tol=0.1, tol_mode="relative")
    assert sum(rs.pruned.values()) == rs.n_pruned > 0
    assert all(rs.pruned[n] == sum(r.pruned for r in rs.by_order(n)) for n in (2, 3, 4))
