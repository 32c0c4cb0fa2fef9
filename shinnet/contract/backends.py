"""The backend seam: numpy or torch (CPU/CUDA) arrays for the vertex tensors.

Arrays are converted once per call (and cached on an :class:`ArrayProvider`); contractions go
through cotengra with ``backend=`` (autoray), so no code branches on the array type.  A new
backend is one entry in :data:`_CONVERTERS` via :func:`register_backend`.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Sequence

import autoray
import numpy as np

__all__ = ["ArrayProvider", "register_backend", "backends", "converter", "default_device", "to_numpy", "torch_factored_dense"]

_DTYPES = {"float64": np.float64, "float32": np.float32}


def _numpy_converter(x: np.ndarray, dtype: str, device: str | None) -> Any:
    if device not in (None, "cpu"):
        raise ValueError(f"the numpy backend runs on the CPU only, got device={device!r}")
    return np.ascontiguousarray(x, dtype=_DTYPES[dtype])


def _torch_converter(x: np.ndarray, dtype: str, device: str | None) -> Any:
    import torch

    return torch.as_tensor(np.array(x, dtype=np.float64, copy=True), dtype=getattr(torch, dtype), device=device)


def torch_factored_dense(lam_k: np.ndarray, U: np.ndarray, k: int, dtype: str, device: str | None,
                         chunk_bytes: float = 2.0**28) -> Any:
    """``sum_j lam_k[j] u_j^{(x)k}`` built with torch on ``device`` (MATH.md section 2): only
    ``U`` (m x d) and ``lam_k`` (m,) travel to the device, never the d^k array.

    The matricisation ``A_p^T diag(lam_k) A_q`` (p = k // 2, rows ``u^{(x)p}``) is accumulated
    over row chunks whose temporaries stay near ``chunk_bytes``.  Cost 2 m d^k FLOPs on the
    device; memory d^k plus the chunks.  The caller checks that d^k fits.
    """
    import torch

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


def _torch_default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _BackendTable:
    """backend name -> (converter, default-device function); one per process."""

    def __init__(self) -> None:
        self.table: dict[str, tuple[Callable[..., Any], Callable[[], str | None]]] = {
            "numpy": (_numpy_converter, lambda: None),
            "torch": (_torch_converter, _torch_default_device),
        }


_TABLE = _BackendTable()


def register_backend(name: str, converter: Callable[[np.ndarray, str, str | None], Any],
                     default_device: Callable[[], str | None] = lambda: None) -> None:
    """Register an autoray-supported backend: ``converter(array, dtype_name, device)`` turns a
    float64 numpy array into the backend's array."""
    _TABLE.table[name] = (converter, default_device)


def backends() -> list[str]:
    """Registered backend names."""
    return sorted(_TABLE.table)


def default_device(name: str) -> str | None:
    """The device backend ``name`` uses when none is given (torch: CUDA when available), in
    this process."""
    if name not in _TABLE.table:
        raise ValueError(f"unknown backend {name!r}; registered: {', '.join(backends())}")
    return _TABLE.table[name][1]()


def converter(name: str) -> Callable[[np.ndarray, str, str | None], Any]:
    """The registered converter ``(array, dtype_name, device) -> backend array`` of backend ``name``."""
    if name not in _TABLE.table:
        raise ValueError(f"unknown backend {name!r}; registered: {', '.join(backends())}")
    return _TABLE.table[name][0]


def to_numpy(x: Any) -> np.ndarray:
    """Any backend array (or scalar) as a float64 numpy array."""
    return np.asarray(autoray.to_numpy(x), dtype=np.float64)


class ArrayProvider:
    """Turns network sources (``("dense", key)``, ``("weights", key)``, ``("U",)``,
    ``("gram", p)``) into backend arrays, once each.

    Parameters
    ----------
    vertex_objects : sequence
        One vertex-tensor object, or B of them for a batch (they must share ``U``).
    batch : bool
        Stack per-model arrays along a leading batch axis.
    backend, dtype, device : str
    """

    def __init__(self, vertex_objects: Sequence[Any], batch: bool, backend: str = "numpy",
                 dtype: str = "float64", device: str | None = None) -> None:
        if backend not in _TABLE.table:
            raise ValueError(f"unknown backend {backend!r}; registered: {', '.join(backends())}")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        self.objects = list(vertex_objects)
        if not self.objects:
            raise ValueError("no vertex-tensor objects given")
        if not batch and len(self.objects) != 1:
            raise ValueError("several vertex objects need batch=True")
        self.batch = batch
        self.backend = backend
        self.dtype = dtype
        converter, default_device = _TABLE.table[backend]
        self.device = default_device() if device is None else device
        self._convert = converter
        self._cache: dict[tuple[Hashable, ...], Any] = {}
        #: FLOPs spent here building Gram powers (charged once)
        self.extra_flops = 0.0
        #: FLOPs spent materialising dense vertex tensors from factored ones (2 m d^k each):
        #: part of the cost of the advice, charged once per tensor
        self.dense_build_flops = 0.0

    @property
    def itemsize(self) -> int:
        return int(np.dtype(_DTYPES[self.dtype]).itemsize)

    def _stack(self, get: Callable[[Any], np.ndarray]) -> np.ndarray:
        if self.batch:
            return np.stack([np.asarray(get(o), dtype=np.float64) for o in self.objects])
        return np.asarray(get(self.objects[0]), dtype=np.float64)

    def _numpy(self, source: tuple[Hashable, ...]) -> np.ndarray:
        kind = source[0]
        if kind == "dense":
            for o in self.objects:
                U = getattr(o, "U", None)
                degree = int(o.degree_of(source[1])) if hasattr(o, "degree_of") else 0
                if U is not None and degree > 0 and source[1] not in getattr(o, "advice", {}):
                    self.dense_build_flops += 2.0 * U.shape[0] * float(U.shape[1]) ** degree
            return self._stack(lambda o: o.dense(source[1]))
        if kind == "weights":
            return self._stack(lambda o: o.weights(source[1]))
        U = np.asarray(self.objects[0].U, dtype=np.float64)
        if kind == "U":
            return U
        if kind == "gram":
            gram = self._cache.get(("gram-numpy",))
            if gram is None:
                gram = U @ U.T
                self.extra_flops += 2.0 * U.shape[0] ** 2 * U.shape[1]
                self._cache[("gram-numpy",)] = gram
            self.extra_flops += float(gram.size) * max(int(source[1]) - 1, 0)
            return gram ** int(source[1])
        raise ValueError(f"unknown network source {source!r}")

    def numpy_array(self, source: tuple[Hashable, ...]) -> np.ndarray:
        """The float64 numpy array for one source, built (and its cost charged) once; what an
        executor ships to its workers."""
        key = ("numpy-source", source)
        arr = self._cache.get(key)
        if arr is None:
            done = self._cache.get(source)  # already built for this process: not built (charged) twice
            arr = self._numpy(source) if done is None else to_numpy(done)
            self._cache[key] = arr
        return arr

    def _on_device(self, source: tuple[Hashable, ...]) -> Any:
        """torch: a dense vertex tensor held in factored form is built on the device from U and
        its weights (no d^k host array, no d^k transfer); None when that does not apply."""
        if self.backend != "torch" or source[0] != "dense" or ("numpy-source", source) in self._cache:
            return None
        key = source[1]
        built = []
        for o in self.objects:
            rep = getattr(o, "representation", None)
            U = getattr(o, "U", None)
            if U is None or not callable(rep) or rep(key) != "factored" or int(o.degree_of(key)) < 1:
                return None
        import torch

        for o in self.objects:
            k = int(o.degree_of(key))
            U = np.asarray(o.U, dtype=np.float64)
            built.append(torch_factored_dense(o.weights(key), U, k, self.dtype, self.device))
            self.dense_build_flops += 2.0 * U.shape[0] * float(U.shape[1]) ** k
        return torch.stack(built) if self.batch else built[0]

    def get(self, source: tuple[Hashable, ...]) -> Any:
        """The backend array for one source (built on first request; dense torch tensors of
        factored vertices are built on the device)."""
        arr = self._cache.get(source)
        if arr is None:
            arr = self._on_device(source)
            if arr is not None:
                self._cache[source] = arr
                return arr
            host = self._cache.get(("numpy-source", source))  # not kept: a device copy is enough
            arr = self._convert(self._numpy(source) if host is None else host, self.dtype, self.device)
            self._cache[source] = arr
        return arr

    def arrays(self, sources: Sequence[tuple[Hashable, ...]]) -> list[Any]:
        return [self.get(s) for s in sources]
