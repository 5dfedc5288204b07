"""δ back-propagation against central differences and against the NumPy reference.

For every hidden activation × every loss with its output activations (both from the core's tables,
so a new entry is tested without editing a list) × 0–3 hidden layers × batch sizes 1 and 7, the core's ∂J/∂W^[l], ∂J/∂b^[l] and ∂J/∂α^[l] (prelu) must match
(J(θ + h) - J(θ - h)) / 2h in float64, and J, every gradient, Z^[l], H^[l] and δ^[l] must match
``reference.ReferenceMLP``. float32 networks agree with float64 ones to float32 precision.
"""

from __future__ import annotations

import bpcore
import numpy as np
import pytest
from bpcore import _names
from reference import ReferenceMLP

# every hidden activation, and every (loss, output activation) pair the loss accepts: the tables
HIDDEN = _names.HIDDEN_ACTIVATIONS
OUTPUTS = tuple(
    (loss, out)
    for loss, info in _names.LOSS_INFO.items()
    for out in ((info.output_activation,) if info.output_activation else HIDDEN)
)


def _has_kink(name: str) -> bool:
    """Whether f′ or f″ jumps at 0 (relu, prelu, leaky_relu, elu), by the core's own f′: a finite
    difference must not straddle the point there."""
    e = 1e-4
    d = bpcore.derivative(name, np.array([-2 * e, -e, e, 2 * e]), 0.3)
    return bool(abs(d[2] - d[1]) > 1e-3 or abs((d[3] - d[2]) - (d[1] - d[0])) / e > 0.1)


KINKED = tuple(f for f in HIDDEN if _has_kink(f))
HIDDEN_SIZES = (4, 5, 3)
D_IN = 3

# depth 0 has no hidden activation: one case per output pair
CASES = [(None, loss, out, 0) for loss, out in OUTPUTS] + [
    (hidden, loss, out, depth) for depth in (1, 2, 3) for hidden in HIDDEN for loss, out in OUTPUTS
]


def _case_id(case) -> str:
    hidden, loss, out, depth = case
    return f"{depth}x{hidden or 'none'}-{out}-{loss}"


def _n_out(loss: str) -> int:
    return 3 if _names.LOSS_INFO[loss].task == "classification" else 2


def make_case(case, n: int, dtype: str = "float64", weighted: bool = False, seed: int = 0):
    """A network with random parameters (not the initialiser's small ones, so every unit is
    exercised, and α ≠ 0.25) and a batch (X, Y[, w]) whose inputs Z to a kinked f stay away from the
    kink at 0 by more than the finite-difference step can move them, and whose gradient is not
    zero in any layer."""
    hidden, loss, out, depth = case
    sizes = [D_IN, *HIDDEN_SIZES[:depth], _n_out(loss)]
    for attempt in range(200):
        rng = np.random.default_rng(1000 * seed + 17 * n + attempt)
        net = bpcore.Network(
            sizes,
            activation=hidden or "sigmoid",
            output_activation=out,
            loss=loss,
            dtype="float64",
            seed=seed,
        )
        net.parameters[...] = rng.normal(scale=0.8, size=net.n_params)
        for a in net.alphas.values():
            a[...] = rng.uniform(0.1, 0.5)
        X = rng.normal(size=(n, D_IN))
        q = sizes[-1]
        task = _names.LOSS_INFO[loss].task
        if task == "classification":
            Y = np.eye(q)[rng.integers(0, q, size=n)]
        elif task == "multilabel":
            Y = rng.integers(0, 2, size=(n, q)).astype(np.float64)
        elif out == "sigmoid":
            Y = rng.uniform(0.05, 0.95, size=(n, q))
        elif loss == "poisson":  # counts, some 0
            Y = rng.poisson(1.5, size=(n, q)).astype(np.float64)
        else:
            Y = rng.normal(size=(n, q))
        w = rng.uniform(0.2, 3.0, size=n) if weighted else None
        net.backward(X, Y, sample_weight=w)
        kinked = [l for l, f in enumerate(net.activations, 1) if f in KINKED]
        # also skip draws where dead relu units leave a layer with nothing to check
        live = all(np.linalg.norm(gW) > 1e-4 for gW, _ in net.backward(X, Y, sample_weight=w)[1])
        if live and all(np.abs(net.Z[l]).min() > 1e-3 for l in kinked):
            break
    else:  # pragma: no cover - the loop always finds a case
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
        return net32, X, Y, w
    return net, X, Y, w


def _tensors(net: bpcore.Network, flat: np.ndarray):
    """Split a flat θ-shaped vector into named tensors W^[l], b^[l], α^[l]."""
    out = {}
    pos = 0
    for l in range(1, net.n_layers + 1):
        n_in, n_out = net.sizes[l - 1], net.sizes[l]
        out[f"W^[{l}]"] = flat[pos : pos + n_in * n_out]
        pos += n_in * n_out
        out[f"b^[{l}]"] = flat[pos : pos + n_out]
        pos += n_out
        if _names.ACTIVATION_INFO[net.activations[l - 1]].learnable:
            out[f"alpha^[{l}]"] = flat[pos : pos + 1]
            pos += 1
    assert pos == net.n_params
    return out


def central_differences(net: bpcore.Network, X, Y, w=None, h: float = 1e-5) -> np.ndarray:
    """Central differences of J (from ``net.loss``) for every parameter θ_i, with the five-point
    stencil (J(θ - 2h) - 8 J(θ - h) + 8 J(θ + h) - J(θ + 2h)) / 12h, exact to O(h⁴)."""
    theta = net.parameters
    fd = np.empty(net.n_params)
    for i in range(net.n_params):
        keep = theta[i]
        J = {}
        for k in (-2, -1, 1, 2):
            theta[i] = keep + k * h
            J[k] = net.loss(X, Y, sample_weight=w)
        theta[i] = keep
        fd[i] = (J[-2] - 8 * J[-1] + 8 * J[1] - J[2]) / (12 * h)
    return fd


FD_FLOOR = 1e-9


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def _check_against_fd(net, X, Y, w=None) -> None:
    J, grads = net.backward(X, Y, sample_weight=w)
    analytic = net.gradient.copy()
    # the returned (∂J/∂W, ∂J/∂b) pairs and alpha_gradients are the same numbers as net.gradient
    t = _tensors(net, analytic)
    for l, (gW, gb) in enumerate(grads, 1):
        np.testing.assert_array_equal(gW.ravel(), t[f"W^[{l}]"])
        np.testing.assert_array_equal(gb, t[f"b^[{l}]"])
    for l, ga in net.alpha_gradients.items():
        assert ga == t[f"alpha^[{l}]"][0]
    fd = central_differences(net, X, Y, w)
    assert J == pytest.approx(net.loss(X, Y, sample_weight=w), rel=1e-13, abs=1e-15)
    fd_t = _tensors(net, fd)
    # Rounding in J limits the differences to about eps |J| / h ≈ 1e-11 |J|: gradients below
    # FD_FLOOR are compared in absolute terms.
    floor = FD_FLOOR * max(1.0, abs(J))
    for name, g in t.items():
        diff = np.linalg.norm(g - fd_t[name])
        scale = max(np.linalg.norm(g), np.linalg.norm(fd_t[name]))
        assert diff <= 1e-6 * scale or diff <= floor, (
            f"{name}: relative error {diff / scale:.3g}\nanalytic {g}\nfinite diff {fd_t[name]}"
        )
    assert np.linalg.norm(analytic) > 1e-3


@pytest.mark.parametrize("n", [1, 7])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradient_matches_central_differences(case, n):
    net, X, Y, _ = make_case(case, n)
    _check_against_fd(net, X, Y)


def _check_against_reference(net, X, Y, w=None) -> None:
    ref = ReferenceMLP.from_network(net)
    J, grads = net.backward(X, Y, sample_weight=w)
    J_ref, grads_ref, alpha_ref, cache = ref.backward(X, Y, sample_weight=w)
    tol = dict(rtol=1e-10, atol=1e-12)
    assert J == pytest.approx(J_ref, rel=1e-12)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(J_ref, rel=1e-12)
    assert len(grads) == len(grads_ref) == net.n_layers
    for (gW, gb), (rW, rb) in zip(grads, grads_ref):
        assert gW.shape == rW.shape and gb.shape == rb.shape
        np.testing.assert_allclose(gW, rW, **tol)
        np.testing.assert_allclose(gb, rb, **tol)
    assert set(net.alpha_gradients) == set(alpha_ref)
    for l, ga in net.alpha_gradients.items():
        assert ga == pytest.approx(alpha_ref[l], rel=1e-10, abs=1e-12)
    # the cache of the batch: Z^[l], H^[l] (H^[0] = X), δ^[l]
    assert sorted(net.Z) == list(range(1, net.n_layers + 1))
    assert sorted(net.H) == list(range(0, net.n_layers + 1))
    for l in range(1, net.n_layers + 1):
        np.testing.assert_allclose(net.Z[l], cache["Z"][l], **tol)
        np.testing.assert_allclose(net.H[l], cache["H"][l], **tol)
    np.testing.assert_array_equal(net.H[0], X)
    # with sample weights the core's δ rows carry the factor n w_i / Σw (network.py, backward)
    n = X.shape[0]
    scale = np.ones(n) if w is None else n * np.asarray(w) / np.sum(w)
    for l in range(1, net.n_layers + 1):
        np.testing.assert_allclose(net.delta[l], cache["delta"][l] * scale[:, None], **tol)
    # forward alone gives the same Ŷ
    np.testing.assert_allclose(net.forward(X), cache["H"][net.n_layers], **tol)
    np.testing.assert_allclose(net.predict(X), cache["H"][net.n_layers], **tol)


@pytest.mark.parametrize("n", [1, 7])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_reference(case, n):
    net, X, Y, _ = make_case(case, n)
    _check_against_reference(net, X, Y)


# a spread of cases for the slower or narrower checks
SOME_CASES = [
    (None, "mse", "identity", 0),
    ("sigmoid", "mse", "sigmoid", 1),
    ("tanh", "mse", "prelu", 2),
    ("prelu", "cross_entropy", "softmax", 2),
    ("relu", "binary_cross_entropy", "sigmoid", 3),
    ("prelu", "mse", "tanh", 3),
]


@pytest.mark.parametrize("case", SOME_CASES, ids=_case_id)
def test_sample_weights_gradient_matches_central_differences(case):
    net, X, Y, w = make_case(case, 7, weighted=True)
    _check_against_fd(net, X, Y, w)


@pytest.mark.parametrize("case", SOME_CASES, ids=_case_id)
def test_sample_weights_match_reference(case):
    net, X, Y, w = make_case(case, 7, weighted=True)
    _check_against_reference(net, X, Y, w)


@pytest.mark.parametrize("case", SOME_CASES, ids=_case_id)
def test_sample_weights_mean_what_they_say(case):
    """Integer weights equal repeating rows; a zero weight equals dropping the row; scaling all
    weights changes nothing."""
    net, X, Y, _ = make_case(case, 7)
    counts = np.array([1, 3, 0, 2, 1, 0, 4])
    J_w, g_w = net.backward(X, Y, sample_weight=counts)
    g_w = net.gradient.copy()
    rows = np.repeat(np.arange(7), counts)
    J_rep, _ = net.backward(X[rows], Y[rows])
    np.testing.assert_allclose(net.gradient, g_w, rtol=1e-12, atol=1e-14)
    assert J_w == pytest.approx(J_rep, rel=1e-12)
    J_scaled, _ = net.backward(X, Y, sample_weight=2.5 * counts)
    np.testing.assert_allclose(net.gradient, g_w, rtol=1e-12, atol=1e-14)
    assert J_scaled == pytest.approx(J_w, rel=1e-12)
    assert net.loss(X, Y, sample_weight=counts) == pytest.approx(J_w, rel=1e-12)
    J_plain = net.loss(X, Y)
    assert J_plain != pytest.approx(J_w, rel=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] in (0, 2)], ids=_case_id)
def test_float32_agrees_with_float64(case):
    net64, X, Y, _ = make_case(case, 7)
    net32, _, _, _ = make_case(case, 7, dtype="float32")
    assert net32.dtype == np.float32
    np.testing.assert_array_equal(net32.parameters, net64.parameters.astype(np.float32))
    J64, g64 = net64.backward(X, Y)
    J32, g32 = net32.backward(X.astype(np.float32), Y.astype(np.float32))
    assert all(gW.dtype == np.float32 and gb.dtype == np.float32 for gW, gb in g32)
    assert J32 == pytest.approx(J64, rel=1e-5, abs=1e-6)
    assert _relative_error(net32.gradient.astype(np.float64), net64.gradient) < 1e-4
    Y32 = net32.forward(X)
    assert Y32.dtype == np.float32
    np.testing.assert_allclose(Y32, net64.forward(X), rtol=1e-5, atol=1e-6)
    for l in range(1, net64.n_layers + 1):
        np.testing.assert_allclose(net32.Z[l], net64.Z[l], rtol=1e-4, atol=1e-5)


def test_prelu_alpha_gradient_is_not_trivial():
    """Some α^[l] gradients of the cases above are far from zero, so the check means something."""
    net, X, Y, _ = make_case(("prelu", "mse", "prelu", 2), 7)
    net.backward(X, Y)
    assert set(net.alpha_gradients) == {1, 2, 3}
    assert max(abs(g) for g in net.alpha_gradients.values()) > 1e-3
