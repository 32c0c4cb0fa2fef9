"""Benchmark: cost per unit of the activation coefficients after the large-norm fix (issue 10).

Times, in one run, ``hermite_coefficients(K, r, b)`` of tanh / sigmoid / softplus / silu and
``power_hermite_coefficients(act, P, K, r, b)`` of tanh on ``m`` units with norms ``r ~ |N(1, .25)|``
(typical) and ``r ~ 10^U(2, 4)`` (steep), biases ``N(0, 1)``, for this checkout and, with
``--previous DIR``, for another checkout of the package (run in a subprocess with ``PYTHONPATH=DIR``;
e.g. ``git archive HEAD shinnet | tar -x -C DIR``).  Also reports the largest deviation of tanh's He_1
coefficient on the steep units from ``2 phi(b/r)``, its value up to ``O(r^-2)`` (the previous
code's deviation is issue 10; this checkout's values are checked against mpmath in
tests/activations/test_activations_large_r.py).

Usage: ``python benchmarks/bench_activations_large_r.py [--m 400] [--K 6 24] [--previous DIR]``.
Prints microseconds per unit (median of 3 repeats); ratios are within this run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

NAMES = ("tanh", "sigmoid", "softplus", "silu")


def _units(m: int, steep: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    r = 10.0 ** rng.uniform(2.0, 4.0, m) if steep else np.abs(1.0 + 0.25 * rng.standard_normal(m))
    return r, rng.standard_normal(m)


def _median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure(m: int, ks: list[int], power: tuple[int, int]) -> dict[str, float]:
    """``{label: microseconds per unit}`` for the shinnet importable in this process."""
    from shinnet import activations
    from shinnet.activations.power_hermite import power_hermite_coefficients

    out: dict[str, float] = {}
    for steep in (False, True):
        r, b = _units(m, steep)
        tag = "steep" if steep else "typical"
        for name in NAMES:
            act = activations.get(name)
            for K in ks:
                out[f"{name} K={K} {tag}"] = 1e6 * _median_time(lambda: act.hermite_coefficients(K, r, b)) / m
        P, K = power
        seconds = _median_time(lambda: power_hermite_coefficients("tanh", P, K, r, b), 1)
        out[f"tanh C_pk P={P} K={K} {tag}"] = 1e6 * seconds / m
    r, b = _units(m, True)
    he1 = activations.get("tanh").hermite_coefficients(1, r, b)[:, 1]
    two_phi = 2.0 * np.exp(-0.5 * (b / r) ** 2) / np.sqrt(2 * np.pi)
    out["tanh He_1 steep: max |value - 2 phi(b/r)|"] = float(np.max(np.abs(he1 - two_phi)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=400)
    parser.add_argument("--K", type=int, nargs="+", default=[6, 24])
    parser.add_argument("--power", type=int, nargs=2, default=[4, 8], metavar=("P", "K"))
    parser.add_argument("--previous", default=None, help="directory holding a previous shinnet package")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    now = measure(args.m, args.K, tuple(args.power))
    if args.json:
        print(json.dumps(now))
        return
    before: dict[str, float] = {}
    if args.previous:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(args.previous))
        cmd = [sys.executable, os.path.abspath(__file__), "--json", "--m", str(args.m), "--K", *map(str, args.K),
               "--power", *map(str, args.power)]
        res = subprocess.run(cmd, env=env, cwd=os.path.abspath(args.previous), capture_output=True, text=True, check=True)
        before = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"m = {args.m} units; microseconds per unit (median of 3); 'previous' = {args.previous}")
    print(f"{'case':44s} {'previous':>12s} {'now':>12s} {'now/prev':>9s}")
    for key, val in now.items():
        prev = before.get(key, float("nan"))
        print(f"{key:44s} {prev:12.4g} {val:12.4g} {val / prev if prev == prev else float('nan'):9.2f}")


if __name__ == "__main__":
    main()
