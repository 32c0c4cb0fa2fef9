"""Split (Cauchy-Schwarz) bounds with exact half norms (MATH.md section 5): they dominate every
diagram value, are exact where Cauchy-Schwarz is an equality, and keep the budget honest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shinnet
from shinnet import TwoLayerMLP
from shinnet.expansions import cumulants
from shinnet.contract.bounds import SPLIT_REL_SLACK, SplitBounds, norm_network

_SLACK = 1e-8  # contractions and power-iteration norms are accurate to ~1e-12 relative here


def _model(d, m, seed, bias=0.5, hidden="relu"):
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=bias * rng.standard_normal(m),
                       a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden=hidden)


def _dense_value(diagram, shin, vertices=None, open_cut=False):
    """Brute-force einsum of a diagram (or of the half ``vertices`` with its cut legs open)."""
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    legs = [[] for _ in range(diagram.order)]
    for i, j, m in diagram.edges:
        for _ in range(m):
            c = next(letters)
            legs[i].append(c)
            legs[j].append(c)
    keep = range(diagram.order) if vertices is None else vertices
    subs = ["".join(legs[v]) for v in keep]
    counts = {}
    for sub in subs:
        for c in sub:
            counts[c] = counts.get(c, 0) + 1
    out = "".join(sorted(c for c, k in counts.items() if k == 1)) if open_cut else ""
    return np.einsum(",".join(subs) + "->" + out, *[shin.dense(diagram.degrees[v]) for v in keep])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), d=st.integers(2, 4), m=st.integers(1, 7),
       hidden=st.sampled_from(["relu", "tanh", "quadratic"]), bias=st.sampled_from([0.0, 0.3, 1.0, 1.5]))
def test_split_bound_dominates_every_diagram_value(seed, d, m, hidden, bias):
    res = cumulants(_model(d, m, seed, bias, hidden), 4, 3, compute_bounds=True, split_bounds=True)
    assert res.settings["split_norms"] > 0
    for r in res.diagrams:
        assert abs(r.value) <= r.bound * (1 + _SLACK) + 1e-300, (r.diagram, r.value, r.bound)


def test_half_norm_network_equals_brute_force_norm_of_the_half():
    shin = shinnet.shin_tensors(_model(3, 5, 7), 4)
    rng = np.random.default_rng(0)
    diagrams = shinnet.enumerate.diagrams(4, 4)
    for dg in [diagrams[i] for i in rng.choice(len(diagrams), 12, replace=False)]:
        for half in ((0,), (0, 1), (0, 2), (0, 1, 3)):
            net = norm_network(dg, half, int)
            assert sorted(net.degrees) == sorted(2 * [dg.degrees[v] for v in half])
            A = _dense_value(dg, shin, half, open_cut=True)
            from shinnet.enumerate import Diagram

            as_diagram = Diagram(net.order, net.degrees, net.edges, 1)
            assert _dense_value(as_diagram, shin) == pytest.approx(float(np.sum(A * A)), rel=1e-10, abs=1e-14)


def test_split_bound_is_exact_on_two_vertex_diagrams_and_dominates_the_operator_bound_there():
    model = _model(3, 6, 2)
    res = cumulants(model, 2, 5, compute_bounds=True, split_bounds=True)
    for r in res.by_order(2):  # val = <T_k, T_k> = ||T_k||^2: Cauchy-Schwarz is an equality
        assert r.bound == pytest.approx(abs(r.value), rel=10 * SPLIT_REL_SLACK)


def test_split_bounds_are_never_looser_and_usually_tighter_than_operator_bounds():
    model = _model(4, 12, 3)
    op = cumulants(model, 4, 4, compute_bounds=True, split_bounds=False)
    sp = cumulants(model, 4, 4, compute_bounds=True, split_bounds=True)
    a = np.array([r.bound for r in op.diagrams])
    b = np.array([r.bound for r in sp.diagrams])
    assert np.all(b <= a * (1 + 1e-12))
    assert np.mean(b < 0.9 * a) > 0.3
    assert sp.flops > op.flops  # the half norms are charged


def test_half_norms_are_shared_across_the_family():
    calls = []

    def evaluate(net):
        calls.append(net.key)
        return np.array([1.0]), 1.0

    sb = SplitBounds(evaluate, int)
    for dg in shinnet.enumerate.diagrams(4, 4):
        sb.bound(dg)
    assert len(calls) == len(set(calls)) == sb.n_norms
    assert sb.n_norms < 3 * len(shinnet.enumerate.diagrams(4, 4))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), log_tol=st.floats(-5, -0.5), mode=st.sampled_from(["absolute", "relative"]))
def test_budget_with_split_bounds_dominates_the_true_dropped_sum(seed, log_tol, mode):
    model = _model(3, 5, seed)
    full = cumulants(model, 4, 4)
    pruned = cumulants(model, 4, 4, tol=10.0**log_tol, tol_mode=mode, split_bounds=True)
    for n in (2, 3, 4):
        dropped = abs(full.kappa[n] - pruned.kappa[n])
        assert dropped <= pruned.pruned_budget[n] * (1 + _SLACK) + 1e-15 * abs(full.kappa[n]), (n, dropped)
        assert pruned.pruned[n] == sum(r.pruned for r in pruned.by_order(n))


@pytest.mark.filterwarnings("ignore::shinnet.contract.ConvergenceWarning")
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), d=st.integers(3, 6), m=st.integers(2, 7))
def test_resummed_split_bounds_dominate_every_class_value(seed, d, m):
    model = _model(d, m, seed)
    op = cumulants(model, 4, expansion="resummed", max_edges=3, compute_bounds=True, split_bounds=False)
    sp = cumulants(model, 4, expansion="resummed", max_edges=3, compute_bounds=True, split_bounds=True)
    assert sp.settings["split_norms"] > 0
    for a, b in zip(op.diagrams, sp.diagrams):
        assert abs(b.value) <= b.bound * (1 + _SLACK) + 1e-300, (b.diagram, b.value, b.bound)
        assert b.bound <= a.bound * (1 + 1e-12)


@pytest.mark.filterwarnings("ignore::shinnet.contract.ConvergenceWarning")
def test_resummed_budget_with_split_bounds_dominates_the_true_dropped_sum():
    model = _model(8, 10, 2)
    full = cumulants(model, 4, expansion="resummed", max_edges=3)
    for tol, mode in ((0.05, "relative"), (1e-2, "absolute")):
        pruned = cumulants(model, 4, expansion="resummed", max_edges=3, tol=tol, tol_mode=mode, split_bounds=True)
        assert pruned.n_pruned > 0
        for n in (2, 3, 4):
            dropped = abs(full.kappa[n] - pruned.kappa[n])
            assert dropped <= pruned.pruned_budget[n] * (1 + _SLACK) + 1e-15 * abs(full.kappa[n]), (n, dropped)
