"""Input validation for the tensor builders and the engine: read-only float64 copies, symmetry, memory limits.

Every check raises ``ValueError`` (or ``MemoryError`` for sizes) with a message that names the
offending argument, the expected shape or tolerance, and what was found.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from shinnet.kernels import norms as shin_norms
from shinnet.validation import readonly_float_array  # re-exported: the one implementation

__all__ = ["readonly_float_array", "check_symmetric", "memory_limit", "check_fits", "validate_advice"]

#: ``dense()``/``gram()`` refuse arrays larger than this fraction of the available memory
MEMORY_FRACTION = 0.25
SYMMETRY_RTOL = 1e-12


def check_symmetric(name: str, T: np.ndarray, rtol: float = SYMMETRY_RTOL) -> None:
    """Raise unless ``T`` is symmetric within ``rtol * max|T|``.

    Invariance under the adjacent transpositions (i, i+1) implies invariance under all of
    S_k (they generate it), so k - 1 comparisons suffice: O(k d^k).
    """
    scale = float(np.abs(T).max()) if T.size else 0.0
    for i in range(T.ndim - 1):
        dev = float(np.abs(T - np.swapaxes(T, i, i + 1)).max())
        if dev > rtol * scale:
            raise ValueError(
                f"{name} is not symmetric: swapping axes {i} and {i + 1} changes it by {dev:.3g} "
                f"(max entry {scale:.3g}, tolerance {rtol:g} relative)"
            )


def memory_limit(max_bytes: float | None) -> float:
    """``max_bytes``, or by default a quarter of the memory available now."""
    if max_bytes is None:
        return MEMORY_FRACTION * shin_norms.available_memory_bytes()
    if not max_bytes > 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    return float(max_bytes)


def check_fits(what: str, n_entries: int, max_bytes: float | None, detail: str) -> None:
    """Raise ``MemoryError`` naming the bytes needed when ``n_entries`` float64 exceed the limit."""
    need = int(n_entries) * 8
    limit = memory_limit(max_bytes)
    if need > limit:
        raise MemoryError(f"{what} would need {need:,} bytes ({detail}); the limit is {int(limit):,} bytes")


def validate_advice(
    advice: Mapping[Any, Any] | None, d: int | None, factored_max_degree: int | None
) -> tuple[dict[int, np.ndarray], int | None]:
    """Check dense advice tensors: keys k >= 1, shape (d,)*k, finite, symmetric, k <= K if factored.

    Returns the read-only tensors and ``d`` (taken from the first tensor when not yet known).
    """
    out: dict[int, np.ndarray] = {}
    for key, T in dict(advice or {}).items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or key < 1:
            raise ValueError(f"advice keys must be degrees k >= 1 (give degree 0 as c / mean), got {key!r}")
        k = int(key)
        arr = readonly_float_array(f"advice[{k}]", T)
        if arr.ndim != k:
            raise ValueError(f"advice[{k}] must have {k} axes (shape (d,)*{k}), got shape {arr.shape}")
        if d is None:
            d = int(arr.shape[0])
        if arr.shape != (d,) * k:
            raise ValueError(f"advice[{k}] must have shape {(d,) * k}, got {arr.shape}")
        if factored_max_degree is not None and k > factored_max_degree:
            raise ValueError(f"advice[{k}] overrides a degree above the factored max degree {factored_max_degree}")
        check_symmetric(f"advice[{k}]", arr)
        out[k] = arr
    return out, d
