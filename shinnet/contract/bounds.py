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

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from shinnet.contract.network import vertex_keys
from shinnet.enumerate.blocks import QuotientNetwork
from shinnet.enumerate.canonical import canonical_labelling

__all__ = ["NormTable", "best_bound", "order_bound", "EXACT_MAX_ORDER", "NormNetwork", "norm_network",
           "quotient_norm_network", "SplitBounds", "SPLIT_REL_SLACK"]

#: relative inflation of split bounds: the half norms are contractions computed in floating point
SPLIT_REL_SLACK = 1e-9
_UNDERFLOW = float(np.finfo(np.float64).tiny) * 1e16

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
        self._degrees: dict[Hashable, int] = {}
        self._logs: dict[tuple[Hashable, int], np.ndarray] = {}

    def degree(self, key: Hashable) -> int:
        k = self._degrees.get(key)
        if k is None:
            k = self._degrees[key] = int(self.objects[0].degree_of(key))
        return k

    def log_norm(self, key: Hashable, p: int) -> np.ndarray:
        """``log norm(key, p)`` (memoised; -inf for a zero norm)."""
        hit = self._logs.get((key, p))
        if hit is None:
            with np.errstate(divide="ignore"):
                hit = self._logs[(key, p)] = np.log(self.norm(key, p))
        return hit

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
        # p(v, S) = edge copies from v into S, built up over subsets by their lowest vertex
        adj_l = adj.tolist()
        pcount = [[0] * (1 << n) for _ in range(n)]
        for s in range(1, 1 << n):
            low = (s & -s).bit_length() - 1
            prev = s & (s - 1)
            for v in range(n):
                pcount[v][s] = pcount[v][prev] + adj_l[v][low]
        back = [0] * (1 << n)  # last vertex for model 0
        if B == 1:  # scalar DP (the common case): same iteration order and ties as below
            logs = {}
            for v in range(n):
                for p in set(pcount[v]):
                    logs[(v, p)] = float(table.log_norm(keys[v], p)[0])
            inf = float("inf")
            fbest = [inf] * (1 << n)
            fbest[0] = 0.0
            for s in range(full):
                bs = fbest[s]
                for v in range(n):
                    if s >> v & 1:
                        continue
                    cand = bs + logs[(v, pcount[v][s])]
                    t = s | (1 << v)
                    if cand < fbest[t]:
                        fbest[t] = cand
                        back[t] = v
            final = np.array([fbest[full]])
        else:
            best = np.full((1 << n, B), np.inf)
            best[0] = 0.0
            for s in range(full):
                for v in range(n):
                    if s >> v & 1:
                        continue
                    cand = best[s] + table.log_norm(keys[v], pcount[v][s])
                    t = s | (1 << v)
                    better = cand < best[t]
                    if better[0]:
                        back[t] = v
                    best[t] = np.where(better, cand, best[t])
            final = best[full]
        order_rev = []
        s = full
        while s:
            v = int(back[s])
            order_rev.append(v)
            s &= ~(1 << v)
        return np.exp(final), tuple(reversed(order_rev)), True


@dataclass(frozen=True)
class NormNetwork:
    """``||A_S||_F^2`` as a diagram: two copies of the half S glued along its cut legs.

    ``A_S`` is the contraction of the vertices in S with the cut edge copies left open.  As
    vertex tensors are symmetric, ``<A_S, A_S>`` is the network of S, a copy S' of it, and
    ``c_i`` edge copies between i and i' (``c_i`` = legs of i that leave S); every vertex keeps
    its key and degree, so it is contracted by the engine like any diagram.  ``key`` is
    canonical (nauty): equal halves of different diagrams share one value (a family bound).
    """

    order: int
    edges: tuple[tuple[int, int, int], ...]
    vertex_keys: tuple[Hashable, ...]
    degrees: tuple[int, ...]
    key: str


def norm_network(diagram: Any, half: Sequence[int], degree_of: Callable[[Hashable], int]) -> NormNetwork:
    """The :class:`NormNetwork` of the vertex subset ``half`` of ``diagram``.  Cost: one nauty
    call on ``2 |half|`` vertices."""
    mult, labels = _doubled(diagram, half)
    s = len(half)
    order, _ = canonical_labelling(2 * s, mult, labels)
    where = {v: c for c, v in enumerate(order)}
    edges = tuple(sorted((min(where[a], where[b]), max(where[a], where[b]), m) for (a, b), m in mult.items()))
    new_keys = tuple(labels[v] for v in order)
    key = "norm:" + ",".join(f"{i}-{j}x{m}" for i, j, m in edges) + "|" + repr(new_keys)
    return NormNetwork(2 * s, edges, new_keys, tuple(int(degree_of(k)) for k in new_keys), key)


def _doubled(diagram: Any, half: Sequence[int]) -> tuple[dict[tuple[int, int], int], list[Hashable]]:
    """Edge multiplicities and vertex labels of the half S, its copy S' (vertices s..2s-1) and
    the ``c_i`` edge copies between i and i'."""
    keys = vertex_keys(diagram)
    pos = {v: i for i, v in enumerate(half)}
    s = len(half)
    mult: dict[tuple[int, int], int] = {}
    cut = [0] * s
    for i, j, m in diagram.edges:
        if i in pos and j in pos:
            a, b = sorted((pos[i], pos[j]))
            mult[(a, b)] = mult.get((a, b), 0) + int(m)
            mult[(a + s, b + s)] = mult.get((a + s, b + s), 0) + int(m)
        elif i in pos or j in pos:
            cut[pos[i] if i in pos else pos[j]] += int(m)
    for a, c in enumerate(cut):
        if c:
            mult[(a, a + s)] = c
    return mult, [keys[v] for v in half] * 2


def quotient_norm_network(quotient: Any, half: Sequence[int]) -> QuotientNetwork:
    """``||A_S||_F^2`` for a half of a resummed quotient network ``Net(G/pi)`` (MATH.md section 8):
    the doubled half as a canonical :class:`shinnet.enumerate.blocks.QuotientNetwork` (block
    tensors are symmetric, so the same gluing as :func:`norm_network` applies)."""
    mult, labels = _doubled(quotient, half)
    return QuotientNetwork.from_blocks(labels, mult)


class SplitBounds:
    """Cauchy-Schwarz bounds from splitting a diagram in two (MATH.md section 5):

        val(G) = <A_S, A_{S^c}>,   |val(G)| <= ||A_S||_F ||A_{S^c}||_F,

    with both half norms computed *exactly* (each is the contraction of a :class:`NormNetwork`)
    and memoised by the half's canonical form, so a half shared by a family of diagrams is paid
    once.  The bound of a diagram is the minimum over the splits with both halves of at most
    ``ceil(n/2)`` vertices (each norm network then has at most ``n + 1`` vertices: "where cheap"),
    inflated by ``SPLIT_REL_SLACK`` for the rounding of the half contractions.  Exact for the
    two-vertex diagrams (``|<T, T>| = ||T||^2``).

    Parameters
    ----------
    evaluate : callable
        ``NormNetwork -> (value (B,), flops)``: the contraction of a norm network.
    degree_of : callable
        Vertex key -> degree.
    B : int
        Models in the batch (1 for one model).
    make_norm : callable, optional
        ``(diagram, half) -> network with .key``; default :func:`norm_network` (degree
        expansion); :func:`quotient_norm_network` for resummed quotient networks.

    Attributes
    ----------
    flops : float
        Contraction cost of all half norms computed (charged to the result's ``flops``).
    n_norms : int
        Distinct half norms computed.
    """

    def __init__(self, evaluate: Callable[[NormNetwork], tuple[np.ndarray, float]],
                 degree_of: Callable[[Hashable], int], B: int = 1,
                 make_norm: Callable[[Any, tuple[int, ...]], Any] | None = None) -> None:
        self.evaluate = evaluate
        self.make_norm = make_norm if make_norm is not None else (lambda dg, h: norm_network(dg, h, degree_of))
        self.degree_of = degree_of
        self.B = int(B)
        self._by_half: dict[tuple, str] = {}
        self._norm2: dict[str, np.ndarray] = {}
        self.flops = 0.0
        self.n_norms = 0

    def _half_norm(self, diagram: Any, half: tuple[int, ...]) -> np.ndarray:
        keys = vertex_keys(diagram)
        inside = set(half)
        quick = (tuple(keys[v] for v in half),
                 tuple((half.index(i), half.index(j), m) if i in inside and j in inside
                       else (half.index(i) if i in inside else half.index(j), -1, m)
                       for i, j, m in diagram.edges if i in inside or j in inside))
        ckey = self._by_half.get(quick)
        if ckey is None:
            net = self.make_norm(diagram, half)
            ckey = net.key
            self._by_half[quick] = ckey
            if ckey not in self._norm2:
                value, flops = self.evaluate(net)
                norm2 = np.maximum(np.asarray(value, dtype=np.float64).reshape(self.B), 0.0)
                # a squared norm near underflow has lost its relative precision: no bound from it
                self._norm2[ckey] = np.where(norm2 < _UNDERFLOW, np.inf, norm2)
                self.flops += float(flops)
                self.n_norms += 1
        return np.sqrt(self._norm2[ckey])

    def bound(self, diagram: Any) -> np.ndarray:
        """The smallest split bound on ``|val(G)|`` (shape (B,)); inf for a one-vertex diagram."""
        n = len(vertex_keys(diagram))
        best = np.full(self.B, np.inf)
        if n > 12:  # 2^(n-1) splits: beyond the exact range of the order bound, not tried
            return best
        if n < 2:
            return best
        top = (n + 1) // 2
        for size in range(n - top, top + 1):
            for rest in combinations(range(1, n), size - 1):
                half = (0,) + rest
                other = tuple(v for v in range(n) if v not in half)
                if not other or len(other) > top:
                    continue
                best = np.minimum(best, self._half_norm(diagram, half) * self._half_norm(diagram, other))
        return best * (1.0 + SPLIT_REL_SLACK)
