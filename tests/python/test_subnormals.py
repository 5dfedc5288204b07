"""The core flushes subnormal numbers to zero inside its calls, and only there.

A saturated softmax gives outputs below the smallest normal number; computing with them costs a
microcode assist per operation on x86-64, so the core flushes them (FTZ/DAZ on the calling thread
and its OpenMP threads, for the duration of a call). The caller's own mode must come back.
"""

from __future__ import annotations

import bpcore
import numpy as np
import pytest


def _numpy_makes_subnormals(dtype: type) -> bool:
    tiny = np.finfo(dtype).tiny  # the smallest normal number
    return bool(np.divide(np.asarray(tiny, dtype=dtype), dtype(4)) != 0)


def _saturated(dtype: str, rows: int) -> tuple[bpcore.Network, np.ndarray, np.ndarray]:
    """A 2-2 softmax network whose two logits differ by 720 (float64) or 96 (float32), so that
    the smaller output, e^-720 or e^-96, is subnormal in that type."""
    gap = 360.0 if dtype == "float64" else 48.0
    net = bpcore.Network([2, 2], "identity", "softmax", "cross_entropy", dtype, seed=0)
    net.weights[0][...] = [[gap, -gap], [0.0, 0.0]]
    net.biases[0][...] = 0.0
    sign = np.where(np.arange(rows) % 2 == 0, -1.0, 1.0)
    X = np.stack([sign, np.zeros(rows)], axis=1).astype(dtype)
    Y = np.zeros((rows, 2), dtype=dtype)
    Y[np.arange(rows), (sign < 0).astype(int)] = 1.0
    return net, X, Y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [4, 40000])
def test_a_saturated_softmax_gives_exact_zeros(dtype: str, rows: int) -> None:
    net, X, Y = _saturated(dtype, rows)
    Z = X @ net.weights[0] + net.biases[0]
    # NumPy, in the process's mode, does produce the subnormal
    e = np.exp((Z - Z.max(axis=1, keepdims=True)).astype(dtype))
    assert np.any((e != 0) & (np.abs(e) < np.finfo(dtype).tiny))
    for threads in (1, 2):
        H = net.forward(X, n_threads=threads)
        assert np.count_nonzero((H != 0) & (np.abs(H) < np.finfo(dtype).tiny)) == 0
        assert H[0, 0] == 0.0 and H[0, 1] == 1.0
        J, grads = net.backward(X, Y, n_threads=threads)
        assert J == pytest.approx(0.0, abs=1e-6)
        for gW, gb in grads:
            assert np.all((gW == 0) | (np.abs(gW) >= np.finfo(dtype).tiny))
            assert np.all((gb == 0) | (np.abs(gb) >= np.finfo(dtype).tiny))
        # the caller's mode is back after every call
        assert _numpy_makes_subnormals(np.float64)
        assert _numpy_makes_subnormals(np.float32)


def test_training_leaves_the_callers_mode_alone() -> None:
    net, X, Y = _saturated("float64", 512)
    assert _numpy_makes_subnormals(np.float64)
    net.fit(X, Y, epochs=3, batch_size=1, lr=0.1)
    net.fit(X, Y, epochs=3, batch_size=64, lr=0.1, n_threads=2)
    net.fit(X, Y, epochs=3, optimizer="rprop")
    net.fit(X, Y, epochs=3, optimizer="lbfgs")
    net.predict(X)
    net.loss(X, Y)
    assert _numpy_makes_subnormals(np.float64)
    assert _numpy_makes_subnormals(np.float32)


def test_python_called_from_inside_a_core_call_runs_in_the_callers_mode() -> None:
    """The gradient reducer of data-parallel training is Python that runs inside a core call; it
    must compute as it would anywhere (and the core flush again after it)."""
    from bpcore import _core as core

    seen: list[bool] = []

    def reduce(gradient: np.ndarray, sums: np.ndarray) -> None:
        seen.append(_numpy_makes_subnormals(np.float64))

    net, X, Y = _saturated("float64", 64)
    opt = core.Optimizer64(core.OptimizerConfig(kind="sgd", lr=0.1), net.n_params)
    eopts = core.EpochOptions(batch_size=16, seed=0, n_threads=1, global_rows=64)
    result = core.train_epoch64(net._net, opt, X, Y, None, eopts, reduce)  # noqa: SLF001
    assert result.batches == 4
    assert seen == [True] * 4
    H = net.forward(X)
    assert np.count_nonzero((H != 0) & (np.abs(H) < np.finfo(np.float64).tiny)) == 0
