"""Orderly generation of connected loopless multigraphs with a given degree sequence.

For a non-increasing degree sequence ``k_0 >= ... >= k_{n-1}`` the symmetric multiplicity
matrix is filled row by row (row ``r`` distributes vertex r's remaining degree over the later
vertices, largest entries first).  Two cheap, *safe* symmetry cuts keep most duplicates out:
the lexicographically largest matrix of each class (upper triangle read row by row, over all
relabellings that keep the degree sequence) is never cut, because for consecutive vertices
``i, i+1`` of equal degree it satisfies

    column i >=lex column i+1 on the rows above i, and, if those are equal,
    row i >=lex row i+1 on the columns after i+1

(otherwise swapping i and i+1 would give a larger matrix).  A partial row is also cut when
the degrees left over cannot be realised by a loopless multigraph (odd sum, or a largest
residual degree exceeding the sum of the others).  The survivors are canonicalised with nauty
(``canonical.py``) and deduplicated by canonical key; nauty, not this file, decides
isomorphism, so the cuts only affect speed.

Cost: proportional to the number of surviving labelled matrices (a small multiple of the
number of classes for the sizes tabulated here) times one nauty call.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from shinnet.enumerate.canonical import automorphism_count, canonical_order, layered_graph
from shinnet.enumerate.diagram import Diagram

__all__ = ["degree_sequences", "connected_multigraphs", "labelled_matrices"]


def degree_sequences(order: int, max_degree: int, min_degree: int = 1) -> list[tuple[int, ...]]:
    """Non-increasing degree sequences that some connected loopless multigraph realises.

    A sequence of length ``n >= 2`` with entries >= 1 is realisable by a connected loopless
    multigraph iff its sum is even, the largest entry is at most the sum of the others, and
    the sum is at least ``2 (n - 1)`` (a spanning tree).  Returned in lexicographic order.
    Order 1 (and min_degree 0 with order > 1) gives no connected diagram: see ``diagrams``.
    """
    _check_range(order, max_degree, min_degree)
    if order < 2 or max_degree < 1:
        return []
    low = max(min_degree, 1)
    out: list[tuple[int, ...]] = []

    def extend(prefix: list[int], top: int) -> None:
        if len(prefix) == order:
            total = sum(prefix)
            if total % 2 == 0 and prefix[0] <= total - prefix[0] and total >= 2 * (order - 1):
                out.append(tuple(prefix))
            return
        for k in range(top, low - 1, -1):
            prefix.append(k)
            extend(prefix, k)
            prefix.pop()

    extend([], max_degree)
    return sorted(out)


def _check_range(order: int, max_degree: int, min_degree: int) -> None:
    for name, value in (("order", order), ("max_degree", max_degree), ("min_degree", min_degree)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")


def labelled_matrices(degrees: Sequence[int]) -> Iterator[list[list[int]]]:
    """Yield multiplicity matrices with the given non-increasing degrees, after the symmetry cuts.

    Every isomorphism class of loopless multigraphs with this degree sequence (connected or
    not) has at least one member among the yielded matrices.  The yielded list is reused:
    copy it to keep it.
    """
    deg = list(degrees)
    n = len(deg)
    if any(deg[i] < deg[i + 1] for i in range(n - 1)):
        raise ValueError(f"degrees must be non-increasing, got {tuple(degrees)}")
    matrix = [[0] * n for _ in range(n)]
    rem = deg[:]
    # tied[i]: columns i and i+1 agree on every row filled so far (only for equal degrees)
    tied = [i + 1 < n and deg[i] == deg[i + 1] for i in range(n)]

    def feasible(start: int) -> bool:
        total = 0
        top = 0
        for v in range(start, n):
            total += rem[v]
            top = max(top, rem[v])
        return total % 2 == 0 and 2 * top <= total

    def fill_row(r: int) -> Iterator[None]:
        # entries matrix[r][c], c > r, summing to rem[r]; capped by rem[c]
        row = matrix[r]
        # the row-tail cut: if (r-1, r) is tied, row r's tail after r must be <=lex row r-1's
        bound_row = matrix[r - 1] if r >= 1 and tied[r - 1] else None
        cols = list(range(r + 1, n))
        suffix_cap = [0] * (len(cols) + 1)
        for t in range(len(cols) - 1, -1, -1):
            suffix_cap[t] = suffix_cap[t + 1] + rem[cols[t]]

        def place(t: int, left: int, bounded: bool) -> Iterator[None]:
            if t == len(cols):
                if left == 0:
                    yield
                return
            if suffix_cap[t] < left:
                return
            c = cols[t]
            cap = min(left, rem[c])
            # column cut: tied pair (c-1, c) with c-1 > r requires row[c-1] >= row[c]
            if c - 1 > r and tied[c - 1]:
                cap = min(cap, row[c - 1])
            if bounded and c > r:
                # compare with the row above on columns after r (c > r): entry (r-1, c)
                cap = min(cap, bound_row[c])
            floor = max(0, left - suffix_cap[t + 1])
            for x in range(cap, floor - 1, -1):
                row[c] = x
                matrix[c][r] = x
                yield from place(t + 1, left - x, bounded and x == bound_row[c])
            row[c] = 0
            matrix[c][r] = 0

        yield from place(0, rem[r], bound_row is not None)

    def recurse(r: int) -> Iterator[list[list[int]]]:
        if r == n - 1:
            if rem[r] == 0:
                yield matrix
            return
        saved_tied = tied[:]
        for _ in fill_row(r):
            # update residual degrees and ties for the rows below
            for c in range(r + 1, n):
                rem[c] -= matrix[r][c]
            if feasible(r + 1):
                for i in range(r + 1, n - 1):
                    if tied[i] and matrix[r][i] != matrix[r][i + 1]:
                        tied[i] = False
                if r >= 1 and tied[r - 1] and matrix[r - 1][r + 1:] != matrix[r][r + 1:]:
                    tied[r - 1] = False
                saved_rem_r = rem[r]
                rem[r] = 0
                yield from recurse(r + 1)
                rem[r] = saved_rem_r
                tied[:] = saved_tied
            for c in range(r + 1, n):
                rem[c] += matrix[r][c]

    yield from recurse(0)


def _connected(matrix: list[list[int]]) -> bool:
    n = len(matrix)
    seen = 1
    frontier = [0]
    while frontier:
        v = frontier.pop()
        row = matrix[v]
        for w in range(n):
            if row[w] and not (seen >> w) & 1:
                seen |= 1 << w
                frontier.append(w)
    return seen == (1 << n) - 1


def connected_multigraphs(degrees: Sequence[int]) -> list[Diagram]:
    """All connected loopless multigraphs with this degree multiset, one per class, sorted.

    Parameters
    ----------
    degrees : sequence of int
        Degree multiset (any order, entries >= 1, length >= 2).

    Returns
    -------
    list of Diagram
        Each isomorphism class exactly once, sorted by ``Diagram.sort_key``.
    """
    deg = sorted((int(k) for k in degrees), reverse=True)
    n = len(deg)
    if n < 2 or deg[-1] < 1:
        return []
    total = sum(deg)
    if total % 2 or deg[0] > total - deg[0] or total < 2 * (n - 1):
        return []
    labels = [-k for k in deg]
    found: dict[str, Diagram] = {}
    for matrix in labelled_matrices(deg):
        if not _connected(matrix):
            continue
        mult = {(i, j): matrix[i][j] for i in range(n) for j in range(i + 1, n) if matrix[i][j]}
        graph = layered_graph(n, mult, labels)
        perm = canonical_order(graph, n)
        position = [0] * n
        for c, v in enumerate(perm):
            position[v] = c
        edges = tuple(sorted(
            (min(position[i], position[j]), max(position[i], position[j]), m)
            for (i, j), m in mult.items()
        ))
        key = f"{n}:" + ",".join(f"{i}-{j}x{m}" for i, j, m in edges)
        if key not in found:  # |Aut| only for new classes (a second nauty call)
            # canonical by construction: skip the constructor's consistency checks
            found[key] = Diagram._trusted(
                n, tuple(deg[v] for v in perm), edges, automorphism_count(graph)
            )
    return sorted(found.values(), key=Diagram.sort_key)
