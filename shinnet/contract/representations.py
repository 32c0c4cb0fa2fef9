"""Choosing a network representation per diagram by cotengra's reported cost (MATH.md s. 4).

The representations themselves are records of :mod:`shinnet.contract.representation_registry`
(re-exported here: :func:`register_representation`, :func:`lookup_representation`,
:func:`representations`, :func:`representation_names`); the chooser tests their properties
(dense vertices, Gram powers, costly path search), never their names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cotengra as ctg

from shinnet.contract.network import Network, build_network, network_signature, vertex_keys
from shinnet.contract.pathcache import PathCache
from shinnet.contract.representation_registry import (
    AUTO,
    Representation,
    is_auto,
    lookup_representation,
    register_representation,
    representation_names,
    representations,
)

__all__ = [
    "AUTO",
    "Plan",
    "PlanContext",
    "Representation",
    "candidate_representations",
    "is_auto",
    "lookup_representation",
    "materialise_cost",
    "plan_diagram",
    "register_representation",
    "representation_names",
    "representations",
]


@dataclass(frozen=True)
class PlanContext:
    """Sizes and limits shared by every diagram of one engine call.

    ``memory_limit`` is in bytes; a network whose largest input or intermediate needs more is
    refused before any array is allocated.  ``gram_max_m`` caps m for the ``gram`` (m-space)
    representation, which holds ``m x m`` Gram powers.  ``materialised`` records the vertex
    keys whose dense tensors an earlier plan already paid for (see :func:`materialise_cost`).
    ``price_all_above``: under ``"auto"``, a diagram whose cheapest dense/gram plan costs more
    than this many FLOPs also prices the factored and mixed networks (a ~4 ms path search each,
    against >= ~20 ms of contraction at this size).
    """

    d: int
    m: int | None
    degree_of: Any
    has_dense: bool
    itemsize: int
    memory_limit: float
    gram_max_m: int
    batch: int | None
    cache: PathCache
    materialised: set = field(default_factory=set)
    key_uses: dict = field(default_factory=dict)
    price_all_above: float = 1e8


@dataclass(frozen=True)
class Plan:
    """A network with its contraction tree: ``cost`` (cotengra ``contraction_cost``, the FLOPs
    we charge) and ``max_size`` (entries of the largest input or intermediate)."""

    network: Network
    tree: ctg.ContractionTree
    cost: float
    max_size: int
    signature: str


def _make_plan(diagram: Any, rep: str, ctx: PlanContext) -> Plan:
    net = build_network(diagram, rep, d=ctx.d, m=ctx.m, degree_of=ctx.degree_of, batch=ctx.batch)
    sig = network_signature(diagram, net)
    tree = ctx.cache.tree(sig, net)
    biggest_input = max(net.input_sizes())
    max_size = max(int(tree.max_size()) if len(net.inputs) > 1 else 0, biggest_input)
    return Plan(net, tree, float(tree.contraction_cost()), max_size, sig)


def materialise_cost(diagram: Any, rep: str, ctx: PlanContext) -> tuple[float, set]:
    """FLOPs to build the dense vertex tensors ``rep`` needs that no earlier plan paid for.

    A dense tensor of degree k built from factored weights costs ``2 m d^k`` (MATH.md section 4);
    it is built once per engine call, so only keys not in ``ctx.materialised`` are charged, and
    the charge is amortised over the ``ctx.key_uses[key]`` diagrams of the call that use the key
    (a greedy per-diagram charge of the whole build would never pay for a tensor many diagrams share).
    ``mixed`` networks hold dense exactly the vertices with ``d^k <= m``
    (:meth:`Representation.holds_dense`).  Objects without factored weights (``m is None``) hold
    their dense tensors already: cost 0.
    """
    record = lookup_representation(rep, "degree")
    if ctx.m is None or not record.needs_dense:
        return 0.0, set()
    new = set()
    for key in vertex_keys(diagram):
        k = int(ctx.degree_of(key))
        if k == 0 or key in ctx.materialised or not record.holds_dense(k, ctx.d, ctx.m):
            continue
        new.add(key)
    cost = sum(2.0 * ctx.m * float(ctx.d) ** int(ctx.degree_of(key)) / max(int(ctx.key_uses.get(key, 1)), 1)
               for key in new)
    return cost, new


def _cheapest_fitting(diagram: Any, reps: list[str], ctx: PlanContext, refused: list[str]) -> Plan | None:
    """The plan among ``reps`` with the least contraction + materialisation cost whose largest
    tensor fits ``ctx.memory_limit``; appends a note to ``refused`` for each that does not fit."""
    best: Plan | None = None
    best_total = float("inf")
    for rep in reps:
        plan = _make_plan(diagram, rep, ctx)
        nbytes = plan.max_size * ctx.itemsize
        if nbytes > ctx.memory_limit:
            refused.append(f"{rep}: {nbytes:.3g} bytes")
            continue
        total = plan.cost + materialise_cost(diagram, rep, ctx)[0]
        if total < best_total:
            best, best_total = plan, total
    return best


def plan_diagram(diagram: Any, representation: str, ctx: PlanContext) -> Plan:
    """The cheapest plan among the candidate representations that fit in memory.

    Parameters
    ----------
    representation : str
        ``"auto"`` or a registered ``"degree"`` representation ("dense", "factored", "gram",
        "mixed", ...).  ``"auto"`` compares cotengra's cost of every candidate (see
        :func:`candidate_representations`), plus for dense vertices the cost of materialising
        tensors not built yet (:func:`materialise_cost`), and keeps the cheapest; when none of
        them fits in memory, or the cheapest costs more than ``ctx.price_all_above``, the
        representations with a costly path search (factored U-copy and mixed) are priced too.

    Raises
    ------
    MemoryError
        When no candidate (or the forced one) fits ``ctx.memory_limit``; raised before any
        array is allocated.
    """
    auto = is_auto(representation)
    record = None if auto else lookup_representation(representation, "degree")
    bsz = 1 if ctx.batch is None else ctx.batch
    if record is None:
        reps = candidate_representations(
            diagram, d=ctx.d, m=ctx.m, degree_of=ctx.degree_of, has_dense=ctx.has_dense,
            itemsize=ctx.itemsize, memory_limit=ctx.memory_limit, gram_max_m=ctx.gram_max_m, batch=ctx.batch,
        )
    else:
        if record.needs_dense and not ctx.has_dense:
            raise ValueError(f"representation {representation!r} needs dense vertex tensors (a dense() method)")
        if record.all_dense:
            big = max(float(ctx.d) ** int(ctx.degree_of(k)) for k in vertex_keys(diagram)) * ctx.itemsize * bsz
            if big > ctx.memory_limit:
                raise MemoryError(
                    f"dense vertex tensors of diagram {diagram.key} need {big:.3g} bytes, above the memory "
                    f"limit of {ctx.memory_limit:.3g} bytes; use representation='factored' or 'auto'"
                )
        reps = [representation]
    refused: list[str] = []
    best = _cheapest_fitting(diagram, reps, ctx, refused)
    if auto and ctx.m is not None and (best is None or best.cost > ctx.price_all_above):
        # the cheap candidates did not fit, or are expensive enough that the path searches of the
        # ones "auto" skips pay for themselves (at d = 32, K = 5 factored/mixed were 10-30x cheaper)
        degrees = [int(ctx.degree_of(k)) for k in vertex_keys(diagram)]
        # a partly dense network that holds all or none dense is the dense or factored one
        extra = [r.name for r in representations("degree") if r.costly_search and r.name not in reps
                 and (ctx.has_dense or not r.needs_dense) and r.differs(degrees, ctx.d, ctx.m)]
        if extra:
            best = _cheapest_fitting(diagram, reps + extra if best is not None else extra, ctx, refused)
    if best is None:
        raise MemoryError(
            f"diagram {diagram.key}: every representation's largest tensor exceeds the memory limit of "
            f"{ctx.memory_limit:.3g} bytes ({'; '.join(refused) or 'no candidate representation'})"
        )
    ctx.materialised.update(materialise_cost(diagram, best.network.representation, ctx)[1])
    return best



def candidate_representations(
    diagram: Any,
    *,
    d: int,
    m: int | None,
    degree_of: Any,
    has_dense: bool,
    itemsize: int,
    memory_limit: float,
    gram_max_m: int,
    batch: int | None = None,
) -> list[str]:
    """Representations worth trying for ``diagram`` under ``"auto"``, by their properties.

    All-dense (``dense``) when every vertex array fits ``memory_limit`` bytes; Gram powers
    (``gram``) when ``m <= gram_max_m``; the U-copy network (``factored``) only in place of the
    Gram one, and partly dense (``mixed``) only when all-dense does not fit and it differs from
    both.  These are the *cheap* candidates: :func:`plan_diagram` adds the costly-search ones
    (factored, mixed) when none fits or the cheapest costs more than
    ``PlanContext.price_all_above`` (their path searches cost ~4 ms per diagram, several times
    the others, which only pays off on expensive diagrams).
    """
    degrees = [int(degree_of(k)) for k in vertex_keys(diagram)]
    bsz = 1 if batch is None else int(batch)
    dense_fits = all(float(d) ** k * itemsize * bsz <= memory_limit for k in degrees)
    gram_ok = m is not None and m <= gram_max_m
    out = []
    for rec in representations("degree"):
        if (rec.needs_units and m is None) or (rec.needs_dense and not has_dense):
            continue
        if rec.all_dense:
            keep = dense_fits
        elif rec.uses_gram:
            keep = gram_ok
        elif rec.needs_dense:
            keep = not dense_fits and rec.differs(degrees, d, m)
        else:
            keep = not gram_ok  # the U-copy network stands in for the m x m Gram powers
        if keep:
            out.append(rec.name)
    return out
