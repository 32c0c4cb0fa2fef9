"""The ``shinnet`` command: ``estimate``, ``diagrams``, ``paths``, ``study``.

Each subcommand lives in its own module ``shinnet/cli/<name>.py`` exposing
``register(subparsers)``; adding one is a registration in ``_SUBCOMMANDS``.

Exit codes: 0 success (a bare ``shinnet`` prints the help and exits 0); 1 an unexpected
internal error; 2 a usage or input error (bad argument, unreadable model file, a request
refused as too costly, out of memory); 130 interrupted (Ctrl-C); 141 the reader of stdout
went away (``| head``).  Every error is one line on
stderr, ``shinnet COMMAND: error: ...``; ``--debug`` shows the full traceback instead.
Warnings print as one line each, ``shinnet: warning: ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from importlib import import_module
from typing import Any, NoReturn, Sequence

from shinnet import __version__

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE", "EXIT_INTERRUPTED"]

_SUBCOMMANDS = ("estimate", "diagrams", "paths", "study")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

_DESCRIPTION = "Mechanistic estimates of two-layer MLPs from their weights, next to their sampling peers."
_EPILOG = """\
Run 'shinnet COMMAND --help' for the options of a command; e.g. 'shinnet estimate example'.

exit codes: 0 success (a bare 'shinnet' prints this help), 1 unexpected internal error,
2 usage or input error (one line on stderr), 130 interrupted, 141 stdout closed.
--debug shows the full traceback of an error instead of its one line."""

# exception types that are the user's to fix: reported as one line, exit code 2
_USER_ERRORS = (ValueError, TypeError, LookupError, OSError, MemoryError)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``prog: error: message (see 'prog --help')``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)} (see '{self.prog} --help')\n")


def _version() -> str:
    return f"shinnet {__version__}"


def _add_debug(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--debug`` on this parser and every nested subcommand parser (so it works in any position)."""
    parser.add_argument("--debug", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="show the full traceback of an error instead of one line")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in {id(p): p for p in action.choices.values()}.values():
                _add_debug(sub, top=False)


def build_parser() -> argparse.ArgumentParser:
    """The ``shinnet`` parser with every subcommand registered."""
    parser = _Parser(prog="shinnet", description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = import_module(f"shinnet.cli.{name}")
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if exc.name != f"shinnet.cli.{name}":
                raise
            continue
        module.register(sub)
    _add_debug(parser, top=True)
    return parser


def _one_line(text: Any) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _describe(exc: BaseException) -> str:
    text = _one_line(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = _one_line(exc.args[0])
    if isinstance(exc, MemoryError):
        return f"out of memory: {text}" if text else "out of memory"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return text or type(exc).__name__


def _is_user_error(exc: BaseException) -> bool:
    """The known user-error types, and any exception class defined in shinnet itself that is not
    a plain RuntimeError subclass (those signal a bug or numerical failure)."""
    if isinstance(exc, _USER_ERRORS):
        return True
    return type(exc).__module__.startswith("shinnet") and not isinstance(exc, (RuntimeError, AssertionError))


def _show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    print(f"shinnet: warning: {category.__name__}: {_one_line(message)}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    command = "shinnet"
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as stop:  # --help, --version, usage errors
            return EXIT_OK if stop.code is None else int(stop.code) if isinstance(stop.code, int) else EXIT_USAGE
        debug = bool(getattr(args, "debug", False))
        if args.command is None:
            parser.print_help()
            return EXIT_OK
        command = f"shinnet {args.command}"
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. ``shinnet diagrams --list | head``: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the one place where every error becomes one line
        if debug:
            raise
        if _is_user_error(exc):
            print(f"{command}: error: {_describe(exc)}", file=sys.stderr)
            return EXIT_USAGE
        print(f"{command}: internal error: {type(exc).__name__}: {_describe(exc)} "
              "(rerun with --debug for the traceback, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL
