"""Tables, counts and floors from ``bench_condition_race.py --json`` rows (docs/benchmarks.md, issue 13).

    python benchmarks/condition_race_tables.py rows.jsonl [more.jsonl ...]
"""
import json
import math
import sys
import numpy as np

def fit(F, fs, ses):
    lf, ls = np.log(fs), np.log(ses)
    b, a = np.polyfit(lf, ls, 1)
    return float(math.exp(a + b * math.log(F))), b

def peer_n(F, ns, fs, ses):
    """RQMC+CV s.e. at F FLOPs through n: F = setup + c n (least squares), s.e.(n) log-log interpolated;
    outside the measured n the least-squares slope from the nearest end; None when F < setup + 16 c."""
    ns, fs, ses = map(np.asarray, (ns, fs, ses))
    c, setup = np.polyfit(ns, fs, 1)
    n = (F - setup) / c
    if n < 16:
        return None, False, setup
    b = np.polyfit(np.log(ns), np.log(ses), 1)[0]
    ln = math.log(n)
    if ln < math.log(ns[0]):
        return float(ses[0] * (n / ns[0]) ** b), True, setup
    if ln > math.log(ns[-1]):
        return float(ses[-1] * (n / ns[-1]) ** b), True, setup
    return float(math.exp(np.interp(ln, np.log(ns), np.log(ses)))), False, setup

def verdict(err, peer, se):
    if peer is None:
        return "no peer"
    if abs(err) < 2 * se and peer < 2 * se:
        return "unresolved"
    return "ahead" if abs(err) < peer else "behind"

rows = []
for p in sys.argv[1:]:
    rows += [json.loads(l) for l in open(p)]
seen = set(); out = []
for r in rows:
    k = (r["target"], r["d"], r["m"], r["hidden"], r["psi"], r["kind"], r["asked"], r["N"], r["K"])
    if k in seen: continue
    seen.add(k); out.append(r)
rows = out
for r in rows:
    for tag, F in (("adv", r["flops_adv"]), ("noadv", max(r["flops"], 1.0))):
        r[f"fit_{tag}"], r["slope"] = fit(F, r["rq_f"], r["rq_se"])
        r[f"pn_{tag}"], r[f"pnx_{tag}"], r["setup"] = peer_n(F, r["rq_points"], r["rq_f"], r["rq_se"])
def lab(r):
    if r["kind"] == "plain": return f"plain N={r['N']} K={r['K']}"
    return f"r={r['r']}{' (auto)' if r['asked']=='auto' else ''} N={r['N']} K={r['K']}"
def pf(r, tag):
    p = r[f"pn_{tag}"]
    return "n/a" if p is None else f"{p:.1e}{'*' if r[f'pnx_{tag}'] else ''}"
def rat(r, tag):
    p = r[f"pn_{tag}"]
    return "-" if p is None else f"{abs(r['err']) / p:.2g}"
blocks = {}
for r in rows: blocks.setdefault((r["d"], r["m"], r["hidden"], r["target"]), []).append(r)
for (d, m, h, t), rs in blocks.items():
    print(f"\n**{t}, d = {d}, m = {m}, hidden {h}** (CV: {rs[0].get('cv', 'True')})\n")
    for psi in dict.fromkeys(r["psi"] for r in rs):
        r0 = [r for r in rs if r["psi"] == psi][0]
        print(f"- psi = {psi}: reference {r0['ref']:.8f} +- {r0['ref_se']:.1e}; M eigenvalues {np.round(r0['eig'][:3],3).tolist()}; "
              f"share by rank {np.round(r0['shares'],3).tolist()}; Var psi(f) {r0['var']:.3g}; RQMC s.e. "
              + ", ".join(f"2^{int(round(math.log2(n)))}: {s:.1e} ({f:.1e} F)" for n, s, f in zip(r0['rq_points'], r0['rq_se'], r0['rq_f']))
              + f"; fitted slope in n {np.polyfit(np.log(r0['rq_points']), np.log(r0['rq_se']), 1)[0]:.2f}; CV setup {r0['setup']:.2g} FLOPs")
    print("\n| psi | run | error | budget | reliable | FLOPs (contr. / with advice) | nodes | share | MC RMSE @F | RQMC+CV s.e. @F (adv / no adv) | error / RQMC (adv / no adv) | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rs:
        if r["kind"] == "cond" and r["asked"] != "auto" and any(q["kind"] == "cond" and q["asked"] == "auto" and q["r"] == r["r"] and q["N"] == r["N"] and q["K"] == r["K"] and q["psi"] == r["psi"] for q in rs):
            continue
        res = "~" if abs(r["err"]) < 2 * r["ref_se"] else ""
        sh = "-" if r["share"] is None else f"{r['share']:.3f}"
        print(f"| {r['psi']} | {lab(r)} | {res}{r['err']:+.2e} | {r['budget']:.1e} | {'yes' if r['reliable'] else 'NO'} | "
              f"{r['flops']:.2g} / {r['flops_adv']:.2g} | {r['nodes']} | {sh} | {r['mc_adv']:.1e} | "
              f"{pf(r, 'adv')} / {pf(r, 'noadv')} | {rat(r, 'adv')} / {rat(r, 'noadv')} | {r['wall']:.0f} |")
print()
for lo, hi in ((1e7, 1e10),):
    cells = [r for r in rows if r["kind"] == "cond" and r["r"] > 0 and lo <= r["flops_adv"] <= hi]
    for grp in sorted({(r["d"], r["m"], r["hidden"]) for r in cells}):
        cs = [r for r in cells if (r["d"], r["m"], r["hidden"]) == grp]
        for peer in ("pn", "rq"):
            for tag in ("adv", "noadv"):
                v = [verdict(r["err"], r[f"{peer}_{tag}"], r["ref_se"]) for r in cs]
                print(f"d={grp[0]} m={grp[1]} hidden={grp[2]} peer={peer} {tag}: cells {len(cs)} ahead {v.count('ahead')} behind {v.count('behind')} unresolved {v.count('unresolved')} no peer {v.count('no peer')}")
                print("     ", [(r['target'], r['psi'], lab(r), x) for r, x in zip(cs, v)])
        au = [r for r in cs if r["asked"] == "auto" and r["K"] == 4]
        v = [verdict(r["err"], r["pn_adv"], r["ref_se"]) for r in au]
        print(f"   auto K=4: {len(au)}: ahead {v.count('ahead')} behind {v.count('behind')} unresolved {v.count('unresolved')}")
    allc = [r for r in rows if r["kind"] == "cond" and r["r"] > 0]
    print("cond cells outside [1e7,1e10]:", [(r['target'], r['psi'], lab(r), f"{r['flops_adv']:.2g}") for r in allc if not lo <= r['flops_adv'] <= hi])
print()
for key in sorted({(r["d"], r["m"], r["hidden"], r["target"], r["psi"]) for r in rows}):
    parts = []
    for cap in (1e7, 1e8, 1e9, 1e10, 1e11):
        e = [abs(r["err"]) for r in rows if (r["d"], r["m"], r["hidden"], r["target"], r["psi"]) == key and r["flops_adv"] <= cap]
        parts.append(f"{min(e):.1e}" if e else "-")
    ref_se = [r["ref_se"] for r in rows if (r["d"], r["m"], r["hidden"], r["target"], r["psi"]) == key][0]
    print("best", key, " / ".join(parts), f"(2 ref s.e. {2*ref_se:.1e})")
