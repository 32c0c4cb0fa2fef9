"""The summing engine of the resummed expansion (MATH.md section 8).

    kappa_1 = c + sum_u kap^u_{1,0}                                           (exact)
    kappa_n = sum_{E >= 0} kappa_n^[E],   kappa_n^[E] = sum_{(G, p): E edge copies} weight(G, p) val(G, p)

with ``val(G, p)`` the hidden-unit sum over zero-diagonal cosines ``Rt`` or, equivalently, the
Moebius sum of d-space quotient networks (:mod:`shinnet.contract.resummed_plan` picks per class
by cotengra's cost).  Every same-unit part is exact in one dimension (the vertex weights
``kap = a^p K_{p,k}``); the series is in the cosines between distinct units only, truncated at
``E <= max_edges``.  Pruning: ``|val(G, p)| <= sum_pi |mu_G(pi)| bound(Net(G/pi))`` with the
operator-norm bound of MATH.md section 5 on each quotient network's block tensors; a class
with ``|weight| * bound < tol`` is skipped and the amount charged to ``pruned_budget``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shinnet.contract.backends import to_numpy
from shinnet.contract.bounds import NormTable, best_bound
from shinnet.contract.lambda_star import lambda_star, resummed_report, warn_if_asymptotic
from shinnet.contract.moebius import BlockVertices, ResummedArrays
from shinnet.contract.pathcache import PathCache
from shinnet.contract.result import CumulantResult, DiagramRecord
from shinnet.contract.resummed_plan import ResummedPlanner, contract
from shinnet.enumerate.blocks import moebius_terms

__all__ = ["resummed_cumulants", "power_vertex_object"]


def power_vertex_object(model_or_tensors: Any, order: int, max_edges: int) -> Any:
    """``power_shin_tensors(model, order, max_edges)`` for a model; a ``PowerShinTensors`` is
    checked to hold powers up to ``order`` and degrees up to ``max_edges``."""
    from shinnet.model import TwoLayerMLP

    if isinstance(model_or_tensors, TwoLayerMLP):
        from shinnet.power_shin import power_shin_tensors

        return power_shin_tensors(model_or_tensors, max_power=max(int(order), 1), max_degree=int(max_edges))
    for attr in ("block_weights", "block_tensor", "weights", "mean"):
        if not callable(getattr(model_or_tensors, attr, None)):
            raise TypeError(f"the resummed expansion needs a TwoLayerMLP or a PowerShinTensors; "
                            f"{type(model_or_tensors).__name__} has no method {attr!r}")
    P, K = int(model_or_tensors.max_power), int(model_or_tensors.max_degree)
    if P < order or K < max_edges:
        raise ValueError(f"PowerShinTensors hold powers <= {P} and degrees <= {K}; order {order} and max_edges "
                         f"{max_edges} need powers <= {order} and degrees <= {max_edges}")
    return model_or_tensors


def resummed_cumulants(
    model_or_tensors: Any,
    order: int,
    max_edges: int,
    *,
    tol: float = 0.0,
    backend: str = "numpy",
    representation: str = "auto",
    dtype: str = "float64",
    device: str | None = None,
    cache: PathCache | None = None,
    memory_limit: float = 2.0**31,
    gram_max_m: int = 4096,
    compute_bounds: bool | None = None,
    exact_variance: float | None = None,
    warn: bool = True,
    progress: bool = False,
) -> CumulantResult:
    """Cumulants ``kappa_1..kappa_order`` by the resummed expansion truncated at ``E <= max_edges``.

    Parameters
    ----------
    model_or_tensors : TwoLayerMLP or PowerShinTensors
    order : int
        Largest cumulant order n.
    max_edges : int
        Largest total edge multiplicity E (the order in the cosines).
    tol : float
        Absolute pruning tolerance on ``|weight| * bound`` per class (0: nothing pruned).
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
    exact_variance : float, optional
        ``Var f``: reported as ``convergence[2].exact_tail``.
    warn : bool
        :class:`ConvergenceWarning` when the greedy ``lambda* >= 1`` (the series is asymptotic).
    progress : bool

    Returns
    -------
    CumulantResult
        ``kappa[n]`` at ``E = max_edges``; ``partial_sums[n][E]`` for E = 0..max_edges;
        ``convergence[n]`` a :class:`shinnet.contract.lambda_star.ResummedReport`; records with
        ``representation`` ``"hidden"``, ``"dspace"`` or ``"-"`` (pruned).  ``flops`` = contraction
        costs + ``setup_flops`` (Gram powers, lambda* search); ``build_flops`` = vertex weights +
        dense block tensors.

    Notes
    -----
    Cost: per class the cheaper of its hidden-unit network (up to m^(treewidth+1)) and its
    not-yet-evaluated quotient networks (linear in m, times d^legs for dense block tensors).
    """
    t_start = time.perf_counter()
    for name, value in (("order", order), ("max_edges", max_edges)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    tensors = power_vertex_object(model_or_tensors, int(order), int(max_edges))
    blocks = BlockVertices(tensors, max_dense_bytes=memory_limit)
    provider = ResummedArrays([blocks], False, backend=backend, dtype=dtype, device=device)
    cache = PathCache() if cache is None else cache
    search0 = cache.search_time
    m, d = int(tensors.U.shape[0]), int(tensors.U.shape[1])
    planner = ResummedPlanner(d, m, blocks, cache, representation, memory_limit, gram_max_m, provider.itemsize)
    need_bounds = (tol > 0) if compute_bounds is None else bool(compute_bounds)
    table = NormTable([blocks])

    from shinnet.enumerate import resummed_diagrams
    from tqdm.auto import tqdm

    per_order = {n: resummed_diagrams(n, int(max_edges)) for n in range(2, int(order) + 1)}
    bar = tqdm(total=sum(len(v) for v in per_order.values()), disable=not progress, desc="classes", leave=False)
    qvalues: dict[str, float] = {}
    records: list[DiagramRecord] = []
    flops = t_contract = t_bounds = 0.0
    budgets: dict[int, float] = {}
    for n, diags in per_order.items():
        budget = 0.0
        for dg in diags:
            weight = float(dg.weight)
            deg_max = max(dg.degrees)
            bound = float("nan")
            if need_bounds:
                t0 = time.perf_counter()
                bound = sum(abs(mu) * float(best_bound(q, table)[0][0]) for q, mu in moebius_terms(dg))
                t_bounds += time.perf_counter() - t0
                if tol > 0 and abs(weight) * bound < tol:
                    budget += abs(weight) * bound
                    records.append(DiagramRecord(dg, n, 0.0, dg.weight, 0.0, bound, 0.0, "-", True, False,
                                                 abs(weight) * bound, deg_max))
                    bar.update(1)
                    continue
            form, plan = planner.choose(dg)
            t0 = time.perf_counter()
            if form == "hidden":
                value = float(to_numpy(contract(plan, provider.arrays(plan.network.sources), backend)))
                cost, biggest = plan.cost, plan.max_size
            else:
                value, cost, biggest = 0.0, 0.0, 0
                for q, mu in moebius_terms(dg):
                    if q.key not in qvalues:
                        qp = planner.quotient_plan(q)
                        qvalues[q.key] = float(to_numpy(contract(qp, provider.arrays(qp.network.sources), backend)))
                        planner.mark_paid(q)
                        cost += qp.cost
                        biggest = max(biggest, qp.max_size)
                    value += mu * qvalues[q.key]
            t_contract += time.perf_counter() - t0
            flops += cost
            records.append(DiagramRecord(dg, n, value, dg.weight, weight * value, bound, cost, form, False, False,
                                         0.0, deg_max, biggest))
            bar.update(1)
        budgets[n] = budget
    bar.close()
    cache.flush()

    lam = lambda_star(tensors.U, int(order)) if order >= 2 else None
    terms = {n: [sum(r.contribution for r in records if r.order == n and r.diagram.n_edges == e)
                 for e in range(int(max_edges) + 1)] for n in per_order}
    reports = {n: resummed_report(n, terms[n], lam.at(n), exact_variance if n == 2 else None) for n in per_order}
    if warn:
        warn_if_asymptotic(reports)
    kappa: dict[int, float] = {1: float(tensors.mean())}
    kappa.update({n: float(np.sum(terms[n])) for n in per_order})
    setup = provider.extra_flops + (lam.flops if lam is not None else 0.0)
    t_total = time.perf_counter() - t_start
    t_search = cache.search_time - search0
    return CumulantResult(
        kappa=kappa,
        diagrams=tuple(records),
        flops=flops + setup,
        setup_flops=setup,
        build_flops=float(tensors.build_flops) + provider.dense_build_flops,
        pruned_budget=budgets,
        n_evaluated=sum(1 for r in records if not r.pruned),
        n_pruned=sum(1 for r in records if r.pruned),
        n_stopped_early=0,
        partial_sums={n: list(rep.partial_sums) for n, rep in reports.items()},
        convergence=reports,
        timings={"path_search": t_search, "contraction": t_contract, "bounds": t_bounds,
                 "overhead": max(t_total - t_search - t_contract - t_bounds, 0.0), "total": t_total},
        settings={"expansion": "resummed", "order": int(order), "max_edges": int(max_edges), "tol": float(tol),
                  "backend": backend, "representation": representation, "dtype": dtype, "device": provider.device,
                  "d": d, "m": m, "lambda_star": dict(lam.values) if lam is not None else {},
                  "max_cosine": lam.max_cosine if lam is not None else 0.0,
                  "quotient_classes_evaluated": len(qvalues)},
    )
