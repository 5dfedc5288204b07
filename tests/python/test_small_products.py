"""Mini-batches on layers a few dozen to a few hundred wide: the products of the forward and
backward pass (Z = b + H W, δ Wᵀ, Hᵀ δ), which the core runs on its own small-product kernels
where they beat Eigen's GEMM on the instruction set it was built for.

At these sizes, for float64 and float32: J, Z^[l], H^[l], δ^[l] and every gradient equal the NumPy
reference; the float64 gradient equals central differences of J; a prediction equals the forward
pass's Ŷ; and training gives the same bits for 1, 2 and 3 threads.
"""

from __future__ import annotations

import bpcore
import numpy as np
import pytest
from reference import ReferenceMLP

# (sizes, batch): both one row block (batch < 64) and several (the split backward)
CASES = [
    ([64, 64, 10], 32),
    ([32, 128, 10], 16),
    ([64, 64, 64, 10], 64),
    ([100, 256, 10], 32),
    ([20, 33, 17, 5], 13),
    ([48, 70, 10], 150),
]


def _case_id(case) -> str:
    sizes, batch = case
    return f"{'-'.join(map(str, sizes))}-batch{batch}"


def _problem(sizes, batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    net = bpcore.Network(sizes, "tanh", "softmax", "cross_entropy", dtype, seed=seed)
    net.parameters[...] = rng.normal(scale=0.3, size=net.n_params).astype(dtype)
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], size=batch)]
    return net, X, Y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_forward_and_backward_equal_the_reference(case, dtype):
    sizes, batch = case
    net, X, Y = _problem(sizes, batch, dtype)
    J, grads = net.backward(X, Y)
    ref = ReferenceMLP.from_network(net)
    J_ref, grads_ref, _, cache = ref.backward(X.astype(np.float64), Y.astype(np.float64))
    rtol = 1e-11 if dtype == "float64" else 2e-4
    assert J == pytest.approx(J_ref, rel=rtol)
    for l in range(1, len(sizes)):
        for got, want in (
            (net.Z[l], cache["Z"][l]),
            (net.H[l], cache["H"][l]),
            (net.delta[l], cache["delta"][l]),
            (grads[l - 1][0], grads_ref[l - 1][0]),
            (grads[l - 1][1], grads_ref[l - 1][1]),
        ):
            assert got.shape == want.shape
            # relative to the largest entry, or absolute below 1
            assert np.abs(got - want).max() <= rtol * max(1.0, float(np.abs(want).max())), l


@pytest.mark.parametrize("case", CASES[:4], ids=_case_id)
def test_float64_gradient_equals_central_differences(case):
    sizes, batch = case
    net, X, Y = _problem(sizes, batch, "float64", seed=1)
    _, grads = net.backward(X, Y)
    flat = np.concatenate([np.concatenate([gW.ravel(), gb]) for gW, gb in grads])
    theta = net.parameters
    rng = np.random.default_rng(2)
    h = 1e-5
    # a sample of parameters from every layer's W and b
    checked = 0
    pos = 0
    for l in range(1, len(sizes)):
        n_w = sizes[l - 1] * sizes[l]
        picks = list(rng.choice(n_w, size=6, replace=False)) + [n_w + int(rng.integers(sizes[l]))]
        for i in picks:
            i = pos + int(i)
            keep = theta[i]
            J = {}
            for k in (-2, -1, 1, 2):
                theta[i] = keep + k * h
                J[k] = net.loss(X, Y)
            theta[i] = keep
            fd = (J[-2] - 8 * J[-1] + 8 * J[1] - J[2]) / (12 * h)
            assert flat[i] == pytest.approx(fd, rel=1e-6, abs=1e-9), (l, i)
            checked += 1
        pos += n_w + sizes[l]
    assert checked == 7 * (len(sizes) - 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_predict_equals_the_forward_pass(case, dtype):
    sizes, batch = case
    net, X, _ = _problem(sizes, batch, dtype)
    out = net.forward(X)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(net.predict(X), out, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_gives_the_same_bits_for_any_thread_count(dtype):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 64)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, size=600)]
    results = []
    for threads in (1, 2, 3):
        for batch in (32, 200):
            net = bpcore.Network([64, 64, 10], "relu", "softmax", "cross_entropy", dtype, seed=4)
            net.fit(
                X, Y, epochs=2, batch_size=batch, lr=0.05, optimizer="momentum", n_threads=threads
            )
            results.append((batch, threads, net.parameters.copy()))
    for batch in (32, 200):
        runs = [p for b, _, p in results if b == batch]
        assert all(np.array_equal(runs[0], p) for p in runs[1:]), batch
