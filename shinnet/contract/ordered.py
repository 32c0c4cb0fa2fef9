"""Vertex-ordered contraction with an early stop (MATH.md section 5).

Contract the dense vertex tensors one at a time in a given vertex order (the order that
minimises the operator-norm bound).  After vertex t the open legs form an intermediate ``X_t``
and the rest of the contraction is bounded by ``||X_t||_F * prod_{s>t} ||mat_{p_s,q_s}||_op``;
once ``|weight|`` times that falls below the threshold the contraction stops and that amount is
charged to the error budget instead of a value.

This mode applies to dense vertices (every ``d^k`` array in memory) and single models (no
batch); cotengra's tree contractions cannot stop part-way, so ``contract_mode="ordered"``
selects this path explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import autoray
import numpy as np

from shinnet.contract.backends import to_numpy
from shinnet.contract.network import vertex_legs

__all__ = ["OrderedOutcome", "contract_in_order"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class OrderedOutcome:
    """Result of :func:`contract_in_order`.

    value : float (0.0 when stopped early); stopped_early : bool; budget : float (the weighted
    bound charged when stopped, else 0); flops : float (sum over steps of the product of the
    sizes of all indices involved, cotengra's convention); max_size : int.
    """

    value: float
    stopped_early: bool
    budget: float
    flops: float
    max_size: int


def contract_in_order(
    diagram: Any,
    order: Sequence[int],
    arrays: Sequence[Any],
    factors: Sequence[float],
    *,
    d: int,
    weight: float,
    threshold: float,
    memory_items: float,
) -> OrderedOutcome:
    """Contract dense vertex arrays in ``order`` and stop once the remaining bound is small.

    Parameters
    ----------
    diagram : Diagram-like
    order : sequence of int
        Vertex order (a permutation of ``range(n)``).
    arrays : sequence of backend arrays
        ``arrays[v]`` is vertex v's dense ``d^{k_v}`` array (indexed by vertex, not by order).
    factors : sequence of float
        The operator-norm factor of each vertex *in contraction order* (from
        :func:`shinnet.contract.bounds.order_factors`).
    weight : float
        ``|weight|`` of the diagram.
    threshold : float
        Stop once ``weight * ||X_t|| * prod_{s>t} factors[s] < threshold`` (0 never stops).
    memory_items : float
        Refuse (``MemoryError``) an intermediate with more entries than this.

    Cost: sum over steps of ``d^(legs involved)``.
    """
    legs = vertex_legs(diagram)
    names = sorted({leg for lv in legs for leg in lv}, key=lambda s: int(s[1:]))
    if len(names) > len(_LETTERS):
        raise ValueError(f"ordered contraction supports at most {len(_LETTERS)} edge copies, got {len(names)}")
    letter = {name: _LETTERS[i] for i, name in enumerate(names)}
    tail = np.ones(len(order) + 1)
    for t in range(len(order) - 1, -1, -1):
        tail[t] = tail[t + 1] * float(factors[t])
    state = None
    open_legs: list[str] = []
    flops = 0.0
    max_size = 1
    for t, v in enumerate(order):
        vl = legs[v]
        if state is None:
            state = arrays[v]
            open_legs = list(vl)
        else:
            shared = set(open_legs) & set(vl)
            out = [g for g in open_legs if g not in shared] + [g for g in vl if g not in shared]
            involved = len(set(open_legs) | set(vl))
            size_out = float(d) ** len(out)
            if size_out > memory_items:
                raise MemoryError(
                    f"ordered contraction of diagram {diagram.key} needs an intermediate of {size_out:.3g} "
                    f"entries, above the memory limit ({memory_items:.3g} entries)"
                )
            eq = "".join(letter[g] for g in open_legs) + "," + "".join(letter[g] for g in vl) + "->" + "".join(letter[g] for g in out)
            state = autoray.do("einsum", eq, state, arrays[v])
            open_legs = out
            flops += float(d) ** involved
            max_size = max(max_size, int(size_out))
        if t < len(order) - 1 and threshold > 0:
            remaining = weight * float(to_numpy(autoray.do("linalg.norm", autoray.do("reshape", state, (-1,))))) * tail[t + 1]
            if remaining < threshold:
                return OrderedOutcome(0.0, True, remaining, flops, max_size)
    return OrderedOutcome(float(to_numpy(state)), False, 0.0, flops, max_size)
