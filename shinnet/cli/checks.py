"""Argument checks for the ``shinnet`` command, run before any work.

Each ``*_arg`` factory returns an argparse ``type=`` callable that raises
``argparse.ArgumentTypeError`` with a message naming the accepted range, so a bad value is
refused while parsing (one line, exit code 2).  The other helpers check what needs more than
one argument (combinations, files, devices); they raise ``ValueError`` naming the option.
Cost: negligible, except :func:`check_device` (imports torch when a device is named).
"""

from __future__ import annotations

import argparse
import inspect
import math
from pathlib import Path
from typing import Any, Callable

from shinnet import activations, defaults, preflight
from shinnet.estimate import estimate

__all__ = ["int_arg", "float_arg", "count_arg", "activation_arg", "output_file", "check_device",
           "api_default", "check_cost"]


def int_arg(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An integer in ``[minimum, maximum]`` (either end open when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer{_range(minimum, maximum)}, got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be an integer{_range(minimum, maximum)}, got {value}")
        return value

    return parse


def float_arg(minimum: float | None = None, maximum: float | None = None) -> Callable[[str], float]:
    """A finite float in ``[minimum, maximum]``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number{_range(minimum, maximum)}, got {text!r}") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum) or (
                maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be a finite number{_range(minimum, maximum)}, got {text}")
        return value

    return parse


def count_arg(minimum: int = 0) -> Callable[[str], int]:
    """A whole count written as an integer or an integral float (``4e5``), ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}") from None
        if not math.isfinite(value) or value != int(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text}")
        return int(value)

    return parse


def activation_arg(text: str) -> str:
    """A registered activation name (``shinnet.activations.names()``)."""
    try:
        activations.get(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _range(minimum: Any, maximum: Any) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def output_file(option: str, path: Path | None) -> Path | None:
    """Refuse an output path whose folder does not exist or that is a folder (before the work)."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{option} {path}: is a directory, give a file name")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: folder {path.parent} does not exist")
    return path


def check_device(backend: str, device: str | None) -> None:
    """Refuse a device the backend cannot use: a device needs ``--backend torch``; ``cuda`` needs
    torch built with CUDA and a visible GPU.  Imports torch (lazily: heavy) when needed."""
    if backend != "torch":
        if device not in (None, "cpu"):
            raise ValueError(f"--device {device} needs --backend torch (the numpy backend runs on the CPU)")
        return
    try:
        import torch
    except ImportError:
        raise ValueError("--backend torch: torch is not installed (pip install torch)") from None
    if device is None:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"--device {device!r} is not a torch device (cpu, cuda, cuda:0, ...)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available here (torch.cuda.is_available() is False); "
                             "use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif dev.type != "cpu":
        raise ValueError(f"--device {device}: only cpu and cuda devices are supported")


def api_default(name: str, fallback: Any) -> Any:
    """The library's default for ``shinnet.estimate``'s parameter ``name``, so that the command
    and the API share one set of defaults: ``shinnet.defaults.DEFAULT_<NAME>`` when that module
    defines it, else the default in ``shinnet.estimate``'s signature, else ``fallback``."""
    constant = f"DEFAULT_{name.upper()}"
    if hasattr(defaults, constant):
        return getattr(defaults, constant)
    param = inspect.signature(estimate).parameters.get(name)
    if param is None or param.default is inspect.Parameter.empty or param.default is None:
        return fallback
    return param.default


def check_cost(order: int, truncation: int, what: str, **kwargs: Any) -> None:
    """Refuse a diagram request that cannot finish (``shinnet.preflight.check_request``: diagram
    count, FLOPs, memory), before any enumeration."""
    preflight.check_request(order, truncation, what=what, **kwargs)
