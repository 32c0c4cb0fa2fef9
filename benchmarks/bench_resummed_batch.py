"""Batched second layers in the resummed expansion against one call per second layer.

    python benchmarks/bench_resummed_batch.py --batch 64 --singles 64

One model (``random_mlp(d, m, relu, seed=0, bias_scale=0.3)``), B second layers
``A ~ N(0, 1/m)``; ``cumulants_batch(mlp, order, None, A, expansion="resummed", max_edges=E)``
against ``--singles`` calls of ``shinnet.cumulants(mlp.replace(a=A[b]), ...)`` (extrapolated to
B when ``--singles < B``), each side with its own path cache, after one warm-up call that fills
the in-process diagram and Moebius tables for both.  Prints wall times, FLOPs, the ratio and the
largest relative difference of kappa_2..kappa_order.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64, help="B, second layers in the batch")
    ap.add_argument("--singles", type=int, default=64, help="single calls timed (<= B)")
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=1000)
    ap.add_argument("--order", type=int, default=4)
    ap.add_argument("--max-edges", type=int, default=4)
    args = ap.parse_args()

    import shinnet
    from shinnet.contract import ConvergenceWarning, PathCache
    from shinnet.expansions import cumulants_batch
    from shinnet.zoo import random_mlp

    warnings.simplefilter("ignore", ConvergenceWarning)
    B, n_single, n, E = args.batch, min(args.singles, args.batch), args.order, args.max_edges
    mlp = random_mlp(args.d, args.m, hidden="relu", seed=0, bias_scale=0.3)
    A = np.random.default_rng(0).standard_normal((B, args.m)) / np.sqrt(args.m)
    shinnet.cumulants(mlp, n, expansion="resummed", max_edges=E)  # warm the tables for both sides

    t0 = time.perf_counter()
    res = cumulants_batch(mlp, n, None, A, expansion="resummed", max_edges=E, cache=PathCache())
    t_batch = time.perf_counter() - t0
    forms: dict[str, int] = {}
    for r in res.diagrams:
        forms[r.representation] = forms.get(r.representation, 0) + 1
    print(f"batch B={B}: {t_batch:.2f} s, {res.flops:.3g} FLOPs, forms {forms}")

    cache = PathCache()
    worst, flops = 0.0, 0.0
    t0 = time.perf_counter()
    for b in range(n_single):
        one = shinnet.cumulants(mlp.replace(a=A[b]), n, expansion="resummed", max_edges=E, cache=cache)
        flops += one.flops
        worst = max(worst, max(abs(one.kappa[k] - res.kappa[k][b]) / abs(one.kappa[k]) for k in range(2, n + 1)))
    t_single = (time.perf_counter() - t0) * B / n_single
    print(f"{B} single calls: {t_single:.2f} s, {flops * B / n_single:.3g} FLOPs (timed {n_single}); "
          f"largest relative difference {worst:.2e}")
    print(f"single / batch: {t_single / t_batch:.1f}x wall, {flops * B / n_single / res.flops:.1f}x FLOPs")


if __name__ == "__main__":
    main()
