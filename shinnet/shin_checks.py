"""Moved to :mod:`shinnet.kernels.checks`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.kernels.checks import (
    readonly_float_array,
    check_symmetric,
    memory_limit,
    check_fits,
    validate_advice,
)

__all__ = ["readonly_float_array", "check_symmetric", "memory_limit", "check_fits", "validate_advice"]

warnings.warn("shinnet.shin_checks moved to shinnet.kernels.checks; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
