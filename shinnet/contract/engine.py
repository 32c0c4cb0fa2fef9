"""The summing engine: cumulants of f as sums of connected diagrams (MATH.md sections 3-5).

    kappa_1 = shin_0,   kappa_n = sum_{classes G} weight(G) val(G)      (n >= 2)

Each diagram becomes a tensor network (:mod:`shinnet.contract.network`), gets a cotengra path
(:mod:`shinnet.contract.pathcache`) in the cheapest representation that fits memory
(:mod:`shinnet.contract.representations`), is optionally pruned by its operator-norm bound
(:mod:`shinnet.contract.bounds`), and is contracted on the chosen backend.  The pruning and
summing is the loop shared with the resummed expansion (:mod:`shinnet.contract.summing`);
:class:`DiagramTerms` supplies a diagram's bound and value.  The values are grouped by largest
vertex degree into the partial sums over K (:mod:`shinnet.contract.diagnostics`).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Iterable, Iterator, Mapping, Sequence

import cotengra as ctg
import numpy as np
from tqdm.auto import tqdm

from shinnet.contract.backends import ArrayProvider, to_numpy
from shinnet.contract.bounds import NormTable, SplitBounds, best_bound, order_factors
from shinnet.contract.diagnostics import convergence_report, partial_sums, warn_if_diverging
from shinnet.contract.memory_guard import MemoryGuard
from shinnet.contract.executor import PlanRunner, as_diagram_executor
from shinnet.contract.families import frobenius_family
from shinnet.contract.network import vertex_keys
from shinnet.contract.options import ContractOptions
from shinnet.contract.ordered import contract_in_order
from shinnet.contract.pathcache import PathCache
from shinnet.contract.representations import PlanContext, plan_diagram
from shinnet.contract.result import CumulantResult
from shinnet.contract.summing import SummingLoop, assemble_result, squeezer
from shinnet.contract.vertices import sizes
from shinnet.enumerate import diagrams as enumerate_diagrams

__all__ = ["run_engine", "resolve_diagrams", "DiagramTerms"]

def resolve_diagrams(order: int, max_degree: int, diagrams: Any, degree_of: Any,
                     progress: bool = False) -> dict[int, list[Any]]:
    """Diagrams per cumulant order n = 2..order with every vertex degree ``<= max_degree``.

    ``diagrams`` None: ``shinnet.enumerate.diagrams(n, max_degree)``; a mapping n -> list; or a
    flat sequence (grouped by ``.order``).  ``progress``: a tqdm bar over the (n, top degree)
    tables as they are enumerated (or loaded from the cache).
    """
    out: dict[int, list[Any]] = {n: [] for n in range(2, order + 1)}
    if diagrams is None:
        with tqdm(total=(order - 1) * max_degree, disable=not progress, desc="enumerating diagrams",
                  leave=False) as bar:
            for n in range(2, order + 1):
                # with a bar, the tables top = 1..K one at a time (memoised: the last call only
                # takes their union); without, one call
                for top in (range(1, max_degree + 1) if progress else [max_degree]):
                    out[n] = list(enumerate_diagrams(n, top))
                    bar.set_postfix(n=n, K=top, diagrams=len(out[n]))
                    bar.update(1 if progress else max_degree)
        return out
    items = [dg for lst in diagrams.values() for dg in lst] if isinstance(diagrams, Mapping) else list(diagrams)
    for dg in items:
        n = int(dg.order)
        if n in out and all(int(degree_of(k)) <= max_degree for k in vertex_keys(dg)):
            out[n].append(dg)
    return out


def run_engine(
    objects: Sequence[Any],
    batch: bool,
    order: int,
    max_degree: int,
    options: ContractOptions,
    *,
    diagrams: Any = None,
    exact_variance: float | None = None,
) -> CumulantResult:
    """Cumulants ``kappa_1..kappa_order`` of the degree expansion truncated at vertex degree
    ``<= max_degree`` (MATH.md sections 3-5): the shared core of :func:`shinnet.cumulants` and
    ``cumulants_batch``.

    Parameters
    ----------
    objects : sequence of vertex tensors
        One (``batch`` False) or B objects satisfying :class:`shinnet.contract.vertices.VertexTensors`
        (a batch shares ``U``; only the weights vary).
    batch : bool
    order, max_degree : int
    options : ContractOptions
        ``gram_max_m`` None means 2048.
    diagrams : optional
        As for :func:`resolve_diagrams`.
    exact_variance : float, optional
        ``Var f``: reported as the n = 2 report's ``exact_tail``.
    """
    backend, representation, contract_mode = options.backend, options.representation, options.contract_mode
    dtype, device = options.dtype, options.device
    t_start = time.perf_counter()
    if int(order) != order or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    if int(max_degree) != max_degree or max_degree < 1:
        raise ValueError(f"max_degree must be an integer >= 1, got {max_degree!r}")
    if contract_mode == "ordered" and batch:
        raise ValueError("contract_mode='ordered' (early stopping) supports single models only, not batches")
    if batch and options.relative:
        raise ValueError("tol_mode='relative' is not supported for batches; use an absolute tolerance")
    dex = as_diagram_executor(options.executor)
    if dex is not None and contract_mode == "ordered":
        raise ValueError("executor= runs cotengra tree contractions; contract_mode='ordered' (early stop) is serial only")
    first = objects[0]
    d, m = sizes(first)
    B = len(objects)
    if batch and m is not None:
        U0 = np.asarray(first.U)
        for o in objects[1:]:
            if o.U is not first.U and not np.array_equal(np.asarray(o.U), U0):
                raise ValueError("a batch must share the first layer (identical U); only the second layer may vary")
    provider = ArrayProvider(objects, batch, backend=backend, dtype=dtype, device=device)
    runner = None if dex is None else PlanRunner(dex, provider.numpy_array, backend, dtype, device)
    cache = PathCache() if options.cache is None else options.cache
    search0 = cache.search_time
    per_order = resolve_diagrams(order, max_degree, diagrams, first.degree_of, progress=options.progress)
    # the whole request against the memory this process may use, before any array (issue 10, item 6)
    guard = MemoryGuard(float(options.memory_limit), provider.itemsize)
    guard.check_request(per_order, representation, d, B, first.degree_of, vertex_keys)
    key_uses = Counter(key for dgs in per_order.values() for dg in dgs for key in set(vertex_keys(dg)))
    ctx = PlanContext(
        d=d, m=m, degree_of=first.degree_of, has_dense=callable(getattr(first, "dense", None)),
        itemsize=provider.itemsize, memory_limit=guard.limit,
        gram_max_m=2048 if options.gram_max_m is None else int(options.gram_max_m),
        batch=B if batch else None, cache=cache, key_uses=dict(key_uses),
    )
    need_bounds = options.need_bounds
    table = NormTable(objects)
    total = sum(len(v) for v in per_order.values())
    terms = DiagramTerms(table, provider, ctx, guard, options, d, runner)
    if need_bounds and contract_mode == "tree" and bool(options.split_bounds):
        terms.splitter = SplitBounds(terms.norm_value, first.degree_of, B)
    splitter = terms.splitter
    loop = SummingLoop(terms, options, B, total, "diagrams")
    budgets = {n: loop.order(n, per_order[n]) for n in range(2, order + 1)}
    loop.close()
    cache.flush()
    records = loop.records
    flops = terms.flops
    if splitter is not None:  # the half norms are contractions: charged like any
        flops += splitter.flops

    kappa: dict[int, Any] = {1: np.array([float(o.mean()) for o in objects])}
    for n in range(2, order + 1):
        kappa[n] = sum((r.contribution for r in records if r.order == n), np.zeros(B))
    sums = {n: partial_sums([r for r in records if r.order == n], int(max_degree), np.zeros(B))
            for n in range(2, order + 1)}
    hypercontractive = options.hypercontractive
    if hypercontractive is None:
        hypercontractive = need_bounds or m is None or m <= 16384
    frob = None
    if hypercontractive and not batch:
        if _degree_keys(first) and max_degree >= 2:
            frob = {k: float(table.norm(k, 0)[0]) for k in (int(max_degree) - 1, int(max_degree))}
    squeeze = squeezer(batch)
    reports = {n: convergence_report(n, [squeeze(s) for s in sums[n]], frob,
                                     exact_variance if n == 2 and not batch else None)
               for n in range(2, order + 1)}
    if options.warn:
        warn_if_diverging(reports)
    build = float(sum(float(getattr(o, "build_flops", 0.0)) for o in objects)) + provider.dense_build_flops
    return assemble_result(
        records, batch, kappa, budgets, sums, reports,
        flops=(flops + provider.extra_flops, provider.extra_flops, build),
        seconds=(time.perf_counter() - t_start, cache.search_time - search0, terms.t_contract, loop.t_bounds),
        settings={"expansion": "degree", "order": int(order), "max_degree": int(max_degree), "tol": float(options.tol),
                  "tol_mode": options.tol_mode, "backend": backend, "representation": representation,
                  "contract_mode": contract_mode, "dtype": dtype, "device": provider.device,
                  "batch": B if batch else None, "d": d, "m": m,
                  "split_norms": splitter.n_norms if splitter is not None else 0,
                  **({"family_pruned": loop.n_family_pruned, "term_bounds": loop.n_term_bounds}
                     if options.family_bounds else {})},
    )


class DiagramTerms:
    """The degree expansion's :class:`shinnet.contract.summing.TermEvaluator`: a diagram's
    operator-norm bound (best vertex order, optionally tightened by split bounds) and its value
    (planned in the cheapest representation that fits, contracted on the backend; or dense
    vertices in the bound-minimising order with an early stop, ``contract_mode="ordered"``).

    ``flops`` and ``t_contract`` accumulate the contractions' cost and seconds (path searches
    excluded); the vertex order of each bounded diagram is kept for the ordered mode.
    """

    def __init__(self, table: NormTable, provider: ArrayProvider, ctx: PlanContext, guard: MemoryGuard,
                 options: ContractOptions, d: int, runner: PlanRunner | None) -> None:
        self.table, self.provider, self.ctx, self.guard, self.d, self.runner = table, provider, ctx, guard, d, runner
        self.representation, self.backend = options.representation, options.backend
        self.memory_items = float(options.memory_limit) / provider.itemsize
        self.B = len(provider.objects)
        self.degree_of = ctx.degree_of
        self.splitter: SplitBounds | None = None
        self.wave_seconds = None if runner is None else runner.executor.wave_seconds
        self.flops = self.t_contract = 0.0
        self._orders: dict[int, tuple[int, ...]] = {}
        self._families: dict[Any, np.ndarray] = {}

    def max_degree(self, dg: Any) -> int:
        """Largest vertex degree of ``dg`` (its partial sum over K)."""
        return max(int(self.degree_of(k)) for k in vertex_keys(dg))

    def family(self, dg: Any) -> tuple[Any, np.ndarray]:
        """The family of ``dg`` (multiset of vertex keys, i.e. its degree sequence) and its power
        counting bound ``prod_v ||T_{k_v}||_F`` (B,) (:mod:`shinnet.contract.families`)."""
        return frobenius_family(vertex_keys(dg), self.table, self._families)

    def bound(self, dg: Any) -> np.ndarray:
        """``min over vertex orders prod_t ||mat(T_t)||_op`` (B,), and the split bound when on."""
        bound, order, _ = best_bound(dg, self.table)
        self._orders[id(dg)] = order
        if self.splitter is None:
            return bound
        bound = np.asarray(bound).reshape(self.B)  # absolute slack: rounding of near-zero half norms
        return np.minimum(bound, np.asarray(self.splitter.bound(dg)).reshape(self.B) + 1e-12 * bound)

    def _contract(self, plan: Any) -> np.ndarray:
        arrays = self.provider.arrays(plan.network.sources)
        raw = plan.tree.contract(arrays, backend=self.backend) if len(arrays) > 1 else _single(arrays[0], plan)
        return np.atleast_1d(to_numpy(raw)).reshape(self.B)

    def norm_value(self, net: Any) -> tuple[np.ndarray, float]:
        """A split half's squared norm (a network planned like a diagram) and its cost."""
        plan = plan_diagram(net, self.representation, self.ctx)
        return self._contract(plan), plan.cost

    def value(self, dg: Any) -> tuple[np.ndarray, str, float, int]:
        """``val(G)`` (B,), its representation, cost and largest intermediate."""
        plan = plan_diagram(dg, self.representation, self.ctx)
        self.guard.check_plan(plan, self.provider._cache, dg.key)
        t0 = time.perf_counter()
        try:
            value = self._contract(plan)
        except MemoryError as exc:  # numpy/torch ran out: say what was held and asked
            raise self.guard.wrap(exc, dg.key, self.provider._cache) from exc
        self.t_contract += time.perf_counter() - t0
        self.flops += plan.cost
        return value, plan.network.representation, plan.cost, plan.max_size

    def prefetch(self, items: Iterable[tuple[int, Any]], wave_seconds: float) -> dict[int, Any]:
        """Plan ``items`` in order until ``wave_seconds`` of work and evaluate them on the executor."""
        held: dict[int, Any] = {}

        def keys() -> Iterator[int]:
            for j, dg in items:
                held[j] = dg
                yield j

        cache = self.ctx.cache
        t0, s0 = time.perf_counter(), cache.search_time
        out = self.runner.wave(keys(), None, lambda j: plan_diagram(held[j], self.representation, self.ctx),
                               wave_seconds)
        self.t_contract += time.perf_counter() - t0 - (cache.search_time - s0)
        return out

    def value_ahead(self, dg: Any, payload: tuple[Any, np.ndarray]) -> tuple[np.ndarray, str, float, int]:
        """:meth:`value` from a :meth:`prefetch` payload ``(plan, value)``."""
        plan, raw = payload
        self.flops += plan.cost
        return raw.reshape(self.B), plan.network.representation, plan.cost, plan.max_size

    def value_ordered(self, dg: Any, threshold: float) -> tuple[np.ndarray, str, float, int, bool, np.ndarray]:
        """Dense vertices contracted in the bound-minimising order, stopping once ``|weight|``
        times the remaining bound is below ``threshold`` (:func:`contract_in_order`)."""
        order = self._orders[id(dg)]
        arrays = [self.provider.get(("dense", k)) for k in vertex_keys(dg)]
        t0 = time.perf_counter()
        outcome = contract_in_order(
            dg, order, arrays, [float(f[0]) for f in order_factors(dg, order, self.table)],
            d=self.d, weight=abs(float(dg.weight)), threshold=threshold, memory_items=self.memory_items,
        )
        self.t_contract += time.perf_counter() - t0
        self.flops += outcome.flops
        return (np.array([outcome.value]), "ordered", outcome.flops, outcome.max_size, outcome.stopped_early,
                np.array([outcome.budget]))


def _degree_keys(obj: Any) -> bool:
    """Whether integer degrees are valid vertex keys (true for shin tensors)."""
    try:
        return int(obj.degree_of(0)) == 0
    except Exception:  # noqa: BLE001 - a vertex family keyed otherwise
        return False


def _single(array: Any, plan: Any) -> Any:
    """A one-input network (no path): sum out its indices with cotengra's einsum."""
    return ctg.array_contract([array], plan.network.inputs, plan.network.output)
