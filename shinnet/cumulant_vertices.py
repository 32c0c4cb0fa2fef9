"""Moved to :mod:`shinnet.tensors.cumulant_vertices`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.tensors.cumulant_vertices import (
    cumulant_vertices,
    cumulant_vertices_flops,
)

__all__ = ["cumulant_vertices", "cumulant_vertices_flops"]

warnings.warn("shinnet.cumulant_vertices moved to shinnet.tensors.cumulant_vertices; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
