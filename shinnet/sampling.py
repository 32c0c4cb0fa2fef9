"""Monte Carlo baseline (MATH.md section 7): the estimator every mechanistic estimate must beat.

``monte_carlo(mlp, N)`` draws ``x_i ~ N(0, I_d)``, returns the sample mean of
``y_i = psi(f(x_i))`` with its standard error ``sqrt(Var(y)/N)``, the unbiased k-statistics
``k_1..k_6`` of ``f`` with delete-a-group jackknife standard errors, and optionally tail
probabilities ``P(f > t)``.  Cost: ``N * mlp.flops_per_sample()`` FLOPs.  Samples are streamed
in batches (bounded memory for any N), and power sums are accumulated in float64 about a pilot
mean (see ``shinnet.kstats`` for why).  See docs/sampling.md.

Determinism: the random stream is cut into fixed *blocks* of ``rng_block_rows(d)`` samples;
block ``i`` is drawn from ``np.random.SeedSequence(seed).spawn(...)[i]`` (numpy: a PCG64
``Generator``; torch: a ``torch.Generator`` seeded from that SeedSequence).  The samples
therefore depend only on (seed, d, backend), never on ``batch_size``; changing ``batch_size``
changes only the order of floating-point summation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Callable

import numpy as np

from shinnet.kstats import jackknife_stderr, kstat
from shinnet.model import TwoLayerMLP
from shinnet.result import Estimate

__all__ = ["monte_carlo", "tail_probability_mc", "TailProbabilityMC", "rng_block_rows", "default_batch_size"]

KSTAT_ORDER = 6  # k-statistics of f reported: k_1..k_6
Y_ORDER = 4  # k-statistics of y reported: k_1..k_4
MAX_GROUPS = 64  # jackknife groups (>= 32 for a ~12% accurate standard error)
BATCH_BYTES = 64 * 2**20  # default working memory of one batch
BLOCK_BYTES = 8 * 2**20  # memory of one block of Gaussian inputs


def rng_block_rows(d: int) -> int:
    """Samples per random-number block: a power of two near ``BLOCK_BYTES / (8 d)``, in [256, 65536].

    Depends on d only, so the sample stream is fixed by (seed, d, backend).
    """
    rows = BLOCK_BYTES // (8 * max(int(d), 1))
    return int(min(65536, max(256, 1 << (int(rows).bit_length() - 1))))


def default_batch_size(d: int, m: int) -> int:
    """Rows per forward batch so that x, the preactivations and h take about 64 MiB:
    ``floor(BATCH_BYTES / (8 (d + 2 m + 2)))``, capped at one random-number block."""
    rows = BATCH_BYTES // (8 * (int(d) + 2 * int(m) + 2))
    return int(max(1, min(rows, rng_block_rows(d))))


def _block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """``np.random.SeedSequence(seed).spawn(block + 1)[block]``, built without the list."""
    return np.random.SeedSequence(seed, spawn_key=(block,))


class _NumpyBackend:
    name = "numpy"

    def __init__(self, mlp: TwoLayerMLP, device: Any) -> None:
        if device not in (None, "cpu"):
            raise ValueError(f"backend='numpy' runs on the CPU only; got device={device!r} (use backend='torch')")
        self.mlp = mlp
        self.device = "cpu"

    def normals(self, seed: int, block: int, rows: int) -> np.ndarray:
        return np.random.default_rng(_block_seed(seed, block)).standard_normal((rows, self.mlp.d))

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = self.mlp.preactivation(x)
        return f, self.mlp.output.value(f)

    @staticmethod
    def to_numpy(values: list[Any]) -> np.ndarray:
        return np.array([float(v) for v in values])


class _TorchBackend:
    name = "torch"

    def __init__(self, mlp: TwoLayerMLP, device: Any) -> None:
        import torch

        self.torch = torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.mlp = mlp
        self.preactivation = mlp.to_torch(dtype=torch.float64)[:3].to(self.device)

    def normals(self, seed: int, block: int, rows: int) -> Any:
        state = _block_seed(seed, block).generate_state(1, np.uint64)[0]
        gen = self.torch.Generator(device=self.device)
        gen.manual_seed(int(state) & (2**63 - 1))
        return self.torch.randn(rows, self.mlp.d, generator=gen, dtype=self.torch.float64, device=self.device)

    def forward(self, x: Any) -> tuple[Any, Any]:
        with self.torch.no_grad():
            f = self.preactivation(x)[:, 0]
            return f, self.mlp.output.value(f)

    def to_numpy(self, values: list[Any]) -> np.ndarray:
        torch = self.torch
        return torch.stack([torch.as_tensor(v, dtype=torch.float64, device=self.device) for v in values]).cpu().numpy()


_BACKENDS: dict[str, Callable[[TwoLayerMLP, Any], Any]] = {"numpy": _NumpyBackend, "torch": _TorchBackend}


def _chunk_sums(f: Any, y: Any, f_shift: float, y_shift: float, thresholds: list[float]) -> list[Any]:
    """[S_0..S_6 of f - f_shift, S_1..S_4 of y - y_shift, #{f > t} per t] for one chunk
    (numpy arrays or torch tensors alike; still on the device)."""
    out: list[Any] = [f.shape[0]]
    z = f - f_shift
    term = z
    for _ in range(KSTAT_ORDER):
        out.append(term.sum())
        term = term * z
    z = y - y_shift
    term = z
    for _ in range(Y_ORDER):
        out.append(term.sum())
        term = term * z
    out.extend((f > t).sum() for t in thresholds)
    return out


def _accumulate(
    engine: Any, seed: int, n: int, batch: int, n_groups: int, thr: np.ndarray, progress: bool
) -> tuple[np.ndarray, float, float]:
    """Stream N samples block by block; return per-group sums (see :func:`_chunk_sums`) and the
    pilot shifts of f and y.  Chunks never straddle a block or a group boundary."""
    block_rows = rng_block_rows(engine.mlp.d)
    bounds = [g * n // n_groups for g in range(n_groups + 1)]
    sums = np.zeros((n_groups, 1 + KSTAT_ORDER + Y_ORDER + thr.size))
    thr_list = [float(t) for t in thr]
    f_shift = y_shift = 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="sample", unit_scale=True, desc="monte_carlo")
    group = 0
    for block in range((n + block_rows - 1) // block_rows):
        lo = block * block_rows
        x = engine.normals(seed, block, min(block_rows, n - lo))
        pos, hi = lo, lo + x.shape[0]
        while pos < hi:
            while bounds[group + 1] <= pos:
                group += 1
            stop = min(hi, pos + batch, bounds[group + 1])
            f, y = engine.forward(x[pos - lo : stop - lo])
            if pos == 0:  # pilot shift: the mean of the first chunk
                f_shift, y_shift = float(f.mean()), float(y.mean())
            sums[group] += engine.to_numpy(_chunk_sums(f, y, f_shift, y_shift, thr_list))
            if bar is not None:
                bar.update(stop - pos)
            pos = stop
    if bar is not None:
        bar.close()
    return sums, f_shift, y_shift


def _as_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, Integral) or (isinstance(value, Real) and float(value).is_integer())
    ):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_inputs(mlp: Any, n_samples: Any, seed: Any, batch_size: Any, backend: Any, thresholds: Any):
    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"mlp must be a shinnet.TwoLayerMLP, got {type(mlp).__name__}")
    n = _as_count("n_samples", n_samples, 2)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    bs = default_batch_size(mlp.d, mlp.m) if batch_size is None else _as_count("batch_size", batch_size, 1)
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {sorted(_BACKENDS)}")
    thr = np.atleast_1d(np.asarray([] if thresholds is None else thresholds, dtype=np.float64))
    if thr.ndim != 1 or not np.all(np.isfinite(thr)):
        raise ValueError("thresholds must be a finite scalar or 1-d sequence")
    return n, int(seed), bs, thr


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def monte_carlo(
    mlp: TwoLayerMLP,
    n_samples: int,
    seed: int = 0,
    batch_size: int | None = None,
    backend: str = "numpy",
    device: Any = None,
    progress: bool = False,
    thresholds: Any = None,
) -> Estimate:
    """Monte Carlo estimate of ``E[psi(f(x))]``, ``x ~ N(0, I_d)`` (MATH.md section 7).

    ``value = (1/N) sum_i y_i`` with ``stderr = sqrt(k_2(y) / N)`` (so MSE = Var(y)/N).

    Parameters
    ----------
    mlp : TwoLayerMLP
    n_samples : int
        N >= 2 (an integral float such as ``1e6`` is accepted).
    seed : int
        Non-negative; the result is a deterministic function of (seed, backend) up to the
        summation order, which ``batch_size`` alone changes.
    batch_size : int, optional
        Rows per forward pass; default :func:`default_batch_size` (about 64 MiB); values
        above one random-number block (:func:`rng_block_rows`) are capped at it.
    backend : {"numpy", "torch"}
        torch runs in float64 on ``device`` (default: CUDA when available, else CPU).
    device : str or torch.device, optional
    progress : bool
        Show a tqdm progress bar.
    thresholds : float or sequence, optional
        Estimate ``P(f > t)`` for each t, with binomial standard errors
        ``sqrt(p (1 - p) / N)``, in ``details["tail"]``.

    Returns
    -------
    Estimate
        ``method = "monte_carlo"``; ``kappa`` = k-statistics ``{1..6}`` of f (unbiased);
        ``flops = flops_with_advice = N * mlp.flops_per_sample()``; ``details`` holds
        ``kappa_stderr`` (delete-a-group jackknife over ``n_groups`` <= 64 equal groups of
        consecutive samples), ``n_samples``, ``seed``, ``backend``, ``device``, ``batch_size``,
        ``rng_block``, ``n_groups``, ``y_mean``, ``y_var``, ``y_kstat`` (k_1..k_4 of y),
        ``y_skewness``, ``y_excess_kurtosis``, ``f_skewness``, ``f_excess_kurtosis`` and
        ``tail`` (when thresholds are given).

    Cost: ``N * mlp.flops_per_sample()`` FLOPs for the forward passes, plus about 20 N for the
    power sums; memory O(batch_size * (d + m)).
    """
    n, seed, batch, thr = _check_inputs(mlp, n_samples, seed, batch_size, backend, thresholds)
    start_time = time.perf_counter()
    engine = _BACKENDS[backend](mlp, device)
    block_rows = rng_block_rows(mlp.d)
    batch = min(batch, block_rows)
    n_groups = min(MAX_GROUPS, n)
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite sums are caught below
        sums, f_shift, y_shift = _accumulate(engine, seed, n, batch, n_groups, thr, progress)
    if not np.all(np.isfinite(sums)):
        raise FloatingPointError(
            "Monte Carlo produced non-finite values of f or y (overflow in the model or its power sums)"
        )
    total = sums.sum(axis=0)
    f_sums = sums[:, : 1 + KSTAT_ORDER]
    y_sums = np.concatenate([sums[:, :1], sums[:, 1 + KSTAT_ORDER : 1 + KSTAT_ORDER + Y_ORDER]], axis=1)
    kappa = {r: float(kstat(f_sums.sum(axis=0), r, f_shift)) for r in range(1, KSTAT_ORDER + 1)}
    y_k = {r: float(kstat(y_sums.sum(axis=0), r, y_shift)) for r in range(1, Y_ORDER + 1)}
    y_var = y_k[2]
    details: dict[str, Any] = {
        "kappa_stderr": jackknife_stderr(f_sums, KSTAT_ORDER),
        "n_samples": n,
        "seed": seed,
        "backend": engine.name,
        "device": str(engine.device),
        "batch_size": batch,
        "rng_block": block_rows,
        "n_groups": n_groups,
        "y_mean": y_k[1],
        "y_var": y_var,
        "y_kstat": y_k,
        "y_skewness": _ratio(y_k[3], y_var**1.5),
        "y_excess_kurtosis": _ratio(y_k[4], y_var**2),
        "f_skewness": _ratio(kappa[3], kappa[2] ** 1.5),
        "f_excess_kurtosis": _ratio(kappa[4], kappa[2] ** 2),
    }
    if thr.size:
        p = total[1 + KSTAT_ORDER + Y_ORDER :] / n
        details["tail"] = {
            "thresholds": thr.copy(),
            "probability": p,
            "stderr": np.sqrt(p * (1.0 - p) / n),
            "count": total[1 + KSTAT_ORDER + Y_ORDER :].astype(np.int64),
        }
    flops = n * mlp.flops_per_sample()
    return Estimate(
        value=y_k[1],
        method="monte_carlo",
        stderr=float(np.sqrt(max(y_var, 0.0) / n)),
        flops=flops,
        flops_with_advice=flops,
        wall_time=time.perf_counter() - start_time,
        kappa=kappa,
        details=details,
    )


@dataclass(frozen=True)
class TailProbabilityMC:
    """Monte Carlo tail probabilities ``P(f > t)``.

    Attributes
    ----------
    thresholds, probability, stderr : ndarray (T,)
        ``stderr = sqrt(p (1 - p) / N)`` (binomial).  A zero count means only that
        ``P(f > t) < 3/N`` at 95% confidence (rule of three), not that it is 0.
    count : ndarray (T,) of int
    n_samples : int
    estimate : Estimate
        The full Monte Carlo result the probabilities came from.
    """

    thresholds: np.ndarray
    probability: np.ndarray
    stderr: np.ndarray
    count: np.ndarray
    n_samples: int
    estimate: Estimate


def tail_probability_mc(mlp: TwoLayerMLP, thresholds: Any, n_samples: int, seed: int = 0, **kwargs: Any) -> TailProbabilityMC:
    """``P(f > t)`` for each threshold by Monte Carlo (see :func:`monte_carlo`; extra keyword
    arguments such as ``backend`` and ``batch_size`` are passed on).  Cost as monte_carlo."""
    if thresholds is None or np.size(thresholds) == 0:
        raise ValueError("tail_probability_mc needs at least one threshold")
    est = monte_carlo(mlp, n_samples, seed=seed, thresholds=thresholds, **kwargs)
    tail = est.details["tail"]
    return TailProbabilityMC(
        thresholds=tail["thresholds"],
        probability=tail["probability"],
        stderr=tail["stderr"],
        count=tail["count"],
        n_samples=est.details["n_samples"],
        estimate=est,
    )
