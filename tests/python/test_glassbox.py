"""The glass box: ``Network.trace`` (one recorded BP step) and ``bpcore.gradcheck``.

The trace must show the core's own numbers (those of ``backward``), agree with the independent
NumPy oracle ``reference.ReferenceMLP``, perform the step ``fit`` performs, and leave the network
alone with ``update=False``. gradcheck must pass for every activation × loss pairing at depths
0–2 in float64 and float32, catch a wrong derivative and name the tensor, and restore every
parameter bitwise.
"""

from __future__ import annotations

import inspect

import bpcore
import numpy as np
import pytest
import reference
from bpcore._loader import core
from bpcore._names import HIDDEN_ACTIVATIONS, LOSS_INFO
from bpcore.glassbox import GradcheckReport, LayerTrace, Trace
from reference import ReferenceMLP

HIDDEN = HIDDEN_ACTIVATIONS
# (output activation, loss): the valid pairings, from the loss table: a loss that needs an output
# activation gets it, one that takes any gets every hidden activation
OUTPUTS = tuple(
    (out, loss)
    for loss, info in LOSS_INFO.items()
    for out in ((info.output_activation,) if info.output_activation else HIDDEN_ACTIVATIONS)
)
CASES = [(None, out, loss, 0) for out, loss in OUTPUTS] + [
    (hidden, out, loss, depth) for depth in (1, 2) for hidden in HIDDEN for out, loss in OUTPUTS
]


def _case_id(case) -> str:
    hidden, out, loss, depth = case
    return f"{depth}x{hidden or 'none'}-{out}-{loss}"


def make_case(case, n: int = 5, dtype: str = "float64", seed: int = 0):
    """A network with random O(1) parameters (every unit active, α ≠ 0.25) and a batch whose
    relu/prelu inputs Z keep clear of the kink at 0."""
    hidden, out, loss, depth = case
    q = 3 if loss == "cross_entropy" else 2
    sizes = [3, *(4, 5)[:depth], q]
    for attempt in range(100):
        rng = np.random.default_rng(7919 * seed + 31 * n + attempt)
        net = bpcore.Network(
            sizes,
            activation=hidden or "sigmoid",
            output_activation=out,
            loss=loss,
            dtype="float64",
            seed=seed,
        )
        # exp's output grows as e^Z: smaller parameters keep J of the poisson cases O(1)
        net.parameters[...] = rng.normal(scale=0.7 if out != "exp" else 0.25, size=net.n_params)
        for a in net.alphas.values():
            a[...] = rng.uniform(0.1, 0.5)
        X = rng.normal(size=(n, 3))
        if loss == "cross_entropy":
            Y = np.eye(q)[rng.integers(0, q, size=n)]
        elif loss == "binary_cross_entropy":
            Y = rng.integers(0, 2, size=(n, q)).astype(np.float64)
        else:
            Y = rng.uniform(0.05, 0.95, size=(n, q))
        net.forward(X)
        kinked = [l for l, f in enumerate(net.activations, 1) if reference.has_kink_at_zero(f)]
        if all(np.abs(net.Z[l]).min() > 1e-3 for l in kinked):
            break
    else:  # pragma: no cover
        raise AssertionError("no kink-free case found")
    if dtype == "float32":
        net32 = bpcore.Network(
            sizes,
            activation=hidden or "sigmoid",
            output_activation=out,
            loss=loss,
            dtype="float32",
            seed=seed,
        )
        net32.parameters[...] = net.parameters.astype(np.float32)
        return net32, X, Y
    return net, X, Y


def tensor_names(net: bpcore.Network) -> list[str]:
    names = []
    for l in range(1, net.n_layers + 1):
        names += [f"W^[{l}]", f"b^[{l}]"]
        if net.activations[l - 1] == "prelu":
            names.append(f"alpha^[{l}]")
    return names


# ============================================================================ trace
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trace_agrees_with_backward(case):
    net, X, Y = make_case(case)
    probe = net.copy()
    J, grads = probe.backward(X, Y)
    Z, H, delta, alpha_grads = probe.Z, probe.H, probe.delta, probe.alpha_gradients
    t = net.trace(X, Y, lr=0.1, update=True)
    assert isinstance(t, Trace) and t.L == net.n_layers == len(t.layers)
    assert t.J_before == J
    for l in range(1, net.n_layers + 1):
        layer = t[l]
        assert isinstance(layer, LayerTrace) and layer.l == l
        np.testing.assert_array_equal(layer.H_prev, H[l - 1])
        np.testing.assert_array_equal(layer.Z, Z[l])
        np.testing.assert_array_equal(layer.H, H[l])
        np.testing.assert_array_equal(layer.delta, delta[l])
        np.testing.assert_array_equal(layer.dJ_dW, grads[l - 1][0])
        np.testing.assert_array_equal(layer.dJ_db, grads[l - 1][1])
        if l in alpha_grads:
            assert layer.dJ_dalpha == alpha_grads[l]
        else:
            assert layer.alpha_before is None and layer.dJ_dalpha is None
    np.testing.assert_array_equal(t.Y_hat, H[net.n_layers])
    np.testing.assert_array_equal(t.E, Y - H[net.n_layers])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trace_agrees_with_reference(case):
    net, X, Y = make_case(case)
    ref = ReferenceMLP.from_network(net)
    J, grads, alpha_grads, cache = ref.backward(X, Y)
    lr = 0.2
    t = net.trace(X, Y, lr=lr, update=True)
    close = dict(rtol=1e-10, atol=1e-12)
    approx = dict(rel=1e-10, abs=1e-12)
    assert t.J_before == pytest.approx(J, **approx)
    for l in range(1, net.n_layers + 1):
        layer = t[l]
        np.testing.assert_allclose(layer.H_prev, cache["H"][l - 1], **close)
        np.testing.assert_allclose(layer.Z, cache["Z"][l], **close)
        np.testing.assert_allclose(layer.H, cache["H"][l], **close)
        np.testing.assert_allclose(layer.delta, cache["delta"][l], **close)
        if layer.activation == "softmax":
            assert layer.f_prime is None and l not in cache["fprime"]
        else:
            np.testing.assert_allclose(layer.f_prime, cache["fprime"][l], **close)
        np.testing.assert_allclose(layer.dJ_dW, grads[l - 1][0], **close)
        np.testing.assert_allclose(layer.dJ_db, grads[l - 1][1], **close)
        if l in alpha_grads:
            assert layer.dJ_dalpha == pytest.approx(alpha_grads[l], **approx)
    ref.sgd_step(grads, lr, alpha_grads)
    for l in range(1, net.n_layers + 1):
        np.testing.assert_allclose(t[l].W_after, ref.W[l - 1], **close)
        np.testing.assert_allclose(t[l].b_after, ref.b[l - 1], **close)
        if l in ref.alphas:
            assert t[l].alpha_after == pytest.approx(ref.alphas[l], **approx)
    assert t.J_after == pytest.approx(ref.loss(X, Y), **approx)


@pytest.mark.parametrize("name", HIDDEN)
def test_reference_f_prime_matches_central_differences_of_its_f(name):
    """The oracle's own f′ against its own f (away from the kink at 0)."""
    Z = np.random.default_rng(0).normal(scale=3.0, size=200)
    Z = Z[np.abs(Z) > 1e-3]
    h = 1e-6
    fd = (reference.activate(name, Z + h, 0.3) - reference.activate(name, Z - h, 0.3)) / (2 * h)
    np.testing.assert_allclose(reference.derivative(name, Z, 0.3), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", HIDDEN)
def test_trace_f_prime_matches_central_differences_of_f(name):
    net, X, Y = make_case((name, "identity", "mse", 1))
    t = net.trace(X, Y, update=False)
    Z = t[1].Z
    alpha = t[1].alpha_before if name == "prelu" else 0.25
    h = 1e-6
    fd = (core.activate(name, Z + h, alpha) - core.activate(name, Z - h, alpha)) / (2 * h)
    np.testing.assert_allclose(t[1].f_prime, fd, rtol=1e-6, atol=1e-8)


def test_trace_output_delta_rules():
    # mse: δ^[L] = E ⊙ f′(Z^[L]); cross-entropy pairings: δ^[L] = Y − Ŷ
    net, X, Y = make_case(("tanh", "sigmoid", "mse", 1))
    t = net.trace(X, Y, update=False)
    np.testing.assert_allclose(t[2].delta, t.E * t[2].f_prime, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        t[1].delta, (t[2].delta @ t[2].W_before.T) * t[1].f_prime, rtol=1e-12, atol=1e-15
    )
    for out, loss in (("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")):
        net, X, Y = make_case(("tanh", out, loss, 1))
        t = net.trace(X, Y, update=False)
        np.testing.assert_allclose(t[2].delta, t.E, rtol=1e-13, atol=1e-15)
        assert "Y − Ŷ" in t[2].delta_rule
        assert (t[2].f_prime is None) == (out == "softmax")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "case",
    [
        ("sigmoid", "sigmoid", "mse", 1),
        ("prelu", "softmax", "cross_entropy", 2),
        ("relu", "identity", "mse", 2),
        ("tanh", "sigmoid", "binary_cross_entropy", 1),
    ],
    ids=_case_id,
)
def test_trace_update_is_one_fit_step(case, dtype):
    net, X, Y = make_case(case, n=8, dtype=dtype)
    other = net.copy()
    lr = 0.3
    t = net.trace(X, Y, lr=lr, update=True)
    other.fit(X, Y, epochs=1, batch_size=len(X), shuffle=False, optimizer="sgd", lr=lr)
    # the core's θ − lr·g: bitwise the trace's θ + (−lr·g) in the portable build; the AVX builds may
    # fuse it into one FMA, which rounds once instead of twice: at most one rounding of the larger
    # operand apart
    eps = np.finfo(dtype).eps
    for l in range(1, net.n_layers + 1):
        layer = t[l]
        for after, before, step, got in (
            (layer.W_after, layer.W_before, layer.Delta_W, other.weights[l - 1]),
            (layer.b_after, layer.b_before, layer.Delta_b, other.biases[l - 1]),
        ):
            if bpcore.simd == "baseline":
                np.testing.assert_array_equal(after, got)
            bound = eps * (np.abs(before) + np.abs(step))
            assert np.all(np.abs(after.astype(np.float64) - got) <= bound)
        if layer.alpha_after is not None:
            assert layer.alpha_after == pytest.approx(float(other.alphas[l]), rel=2 * float(eps))
    np.testing.assert_array_equal(
        net.parameters,
        np.concatenate(
            [
                np.concatenate(
                    [layer.W_after.ravel(), layer.b_after]
                    + (
                        [np.array([layer.alpha_after], dtype=dtype)]
                        if layer.alpha_after is not None
                        else []
                    )
                )
                for layer in t
            ]
        ),
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_trace_after_is_before_plus_update(dtype):
    net, X, Y = make_case(("prelu", "sigmoid", "mse", 2), dtype=dtype)
    W_views = net.weights  # views taken before the step see it
    lr = 0.25
    t = net.trace(X, Y, lr=lr, update=True)
    assert t.updated is True and t.lr == lr
    for l, layer in enumerate(t, 1):
        assert layer.W_after.dtype == np.dtype(dtype) and layer.delta.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(layer.Delta_W, -(np.dtype(dtype).type(lr) * layer.dJ_dW))
        np.testing.assert_array_equal(layer.Delta_b, -(np.dtype(dtype).type(lr) * layer.dJ_db))
        np.testing.assert_array_equal(layer.W_after, layer.W_before + layer.Delta_W)
        np.testing.assert_array_equal(layer.b_after, layer.b_before + layer.Delta_b)
        np.testing.assert_array_equal(net.weights[l - 1], layer.W_after)
        np.testing.assert_array_equal(W_views[l - 1], layer.W_after)
        np.testing.assert_array_equal(net.biases[l - 1], layer.b_after)
        if l < net.n_layers:  # prelu hidden layers
            assert float(net.alphas[l]) == layer.alpha_after
            assert layer.alpha_after == pytest.approx(
                layer.alpha_before + layer.Delta_alpha, rel=1e-6
            )
            assert layer.Delta_alpha == pytest.approx(-lr * layer.dJ_dalpha, rel=1e-6)
        else:
            assert layer.alpha_after is None and l not in net.alphas
        assert not np.array_equal(layer.W_after, layer.W_before)
    # net.loss is the core's cache-free J; the AVX builds can round it differently from one call to
    # the next (memory alignment), so compare to rounding
    assert t.J_after == pytest.approx(net.loss(X, Y), rel=1e-12)


@pytest.mark.parametrize(
    "case",
    [
        ("sigmoid", "sigmoid", "mse", 1),
        ("prelu", "prelu", "mse", 2),
        ("relu", "softmax", "cross_entropy", 2),
    ],
    ids=_case_id,
)
def test_trace_update_false_leaves_network_unchanged(case):
    net, X, Y = make_case(case)
    before = net.parameters.copy()
    t = net.trace(X, Y, lr=0.3, update=False)
    np.testing.assert_array_equal(net.parameters, before)
    assert t.updated is False
    # ... and records what the step would do
    applied = net.copy().trace(X, Y, lr=0.3, update=True)
    assert t.J_before == applied.J_before
    # J after comes from the core's cache-free loss, whose last bit can vary in the AVX builds
    assert t.J_after == pytest.approx(applied.J_after, rel=1e-12)
    for a, b in zip(t, applied):
        np.testing.assert_array_equal(a.W_after, b.W_after)
        np.testing.assert_array_equal(a.b_after, b.b_after)
        assert a.alpha_after == b.alpha_after
        np.testing.assert_array_equal(a.W_before, net.weights[a.l - 1])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trace_loss_falls_for_a_small_step(case):
    net, X, Y = make_case(case)
    t = net.trace(X, Y, lr=1e-3, update=True)
    assert t.J_after < t.J_before


def test_trace_of_one_sample_as_in_the_notes():
    net = bpcore.Network([4, 5, 3], activation="sigmoid", output_activation="sigmoid", seed=0)
    x, y = np.array([5.1, 3.5, 1.4, 0.2]), np.array([1.0, 0.0, 0.0])
    t = net.trace(x, y, lr=0.5, update=True)
    assert t.n == 1 and t.X.shape == (1, 4) and t[1].H_prev.shape == (1, 4)
    assert t.J_before == pytest.approx(0.5 * np.sum((y - t.Y_hat[0]) ** 2), rel=1e-14)
    # the notes' update, sign corrected: w_ij ← w_ij + α δ_j h_i
    for layer in t:
        np.testing.assert_allclose(
            layer.W_after,
            layer.W_before + 0.5 * np.outer(layer.H_prev[0], layer.delta[0]),
            rtol=1e-14,
            atol=1e-16,
        )
    assert t.J_after < t.J_before


def test_trace_to_dict():
    net, X, Y = make_case(("prelu", "softmax", "cross_entropy", 2))
    t = net.trace(X, Y, lr=0.1, update=True)
    d = t.to_dict()
    assert d["lr"] == 0.1 and d["updated"] is True and d["loss"] == "cross_entropy"
    assert d["n"] == X.shape[0] and d["J_before"] == t.J_before and d["J_after"] == t.J_after
    np.testing.assert_array_equal(d["E"], t.E)
    assert sorted(d["layers"]) == [1, 2, 3]
    expected = {
        "l",
        "activation",
        "H_prev",
        "Z",
        "H",
        "f_prime",
        "delta",
        "delta_rule",
        "dJ_dW",
        "dJ_db",
        "Delta_W",
        "Delta_b",
        "W_before",
        "W_after",
        "b_before",
        "b_after",
        "alpha_before",
        "alpha_after",
        "dJ_dalpha",
        "Delta_alpha",
    }
    for l, layer in d["layers"].items():
        assert set(layer) == expected and layer["l"] == l
        for key in ("Z", "H", "delta", "dJ_dW", "W_before", "W_after"):
            np.testing.assert_array_equal(layer[key], getattr(t[l], key))
    assert d["layers"][1]["alpha_before"] is not None and d["layers"][3]["alpha_before"] is None
    assert d["layers"][3]["f_prime"] is None
    d["layers"][1]["W_after"][0, 0] += 1.0  # a copy: the record is not changed
    assert d["layers"][1]["W_after"][0, 0] != t[1].W_after[0, 0]


def test_trace_prints_every_layer():
    net, X, Y = make_case(("prelu", "softmax", "cross_entropy", 2))
    t = net.trace(X, Y, lr=0.1, update=True)
    text = str(t)
    assert repr(t) == text
    assert "J before" in text and "J after" in text and "E = Y − Ŷ" in text
    for l in (1, 2, 3):
        assert f"layer l = {l}" in text
        for q in (
            f"Z^[{l}]",
            f"H^[{l - 1}]",
            f"δ^[{l}]",
            f"∂J/∂W^[{l}]",
            f"∂J/∂b^[{l}]",
            f"ΔW^[{l}]",
            f"Δb^[{l}]",
            f"W^[{l}] before",
            f"W^[{l}] after",
            f"b^[{l}] after",
        ):
            assert q in text, q
    assert "α^[1] before" in text and "∂J/∂α^[2]" in text and "α^[3]" not in text
    assert "f′(Z^[3]) : None" in text
    # the numbers printed are the record's
    assert f"{t.J_before:.10g}" in text
    # large arrays are summarised, small ones printed
    big = net.trace(np.tile(X, (20, 1)), np.tile(Y, (20, 1)), update=False)
    assert "min" in str(big[1]) and "max" in str(big[1])


def test_trace_indexing_and_bad_input():
    net, X, Y = make_case(("sigmoid", "sigmoid", "mse", 1))
    t = net.trace(X, Y, update=False)
    assert [layer.l for layer in t] == [1, 2] and len(t) == 2
    for bad in (0, 3, -1, "1", True):
        with pytest.raises(IndexError, match="layer l"):
            t[bad]
    with pytest.raises(ValueError, match="lr"):
        net.trace(X, Y, lr=0.0)
    with pytest.raises(TypeError, match="update"):
        net.trace(X, Y, update="yes")
    with pytest.raises(ValueError, match="features"):
        net.trace(X[:, :2], Y)
    with pytest.raises(TypeError, match="Network"):
        bpcore.glassbox.trace(ReferenceMLP.from_network(net), X, Y)


# ============================================================================ gradcheck
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradcheck_passes(case, dtype):
    net, X, Y = make_case(case, dtype=dtype)
    before = net.parameters.copy()
    report = bpcore.gradcheck(net, X, Y)
    assert isinstance(report, GradcheckReport)
    assert report.passed is True and bool(report) and report.failed == [], str(report)
    assert [c.name for c in report.checks] == tensor_names(net)
    assert report.dtype == dtype
    assert report.max_abs_error < (1e-6 if dtype == "float64" else 1e-4)
    np.testing.assert_array_equal(net.parameters, before)


def test_gradcheck_defaults_are_torch_gradcheck_defaults():
    torch_autograd = pytest.importorskip("torch.autograd", reason="torch is in the test extras")
    sig = inspect.signature(torch_autograd.gradcheck)
    net, X, Y = make_case(("sigmoid", "sigmoid", "mse", 1))
    report = bpcore.gradcheck(net, X, Y)
    assert report.eps == sig.parameters["eps"].default
    assert report.atol == sig.parameters["atol"].default
    assert report.rtol == sig.parameters["rtol"].default
    net32, X, Y = make_case(("sigmoid", "sigmoid", "mse", 1), dtype="float32")
    r32 = bpcore.gradcheck(net32, X, Y)
    assert (r32.eps, r32.atol, r32.rtol) == (1e-6, 1e-4, 1e-2)
    custom = bpcore.gradcheck(net, X, Y, eps=1e-5, rtol=1e-4, atol=1e-7)
    assert (custom.eps, custom.rtol, custom.atol) == (1e-5, 1e-4, 1e-7) and custom.passed


def _reference_backward(net, monkeypatch, wrong_sigmoid: bool):
    """Make ``net.backward`` return the gradient of a ReferenceMLP (optionally with a wrong
    sigmoid derivative, f′ = σ instead of σ(1 − σ))."""
    if wrong_sigmoid:
        right = reference.derivative

        def derivative(name, Z, alpha=0.25):
            if name == "sigmoid":
                return reference.activate("sigmoid", Z)
            return right(name, Z, alpha)

        monkeypatch.setattr(reference, "derivative", derivative)

    def backward(X, Y, sample_weight=None, n_threads=None):
        J, grads, _, _ = ReferenceMLP.from_network(net).backward(X, Y)
        return J, grads

    monkeypatch.setattr(net, "backward", backward)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradcheck_detects_a_wrong_derivative_and_names_the_tensor(monkeypatch, dtype):
    # sigmoid only in the hidden layer: δ^[1], hence ∂J/∂W^[1] and ∂J/∂b^[1], are wrong;
    # layer 2 (identity output) is not affected
    net, X, Y = make_case(("sigmoid", "identity", "mse", 1), dtype=dtype)
    _reference_backward(net, monkeypatch, wrong_sigmoid=False)
    assert bpcore.gradcheck(net, X, Y).passed  # the hook itself is sound
    _reference_backward(net, monkeypatch, wrong_sigmoid=True)
    before = net.parameters.copy()
    report = bpcore.gradcheck(net, X, Y)
    assert report.passed is False and not report
    assert report.failed == ["W^[1]", "b^[1]"]
    assert report["W^[2]"].passed and report["b^[2]"].passed
    text = str(report)
    assert "FAILED for W^[1], b^[1]" in text and "NO" in text
    np.testing.assert_array_equal(net.parameters, before)


def test_gradcheck_detects_one_scaled_entry(monkeypatch):
    net, X, Y = make_case(("tanh", "sigmoid", "mse", 2))
    right = net.backward

    def backward(X, Y, sample_weight=None, n_threads=None):
        J, grads = right(X, Y)
        gb = grads[1][1].copy()
        gb[2] *= 1.01  # 1 % off in ∂J/∂b^[2]_3
        grads[1] = (grads[1][0], gb)
        return J, grads

    monkeypatch.setattr(net, "backward", backward)
    report = bpcore.gradcheck(net, X, Y)
    assert report.failed == ["b^[2]"]
    assert report["b^[2]"].worst_index == (2,)
    assert report["b^[2]"].max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert report.to_dict()["tensors"]["b^[2]"]["passed"] is False


def test_gradcheck_detects_a_wrong_alpha_gradient(monkeypatch):
    net, X, Y = make_case(("prelu", "identity", "mse", 2))
    right = type(net).alpha_gradients.fget
    monkeypatch.setattr(
        type(net),
        "alpha_gradients",
        property(lambda self: {l: 2.0 * g for l, g in right(self).items()}),
    )
    report = bpcore.gradcheck(net, X, Y)
    assert report.failed == ["alpha^[1]", "alpha^[2]"]


def test_gradcheck_restores_parameters_even_on_error(monkeypatch):
    net, X, Y = make_case(("prelu", "sigmoid", "mse", 2), dtype="float64")
    before = net.parameters.copy()
    calls = {"n": 0}
    loss = net.loss

    def failing_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # after a parameter has been moved by +ε
            raise RuntimeError("interrupted")
        return loss(*args, **kwargs)

    monkeypatch.setattr(net, "loss", failing_loss)
    with pytest.raises(RuntimeError, match="interrupted"):
        bpcore.gradcheck(net, X, Y)
    np.testing.assert_array_equal(net.parameters, before)


def test_gradcheck_reports_relu_kinks():
    # zero biases and an all-zero input row put Z^[1] exactly on the kink of relu
    net = bpcore.Network(
        [3, 4, 2], activation="relu", output_activation="identity", init="xavier", seed=0
    )
    X = np.array([[0.0, 0.0, 0.0], [0.5, -1.0, 2.0]])
    Y = np.array([[0.2, 0.1], [0.3, -0.4]])
    report = bpcore.gradcheck(net, X, Y)
    assert report.near_kink.get(1, 0) >= 4
    assert "kink" in str(report)
    assert report.failed == ["b^[1]"]  # the one-sided difference at Z = 0


def test_gradcheck_report_and_bad_input():
    net, X, Y = make_case(("prelu", "softmax", "cross_entropy", 1))
    report = bpcore.gradcheck(net, X, Y)
    text = str(report)
    assert repr(report) == text and text.startswith("gradcheck passed")
    for name in tensor_names(net):
        assert name in text
    d = report.to_dict()
    assert d["passed"] is True and set(d["tensors"]) == set(tensor_names(net))
    with pytest.raises(KeyError, match="W\\^\\[9\\]"):
        report["W^[9]"]
    with pytest.raises(ValueError, match="eps"):
        bpcore.gradcheck(net, X, Y, eps=0.0)
    with pytest.raises(ValueError, match="rtol"):
        bpcore.gradcheck(net, X, Y, rtol=-1.0)
    with pytest.raises(TypeError, match="atol"):
        bpcore.gradcheck(net, X, Y, atol="small")
    with pytest.raises(TypeError, match="Network"):
        bpcore.gradcheck(object(), X, Y)
    with pytest.raises(ValueError, match="Y"):
        bpcore.gradcheck(net, X, Y[:, :2])


def test_trace_by_default_does_not_train():
    """Looking does not train: the default is update=False, and the printout says which."""
    net = bpcore.Network([4, 5, 3], seed=0)
    before = net.parameters.copy()
    x = bpcore.datasets.load_iris().X[0]
    t = net.trace(x, [1.0, 0.0, 0.0], lr=0.5)
    np.testing.assert_array_equal(net.parameters, before)
    assert t.updated is False and t.J_after < t.J_before
    assert "not applied: the network is unchanged (update=False)" in str(t)
    t2 = bpcore.glassbox.trace(net, x, [1.0, 0.0, 0.0], lr=0.5)
    np.testing.assert_array_equal(net.parameters, before)
    assert t2.J_after == t.J_after
    applied = net.trace(x, [1.0, 0.0, 0.0], lr=0.5, update=True)
    assert "applied to the network (update=True)" in str(applied)
    np.testing.assert_array_equal(net.weights[1], t[2].W_after)
