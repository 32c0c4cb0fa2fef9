"""Time the diagram generator: cold (fresh cache), from the disk cache, and from the memo.

For each order n = 2..N and max degree K = 1..K_max it reports the number of connected
diagrams with degrees in [1, K] and the time of ``shinnet.enumerate.diagrams(n, K)``:

- cold: built from scratch into an empty cache directory (sum of the per-top tables' build
  times, each table measured once: ``diagrams(n, K)`` builds exactly the tables top = 1..K);
- disk: in-process memo cleared, every table read back from the checksummed cache files;
- memo: a repeated call in the same process.

A row stops when the next table's predicted build time (previous table time times the last
growth ratio) would overrun the time limit.  Prints a markdown table.

Usage::

    python benchmarks/bench_enumerate.py [--max-order 8] [--max-degree 8] [--time-limit 600]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import shinnet.enumerate as E
from shinnet.enumerate import tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-order", type=int, default=8)
    parser.add_argument("--max-degree", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=600.0, help="total seconds for cold builds")
    args = parser.parse_args()

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="shinnet-bench-enum-") as cache_dir:
        key = str(cache_dir)
        for n in range(2, args.max_order + 1):
            cold_total = 0.0
            last, ratio = None, None
            for k in range(1, args.max_degree + 1):
                remaining = args.time_limit - (time.perf_counter() - start)
                if last is not None and ratio is not None and last * ratio > remaining:
                    rows.append((n, k, None, None, None, None))
                    break
                E.clear_memo()
                t0 = time.perf_counter()
                tables._table(n, k, key)  # the table of largest degree exactly k
                built = time.perf_counter() - t0
                cold_total += built
                if last is not None and last > 1e-3:
                    ratio = max(built / last, 1.0)
                last = built
                E.clear_memo()
                t0 = time.perf_counter()
                listed = E.diagrams(n, k, cache_dir=cache_dir)
                disk = time.perf_counter() - t0
                t0 = time.perf_counter()
                E.diagrams(n, k, cache_dir=cache_dir)
                memo = time.perf_counter() - t0
                rows.append((n, k, len(listed), cold_total, disk, memo))
                print(f"n={n} K={k}: {len(listed)} diagrams, cold {cold_total:.3f} s, "
                      f"disk {disk * 1e3:.1f} ms, memo {memo * 1e6:.0f} us", flush=True)
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f} at the end; total {time.perf_counter() - start:.0f} s")
    print()
    print("| n | K | diagrams | cold (s) | from disk (ms) | memo (us) |")
    print("|---|---|---:|---:|---:|---:|")
    for n, k, count, cold, disk, memo in rows:
        if count is None:
            print(f"| {n} | {k} | (skipped: over the time limit) | | | |")
        else:
            print(f"| {n} | {k} | {count} | {cold:.3f} | {disk * 1e3:.1f} | {memo * 1e6:.0f} |")


if __name__ == "__main__":
    main()
