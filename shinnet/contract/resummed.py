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
``tol * |running sum|``; either way the dropped bounds are charged to ``pruned_budget``.  The
loop itself is the shared one (:mod:`shinnet.contract.summing`); :class:`ClassTerms` supplies
the bound and value of a class.

The input is one row of block tensors (:class:`shinnet.tensors.blocks.BlockVertices`, built
above the engine by :mod:`shinnet.expansions.resummed`) or a batch of B rows sharing ``U``
(B second layers): one batched contraction per class and quotient class, every value an array (B,).
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import numpy as np

from shinnet.contract.backends import to_numpy
from shinnet.contract.bounds import NormTable, SplitBounds, best_bound, quotient_norm_network
from shinnet.contract.executor import PlanRunner, as_diagram_executor
from shinnet.contract.families import frobenius_family
from shinnet.contract.network import vertex_keys
from shinnet.contract.lambda_star import batch_reports, lambda_star
from shinnet.contract.moebius import ResummedArrays
from shinnet.contract.options import ContractOptions
from shinnet.contract.pathcache import PathCache
from shinnet.contract.result import CumulantResult
from shinnet.contract.representation_registry import lookup_representation
from shinnet.contract.resummed_plan import ResummedPlanner, contract
from shinnet.contract.summing import SummingLoop, assemble_result
from shinnet.contract.vertices import check_vertex_tensors
from shinnet.enumerate import moebius_table, resummed_diagrams

__all__ = ["resummed_cumulants", "ClassTerms"]


def resummed_cumulants(
    blocks: Sequence[Any],
    batch: bool,
    order: int,
    max_edges: int,
    options: ContractOptions,
    *,
    exact_variance: Any = None,
    build_flops: float = 0.0,
) -> CumulantResult:
    """Cumulants ``kappa_1..kappa_order`` by the resummed expansion truncated at ``E <= max_edges``,
    for one row of block tensors or a batch of rows sharing ``U``.

    Parameters
    ----------
    blocks : sequence of block vertex objects
        One per row (:class:`shinnet.tensors.blocks.BlockVertices` built with
        ``max_dense_bytes=options.memory_limit``): block tensors keyed by block label, with ``U``
        and ``mean()``.  B rows sharing ``U`` are a batch.
    batch : bool
        Every value an array (B,) (a batch of second layers).
    order : int
        Largest cumulant order n.
    max_edges : int
        Largest total edge multiplicity E (the order in the cosines).
    options : ContractOptions
        ``tol``/``tol_mode``: skip a class when ``|weight| * bound < tol`` (a batch: for every
        row), or, ``relative`` (single rows only), process the classes of each order in decreasing
        ``|weight| * bound`` and drop the rest once their summed bound is below
        ``tol * |running sum|``, so ``pruned_budget[n] < tol * |kappa_n|``.  ``representation``:
        "auto" (per class, the cheapest by cotengra's cost), "hidden" or "dspace".
        ``gram_max_m`` (None: 4096): largest m for m x m Gram powers.  ``warn``: a
        :class:`ConvergenceWarning` when the greedy ``lambda* >= 1``.  ``executor``: the hidden-unit
        and quotient contractions run as tasks; choices, pruning and sums stay here (same result).
        ``split_bounds``: bound each quotient network also by splitting it in two halves,
        ``|<A_S, A_S'>| <= ||A_S|| ||A_S'||`` (half norms contracted exactly, memoised, charged to
        ``flops``; opt-in: up to ``2^(blocks-1)`` splits per network).  ``contract_mode`` must be
        "tree"; ``hypercontractive`` is not used.
    exact_variance : float or array (B,), optional
        ``Var f`` (per row for a batch): reported as the n = 2 report's ``exact_tail``.
    build_flops : float
        FLOPs the caller spent building the rows' vertex weights (added to ``build_flops``).

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
    batch multiplies the contraction costs by about B but not the path searches, Gram powers or
    lambda*.
    """
    t_start = time.perf_counter()
    for name, value in (("order", order), ("max_edges", max_edges)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if options.contract_mode != "tree":
        raise ValueError("the resummed expansion supports contract_mode='tree' only")
    if batch and options.relative:
        raise ValueError("tol_mode='relative' is not supported for batches of second layers; use an absolute tol")
    for i, blk in enumerate(blocks):
        check_vertex_tensors(blk, f"block vertex tensors (row {i})")
    backend, representation, memory_limit = options.backend, options.representation, options.memory_limit
    gram_max_m = 4096 if options.gram_max_m is None else int(options.gram_max_m)
    B = len(blocks)
    provider = ResummedArrays(blocks, batch, backend=backend, dtype=options.dtype, device=options.device)
    cache = PathCache() if options.cache is None else options.cache
    search0 = cache.search_time
    m, d = int(blocks[0].U.shape[0]), int(blocks[0].U.shape[1])
    per_order = {n: resummed_diagrams(n, int(max_edges)) for n in range(2, int(order) + 1)}
    # the Moebius decompositions of every class, from the on-disk table (built and written once);
    # the table is keyed by exactly the classes of resummed_diagrams(n, max_edges)
    decompositions: dict[str, Any] = {}
    for n in per_order:
        decompositions.update(moebius_table(n, int(max_edges)))

    planner = ResummedPlanner(d, m, blocks[0], cache, representation, memory_limit, gram_max_m, provider.itemsize,
                              batch=B if batch else None, terms_of=lambda dg: decompositions[dg.key])
    dex = as_diagram_executor(options.executor)
    runner = None if dex is None else PlanRunner(dex, provider.numpy_array, backend, options.dtype, options.device)
    run = ClassTerms(planner, provider, NormTable(blocks), B, backend, runner)
    if options.need_bounds and bool(options.split_bounds):
        run.splitter = SplitBounds(run.norm_value, blocks[0].degree_of, B, make_norm=quotient_norm_network)
    loop = SummingLoop(run, options, B, sum(len(v) for v in per_order.values()), "classes")
    budgets = {n: loop.order(n, diags) for n, diags in per_order.items()}
    loop.close()
    cache.flush()

    records = loop.records
    lam = lambda_star(blocks[0].U, int(order)) if order >= 2 else None
    terms = {n: [sum((r.contribution for r in records if r.order == n and r.diagram.n_edges == e), np.zeros(B))
                 for e in range(int(max_edges) + 1)] for n in per_order}
    reports = batch_reports(terms, lam, exact_variance, batch, options.warn) if per_order else {}
    kappa: dict[int, Any] = {1: np.array([float(t.mean()) for t in blocks])}
    kappa.update({n: np.sum(np.stack(terms[n]), axis=0) for n in per_order})
    sums = {n: list(np.cumsum(np.stack(terms[n]), axis=0)) for n in per_order}
    setup = provider.extra_flops + (lam.flops if lam is not None else 0.0)
    return assemble_result(
        records, batch, kappa, budgets, sums, reports,
        flops=(run.flops + setup, setup, build_flops + provider.dense_build_flops),
        seconds=(time.perf_counter() - t_start, cache.search_time - search0, run.t_contract, loop.t_bounds),
        settings={"expansion": "resummed", "order": int(order), "max_edges": int(max_edges), "tol": float(options.tol),
                  "tol_mode": options.tol_mode, "backend": backend, "representation": representation,
                  "dtype": options.dtype, "device": provider.device, "batch": B if batch else None, "d": d, "m": m,
                  "lambda_star": dict(lam.values) if lam is not None else {},
                  "max_cosine": lam.max_cosine if lam is not None else 0.0,
                  "quotient_classes_evaluated": len(run.qvalues),
                  "split_norms": run.splitter.n_norms if run.splitter is not None else 0,
                  **({"family_pruned": loop.n_family_pruned, "term_bounds": loop.n_term_bounds}
                     if options.family_bounds else {})},
    )


class ClassTerms:
    """The resummed expansion's :class:`shinnet.contract.summing.TermEvaluator` over the classes
    (G, p): the Moebius bound ``sum_pi |mu_G(pi)| bound(Net(G/pi))`` and the chosen evaluation
    (hidden-unit network, or Moebius sum of memoised quotient values).  Values are arrays (B,)
    (B = 1 for one model); ``flops`` and ``t_contract`` accumulate the contractions."""

    def __init__(self, planner: ResummedPlanner, provider: ResummedArrays, table: NormTable, B: int, backend: str,
                 runner: PlanRunner | None = None) -> None:
        self.planner, self.provider, self.table, self.B, self.backend = planner, provider, table, B, backend
        self.qvalues: dict[str, np.ndarray] = {}
        self.flops = self.t_contract = 0.0
        self.runner = runner
        self.wave_seconds = None if runner is None else runner.executor.wave_seconds
        self.qbounds: dict[str, np.ndarray] = {}
        self.splitter: SplitBounds | None = None
        self._families: dict[Any, np.ndarray] = {}

    @staticmethod
    def max_degree(dg: Any) -> int:
        """Largest vertex degree of the class."""
        return max(dg.degrees)

    def norm_value(self, qn: Any) -> tuple[np.ndarray, float]:
        """A half's squared norm (a quotient network); inf when no evaluation fits memory."""
        plan = self.planner.quotient_plan(qn)
        if plan is None:
            return np.full(self.B, np.inf), 0.0
        return self._eval(plan), plan.cost

    def prefetch(self, items: Iterable[tuple[int, Any]], wave_seconds: float) -> dict[int, Any]:
        """Executor: make the serial loop's choices for ``items`` in order until ``wave_seconds``
        of estimated work, and evaluate the new contractions (hidden-unit networks, quotient
        networks not evaluated before) as tasks; returns ``index -> payload`` for
        :meth:`value_ahead`."""
        t0 = time.perf_counter()
        jobs: list[tuple[Any, Any]] = []
        acc, queued = 0.0, set()
        ahead: dict[int, Any] = {}
        for i, dg in items:
            form, plan = self.planner.choose(dg)
            new: list[Any] = []
            if lookup_representation(form).hidden_units:
                jobs.append((("class", i), plan))
                acc += self.runner.executor.seconds(plan.cost)
            else:
                for q, _ in self.planner.terms_of(dg):
                    if q.key not in self.qvalues and q.key not in queued:
                        qp = self.planner.quotient_plan(q)
                        self.planner.mark_paid(q)
                        queued.add(q.key)
                        new.append((q.key, qp))
                        jobs.append((("quotient", q.key), qp))
                        acc += self.runner.executor.seconds(qp.cost)
            ahead[i] = (form, plan, new, None)
            if acc >= wave_seconds:
                break
        for (kind, key), value in self.runner.values(jobs).items():
            if kind == "class":
                form, plan, new, _ = ahead[key]
                ahead[key] = (form, plan, new, value.reshape(self.B))
            else:
                self.qvalues[key] = value.reshape(self.B)
        self.t_contract += time.perf_counter() - t0
        return ahead

    def value_ahead(self, dg: Any, payload: Any) -> tuple[np.ndarray, str, float, int]:
        """:meth:`value` from a :meth:`prefetch` payload (same choices, FLOPs charged to the same class)."""
        form, plan, new, value = payload
        if lookup_representation(form).hidden_units:
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

    def family(self, dg: Any) -> tuple[Any, np.ndarray]:
        """Power counting (``family_bounds``): ``sum_pi |mu_G(pi)| prod_blocks ||T_label||_F`` (B,),
        keyed by the multiset of (|mu|, block labels) (classes with one key share the bound)."""
        parts = [(abs(mu), *frobenius_family(vertex_keys(q), self.table, self._families))
                 for q, mu in self.planner.terms_of(dg)]
        parts.sort(key=lambda t: repr(t[:2]))
        return tuple(t[:2] for t in parts), sum((float(mu) * b for mu, _, b in parts), np.zeros(self.B))

    def bound(self, dg: Any) -> np.ndarray:
        """``sum_pi |mu_G(pi)| bound(Net(G/pi))``, shape (B,)."""
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
        return out

    def value(self, dg: Any) -> tuple[np.ndarray, str, float, int]:
        """``val(G, p)`` (B,), the form used, the FLOPs spent and the largest tensor."""
        form, plan = self.planner.choose(dg)
        t0 = time.perf_counter()
        if lookup_representation(form).hidden_units:
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
