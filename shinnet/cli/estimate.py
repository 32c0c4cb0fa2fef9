"""``shinnet estimate MODEL``: the mechanistic estimate next to Monte Carlo at the same FLOPs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register", "load_model", "run"]


def load_model(spec: str, seed: int = 0) -> Any:
    """A saved model (path to an .npz written by ``TwoLayerMLP.save``) or a zoo name."""
    from shinnet import zoo
    from shinnet.model import TwoLayerMLP

    path = Path(spec)
    if path.suffix == ".npz" or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"no model file {spec}")
        return TwoLayerMLP.load(path)
    return zoo.get(spec, seed=seed)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "estimate",
        help="estimate E[psi(f)] mechanistically, next to Monte Carlo at the same FLOPs",
        description=__doc__,
    )
    p.add_argument("model", help="a zoo name (see shinnet.zoo) or a saved .npz model")
    p.add_argument("--order", type=int, default=4, help="highest cumulant order N (default 4)")
    p.add_argument("--max-degree", type=int, default=4, help="Hermite degree truncation K (default 4)")
    p.add_argument(
        "--expansion",
        default="degree",
        choices=["degree", "resummed", "auto"],
        help="degree: Hermite degree truncation K (MATH.md section 3); resummed: same-unit parts exact, "
        "series in the cosines truncated at --max-edges (section 8); auto: chosen by the diagnostics",
    )
    p.add_argument("--max-edges", type=int, default=5,
                   help="cosine order E of the resummed expansion (default 5; used by resummed and auto)")
    p.add_argument("--tol", type=float, default=0.0, help="pruning tolerance (default 0: prune nothing)")
    p.add_argument("--series-order", type=int, default=None, help="series order q (default N - 2)")
    p.add_argument("--backend", default="numpy", choices=["numpy", "torch"])
    p.add_argument("--seed", type=int, default=0, help="seed for zoo models and Monte Carlo")
    p.add_argument(
        "--reference-samples",
        type=float,
        default=4e5,
        help="Monte Carlo samples for the reference value (default 4e5; 0 to skip)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.set_defaults(func=run)


def _mc_line(label: str, est: Any) -> str:
    return f"  {label:<34s} {est.value:+.8f} +- {est.stderr:.2e}   {est.flops:10.3e} FLOPs  ({est.details['n_samples']} samples)"


def run(args: argparse.Namespace) -> int:
    import shinnet

    mlp = load_model(args.model, seed=args.seed)
    print(f"model: {mlp!r}")
    est = shinnet.estimate(
        mlp,
        order=args.order,
        max_degree=args.max_degree,
        tol=args.tol,
        series_order=args.series_order,
        backend=args.backend,
        progress=True,
        expansion=args.expansion,
        max_edges=None if args.expansion == "degree" else args.max_edges,
    )
    per_sample = mlp.flops_per_sample()
    n_equal = max(2, int(est.flops // per_sample))
    n_equal_advice = max(2, int(est.flops_with_advice // per_sample))
    mc_equal = shinnet.monte_carlo(mlp, n_equal, seed=args.seed + 1)
    mc_equal_advice = shinnet.monte_carlo(mlp, n_equal_advice, seed=args.seed + 2)
    ref = None
    if args.reference_samples >= 2:
        ref = shinnet.monte_carlo(mlp, int(args.reference_samples), seed=args.seed + 3, progress=True)

    used = est.details.get("expansion", args.expansion)
    trunc = f"E={args.max_edges}" if used == "resummed" else f"K={args.max_degree}"
    label = f"shinnet ({used}, N={args.order}, {trunc}, q={est.details['series_order']})"
    print(f"\nE[psi(f)], psi = {mlp.output.name}:")
    print(
        f"  {label:<34s}"
        f" {est.value:+.8f}   budget {est.error:.2e}   {est.flops:10.3e} FLOPs "
        f"({est.flops_with_advice:.3e} with advice)"
    )
    for name, part in est.error_budget.items():
        print(f"      {name:<28s} {part:.3e}")
    print(_mc_line("Monte Carlo, same FLOPs", mc_equal))
    print(_mc_line("Monte Carlo, same FLOPs + advice", mc_equal_advice))
    if ref is not None:
        print(_mc_line("Monte Carlo reference", ref))
        err = abs(est.value - ref.value)
        print(
            f"\n|shinnet - reference| = {err:.2e} (reference s.e. {ref.stderr:.1e}); "
            f"Monte Carlo at equal FLOPs has s.e. {mc_equal.stderr:.2e}"
        )
    print("\ncumulants of f:   n   shinnet            Monte Carlo reference")
    for n, v in est.kappa.items():
        mc = f"{ref.kappa[n]:+.6e} +- {ref.details['kappa_stderr'][n]:.1e}" if ref is not None and n in ref.kappa else ""
        print(f"                  {n}   {v:+.6e}      {mc}")
    if args.json is not None:
        payload = {
            "model": repr(mlp),
            "estimate": {"expansion": used, "value": est.value, "error_budget": dict(est.error_budget), "flops": est.flops,
                         "flops_with_advice": est.flops_with_advice, "kappa": est.kappa},
            "monte_carlo_equal_flops": {"value": mc_equal.value, "stderr": mc_equal.stderr, "flops": mc_equal.flops},
            "reference": None if ref is None else {"value": ref.value, "stderr": ref.stderr, "n": ref.details["n_samples"]},
        }
        args.json.write_text(json.dumps(payload, indent=2, default=float))
        print(f"\nwrote {args.json}")
    return 0
