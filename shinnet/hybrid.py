"""The hybrid estimator: mechanistic ``E[g(f)]`` plus randomized QMC on ``psi(f) - g(f)`` (MATH.md sections 6, 10).

With exact ``mu = kappa_1`` and ``s^2 = kappa_2`` (:mod:`shinnet.sampling.control`), let ``g`` be
psi's Hermite projection around the Gaussian ``N(mu, s^2)`` up to degree D:

    g(f) = sum_{k=0}^{D} c_k He_k((f - mu)/s),      c_k = E[psi(mu + s Z) He_k(Z)] / k!

Then, for ``zeta = (f - mu)/s``: ``E[He_0] = 1``, ``E[He_1(zeta)] = 0``, ``E[He_2(zeta)] = 0``
(``E zeta^2 = 1`` exactly), ``E[He_3(zeta)] = kappa_3/s^3`` and ``E[He_4(zeta)] = kappa_4/s^4``, so

    E[psi(f)] = c_0 + c_3 kappa_3/s^3 + c_4 kappa_4/s^4 + E[psi(f) - g(f)]

(the first terms are the Gaussian value ``g(mu)`` and section 6's first corrections).  The
residual's mean is estimated by RQMC (or plain Monte Carlo) with R replicates.  With D = 2 the
mechanistic part is exact and the estimator is unbiased; with D = 3, 4 it uses the engine's
``kappa_3``, ``kappa_4`` (truncated: their last partial-sum change times ``|c_k|/s^k`` is reported
as ``error_budget["cumulant_truncation"]``).  D = 2 is a control-variate estimator with *fixed*
coefficients (the Gaussian projection), so regression control variates on ``z_1, z_2`` reach at
least its variance asymptotically; the hybrid's gain over RQMC + CV can only come from D >= 3.
"""

from __future__ import annotations

import time
from math import factorial, sqrt
from typing import Any, Mapping

import numpy as np

from shinnet.result import Estimate
from shinnet.sampling.api import prepare_run, progress_bar
from shinnet.sampling.backends import default_batch_size, make_backend, rng_block_rows
from shinnet.sampling.control import cv_combine, exact_mean_f, exact_mean_flops, exact_variance
from shinnet.sampling.flops import sampling_flops
from shinnet.sampling.inputs import DEFAULT_MAX_SECONDS, as_count, as_mlp, as_seed_sequence, seed_label
from shinnet.sampling.replicates import replicate_sums
from shinnet.sampling.sobol import check_sobol_dimension, sobol_plan

__all__ = ["hybrid", "hermite_projection", "HERMITE_POINT_FLOPS"]

#: evaluating ``g`` at one point: the Hermite recursion and the sum, 3 FLOPs per degree
HERMITE_POINT_FLOPS = 3.0


def hermite_projection(psi: Any, mu: float, s: float, degree: int) -> np.ndarray:
    """``c_k = E[psi(mu + s Z) He_k(Z)] / k!`` for k = 0..degree (1-d Gaussian integrals of psi)."""
    gam = psi.hermite_coefficients(degree, np.array([s]), np.array([mu]))[0]
    return np.array([gam[k] / factorial(k) for k in range(degree + 1)])


def _g_values(f: Any, c: np.ndarray, mu: float, s: float) -> Any:
    """``sum_k c_k He_k((f - mu)/s)`` by the three-term recursion (numpy or torch)."""
    z = (f - mu) / s
    prev, cur = 1.0 + 0.0 * z, z
    out = c[0] * prev + (c[1] * cur if c.size > 1 else 0.0 * z)
    for k in range(2, c.size):
        prev, cur = cur, z * cur - (k - 1) * prev
        out = out + c[k] * cur
    return out


def _higher_cumulants(mlp: Any, degree: int, kappa: Mapping[int, float] | None, kappa_flops: float,
                      max_degree: int) -> tuple[dict[int, float], float, dict[int, float]]:
    """kappa_3.. kappa_degree: given, or from ``shinnet.cumulants`` (FLOPs incl. building the shin tensors)."""
    if degree <= 2:
        return {}, 0.0, {}
    if kappa is not None:
        missing = [n for n in range(3, degree + 1) if n not in kappa]
        if missing:
            raise ValueError(f"kappa must hold kappa_3..kappa_{degree}; missing {missing}")
        return {n: float(kappa[n]) for n in range(3, degree + 1)}, float(kappa_flops), {}
    from shinnet.expansions import cumulants  # lazy: cotengra stack, not on import shinnet

    res = cumulants(mlp, degree, max_degree, warn=False)
    moved = {n: (abs(float(res.partial_sums[n][-1]) - float(res.partial_sums[n][-2]))
                 if len(res.partial_sums.get(n, ())) >= 2 else 0.0) for n in range(3, degree + 1)}
    return ({n: float(res.kappa[n]) for n in range(3, degree + 1)}, float(res.flops) + float(res.build_flops), moved)


def hybrid(
    mlp: Any,
    n_samples: int,
    seed: Any = 0,
    degree: int = 2,
    method: str = "sobol",
    scrambles: int = 8,
    control_variates: bool = False,
    kappa: Mapping[int, float] | None = None,
    kappa_flops: float = 0.0,
    max_degree: int = 4,
    batch_size: int | None = None,
    backend: str = "numpy",
    device: Any = None,
    progress: bool | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> Estimate:
    """Hybrid estimate of ``E[psi(f)]``: exact ``E[g(f)]`` plus sampling of ``psi(f) - g(f)`` (module docstring).

    Parameters
    ----------
    mlp : TwoLayerMLP or torch nn.Sequential
    n_samples, seed, method, scrambles, batch_size, backend, device, progress, max_seconds
        As :func:`shinnet.monte_carlo` (``method="sobol"`` by default; points rounded up per scramble).
    degree : {2, 3, 4}
        Degree D of g.  2: unbiased (needs only the exact kappa_1, kappa_2).  3, 4: also
        ``kappa_3``, ``kappa_4`` (from ``kappa``, else ``shinnet.cumulants(mlp, D, max_degree)``).
    control_variates : bool
        Also regress the residual on ``z_1 = f - mu`` and ``z_2 = (f - mu)^2 - s^2``
        (leave-one-replicate-out coefficients; unbiased).
    kappa, kappa_flops : optional
        Precomputed ``{3: kappa_3, 4: kappa_4}`` and the FLOPs they cost (charged).
    max_degree : int
        Hermite degree K of the engine call when ``kappa`` is not given.

    Returns
    -------
    Estimate
        ``method = "hybrid"``; ``stderr`` from the residual (R - 1 dof for Sobol); ``flops =
        flops_with_advice`` include the exact moments, the cumulants and the sampling
        (:func:`~shinnet.sampling.flops.sampling_flops`); ``details``: ``degree``, ``coefficients``,
        ``mechanistic`` (E[g]), ``residual`` (its estimate), ``rqmc_value``/``rqmc_stderr`` (plain
        RQMC of psi on the same points), ``variance_ratio`` (residual over psi replicate
        variance), ``method``, ``scrambles``, ``note``, ``kappa2_tail_bound``, ``flops_parts``.

    Cost: ``exact_variance`` (``2 m^2 d + m^2 (3K + 3)``) + N forward passes + the engine call for D > 2.
    """
    start = time.perf_counter()
    mlp = as_mlp(mlp)
    n = as_count("n_samples", n_samples, 2)
    ss = as_seed_sequence(seed)
    if degree not in (2, 3, 4):
        raise ValueError(f"degree must be 2, 3 or 4, got {degree!r}")
    if method not in ("plain", "sobol"):
        raise ValueError(f"unknown method {method!r}; choose 'plain' or 'sobol'")
    R = as_count("scrambles", scrambles, 2)
    batch = default_batch_size(mlp.d, mlp.m) if batch_size is None else as_count("batch_size", batch_size, 1)
    batch = min(batch, rng_block_rows(mlp.d))
    if method == "sobol":
        check_sobol_dimension(mlp.d)
        n_per, note = sobol_plan(n, R)
    else:
        n_per = -(-n // R)
        note = None if n_per * R == n else f"n_samples = {n} rounded up to {R} groups x {n_per}"
    engine = make_backend(backend, mlp, device)
    mu = exact_mean_f(mlp)
    var = exact_variance(mlp)
    s2 = float(var["value"])
    higher, higher_flops, moved = _higher_cumulants(mlp, degree, kappa, kappa_flops, max_degree)
    setup = exact_mean_flops(mlp) + var["flops"] + higher_flops
    total = n_per * R
    n_controls = 2 if control_variates else 0
    parts = sampling_flops(mlp, total, method, R, n_controls, 1, setup, per_point_flops=HERMITE_POINT_FLOPS * degree)
    if s2 <= 0.0:  # f is constant: E[psi(f)] = psi(mu) exactly
        value = float(np.asarray(mlp.output.value(np.array([mu])))[0])
        return Estimate(value=value, method="hybrid", stderr=0.0, flops=setup, flops_with_advice=setup,
                        wall_time=time.perf_counter() - start, kappa={1: mu, 2: 0.0},
                        details={"degree": degree, "note": "f is constant (Var f = 0): psi(kappa_1) is exact"})
    s = sqrt(s2)
    c = hermite_projection(mlp.output, mu, s, degree)
    mech = float(c[0] + sum(c[k] * higher[k] / s**k for k in range(3, degree + 1)))
    seconds, show = prepare_run(engine, ss, total, batch, parts["total"], max_seconds, progress, "hybrid")
    psi = mlp.output.value

    def responses(f: Any) -> list[Any]:
        y = psi(f)
        return [y - _g_values(f, c, mu, s), y]

    def controls(f: Any) -> list[Any]:
        if not control_variates:
            return []
        z = f - mu
        return [z, z * z - s2]

    bar = progress_bar(show, total, f"hybrid ({method})")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            stats, shift = replicate_sums(engine, method, ss, n_per, R, batch, responses, controls, bar)
    finally:
        if bar is not None:
            bar.close()
    res = cv_combine(stats, shift)
    rep = res["replicate"]  # (R, 2): residual, psi
    if method == "sobol":
        se = np.std(rep, axis=0, ddof=1) / sqrt(R)
    else:
        se = np.sqrt(res["resid_var"] / total)
    plain_rqmc = stats["sy"][:, 1] / stats["n"] + shift[1]
    rqmc_se = float(np.std(plain_rqmc, ddof=1) / sqrt(R)) if method == "sobol" else float(np.sqrt(res["var_y"][1] / total))
    budget = {"cumulant_truncation": float(sum(abs(c[k]) * moved.get(k, 0.0) / s**k for k in range(3, degree + 1)))}
    details = {"degree": degree, "coefficients": c.tolist(), "mechanistic": mech, "residual": float(res["value"][0]),
               "rqmc_value": float(plain_rqmc.mean()), "rqmc_stderr": rqmc_se,
               "variance_ratio": float(se[0] ** 2 / rqmc_se**2) if rqmc_se > 0 else float("nan"),
               "method": method, "scrambles": R, "control_variates": bool(control_variates), "n_samples": total,
               "n_requested": n, "n_per_scramble": n_per, "note": note, "kappa2_tail_bound": var["tail_bound"],
               "replicate_values": (rep[:, 0] + mech).tolist(), "seed": seed_label(ss), "backend": engine.name,
               "flops_parts": parts, "flop_conventions": parts["conventions"], "expected_seconds": seconds}
    return Estimate(value=mech + float(res["value"][0]), method="hybrid", stderr=float(se[0]),
                    error_budget=budget if degree > 2 else {}, flops=parts["total"], flops_with_advice=parts["total"],
                    wall_time=time.perf_counter() - start, kappa={1: mu, 2: s2, **higher}, details=details)
