"""``bpcore.Network``: the fixed API, parameter views, the forward pass and its cache, the
gradient-descent sign, input conversion, initialisation, errors, copies and pickling."""

from __future__ import annotations

import gc
import pickle

import bpcore
import numpy as np
import pytest
from bpcore import _validation
from bpcore._names import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSSES
from conftest import kwargs_id
from reference import ReferenceMLP


def notes_network(**kwargs) -> bpcore.Network:
    """The notes' 4-5-3 network, exactly as the issue writes it."""
    args = dict(
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        dtype="float64",
        init="small_uniform",
        seed=0,
    )
    args.update(kwargs)
    return bpcore.Network([4, 5, 3], **args)


# ------------------------------------------------------------------------- the fixed API
def test_api_as_written(iris):
    net = bpcore.Network(
        [4, 5, 3],
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        dtype="float64",
        init="small_uniform",
        seed=0,
    )
    assert net.sizes == [4, 5, 3]
    assert net.activations == ["sigmoid", "sigmoid"]
    assert net.loss_name == "mse"
    assert net.dtype == np.float64
    assert (net.init, net.seed, net.init_scale) == ("small_uniform", 0, 0.1)
    assert net.n_layers == 2
    assert net.n_params == 4 * 5 + 5 + 5 * 3 + 3
    assert [W.shape for W in net.weights] == [(4, 5), (5, 3)]
    assert [b.shape for b in net.biases] == [(5,), (3,)]
    assert all(W.dtype == np.float64 for W in net.weights + net.biases)
    assert net.parameters.shape == (net.n_params,)
    assert net.alphas == {}

    X, Y = iris.X[:10], iris.Y[:10]
    Y_hat = net.forward(X)
    assert Y_hat.shape == (10, 3)
    assert np.all((Y_hat > 0) & (Y_hat < 1))  # sigmoid outputs
    J = net.loss(X, Y)
    assert isinstance(J, float)
    assert J == pytest.approx(np.mean(0.5 * ((Y - Y_hat) ** 2).sum(axis=1)), rel=1e-14)

    result = net.backward(X, Y)
    assert isinstance(result, tuple) and len(result) == 2
    J_b, grads = result
    assert J_b == pytest.approx(J, rel=1e-14)
    assert len(grads) == 2
    for l, (gW, gb) in enumerate(grads, 1):
        assert gW.shape == net.weights[l - 1].shape
        assert gb.shape == net.biases[l - 1].shape
    _, grads_ref, _, _ = ReferenceMLP.from_network(net).backward(X, Y)
    for (gW, gb), (rW, rb) in zip(grads, grads_ref):
        np.testing.assert_allclose(gW, rW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, rb, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(net.predict(X), Y_hat)


def test_parameters_are_views_of_one_buffer():
    net = bpcore.Network([3, 4, 2], activation="prelu", output_activation="identity")
    flat = net.parameters
    for W in net.weights:
        assert np.shares_memory(W, flat)
        assert W.flags.writeable
    for b in net.biases:
        assert np.shares_memory(b, flat)
    assert set(net.alphas) == {1}
    assert np.shares_memory(net.alphas[1], flat)
    # the layout: per layer W row by row, b, α
    expected = np.concatenate(
        [
            net.weights[0].ravel(),
            net.biases[0],
            [net.alphas[1]],
            net.weights[1].ravel(),
            net.biases[1],
        ]
    )
    np.testing.assert_array_equal(flat, expected)
    # a view seen through another view
    net.parameters[0] = 42.0
    assert net.weights[0][0, 0] == 42.0
    net.biases[1][...] = -1.5
    assert np.all(net.parameters[-2:] == -1.5)
    net.alphas[1][...] = 0.125
    assert net.parameters[4 * 3 + 4] == 0.125
    assert np.shares_memory(net.gradient, net.gradient)
    assert not np.shares_memory(net.gradient, flat)


def test_writing_into_weights_changes_the_next_forward(iris):
    net = notes_network()
    X = iris.X[:5]
    before = net.forward(X)
    W1 = net.weights[0]
    W1[...] = 0.0
    net.biases[0][...] = 0.0
    after = net.forward(X)
    assert not np.allclose(before, after)
    # all hidden units are sigmoid(0) = 1/2 now: every sample gives the same output
    np.testing.assert_allclose(net.H[1], 0.5)
    expected = 1 / (1 + np.exp(-(np.full(5, 0.5) @ net.weights[1] + net.biases[1])))
    np.testing.assert_allclose(after, np.tile(expected, (5, 1)), rtol=1e-14)


def test_a_view_outlives_its_network():
    net = notes_network(seed=3)
    W = net.weights[1]
    flat = net.parameters
    expected = W.copy()
    expected_flat = flat.copy()
    del net
    gc.collect()
    junk = [bpcore.Network([4, 5, 3], seed=s).parameters.copy() for s in range(20)]  # reuse memory
    np.testing.assert_array_equal(W, expected)
    np.testing.assert_array_equal(flat, expected_flat)
    W[0, 0] = 7.0
    assert flat[20 + 5] == 7.0  # W^[2] starts after W^[1] (20) and b^[1] (5)
    assert len(junk) == 20


# ------------------------------------------------------------------------- the descent sign
def _notes_step(net, X, Y, lr, sign):
    """The δ-rule update W ← W + sign·(lr/n) H^[l-1]ᵀ δ^[l], b ← b + sign·(lr/n) Σ δ^[l].

    sign = +1 is the descent step W ← W - lr ∂J/∂W; sign = -1 is the notes' printed
    ``w ← w - α δ h`` (an erratum)."""
    net.backward(X, Y)
    H, delta = net.H, net.delta
    n = X.shape[0]
    for l in range(1, net.n_layers + 1):
        net.weights[l - 1][...] += sign * lr / n * (H[l - 1].T @ delta[l])
        net.biases[l - 1][...] += sign * lr / n * delta[l].sum(axis=0)


@pytest.mark.parametrize("batch", [slice(0, 1), slice(50, 51), slice(0, 150)])
def test_gradient_descent_lowers_J_and_the_printed_sign_raises_it(iris, batch):
    X, Y = iris.X[batch], iris.Y[batch]
    net = notes_network(seed=1)
    J0, grads = net.backward(X, Y)
    start = net.parameters.copy()

    # W ← W - α ∂J/∂W with the returned gradients
    for l, (gW, gb) in enumerate(grads, 1):
        net.weights[l - 1][...] -= 0.5 * gW
        net.biases[l - 1][...] -= 0.5 * gb
    J_descent = net.loss(X, Y)
    assert J_descent < J0
    after_descent = net.parameters.copy()

    # the same step written with δ: W ← W + (α/n) H^[l-1]ᵀ δ^[l]
    net.parameters[...] = start
    _notes_step(net, X, Y, 0.5, +1)
    np.testing.assert_allclose(net.parameters, after_descent, rtol=1e-13, atol=1e-15)

    # the notes' printed sign W ← W - α δ h climbs
    net.parameters[...] = start
    _notes_step(net, X, Y, 0.5, -1)
    assert net.loss(X, Y) > J0

    # the reference agrees on the descent step
    ref = ReferenceMLP.from_network(notes_network(seed=1))
    _, g_ref, _, _ = ref.backward(X, Y)
    ref.sgd_step(g_ref, 0.5)
    np.testing.assert_allclose(ref.flat_parameters(), after_descent, rtol=1e-12, atol=1e-15)
    assert ref.loss(X, Y) == pytest.approx(J_descent, rel=1e-12)


def test_gradient_is_minus_mean_H_transpose_delta(iris):
    """∂J/∂W^[l] = -(1/n) H^[l-1]ᵀ δ^[l] and ∂J/∂b^[l] = -(1/n) Σ δ^[l] from the cached H and δ."""
    net = bpcore.Network(
        [4, 6, 5, 3],
        activation=["tanh", "relu"],
        output_activation="softmax",
        loss="cross_entropy",
        init="xavier",
        seed=2,
    )
    X, Y = iris.X[::7], iris.Y[::7]
    _, grads = net.backward(X, Y)
    n = X.shape[0]
    for l, (gW, gb) in enumerate(grads, 1):
        np.testing.assert_allclose(gW, -(net.H[l - 1].T @ net.delta[l]) / n, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, -net.delta[l].sum(axis=0) / n, rtol=1e-12, atol=1e-15)
    # cross-entropy with softmax: δ^[L] = Y - Ŷ
    np.testing.assert_allclose(net.delta[3], Y - net.H[3], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------- Z, H, δ caches
def _J_i_from_Z(ref: ReferenceMLP, l: int, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Per-sample J_i as a function of Z^[l] (rows), by running layers l … L of the reference."""
    from reference import activate

    tail = (
        ReferenceMLP(
            ref.W[l:],
            ref.b[l:],
            ref.activations[l:],
            ref.loss_name,
            {k - l: a for k, a in ref.alphas.items() if k > l},
        )
        if l < ref.L
        else None
    )
    H = activate(ref.activations[l - 1], Z, ref.alphas.get(l, 0.25))
    if tail is None:
        if ref.loss_name == "mse":
            return 0.5 * ((Y - H) ** 2).sum(axis=1)
        if ref.loss_name == "cross_entropy":
            return -(Y * np.log(H)).sum(axis=1)
        return -(Y * np.log(H) + (1 - Y) * np.log(1 - H)).sum(axis=1)
    return tail.per_sample_loss(H, Y)


@pytest.mark.parametrize(
    "acts, out, loss",
    [
        (["sigmoid"], "sigmoid", "mse"),
        (["tanh", "prelu"], "identity", "mse"),
        (["relu", "sigmoid"], "softmax", "cross_entropy"),
        (["prelu"], "sigmoid", "binary_cross_entropy"),
    ],
)
def test_cache_matches_reference_and_delta_is_minus_dJi_dZ(iris, acts, out, loss):
    sizes = [4, *([5, 4][: len(acts)]), 3]
    net = bpcore.Network(
        sizes, activation=acts, output_activation=out, loss=loss, init="xavier", seed=4
    )
    net.parameters[...] += np.random.default_rng(0).normal(scale=0.3, size=net.n_params)
    X, Y = iris.X[::15], iris.Y[::15]
    with pytest.raises(RuntimeError, match="forward"):
        _ = net.Z
    Y_hat = net.forward(X)
    with pytest.raises(RuntimeError, match="backward"):
        _ = net.delta
    ref = ReferenceMLP.from_network(net)
    J_ref, _, _, cache = ref.backward(X, Y)
    assert sorted(net.Z) == list(range(1, net.n_layers + 1))
    assert sorted(net.H) == list(range(net.n_layers + 1))
    np.testing.assert_array_equal(net.H[0], X)
    for l in net.Z:
        np.testing.assert_allclose(net.Z[l], cache["Z"][l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(net.H[l], cache["H"][l], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(Y_hat, net.H[net.n_layers])

    J, _ = net.backward(X, Y)
    assert J == pytest.approx(J_ref, rel=1e-12)
    assert sorted(net.delta) == list(range(1, net.n_layers + 1))
    h = 1e-6
    for l in range(1, net.n_layers + 1):
        np.testing.assert_allclose(net.delta[l], cache["delta"][l], rtol=1e-11, atol=1e-14)
        # δ^[l]_ij = -∂J_i/∂Z^[l]_ij, by central differences on the reference's Z^[l]
        Z = cache["Z"][l]
        fd = np.empty_like(Z)
        for j in range(Z.shape[1]):
            Zp, Zm = Z.copy(), Z.copy()
            Zp[:, j] += h
            Zm[:, j] -= h
            fd[:, j] = -(_J_i_from_Z(ref, l, Zp, Y) - _J_i_from_Z(ref, l, Zm, Y)) / (2 * h)
        np.testing.assert_allclose(net.delta[l], fd, rtol=1e-6, atol=1e-8)
    # the dicts are copies: changing them does not touch the network
    net.delta[1][...] = 0
    net.Z[1][...] = 0
    np.testing.assert_allclose(net.delta[1], cache["delta"][1], rtol=1e-11, atol=1e-14)


def test_single_sample_as_1d(iris):
    net = notes_network()
    x, y = iris.X[7], iris.Y[7]
    Y_hat = net.forward(x)
    assert Y_hat.shape == (1, 3)
    np.testing.assert_array_equal(Y_hat, net.forward(x[None, :]))
    assert net.H[0].shape == (1, 4)
    J1, g1 = net.backward(x, y)
    J2, g2 = net.backward(x[None, :], y[None, :])
    assert J1 == J2
    for (a, b), (c, d) in zip(g1, g2):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert net.loss(x, y) == J1
    np.testing.assert_array_equal(net.predict(x), Y_hat)


# ------------------------------------------------------------------------- input conversion
def test_c_ordered_input_of_the_network_dtype_is_not_copied(iris, monkeypatch):
    X = np.ascontiguousarray(iris.X[:20])
    Y = np.ascontiguousarray(iris.Y[:20])
    assert _validation.as_matrix(X, "X", np.dtype(np.float64), 4) is X
    assert _validation.as_targets(Y, "Y", np.dtype(np.float64), 3, 20) is Y
    X32 = X.astype(np.float32)
    assert _validation.as_matrix(X32, "X", np.dtype(np.float32), 4) is X32

    # forward, backward and loss reach the core without any conversion of such arrays: the input
    # module's NumPy is swapped for one whose ascontiguousarray refuses to run
    class NoConversion:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def ascontiguousarray(*args, **kwargs):
            raise AssertionError("a C-ordered float64 array was converted")

    monkeypatch.setattr(_validation, "np", NoConversion())
    net = notes_network()
    net.forward(X)
    assert net._X_cache is X  # the cached H^[0] is the caller's array itself
    net.backward(X, Y)
    assert net._X_cache is X
    net.loss(X, Y, sample_weight=np.ones(20))
    net.predict(X)
    with pytest.raises(AssertionError, match="converted"):
        net.forward(np.asfortranarray(X))


def _variants(X: np.ndarray):
    big = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    big[::2, ::3] = X
    ro = X.copy()
    ro.setflags(write=False)
    return {
        "float32": X.astype(np.float32),
        "int": np.rint(X * 3).astype(np.int64),
        "fortran": np.asfortranarray(X),
        "strided": big[::2, ::3],
        "read_only": ro,
        "list": X.tolist(),
    }


@pytest.mark.parametrize("kind", ["float32", "int", "fortran", "strided", "read_only", "list"])
def test_other_inputs_give_the_results_of_a_c_ordered_copy(iris, kind):
    net = bpcore.Network(
        [4, 5, 3], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=5
    )
    X0, Y0 = iris.X[::10], iris.Y[::10]
    X = _variants(X0)[kind]
    Y = _variants(Y0)[kind] if kind not in ("int",) else Y0.astype(np.int64)
    w = _variants(np.linspace(0.5, 2.0, X0.shape[0])[:, None])[kind]
    w = np.asarray(w).reshape(-1) if kind != "strided" else w[:, 0]
    Xc = np.ascontiguousarray(np.asarray(X), dtype=np.float64)
    Yc = np.ascontiguousarray(np.asarray(Y), dtype=np.float64)
    wc = np.ascontiguousarray(np.asarray(w), dtype=np.float64)

    np.testing.assert_array_equal(net.forward(X), net.forward(Xc))
    np.testing.assert_array_equal(net.predict(X), net.predict(Xc))
    assert net.loss(X, Y) == net.loss(Xc, Yc)
    assert net.loss(X, Y, sample_weight=w) == net.loss(Xc, Yc, sample_weight=wc)
    J, g = net.backward(X, Y, sample_weight=w)
    g = net.gradient.copy()
    Jc, _ = net.backward(Xc, Yc, sample_weight=wc)
    assert J == Jc
    np.testing.assert_array_equal(g, net.gradient)
    if isinstance(X, np.ndarray):
        assert np.asarray(X).flags.writeable == (kind != "read_only")  # input left as it was


def test_float32_network_takes_float64_input(iris):
    net = notes_network(dtype="float32")
    assert net.dtype == np.float32
    assert all(W.dtype == np.float32 for W in net.weights)
    Y_hat = net.forward(iris.X[:5])
    assert Y_hat.dtype == np.float32
    np.testing.assert_array_equal(Y_hat, net.forward(iris.X[:5].astype(np.float32)))


# ------------------------------------------------------------------------- repr
def test_repr_shows_the_architecture():
    text = repr(
        bpcore.Network(
            [4, 6, 5, 3],
            activation=["relu", "tanh"],
            output_activation="softmax",
            loss="cross_entropy",
            dtype="float32",
        )
    )
    for part in (
        "[4, 6, 5, 3]",
        "relu",
        "tanh",
        "softmax",
        "cross_entropy",
        "float32",
        f"n_params={4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3}",
    ):
        assert part in text
    assert repr(notes_network()).startswith("Network([4, 5, 3]")


# ------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("init", ["small_uniform", "xavier", "he"])
def test_same_seed_same_parameters_different_seeds_differ(init):
    a = bpcore.Network([4, 8, 3], init=init, seed=11)
    b = bpcore.Network([4, 8, 3], init=init, seed=11)
    c = bpcore.Network([4, 8, 3], init=init, seed=12)
    np.testing.assert_array_equal(a.parameters, b.parameters)
    assert not np.any(a.weights[0] == c.weights[0])
    # float32 draws the same numbers, rounded
    d = bpcore.Network([4, 8, 3], init=init, seed=11, dtype="float32")
    np.testing.assert_array_equal(d.parameters, a.parameters.astype(np.float32))


@pytest.mark.parametrize("scale", [0.1, 0.03])
def test_small_uniform_is_small_random_and_non_zero(scale):
    net = bpcore.Network([30, 40, 20], init="small_uniform", init_scale=scale, seed=7)
    assert net.init_scale == scale
    theta = net.parameters
    assert np.all(np.abs(theta) <= scale)
    assert np.all(theta != 0)
    # spread over the whole interval, biases included
    for p in net.weights + net.biases:
        assert p.max() > 0.5 * scale and p.min() < -0.5 * scale
    assert abs(theta.mean()) < 0.1 * scale
    assert theta.std() == pytest.approx(scale / np.sqrt(3), rel=0.1)


@pytest.mark.parametrize("init", ["xavier", "he"])
def test_xavier_and_he_bounds(init):
    net = bpcore.Network([30, 50, 20, 4], activation="prelu", init=init, seed=3)
    for l, W in enumerate(net.weights, 1):
        n_in, n_out = W.shape
        r = np.sqrt(6 / (n_in + n_out)) if init == "xavier" else np.sqrt(6 / n_in)
        assert np.all(np.abs(W) <= r)
        assert W.max() > 0.9 * r and W.min() < -0.9 * r
        assert W.std() == pytest.approx(r / np.sqrt(3), rel=0.15)
        np.testing.assert_array_equal(net.biases[l - 1], 0.0)
    assert {l: float(a) for l, a in net.alphas.items()} == {1: 0.25, 2: 0.25}


def test_reinitialize_redraws_in_place():
    net = notes_network(seed=0)
    view = net.weights[0]
    first = net.parameters.copy()
    net.reinitialize(seed=9)
    assert net.seed == 9
    np.testing.assert_array_equal(net.parameters, notes_network(seed=9).parameters)
    assert not np.array_equal(view, first[:20].reshape(4, 5))
    np.testing.assert_array_equal(view, net.weights[0])
    net.reinitialize(seed=0)
    np.testing.assert_array_equal(net.parameters, first)


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(sizes=[4]), ValueError, ["sizes"]),
        (dict(sizes=[]), ValueError, ["sizes"]),
        (dict(sizes=[4, 0, 3]), ValueError, ["sizes[1]"]),
        (dict(sizes=[4, -2]), ValueError, ["sizes[1]"]),
        (dict(sizes=[4, 2.5, 3]), TypeError, ["sizes[1]"]),
        (dict(sizes=[4, True]), TypeError, ["sizes[1]"]),
        (dict(sizes="453"), TypeError, ["sizes"]),
        (dict(sizes=4), TypeError, ["sizes"]),
        (
            dict(sizes=[4, 5, 3], activation="swish"),
            ValueError,
            ["activation", *HIDDEN_ACTIVATIONS, "swish"],
        ),
        (dict(sizes=[4, 5, 3], activation="softmax"), ValueError, ["activation", "prelu"]),
        (dict(sizes=[4, 5, 6, 3], activation=["relu"]), ValueError, ["activation", "2"]),
        (
            dict(sizes=[4, 3], output_activation="maxout"),
            ValueError,
            ["output_activation", *ACTIVATIONS, "maxout"],
        ),
        (dict(sizes=[4, 3], loss="mae"), ValueError, ["loss", *LOSSES]),
        (
            dict(sizes=[4, 3], output_activation="softmax", loss="mse"),
            ValueError,
            ["softmax", "loss", "cross_entropy", "mse"],
        ),
        (
            dict(sizes=[4, 3], output_activation="sigmoid", loss="cross_entropy"),
            ValueError,
            ["cross_entropy", "softmax"],
        ),
        (
            dict(sizes=[4, 3], output_activation="identity", loss="binary_cross_entropy"),
            ValueError,
            ["binary_cross_entropy", "sigmoid"],
        ),
        (dict(sizes=[4, 3], init="zeros"), ValueError, ["init", "small_uniform", "xavier", "he"]),
        (dict(sizes=[4, 3], dtype="float16"), ValueError, ["dtype", "float32", "float64"]),
        (dict(sizes=[4, 3], seed=-1), ValueError, ["seed"]),
        (dict(sizes=[4, 3], seed=1.5), ValueError, ["seed"]),
        (dict(sizes=[4, 3], init_scale=0), ValueError, ["init_scale"]),
    ],
    ids=kwargs_id,
)
def test_bad_constructor_arguments(kwargs, exc, words):
    with pytest.raises(exc) as info:
        bpcore.Network(**kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda net, X, Y: net.forward(X[:, :3]), ["X", "4 features"]),
        (lambda net, X, Y: net.forward(X[None]), ["X", "2-D"]),
        (lambda net, X, Y: net.forward(X[:0]), ["X", "no samples"]),
        (lambda net, X, Y: net.predict(X[:, :2]), ["X", "4"]),
        (lambda net, X, Y: net.loss(X, Y[:-1]), ["X", "Y", "samples", "10", "9"]),
        (lambda net, X, Y: net.backward(X[:-2], Y), ["X", "Y", "samples"]),
        (lambda net, X, Y: net.backward(X, Y[:, :2]), ["Y", "(10, 3)"]),
        (lambda net, X, Y: net.loss(X, Y, sample_weight=np.ones(3)), ["sample_weight", "(10,)"]),
        (lambda net, X, Y: net.loss(X, Y, sample_weight=-np.ones(10)), ["sample_weight"]),
        (lambda net, X, Y: net.loss(X, Y, sample_weight=np.zeros(10)), ["sample_weight"]),
    ],
)
def test_bad_data_shapes(iris, call, words):
    net = notes_network()
    with pytest.raises(ValueError) as info:
        call(net, iris.X[:10], iris.Y[:10])
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "Y", "sample_weight"])
def test_non_finite_values_are_refused_with_their_position(iris, bad, where):
    net = notes_network()
    X, Y, w = iris.X[:10].copy(), iris.Y[:10].copy(), np.ones(10)
    {"X": X, "Y": Y, "sample_weight": w[:, None]}[where][3, 0] = bad
    before = net.parameters.copy()
    with pytest.raises(ValueError) as info:
        net.backward(X, Y, sample_weight=w)
    message = str(info.value)
    assert message.startswith(where)
    assert str(bad) in message and "3" in message
    np.testing.assert_array_equal(net.parameters, before)
    if where == "X":
        with pytest.raises(ValueError, match="X contains"):
            net.forward(X)
        with pytest.raises(ValueError, match="X contains"):
            net.predict(X)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_finds_a_non_finite_input_anywhere(dtype, bad):
    # predict does not scan X beforehand: it relies on the core's report that a row of Z^[1] is
    # not finite. A zero column of W^[1] (inf * 0 is NaN) and saturating activations (sigmoid(inf)
    # is 1) must not hide the value; 700 rows span several chunks and both threads.
    rng = np.random.default_rng(0)
    net = bpcore.Network([5, 4, 3], "sigmoid", "softmax", "cross_entropy", dtype, seed=1)
    net.weights[0][2, :] = 0  # W^[1] is (n_in, n_out): input 2 has no weight
    X = rng.standard_normal((700, 5)).astype(dtype)
    clean = net.predict(X)
    for i, j in [(0, 0), (345, 2), (699, 4), (511, 1)]:
        Xb = X.copy()
        Xb[i, j] = bad
        with pytest.raises(ValueError) as info:
            net.predict(Xb, n_threads=2)
        assert str(info.value).startswith(f"X contains {bad} at index ({i}, {j})")
    np.testing.assert_array_equal(net.predict(X), clean)


def test_predict_of_large_finite_inputs_is_not_an_error():
    # Z^[1] overflows to inf for a finite X: predict searches X, finds nothing, and returns
    # what the network computes, as before.
    net = bpcore.Network([2, 3, 1], "tanh", "identity", "mse", "float32", seed=0)
    X = np.array([[3e38, -3e38], [1.0, 2.0]], dtype=np.float32)
    Y_hat = net.predict(X)
    assert Y_hat.shape == (2, 1) and np.isfinite(Y_hat[1, 0])


def test_non_numeric_inputs_raise_type_errors(iris):
    net = notes_network()
    with pytest.raises(TypeError, match="X must be real-valued"):
        net.forward(iris.X[:2] + 0j)
    with pytest.raises(TypeError, match="X must be numeric"):
        net.forward(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(TypeError, match="Y must be numeric"):
        net.loss(iris.X[:1], np.array([[None, 1, 2]], dtype=object))


# ------------------------------------------------------------------------- copies and pickling
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pickle_and_copy_give_identical_predictions(iris, dtype):
    net = bpcore.Network(
        [4, 6, 3],
        activation="prelu",
        output_activation="softmax",
        loss="cross_entropy",
        dtype=dtype,
        init="he",
        seed=8,
    )
    net.alphas[1][...] = 0.1
    net.fit(iris.X, iris.Y, epochs=2, batch_size=16, lr=0.05, seed=1)
    X = iris.X
    for other in (pickle.loads(pickle.dumps(net)), net.copy()):
        assert other is not net
        assert repr(other) == repr(net)
        assert (other.init, other.seed, other.init_scale, other.dtype) == (
            net.init,
            net.seed,
            net.init_scale,
            net.dtype,
        )
        np.testing.assert_array_equal(other.parameters, net.parameters)
        np.testing.assert_array_equal(other.predict(X), net.predict(X))
        np.testing.assert_array_equal(other.forward(X), net.forward(X))
        assert other.loss(X, iris.Y) == net.loss(X, iris.Y)
        assert float(other.alphas[1]) == float(net.alphas[1])
        # independent memory
        assert not np.shares_memory(other.parameters, net.parameters)
        other.weights[0][...] += 1.0
        assert not np.array_equal(other.predict(X), net.predict(X))
