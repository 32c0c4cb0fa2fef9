"""The summing engine: cumulants of f as sums of connected diagrams (MATH.md sections 3-5).

    kappa_1 = shin_0,   kappa_n = sum_{classes G} weight(G) val(G)      (n >= 2)

Each diagram becomes a tensor network (:mod:`shinnet.contract.network`), gets a cotengra path
(:mod:`shinnet.contract.pathcache`) in the cheapest representation that fits memory
(:mod:`shinnet.contract.planner`), is optionally pruned by its operator-norm bound
(:mod:`shinnet.contract.bounds`), and is contracted on the chosen backend.  The values are
grouped by largest vertex degree into the partial sums over K
(:mod:`shinnet.contract.diagnostics`).
"""

from __future__ import annotations

from collections import Counter

import time
from typing import Any, Mapping, Sequence

import numpy as np

from shinnet.contract.backends import ArrayProvider, to_numpy
from shinnet.contract.bounds import NormTable, SplitBounds, best_bound, order_factors
from shinnet.contract.diagnostics import convergence_report, partial_sums, warn_if_diverging
from shinnet.contract.memory_guard import MemoryGuard
from shinnet.contract.executor import PlanRunner, as_diagram_executor
from shinnet.contract.network import vertex_keys
from shinnet.contract.ordered import contract_in_order
from shinnet.contract.pathcache import PathCache
from shinnet.contract.planner import PlanContext, plan_diagram
from shinnet.contract.result import CumulantResult, DiagramRecord

__all__ = ["run_engine", "resolve_diagrams"]

_TOL_MODES = ("absolute", "relative")
_CONTRACT_MODES = ("tree", "ordered")


def resolve_diagrams(order: int, max_degree: int, diagrams: Any, degree_of: Any,
                     progress: bool = False) -> dict[int, list[Any]]:
    """Diagrams per cumulant order n = 2..order with every vertex degree ``<= max_degree``.

    ``diagrams`` None: ``shinnet.enumerate.diagrams(n, max_degree)``; a mapping n -> list; or a
    flat sequence (grouped by ``.order``).  ``progress``: a tqdm bar over the (n, top degree)
    tables as they are enumerated (or loaded from the cache).
    """
    out: dict[int, list[Any]] = {n: [] for n in range(2, order + 1)}
    if diagrams is None:
        from tqdm.auto import tqdm

        from shinnet.enumerate import diagrams as enumerate_diagrams

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


def _sizes(obj: Any) -> tuple[int, int | None]:
    """(d, m); m is None when only dense vertices can be used: dense-only objects, and objects
    carrying dense advice (advice overrides factored weights, so factored/gram networks would
    contract the wrong tensors)."""
    U = getattr(obj, "U", None)
    if U is not None and not getattr(obj, "advice", None):
        U = np.asarray(U)
        return int(U.shape[1]), int(U.shape[0])
    if U is not None:
        return int(np.asarray(U).shape[1]), None
    return int(np.asarray(obj.dense(1)).shape[0]), None


def run_engine(
    objects: Sequence[Any],
    batch: bool,
    order: int,
    max_degree: int,
    *,
    tol: float = 0.0,
    tol_mode: str = "absolute",
    backend: str = "numpy",
    representation: str = "auto",
    contract_mode: str = "tree",
    dtype: str = "float64",
    device: str | None = None,
    diagrams: Any = None,
    cache: PathCache | None = None,
    memory_limit: float = 2.0**31,
    gram_max_m: int = 2048,
    compute_bounds: bool | None = None,
    hypercontractive: bool | None = None,
    exact_variance: float | None = None,
    warn: bool = True,
    progress: bool = False,
    executor: Any = None,
    split_bounds: bool | None = None,
) -> CumulantResult:
    """Shared core of :func:`shinnet.contract.cumulants` and ``cumulants_batch``; see there."""
    t_start = time.perf_counter()
    if int(order) != order or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    if int(max_degree) != max_degree or max_degree < 1:
        raise ValueError(f"max_degree must be an integer >= 1, got {max_degree!r}")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if tol_mode not in _TOL_MODES:
        raise ValueError(f"tol_mode must be one of {_TOL_MODES}, got {tol_mode!r}")
    if contract_mode not in _CONTRACT_MODES:
        raise ValueError(f"contract_mode must be one of {_CONTRACT_MODES}, got {contract_mode!r}")
    if contract_mode == "ordered" and batch:
        raise ValueError("contract_mode='ordered' (early stopping) supports single models only, not batches")
    if batch and tol > 0 and tol_mode == "relative":
        raise ValueError("tol_mode='relative' is not supported for batches; use an absolute tolerance")
    dex = as_diagram_executor(executor)
    if dex is not None and contract_mode == "ordered":
        raise ValueError("executor= runs cotengra tree contractions; contract_mode='ordered' (early stop) is serial only")
    first = objects[0]
    d, m = _sizes(first)
    B = len(objects)
    if batch and m is not None:
        U0 = np.asarray(first.U)
        for o in objects[1:]:
            if o.U is not first.U and not np.array_equal(np.asarray(o.U), U0):
                raise ValueError("a batch must share the first layer (identical U); only the second layer may vary")
    provider = ArrayProvider(objects, batch, backend=backend, dtype=dtype, device=device)
    runner = None if dex is None else PlanRunner(dex, provider.numpy_array, backend, dtype, device)
    cache = PathCache() if cache is None else cache
    search0 = cache.search_time
    per_order = resolve_diagrams(order, max_degree, diagrams, first.degree_of, progress=progress)
    # the whole request against the memory this process may use, before any array (issue 10, item 6)
    guard = MemoryGuard(float(memory_limit), provider.itemsize)
    guard.check_request(per_order, representation, d, B, first.degree_of, vertex_keys)
    key_uses = Counter(key for dgs in per_order.values() for dg in dgs for key in set(vertex_keys(dg)))
    ctx = PlanContext(
        d=d, m=m, degree_of=first.degree_of, has_dense=callable(getattr(first, "dense", None)),
        itemsize=provider.itemsize, memory_limit=guard.limit, gram_max_m=int(gram_max_m),
        batch=B if batch else None, cache=cache, key_uses=dict(key_uses),
    )
    need_bounds = (tol > 0) if compute_bounds is None else bool(compute_bounds)
    if contract_mode == "ordered":
        need_bounds = True
    table = NormTable(objects)
    total = sum(len(v) for v in per_order.values())
    splitter = None
    if need_bounds and contract_mode == "tree" and bool(split_bounds):
        def norm_value(net: Any) -> tuple[np.ndarray, float]:
            plan = plan_diagram(net, representation, ctx)
            arrays = provider.arrays(plan.network.sources)
            raw = plan.tree.contract(arrays, backend=backend) if len(arrays) > 1 else _single(arrays[0], plan)
            return np.atleast_1d(to_numpy(raw)).reshape(B), plan.cost

        splitter = SplitBounds(norm_value, first.degree_of, B)

    from tqdm.auto import tqdm

    bar = tqdm(total=total, disable=not progress, desc="diagrams", leave=False)
    t_contract = 0.0
    t_bounds = 0.0
    flops = 0.0
    records: list[DiagramRecord] = []
    budgets: dict[int, np.ndarray] = {}
    for n in range(2, order + 1):
        diags = per_order[n]
        weights = np.array([float(dg.weight) for dg in diags])
        t0 = time.perf_counter()
        if need_bounds:
            bb = [best_bound(dg, table) for dg in diags]
            bounds = np.array([b[0] for b in bb]).reshape(len(diags), B)
            orders = [b[1] for b in bb]
            if splitter is not None:  # the absolute slack covers rounding of near-zero half norms
                split = np.array([splitter.bound(dg) for dg in diags]).reshape(len(diags), B)
                bounds = np.minimum(bounds, split + 1e-12 * bounds)
        else:
            bounds = np.full((len(diags), B), np.nan)
            orders = [tuple(range(int(dg.order))) for dg in diags]
        t_bounds += time.perf_counter() - t0
        weighted = np.abs(weights)[:, None] * bounds
        if tol > 0 and tol_mode == "relative":
            idx = list(np.argsort(-weighted.max(axis=1), kind="stable"))
        else:
            idx = list(range(len(diags)))
        suffix = np.zeros((len(idx) + 1, B))
        if tol > 0 and tol_mode == "relative":
            for pos in range(len(idx) - 1, -1, -1):
                suffix[pos] = suffix[pos + 1] + weighted[idx[pos]]
        running = np.zeros(B)
        budget = np.zeros(B)
        cut = False
        ahead: dict[int, tuple[Any, np.ndarray]] = {}  # executor: planned and evaluated ahead of the loop
        first_record = len(records)
        for pos, i in enumerate(idx):
            dg = diags[i]
            deg_max = max(int(first.degree_of(k)) for k in vertex_keys(dg))
            if tol > 0 and not cut:
                if tol_mode == "absolute":
                    prune = bool(np.all(weighted[i] < tol))
                else:
                    cut = bool(np.all(suffix[pos] < tol * np.abs(running)))
                    prune = cut
            else:
                prune = cut
            if prune:
                budget = budget + weighted[i]
                records.append(DiagramRecord(dg, n, np.zeros(B), dg.weight, np.zeros(B), bounds[i], 0.0, "-",
                                             True, False, weighted[i].copy(), deg_max))
                bar.update(1)
                continue
            if contract_mode == "ordered":
                threshold = tol if tol_mode == "absolute" else tol * float(abs(running[0]))
                arrays = [provider.get(("dense", k)) for k in vertex_keys(dg)]
                t0 = time.perf_counter()
                outcome = contract_in_order(
                    dg, orders[i], arrays, [float(f[0]) for f in order_factors(dg, orders[i], table)],
                    d=d, weight=abs(float(dg.weight)), threshold=threshold,
                    memory_items=float(memory_limit) / provider.itemsize,
                )
                t_contract += time.perf_counter() - t0
                value = np.array([outcome.value])
                flops += outcome.flops
                stop_budget = np.array([outcome.budget])
                budget = budget + stop_budget
                contrib = float(dg.weight) * value
                records.append(DiagramRecord(dg, n, value, dg.weight, contrib, bounds[i], outcome.flops, "ordered",
                                             False, outcome.stopped_early, stop_budget, deg_max, outcome.max_size))
            elif runner is not None:
                if i not in ahead:
                    skip = (lambda j: bool(np.all(weighted[j] < tol))) if tol > 0 and tol_mode == "absolute" else None
                    t0, s0 = time.perf_counter(), cache.search_time
                    ahead.update(runner.wave(idx[pos:], skip, lambda j: plan_diagram(diags[j], representation, ctx),
                                             dex.wave_seconds if tol > 0 and tol_mode == "relative" else np.inf))
                    t_contract += time.perf_counter() - t0 - (cache.search_time - s0)
                plan, raw_value = ahead.pop(i)
                value = raw_value.reshape(B)
            else:
                plan = plan_diagram(dg, representation, ctx)
                guard.check_plan(plan, provider._cache, dg.key)
                t0 = time.perf_counter()
                try:
                    arrays = provider.arrays(plan.network.sources)
                    raw = plan.tree.contract(arrays, backend=backend) if len(arrays) > 1 else _single(arrays[0], plan)
                except MemoryError as exc:  # numpy/torch ran out: say what was held and asked
                    raise guard.wrap(exc, dg.key, provider._cache) from exc
                value = np.atleast_1d(to_numpy(raw)).reshape(B)
                t_contract += time.perf_counter() - t0
            if contract_mode != "ordered":
                flops += plan.cost
                contrib = float(dg.weight) * value
                records.append(DiagramRecord(dg, n, value, dg.weight, contrib, bounds[i], plan.cost,
                                             plan.network.representation, False, False, np.zeros(B), deg_max,
                                             plan.max_size))
            running = running + records[-1].contribution
            bar.update(1)
        budgets[n] = budget
        # one record per diagram, back in enumeration order: kappa_n is then summed in the same
        # order whatever the processing order (relative pruning sorts by bound), so a pruned run
        # differs from the full one by the dropped terms only, not by summation-order rounding
        block = records[first_record:]
        records[first_record:] = [block[p] for p in np.argsort(np.asarray(idx, dtype=np.int64), kind="stable")]
    bar.close()
    cache.flush()
    if splitter is not None:  # the half norms are contractions: charged like any
        flops += splitter.flops

    kappa: dict[int, Any] = {1: np.array([float(o.mean()) for o in objects])}
    for n in range(2, order + 1):
        kappa[n] = sum((r.contribution for r in records if r.order == n), np.zeros(B))
    sums = {n: partial_sums([r for r in records if r.order == n], int(max_degree), np.zeros(B))
            for n in range(2, order + 1)}
    if hypercontractive is None:
        hypercontractive = need_bounds or m is None or m <= 16384
    frob = None
    if hypercontractive and not batch:
        if _degree_keys(first) and max_degree >= 2:
            frob = {k: float(table.norm(k, 0)[0]) for k in (int(max_degree) - 1, int(max_degree))}
    squeeze = (lambda x: float(np.asarray(x).reshape(-1)[0])) if not batch else (lambda x: np.asarray(x, dtype=np.float64))
    reports = {n: convergence_report(n, [squeeze(s) for s in sums[n]], frob,
                                     exact_variance if n == 2 and not batch else None)
               for n in range(2, order + 1)}
    if warn:
        warn_if_diverging(reports)
    out_records = tuple(
        DiagramRecord(r.diagram, r.order, squeeze(r.value), r.weight, squeeze(r.contribution), squeeze(r.bound),
                      r.flops, r.representation, r.pruned, r.stopped_early, squeeze(r.budget), r.max_degree,
                      r.max_intermediate)
        for r in records
    )
    t_total = time.perf_counter() - t_start
    t_search = cache.search_time - search0
    timings = {"path_search": t_search, "contraction": t_contract, "bounds": t_bounds,
               "overhead": max(t_total - t_search - t_contract - t_bounds, 0.0), "total": t_total}
    return CumulantResult(
        kappa={n: squeeze(v) for n, v in kappa.items()},
        diagrams=out_records,
        flops=flops + provider.extra_flops,
        setup_flops=provider.extra_flops,
        build_flops=float(sum(float(getattr(o, "build_flops", 0.0)) for o in objects)) + provider.dense_build_flops,
        pruned_budget={n: squeeze(v) for n, v in budgets.items()},
        n_evaluated=sum(1 for r in records if not r.pruned),
        n_pruned=sum(1 for r in records if r.pruned),
        n_stopped_early=sum(1 for r in records if r.stopped_early),
        partial_sums={n: [squeeze(s) for s in v] for n, v in sums.items()},
        convergence=reports,
        timings=timings,
        settings={"expansion": "degree", "order": int(order), "max_degree": int(max_degree), "tol": float(tol),
                  "tol_mode": tol_mode,
                  "backend": backend, "representation": representation, "contract_mode": contract_mode,
                  "dtype": dtype, "device": provider.device, "batch": B if batch else None, "d": d, "m": m,
                  "split_norms": splitter.n_norms if splitter is not None else 0},
    )


def _degree_keys(obj: Any) -> bool:
    """Whether integer degrees are valid vertex keys (true for shin tensors)."""
    try:
        return int(obj.degree_of(0)) == 0
    except Exception:  # noqa: BLE001 - a vertex family keyed otherwise
        return False


def _single(array: Any, plan: Any) -> Any:
    """A one-input network (no path): sum out its indices with cotengra's einsum."""
    import cotengra as ctg

    return ctg.array_contract([array], plan.network.inputs, plan.network.output)
