"""The model suite of the studies: grids of zoo MLPs, presets, and a cache of trained models.

A *grid* is the product d x m x hidden x target x seed; every output activation of the grid is
evaluated on the same ``f`` (psi does not change f, so ground truth and cumulants are shared).

Presets (``PRESETS``):

- ``full``: d in {8, 16, 32}, m in {1024, 4096, 16384, 65536}, hidden relu/gelu/tanh/erf,
  outputs identity/relu/tanh/sigmoid, targets random + linear (near-Gaussian f), radial
  (mildly skewed), relu_shift (strongly skewed), product (heavy tails), seeds 0, 1, 2;
  ladder up to (N, K, q) = (5, 6, 3).  Days of CPU time; meant for a GPU machine.
- ``small``: d in {8, 16}, m in {1024, 4096}, hidden relu/tanh/erf, outputs identity/tanh/relu,
  targets random + linear + relu_shift, seed 0, 200 training steps; ladder up to (4, 5, 2); ground
  truth to stderr 3e-4 or 2^19 samples.  About 20-30 minutes on a loaded 2-core CPU.
- ``tiny``: d = 4, m = 64, hidden tanh, outputs identity/tanh, target random, seed 0; for tests.
- ``peers``: d = 16, m in {2048, 8192}, hidden relu/tanh, outputs relu/tanh, targets random +
  relu_shift, degree rungs only, sampling peers at 2^8, 2^10, 2^12 points (RQMC, RQMC + control
  variates, hybrid); override ``--d 32 --m 65536`` for the large-m rows (docs/benchmarks.md).

Every preset measures the sampling peers (``peer_log2_n``) and uses an RQMC ground truth
(``truth_method``).

Every preset races both expansions (``expansions``): the degree expansion (MATH.md section 3) on
``ladder`` rungs (N, K, q) and the resummed expansion (section 8) on ``resummed_ladder`` rungs
(N, E, q), E the cosine order; :meth:`Grid.rungs` lists them as ``(expansion, N, K or E, q)``.

Models: ``random`` is ``zoo.random_mlp(d, m, hidden, seed=seed, bias_scale=0.5, c=0.2)`` (a bias so
that odd activations do not make f symmetric); the others ``zoo.trained_mlp(d, m, target,
seed=seed, hidden=hidden, bias_scale=0.5)``, saved under ``<cache dir>/models/`` (``.npz``, no
pickle) since training costs seconds to minutes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from shinnet import zoo
from shinnet.enumerate.cache import resolve_cache_dir
from shinnet.model import TwoLayerMLP

__all__ = ["Grid", "ModelSpec", "PRESETS", "preset", "build_model", "DEFAULT_LADDER", "DEFAULT_RESUMMED_LADDER",
           "EXPANSIONS"]

#: (order N, max degree K, series order q) rungs of the mechanistic estimate, cheapest first
DEFAULT_LADDER: tuple[tuple[int, int, int], ...] = ((2, 2, 0), (3, 3, 1), (3, 4, 1), (4, 4, 2), (4, 5, 2))
FULL_LADDER: tuple[tuple[int, int, int], ...] = DEFAULT_LADDER + ((4, 6, 2), (5, 6, 3))
#: (order N, cosine order E, series order q) rungs of the resummed expansion, cheapest first
DEFAULT_RESUMMED_LADDER: tuple[tuple[int, int, int], ...] = ((2, 2, 0), (3, 3, 1), (4, 3, 2), (4, 4, 2))
FULL_RESUMMED_LADDER: tuple[tuple[int, int, int], ...] = DEFAULT_RESUMMED_LADDER + ((4, 5, 2), (5, 5, 3))
#: the expansions a race can run (``Grid.expansions``)
EXPANSIONS: tuple[str, ...] = ("degree", "resummed")

_MODEL_CACHE_VERSION = 1


@dataclass(frozen=True)
class ModelSpec:
    """One ``f``: a zoo model (``target`` is ``"random"`` or a ``zoo.TARGETS`` name)."""

    d: int
    m: int
    hidden: str
    target: str
    seed: int

    @property
    def label(self) -> str:
        return f"{self.target}/{self.hidden}/d{self.d}/m{self.m}/s{self.seed}"

    def key(self) -> str:
        text = json.dumps({"v": _MODEL_CACHE_VERSION, **self.__dict__}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Grid:
    """A grid of models x output activations x ladder rungs, plus Monte Carlo settings.

    Attributes
    ----------
    d, m, hidden, targets, seeds : tuples
        The product of these is the set of ``ModelSpec``s.
    outputs : tuple of str
        Output activations psi evaluated on every model.
    ladder : tuple of (N, K, q)
        Degree-expansion rungs (used when ``"degree" in expansions``).
    resummed_ladder : tuple of (N, E, q)
        Resummed-expansion rungs, E the cosine order (used when ``"resummed" in expansions``).
    expansions : tuple of str
        Subset of ``("degree", "resummed")``.
    truth_stderr : float
        Target standard error of the ground truth, capped at ``truth_max_samples``.
    truth_max_samples : int
    train_steps : int
        SGD steps for the trained models.
    truth_method : {"rqmc", "monte_carlo"}
        Ground truth by RQMC + control variates (:mod:`shinnet.study.groundtruth_rqmc`, default) or
        by control-variate Monte Carlo (:mod:`shinnet.study.groundtruth`).
    peer_log2_n : tuple of int
        Point counts ``2^p`` at which the sampling peers (RQMC, RQMC + control variates, hybrid;
        :mod:`shinnet.study.peers`) are measured; empty: compare with plain Monte Carlo only.
    """

    d: tuple[int, ...]
    m: tuple[int, ...]
    hidden: tuple[str, ...]
    outputs: tuple[str, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...]
    ladder: tuple[tuple[int, int, int], ...] = DEFAULT_LADDER
    resummed_ladder: tuple[tuple[int, int, int], ...] = DEFAULT_RESUMMED_LADDER
    expansions: tuple[str, ...] = EXPANSIONS
    truth_stderr: float = 2e-4
    truth_max_samples: int = 2**21
    train_steps: int = 400
    truth_method: str = "rqmc"
    peer_log2_n: tuple[int, ...] = (8, 10, 12)

    def __post_init__(self) -> None:
        for name in ("d", "m", "hidden", "outputs", "targets", "seeds", "expansions"):
            if len(getattr(self, name)) == 0:
                raise ValueError(f"grid field {name!r} is empty")
        if self.truth_method not in ("rqmc", "monte_carlo"):
            raise ValueError(f"truth_method must be 'rqmc' or 'monte_carlo', got {self.truth_method!r}")
        if any(int(p) < 4 or int(p) > 30 for p in self.peer_log2_n):
            raise ValueError(f"peer_log2_n entries must be in 4..30 (2^p points), got {self.peer_log2_n}")
        bad = [e for e in self.expansions if e not in EXPANSIONS]
        if bad:
            raise ValueError(f"unknown expansion(s) {bad}; use a subset of {EXPANSIONS}")
        if "degree" in self.expansions and not self.ladder:
            raise ValueError("grid field 'ladder' is empty but expansions include 'degree'")
        if "resummed" in self.expansions and not self.resummed_ladder:
            raise ValueError("grid field 'resummed_ladder' is empty but expansions include 'resummed'")
        for N, K, q in self.ladder:
            if N < 2 or K < 2 or not 0 <= q <= N - 2:
                raise ValueError(f"ladder rung (N, K, q) = {(N, K, q)} needs N >= 2, K >= 2, 0 <= q <= N - 2")
        for N, E, q in self.resummed_ladder:
            if N < 2 or E < 0 or not 0 <= q <= N - 2:
                raise ValueError(f"resummed_ladder rung (N, E, q) = {(N, E, q)} needs N >= 2, E >= 0, 0 <= q <= N - 2")

    def rungs(self) -> list[tuple[str, int, int, int]]:
        """``(expansion, N, K or E, q)`` for every rung of the expansions raced, degree first."""
        out = [("degree", *r) for r in self.ladder] if "degree" in self.expansions else []
        if "resummed" in self.expansions:
            out += [("resummed", *r) for r in self.resummed_ladder]
        return out

    def models(self) -> Iterator[ModelSpec]:
        """Every ModelSpec of the grid (cheap ones first: d, then m, vary slowest)."""
        for d, m, hidden, target, seed in itertools.product(self.d, self.m, self.hidden, self.targets, self.seeds):
            yield ModelSpec(d=d, m=m, hidden=hidden, target=target, seed=seed)

    def size(self) -> int:
        return len(self.d) * len(self.m) * len(self.hidden) * len(self.targets) * len(self.seeds)

    def with_(self, **changes: Any) -> "Grid":
        """A copy with some fields replaced (lists accepted for tuples)."""
        return replace(self, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})


PRESETS: dict[str, Grid] = {
    "full": Grid(
        d=(8, 16, 32), m=(1024, 4096, 16384, 65536), hidden=("relu", "gelu", "tanh", "erf"),
        outputs=("identity", "relu", "tanh", "sigmoid"),
        targets=("random", "linear", "radial", "relu_shift", "product"), seeds=(0, 1, 2),
        ladder=FULL_LADDER, resummed_ladder=FULL_RESUMMED_LADDER, truth_stderr=5e-5, truth_max_samples=2**28,
    ),
    "small": Grid(
        d=(8, 16), m=(1024, 4096), hidden=("relu", "tanh", "erf"), outputs=("identity", "tanh", "relu"),
        targets=("random", "linear", "relu_shift"), seeds=(0,), truth_stderr=3e-4, truth_max_samples=2**19,
        train_steps=200,
    ),
    "tiny": Grid(
        d=(4,), m=(64,), hidden=("tanh",), outputs=("identity", "tanh"), targets=("random",), seeds=(0,),
        ladder=((2, 2, 0), (3, 3, 1), (4, 3, 2)), resummed_ladder=((2, 1, 0), (3, 2, 1), (4, 2, 2)),
        truth_stderr=2e-3, truth_max_samples=2**15, train_steps=50, peer_log2_n=(6, 8),
    ),
    "peers": Grid(
        d=(16,), m=(2048, 8192), hidden=("relu", "tanh"), outputs=("relu", "tanh"),
        targets=("random", "relu_shift"), seeds=(0,), ladder=((2, 2, 0), (3, 3, 1), (4, 4, 2)),
        expansions=("degree",), truth_stderr=3e-5, truth_max_samples=2**20, train_steps=200,
        peer_log2_n=(8, 10, 12),
    ),
}


def preset(name: str) -> Grid:
    """The grid named ``name`` (see ``PRESETS``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def build_model(spec: ModelSpec, cache_dir: Any = None, train_steps: int = 400, use_cache: bool = True) -> TwoLayerMLP:
    """The ``f`` of ``spec`` (output activation identity; the race swaps psi in).

    Trained models are read from / saved to ``<cache dir>/models/<spec.key()>-t<steps>.npz``
    (``TwoLayerMLP.save``), rebuilt if the file is unreadable.  Cost: random O(m d); trained
    about ``train_steps * 1024 * (2 m d + 6 m)`` FLOPs.
    """
    if spec.target == "random":
        return zoo.random_mlp(spec.d, spec.m, hidden=spec.hidden, seed=spec.seed, bias_scale=0.5, c=0.2)
    if spec.target not in zoo.TARGETS:
        raise ValueError(f"unknown target {spec.target!r}; use 'random' or one of {', '.join(zoo.TARGETS)}")
    path = None
    if use_cache:
        path = Path(resolve_cache_dir(cache_dir)) / "models" / f"{spec.key()}-t{int(train_steps)}.npz"
        if path.exists():
            try:
                return TwoLayerMLP.load(path)
            except (ValueError, OSError, KeyError):
                path.unlink(missing_ok=True)
    mlp = zoo.trained_mlp(spec.d, spec.m, spec.target, steps=int(train_steps), seed=spec.seed,
                          hidden=spec.hidden, bias_scale=0.5)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        mlp.save(tmp)
        tmp.replace(path)
    return mlp
