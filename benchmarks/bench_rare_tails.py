"""Rare-event tails: shinnet.tails.tail_probability against importance sampling and Monte Carlo at equal FLOPs.

Usage: python benchmarks/bench_rare_tails.py [--m 128] [--levels 1e-2 1e-4 1e-6 1e-8] [--ref-samples 200000]

For each model: thresholds t_p with P(f > t_p) ~ p (located by a pilot of mixture importance
sampling on a grid of t, log-linear interpolation); reference = mixture importance sampling
(dominating points of t_p) with ``--ref-samples`` samples, seed 1000; then tail_probability
(auto), its saddlepoint candidate, importance sampling with the FLOPs tail_probability spent
(seed 7) and plain Monte Carlo with those FLOPs (seed 11).  Prints markdown tables.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from shinnet import zoo
from shinnet.tails import dominating_points, importance_sampling, tail_probability


def plain_mc(mlp, t: float, n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits, done, rows = 0, 0, max(1, (1 << 22) // (mlp.d + mlp.m))
    while done < n:
        k = min(rows, n - done)
        hits += int(np.sum(mlp.preactivation(rng.standard_normal((k, mlp.d))) > t))
        done += k
    return hits / n


def thresholds(mlp, levels: np.ndarray) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((20000, mlp.d))
    f = mlp.preactivation(x)
    mu, sd = float(f.mean()), float(f.std())
    grid = mu + sd * np.linspace(1.0, 9.0, 17)
    pil = importance_sampling(mlp, grid, 4000, seed=99)
    lp = np.log(np.maximum(np.asarray(pil.value), 1e-300))
    ok = np.asarray(pil.value) > 0
    return np.interp(-np.log(levels), -lp[ok], grid[ok])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=128)
    ap.add_argument("--levels", type=float, nargs="+", default=[1e-2, 1e-4, 1e-6, 1e-8])
    ap.add_argument("--ref-samples", type=int, default=200000)
    ap.add_argument("--models", nargs="+", default=["random16", "random32", "max16", "teacher32"])
    args = ap.parse_args()
    m = args.m
    builders = {
        "random16": lambda: zoo.random_mlp(16, m, seed=1, bias_scale=0.5, c=0.2),
        "random32": lambda: zoo.random_mlp(32, m, seed=2, bias_scale=0.5, c=0.2),
        "max16": lambda: zoo.trained_mlp(16, m, "max", steps=200, seed=0, bias_scale=0.5),
        "teacher32": lambda: zoo.trained_mlp(32, m, "teacher", steps=200, seed=0, bias_scale=0.5),
        "relu_shift16": lambda: zoo.trained_mlp(16, m, "relu_shift", steps=200, seed=0, bias_scale=0.5),
    }
    levels = np.array(args.levels)
    for name in args.models:
        t0 = time.perf_counter()
        mlp = builders[name]()
        t = thresholds(mlp, levels)
        ref = importance_sampling(mlp, t, args.ref_samples, seed=1000)
        print(f"\n### {name}: d = {mlp.d}, m = {mlp.m}, relu; reference = mixture IS, {args.ref_samples} samples/level\n")
        print("| target p | t | reference +- s.e. | shinnet (method) | rel. err | budget/value | flagged | "
              "FLOPs | saddlepoint rel. err | IS @ equal FLOPs rel. err | MC @ equal FLOPs: N, rel. err |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for i, tv in enumerate(t):
            r, se = float(ref.value[i]), float(ref.stderr[i])
            est = tail_probability(mlp, float(tv))
            p = float(est.value)
            flops = est.flops
            sp = est.details["candidates"].get("saddlepoint")
            sp_err = f"{float(sp[0]) / r - 1:+.2f}" if sp is not None else "-"
            dps = dominating_points(mlp, float(tv), seed=7)
            per = mlp.flops_per_sample() + 2.0 * mlp.d * len(dps)
            n_is = max(2, int((flops - dps[0].flops) / per))
            is_eq = importance_sampling(mlp, float(tv), n_is, seed=7)
            n_mc = int(flops / mlp.flops_per_sample())
            mc = plain_mc(mlp, float(tv), min(n_mc, 4 * 10**6), seed=11) if n_mc <= 4 * 10**6 else None
            mc_txt = f"{n_mc:.2g}, {mc / r - 1:+.2f}" if mc is not None else f"{n_mc:.2g}, (expected {1 / np.sqrt(n_mc * r):.2g})"
            print(f"| {levels[i]:.0e} | {tv:.4g} | {r:.3e} +- {se / r:.1%} | {p:.3e} ({est.details['method'][0]}) | "
                  f"{p / r - 1:+.2f} | {float(est.error) / max(p, 1e-300):.2f} | {bool(est.details['unreliable'][0])} | "
                  f"{flops:.2g} | {sp_err} | {float(is_eq.value) / r - 1:+.2f} (N = {n_is}) | {mc_txt} |", flush=True)
        print(f"\n({time.perf_counter() - t0:.0f} s for this model)")


if __name__ == "__main__":
    main()
