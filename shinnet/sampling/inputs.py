"""Input handling shared by the samplers: models, sample counts, seeds, the expected-time check.

* :func:`as_mlp` accepts a :class:`~shinnet.model.TwoLayerMLP` or a torch ``nn.Sequential(Linear,
  act, Linear[, act])`` (read by ``TwoLayerMLP.from_torch``);
* :func:`as_seed_sequence` accepts seeds like numpy does: a non-negative int, a
  ``np.random.Generator`` (one draw of 128 bits is taken from it, advancing it), a
  ``np.random.SeedSequence``, or None (fresh OS entropy; the entropy used is reported so the run
  can be repeated);
* :func:`check_expected_time` states the cost of a request before it starts (FLOPs, and seconds
  from a timed calibration batch), refuses requests above ``max_seconds`` and says when a
  progress bar will be shown (issue 10 item 7).
"""

from __future__ import annotations

import sys
import time
import warnings
from numbers import Integral, Real
from typing import Any, Callable

import numpy as np

from shinnet.model import TwoLayerMLP

__all__ = ["as_mlp", "as_count", "as_seed_sequence", "seed_label", "child_seed", "check_expected_time",
           "LONG_RUN_SECONDS", "DEFAULT_MAX_SECONDS"]

#: expected durations above this many seconds get a warning and (with ``progress=None``) a tqdm bar
LONG_RUN_SECONDS = 10.0
#: requests expected to take longer than this are refused unless ``max_seconds`` is raised
DEFAULT_MAX_SECONDS = 86400.0


def as_mlp(mlp: Any) -> TwoLayerMLP:
    """``mlp`` itself, or a torch ``nn.Module`` converted by ``TwoLayerMLP.from_torch``."""
    if isinstance(mlp, TwoLayerMLP):
        return mlp
    torch = sys.modules.get("torch")  # a torch module can only exist if torch was imported
    if torch is not None and isinstance(mlp, torch.nn.Module):
        return TwoLayerMLP.from_torch(mlp)
    raise TypeError(f"mlp must be a shinnet.TwoLayerMLP or a torch nn.Sequential(Linear, act, Linear[, act]), "
                    f"got {type(mlp).__name__}")


def as_count(name: str, value: Any, minimum: int) -> int:
    """An integer >= minimum (an integral float such as ``1e6`` is accepted)."""
    if isinstance(value, bool) or not (
        isinstance(value, Integral) or (isinstance(value, Real) and float(value).is_integer())
    ):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def as_seed_sequence(seed: Any) -> np.random.SeedSequence:
    """A root ``SeedSequence`` from an int, a ``Generator``, a ``SeedSequence`` or None.

    An int ``s`` gives ``SeedSequence(s)``, so streams keyed ``SeedSequence(s, spawn_key=(i,))``
    are unchanged from earlier versions.  A Generator is advanced by one draw of four 32-bit words.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**32, size=4, dtype=np.uint64).tolist())
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, a numpy Generator, a SeedSequence or None, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def seed_label(ss: np.random.SeedSequence) -> Any:
    """What ``details["seed"]`` reports: the int for int seeds, else the entropy (repeatable)."""
    ent = ss.entropy
    if isinstance(ent, int) and not ss.spawn_key:
        return ent
    return {"entropy": ent, "spawn_key": tuple(ss.spawn_key)}


def child_seed(ss: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """``SeedSequence(ss.entropy, spawn_key=ss.spawn_key + key)``: what ``ss.spawn`` would give, by index."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + tuple(int(k) for k in key))


def check_expected_time(
    flops: float,
    n_points: int,
    calibrate: Callable[[int], float],
    calibration_rows: int,
    max_seconds: float | None,
    what: str,
    stacklevel: int = 3,
) -> float:
    """Expected seconds of a sampling run, from a timed calibration batch; refuse or warn.

    ``calibrate(rows)`` runs one forward batch of ``rows`` points and returns nothing useful; its
    wall time per point times ``n_points`` is the estimate (the calibration is skipped, and 0
    returned, when the whole run is below ``4 * calibration_rows`` points: it would cost as much as
    the run).  Raises ``ValueError`` when the estimate exceeds ``max_seconds`` (None: never), and
    warns when it exceeds :data:`LONG_RUN_SECONDS`.  Cost: one batch of ``calibration_rows`` points.
    """
    if n_points <= 4 * calibration_rows:
        return 0.0
    t0 = time.perf_counter()
    calibrate(calibration_rows)
    per_point = (time.perf_counter() - t0) / calibration_rows
    seconds = per_point * n_points
    text = (f"{what}: {n_points:.4g} points, {flops:.3g} FLOPs, expected about {_human(seconds)} "
            f"(from a timed batch of {calibration_rows} points)")
    if max_seconds is not None and seconds > max_seconds:
        raise ValueError(f"{text}, more than max_seconds={max_seconds:g}; ask for fewer samples, or pass "
                         f"max_seconds=None to run it anyway")
    if seconds > LONG_RUN_SECONDS:
        warnings.warn(text, stacklevel=stacklevel)
    return seconds


def _human(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"
