"""The benchmark command: ``python benchmarks/run.py --quick`` runs every workload side by side with
the installed peers and prints a row and a ratio for each.

Timings are never asserted (the machines are shared and noisy); what the run computed is: bpcore and
PyTorch, started from the same parameters and fed the same order, must reach the same accuracy.
The native peers (the FANN shim, the fixed-size C++ loop) and the JAX whole-loop program are also
exercised on tiny sizes: each must compute the notes' algorithm as the code says it does. The FANN
tests need Debian's libfann-dev, the JAX tests the jax and jaxlib packages; without them those tests
are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
RUN = BENCH / "run.py"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from run import WORKLOADS  # noqa: E402  (the benchmark's own list of workload ids)


def _env(extra_path: Path | None = None) -> dict[str, str]:
    """The environment of this test run: the child imports the bpcore the tests import."""
    env = dict(os.environ)
    paths = []
    if extra_path is not None:
        paths.insert(0, str(extra_path))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(ROOT),
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = _run(["--quick", "--json", str(out)], _env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text(encoding="utf-8"))


def _result_rows(stdout: str) -> list[list[str]]:
    """The rows of the results table: from its header line to the blank line after it."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("id ") and "bpcore ×" in line)
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def test_quick_run_is_labelled_quick(quick):
    proc, data = quick
    assert "QUICK" in proc.stdout.splitlines()[0]
    assert data["quick"] is True


def test_quick_run_prints_a_row_with_a_ratio_for_every_workload(quick):
    proc, _ = quick
    rows = _result_rows(proc.stdout)
    for wid in WORKLOADS:
        mine = [r for r in rows if r[0] == wid]
        assert mine, f"no row for {wid}"
        for r in mine:  # the last cell is the ratio, or a dash when no peer is installed
            assert r[-1].endswith("×") or r[-1] == "—", r


def test_quick_run_records_every_workload_and_target(quick):
    _, data = quick
    assert set(data["workloads"]) == set(WORKLOADS)
    assert {t["id"] for t in data["targets"]} == set(WORKLOADS)
    assert all(t["status"] in ("PASS", "FAIL", "SKIP") for t in data["targets"])
    for wid in ("W1", "W2", "W3", "W4"):
        bp = data["workloads"][wid]["results"]["bpcore"]
        assert bp["seconds"] > 0 and bp["runs"] >= 1
    assert data["workloads"]["M1"]["results"]["bpcore"]["above_data"] >= 0
    assert data["workloads"]["M2"]["results"]["bpcore"]["rss_bytes"] > 0
    assert data["peak"]["peak_gflops"] > 0
    fma = data["peak"]["fma_gflops"]  # None only where fma_peak.c cannot be compiled (a note)
    if fma is None:
        assert any("multiply-add peak was not measured" in n for n in data["notes"])
    else:
        assert sorted(fma) == sorted(str(k) for k in data["peak"]["best_gflops"])
        assert all(v > 0 for v in fma.values())
    assert any(lib["user_api"] == "blas" for lib in data["blas"])


def test_quick_run_results_agree_with_the_peers(quick):
    """Same initial W, b and the same order: bpcore computes what PyTorch and the NumPy loop do."""
    proc, data = quick
    checks = {c["check"]: c for c in data["checks"]}
    assert checks, "no accuracy checks recorded"
    failed = [c for c in data["checks"] if c["status"] == "FAIL"]
    assert not failed, failed
    w1 = data["workloads"]["W1"]["results"]
    assert 0.9 <= w1["bpcore"]["info"]["accuracy"] <= 1.0  # Iris is learnt even in 10 epochs
    if "PyTorch" in w1:
        assert abs(w1["bpcore"]["info"]["accuracy"] - w1["PyTorch"]["info"]["accuracy"]) <= 0.01
    assert not any("loads" in c["shown"] for c in data["checks"] if c["id"] == "M2")


def test_a_missing_peer_is_skipped_with_a_note(tmp_path):
    # A stand-in "torch" that fails to import, as on a machine without PyTorch.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('no torch here')\n")
    out = tmp_path / "w1.json"
    proc = _run(["--quick", "--only", "W1", "--json", str(out)], _env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["workloads"]) == {"W1"}
    assert "PyTorch" not in data["workloads"]["W1"]["results"]
    assert any("PyTorch is not installed" in n for n in data["notes"])
    assert "PyTorch is not installed" in proc.stdout
    skipped = [t for t in data["targets"] if "PyTorch" in t["target"]]
    assert skipped and all(t["status"] == "SKIP" for t in skipped)


def test_only_rejects_an_unknown_workload():
    proc = _run(["--only", "W1,W9"], _env(), timeout=60)
    assert proc.returncode == 2
    assert "--only" in proc.stderr and "W9" in proc.stderr


# ------------------------------------------------------------------------------ the native peers
def _fann():
    import native
    from native import NativeUnavailable

    try:
        return native.Fann()
    except NativeUnavailable as exc:
        if "not installed" in str(exc):
            pytest.skip(f"FANN's double build is not installed ({native.FANN_INSTALL}): {exc}")
        raise


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _online_bp(X, Y, params, orders, alpha, fann_clip=False):
    """The notes' online BP for sigmoid layers and J = ½Σe², optionally with FANN's clip of the
    unit's value to [0.01, 0.99] (float32 bounds, as FANN's 0.01f) before f′ = v (1 − v)."""
    params = [(W.copy(), b.copy()) for W, b in params]
    lo, hi = float(np.float32(0.01)), float(np.float32(0.99))

    def fprime(v):
        v = np.clip(v, lo, hi) if fann_clip else v
        return v * (1.0 - v)

    for order in orders:
        for i in order:
            H = [X[i]]
            for W, b in params:
                H.append(_sigmoid(H[-1] @ W + b))
            delta = (Y[i] - H[-1]) * fprime(H[-1])
            for l in range(len(params) - 1, -1, -1):
                W, b = params[l]
                prev = (W @ delta) * fprime(H[l]) if l > 0 else None
                W += alpha * np.outer(H[l], delta)
                b += alpha * delta
                delta = prev
    return params


def _max_diff(a, b):
    return max(
        float(np.abs(p - q).max())
        for (Wa, ba), (Wb, bb) in zip(a, b)
        for p, q in ((Wa, Wb), (ba, bb))
    )


def test_fann_shim_trains_a_2_2_1_network_and_its_weights_move():
    fann = _fann()
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    init = [
        (np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([0.05, -0.05])),
        (np.array([[0.2], [-0.3]]), np.array([0.1])),
    ]
    seconds, params, outputs = fann.train([2, 2, 1], X, Y, 0.7, 2, init=init, seed=3)
    assert seconds > 0
    assert [W.shape for W, _ in params] == [(2, 2), (2, 1)]
    assert _max_diff(params, init) > 1e-4  # training moved every layer's parameters …
    assert all(np.abs(W - W0).max() > 0 for (W, _), (W0, _) in zip(params, init))
    H1 = _sigmoid(X @ params[0][0] + params[0][1])  # … and FANN's outputs are the logistic net's
    np.testing.assert_allclose(outputs, _sigmoid(H1 @ params[1][0] + params[1][1]), atol=1e-12)
    # FANN's own ±0.1 start, seeded: the same seed gives the same network.
    _, a, _ = fann.train([2, 2, 1], X, Y, 0.7, 2, seed=5)
    _, b, _ = fann.train([2, 2, 1], X, Y, 0.7, 2, seed=5)
    assert _max_diff(a, b) == 0.0


def test_fann_shim_is_the_notes_online_bp_with_fanns_clip_of_f_prime():
    """From given W, b in a given order, FANN reaches what the notes' online BP reaches when f′ is
    taken at the unit's value clipped to [0.01, 0.99], as FANN does: the shim's weight layout, the
    logistic at steepness 0.5, the linear error and FANN's learning rate are as documented."""
    fann = _fann()
    rng = np.random.default_rng(7)
    sizes = [3, 4, 4, 2]
    X = rng.standard_normal((20, 3)) * 2
    Y = (rng.random((20, 2)) > 0.5).astype(float)
    init = [
        (rng.standard_normal((a, b)), rng.standard_normal(b)) for a, b in zip(sizes[:-1], sizes[1:])
    ]
    orders = [rng.permutation(20) for _ in range(5)]
    _, params, _ = fann.train(sizes, X, Y, 0.5, 5, init=init, orders=orders)
    assert _max_diff(params, _online_bp(X, Y, init, orders, 0.5, fann_clip=True)) < 1e-12
    assert _max_diff(params, _online_bp(X, Y, init, orders, 0.5)) > 1e-6  # the clip matters here


def test_fann_missing_is_skipped_with_the_apt_line(tmp_path):
    # A stand-in C compiler that fails as cc does without libfann-dev, and an empty build cache.
    cc = tmp_path / "cc"
    cc.write_text(
        "#!/bin/sh\necho 'fann_shim.c:1:10: fatal error: doublefann.h: No such file or "
        "directory' >&2\nexit 1\n"
    )
    cc.chmod(0o755)
    env = _env()
    env.update(CC=str(cc), BPCORE_BENCH_CACHE=str(tmp_path / "cache"))
    out = tmp_path / "w1.json"
    proc = _run(["--quick", "--only", "W1,SN", "--peers", "fann", "--json", str(out)], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "FANN" not in data["workloads"]["W1"]["results"]
    note = [n for n in data["notes"] if n.startswith("W1: FANN")]
    assert note and "apt-get install libfann-dev" in note[0], data["notes"]
    fann_targets = [t for t in data["targets"] if "FANN" in t["target"]]
    assert fann_targets and all(t["status"] == "SKIP" for t in fann_targets)


def test_fixed_loop_compiles_runs_and_is_the_notes_online_bp(iris):
    import shutil

    if shutil.which("c++") is None:
        pytest.skip("no C++ compiler (c++) to build benchmarks/fixed_loop.cpp")
    import native

    loop = native.FixedLoop()
    rng = np.random.default_rng(1)
    init = [
        (rng.uniform(-0.5, 0.5, (4, 5)), rng.uniform(-0.5, 0.5, 5)),
        (rng.uniform(-0.5, 0.5, (5, 3)), rng.uniform(-0.5, 0.5, 3)),
    ]
    orders = [rng.permutation(150) for _ in range(3)]
    seconds, params = loop.train(iris.X, iris.Y, init, orders, 0.5)
    assert seconds > 0
    assert _max_diff(params, _online_bp(iris.X, iris.Y, init, orders, 0.5)) < 1e-12
    with pytest.raises(ValueError, match="4-5-3"):
        loop.train(iris.X[:, :3], iris.Y, init, orders, 0.5)


# -------------------------------------------------------------------------------- the JAX peer
def _jax_worker():
    import importlib.util

    if importlib.util.find_spec("jax") is None or importlib.util.find_spec("jaxlib") is None:
        pytest.skip("jax and jaxlib are not installed (pip install jax jaxlib)")
    from jax_peer import Worker

    return Worker(1)


def test_jax_whole_loop_equals_the_numpy_loop_on_tiny_data(iris):
    """W1's program on 12 rows: from the given W, b in the given order it reaches the NumPy loop's
    parameters (float64); its own in-jit shuffle trains too, and times itself."""
    X, Y, y = iris.X[::12].copy(), iris.Y[::12].copy(), iris.y[::12].copy()
    rng = np.random.default_rng(2)
    init = [
        (rng.uniform(-0.5, 0.5, (4, 5)), rng.uniform(-0.5, 0.5, 5)),
        (rng.uniform(-0.5, 0.5, (5, 3)), rng.uniform(-0.5, 0.5, 3)),
    ]
    orders = [rng.permutation(X.shape[0]) for _ in range(3)]
    with _jax_worker() as w:
        reply = w.call(
            "prepare",
            workload="W1",
            X=X,
            Y=Y,
            y=y,
            init=init,
            epochs=3,
            unrolls=[1, 2],
            orders=orders,
        )
        assert set(reply["compile_seconds"]) == {1, 2} and reply["cpus"] == 1
        same = w.call("check")
        run = w.call("run", unroll=2)
    assert _max_diff(same["params"], _online_bp(X, Y, init, orders, 0.5)) < 1e-12
    assert run["seconds"] > 0 and run["info"]["unroll"] == 2
    assert 0.0 <= run["info"]["accuracy"] <= 1.0


def test_jax_minibatch_momentum_program_equals_bpcore_on_tiny_data():
    """W2's program (relu, softmax + cross-entropy, batches of 32 with a partial last one, momentum
    0.9, lr 0.05) on 37 rows × 2 epochs reaches bpcore's parameters from bpcore's start and order."""
    import bpcore
    from workloads import epoch_orders, parameters_of

    rng = np.random.default_rng(4)
    X = rng.random((37, 6), dtype=np.float32)
    y = rng.integers(0, 3, 37)
    Y = np.eye(3, dtype=np.float32)[y]
    net = bpcore.Network([6, 5, 3], "relu", "softmax", "cross_entropy", "float32", seed=0)
    init = parameters_of(net)
    net.fit(X, Y, epochs=2, batch_size=32, lr=0.05, optimizer="momentum", momentum=0.9)
    with _jax_worker() as w:
        w.call(
            "prepare",
            workload="W2",
            X=X,
            Y=Y,
            y=y,
            init=init,
            epochs=2,
            unrolls=[1],
            orders=epoch_orders(37, 2),
        )
        same = w.call("check")
    assert _max_diff(same["params"], parameters_of(net)) < 1e-5
    assert _max_diff(init, parameters_of(net)) > 1e-3  # and training did move them


def test_a_peers_subset_runs_the_new_peers_and_the_limits(tmp_path):
    """--peers limits the run to FANN, JAX and the fixed loop: their W1 rows, the SN rows, the
    same-order checks and the machine's limits are printed; the other peers do not run."""
    import peers

    out = tmp_path / "new.json"
    proc = _run(
        ["--quick", "--only", "W1,SN", "--peers", "fann,jax,fixed", "--json", str(out)], _env()
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    w1 = data["workloads"]["W1"]["results"]
    assert not {peers.NUMPY, peers.SKLEARN, peers.TORCH} & set(w1)
    present = [p for p in (peers.FANN, peers.JAX, peers.FIXED) if peers.available(p)]
    if not present:
        pytest.skip("none of FANN (libfann-dev), JAX (jax, jaxlib) or a C++ compiler is here")
    assert set(present) <= set(w1)
    rows = _result_rows(proc.stdout)
    w1_lines = [" ".join(r) for r in rows if r[0] == "W1"]
    for p in present:
        assert any(f" {p} " in line and line.endswith("×") for line in w1_lines), (p, w1_lines)
    assert "W1 ns per update: bpcore" in proc.stdout
    failed = [c for c in data["checks"] if c["status"] == "FAIL"]
    assert not failed, failed
    if peers.JAX in present:
        assert data["jax_compile"]["W1"]["1"]["unroll"]
        assert "JAX compile times" in proc.stdout
    if peers.FANN in present:
        sn = data["workloads"]["SN"]["networks"]
        assert sn and all(peers.FANN in s["results"] for s in sn)
        assert sum(1 for r in rows if r[0] == "SN") == len(sn)
    if peers.FIXED in present:
        assert any(
            "fixed-size C++ loop" in c["check"] and c["status"] == "PASS" for c in data["checks"]
        )


def test_peers_rejects_an_unknown_peer():
    proc = _run(["--peers", "fann,tensorflow"], _env(), timeout=60)
    assert proc.returncode == 2
    assert "--peers" in proc.stderr and "tensorflow" in proc.stderr


# ------------------------------------------------------------------------- T: time to a target
def test_quick_time_to_target_reaches_the_target_of_scikit_learns_lbfgs(quick):
    """T in the quick run: J* is scikit-learn's lbfgs at convergence (its own loss_, converted,
    is bpcore's J of its weights); bpcore's lbfgs reaches it and every timed run ends at J ≤ J*;
    lm runs on the regression only; bpcore's rprop needs within 1.2x the iterations of PyTorch's."""
    proc, data = quick
    t = data["workloads"]["T"]
    assert [s["set"] for s in t["sets"]] == ["iris", "sine"]
    for s in t["sets"]:
        r, J_star = s["results"], s["J_star"]
        assert s["sklearn"]["converged"]
        assert abs(s["sklearn"]["sklearn_loss_as_J"] - J_star) <= 1e-8 * J_star
        lbfgs = r["bpcore lbfgs"]
        assert lbfgs["reached"] and 0 < lbfgs["iterations"] and lbfgs["seconds"] > 0
        for name, x in r.items():
            if x["reached"] and x["framework"] == "bpcore":  # deterministic: every run reaches
                assert x["final_J"] <= J_star * (1 + 1e-9), name
            elif not x["reached"]:
                assert x["best_J"] > J_star, name
        assert ("bpcore lm" in r) == (s["set"] == "sine")
        if "PyTorch Rprop" in r and r["PyTorch Rprop"]["reached"]:
            # the same rule, so close counts; not always equal, since a step goes by sign(g)
            # and a component of g next to 0 (a subnormal the core flushes, a rounding) moves
            # one way in bpcore and the other way, or not at all, in PyTorch
            ours, theirs = r["bpcore rprop"]["iterations"], r["PyTorch Rprop"]["iterations"]
            assert theirs / 1.2 <= ours <= 1.2 * theirs, (ours, theirs)
    assert "Time to target (T)" in proc.stdout
    t_targets = [x for x in data["targets"] if x["id"] == "T"]
    assert any("5× scikit-learn lbfgs" in x["target"] for x in t_targets)
    assert not [c for c in data["checks"] if c["id"] == "T" and c["status"] == "FAIL"]


def test_time_to_target_peers_start_from_bpcores_parameters_and_compute_its_J():
    """The same start and the same J everywhere: scikit-learn's warm-started MLP and PyTorch's
    network of each kind of set (multiclass, binary, regression) predict what bpcore's initial
    network predicts, and PyTorch's loss is bpcore's J."""
    pytest.importorskip("sklearn")
    torch = pytest.importorskip("torch")
    import time_to_target as ttt

    for name in ("iris", "breast_cancer", "sine"):
        p = ttt.load_problem(name)
        net = p.network()
        model = ttt._sklearn_model(p, "lbfgs")
        for (W, b), (Ws, bs) in zip(p.layers(), ttt._sklearn_params(model)):
            np.testing.assert_array_equal(W, Ws)
            np.testing.assert_array_equal(b, bs)
        out = model.predict(p.X) if p.kind == "regression" else model.predict_proba(p.X)
        ours = net.predict(p.X)
        if p.kind == "binary":  # scikit-learn's binary classifier: one logistic output
            ours = np.hstack([1 - ours, ours])
        np.testing.assert_allclose(out.reshape(ours.shape), ours, rtol=1e-12, atol=1e-14)
        tmodel, X, J = ttt._torch_setup(p)
        with torch.no_grad():
            assert abs(float(J(tmodel(X))) - net.loss(p.X, p.Y)) <= 1e-12 * net.loss(p.X, p.Y)
