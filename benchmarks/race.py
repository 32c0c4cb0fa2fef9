"""The race against every sampling peer (docs/studies.md): a thin wrapper of ``shinnet study race``.

Peers: plain Monte Carlo (analytic Var(y)/N), RQMC, RQMC + control variates and the hybrid,
measured at ``--peer-log2-n`` points; ground truth by RQMC + control variates.

    python benchmarks/race.py --preset peers --out /tmp/race_peers      # d = 16, m = 2048, 8192
    python benchmarks/race.py --preset peers --targets random --hidden relu --m 32768 65536 \
        --peer-log2-n 8 10 --truth-max-samples 32768 --out /tmp/race_large   # large m, scaled down

    python benchmarks/race.py --preset small --out /tmp/race      # ~20-30 min on a loaded 2-core CPU
    python benchmarks/race.py --preset full --out DIR             # meant for a GPU-sized machine
    python benchmarks/race.py --preset small --hidden relu tanh --expansions degree resummed \
        --out /tmp/race2 --cache-dir /tmp/st_cache                 # both expansions (the default)

Both expansions race by default (degree rungs D(N,K,q), resummed rungs R(N,E,q)); with both, the
outputs include race_expansions.{csv,md,png}: which expansion wins where (shinnet.study.compare).

All options are those of ``shinnet study race --help``.
"""

from __future__ import annotations

import sys

from shinnet.cli import main

if __name__ == "__main__":
    sys.exit(main(["study", "race", *sys.argv[1:]]))
