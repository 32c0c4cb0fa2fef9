"""Conversion between TwoLayerMLP and ``torch.nn.Sequential`` (Linear, act, Linear[, act]).

Imported lazily by ``TwoLayerMLP.to_torch``/``from_torch`` so that ``import shinnet`` stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from shinnet import activations
from shinnet.activations import Activation

__all__ = ["ActivationModule", "to_sequential", "from_sequential", "resolve_device", "resolve_dtype"]

# torch module class name -> shinnet activation name (the modules with exact equivalents)
_NATIVE = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "SiLU": "silu", "Identity": "identity"}


def _module_for(act: Activation) -> Any:
    if act.name == "identity":
        return None
    for cls_name, name in _NATIVE.items():
        if act.name == name:
            return getattr(nn, cls_name)()
    if act.name == "gelu":
        return nn.GELU(approximate="none")
    if act.name == "softplus":
        return nn.Softplus(beta=1.0, threshold=1e9)
    return ActivationModule(act)


def _activation_of(module: Any) -> Activation:
    if isinstance(module, ActivationModule):
        return module.activation
    cls_name = type(module).__name__
    if cls_name in _NATIVE:
        return activations.get(_NATIVE[cls_name])
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise ValueError("only nn.GELU(approximate='none') has an exact shinnet equivalent")
        return activations.get("gelu")
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError("only nn.Softplus(beta=1) has a shinnet equivalent")
        return activations.get("softplus")
    raise ValueError(f"no shinnet activation for torch module {module!r}")


class ActivationModule(nn.Module):
    """Wraps a shinnet Activation as a torch module (its ``value`` works on tensors)."""

    def __init__(self, activation: Activation):
        super().__init__()
        self.activation = activation

    def forward(self, z: Any) -> Any:
        return self.activation.value(z)

    def extra_repr(self) -> str:
        return self.activation.name


def resolve_dtype(dtype: Any) -> Any:
    """A floating torch dtype from ``None`` (float64), a torch dtype or a name ("float32")."""
    if dtype is None:
        return torch.float64
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(f"unknown torch dtype {dtype!r}; use e.g. 'float64' or 'float32'")
        dtype = resolved
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating torch dtype (torch.float64, torch.float32), got {dtype!r}")
    return dtype


def resolve_device(device: Any) -> Any:
    """A ``torch.device`` (default CPU); CUDA (or MPS) without that hardware is a clear ``RuntimeError``."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown torch device {device!r} ({exc})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r} asks for CUDA, but torch.cuda.is_available() is False "
                               f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise RuntimeError(f"device={device!r} asks for MPS, which this machine does not have; use device='cpu'")
    return dev


def to_sequential(mlp: Any, dtype: Any = None, device: Any = None) -> Any:
    """``nn.Sequential(Linear(d, m), sigma, Linear(m, 1)[, psi])`` holding ``mlp``'s weights, in
    ``dtype`` (default float64) on ``device`` (default CPU; see :func:`resolve_device`)."""
    dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    # skip_init: no random initialisation, so the global torch RNG is left untouched
    first = nn.utils.skip_init(nn.Linear, mlp.d, mlp.m, dtype=dtype, device=dev)
    second = nn.utils.skip_init(nn.Linear, mlp.m, 1, dtype=dtype, device=dev)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(np.array(mlp.W)))
        first.bias.copy_(torch.from_numpy(np.array(mlp.b)))
        second.weight.copy_(torch.from_numpy(np.array(mlp.a))[None, :])
        second.bias.fill_(mlp.c)
    hidden = _module_for(mlp.hidden) or nn.Identity()
    layers = [first, hidden, second]
    out = _module_for(mlp.output)
    if out is not None:
        layers.append(out)
    return nn.Sequential(*layers)


def from_sequential(cls: type, module: Any) -> Any:
    """Inverse of :func:`to_sequential` for any ``nn.Sequential(Linear, act, Linear[, act])``."""
    layers = list(module.children()) if isinstance(module, nn.Sequential) else None
    if layers is None or len(layers) not in (3, 4):
        raise ValueError("expected nn.Sequential(Linear, activation, Linear[, activation])")
    first, hidden, second = layers[:3]
    if not (isinstance(first, nn.Linear) and isinstance(second, nn.Linear)):
        raise ValueError("expected Linear layers in positions 0 and 2")
    if second.out_features != 1:
        raise ValueError(f"the second Linear must have one output, got {second.out_features}")
    if second.in_features != first.out_features:
        raise ValueError("the two Linear layers do not fit together")

    def arr(t: Any) -> np.ndarray:
        return t.detach().cpu().double().numpy()

    b = arr(first.bias) if first.bias is not None else np.zeros(first.out_features)
    c = float(arr(second.bias)[0]) if second.bias is not None else 0.0
    output = _activation_of(layers[3]) if len(layers) == 4 else activations.get("identity")
    return cls(W=arr(first.weight), b=b, a=arr(second.weight)[0], c=c, hidden=_activation_of(hidden), output=output)
