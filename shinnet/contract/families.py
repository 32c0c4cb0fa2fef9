"""Family bounds: power counting from the measured norms (issue 15 item 1; MATH.md section 5).

Every matricisation's operator norm is at most the tensor's Frobenius norm, so each factor of
the operator-norm bound of section 5 is ``<= ||T_v||_F`` and, for any diagram G with vertex keys
``k_1..k_n`` (degrees, in the degree expansion),

    |val(G)| <= best_bound(G) <= P(G) = prod_v ||T_{k_v}||_F,

a bound that depends on the multiset of vertex keys alone (power counting: the size of a
diagram from its vertices, before any per-diagram work).  A *family* F is the set of terms of
one cumulant order sharing that multiset; with ``W_F = sum_{G in F} |weight(G)|``

    |sum_{G in F} weight(G) val(G)| <= sum_{G in F} |weight(G)| |val(G)| <= W_F P_F.

:class:`FamilyPass` groups the terms of one order, computes ``P_F`` once per family (n table
look-ups) and the family totals; :class:`shinnet.contract.summing.SummingLoop` uses them when
``ContractOptions.family_bounds`` is on:

- absolute ``tol``: a family with ``W_F P_F < tol`` (every batch row) is dropped wholesale, and
  so is any single member with ``|weight| P_F < tol`` (every row): no bound DP and no planning;
  each is recorded as pruned with bound ``P_F`` and charged ``|weight| P_F`` (a whole family's
  charges sum to ``W_F P_F``).  Each such member has ``|weight| best_bound <= |weight| P_F <
  tol``, so the per-term rule would drop it too: the pruned set is today's (to rounding), only
  the budget of these members is looser (``P_F`` instead of the best order bound).
- relative ``tol``: best-first with lazy refinement (:func:`lazy_relative_order`): whole
  families, members at their family bound and bounded terms share one queue by weighted bound;
  a family reaching the front is split into members, a member gets its per-term bound, a
  bounded term is evaluated, and everything still queued is dropped once the summed
  outstanding bound is below ``tol * |running sum|`` -- what is dropped before its own bound
  costs no bound DP and no plan.

The evaluator supplies ``family(term) -> (key, cheap bound (B,))``; any valid bound shared by
the family's members works (``frobenius_family`` for vertex-keyed networks; the resummed
classes use ``sum_pi |mu_G(pi)| prod_blocks ||T_label||_F`` keyed by their (|mu|, block labels)
multiset, :meth:`shinnet.contract.resummed.ClassTerms.family`).  Cost: O(n) per term for the
key, O(n) per family for the product.
"""

from __future__ import annotations

import heapq
import time
from typing import Any, Hashable, Sequence

import numpy as np

from shinnet.contract.result import DiagramRecord

__all__ = ["FAMILY_REL_SLACK", "frobenius_family", "FamilyPass", "lazy_relative_order"]

#: relative inflation of ``P_F``: the Frobenius norms and their product are rounded
FAMILY_REL_SLACK = 1e-12


def frobenius_family(keys: Sequence[Hashable], table: Any, memo: dict[Any, np.ndarray] | None = None
                     ) -> tuple[Any, np.ndarray]:
    """``(multiset of keys, prod_v ||T_{k_v}||_F)`` for a network with vertex keys ``keys``.

    ``table`` is a :class:`shinnet.contract.bounds.NormTable` (``norm(key, 0)`` is the Frobenius
    norm: the 1 x d^k matricisation); ``memo`` caches the product per family key.
    """
    fkey = tuple(sorted(keys, key=lambda k: (type(k).__name__, repr(k))))
    hit = None if memo is None else memo.get(fkey)
    if hit is None:
        hit = np.ones(len(table.objects))
        for k in fkey:
            hit = hit * table.norm(k, 0)
        hit = hit * (1.0 + FAMILY_REL_SLACK * (len(fkey) + 1))
        if memo is not None:
            memo[fkey] = hit
    return fkey, hit


class FamilyPass:
    """The families of one cumulant order: members, cheap bounds and weighted totals.

    Parameters
    ----------
    terms, weights : sequences of the order's terms and their weights
    family : callable
        ``term -> (key, cheap bound (B,))`` (the evaluator's ``family``).
    B : int

    Attributes
    ----------
    cheap : ndarray (N, B)
        The family bound ``P_F`` of each term (a bound on ``|val|``).
    members : list of list of int
        Term indices per family, families in order of their first member.
    total : ndarray (F, B)
        ``sum_{i in F} |w_i| cheap_i`` (``W_F P_F`` when the cheap bound is shared).
    """

    def __init__(self, terms: Sequence[Any], weights: Sequence[Any], family: Any, B: int) -> None:
        N = len(terms)
        self.absw = np.abs(np.array([float(w) for w in weights], dtype=np.float64)).reshape(N)
        self.cheap = np.zeros((N, B))
        where: dict[Any, int] = {}
        self.members: list[list[int]] = []
        for i, t in enumerate(terms):
            key, bound = family(t)
            self.cheap[i] = np.asarray(bound, dtype=np.float64).reshape(B)
            f = where.setdefault(key, len(self.members))
            if f == len(self.members):
                self.members.append([])
            self.members[f].append(i)
        weighted = self.absw.reshape(-1, 1) * self.cheap
        self.total = np.array([weighted[m].sum(axis=0) for m in self.members]).reshape(len(self.members), B)

    def dropped(self, tol: float) -> np.ndarray:
        """Terms (bool mask (N,)) an absolute ``tol`` drops on their family bound alone: all
        members of a family with ``total < tol`` in every row, and any member with
        ``|w_i| cheap_i < tol`` in every row (a superset: each member's share is at most its
        family's total)."""
        mask = np.all(self.absw.reshape(-1, 1) * self.cheap < tol, axis=1)
        for f, m in enumerate(self.members):
            if bool(np.all(self.total[f] < tol)):
                mask[m] = True
        return mask


def lazy_relative_order(loop: Any, n: int, terms: Sequence[Any], weights: Sequence[Any], fam: FamilyPass
                        ) -> np.ndarray:
    """Relative pruning of one order with family bounds; appends one record per term (in
    enumeration order) to ``loop.records`` and returns the pruned budget (B,).

    A max-queue holds entries of three kinds, by priority (their weighted bound's largest row):
    whole families (``W_F P_F``), members not yet bounded (``|w_i| P_F``) and bounded terms
    (``|w_i| bound_i``, the evaluator's per-term bound).  Before each step the outstanding bound
    ``R`` (the sum of the queued entries' weighted bounds) is compared with
    ``tol * |running sum|``; when below in every row (confirmed by an exact re-sum), all that
    is queued is dropped and charged (a member not yet bounded at ``|w_i| P_F``, a bounded
    term at ``|w_i| bound_i``).  Else the front is popped: a family is split into its members
    (no bound DP), a member gets its per-term bound (the DP) and is queued again, a bounded term
    is evaluated (or, ``contract_mode="ordered"``, contracted with an early stop at
    ``tol * |running sum|``, its spent bound charged).  As with the plain
    relative rule, the dropped part is below ``budget < tol * |running sum at the cut|``; the
    processing order differs (refined terms and unrefined families interleave by bound), so the
    kept set may differ from the plain rule's, but every kept term's value is its own.
    Ties: enumeration order (a family by its first member).  Cost: O(N log N) queue work,
    plus a bound DP only for refined families' members.
    """
    ev, B, opts = loop.evaluator, loop.B, loop.options
    tol, ordered = float(opts.tol), opts.contract_mode == "ordered"
    wave = getattr(ev, "wave_seconds", None)
    N = len(terms)
    bounds = fam.cheap.copy()  # recorded bound: P_F unless refined
    weighted = fam.absw.reshape(-1, 1) * bounds
    heap = [(-float(fam.total[f].max()), m[0], 0, f) for f, m in enumerate(fam.members)]
    heapq.heapify(heap)
    outstanding = fam.total.sum(axis=0) if fam.members else np.zeros(B)
    running, budget = np.zeros(B), np.zeros(B)
    records: list[Any] = [None] * N

    def share(kind: int, j: int) -> np.ndarray:
        return fam.total[j] if kind == 0 else weighted[j]

    while heap:
        limit = tol * np.abs(running)
        if bool(np.all(outstanding < limit)):  # confirm on an exact re-sum (the running R drifts)
            outstanding = np.sum([share(kind, j) for _, _, kind, j in heap], axis=0)
            if bool(np.all(outstanding < limit)):
                break
        _, _, kind, j = heapq.heappop(heap)
        if kind == 0:  # split the family into its members, still at their family bound
            outstanding = outstanding - fam.total[j]
            for i in fam.members[j]:
                outstanding = outstanding + weighted[i]
                heapq.heappush(heap, (-float(weighted[i].max()), i, 2, i))
            continue
        if kind == 2:  # a member's own bound (the DP)
            t0 = time.perf_counter()
            outstanding = outstanding - weighted[j]
            bounds[j] = np.asarray(ev.bound(terms[j]), dtype=np.float64).reshape(B)
            weighted[j] = fam.absw[j] * bounds[j]
            outstanding = outstanding + weighted[j]
            heapq.heappush(heap, (-float(weighted[j].max()), j, 1, j))
            loop.t_bounds += time.perf_counter() - t0
            loop.n_term_bounds += 1
            continue
        i, term = j, terms[j]
        outstanding = outstanding - weighted[i]
        stopped, spent = False, np.zeros(B)
        if ordered:
            value, form, cost, biggest, stopped, spent = ev.value_ordered(term, tol * float(abs(running[0])))
            budget = budget + spent
        elif wave is not None:
            value, form, cost, biggest = ev.value_ahead(term, ev.prefetch([(i, term)], wave)[i])
        else:
            value, form, cost, biggest = ev.value(term)
        value = np.asarray(value, dtype=np.float64).reshape(B)
        contrib = float(weights[i]) * value
        records[i] = DiagramRecord(term, n, value, weights[i], contrib, bounds[i].copy(), cost, form, False,
                                   bool(stopped), np.asarray(spent, dtype=np.float64).reshape(B),
                                   ev.max_degree(term), biggest)
        running = running + contrib
        loop.bar.update(1)
    for _, _, kind, j in heap:
        for i in (fam.members[j] if kind == 0 else [j]):
            loop.n_family_pruned += int(kind != 1)
            budget = budget + weighted[i]
            records[i] = DiagramRecord(terms[i], n, np.zeros(B), weights[i], np.zeros(B), bounds[i].copy(), 0.0,
                                       "-", True, False, weighted[i].copy(), ev.max_degree(terms[i]))
            loop.bar.update(1)
    loop.records.extend(records)
    return budget
