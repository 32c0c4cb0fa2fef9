"""Planning the resummed expansion's terms: hidden-unit or d-space, by cotengra's cost
(MATH.md section 8).

For one class (G, p) there are two exact evaluations:

``hidden``
    ``sum_{u_1..u_N} prod_v kap[u_v, p_v, k_v] prod_e Rt^{(o)m_e}[u_v, u_w]``: one network over N
    hidden-unit indices of size m with one zero-diagonal m x m matrix per distinct edge.  Cost
    grows like m^(treewidth + 1); needs m^2 memory per Gram power.
``dspace``
    ``sum_pi mu_G(pi) Net(G/pi)`` over the quotient networks of :mod:`shinnet.enumerate.blocks`.
    Each distinct quotient class is planned once (dense block tensors, m-space with full Gram
    powers, or the factored U-copy network, whichever cotengra says is cheapest, counting the
    ``2 m d^legs`` cost of block tensors not built yet) and evaluated once for all the (G, p)
    that share it.

:class:`ResummedPlanner` prices both for each (G, p), charging only quotient classes and Gram
powers not already paid for, and keeps the cheaper that fits ``memory_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import cotengra as ctg

from shinnet.contract.moebius import single_label
from shinnet.contract.network import Network, batch_index, build_network, network_signature
from shinnet.contract.pathcache import PathCache
from shinnet.contract.representation_registry import is_auto, lookup_representation, representation_names
from shinnet.enumerate.blocks import QuotientNetwork, moebius_terms

__all__ = ["TermPlan", "ResummedPlanner", "hidden_network", "FORMS"]

#: the forms a caller may force (``"auto"`` chooses per (G, p)): the registered ``"resummed"``
#: representations
FORMS = representation_names("resummed")


@dataclass(frozen=True)
class TermPlan:
    """A network with its cotengra tree; ``cost`` is ``contraction_cost()`` (the FLOPs charged),
    ``max_size`` the entries of the largest input or intermediate."""

    network: Network
    tree: Any
    cost: float
    max_size: int


def hidden_network(diagram: Any, m: int, batch: int | None = None) -> Network:
    """The hidden-unit network of a resummed class: index ``h_v`` (size m) per vertex carrying
    ``kap[:, p_v, k_v]`` (source ``("weights", single label)``), one ``("rgram", m_e)`` matrix
    per distinct edge.  ``representation`` is ``"gram"`` (cotengra's greedy finder is used).
    With a batch of B second layers every weight vector carries the index ``"B"`` (size B), which
    is also the output: one contraction gives the B values."""
    bidx: tuple[str, ...] = (batch_index(),) if batch is not None else ()
    inputs, sources = [], []
    size = {batch_index(): int(batch)} if batch is not None else {}
    for v, (p, k) in enumerate(diagram.vertex_keys()):
        size[f"h{v}"] = int(m)
        inputs.append(bidx + (f"h{v}",))
        sources.append(("weights", single_label(p, k)))
    for i, j, mult in diagram.edges:
        inputs.append((f"h{i}", f"h{j}"))
        sources.append(("rgram", int(mult)))
    return Network(tuple(inputs), bidx, size, tuple(sources), "gram")


def _tree(cache: PathCache, signature: str, net: Network) -> TermPlan:
    if len(net.inputs) == 1:
        size = max(net.input_sizes())
        return TermPlan(net, None, float(size), size)
    tree = cache.tree(signature, net)
    return TermPlan(net, tree, float(tree.contraction_cost()), max(int(tree.max_size()), max(net.input_sizes())))


class ResummedPlanner:
    """Chooses and remembers the evaluation of every (G, p) and quotient class of one call.

    Parameters
    ----------
    d, m : int
    blocks : BlockVertices
        ``degree_of`` for the quotient networks.
    cache : PathCache
    form : {"auto", "hidden", "dspace"}
    memory_limit : float
        Bytes; plans whose largest tensor (or dense block tensor, or m x m Gram power) exceeds
        it are not used.
    gram_max_m : int
        Largest m for m x m Gram powers (the hidden form, and m-space quotient networks).
    itemsize : int
    price_threshold : float
        Under ``"auto"``, a class whose hidden-unit form costs at most this many FLOPs is
        evaluated there without pricing its quotient networks: each quotient's path search
        (about 1 ms of Python) costs more than such a contraction.
    terms_of : callable, optional
        ``diagram -> ((QuotientNetwork, mu), ...)``, the Moebius decomposition (default
        :func:`shinnet.enumerate.blocks.moebius_terms`; the engine passes the on-disk
        :func:`shinnet.enumerate.moebius_table` lookup).
    batch : int, optional
        Batch size B of second layers: every weight vector and dense block tensor carries it
        (memory and dense-build costs are B times larger; Gram powers are shared).
    """

    def __init__(self, d: int, m: int, blocks: Any, cache: PathCache, form: str, memory_limit: float,
                 gram_max_m: int, itemsize: int, price_threshold: float = 1e6, batch: int | None = None,
                 terms_of: Callable[[Any], Sequence[tuple[QuotientNetwork, int]]] = moebius_terms) -> None:
        self.price_threshold = float(price_threshold)
        self.terms_of = terms_of
        forced = None if is_auto(form) else lookup_representation(form, "resummed")
        #: which forms are priced: both under "auto", else the forced one
        self.try_hidden = forced is None or forced.hidden_units
        self.try_dspace = forced is None or not forced.hidden_units
        self.d, self.m, self.blocks, self.cache, self.form = int(d), int(m), blocks, cache, form
        self.memory_limit, self.gram_max_m, self.itemsize = float(memory_limit), int(gram_max_m), int(itemsize)
        self.batch = None if batch is None else int(batch)
        self.quotients: dict[str, TermPlan | None] = {}
        self.paid_quotients: set[str] = set()
        self.paid_dense: set[Any] = set()
        self.paid_gram: set[int] = set()

    # ------------------------------------------------------------------ quotients
    def _fits(self, plan: TermPlan) -> bool:
        return plan.max_size * self.itemsize <= self.memory_limit

    def _dense_build(self, q: QuotientNetwork) -> float:
        return sum(2.0 * (self.batch or 1) * self.m * float(self.d) ** legs for label in set(q.blocks)
                   for legs in [label[1]] if label not in self.paid_dense)

    def quotient_plan(self, q: QuotientNetwork) -> TermPlan | None:
        """Cheapest fitting plan of a quotient class (memoised), or None when none fits."""
        if q.key in self.quotients:
            return self.quotients[q.key]
        best, best_cost = None, float("inf")
        gram_ok = self.m * self.m * self.itemsize <= self.memory_limit and self.m <= self.gram_max_m
        rows = self.batch or 1
        dense_ok = all(float(self.d) ** legs * rows * self.itemsize <= self.memory_limit for _, legs in q.blocks)
        reps = (["dense"] if dense_ok else []) + (["gram"] if gram_ok else [])
        if not reps or q.n_blocks == 1:
            reps = reps or ["factored"]
        for rep in reps:
            net = build_network(q, rep, d=self.d, m=self.m, degree_of=self.blocks.degree_of, batch=self.batch)
            plan = _tree(self.cache, network_signature(q, net), net)
            record = lookup_representation(rep, "degree")
            extra = self._dense_build(q) if record.all_dense else 0.0
            if record.uses_gram:
                extra = sum(float(self.m) ** 2 for _, _, mult in q.edges if mult not in self.paid_gram)
            if self._fits(plan) and plan.cost + extra < best_cost:
                best, best_cost = plan, plan.cost + extra
        self.quotients[q.key] = best
        return best

    def dspace_cost(self, diagram: Any) -> float:
        """Marginal cost of the d-space form: quotient classes not yet paid for (inf if one
        does not fit)."""
        total, seen = 0.0, set()
        for q, _ in self.terms_of(diagram):
            if q.key in self.paid_quotients or q.key in seen:
                continue
            seen.add(q.key)
            plan = self.quotient_plan(q)
            if plan is None:
                return float("inf")
            total += plan.cost
            if lookup_representation(plan.network.representation).all_dense:
                total += self._dense_build(q)
        return total

    # ------------------------------------------------------------------ hidden
    def hidden_plan(self, diagram: Any) -> TermPlan | None:
        """The hidden-unit plan, or None when its m x m Gram powers or intermediates do not fit."""
        if diagram.edges and (self.m > self.gram_max_m or self.m * self.m * self.itemsize > self.memory_limit):
            return None
        net = hidden_network(diagram, self.m, self.batch)
        tag = "" if self.batch is None else f"|B={self.batch}"
        plan = _tree(self.cache, f"{diagram.key}|rt|m={self.m}{tag}", net)
        return plan if self._fits(plan) else None

    def hidden_cost(self, plan: TermPlan, diagram: Any) -> float:
        return plan.cost + sum(float(self.m) ** 2 for _, _, mult in diagram.edges if mult not in self.paid_gram)

    # ------------------------------------------------------------------ choice
    def choose(self, diagram: Any) -> tuple[str, TermPlan | None]:
        """``("hidden", plan)`` or ``("dspace", None)``; raises MemoryError when neither fits."""
        hidden = self.hidden_plan(diagram) if self.try_hidden else None
        if not self.try_dspace and hidden is None:
            raise MemoryError(f"resummed class {diagram.key}: the hidden-unit form does not fit (m = {self.m}, "
                              f"gram_max_m = {self.gram_max_m}, memory_limit = {self.memory_limit:.3g} bytes)")
        both = self.try_hidden and self.try_dspace
        if both and hidden is not None and self.hidden_cost(hidden, diagram) <= self.price_threshold:
            d_cost = float("inf")  # pricing the quotients (path searches) would cost more than the term
        else:
            d_cost = self.dspace_cost(diagram) if self.try_dspace else float("inf")
        if hidden is not None and (not self.try_dspace or self.hidden_cost(hidden, diagram) <= d_cost):
            self.paid_gram.update(int(mult) for _, _, mult in diagram.edges)
            return "hidden", hidden
        if d_cost == float("inf"):
            raise MemoryError(f"resummed class {diagram.key}: no evaluation fits the memory limit of "
                              f"{self.memory_limit:.3g} bytes")
        return "dspace", None

    def mark_paid(self, q: QuotientNetwork) -> None:
        """Record that quotient class q was evaluated (its dense blocks / Gram powers built)."""
        self.paid_quotients.add(q.key)
        plan = self.quotients.get(q.key)
        record = None if plan is None else lookup_representation(plan.network.representation)
        if record is not None and record.all_dense:
            self.paid_dense.update(q.blocks)
        if record is not None and record.uses_gram:
            self.paid_gram.update(int(mult) for _, _, mult in q.edges)


def contract(plan: TermPlan, arrays: list[Any], backend: str) -> Any:
    """Contract a planned network (a one-input network is summed with cotengra's einsum)."""
    if plan.tree is None:
        return ctg.array_contract(arrays, plan.network.inputs, plan.network.output, backend=backend)
    return plan.tree.contract(arrays, backend=backend)
