"""Monte Carlo ground truth for the studies, cached on disk (MATH.md section 7).

A reference value of ``E[psi(f)]`` and the cumulants ``kappa_1..kappa_6`` of ``f`` from many
samples ``x ~ N(0, I_d)``, precise enough that its standard error is far below every error it
is compared with.  One pass over the samples serves several output activations psi (f does not
depend on psi).

Variance reduction (unbiased up to O(1/N)): ``E[f] = c + sum_j a_j E[sigma(r_j Z + b_j)]`` is
known exactly from 1-d Gaussian integrals, so ``f`` is used as a control variate,

    value = mean(y) - beta (mean(f) - E[f]),   beta = Cov(y, f) / Var(f),
    stderr^2 = Var(y) (1 - rho^2) / N,          rho = corr(y, f),

exact for identity psi (stderr 0) and a large gain for near-linear psi.  The plain sample mean,
``Var(y)`` (which sets Monte Carlo's MSE ``Var(y)/N`` in the race) and the k-statistics of f with
jackknife standard errors are stored as well.

Cache: one JSON file per (model fingerprint, output, seed) under ``<cache dir>/groundtruth/``;
the cache dir is the ``cache_dir`` argument, else ``$SHINNET_CACHE_DIR``, else the user cache
directory (never the working directory).  Files carry a format version and a sha256 checksum of
their payload, are written atomically (temporary file + ``os.replace``), and are rebuilt when
stale (other version/fingerprint, fewer samples than asked) or corrupt.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from shinnet import activations
from shinnet.enumerate.cache import resolve_cache_dir
from shinnet.kstats import jackknife_stderr, kstat
from shinnet.model import TwoLayerMLP
from shinnet.sampling.control import exact_mean_f  # MATH.md section 2: shin_0, O(m d)

__all__ = [
    "GroundTruth",
    "FORMAT_VERSION",
    "model_fingerprint",
    "ground_truth",
    "ground_truths",
    "cache_path",
    "exact_mean_f",
]

FORMAT_VERSION = 1
KSTAT_ORDER = 6
N_GROUPS = 64
BLOCK_ROWS = 8192  # samples per random-number block: the stream depends on (seed, d) only
PILOT_SAMPLES = 2**14


@dataclass(frozen=True)
class GroundTruth:
    """A Monte Carlo reference for one model and one output activation.

    Attributes
    ----------
    value, stderr : float
        ``E[psi(f)]`` with ``f`` as control variate, and its standard error.
    plain_value, plain_stderr : float
        The plain sample mean of ``y`` and ``sqrt(Var(y)/N)``.
    var_y : float
        Sample variance of ``y = psi(f)`` (Monte Carlo's MSE with N samples is ``var_y / N``).
    kappa, kappa_stderr : dict int -> float
        k-statistics ``k_1..k_6`` of f and their delete-a-group jackknife standard errors.
    n_samples, seed : int
    fingerprint : str
        :func:`model_fingerprint` of the model with this output activation.
    output : str
        ``psi.name``.
    mean_f_exact : float
        The exact ``E[f]`` used as the control variate's mean.
    wall_time : float
        Seconds spent sampling (when it was built).
    from_cache : bool
    """

    value: float
    stderr: float
    plain_value: float
    plain_stderr: float
    var_y: float
    kappa: Mapping[int, float]
    kappa_stderr: Mapping[int, float]
    n_samples: int
    seed: int
    fingerprint: str
    output: str
    mean_f_exact: float
    wall_time: float = 0.0
    from_cache: bool = field(default=False, compare=False)

    def payload(self) -> dict[str, Any]:
        """JSON-able dict (integer keys as strings), without ``from_cache``."""
        out = asdict(self)
        out.pop("from_cache")
        out["kappa"] = {str(k): float(v) for k, v in self.kappa.items()}
        out["kappa_stderr"] = {str(k): float(v) for k, v in self.kappa_stderr.items()}
        return out

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "GroundTruth":
        kw = dict(data)
        kw["kappa"] = {int(k): float(v) for k, v in data["kappa"].items()}
        kw["kappa_stderr"] = {int(k): float(v) for k, v in data["kappa_stderr"].items()}
        kw["from_cache"] = True
        return cls(**kw)


def _activation_tag(act: Any) -> str:
    coefficients = getattr(act, "coefficients", None)
    if coefficients is not None:
        return f"{act.name}:" + ",".join(repr(float(c)) for c in coefficients)
    return str(act.name)


def model_fingerprint(mlp: TwoLayerMLP, output: Any = None) -> str:
    """sha256 of the weights (``W, b, a, c`` as float64 bytes with shapes) and activation names.

    ``output`` overrides ``mlp.output`` (a name or Activation).  Cost O(m d).
    """
    out = mlp.output if output is None else activations.get(output)
    h = hashlib.sha256()
    h.update(f"shinnet-mlp-v1|{mlp.m}x{mlp.d}|{_activation_tag(mlp.hidden)}|{_activation_tag(out)}|".encode())
    for arr in (mlp.W, mlp.b, mlp.a, np.array([mlp.c])):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    return h.hexdigest()


def cache_path(cache_dir: Path, fingerprint: str, seed: int) -> Path:
    """``<cache_dir>/groundtruth/<fingerprint[:40]>-s<seed>.json``."""
    return Path(cache_dir) / "groundtruth" / f"{fingerprint[:40]}-s{int(seed)}.json"


def _resolve_cache_dir(cache_dir: Any) -> Path:
    return resolve_cache_dir(cache_dir)


def _checksum(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _read(path: Path, fingerprint: str, seed: int) -> GroundTruth | None:
    """The cached record, or None when missing, stale or corrupt (with a warning for the last two)."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        payload = doc["payload"]
        if doc.get("version") != FORMAT_VERSION:
            reason = f"format version {doc.get('version')!r} != {FORMAT_VERSION}"
        elif doc.get("checksum") != _checksum(payload):
            reason = "checksum mismatch"
        elif payload["fingerprint"] != fingerprint or int(payload["seed"]) != seed:
            reason = "fingerprint or seed mismatch"
        else:
            return GroundTruth.from_payload(payload)
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"unreadable ({type(exc).__name__}: {exc})"
    warnings.warn(f"ground-truth cache file {path} is stale or corrupt ({reason}); rebuilding", stacklevel=3)
    return None


def _write(path: Path, truth: GroundTruth) -> None:
    """Write atomically: a temporary file in the same directory, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = truth.payload()
    doc = {"version": FORMAT_VERSION, "checksum": _checksum(payload), "payload": payload}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary shared outputs
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sample_sums(
    mlp: TwoLayerMLP, outs: Sequence[Any], n: int, seed: int, batch_size: int, progress: bool
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Stream n samples; per group: power sums ``S_0..S_6`` of ``f - f0`` and, per output,
    ``[sum y', sum y'^2, sum y' f']`` (primes: shifted by pilot means).  Block i (``BLOCK_ROWS``
    rows) comes from ``SeedSequence(seed, spawn_key=(i,))``; sample j goes to group ``floor(j G / n)``."""
    fsums = np.zeros((N_GROUPS, KSTAT_ORDER + 1))
    ysums = np.zeros((N_GROUPS, len(outs), 3))
    f0 = 0.0
    y0 = np.zeros(len(outs))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="sample", unit_scale=True, desc="ground truth", leave=False)
    bounds = [g * n // N_GROUPS for g in range(N_GROUPS + 1)]
    g = 0
    for block in range((n + BLOCK_ROWS - 1) // BLOCK_ROWS):
        lo = block * BLOCK_ROWS
        rows = min(BLOCK_ROWS, n - lo)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
        x = rng.standard_normal((rows, mlp.d))
        pos = lo
        while pos < lo + rows:
            while bounds[g + 1] <= pos:
                g += 1
            stop = min(lo + rows, pos + batch_size, bounds[g + 1])
            f = np.asarray(mlp.preactivation(x[pos - lo : stop - lo]))
            if pos == 0:
                f0 = float(f.mean())
                y0 = np.array([float(np.mean(o.value(f))) for o in outs])
            z = f - f0
            term = np.ones_like(z)
            for p in range(KSTAT_ORDER + 1):
                fsums[g, p] += term.sum()
                term = term * z
            for i, o in enumerate(outs):
                yz = np.asarray(o.value(f)) - y0[i]
                ysums[g, i] += (yz.sum(), (yz * yz).sum(), (yz * z).sum())
            pos = stop
        if bar is not None:
            bar.update(rows)
    if bar is not None:
        bar.close()
    if not (np.all(np.isfinite(fsums)) and np.all(np.isfinite(ysums))):
        raise FloatingPointError("ground-truth sampling produced non-finite sums (overflow in the model?)")
    return fsums, ysums, f0, y0


def _summarise(
    fsums: np.ndarray, ysums: np.ndarray, f0: float, y0: np.ndarray, mean_f: float
) -> list[dict[str, float]]:
    """Control-variate estimates per output from the summed moments (see the module docstring)."""
    tot_f = fsums.sum(axis=0)
    n = tot_f[0]
    fbar = tot_f[1] / n
    var_f = (tot_f[2] - n * fbar**2) / (n - 1)
    out = []
    for i in range(ysums.shape[1]):
        sy, syy, syf = ysums[:, i].sum(axis=0)
        ybar = sy / n
        var_y = max((syy - n * ybar**2) / (n - 1), 0.0)
        cov = (syf - n * ybar * fbar) / (n - 1)
        beta = cov / var_f if var_f > 0 else 0.0
        res_var = max(var_y - beta * cov, 0.0)
        out.append(
            {
                "value": float(ybar + y0[i] - beta * (fbar + f0 - mean_f)),
                "stderr": float(math.sqrt(res_var / n)),
                "plain_value": float(ybar + y0[i]),
                "plain_stderr": float(math.sqrt(var_y / n)),
                "var_y": float(var_y),
                "residual_var": float(res_var),
            }
        )
    return out


def _samples_needed(mlp, outs, target_stderr, seed, batch_size, max_samples) -> int:
    """Pilot run of ``PILOT_SAMPLES`` (seed + 1_000_003) -> N with the worst output's stderr <= target."""
    fs, ys, f0, y0 = _sample_sums(mlp, outs, PILOT_SAMPLES, seed + 1_000_003, batch_size, False)
    worst = max(s["residual_var"] for s in _summarise(fs, ys, f0, y0, exact_mean_f(mlp)))
    n = int(math.ceil(worst / target_stderr**2)) if worst > 0 else PILOT_SAMPLES
    return int(min(max(n, PILOT_SAMPLES), max_samples))


def cached_truths(root: Path | None, names: list[str], prints: list[str], seed: int, n_samples: int | None,
                  target_stderr: float | None, max_samples: int) -> dict[str, GroundTruth]:
    """The cached references (name -> GroundTruth) good enough for the request: at least
    ``n_samples`` points, or a standard error within 1.1x ``target_stderr`` (or ``max_samples``
    reached).  Shared by the Monte Carlo and RQMC ground truths.  Cost: one small file read each."""
    found: dict[str, GroundTruth] = {}
    if root is None:
        return found
    for name, fp in zip(names, prints):
        rec = _read(cache_path(root, fp, seed), fp, seed)
        if rec is None:
            continue
        if n_samples is not None and rec.n_samples >= n_samples:
            found[name] = rec
        elif target_stderr is not None and (rec.stderr <= 1.1 * target_stderr or rec.n_samples >= max_samples):
            found[name] = rec
    return found


def ground_truths(
    mlp: TwoLayerMLP,
    outputs: Sequence[Any] | None = None,
    n_samples: int | None = None,
    target_stderr: float | None = None,
    seed: int = 12345,
    cache_dir: Any = None,
    max_samples: int = 2**26,
    batch_size: int | None = None,
    refresh: bool = False,
    use_cache: bool = True,
    progress: bool = False,
) -> dict[str, GroundTruth]:
    """Monte Carlo references of ``E[psi(f)]`` for several output activations in one pass.

    Parameters
    ----------
    mlp : TwoLayerMLP
        Its ``output`` is ignored when ``outputs`` is given.
    outputs : sequence of str or Activation, optional
        Default ``[mlp.output]``.
    n_samples : int, optional
        Samples to draw.  Exactly one of ``n_samples`` and ``target_stderr`` must be given.
    target_stderr : float, optional
        Choose N from a pilot run so that every output's (control-variate) stderr is about this,
        capped at ``max_samples``.  A cached record is reused when its stderr is within 10% of the
        target or it has at least as many samples as the cap.
    seed : int
    cache_dir : path, optional
        See the module docstring.  ``use_cache=False`` neither reads nor writes files.
    refresh : bool
        Rebuild even when a valid cached record exists.
    progress : bool
        tqdm progress bar.

    Returns
    -------
    dict output name -> GroundTruth

    Cost: ``N * mlp.flops_per_sample()`` FLOPs plus O(N) per output; memory O(batch * m).
    """
    if not isinstance(mlp, TwoLayerMLP):
        raise TypeError(f"mlp must be a TwoLayerMLP, got {type(mlp).__name__}")
    if (n_samples is None) == (target_stderr is None):
        raise ValueError("give exactly one of n_samples and target_stderr")
    if n_samples is not None and (int(n_samples) != n_samples or n_samples < 2 * N_GROUPS):
        raise ValueError(f"n_samples must be an integer >= {2 * N_GROUPS}, got {n_samples!r}")
    if target_stderr is not None and not (np.isfinite(target_stderr) and target_stderr > 0):
        raise ValueError(f"target_stderr must be positive and finite, got {target_stderr!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    outs = [activations.get(o) for o in (outputs if outputs is not None else [mlp.output])]
    names = [o.name for o in outs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate output activations: {names}")
    batch = int(batch_size or max(1, min(BLOCK_ROWS, (32 * 2**20) // (8 * (2 * mlp.m + mlp.d)))))
    prints = [model_fingerprint(mlp, o) for o in outs]
    root = _resolve_cache_dir(cache_dir) if use_cache else None
    found = cached_truths(root, names, prints, seed, n_samples, target_stderr, max_samples) if not refresh else {}
    todo = [i for i, name in enumerate(names) if name not in found]
    if todo:
        sub = [outs[i] for i in todo]
        n = int(n_samples) if n_samples is not None else _samples_needed(mlp, sub, target_stderr, seed, batch, max_samples)
        start = time.perf_counter()
        fsums, ysums, f0, y0 = _sample_sums(mlp, sub, n, seed, batch, progress)
        wall = time.perf_counter() - start
        kappa = {r: float(kstat(fsums.sum(axis=0), r, f0)) for r in range(1, KSTAT_ORDER + 1)}
        kse = {int(r): float(v) for r, v in jackknife_stderr(fsums, KSTAT_ORDER).items()}
        mean_f = exact_mean_f(mlp)
        for j, stats in zip(todo, _summarise(fsums, ysums, f0, y0, mean_f)):
            stats.pop("residual_var")
            rec = GroundTruth(
                **stats, kappa=kappa, kappa_stderr=kse, n_samples=n, seed=seed,
                fingerprint=prints[j], output=names[j], mean_f_exact=mean_f, wall_time=wall,
            )
            if root is not None:
                _write(cache_path(root, prints[j], seed), rec)
            found[names[j]] = rec
    return {name: found[name] for name in names}


def ground_truth(mlp: TwoLayerMLP, **kwargs: Any) -> GroundTruth:
    """:func:`ground_truths` for ``mlp.output`` alone (same keyword arguments)."""
    return ground_truths(mlp, outputs=None, **kwargs)[mlp.output.name]
