"""Moved to :mod:`shinnet.budget.conditioned`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.budget.conditioned import (
    ConditionedPrice,
    ConditionedLadder,
    conditioned_ladder,
    NODE_CAPS,
    NODE_CAPS_R2,
    DIRECTIONS_SHARE,
    MIN_SHARE,
)

__all__ = ["ConditionedPrice", "ConditionedLadder", "conditioned_ladder", "NODE_CAPS", "NODE_CAPS_R2", "DIRECTIONS_SHARE", "MIN_SHARE"]

warnings.warn("shinnet.budget_condition moved to shinnet.budget.conditioned; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
