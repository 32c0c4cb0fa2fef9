"""``shinnet estimate MODEL``: the mechanistic estimate next to its sampling peers at the same FLOPs.

Examples::

    shinnet estimate example                         # the README's model, defaults of shinnet.estimate
    shinnet estimate model.npz --order 4 --max-degree 5
    shinnet estimate example --expansion resummed --max-edges 6 --psi sigmoid

Every argument is checked before any work (ranges, the model file, names, the combination of
--expansion with --max-degree / --max-edges, the device); the defaults are the library's
(``shinnet.defaults``).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

import shinnet
from shinnet import activations, zoo
from shinnet.cli import checks, peers
from shinnet.model import TwoLayerMLP

__all__ = ["register", "load_model", "validate", "run"]

_NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def load_model(spec: str, seed: int = 0) -> Any:
    """A saved model (path to an .npz written by ``TwoLayerMLP.save``) or a zoo name.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` saying "is not a valid
    shinnet model file" for anything else that does not parse (never loads a pickle).
    """
    path = Path(spec).expanduser()
    if path.suffix != ".npz" and not path.is_file():
        if spec in zoo.names():
            return zoo.get(spec, seed=seed)
        raise ValueError(f"unknown model {spec!r}: not a model file and not a zoo name "
                         f"(known: {', '.join(zoo.names())})")
    if not path.exists():
        raise FileNotFoundError(f"no model file {spec}")
    if path.is_dir():
        raise ValueError(f"{spec} is a directory, not a shinnet model file")
    with path.open("rb") as fh:
        head = fh.read(4)
    if head not in _NPZ_MAGIC:
        raise ValueError(f"{spec} is not a valid shinnet model file (not an .npz archive written by "
                         "TwoLayerMLP.save)")
    try:
        return TwoLayerMLP.load(path)
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile, OSError) as exc:
        why = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
        if "version" in why:  # a model file from another shinnet version: TwoLayerMLP.load says which
            raise ValueError(why) from None
        if "model file" in why:  # TwoLayerMLP.load's own "is not a shinnet model file (reason)"
            reason = why.split("model file", 1)[1].strip(" ()") or "no shinnet header"
            raise ValueError(f"{spec} is not a valid shinnet model file ({reason})") from None
        raise ValueError(f"{spec} is not a valid shinnet model file ({type(exc).__name__}: {why})") from None


def register(subparsers: Any) -> None:
    """Add the ``estimate`` subcommand; defaults come from the library (``shinnet.defaults``)."""
    order = checks.api_default("order", 4)
    degree = checks.api_default("max_degree", 4)
    edges = checks.api_default("max_edges", 5)
    expansion = checks.api_default("expansion", "degree")
    p = subparsers.add_parser(
        "estimate",
        help="estimate E[psi(f)] mechanistically, next to its sampling peers at the same FLOPs",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="a zoo name (see shinnet.zoo.names()) or a saved .npz model")
    p.add_argument("--order", type=checks.int_arg(2), default=order,
                   help=f"highest cumulant order N >= 2 (default {order})")
    p.add_argument("--max-degree", type=checks.int_arg(1), default=None,
                   help=f"Hermite degree truncation K of the degree expansion (default {degree}; "
                        "with --expansion degree or auto)")
    p.add_argument("--expansion", default=expansion, choices=["degree", "resummed", "auto"],
                   help="degree: Hermite degree truncation K (MATH.md section 3); resummed: same-unit parts exact, "
                        "series in the cosines truncated at --max-edges (section 8); auto: chosen by the diagnostics "
                        f"(default {expansion})")
    p.add_argument("--max-edges", type=checks.int_arg(0), default=None,
                   help=f"cosine order E of the resummed expansion (default {edges}; with --expansion resummed or auto)")
    p.add_argument("--tol", type=checks.float_arg(0.0), default=checks.api_default("tol", 0.0),
                   help="pruning tolerance >= 0 (default 0: prune nothing)")
    p.add_argument("--series-order", type=checks.int_arg(0), default=None, help="series order q in [0, N-2] (default N - 2)")
    p.add_argument("--condition", type=_condition_arg, default=0,
                   help="condition on r active directions (MATH.md section 9): 0 (default, plain), 1, 2, 3 or auto; "
                        "degree expansion only")
    p.add_argument("--psi", type=checks.activation_arg, default=None,
                   help="estimate E[psi(f)] for this registered activation instead of the model's output")
    p.add_argument("--backend", default=checks.api_default("backend", "numpy"), choices=["numpy", "torch"])
    p.add_argument("--device", default=None, help="torch device (cpu, cuda, cuda:0); needs --backend torch")
    p.add_argument("--seed", type=checks.int_arg(0), default=0, help="seed for zoo models and the samplers")
    p.add_argument("--reference-samples", type=checks.count_arg(0), default=2**14,
                   help="samples of the reference value (default 16384: a few seconds on the example; 0 to skip)")
    p.add_argument("--reference-method", default="auto", choices=peers.REFERENCE_METHODS,
                   help="sampler of the reference: auto (RQMC + control variates when available), plain, rqmc, rqmc-cv")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bars on stderr (default on; --no-progress to turn off)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.set_defaults(func=run, _defaults={"max_degree": degree, "max_edges": edges})


def _condition_arg(text: str) -> int | str:
    """``--condition``: an integer r in 0..3 or ``auto``."""
    if text == "auto":
        return text
    try:
        r = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer 0..3 or 'auto', got {text!r}") from None
    if not 0 <= r <= 3:
        raise argparse.ArgumentTypeError(f"must be an integer 0..3 or 'auto', got {text!r}")
    return r


def validate(args: argparse.Namespace) -> None:
    """Check the combinations of arguments (before any work); fills the expansion's defaults."""
    if getattr(args, "condition", 0) != 0 and args.expansion != "degree":
        raise ValueError("--condition runs the inner estimate with the degree expansion; use --expansion degree")
    if args.expansion == "degree" and args.max_edges is not None:
        raise ValueError("--max-edges applies to --expansion resummed or auto; the degree expansion is "
                         "truncated by --max-degree")
    if args.expansion == "resummed" and args.max_degree is not None:
        raise ValueError("--max-degree applies to --expansion degree or auto; the resummed expansion is "
                         "truncated by --max-edges")
    if args.max_degree is None and args.expansion != "resummed":
        args.max_degree = args._defaults["max_degree"]
    if args.max_edges is None and args.expansion != "degree":
        args.max_edges = args._defaults["max_edges"]
    if args.series_order is not None and args.series_order > args.order - 2:
        raise ValueError(f"--series-order must be in [0, order - 2] = [0, {args.order - 2}], got {args.series_order}")
    if 0 < args.reference_samples < 2:
        raise ValueError(f"--reference-samples must be 0 (skip) or >= 2, got {args.reference_samples}")
    if args.reference_samples:
        peers.reference_label(args.reference_method)
    args.json = checks.output_file("--json", args.json)
    checks.check_device(args.backend, args.device)


def _line(label: str, est: Any, ref: Any = None, budget: float | None = None) -> str:
    """One row: value, error (s.e. or budget), FLOPs with advice, |value - reference|, samples, and
    how far a peer ran over the FLOP budget it was given."""
    if est.stderr is not None:
        err = f"+- {est.stderr:.2e}"
    elif getattr(est, "reliable", True):
        err = f"budget {est.error:.2e}"
    else:  # the budget bounds nothing (shinnet.reliability): say so instead of printing a number
        err = "NOT RELIABLE"
    actual = f"{abs(est.value - ref.value):.2e}" if ref is not None else "-"
    n = est.details.get("n_samples")
    extra = f"  {n} samples" if n is not None else ""
    if budget is not None and est.flops_with_advice > 1.05 * budget:
        extra += f", {est.flops_with_advice / budget:.3g}x over the FLOPs"
    return f"  {label:<34s} {est.value:+.8f} {err:<16s} {est.flops_with_advice:10.3e}  {actual:>9s}{extra}"


def run(args: argparse.Namespace) -> int:
    """Execute ``shinnet estimate``; returns the exit code."""
    validate(args)
    mlp = load_model(args.model, seed=args.seed)
    if args.psi is not None:
        mlp = mlp.replace(output=activations.get(args.psi))
    print(f"model: {mlp!r}", flush=True)
    device = {} if args.device is None else {"device": args.device}
    est = shinnet.estimate(mlp, order=args.order, max_degree=args.max_degree, tol=args.tol,
                           series_order=args.series_order, backend=args.backend, progress=args.progress,
                           expansion=args.expansion, max_edges=args.max_edges, condition=args.condition, **device)
    common = {"backend": args.backend, **device, **({} if args.progress else {"progress": False})}
    budget = est.flops_with_advice
    raced = peers.race_peers(mlp, budget, args.seed + 1, common, estimate=est)
    no_advice = shinnet.monte_carlo(mlp, max(2, int(est.flops // mlp.flops_per_sample())), seed=args.seed + 100,
                                    backend=args.backend, progress=False, **device)
    ref = ref_peer = None
    if args.reference_samples:
        ref_peer = peers.reference(mlp, args.reference_samples, args.seed + 200, args.reference_method,
                                   {**common, "progress": args.progress})
        ref = ref_peer.estimate

    used = est.details.get("expansion", args.expansion)
    trunc = f"E={args.max_edges}" if used == "resummed" else f"K={args.max_degree}"
    label = f"shinnet ({used}, N={args.order}, {trunc}, q={est.details['series_order']})"
    if "condition" in est.details:
        label = label[:-1] + f", r={est.details['condition']['r']})"
    print(f"\nE[psi(f)], psi = {mlp.output.name}; FLOPs include building the shin tensors (the advice)")
    print(f"  {'method':<34s} {'value':<11s} {'error':<16s} {'FLOPs':>10s}  {'|x - ref|':>9s}")
    print(_line(label, est, ref) + f"  ({est.flops:.3e} FLOPs without advice)")
    for name, part in est.error_budget.items():
        print(f"      {name:<28s} {part:.3e}")
    for reason in getattr(est, "unreliable_reasons", []):
        print(f"      not reliable: {reason}")
    print(f"  sampling peers at the same FLOPs ({budget:.3e}):")
    for peer in raced:
        print(_line(peer.label, peer.estimate, ref, budget) if peer.refused is None
              else f"  {peer.label:<34s} not run: {peer.refused}")
    print(_line("Monte Carlo at FLOPs w/o advice", no_advice, ref))
    if ref is not None:
        print(_line(ref_peer.label, ref))
        print(f"\n|shinnet - reference| = {abs(est.value - ref.value):.2e} (reference s.e. {ref.stderr:.1e})")
        print(_verdict(est, ref, raced, budget))
    _print_cumulants(est, ref)
    if args.json is not None:
        args.json.write_text(json.dumps(_payload(mlp, est, used, raced, no_advice, ref), indent=2, default=float))
        print(f"\nwrote {args.json}")
    return 0


def _verdict(est: Any, ref: Any, raced: list, budget: float) -> str:
    """shinnet's actual error against the smallest standard error of a peer that stayed within the FLOPs."""
    err = abs(est.value - ref.value)
    fair = [p for p in raced if p.refused is None and p.estimate.stderr is not None
            and p.estimate.flops_with_advice <= 1.05 * budget]
    if not fair:
        return "no sampling peer fits in shinnet's FLOPs"
    best = min(fair, key=lambda p: p.estimate.stderr)
    ratio = best.estimate.stderr / err if err > 0 else float("inf")
    side = f"{ratio:.3g}x larger" if ratio >= 1 else f"{1 / ratio:.3g}x smaller"
    return (f"best sampling peer within the same FLOPs: {best.label}, s.e. {best.estimate.stderr:.2e} "
            f"({side} than shinnet's actual error)")


def _print_cumulants(est: Any, ref: Any) -> None:
    kappa_se = {} if ref is None else ref.details.get("kappa_stderr", {})
    print("\ncumulants of f:   n   shinnet            reference")
    for n, v in est.kappa.items():
        mc = ""
        if ref is not None and n in ref.kappa:
            se = kappa_se.get(n)
            mc = f"{ref.kappa[n]:+.6e}" + (f" +- {se:.1e}" if se is not None else "")
        print(f"                  {n}   {v:+.6e}      {mc}")


def _summary(est: Any) -> dict[str, Any]:
    return {"value": est.value, "stderr": est.stderr, "flops": est.flops, "flops_with_advice": est.flops_with_advice,
            "n_samples": est.details.get("n_samples")}


def _payload(mlp: Any, est: Any, used: str, raced: list, no_advice: Any, ref: Any) -> dict[str, Any]:
    return {
        "model": repr(mlp),
        "estimate": {"expansion": used, "value": est.value, "error_budget": dict(est.error_budget), "flops": est.flops,
                     "flops_with_advice": est.flops_with_advice, "kappa": est.kappa},
        "peers_equal_flops": {p.label: (_summary(p.estimate) if p.refused is None else {"refused": p.refused})
                              for p in raced},
        "monte_carlo_equal_flops": _summary(no_advice),
        "reference": None if ref is None else {**_summary(ref), "method": ref.method},
    }
