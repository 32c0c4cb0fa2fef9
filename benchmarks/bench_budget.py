"""Error against ``budget_flops``: the budget planner (shinnet/budget/chooser.py) against the previous
planner (``choose_settings`` of shinnet/budget/chooser.py at ``--old-rev``, degree expansion only, priced
without the Gram build) in the same run, on a random-second-layer and a trained model.

    python benchmarks/bench_budget.py --json /tmp/budget.json

Per (model, budget): the value, its error against a reference (scrambled-Sobol RQMC with control
variates, ``shinnet.monte_carlo(method="sobol", control_variates=True)``, its standard error
printed), FLOPs spent with advice / budget, and what ran.  The previous planner is imported
from ``git show <rev>:shinnet/budget/chooser.py`` (read-only) and run through today's ``estimate`` with
the (order, max_degree) it chooses, so both share every engine.

``--baseline unconditioned`` replaces the previous planner by today's walk without its
conditioned ladder (``shinnet.budget.conditioned``: the planner as it was before conditioning
became a candidate), in the same run:

    python benchmarks/bench_budget.py --targets relu_shift --baseline unconditioned

``--baseline order2`` replaces it by today's walk with the conditioned ladder cut to its order-2
(Gaussian inner) rungs, i.e. without the order-3 conditioned rungs (issue 13 item 4):

    python benchmarks/bench_budget.py --targets relu_shift,max --budgets 1e8,1e9,3e9,1e10 --baseline order2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _old_planner(rev: str):
    root = Path(__file__).resolve().parents[1]
    # the chooser lived in shinnet/budget.py before the package layout (issue 11)
    for rel in ("shinnet/budget/chooser.py", "shinnet/budget.py"):
        shown = subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=root, capture_output=True, text=True)
        if shown.returncode == 0:
            break
    shown.check_returncode()
    text = shown.stdout
    path = Path(tempfile.mkdtemp()) / "old_planner.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_planner", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["old_planner"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _order2_only(ladder):
    """The conditioned ladder without its order-3 rungs (``(r, N, 3, K)``; order-2 rungs are ``(r, N)``)."""
    if ladder is not None:
        ladder.rungs = [g for g in ladder.rungs if len(g) == 2]
    return ladder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--m", type=int, default=512)
    ap.add_argument("--hidden", default="relu")
    ap.add_argument("--psi", default="sigmoid")
    ap.add_argument("--targets", default="random,relu_shift")
    ap.add_argument("--budgets", default="1e6,1e7,1e8,1e9,1e10")
    ap.add_argument("--reference-points", type=float, default=2**21)
    ap.add_argument("--old-rev", default="9d25ac0")
    ap.add_argument("--json", default=None)
    ap.add_argument("--baseline", choices=("old", "unconditioned", "order2"), default="old")
    args = ap.parse_args()

    import shinnet
    from shinnet import activations
    from shinnet.budget import BudgetError
    from shinnet.contract import PathCache
    from shinnet.study.suite import ModelSpec, build_model

    warnings.simplefilter("ignore")
    import shinnet.budget.chooser

    old = _old_planner(args.old_rev) if args.baseline == "old" else None
    budgets = [float(b) for b in args.budgets.split(",")]
    rows = []
    for target in args.targets.split(","):
        spec = ModelSpec(args.d, args.m, args.hidden, target, 0)
        mlp = build_model(spec).replace(output=activations.get(args.psi))
        t0 = time.perf_counter()
        ref = shinnet.monte_carlo(mlp, int(args.reference_points), seed=12345, method="sobol",
                                  control_variates=True, scrambles=16, progress=False)
        print(f"{spec.label} psi={args.psi}: reference {ref.value:.10f} +- {ref.stderr:.2g} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        cache_new, cache_old = PathCache(), PathCache()
        for budget in budgets:
            row = {"model": spec.label, "psi": args.psi, "budget": budget, "reference": ref.value,
                   "reference_stderr": ref.stderr}
            t0 = time.perf_counter()
            try:
                est = shinnet.estimate(mlp, budget_flops=budget, cache=cache_new)
                ch = est.details["budget_choice"]
                best = ch.runs[ch.chosen]
                row["new"] = {"value": est.value, "error": abs(est.value - ref.value),
                              "spent_over_budget": est.flops_with_advice / budget, "ran": best.label(),
                              "runs": len(ch.runs), "planned_error": ch.planned_error,
                              "seconds": time.perf_counter() - t0, "stop": ch.stop_reason,
                              "walk": [{"ran": r.label(), "error": abs(r.value - ref.value), "score": r.score,
                                        "spent": r.spent, "price": r.price.total} for r in ch.runs]}
                for r in ch.runs[-4:]:  # the end of the walk: what the budget bought last
                    print(f"    ran {r.label()}: err {abs(r.value - ref.value):.2e} score {r.score:.2e} "
                          f"spent {r.spent:.3g} <= price {r.price.total:.3g}", flush=True)
            except BudgetError as exc:
                row["new"] = {"refused": str(exc)[:120]}
            t0 = time.perf_counter()
            if args.baseline != "old" and "refused" in row["new"]:
                rows.append(row)
                print(f"  B={budget:.0e}: both refused ({row['new']['refused'][:60]}...)", flush=True)
                continue
            if args.baseline != "old":
                plain_walk = shinnet.budget.chooser.conditioned_ladder
                shinnet.budget.chooser.conditioned_ladder = (
                    (lambda *a, **k: None) if args.baseline == "unconditioned"  # the walk without conditioning
                    else (lambda *a, **k: _order2_only(plain_walk(*a, **k))))
                try:
                    est = shinnet.estimate(mlp, budget_flops=budget, cache=cache_old)
                finally:
                    shinnet.budget.chooser.conditioned_ladder = plain_walk
                ch = est.details["budget_choice"]
                ran, fits = f"{ch.runs[ch.chosen].label()} ({len(ch.runs)})", True
            else:
                choice = old.choose_settings(mlp, budget, cache=cache_old)
                est = shinnet.estimate(mlp, order=choice.order, max_degree=choice.max_degree, tol=0.0,
                                       cache=cache_old, warn=False)
                ran, fits = f"degree(N={choice.order}, K={choice.max_degree})", choice.fits
            row["old"] = {"value": est.value, "error": abs(est.value - ref.value),
                          "spent_over_budget": est.flops_with_advice / budget, "ran": ran, "fits": fits,
                          "seconds": time.perf_counter() - t0}
            rows.append(row)
            n, o = row["new"], row["old"]
            if "refused" in n:
                print(f"  B={budget:.0e}: new refused ({n['refused'][:60]}...); old {o['ran']} err {o['error']:.2e} "
                      f"spent/B {o['spent_over_budget']:.2f}", flush=True)
            else:
                print(f"  B={budget:.0e}: new {n['ran']} ({n['runs']} runs) err {n['error']:.2e} spent/B "
                      f"{n['spent_over_budget']:.2f} [{n['seconds']:.0f} s] | old {o['ran']} err {o['error']:.2e} "
                      f"spent/B {o['spent_over_budget']:.2f} [{o['seconds']:.0f} s] | old/new error "
                      f"{o['error'] / max(n['error'], 1e-300):.3g}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
