"""Foundation benchmark: shin tensors vs Monte Carlo on one model, and zoo training time.

Measures, in one run and on one model (``zoo.random_mlp(d, m, "relu", seed=0)``):

* ``shinnet.shin_tensors(mlp, K)`` wall time (best of ``--repeats``) and its ``build_flops``;
* ``shinnet.monte_carlo(mlp, N)`` wall time with the numpy and the torch backend (torch on CUDA
  when available) and its FLOP count ``N * mlp.flops_per_sample()``;
* ``zoo.trained_mlp(16, 4096, "product")`` wall time, with torch's default thread count and
  with one thread.

Usage::

    python benchmarks/bench_foundation.py                 # d=16, m=65536, K=8, N=1e6
    python benchmarks/bench_foundation.py --samples 1e5   # quicker

Prints a Markdown table (paste into docs/benchmarks.md).  Timings are wall-clock seconds on
whatever machine runs it; only ratios within one run are comparable.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

import shinnet
from shinnet import zoo


def _best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def zoo_table(m: int, n: int) -> None:
    """Fit, held-out MSE and the shape of f (Monte Carlo skewness / excess kurtosis) per target."""
    print(f"zoo.trained_mlp(16, {m}, target, seed=0) (default settings, 1 torch thread); f shape from monte_carlo(N={n:.0e})\n")
    print("| target | train time (s) | final MSE | target var | skewness of f | excess kurtosis of f |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    models = [("random (random_mlp)", zoo.random_mlp(16, m, seed=0), None, None)]
    for target in zoo.TARGETS:
        t0 = time.perf_counter()
        mlp, info = zoo.trained_mlp(16, m, target, seed=0, num_threads=1, return_info=True)
        models.append((target, mlp, time.perf_counter() - t0, info))
    for name, mlp, wall, info in models:
        est = shinnet.monte_carlo(mlp, n, seed=1)
        sk, ku = est.details["f_skewness"], est.details["f_excess_kurtosis"]
        se = est.details["kappa_stderr"]
        k2 = est.kappa[2]
        fit = (f"{wall:.1f} | {info['final_mse']:.4f} | {info['target_var']:.3f}" if info else "- | - | -")
        print(f"| {name} | {fit} | {sk:.3f} +- {se[3] / k2**1.5:.3f} | {ku:.3f} +- {se[4] / k2**2:.3f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--m", type=int, default=65_536)
    parser.add_argument("--K", type=int, default=8)
    parser.add_argument("--samples", type=float, default=1e6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-m", type=int, default=4096)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--zoo-table", action="store_true", help="only print the zoo shape table")
    args = parser.parse_args(argv)
    n = int(args.samples)
    if args.zoo_table:
        zoo_table(args.train_m, n)
        return

    mlp = zoo.random_mlp(args.d, args.m, hidden="relu", seed=0)
    rows = []
    t_shin, shin = _best_time(lambda: shinnet.shin_tensors(mlp, args.K), args.repeats)
    rows.append((f"shin_tensors(mlp, {args.K})", t_shin, float(shin.build_flops), ""))
    for backend in ("numpy", "torch"):
        t0 = time.perf_counter()
        est = shinnet.monte_carlo(mlp, n, seed=0, backend=backend)
        wall = time.perf_counter() - t0
        note = f"device={est.details['device']}, batch={est.details['batch_size']}, E[f]={est.value:.5f}+-{est.stderr:.1g}"
        rows.append((f"monte_carlo(mlp, {n:.0e}) [{backend}]", wall, est.flops, note))
    if not args.skip_train:
        for threads in (None, 1):
            t0 = time.perf_counter()
            _, info = zoo.trained_mlp(16, args.train_m, "product", seed=0, num_threads=threads, return_info=True)
            wall = time.perf_counter() - t0
            label = f"trained_mlp(16, {args.train_m}, 'product') [threads={threads or torch.get_num_threads()}]"
            note = f"final MSE {info['final_mse']:.4f} / target var {info['target_var']:.3f}"
            rows.append((label, wall, float("nan"), note))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"cuda={torch.cuda.is_available()}; load average {os.getloadavg()[0]:.1f}")
    print(f"model: random_mlp(d={args.d}, m={args.m}, relu, seed=0)\n")
    print("| what | wall time (s) | FLOPs | notes |")
    print("| --- | ---: | ---: | --- |")
    for label, wall, flops, note in rows:
        print(f"| {label} | {wall:.3f} | {flops:.3g} | {note} |")
    mc = [r for r in rows if r[0].startswith("monte_carlo")]
    for label, wall, _, _ in mc:
        print(f"\nratio {label} / shin_tensors: {wall / t_shin:.0f}x")


if __name__ == "__main__":
    main()
