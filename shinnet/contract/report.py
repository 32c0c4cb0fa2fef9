"""``paths``: report the contraction plan of each diagram (representation, path, FLOPs,
largest intermediate, time), optionally with PNG drawings of the trees and networks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import opt_einsum

from shinnet.contract.backends import ArrayProvider
from shinnet.contract.engine import resolve_diagrams
from shinnet.contract.pathcache import PathCache
from shinnet.contract.plan_plots import plot_plan
from shinnet.contract.representations import PlanContext, plan_diagram

__all__ = ["PathRecord", "PathsReport", "paths", "paths_report", "RandomVertices"]


@dataclass(frozen=True)
class PathRecord:
    """The plan of one diagram: ``flops`` is cotengra's contraction cost, ``max_intermediate``
    the entries of the largest tensor, ``search_time`` the path search (0 on a cache hit) and
    ``contract_time`` one contraction on random arrays (NaN when not timed)."""

    diagram: Any
    representation: str
    path: tuple[tuple[int, ...], ...]
    flops: float
    max_intermediate: int
    search_time: float
    contract_time: float
    signature: str
    #: the network's inputs (index names) and sources, in the order the ``path`` refers to
    inputs: tuple[tuple[str, ...], ...] = ()
    sources: tuple[tuple[Any, ...], ...] = ()

    def einsum_equation(self) -> str:
        """The network as an einsum equation with one letter per index (opt_einsum's symbols),
        inputs in the order ``path`` and ``sources`` refer to; the output is empty (a full
        contraction gives ``val(G)``, MATH.md section 4)."""
        names = sorted({ix for inp in self.inputs for ix in inp})
        letter = {ix: opt_einsum.get_symbol(i) for i, ix in enumerate(names)}
        return ",".join("".join(letter[ix] for ix in inp) for inp in self.inputs) + "->"

    def expression(self, d: int, m: int) -> Any:
        """The plan as an ``opt_einsum.ContractExpression``, to replay cotengra's path on any
        backend opt_einsum supports: ``record.expression(d, m)(*arrays)`` with the arrays that
        ``sources`` names (``("dense", k)``: ``T_k`` (d^k); ``("weights", k)``: ``lambda_k`` (m,);
        ``("gram", p)``: ``Gm^(o)p`` (m, m); ``("U",)``: the unit rows (m, d)).  Indices named
        ``h*`` have size m, ``e*`` size d.  Cost of the replay: ``flops`` (the same path)."""
        if not self.inputs:
            raise ValueError("this record carries no network inputs (built by an older paths report)")
        shapes = [tuple(m if ix.startswith("h") else d for ix in inp) for inp in self.inputs]
        return opt_einsum.contract_expression(self.einsum_equation(), *shapes, optimize=[tuple(p) for p in self.path])


@dataclass(frozen=True)
class PathsReport:
    """What :func:`paths_report` returns: the per-diagram ``records`` and the one-off costs a run
    of these plans pays besides the contractions, charged exactly as the engine's
    ``ArrayProvider`` charges them: ``gram_flops`` (``U U^T``, ``2 m^2 d``, once, plus ``m^2 (p - 1)``
    per Gram power p used) and ``dense_build_flops`` (``2 m d^k`` per dense shin tensor
    materialised from the factored weights: the advice's dense part).  Building the shin weights
    themselves needs the model and is not included."""

    records: tuple[PathRecord, ...]
    gram_flops: float
    dense_build_flops: float

    @property
    def contraction_flops(self) -> float:
        return float(sum(r.flops for r in self.records))

    @property
    def total_flops(self) -> float:
        return self.contraction_flops + self.gram_flops + self.dense_build_flops


class RandomVertices:
    """Random vertex tensors of given sizes (for timing plans without a model): Gaussian weights,
    unit rows U, Gaussian dense arrays (not symmetrised; values are irrelevant for timing)."""

    def __init__(self, d: int, m: int, max_degree: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        U = rng.standard_normal((m, d))
        self.U = U / np.linalg.norm(U, axis=1, keepdims=True)
        self.lam = rng.standard_normal((max_degree + 1, m)) / np.sqrt(m)
        self._rng = np.random.default_rng(seed + 1)
        self.d = d

    def degree_of(self, key: int) -> int:
        return int(key)

    def weights(self, key: int) -> np.ndarray:
        return self.lam[key]

    def dense(self, key: int) -> np.ndarray:
        return self._rng.standard_normal((self.d,) * int(key))


def paths(*args: Any, **kwargs: Any) -> list[PathRecord]:
    """The per-diagram records of :func:`paths_report` (same arguments), as a list."""
    return list(paths_report(*args, **kwargs).records)


def paths_report(
    order: int,
    max_degree: int,
    d: int,
    m: int,
    *,
    representation: str = "auto",
    diagram: Any = None,
    batch: int | None = None,
    cache: PathCache | None = None,
    time_contraction: bool = True,
    memory_limit: float = 2.0**31,
    gram_max_m: int = 2048,
    plot_dir: str | Path | None = None,
    seed: int = 0,
) -> PathsReport:
    """Plans for every diagram of orders 2..``order`` with degrees ``<= max_degree`` (or for the
    one ``diagram``), at sizes d, m (and batch B).

    Returns a :class:`PathsReport`: the :class:`PathRecord` of every diagram and the Gram /
    dense-materialisation FLOPs (every input array is built once on random vertex tensors of the
    given sizes so that the engine's own accounting prices them).  With ``plot_dir``, writes per
    diagram ``<i>_tree.png`` and ``<i>_network.png`` there (labelled drawings,
    :mod:`shinnet.contract.plan_plots`).  Cost: one path search per diagram shape, building each
    distinct input array once, plus one contraction each on random arrays when ``time_contraction``.
    """
    cache = PathCache() if cache is None else cache
    ctx = PlanContext(d=int(d), m=int(m), degree_of=int, has_dense=True, itemsize=8,
                      memory_limit=float(memory_limit), gram_max_m=int(gram_max_m), batch=batch, cache=cache)
    if diagram is not None:
        todo = [diagram]
    else:
        per = resolve_diagrams(order, max_degree, None, int)
        todo = [dg for n in sorted(per) for dg in per[n]]
    top = max([int(max_degree)] + [int(k) for dg in todo for k in dg.degrees])
    verts = RandomVertices(int(d), int(m), top, seed)
    provider = ArrayProvider([verts] * (batch or 1), batch is not None)
    out = []
    for i, dg in enumerate(todo):
        s0 = cache.search_time
        plan = plan_diagram(dg, representation, ctx)
        search = cache.search_time - s0
        elapsed = float("nan")
        arrays = provider.arrays(plan.network.sources)  # built once per source: prices Gram and dense builds
        if time_contraction and len(plan.network.inputs) > 1:
            t0 = time.perf_counter()
            plan.tree.contract(arrays)
            elapsed = time.perf_counter() - t0
        path = tuple(tuple(int(x) for x in p) for p in plan.tree.get_path()) if len(plan.network.inputs) > 1 else ()
        out.append(PathRecord(dg, plan.network.representation, path, plan.cost, plan.max_size, search, elapsed,
                              plan.signature, tuple(plan.network.inputs), tuple(plan.network.sources)))
        if plot_dir is not None:
            _plot(plan, dg, Path(plot_dir), i)
    cache.flush()
    return PathsReport(tuple(out), float(provider.extra_flops), float(provider.dense_build_flops))


def _plot(plan: Any, diagram: Any, folder: Path, i: int) -> None:
    """Write the labelled tree and network PNGs (:mod:`shinnet.contract.plan_plots`)."""
    plot_plan(plan, diagram, folder, i)
