"""``shinnet study ...``: the race against Monte Carlo and the convergence studies (docs/studies.md).

Subcommands (each writes CSVs and PNGs to ``--out DIR``, default ``./shinnet-study`` in the
current directory, resolved here and passed to the library as an absolute path):

* ``race`` -- shinnet vs every sampling peer (plain Monte Carlo, RQMC, RQMC + control variates,
  hybrid; ``--peer-log2-n``) at equal FLOPs on a model grid (``--preset small|full|tiny|peers``),
  with an RQMC ground truth (``--truth-method``), the degree and the resummed expansion
  (``--expansions``) and which one wins where;
* ``kappa-vs-K`` -- kappa_n against the Hermite degree K with the Monte Carlo reference;
* ``series-order`` -- E[psi(f)] against the series order q;
* ``pruning`` -- pruning tolerance against reported budget against actual error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from shinnet.study import suite, tables
from shinnet.study.groundtruth import ground_truths
from shinnet.study.suite import ModelSpec, build_model

__all__ = ["register", "parse_model", "summary_rows"]

DEFAULT_OUT = "shinnet-study"
DEFAULT_MODELS = ("random/tanh/d8/m1024/s0", "relu_shift/relu/d8/m1024/s0")


def parse_model(text: str) -> Any:
    """``TARGET/HIDDEN/dD/mM[/sS]`` (e.g. ``random/tanh/d8/m1024/s0``) -> ModelSpec."""
    parts = text.split("/")
    try:
        if len(parts) not in (4, 5) or parts[2][0] != "d" or parts[3][0] != "m":
            raise ValueError
        seed = int(parts[4][1:]) if len(parts) == 5 else 0
        return ModelSpec(d=int(parts[2][1:]), m=int(parts[3][1:]), hidden=parts[1], target=parts[0], seed=seed)
    except (ValueError, IndexError):
        raise ValueError(f"model {text!r} is not TARGET/HIDDEN/dD/mM[/sS], e.g. random/tanh/d8/m1024/s0") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path(DEFAULT_OUT),
                   help=f"output directory for CSVs and PNGs (default ./{DEFAULT_OUT})")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="ground-truth / model cache (default $SHINNET_CACHE_DIR or the user cache dir)")
    p.add_argument("--quick", action="store_true", help="a small, fast version (for smoke tests)")


def _models_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=None,
                   help=f"TARGET/HIDDEN/dD/mM[/sS] (repeatable; default {' and '.join(DEFAULT_MODELS)})")
    p.add_argument("--truth-stderr", type=float, default=2e-4, help="ground-truth target stderr (default 2e-4)")
    p.add_argument("--truth-max-samples", type=int, default=2**20,
                   help="ground-truth sample cap; kappa-vs-K always uses this many (default 2^20)")


def register(subparsers: Any) -> None:
    """Add ``study`` and its subcommands."""
    p = subparsers.add_parser("study", help="race against Monte Carlo; convergence studies", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="study", metavar="STUDY")
    sub.required = True

    r = sub.add_parser("race", help="shinnet vs Monte Carlo, MSE against FLOPs, on a model grid")
    _common(r)
    r.add_argument("--preset", default="small", help="grid preset: small (default), full, tiny")
    for name in ("d", "m", "seeds"):
        r.add_argument(f"--{name}", type=int, nargs="+", default=None, help=f"override the preset's {name}")
    for name in ("hidden", "outputs", "targets"):
        r.add_argument(f"--{name}", nargs="+", default=None, help=f"override the preset's {name}")
    r.add_argument("--expansions", nargs="+", default=None, choices=("degree", "resummed"),
                   help="expansions raced (default: the preset's, both)")
    r.add_argument("--peer-log2-n", type=int, nargs="*", default=None,
                   help="measure the sampling peers (RQMC, RQMC + control variates, hybrid) at 2^p points "
                        "(default: the preset's; none: plain Monte Carlo only)")
    r.add_argument("--truth-method", choices=("rqmc", "monte_carlo"), default=None,
                   help="ground truth by RQMC + control variates (default) or Monte Carlo")
    r.add_argument("--truth-stderr", type=float, default=None, help="override the preset's ground-truth stderr")
    r.add_argument("--truth-max-samples", type=int, default=None, help="override the preset's ground-truth cap")
    r.set_defaults(func=run_race)

    k = sub.add_parser("kappa-vs-K", help="kappa_n against the Hermite degree K, with Monte Carlo")
    _common(k)
    _models_arg(k)
    k.add_argument("--order", type=int, default=4)
    k.add_argument("--max-degree", type=int, default=6)
    k.set_defaults(func=run_kappa_vs_k)

    s = sub.add_parser("series-order", help="E[psi(f)] against the series order q")
    _common(s)
    _models_arg(s)
    s.add_argument("--outputs", nargs="+", default=["tanh", "relu", "sigmoid"])
    s.add_argument("--max-q", type=int, default=3)
    s.add_argument("--max-degree", type=int, default=4)
    s.set_defaults(func=run_series_order)

    q = sub.add_parser("pruning", help="pruning tolerance vs reported budget vs actual error")
    _common(q)
    _models_arg(q)
    q.add_argument("--order", type=int, default=4)
    q.add_argument("--max-degree", type=int, default=4)
    q.add_argument("--tols", type=float, nargs="+", default=[1e-8, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    q.set_defaults(func=run_pruning)


def _out(args: argparse.Namespace) -> Path:
    out = args.out.expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


def summary_rows(families: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (target, output, expansion): the rung with the largest median FLOP ratio *with advice*
    (the honest one: it pays for the vertex tensors), and the ratios at the most expensive rung
    (largest median FLOPs with advice)."""
    best: dict[tuple, dict[str, Any]] = {}
    top: dict[tuple, dict[str, Any]] = {}
    for f in families:
        key = (f["target"], f["output"], f.get("expansion", "degree"))
        if key not in best or f["median_ratio_advice"] > best[key]["median_ratio_advice"]:
            best[key] = f
        if key not in top or f["median_flops_advice"] > top[key]["median_flops_advice"]:
            top[key] = f
    out = []
    for k, b in sorted(best.items()):
        t = top[k]
        out.append({"target": k[0], "output": k[1], "expansion": k[2], "best rung": b["rung"],
                    "MSE/Var(y)": b["median_nmse"], "ratio": b["median_ratio"],
                    "ratio w/ advice": b["median_ratio_advice"], "wins w/ advice": f"{b['wins_advice']}/{b['models']}",
                    "top rung": t["rung"], "top MSE/Var(y)": t["median_nmse"],
                    "top ratio w/ advice": t["median_ratio_advice"], "top wins w/ advice": f"{t['wins_advice']}/{t['models']}",
                    "unresolved": b["unresolved_models"] + t["unresolved_models"]})
    return out


def run_race(args: argparse.Namespace) -> int:
    from shinnet.study import compare, plotting, race  # lazy: cotengra; 'shinnet --help' imports cli

    grid = suite.preset("tiny" if args.quick else args.preset)
    overrides = {k: getattr(args, k) for k in ("d", "m", "seeds", "hidden", "outputs", "targets", "expansions",
                                                "peer_log2_n", "truth_method", "truth_stderr", "truth_max_samples")
                 if getattr(args, k, None) is not None}
    grid = grid.with_(**overrides)
    out = _out(args)
    print(f"race: {grid.size()} models x {len(grid.outputs)} outputs x {len(grid.rungs())} rungs "
          f"({', '.join(grid.expansions)}) -> {out}")
    t0 = time.perf_counter()
    peer_rows: list[dict[str, Any]] = []
    rows = race.run_race(grid, cache_dir=args.cache_dir, progress=True, log=print, peer_rows=peer_rows)
    fams = race.family_table(rows)
    summary = summary_rows(fams)
    tables.write_csv(out / "race.csv", rows)
    tables.write_csv(out / "race_families.csv", fams)
    text = tables.markdown_table(summary)
    written = ["race.csv", "race_families.csv", "race_summary.md", "race.png"]
    if peer_rows:
        tables.write_csv(out / "race_peers.csv", peer_rows)
        against = compare.peer_summary(rows)
        text += "\nAgainst the strongest peer (FLOP ratio at equal MSE; > 1: shinnet wins):\n\n"
        text += tables.markdown_table(against)
        written.insert(2, "race_peers.csv")
    (out / "race_summary.md").write_text(text)
    plotting.plot_race(rows, out / "race.png", peer_rows)
    print(text)
    if set(grid.expansions) == {"degree", "resummed"}:
        table = compare.expansion_table(rows)
        margins = compare.marginal_wins(table)
        tables.write_csv(out / "race_expansions.csv", table)
        (out / "race_expansions.md").write_text(tables.markdown_table(table) + "\n" + tables.markdown_table(margins))
        plotting.plot_expansions(rows, out / "race_expansions.png")
        written += ["race_expansions.csv", "race_expansions.md", "race_expansions.png"]
        print(tables.markdown_table(margins))
    n_truth = sorted({r["truth_n_samples"] for r in rows})
    print(f"ground truth samples per model: {n_truth[0]}..{n_truth[-1]}; "
          f"{sum(r['unresolved'] for r in rows)}/{len(rows)} rows unresolved; {time.perf_counter() - t0:.0f} s")
    print(f"wrote {', '.join(written)} to {out}")
    return 0


def _models(args: argparse.Namespace) -> list[tuple[str, Any]]:
    specs = [parse_model(t) for t in (args.model or DEFAULT_MODELS)]
    if args.quick:
        specs = [s.__class__(d=min(s.d, 4), m=min(s.m, 64), hidden=s.hidden, target=s.target, seed=s.seed)
                 for s in specs]
    return [(s.label, build_model(s, cache_dir=args.cache_dir, train_steps=50 if args.quick else 400)) for s in specs]


def _truths(args: argparse.Namespace, mlp: Any, outputs: list[str], fixed_n: bool = False) -> dict[str, Any]:
    """References; ``fixed_n``: exactly ``--truth-max-samples`` samples (for the kappa_n, whose
    error the control variate does not reduce), else to ``--truth-stderr`` on E[psi(f)]."""
    if fixed_n:
        n = 2**14 if args.quick else args.truth_max_samples
        return ground_truths(mlp, outputs=outputs, n_samples=n, cache_dir=args.cache_dir, progress=True)
    stderr = 1e-2 if args.quick else args.truth_stderr
    return ground_truths(mlp, outputs=outputs, target_stderr=stderr, max_samples=args.truth_max_samples,
                         cache_dir=args.cache_dir, progress=True)


def _write_study(out: Path, stem: str, rows: list, plot: Any, columns: list[str]) -> None:
    """Write ``<stem>.csv`` and ``<stem>.png`` to ``out`` and print the rows as a markdown table."""
    tables.write_csv(out / f"{stem}.csv", rows)
    plot(rows, out / f"{stem}.png")
    print(tables.markdown_table(rows, columns))
    print(f"wrote {stem}.csv and {stem}.png to {out}")


def run_kappa_vs_k(args: argparse.Namespace) -> int:
    from shinnet.study import convergence, plotting  # lazy: cotengra; 'shinnet --help' imports cli

    out = _out(args)
    order, K = (3, 3) if args.quick else (args.order, args.max_degree)
    rows = []
    for label, mlp in _models(args):
        truth = _truths(args, mlp, ["identity"], fixed_n=True)["identity"]
        print(f"{label}: Monte Carlo reference from {truth.n_samples} samples")
        rows += convergence.kappa_vs_k(mlp, label, order, K, truth)
    _write_study(out, "kappa_vs_K", rows, plotting.plot_kappa_vs_k,
                 ["model", "n", "K", "kappa", "mc_kappa", "mc_stderr"])
    return 0


def run_series_order(args: argparse.Namespace) -> int:
    from shinnet.study import convergence, plotting  # lazy: cotengra; 'shinnet --help' imports cli

    out = _out(args)
    max_q, K = (1, 3) if args.quick else (args.max_q, args.max_degree)
    rows = []
    for label, mlp in _models(args):
        truths = _truths(args, mlp, list(args.outputs))
        print(f"{label}: references from {next(iter(truths.values())).n_samples} samples")
        rows += convergence.series_order_study(mlp, label, truths, max_q, K)
    _write_study(out, "series_order", rows, plotting.plot_series_order,
                 ["model", "output", "q", "value", "error", "error_mc_kappa", "last_term", "truth_stderr"])
    return 0


def run_pruning(args: argparse.Namespace) -> int:
    from shinnet.study import convergence, plotting  # lazy: cotengra; 'shinnet --help' imports cli

    out = _out(args)
    order, K = (3, 3) if args.quick else (args.order, args.max_degree)
    rows = []
    for label, mlp in _models(args):
        rows += convergence.pruning_study(mlp, label, order, K, args.tols)
    _write_study(out, "pruning", rows, plotting.plot_pruning,
                 ["model", "tol", "n", "kappa", "budget", "actual", "flops", "n_pruned"])
    bad = [r for r in rows if r["actual"] > r["budget"] * (1 + 1e-9) + 1e-12 * abs(r["kappa"])]
    print(f"{len(bad)} rows where the actual change exceeds the budget" + (" (a bug: section 5 forbids it)" if bad else ""))
    return 0
