"""Ground truth by randomized QMC with control variates (MATH.md section 10), cached on disk.

Cheaper than :mod:`shinnet.study.groundtruth`'s Monte Carlo at equal precision: scrambled Sobol
points (``R = 16`` scrambles, so the standard error has 15 degrees of freedom) with the control
variates ``z_1 = f - kappa_1`` and, for ``m <= quadratic_max_m``, ``z_2 = (f - kappa_1)^2 - kappa_2``
(exact moments from :mod:`shinnet.sampling.control`; leave-one-scramble-out coefficients keep the
estimate unbiased).  One pass serves every output psi.

Sample size: start at ``pilot`` points; while the worst output's standard error s exceeds the
target, multiply the points by ``(s / target)^2`` (the Monte Carlo rate, conservative for RQMC,
whose error falls faster), clipped to [2, 16], rounded up to a power of two per scramble and
capped at ``max_samples``.  Every run uses the same scrambles (the first n points of each), so the
result is a deterministic function of (model, seed, target, cap).  Records are :class:`~shinnet.study.groundtruth.GroundTruth` (``kappa`` holds the
exact kappa_1 and, when computed, kappa_2; ``plain_value``/``plain_stderr`` are RQMC without
control variates; ``var_y`` the per-point variance of psi, which sets Monte Carlo's MSE), cached
like the Monte Carlo ones under a fingerprint tagged ``rqmc``.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any, Sequence

import numpy as np

from shinnet import activations
from shinnet.model import TwoLayerMLP
from shinnet.sampling.backends import default_batch_size, make_backend
from shinnet.sampling.control import cv_combine, exact_mean_f, exact_variance
from shinnet.sampling.inputs import as_seed_sequence
from shinnet.sampling.replicates import replicate_sums
from shinnet.sampling.sobol import check_sobol_dimension, sobol_plan
from shinnet.study.groundtruth import GroundTruth, cached_truths, _resolve_cache_dir, _write, cache_path, model_fingerprint

__all__ = ["rqmc_ground_truths", "rqmc_fingerprint", "RQMC_SCRAMBLES", "QUADRATIC_CV_MAX_M"]

RQMC_SCRAMBLES = 16
#: above this width the quadratic control variate's exact kappa_2 (O(m^2 (d + K))) is skipped
QUADRATIC_CV_MAX_M = 8192
_TAG = "rqmc-v1"


def rqmc_fingerprint(mlp: TwoLayerMLP, output: Any) -> str:
    """:func:`~shinnet.study.groundtruth.model_fingerprint` tagged with the RQMC format."""
    return hashlib.sha256(f"{model_fingerprint(mlp, output)}|{_TAG}".encode()).hexdigest()


def _run(engine: Any, outs: Sequence[Any], ss: np.random.SeedSequence, n_per: int, R: int, batch: int,
         k1: float, k2: float | None, progress: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    def responses(f: Any) -> list[Any]:
        return [o.value(f) for o in outs]

    def controls(f: Any) -> list[Any]:
        z = f - k1
        return [z] if k2 is None else [z, z * z - k2]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_per * R, unit="sample", unit_scale=True, desc="ground truth (RQMC)", leave=False)
    try:
        stats, shift = replicate_sums(engine, "sobol", ss, n_per, R, batch, responses, controls, bar)
    finally:
        if bar is not None:
            bar.close()
    res = cv_combine(stats, shift)
    res["plain_replicate"] = stats["sy"] / stats["n"][:, None] + shift
    return stats, res


def rqmc_ground_truths(
    mlp: TwoLayerMLP,
    outputs: Sequence[Any] | None = None,
    target_stderr: float = 1e-4,
    seed: int = 12345,
    cache_dir: Any = None,
    max_samples: int = 2**22,
    pilot: int = 2**12,
    scrambles: int = RQMC_SCRAMBLES,
    quadratic_max_m: int = QUADRATIC_CV_MAX_M,
    use_cache: bool = True,
    refresh: bool = False,
    progress: bool = False,
) -> dict[str, GroundTruth]:
    """RQMC + control-variate references of ``E[psi(f)]`` for several outputs (module docstring).

    Cost: at most ``4/3 N * mlp.flops_per_sample()`` over the doubling runs (N the final points)
    plus ``exact_variance`` when ``m <= quadratic_max_m``.
    """
    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"mlp must be a TwoLayerMLP, got {type(mlp).__name__}")
    if not (np.isfinite(target_stderr) and target_stderr > 0):
        raise ValueError(f"target_stderr must be positive and finite, got {target_stderr!r}")
    check_sobol_dimension(mlp.d)
    outs = [activations.get(o) for o in (outputs if outputs is not None else [mlp.output])]
    names = [o.name for o in outs]
    prints = [rqmc_fingerprint(mlp, o) for o in outs]
    root = _resolve_cache_dir(cache_dir) if use_cache else None
    found = cached_truths(root, names, prints, seed, None, target_stderr, max_samples) if not refresh else {}
    todo = [i for i, name in enumerate(names) if name not in found]
    if not todo:
        return {name: found[name] for name in names}
    sub = [outs[i] for i in todo]
    engine = make_backend("numpy", mlp, None)
    batch = default_batch_size(mlp.d, mlp.m)
    k1 = exact_mean_f(mlp)
    k2 = float(exact_variance(mlp)["value"]) if mlp.m <= quadratic_max_m else None
    ss = as_seed_sequence(int(seed))
    start = time.perf_counter()
    cap = max(2, 1 << (max(max_samples // scrambles, 2).bit_length() - 1))  # points per scramble
    n_per = min(sobol_plan(pilot, scrambles)[0], cap)
    while True:
        _, res = _run(engine, sub, ss, n_per, scrambles, batch, k1, k2, progress)
        worst = float(np.max(np.std(res["replicate"], axis=0, ddof=1) / math.sqrt(scrambles) / target_stderr))
        if worst <= 1.0 or n_per >= cap:
            break
        grow = min(16.0, max(2.0, worst**2))
        n_per = min(cap, sobol_plan(int(math.ceil(n_per * scrambles * grow)), scrambles)[0])
    wall = time.perf_counter() - start
    kappa = {1: k1} if k2 is None else {1: k1, 2: k2}
    for t, j in enumerate(todo):
        rep, plain = res["replicate"][:, t], res["plain_replicate"][:, t]
        rec = GroundTruth(
            value=float(rep.mean()), stderr=float(np.std(rep, ddof=1) / math.sqrt(scrambles)),
            plain_value=float(plain.mean()), plain_stderr=float(np.std(plain, ddof=1) / math.sqrt(scrambles)),
            var_y=float(res["var_y"][t]), kappa=kappa, kappa_stderr={n: 0.0 for n in kappa},
            n_samples=n_per * scrambles, seed=int(seed), fingerprint=prints[j], output=names[j], mean_f_exact=k1,
            wall_time=wall,
        )
        if root is not None:
            _write(cache_path(root, prints[j], seed), rec)
        found[names[j]] = rec
    return {name: found[name] for name in names}
