"""Tail probabilities P(f > mu + z s) from mechanistic cumulants against Monte Carlo.

Usage: python benchmarks/bench_tails.py [--samples 1e7]

Prints a markdown table: z, the Edgeworth and saddlepoint values, the method "auto" picks, the
Monte Carlo estimate with its binomial standard error, and the relative error of "auto".
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import shinnet
from shinnet import series, zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=1e7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = {
        "erf d=8 m=256 ws=0.5 (platykurtic)": zoo.random_mlp(8, 256, hidden="erf", seed=2, bias_scale=0.5, weight_scale=0.5),
        "trained relu_shift d=8 m=256 (skewed)": zoo.trained_mlp(8, 256, "relu_shift", seed=0, hidden="erf"),
    }
    n = int(args.samples)
    print(f"Monte Carlo: {n:.0e} samples of f per model; mechanistic cumulants at N = 6, K = 4.\n")
    print("| model | z | Edgeworth | saddlepoint | auto (method) | Monte Carlo +- s.e. | rel. error of auto |")
    print("|---|---|---|---|---|---|---|")
    for name, mlp in models.items():
        rng = np.random.default_rng(args.seed)
        f = np.concatenate([mlp.preactivation(rng.standard_normal((200_000, mlp.d))) for _ in range(n // 200_000)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = shinnet.estimate(mlp, order=6, max_degree=4, warn=False).kappa
            for z in (2.0, 3.0, 4.0):
                t = kappa[1] + z * np.sqrt(kappa[2])
                p = series.tail_probability(kappa, t)
                p_mc = float(np.mean(f > t))
                se = float(np.sqrt(max(p_mc * (1 - p_mc), 1 / f.size) / f.size))
                rel = abs(float(p) - p_mc) / p_mc if p_mc > 0 else float("inf")
                sp = "none" if p.saddlepoint is None else f"{p.saddlepoint:.3e}"
                print(f"| {name} | {z:g} | {p.edgeworth:.3e} | {sp} | {float(p):.3e} ({p.method}) | "
                      f"{p_mc:.3e} +- {se:.1e} | {rel:.2f} |")


if __name__ == "__main__":
    main()
