"""The one array-backend seam, shared by contraction and sampling: numpy or torch (CPU/CUDA).

A backend is one :class:`ArrayBackend` record: how a float64 numpy array becomes the backend's
array (``convert(array, dtype_name, device)``), which device it uses when none is given, whether
it runs on the CPU only, and optionally how it builds a dense vertex tensor from factored weights
on its device.  Array operations themselves go through autoray (cotengra's ``backend=``), so no
code branches on the array type; a new backend is one :func:`register_backend` call.

Used by :class:`shinnet.contract.backends.ArrayProvider` (vertex tensors for contraction) and
:func:`shinnet.sampling.backends.make_backend` (the samplers' device and array conversion).
torch is imported lazily, inside the torch functions: it is a heavy optional dependency that the
numpy backend never needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

import autoray
import numpy as np

__all__ = [
    "ArrayBackend",
    "DTYPES",
    "backend",
    "backends",
    "converter",
    "default_device",
    "numpy_dtype",
    "register_backend",
    "to_numpy",
    "torch_factored_dense",
]

#: dtype names a backend accepts -> the numpy dtype of the host arrays
DTYPES: Mapping[str, Any] = MappingProxyType({"float64": np.float64, "float32": np.float32})


def _no_device() -> str | None:
    return None


@dataclass(frozen=True)
class ArrayBackend:
    """One registered backend.

    Attributes
    ----------
    name : str
        The autoray backend name (``cotengra ... backend=name``).
    convert : callable
        ``(float64 numpy array, dtype name, device) -> backend array``.
    default_device : callable
        ``() -> device`` used when none is given (torch: CUDA when available, in this process).
    cpu_only : bool
        Refuses any device but ``None`` / ``"cpu"``.
    factored_dense : callable or None
        ``(lam_k, U, k, dtype, device) -> sum_j lam_k[j] u_j^{(x)k}`` built on the device (only U
        and lam_k travel there); None: dense tensors are built on the host and converted.
    """

    name: str
    convert: Callable[[np.ndarray, str, Any], Any]
    default_device: Callable[[], Any] = _no_device
    cpu_only: bool = False
    factored_dense: Callable[..., Any] | None = None

    def check_device(self, device: Any) -> None:
        """Refuse a device a CPU-only backend cannot use."""
        if self.cpu_only and device not in (None, "cpu"):
            raise ValueError(f"the {self.name} backend runs on the CPU only, got device={device!r}; "
                             f"use backend='torch' for {device!r}")

    def device(self, device: Any = None) -> Any:
        """``device``, or this backend's default when None (checked for CPU-only backends)."""
        self.check_device(device)
        return self.default_device() if device is None else device


def numpy_dtype(dtype: str) -> Any:
    """The numpy dtype of a dtype name ("float64" or "float32"); ``ValueError`` otherwise."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return DTYPES[dtype]


def _numpy_convert(x: np.ndarray, dtype: str, device: Any) -> Any:
    if device not in (None, "cpu"):
        raise ValueError(f"the numpy backend runs on the CPU only, got device={device!r}")
    return np.ascontiguousarray(x, dtype=DTYPES[dtype])


def _torch_convert(x: np.ndarray, dtype: str, device: Any) -> Any:
    import torch  # heavy optional dependency: only the torch backend needs it

    return torch.as_tensor(np.array(x, dtype=np.float64, copy=True), dtype=getattr(torch, dtype), device=device)


def _torch_default_device() -> str:
    import torch  # heavy optional dependency: only the torch backend needs it

    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_factored_dense(lam_k: np.ndarray, U: np.ndarray, k: int, dtype: str, device: Any,
                         chunk_bytes: float = 2.0**28) -> Any:
    """``sum_j lam_k[j] u_j^{(x)k}`` built with torch on ``device`` (MATH.md section 2): only
    ``U`` (m x d) and ``lam_k`` (m,) travel to the device, never the d^k array.

    The matricisation ``A_p^T diag(lam_k) A_q`` (p = k // 2, rows ``u^{(x)p}``) is accumulated
    over row chunks whose temporaries stay near ``chunk_bytes``.  Cost 2 m d^k FLOPs on the
    device; memory d^k plus the chunks.  The caller checks that d^k fits.
    """
    import torch  # heavy optional dependency: only the torch backend needs it

    tdt = getattr(torch, dtype)
    Ut = torch.as_tensor(np.array(U, dtype=np.float64, copy=True), device=device).to(tdt)
    lam = torch.as_tensor(np.array(lam_k, dtype=np.float64, copy=True), device=device).to(tdt)
    m, d = Ut.shape
    if k == 0:
        return lam.sum()
    p, q = k // 2, k - k // 2

    def rows_power(X: Any, r: int) -> Any:
        out = torch.ones((X.shape[0], 1), dtype=tdt, device=X.device)
        for _ in range(r):
            out = (out[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)
        return out

    out = torch.zeros((d**p, d**q), dtype=tdt, device=Ut.device)
    itemsize = torch.finfo(tdt).bits // 8
    rows = max(1, int(chunk_bytes // (itemsize * max(d**p + d**q, 1))))
    for s in range(0, m, rows):
        X = Ut[s:s + rows]
        out += (rows_power(X, p) * lam[s:s + rows, None]).T @ rows_power(X, q)
    return out.reshape((d,) * k)


class _BackendTable:
    """backend name -> :class:`ArrayBackend`; one per process."""

    def __init__(self) -> None:
        self.table: dict[str, ArrayBackend] = {
            "numpy": ArrayBackend("numpy", _numpy_convert, cpu_only=True),
            "torch": ArrayBackend("torch", _torch_convert, _torch_default_device, factored_dense=torch_factored_dense),
        }


_TABLE = _BackendTable()


def register_backend(name: str, converter: Callable[[np.ndarray, str, Any], Any],
                     default_device: Callable[[], Any] = _no_device, *, cpu_only: bool = False,
                     factored_dense: Callable[..., Any] | None = None) -> None:
    """Register an autoray-supported backend: ``converter(array, dtype_name, device)`` turns a
    float64 numpy array into the backend's array (see :class:`ArrayBackend`)."""
    _TABLE.table[name] = ArrayBackend(name, converter, default_device, cpu_only, factored_dense)


def backends() -> list[str]:
    """Registered backend names."""
    return sorted(_TABLE.table)


def backend(name: str) -> ArrayBackend:
    """The record of backend ``name``; ``ValueError`` naming the registered ones otherwise."""
    record = _TABLE.table.get(name) if isinstance(name, str) else None
    if record is None:
        raise ValueError(f"unknown backend {name!r}; registered: {', '.join(backends())}")
    return record


def default_device(name: str) -> Any:
    """The device backend ``name`` uses when none is given (torch: CUDA when available), in
    this process."""
    return backend(name).default_device()


def converter(name: str) -> Callable[[np.ndarray, str, Any], Any]:
    """The registered converter ``(array, dtype_name, device) -> backend array`` of backend ``name``."""
    return backend(name).convert


def to_numpy(x: Any) -> np.ndarray:
    """Any backend array (or scalar) as a float64 numpy array (``autoray.to_numpy``: torch
    tensors are detached and copied to the host)."""
    return np.asarray(autoray.to_numpy(x), dtype=np.float64)
