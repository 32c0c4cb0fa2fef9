"""``shinnet paths``: the contraction plan of each diagram (representation, path, FLOPs,
largest intermediate, time), with the one-off Gram and dense builds in the totals, optionally
with labelled PNG drawings (``--plot DIR``).

Examples::

    shinnet paths --order 4 --max-degree 4 --d 16 --m 1024
    shinnet paths --edges '0-1x2,1-2,0-2' --inputs --plot plans/
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shinnet.cli import checks
from shinnet.enumerate import Diagram

__all__ = ["register", "run", "LEGEND"]

#: printed above the table: what each column means
LEGEND = """\
rep        how the diagram's vertex tensors enter (docs/contract.md): dense = the d^k shin tensors;
           factored = weights lambda_k (size m) joined to each leg by a copy of U (m x d);
           gram = hidden-unit space, weights and elementwise Gram powers (U U^T)^(o p) (m x m);
           mixed = dense where d^k <= m, factored elsewhere
FLOPs      cotengra's contraction cost; max size: entries of the largest tensor held
path       cotengra's contraction order (opt_einsum's linear format): each (i,j) contracts the i-th and
           j-th tensors of the current list, removes both and appends the result at the end; the
           inputs are numbered as '--inputs' lists them (and as the --plot trees label them)"""


def register(subparsers: Any) -> None:
    """Add the ``paths`` subcommand."""
    p = subparsers.add_parser("paths", help="show cotengra contraction plans of the cumulant diagrams",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--order", type=checks.int_arg(2), default=checks.api_default("order", 4),
                   help="largest cumulant order N >= 2 (default: the library's)")
    p.add_argument("--max-degree", type=checks.int_arg(1), default=checks.api_default("max_degree", 4),
                   help="Hermite degree truncation K (default: the library's)")
    p.add_argument("--d", type=checks.int_arg(1), default=16, help="input dimension (default 16)")
    p.add_argument("--m", type=checks.int_arg(1), default=1024, help="hidden width (default 1024)")
    p.add_argument("--representation", default="auto", choices=["auto", "dense", "factored", "gram", "mixed"])
    p.add_argument("--edges", default=None,
                   help="one diagram instead of all: edges 'i-j[xmult],...', e.g. '0-1x2,1-2,0-2'")
    p.add_argument("--inputs", action="store_true", help="list each diagram's numbered inputs under its row")
    p.add_argument("--cache", type=Path, default=None, help="JSON path cache to read and extend")
    p.add_argument("--no-time", action="store_true", help="do not time one contraction per diagram")
    p.add_argument("--plot", type=Path, default=None, metavar="DIR", help="write labelled tree and network PNGs to DIR")
    p.set_defaults(func=run)


def _parse_edges(text: str) -> list[tuple[int, int, int]]:
    edges = []
    for part in text.split(","):
        part = part.strip()
        mult = 1
        if "x" in part:
            part, m = part.split("x")
            mult = int(m)
        i, j = (int(v) for v in part.split("-"))
        edges.append((i, j, mult))
    return edges


def _format_path(path: Any) -> str:
    return "".join(f"({','.join(str(x) for x in p)})" for p in path)


def _format_inputs(record: Any) -> str:
    from shinnet.contract.plan_plots import source_label  # lazy: cotengra; 'shinnet --help' imports cli

    return "  ".join(f"{i}={source_label(src)}[{','.join(ix)}]" for i, (ix, src) in enumerate(zip(record.inputs,
                                                                                                  record.sources)))


def _check(args: argparse.Namespace) -> Any:
    """Check files and the edge list before any work; returns the one diagram or None."""
    if args.cache is not None and not args.cache.expanduser().parent.is_dir():
        raise ValueError(f"--cache {args.cache}: folder {args.cache.parent} does not exist")
    if args.plot is not None and args.plot.exists() and not args.plot.is_dir():
        raise ValueError(f"--plot {args.plot}: exists and is not a folder")
    if not args.edges:
        checks.check_cost(args.order, args.max_degree, "shinnet paths", d=args.d, m=args.m,
                          representation=args.representation)
        return None
    try:
        return Diagram.from_edges(_parse_edges(args.edges))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--edges {args.edges!r} is not an edge list like '0-1x2,1-2': {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Execute ``shinnet paths``; returns the exit code."""
    diagram = _check(args)
    from shinnet.contract import PathCache  # lazy: cotengra; 'shinnet --help' imports cli
    from shinnet.contract.report import paths_report  # lazy: as above

    report = paths_report(args.order, args.max_degree, args.d, args.m, representation=args.representation,
                          diagram=diagram, cache=PathCache(str(args.cache)) if args.cache else None,
                          time_contraction=not args.no_time, plot_dir=args.plot)
    print(LEGEND + "\n")
    print(f"{'diagram':<34} {'rep':<9} {'FLOPs':>10} {'max size':>10} {'search s':>9} {'contract s':>10}  path")
    for r in report.records:
        print(f"{r.diagram.key[:34]:<34} {r.representation:<9} {r.flops:>10.3g} {r.max_intermediate:>10.3g} "
              f"{r.search_time:>9.2g} {r.contract_time:>10.2g}  {_format_path(r.path)}")
        if args.inputs:
            print(f"{'':<36}inputs: {_format_inputs(r)}")
    print(f"\n{len(report.records)} diagrams at d = {args.d}, m = {args.m}:")
    print(f"  contractions                 {report.contraction_flops:.3g} FLOPs")
    print(f"  Gram build (U U^T, powers)   {report.gram_flops:.3g} FLOPs")
    print(f"  dense shin tensors (advice)  {report.dense_build_flops:.3g} FLOPs")
    print(f"  total                        {report.total_flops:.3g} FLOPs "
          "(building the shin weights themselves needs the model: not included)")
    if args.plot is not None:
        print(f"wrote the tree and network PNGs to {args.plot}")
    return 0
