"""Benchmark: cost of the shin-tensor kernels (docs/shin.md).

Times, in one run on the same random relu MLP (d = 16, K = 8):
- ``shin_tensors`` (the advice build) and its ``build_flops``;
- ``inner(k, k)`` for all k <= K by one tiled Gram sweep, for several tile edges, against the
  model ``m^2 (d + 2K) / 2`` flops;
- ``op_norm(k, p)`` by the gram and lanczos methods.

Usage: ``python benchmarks/bench_shin.py [--m 4096 16384] [--tiles 128 256 512]``.
Prints a table; ratios are within this run only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from shinnet import TwoLayerMLP
from shinnet.tensors.shin import shin_tensors
from shinnet.kernels.norms import gram_power_quadratic_forms


def _mlp(d: int, m: int, seed: int) -> TwoLayerMLP:
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(rng.standard_normal((m, d)) / np.sqrt(d), 0.5 * rng.standard_normal(m), rng.standard_normal(m) / np.sqrt(m))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--K", type=int, default=8)
    parser.add_argument("--m", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--tiles", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for m in args.m:
        mlp = _mlp(args.d, m, args.seed)
        t0 = time.perf_counter()
        S = shin_tensors(mlp, args.K)
        t_build = time.perf_counter() - t0
        print(f"m={m} d={args.d} K={args.K}: shin_tensors {t_build:.3g} s, build_flops {S.build_flops:.3g}")
        lams = {k: S.lam[k] for k in range(1, args.K + 1)}
        model = m * m * (args.d + 2 * args.K) / 2
        for tile in args.tiles:
            t0 = time.perf_counter()
            gram_power_quadratic_forms(S.U, lams, tile)
            dt = time.perf_counter() - t0
            print(f"  inner sweep tile={tile}: {dt:.3g} s, {model / dt / 1e9:.3g} GFLOP/s (model {model:.3g} flops)")
        for k, p in ((4, 1), (4, 2), (6, 3)):
            for method in ("gram", "lanczos"):
                if method == "gram" and 2 * m * args.d ** min(p, k - p) * 8 > 256 * 2**20:
                    continue
                t0 = time.perf_counter()
                res = S.op_norm_details(k, p, method=method)
                dt = time.perf_counter() - t0
                print(f"  op_norm({k},{p}) {method}: {res.value:.12g} in {dt:.3g} s ({res.iterations} it, err {res.error_estimate:.2g})")


if __name__ == "__main__":
    main()
