"""Benchmark of the contraction engine (MATH.md sections 3-5): FLOPs and wall time of
``shinnet.cumulants`` per representation, the time split (path search / contraction /
overhead), and what operator-norm pruning removes at relative tolerances.

Run:  python benchmarks/bench_contract.py [--quick]
Prints a markdown section (the one appended to docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import shinnet
from shinnet import TwoLayerMLP
from shinnet.contract import PathCache
from shinnet.expansions import cumulants


def relu_model(d: int, m: int, seed: int = 0) -> TwoLayerMLP:
    rng = np.random.default_rng(seed)
    return TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.5 * rng.standard_normal(m),
                       a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smallest grid (a smoke run)")
    ap.add_argument("--cells", default=None,
                    help="comma-separated m:N:K cells, e.g. 4096:2:6,4096:5:4 (default: the recorded grid)")
    ap.add_argument("--reps", default=None, help="comma-separated representations (default auto,dense,factored "
                                                  "for m <= 4096, auto otherwise)")
    ap.add_argument("--no-pruning", action="store_true", help="skip the pruning table")
    args = ap.parse_args()
    d = 16
    grid = [(4096, [(2, 4), (3, 4), (4, 4)]), (65536, [(2, 4), (3, 4), (4, 4)])]
    if args.quick:
        grid = [(4096, [(3, 4)])]
    if args.cells:
        by_m: dict[int, list[tuple[int, int]]] = {}
        for cell in args.cells.split(","):
            m_s, n_s, k_s = cell.split(":")
            by_m.setdefault(int(m_s), []).append((int(n_s), int(k_s)))
        grid = sorted(by_m.items())
    print("| m | N | K | representation | diagrams | FLOPs | wall s | path search s | contraction s | overhead s | shin build s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m, cells in grid:
        model = relu_model(d, m)
        for N, K in cells:
            t0 = time.perf_counter()
            shin = shinnet.shin_tensors(model, K)
            t_build = time.perf_counter() - t0
            reps = ["auto", "dense", "factored"] if m <= 4096 else ["auto"]
            if args.reps:
                reps = args.reps.split(",")
            for rep in reps:
                cache = PathCache()
                res = cumulants(shin, N, K, representation=rep, cache=cache, hypercontractive=False, warn=False)
                tm = res.timings
                print(f"| {m} | {N} | {K} | {rep} | {res.n_evaluated} | {res.flops:.3g} | {tm['total']:.2f} | "
                      f"{tm['path_search']:.2f} | {tm['contraction']:.2f} | {tm['overhead']:.2f} | {t_build:.2f} |",
                      flush=True)
                if rep == "auto":  # second call: paths cached, the per-diagram cost alone
                    res2 = cumulants(shin, N, K, representation=rep, cache=cache, hypercontractive=False, warn=False)
                    per = res2.timings["total"] / max(res2.n_evaluated, 1)
                    print(f"| {m} | {N} | {K} | auto (cached paths) | {res2.n_evaluated} | {res2.flops:.3g} | "
                          f"{res2.timings['total']:.2f} | {res2.timings['path_search']:.2f} | "
                          f"{res2.timings['contraction']:.2f} | {res2.timings['overhead']:.2f} | {per * 1e6:.0f} us/diagram |",
                          flush=True)
    if args.no_pruning:
        return
    print()
    print("Pruning (relu, d=16, m=4096, N=4, K=4; tol relative to the kept value):")
    print()
    print("| tol | diagrams pruned / total | reported budget kappa_4 | true dropped kappa_4 | kappa_4 |")
    print("|---|---|---|---|---|")
    model = relu_model(d, 4096)
    shin = shinnet.shin_tensors(model, 4)
    full = cumulants(shin, 4, 4, hypercontractive=False, warn=False)
    for tol in (1e-3, 1e-6):
        res = cumulants(shin, 4, 4, tol=tol, tol_mode="relative", hypercontractive=False, warn=False)
        n4 = len(res.by_order(4))
        print(f"| {tol:g} | {sum(r.pruned for r in res.by_order(4))} / {n4} (all orders: {res.n_pruned} / "
              f"{len(res.diagrams)}) | {res.pruned_budget[4]:.3g} | {abs(full.kappa[4] - res.kappa[4]):.3g} | "
              f"{full.kappa[4]:.6g} |", flush=True)


if __name__ == "__main__":
    main()
