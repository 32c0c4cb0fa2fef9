"""``paths``: report the contraction plan of each diagram (representation, path, FLOPs,
largest intermediate, time), optionally with PNG drawings of the trees and networks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shinnet.contract.backends import ArrayProvider
from shinnet.contract.engine import resolve_diagrams
from shinnet.contract.pathcache import PathCache
from shinnet.contract.planner import PlanContext, plan_diagram

__all__ = ["PathRecord", "paths", "RandomVertices"]


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


def paths(
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
) -> list[PathRecord]:
    """Plans for every diagram of orders 2..``order`` with degrees ``<= max_degree`` (or for the
    one ``diagram``), at sizes d, m (and batch B).

    Returns a list of :class:`PathRecord`.  With ``plot_dir``, writes per diagram
    ``<i>_tree.png`` (cotengra's tree plot) and ``<i>_network.png`` (the network drawn with
    quimb) there (matplotlib Agg backend).  Cost: one path search per diagram shape, plus one
    contraction each on random arrays when ``time_contraction``.
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
        if time_contraction and len(plan.network.inputs) > 1:
            arrays = provider.arrays(plan.network.sources)
            t0 = time.perf_counter()
            plan.tree.contract(arrays)
            elapsed = time.perf_counter() - t0
        path = tuple(tuple(int(x) for x in p) for p in plan.tree.get_path()) if len(plan.network.inputs) > 1 else ()
        out.append(PathRecord(dg, plan.network.representation, path, plan.cost, plan.max_size, search, elapsed,
                              plan.signature))
        if plot_dir is not None:
            _plot(plan, dg, Path(plot_dir), i)
    cache.flush()
    return out


def _plot(plan: Any, diagram: Any, folder: Path, i: int) -> None:
    """Write cotengra's tree plot and a quimb drawing of the network as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    if len(plan.network.inputs) > 1:
        fig, _ = plan.tree.plot_ring(figsize=(5, 5))
        fig.savefig(folder / f"{i:04d}_tree.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    import quimb.tensor as qtn

    tags = [f"{src[0]}{src[1] if len(src) > 1 else ''}" for src in plan.network.sources]
    tensors = [qtn.Tensor(np.zeros([min(plan.network.size_dict[x], 2) for x in ix]), inds=ix, tags={tag})
               for ix, tag in zip(plan.network.inputs, tags)]
    fig = qtn.TensorNetwork(tensors).draw(color=sorted(set(tags)), show_inds="all", return_fig=True,
                                          figsize=(5, 5), title=f"{diagram.key} [{plan.network.representation}]")
    fig.savefig(folder / f"{i:04d}_network.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
