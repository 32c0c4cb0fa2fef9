"""On-disk cache of the Moebius block decomposition (MATH.md section 8, "In d-space").

For every resummed class (G, p) of ``resummed_diagrams(order, max_edges)`` the table holds
``moebius_terms(G, p)``: the list ``[(Net(G/pi) class, mu_G(pi))]`` over the G-connected
partitions pi with ``mu_G(pi) = prod_B eps(G[B]) != 0``, in the order
:func:`shinnet.enumerate.blocks.moebius_terms` produces it.  Tables are stored per
``(order, E)`` (exactly ``E`` edge copies), like the resummed diagram tables they are built
from, under ``<cache dir>/diagrams/moebius_n<order>_E<E>.npz`` through
:func:`shinnet.enumerate.cache.load_or_build` (versioned header, SHA-256 checksum, atomic
write, never trusted on mismatch).

Layout (all int64).  Block labels, edge triples and quotient classes that recur are stored
once (which also makes decoding allocate one object per distinct thing):

- ``label_sizes[L]``, ``label_legs[L]``, ``label_keys[K, 2]``: the distinct block labels
  ``(sorted vertex keys (p_v, k_v), legs k'_B)``, their vertex keys concatenated;
- ``triples[M, 3]``: the distinct quotient edges ``(i, j, m)``;
- ``q_blocks[Q]``, ``block_labels[B]``: per distinct quotient its number of blocks, and the
  label index of each block in canonical block order (concatenated over the quotients);
- ``q_edges[Q]``, ``edge_triples[Ed]``: likewise its number of edges and their triple indices;
- ``diagram_terms[D]``: number of Moebius terms of each class, in the order of
  ``resummed_diagrams(order, E)`` restricted to E edge copies;
- ``terms[T, 2]``: ``(quotient index, mu)`` per term, concatenated over the classes.

The header also records a digest of the class keys of the resummed table, so a table built
from a different diagram list (or canonical labelling) is rebuilt, never misattributed.
"""

from __future__ import annotations

import hashlib
import operator
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
import pynauty

from shinnet.enumerate.blocks import QuotientNetwork, moebius_terms
from shinnet.enumerate.cache import gc_paused, load_or_build, resolve_cache_dir
from shinnet.enumerate.resummed import RESUMMED_GENERATOR_VERSION, ResummedDiagram, resummed_diagrams

__all__ = [
    "MOEBIUS_GENERATOR_VERSION",
    "MoebiusTerms",
    "moebius_table",
    "moebius_table_exact",
    "quotient_table",
    "clear_moebius_memo",
]

#: Bump whenever ``moebius_terms`` (partitions, eps, block labels, canonical quotient order,
#: term order) changes: old files then fail the header check and are rebuilt.
MOEBIUS_GENERATOR_VERSION = "moebius-1"

#: ``((QuotientNetwork, mu), ...)`` of one resummed class
MoebiusTerms = tuple[tuple[QuotientNetwork, int], ...]


def _diagram_digest(diagrams: Sequence[ResummedDiagram]) -> str:
    """SHA-256 of the class keys in table order (identifies the diagram list a table is for)."""
    return hashlib.sha256("\n".join(d.key for d in diagrams).encode()).hexdigest()


def _encode(table: Sequence[MoebiusTerms]) -> dict[str, np.ndarray]:
    """Integer arrays of one per-E table (the layout in the module docstring)."""
    labels: dict = {}
    triples: dict = {}
    quotients: dict[QuotientNetwork, int] = {}
    q_blocks, block_labels, q_edges, edge_triples, diagram_terms, terms = [], [], [], [], [], []
    for entry in table:
        diagram_terms.append(len(entry))
        for q, mu in entry:
            if q not in quotients:
                quotients[q] = len(quotients)
                q_blocks.append(len(q.blocks))
                block_labels.extend(labels.setdefault(label, len(labels)) for label in q.blocks)
                q_edges.append(len(q.edges))
                edge_triples.extend(triples.setdefault(edge, len(triples)) for edge in q.edges)
            terms.append((quotients[q], mu))

    def ints(values, width=None):
        a = np.array(values, dtype=np.int64)
        return a.reshape(len(values), width) if width else a.reshape(len(values))

    return {
        "label_sizes": ints([len(keys) for keys, _ in labels]),
        "label_legs": ints([legs for _, legs in labels]),
        "label_keys": ints([kk for keys, _ in labels for kk in keys], 2),
        "triples": ints(list(triples), 3),
        "q_blocks": ints(q_blocks), "block_labels": ints(block_labels),
        "q_edges": ints(q_edges), "edge_triples": ints(edge_triples),
        "diagram_terms": ints(diagram_terms), "terms": ints(terms, 2),
    }


def _decode(arrays: Mapping[str, np.ndarray], n_diagrams: int) -> tuple[MoebiusTerms, ...]:
    """Inverse of :func:`_encode`; ``ValueError`` if the arrays do not fit together."""
    sizes, legs, keys = (arrays[k].tolist() for k in ("label_sizes", "label_legs", "label_keys"))
    triples = [tuple(t) for t in arrays["triples"].tolist()]
    q_blocks, block_labels = arrays["q_blocks"].tolist(), arrays["block_labels"].tolist()
    q_edges, edge_triples = arrays["q_edges"].tolist(), arrays["edge_triples"].tolist()
    diagram_terms, terms = arrays["diagram_terms"].tolist(), arrays["terms"].tolist()

    def indices_ok(idx, bound):
        return not idx or (min(idx) >= 0 and max(idx) < bound)

    if (
        len(sizes) != len(legs) or sum(sizes) != len(keys) or any(len(t) != 3 for t in triples)
        or len(q_blocks) != len(q_edges) or sum(q_blocks) != len(block_labels)
        or sum(q_edges) != len(edge_triples) or len(diagram_terms) != n_diagrams
        or sum(diagram_terms) != len(terms) or not indices_ok(block_labels, len(sizes))
        or not indices_ok(edge_triples, len(triples))
        or not indices_ok([t[0] for t in terms], len(q_blocks))
    ):
        raise ValueError("inconsistent Moebius table arrays")
    labels, pk = [], 0
    for size, leg in zip(sizes, legs):
        labels.append((tuple(tuple(kk) for kk in keys[pk:pk + size]), leg))
        pk += size
    quotients, pb, pe = [], 0, 0
    for nb, ne in zip(q_blocks, q_edges):
        quotients.append(QuotientNetwork(
            tuple(labels[i] for i in block_labels[pb:pb + nb]),
            tuple(triples[i] for i in edge_triples[pe:pe + ne]),
        ))
        pb += nb
        pe += ne
    out, pt = [], 0
    for count in diagram_terms:
        out.append(tuple((quotients[q], mu) for q, mu in terms[pt:pt + count]))
        pt += count
    return tuple(out)


@lru_cache(maxsize=256)
def _table(order: int, n_edges: int, cache_dir: str | None) -> Mapping[str, MoebiusTerms]:
    """Read-only mapping class key -> Moebius terms for exactly ``n_edges`` edge copies.

    The collector is paused over the diagram-table load too: both allocate ~10^5 small tuples
    (measured at n = 6, E <= 8 right after a cold build: 1.0 s of collections otherwise).
    """
    with gc_paused():
        diagrams = resummed_diagrams(order, n_edges, cache=cache_dir is not None, cache_dir=cache_dir)
        diagrams = [d for d in diagrams if d.n_edges == n_edges]
        header = {
            "kind": "moebius", "generator": MOEBIUS_GENERATOR_VERSION,
            "resummed_generator": RESUMMED_GENERATOR_VERSION, "nauty": pynauty.__version__,
            "order": order, "n_edges": n_edges, "diagrams": _diagram_digest(diagrams),
        }
        table = load_or_build(
            cache_dir, f"moebius_n{order}_E{n_edges}", header,
            lambda: tuple(moebius_terms(d) for d in diagrams), _encode,
            lambda arrays: _decode(arrays, len(diagrams)),
        )
        return MappingProxyType({d.key: terms for d, terms in zip(diagrams, table)})


def _check(order, max_edges) -> tuple[int, int]:
    """``(order, max_edges)`` as ints, or ``ValueError`` saying which is bad."""
    out = []
    for name, value in (("order", order), ("max_edges", max_edges)):
        try:
            if isinstance(value, bool):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}") from None
        if value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        out.append(value)
    if out[0] < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    return out[0], out[1]


def _key(cache: bool, cache_dir: str | Path | None) -> str | None:
    return str(resolve_cache_dir(cache_dir)) if cache else None


def moebius_table_exact(
    order: int, n_edges: int, *, cache: bool = True, cache_dir: str | Path | None = None,
) -> Mapping[str, MoebiusTerms]:
    """Moebius terms of the classes (G, p) of order ``order`` with exactly ``n_edges`` edge copies.

    As :func:`moebius_table` restricted to ``E = n_edges`` (one cache file).
    """
    order, n_edges = _check(order, n_edges)
    return _table(order, n_edges, _key(cache, cache_dir))


@lru_cache(maxsize=64)
def _merged(order: int, max_edges: int, key: str | None) -> Mapping[str, MoebiusTerms]:
    merged: dict[str, MoebiusTerms] = {}
    with gc_paused():  # once over all E: re-enabling per table cost 0.8 s of full collections
        for e in range(max_edges + 1):
            merged.update(_table(order, e, key))
    return MappingProxyType(merged)


def moebius_table(
    order: int, max_edges: int, *, cache: bool = True, cache_dir: str | Path | None = None,
) -> Mapping[str, MoebiusTerms]:
    """``{(G, p).key: moebius_terms((G, p))}`` for every class of ``resummed_diagrams(order,
    max_edges)`` (MATH.md section 8: ``val(G, p) = sum_pi mu_G(pi) Net(G/pi)``).

    Parameters
    ----------
    order : int
        The cumulant order n >= 1.
    max_edges : int
        Largest total edge multiplicity E kept.
    cache, cache_dir
        As for :func:`shinnet.enumerate.resummed_diagrams`: per-(order, E) files under
        ``<cache_dir or $SHINNET_CACHE_DIR or user cache>/diagrams/``; ``cache=False`` builds
        in memory only.

    Returns
    -------
    Mapping (read-only) of str -> tuple of (QuotientNetwork, int)
        Equal, entry by entry and in the same order, to
        :func:`shinnet.enumerate.blocks.moebius_terms`; iteration follows the order of
        ``resummed_diagrams``.  Cost when cold: one nauty call per (class, G-connected
        partition with ``mu != 0``) (about 4 s at n = 6, E <= 8 on one idle core); warm: a
        checksummed read and one small tuple per term; memoised in-process per cache directory
        (clear with :func:`clear_moebius_memo`).
    """
    order, max_edges = _check(order, max_edges)
    return _merged(order, max_edges, _key(cache, cache_dir))


@lru_cache(maxsize=256)
def _quotients(order: int, n_edges: int, key: str | None) -> tuple[tuple[QuotientNetwork, Fraction], ...]:
    terms = _table(order, n_edges, key)
    acc: dict[str, list] = {}
    for dg in resummed_diagrams(order, n_edges, cache=key is not None, cache_dir=key):
        if dg.n_edges != n_edges:
            continue
        weight = dg.weight
        for q, mu in terms[dg.key]:
            entry = acc.setdefault(q.key, [q, Fraction(0)])
            entry[1] += weight * mu
    return tuple((q, c) for _, (q, c) in sorted(acc.items()) if c != 0)


def quotient_table(
    order: int, n_edges: int, *, cache: bool = True, cache_dir: str | Path | None = None,
) -> tuple[tuple[QuotientNetwork, Fraction], ...]:
    """``kappa_order^[E] = sum_Q coefficient(Q) Net(Q)`` from the cached Moebius table (MATH.md 8).

    ``coefficient(Q) = sum over (G, p) with E = n_edges and pi with G/pi ~ Q of weight(G, p)
    mu_G(pi)``, exact; classes with zero coefficient dropped; sorted by ``Q.key``.  ``cache``/
    ``cache_dir`` as for :func:`shinnet.enumerate.resummed_diagrams`; memoised in-process.
    """
    order, n_edges = _check(order, n_edges)
    return _quotients(order, n_edges, _key(cache, cache_dir))


def clear_moebius_memo() -> None:
    """Forget the in-process Moebius and quotient tables (the disk cache is untouched)."""
    _merged.cache_clear()
    _quotients.cache_clear()
    _table.cache_clear()
