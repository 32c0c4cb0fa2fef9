"""Studies: shinnet against Monte Carlo, and how its estimates converge (docs/studies.md).

* :mod:`~shinnet.study.groundtruth` -- Monte Carlo references, cached on disk;
* :mod:`~shinnet.study.groundtruth_rqmc` -- RQMC + control-variate references (the race's default);
* :mod:`~shinnet.study.peers` -- the sampling peers (RQMC, RQMC + control variates, hybrid) measured per model;
* :mod:`~shinnet.study.suite` -- model grids and presets;
* :mod:`~shinnet.study.race` -- squared error vs FLOPs against every peer (Monte Carlo's ``Var(y)/N`` and the measured ones), with
  the degree (MATH.md section 3) and the resummed (section 8) expansion;
* :mod:`~shinnet.study.compare` -- which expansion wins where (d, m, activation, second layer);
* :mod:`~shinnet.study.convergence` -- kappa_n against K, E[psi(f)] against series order,
  pruning tolerance against budget against actual error;
* :mod:`~shinnet.study.tables` and :mod:`~shinnet.study.plotting` -- CSV/Markdown and PNG output.
"""

from __future__ import annotations

from shinnet.study.groundtruth import GroundTruth, ground_truth, ground_truths, model_fingerprint
from shinnet.study.suite import PRESETS, Grid, ModelSpec, build_model, preset

__all__ = ["GroundTruth", "ground_truth", "ground_truths", "model_fingerprint", "PRESETS", "Grid",
           "ModelSpec", "build_model", "preset"]
