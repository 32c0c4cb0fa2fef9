"""Former home of the FLOP-budget rule; it moved to :mod:`shinnet.budget` (the names below are
re-exported so that old imports keep working)."""

from __future__ import annotations

from shinnet.budget import LADDER, Choice, choose_settings, degree_cap, predicted_flops

__all__ = ["LADDER", "Choice", "choose_settings", "degree_cap", "predicted_flops"]
