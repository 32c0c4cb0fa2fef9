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

__all__ = ["ActivationModule", "to_sequential", "from_sequential"]

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


def to_sequential(mlp: Any, dtype: Any = None) -> Any:
    """``nn.Sequential(Linear(d, m), sigma, Linear(m, 1)[, psi])`` holding ``mlp``'s weights."""
    dtype = dtype or torch.float64
    # skip_init: no random initialisation, so the global torch RNG is left untouched
    first = nn.utils.skip_init(nn.Linear, mlp.d, mlp.m, dtype=dtype)
    second = nn.utils.skip_init(nn.Linear, mlp.m, 1, dtype=dtype)
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
