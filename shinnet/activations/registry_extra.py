"""Factories for the activations beyond relu / identity / quadratic (registry part 3).

``shinnet.activations`` merges :func:`extra_factories` into its registry on first use.
"""

from __future__ import annotations

from typing import Callable

from shinnet.activations.base import Activation
from shinnet.activations.gaussian_closed import GELU, Erf
from shinnet.activations.smooth import SiLU, Sigmoid, Softplus, Tanh
from shinnet.activations.step import Heaviside, Sign

__all__ = ["extra_factories"]


def extra_factories() -> dict[str, Callable[[], Activation]]:
    """Name -> zero-argument factory; aliases map to the same class."""
    return {
        "heaviside": Heaviside,
        "step": Heaviside,
        "sign": Sign,
        "erf": Erf,
        "gelu": GELU,
        "tanh": Tanh,
        "sigmoid": Sigmoid,
        "logistic": Sigmoid,
        "silu": SiLU,
        "swish": SiLU,
        "softplus": Softplus,
    }
