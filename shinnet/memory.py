"""How much memory this process may still allocate: the smallest of its address-space limit,
its cgroup's limit and the free memory of the machine (issue 10, item 6).

Used by the pre-flight checks (:mod:`shinnet.preflight`, the contraction engine) so that a
request that cannot fit is refused with a message before any array is built, instead of
failing with a raw ``MemoryError`` deep inside numpy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MemoryBudget", "available_memory", "format_bytes", "RequestMemoryError"]

_UNLIMITED = float("inf")


class RequestMemoryError(MemoryError):
    """A request needs more memory than this process can have; raised before the work starts."""


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes this process may still allocate, and which limit set it.

    Attributes
    ----------
    bytes : float
        ``min`` over the limits found (``inf`` when none could be read).
    source : str
        ``"RLIMIT_AS"``, ``"cgroup"``, ``"MemAvailable"``, ``"psutil"`` or ``"unknown"``.
    limits : dict str -> float
        Every limit that was read, in bytes still available under it.
    """

    bytes: float
    source: str
    limits: dict


def format_bytes(n: float) -> str:
    """``1.5 GiB`` style."""
    if n == _UNLIMITED:
        return "unlimited"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024.0
    return f"{n:.3g} PiB"


def _status_bytes(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` (VmSize, VmRSS) in bytes, or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _rlimit_as() -> float | None:
    """Address space left under ``RLIMIT_AS`` (soft limit minus the current VmSize), or None."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = _status_bytes("VmSize") or 0.0
    return max(float(soft) - used, 0.0)


def _cgroup() -> float | None:
    """Memory left under the cgroup limit (v2 ``memory.max`` - ``memory.current``, or v1
    ``memory.limit_in_bytes`` - ``memory.usage_in_bytes``), or None."""
    pairs = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
    for limit_file, usage_file in pairs:
        try:
            raw = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if raw == "max":
            return None
        try:
            limit = float(raw)
        except ValueError:
            continue
        if limit >= 2.0**60:  # v1 writes a huge number for "no limit"
            return None
        try:
            usage = float(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            usage = 0.0
        return max(limit - usage, 0.0)
    return None


def _meminfo() -> float | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes, or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _psutil() -> float | None:
    """``psutil.virtual_memory().available`` when psutil is installed (optional), else None."""
    try:
        import psutil  # optional dependency, imported lazily
    except ImportError:
        return None
    return float(psutil.virtual_memory().available)


def available_memory() -> MemoryBudget:
    """Bytes this process may still allocate: the least of RLIMIT_AS headroom, the cgroup limit
    headroom and the machine's free memory (``MemAvailable``, else psutil, else sysconf).

    Cost: reads three small files; no allocation.
    """
    limits: dict[str, float] = {}
    rl = _rlimit_as()
    if rl is not None:
        limits["RLIMIT_AS"] = rl
    cg = _cgroup()
    if cg is not None:
        limits["cgroup"] = cg
    free = _meminfo()
    if free is not None:
        limits["MemAvailable"] = free
    else:
        ps = _psutil()
        if ps is not None:
            limits["psutil"] = ps
        else:
            try:
                limits["sysconf"] = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
            except (ValueError, OSError, AttributeError):
                pass
    if not limits:
        return MemoryBudget(_UNLIMITED, "unknown", {})
    source = min(limits, key=limits.__getitem__)
    return MemoryBudget(limits[source], source, limits)
