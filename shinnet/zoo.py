"""The model zoo: random and trained two-layer MLPs to test the estimators on.

* :func:`random_mlp` -- ``W ~ N(0, 1/d)``, ``a ~ N(0, 1/m)``, ``b ~ N(0, bias_scale^2)``.
* :func:`trained_mlp` -- the same random first layer, second layer ``(a, c)`` fitted by SGD
  with momentum to a target function of ``x ~ N(0, I_d)`` (fresh inputs every step).
* :func:`example` -- the built-in example of the README's main command.
* :func:`get` -- name -> builder (``names()`` lists them).

Targets (``TARGETS``) and the shape of the fitted ``f`` (d = 16, m = 4096, relu, default
settings; skewness / excess kurtosis of f from 10^5 Monte Carlo samples in docs/sampling.md):
``linear`` (sum x_i / sqrt d: near-Gaussian f), ``radial`` ((|x|^2 - d)/sqrt(2d): mildly skewed),
``teacher`` (a random 4-unit teacher with the student's activation), ``product`` (x_1 x_2:
symmetric, heavy tails), ``max`` (max(x_1, x_2)), ``relu_shift`` (relu(x_1) - 1: strongly skewed).

Everything is deterministic given ``seed``: numpy ``Generator``s and a local
``torch.Generator`` (global random state is never touched).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from shinnet import activations
from shinnet.model import TwoLayerMLP

__all__ = ["random_mlp", "trained_mlp", "example", "get", "names", "TARGETS"]


def _check_dims(d: Any, m: Any) -> tuple[int, int]:
    for name, v in (("d", d), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(d), int(m)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def random_mlp(
    d: int,
    m: int,
    hidden: Any = "relu",
    output: Any = "identity",
    seed: int = 0,
    bias_scale: float = 0.0,
    c: float = 0.0,
    weight_scale: float = 1.0,
) -> TwoLayerMLP:
    """A random two-layer MLP: ``W_jk ~ N(0, weight_scale^2/d)``, ``b_j ~ N(0, bias_scale^2)``,
    ``a_j ~ N(0, 1/m)``.

    Drawn in the order W, b, a from ``np.random.default_rng(seed)`` (b is always drawn, so
    ``bias_scale`` does not change W or a).  Cost O(m d).
    """
    d, m = _check_dims(d, m)
    seed = _check_seed(seed)
    if not (np.isfinite(bias_scale) and bias_scale >= 0):
        raise ValueError(f"bias_scale must be finite and >= 0, got {bias_scale!r}")
    if not (np.isfinite(weight_scale) and weight_scale > 0):
        raise ValueError(f"weight_scale must be finite and > 0, got {weight_scale!r}")
    rng = np.random.default_rng(seed)
    W = weight_scale * rng.standard_normal((m, d)) / math.sqrt(d)
    b = bias_scale * rng.standard_normal(m)
    a = rng.standard_normal(m) / math.sqrt(m)
    return TwoLayerMLP(W=W, b=b, a=a, c=c, hidden=hidden, output=output)


# ----------------------------------------------------------------------------- targets
def _teacher(d: int, hidden: Any, rng: np.random.Generator, units: int = 4) -> Callable[[Any], Any]:
    """``sum_i alpha_i sigma(v_i . x)``, ``v_i ~ N(0, I/d)``, ``alpha_i ~ N(0, 1)``, sigma = the student's."""
    import torch

    act = activations.get(hidden)
    V = torch.from_numpy(rng.standard_normal((units, d)) / math.sqrt(d))
    alpha = torch.from_numpy(rng.standard_normal(units))
    return lambda x: act.value(x @ V.to(x.dtype).T) @ alpha.to(x.dtype)


def _needs(d: int, k: int, name: str) -> None:
    if d < k:
        raise ValueError(f"target {name!r} needs d >= {k}, got d = {d}")


def _make_target(name: str, d: int, hidden: Any, rng: np.random.Generator) -> Callable[[Any], Any]:
    import torch

    if name == "teacher":
        return _teacher(d, hidden, rng)
    if name == "product":
        _needs(d, 2, name)
        return lambda x: x[:, 0] * x[:, 1]
    if name == "max":
        _needs(d, 2, name)
        return lambda x: torch.maximum(x[:, 0], x[:, 1])
    if name == "relu_shift":
        return lambda x: torch.relu(x[:, 0]) - 1.0
    if name == "linear":
        return lambda x: x.sum(dim=1) / math.sqrt(d)
    if name == "radial":
        return lambda x: ((x * x).sum(dim=1) - d) / math.sqrt(2.0 * d)
    raise ValueError(f"unknown target {name!r}; known targets: {', '.join(TARGETS)}")


#: target name -> one-line description
TARGETS: dict[str, str] = {
    "teacher": "random 4-unit teacher sum_i alpha_i sigma(v_i . x), v_i ~ N(0, I/d), alpha_i ~ N(0, 1)",
    "product": "x_1 * x_2",
    "max": "max(x_1, x_2)",
    "relu_shift": "relu(x_1) - 1",
    "linear": "(x_1 + ... + x_d) / sqrt(d)  (near-Gaussian f)",
    "radial": "(|x|^2 - d) / sqrt(2 d)  (centred chi-square)",
}


def _top_eigenvalue(h: Any, iters: int = 30) -> float:
    """Largest eigenvalue of ``h^T h / B`` by power iteration (h: (B, m) tensor)."""
    import torch

    v = torch.ones(h.shape[1], dtype=h.dtype) / math.sqrt(h.shape[1])
    lam = 0.0
    for _ in range(iters):
        w = h.T @ (h @ v) / h.shape[0]
        lam = float(torch.linalg.vector_norm(w))
        if lam == 0.0:
            return 0.0
        v = w / lam
    return lam


def trained_mlp(
    d: int,
    m: int,
    target: str,
    steps: int = 300,
    seed: int = 0,
    hidden: Any = "relu",
    output: Any = "identity",
    lr: float | None = None,
    batch_size: int = 512,
    momentum: float = 0.9,
    bias_scale: float = 0.0,
    init_scale: float = 1.0,
    dtype: str = "float32",
    num_threads: int | None = None,
    return_info: bool = False,
) -> TwoLayerMLP | tuple[TwoLayerMLP, dict[str, Any]]:
    """Random first layer, second layer ``(a, c)`` fitted to ``target`` by SGD with momentum.

    Minimises ``E[(f(x) - target(x))^2]`` over ``(a, c)`` with ``torch.optim.SGD``, a fresh
    batch ``x ~ N(0, I_d)`` per step and a cosine learning-rate decay to 0.  For conditioning
    the features are centred during training, ``f = c~ + sum_j a_j (h_j - E h_j)`` with
    ``E h_j = E[sigma(r_j Z + b_j)]`` exact (``hidden.gaussian_derivative_means``), and
    ``c = c~ - a . E h`` afterwards: the returned model is an ordinary TwoLayerMLP.  The output
    activation psi plays no part in the fit (f itself is fitted).

    Parameters
    ----------
    d, m : int
    target : str
        One of ``TARGETS`` (``teacher``, ``product``, ``max``, ``relu_shift``, ``linear``, ``radial``).
    steps, batch_size : int
        Cost about ``steps * batch_size * (2 m d + 6 m)`` FLOPs (d = 16, m = 4096: 6 s with
        one torch thread, 23 s with two, on a loaded 2-core machine; docs/benchmarks.md).
    seed : int
        W, b and the initial a are ``random_mlp(d, m, seed=seed, ...)``; the teacher and the input
        stream come from ``SeedSequence(seed)`` children 1 and 2.
    lr : float, optional
        Default ``1 / (2 lambda_max)``, lambda_max the top eigenvalue of the centred feature
        second-moment matrix on a pilot batch (the Hessian of the loss is ``2 E[h h^T]``).
    momentum : float
    bias_scale : float
        First-layer bias scale (as in :func:`random_mlp`).
    init_scale : float
        Initial ``a`` = init_scale * the random ``a ~ N(0, 1/m)`` (0 starts from zero).
    dtype : {"float32", "float64"}
        Training precision; the returned model is float64.
    num_threads : int, optional
        Run with ``torch.set_num_threads(num_threads)`` and restore the previous value after
        (process-wide while it runs).  On an oversubscribed machine 1 thread is often much
        faster than several (small matrix products, spinning OpenMP workers).
    return_info : bool
        Also return a dict: ``loss`` (per-step batch MSE), ``final_mse`` and ``target_var``
        (on 2^15 fresh float64 samples, evaluated with the returned model), ``lr``, ``steps``,
        ``batch_size``, ``momentum``, ``wall_time``.
    """
    import torch

    if num_threads is None:
        return _train(d, m, target, steps, seed, hidden, output, lr, batch_size, momentum, bias_scale, init_scale,
                      dtype, return_info)
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        return _train(d, m, target, steps, seed, hidden, output, lr, batch_size, momentum, bias_scale, init_scale,
                      dtype, return_info)
    finally:
        torch.set_num_threads(previous)


def _train(
    d: Any, m: Any, target: str, steps: Any, seed: Any, hidden: Any, output: Any, lr: Any, batch_size: Any,
    momentum: float, bias_scale: float, init_scale: float, dtype: str, return_info: bool,
) -> TwoLayerMLP | tuple[TwoLayerMLP, dict[str, Any]]:
    """The body of :func:`trained_mlp` (same arguments)."""
    import torch

    d, m = _check_dims(d, m)
    seed = _check_seed(seed)
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if lr is not None and not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    start = time.perf_counter()
    tdtype = getattr(torch, dtype)
    base = random_mlp(d, m, hidden=hidden, output=output, seed=seed, bias_scale=bias_scale)
    children = np.random.SeedSequence(seed).spawn(3)
    fn = _make_target(target, d, base.hidden, np.random.default_rng(children[1]))
    gen = torch.Generator().manual_seed(int(children[2].generate_state(1, np.uint64)[0]) & (2**63 - 1))

    r = np.linalg.norm(base.W, axis=1)
    mean_h = base.hidden.gaussian_derivative_means(0, r, base.b)[:, 0]
    mu = torch.from_numpy(mean_h).to(tdtype)
    first_layer = base.to_torch(dtype=tdtype)[:2]  # Linear, sigma (native torch module when one exists)
    first_layer.requires_grad_(False)

    a = torch.from_numpy(init_scale * np.array(base.a)).to(tdtype).requires_grad_(True)
    c = torch.zeros((), dtype=tdtype, requires_grad=True)
    if lr is None:
        with torch.no_grad():
            pilot = first_layer(torch.randn(max(batch_size, 2048), d, generator=gen, dtype=tdtype)) - mu
            lr = 1.0 / (2.0 * max(_top_eigenvalue(pilot), 1.0))
    opt = torch.optim.SGD([a, c], lr=lr, momentum=momentum)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1.0 + math.cos(math.pi * t / steps)))
    losses = np.empty(steps)
    for step in range(steps):
        x = torch.randn(batch_size, d, generator=gen, dtype=tdtype)
        with torch.no_grad():
            h, y = first_layer(x), fn(x)
        # f = c + sum_j a_j (h_j - mu_j), centred through the scalar a . mu (no (B, m) copy)
        loss = torch.mean((h @ a - mu @ a + c - y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses[step] = float(loss.detach())
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError(f"training diverged (lr = {lr:g}); pass a smaller lr")
    a_fit = a.detach().double().numpy()
    model = base.replace(a=a_fit, c=float(c.detach().double()) - float(a_fit @ mean_h))
    if not return_info:
        return model
    x = torch.randn(2**15, d, generator=gen, dtype=torch.float64)
    y = fn(x).numpy()
    info = {
        "loss": losses,
        "final_mse": float(np.mean((model.preactivation(x.numpy()) - y) ** 2)),
        "target_var": float(np.var(y)),
        "lr": float(lr),
        "steps": int(steps),
        "batch_size": int(batch_size),
        "momentum": float(momentum),
        "wall_time": time.perf_counter() - start,
    }
    return model, info


# ------------------------------------------------------------------------ registry
def example(seed: int = 0) -> TwoLayerMLP:
    """The README's example: d = 8, m = 4096, erf hidden units, relu output.

    ``random_mlp(8, 4096, hidden="erf", output="relu", seed=seed, bias_scale=0.5,
    weight_scale=0.5)``.  Wide (Monte Carlo pays 2 m d FLOPs per sample) with small weights
    through a smooth activation (shin norms decay fast): the regime where the mechanistic
    estimate should win.  Measured (docs/benchmarks.md): at N = 4, K = 4 its error is ~10x
    smaller than Monte Carlo's standard error at equal FLOPs.
    """
    return random_mlp(8, 4096, hidden="erf", output="relu", seed=seed, bias_scale=0.5, weight_scale=0.5)


def _trained_builder(target: str) -> Callable[..., Any]:
    def build(**kw: Any) -> Any:
        kw.setdefault("d", 16)
        kw.setdefault("m", 1024)
        return trained_mlp(target=target, **kw)

    return build


def _random_builder(**kw: Any) -> TwoLayerMLP:
    kw.setdefault("d", 16)
    kw.setdefault("m", 1024)
    return random_mlp(**kw)


def _builders() -> dict[str, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = {"example": example, "random": _random_builder}
    table.update({t: _trained_builder(t) for t in TARGETS})
    return table


def names() -> list[str]:
    """Names :func:`get` knows."""
    return sorted(_builders())


def get(name: str, **kw: Any) -> Any:
    """Build the zoo model ``name`` (``example``, ``random`` or a target of :func:`trained_mlp`).

    Keyword arguments go to the builder; ``random`` and the trained models default to
    ``d = 16, m = 1024``.
    """
    table = _builders()
    if name not in table:
        raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(sorted(table))}")
    return table[name](**kw)
