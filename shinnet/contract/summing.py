"""The one summing loop every expansion uses (MATH.md sections 4-5, 8).

Per cumulant order n the terms ``t_i`` (diagrams, or resummed classes) with exact weights
``w_i`` give

    kappa_n = sum_i w_i val(t_i),        |val(t_i)| <= bound(t_i)   (operator-norm bounds),

and the loop decides, term by term, whether to evaluate or drop it:

- ``tol_mode="absolute"`` (enumeration order): drop ``t_i`` when ``|w_i| bound(t_i) < tol``
  (in a batch: for every row);
- ``tol_mode="relative"`` (single rows): process the terms in decreasing ``|w_i| bound(t_i)``
  (stable) and drop all the rest once their suffix sum of bounds is below
  ``tol * |running sum|``, so the dropped part is below ``tol * |kappa_n|``;
- ``contract_mode="ordered"``: the evaluation itself may stop early once the remaining bound
  falls below the threshold (``tol``, or ``tol * |running sum|``), charging it to the budget.

With ``family_bounds`` (and an evaluator that supplies ``family``), terms are first grouped into
families bounded by power counting (:mod:`shinnet.contract.families`): absolute ``tol`` drops the
terms below ``tol`` on their family bound before any per-term bound; relative ``tol`` refines
bounds lazily, best first (:func:`shinnet.contract.families.lazy_relative_order`).

Every dropped bound is charged to the order's ``pruned_budget``.  One
:class:`DiagramRecord` per term is kept and the records of each order are put back in
enumeration order at its end, so ``kappa_n`` summed over records does not depend on the
processing order: a pruned run differs from the full one by the dropped terms only.  With an
executor the evaluations run ahead of the decisions in waves (``prefetch``): the loop's choices
are unchanged, a wave may evaluate terms a later relative cut drops (wasted, never summed).

An expansion supplies only a :class:`TermEvaluator`: how to bound and evaluate one term.  Values
are arrays (B,) throughout (B = 1 for one model).  Cost of the loop itself: O(N log N) per order
for the sort, O(N B) for the suffix sums, plus the evaluator's bounds and values.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np
from tqdm.auto import tqdm

from shinnet.contract.families import FamilyPass, lazy_relative_order
from shinnet.contract.options import ContractOptions
from shinnet.contract.result import CumulantResult, DiagramRecord

__all__ = ["TermEvaluator", "TermValue", "SummingLoop", "processing_order", "squeezer", "assemble_result"]

#: ``(value (B,), form, flops spent, largest intermediate entries)``; ordered evaluations add
#: ``(stopped_early, budget (B,))``
TermValue = tuple[np.ndarray, str, float, int]


class TermEvaluator(Protocol):
    """What an expansion supplies to the summing loop.

    Required: ``bound(term) -> (B,)`` (a bound on ``|val(term)|``, unweighted),
    ``value(term) -> (value (B,), form, cost, biggest)`` and ``max_degree(term) -> int`` (the
    record's largest vertex degree).  Optional: ``wave_seconds`` (not None with an executor) with
    ``prefetch(items, wave_seconds) -> {index: payload}`` (evaluate the ``(index, term)`` pairs in
    order until ``wave_seconds`` of estimated work, at least one) and
    ``value_ahead(term, payload) -> TermValue``; ``value_ordered(term, threshold) -> (value,
    form, cost, biggest, stopped_early, budget)`` for ``contract_mode="ordered"``.
    """

    def bound(self, term: Any) -> np.ndarray: ...

    def value(self, term: Any) -> TermValue: ...

    def max_degree(self, term: Any) -> int: ...


def processing_order(weighted: np.ndarray, relative: bool) -> list[int]:
    """Term indices in processing order: enumeration order, or (``relative``) decreasing
    ``max_b weighted[i, b]`` with ties in enumeration order.  ``weighted`` is (N, B)."""
    if not relative:
        return list(range(weighted.shape[0]))
    return [int(i) for i in np.argsort(-weighted.max(axis=1), kind="stable")] if weighted.shape[0] else []


class SummingLoop:
    """Evaluates or drops the terms of each order (the rule in the module docstring).

    Parameters
    ----------
    evaluator : TermEvaluator
    options : ContractOptions
        ``tol``, ``tol_mode``, ``contract_mode``, ``progress`` and ``need_bounds`` are read.
    B : int
        Rows (1 for one model).
    total : int
        Terms over all orders (the progress bar's length).
    desc : str
        The progress bar's label.

    Attributes
    ----------
    records : list of DiagramRecord
        Every term of every order so far, each order's block in enumeration order.
    t_bounds : float
        Seconds spent computing bounds.
    n_term_bounds, n_family_pruned : int
        Per-term bounds computed; terms dropped with their family (``family_bounds``) unbounded.
    """

    def __init__(self, evaluator: Any, options: ContractOptions, B: int, total: int, desc: str) -> None:
        self.evaluator, self.options, self.B = evaluator, options, int(B)
        self.bar = tqdm(total=total, disable=not options.progress, desc=desc, leave=False)
        self.records: list[DiagramRecord] = []
        self.t_bounds = 0.0
        self.n_family_pruned = 0
        self.n_term_bounds = 0

    def close(self) -> None:
        """Close the progress bar."""
        self.bar.close()

    def bounds(self, terms: Sequence[Any], given: np.ndarray | None = None,
               mask: np.ndarray | None = None) -> np.ndarray:
        """``bound(t_i)`` (N, B), NaN when the options need none; rows where ``mask`` is set are
        taken from ``given`` (family bounds) without calling the evaluator."""
        B = self.B
        if not self.options.need_bounds:
            return np.full((len(terms), B), np.nan)
        t0 = time.perf_counter()
        self.n_term_bounds += len(terms) - (0 if mask is None else int(np.count_nonzero(mask)))
        out = np.array([np.asarray(given[i] if mask is not None and mask[i] else self.evaluator.bound(t),
                                   dtype=np.float64).reshape(B) for i, t in enumerate(terms)])
        self.t_bounds += time.perf_counter() - t0
        return out.reshape(len(terms), B)

    def order(self, n: int, terms: Sequence[Any], weights: Sequence[Any] | None = None) -> np.ndarray:
        """Evaluate or drop the terms of order ``n``; append one record per term (in enumeration
        order) and return the pruned budget (B,).  ``weights`` default to ``term.weight``."""
        opts, ev, B = self.options, self.evaluator, self.B
        tol, relative = float(opts.tol), opts.relative
        absolute = tol > 0 and not relative
        ordered = opts.contract_mode == "ordered"
        weights = [t.weight for t in terms] if weights is None else list(weights)
        forced = np.zeros(len(terms), dtype=bool)
        if tol > 0 and opts.family_bounds and opts.need_bounds and callable(getattr(ev, "family", None)):
            t0 = time.perf_counter()
            fam = FamilyPass(terms, weights, ev.family, B)
            self.t_bounds += time.perf_counter() - t0
            if relative:
                return lazy_relative_order(self, n, terms, weights, fam)
            forced = fam.dropped(tol)  # below tol on the family bound: no bound DP, no plan
            self.n_family_pruned += int(forced.sum())
            bounds = self.bounds(terms, fam.cheap, forced)
        else:
            bounds = self.bounds(terms)
        weighted = np.abs(np.array([float(w) for w in weights], dtype=np.float64)).reshape(-1, 1) * bounds
        idx = processing_order(weighted, relative)
        suffix = np.zeros((len(idx) + 1, B))
        if relative:
            for pos in range(len(idx) - 1, -1, -1):
                suffix[pos] = suffix[pos + 1] + weighted[idx[pos]]
        wave = getattr(ev, "wave_seconds", None)
        ahead: dict[int, Any] = {}
        running, budget, cut = np.zeros(B), np.zeros(B), False
        first = len(self.records)
        for pos, i in enumerate(idx):
            term, weight = terms[i], weights[i]
            if relative and not cut:
                cut = bool(np.all(suffix[pos] < tol * np.abs(running)))
            if cut or forced[i] or (absolute and bool(np.all(weighted[i] < tol))):
                budget = budget + weighted[i]
                self.records.append(DiagramRecord(term, n, np.zeros(B), weight, np.zeros(B), bounds[i], 0.0, "-",
                                                  True, False, weighted[i].copy(), ev.max_degree(term)))
                self.bar.update(1)
                continue
            stopped, spent = False, np.zeros(B)
            if ordered:
                threshold = tol if not relative else tol * float(abs(running[0]))
                value, form, cost, biggest, stopped, spent = ev.value_ordered(term, threshold)
                budget = budget + spent
            elif wave is not None:
                if i not in ahead:
                    ahead.update(ev.prefetch(self._pending(terms, idx[pos:], weighted, absolute, forced),
                                             wave if relative else np.inf))
                value, form, cost, biggest = ev.value_ahead(term, ahead.pop(i))
            else:
                value, form, cost, biggest = ev.value(term)
            value = np.asarray(value, dtype=np.float64).reshape(B)
            contrib = float(weight) * value
            self.records.append(DiagramRecord(term, n, value, weight, contrib, bounds[i], cost, form, False,
                                              bool(stopped), np.asarray(spent, dtype=np.float64).reshape(B),
                                              ev.max_degree(term), biggest))
            running = running + contrib
            self.bar.update(1)
        # one record per term, back in enumeration order: kappa_n is then summed in the same
        # order whatever the processing order (relative pruning sorts by bound)
        block = self.records[first:]
        self.records[first:] = [block[p] for p in np.argsort(np.asarray(idx, dtype=np.int64), kind="stable")]
        return budget

    def _pending(self, terms: Sequence[Any], keys: Sequence[int], weighted: np.ndarray,
                 absolute: bool, forced: np.ndarray) -> Iterator[tuple[int, Any]]:
        """``(index, term)`` in processing order from ``keys``, lazily leaving out the terms an
        absolute tolerance drops (a relative cut is not known ahead)."""
        tol = float(self.options.tol)
        for j in keys:
            if forced[j] or (absolute and bool(np.all(weighted[j] < tol))):
                continue
            yield j, terms[j]


def squeezer(batch: bool) -> Callable[[Any], Any]:
    """Result values: arrays (B,) float64 for a batch, else the single float."""
    if batch:
        return lambda x: np.asarray(x, dtype=np.float64)
    return lambda x: float(np.asarray(x).reshape(-1)[0])


def assemble_result(records: Iterable[DiagramRecord], batch: bool, kappa: dict[int, Any], budgets: dict[int, Any],
                    partial_sums: dict[int, list[Any]], convergence: dict[int, Any], *,
                    flops: tuple[float, float, float], seconds: tuple[float, float, float, float],
                    settings: dict[str, Any]) -> CumulantResult:
    """The :class:`CumulantResult` of a summing run: record values, kappa, budgets and partial
    sums squeezed (floats for one model, arrays (B,) for a batch), counts and timings.

    ``flops`` is ``(total, setup, build)``; ``seconds`` is ``(total, path search, contraction,
    bounds)`` (the overhead is the rest).
    """
    squeeze = squeezer(batch)
    t_total, t_search, t_contract, t_bounds = seconds
    out = tuple(
        DiagramRecord(r.diagram, r.order, squeeze(r.value), r.weight, squeeze(r.contribution), squeeze(r.bound),
                      r.flops, r.representation, r.pruned, r.stopped_early, squeeze(r.budget), r.max_degree,
                      r.max_intermediate)
        for r in records
    )
    return CumulantResult(
        kappa={n: squeeze(v) for n, v in kappa.items()},
        diagrams=out,
        flops=flops[0],
        setup_flops=flops[1],
        build_flops=flops[2],
        pruned_budget={n: squeeze(v) for n, v in budgets.items()},
        n_evaluated=sum(1 for r in out if not r.pruned),
        n_pruned=sum(1 for r in out if r.pruned),
        n_stopped_early=sum(1 for r in out if r.stopped_early),
        partial_sums={n: [squeeze(s) for s in v] for n, v in partial_sums.items()},
        convergence=convergence,
        timings={"path_search": t_search, "contraction": t_contract, "bounds": t_bounds,
                 "overhead": max(t_total - t_search - t_contract - t_bounds, 0.0), "total": t_total},
        settings=settings,
    )
