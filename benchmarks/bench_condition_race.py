"""The issue-13 race: plain and conditional estimates against Monte Carlo and RQMC at equal FLOPs.

    python benchmarks/bench_condition_race.py --targets relu_shift product max teacher --d 16 --m 512

For each net (``shinnet.zoo.trained_mlp``, relu hidden units, 300 SGD steps, seed 0) and psi in
relu, sigmoid, tanh: a reference by scrambled Sobol with control variates (``--reference-points``);
the plain estimate at the rungs (N, K) of ``PLAIN``; the conditional estimate (MATH.md section 9)
with ``condition="auto"`` and fixed r = 1, 2 at the inner settings of ``COND``.  Each estimate's
error is compared with

* plain Monte Carlo at equal FLOPs: RMSE ``sqrt(Var(psi(f)) / n)``, ``n = F / (forward FLOPs per
  sample)``, Var from 2^16 plain samples;
* RQMC + CV at equal FLOPs: its standard error measured at ``--rqmc-points`` and interpolated
  log-log in FLOPs (beyond the measured range extrapolated with the last measured slope; marked).

"ahead" means ``|error| < RMSE of the peer at the same FLOPs``, with the advice (``flops_with_advice``:
directions, node weights, dense builds) and without (``flops``: contractions only).  Errors below
twice the reference's standard error are not resolved (marked ``~``).  One row per estimate.
Cost: a few minutes per net at d = 16, m = 512 on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

import shinnet
from shinnet import zoo

#: plain rungs (order N, max_degree K)
PLAIN = ((2, 2), (2, 4), (3, 4), (4, 4))
#: conditional settings: (label of r, order N, max_degree K); r = 2 only with the Gaussian inner
COND = (("auto", 2, 2), ("auto", 2, 4), (1, 2, 2), (1, 2, 4), (1, 4, 4), (2, 2, 2), (2, 2, 4))


def _interp(x: float, xs: np.ndarray, ys: np.ndarray) -> tuple[float, bool]:
    """log-log interpolation of ys(xs) at x; outside the range the end slope (flag True)."""
    lx, lxs, lys = math.log(x), np.log(xs), np.log(ys)
    if lx < lxs[0]:
        s = (lys[1] - lys[0]) / (lxs[1] - lxs[0])
        return float(math.exp(lys[0] + s * (lx - lxs[0]))), True
    if lx > lxs[-1]:
        s = (lys[-1] - lys[-2]) / (lxs[-1] - lxs[-2])
        return float(math.exp(lys[-1] + s * (lx - lxs[-1]))), True
    return float(math.exp(np.interp(lx, lxs, lys))), False


def race(target: str, d: int, m: int, psis: list[str], reference_points: int, rqmc_points: list[int],
         steps: int, max_r2_nodes: int) -> list[dict]:
    base = zoo.trained_mlp(d, m, target, steps=steps, seed=0, num_threads=1)
    rows = []
    for psi in psis:
        mlp = base.replace(output=shinnet.activations.get(psi))
        t0 = time.time()
        ref = shinnet.monte_carlo(mlp, reference_points, seed=7, method="sobol", control_variates=True,
                                  progress=False, max_seconds=None)
        plain_mc = shinnet.monte_carlo(mlp, 2**16, seed=3, progress=False, max_seconds=None)
        var = plain_mc.stderr**2 * 2**16
        fwd = plain_mc.flops / 2**16
        rq = [shinnet.monte_carlo(mlp, n, seed=11, method="sobol", control_variates=True, progress=False,
                                  max_seconds=None) for n in rqmc_points]
        rq_f = np.array([e.flops for e in rq])
        rq_se = np.array([max(e.stderr, 1e-300) for e in rq])
        ad = shinnet.conditioning.active_directions(mlp, min(3, d))
        head = (f"## {target} d={d} m={m} psi={psi}: reference {ref.value:.10f} +- {ref.stderr:.2e} "
                f"({reference_points} RQMC+CV points, {time.time() - t0:.0f} s); M eigenvalues "
                f"{np.array2string(ad.eigenvalues[:4], precision=3)}; energy share by rank "
                f"{tuple(round(float(x), 3) for x in ad.energy_share_by_rank)}; Var psi(f) {var:.3g}; "
                "RQMC+CV s.e. "
                + ", ".join(f"{n}: {s:.2e} ({f:.2g} FLOPs)" for n, s, f in zip(rqmc_points, rq_se, rq_f)))
        print(head, flush=True)
        runs = [("plain", None, N, K) for N, K in PLAIN] + [("cond", r, N, K) for r, N, K in COND]
        for kind, r, N, K in runs:
            kw = {"order": N, "max_degree": K}
            if kind == "cond":
                kw["condition"] = r
                if r == 2 or r == "auto":
                    kw["max_nodes"] = max_r2_nodes
            t = time.time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    e = shinnet.estimate(mlp, **kw)
                except Exception as exc:  # noqa: BLE001 - a refused cell is a result
                    print(f"| {target} | {psi} | {kind} r={r} N={N} K={K} | refused: {exc} |", flush=True)
                    continue
            c = e.details.get("condition", {}) or {}
            err = e.value - ref.value
            row = {"target": target, "psi": psi, "kind": kind, "r": c.get("r", 0) if kind == "cond" else 0,
                   "asked": r, "N": N, "K": K, "err": err, "budget": e.budget_total, "reliable": e.reliable,
                   "flops": e.flops, "flops_adv": e.flops_with_advice, "nodes": c.get("nodes", 0),
                   "quad": c.get("quadrature_error", 0.0), "share": c.get("energy_share"),
                   "wall": time.time() - t, "ref_se": ref.stderr, "reasons": e.unreliable_reasons}
            for tag, F in (("adv", e.flops_with_advice), ("noadv", max(e.flops, 1.0))):
                row[f"mc_{tag}"] = math.sqrt(var / max(F / fwd, 1e-300))
                row[f"rq_{tag}"], row[f"rq_extrap_{tag}"] = _interp(F, rq_f, rq_se)
            rows.append(row)
            resolved = "~" if abs(err) < 2 * ref.stderr else ""
            share = "" if row["share"] is None else f"{row['share']:.3f}"
            print(f"| {target} | {psi} | {kind} r={row['r']}{'(auto)' if r == 'auto' else ''} N={N} K={K} | "
                  f"{resolved}{err:+.2e} | {e.budget_total:.1e} | {'yes' if e.reliable else 'NO'} | "
                  f"{e.flops:.2g} / {e.flops_with_advice:.2g} | {row['nodes']} | {row['quad']:.1e} | {share} | "
                  f"{row['mc_adv']:.1e} | {row['rq_adv']:.1e}{'*' if row['rq_extrap_adv'] else ''} | "
                  f"{abs(err) / row['rq_adv']:.2g} / {abs(err) / row['rq_noadv']:.2g} | {row['wall']:.1f} |",
                  flush=True)
    return rows


def _verdict(err: float, peer: float, ref_se: float) -> str:
    """"ahead" / "behind" of a peer RMSE, or "unresolved" when both are below twice the reference's s.e."""
    if abs(err) < 2 * ref_se and peer < 2 * ref_se:
        return "unresolved"
    return "ahead" if abs(err) < peer else "behind"


def summary(rows: list[dict], lo: float = 1e7, hi: float = 1e10) -> None:
    """Counts of conditional cells (r >= 1, FLOPs with advice in [lo, hi]) ahead of RQMC + CV, and
    the best error per net and psi below each FLOP cap (is there a floor?)."""
    cells = [r for r in rows if r["kind"] == "cond" and lo <= r["flops_adv"] <= hi and r["r"] > 0]
    for tag in ("adv", "noadv"):
        v = [_verdict(r["err"], r[f"rq_{tag}"], r["ref_se"]) for r in cells]
        print(f"conditional cells with {lo:.0e} <= FLOPs (with advice) <= {hi:.0e}: {len(cells)}; against RQMC+CV "
              f"{'with' if tag == 'adv' else 'without'} advice: ahead {v.count('ahead')}, behind {v.count('behind')}, "
              f"unresolved {v.count('unresolved')}")
    for key in sorted({(r["target"], r["psi"]) for r in rows}):
        parts = []
        for cap in (1e7, 1e8, 1e9, 1e10):
            errs = [abs(r["err"]) for r in rows if (r["target"], r["psi"]) == key and r["flops_adv"] <= cap]
            parts.append(f"<= {cap:.0e}: {min(errs):.1e}" if errs else f"<= {cap:.0e}: -")
        print(f"  best error {key[0]}/{key[1]}: " + "; ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=["relu_shift", "product", "max", "teacher"])
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=512)
    ap.add_argument("--psi", nargs="+", default=["relu", "sigmoid", "tanh"])
    ap.add_argument("--reference-points", type=int, default=2**19)
    ap.add_argument("--rqmc-points", type=int, nargs="+", default=[2**10, 2**12, 2**14, 2**16, 2**18])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--max-r2-nodes", type=int, default=20_000, help="max_nodes for r = 2 and auto")
    args = ap.parse_args()
    print("| target | psi | run | error | budget | reliable | FLOPs (contractions / with advice) | nodes | "
          "quad. err | share | MC RMSE @F adv | RQMC s.e. @F adv | err/RQMC adv / no adv | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for target in args.targets:
        rows += race(target, args.d, args.m, args.psi, args.reference_points, args.rqmc_points, args.steps,
                     args.max_r2_nodes)
    summary(rows)


if __name__ == "__main__":
    main()
