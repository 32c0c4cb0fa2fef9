"""``shinnet paths``: the contraction plan of each diagram (representation, path, FLOPs,
largest intermediate, time), optionally with PNG drawings (``--plot DIR``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``paths`` subcommand."""
    p = subparsers.add_parser("paths", help="show cotengra contraction plans of the cumulant diagrams")
    p.add_argument("--order", type=int, default=4, help="largest cumulant order N (default 4)")
    p.add_argument("--max-degree", type=int, default=4, help="Hermite degree truncation K (default 4)")
    p.add_argument("--d", type=int, default=16, help="input dimension (default 16)")
    p.add_argument("--m", type=int, default=1024, help="hidden width (default 1024)")
    p.add_argument("--representation", default="auto", choices=["auto", "dense", "factored", "gram", "mixed"])
    p.add_argument("--edges", default=None,
                   help="one diagram instead of all: edges 'i-j[xmult],...', e.g. '0-1x2,1-2,0-2'")
    p.add_argument("--cache", default=None, help="JSON path cache to read and extend")
    p.add_argument("--no-time", action="store_true", help="do not time one contraction per diagram")
    p.add_argument("--plot", default=None, metavar="DIR", help="write tree and network PNGs to DIR")
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


def run(args: argparse.Namespace) -> int:
    from shinnet.contract import PathCache, paths

    diagram = None
    if args.edges:
        from shinnet.enumerate import Diagram

        try:
            diagram = Diagram.from_edges(_parse_edges(args.edges))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"--edges {args.edges!r} is not an edge list like '0-1x2,1-2': {exc}") from None
    records = paths(args.order, args.max_degree, args.d, args.m, representation=args.representation,
                    diagram=diagram, cache=PathCache(args.cache) if args.cache else None,
                    time_contraction=not args.no_time, plot_dir=args.plot)
    print(f"{'diagram':<34} {'rep':<9} {'FLOPs':>10} {'max size':>10} {'search s':>9} {'contract s':>10}  path")
    for r in records:
        path = " ".join(f"{a}{b}" if len(p) == 2 else str(p) for p in r.path for a, b in [p[:2]])[:60]
        print(f"{r.diagram.key[:34]:<34} {r.representation:<9} {r.flops:>10.3g} {r.max_intermediate:>10.3g} "
              f"{r.search_time:>9.2g} {r.contract_time:>10.2g}  {path}")
    total = sum(r.flops for r in records)
    print(f"{len(records)} diagrams, {total:.3g} FLOPs in total")
    return 0
