"""The summing engine of the resummed expansion (MATH.md section 8).

    kappa_1 = c + sum_u kap^u_{1,0}                                           (exact)
    kappa_n = sum_{E >= 0} kappa_n^[E],   kappa_n^[E] = sum_{(G, p): E edge copies} weight(G, p) val(G, p)

with ``val(G, p)`` the hidden-unit sum over zero-diagonal cosines ``Rt`` or, equivalently, the
Moebius sum of d-space quotient networks (:mod:`shinnet.contract.resummed_plan` picks per class
by cotengra's cost).  Every same-unit part is exact in one dimension (the vertex weights
``kap = a^p K_{p,k}``); the series is in the cosines between distinct units only, truncated at
``E <= max_edges``.  Pruning: ``|val(G, p)| <= sum_pi |mu_G(pi)| bound(Net(G/pi))`` with the
operator-norm bound of MATH.md section 5 on each quotient network's block tensors; a class
with ``|weight| * bound < tol`` is skipped (``tol_mode="absolute"``; in a batch, only when that holds
for every row), or, with ``tol_mode="relative"``, the classes of each order are processed in
decreasing ``|weight| * bound`` and the rest dropped once their summed bound falls below
``tol * |running sum|``; either way the dropped bounds are charged to ``pruned_budget``.

A batch of second layers (``second_layers=A``, :mod:`shinnet.contract.resummed_batch`) runs one
batched contraction per class and quotient class: every value is then an array (B,).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shinnet.contract.backends import to_numpy
from shinnet.contract.bounds import NormTable, SplitBounds, best_bound, quotient_norm_network
from shinnet.contract.executor import PlanRunner, as_diagram_executor
from shinnet.contract.lambda_star import lambda_star
from shinnet.contract.moebius import BlockVertices, ResummedArrays
from shinnet.contract.pathcache import PathCache
from shinnet.contract.result import CumulantResult, DiagramRecord
from shinnet.contract.resummed_batch import batch_reports, power_vertex_object, vertex_rows
from shinnet.contract.resummed_plan import ResummedPlanner, contract

__all__ = ["resummed_cumulants", "power_vertex_object"]

_TOL_MODES = ("absolute", "relative")


def resummed_cumulants(
    model_or_tensors: Any,
    order: int,
    max_edges: int,
    *,
    second_layers: Any = None,
    tol: float = 0.0,
    tol_mode: str = "absolute",
    backend: str = "numpy",
    representation: str = "auto",
    dtype: str = "float64",
    device: str | None = None,
    cache: PathCache | None = None,
    memory_limit: float = 2.0**31,
    gram_max_m: int = 4096,
    compute_bounds: bool | None = None,
    exact_variance: Any = None,
    warn: bool = True,
    progress: bool = False,
    executor: Any = None,
    split_bounds: bool | None = None,
) -> CumulantResult:
    """Cumulants ``kappa_1..kappa_order`` by the resummed expansion truncated at ``E <= max_edges``,
    for one model or a batch of second layers.

    Parameters
    ----------
    model_or_tensors : TwoLayerMLP, PowerShinTensors, PowerShinBatch or sequence of TwoLayerMLP
        A sequence of models sharing the first layer (or a ``PowerShinBatch``) is a batch.
    order : int
        Largest cumulant order n.
    max_edges : int
        Largest total edge multiplicity E (the order in the cosines).
    second_layers : array (B, m), optional
        With a single TwoLayerMLP: the batch, row b having ``a = A[b]``.  ``K_{p,k}`` is computed
        once and scaled per row (``kap_b = A[b]^p K``); Gram powers, paths and lambda* are shared.
    tol : float
        Pruning tolerance (0: nothing pruned).
    tol_mode : {"absolute", "relative"}
        ``absolute``: skip a class when ``|weight| * bound < tol`` (in a batch: for every row).
        ``relative`` (single models only): per order, process the classes in decreasing
        ``|weight| * bound`` and drop the rest once their summed bound is below
        ``tol * |running sum|``, so ``pruned_budget[n] < tol * |kappa_n|``.
    backend, dtype, device
        As for :func:`shinnet.contract.cumulants`.
    representation : {"auto", "hidden", "dspace"}
        Per class: cheapest by cotengra's cost, or forced.
    cache : PathCache, optional
    memory_limit : float
        Bytes, for any single tensor (dense block tensors, Gram powers, intermediates).
    gram_max_m : int
        Largest m for m x m Gram powers (hidden-unit form, m-space quotient networks).
    compute_bounds : bool, optional
        Bounds even when ``tol == 0``.
    exact_variance : float or array (B,), optional
        ``Var f`` (per row for a batch): reported as the n = 2 report's ``exact_tail``.
    warn : bool
        :class:`ConvergenceWarning` when the greedy ``lambda* >= 1`` (the series is asymptotic).
    progress : bool
    executor : optional
        As for :func:`shinnet.contract.cumulants`: the hidden-unit and quotient contractions run
        as tasks on anything with ``submit``; choices, pruning and sums stay here (same result).
    split_bounds : bool, optional
        Bound each quotient network also by splitting it in two halves, ``|<A_S, A_S'>| <=
        ||A_S|| ||A_S'||`` with the half norms contracted exactly (memoised per half; charged to
        ``flops``); the smaller bound is used.  Opt-in: each quotient network has up to
        ``2^(blocks-1)`` splits, each half a new network to plan and contract, which at
        (N, E) = (6, 8) costs far more than the evaluation itself.

    Returns
    -------
    CumulantResult
        ``kappa[n]`` at ``E = max_edges``; ``partial_sums[n][E]`` for E = 0..max_edges;
        ``convergence[n]`` a :class:`shinnet.contract.lambda_star.ResummedReport`; records with
        ``representation`` ``"hidden"``, ``"dspace"`` or ``"-"`` (pruned).  ``flops`` = contraction
        costs + ``setup_flops`` (Gram powers, lambda* search); ``build_flops`` = vertex weights +
        dense block tensors.  For a batch every value (kappa, partial sums, record values,
        contributions, bounds, budgets) is an array (B,) and ``convergence[n]`` is a tuple of B
        reports (row b's at ``[n][b]``); ``settings["batch"]`` is B (None for one model).

    Notes
    -----
    Cost: per class the cheaper of its hidden-unit network (up to m^(treewidth+1)) and its
    not-yet-evaluated quotient networks (linear in m, times d^legs for dense block tensors); a
    batch multiplies the contraction costs by about B but not the path searches, Gram powers,
    lambda* or the ``K_{p,k}`` quadrature.
    """
    t_start = time.perf_counter()
    for name, value in (("order", order), ("max_edges", max_edges)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if tol_mode not in _TOL_MODES:
        raise ValueError(f"tol_mode must be one of {_TOL_MODES}, got {tol_mode!r}")
    rows, batch, build_flops = vertex_rows(model_or_tensors, second_layers, int(order), int(max_edges))
    if batch and tol > 0 and tol_mode == "relative":
        raise ValueError("tol_mode='relative' is not supported for batches of second layers; use an absolute tol")
    B = len(rows)
    blocks = [BlockVertices(t, max_dense_bytes=memory_limit) for t in rows]
    provider = ResummedArrays(blocks, batch, backend=backend, dtype=dtype, device=device)
    cache = PathCache() if cache is None else cache
    search0 = cache.search_time
    m, d = int(rows[0].U.shape[0]), int(rows[0].U.shape[1])
    from shinnet.enumerate import moebius_table, resummed_diagrams

    per_order = {n: resummed_diagrams(n, int(max_edges)) for n in range(2, int(order) + 1)}
    # the Moebius decompositions of every class, from the on-disk table (built and written once);
    # the table is keyed by exactly the classes of resummed_diagrams(n, max_edges)
    decompositions: dict[str, Any] = {}
    for n in per_order:
        decompositions.update(moebius_table(n, int(max_edges)))

    planner = ResummedPlanner(d, m, blocks[0], cache, representation, memory_limit, gram_max_m, provider.itemsize,
                              batch=B if batch else None, terms_of=lambda dg: decompositions[dg.key])
    need_bounds = (tol > 0) if compute_bounds is None else bool(compute_bounds)
    dex = as_diagram_executor(executor)
    runner = None if dex is None else PlanRunner(dex, provider.numpy_array, backend, dtype, device)
    run = _ClassSum(planner, provider, NormTable(blocks), B, backend, progress,
                    sum(len(v) for v in per_order.values()), runner)
    if need_bounds and bool(split_bounds):
        run.splitter = SplitBounds(run.norm_value, blocks[0].degree_of, B, make_norm=quotient_norm_network)
    budgets = {n: run.order_n(n, diags, tol, tol_mode, need_bounds) for n, diags in per_order.items()}
    run.bar.close()
    cache.flush()

    records = run.records
    lam = lambda_star(rows[0].U, int(order)) if order >= 2 else None
    terms = {n: [sum((r.contribution for r in records if r.order == n and r.diagram.n_edges == e), np.zeros(B))
                 for e in range(int(max_edges) + 1)] for n in per_order}
    reports = batch_reports(terms, lam, exact_variance, batch, warn) if per_order else {}
    squeeze = (lambda x: np.asarray(x, dtype=np.float64)) if batch else (lambda x: float(np.asarray(x).reshape(-1)[0]))
    kappa: dict[int, Any] = {1: squeeze(np.array([t.mean() for t in rows]))}
    kappa.update({n: squeeze(np.sum(np.stack(terms[n]), axis=0)) for n in per_order})
    sums = {n: [squeeze(s) for s in np.cumsum(np.stack(terms[n]), axis=0)] for n in per_order}
    setup = provider.extra_flops + (lam.flops if lam is not None else 0.0)
    t_total = time.perf_counter() - t_start
    t_search = cache.search_time - search0
    out_records = tuple(
        DiagramRecord(r.diagram, r.order, squeeze(r.value), r.weight, squeeze(r.contribution), squeeze(r.bound),
                      r.flops, r.representation, r.pruned, r.stopped_early, squeeze(r.budget), r.max_degree,
                      r.max_intermediate)
        for r in records
    )
    return CumulantResult(
        kappa=kappa,
        diagrams=out_records,
        flops=run.flops + setup,
        setup_flops=setup,
        build_flops=build_flops + provider.dense_build_flops,
        pruned_budget={n: squeeze(v) for n, v in budgets.items()},
        n_evaluated=sum(1 for r in records if not r.pruned),
        n_pruned=sum(1 for r in records if r.pruned),
        n_stopped_early=0,
        partial_sums=sums,
        convergence=reports,
        timings={"path_search": t_search, "contraction": run.t_contract, "bounds": run.t_bounds,
                 "overhead": max(t_total - t_search - run.t_contract - run.t_bounds, 0.0), "total": t_total},
        settings={"expansion": "resummed", "order": int(order), "max_edges": int(max_edges), "tol": float(tol),
                  "tol_mode": tol_mode, "backend": backend, "representation": representation, "dtype": dtype,
                  "device": provider.device, "batch": B if batch else None, "d": d, "m": m,
                  "lambda_star": dict(lam.values) if lam is not None else {},
                  "max_cosine": lam.max_cosine if lam is not None else 0.0,
                  "quotient_classes_evaluated": len(run.qvalues),
                  "split_norms": run.splitter.n_norms if run.splitter is not None else 0},
    )


class _ClassSum:
    """The summing loop over the classes (G, p) of each order: pruning decisions, the chosen
    evaluation (hidden-unit network or Moebius sum of memoised quotient values), the records.
    Values are arrays (B,) throughout (B = 1 for one model)."""

    def __init__(self, planner: ResummedPlanner, provider: ResummedArrays, table: NormTable, B: int, backend: str,
                 progress: bool, total: int, runner: PlanRunner | None = None) -> None:
        from tqdm.auto import tqdm

        self.planner, self.provider, self.table, self.B, self.backend = planner, provider, table, B, backend
        self.bar = tqdm(total=total, disable=not progress, desc="classes", leave=False)
        self.qvalues: dict[str, np.ndarray] = {}
        self.records: list[DiagramRecord] = []
        self.flops = self.t_contract = self.t_bounds = 0.0
        self.runner = runner
        self.qbounds: dict[str, np.ndarray] = {}
        self.splitter: SplitBounds | None = None
        self.ahead: dict[Any, tuple[str, Any, list[Any], np.ndarray | None]] = {}  # executor: planned ahead

    def norm_value(self, qn: Any) -> tuple[np.ndarray, float]:
        """A half's squared norm (a quotient network); inf when no evaluation fits memory."""
        plan = self.planner.quotient_plan(qn)
        if plan is None:
            return np.full(self.B, np.inf), 0.0
        return self._eval(plan), plan.cost

    def prefetch(self, n: int, diags: list[Any], keys: list[int], skip: Any, wave_seconds: float) -> None:
        """Executor: make the serial loop's choices for ``diags[keys]`` in order (leaving out
        ``skip``), until ``wave_seconds`` of estimated work, and evaluate the new contractions
        (hidden-unit networks, quotient networks not evaluated before) as tasks."""
        t0 = time.perf_counter()
        jobs: list[tuple[Any, Any]] = []
        acc, queued = 0.0, set()
        for i in keys:
            if skip is not None and skip(i):
                continue
            form, plan = self.planner.choose(diags[i])
            new: list[Any] = []
            if form == "hidden":
                jobs.append((("class", n, i), plan))
                acc += self.runner.executor.seconds(plan.cost)
            else:
                for q, _ in self.planner.terms_of(diags[i]):
                    if q.key not in self.qvalues and q.key not in queued:
                        qp = self.planner.quotient_plan(q)
                        self.planner.mark_paid(q)
                        queued.add(q.key)
                        new.append((q.key, qp))
                        jobs.append((("quotient", q.key), qp))
                        acc += self.runner.executor.seconds(qp.cost)
            self.ahead[(n, i)] = (form, plan, new, None)
            if acc >= wave_seconds:
                break
        for (kind, *key), value in self.runner.values(jobs).items():
            if kind == "class":
                form, plan, new, _ = self.ahead[tuple(key)]
                self.ahead[tuple(key)] = (form, plan, new, value.reshape(self.B))
            else:
                self.qvalues[key[0]] = value.reshape(self.B)
        self.t_contract += time.perf_counter() - t0

    def value_ahead(self, n: int, i: int, dg: Any) -> tuple[np.ndarray, str, float, int]:
        """:meth:`value` from a :meth:`prefetch` (same choices, FLOPs charged to the same class)."""
        form, plan, new, value = self.ahead.pop((n, i))
        if form == "hidden":
            self.flops += plan.cost
            return value, form, plan.cost, plan.max_size
        value = np.zeros(self.B)
        for q, mu in self.planner.terms_of(dg):
            value = value + mu * self.qvalues[q.key]
        cost = sum(qp.cost for _, qp in new)
        self.flops += cost
        return value, form, cost, max((qp.max_size for _, qp in new), default=0)

    def _eval(self, plan: Any) -> np.ndarray:
        raw = contract(plan, self.provider.arrays(plan.network.sources), self.backend)
        return np.atleast_1d(to_numpy(raw)).reshape(self.B)

    def _bound(self, dg: Any) -> np.ndarray:
        """``sum_pi |mu_G(pi)| bound(Net(G/pi))``, shape (B,)."""
        t0 = time.perf_counter()
        out = np.zeros(self.B)
        for q, mu in self.planner.terms_of(dg):
            qb = self.qbounds.get(q.key)  # a quotient network is shared by many classes: bound it once
            if qb is None:
                qb = np.asarray(best_bound(q, self.table)[0], dtype=np.float64).reshape(self.B)
                if self.splitter is not None:  # absolute slack: rounding of near-zero half norms
                    spent = self.splitter.flops
                    qb = np.minimum(qb, self.splitter.bound(q) + 1e-12 * qb)
                    self.flops += self.splitter.flops - spent
                self.qbounds[q.key] = qb
            out = out + abs(mu) * qb
        self.t_bounds += time.perf_counter() - t0
        return out

    def value(self, dg: Any) -> tuple[np.ndarray, str, float, int]:
        """``val(G, p)`` (B,), the form used, the FLOPs spent and the largest tensor."""
        form, plan = self.planner.choose(dg)
        t0 = time.perf_counter()
        if form == "hidden":
            value, cost, biggest = self._eval(plan), plan.cost, plan.max_size
        else:
            value, cost, biggest = np.zeros(self.B), 0.0, 0
            for q, mu in self.planner.terms_of(dg):
                if q.key not in self.qvalues:
                    qp = self.planner.quotient_plan(q)
                    self.qvalues[q.key] = self._eval(qp)
                    self.planner.mark_paid(q)
                    cost += qp.cost
                    biggest = max(biggest, qp.max_size)
                value = value + mu * self.qvalues[q.key]
        self.t_contract += time.perf_counter() - t0
        self.flops += cost
        return value, form, cost, biggest

    def order_n(self, n: int, diags: list[Any], tol: float, tol_mode: str, need_bounds: bool) -> np.ndarray:
        """Evaluate or prune the classes of order n (the rule in the module docstring); returns
        the pruned budget (B,)."""
        B = self.B
        weights = np.array([abs(float(dg.weight)) for dg in diags])
        bounds = [self._bound(dg) if need_bounds else np.full(B, np.nan) for dg in diags]
        weighted = [w * b for w, b in zip(weights, bounds)]
        relative = tol > 0 and tol_mode == "relative"
        idx = sorted(range(len(diags)), key=lambda i: -float(np.max(weighted[i]))) if relative else range(len(diags))
        idx = list(idx)
        suffix = np.zeros((len(idx) + 1, B))
        if relative:
            for pos in range(len(idx) - 1, -1, -1):
                suffix[pos] = suffix[pos + 1] + weighted[idx[pos]]
        running, budget, cut = np.zeros(B), np.zeros(B), False
        first_record = len(self.records)
        for pos, i in enumerate(idx):
            dg = diags[i]
            if relative and not cut:
                cut = bool(np.all(suffix[pos] < tol * np.abs(running)))
            prune = cut or (tol > 0 and not relative and bool(np.all(weighted[i] < tol)))
            if prune:
                budget = budget + weighted[i]
                self.records.append(DiagramRecord(dg, n, np.zeros(B), dg.weight, np.zeros(B), bounds[i], 0.0, "-",
                                                  True, False, weighted[i].copy(), max(dg.degrees)))
            elif self.runner is not None:
                if (n, i) not in self.ahead:
                    skip = None if relative or tol <= 0 else (lambda j: bool(np.all(weighted[j] < tol)))
                    self.prefetch(n, diags, idx[pos:], skip, self.runner.executor.wave_seconds if relative else np.inf)
                value, form, cost, biggest = self.value_ahead(n, i, dg)
                contrib = float(dg.weight) * value
                running = running + contrib
                self.records.append(DiagramRecord(dg, n, value, dg.weight, contrib, bounds[i], cost, form, False,
                                                  False, np.zeros(B), max(dg.degrees), biggest))
            else:
                value, form, cost, biggest = self.value(dg)
                contrib = float(dg.weight) * value
                running = running + contrib
                self.records.append(DiagramRecord(dg, n, value, dg.weight, contrib, bounds[i], cost, form, False,
                                                  False, np.zeros(B), max(dg.degrees), biggest))
            self.bar.update(1)
        # back to enumeration order (one record per class): sums do not depend on processing order
        block = self.records[first_record:]
        self.records[first_record:] = [block[p] for p in np.argsort(np.asarray(idx, dtype=np.int64), kind="stable")]
        return budget
