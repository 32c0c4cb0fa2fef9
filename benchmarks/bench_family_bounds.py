"""Family (power-counting) bounds against per-diagram operator-norm bounds (issue 15 item 1).

One random relu MLP, degree expansion (MATH.md section 3), shared path cache (warmed by one
unpruned run with bounds, so path searches and matricisation norms are not timed again).  For
each tolerance (relative ones and one absolute) and each configuration

- ``operator``: per-diagram operator-norm bounds only (today's default);
- ``family``:   ``family_bounds=True`` (families below the cut dropped with no bound DP, no plan);
- ``split``, ``family+split``: the same with ``split_bounds=True``;

it prints diagrams pruned / total, per-diagram bound DPs computed, diagrams dropped by their
family, seconds (total and in bounds) against the unpruned run, and per order the true error
``|kappa_n - kappa_n(pruned)|`` against the reported budget (must be >=).

    python benchmarks/bench_family_bounds.py --d 16 --m 32 --degree 6 4 --tols 1e-3 1e-6 \
        --abs-tol 1e-4 --repeat 3 [--bias 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import shinnet
from shinnet.contract.engine import run_engine
from shinnet.contract.options import ContractOptions
from shinnet.contract.pathcache import PathCache

CONFIGS = {"operator": (False, False), "family": (True, False), "split": (False, True),
           "family+split": (True, True)}


def _run(objects: list, N: int, K: int, cache: PathCache, repeat: int = 1, **kw) -> tuple[object, float]:
    """The result and the fastest of ``repeat`` wall times (a shared machine is noisy)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = run_engine(objects, False, N, K, ContractOptions(cache=cache, warn=False, **kw))
        best = min(best, time.perf_counter() - t0)
    return res, best


def _row(name: str, full: object, res: object, sec: float, t_full: float, full_bounds: int) -> str:
    errs = []
    ok = True
    for n in sorted(k for k in full.kappa if k >= 2):
        err = abs(float(full.kappa[n]) - float(res.kappa[n]))
        budget = float(res.pruned_budget[n])
        rounding = 1e-13 * sum(abs(float(r.contribution)) for r in full.by_order(n))
        ok &= err <= budget * (1 + 1e-8) + rounding
        errs.append(f"n={n} {err:.1e}/{budget:.1e}")
    s = res.settings
    dps = s.get("term_bounds", full_bounds)
    fam = s.get("family_pruned", 0)
    return (f"  {name:<13} pruned {res.n_pruned:>5}/{len(full.diagrams)}  bound DPs {dps:>5}  family-dropped {fam:>5}  "
            f"{sec:7.2f} s ({100 * (1 - sec / t_full):+4.0f}% vs unpruned; bounds {res.timings['bounds']:.2f} s)  "
            f"budget {'ok' if ok else 'VIOLATED'}\n      err/budget: " + "  ".join(errs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--degree", type=int, nargs=2, default=[6, 4], metavar=("N", "K"))
    ap.add_argument("--tols", type=float, nargs="+", default=[1e-3, 1e-6])
    ap.add_argument("--abs-tol", type=float, nargs="*", default=[1e-4])
    ap.add_argument("--bias", type=float, default=0.3, help="hidden bias scale (0: relu's odd T_k, k >= 3, vanish)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="report the fastest of this many runs")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    d, m = args.d, args.m
    model = shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=args.bias * rng.standard_normal(m),
                                a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    N, K = args.degree
    objects = [shinnet.shin_tensors(model, K)]
    cache = PathCache()
    # warm the paths and every matricisation norm (shared by all runs below): the timings
    # compare the bound DPs and contractions, not the one-off norm computations
    _run(objects, N, K, cache, compute_bounds=True)
    full, t_full = _run(objects, N, K, cache, args.repeat)
    print(f"degree expansion, relu d={d} m={m} bias={args.bias} (N, K)=({N}, {K}): "
          f"{len(full.diagrams)} diagrams, unpruned {t_full:.2f} s; kappa_2..{N} = "
          + ", ".join(f"{float(full.kappa[n]):.3e}" for n in range(2, N + 1)))
    runs = [(t, "relative") for t in args.tols] + [(t, "absolute") for t in args.abs_tol]
    for tol, mode in runs:
        print(f"tol={tol:g} {mode}")
        for name in args.configs:
            family, split = CONFIGS[name]
            res, sec = _run(objects, N, K, cache, args.repeat, tol=tol, tol_mode=mode, family_bounds=family,
                            split_bounds=split)
            print(_row(name, full, res, sec, t_full, len(full.diagrams)))


if __name__ == "__main__":
    main()
