"""Moved to :mod:`shinnet.tensors.power_shin`; this old path re-exports it for one release."""

from __future__ import annotations

import warnings

from shinnet.tensors.power_shin import (
    PowerShinTensors,
    PowerShinBatch,
    power_shin_tensors,
    power_shin_batch,
    unit_cumulants,
    check_second_layers,
    hidden_unit_value,
)

__all__ = ["PowerShinTensors", "PowerShinBatch", "power_shin_tensors", "power_shin_batch", "unit_cumulants", "check_second_layers", "hidden_unit_value"]

warnings.warn("shinnet.power_shin moved to shinnet.tensors.power_shin; the old path is removed in the next release",
              DeprecationWarning, stacklevel=2)
