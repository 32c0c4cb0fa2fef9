"""Moved to :mod:`shinnet.kernels.norms`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.kernels.norms import (
    OpNormResult,
    OpNormConvergenceError,
    available_memory_bytes,
    default_tile,
    tensor_power_rows,
    factored_dense,
    gram_tiles,
    gram_power_quadratic_forms,
    gram_power_apply,
    op_norm_dense,
    op_norm_gram,
    op_norm_lanczos,
    factored_dense_rows,
)

__all__ = ["OpNormResult", "OpNormConvergenceError", "available_memory_bytes", "default_tile", "tensor_power_rows", "factored_dense", "gram_tiles", "gram_power_quadratic_forms", "gram_power_apply", "op_norm_dense", "op_norm_gram", "op_norm_lanczos", "factored_dense_rows"]

warnings.warn("shinnet.shin_norms moved to shinnet.kernels.norms; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
