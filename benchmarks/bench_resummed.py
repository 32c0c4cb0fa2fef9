"""Resummed (MATH.md section 8) against degree (section 3) expansion against Monte Carlo:
kappa_2..kappa_N per case, partial sums over E and over K, the lambda* diagnostic, and the
Euler re-expansion of the E-series.

Run:  python benchmarks/bench_resummed.py [--cases NAME ...] [--order 5] [--max-edges 5]
          [--max-degree 5] [--samples 5e5] [--time-limit 120]
Prints a markdown section (the one appended to docs/benchmarks.md).  Case names are
``d{d}-m{m}-{act}-{random|trained}``; ``--cases all`` is the issue's grid (d 16, 32; m 1000,
4096; relu, tanh; random and trained second layer).

Each engine call runs in a forked child process with a wall-clock limit (``--time-limit``
seconds).  The settings escalate from cheap to expensive (:func:`run_engine`) and stop at the
first call that runs past the limit or raises; the last settings that ran are reported, and what
was not reached is printed per case.  Monte Carlo uses ``min(--samples, --mc-flops / flops_per_sample)``
samples (stated per case), jackknife standard errors.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import time
import warnings
from typing import Any

import shinnet
from shinnet.zoo import random_mlp, trained_mlp

ALL_CASES = [f"d{d}-m{m}-{a}-{k}" for d, m, a, k in
             itertools.product((16, 32), (1000, 4096), ("relu", "tanh"), ("random", "trained"))]
DEFAULT_CASES = ["d16-m1000-relu-random", "d16-m1000-tanh-random", "d32-m1000-relu-random",
                 "d16-m1000-relu-trained", "d16-m4096-relu-random"]


def build(case: str):
    d, m, act, kind = case.split("-")
    d, m = int(d[1:]), int(m[1:])
    if kind == "random":
        return random_mlp(d, m, hidden=act, seed=0, bias_scale=0.3)
    return trained_mlp(d, m, "teacher", steps=300, seed=0, hidden=act, bias_scale=0.3, num_threads=1)


def fmt(x: float) -> str:
    return f"{x:.5g}"


def _engine(conn: Any, mlp: Any, order: int, trunc: int, expansion: str) -> None:
    """Child process: one engine call; sends back the plain numbers (or the exception text)."""
    from shinnet.contract import ConvergenceWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            if expansion == "resummed":
                res = shinnet.cumulants(mlp, order, expansion="resummed", max_edges=trunc, warn=False)
            else:
                res = shinnet.cumulants(mlp, order, trunc, warn=False)
            wall = time.perf_counter() - t0
        out = {"wall": wall, "flops": float(res.flops), "build_flops": float(res.build_flops),
               "partial": {n: [float(v) for v in s] for n, s in res.partial_sums.items()},
               "lambda_star": dict(res.settings.get("lambda_star", {}))}
        if expansion == "resummed":
            out["reports"] = {n: {"best_value": r.best_value, "best_edges": r.best_edges, "ratio": r.ratio,
                                  "settled": r.settled,
                                  "euler": list(r.euler) if r.euler else None}
                              for n, r in res.convergence.items()}
        conn.send(("ok", out))
    except MemoryError as exc:
        conn.send(("memory", str(exc)))
    except Exception as exc:  # reported, the next setting is tried
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def timed_engine(mlp: Any, order: int, trunc: int, expansion: str, limit: float) -> tuple[str, Any]:
    """Run :func:`_engine` in a forked child (it inherits ``mlp``); ``("timeout", None)`` past
    ``limit`` seconds."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_engine, args=(send, mlp, order, trunc, expansion))
    proc.start()
    send.close()
    if recv.poll(limit):
        status, payload = recv.recv()
        proc.join()
        return status, payload
    proc.terminate()
    proc.join()
    return "timeout", None


def run_engine(mlp: Any, order: int, trunc: int, expansion: str, limit: float) -> tuple[Any, list[str]]:
    """The most expensive settings that run within ``limit`` seconds, escalating cheap to dear.

    First ``order`` with truncation 3, 4, ..., ``trunc`` (E or K), stopping at the first call that
    runs past the limit or raises; if the full truncation was not reached, order 4 is escalated
    on from the truncation that failed (kappa_2..kappa_4 to a higher E or K than kappa_5).  Returns
    ``{"runs": [...], "by_n": {n: run}}`` with, per n, the run of largest truncation holding it.
    """
    notes: list[str] = []
    runs: list[dict[str, Any]] = []
    name = "E" if expansion == "resummed" else "K"
    start = 3
    for n in ([order, 4] if order > 4 else [order]):
        for t in range(start, trunc + 1):
            status, payload = timed_engine(mlp, n, t, expansion, limit)
            if status != "ok":
                why = f"over {limit:.0f} s" if status == "timeout" else status + (f" ({payload[:60]})" if payload else "")
                notes.append(f"{expansion} (order {n}, {name} = {t}): {why}")
                start = t
                break
            runs.append({**payload, "order": n, "trunc": t})
        else:
            break  # the full truncation was reached at this order
    if not runs:
        return None, notes
    by_n: dict[int, dict[str, Any]] = {}
    for r in runs:
        for n in r["partial"]:
            if n not in by_n or r["trunc"] > by_n[n]["trunc"]:
                by_n[n] = r
    return {"runs": runs, "by_n": by_n}, notes


def run_case(case: str, order: int, max_edges: int, max_degree: int, samples: int, mc_flops: float,
             limit: float) -> tuple[list[str], list[dict[str, Any]]]:
    t_case = time.perf_counter()
    mlp = build(case)
    res, notes_r = run_engine(mlp, order, max_edges, "resummed", limit)
    deg, notes_d = run_engine(mlp, order, max_degree, "degree", limit)
    n_mc = int(min(samples, mc_flops / mlp.flops_per_sample()))
    n_mc -= n_mc % 64
    t0 = time.perf_counter()
    mc = shinnet.monte_carlo(mlp, n_mc, seed=1)
    t_mc = time.perf_counter() - t0
    se = mc.details["kappa_stderr"]
    head = [f"#### {case}", ""]
    if res is not None:
        lam = max((r["lambda_star"] for r in res["runs"]), key=len)
        head.append("lambda* (greedy, sets of 2.." + str(max(lam, default=0)) + " units): "
                    + ", ".join(f"{s}: {v:.3g}" for s, v in lam.items()))
    for tag, eng in (("resummed", res), ("degree", deg)):
        if eng is not None:
            used = sorted({id(r): r for r in eng["by_n"].values()}.values(), key=lambda r: r["order"])
            head.append(f"{tag}: " + "; ".join(
                f"order {r['order']}, {'E' if tag == 'resummed' else 'K'} <= {r['trunc']}: {r['wall']:.1f} s, "
                f"{r['flops']:.3g} FLOPs (+{r['build_flops']:.3g} advice)" for r in used))
    head.append(f"Monte Carlo: {n_mc} samples, {t_mc:.1f} s; case total {time.perf_counter() - t_case:.0f} s")
    if notes_r or notes_d:
        head.append("not reached: " + "; ".join(notes_r + notes_d))
    out = [*(h + "  " for h in head[:-1]), head[-1], "",
           "| n | MC +- se | resummed E = 0, 1, ... | terms t_E | best (E*) | Euler | degree K = 2, 3, ... |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    summary = []
    for n in range(2, order + 1):
        cells = [str(n), f"{fmt(mc.kappa[n])} +- {se[n]:.2g}"]
        row = {"case": case, "n": n, "mc": float(mc.kappa[n]), "se": float(se[n]), "n_mc": n_mc}
        if res is not None and n in res["by_n"]:
            run = res["by_n"][n]
            ps = run["partial"][n]
            rep = run["reports"][n]
            terms = [ps[0]] + [b - a for a, b in zip(ps, ps[1:])]
            eul = fmt(rep["euler"][-1]) if rep["euler"] else "-"
            cells += [" / ".join(fmt(v) for v in ps), " / ".join(f"{t:.2g}" for t in terms),
                      f"{fmt(rep['best_value'])} ({rep['best_edges']}"
                      + ("" if rep.get("settled", True) else ", not settled") + ")", eul]
            row.update(resummed=ps[-1], best=rep["best_value"],
                       euler=rep["euler"][-1] if rep["euler"] else float("nan"),
                       lam=float(run["lambda_star"].get(n, float("nan"))), E=run["trunc"])
        else:
            cells += ["-", "-", "-", "-"]
        if deg is not None and n in deg["by_n"]:
            run = deg["by_n"][n]
            cells.append(" / ".join(fmt(v) for v in run["partial"][n]))
            row.update(degree=run["partial"][n][-1], K=run["trunc"])
        else:
            cells.append("-")
        out.append("| " + " | ".join(cells) + " |")
        summary.append(row)
    return out + [""], summary


def z(row: dict[str, Any], key: str) -> str:
    if key not in row or row["se"] <= 0 or row[key] != row[key]:
        return "-"
    return f"{(row[key] - row['mc']) / row['se']:+.1f}"


def summary_table(rows: list[dict[str, Any]]) -> list[str]:
    """(value - MC)/se per case and order: resummed at E_max, its best truncation, Euler, degree at K_max."""
    out = ["| case | n | lambda*_n | MC +- se | z resummed (E) | z best | z Euler | z degree (K) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        zr = z(r, "resummed") + (f" ({r['E']})" if "E" in r else "")
        zd = z(r, "degree") + (f" ({r['K']})" if "K" in r else "")
        lam = f"{r['lam']:.3g}" if "lam" in r else "-"
        out.append(f"| {r['case']} | {r['n']} | {lam} | {fmt(r['mc'])} +- {r['se']:.2g} | {zr} | {z(r, 'best')} | "
                   f"{z(r, 'euler')} | {zd} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=DEFAULT_CASES, help="case names, or 'all' for the issue's grid")
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--max-edges", type=int, default=5)
    ap.add_argument("--max-degree", type=int, default=5)
    ap.add_argument("--samples", type=float, default=5e5)
    ap.add_argument("--mc-flops", type=float, default=6e10, help="cap on Monte Carlo FLOPs per case")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per engine call before backing off")
    args = ap.parse_args()
    cases = ALL_CASES if args.cases == ["all"] else args.cases
    rows: list[dict[str, Any]] = []
    for case in cases:
        text, summ = run_case(case, args.order, args.max_edges, args.max_degree, int(args.samples),
                              args.mc_flops, args.time_limit)
        rows += summ
        print("\n".join(text), flush=True)
    print("\n".join(summary_table(rows)), flush=True)


if __name__ == "__main__":
    main()
