"""Choosing a network representation per diagram by cotengra's reported cost (MATH.md s. 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cotengra as ctg

from shinnet.contract.network import (
    REPRESENTATIONS,
    Network,
    build_network,
    candidate_representations,
    mixed_differs,
    network_signature,
    vertex_keys,
)
from shinnet.contract.pathcache import PathCache

__all__ = ["Plan", "PlanContext", "materialise_cost", "plan_diagram"]


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
    ``mixed`` networks hold dense exactly the vertices with ``d^k <= m``.  Objects without
    factored weights (``m is None``) hold their dense tensors already: cost 0.
    """
    if ctx.m is None or rep not in ("dense", "mixed"):
        return 0.0, set()
    new = set()
    for key in vertex_keys(diagram):
        k = int(ctx.degree_of(key))
        if k == 0 or key in ctx.materialised or (rep == "mixed" and float(ctx.d) ** k > ctx.m):
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
    representation : {"auto", "dense", "factored", "gram", "mixed"}
        ``"auto"`` compares cotengra's cost of every candidate (see
        :func:`shinnet.contract.network.candidate_representations`), plus for dense vertices the
        cost of materialising tensors not built yet (:func:`materialise_cost`), and keeps the
        cheapest; when
        none of them fits in memory, or the cheapest costs more than ``ctx.price_all_above``, the
        factored (U-copy) and mixed networks are priced too.

    Raises
    ------
    MemoryError
        When no candidate (or the forced one) fits ``ctx.memory_limit``; raised before any
        array is allocated.
    """
    if representation != "auto" and representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be 'auto' or one of {REPRESENTATIONS}, got {representation!r}")
    bsz = 1 if ctx.batch is None else ctx.batch
    if representation == "auto":
        reps = candidate_representations(
            diagram, d=ctx.d, m=ctx.m, degree_of=ctx.degree_of, has_dense=ctx.has_dense,
            itemsize=ctx.itemsize, memory_limit=ctx.memory_limit, gram_max_m=ctx.gram_max_m, batch=ctx.batch,
        )
    else:
        if representation in ("dense", "mixed") and not ctx.has_dense:
            raise ValueError(f"representation {representation!r} needs dense vertex tensors (a dense() method)")
        if representation == "dense":
            big = max(float(ctx.d) ** int(ctx.degree_of(k)) for k in vertex_keys(diagram)) * ctx.itemsize * bsz
            if big > ctx.memory_limit:
                raise MemoryError(
                    f"dense vertex tensors of diagram {diagram.key} need {big:.3g} bytes, above the memory "
                    f"limit of {ctx.memory_limit:.3g} bytes; use representation='factored' or 'auto'"
                )
        reps = [representation]
    refused: list[str] = []
    best = _cheapest_fitting(diagram, reps, ctx, refused)
    if representation == "auto" and ctx.m is not None and (best is None or best.cost > ctx.price_all_above):
        # the cheap candidates did not fit, or are expensive enough that the path searches of the
        # ones "auto" skips pay for themselves (at d = 32, K = 5 factored/mixed were 10-30x cheaper)
        degrees = [int(ctx.degree_of(k)) for k in vertex_keys(diagram)]
        use_mixed = ctx.has_dense and mixed_differs(degrees, ctx.d, ctx.m)  # else mixed is dense or factored
        extra = [r for r in ("factored", "mixed") if r not in reps and (r != "mixed" or use_mixed)]
        if extra:
            best = _cheapest_fitting(diagram, reps + extra if best is not None else extra, ctx, refused)
    if best is None:
        raise MemoryError(
            f"diagram {diagram.key}: every representation's largest tensor exceeds the memory limit of "
            f"{ctx.memory_limit:.3g} bytes ({'; '.join(refused) or 'no candidate representation'})"
        )
    ctx.materialised.update(materialise_cost(diagram, best.network.representation, ctx)[1])
    return best

