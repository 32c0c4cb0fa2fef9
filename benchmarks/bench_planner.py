"""Degree-engine planning against a previous version: FLOPs charged, path-search and contraction
seconds per cell, for ``random_mlp(d, m, relu, seed=0, bias_scale=0.3)``.

    git worktree add /tmp/shinnet_old <rev>
    PYTHONPATH=/tmp/shinnet_old python benchmarks/bench_planner.py --label old
    python benchmarks/bench_planner.py --label new

Each cell runs ``shinnet.cumulants(mlp, N, K)`` twice with one fresh PathCache: the first call
pays the path searches, the second is contraction only.  Prints one line per cell and, with
``--json FILE``, writes the numbers.  Run both versions on the same machine in the same session
and compare the ratios (absolute seconds depend on the load).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", default="16:4096:4:5,16:4096:3:6,16:4096:5:4,32:1000:4:5",
                    help="comma-separated d:m:N:K cells")
    ap.add_argument("--label", default="this version")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import shinnet
    from shinnet.contract import ConvergenceWarning, PathCache
    from shinnet.zoo import random_mlp

    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"{args.label}: shinnet from {shinnet.__file__}")
    out = []
    for cell in args.cells.split(","):
        d, m, N, K = (int(x) for x in cell.split(":"))
        mlp = random_mlp(d, m, hidden="relu", seed=0, bias_scale=0.3)
        cache = PathCache()
        t0 = time.perf_counter()
        first = shinnet.cumulants(mlp, N, K, cache=cache)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = shinnet.cumulants(mlp, N, K, cache=cache)
        t_second = time.perf_counter() - t0
        reps: dict[str, int] = {}
        for r in second.diagrams:
            reps[r.representation] = reps.get(r.representation, 0) + 1
        row = {"cell": cell, "flops": second.flops, "first_s": t_first, "search_s": first.timings["path_search"],
               "contract_s": t_second, "reps": reps, "kappa": {n: float(v) for n, v in second.kappa.items()}}
        out.append(row)
        print(f"d={d} m={m} N={N} K={K}: {second.flops:.3g} FLOPs, first call {t_first:.2f} s "
              f"(search {row['search_s']:.2f} s), cached paths {t_second:.2f} s, {reps}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"label": args.label, "cells": out}, fh, indent=1)


if __name__ == "__main__":
    main()
