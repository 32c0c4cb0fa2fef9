"""Operator-norm bounds on diagram values (MATH.md section 5).

Contracting the vertices in the order ``v_1..v_n``, vertex t with ``p_t`` legs to earlier
vertices applies ``mat_{p_t, q_t}(shin_{k_t}) (x) I`` to the vector of open legs, so

    |val(G)| <= prod_t || mat_{p_t, q_t}(shin_{k_t}) ||_op

(first and last factors are Frobenius norms: ``p = 0`` or ``q = 0``).  The factor of vertex t
depends only on the *set* of earlier vertices, so the minimum over all n! orders is a shortest
path on the subset lattice: ``best(S + v) = min best(S) * norm(k_v, p(v, S))``, exact in
``O(2^n n^2)``.  It is used for ``n <= EXACT_MAX_ORDER`` (12); beyond, a greedy order (pick
the vertex with the smallest next factor) gives a valid but not necessarily minimal bound.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

from shinnet.contract.network import vertex_keys

__all__ = ["NormTable", "best_bound", "order_bound", "EXACT_MAX_ORDER"]

#: largest diagram order for which the bound is minimised exactly over all vertex orders
EXACT_MAX_ORDER = 12


class NormTable:
    """Matricisation operator norms ``||mat_{p, k-p}(T_key)||_op`` per (key, p), computed once.

    Parameters
    ----------
    vertex_objects : sequence
        One vertex object, or B of them (a batch); norms are then arrays of shape (B,).

    Notes
    -----
    Uses ``op_norm(key, min(p, k-p))``: the transpose has the same norm.  Cost: whatever the
    vertex object's ``op_norm`` costs (power iteration on Hadamard powers of the Gram matrix
    for factored shin tensors), once per (key, p).
    """

    def __init__(self, vertex_objects: Sequence[Any]) -> None:
        self.objects = list(vertex_objects)
        self._table: dict[tuple[Hashable, int], np.ndarray] = {}

    def degree(self, key: Hashable) -> int:
        return int(self.objects[0].degree_of(key))

    def norm(self, key: Hashable, p: int) -> np.ndarray:
        """Norms for each model, shape (B,) (B = 1 for a single vertex object)."""
        k = self.degree(key)
        if not 0 <= p <= k:
            raise ValueError(f"matricisation p={p} outside 0..{k} for vertex key {key!r}")
        q = min(p, k - p)
        hit = self._table.get((key, q))
        if hit is None:
            hit = np.array([float(o.op_norm(key, q)) for o in self.objects], dtype=np.float64)
            if np.any(~np.isfinite(hit)) or np.any(hit < 0):
                raise ValueError(f"op_norm({key!r}, {q}) returned {hit}: norms must be finite and >= 0")
            self._table[(key, q)] = hit
        return hit


def _adjacency(diagram: Any) -> np.ndarray:
    n = int(diagram.order)
    adj = np.zeros((n, n), dtype=np.int64)
    for i, j, mult in diagram.edges:
        adj[i, j] += int(mult)
        adj[j, i] += int(mult)
    return adj


def order_bound(diagram: Any, order: Sequence[int], table: NormTable) -> np.ndarray:
    """``prod_t ||mat_{p_t,q_t}||_op`` for one vertex order; shape (B,)."""
    adj = _adjacency(diagram)
    keys = vertex_keys(diagram)
    seen: list[int] = []
    out = np.ones(len(table.objects))
    for v in order:
        p = int(adj[v, seen].sum()) if seen else 0
        out = out * table.norm(keys[v], p)
        seen.append(v)
    return out


def order_factors(diagram: Any, order: Sequence[int], table: NormTable) -> list[np.ndarray]:
    """The per-vertex factors of :func:`order_bound`, in contraction order."""
    adj = _adjacency(diagram)
    keys = vertex_keys(diagram)
    seen: list[int] = []
    out = []
    for v in order:
        p = int(adj[v, seen].sum()) if seen else 0
        out.append(table.norm(keys[v], p))
        seen.append(v)
    return out


def best_bound(diagram: Any, table: NormTable) -> tuple[np.ndarray, tuple[int, ...], bool]:
    """The smallest order bound on ``|val(G)|`` (MATH.md section 5).

    Returns
    -------
    bound : ndarray, shape (B,)
        Per model (B = 1 for a single vertex object).  With a batch the minimising order may
        differ per model; each model gets its own minimum.
    order : tuple of int
        A minimising order for the first model.
    exact : bool
        True when minimised over all n! orders (``n <= EXACT_MAX_ORDER``), False for the greedy
        order.
    """
    n = int(diagram.order)
    adj = _adjacency(diagram)
    keys = vertex_keys(diagram)
    B = len(table.objects)
    with np.errstate(divide="ignore"):
        if n > EXACT_MAX_ORDER:
            order: list[int] = []
            remaining = set(range(n))
            while remaining:
                cands = [(float(np.log(table.norm(keys[v], int(adj[v, order].sum()) if order else 0)).max()), v)
                         for v in sorted(remaining)]
                _, v = min(cands)
                order.append(v)
                remaining.remove(v)
            return order_bound(diagram, order, table), tuple(order), False
        full = (1 << n) - 1
        best = np.full((1 << n, B), np.inf)
        best[0] = 0.0
        back = np.zeros((1 << n,), dtype=np.int64)  # last vertex for model 0
        members = [[v for v in range(n) if s >> v & 1] for s in range(1 << n)]
        for s in range(full):
            for v in range(n):
                if s >> v & 1:
                    continue
                p = int(adj[v, members[s]].sum()) if members[s] else 0
                cand = best[s] + np.log(table.norm(keys[v], p))
                t = s | (1 << v)
                better = cand < best[t]
                if better[0]:
                    back[t] = v
                best[t] = np.where(better, cand, best[t])
        order_rev = []
        s = full
        while s:
            v = int(back[s])
            order_rev.append(v)
            s &= ~(1 << v)
        return np.exp(best[full]), tuple(reversed(order_rev)), True
