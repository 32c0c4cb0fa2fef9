"""``monte_carlo``: plain Monte Carlo or randomized QMC, with or without control variates.

See docs/sampling.md, MATH.md sections 7 (plain Monte Carlo) and 10 (RQMC, control variates).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from shinnet.model import TwoLayerMLP
from shinnet.result import Estimate
from shinnet.sampling.backends import default_batch_size, make_backend, rng_block_rows
from shinnet.sampling.control import cv_combine, exact_mean_f, exact_mean_flops, exact_variance
from shinnet.sampling.flops import sampling_flops
from shinnet.sampling.inputs import (DEFAULT_MAX_SECONDS, LONG_RUN_SECONDS, as_count, as_mlp, as_seed_sequence,
                                     check_expected_time, child_seed, seed_label)
from shinnet.sampling.plain import MAX_GROUPS, plain_summary, plain_sums
from shinnet.sampling.replicates import replicate_sums
from shinnet.sampling.sobol import check_sobol_dimension, sobol_plan

__all__ = ["monte_carlo", "tail_probability_mc", "TailProbabilityMC", "METHODS", "CONTROL_VARIATES", "progress_bar",
           "prepare_run"]

METHODS = ("plain", "sobol")
#: accepted ``control_variates``: False (none), "linear" (f - kappa_1), True or "quadratic" (both)
CONTROL_VARIATES = (False, True, "linear", "quadratic")


def _cv_kind(cv: Any) -> str:
    if isinstance(cv, (bool, np.bool_)):
        return "quadratic" if cv else "none"
    if cv in ("linear", "quadratic"):
        return str(cv)
    raise ValueError(f"control_variates must be False, True, 'linear' or 'quadratic', got {cv!r}")


def progress_bar(show: bool, total: int, desc: str) -> Any:
    """A tqdm bar over samples, or None."""
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="sample", unit_scale=True, desc=desc)


def prepare_run(engine: Any, ss: np.random.SeedSequence, n_total: int, batch: int, flops: float,
                max_seconds: float | None, progress: bool | None, what: str, stacklevel: int = 5) -> tuple[float, bool]:
    """Expected seconds (timed calibration batch on a separate stream) and whether to show progress."""
    rows = min(batch, 2048)

    def calibrate(k: int) -> None:
        engine.forward(engine.normals(child_seed(ss, 2**32 - 1), 0, k))

    seconds = check_expected_time(flops, n_total, calibrate, rows, max_seconds, what, stacklevel)
    show = bool(progress) if progress is not None else seconds > LONG_RUN_SECONDS
    return seconds, show


def monte_carlo(
    mlp: Any,
    n_samples: int,
    seed: Any = 0,
    method: str = "plain",
    control_variates: Any = False,
    scrambles: int = 8,
    batch_size: int | None = None,
    backend: str = "numpy",
    device: Any = None,
    progress: bool | None = None,
    thresholds: Any = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> Estimate:
    """Sampling estimate of ``E[psi(f(x))]``, ``x ~ N(0, I_d)`` (MATH.md sections 7 and 10).

    Parameters
    ----------
    mlp : TwoLayerMLP or torch nn.Sequential(Linear, act, Linear[, act])
    n_samples : int
        N >= 2 points in all (an integral float such as ``1e6`` is accepted).  With
        ``method="sobol"`` each of the R scrambles gets ``2^ceil(log2(N/R))`` points (rounded up,
        stated in ``details["note"]``); with plain control variates ``ceil(N/R)`` per group.
    seed : int, numpy Generator, SeedSequence or None
        As numpy: an int gives a repeatable run (deterministic up to the summation order, which
        ``batch_size`` alone changes); None draws fresh entropy (reported in ``details["seed"]``).
    method : {"plain", "sobol"}
        Plain Monte Carlo, or scrambled Sobol points (LMS + digital shift) through the inverse
        normal CDF (randomized QMC; ``stderr`` from the spread of the R scramble means, a t
        variable with R - 1 degrees of freedom).
    control_variates : False, True, "linear" or "quadratic"
        Regress psi(f) on ``z_1 = f - kappa_1`` ("linear") and also ``z_2 = (f - kappa_1)^2 -
        kappa_2`` (True = "quadratic") with exact ``kappa_1`` (O(m d)) and ``kappa_2``
        (:func:`~shinnet.sampling.control.exact_variance`, O(m^2 (d + K)): charged, and dominant at
        large m); leave-one-replicate-out coefficients keep the estimator unbiased.  With plain
        Monte Carlo the N samples form R groups and ``stderr = sqrt(residual variance / N)``.
    scrambles : int
        R >= 2 (default 8): Sobol scrambles, or groups of plain samples with control variates.
    batch_size : int, optional
        Rows per forward pass (default about 64 MiB of working memory).
    backend : {"numpy", "torch"}
        torch runs in float64 on ``device`` (default CUDA when available).
    progress : bool or None
        tqdm bar; None shows one when the run is expected to take over 10 s.
    thresholds : float or sequence, optional
        ``P(f > t)`` in ``details["tail"]`` (plain Monte Carlo without control variates only).
    max_seconds : float or None
        Refuse runs expected (from a timed calibration batch) to take longer; runs expected over
        10 s warn with the expected time.  None: no limit.

    Returns
    -------
    Estimate
        ``method`` "monte_carlo" (plain) or "rqmc" (sobol); ``flops = flops_with_advice`` =
        :func:`~shinnet.sampling.flops.sampling_flops` total; ``details["method"]``,
        ``details["scrambles"]`` (None for plain Monte Carlo without control variates),
        ``details["control_variates"]``, ``details["flops_parts"]``, ``details["flop_conventions"]``,
        ``details["expected_seconds"]``; plain Monte Carlo without control variates also has the
        k-statistics ``kappa`` ``{1..6}`` of f with jackknife errors and tails (docs/sampling.md).

    Cost: N forward passes (``N * mlp.flops_per_sample()``) plus the parts listed in
    ``sampling_flops``; memory O(batch (d + m)).
    """
    mlp = as_mlp(mlp)
    n = as_count("n_samples", n_samples, 2)
    ss = as_seed_sequence(seed)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    cv = _cv_kind(control_variates)
    R = as_count("scrambles", scrambles, 2)
    batch = default_batch_size(mlp.d, mlp.m) if batch_size is None else as_count("batch_size", batch_size, 1)
    batch = min(batch, rng_block_rows(mlp.d))
    thr = np.atleast_1d(np.asarray([] if thresholds is None else thresholds, dtype=np.float64))
    if thr.ndim != 1 or not np.all(np.isfinite(thr)):
        raise ValueError("thresholds must be a finite scalar or 1-d sequence")
    if thr.size and (method != "plain" or cv != "none"):
        raise ValueError("thresholds need method='plain' without control variates")
    if method == "sobol":
        check_sobol_dimension(mlp.d)
    start = time.perf_counter()
    engine = make_backend(backend, mlp, device)
    if method == "plain" and cv == "none":
        return _plain(mlp, engine, ss, n, batch, thr, progress, max_seconds, start)
    return _replicated(mlp, engine, ss, n, method, cv, R, batch, progress, max_seconds, start)


def _plain(mlp: TwoLayerMLP, engine: Any, ss: np.random.SeedSequence, n: int, batch: int, thr: np.ndarray,
           progress: bool | None, max_seconds: float | None, start: float) -> Estimate:
    parts = sampling_flops(mlp, n, "plain")
    seconds, show = prepare_run(engine, ss, n, batch, parts["total"], max_seconds, progress, "monte_carlo")
    bar = progress_bar(show, n, "monte_carlo")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite sums are caught below
            sums, f_shift, y_shift = plain_sums(engine, ss, n, batch, min(MAX_GROUPS, n), thr, bar)
    finally:
        if bar is not None:
            bar.close()
    out = plain_summary(sums, f_shift, y_shift, n, thr)
    details = {**out["details"], "n_samples": n, "seed": seed_label(ss), "backend": engine.name,
               "device": str(engine.device), "batch_size": batch, "rng_block": rng_block_rows(mlp.d),
               "method": "plain", "scrambles": None, "control_variates": "none", "flops_parts": parts,
               "flop_conventions": parts["conventions"], "expected_seconds": seconds}
    return Estimate(value=out["value"], method="monte_carlo", stderr=out["stderr"], flops=parts["total"],
                    flops_with_advice=parts["total"], wall_time=time.perf_counter() - start, kappa=out["kappa"],
                    details=details)


def _replicated(mlp: TwoLayerMLP, engine: Any, ss: np.random.SeedSequence, n: int, method: str, cv: str, R: int,
                batch: int, progress: bool | None, max_seconds: float | None, start: float) -> Estimate:
    if method == "sobol":
        n_per, note = sobol_plan(n, R)
    else:
        n_per = -(-n // R)
        note = None if n_per * R == n else f"n_samples = {n} rounded up to {R} groups x {n_per} = {n_per * R}"
    total = n_per * R
    k1 = exact_mean_f(mlp) if cv != "none" else 0.0
    setup = exact_mean_flops(mlp) if cv != "none" else 0.0
    var = exact_variance(mlp) if cv == "quadratic" else None
    if var is not None:
        setup += var["flops"]
    n_controls = {"none": 0, "linear": 1, "quadratic": 2}[cv]
    parts = sampling_flops(mlp, total, method, R, n_controls, 1, setup)
    seconds, show = prepare_run(engine, ss, total, batch, parts["total"], max_seconds, progress, "monte_carlo")
    k2 = var["value"] if var is not None else 0.0
    psi = mlp.output.value

    def controls(f: Any) -> list[Any]:
        if cv == "none":
            return []
        z = f - k1
        return [z] if cv == "linear" else [z, z * z - k2]

    bar = progress_bar(show, total, f"monte_carlo ({method})")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            stats, shift = replicate_sums(engine, method, ss, n_per, R, batch, lambda f: [psi(f)], controls, bar)
    finally:
        if bar is not None:
            bar.close()
    res = cv_combine(stats, shift)
    rep = res["replicate"][:, 0]
    if method == "sobol":
        stderr = float(np.std(rep, ddof=1) / np.sqrt(R))
    else:
        stderr = float(np.sqrt(res["resid_var"][0] / total))
    kappa = {1: k1, 2: k2} if cv == "quadratic" else ({1: k1} if cv == "linear" else {})
    details = {"method": method, "scrambles": R, "control_variates": cv, "n_samples": total, "n_requested": n,
               "n_per_scramble": n_per, "note": note, "replicate_values": rep.tolist(), "stderr_dof": R - 1,
               "plain_value": float(res["plain"][0]), "y_var": float(res["var_y"][0]),
               "residual_var": float(res["resid_var"][0]), "cv_beta": res["beta"][0].tolist(),
               "kappa2_tail_bound": var["tail_bound"] if var is not None else None,
               "seed": seed_label(ss), "backend": engine.name, "device": str(engine.device), "batch_size": batch,
               "flops_parts": parts, "flop_conventions": parts["conventions"], "expected_seconds": seconds}
    return Estimate(value=float(res["value"][0]), method="rqmc" if method == "sobol" else "monte_carlo",
                    stderr=stderr, flops=parts["total"], flops_with_advice=parts["total"],
                    wall_time=time.perf_counter() - start, kappa=kappa, details=details)


@dataclass(frozen=True)
class TailProbabilityMC:
    """Monte Carlo tail probabilities ``P(f > t)``.

    Attributes
    ----------
    thresholds, probability, stderr : ndarray (T,)
        ``stderr = sqrt(p (1 - p) / N)`` (binomial).  A zero count means only that
        ``P(f > t) < 3/N`` at 95% confidence (rule of three), not that it is 0.
    count : ndarray (T,) of int
    n_samples : int
    estimate : Estimate
        The full Monte Carlo result the probabilities came from.
    """

    thresholds: np.ndarray
    probability: np.ndarray
    stderr: np.ndarray
    count: np.ndarray
    n_samples: int
    estimate: Estimate


def tail_probability_mc(mlp: Any, thresholds: Any, n_samples: int, seed: Any = 0, **kwargs: Any) -> TailProbabilityMC:
    """``P(f > t)`` for each threshold by plain Monte Carlo (see :func:`monte_carlo`; extra keyword
    arguments such as ``backend`` and ``batch_size`` are passed on).  Cost as monte_carlo."""
    if thresholds is None or np.size(thresholds) == 0:
        raise ValueError("tail_probability_mc needs at least one threshold")
    est = monte_carlo(mlp, n_samples, seed=seed, thresholds=thresholds, **kwargs)
    tail = est.details["tail"]
    return TailProbabilityMC(thresholds=tail["thresholds"], probability=tail["probability"], stderr=tail["stderr"],
                             count=tail["count"], n_samples=est.details["n_samples"], estimate=est)
