"""The ``shinnet`` command: ``estimate``, ``diagrams``, ``paths``, ``study``.

Each subcommand lives in its own module ``shinnet/cli/<name>.py`` exposing
``register(subparsers)``; adding one is a registration in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from typing import Sequence

__all__ = ["main", "build_parser"]

_SUBCOMMANDS = ("estimate", "diagrams", "paths", "study")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shinnet", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _SUBCOMMANDS:
        try:
            module = import_module(f"shinnet.cli.{name}")
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if exc.name != f"shinnet.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, MemoryError) as exc:
        print(f"shinnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
