"""MSE of each sampler against n: plain Monte Carlo, RQMC, RQMC + control variates, hybrid (issue 12).

    python benchmarks/bench_peers.py --d 16 --m 1024 --log2-n 10 12 14 16 --seeds 4

For each model (random relu/tanh networks and trained relu_shift, d and m as given) and psi in
{relu, tanh}: ``shinnet.study.peers.peer_runs`` (one pass of scrambled Sobol points per n, the
same points for RQMC, RQMC + CV and the hybrid) at n = 2^p total points (8 scrambles), over
``--seeds`` seeds; MSE = mean stderr^2 over the seeds (the peers are unbiased); plain Monte Carlo's
MSE is ``Var(y)/n`` with Var(y) from the pooled points.  Prints per (model, psi, sampler) the MSE
at each n, the least-squares slope of log MSE against log n, and the MSE ratios at the largest n.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from shinnet import zoo
from shinnet.study.peers import peer_runs
from shinnet.study.tables import markdown_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--log2-n", type=int, nargs="+", default=[10, 12, 14, 16])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--models", nargs="+", default=["random/relu", "random/tanh", "relu_shift/relu"])
    args = p.parse_args()
    rows = []
    for spec in args.models:
        target, hidden = spec.split("/")
        t0 = time.perf_counter()
        if target == "random":
            mlp = zoo.random_mlp(args.d, args.m, hidden=hidden, seed=0, bias_scale=0.5, c=0.2)
        else:
            mlp = zoo.trained_mlp(args.d, args.m, target, steps=200, seed=0, hidden=hidden, bias_scale=0.5)
        runs = [r for s in range(args.seeds) for r in peer_runs(mlp, ["relu", "tanh"], args.log2_n, seed=100 + s)]
        var_y = {o: float(np.var(mlp.replace(output=o).forward(np.random.default_rng(9).standard_normal((2**16, args.d)))))
                 for o in ("relu", "tanh")}
        for o in ("relu", "tanh"):
            mse = {"monte_carlo": [var_y[o] / 2**q for q in args.log2_n]}
            for peer in ("rqmc", "rqmc_cv", "hybrid"):
                mse[peer] = [float(np.mean([r["mse"] for r in runs if r["output"] == o and r["peer"] == peer
                                            and r["log2_n"] == q])) for q in args.log2_n]
            for peer, vals in mse.items():
                slope = float(np.polyfit(np.array(args.log2_n) * np.log(2), np.log(vals), 1)[0])
                row = {"model": f"{spec}/d{args.d}/m{args.m}", "psi": o, "sampler": peer}
                row.update({f"MSE n=2^{q}": v for q, v in zip(args.log2_n, vals)})
                row["slope vs n"] = slope
                row["MSE / MC at max n"] = vals[-1] / mse["monte_carlo"][-1]
                rows.append(row)
        print(f"{spec}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
