"""Small graph utilities shared by the generators (pure combinatorics)."""

from __future__ import annotations

from typing import Iterable

__all__ = ["components", "is_connected"]


def components(n: int, edges: Iterable[tuple[int, ...]]) -> list[int]:
    """Component representative of each of the vertices 0..n-1 (union-find with path halving).

    ``edges`` yields pairs ``(i, j, ...)``; entries after the first two (e.g. multiplicities)
    are ignored.  Cost O((n + |E|) alpha(n)).
    """
    parent = list(range(n))

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for edge in edges:
        parent[find(edge[0])] = find(edge[1])
    return [find(v) for v in range(n)]


def is_connected(n: int, edges: Iterable[tuple[int, ...]]) -> bool:
    """Whether the graph on vertices 0..n-1 with these edges is connected (n = 0 counts as not)."""
    return n > 0 and len(set(components(n, edges))) == 1
