"""RQMC with linear control variates (cheap set-up) as the peer where the quadratic CV set-up is too dear.

    python benchmarks/rqmc_linear_peer.py TARGET D M HIDDEN PSI N [N ...]
"""
import sys
import warnings
import shinnet
from shinnet import zoo
target, d, m, hidden, psi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
pts = [int(x) for x in sys.argv[6:]]
warnings.simplefilter("ignore")
mlp = zoo.trained_mlp(d, m, target, steps=300, seed=0, hidden=hidden, num_threads=1).replace(output=shinnet.activations.get(psi))
for cv in ("linear", False):
    for n in pts:
        e = shinnet.monte_carlo(mlp, n, seed=11, method="sobol", control_variates=cv, progress=False, max_seconds=None)
        print(f"{target} d={d} m={m} hidden={hidden} psi={psi} cv={cv} n={n} value={e.value:.10f} se={e.stderr:.3e} flops={e.flops:.3e}", flush=True)
