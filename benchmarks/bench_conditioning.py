"""Conditioning on active directions (MATH.md section 9) against the plain estimate and RQMC.

    python benchmarks/bench_conditioning.py --target relu_shift --d 16 --m 2048 --rank 1
    python benchmarks/bench_conditioning.py --target product --d 16 --m 512 --rank 2

A net trained on ``target`` (``shinnet.zoo.trained_mlp``, 300 SGD steps, seed 0), psi = relu and
sigmoid.  Reference: scrambled Sobol with control variates, 2^20 points.  Rows: the plain
estimate (N = K = 4), the conditional estimate with a Gaussian inner (N = 2, K = 4) and with
N = 4 (rank 1 only: 20x the cost), and RQMC + CV at 2^12 - 2^16 points: error against the
reference, budget, FLOPs with and without the advice, node counts, wall time.
"""

from __future__ import annotations

import argparse
import time
import warnings

import shinnet
import shinnet.conditioning
from shinnet import zoo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="relu_shift")
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=2048)
    ap.add_argument("--rank", type=int, default=1)
    ap.add_argument("--reference-points", type=int, default=2**20)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    base = zoo.trained_mlp(args.d, args.m, args.target, steps=300, seed=0, num_threads=1)
    for psi in ["relu", "sigmoid"]:
        mlp = base.replace(output=shinnet.activations.get(psi))
        ref = shinnet.monte_carlo(mlp, args.reference_points, seed=7, method="sobol", control_variates=True,
                                  progress=False, max_seconds=None)
        ad = shinnet.conditioning.active_directions(mlp, min(3, args.d))
        print(f"[{psi}] reference RQMC+CV {args.reference_points}: {ref.value:.10f} +- {ref.stderr:.2e}; "
              f"eigenvalues of M {ad.eigenvalues[:4]}, energy share by rank {ad.energy_share_by_rank}", flush=True)
        runs = [("plain N=4 K=4", {"order": 4, "max_degree": 4})]
        runs += [(f"cond r={r} N=2 K=4", {"order": 2, "max_degree": 4, "condition": r}) for r in range(1, args.rank + 1)]
        if args.rank == 1:
            runs.append(("cond r=1 N=4 K=4", {"order": 4, "max_degree": 4, "condition": 1}))
        for label, kw in runs:
            t = time.time()
            e = shinnet.estimate(mlp, **kw)
            c = e.details.get("condition", {})
            print(f"[{psi}] {label:<18s} error {e.value - ref.value:+.2e} budget {e.budget_total:.2e} "
                  f"FLOPs {e.flops:.3g} (+advice {e.flops_with_advice:.3g}) nodes {c.get('nodes', 0)} "
                  f"quad_err {c.get('quadrature_error', 0.0):.1e} wall {time.time() - t:.1f}s", flush=True)
        for n in [2**12, 2**14, 2**16]:
            mc = shinnet.monte_carlo(mlp, n, seed=11, method="sobol", control_variates=True, progress=False)
            print(f"[{psi}] RQMC+CV n={n}: error {mc.value - ref.value:+.2e} s.e. {mc.stderr:.2e} FLOPs {mc.flops:.3g}",
                  flush=True)


if __name__ == "__main__":
    main()
