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

Large runs (issue 15 item 1: d = 16, (6, 6) degree, (6, 8) resummed): time a cheaper
configuration first; ``--only``, ``--skip-split``, ``--max-seconds`` (stop one pruned run that
takes too long and say so), ``--path-cache`` (contraction paths kept on disk between
invocations), ``--stats`` (cancellation per order, free) and ``--no-warm`` (time the first, cold
unpruned call instead of a second, warm one; its path-search seconds are printed so they can be
subtracted).  Every line carries the elapsed wall clock of the whole script.  Cost: two unpruned
calls per expansion (one with ``--no-warm``) plus one pruned call per tolerance and bound kind.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import shinnet
from shinnet.contract import PathCache

_T0 = time.perf_counter()


class _Stopped(Exception):
    """Raised by the alarm when one pruned run exceeds ``--max-seconds``."""


def _log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.0f} s] {msg}", flush=True)


def _oracle(res: Any, n: int, tol: float) -> int:
    """Most diagrams of order n any whole-diagram rule could drop with error <= tol |kappa_n|."""
    c = np.sort(np.abs([float(r.contribution) for r in res.by_order(n)]))
    return int(np.searchsorted(np.cumsum(c), tol * abs(float(res.kappa[n])), side="left"))


def _stats(full: Any, tols: list[float]) -> None:
    """Cancellation per order: sum |contribution| / |kappa_n|, median |contribution| / |kappa_n|,
    and per tol how many diagrams are each below ``tol |kappa_n|`` against the oracle."""
    for n in sorted(k for k in full.kappa if k >= 2):
        a = np.sort(np.abs([float(r.contribution) for r in full.by_order(n)]))
        k = abs(float(full.kappa[n]))
        parts = [f"tol {tol:g}: {int((a < tol * k).sum())} individually below tol |kappa_n|, "
                 f"oracle {_oracle(full, n, tol)}" for tol in tols]
        print(f"      n={n}: {len(a)}, sum|c|/|kappa_n| {a.sum() / k:.1f}, "
              f"median |c|/|kappa_n| {np.median(a) / k:.1e}; " + "; ".join(parts), flush=True)


def _row(name: str, full: Any, res: Any, sec: float, sec_full: float, tol: float) -> None:
    parts = []
    tot_pruned = tot = tot_oracle = 0
    for n in sorted(k for k in full.kappa if k >= 2):
        err = abs(float(full.kappa[n]) - float(res.kappa[n]))
        budget = float(res.pruned_budget[n])
        # rounding allowance: the pruned run sums in another order (relative mode sorts by bound)
        rounding = 1e-13 * sum(abs(float(r.contribution)) for r in full.by_order(n))
        ok = "ok" if err <= budget * (1 + 1e-8) + rounding else "VIOLATED"
        total, oracle = len(full.by_order(n)), _oracle(full, n, tol)
        tot_pruned, tot, tot_oracle = tot_pruned + res.pruned[n], tot + total, tot_oracle + oracle
        parts.append(f"n={n}: {res.pruned[n]}/{total} (oracle {oracle}) "
                     f"err {err:.1e} <= budget {budget:.1e} {ok}  |kappa_n| {abs(float(full.kappa[n])):.2e}")
    _log(f"  {name:<10} tol={tol:g}: {sec:7.2f} s ({100 * (1 - sec / sec_full):+.0f}% saved), "
         f"FLOPs {res.flops:.3g}, pruned {tot_pruned}/{tot} = {100 * tot_pruned / tot:.2f}% "
         f"(oracle {tot_oracle} = {100 * tot_oracle / tot:.2f}%); {_timings(res)}")
    for p in parts:
        print(f"      {p}", flush=True)


def _timings(res: Any) -> str:
    """The call's own split of its wall time (CumulantResult.timings)."""
    t = res.timings
    return ", ".join(f"{k} {t[k]:.1f} s" for k in ("path_search", "contraction", "bounds", "overhead") if k in t)


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Stopped


def _timed(call: Callable[[], Any], max_seconds: float) -> tuple[Any, float]:
    """(result or None when stopped by the alarm, seconds)."""
    t0 = time.perf_counter()
    if max_seconds > 0:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(int(np.ceil(max_seconds)))
    try:
        res = call()
    except _Stopped:
        res = None
    finally:
        signal.alarm(0)
    return res, time.perf_counter() - t0


def _block(label: str, run: Callable[..., Any], args: argparse.Namespace, cache: PathCache, split_ok: bool) -> None:
    """Unpruned reference, then one pruned run per tolerance and bound kind."""
    s0 = cache.search_time
    if args.no_warm:
        t0 = time.perf_counter()
        full = run()
        t_full = time.perf_counter() - t0
        note = f"cold (path search {cache.search_time - s0:.1f} s of it)"
    else:
        t0 = time.perf_counter()
        run()  # warm paths (shared by all runs below)
        t_cold = time.perf_counter() - t0
        _log(f"{label}: warm-up (cold) unpruned call {t_cold:.2f} s, path search {cache.search_time - s0:.1f} s")
        t0 = time.perf_counter()
        full = run()
        t_full = time.perf_counter() - t0
        note = "warm"
    if args.path_cache:
        cache.save()
    n_diag = len(full.diagrams)
    _log(f"{label}: {n_diag} diagrams/classes, unpruned {t_full:.2f} s {note}, FLOPs {full.flops:.3g}, "
         f"{1e3 * t_full / n_diag:.2f} ms per diagram ({_timings(full)}); per order "
         + ", ".join(f"n={n}: {len(full.by_order(n))}" for n in sorted(full.kappa) if n >= 2))
    if args.stats:
        _stats(full, args.tols)
    for tol in args.tols:
        for name, split in (("operator", False), ("split", True)):
            if split and not split_ok:
                continue
            res, sec = _timed(lambda: run(tol=tol, tol_mode="relative", split_bounds=split), args.max_seconds)
            if res is None:
                _log(f"  {name:<10} tol={tol:g}: STOPPED after {sec:.0f} s (--max-seconds {args.max_seconds:g}), "
                     f"{sec / t_full:.0f}x the unpruned call and not finished")
                continue
            _row(name, full, res, sec, t_full, tol)
            if args.path_cache:
                cache.save()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--degree", type=int, nargs=2, default=[6, 4], metavar=("N", "K"))
    ap.add_argument("--resummed", type=int, nargs=2, default=[6, 8], metavar=("N", "E"))
    ap.add_argument("--tols", type=float, nargs="+", default=[1e-3, 1e-6])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["degree", "resummed"], help="run one expansion only")
    ap.add_argument("--skip-split", action="store_true", help="operator bounds only, both expansions")
    ap.add_argument("--skip-resummed-split", action="store_true", help="resummed: operator bounds only")
    ap.add_argument("--max-seconds", type=float, default=0.0,
                    help="stop a pruned run after this many seconds and report it as not finished (0: never)")
    ap.add_argument("--path-cache", help="JSON file for contraction paths, kept between invocations")
    ap.add_argument("--no-warm", action="store_true",
                    help="one cold unpruned call as the reference (default: a warm-up call, then a timed one)")
    ap.add_argument("--stats", action="store_true",
                    help="after the unpruned call: per-order cancellation, diagrams each below tol |kappa_n|")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    d, m = args.d, args.m
    model = shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.3 * rng.standard_normal(m),
                                a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    warnings.simplefilter("ignore")
    _log(f"bench_pruning {' '.join(sys.argv[1:])}")
    big = {"max_diagrams": 1e7, "max_flops": 1e18}  # the pre-flight limits are for interactive use
    if args.only != "resummed":
        N, K = args.degree
        cache = PathCache(f"{args.path_cache}.degree.json" if args.path_cache else None)

        def run_degree(**kw: Any) -> Any:
            return shinnet.cumulants(model, N, K, cache=cache, **big, **kw)

        _block(f"degree expansion d={d} m={m} (N, K)=({N}, {K})", run_degree, args, cache, not args.skip_split)
    if args.only != "degree":
        N, E = args.resummed
        cache = PathCache(f"{args.path_cache}.resummed.json" if args.path_cache else None)

        def run_resummed(**kw: Any) -> Any:
            return shinnet.cumulants(model, N, expansion="resummed", max_edges=E, cache=cache, **big, **kw)

        _block(f"resummed expansion d={d} m={m} (N, E)=({N}, {E})", run_resummed, args, cache,
               not (args.skip_split or args.skip_resummed_split))


if __name__ == "__main__":
    main()
