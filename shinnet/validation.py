"""Input validation shared by every module that takes user arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["readonly_float_array"]


def readonly_float_array(name: str, value: Any, ndim: int | None = None) -> np.ndarray:
    """A read-only float64 copy of ``value`` (numpy array, nested list or torch tensor).

    Raises ``TypeError`` for non-numeric dtypes, ``ValueError`` for the wrong rank (when ``ndim``
    is given) or NaN/inf entries, naming ``name``, the count and the first bad index.
    """
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} contains NaN or inf ({int(bad.sum())} entries, first at index {where})")
    arr.setflags(write=False)
    return arr
