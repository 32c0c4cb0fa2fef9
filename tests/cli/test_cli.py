"""The ``shinnet`` command: one-line errors with exit codes, checks before any work, SIGINT, help,
version, the estimate next to its sampling peers, and the ``paths`` report and drawings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import shinnet
from shinnet import zoo
from shinnet.cli import main


def _run(capsys, argv):
    """main(argv) in-process -> (exit code, stdout, stderr)."""
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _python(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "shinnet", *args], capture_output=True, text=True, timeout=timeout)


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the estimate or the sampler is ever reached."""

    def boom(*args, **kwargs):
        raise AssertionError("the command started work before checking its arguments")

    monkeypatch.setattr(shinnet, "estimate", boom)
    monkeypatch.setattr(shinnet.sampling, "monte_carlo", boom)


# ---------------------------------------------------------------- model files
def test_corrupt_model_file_is_one_line_exit_2(tmp_path, capsys, no_work):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    code, _, err = _run(capsys, ["estimate", str(path)])
    assert code == 2
    assert "is not a valid shinnet model file" in _one_error_line(err)


def test_text_file_named_npz_says_not_a_model_file_not_pickle(tmp_path, capsys, no_work):
    path = tmp_path / "notes.npz"
    path.write_text("these are my notes, not a model\n")
    code, _, err = _run(capsys, ["estimate", str(path)])
    line = _one_error_line(err)
    assert code == 2 and "is not a valid shinnet model file" in line and "pickle" not in line


def test_truncated_and_foreign_npz_files_are_refused(tmp_path, capsys, no_work):
    good = tmp_path / "good.npz"
    zoo.random_mlp(3, 4, seed=0).save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    for path in (truncated, foreign):
        code, _, err = _run(capsys, ["estimate", str(path)])
        assert code == 2 and "not a valid shinnet model file" in _one_error_line(err)
    code, _, err = _run(capsys, ["estimate", str(tmp_path / "missing.npz")])
    assert code == 2 and "no model file" in _one_error_line(err)


def test_corrupt_model_file_in_a_subprocess_exits_2_without_traceback(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(1000))  # zip magic, garbage after
    res = _python("estimate", str(path))
    assert res.returncode == 2
    assert "not a valid shinnet model file" in _one_error_line(res.stderr)


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_text("text")
    with pytest.raises(ValueError, match="not a valid shinnet model file"):
        main(["estimate", str(path), "--debug"])
    res = _python("--debug", "estimate", str(path))
    assert res.returncode == 1 and "Traceback" in res.stderr


# ---------------------------------------------------------------- arguments checked before any work
@pytest.mark.parametrize("argv, says", [
    (["estimate", "example", "--order", "-1"], "--order: must be an integer >= 2"),
    (["estimate", "example", "--order", "four"], "--order: must be an integer"),
    (["estimate", "example", "--max-degree", "0"], "--max-degree: must be an integer >= 1"),
    (["estimate", "example", "--psi", "nosuch"], "unknown activation 'nosuch'"),
    (["estimate", "no_such_model"], "unknown model 'no_such_model'"),
    (["estimate", "example", "--expansion", "degree", "--max-edges", "3"], "--max-edges applies to --expansion"),
    (["estimate", "example", "--max-edges", "2.5", "--expansion", "resummed"], "--max-edges: must be an integer"),
    (["estimate", "example", "--expansion", "resummed", "--max-degree", "3"], "--max-degree applies to"),
    (["estimate", "example", "--series-order", "3"], "--series-order must be in [0, order - 2]"),
    (["estimate", "example", "--tol", "-1"], "--tol: must be a finite number >= 0"),
    (["estimate", "example", "--tol", "inf"], "--tol: must be a finite number"),
    (["estimate", "example", "--reference-samples", "1"], "--reference-samples must be 0 (skip) or >= 2"),
    (["estimate", "example", "--device", "cuda"], "--device cuda needs --backend torch"),
    (["estimate", "example", "--json", "/no/such/folder/out.json"], "does not exist"),
    (["paths", "--m", "0"], "--m: must be an integer >= 1"),
    (["paths", "--edges", "0-1x,1-2"], "is not an edge list"),
    (["diagrams", "--order", "3", "--degrees", "3,x"], "--degrees must be comma-separated integers"),
    (["diagrams", "--order", "3", "--max-degree", "2", "--min-degree", "3"], "--min-degree 3 exceeds"),
    (["study", "race", "--preset", "small", "--d", "x"], "invalid"),
    (["nosuchcommand"], "invalid choice"),
])
def test_bad_arguments_are_one_line_exit_2_before_any_work(capsys, no_work, argv, says):
    code, out, err = _run(capsys, argv)
    assert code == 2
    assert says in _one_error_line(err)
    assert out == ""


def test_cuda_device_without_cuda_is_a_clear_line(capsys, no_work):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = _run(capsys, ["estimate", "example", "--backend", "torch", "--device", "cuda"])
    assert code == 2 and "CUDA is not available" in _one_error_line(err)


def test_requests_that_cannot_finish_are_refused_at_once(capsys):
    t0 = time.perf_counter()
    code, _, err = _run(capsys, ["paths", "--order", "100"])
    assert code == 2 and "cannot finish" in _one_error_line(err)
    code, _, err = _run(capsys, ["diagrams", "--max-order", "60", "--max-degree", "3"])
    assert code == 2 and "cannot finish" in _one_error_line(err)
    assert time.perf_counter() - t0 < 10  # refused, not enumerated (which would take hours)


# ---------------------------------------------------------------- the wrapper
def test_bare_command_prints_help_and_exits_0(capsys):
    code, out, err = _run(capsys, [])
    assert code == 0 and out.startswith("usage: shinnet") and "estimate" in out and err == ""
    res = _python()
    assert res.returncode == 0 and res.stdout.startswith("usage: shinnet") and res.stderr == ""


def test_version_prints_the_package_version(capsys):
    code, out, _ = _run(capsys, ["--version"])
    assert code == 0 and out.strip() == f"shinnet {shinnet.__version__}"


def test_unexpected_errors_interrupts_and_warnings_are_one_line_each(monkeypatch, capsys):
    import shinnet.cli.paths as paths_cli

    def fails(args):
        raise RuntimeError("something broke\ninside")

    def interrupted(args):
        raise KeyboardInterrupt

    def warns(args):
        warnings.warn("first line\nsecond line", UserWarning)
        return 0

    monkeypatch.setattr(paths_cli, "run", fails)
    code, _, err = _run(capsys, ["paths"])
    assert code == 1 and "internal error: RuntimeError: something broke inside" in _one_error_line(err)
    monkeypatch.setattr(paths_cli, "run", interrupted)
    code, _, err = _run(capsys, ["paths"])
    assert code == 130 and _one_error_line(err) == "shinnet paths: interrupted"
    monkeypatch.setattr(paths_cli, "run", warns)
    code, _, err = _run(capsys, ["paths"])
    assert code == 0 and _one_error_line(err) == "shinnet: warning: UserWarning: first line second line"


def test_sigint_exits_130_with_one_line_and_no_traceback(tmp_path):
    """A slow request (5e7 reference samples: an hour or more) interrupted once the work has started."""
    proc = subprocess.Popen([sys.executable, "-m", "shinnet", "estimate", "example", "--no-progress",
                             "--reference-method", "plain", "--reference-samples", "5e7"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout.readline().startswith("model: ")  # the model is loaded: work has begun
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "shinnet estimate: interrupted" in err.splitlines()


# ---------------------------------------------------------------- estimate and its peers
@pytest.mark.parametrize("expansion", ["degree", "resummed"])
def test_cli_estimate_runs_the_chosen_expansion_and_writes_its_cumulants(tmp_path, capsys, expansion):
    mlp = zoo.random_mlp(3, 6, hidden="relu", output="relu", seed=2, bias_scale=0.3)
    path = tmp_path / "model.npz"
    mlp.save(path)
    out = tmp_path / "est.json"
    trunc = ["--max-degree", "3"] if expansion == "degree" else ["--max-edges", "3"]
    args = ["estimate", str(path), "--order", "3", *trunc, "--expansion", expansion,
            "--reference-samples", "0", "--no-progress", "--json", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
        direct = shinnet.estimate(mlp, order=3, max_degree=3, expansion=expansion,
                                  max_edges=3 if expansion == "resummed" else None, warn=False)
    payload = json.loads(out.read_text())
    assert payload["estimate"]["expansion"] == expansion
    assert payload["estimate"]["value"] == pytest.approx(direct.value, rel=1e-12)
    for n, v in direct.kappa.items():
        assert payload["estimate"]["kappa"][str(n)] == pytest.approx(v, rel=1e-12, abs=1e-15)
    assert f"shinnet ({expansion}, N=3, " in capsys.readouterr().out


def test_estimate_races_every_available_peer_at_the_estimates_flops(tmp_path, capsys):
    """Plain Monte Carlo gets exactly floor(FLOPs with advice / FLOPs per sample) samples, so its
    value equals a direct call with that count and seed; RQMC (when available) stays within the
    FLOPs; a peer with a larger fixed cost (control variates' exact kappa_2) is marked as over; the
    reference agrees with the estimate within its error budget plus 4 s.e."""
    from shinnet.cli.peers import available_methods

    mlp = zoo.random_mlp(4, 256, hidden="erf", output="tanh", seed=3, weight_scale=0.5, bias_scale=0.5)
    path = tmp_path / "model.npz"
    mlp.save(path)
    out = tmp_path / "est.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["estimate", str(path), "--order", "4", "--max-degree", "4", "--seed", "5", "--no-progress",
                     "--reference-samples", "4096", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    payload = json.loads(out.read_text())
    budget = payload["estimate"]["flops_with_advice"]
    labels = list(available_methods())
    assert list(payload["peers_equal_flops"]) == labels
    for label in labels:
        assert label in text
    n = int(budget // mlp.flops_per_sample())
    plain = payload["peers_equal_flops"]["Monte Carlo"]
    assert plain["n_samples"] == n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert plain["value"] == shinnet.monte_carlo(mlp, n, seed=6).value
    for label, peer in payload["peers_equal_flops"].items():  # within the FLOPs, or the row says by how much not
        row = next(line for line in text.splitlines() if line.strip().startswith(label))
        assert "refused" in peer or peer["flops_with_advice"] <= 1.05 * budget or "x over the FLOPs" in row
    if "RQMC (scrambled Sobol)" in labels:  # its fixed cost (scrambling) fits this budget
        assert payload["peers_equal_flops"]["RQMC (scrambled Sobol)"]["flops_with_advice"] <= budget
    assert "best sampling peer within the same FLOPs: " in text
    ref = payload["reference"]
    err = sum(payload["estimate"]["error_budget"].values())
    assert abs(payload["estimate"]["value"] - ref["value"]) <= err + 4 * ref["stderr"]


# ---------------------------------------------------------------- paths
def test_paths_explains_its_columns_and_totals_include_the_gram_build(capsys):
    code, out, _ = _run(capsys, ["paths", "--order", "3", "--max-degree", "3", "--d", "3", "--m", "5",
                                 "--representation", "gram", "--no-time", "--inputs"])
    assert code == 0
    assert "path       cotengra's contraction order" in out and "(i,j) contracts the i-th and" in out
    assert "3:0-1x1,0-2x1,1-2x1" in out and "inputs: 0=weights" in out
    # Gram build at m = 5, d = 3: U U^T (2 m^2 d = 150) once, plus m^2 (p - 1) per power p = 2, 3 used
    # by the degree-<= 3 diagrams (multiplicities 1, 2, 3): 150 + 25 + 50 = 225
    assert "Gram build (U U^T, powers)   225 FLOPs" in out
    from shinnet.contract.report import paths_report

    rep = paths_report(3, 3, 3, 5, representation="gram", time_contraction=False)
    assert rep.gram_flops == 225.0 and rep.dense_build_flops == 0.0
    assert rep.total_flops == pytest.approx(sum(r.flops for r in rep.records) + 225.0)
    assert f"total                        {rep.total_flops:.3g} FLOPs" in out


def test_paths_dense_totals_charge_materialising_the_shin_tensors(capsys):
    from shinnet.contract.report import paths_report

    rep = paths_report(2, 2, 3, 5, representation="dense", time_contraction=False)
    # dense shin_1 and shin_2 from the factored weights: 2 m d^k each = 2*5*3 + 2*5*9 = 120
    assert rep.dense_build_flops == 120.0 and rep.gram_flops == 0.0


def test_paths_pngs_are_labelled_and_readable(tmp_path, capsys):
    from PIL import Image

    code, out, _ = _run(capsys, ["paths", "--edges", "0-1x2,1-2,0-2", "--d", "3", "--m", "4", "--no-time",
                                 "--representation", "factored", "--plot", str(tmp_path)])
    assert code == 0
    for name in ("0000_tree.png", "0000_network.png"):
        width, height = Image.open(tmp_path / name).size
        assert width >= 800 and height >= 400, (name, width, height)
