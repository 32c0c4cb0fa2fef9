"""Coloured diagrams of the resummed expansion (MATH.md section 8).

``kappa_n^[E]`` is a sum over classes of pairs (G, p): a connected loopless multigraph G on
``N`` in ``[1, n]`` vertices with ``E = sum_e m_e`` edge copies, and vertex powers ``p_v >= 1``
with ``sum_v p_v = n``, each class weighted by

    n! / ( |Aut(G, p)| * prod_v p_v! * prod_e m_e! )

where ``Aut(G, p)`` are the vertex permutations preserving every multiplicity and every power.
(``n! / (|Aut| prod p_v!)`` is the number of ways to split the n labelled cumulant arguments
into blocks of sizes p placed on G's vertices, up to automorphisms.)  Powers are nauty vertex
colours; see ``canonical.py``.  Generation: every uncoloured class from ``generate.py``, every
composition of n into N parts placed on its vertices, canonicalised and deduplicated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from shinnet.enumerate.cache import load_or_build, resolve_cache_dir
from shinnet.enumerate.canonical import canonical_labelling
from shinnet.enumerate.diagram import multiplicities_from_edges
from shinnet.enumerate.generate import connected_multigraphs, degree_sequences
from shinnet.enumerate.graphs import is_connected

__all__ = ["ResummedDiagram", "resummed_diagrams", "RESUMMED_GENERATOR_VERSION"]

RESUMMED_GENERATOR_VERSION = "compositions-1"


@dataclass(frozen=True)
class ResummedDiagram:
    """One class (G, p) of the resummed expansion, in canonical vertex order.

    Attributes
    ----------
    order : int
        The cumulant order n (``= sum(powers)``).
    powers : tuple of int
        ``p_v >= 1`` per vertex, non-increasing.
    degrees : tuple of int
        ``k_v`` per vertex (non-increasing among vertices of equal power).
    edges : tuple of (i, j, m)
        Distinct edges, ``i < j``, sorted.
    automorphisms : int
        ``|Aut(G, p)|``.
    """

    order: int
    powers: tuple[int, ...]
    degrees: tuple[int, ...]
    edges: tuple[tuple[int, int, int], ...]
    automorphisms: int

    @classmethod
    def from_edges(cls, powers, edges) -> "ResummedDiagram":
        """Canonicalise a labelled (G, p): ``powers[v]`` for vertex v, edges ``(i, j[, m])``.

        Cost: one nauty call.  Raises ``ValueError`` for powers < 1, loops, or a
        disconnected G (with more than one vertex).
        """
        powers = [int(p) for p in powers]
        if not powers or min(powers) < 1:
            raise ValueError(f"powers must be >= 1 and non-empty, got {powers}")
        n_vertices, mult = multiplicities_from_edges(edges, len(powers))
        degree = [0] * n_vertices
        for (i, j), m in mult.items():
            degree[i] += m
            degree[j] += m
        if not is_connected(n_vertices, mult):
            raise ValueError(f"resummed diagrams are connected; got edges {sorted(mult.items())}")
        perm, aut = canonical_labelling(n_vertices, mult, [(-powers[v], -degree[v]) for v in range(n_vertices)])
        position = {v: c for c, v in enumerate(perm)}
        canon = tuple(sorted(
            (min(position[i], position[j]), max(position[i], position[j]), m) for (i, j), m in mult.items()
        ))
        return cls(sum(powers), tuple(powers[v] for v in perm), tuple(degree[v] for v in perm), canon, aut)

    @property
    def n_vertices(self) -> int:
        """N, the number of vertices (distinct hidden-unit slots)."""
        return len(self.powers)

    @property
    def n_edges(self) -> int:
        """E, the total edge multiplicity (the order in the cosines ``Rt``)."""
        return sum(m for _, _, m in self.edges)

    @property
    def weight(self) -> Fraction:
        """``n! / (|Aut(G,p)| prod p_v! prod m_e!)`` (MATH.md section 8), exact."""
        den = self.automorphisms
        for p in self.powers:
            den *= math.factorial(p)
        for _, _, m in self.edges:
            den *= math.factorial(m)
        return Fraction(math.factorial(self.order), den)

    @property
    def key(self) -> str:
        """Canonical string: equal iff the coloured diagrams are isomorphic."""
        body = ",".join(f"{i}-{j}x{m}" for i, j, m in self.edges)
        return f"{self.order}:p{'.'.join(map(str, self.powers))}:{body}"

    def vertex_keys(self) -> tuple[tuple[int, int], ...]:
        """``(p_v, k_v)`` per vertex: the keys of the power-shin vertex tensors."""
        return tuple(zip(self.powers, self.degrees))

    def edge_copies(self) -> tuple[tuple[int, int], ...]:
        """Every edge copy as ``(i, j)``, each distinct edge repeated ``m`` times."""
        return tuple((i, j) for i, j, m in self.edges for _ in range(m))

    def sort_key(self) -> tuple:
        """Deterministic order: (E, N, powers, degrees, edges)."""
        return (self.n_edges, self.n_vertices, self.powers, self.degrees, self.edges)


def _compositions(total: int, parts: int):
    """Ordered tuples of ``parts`` positive integers summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(1, total - parts + 2):
        for rest in _compositions(total - first, parts - 1):
            yield (first,) + rest


def _build(order: int, n_edges: int) -> tuple[ResummedDiagram, ...]:
    """All classes (G, p) with ``sum p = order`` and exactly ``n_edges`` edge copies."""
    found: dict[str, ResummedDiagram] = {}
    if n_edges == 0:
        return (ResummedDiagram(order, (order,), (0,), (), 1),)
    for n_vertices in range(2, min(order, n_edges + 1) + 1):
        for seq in degree_sequences(n_vertices, n_edges):
            if sum(seq) != 2 * n_edges:
                continue
            for graph in connected_multigraphs(seq):
                for powers in _compositions(order, n_vertices):
                    d = ResummedDiagram.from_edges(powers, graph.edges)
                    found.setdefault(d.key, d)
    return tuple(sorted(found.values(), key=ResummedDiagram.sort_key))


def _encode(table) -> dict[str, np.ndarray]:
    edges = [e for d in table for e in d.edges]
    return {
        "n_vertices": np.array([d.n_vertices for d in table], dtype=np.int64),
        "powers": np.array([p for d in table for p in d.powers], dtype=np.int64),
        "automorphisms": np.array([d.automorphisms for d in table], dtype=np.int64),
        "n_distinct_edges": np.array([len(d.edges) for d in table], dtype=np.int64),
        "edges": np.array(edges, dtype=np.int64).reshape(len(edges), 3),
    }


def _decode(order: int, arrays) -> tuple[ResummedDiagram, ...]:
    sizes, powers, aut = arrays["n_vertices"].tolist(), arrays["powers"].tolist(), arrays["automorphisms"].tolist()
    counts, edges = arrays["n_distinct_edges"].tolist(), arrays["edges"].tolist()
    if len(sizes) != len(aut) or len(counts) != len(aut) or sum(sizes) != len(powers) or sum(counts) != len(edges):
        raise ValueError("inconsistent table arrays")
    out, pv, pe = [], 0, 0
    for size, count, a in zip(sizes, counts, aut):
        p = tuple(powers[pv:pv + size])
        e = tuple(tuple(x) for x in edges[pe:pe + count])
        deg = [0] * size
        for i, j, m in e:
            deg[i] += m
            deg[j] += m
        out.append(ResummedDiagram(order, p, tuple(deg), e, a))
        pv += size
        pe += count
    return tuple(out)


@lru_cache(maxsize=256)
def _table(order: int, n_edges: int, cache_dir: str | None) -> tuple[ResummedDiagram, ...]:
    header = {"kind": "resummed", "generator": RESUMMED_GENERATOR_VERSION, "order": order, "n_edges": n_edges}
    return load_or_build(cache_dir, f"resummed_n{order}_E{n_edges}", header,
                         lambda: _build(order, n_edges), _encode, lambda arrays: _decode(order, arrays))


def resummed_diagrams(
    order: int,
    max_edges: int,
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> list[ResummedDiagram]:
    """Classes (G, p) contributing to ``kappa_order^[E]`` for ``E = 0..max_edges`` (MATH.md 8).

    Parameters
    ----------
    order : int
        The cumulant order n >= 1 (n = 1 gives the single vertex ``p = (1,)``, i.e.
        ``kappa_1 - c = sum_u kap^u_{1,0}``).
    max_edges : int
        Largest total edge multiplicity E kept (the truncation ``E_max``).
    cache, cache_dir
        As for :func:`shinnet.enumerate.diagrams`.

    Returns
    -------
    list of ResummedDiagram
        Each class once, sorted by (E, N, powers, degrees, edges).  Cost: one nauty call per
        (uncoloured class, composition of n) when cold; a checksummed file read when warm.
    """
    for name, value in (("order", order), ("max_edges", max_edges)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    key = str(resolve_cache_dir(cache_dir)) if cache else None
    out: list[ResummedDiagram] = []
    for e in range(max_edges + 1):
        out.extend(_table(order, e, key))
    return out


def clear_resummed_memo() -> None:
    """Forget the in-process resummed tables."""
    _table.cache_clear()
