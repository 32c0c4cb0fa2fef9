"""Streamed replicate sums: the engine behind RQMC, control variates and the hybrid estimator.

R independent replicates of ``n_per`` points each: scrambles of a Sobol net
(:mod:`shinnet.sampling.sobol`) or independent blocks of Gaussian draws (``method="plain"``,
replicate r keyed ``SeedSequence(entropy, spawn_key + (r, block))``).  For every point, T
responses (e.g. ``psi(f)``, several psi, or a residual ``psi(f) - g(f)``) and C mean-zero controls
are evaluated on the backend, and per replicate the sums ``n, sum y, sum y^2, sum z, sum z z^T,
sum y z^T`` are accumulated in float64 (responses shifted by the first chunk's means), which is
all :func:`shinnet.sampling.control.cv_combine` needs.  Memory O(batch (d + m)).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from shinnet.sampling.backends import rng_block_rows
from shinnet.sampling.inputs import child_seed
from shinnet.sampling.sobol import sobol_uniforms

__all__ = ["replicate_sums", "Columns"]

#: f -> list of columns (numpy arrays or torch tensors of f's shape)
Columns = Callable[[Any], Sequence[Any]]


def _points(engine: Any, method: str, ss: np.random.SeedSequence, r: int, n_per: int, batch: int):
    """Yield input batches ``x`` (rows, d) of replicate r on the backend."""
    d = engine.mlp.d
    if method == "sobol":
        for u in sobol_uniforms(d, n_per, ss, r, batch):
            yield engine.from_uniform(u)
        return
    block_rows = rng_block_rows(d)
    sub = child_seed(ss, r)
    for block in range(-(-n_per // block_rows)):
        x = engine.normals(sub, block, min(block_rows, n_per - block * block_rows))
        for lo in range(0, x.shape[0], batch):
            yield x[lo : lo + batch]


def replicate_sums(
    engine: Any,
    method: str,
    ss: np.random.SeedSequence,
    n_per: int,
    replicates: int,
    batch: int,
    responses: Columns,
    controls: Columns,
    bar: Any = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-replicate sums (see the module docstring) and the response shifts ``y_shift`` (T,).

    Cost: ``replicates * n_per`` forward passes plus O(T C) per point.
    """
    stats: dict[str, np.ndarray] | None = None
    y_shift: np.ndarray | None = None
    for r in range(replicates):
        for x in _points(engine, method, ss, r, n_per, batch):
            f = engine.preactivation(x)
            ys, zs = list(responses(f)), list(controls(f))
            if stats is None:
                T, C = len(ys), len(zs)
                y_shift = np.array([float(y.mean()) for y in ys])
                stats = {"n": np.zeros(replicates), "sy": np.zeros((replicates, T)), "syy": np.zeros((replicates, T)),
                         "sz": np.zeros((replicates, C)), "szz": np.zeros((replicates, C, C)),
                         "syz": np.zeros((replicates, T, C))}
            T, C = len(ys), len(zs)
            yc = [y - float(s) for y, s in zip(ys, y_shift)]
            vals = [f.shape[0]]
            vals += [y.sum() for y in yc] + [(y * y).sum() for y in yc] + [z.sum() for z in zs]
            vals += [(zs[i] * zs[j]).sum() for i in range(C) for j in range(C)]
            vals += [(y * z).sum() for y in yc for z in zs]
            v = engine.to_numpy(vals)
            stats["n"][r] += v[0]
            stats["sy"][r] += v[1 : 1 + T]
            stats["syy"][r] += v[1 + T : 1 + 2 * T]
            stats["sz"][r] += v[1 + 2 * T : 1 + 2 * T + C]
            o = 1 + 2 * T + C
            stats["szz"][r] += v[o : o + C * C].reshape(C, C)
            stats["syz"][r] += v[o + C * C :].reshape(T, C)
            if bar is not None:
                bar.update(int(f.shape[0]))
    assert stats is not None and y_shift is not None
    if not all(np.all(np.isfinite(s)) for s in stats.values()):
        raise FloatingPointError("sampling produced non-finite values of f or y (overflow in the model?)")
    return stats, y_shift
