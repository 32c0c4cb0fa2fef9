"""The convergence studies (docs/studies.md): kappa_n against K, E[psi(f)] against the series
order, and pruning tolerance against budget against actual error, in one go.

    python benchmarks/convergence.py --out /tmp/conv [--quick] [--model random/tanh/d8/m1024/s0 ...]

Runs ``shinnet study kappa-vs-K``, ``series-order`` and ``pruning`` with the same ``--out``,
``--cache-dir``, ``--model`` and ``--quick`` options (see ``shinnet study <name> --help``).
"""

from __future__ import annotations

import argparse
import sys

from shinnet.cli import main


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    common = ["--out", args.out]
    if args.cache_dir:
        common += ["--cache-dir", args.cache_dir]
    for m in args.model:
        common += ["--model", m]
    if args.quick:
        common.append("--quick")
    for study in ("kappa-vs-K", "series-order", "pruning"):
        code = main(["study", study, *common])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
