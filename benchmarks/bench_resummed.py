"""Resummed (MATH.md section 8) against degree (section 3) expansion against Monte Carlo:
kappa_2..kappa_N per case, partial sums over E and over K, the lambda* diagnostic, and the
Euler re-expansion of the E-series.

Run:  python benchmarks/bench_resummed.py [--cases NAME ...] [--order 5] [--max-edges 5]
          [--max-degree 6] [--samples 1000000]
Prints a markdown section (the one appended to docs/benchmarks.md).  Case names are
``d{d}-m{m}-{act}-{random|trained}``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import shinnet
from shinnet.contract import ConvergenceWarning
from shinnet.zoo import random_mlp, trained_mlp

DEFAULT_CASES = ["d16-m1000-relu-random", "d16-m1000-tanh-random", "d32-m1000-relu-random",
                 "d16-m1000-relu-trained", "d16-m4096-relu-random"]


def build(case: str):
    d, m, act, kind = case.split("-")
    d, m = int(d[1:]), int(m[1:])
    if kind == "random":
        return random_mlp(d, m, hidden=act, seed=0, bias_scale=0.3)
    return trained_mlp(d, m, "teacher", steps=300, seed=0, hidden=act, bias_scale=0.3)


def fmt(x: float) -> str:
    return f"{x:.5g}"


def run_case(case: str, order: int, max_edges: int, max_degree: int, samples: int) -> list[str]:
    mlp = build(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        res = shinnet.cumulants(mlp, order, expansion="resummed", max_edges=max_edges)
        t_r = time.perf_counter() - t0
        t0 = time.perf_counter()
        for K in range(max_degree, 1, -1):  # the degree engine refuses some K = 6 diagrams at m = 1000
            try:
                deg = shinnet.cumulants(mlp, order, K)
                break
            except MemoryError:
                continue
        t_d = time.perf_counter() - t0
    t0 = time.perf_counter()
    mc = shinnet.monte_carlo(mlp, samples, seed=1)
    t_mc = time.perf_counter() - t0
    se = mc.details["kappa_stderr"]
    lam = res.settings["lambda_star"]
    out = [f"#### {case}", "",
           f"lambda* (greedy, sets of 2..{order} units): " + ", ".join(f"{s}: {v:.3g}" for s, v in lam.items())
           + f"; resummed {t_r:.1f} s, {res.flops:.3g} FLOPs; degree {t_d:.1f} s, {deg.flops:.3g} FLOPs; "
           f"MC {samples:.0e} samples {t_mc:.1f} s", "",
           "| n | MC +- se | resummed E=0.." + str(max_edges) + " | best (E*) | Euler | degree K=2.." + str(max_degree)
           + f" (reached {K}) |", "| --- | --- | --- | --- | --- | --- |"]
    for n in range(2, order + 1):
        rep = res.convergence[n]
        eul = fmt(rep.euler[-1]) if rep.euler else "-"
        out.append(f"| {n} | {fmt(mc.kappa[n])} +- {se[n]:.2g} | " + " / ".join(fmt(v) for v in res.partial_sums[n])
                   + f" | {fmt(rep.best_value)} ({rep.best_edges}) | {eul} | "
                   + " / ".join(fmt(v) for v in deg.partial_sums[n]) + " |")
    return out + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=DEFAULT_CASES)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--max-edges", type=int, default=5)
    ap.add_argument("--max-degree", type=int, default=6)
    ap.add_argument("--samples", type=float, default=1e6)
    args = ap.parse_args()
    for case in args.cases:
        print("\n".join(run_case(case, args.order, args.max_edges, args.max_degree, int(args.samples))), flush=True)


if __name__ == "__main__":
    main()
