"""Pricing one estimate exactly before it runs: the FLOPs :func:`shinnet.estimate` will report
(``flops`` and ``flops_with_advice``) for a truncation, computed by planning every diagram the
engine will contract, without contracting anything (MATH.md sections 3, 4 and 8).

The planner of :mod:`shinnet.budget` charges what it runs, so this module mirrors the engines'
accounting term by term (the tests in ``tests/budget/test_budget.py`` compare it with what the engines
report, to rounding, so that a change of one side without the other fails):

degree expansion ``(N, K)`` (:func:`shinnet.contract.engine.run_engine`)
    contractions: cotengra's ``contraction_cost`` of each diagram's plan
    (:func:`shinnet.contract.representations.plan_diagram` with the engine's context, in the engine's
    order, so the representation choices and the amortised materialisation charges agree);
    setup: the Gram matrix ``U U^T`` (``2 m^2 d``) plus ``m^2 (p - 1)`` per Hadamard power p, when
    a ``gram`` network uses them; advice: the shin tensors (:func:`shinnet.tensors.shin.shin_build_flops`:
    ``3 m d + m (K+1)`` plus the activation's ``hermite_coefficients_flops``)
    plus ``2 m d^k`` per dense tensor of degree k a plan reads.
resummed expansion ``(N, E)`` (:func:`shinnet.contract.resummed.resummed_cumulants`)
    contractions: per class, the hidden-unit plan or the quotient plans not evaluated before, as
    :class:`shinnet.contract.resummed_plan.ResummedPlanner` chooses them; setup: Gram matrix and
    powers (``R^(o)p - I`` and ``R^(o)p`` are separate arrays, each ``m^2 (p - 1)``) plus the
    greedy lambda* search (``2 m^2 d + sum_{s=3}^{N} (2 m (s-1) d + 10 m s^3)``); advice: the
    vertex weights ``K_{p,k}`` (:func:`shinnet.activations.power_hermite.power_hermite_flops` +
    :func:`shinnet.tensors.cumulant_vertices.cumulant_vertices_flops` + ``3 m d + m N (E+1)``) plus
    ``2 m d^legs`` per dense block tensor.

Cost of pricing: one path search per new diagram shape (cached in the ``PathCache`` the run then
reuses), no array of size m or d^k is built; no FLOPs are spent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable

from shinnet.activations.power_hermite import power_hermite_flops
from shinnet.contract import PathCache
from shinnet.contract.engine import resolve_diagrams
from shinnet.contract.network import vertex_keys
from shinnet.contract.representations import PlanContext, lookup_representation, plan_diagram
from shinnet.contract.resummed_plan import ResummedPlanner
from shinnet.enumerate import moebius_table, resummed_diagrams
from shinnet.tensors.cumulant_vertices import cumulant_vertices_flops
from shinnet.tensors.shin import shin_build_flops as tensors_shin_build_flops

__all__ = ["Price", "price", "price_degree", "price_resummed", "plan_degree", "shin_build_flops",
           "power_shin_build_flops", "lambda_star_flops", "predicted_flops"]


@dataclass(frozen=True)
class Price:
    """The predicted accounting of one estimate.

    Attributes
    ----------
    expansion : str
        ``"degree"`` or ``"resummed"``.
    order : int
        Cumulant order N.
    truncation : int
        K (degree) or E_max (resummed).
    flops : float
        Contractions plus setup (Gram powers, lambda*): the estimate's ``flops``.
    advice : float
        Vertex weights plus dense tensors: ``flops_with_advice - flops``.
    n_terms : int
        Diagrams (degree) or classes (resummed) contracted.
    """

    expansion: str
    order: int
    truncation: int
    flops: float
    advice: float
    n_terms: int

    @property
    def total(self) -> float:
        """``flops + advice``: the estimate's ``flops_with_advice``."""
        return self.flops + self.advice


def shin_build_flops(mlp: Any, max_degree: int) -> float:
    """``ShinTensors.build_flops`` of ``shinnet.shin_tensors(mlp, max_degree)``: the same function
    (:func:`shinnet.tensors.shin.shin_build_flops`; the activation's coefficients are charged by its
    ``hermite_coefficients_flops``, which depends on the row norms for quadrature activations)."""
    return tensors_shin_build_flops(mlp, max_degree)


def power_shin_build_flops(mlp: Any, max_power: int, max_degree: int) -> float:
    """``PowerShinTensors.build_flops`` of ``power_shin_tensors(mlp, max_power, max_degree)``."""
    m, d, P, K = int(mlp.m), int(mlp.d), int(max_power), int(max_degree)
    return (power_hermite_flops(mlp.hidden, P, K, m) + cumulant_vertices_flops(m, P, K) + 3.0 * m * d
            + m * P * (K + 1))


def lambda_star_flops(m: int, d: int, n_max: int) -> float:
    """FLOPs :func:`shinnet.contract.lambda_star.lambda_star` charges for (m, d, n_max)."""
    if m < 2 or n_max < 2:
        return 0.0
    return 2.0 * m * m * d + sum(2.0 * m * (s - 1) * d + 10.0 * m * s**3 for s in range(3, min(n_max, m) + 1))


def _source_costs(sources: Iterable[tuple[Any, ...]], m: int, d: int, degree_of: Any) -> tuple[float, float]:
    """(setup, dense advice) FLOPs of building the distinct network sources, as the array
    providers charge them (each source is built once per call)."""
    setup = dense = 0.0
    sources = set(sources)
    if any(s[0] in ("gram", "rgram") for s in sources):
        setup += 2.0 * m * m * d
    for s in sources:
        if s[0] in ("gram", "rgram"):
            setup += float(m) * m * max(int(s[1]) - 1, 0)
        elif s[0] == "dense":
            k = int(degree_of(s[1]))
            if k > 0:
                dense += 2.0 * m * float(d) ** k
    return setup, dense


def plan_degree(d: int, m: int, order: int, max_degree: int, cache: Any, representation: str = "auto",
                memory_limit: float = 2.0**31, gram_max_m: int | None = None,
                itemsize: int = 8, limit: float = float("inf"),
                batch: int | None = None) -> tuple[float, float, int] | None:
    """(contractions + setup, dense advice, diagrams) of the degree engine at sizes (d, m): every
    diagram planned as :func:`shinnet.contract.engine.run_engine` plans it (``tol = 0``), in its order.
    ``batch``: B rows sharing U (``cumulants_batch`` / ``cumulants_weight_batch``; dense advice is
    then priced per row, ``2 B m d^k``).

    ``limit``: return None as soon as the contractions planned so far cost more (every cost is
    >= 0, so the total does too): an expensive request is known to exceed a budget after
    planning a fraction of its diagrams.  Raises MemoryError (as the engine would) when a diagram
    fits no representation."""
    d, m = int(d), int(m)
    per_order = resolve_diagrams(int(order), int(max_degree), None, int)
    uses = Counter(key for dgs in per_order.values() for dg in dgs for key in set(vertex_keys(dg)))
    ctx = PlanContext(d=d, m=m, degree_of=int, has_dense=True, itemsize=int(itemsize), memory_limit=float(memory_limit),
                      gram_max_m=2048 if gram_max_m is None else int(gram_max_m), batch=batch, cache=cache,
                      key_uses=dict(uses))
    contraction, sources, count = 0.0, [], 0
    for n in range(2, int(order) + 1):
        for dg in per_order[n]:
            plan = plan_diagram(dg, representation, ctx)
            contraction += plan.cost
            sources.extend(plan.network.sources)
            count += 1
            if contraction > limit:
                cache.flush()
                return None
    cache.flush()
    setup, dense = _source_costs(sources, m, d, int)
    return contraction + setup, dense * (1 if batch is None else int(batch)), count


def price_degree(mlp: Any, order: int, max_degree: int, cache: Any, representation: str = "auto",
                 memory_limit: float = 2.0**31, gram_max_m: int | None = None, itemsize: int = 8,
                 limit: float = float("inf")) -> Price | None:
    """The accounting of ``estimate(mlp, order, max_degree, tol=0)`` (degree expansion):
    :func:`plan_degree` plus the shin tensors' build; None once it is known to exceed ``limit``.

    Raises MemoryError (as the engine would) when a diagram fits no representation."""
    build = shin_build_flops(mlp, max_degree)
    if build > limit:
        return None
    out = plan_degree(mlp.d, mlp.m, order, max_degree, cache, representation, memory_limit, gram_max_m, itemsize,
                      limit - build)
    if out is None or out[0] + out[1] + build > limit:
        return None
    flops, dense, count = out
    return Price("degree", int(order), int(max_degree), flops, build + dense, count)


class _Legs:
    """Stand-in for :class:`shinnet.tensors.blocks.BlockVertices` when only sizes are needed."""

    @staticmethod
    def degree_of(label: Any) -> int:
        return int(label[1])


def price_resummed(mlp: Any, order: int, max_edges: int, cache: Any, representation: str = "auto",
                   memory_limit: float = 2.0**31, gram_max_m: int | None = None, itemsize: int = 8,
                   limit: float = float("inf")) -> Price | None:
    """The accounting of ``estimate(mlp, order, expansion="resummed", max_edges=E, tol=0)``; None
    once it is known to exceed ``limit`` (as for :func:`plan_degree`).

    Raises MemoryError (as the engine would) when a class fits no evaluation."""
    d, m, N, E = int(mlp.d), int(mlp.m), int(order), int(max_edges)
    per_order = {n: resummed_diagrams(n, E) for n in range(2, N + 1)}
    terms: dict[str, Any] = {}
    for n in per_order:
        terms.update(moebius_table(n, E))
    planner = ResummedPlanner(d, m, _Legs(), cache, representation, float(memory_limit),
                              4096 if gram_max_m is None else int(gram_max_m), int(itemsize),
                              terms_of=lambda dg: terms[dg.key])
    base = power_shin_build_flops(mlp, N, E) + lambda_star_flops(m, d, N)
    if base > limit:
        return None
    contraction, sources, count, evaluated = 0.0, [], 0, set()
    for n in range(2, N + 1):
        for dg in per_order[n]:
            form, plan = planner.choose(dg)
            count += 1
            if lookup_representation(form).hidden_units:
                contraction += plan.cost
                sources.extend(plan.network.sources)
                continue
            for q, _ in planner.terms_of(dg):
                if q.key in evaluated:
                    continue
                qp = planner.quotient_plan(q)
                evaluated.add(q.key)
                planner.mark_paid(q)
                contraction += qp.cost
                sources.extend(qp.network.sources)
            if contraction + base > limit:
                cache.flush()
                return None
    cache.flush()
    setup, dense = _source_costs(sources, m, d, _Legs.degree_of)
    setup += lambda_star_flops(m, d, N)
    out = Price("resummed", N, E, contraction + setup, power_shin_build_flops(mlp, N, E) + dense, count)
    return out if out.total <= limit else None


# expansion name -> its exact pricer (a new priced expansion is one entry here)
PRICERS = MappingProxyType({"degree": price_degree, "resummed": price_resummed})


def price(mlp: Any, expansion: str, order: int, truncation: int, cache: Any, **options: Any) -> Price | None:
    """:func:`price_degree` or :func:`price_resummed` by name (None: known to exceed ``limit``)."""
    pricer = PRICERS.get(expansion)
    if pricer is None:
        raise ValueError(f"expansion must be one of the priced expansions {sorted(PRICERS)}, got {expansion!r}")
    return pricer(mlp, order, truncation, cache, **options)


def predicted_flops(d: int, m: int, order: int, max_degree: int, cache: Any = None) -> tuple[float, float]:
    """(contraction + Gram FLOPs, dense-advice FLOPs) of the degree engine at (d, m), exactly as
    it will charge them (:func:`shinnet.budget.pricing.plan_degree`)."""
    out = plan_degree(d, m, order, max_degree, PathCache() if cache is None else cache)
    assert out is not None  # no limit
    return out[0], out[1]
