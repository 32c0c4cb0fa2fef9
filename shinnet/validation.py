"""Input validation shared by every module that takes user arrays."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

__all__ = ["readonly_float_array", "as_int", "real_scalar", "check_range", "MAX_ABS_ENTRY", "check_truncations",
           "check_device"]

#: largest |entry| of a model array: squares and Gram products of such entries stay finite in
#: float64 (1e150^2 = 1e300 < 1.8e308)
MAX_ABS_ENTRY = 1e150


def _as_array(name: str, value: Any) -> np.ndarray:
    """``np.asarray`` with a clear message for ragged nested lists."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except ValueError as exc:  # numpy >= 1.24 refuses ragged nested sequences
        raise ValueError(f"{name} is a ragged nested list (rows of different lengths); give a rectangular "
                         f"array ({exc})") from None


def readonly_float_array(name: str, value: Any, ndim: int | None = None) -> np.ndarray:
    """A read-only float64 copy of ``value`` (numpy array, nested list or torch tensor).

    Raises ``TypeError`` for non-numeric dtypes, ``ValueError`` for the wrong rank (when ``ndim``
    is given) or NaN/inf entries, naming ``name``, the count and the first bad index.
    """
    arr = _as_array(name, value)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got a complex array (dtype {arr.dtype})")
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


def check_range(name: str, arr: np.ndarray, max_abs: float = MAX_ABS_ENTRY) -> None:
    """Raise ``ValueError`` naming ``name`` and the first index when an entry exceeds ``max_abs``
    in absolute value (the float64 range shinnet's products stay finite in)."""
    big = np.abs(arr) > max_abs
    if np.any(big):
        where = tuple(int(i) for i in np.argwhere(big)[0]) if arr.ndim else ()
        raise ValueError(
            f"{name} has entries too large for float64 arithmetic: |{name}{list(where) if where else ''}| = "
            f"{float(np.abs(arr).max()):.3g} > {max_abs:.3g} ({int(big.sum())} entries); rescale the model "
            f"(e.g. standardise the inputs before with_gaussian_input)"
        )


def as_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int: Python/numpy integers, or floats with an integral value (``4.0``).

    Raises ``TypeError`` for strings, bools, non-integral floats (``2.5``) and other types, and
    ``ValueError`` outside ``[minimum, maximum]``, naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    try:
        out = operator.index(value)
    except TypeError:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            out = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})") from None
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    if maximum is not None and out > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {out}")
    return int(out)


def real_scalar(name: str, value: Any) -> float:
    """A finite real scalar: a number, or an array of shape () or (1,) (e.g. a Linear layer's bias).

    Raises ``TypeError`` for complex or non-numeric input and ``ValueError`` for other shapes or
    NaN/inf, naming ``name``.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    arr = _as_array(name, value)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex {value!r}")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} (dtype {arr.dtype})")
    if arr.shape not in ((), (1,)):
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def check_truncations(order: Any, max_degree: Any, max_edges: Any, expansion: str, *,
                      min_order: int) -> tuple[int, int | None, int | None]:
    """``(order, max_degree, max_edges)`` as ints (``None`` kept), each checked and named in the
    error; ``max_edges`` with ``expansion="degree"`` is refused (it would be silently ignored).
    Shared by :func:`shinnet.estimate` and :func:`shinnet.cumulants`.  Cost O(1)."""
    order = as_int("order", order, minimum=min_order)
    if max_degree is not None:
        max_degree = as_int("max_degree", max_degree, minimum=1)
    if max_edges is not None:
        max_edges = as_int("max_edges", max_edges, minimum=0)
        if expansion == "degree":
            raise ValueError("max_edges is the truncation of the resummed expansion; with expansion='degree' it "
                             "would be ignored. Pass expansion='resummed' (or 'auto'), or drop max_edges")
    return order, max_degree, max_edges


def check_device(backend: str, device: Any) -> None:
    """Refuse a device the backend cannot use: the numpy backend is CPU only; a torch CUDA/MPS
    device must exist (:func:`shinnet.torch_modules.resolve_device`; torch is imported lazily,
    only for ``backend="torch"`` with a device given)."""
    if device is None:
        return
    if backend == "numpy":
        if str(device) != "cpu":
            raise ValueError(f"the numpy backend runs on the CPU only, got device={device!r}; "
                             f"use backend='torch' for {device!r}")
        return
    if backend == "torch":
        from shinnet.torch_modules import resolve_device  # lazy: torch

        resolve_device(device)
