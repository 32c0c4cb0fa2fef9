"""TwoLayerMLP: ``f(x) = c + sum_j a_j sigma(w_j . x + b_j)``, ``y = psi(f)`` (MATH.md section 1)."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shinnet import activations
from shinnet.activations import Activation
from shinnet.validation import check_range, readonly_float_array, real_scalar

__all__ = ["TwoLayerMLP", "as_model"]

_FORMAT_VERSION = 1


def _activation_spec(act: Activation) -> dict[str, Any]:
    coefficients = getattr(act, "coefficients", None)
    if coefficients is not None:
        return {"kind": "polynomial", "coefficients": [float(v) for v in coefficients], "name": act.name}
    try:
        registered = activations.get(act.name)
    except ValueError:
        registered = None
    if registered is None or type(registered) is not type(act):
        raise ValueError(
            f"activation {act.name!r} is not a registered activation and cannot be saved; register it first"
        )
    return {"kind": "registered", "name": act.name}


def _activation_from_spec(spec: dict[str, Any]) -> Activation:
    if spec["kind"] == "polynomial":
        return activations.Polynomial(spec["coefficients"], name=spec.get("name"))
    return activations.get(spec["name"])


@dataclass(frozen=True, eq=False)
class TwoLayerMLP:
    """A two-layer MLP with scalar output.

    ``h_j = sigma(w_j . x + b_j)``, ``f(x) = c + sum_j a_j h_j``, ``y = psi(f(x))``.

    Parameters
    ----------
    W : array (m, d)
        First-layer weights, one row per hidden unit.
    b : array (m,)
        First-layer biases.
    a : array (m,)
        Second-layer weights.
    c : float
        Output bias.
    hidden, output : str or Activation
        ``sigma`` and ``psi``: a registered name (see ``shinnet.activations.names()``) or an
        activation object such as ``shinnet.activations.polynomial([...])``.

    Arrays are copied to read-only float64.  Shapes, dtypes (real only), finiteness and range
    (``|entry| <= 1e150``, so that squares stay finite in float64) are checked, each error naming
    the parameter; ``c`` is a scalar (shape () or (1,)).
    """

    W: np.ndarray
    b: np.ndarray
    a: np.ndarray
    c: float = 0.0
    hidden: Activation = field(default="relu")  # type: ignore[assignment]
    output: Activation = field(default="identity")  # type: ignore[assignment]

    def __post_init__(self) -> None:
        W = readonly_float_array("W", self.W, 2)
        m, d = W.shape
        if m == 0 or d == 0:
            raise ValueError(f"W must have at least one row and one column, got shape {W.shape}")
        b = readonly_float_array("b", self.b, 1)
        a = readonly_float_array("a", self.a, 1)
        if b.shape != (m,):
            raise ValueError(f"b must have shape ({m},) to match W of shape {W.shape}, got {b.shape}")
        if a.shape != (m,):
            raise ValueError(f"a must have shape ({m},) to match W of shape {W.shape}, got {a.shape}")
        c = real_scalar("c", self.c)
        for name, arr in (("W", W), ("b", b), ("a", a), ("c", np.array(c))):
            check_range(name, arr)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "hidden", activations.get(self.hidden))
        object.__setattr__(self, "output", activations.get(self.output))

    # ------------------------------------------------------------------ shape
    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.W.shape[1])

    @property
    def m(self) -> int:
        """Hidden width."""
        return int(self.W.shape[0])

    def unit_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(r, U)``: row norms ``r_j = |w_j|`` and unit rows ``u_j = w_j / r_j`` (MATH.md section 2).

        A zero row (a constant unit) gets ``u_j = e_1``; every consumer gives it zero weight at
        degrees >= 1, so the choice never matters.  Cost O(m d).
        """
        r = np.linalg.norm(self.W, axis=1)
        zero = r == 0.0
        U = np.zeros_like(self.W)
        U[~zero] = self.W[~zero] / r[~zero, None]
        U[zero, 0] = 1.0
        return r, U

    def is_constant(self) -> bool:
        """Whether f does not depend on x: every unit has ``a_j = 0`` or ``w_j = 0`` (MATH.md
        section 1).  Then ``f = c' = c + sum_j a_j sigma(b_j)`` and ``E[psi(f)] = psi(c')`` exactly."""
        return bool(np.all((self.a == 0.0) | np.all(self.W == 0.0, axis=1)))

    def constant_value(self) -> float:
        """``c' = c + sum_{j: a_j != 0} a_j sigma(b_j)``: the value of a constant f (see :meth:`is_constant`)."""
        used = self.a != 0.0
        h = np.asarray(self.hidden.value(np.asarray(self.b[used], dtype=np.float64)), dtype=np.float64)
        return float(self.c + np.dot(self.a[used], h))

    def flops_per_sample(self) -> float:
        """FLOPs of one forward pass (MATH.md section 7).

        ``2 m d`` (first layer) + ``m`` (bias) + ``m * cost(sigma)`` + ``2 m`` (second layer)
        + ``cost(psi)``.  This is the single place the Monte Carlo cost is stated.
        """
        m, d = self.m, self.d
        return 2.0 * m * d + m + m * self.hidden.flops + 2.0 * m + self.output.flops

    # ---------------------------------------------------------------- forward
    def preactivation(self, x: Any) -> Any:
        """``f(x)`` for a batch ``x`` of shape (..., d), numpy or torch; returns shape (...)."""
        if hasattr(x, "detach"):
            import torch

            W = torch.from_numpy(np.array(self.W)).to(dtype=x.dtype, device=x.device)
            b = torch.from_numpy(np.array(self.b)).to(dtype=x.dtype, device=x.device)
            a = torch.from_numpy(np.array(self.a)).to(dtype=x.dtype, device=x.device)
        else:
            x = np.asarray(x, dtype=np.float64)
            W, b, a = self.W, self.b, self.a
        if x.shape[-1] != self.d:
            raise ValueError(f"x must have last dimension d = {self.d}, got shape {tuple(x.shape)}")
        h = self.hidden.value(x @ W.T + b)
        return h @ a + self.c

    def forward(self, x: Any) -> Any:
        """``y = psi(f(x))`` for a batch ``x`` of shape (..., d), numpy or torch."""
        return self.output.value(self.preactivation(x))

    __call__ = forward

    # ------------------------------------------------------------ transforms
    def with_gaussian_input(self, mean: Any, cov: Any) -> "TwoLayerMLP":
        """The MLP on ``z ~ N(0, I)`` equal in law to this one on ``x ~ N(mean, cov)``.

        With ``cov = L L^T`` (Cholesky; eigen-decomposition if only semidefinite),
        ``W -> W L`` and ``b -> b + W mean`` (MATH.md section 1).
        """
        mean = readonly_float_array("mean", mean, 1)
        cov = readonly_float_array("cov", cov, 2)
        if mean.shape != (self.d,) or cov.shape != (self.d, self.d):
            raise ValueError(f"mean must have shape ({self.d},) and cov ({self.d}, {self.d})")
        if not np.allclose(cov, cov.T, rtol=1e-12, atol=1e-14 * np.abs(cov).max()):
            raise ValueError("cov must be symmetric")
        try:
            L = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            vals, vecs = np.linalg.eigh(cov)
            if vals.min() < -1e-10 * max(vals.max(), 1.0):
                raise ValueError(f"cov is not positive semidefinite (smallest eigenvalue {vals.min():.3g})") from None
            L = vecs * np.sqrt(np.clip(vals, 0.0, None))
        return self.replace(W=self.W @ L, b=self.b + self.W @ mean)

    def replace(self, **changes: Any) -> "TwoLayerMLP":
        """A copy with some fields replaced (validated again)."""
        fields = dict(W=self.W, b=self.b, a=self.a, c=self.c, hidden=self.hidden, output=self.output)
        fields.update(changes)
        return TwoLayerMLP(**fields)

    # ------------------------------------------------------------------ torch
    def to_torch(self, dtype: Any = None, device: Any = None) -> Any:
        """``nn.Sequential(Linear(d, m), sigma, Linear(m, 1)[, psi])`` with these weights.

        ``sigma`` and ``psi`` become ``shinnet.torch_modules.ActivationModule`` wrappers unless
        torch has a native module for them (ReLU, Tanh, Sigmoid, GELU, SiLU, Softplus).
        ``dtype`` (default ``torch.float64``; a torch dtype or its name) and ``device`` (default
        CPU) are honoured; a CUDA device without CUDA is refused with a clear ``RuntimeError``.
        """
        from shinnet.torch_modules import to_sequential  # lazy: torch

        return to_sequential(self, dtype=dtype, device=device)

    @classmethod
    def from_torch(cls, module: Any) -> "TwoLayerMLP":
        """Read ``nn.Sequential(Linear, act, Linear[, act])`` (output width 1) into a TwoLayerMLP."""
        from shinnet.torch_modules import from_sequential  # lazy: torch

        return from_sequential(cls, module)

    # ------------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> None:
        """Write to an ``.npz`` file (arrays plus a JSON header; no pickle)."""
        header = {
            "format": "shinnet.TwoLayerMLP",
            "version": _FORMAT_VERSION,
            "hidden": _activation_spec(self.hidden),
            "output": _activation_spec(self.output),
        }
        buf = io.BytesIO()
        np.savez(buf, W=self.W, b=self.b, a=self.a, c=np.array(self.c), header=np.array(json.dumps(header)))
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "TwoLayerMLP":
        """Read a file written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(Path(path), allow_pickle=False) as data:
            try:
                header = json.loads(str(data["header"]))
            except KeyError:
                raise ValueError(f"{path} is not a shinnet model file (no header)") from None
            if header.get("format") != "shinnet.TwoLayerMLP":
                raise ValueError(f"{path} is not a shinnet model file")
            if header.get("version") != _FORMAT_VERSION:
                raise ValueError(f"{path}: unsupported model file version {header.get('version')}")
            return cls(
                W=data["W"],
                b=data["b"],
                a=data["a"],
                c=float(data["c"]),
                hidden=_activation_from_spec(header["hidden"]),
                output=_activation_from_spec(header["output"]),
            )

    def __repr__(self) -> str:
        return f"TwoLayerMLP(d={self.d}, m={self.m}, hidden={self.hidden.name!r}, output={self.output.name!r})"


def as_model(obj: Any, caller: str = "this function") -> TwoLayerMLP:
    """``obj`` as a TwoLayerMLP: itself, or a torch ``nn.Sequential(Linear, act, Linear[, act])``
    read with :meth:`TwoLayerMLP.from_torch`.  Anything else is a ``TypeError`` naming ``caller``."""
    if isinstance(obj, TwoLayerMLP):
        return obj
    torch = sys.modules.get("torch")  # only a torch object can be an nn.Module: no import needed
    if torch is not None and isinstance(obj, torch.nn.Module):
        return TwoLayerMLP.from_torch(obj)
    raise TypeError(f"{caller} needs a TwoLayerMLP or a torch nn.Sequential(Linear, activation, Linear"
                    f"[, activation]), got {type(obj).__name__}")
