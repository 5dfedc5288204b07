"""bpcore.activate and bpcore.derivative: the core's f and f′ on any real array, checked against
NumPy formulas (an oracle independent of the core) and against central differences, for every
activation of the core's table."""

from __future__ import annotations

import math

import bpcore
import numpy as np
import pytest
from bpcore import _names

HIDDEN = _names.HIDDEN_ACTIVATIONS
ALPHA = 0.3


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _phi(z):
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-z / math.sqrt(2.0))


# f and f′ from their formulas, in float64 (the oracle)
ORACLE = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "prelu": (lambda z: np.where(z > 0, z, ALPHA * z), lambda z: np.where(z > 0, 1.0, ALPHA)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))),
    ),
    "softplus": (lambda z: np.logaddexp(0, z), _sigmoid),
    "gelu": (
        lambda z: z * _phi(z),
        lambda z: _phi(z) + z * np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi),
    ),
    "silu": (lambda z: z * _sigmoid(z), lambda z: _sigmoid(z) * (1 + z * (1 - _sigmoid(z)))),
}


def test_the_oracle_covers_the_table():
    assert set(ORACLE) == set(HIDDEN)


@pytest.mark.parametrize("name", HIDDEN)
def test_activate_and_derivative_match_the_formulas(name):
    z = np.linspace(-9, 9, 361) + 0.0125  # never exactly 0
    f, fprime = ORACLE[name]
    np.testing.assert_allclose(bpcore.activate(name, z, ALPHA), f(z), rtol=1e-13, atol=1e-300)
    # f′ from H, as 1 − h², cancels where h ≈ ±1: one ulp of h is 2e-16 of f′
    np.testing.assert_allclose(bpcore.derivative(name, z, ALPHA), fprime(z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", HIDDEN)
def test_derivative_matches_central_differences(name):
    z = np.linspace(-5, 5, 101) + 0.0125
    h = 1e-6
    fd = (bpcore.activate(name, z + h, ALPHA) - bpcore.activate(name, z - h, ALPHA)) / (2 * h)
    np.testing.assert_allclose(bpcore.derivative(name, z, ALPHA), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", HIDDEN)
def test_float32_stays_float32_and_agrees(name):
    z = np.linspace(-6, 6, 97).astype(np.float32)
    h32, d32 = bpcore.activate(name, z), bpcore.derivative(name, z)
    assert h32.dtype == np.float32 and d32.dtype == np.float32
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(h32, bpcore.activate(name, z64), rtol=2e-6, atol=2e-7)
    np.testing.assert_allclose(d32, bpcore.derivative(name, z64), rtol=2e-5, atol=2e-6)


def test_any_shape_and_real_input():
    z = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 5 - 2
    for name in HIDDEN:
        assert bpcore.activate(name, z).shape == (2, 3, 4)
        assert bpcore.derivative(name, z).shape == (2, 3, 4)
    # 0-d, lists, integers and non-contiguous arrays become float64
    assert bpcore.activate("relu", -2.0).shape == ()
    assert bpcore.activate("relu", 3).dtype == np.float64
    assert bpcore.activate("relu", [-1, 2]).tolist() == [0.0, 2.0]
    np.testing.assert_array_equal(
        bpcore.activate("tanh", z[:, ::2]), bpcore.activate("tanh", z[:, ::2].copy())
    )
    assert bpcore.derivative("sigmoid", 0.0) == 0.25
    assert bpcore.activate("elu", np.zeros((0, 3))).shape == (0, 3)
    # prelu's α: default 0.25
    assert bpcore.activate("prelu", -4.0) == -1.0
    assert bpcore.activate("prelu", -4.0, alpha=0.5) == -2.0


def test_softmax_acts_on_the_last_axis():
    z = np.array([[[1.0, 10.0, 2.0], [0.0, 0.0, 0.0]]])
    h = bpcore.activate("softmax", z)
    assert h.shape == z.shape
    np.testing.assert_allclose(h.sum(axis=-1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(h[0, 1], [1 / 3] * 3, rtol=1e-15)
    e = np.exp(z[0, 0] - z[0, 0].max())
    np.testing.assert_allclose(h[0, 0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(bpcore.activate("softmax", [1.0, 10.0, 2.0]), h[0, 0])
    assert bpcore.activate("softmax", np.float32(3.0)) == 1.0
    with pytest.raises(ValueError, match="no element-wise derivative"):
        bpcore.derivative("softmax", z)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: bpcore.activate("swish", [1.0]), ValueError, "name must be one of"),
        (lambda: bpcore.derivative(3, [1.0]), ValueError, "name must be one of"),
        (lambda: bpcore.activate("relu", ["a"]), TypeError, "real numbers"),
        (lambda: bpcore.activate("relu", [1 + 2j]), TypeError, "real numbers"),
        (lambda: bpcore.activate("prelu", [1.0], alpha="x"), TypeError, "alpha"),
        (lambda: bpcore.derivative("prelu", [1.0], alpha=float("nan")), ValueError, "alpha"),
    ],
)
def test_bad_input_names_the_parameter(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_new_activations_train_in_a_network():
    """Each of the new activations reaches the core and lowers J on a small regression."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:]
    for name in ("leaky_relu", "elu", "softplus", "gelu", "silu"):
        net = bpcore.Network([2, 8, 1], activation=name, output_activation="identity", seed=1)
        J0 = net.loss(X, Y)
        net.fit(X, Y, epochs=30, batch_size=8, lr=0.05, seed=1)
        assert net.loss(X, Y) < 0.5 * J0, name
