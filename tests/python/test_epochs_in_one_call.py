"""fit() with nothing to do between epochs runs them all in one core call (``train_epochs``).

It must be indistinguishable from the per-epoch loop, which a callback (even one that does
nothing) forces: the same weights, history, stop reasons, divergence report and Ctrl-C.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import bpcore
import numpy as np
import pytest


def _data(n=60, d=4, q=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.zeros((n, q))
    Y[np.arange(n), (X @ rng.normal(size=(d, q))).argmax(axis=1)] = 1.0
    return X, Y


def _pair(sizes, dtype, **kwargs):
    """The same fit twice: in one call, and through the loop (a callback that does nothing)."""
    X, Y = _data(d=sizes[0], q=sizes[-1])
    X, Y = X.astype(dtype), Y.astype(dtype)
    out = []
    for loop in (False, True):
        net = bpcore.Network(sizes, "sigmoid", "sigmoid", "mse", dtype, seed=3)
        extra = {"callbacks": [lambda net, epoch, logs: None]} if loop else {}
        hist = net.fit(X, Y, **kwargs, **extra)
        out.append((net, hist))
    return out, (X, Y)


def _same(a, b):
    (net_a, hist_a), (net_b, hist_b) = a, b
    np.testing.assert_array_equal(net_a.parameters, net_b.parameters)
    assert hist_a.loss == hist_b.loss
    assert hist_a.lr == hist_b.lr
    assert hist_a.stop_reason == hist_b.stop_reason
    assert hist_a.epochs == hist_b.epochs == len(hist_a.epoch_time)
    assert all(t >= 0 for t in hist_a.epoch_time)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 1, "lr": 0.5},
        {"batch_size": 1, "lr": 0.1, "optimizer": "adam"},
        {"batch_size": 8, "lr": 0.5, "optimizer": "momentum"},
        {"batch_size": 1, "lr": 0.5, "shuffle": False},
        {"batch_size": None, "lr": 0.5, "optimizer": "rprop"},
        {"batch_size": 1, "lr": 0.5, "lr_schedule": "step", "step_size": 3},
    ],
)
def test_one_call_equals_the_loop(dtype, options):
    (one, loop), (X, Y) = _pair([4, 5, 3], dtype, epochs=12, seed=5, **options)
    _same(one, loop)
    assert one[1].stop_reason == "max_epochs"
    # a warm start goes on from the same epoch (shuffle order, schedule) in both
    for net, _ in (one, loop):
        net.fit(X, Y, epochs=4, seed=5, warm_start=True, **options)
    np.testing.assert_array_equal(one[0].parameters, loop[0].parameters)


def test_one_call_with_sample_weights_equals_the_loop():
    X, Y = _data()
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    w[4] = 0.0
    nets = []
    for cb in ([], [lambda net, epoch, logs: None]):
        net = bpcore.Network([4, 5, 3], "sigmoid", "sigmoid", "mse", seed=3)
        hist = net.fit(X, Y, epochs=6, batch_size=1, lr=0.5, sample_weight=w, callbacks=cb)
        nets.append((net, hist))
    _same(*nets)


@pytest.mark.parametrize("which", [3, 7, 12])
def test_tol_stops_after_the_same_epoch(which):
    """tol met in the middle or exactly at the last epoch: stop reason "tol" in both."""
    (ref, _), _ = _pair([4, 5, 3], "float64", epochs=12, batch_size=1, lr=0.5, seed=2)
    tol = ref[1].loss[which - 1] * (1 + 1e-12)
    (one, loop), _ = _pair([4, 5, 3], "float64", epochs=12, batch_size=1, lr=0.5, seed=2, tol=tol)
    _same(one, loop)
    first = next(i for i, J in enumerate(ref[1].loss) if J < tol) + 1
    assert one[1].epochs == first
    assert one[1].stop_reason == "tol"


@pytest.mark.parametrize("optimizer", ["lbfgs", "lm"])
def test_a_full_batch_stop_in_one_call_equals_the_loop(optimizer):
    """lbfgs and lm end a fit by their own test: the core returns the last epoch's status, and
    the epoch that met it is recorded in both."""
    (one, loop), _ = _pair([4, 5, 3], "float64", epochs=5000, optimizer=optimizer)
    _same(one, loop)
    assert one[1].stop_reason == "converged"
    assert 1 < one[1].epochs < 5000


def test_divergence_is_reported_as_by_the_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 2))
    errors = []
    for cb in ([], [lambda net, epoch, logs: None]):
        net = bpcore.Network([3, 4, 2], activation="identity", output_activation="identity", seed=0)
        with pytest.raises(bpcore.TrainingDivergedError) as info:
            net.fit(X, Y, epochs=1000, batch_size=1, lr=0.3, seed=0, callbacks=cb)
        errors.append((info.value, net.parameters.copy()))
    (one, p_one), (loop, p_loop) = errors
    assert str(one) == str(loop)
    assert one.epoch == loop.epoch > 1
    assert one.history.loss == loop.history.loss
    np.testing.assert_array_equal(p_one, p_loop)


_CHILD = textwrap.dedent(
    """
    import json, time
    import numpy as np
    import bpcore

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    Y = np.tanh(X[:, :5] * X[:, 5:10])
    def network():
        return bpcore.Network([20, 24, 24, 5], activation="tanh", output_activation="identity",
                              seed=0)
    net = network()
    print("START", flush=True)
    hist = net.fit(X, Y, epochs=1000000, batch_size=1, lr=0.001, seed=0, n_threads=1)
    t_end = time.time()
    again = network()
    if hist.epochs:
        again.fit(X, Y, epochs=hist.epochs, batch_size=1, lr=0.001, seed=0, n_threads=1)
    print("DONE " + json.dumps({
        "t_end": t_end,
        "stop_reason": hist.stop_reason,
        "epochs": hist.epochs,
        "times": len(hist.epoch_time),
        "equal": bool(np.array_equal(net.parameters, again.parameters)),
    }), flush=True)
    """
)


def test_ctrl_c_in_one_call_keeps_the_finished_epochs(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(_CHILD)
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(bpcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("START"), proc.stderr.read()
        time.sleep(1.0)  # several epochs
        t_sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    done = [line for line in out.splitlines() if line.startswith("DONE ")]
    assert done, out + err
    result = json.loads(done[0][5:])
    assert result["stop_reason"] == "interrupted"
    assert result["t_end"] - t_sent < 1.0
    assert result["epochs"] >= 1
    assert result["times"] == result["epochs"]
    assert result["equal"]  # the weights of the last finished epoch
