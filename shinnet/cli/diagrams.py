"""``shinnet diagrams``: count, list and draw the connected Wick diagrams (MATH.md section 3).

Examples::

    shinnet diagrams --max-order 5 --max-degree 4          # counts per (order, degrees)
    shinnet diagrams --order 4 --max-degree 3 --list       # every class with its weight
    shinnet diagrams --order 3 --degrees 3,3,2 --json      # JSON lines, one per diagram
    shinnet diagrams --order 4 --max-degree 2 --draw d.png # picture of one order
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shinnet.cli import checks
from shinnet.enumerate import diagrams
from shinnet.enumerate.draw import draw_diagrams

__all__ = ["register", "run"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``diagrams`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "diagrams",
        help="count, list or draw the connected diagrams of the cumulants",
        description=__doc__.splitlines()[0],
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--order", type=checks.int_arg(2), help="one cumulant order n >= 2")
    which.add_argument("--max-order", type=checks.int_arg(2), help="all orders 2..N")
    parser.add_argument("--max-degree", type=checks.int_arg(1), help="largest vertex degree K")
    parser.add_argument("--min-degree", type=checks.int_arg(1), default=1, help="smallest vertex degree (default 1)")
    parser.add_argument("--degrees", help="exact degree multiset, comma separated (needs --order)")
    parser.add_argument("--list", action="store_true", help="list every diagram with its weight")
    parser.add_argument("--json", action="store_true", help="list as JSON lines")
    parser.add_argument("--draw", metavar="FILE.png", help="draw the diagrams (needs --order)")
    parser.add_argument("--max-panels", type=checks.int_arg(1), default=120, help="most diagrams drawn (default 120)")
    parser.add_argument("--cache-dir", help="table cache directory (default $SHINNET_CACHE_DIR or user cache)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the disk cache")
    parser.set_defaults(func=run)
    return parser


def _selected(args: argparse.Namespace) -> dict[int, list]:
    cache = {"cache": not args.no_cache, "cache_dir": args.cache_dir}
    if args.degrees is not None:
        if args.order is None:
            raise ValueError("--degrees needs --order")
        try:
            degrees = tuple(int(k) for k in args.degrees.split(","))
        except ValueError as exc:
            raise ValueError(f"--degrees must be comma-separated integers, got {args.degrees!r}") from exc
        return {args.order: diagrams(args.order, max(degrees), degrees=degrees)}
    if args.max_degree is None:
        raise ValueError("give --max-degree (or --degrees)")
    if args.min_degree > args.max_degree:
        raise ValueError(f"--min-degree {args.min_degree} exceeds --max-degree {args.max_degree}")
    orders = [args.order] if args.order is not None else list(range(2, args.max_order + 1))
    checks.check_cost(max(orders), args.max_degree, "shinnet diagrams")
    return {n: diagrams(n, args.max_degree, args.min_degree, **cache) for n in orders}


def run(args: argparse.Namespace) -> int:
    """Execute ``shinnet diagrams``; returns the exit code."""
    if args.draw and args.order is None:
        raise ValueError("--draw needs a single --order")
    selected = _selected(args)
    out = sys.stdout
    if args.json:
        for n, graphs in selected.items():
            for g in graphs:
                out.write(g.to_json() + "\n")
    elif args.list:
        for n, graphs in selected.items():
            out.write(f"order {n}: {len(graphs)} diagrams, sum of weights {sum(g.weight for g in graphs)}\n")
            for g in graphs:
                edges = " ".join(f"{i}-{j}" + (f"x{m}" if m > 1 else "") for i, j, m in g.edges)
                out.write(f"  degrees={','.join(map(str, g.degrees))}  |Aut|={g.automorphisms}"
                          f"  weight={g.weight}  edges: {edges}\n")
    else:
        out.write(f"{'order':>5}  {'degrees':<24} {'count':>8}\n")
        for n, graphs in selected.items():
            counts: dict[tuple[int, ...], int] = {}
            for g in graphs:
                counts[g.degrees] = counts.get(g.degrees, 0) + 1
            for degrees, count in sorted(counts.items()):
                out.write(f"{n:>5}  {','.join(map(str, degrees)):<24} {count:>8}\n")
            out.write(f"{n:>5}  {'total':<24} {len(graphs):>8}\n")
    if args.draw:
        graphs = selected[args.order]
        if not graphs:
            raise ValueError(f"no diagrams of order {args.order} to draw")
        drawn = draw_diagrams(graphs, args.draw, max_panels=args.max_panels,
                              title=f"connected diagrams of order {args.order}")
        print(f"drew {drawn} diagrams to {args.draw}", file=sys.stderr)
    return 0
