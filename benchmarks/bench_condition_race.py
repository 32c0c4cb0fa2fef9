"""The issue-13 race: plain and conditional estimates against Monte Carlo and RQMC at equal FLOPs.

    python benchmarks/bench_condition_race.py --targets relu_shift product max teacher --d 16 --m 512

    python benchmarks/bench_condition_race.py --targets relu_shift --d 16 --m 2048 --hidden tanh \
        --psi sigmoid --cond auto,2,4 1,2,4 --json rows.jsonl

For each net (``shinnet.zoo.trained_mlp``, ``--hidden`` units, default relu, 300 SGD steps, seed
0) and psi in ``--psi`` (default relu, sigmoid, tanh): a reference by scrambled Sobol with control
variates (``--reference-points``, ``--cv``); the plain estimate at the rungs (N, K) of ``PLAIN``
(or ``--plain``); the conditional estimate (MATH.md section 9) with ``condition="auto"`` and fixed
r = 1, 2 at the inner settings of ``COND`` (or ``--cond``).  Each estimate's error is compared with

* plain Monte Carlo at equal FLOPs: RMSE ``sqrt(Var(psi(f)) / n)``, ``n = F / (forward FLOPs per
  sample)``, Var from ``--var-points`` plain samples;
* RQMC + CV at equal FLOPs: its standard error measured at ``--rqmc-points``, taken at F through
  the point count (``_peer``: the CV set-up is a fixed, O(m^2) part of every RQMC+CV FLOP count;
  "n/a" where F is below it; beyond the measured n extrapolated with the fitted slope, marked ``*``).
  The d = 16, m = 512 section of docs/benchmarks.md interpolated log-log in FLOPs instead.

"ahead" means ``|error| < RMSE of the peer at the same FLOPs``, with the advice (``flops_with_advice``:
directions, node weights, dense builds) and without (``flops``: contractions only).  Errors below
twice the reference's standard error are not resolved (marked ``~``).  One row per estimate.
Cost: a few minutes per net at d = 16, m = 512 on 2 cores; d = 32, m = 2,048: ~30 minutes per net
on a loaded 2-core machine (r = 2: 3,600 - 18,000 nodes); tanh / gelu hidden units: seconds per node
(the activation's Hermite coefficients by quadrature for m units); m = 65,536: training ~9 minutes,
the active directions alone 3.4e11 FLOPs.
"""

from __future__ import annotations

import argparse
import json
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


def _peer(F: float, ns: np.ndarray, fs: np.ndarray, ses: np.ndarray) -> tuple[float | None, bool]:
    """RQMC s.e. at ``F`` FLOPs, through the point count.

    ``F = setup + c n`` fitted by least squares over the measured runs (``setup``: the control
    variates' exact moments, O(m^2) for the quadratic CV), s.e.(n) interpolated log-log in n and,
    beyond the measured n, extrapolated with the least-squares slope in n (flag True).  None when
    ``F < setup + 16 c``: RQMC cannot run at that budget.
    """
    c, setup = np.polyfit(ns, fs, 1)
    n = (F - setup) / c
    if n < 16:
        return None, False
    ln, lns, lse = math.log(n), np.log(ns), np.log(ses)
    slope = float(np.polyfit(lns, lse, 1)[0])
    if ln < lns[0]:
        return float(ses[0] * (n / ns[0]) ** slope), True
    if ln > lns[-1]:
        return float(ses[-1] * (n / ns[-1]) ** slope), True
    return float(math.exp(np.interp(ln, lns, lse))), False


def _settings(specs: list[str] | None, default: tuple, n: int) -> tuple:
    """``"N,K"`` (plain) or ``"r,N,K"`` (conditional, r an int or ``auto``) strings to tuples."""
    if specs is None:
        return default
    out = []
    for spec in specs:
        parts = spec.split(",")
        if len(parts) != n:
            raise SystemExit(f"bad setting {spec!r}: expected {n} comma-separated fields")
        head = [] if n == 2 else [parts[0] if parts[0] == "auto" else int(parts[0])]
        out.append(tuple(head + [int(x) for x in parts[-2:]]))
    return tuple(out)


def race(target: str, d: int, m: int, psis: list[str], reference_points: int, rqmc_points: list[int],
         steps: int, max_r2_nodes: int, hidden: str = "relu", plain: tuple = PLAIN, cond: tuple = COND,
         var_points: int = 2**16, json_path: str | None = None, cv: object = True) -> list[dict]:
    t0 = time.time()
    base = zoo.trained_mlp(d, m, target, steps=steps, seed=0, hidden=hidden, num_threads=1)
    print(f"# trained {target} d={d} m={m} hidden={hidden} in {time.time() - t0:.0f} s", flush=True)
    rows = []
    for psi in psis:
        mlp = base.replace(output=shinnet.activations.get(psi))
        t0 = time.time()
        ref = shinnet.monte_carlo(mlp, reference_points, seed=7, method="sobol", control_variates=cv,
                                  progress=False, max_seconds=None)
        plain_mc = shinnet.monte_carlo(mlp, var_points, seed=3, progress=False, max_seconds=None)
        var = plain_mc.stderr**2 * var_points
        fwd = plain_mc.flops / var_points
        rq = [shinnet.monte_carlo(mlp, n, seed=11, method="sobol", control_variates=cv, progress=False,
                                  max_seconds=None) for n in rqmc_points]
        rq_f = np.array([e.flops for e in rq])
        rq_se = np.array([max(e.stderr, 1e-300) for e in rq])
        ad = shinnet.conditioning.active_directions(mlp, min(3, d))
        head = (f"## {target} d={d} m={m} hidden={hidden} psi={psi}: reference {ref.value:.10f} +- {ref.stderr:.2e} "
                f"({reference_points} RQMC+CV({cv}) points, {time.time() - t0:.0f} s); M eigenvalues "
                f"{np.array2string(ad.eigenvalues[:4], precision=3)}; energy share by rank "
                f"{tuple(round(float(x), 3) for x in ad.energy_share_by_rank)}; Var psi(f) {var:.3g}; "
                "RQMC+CV s.e. "
                + ", ".join(f"{n}: {s:.2e} ({f:.2g} FLOPs)" for n, s, f in zip(rqmc_points, rq_se, rq_f)))
        print(head, flush=True)
        runs = [("plain", None, N, K) for N, K in plain] + [("cond", r, N, K) for r, N, K in cond]
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
            row = {"target": target, "d": d, "m": m, "hidden": hidden, "cv": str(cv), "psi": psi,
                   "ref": ref.value, "kind": kind, "r": c.get("r", 0) if kind == "cond" else 0,
                   "asked": r, "N": N, "K": K, "err": err, "budget": e.budget_total, "reliable": e.reliable,
                   "flops": e.flops, "flops_adv": e.flops_with_advice, "nodes": c.get("nodes", 0),
                   "quad": c.get("quadrature_error", 0.0), "share": c.get("energy_share"),
                   "wall": time.time() - t, "ref_se": ref.stderr, "reasons": list(e.unreliable_reasons),
                   "value": e.value, "inner_budget": c.get("inner_budget"),
                   "node_flags": c.get("node_flags"), "share_by_degree": c.get("energy_share_by_degree"),
                   "rq_points": list(rqmc_points),
                   "rq_se": rq_se.tolist(), "rq_f": rq_f.tolist(), "var": var, "fwd": fwd,
                   "eig": ad.eigenvalues[:4].tolist(), "shares": [float(x) for x in ad.energy_share_by_rank]}
            for tag, F in (("adv", e.flops_with_advice), ("noadv", max(e.flops, 1.0))):
                row[f"mc_{tag}"] = math.sqrt(var / max(F / fwd, 1e-300))
                row[f"rq_{tag}"], row[f"rq_extrap_{tag}"] = _peer(F, np.array(rqmc_points, float), rq_f, rq_se)
            rows.append(row)
            if json_path:
                with open(json_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, default=str) + "\n")
            resolved = "~" if abs(err) < 2 * ref.stderr else ""
            share = "" if row["share"] is None else f"{row['share']:.3f}"
            print(f"| {target} | {psi} | {kind} r={row['r']}{'(auto)' if r == 'auto' else ''} N={N} K={K} | "
                  f"{resolved}{err:+.2e} | {e.budget_total:.1e} | {'yes' if e.reliable else 'NO'} | "
                  f"{e.flops:.2g} / {e.flops_with_advice:.2g} | {row['nodes']} | {row['quad']:.1e} | {share} | "
                  f"{row['mc_adv']:.1e} | {_fmt(row['rq_adv'], row['rq_extrap_adv'])} | "
                  f"{_ratio(err, row['rq_adv'])} / {_ratio(err, row['rq_noadv'])} | {row['wall']:.1f} |",
                  flush=True)
    return rows


def _fmt(peer: float | None, extrapolated: bool) -> str:
    return "n/a" if peer is None else f"{peer:.1e}{'*' if extrapolated else ''}"


def _ratio(err: float, peer: float | None) -> str:
    return "-" if peer is None else f"{abs(err) / peer:.2g}"


def _verdict(err: float, peer: float | None, ref_se: float) -> str:
    """"ahead" / "behind" of a peer RMSE, "unresolved" when both are below twice the reference's s.e.,
    "no peer" when RQMC cannot run at that budget."""
    if peer is None:
        return "no peer"
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
              f"unresolved {v.count('unresolved')}, no peer {v.count('no peer')}")
    for key in sorted({(r["target"], r["hidden"], r["psi"]) for r in rows}):
        parts = []
        for cap in (1e7, 1e8, 1e9, 1e10, 1e11):
            errs = [abs(r["err"]) for r in rows
                    if (r["target"], r["hidden"], r["psi"]) == key and r["flops_adv"] <= cap]
            parts.append(f"<= {cap:.0e}: {min(errs):.1e}" if errs else f"<= {cap:.0e}: -")
        print(f"  best error {'/'.join(key)}: " + "; ".join(parts))


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
    ap.add_argument("--hidden", default="relu", help="hidden activation of the trained nets")
    ap.add_argument("--plain", nargs="+", help='plain rungs "N,K" (default: PLAIN)')
    ap.add_argument("--cond", nargs="+", help='conditional settings "r,N,K", r an int or auto (default: COND)')
    ap.add_argument("--var-points", type=int, default=2**16, help="plain MC samples for Var psi(f)")
    ap.add_argument("--cv", default="quadratic", choices=["quadratic", "linear", "none"],
                    help="control variates of the reference and the RQMC peer (quadratic needs Var f: ~2 m^2 d)")
    ap.add_argument("--json", help="write all rows to this file (JSON lines, appended)")
    args = ap.parse_args()
    plain = _settings(args.plain, PLAIN, 2)
    cond = _settings(args.cond, COND, 3)
    print("| target | psi | run | error | budget | reliable | FLOPs (contractions / with advice) | nodes | "
          "quad. err | share | MC RMSE @F adv | RQMC s.e. @F adv | err/RQMC adv / no adv | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for target in args.targets:
        rows += race(target, args.d, args.m, args.psi, args.reference_points, args.rqmc_points, args.steps,
                     args.max_r2_nodes, args.hidden, plain, cond, args.var_points, args.json,
                     {"quadratic": True, "linear": "linear", "none": False}[args.cv])
    summary(rows)


if __name__ == "__main__":
    main()
