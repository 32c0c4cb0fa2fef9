"""Plain Monte Carlo, streamed (MATH.md section 7): the floor every estimate must beat.

Draws ``x_i ~ N(0, I_d)`` block by block (:mod:`shinnet.sampling.backends`), accumulates power
sums of ``f`` and ``y = psi(f)`` per jackknife group about a pilot shift (see
``shinnet.kstats``), and returns the sample mean of y with ``stderr = sqrt(k_2(y)/N)``, the
k-statistics ``k_1..k_6`` of f with delete-a-group jackknife standard errors, and optionally tail
probabilities ``P(f > t)``.  Memory O(batch (d + m)), independent of N.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shinnet.kstats import jackknife_stderr, kstat
from shinnet.sampling.backends import rng_block_rows

__all__ = ["plain_sums", "plain_summary", "KSTAT_ORDER", "Y_ORDER", "MAX_GROUPS"]

KSTAT_ORDER = 6  # k-statistics of f reported: k_1..k_6
Y_ORDER = 4  # k-statistics of y reported: k_1..k_4
MAX_GROUPS = 64  # jackknife groups (>= 32 for a ~12% accurate standard error)


def _chunk_sums(f: Any, y: Any, f_shift: float, y_shift: float, thresholds: list[float]) -> list[Any]:
    """[S_0..S_6 of f - f_shift, S_1..S_4 of y - y_shift, #{f > t} per t] for one chunk
    (numpy arrays or torch tensors alike; still on the device)."""
    out: list[Any] = [f.shape[0]]
    z = f - f_shift
    term = z
    for _ in range(KSTAT_ORDER):
        out.append(term.sum())
        term = term * z
    z = y - y_shift
    term = z
    for _ in range(Y_ORDER):
        out.append(term.sum())
        term = term * z
    out.extend((f > t).sum() for t in thresholds)
    return out


def plain_sums(
    engine: Any, ss: np.random.SeedSequence, n: int, batch: int, n_groups: int, thr: np.ndarray, bar: Any
) -> tuple[np.ndarray, float, float]:
    """Stream N samples block by block; return per-group sums (see :func:`_chunk_sums`) and the
    pilot shifts of f and y.  Chunks never straddle a block or a group boundary."""
    block_rows = rng_block_rows(engine.mlp.d)
    bounds = [g * n // n_groups for g in range(n_groups + 1)]
    sums = np.zeros((n_groups, 1 + KSTAT_ORDER + Y_ORDER + thr.size))
    thr_list = [float(t) for t in thr]
    f_shift = y_shift = 0.0
    group = 0
    for block in range((n + block_rows - 1) // block_rows):
        lo = block * block_rows
        x = engine.normals(ss, block, min(block_rows, n - lo))
        pos, hi = lo, lo + x.shape[0]
        while pos < hi:
            while bounds[group + 1] <= pos:
                group += 1
            stop = min(hi, pos + batch, bounds[group + 1])
            f, y = engine.forward(x[pos - lo : stop - lo])
            if pos == 0:  # pilot shift: the mean of the first chunk
                f_shift, y_shift = float(f.mean()), float(y.mean())
            sums[group] += engine.to_numpy(_chunk_sums(f, y, f_shift, y_shift, thr_list))
            if bar is not None:
                bar.update(stop - pos)
            pos = stop
    return sums, f_shift, y_shift


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def plain_summary(sums: np.ndarray, f_shift: float, y_shift: float, n: int, thr: np.ndarray) -> dict[str, Any]:
    """value, stderr, kappa and the details of :func:`shinnet.sampling.monte_carlo` from the sums."""
    if not np.all(np.isfinite(sums)):
        raise FloatingPointError(
            "Monte Carlo produced non-finite values of f or y (overflow in the model or its power sums)"
        )
    total = sums.sum(axis=0)
    f_sums = sums[:, : 1 + KSTAT_ORDER]
    y_sums = np.concatenate([sums[:, :1], sums[:, 1 + KSTAT_ORDER : 1 + KSTAT_ORDER + Y_ORDER]], axis=1)
    kappa = {r: float(kstat(f_sums.sum(axis=0), r, f_shift)) for r in range(1, KSTAT_ORDER + 1)}
    y_k = {r: float(kstat(y_sums.sum(axis=0), r, y_shift)) for r in range(1, Y_ORDER + 1)}
    y_var = y_k[2]
    details: dict[str, Any] = {
        "kappa_stderr": jackknife_stderr(f_sums, KSTAT_ORDER),
        "n_groups": sums.shape[0],
        "y_mean": y_k[1],
        "y_var": y_var,
        "y_kstat": y_k,
        "y_skewness": _ratio(y_k[3], y_var**1.5),
        "y_excess_kurtosis": _ratio(y_k[4], y_var**2),
        "f_skewness": _ratio(kappa[3], kappa[2] ** 1.5),
        "f_excess_kurtosis": _ratio(kappa[4], kappa[2] ** 2),
    }
    if thr.size:
        p = total[1 + KSTAT_ORDER + Y_ORDER :] / n
        details["tail"] = {
            "thresholds": thr.copy(),
            "probability": p,
            "stderr": np.sqrt(p * (1.0 - p) / n),
            "count": total[1 + KSTAT_ORDER + Y_ORDER :].astype(np.int64),
        }
    return {"value": y_k[1], "stderr": float(np.sqrt(max(y_var, 0.0) / n)), "kappa": kappa, "details": details}
