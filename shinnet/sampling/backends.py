"""numpy and torch backends of the samplers: Gaussian blocks, inverse normal CDF, forward passes.

The random stream is cut into fixed *blocks* of :func:`rng_block_rows` samples; block ``i`` of a
stream keyed ``ss`` is drawn from ``SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (i,))``
(numpy: a PCG64 ``Generator``; torch: a ``torch.Generator`` seeded from it), so samples depend on
(seed, d, backend) and never on the batch size.

Backend names, default devices and the conversion of results to numpy go through the shared
seam :mod:`shinnet.backends` (the one contraction uses); a sampler exists for numpy and torch.
torch is imported lazily by the torch sampler (a heavy optional dependency).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.special import ndtri

from shinnet.backends import backend as array_backend
from shinnet.backends import to_numpy
from shinnet.model import TwoLayerMLP
from shinnet.sampling.inputs import child_seed

__all__ = ["rng_block_rows", "default_batch_size", "make_backend", "BACKENDS", "BATCH_BYTES", "BLOCK_BYTES",
           "U_CLIP"]

BATCH_BYTES = 64 * 2**20  # default working memory of one batch
BLOCK_BYTES = 8 * 2**20  # memory of one block of Gaussian inputs
#: uniforms are clipped to [U_CLIP, 1 - 2^-53] before the inverse CDF (an event of probability ~1e-18)
U_CLIP = 2.0**-60


def rng_block_rows(d: int) -> int:
    """Samples per random-number block: a power of two near ``BLOCK_BYTES / (8 d)``, in [256, 65536].

    Depends on d only, so the sample stream is fixed by (seed, d, backend).
    """
    rows = BLOCK_BYTES // (8 * max(int(d), 1))
    return int(min(65536, max(256, 1 << (int(rows).bit_length() - 1))))


def default_batch_size(d: int, m: int) -> int:
    """Rows per forward batch so that x, the preactivations and h take about 64 MiB:
    ``floor(BATCH_BYTES / (8 (d + 2 m + 2)))``, capped at one random-number block."""
    rows = BATCH_BYTES // (8 * (int(d) + 2 * int(m) + 2))
    return int(max(1, min(rows, rng_block_rows(d))))


class _NumpyBackend:
    name = "numpy"

    def __init__(self, mlp: TwoLayerMLP, device: Any) -> None:
        array_backend(self.name).check_device(device)
        self.mlp = mlp
        self.device = "cpu"

    def normals(self, ss: np.random.SeedSequence, block: int, rows: int) -> np.ndarray:
        return np.random.default_rng(child_seed(ss, block)).standard_normal((rows, self.mlp.d))

    @staticmethod
    def from_uniform(u: np.ndarray) -> np.ndarray:
        """Inverse normal CDF of uniforms (numpy array) -> normals on this backend."""
        return ndtri(np.clip(u, U_CLIP, 1.0 - 2.0**-53))

    def preactivation(self, x: np.ndarray) -> np.ndarray:
        return self.mlp.preactivation(x)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = self.mlp.preactivation(x)
        return f, self.mlp.output.value(f)

    @staticmethod
    def to_numpy(values: list[Any]) -> np.ndarray:
        return np.array([float(v) for v in values])


class _TorchBackend:
    name = "torch"

    def __init__(self, mlp: TwoLayerMLP, device: Any) -> None:
        import torch  # heavy optional dependency: only this sampler needs it

        self.torch = torch
        self.device = torch.device(array_backend(self.name).device(device))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but torch sees no CUDA device")
        self.mlp = mlp
        self._pre = mlp.to_torch(dtype=torch.float64)[:3].to(self.device)

    def normals(self, ss: np.random.SeedSequence, block: int, rows: int) -> Any:
        state = child_seed(ss, block).generate_state(1, np.uint64)[0]
        gen = self.torch.Generator(device=self.device)
        gen.manual_seed(int(state) & (2**63 - 1))
        return self.torch.randn(rows, self.mlp.d, generator=gen, dtype=self.torch.float64, device=self.device)

    def from_uniform(self, u: np.ndarray) -> Any:
        t = self.torch.as_tensor(np.clip(u, U_CLIP, 1.0 - 2.0**-53), dtype=self.torch.float64, device=self.device)
        return self.torch.special.ndtri(t)

    def preactivation(self, x: Any) -> Any:
        with self.torch.no_grad():
            return self._pre(x)[:, 0]

    def forward(self, x: Any) -> tuple[Any, Any]:
        f = self.preactivation(x)
        return f, self.mlp.output.value(f)

    def to_numpy(self, values: list[Any]) -> np.ndarray:
        torch = self.torch
        return to_numpy(torch.stack([torch.as_tensor(v, dtype=torch.float64, device=self.device) for v in values]))


#: the samplers of the array backends of :mod:`shinnet.backends` that can draw and run the model
BACKENDS: dict[str, Callable[[TwoLayerMLP, Any], Any]] = {"numpy": _NumpyBackend, "torch": _TorchBackend}


def make_backend(name: Any, mlp: TwoLayerMLP, device: Any) -> Any:
    """The sampler of array backend ``name`` ("numpy" or "torch") for ``mlp`` on ``device``."""
    if name not in BACKENDS:
        array_backend(name)  # an unregistered name: "unknown backend ..., registered: ..."
        raise ValueError(f"unknown backend {name!r} for sampling: backend {name!r} has no sampler; "
                         f"choose one of {sorted(BACKENDS)}")
    return BACKENDS[name](mlp, device)
