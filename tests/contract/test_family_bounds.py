"""Family (power-counting) bounds, issue 15 item 1: |val(G)| <= prod_v ||T_{k_v}||_F for every
diagram of a degree sequence, whole families pruned before any per-diagram work, budget honest."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import shinnet
from shinnet.contract.bounds import NormTable, best_bound
from shinnet.contract.engine import DiagramTerms, run_engine
from shinnet.contract.families import frobenius_family
from shinnet.contract.network import vertex_keys
from shinnet.contract.options import ContractOptions
from shinnet.expansions.registry import get_expansion
from shinnet.zoo import random_mlp

ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid", "erf")
ORDER, K = 4, 4

nets = st.tuples(st.integers(3, 6), st.integers(2, 12), st.sampled_from(ACTIVATIONS), st.integers(0, 10**6))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _objects(d: int, m: int, act: str, seed: int) -> list:
    return [shinnet.shin_tensors(random_mlp(d, m, act, seed=seed), K)]


def _run(objects: list, **kw) -> shinnet.contract.result.CumulantResult:
    return run_engine(objects, False, ORDER, K, ContractOptions(warn=False, **kw))


def _by_key(res) -> dict:
    return {(r.order, r.diagram.key): r for r in res.diagrams}


@SETTINGS
@given(nets)
def test_family_bound_dominates_members_and_family_sum(net):
    objects = _objects(*net)
    full = _run(objects)
    table = NormTable(objects)
    fams: dict = defaultdict(list)
    for r in full.diagrams:
        key, pf = frobenius_family(vertex_keys(r.diagram), table)
        pf = float(pf[0])
        value = float(r.value)
        scale = 1e-12 * max(pf, 1e-300)
        assert abs(value) <= pf + scale, (r.diagram.key, value, pf)
        # the power-counting bound is never below the per-diagram operator-norm bound
        assert float(best_bound(r.diagram, table)[0][0]) <= pf * (1 + 1e-9) + 1e-300
        fams[(r.order, key)].append((abs(float(r.weight)), float(r.weight) * value, pf))
    for members in fams.values():
        total = sum(w for w, _, _ in members) * members[0][2]
        assert abs(sum(c for _, c, _ in members)) <= total * (1 + 1e-12) + 1e-300


@SETTINGS
@given(nets, st.sampled_from([1e-4, 1e-2, 1e-1]), st.sampled_from(["absolute", "relative"]))
def test_budget_covers_true_dropped_sum(net, tol, mode):
    objects = _objects(*net)
    full = _run(objects)
    res = _run(objects, tol=tol, tol_mode=mode, family_bounds=True)
    ref = _by_key(full)
    for n in range(2, ORDER + 1):
        dropped = sum(float(r.weight) * float(ref[(n, r.diagram.key)].value) for r in res.diagrams
                      if r.order == n and r.pruned)
        assert abs(res.kappa[n] - full.kappa[n]) <= res.pruned_budget[n] * (1 + 1e-9) + 1e-13
        assert abs(dropped) <= res.pruned_budget[n] * (1 + 1e-9) + 1e-13
        for r in res.diagrams:  # every pruned record's own charge covers its own dropped value
            if r.order == n and r.pruned:
                true = float(r.weight) * float(ref[(n, r.diagram.key)].value)
                assert abs(true) <= float(r.budget) * (1 + 1e-9) + 1e-13
        if mode == "relative":
            assert res.pruned_budget[n] <= tol * abs(res.kappa[n]) + 1e-300 or res.pruned_budget[n] == 0


@SETTINGS
@given(nets, st.sampled_from([1e-3, 1e-1]), st.sampled_from(["absolute", "relative"]))
@example(net=(5, 8, "tanh", 0), tol=1e-3, mode="absolute")  # kept diagram planned in another representation
def test_off_is_todays_path_and_on_keeps_values(net, tol, mode):
    objects = _objects(*net)
    today = _run(objects, tol=tol, tol_mode=mode)
    off = _run(objects, tol=tol, tol_mode=mode, family_bounds=False)
    on = _run(objects, tol=tol, tol_mode=mode, family_bounds=True)
    for a, b in zip(today.diagrams, off.diagrams):
        assert a.diagram.key == b.diagram.key and a.pruned == b.pruned
        assert np.array_equal(a.value, b.value) and np.array_equal(a.bound, b.bound)
        assert np.array_equal(a.budget, b.budget)
    assert today.kappa == off.kappa and today.pruned_budget == off.pruned_budget
    ref = _by_key(today)
    full = _by_key(_run(objects))
    for r in on.diagrams:
        if not r.pruned:  # a kept diagram's value is its own (to rounding: pruning changes how often a
            # vertex tensor is used, so the chooser may contract the same diagram in another representation)
            other = full[(r.order, r.diagram.key)]
            if r.representation == other.representation:
                assert np.array_equal(r.value, other.value)
            else:
                np.testing.assert_allclose(r.value, other.value, rtol=1e-12, atol=1e-15)
        if mode == "absolute":  # the pruned set is today's (only the charges may be looser)
            assert r.pruned == ref[(r.order, r.diagram.key)].pruned
            assert float(r.budget) >= float(ref[(r.order, r.diagram.key)].budget) * (1 - 1e-12)


def test_off_never_calls_family(monkeypatch):
    def boom(self, dg):
        raise AssertionError("family() called with family_bounds=False")

    monkeypatch.setattr(DiagramTerms, "family", boom)
    objects = _objects(5, 8, "relu", 3)
    for mode in ("absolute", "relative"):
        res = _run(objects, tol=1e-2, tol_mode=mode)
        assert res.n_pruned > 0
        assert "family_pruned" not in res.settings


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_families_skip_per_diagram_bounds(mode):
    objects = _objects(5, 8, "relu", 1)
    total = len(_run(objects).diagrams)
    res = _run(objects, tol=1e-1, tol_mode=mode, family_bounds=True)
    assert res.settings["family_pruned"] > 0
    assert res.settings["term_bounds"] + res.settings["family_pruned"] == total
    table = NormTable(objects)
    family_pruned = [r for r in res.diagrams if r.pruned
                     and float(r.bound) == float(frobenius_family(vertex_keys(r.diagram), table)[1][0])]
    assert len(family_pruned) >= res.settings["family_pruned"]
    for r in family_pruned:
        assert float(r.budget) == pytest.approx(abs(float(r.weight)) * float(r.bound), rel=1e-15)


def test_batch_absolute_family_rows():
    """A batch: a family is dropped only when below tol in every row; budgets per row honest."""
    base = random_mlp(4, 6, "relu", seed=2)
    other = replace(base, a=base.a * 3.0)  # same first layer, larger second layer
    objects = [shinnet.shin_tensors(base, K), shinnet.shin_tensors(other, K)]
    full = run_engine(objects, True, ORDER, K, ContractOptions(warn=False))
    for fb in (False, True):
        res = run_engine(objects, True, ORDER, K, ContractOptions(tol=3e-2, family_bounds=fb, warn=False))
        for n in range(2, ORDER + 1):
            assert np.all(np.abs(res.kappa[n] - full.kappa[n]) <= res.pruned_budget[n] * (1 + 1e-9) + 1e-13)
    off = run_engine(objects, True, ORDER, K, ContractOptions(tol=3e-2, warn=False))
    assert [r.pruned for r in res.diagrams] == [r.pruned for r in off.diagrams]


def test_ordered_mode_relative_with_families():
    objects = _objects(4, 6, "gelu", 5)
    full = _run(objects)
    res = _run(objects, tol=1e-2, tol_mode="relative", contract_mode="ordered", family_bounds=True)
    for n in range(2, ORDER + 1):
        assert abs(res.kappa[n] - full.kappa[n]) <= res.pruned_budget[n] * (1 + 1e-9) + 1e-13


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(st.integers(3, 5), st.integers(2, 8), st.sampled_from(ACTIVATIONS), st.integers(0, 10**6)),
       st.sampled_from([(1e-2, "absolute"), (1e-1, "relative")]))
def test_resummed_classes_family_bounds(net, tol_mode):
    """Resummed classes: cheap bound sum_pi |mu| prod_blocks ||T_label||_F >= |val|; budget honest;
    kept values unchanged; absolute pruned set unchanged."""
    d, m, act, seed = net
    tol, mode = tol_mode
    exp = get_expansion("resummed")
    model = random_mlp(d, m, act, seed=seed, bias_scale=0.3)
    full = exp.run(model, 4, ContractOptions(warn=False), max_edges=5)
    plain = exp.run(model, 4, ContractOptions(tol=tol, tol_mode=mode, warn=False), max_edges=5)
    res = exp.run(model, 4, ContractOptions(tol=tol, tol_mode=mode, family_bounds=True, warn=False), max_edges=5)
    ref, old = _by_key(full), _by_key(plain)
    for n in range(2, 5):
        assert abs(res.kappa[n] - full.kappa[n]) <= res.pruned_budget[n] * (1 + 1e-9) + 1e-13
    for r in res.diagrams:
        true = ref[(r.order, r.diagram.key)].value
        if r.pruned:
            assert abs(float(r.weight) * float(true)) <= float(r.budget) * (1 + 1e-9) + 1e-13
        else:
            assert np.array_equal(r.value, true)
        if mode == "absolute":
            assert r.pruned == old[(r.order, r.diagram.key)].pruned


@pytest.mark.parametrize("mode, tol", [("absolute", 1e-2), ("relative", 1e-1)])
def test_executor_matches_serial(mode, tol):
    objects = [shinnet.shin_tensors(random_mlp(5, 8, "relu", seed=1, bias_scale=0.3), K)]
    serial = _run(objects, tol=tol, tol_mode=mode, family_bounds=True)
    with ThreadPoolExecutor(2) as ex:
        pooled = _run(objects, tol=tol, tol_mode=mode, family_bounds=True, executor=ex)
    assert serial.settings["family_pruned"] == pooled.settings["family_pruned"] > 0
    assert [r.pruned for r in serial.diagrams] == [r.pruned for r in pooled.diagrams]
    for n in range(2, ORDER + 1):
        assert pooled.kappa[n] == pytest.approx(serial.kappa[n], rel=1e-12, abs=1e-15)
        assert pooled.pruned_budget[n] == serial.pruned_budget[n]


def test_public_keyword_reaches_the_engine():
    """``shinnet.cumulants(..., family_bounds=True)`` is the engine run with that option."""
    mlp = random_mlp(6, 8, hidden="relu", seed=1, bias_scale=0.0)
    public = shinnet.cumulants(mlp, 4, 4, tol=1e-3, tol_mode="absolute", family_bounds=True, warn=False)
    options = ContractOptions(tol=1e-3, tol_mode="absolute", family_bounds=True, gram_max_m=2048, warn=False)
    direct = run_engine([shinnet.shin_tensors(mlp, 4)], False, 4, 4, options)
    assert public.settings["family_pruned"] == direct.settings["family_pruned"] > 0
    for n in range(1, 5):
        assert public.kappa[n] == direct.kappa[n]
        if n >= 2:
            assert public.pruned_budget[n] == direct.pruned_budget[n]
