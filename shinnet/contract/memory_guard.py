"""The engine's memory guard: the whole request against the memory this process may use (issue 10, item 6).

The planner's ``memory_limit`` caps one tensor; the arrays the engine keeps (dense vertex tensors,
Gram powers) add up across diagrams.  The guard

1. caps the per-tensor limit at :data:`shinnet.defaults.MEMORY_FRACTION` of
   :func:`shinnet.memory.available_memory` (RLIMIT_AS headroom, cgroup limit, free RAM), so that
   ``representation="auto"`` picks a form that fits the real limit;
2. before any work, for a forced ``representation="dense"``, adds up the dense tensors every
   diagram will hold (``d^k`` entries per distinct vertex key, times the batch) and refuses the
   request when they do not fit;
3. before each contraction, checks the arrays already held plus the new inputs and the largest
   intermediate, and turns a ``MemoryError`` raised inside numpy/torch into a
   :class:`shinnet.memory.RequestMemoryError` that says what was held and what was asked.
"""

from __future__ import annotations

from typing import Any, Iterable

from shinnet import defaults
from shinnet.contract.representation_registry import is_auto, lookup_representation
from shinnet.memory import RequestMemoryError, available_memory, format_bytes

__all__ = ["MemoryGuard"]


def _nbytes(arr: Any) -> float:
    nbytes = getattr(arr, "nbytes", None)
    if nbytes is not None:
        return float(nbytes)
    numel, size = getattr(arr, "numel", None), getattr(arr, "element_size", None)
    if callable(numel) and callable(size):
        return float(numel() * size())
    return 0.0


class MemoryGuard:
    """See the module docstring.  ``memory_limit`` is the caller's per-tensor limit (bytes)."""

    def __init__(self, memory_limit: float, itemsize: int) -> None:
        budget = available_memory()
        self.source = budget.source
        self.available = defaults.MEMORY_FRACTION * budget.bytes
        self.itemsize = int(itemsize)
        self.limit = min(float(memory_limit), self.available)

    def _refuse(self, what: str, need: float, held: float = 0.0) -> RequestMemoryError:
        return RequestMemoryError(
            f"{what} needs {format_bytes(need)}"
            + (f" on top of {format_bytes(held)} already held" if held else "")
            + f", more than the {format_bytes(self.available)} this process may use "
            f"({defaults.MEMORY_FRACTION:g} of what {self.source} leaves). Use representation='auto' or "
            f"'factored' (no dense tensors), a lower max_degree, or more memory"
        )

    def check_request(self, per_order: dict[int, list[Any]], representation: str, d: int, batch: int,
                      degree_of: Any, vertex_keys: Any) -> None:
        """Refuse, before any work, a forced dense request whose dense tensors do not fit together."""
        if is_auto(representation) or not lookup_representation(representation).all_dense:
            return
        keys = {key for dgs in per_order.values() for dg in dgs for key in vertex_keys(dg)}
        need = sum(float(d) ** int(degree_of(k)) for k in keys if int(degree_of(k)) > 0) * self.itemsize * batch
        if need > self.available:
            top = max((int(degree_of(k)) for k in keys), default=0)
            raise self._refuse(f"representation='dense' (dense vertex tensors up to degree {top} at d = {d}, "
                               f"held together across diagrams)", need)

    def held(self, cache: dict) -> float:
        """Bytes of the arrays an ArrayProvider holds."""
        return sum(_nbytes(a) for a in cache.values())

    def check_plan(self, plan: Any, cache: dict, key: str) -> None:
        """Refuse a contraction whose new inputs and largest intermediate do not fit next to
        what is held (``cache``: the provider's arrays)."""
        sizes: Iterable[int] = plan.network.input_sizes()
        new = sum(float(s) for src, s in zip(plan.network.sources, sizes) if src not in cache) * self.itemsize
        need = new + float(plan.max_size) * self.itemsize
        held = self.held(cache)
        if held + need > self.available:
            raise self._refuse(f"diagram {key} ({plan.network.representation})", need, held)

    def wrap(self, exc: MemoryError, key: str, cache: dict) -> RequestMemoryError:
        """A clear error in place of a raw ``MemoryError`` from numpy/torch."""
        if isinstance(exc, RequestMemoryError):
            return exc
        return RequestMemoryError(
            f"out of memory while contracting diagram {key} with {format_bytes(self.held(cache))} of vertex "
            f"arrays held ({self.source} leaves {format_bytes(self.available / defaults.MEMORY_FRACTION)}): {exc}. "
            f"Use representation='factored', a lower max_degree, or more memory"
        )
