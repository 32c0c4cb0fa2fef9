"""The ``Diagram`` value: one isomorphism class of loopless multigraphs (MATH.md section 3).

A cumulant ``kappa_n`` (n >= 2) is a sum over isomorphism classes G of connected loopless
multigraphs on n vertices of ``weight(G) * val(G)`` with

    weight(G) = n! / ( |Aut(G)| * prod_e m_e! )

where ``Aut(G)`` is the group of vertex permutations preserving every edge multiplicity
``m_e`` (``n! / |Aut(G)|`` labelled copies, each carrying ``1 / prod_e m_e!`` from the pairing
count).  A ``Diagram`` stores the canonical representative of its class: vertices in nauty's
canonical order (degrees non-increasing), so equal diagrams are exactly isomorphic ones.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Sequence

import networkx as nx
import numpy as np

from shinnet.enumerate.canonical import canonical_labelling

__all__ = ["Diagram", "multiplicities_from_edges"]


def multiplicities_from_edges(
    edges: Iterable[Sequence[int]], order: int | None = None
) -> tuple[int, dict[tuple[int, int], int]]:
    """Collect ``(i, j)`` or ``(i, j, m)`` items into ``{(min, max): total multiplicity}``.

    Repeated pairs add up.  Returns ``(order, multiplicities)``; ``order`` defaults to one more
    than the largest vertex index.  Raises ``ValueError`` on loops, negative indices,
    non-positive multiplicities or indices ``>= order``.
    """
    mult: dict[tuple[int, int], int] = {}
    top = -1
    for item in edges:
        item = tuple(item)
        if len(item) == 2:
            i, j, m = item[0], item[1], 1
        elif len(item) == 3:
            i, j, m = item
        else:
            raise ValueError(f"an edge is (i, j) or (i, j, multiplicity), got {item!r}")
        if not all(isinstance(v, (int, np.integer)) for v in (i, j, m)):
            raise ValueError(f"edge entries must be integers, got {item!r}")
        i, j, m = int(i), int(j), int(m)
        if i == j:
            raise ValueError(f"diagrams are loopless: edge {item!r} joins vertex {i} to itself")
        if i < 0 or j < 0:
            raise ValueError(f"vertex indices must be >= 0, got {item!r}")
        if m < 1:
            raise ValueError(f"edge multiplicities must be >= 1, got {item!r}")
        key = (i, j) if i < j else (j, i)
        mult[key] = mult.get(key, 0) + m
        top = max(top, i, j)
    if order is None:
        order = top + 1
    if order < 1:
        raise ValueError("a diagram needs at least one vertex (give `order` for an edgeless one)")
    if top >= order:
        raise ValueError(f"vertex index {top} out of range for order {order}")
    return order, mult


@dataclass(frozen=True)
class Diagram:
    """One isomorphism class of loopless multigraphs, in canonical vertex order.

    Build with :meth:`from_edges` (or get from :func:`shinnet.enumerate.diagrams`); the
    constructor only checks consistency, it does not canonicalise.

    Attributes
    ----------
    order : int
        Number of vertices n (the cumulant order).
    degrees : tuple of int
        Vertex degrees ``k_i`` in canonical order (non-increasing).
    edges : tuple of (i, j, m)
        Distinct edges with ``i < j`` and multiplicity ``m >= 1``, sorted.
    automorphisms : int
        ``|Aut(G)|``, vertex permutations preserving all multiplicities.
    """

    order: int
    degrees: tuple[int, ...]
    edges: tuple[tuple[int, int, int], ...]
    automorphisms: int

    def __post_init__(self) -> None:
        n = self.order
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"order must be a positive int, got {n!r}")
        if len(self.degrees) != n:
            raise ValueError(f"{len(self.degrees)} degrees given for order {n}")
        degree = [0] * n
        previous = None
        for edge in self.edges:
            if len(edge) != 3:
                raise ValueError(f"edges must be (i, j, m) triples, got {edge!r}")
            i, j, m = edge
            if not (0 <= i < j < n) or m < 1:
                raise ValueError(f"bad edge {edge!r} for order {n} (need 0 <= i < j < n, m >= 1)")
            if previous is not None and (i, j) <= previous:
                raise ValueError(f"edges must be sorted and distinct, got {previous} before {(i, j)}")
            previous = (i, j)
            degree[i] += m
            degree[j] += m
        if tuple(degree) != tuple(self.degrees):
            raise ValueError(f"degrees {self.degrees} disagree with the edges (they give {tuple(degree)})")
        if not isinstance(self.automorphisms, int) or self.automorphisms < 1:
            raise ValueError(f"automorphisms must be a positive int, got {self.automorphisms!r}")

    @classmethod
    def _trusted(
        cls,
        order: int,
        degrees: tuple[int, ...],
        edges: tuple[tuple[int, int, int], ...],
        automorphisms: int,
    ) -> "Diagram":
        """Build without checks: only for records that were canonicalised and then
        hash-verified (the disk cache), where ``__post_init__`` would dominate load time."""
        obj = object.__new__(cls)
        obj.__dict__.update(order=order, degrees=degrees, edges=edges, automorphisms=automorphisms)
        return obj

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(cls, edges: Iterable[Sequence[int]], order: int | None = None) -> "Diagram":
        """Canonicalise a labelled loopless multigraph (nauty; see ``canonical.py``).

        Parameters
        ----------
        edges : iterable of (i, j) or (i, j, m)
            Vertex indices ``0..order-1``; repeated pairs add their multiplicities.
        order : int, optional
            Number of vertices (default: largest index + 1); extra vertices are isolated.

        Returns
        -------
        Diagram
            The canonical representative of the isomorphism class.  Cost: one nauty call.
        """
        n, mult = multiplicities_from_edges(edges, order)
        degree = [0] * n
        for (i, j), m in mult.items():
            degree[i] += m
            degree[j] += m
        perm, aut = canonical_labelling(n, mult, [-k for k in degree])
        position = {v: c for c, v in enumerate(perm)}
        canon = []
        for (i, j), m in mult.items():
            a, b = position[i], position[j]
            canon.append((min(a, b), max(a, b), m))
        return cls(n, tuple(degree[v] for v in perm), tuple(sorted(canon)), aut)

    # ------------------------------------------------------------------ derived values
    @property
    def key(self) -> str:
        """Canonical string ``"n:i-jxm,..."``: equal iff the diagrams are isomorphic."""
        key = self.__dict__.get("_key")
        if key is None:
            key = f"{self.order}:" + ",".join(f"{i}-{j}x{m}" for i, j, m in self.edges)
            self.__dict__["_key"] = key
        return key

    @property
    def weight(self) -> Fraction:
        """``n! / (|Aut(G)| prod_e m_e!)`` (MATH.md section 3), exact."""
        denominator = self.automorphisms
        for _, _, m in self.edges:
            denominator *= math.factorial(m)
        return Fraction(math.factorial(self.order), denominator)

    @property
    def labelled_copies(self) -> int:
        """Number of distinct vertex labellings, ``n! / |Aut(G)|``."""
        return math.factorial(self.order) // self.automorphisms

    @property
    def n_edges(self) -> int:
        """Total multiplicity ``sum_e m_e`` (half the degree sum)."""
        return sum(m for _, _, m in self.edges)

    @property
    def is_connected(self) -> bool:
        """Whether the multigraph is connected."""
        parent = list(range(self.order))

        def find(v: int) -> int:
            while parent[v] != v:
                parent[v] = parent[parent[v]]
                v = parent[v]
            return v

        for i, j, _ in self.edges:
            parent[find(i)] = find(j)
        return len({find(v) for v in range(self.order)}) == 1

    def vertex_keys(self) -> tuple[int, ...]:
        """Vertex-tensor keys for ``shinnet.contract`` (the degree k: vertex carries shin_k)."""
        return self.degrees

    def edge_copies(self) -> tuple[tuple[int, int], ...]:
        """Every edge copy as ``(i, j)``, each distinct edge repeated ``m`` times."""
        return tuple((i, j) for i, j, m in self.edges for _ in range(m))

    def multiplicity_matrix(self) -> np.ndarray:
        """Symmetric ``(n, n)`` int64 matrix of multiplicities, zero diagonal."""
        out = np.zeros((self.order, self.order), dtype=np.int64)
        for i, j, m in self.edges:
            out[i, j] = out[j, i] = m
        return out

    def to_networkx(self) -> nx.Graph:
        """The diagram as a ``networkx.Graph``: nodes ``0..n-1`` with attribute ``degree_k``
        (the shin degree the vertex carries), edges with attribute ``multiplicity`` (``m_e``).

        For inspection and for independent checks (networkx's isomorphism matchers count
        ``|Aut(G)|`` without pynauty).  Cost O(n + edges).
        """
        graph = nx.Graph()
        graph.add_nodes_from((v, {"degree_k": k}) for v, k in enumerate(self.degrees))
        graph.add_edges_from((i, j, {"multiplicity": m}) for i, j, m in self.edges)
        return graph

    def sort_key(self) -> tuple:
        """The deterministic ordering used by the generators: (order, degrees, edges)."""
        return (self.order, self.degrees, self.edges)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return (
            f"Diagram(order={self.order}, degrees={self.degrees}, edges={self.edges}, "
            f"automorphisms={self.automorphisms}, weight={self.weight})"
        )

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (the weight is a string ``"p/q"``, informative only)."""
        return {
            "order": self.order,
            "degrees": list(self.degrees),
            "edges": [list(e) for e in self.edges],
            "automorphisms": self.automorphisms,
            "weight": str(self.weight),
        }

    def to_json(self) -> str:
        """JSON string of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | dict[str, Any]) -> "Diagram":
        """Inverse of :meth:`to_json` (accepts the string or the dict).

        The edges are re-canonicalised with nauty and must reproduce the stored degrees,
        edges and automorphism count, so a tampered or non-canonical record raises
        ``ValueError`` instead of producing a wrong weight.
        """
        if isinstance(data, str):
            data = json.loads(data)
        try:
            order = int(data["order"])
            edges = [tuple(int(v) for v in e) for e in data["edges"]]
            stored = cls(order, tuple(int(k) for k in data["degrees"]), tuple(edges),
                         int(data["automorphisms"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a Diagram record: {data!r}") from exc
        canon = cls.from_edges(edges, order)
        if canon != stored or canon.automorphisms != stored.automorphisms:
            raise ValueError(f"record {data!r} is not canonical (canonical form: {canon!r})")
        return canon
