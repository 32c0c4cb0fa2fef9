"""The race against Monte Carlo (docs/studies.md): a thin wrapper of ``shinnet study race``.

    python benchmarks/race.py --preset small --out /tmp/race      # ~20-30 min on a loaded 2-core CPU
    python benchmarks/race.py --preset full --out DIR             # meant for a GPU-sized machine

All options are those of ``shinnet study race --help``.
"""

from __future__ import annotations

import sys

from shinnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["study", "race", *sys.argv[1:]]))
