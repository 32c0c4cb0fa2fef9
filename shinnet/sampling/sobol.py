"""Scrambled Sobol points mapped to N(0, I_d): randomized quasi-Monte Carlo (MATH.md section 10).

Scramble ``r`` (r = 0..R-1) is ``scipy.stats.qmc.Sobol(d, scramble=True, bits=SOBOL_BITS,
rng=default_rng(SeedSequence(entropy, spawn_key + (r,))))``: a linear matrix scramble (LMS) plus a
random digital shift, so every point is uniform on [0, 1)^d and the R scrambles are independent.
Each scramble contributes ``n_r = 2^p`` points (the first batch by ``random_base2``, the rest by
``random`` in power-of-two batches, which keeps the balance properties), mapped by the inverse
normal CDF.  The error bar of RQMC comes from the spread of the R replicate means.

Why ``bits = 62``: the default 30 bits make points multiples of 2^-30, and the inverse CDF of
the smallest ones then sits near -6.1: the tail beyond is never sampled.  With 62 bits the points
are multiples of 2^-62 (clipped to [2^-60, 1 - 2^-53] before ``ndtri``).
"""

from __future__ import annotations

import warnings
from typing import Iterator

import numpy as np

from shinnet.sampling.inputs import child_seed

__all__ = ["SOBOL_MAX_DIM", "SOBOL_BITS", "sobol_plan", "check_sobol_dimension", "sobol_uniforms"]

#: the largest dimension scipy's Sobol direction numbers support (Joe & Kuo; ``qmc.Sobol.MAXDIM``, tested)
SOBOL_MAX_DIM = 21201
SOBOL_BITS = 62


def check_sobol_dimension(d: int) -> None:
    """Raise ``ValueError`` when d exceeds Sobol's supported dimension."""
    if d > SOBOL_MAX_DIM:
        raise ValueError(f"method='sobol' supports d <= {SOBOL_MAX_DIM} (scipy's Sobol direction numbers), "
                         f"got d = {d}; use method='plain'")


def sobol_plan(n_samples: int, scrambles: int) -> tuple[int, str | None]:
    """Points per scramble ``2^p = 2^ceil(log2(n_samples / R))`` (at least 2) and a note when the total
    ``R 2^p`` differs from ``n_samples`` (None otherwise)."""
    per = max(2, -(-n_samples // scrambles))
    per = 1 << (per - 1).bit_length()
    total = per * scrambles
    if per > 2**SOBOL_BITS:
        raise ValueError(f"at most 2^{SOBOL_BITS} points per scramble, asked {per}")
    note = None
    if total != n_samples:
        note = (f"n_samples = {n_samples} rounded up to {scrambles} scrambles x 2^{per.bit_length() - 1} = {total} "
                f"points (Sobol nets need a power of two per scramble)")
    return per, note


def sobol_uniforms(d: int, n_per: int, ss: np.random.SeedSequence, scramble: int, batch: int) -> Iterator[np.ndarray]:
    """Yield the ``n_per`` points of scramble ``scramble`` in power-of-two batches of at most ``batch`` rows.

    Cost: ``d bits^2`` for the scrambling and about 2 operations per coordinate per point.
    ``scipy.stats`` is imported here, on first use (it takes about a second: ``import shinnet``
    stays cheap).
    """
    from scipy.stats import qmc

    rows = 1 << max(0, int(batch).bit_length() - 1)  # a power of two <= batch
    rows = min(rows, n_per)
    eng = qmc.Sobol(d, scramble=True, bits=SOBOL_BITS, rng=np.random.default_rng(child_seed(ss, scramble)))
    yield eng.random_base2(rows.bit_length() - 1)
    done = rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batches are powers of two: balance is kept
        while done < n_per:
            yield eng.random(rows)
            done += rows


