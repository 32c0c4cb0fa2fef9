"""The FLOP-budget planner (shinnet/budget/chooser.py) and its exact prices (shinnet/budget/pricing.py).

Checks: prices equal what the engines then report; spent <= 2x budget over a grid of budgets and
models; a larger budget never plans a worse error (and runs a longer prefix of the same walk);
the resummed choice is priced and reported as resummed; too small a budget is refused with the
cheapest cost; no public entry point spends more FLOPs than it reports (an independent count of
the contractions actually executed and the arrays actually built).
"""

from __future__ import annotations

import importlib
import warnings

import cotengra as ctg
import numpy as np
import pytest

import shinnet
from shinnet import zoo
from shinnet.budget import BudgetError, BudgetWarning, estimate_within_budget
from shinnet.budget.pricing import price
from shinnet.contract import PathCache
from reference import check_walk_accounting, one_direction_mlp

#: short ladders: the walk's logic on tiny models in well under a second per budget
SHORT = {"degree": [(3, 3), (3, 4), (4, 4)], "resummed": [(3, 2), (3, 3), (4, 3), (4, 4)]}


def _models() -> dict[str, shinnet.TwoLayerMLP]:
    relu = zoo.random_mlp(4, 12, hidden="relu", output="sigmoid", seed=1, bias_scale=0.3)
    tanh = zoo.random_mlp(5, 10, hidden="tanh", output="relu", seed=2, bias_scale=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = zoo.trained_mlp(4, 12, "relu_shift", steps=40, seed=3, hidden="relu", bias_scale=0.5,
                                  num_threads=1).replace(output=shinnet.activations.get("sigmoid"))
    return {"relu-random": relu, "tanh-random": tanh, "relu-trained": trained}


MODELS = _models()


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("expansion,order,truncation", [("degree", 3, 3), ("degree", 4, 4), ("resummed", 3, 2),
                                                         ("resummed", 4, 4)])
def test_price_equals_what_the_estimate_then_reports(name, expansion, order, truncation):
    mlp = MODELS[name]
    cache = PathCache()
    p = price(mlp, expansion, order, truncation, cache)
    kw = {"max_degree": truncation} if expansion == "degree" else {"max_edges": truncation}
    est = _quiet(shinnet.estimate, mlp, order=order, expansion=expansion, cache=cache, **kw)
    assert p.flops == pytest.approx(est.flops, rel=1e-12)
    assert p.total == pytest.approx(est.flops_with_advice, rel=1e-12)


def test_price_with_a_limit_stops_early_and_never_underprices():
    mlp = MODELS["relu-random"]
    full = price(mlp, "degree", 4, 4, PathCache())
    assert price(mlp, "degree", 4, 4, PathCache(), limit=0.5 * full.total) is None
    again = price(mlp, "degree", 4, 4, PathCache(), limit=full.total)
    assert again is not None and again.total == full.total


BUDGETS = [10.0**k for k in range(3, 11)]


def _walk(mlp, budget, **kw):
    try:
        return _quiet(estimate_within_budget, mlp, budget, ladders=SHORT, **kw)
    except BudgetError:
        return None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_spent_stays_within_twice_the_budget_and_larger_budgets_plan_no_worse(name):
    mlp = MODELS[name]
    cache = PathCache()
    previous = None
    for budget in BUDGETS:
        est = _walk(mlp, budget, cache=cache)
        if est is None:
            assert previous is None, "a larger budget was refused after a smaller one ran"
            continue
        choice = est.details["budget_choice"]
        assert est.flops_with_advice <= 2.0 * budget
        assert est.flops_with_advice == pytest.approx(choice.spent, rel=1e-12)
        assert est.flops_with_advice == pytest.approx(sum(r.spent for r in choice.runs) + choice.planning_flops,
                                                      rel=1e-12)
        assert len(choice.runs) == 1 or est.flops_with_advice <= budget  # only the first rung may exceed it
        for run in choice.runs:  # every run cost exactly its price
            assert run.spent == pytest.approx(run.price.total, rel=1e-12)
        if previous is not None:
            prev = previous.details["budget_choice"]
            assert choice.planned_error <= prev.planned_error
            labels = [r.label() for r in choice.runs]
            assert labels[:len(prev.runs)] == [r.label() for r in prev.runs]  # same walk, longer prefix
        previous = est
    assert previous is not None and len(previous.details["budget_choice"].runs) >= 3


def test_more_budget_buys_a_better_planned_error_on_a_smooth_model():
    mlp = zoo.random_mlp(6, 16, hidden="tanh", output="sigmoid", seed=4, weight_scale=0.7, bias_scale=0.3)
    cache = PathCache()
    small = _walk(mlp, 2e7, cache=cache)  # tanh's coefficients: ~2e5 FLOPs per unit (quadrature)
    large = _walk(mlp, 1e9, cache=cache)
    assert small is not None and large is not None
    assert len(large.details["budget_choice"].runs) > len(small.details["budget_choice"].runs)
    assert large.details["budget_choice"].planned_error < small.details["budget_choice"].planned_error


def test_resummed_budget_runs_prices_and_reports_the_resummed_expansion():
    mlp = MODELS["tanh-random"]
    est = _quiet(shinnet.estimate, mlp, budget_flops=2e7, expansion="resummed")
    choice = est.details["budget_choice"]
    assert est.method == "resummed" and est.details["expansion"] == "resummed"
    assert {r.price.expansion for r in choice.runs} == {"resummed"}
    assert est.details["max_edges"] == choice.runs[choice.chosen].price.truncation
    for run in choice.runs:
        assert run.spent == pytest.approx(run.price.total, rel=1e-12)
    assert est.flops_with_advice <= 2e7


def test_budget_too_small_is_refused_with_the_cheapest_cost():
    mlp = MODELS["relu-random"]
    with pytest.raises(BudgetError, match=r"cannot buy the cheapest estimate.*costs [0-9.e+]+ FLOPs"):
        shinnet.estimate(mlp, budget_flops=1e3)
    cheapest = price(mlp, "degree", 3, 3, PathCache()).total
    with pytest.warns(BudgetWarning, match="below the cheapest estimate"):
        warnings.simplefilter("ignore", shinnet.reliability.UnreliableEstimateWarning)
        est = shinnet.estimate(mlp, budget_flops=0.75 * cheapest, warn=False)
    assert est.flops_with_advice <= 1.5 * cheapest + est.details["budget_choice"].planning_flops
    for bad in (-1.0, 0.0, float("nan"), float("inf"), "1e9", True):
        with pytest.raises(ValueError, match="budget_flops must be a finite number > 0"):
            shinnet.estimate(mlp, budget_flops=bad)


class _Counter:
    """Counts what actually runs: the cost cotengra reports for every tree contracted, the size
    of every one-input sum, and the arrays the providers build (Gram 2 m^2 d once plus m^2 per
    extra Hadamard power, dense tensors 2 m d^k), by wrapping the functions that do the work."""

    def __init__(self, monkeypatch):
        backends = importlib.import_module("shinnet.contract.backends")
        lambda_star = importlib.import_module("shinnet.contract.lambda_star")
        resummed = importlib.import_module("shinnet.contract.resummed")
        power_shin = importlib.import_module("shinnet.tensors.power_shin")
        shin = importlib.import_module("shinnet.tensors.shin")
        conditioning = importlib.import_module("shinnet.conditioning")
        budget_conditioned = importlib.import_module("shinnet.budget.conditioned")
        chooser = importlib.import_module("shinnet.budget.chooser")

        self.contractions = self.gram = self.dense = self.vertices = self.lam = 0.0
        self._in_tree = False
        tree_contract = ctg.ContractionTree.contract
        array_contract = ctg.array_contract
        numpy_source = backends.ArrayProvider._numpy
        counter = self

        def tree(self_, arrays, *a, **k):
            counter.contractions += float(self_.contraction_cost())
            counter._in_tree = True
            try:
                return tree_contract(self_, arrays, *a, **k)
            finally:
                counter._in_tree = False

        def single(arrays, inputs, output, *a, **k):
            if not counter._in_tree and len(arrays) == 1:
                counter.contractions += float(np.size(arrays[0]))
            return array_contract(arrays, inputs, output, *a, **k)

        def source(self_, src):
            U = getattr(self_.objects[0], "U", None)
            if src[0] == "gram" and U is not None:
                m, d = np.shape(U)
                if ("gram-numpy",) not in self_._cache:
                    counter.gram += 2.0 * m * m * d
                counter.gram += float(m) * m * max(int(src[1]) - 1, 0)
            if src[0] == "dense" and U is not None:
                k = int(self_.objects[0].degree_of(src[1]))
                if k > 0 and src[1] not in getattr(self_.objects[0], "advice", {}):
                    counter.dense += 2.0 * np.shape(U)[0] * float(np.shape(U)[1]) ** k
            return numpy_source(self_, src)

        def wrap_vertices(fn):
            def inner(*a, **k):
                out = fn(*a, **k)
                counter.vertices += float(out.build_flops)
                return out
            return inner

        def wrap_lambda(fn):
            def inner(*a, **k):
                out = fn(*a, **k)
                counter.lam += float(out.flops)
                return out
            return inner

        monkeypatch.setattr(ctg.ContractionTree, "contract", tree)
        monkeypatch.setattr(ctg, "array_contract", single)
        monkeypatch.setattr(backends.ArrayProvider, "_numpy", source)
        monkeypatch.setattr(shin, "shin_tensors", wrap_vertices(shin.shin_tensors))
        monkeypatch.setattr(chooser, "shin_tensors", wrap_vertices(chooser.shin_tensors))  # imported at its top
        monkeypatch.setattr(power_shin, "power_shin_tensors", wrap_vertices(power_shin.power_shin_tensors))
        monkeypatch.setattr(resummed, "lambda_star", wrap_lambda(lambda_star.lambda_star))
        # the planner's active-direction sweep (shinnet.budget.conditioned) by its own report: its Gram
        # sweeps are numpy products, not engine contractions (formula: shinnet.conditioning.directions)
        monkeypatch.setattr(budget_conditioned, "active_directions", wrap_lambda(conditioning.active_directions))

    @property
    def total(self) -> float:
        return self.contractions + self.gram + self.dense + self.vertices + self.lam


@pytest.mark.parametrize("expansion,kw", [("degree", {"max_degree": 4}), ("resummed", {"max_edges": 3})])
def test_cumulants_report_every_flop_counted_independently(monkeypatch, expansion, kw):
    mlp = MODELS["relu-random"]
    count = _Counter(monkeypatch)
    res = _quiet(shinnet.cumulants, mlp, 4, expansion=expansion, representation="auto", **kw)
    assert count.contractions > 0
    assert res.flops + res.build_flops == pytest.approx(count.total, rel=1e-9)


@pytest.mark.parametrize("expansion,kw", [("degree", {"max_degree": 4}), ("resummed", {"max_edges": 3})])
def test_plain_estimate_reports_every_flop_counted_independently(monkeypatch, expansion, kw):
    mlp = MODELS["tanh-random"]
    count = _Counter(monkeypatch)
    est = _quiet(shinnet.estimate, mlp, order=4, expansion=expansion, **kw)
    assert count.contractions > 0
    assert est.flops_with_advice == pytest.approx(count.total, rel=1e-9)


@pytest.mark.parametrize("budget", [1e7, 1e8])  # tanh's coefficients cost ~2e5 FLOPs per unit
def test_estimate_with_a_budget_reports_every_flop_counted_independently(monkeypatch, budget):
    mlp = MODELS["tanh-random"]
    count = _Counter(monkeypatch)
    est = _quiet(shinnet.estimate, mlp, budget_flops=budget)
    assert est.flops_with_advice == pytest.approx(count.total, rel=1e-9)
    assert est.flops_with_advice <= 2.0 * budget
    assert est.flops <= est.flops_with_advice


@pytest.mark.slow
def test_default_ladders_stay_within_the_budget_and_plan_no_worse_with_more():
    mlp = MODELS["relu-trained"]
    cache = PathCache()
    previous = None
    for budget in (1e5, 1e7, 1e9):
        est = _quiet(shinnet.estimate, mlp, budget_flops=budget, cache=cache)
        choice = est.details["budget_choice"]
        assert est.flops_with_advice <= 2.0 * budget
        if previous is not None:
            assert choice.planned_error <= previous.planned_error
        previous = choice


def test_old_planner_names_still_import():
    from shinnet.budget import LADDER, Choice, choose_settings, degree_cap, predicted_flops  # noqa: F401

    mlp = MODELS["relu-random"]
    c = choose_settings(mlp, 1e6)
    flops, dense = predicted_flops(mlp.d, mlp.m, c.order, c.max_degree)
    est = _quiet(shinnet.estimate, mlp, order=c.order, max_degree=c.max_degree)
    assert c.predicted_flops == pytest.approx(est.flops_with_advice, rel=1e-12)
    assert flops == pytest.approx(est.flops, rel=1e-12)


# ---------------------------------------------------------------------------- conditioned candidates
ONE_DIRECTION = one_direction_mlp(6, 32, 1)


def test_conditioned_price_bounds_what_the_capped_run_spends():
    from shinnet.budget.conditioned import conditioned_ladder

    ladder = conditioned_ladder(ONE_DIRECTION, 1e9, PathCache())
    assert ladder is not None and ladder.r == 1 and ladder.directions.energy_share >= 0.8
    assert ladder.rungs[0] == (1, 64) and ladder.planning_flops > 0
    for rung in ladder.rungs[:3]:
        p = ladder.price(rung)
        est = _quiet(ladder.run, ONE_DIRECTION, rung)
        info = est.details["condition"]
        assert info["nodes"] <= max(rung[1], ladder.first_mesh)  # max_nodes caps the refinement
        assert est.flops_with_advice <= p.total  # the cap's price bounds the spend
        assert est.flops_with_advice >= 0.1 * p.total * info["nodes"] / p.nodes  # and is not vacuous
        if not info["converged"]:  # stopped by the cap: says so, with its quadrature error
            assert not est.reliable and info["quadrature_error"] > 0
    assert ladder.price((1, 64), limit=0.5 * ladder.price((1, 64)).total) is None


def test_budget_picks_conditioning_on_a_one_direction_net_and_beats_the_plain_walk():
    budget = 1e8
    ref = shinnet.monte_carlo(ONE_DIRECTION, 2**16, seed=1, method="sobol", control_variates=True, scrambles=16)
    est = _quiet(shinnet.estimate, ONE_DIRECTION, budget_flops=budget)
    choice = est.details["budget_choice"]
    assert est.method == "conditioned" and choice.runs[choice.chosen].price.expansion == "conditioned"
    assert est.details["condition"]["r"] == 1 and est.flops_with_advice <= budget
    # the plain estimate the walk would return without the conditioned ladder: its best-scoring other run
    plain = min((r for r in choice.runs if r.price.expansion != "conditioned"), key=lambda r: r.score)
    # measured: 6e-7 against 3.7e-4 (reference s.e. ~3e-6): 3 s.e. of slack for the reference's noise
    assert abs(est.value - ref.value) + 3.0 * ref.stderr < abs(plain.value - ref.value)


def test_conditioned_walk_spends_at_most_twice_the_budget_and_plans_no_worse_with_more():
    cache = PathCache()
    previous = None
    for budget in (1e6, 1e7, 3e7):
        est = _quiet(shinnet.estimate, ONE_DIRECTION, budget_flops=budget, cache=cache)
        choice = est.details["budget_choice"]
        check_walk_accounting(est, budget)
        if previous is not None:
            assert choice.planned_error <= previous.planned_error
        previous = choice
    assert any(r.price.expansion == "conditioned" for r in previous.runs)


def test_random_net_has_no_conditioned_candidate():
    from shinnet.budget.conditioned import conditioned_ladder

    mlp = zoo.random_mlp(6, 32, hidden="relu", output="sigmoid", seed=5, bias_scale=0.5)
    ladder = conditioned_ladder(mlp, 1e9, PathCache())
    assert ladder is not None and ladder.r == 0 and ladder.rungs == [] and ladder.planning_flops > 0
    est = _quiet(shinnet.estimate, mlp, budget_flops=1e8)
    choice = est.details["budget_choice"]
    assert est.method != "conditioned" and "conditioned" not in choice.closed
    assert all(r.price.expansion != "conditioned" for r in choice.runs)
    # the directions were computed (and charged to planning) only because the budget allowed them
    assert conditioned_ladder(mlp, 1e3, PathCache()) is None
