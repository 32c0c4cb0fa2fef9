"""Vertex-tensor arrays for contraction, on the shared backend seam (:mod:`shinnet.backends`).

Arrays are converted once per call (and cached on an :class:`ArrayProvider`); contractions go
through cotengra with ``backend=`` (autoray), so no code branches on the array type.  The
backends themselves (numpy, torch; :func:`register_backend`, :func:`backends`, :func:`to_numpy`)
live in :mod:`shinnet.backends`, shared with sampling, and are re-exported here for old imports.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Hashable, Mapping, Sequence

import autoray
import numpy as np

from shinnet.backends import (
    backend as backend_record,
    backends,
    converter,
    default_device,
    numpy_dtype,
    register_backend,
    to_numpy,
    torch_factored_dense,
)
from shinnet.contract.representation_registry import lookup_representation

__all__ = ["ArrayProvider", "register_backend", "backends", "converter", "default_device", "to_numpy", "torch_factored_dense"]


#: network source kind (``Network.sources[i][0]``) -> the ArrayProvider method that builds it
_SOURCE_BUILDERS: Mapping[str, str] = MappingProxyType(
    {"dense": "_dense_source", "weights": "_weights_source", "U": "_units_source", "gram": "_gram_source"}
)


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
        record = backend_record(backend)
        numpy_dtype(dtype)
        self.objects = list(vertex_objects)
        if not self.objects:
            raise ValueError("no vertex-tensor objects given")
        if not batch and len(self.objects) != 1:
            raise ValueError("several vertex objects need batch=True")
        self.batch = batch
        self.backend = backend
        self.dtype = dtype
        self.device = record.default_device() if device is None else device
        self._convert = record.convert
        self._factored_dense = record.factored_dense
        self._cache: dict[tuple[Hashable, ...], Any] = {}
        #: FLOPs spent here building Gram powers (charged once)
        self.extra_flops = 0.0
        #: FLOPs spent materialising dense vertex tensors from factored ones (2 m d^k each):
        #: part of the cost of the advice, charged once per tensor
        self.dense_build_flops = 0.0

    @property
    def itemsize(self) -> int:
        return int(np.dtype(numpy_dtype(self.dtype)).itemsize)

    def _stack(self, get: Callable[[Any], np.ndarray]) -> np.ndarray:
        if self.batch:
            return np.stack([np.asarray(get(o), dtype=np.float64) for o in self.objects])
        return np.asarray(get(self.objects[0]), dtype=np.float64)

    def _numpy(self, source: tuple[Hashable, ...]) -> np.ndarray:
        """The float64 host array of one network source, by its kind (:data:`_SOURCE_BUILDERS`)."""
        builder = _SOURCE_BUILDERS.get(source[0])
        if builder is None:
            raise ValueError(f"unknown network source {source!r}")
        return getattr(self, builder)(source)

    def _dense_source(self, source: tuple[Hashable, ...]) -> np.ndarray:
        """``("dense", key)``: the d^k tensor; built from factored weights (2 m d^k FLOPs,
        charged) unless the object holds it (advice) or has no U."""
        for o in self.objects:
            U = getattr(o, "U", None)
            degree = int(o.degree_of(source[1])) if hasattr(o, "degree_of") else 0
            if U is not None and degree > 0 and source[1] not in getattr(o, "advice", {}):
                self.dense_build_flops += 2.0 * U.shape[0] * float(U.shape[1]) ** degree
        return self._stack(lambda o: o.dense(source[1]))

    def _weights_source(self, source: tuple[Hashable, ...]) -> np.ndarray:
        """``("weights", key)``: the vertex weights lambda_key (m,)."""
        return self._stack(lambda o: o.weights(source[1]))

    def _units_source(self, source: tuple[Hashable, ...]) -> np.ndarray:
        """``("U",)``: the unit rows (m, d), shared by the batch."""
        return np.asarray(self.objects[0].U, dtype=np.float64)

    def _gram_source(self, source: tuple[Hashable, ...]) -> np.ndarray:
        """``("gram", p)``: the Hadamard power ``(U U^T)^{(o) p}``; ``U U^T`` costs 2 m^2 d once,
        each power m^2 (p - 1) FLOPs, charged to ``extra_flops``."""
        U = self._units_source(source)
        gram = self._cache.get(("gram-numpy",))
        if gram is None:
            gram = U @ U.T
            self.extra_flops += 2.0 * U.shape[0] ** 2 * U.shape[1]
            self._cache[("gram-numpy",)] = gram
        self.extra_flops += float(gram.size) * max(int(source[1]) - 1, 0)
        return gram ** int(source[1])

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
        """A backend with a device builder (torch): a dense vertex tensor held in factored form
        (its object's ``representation(key)`` holds no dense vertex, i.e. ``"factored"``) is built on the device from U and
        its weights (no d^k host array, no d^k transfer); None when that does not apply."""
        build = self._factored_dense
        if build is None or source[0] != "dense" or ("numpy-source", source) in self._cache:
            return None
        key = source[1]
        built = []
        for o in self.objects:
            rep = getattr(o, "representation", None)
            U = getattr(o, "U", None)
            if U is None or not callable(rep) or lookup_representation(rep(key)).needs_dense or int(o.degree_of(key)) < 1:
                return None
        for o in self.objects:
            k = int(o.degree_of(key))
            U = np.asarray(o.U, dtype=np.float64)
            built.append(build(o.weights(key), U, k, self.dtype, self.device))
            self.dense_build_flops += 2.0 * U.shape[0] * float(U.shape[1]) ** k
        return autoray.do("stack", built, like=self.backend) if self.batch else built[0]

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
