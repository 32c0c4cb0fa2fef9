"""Moebius block decomposition of the resummed diagrams (MATH.md section 8, "In d-space").

A resummed class (G, p) is evaluated in hidden-unit space with the zero-diagonal cosines
``Rt^{m_e} = R^{(o)m_e} - I``.  Expanding every distinct edge's ``- I`` over subsets S of the
simple edge set merges the components of S into blocks; grouping the subsets by the partition
pi they induce gives

    val(G, p) = sum_pi mu_G(pi) Net(G / pi),      mu_G(pi) = prod_{B in pi} eps(G[B]),
    eps(H)    = sum over spanning connected edge subsets S of H of (-1)^|S|,

over partitions pi of the vertices into G-connected blocks (``eps`` of a disconnected graph is 0).
``Net(G/pi)`` has one vertex per block carrying ``T_B = sum_u prod_{v in B} kap^u_{p_v,k_v}
u_u^{(x)k'_B}`` and every edge copy between different blocks (edges inside a block become
``R_uu = 1`` and drop out).  A block's *label* is ``(sorted vertex keys (p_v, k_v), k'_B)``; two
quotient networks with isomorphic label-coloured multigraphs have equal values, so the terms are
aggregated into classes (:class:`QuotientNetwork`) with rational coefficients.

Pure combinatorics: no tensors.  ``moebius_terms`` is memoised in-process; whole tables
(``moebius_table``, ``quotient_table``) live in ``shinnet.enumerate.blocks_cache``, which
caches them on disk (one nauty call per (G, p, pi) when cold).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from shinnet.combinatorics import set_partitions
from shinnet.enumerate.canonical import canonical_labelling
from shinnet.enumerate.graphs import is_connected

__all__ = [
    "BlockLabel",
    "QuotientNetwork",
    "spanning_connected_sign",
    "connected_partitions",
    "moebius_terms",
]

#: ``(sorted ((p_v, k_v), ...), legs)``: what a block tensor T_B depends on
BlockLabel = tuple[tuple[tuple[int, int], ...], int]


@lru_cache(maxsize=4096)
def _eps(n: int, edges: tuple[tuple[int, int], ...]) -> int:
    if n == 1:
        return 1
    total = 0
    for mask in range(1 << len(edges)):
        chosen = [edges[t] for t in range(len(edges)) if mask >> t & 1]
        if len(chosen) >= n - 1 and is_connected(n, chosen):
            total += -1 if len(chosen) % 2 else 1
    return total


def spanning_connected_sign(n_vertices: int, edges: Sequence[Sequence[int]]) -> int:
    """``eps(H) = sum_{S spanning connected} (-1)^|S|`` of the simple graph H (MATH.md section 8).

    Equals ``(-1)^(|V|-1) T_H(1, 0)`` (Tutte polynomial).  Values: vertex 1, edge -1, path of
    three +1, triangle +2, 4-cycle -3, K4 -6; 0 for a disconnected H.  Multiplicities are
    ignored (only the simple edge set matters).  Cost O(2^|E| |E|), memoised.
    """
    n = int(n_vertices)
    if n < 1:
        raise ValueError(f"a graph needs at least one vertex, got {n_vertices}")
    simple = set()
    for e in edges:
        i, j = int(e[0]), int(e[1])
        if i == j or not (0 <= i < n and 0 <= j < n):
            raise ValueError(f"edge {tuple(e)} is a loop or names a vertex outside 0..{n - 1}")
        simple.add((min(i, j), max(i, j)))
    if len(simple) > 20:
        raise ValueError(f"eps by enumeration is limited to 20 simple edges, got {len(simple)}")
    return _eps(n, tuple(sorted(simple)))


def connected_partitions(n_vertices: int, edges: Sequence[Sequence[int]]) -> list[tuple[tuple[int, ...], ...]]:
    """Partitions of ``0..n-1`` into blocks that each induce a connected subgraph of G.

    Each partition is a sorted tuple of sorted blocks.  Cost O(Bell(n) * |E|) (n <= 8 or so).
    """
    n = int(n_vertices)
    simple = {(min(int(e[0]), int(e[1])), max(int(e[0]), int(e[1]))) for e in edges}
    out = []
    for part in set_partitions(list(range(n))):
        ok = True
        for block in part:
            if len(block) > 1:
                bset = set(block)
                inner = [(block.index(i), block.index(j)) for i, j in simple if i in bset and j in bset]
                if not is_connected(len(block), inner):
                    ok = False
                    break
        if ok:
            out.append(tuple(sorted(tuple(sorted(b)) for b in part)))
    return sorted(out)


@dataclass(frozen=True)
class QuotientNetwork:
    """A class of quotient networks ``Net(G/pi)`` in canonical block order.

    Attributes
    ----------
    blocks : tuple of BlockLabel
        Per block: ``(sorted vertex keys (p_v, k_v), legs k'_B)``.
    edges : tuple of (i, j, m)
        Edge copies between blocks, ``i < j``, sorted (no loops: edges inside a block are dropped).
    """

    blocks: tuple[BlockLabel, ...]
    edges: tuple[tuple[int, int, int], ...]

    @classmethod
    def from_blocks(cls, blocks: Sequence[BlockLabel], mult: dict[tuple[int, int], int]) -> "QuotientNetwork":
        """Canonicalise a labelled quotient (one nauty call)."""
        blocks = [(tuple(sorted(tuple(map(int, kk)) for kk in b[0])), int(b[1])) for b in blocks]
        if len(blocks) == 1:
            return cls((blocks[0],), ())
        perm, _ = canonical_labelling(len(blocks), mult, blocks)
        pos = {v: c for c, v in enumerate(perm)}
        edges = tuple(sorted((min(pos[i], pos[j]), max(pos[i], pos[j]), m) for (i, j), m in mult.items()))
        return cls(tuple(blocks[v] for v in perm), edges)

    @property
    def n_blocks(self) -> int:
        """Number of blocks (vertices of the quotient network)."""
        return len(self.blocks)

    @property
    def order(self) -> int:
        """Number of vertices, in the ``Diagram.order`` sense used by ``shinnet.contract``'s
        network and bound code (here: the number of blocks)."""
        return len(self.blocks)

    @property
    def key(self) -> str:
        """Canonical string: equal iff the label-coloured quotient multigraphs are isomorphic."""
        labels = ";".join(".".join(f"{p}/{k}" for p, k in keys) + f">{legs}" for keys, legs in self.blocks)
        return f"Q[{labels}]:" + ",".join(f"{i}-{j}x{m}" for i, j, m in self.edges)

    def vertex_keys(self) -> tuple[BlockLabel, ...]:
        """The block labels (the vertex keys of the quotient network)."""
        return self.blocks


def moebius_terms(diagram) -> tuple[tuple[QuotientNetwork, int], ...]:
    """``[(Net(G/pi) class, mu_G(pi))]`` over the G-connected partitions pi with ``mu != 0``.

    Parameters
    ----------
    diagram : ResummedDiagram (``.powers``, ``.degrees``, ``.edges``)

    Returns
    -------
    tuple of (QuotientNetwork, int); the same class may appear more than once (different pi).
    Cost O(Bell(N) (|E| + 2^|E_B|)) plus one nauty call per partition; memoised by the
    diagram's edges and keys.
    """
    keys = tuple(zip(map(int, diagram.powers), map(int, diagram.degrees)))
    return _moebius_terms(keys, tuple(tuple(map(int, e)) for e in diagram.edges))


@lru_cache(maxsize=65536)
def _moebius_terms(keys: tuple[tuple[int, int], ...], edges: tuple[tuple[int, int, int], ...]):
    n = len(keys)
    out = []
    for part in connected_partitions(n, [(i, j) for i, j, _ in edges]):
        where = {v: b for b, block in enumerate(part) for v in block}
        mu = 1
        for block in part:
            local = {v: t for t, v in enumerate(block)}
            mu *= _eps(len(block), tuple(sorted(
                (local[i], local[j]) for i, j, _ in edges if i in local and j in local
            )))
            if mu == 0:
                break
        if mu == 0:
            continue
        legs = [0] * len(part)
        mult: dict[tuple[int, int], int] = {}
        for i, j, m in edges:
            bi, bj = where[i], where[j]
            if bi != bj:
                legs[bi] += m
                legs[bj] += m
                pair = (min(bi, bj), max(bi, bj))
                mult[pair] = mult.get(pair, 0) + m
        labels = [(tuple(sorted(keys[v] for v in block)), legs[b]) for b, block in enumerate(part)]
        out.append((QuotientNetwork.from_blocks(labels, mult), mu))
    return tuple(out)
