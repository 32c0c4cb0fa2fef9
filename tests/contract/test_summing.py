"""The one summing loop (shinnet.contract.summing) on synthetic terms with known values and bounds."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from shinnet.contract.options import ContractOptions
from shinnet.contract.summing import SummingLoop, assemble_result, processing_order


@dataclass(frozen=True)
class Term:
    key: str
    weight: Fraction
    value: tuple[float, ...]
    bound: tuple[float, ...]
    degree: int = 2


class Evaluator:
    """Serves the terms' stored values and bounds; logs what the loop asked for."""

    def __init__(self) -> None:
        self.evaluated: list[str] = []
        self.bounded: list[str] = []

    def bound(self, t: Term) -> np.ndarray:
        self.bounded.append(t.key)
        return np.array(t.bound)

    def value(self, t: Term) -> tuple[np.ndarray, str, float, int]:
        self.evaluated.append(t.key)
        return np.array(t.value), "dense", 10.0, 3

    @staticmethod
    def max_degree(t: Term) -> int:
        return t.degree


class WaveEvaluator(Evaluator):
    """With an 'executor': evaluates ahead in waves of ``per_wave`` terms."""

    def __init__(self, per_wave: int) -> None:
        super().__init__()
        self.wave_seconds = 1.0
        self.per_wave = per_wave
        self.waves: list[list[int]] = []
        self.wave_args: list[float] = []

    def prefetch(self, items: Any, wave_seconds: float) -> dict[int, Any]:
        self.wave_args.append(wave_seconds)
        out = {}
        for i, t in items:
            out[i] = (np.array(t.value), "wave")
            if len(out) >= self.per_wave:
                break
        self.waves.append(list(out))
        return out

    def value_ahead(self, t: Term, payload: Any) -> tuple[np.ndarray, str, float, int]:
        self.evaluated.append(t.key)
        value, form = payload
        return value, form, 5.0, 1


class OrderedEvaluator(Evaluator):
    """Early-stopping evaluation: stops (value 0, budget = bound) when |w| bound < threshold / 2."""

    def __init__(self) -> None:
        super().__init__()
        self.thresholds: list[float] = []

    def value_ordered(self, t: Term, threshold: float) -> tuple[np.ndarray, str, float, int, bool, np.ndarray]:
        self.thresholds.append(threshold)
        wb = abs(float(t.weight)) * t.bound[0]
        if wb < 2 * threshold:
            return np.zeros(1), "ordered", 1.0, 1, True, np.array([wb])
        return np.array(t.value), "ordered", 7.0, 2, False, np.zeros(1)


def _terms() -> list[Term]:
    # |w| * bound: 0.1, 5, 1, 0.01, 0.02 (values within their bounds)
    return [Term("a", Fraction(1), (0.1,), (0.1,)), Term("b", Fraction(-2), (2.0,), (2.5,)),
            Term("c", Fraction(1, 2), (-1.0,), (2.0,)), Term("d", Fraction(1), (0.01,), (0.01,), 3),
            Term("e", Fraction(1), (-0.02,), (0.02,), 4)]


def _run(terms: list[Term], ev: Any, B: int = 1, **opts: Any) -> tuple[SummingLoop, np.ndarray]:
    loop = SummingLoop(ev, ContractOptions(**opts), B, len(terms), "test")
    budget = loop.order(2, terms)
    loop.close()
    return loop, budget


def test_processing_order_is_enumeration_or_stable_decreasing_weighted_bound():
    w = np.array([[1.0], [3.0], [1.0], [2.0]])
    assert processing_order(w, False) == [0, 1, 2, 3]
    assert processing_order(w, True) == [1, 3, 0, 2]  # the tie 0/2 stays in enumeration order
    assert processing_order(np.array([[1.0, 5.0], [2.0, 0.0]]), True) == [0, 1]  # by the row maximum
    assert processing_order(np.zeros((0, 1)), True) == []


def test_no_tolerance_evaluates_everything_in_enumeration_order_without_bounds():
    terms = _terms()
    ev = Evaluator()
    loop, budget = _run(terms, ev)
    assert ev.evaluated == ["a", "b", "c", "d", "e"] and ev.bounded == []
    assert [r.diagram.key for r in loop.records] == ["a", "b", "c", "d", "e"]
    assert all(np.isnan(r.bound[0]) for r in loop.records) and not any(r.pruned for r in loop.records)
    contrib = [float(t.weight) * t.value[0] for t in terms]
    assert [float(r.contribution[0]) for r in loop.records] == contrib
    assert [r.max_degree for r in loop.records] == [2, 2, 2, 3, 4]
    assert [r.flops for r in loop.records] == [10.0] * 5 and [r.representation for r in loop.records] == ["dense"] * 5
    assert budget.tolist() == [0.0]


def test_absolute_pruning_drops_terms_below_tol_and_charges_their_bounds():
    terms = _terms()
    ev = Evaluator()
    loop, budget = _run(terms, ev, tol=0.05)
    assert ev.evaluated == ["a", "b", "c"]
    assert [r.pruned for r in loop.records] == [False, False, False, True, True]
    assert budget.tolist() == [0.0 + 0.01 + 0.02]
    assert [float(r.budget[0]) for r in loop.records] == [0.0, 0.0, 0.0, 0.01, 0.02]
    pruned = [r for r in loop.records if r.pruned]
    assert all(r.value.tolist() == [0.0] and r.contribution.tolist() == [0.0] and r.flops == 0.0
               and r.representation == "-" for r in pruned)
    # the bounds are |val| bounds (unweighted); the budget is weighted
    assert [float(r.bound[0]) for r in loop.records] == [0.1, 2.5, 2.0, 0.01, 0.02]
    assert loop.t_bounds >= 0.0


def test_relative_pruning_processes_by_bound_cuts_on_the_suffix_sum_and_restores_enumeration_order():
    terms = _terms()
    ev = Evaluator()
    loop, budget = _run(terms, ev, tol=0.01, tol_mode="relative")
    # processing order b (5), c (1), a (0.1), e (0.02), d (0.01); running -4, -4.5, -4.4; at e
    # the suffix 0.03 < 0.01 * 4.4, so e and d are dropped
    assert ev.evaluated == ["b", "c", "a"]
    assert [r.diagram.key for r in loop.records] == ["a", "b", "c", "d", "e"]
    assert [r.pruned for r in loop.records] == [False, False, False, True, True]
    assert budget.tolist() == [0.0 + 0.02 + 0.01]
    kappa = sum(float(r.contribution[0]) for r in loop.records)
    assert kappa == 0.1 + -4.0 + -0.5 + 0.0 + 0.0
    assert float(budget[0]) < 0.01 * abs(kappa)
    # a looser tolerance cuts earlier: after b, suffix 1.13 < 0.3 * 4
    ev2 = Evaluator()
    loop2, budget2 = _run(terms, ev2, tol=0.3, tol_mode="relative")
    assert ev2.evaluated == ["b"]
    assert budget2.tolist() == [((0.0 + 1.0) + 0.1) + 0.02 + 0.01]


def test_relative_sums_equal_the_unpruned_run_minus_the_dropped_terms_exactly():
    rng = np.random.default_rng(0)
    terms = [Term(f"t{i}", Fraction(int(rng.integers(1, 5)), int(rng.integers(1, 4))), (float(v),), (abs(float(v)) * 1.5,))
             for i, v in enumerate(rng.standard_normal(40) * np.logspace(0, -6, 40))]
    full, _ = _run(terms, Evaluator())
    cut, budget = _run(terms, Evaluator(), tol=1e-4, tol_mode="relative")
    assert any(r.pruned for r in cut.records)
    kept = [r.contribution[0] if not rc.pruned else 0.0 for r, rc in zip(full.records, cut.records)]
    # enumeration order restored: the sums agree bit for bit with the full run's kept terms
    assert sum(r.contribution[0] for r in cut.records) == sum(kept)
    dropped = sum(abs(float(t.weight)) * t.bound[0] for t, r in zip(terms, cut.records) if r.pruned)
    assert float(budget[0]) == pytest.approx(dropped, rel=1e-13)


def test_batch_prunes_a_term_only_when_every_row_is_below_tol():
    terms = [Term("x", Fraction(1), (1.0, 0.001), (1.0, 0.001)), Term("y", Fraction(1), (0.001, 0.002), (0.001, 0.002)),
             Term("z", Fraction(3), (0.5, -0.5), (1.0, 1.0))]
    ev = Evaluator()
    loop, budget = _run(terms, ev, B=2, tol=0.01)
    assert ev.evaluated == ["x", "z"]
    assert [r.pruned for r in loop.records] == [False, True, False]
    assert budget.tolist() == [0.001, 0.002]
    assert loop.records[2].contribution.tolist() == [1.5, -1.5]
    assert loop.records[1].budget.tolist() == [0.001, 0.002]


def test_waves_evaluate_ahead_skip_absolutely_pruned_terms_and_give_the_serial_values():
    terms = _terms()
    serial, b_serial = _run(terms, Evaluator(), tol=0.05)
    ev = WaveEvaluator(per_wave=2)
    loop, budget = _run(terms, ev, tol=0.05)
    assert ev.waves == [[0, 1], [2]]  # d and e (below tol) never planned
    assert ev.wave_args == [np.inf, np.inf]  # absolute: no need to wait for running sums
    assert [r.contribution.tolist() for r in loop.records] == [r.contribution.tolist() for r in serial.records]
    assert budget.tolist() == b_serial.tolist()
    assert [r.representation for r in loop.records] == ["wave"] * 3 + ["-"] * 2
    # relative: waves of wave_seconds, in processing order; a wave may hold terms the cut drops
    ev_r = WaveEvaluator(per_wave=4)
    loop_r, _ = _run(terms, ev_r, tol=0.01, tol_mode="relative")
    assert ev_r.waves == [[1, 2, 0, 4]] and ev_r.wave_args == [1.0]
    assert ev_r.evaluated == ["b", "c", "a"]
    assert [r.pruned for r in loop_r.records] == [False, False, False, True, True]


def test_ordered_mode_passes_the_threshold_and_charges_early_stops_to_the_budget():
    terms = _terms()
    ev = OrderedEvaluator()
    loop, budget = _run(terms, ev, tol=0.03, contract_mode="ordered")
    # absolute: d, e pruned (< 0.03); a (0.1 < 0.06? no) evaluated; threshold is tol for all
    assert ev.thresholds == [0.03, 0.03, 0.03]
    assert [r.stopped_early for r in loop.records] == [False] * 5
    ev2 = OrderedEvaluator()
    loop2, budget2 = _run(terms, ev2, tol=0.02, tol_mode="relative", contract_mode="ordered")
    # processing b, c, a: thresholds 0.02 * |running| = 0, 0.08, 0.09; a (0.1 < 0.18) stops early
    assert ev2.thresholds == [0.0, 0.02 * 4.0, 0.02 * 4.5]
    assert [r.stopped_early for r in loop2.records] == [True, False, False, False, False]
    assert loop2.records[0].budget.tolist() == [0.1] and loop2.records[0].contribution.tolist() == [0.0]
    # after a stopped early the running sum is still -4.5 and the suffix 0.03 < 0.09: d, e dropped
    assert [r.pruned for r in loop2.records] == [False, False, False, True, True]
    assert budget2.tolist() == [0.1 + 0.02 + 0.01]


def test_assemble_result_squeezes_single_rows_and_counts():
    terms = _terms()
    loop, budget = _run(terms, Evaluator(), tol=0.05)
    kappa = {1: np.array([0.5]), 2: sum((r.contribution for r in loop.records), np.zeros(1))}
    res = assemble_result(loop.records, False, kappa, {2: budget}, {2: [kappa[2]]}, {}, flops=(30.0, 1.0, 2.0),
                          seconds=(1.0, 0.25, 0.5, 0.125), settings={"expansion": "test"})
    assert res.kappa == {1: 0.5, 2: 0.1 - 4.0 - 0.5}
    assert res.pruned_budget == {2: 0.0 + 0.01 + 0.02} and res.partial_sums == {2: [0.1 - 4.0 - 0.5]}
    assert (res.n_evaluated, res.n_pruned, res.n_stopped_early) == (3, 2, 0)
    assert isinstance(res.diagrams[0].value, float) and res.diagrams[3].budget == 0.01
    assert res.timings["overhead"] == 0.125 and (res.flops, res.setup_flops, res.build_flops) == (30.0, 1.0, 2.0)
