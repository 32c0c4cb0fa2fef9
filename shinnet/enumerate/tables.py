"""Public generator API: ``diagrams`` and ``count_table`` (MATH.md section 3), cached.

The unit of caching is the table of connected diagrams of one order n whose *largest* degree
is exactly ``top``; ``diagrams(n, K)`` is the union of the tables ``top = 1..K`` filtered by the
minimum degree.  Tables live on disk (``cache.py``) and in an in-process LRU memo keyed by the
cache directory, so repeated calls are instant and tests with their own ``cache_dir`` never
see each other's tables.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from shinnet.enumerate.blocks_cache import clear_moebius_memo
from shinnet.enumerate.cache import gc_paused, load_or_build, resolve_cache_dir
from shinnet.enumerate.diagram import Diagram
from shinnet.enumerate.generate import _check_range, connected_multigraphs, degree_sequences
from shinnet.enumerate.resummed import clear_resummed_memo

__all__ = ["diagrams", "count_table", "clear_memo", "GENERATOR_VERSION"]

# bump when the generator or the record layout changes: older cache files are then rebuilt
GENERATOR_VERSION = "orderly-1"

PathLike = str | os.PathLike[str]


def _build_table(order: int, top: int) -> tuple[Diagram, ...]:
    """Connected diagrams of ``order`` vertices with largest degree exactly ``top``."""
    out: list[Diagram] = []
    for seq in degree_sequences(order, top, 1):
        if seq[0] == top:
            out.extend(connected_multigraphs(seq))
    return tuple(sorted(out, key=Diagram.sort_key))


def _encode(table: tuple[Diagram, ...], order: int) -> dict[str, np.ndarray]:
    """Arrays: degrees (N, n), automorphisms (N,), edge counts (N,), edges (sum, 3)."""
    edges = [e for d in table for e in d.edges]
    return {
        "degrees": np.array([d.degrees for d in table], dtype=np.int64).reshape(len(table), order),
        "automorphisms": np.array([d.automorphisms for d in table], dtype=np.int64),
        "n_distinct_edges": np.array([len(d.edges) for d in table], dtype=np.int64),
        "edges": np.array(edges, dtype=np.int64).reshape(len(edges), 3),
    }


def _decode(order: int, arrays: dict[str, np.ndarray]) -> tuple[Diagram, ...]:
    """Inverse of ``_encode``; ``ValueError`` if the arrays do not fit together."""
    degrees, aut = arrays["degrees"], arrays["automorphisms"]
    counts, edges = arrays["n_distinct_edges"], arrays["edges"]
    count = len(aut)
    if (degrees.shape != (count, order) or counts.shape != (count,) or edges.ndim != 2
            or edges.shape[1] != 3 or int(counts.sum()) != edges.shape[0]):
        raise ValueError("inconsistent table arrays")
    edge_rows = list(map(tuple, edges.tolist()))
    out = []
    start = 0
    trusted = Diagram._trusted
    for deg, n_e, a in zip(map(tuple, degrees.tolist()), counts.tolist(), aut.tolist()):
        out.append(trusted(order, deg, tuple(edge_rows[start:start + n_e]), a))
        start += n_e
    return tuple(out)


@lru_cache(maxsize=256)
def _table(order: int, top: int, cache_dir: str | None) -> tuple[Diagram, ...]:
    """Memoised table; ``cache_dir`` None means no disk cache."""
    with gc_paused():
        return _load_or_build(order, top, cache_dir)


def _load_or_build(order: int, top: int, cache_dir: str | None) -> tuple[Diagram, ...]:
    header = {"kind": "connected", "generator": GENERATOR_VERSION, "order": order, "top": top}
    return load_or_build(cache_dir, f"connected_n{order}_top{top}", header,
                         lambda: _build_table(order, top), lambda table: _encode(table, order),
                         lambda arrays: _decode(order, arrays))


def clear_memo() -> None:
    """Forget the in-process tables: both generators and the Moebius block tables (the disk cache
    is untouched)."""
    clear_resummed_memo()
    clear_moebius_memo()
    _table.cache_clear()
    _range.cache_clear()
    _single_sequence.cache_clear()


@lru_cache(maxsize=1024)
def _single_sequence(degrees: tuple[int, ...]) -> tuple[Diagram, ...]:
    return tuple(connected_multigraphs(degrees))


def _cache_key(cache: bool, cache_dir: PathLike | None) -> str | None:
    return str(resolve_cache_dir(cache_dir)) if cache else None


def diagrams(
    order: int,
    max_degree: int,
    min_degree: int = 1,
    degrees: tuple[int, ...] | list[int] | None = None,
    *,
    cache: bool = True,
    cache_dir: PathLike | None = None,
) -> list[Diagram]:
    """Connected loopless multigraphs on ``order`` vertices: the diagrams of ``kappa_order``.

    Every isomorphism class with all degrees in ``[min_degree, max_degree]`` (or, if
    ``degrees`` is given, with exactly that degree multiset) appears exactly once, with its
    weight ``n! / (|Aut G| prod_e m_e!)`` (MATH.md section 3), sorted by ``Diagram.sort_key``
    (the non-increasing degree tuple, then the edges): the same list on every call and machine.

    Order 1 returns ``[]``: a single vertex has no loopless edge, so no diagram with degree
    >= 1 exists (``kappa_1 = shin_0`` is handled by the caller).  Degree-0 vertices never
    occur in a connected diagram with n >= 2, so ``min_degree`` 0 acts like 1.

    Parameters
    ----------
    order : int
        Number of vertices n >= 1.
    max_degree, min_degree : int
        Degree range (the Hermite truncation K is ``max_degree``).
    degrees : sequence of int, optional
        Exact degree multiset (any order); must lie in the range.  Computed directly (one
        degree sequence is cheap) and memoised in process, not written to disk.
    cache : bool
        Use the on-disk table cache (default True).
    cache_dir : path, optional
        Cache directory; default ``$SHINNET_CACHE_DIR`` or the user cache directory.

    Returns
    -------
    list of Diagram

    Cost: cold, one nauty call per surviving labelled matrix (seconds for n, K <= 6); warm,
    one checksummed JSON read per table, then an in-process memo.
    """
    if degrees is not None:
        seq = tuple(sorted((int(k) for k in degrees), reverse=True))
        if len(seq) != order:
            raise ValueError(f"{len(seq)} degrees given for order {order}")
        if seq and not (min_degree <= seq[-1] and seq[0] <= max_degree):
            raise ValueError(
                f"degrees {tuple(degrees)} fall outside [min_degree, max_degree] = "
                f"[{min_degree}, {max_degree}]"
            )
        return list(_single_sequence(seq))
    _check_range(order, max_degree, min_degree)
    if min_degree > max_degree:
        raise ValueError(f"min_degree {min_degree} exceeds max_degree {max_degree}")
    return list(_range(order, max_degree, max(min_degree, 1), _cache_key(cache, cache_dir)))


@lru_cache(maxsize=256)
def _range(order: int, max_degree: int, min_degree: int, key: str | None) -> tuple[Diagram, ...]:
    """Memoised union of the tables ``top = min_degree..max_degree``, filtered and sorted."""
    if order < 2:
        return ()
    out: list[Diagram] = []
    for top in range(min_degree, max_degree + 1):  # sort_key starts with degrees[0] = top
        out.extend(d for d in _table(order, top, key) if d.degrees[-1] >= min_degree)
    return tuple(out)


def count_table(
    max_order: int,
    max_degree: int,
    *,
    cache: bool = True,
    cache_dir: PathLike | None = None,
) -> dict[int, dict[tuple[int, ...], int]]:
    """Number of connected diagrams per order and degree sequence.

    Returns
    -------
    dict
        ``{n: {degrees (non-increasing tuple): count}}`` for ``n = 2..max_order`` and degrees
        in ``[1, max_degree]``; sequences with no connected diagram are omitted.
    """
    _check_range(max_order, max_degree, 0)
    out: dict[int, dict[tuple[int, ...], int]] = {}
    for n in range(2, max_order + 1):
        row: dict[tuple[int, ...], int] = {}
        for d in diagrams(n, max_degree, cache=cache, cache_dir=cache_dir):
            row[d.degrees] = row.get(d.degrees, 0) + 1
        out[n] = dict(sorted(row.items()))
    return out
