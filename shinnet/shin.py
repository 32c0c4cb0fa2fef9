"""Moved to :mod:`shinnet.tensors.shin`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.tensors.shin import (
    ShinTensors,
    shin_tensors,
)

__all__ = ["ShinTensors", "shin_tensors"]

warnings.warn("shinnet.shin moved to shinnet.tensors.shin; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
