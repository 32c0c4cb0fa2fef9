"""Pruning at relative tolerances: fraction pruned, time saved, true error against the budget.

For one random relu MLP (random second layer), in one run, at ``tol_mode="relative"``:

- degree expansion (MATH.md section 3) with operator-norm bounds only (``split_bounds=False``)
  and with split bounds (``split_bounds=True``, Cauchy-Schwarz with exact half norms);
- resummed expansion (section 8) with its Moebius-sum operator-norm bound, and with split
  bounds on every quotient network;
- an *oracle*: the largest number of diagrams any honest whole-diagram pruner could drop, i.e.
  dropping the smallest ``|contribution|`` first while their summed size stays below
  ``tol * |kappa_n|`` (computed from the exact values).  No bound can prune more.

Per order n: diagrams pruned / total, true error ``|kappa_n - kappa_n(pruned)|`` and the
reported budget (must be >= the error), and wall seconds against the unpruned run.

    python benchmarks/bench_pruning.py --d 8 --m 32 --degree 6 4 --resummed 6 8
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import shinnet
from shinnet.contract import PathCache


def _oracle(res, n: int, tol: float) -> int:
    c = np.sort(np.abs([float(r.contribution) for r in res.by_order(n)]))
    return int(np.searchsorted(np.cumsum(c), tol * abs(float(res.kappa[n])), side="left"))


def _row(name: str, full, res, sec: float, sec_full: float, tol: float) -> None:
    parts = []
    for n in sorted(k for k in full.kappa if k >= 2):
        err = abs(float(full.kappa[n]) - float(res.kappa[n]))
        budget = float(res.pruned_budget[n])
        # rounding allowance: the pruned run sums in another order (relative mode sorts by bound)
        rounding = 1e-13 * sum(abs(float(r.contribution)) for r in full.by_order(n))
        ok = "ok" if err <= budget * (1 + 1e-8) + rounding else "VIOLATED"
        parts.append(f"n={n}: {res.pruned[n]}/{len(full.by_order(n))} (oracle {_oracle(full, n, tol)}) "
                     f"err {err:.1e} <= budget {budget:.1e} {ok}")
    print(f"  {name:<10} tol={tol:g}: {sec:7.2f} s ({100 * (1 - sec / sec_full):+.0f}% saved), "
          f"FLOPs {res.flops:.3g}")
    for p in parts:
        print(f"      {p}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--degree", type=int, nargs=2, default=[6, 4], metavar=("N", "K"))
    ap.add_argument("--resummed", type=int, nargs=2, default=[6, 8], metavar=("N", "E"))
    ap.add_argument("--tols", type=float, nargs="+", default=[1e-3, 1e-6])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-resummed-split", action="store_true", help="resummed: operator bounds only")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    d, m = args.d, args.m
    model = shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.3 * rng.standard_normal(m),
                                a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    warnings.simplefilter("ignore")
    N, K = args.degree
    cache = PathCache()
    shinnet.cumulants(model, N, K, cache=cache)  # warm paths (shared by all runs below)
    t0 = time.perf_counter()
    full = shinnet.cumulants(model, N, K, cache=cache)
    t_full = time.perf_counter() - t0
    print(f"degree expansion d={d} m={m} (N, K)=({N}, {K}): {len(full.diagrams)} diagrams, unpruned {t_full:.2f} s, "
          f"FLOPs {full.flops:.3g}")
    for tol in args.tols:
        for name, split in (("operator", False), ("split", True)):
            t0 = time.perf_counter()
            res = shinnet.cumulants(model, N, K, tol=tol, tol_mode="relative", split_bounds=split, cache=cache)
            _row(name, full, res, time.perf_counter() - t0, t_full, tol)
    N, E = args.resummed
    cache = PathCache()
    shinnet.cumulants(model, N, expansion="resummed", max_edges=E, cache=cache)
    t0 = time.perf_counter()
    full = shinnet.cumulants(model, N, expansion="resummed", max_edges=E, cache=cache)
    t_full = time.perf_counter() - t0
    print(f"resummed expansion d={d} m={m} (N, E)=({N}, {E}): {len(full.diagrams)} classes, unpruned {t_full:.2f} s, "
          f"FLOPs {full.flops:.3g}")
    for tol in args.tols:
        for name, split in (("operator", False), ("split", True)):
            if split and args.skip_resummed_split:
                continue
            t0 = time.perf_counter()
            res = shinnet.cumulants(model, N, expansion="resummed", max_edges=E, tol=tol, tol_mode="relative",
                                    split_bounds=split, cache=cache)
            _row(name, full, res, time.perf_counter() - t0, t_full, tol)


if __name__ == "__main__":
    main()
