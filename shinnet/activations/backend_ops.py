"""Elementwise functions that work on numpy arrays and torch tensors alike (autoray seam).

autoray dispatches on the array's backend; the only gap is the error function, which numpy
lacks (scipy.special has it), so :func:`erf` and :func:`erfc` fall back to scipy for numpy
inputs.  Every function keeps the input's type and floating dtype (float32 stays float32).
"""

from __future__ import annotations

from typing import Any

import autoray
import scipy.special

__all__ = ["do", "erf", "erfc", "sigmoid", "softplus"]

do = autoray.do

_SCIPY_BACKENDS = ("numpy", "builtins")


def erf(z: Any) -> Any:
    """``erf(z)`` elementwise."""
    if autoray.infer_backend(z) in _SCIPY_BACKENDS:
        return scipy.special.erf(z)
    return do("erf", z)


def erfc(z: Any) -> Any:
    """``erfc(z) = 1 - erf(z)`` elementwise, accurate in the far right tail."""
    if autoray.infer_backend(z) in _SCIPY_BACKENDS:
        return scipy.special.erfc(z)
    return do("erfc", z)


def sigmoid(z: Any) -> Any:
    """``1 / (1 + e^-z)`` to full relative precision on both tails (no overflow)."""
    e = do("exp", -do("abs", z))
    return do("where", z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z: Any) -> Any:
    """``log(1 + e^z) = max(z, 0) + log1p(e^-|z|)`` (no overflow, full precision)."""
    return 0.5 * (z + do("abs", z)) + do("log1p", do("exp", -do("abs", z)))
