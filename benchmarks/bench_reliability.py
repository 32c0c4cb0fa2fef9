"""Calibration of the reliability flag (shinnet.reliability, issue 10 item 2) against Monte Carlo.

For each model of a small grid (zoo.random_mlp, bias_scale 0.5) the mechanistic estimate at
(order N, max_degree K) is compared with plain Monte Carlo.  A case is a *miss* when the
estimate says ``reliable=True`` but ``|value - MC| > 2 * budget + 3 * s.e.``; it is *caught*
when the same holds and the estimate is flagged.  Also prints how many cases are flagged at all
(the price of the flag: a flagged estimate whose budget was in fact fine).

Run:  python benchmarks/bench_reliability.py [--d 4 16] [--m 2 8 64] [--seeds 1 2]
          [--order 4] [--max-degree 4] [--expansion degree] [--samples 2e6] [--dump cases.json]
Prints a markdown table (the one appended to docs/benchmarks.md).  ``--dump`` also writes each
case's diagnostics (cumulants, partial sums, series terms, budget parts, Monte Carlo) as JSON, so
that thresholds can be studied without re-running the estimates.
"""

from __future__ import annotations

import argparse
import itertools
import json
import warnings

import numpy as np

import shinnet
from shinnet import zoo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, nargs="+", default=[4, 16])
    p.add_argument("--m", type=int, nargs="+", default=[2, 8, 64])
    p.add_argument("--hidden", nargs="+", default=["relu", "tanh"])
    p.add_argument("--output", nargs="+", default=["heaviside", "tanh", "relu"])
    p.add_argument("--weight-scale", type=float, nargs="+", default=[0.5, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--order", type=int, default=4)
    p.add_argument("--max-degree", type=int, default=4)
    p.add_argument("--expansion", default="degree", choices=["degree", "resummed"])
    p.add_argument("--samples", type=float, default=2e6)
    p.add_argument("--dump", default=None, help="write every case's diagnostics to this JSON file")
    args = p.parse_args()
    rng = np.random.default_rng(12345)
    records: list[dict] = []
    counts = {"cases": 0, "flagged": 0, "missed": 0, "caught": 0}
    print("| d | m | hidden | output | w | seed | estimate | MC +- s.e. | |err| / budget | reliable | outcome |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    grid = itertools.product(args.d, args.m, args.hidden, args.output, args.weight_scale, args.seeds)
    for d, m, hidden, output, ws, seed in grid:
        mlp = zoo.random_mlp(d=d, m=m, hidden=hidden, output=output, seed=seed, weight_scale=ws, bias_scale=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if args.expansion == "degree":
                est = shinnet.estimate(mlp, order=args.order, max_degree=args.max_degree, warn=False)
            else:
                est = shinnet.estimate(mlp, order=args.order, expansion="resummed", max_edges=args.max_degree,
                                      warn=False)
        n, chunk, total, total2 = int(args.samples), 200_000, 0.0, 0.0
        for start in range(0, n, chunk):
            y = np.asarray(mlp(rng.standard_normal((min(chunk, n - start), d))), dtype=np.float64)
            total += float(y.sum())
            total2 += float((y * y).sum())
        mc = total / n
        se = float(np.sqrt(max(total2 / n - mc * mc, 0.0) / n))
        err = abs(est.value - mc)
        bad = err > 2 * est.budget_total + 3 * se
        outcome = ("MISSED" if est.reliable else "caught") if bad else ""
        counts["cases"] += 1
        counts["flagged"] += int(not est.reliable)
        counts["missed"] += int(bad and est.reliable)
        counts["caught"] += int(bad and not est.reliable)
        records.append({"d": d, "m": m, "hidden": hidden, "output": output, "w": ws, "seed": seed,
                        "value": est.value, "mc": mc, "se": se, "budget": dict(est.error_budget),
                        "kappa": {str(k): v for k, v in est.kappa.items()},
                        "series_terms": est.details["series_terms"],
                        "partial_sums": {str(k): v for k, v in est.details["partial_sums"].items()},
                        "reasons": est.unreliable_reasons, "reliable": est.reliable})
        ratio = err / est.budget_total if est.budget_total > 0 else float("inf")
        print(f"| {d} | {m} | {hidden} | {output} | {ws:g} | {seed} | {est.value:.5f} | {mc:.5f} +- {se:.1e} "
              f"| {ratio:.2f} | {est.reliable} | {outcome} |", flush=True)
    if args.dump:
        with open(args.dump, "w") as fh:
            json.dump(records, fh)
    print()
    print(f"{counts['cases']} cases: {counts['flagged']} flagged unreliable; budget exceeded (|err| > 2 budget + "
          f"3 s.e.) in {counts['caught'] + counts['missed']}, of which {counts['caught']} flagged and "
          f"{counts['missed']} missed.")


if __name__ == "__main__":
    main()
