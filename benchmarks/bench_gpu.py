"""Contraction throughput of the torch backend on a GPU, as a share of the card's float64 peak.

For each case: ``shinnet.cumulants`` on ``backend="torch", device="cuda"`` (dense vertex tensors
built on the device), float64 and float32, paths warmed by a first call; reported:

- contraction seconds (``timings["contraction"]``, the device synchronised by the final
  ``.item()`` of every diagram value), cotengra's cost (multiply-adds), and the throughput
  ``2 * cost / seconds`` (one multiply-add = 2 FLOPs);
- that throughput as a share of the nominal float64 peak (``--peak-tflops``, else a table of
  known cards) and of a measured float64 GEMM (the practical ceiling);
- float32: the largest relative difference from float64 over kappa_n (the check), and its speed.

    python benchmarks/bench_gpu.py                      # default cases
    python benchmarks/bench_gpu.py --d 32 --m 4096 --order 4 --max-degree 6

Needs a CUDA device (exits with a message otherwise).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import shinnet
from shinnet.contract import PathCache

#: nominal float64 peaks in TFLOP/s (tensor-core FP64 where the card has it; vendor data sheets)
PEAK_FP64_TFLOPS = {"H200": 67.0, "H100 SXM": 67.0, "H100 PCIe": 51.0, "H100": 51.0, "A100": 19.5,
                    "V100": 7.8, "L40S": 1.4, "L4": 0.5, "A10": 0.98, "T4": 0.25, "RTX 4090": 1.3}


def _peak(name: str, given: float | None) -> float | None:
    if given is not None:
        return given
    for key in sorted(PEAK_FP64_TFLOPS, key=len, reverse=True):
        if key.lower() in name.lower():
            return PEAK_FP64_TFLOPS[key]
    return None


def _gemm_tflops(torch, n: int = 8192, reps: int = 5) -> float:
    a = torch.randn(n, n, dtype=torch.float64, device="cuda")
    b = torch.randn(n, n, dtype=torch.float64, device="cuda")
    a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2.0 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def run_case(d: int, m: int, order: int, max_degree: int, representation: str, peak: float | None,
             gemm: float) -> None:
    rng = np.random.default_rng(0)
    model = shinnet.TwoLayerMLP(W=rng.standard_normal((m, d)) / np.sqrt(d), b=0.3 * rng.standard_normal(m),
                                a=rng.standard_normal(m) / np.sqrt(m), c=0.0, hidden="relu")
    cache = PathCache()
    kw = dict(backend="torch", device="cuda", representation=representation, cache=cache, warn=False,
              memory_limit=2.0**35)
    out = {}
    for dtype in ("float64", "float32"):
        shinnet.cumulants(model, order, max_degree, dtype=dtype, **kw)  # warm paths, kernels, device tensors
        res = shinnet.cumulants(model, order, max_degree, dtype=dtype, **kw)
        cost = res.flops - res.setup_flops
        sec = res.timings["contraction"]
        out[dtype] = (res, cost, sec)
    res64, cost, sec = out["float64"]
    tf = 2.0 * cost / sec / 1e12
    share = f"{100 * tf / peak:5.1f}% of {peak:g} TF/s nominal" if peak else "nominal peak unknown (--peak-tflops)"
    print(f"d={d} m={m} (N, K)=({order}, {max_degree}) {representation}: {res64.n_evaluated} diagrams, "
          f"cost {cost:.3g} multiply-adds")
    print(f"  float64: contraction {sec:.3f} s, {tf:.2f} TFLOP/s = {share}, {100 * tf / gemm:5.1f}% of measured "
          f"GEMM ({gemm:.1f} TF/s); total {res64.timings['total']:.3f} s")
    res32, _, sec32 = out["float32"]
    diff = max(abs(res32.kappa[n] - res64.kappa[n]) / abs(res64.kappa[n]) for n in res64.kappa)
    print(f"  float32: contraction {sec32:.3f} s ({sec / sec32:.2f}x faster), max rel diff vs float64 {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--m", type=int, default=4096)
    ap.add_argument("--order", type=int, default=4)
    ap.add_argument("--max-degree", type=int, default=5)
    ap.add_argument("--representation", default="dense")
    ap.add_argument("--peak-tflops", type=float, default=None, help="nominal float64 peak of the card")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA device (torch.cuda.is_available() is False)")
    name = torch.cuda.get_device_name(0)
    peak = _peak(name, args.peak_tflops)
    gemm = _gemm_tflops(torch)
    print(f"device: {name}; nominal float64 peak {peak} TF/s; measured float64 GEMM {gemm:.1f} TF/s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for d in args.d:
            run_case(d, args.m, args.order, args.max_degree, args.representation, peak, gemm)


if __name__ == "__main__":
    main()
